//! Identifiers: UUID v4 for visitors and sessions, UUID v7 (time first)
//! for events, from random bytes the platform passes in ([`Random`]: the
//! browser's CSPRNG in `web`, a fixed sequence in tests), as the clock is.

use alloc::string::String;

/// Where random bytes come from: `crypto.getRandomValues` in the browser.
pub trait Random {
    fn fill(&self, out: &mut [u8]);
}

fn random_bytes<const N: usize>(random: &dyn Random) -> [u8; N] {
    let mut out = [0u8; N];
    random.fill(&mut out);
    out
}

/// A new random UUID v4 (RFC 9562), for visitors and sessions, in its
/// hyphenated lower-case form, written here: the `uuid` crate's builder and
/// encoder cost the download more than these lines.
pub fn new_uuid_v4(random: &dyn Random) -> String {
    let mut bytes = random_bytes::<16>(random);
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant 10
    hyphenated(&bytes)
}

/// A new UUID v7 (RFC 9562) for an event at `ts_ms`: the time in its first
/// 48 bits, random bits after. The collector's index of event ids then
/// grows at its end instead of taking a write at a random page per event.
pub fn new_event_id(ts_ms: i64, random: &dyn Random) -> String {
    let mut bytes = random_bytes::<16>(random);
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
pub fn random_unit(random: &dyn Random) -> f64 {
    u32::from_le_bytes(random_bytes::<4>(random)) as f64 / (u32::MAX as f64 + 1.0)
}

/// Deterministic "random" bytes for tests: a counter, so every id differs
/// and every run gives the same ids.
#[cfg(test)]
#[derive(Default)]
pub struct FakeRandom(core::cell::Cell<u8>);

#[cfg(test)]
impl Random for FakeRandom {
    fn fill(&self, out: &mut [u8]) {
        for byte in out {
            *byte = self.0.get();
            self.0.set(self.0.get().wrapping_add(37));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_version_4_and_unique() {
        let random = FakeRandom::default();
        let a = new_uuid_v4(&random);
        let b = new_uuid_v4(&random);
        assert_ne!(a, b);
        assert!(waymark_protocol::is_uuid(&a));
        assert_eq!(&a[14..15], "4", "version nibble");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "variant bits");
    }

    #[test]
    fn event_ids_are_version_7_and_begin_with_their_time() {
        // A moment in November 2026, in ms.
        let ts = 1_795_500_000_123i64;
        let random = FakeRandom::default();
        let a = new_event_id(ts, &random);
        let b = new_event_id(ts, &random);
        assert_ne!(a, b);
        assert!(waymark_protocol::is_uuid(&a));
        assert_eq!(&a[14..15], "7", "version nibble");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "variant bits");
        let time: String = a[..13].chars().filter(|c| *c != '-').collect();
        assert_eq!(i64::from_str_radix(&time, 16).unwrap(), ts);
        assert!(new_event_id(ts + 1, &random) > a.clone().max(b), "later events sort after earlier ones");
    }

    #[test]
    fn random_units_stay_below_one() {
        let random = FakeRandom::default();
        assert!((0..1000).map(|_| random_unit(&random)).all(|x| (0.0..1.0).contains(&x)));
    }
}
