//! Every limit of the wire format, named once.

/// Largest request body the collector reads, after decompression.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Largest body the SDK puts in one request: `navigator.sendBeacon` refuses
/// bodies over 64 KiB, so batches are split below it with room to spare.
pub const MAX_REQUEST_BYTES: usize = 60 * 1024;
/// Events in one batch.
pub const MAX_EVENTS_PER_BATCH: usize = 500;
/// Bytes in an event name.
pub const MAX_NAME_BYTES: usize = 200;
/// Properties on one event.
pub const MAX_PROPS: usize = 64;
/// Bytes in a property key.
pub const MAX_PROP_KEY_BYTES: usize = 100;
/// Bytes in a string property value.
pub const MAX_PROP_VALUE_BYTES: usize = 1000;
/// Bytes in a URL or referrer.
pub const MAX_URL_BYTES: usize = 4096;
/// Bytes in a page title or a user id.
pub const MAX_TEXT_BYTES: usize = 1000;
/// How far an event's corrected timestamp may lie in the future.
pub const MAX_FUTURE_SKEW_MS: i64 = 5 * 60 * 1000;
/// How old an event from a browser may be when it arrives (queued offline,
/// resent after a reload).
pub const MAX_BROWSER_AGE_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// How old an event sent server-to-server may be (backfill window).
pub const MAX_BACKFILL_AGE_MS: i64 = 31 * 24 * 60 * 60 * 1000;

// The session rule's parameters, for the SDK's client sessions and the
// collector's reporting sessions alike: a session ends after
// `timeout` without an event, or once it is `max` long. A site may
// choose its own within these ranges; the collector tells the SDK the
// site's choice in every answer ([`crate::SessionRule`]).

/// Default idle time that ends a session.
pub const DEFAULT_SESSION_TIMEOUT_MS: i64 = 30 * MINUTE_MS;
/// The shortest idle timeout a site may choose.
pub const MIN_SESSION_TIMEOUT_MS: i64 = MINUTE_MS;
/// The longest idle timeout a site may choose.
pub const MAX_SESSION_TIMEOUT_MS: i64 = 24 * 60 * MINUTE_MS;
/// Default maximum length of a session, however busy.
pub const DEFAULT_SESSION_MAX_MS: i64 = 24 * 60 * MINUTE_MS;
/// The longest maximum length a site may choose (and never shorter than
/// its idle timeout).
pub const MAX_SESSION_MAX_MS: i64 = 7 * 24 * 60 * MINUTE_MS;

/// A minute in ms: session settings are written in whole minutes.
pub const MINUTE_MS: i64 = 60 * 1000;
