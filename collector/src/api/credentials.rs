//! The credentials a request presents, read and compared one way for every
//! door: the dashboard's API tokens and session cookie, and the server
//! senders' site secrets.
//!
//! Policy: a credential comes as `Authorization: Bearer <value>` (the
//! scheme's case does not matter, as RFC 9110 says); it is compared without
//! an early exit, so response timing does not reveal how much of a guess
//! was right.

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};

/// The value of `Authorization: Bearer <value>`, if the request has one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let (scheme, value) = headers.get(AUTHORIZATION)?.to_str().ok()?.split_once(' ')?;
    let value = value.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !value.is_empty()).then_some(value)
}

/// The value of the cookie `name`, if the request has one.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
}

/// Whether a presented credential is the expected one, in time that does
/// not depend on where they differ.
pub fn same_secret(presented: &str, expected: &str) -> bool {
    constant_time_eq::constant_time_eq(presented.as_bytes(), expected.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn authorization(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn a_bearer_credential_is_read_whatever_the_schemes_case() {
        assert_eq!(bearer(&authorization("Bearer abc")), Some("abc"));
        assert_eq!(bearer(&authorization("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(&authorization("Basic YWxhZGRpbjpvcGVuc2VzYW1l")), None);
        assert_eq!(bearer(&authorization("Bearer ")), None);
        assert_eq!(bearer(&authorization("Bearerabc")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("secret", "secret"));
        assert!(!same_secret("secret", "secre"));
        assert!(!same_secret("secret", "secreT"));
        assert!(!same_secret("", "secret"));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert("cookie", HeaderValue::from_static("a=1; waymark_session=abc; b=2"));
        assert_eq!(cookie(&h, "waymark_session"), Some("abc"));
        h.insert("cookie", HeaderValue::from_static("waymark_sessionx=1"));
        assert_eq!(cookie(&h, "waymark_session"), None);
    }
}
