//! Identifiers: UUID v4 from the platform CSPRNG (`crypto.getRandomValues`
//! in the browser, through getrandom).

/// A new random UUID v4 in its hyphenated form.
pub fn new_uuid_v4() -> String {
    let mut bytes = [0u8; 16];
    // The browser's CSPRNG does not fail once the page has a `crypto` object;
    // if it ever did, an all-zero id would collide, so fall back loudly to a
    // distinct time-free pattern is not possible: we keep zeros and the
    // collector rejects nothing for it, it only merges such visits.
    let _ = getrandom::fill(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid().hyphenated().to_string()
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
}
