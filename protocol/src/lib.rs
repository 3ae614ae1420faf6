//! The wire format shared by the SDK and the collector.
//!
//! Policy lives here and only here: the names of the fields, the reserved
//! event names and every limit a batch must respect. The SDK checks
//! properties against these limits before queueing them; the collector
//! refuses what breaks them, event by event, with a [`Rejection`] the sender
//! can act on. Nothing in this crate does I/O.

// `no_std` (with `alloc`) so that the browser SDK, which is `no_std` to
// stay small, can share these definitions; the collector uses it with std.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod limits;
mod validate;
mod wire;

pub use validate::{ContentError, PropShape, Rejection, check_custom_name, check_name, check_prop, check_prop_count, is_uuid, validate_event};
pub use wire::*;
