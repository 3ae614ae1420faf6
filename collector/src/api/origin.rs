//! Which web pages may send a site's events, and what "the collector's own
//! origin" is (also for the dashboard's cross-site check).
//!
//! Policy, per site's `allowed_origins`:
//! - **listed** origins: a browser request must name one of them in
//!   `Origin` (exactly, scheme and port included); a request with no
//!   `Origin`, or `Origin: null`, is refused;
//! - **none listed** (the default): closed; only the collector's own
//!   origin, so the demo site and pages the collector serves keep working
//!   and no other website can write into the site. A request with no
//!   `Origin` is accepted here: browsers send `Origin` with every POST
//!   (fetch, `sendBeacon`; the Fetch standard's "append a request Origin
//!   header"), so such a request is no web page's, and refusing it would
//!   protect nothing (a script can send any `Origin` it likes) while
//!   breaking `curl` and load tools against the demo;
//! - **`["*"]`**: every origin, and the start-up log warns about it,
//!   naming the site.
//!
//! `Origin: null` (sandboxed frames, `file:` pages, pages whose referrer
//! policy is `no-referrer`) names no site: any website can produce it, so
//! only `["*"]` accepts it.
//!
//! Mechanism, the collector's own origin: `public_url` when configured
//! (behind a reverse proxy that rewrites `Host`, set it); otherwise the
//! origin whose `host[:port]` is the request's `Host`, over http or https
//! (TLS may end at a proxy in front, so the scheme the collector sees says
//! nothing). A browser always sends the `Host` of the address it opened, so
//! another website's page cannot match it; a name pointed at the
//! collector's address by DNS can, which `public_url` rules out.
//!
//! Refusals are [`ApiError::OriginNotAllowed`] (403 `origin_not_allowed`)
//! and [`ApiError::CrossSite`], decided in [`super::error`].

use axum::http::HeaderMap;
use axum::http::header::{HOST, ORIGIN};

use super::error::ApiError;
use crate::config::{Config, SiteConfig};

/// The value that accepts every origin.
pub const ANY: &str = "*";

/// Whether `origin` (an `Origin` header's value) is the collector's own.
pub fn is_own(config: &Config, headers: &HeaderMap, origin: &str) -> bool {
    if let Some(own) = config.public_origin() {
        return origin.eq_ignore_ascii_case(&own);
    }
    let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else { return false };
    let origin_host = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    origin_host.is_some_and(|o| o.eq_ignore_ascii_case(host))
}

/// Whether a browser request with these headers may send `site`'s events.
pub fn check_sender(config: &Config, site: &SiteConfig, headers: &HeaderMap) -> Result<(), ApiError> {
    let origin = headers.get(ORIGIN).map(|v| v.to_str().unwrap_or("(not text)"));
    let listed = &site.allowed_origins;
    let allowed = if listed.iter().any(|o| o == ANY) {
        true
    } else if listed.is_empty() {
        origin.is_none_or(|o| is_own(config, headers, o))
    } else {
        origin.is_some_and(|o| listed.iter().any(|allowed| allowed.trim_end_matches('/').eq_ignore_ascii_case(o)))
    };
    if allowed {
        return Ok(());
    }
    Err(ApiError::OriginNotAllowed {
        site: site.key.clone(),
        origin: origin.map(str::to_owned),
        own: config.public_origin(),
        listed: !listed.is_empty(),
    })
}

/// Refuses requests a browser marks as coming from another site: a
/// `Sec-Fetch-Site` other than same-origin, or an `Origin` that is not the
/// collector's own. Scripts send neither and pass.
pub fn check_same_origin(config: &Config, headers: &HeaderMap) -> Result<(), ApiError> {
    if headers.get("sec-fetch-site").is_some_and(|v| v == "cross-site" || v == "same-site") {
        return Err(ApiError::CrossSite);
    }
    match headers.get(ORIGIN) {
        None => Ok(()),
        Some(origin) if is_own(config, headers, origin.to_str().unwrap_or_default()) => Ok(()),
        Some(_) => Err(ApiError::CrossSite),
    }
}

/// Says at start, per site, who may send: a warning for `*`, a note for
/// the default (the collector's own origin only).
pub fn log_policies(config: &Config) {
    let own = config.public_origin().unwrap_or_else(|| "the origin of the Host it is reached at".into());
    for site in &config.sites {
        if site.allowed_origins.iter().any(|o| o == ANY) {
            tracing::warn!(
                site = %site.key,
                "site {:?} accepts browser events from every origin (allowed_origins = [\"*\"]): any website can write into it",
                site.key
            );
        } else if site.allowed_origins.is_empty() {
            tracing::info!(
                site = %site.key,
                "site {:?} lists no allowed_origins: it accepts browser events only from the collector's own origin ({own})",
                site.key
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn site(origins: &[&str]) -> SiteConfig {
        let mut site = Config::demo("127.0.0.1:0".parse().unwrap(), "data".into()).sites.remove(0);
        site.allowed_origins = origins.iter().map(|o| o.to_string()).collect();
        site
    }

    fn config() -> Config {
        Config::demo("127.0.0.1:0".parse().unwrap(), "data".into())
    }

    const HOST_8080: (&str, &str) = ("host", "127.0.0.1:8080");

    #[test]
    fn a_site_that_lists_no_origins_takes_only_the_collectors_own_pages_and_scripts() {
        let closed = site(&[]);
        let from = |origin: &'static str| check_sender(&config(), &closed, &headers(&[HOST_8080, ("origin", origin)]));
        assert!(from("http://127.0.0.1:8080").is_ok());
        assert!(from("https://127.0.0.1:8080").is_ok(), "TLS may end at a proxy in front");
        assert!(from("http://127.0.0.1:3000").is_err());
        assert!(from("https://evil.example").is_err());
        assert!(from("null").is_err());
        assert!(check_sender(&config(), &closed, &headers(&[HOST_8080])).is_ok(), "no Origin: not a web page");
    }

    #[test]
    fn public_url_pins_the_collectors_own_origin_whatever_the_host_header() {
        let mut config = config();
        config.public_url = Some("https://stats.example.com/".into());
        let closed = site(&[]);
        let from = |host: &'static str, origin: &'static str| check_sender(&config, &closed, &headers(&[("host", host), ("origin", origin)]));
        assert!(from("127.0.0.1:8080", "https://stats.example.com").is_ok());
        assert!(from("rebound.example", "http://rebound.example").is_err());
        let refused = from("x", "https://evil.example").unwrap_err().to_string();
        assert!(refused.contains("https://stats.example.com"), "{refused}");
    }

    #[test]
    fn listed_origins_are_matched_exactly_and_a_star_takes_every_origin() {
        let shop = site(&["https://shop.example"]);
        let from = |origin: Option<&'static str>| {
            let mut h = headers(&[HOST_8080]);
            if let Some(o) = origin {
                h.insert("origin", HeaderValue::from_static(o));
            }
            check_sender(&config(), &shop, &h)
        };
        assert!(from(Some("https://shop.example")).is_ok());
        assert!(from(Some("http://shop.example")).is_err());
        assert!(from(Some("http://127.0.0.1:8080")).is_err(), "a listing replaces the default");
        assert!(from(None).is_err());
        let open = site(&["*"]);
        assert!(check_sender(&config(), &open, &headers(&[("origin", "null")])).is_ok());
        assert!(check_sender(&config(), &open, &headers(&[("origin", "https://any.example")])).is_ok());
    }

    #[test]
    fn a_post_from_another_origin_is_cross_site_and_one_from_this_host_is_not() {
        let c = config();
        assert!(check_same_origin(&c, &headers(&[HOST_8080, ("origin", "http://127.0.0.1:8080")])).is_ok());
        assert!(check_same_origin(&c, &headers(&[HOST_8080, ("origin", "https://evil.example")])).is_err());
        assert!(check_same_origin(&c, &headers(&[("host", "a"), ("origin", "null")])).is_err());
        assert!(check_same_origin(&c, &headers(&[("sec-fetch-site", "cross-site")])).is_err());
        // Scripts (curl) send no Origin: no browser, no cross-site request.
        assert!(check_same_origin(&c, &headers(&[("host", "a")])).is_ok());
    }
}
