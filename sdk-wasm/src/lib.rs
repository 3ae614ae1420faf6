//! Waymark's browser SDK.
//!
//! `core` is plain Rust over data: the session rule, ids, and the event
//! queue, with the clock and storage passed in, tested natively.
//! `web` holds one thin adapter per browser API (storage, transport) and
//! the `#[wasm_bindgen]` entry points the loader and the npm package call.

pub mod core;
#[cfg(target_arch = "wasm32")]
pub mod web;
