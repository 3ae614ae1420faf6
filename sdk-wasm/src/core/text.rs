//! Reading the SDK's own short records (stored sessions, the persisted
//! queue, options, `Retry-After`) without `str::parse` and `str::split`:
//! their generic machinery (pattern searchers, `core::fmt` for the
//! errors) costs the download more than these few lines. Writing integers
//! is `json::push_int`.

/// A decimal integer, optionally signed; `None` for anything else or on
/// overflow.
pub fn parse_int(s: &str) -> Option<i64> {
    let (negative, digits) = match s.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        all => (false, all),
    };
    if digits.is_empty() {
        return None;
    }
    let mut n: i64 = 0;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add((digit - b'0') as i64)?;
    }
    Some(if negative { -n } else { n })
}

/// The pieces of `s` between each ASCII `separator`, as `str::split` gives.
pub fn split(s: &str, separator: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    core::iter::from_fn(move || {
        let current = rest?;
        match current.bytes().position(|b| b == separator) {
            // An ASCII byte is a character boundary on both sides.
            Some(at) => {
                rest = current.get(at + 1..);
                current.get(..at)
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_as_str_parse_would() {
        for s in ["0", "7", "-7", "+7", "1732400000000", "9223372036854775807", "-9223372036854775807"] {
            assert_eq!(parse_int(s), s.parse().ok(), "{s}");
        }
        for s in ["", "-", "1.5", " 1", "1e3", "x", "99999999999999999999"] {
            assert_eq!(parse_int(s), None, "{s}");
        }
    }

    #[test]
    fn pieces_are_those_of_str_split() {
        for s in ["", "a", "a.b", ".a..b.", "é.ü"] {
            assert_eq!(split(s, b'.').collect::<Vec<_>>(), s.split('.').collect::<Vec<_>>(), "{s}");
        }
    }
}
