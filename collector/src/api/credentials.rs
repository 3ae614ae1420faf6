//! The credentials a request presents, read and compared one way for every
//! door: the dashboard's API tokens and session cookie, the server
//! senders' site secrets and the Segment API's write keys.
//!
//! Policy: a credential comes as `Authorization: Bearer <value>`, or, for
//! a write key, as the user name of `Authorization: Basic` with an empty
//! password, as Segment's clients send it (the schemes' case does not
//! matter, as RFC 9110 says); it is compared without an early exit, so
//! response timing does not reveal how much of a guess was right.

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, COOKIE};
use base64::Engine;

use crate::config::{Config, SiteConfig};

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

/// The user name of `Authorization: Basic <base64 of user:password>`.
pub fn basic_user(headers: &HeaderMap) -> Option<String> {
    let (scheme, value) = headers.get(AUTHORIZATION)?.to_str().ok()?.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(value.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let user = text.split_once(':').map_or(text.as_str(), |(user, _)| user);
    (!user.is_empty()).then(|| user.to_owned())
}

/// The site whose write key was presented. Every site's key is compared
/// whole, so the answer's timing says nothing of which site nearly matched.
pub fn site_by_write_key<'c>(config: &'c Config, presented: &str) -> Option<&'c SiteConfig> {
    config.sites.iter().fold(None, |found, site| match &site.write_key {
        Some(key) if same_secret(presented, key) => Some(site),
        _ => found,
    })
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
    fn a_write_key_is_the_user_name_of_basic_authorization() {
        // base64("wk-0123456789abcdef:") and base64("wk:pw"), as clients send them.
        assert_eq!(basic_user(&authorization("Basic d2stMDEyMzQ1Njc4OWFiY2RlZjo=")).as_deref(), Some("wk-0123456789abcdef"));
        assert_eq!(basic_user(&authorization("basic d2s6cHc=")).as_deref(), Some("wk"));
        assert_eq!(basic_user(&authorization("Basic not-base64!")), None);
        assert_eq!(basic_user(&authorization("Basic Og==")), None, "an empty user name is no key");
        assert_eq!(basic_user(&authorization("Bearer abc")), None);
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
