//! Writing the wire format's JSON by hand.
//!
//! The SDK builds each event as a JSON string the moment it is tracked, so
//! the queue, the size limit per request and the persisted copy all work on
//! plain strings. serde_json and `core::fmt` would cost more bytes than the
//! whole writer; numbers other than integers are formatted by the platform
//! (the browser's own `String(n)`) before they get here.

use alloc::string::String;

/// Appends `s` as a JSON string literal, quotes included. Runs of bytes
/// that need no escape are copied at once.
pub fn push_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut rest = s;
    while let Some(at) = rest.bytes().position(|b| b == b'"' || b == b'\\' || b < 0x20) {
        let (plain, tail) = rest.split_at_checked(at).unwrap_or((rest, ""));
        out.push_str(plain);
        let byte = tail.as_bytes().first().copied().unwrap_or(b' ');
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => {
                out.push_str("\\u00");
                out.push(HEX[(byte >> 4) as usize & 15] as char);
                out.push(HEX[(byte & 15) as usize] as char);
            }
        }
        rest = tail.get(1..).unwrap_or("");
    }
    out.push_str(rest);
    out.push('"');
}

/// Appends an integer in decimal.
pub fn push_int(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    let mut digits = [0u8; 20];
    let mut rest = n.unsigned_abs();
    let mut i = digits.len();
    // `get_mut`, not an index: LLVM cannot see that 20 digits are enough,
    // and a bounds check would bring its panic message into the module.
    while let Some(digit) = i.checked_sub(1).and_then(|last| digits.get_mut(last)) {
        i -= 1;
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for d in digits.iter().skip(i) {
        out.push(*d as char);
    }
}

/// An integer as a string, for log lines and stored records.
pub fn int_string(n: i64) -> String {
    let mut s = String::new();
    push_int(&mut s, n);
    s
}

/// Appends `,"key":` (or `"key":` first in an object).
pub fn push_key(out: &mut String, key: &str) {
    if !out.ends_with('{') {
        out.push(',');
    }
    push_string(out, key);
    out.push(':');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_as_json_requires() {
        let mut out = String::new();
        push_string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn integers_are_written_in_decimal() {
        for n in [0, 7, -7, 1_732_400_000_000, i64::MIN, i64::MAX] {
            assert_eq!(int_string(n), n.to_string());
        }
    }

    #[test]
    fn keys_are_separated_by_commas_after_the_first() {
        let mut out = String::from("{");
        push_key(&mut out, "a");
        out.push('1');
        push_key(&mut out, "b");
        out.push('2');
        assert_eq!(out, r#"{"a":1,"b":2"#);
    }
}
