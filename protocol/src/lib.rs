//! The wire format shared by the SDK and the collector.
//!
//! Policy lives here and only here: the names of the fields, the reserved
//! event names and every limit a batch must respect. The SDK checks
//! properties against these limits before queueing them; the collector
//! refuses what breaks them, event by event, with a [`Rejection`] the sender
//! can act on. Nothing in this crate does I/O.

pub mod limits;
mod validate;
mod wire;

pub use validate::{Rejection, validate_event, is_uuid};
pub use wire::*;
