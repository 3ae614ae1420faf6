//! The SDK's pure core: no browser APIs; the clock is passed in as
//! milliseconds, storage as [`storage::KeyValue`], so every rule here is
//! tested natively with a fake clock.

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
