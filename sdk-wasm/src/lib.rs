//! Waymark's browser SDK.
//!
//! `core` is plain Rust over data: configuration, consent, the session
//! rule, the queue and the retry policy, with the clock and storage passed
//! in, tested natively. `web` holds the `#[wasm_bindgen]` entry points and
//! the typed calls into `js/browser.js`, the browser edge (storage,
//! cookies, requests, timers, page events) written in JS, where each
//! browser API costs a line instead of a shim on both sides. `js/index.js`
//! is the public module over them that the loader and the npm package
//! share (`cargo xtask build-sdk` bundles the three into one file).
//!
//! In the browser build (feature `bare`) the crate is `no_std`: a panic becomes a trap
//! (caught by the loader, never thrown into the page) instead of pulling
//! in std's panic formatting, which would triple the download; and the
//! allocator is `lol_alloc`'s free list, the smallest we measured.

#![cfg_attr(all(target_arch = "wasm32", feature = "bare"), no_std)]

extern crate alloc;

pub mod core;
#[cfg(target_arch = "wasm32")]
pub mod web;

#[cfg(all(target_arch = "wasm32", feature = "bare"))]
#[global_allocator]
// SAFETY: a Wasm module without threads runs on one thread.
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

#[cfg(all(target_arch = "wasm32", feature = "bare"))]
#[panic_handler]
fn panic(_: &::core::panic::PanicInfo) -> ! {
    ::core::arch::wasm32::unreachable()
}
