//! The SDK's pure core: every decision of the SDK, and no browser API. The
//! clock is passed in as milliseconds, random bytes as [`ids::Random`],
//! storage as [`storage::KeyValue`] and the browser's effects through
//! [`tracker::Env`], so every rule here is tested natively with a fake
//! clock and fake randomness.

pub mod config;
pub mod consent;
pub mod event;
pub mod ids;
pub mod json;
pub mod page;
pub mod queue;
pub mod retry;
pub mod session;
pub mod storage;
pub mod text;
pub mod tracker;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod wire_format_tests;
