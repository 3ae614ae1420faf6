//! Identifiers from the platform CSPRNG (`crypto.getRandomValues` in the
//! browser, through getrandom): UUID v4 for visitors and sessions, UUID v7
//! (time first) for events.

use alloc::string::String;

/// Random bytes from the CSPRNG, fetched 16 ids at a time: every event
/// needs a UUID, and one `crypto.getRandomValues` call per event would be
/// most of the cost of `track()`. Each byte is used once.
#[cfg(target_arch = "wasm32")]
struct Pool {
    bytes: [u8; 256],
    used: usize,
}

#[cfg(target_arch = "wasm32")]
struct PoolCell(core::cell::RefCell<Pool>);
// SAFETY: the pool exists only in the browser build, which is single-threaded
// (wasm32 without atomics); native tests read getrandom directly.
#[cfg(target_arch = "wasm32")]
unsafe impl Sync for PoolCell {}

#[cfg(target_arch = "wasm32")]
static POOL: PoolCell = PoolCell(core::cell::RefCell::new(Pool { bytes: [0; 256], used: 256 }));

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = getrandom::fill(&mut out);
    }
    #[cfg(target_arch = "wasm32")]
    if let Ok(mut pool) = POOL.0.try_borrow_mut() {
        if pool.used + N > pool.bytes.len() {
            // The browser's CSPRNG does not fail once the page has a
            // `crypto` object. If it ever did, ids would collide and the
            // collector would merge those visits: a wrong count, never a
            // broken page.
            let _ = getrandom::fill(&mut pool.bytes);
            pool.used = 0;
        }
        let start = pool.used;
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = pool.bytes.get(start + i).copied().unwrap_or(0);
        }
        pool.used += N;
    }
    out
}

/// A new random UUID v4 (RFC 9562), for visitors and sessions, in its
/// hyphenated lower-case form, written here: the `uuid` crate's builder and
/// encoder cost the download more than these lines.
pub fn new_uuid_v4() -> String {
    let mut bytes = random_bytes::<16>();
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant 10
    hyphenated(&bytes)
}

/// A new UUID v7 (RFC 9562) for an event at `ts_ms`: the time in its first
/// 48 bits, random bits after. The collector's index of event ids then
/// grows at its end instead of taking a write at a random page per event.
pub fn new_event_id(ts_ms: i64) -> String {
    let mut bytes = random_bytes::<16>();
    let time = (ts_ms.max(0) as u64).to_be_bytes();
    bytes[..6].copy_from_slice(&time[2..]);
    bytes[6] = (bytes[6] & 0x0f) | 0x70; // version 7
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant 10
    hyphenated(&bytes)
}

fn hyphenated(bytes: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(36);
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        text.push(HEX[(byte >> 4) as usize] as char);
        text.push(HEX[(byte & 15) as usize] as char);
    }
    text
}

/// A random number in `[0, 1)`, for retry jitter.
pub fn random_unit() -> f64 {
    u32::from_le_bytes(random_bytes::<4>()) as f64 / (u32::MAX as f64 + 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_version_4_and_unique() {
        let a = new_uuid_v4();
        let b = new_uuid_v4();
        assert_ne!(a, b);
        assert!(waymark_protocol::is_uuid(&a));
        assert_eq!(&a[14..15], "4", "version nibble");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "variant bits");
    }

    #[test]
    fn event_ids_are_version_7_and_begin_with_their_time() {
        // A moment in November 2026, in ms.
        let ts = 1_795_500_000_123i64;
        let a = new_event_id(ts);
        let b = new_event_id(ts);
        assert_ne!(a, b);
        assert!(waymark_protocol::is_uuid(&a));
        assert_eq!(&a[14..15], "7", "version nibble");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "variant bits");
        let time: String = a[..13].chars().filter(|c| *c != '-').collect();
        assert_eq!(i64::from_str_radix(&time, 16).unwrap(), ts);
        assert!(new_event_id(ts + 1) > a.clone().max(b), "later events sort after earlier ones");
    }

    #[test]
    fn random_units_stay_below_one() {
        assert!((0..1000).map(|_| random_unit()).all(|x| (0.0..1.0).contains(&x)));
    }
}
