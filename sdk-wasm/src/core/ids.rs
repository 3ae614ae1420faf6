//! Identifiers: UUID v4 from the platform CSPRNG (`crypto.getRandomValues`
//! in the browser, through getrandom).

use alloc::borrow::ToOwned;
use alloc::string::String;

/// A new random UUID v4 in its hyphenated form.
pub fn new_uuid_v4() -> String {
    let mut bytes = [0u8; 16];
    // The browser's CSPRNG does not fail once the page has a `crypto` object.
    // If it ever did, the ids would collide and the collector would merge
    // those visits: a wrong count, never a broken page.
    let _ = getrandom::fill(&mut bytes);
    let mut text = [0u8; 36];
    // `encode_lower` writes the hyphenated form without `core::fmt`.
    uuid::Builder::from_random_bytes(bytes).into_uuid().hyphenated().encode_lower(&mut text).to_owned()
}

/// A random number in `[0, 1)`, for retry jitter.
pub fn random_unit() -> f64 {
    let mut bytes = [0u8; 4];
    let _ = getrandom::fill(&mut bytes);
    u32::from_le_bytes(bytes) as f64 / (u32::MAX as f64 + 1.0)
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
    fn random_units_stay_below_one() {
        assert!((0..1000).map(|_| random_unit()).all(|x| (0.0..1.0).contains(&x)));
    }
}
