//! Configuration: one parser for the script tag's `data-*` attributes and
//! the npm package's `init({...})`. Both arrive as camelCase keys with
//! string values (`data-cookie-domain` is `cookieDomain` in `dataset`; the
//! web adapter turns numbers and booleans of `init` into strings).
//!
//! Policy: unknown options and malformed values are errors, reported once
//! with the option's name and what it accepts; the SDK then tracks nothing.

use alloc::borrow::ToOwned;
use alloc::string::String;

use crate::core::json::int_string;
use crate::core::text::parse_int;
use waymark_protocol::limits::{DEFAULT_SESSION_MAX_MS, DEFAULT_SESSION_TIMEOUT_MS, MAX_PROP_VALUE_BYTES, MAX_SESSION_MAX_MS, MAX_SESSION_TIMEOUT_MS, MINUTE_MS, MIN_SESSION_TIMEOUT_MS};

/// Where the visitor and session ids live, and with them (after consent)
/// the events not yet acknowledged.
///
/// Policy for those unsent events: in `localStorage` mode they are kept
/// there too, and a reload resends them. In cookie mode they stay in the
/// page's memory only, as in mode `none`: a site that chose cookies keeps
/// nothing in Web Storage (not `sessionStorage` either, which a consent
/// text about cookies does not cover), and cookies are too small for a
/// queue and would be sent with every request; the page-hide beacon still
/// delivers them as the page is left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StorageMode {
    LocalStorage,
    Cookie,
    /// Ids last as long as the page: every page load is a new visitor.
    None,
}

impl StorageMode {
    /// Whether unsent events are kept in `localStorage` for the next page.
    pub fn keeps_backlog(self) -> bool {
        self == StorageMode::LocalStorage
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub site: String,
    pub endpoint: String,
    /// The site asks for consent: analytics starts `pending`.
    pub consent_required: bool,
    /// The banner or policy version the site asks consent under
    /// (`data-consent-version`), sent with every `$consent` decision.
    pub consent_version: Option<String>,
    /// Without consent, send events anyway with no client ids; the
    /// collector derives a daily visitor key for them.
    pub cookieless: bool,
    /// Global Privacy Control and Do Not Track mean `denied`.
    pub honor_privacy_signals: bool,
    pub storage: StorageMode,
    pub cookie_domain: Option<String>,
    pub cookie_days: i64,
    pub session_timeout_ms: i64,
    pub session_max_ms: i64,
    pub auto_pageviews: bool,
    pub outbound_links: bool,
    pub file_downloads: bool,
    pub debug: bool,
    pub flush_interval_ms: i64,
    pub flush_at_events: usize,
}

/// Documented defaults: flush every 5 s or at 20 queued events, whichever
/// comes first. The session rule's defaults and ranges are the protocol's
/// (`waymark_protocol::limits`); the site's own rule, once the collector
/// tells it, replaces the configured one.
pub const DEFAULT_FLUSH_INTERVAL_MS: i64 = 5_000;
pub const DEFAULT_FLUSH_AT_EVENTS: usize = 20;
/// Safari caps script-set cookies at 7 days; longer lifetimes still help
/// every other browser, so the default is a year.
pub const DEFAULT_COOKIE_DAYS: i64 = 365;

const OPTIONS: [&str; 17] = [
    "site", "endpoint", "consent", "consentVersion", "cookieless", "privacySignals", "storage", "cookieDomain",
    "cookieDays", "sessionTimeoutMinutes", "sessionMaxMinutes", "autoPageviews", "outboundLinks",
    "fileDownloads", "debug", "flushIntervalMs", "flushAtEvents",
];

#[derive(Debug, Clone, PartialEq)]
pub enum ConfigError {
    SiteMissing,
    UnknownOption(String),
    BadValue { option: &'static str, expected: &'static str },
}

impl ConfigError {
    /// The message for the console (no `core::fmt`: see `json`).
    pub fn message(&self) -> String {
        match self {
            ConfigError::SiteMissing => "`site` is missing: set data-site on the script tag or `site` in init()".into(),
            ConfigError::UnknownOption(name) => {
                let mut s = String::from("unknown option `");
                s.push_str(name);
                s.push_str("`; known: ");
                for (i, option) in OPTIONS.iter().enumerate() {
                    if i > 0 {
                        s.push_str(", ");
                    }
                    s.push_str(option);
                }
                s
            }
            ConfigError::BadValue { option, expected } => {
                let mut s = String::from("option `");
                s.push_str(option);
                s.push_str("` must be ");
                s.push_str(expected);
                s
            }
        }
    }
}

/// Reads `options` (key, value) pairs into a checked [`Config`].
/// `default_endpoint` is where the SDK was loaded from, plus `api/collect`.
pub fn parse(options: &[(String, String)], default_endpoint: &str) -> Result<Config, ConfigError> {
    let mut config = Config {
        site: String::new(),
        endpoint: default_endpoint.to_owned(),
        consent_required: false,
        consent_version: None,
        cookieless: false,
        honor_privacy_signals: true,
        storage: StorageMode::LocalStorage,
        cookie_domain: None,
        cookie_days: DEFAULT_COOKIE_DAYS,
        session_timeout_ms: DEFAULT_SESSION_TIMEOUT_MS,
        session_max_ms: DEFAULT_SESSION_MAX_MS,
        auto_pageviews: true,
        outbound_links: false,
        file_downloads: false,
        debug: false,
        flush_interval_ms: DEFAULT_FLUSH_INTERVAL_MS,
        flush_at_events: DEFAULT_FLUSH_AT_EVENTS,
    };
    for (key, value) in options {
        let value = value.trim_ascii();
        match key.as_str() {
            "site" => config.site = value.to_owned(),
            "endpoint" if !value.is_empty() => config.endpoint = value.to_owned(),
            "endpoint" => {}
            "consent" => {
                config.consent_required = match value {
                    "required" => true,
                    "granted" | "" => false,
                    _ => return Err(bad("consent", "\"required\" or \"granted\"")),
                }
            }
            // It travels as a property of `$consent`: a property's limit
            // (the message's number is checked against it by a test; a
            // built one costs the module bytes).
            "consentVersion" if value.len() <= MAX_PROP_VALUE_BYTES => config.consent_version = Some(value.to_owned()).filter(|v| !v.is_empty()),
            "consentVersion" => return Err(bad("consentVersion", "text of at most 1000 bytes")),
            "cookieless" => config.cookieless = flag("cookieless", value)?,
            "privacySignals" => {
                config.honor_privacy_signals = match value {
                    "honor" | "" => true,
                    "ignore" => false,
                    _ => return Err(bad("privacySignals", "\"honor\" or \"ignore\"")),
                }
            }
            "storage" => {
                config.storage = match value {
                    "localStorage" | "" => StorageMode::LocalStorage,
                    "cookie" => StorageMode::Cookie,
                    "none" => StorageMode::None,
                    _ => return Err(bad("storage", "\"localStorage\", \"cookie\" or \"none\"")),
                }
            }
            "cookieDomain" => config.cookie_domain = Some(value.to_owned()).filter(|d| !d.is_empty()),
            "cookieDays" => config.cookie_days = number("cookieDays", value, 1, 3650)?,
            "sessionTimeoutMinutes" => {
                config.session_timeout_ms = number("sessionTimeoutMinutes", value, MIN_SESSION_TIMEOUT_MS / MINUTE_MS, MAX_SESSION_TIMEOUT_MS / MINUTE_MS)? * MINUTE_MS
            }
            "sessionMaxMinutes" => config.session_max_ms = number("sessionMaxMinutes", value, MIN_SESSION_TIMEOUT_MS / MINUTE_MS, MAX_SESSION_MAX_MS / MINUTE_MS)? * MINUTE_MS,
            "autoPageviews" => config.auto_pageviews = flag("autoPageviews", value)?,
            "outboundLinks" => config.outbound_links = flag("outboundLinks", value)?,
            "fileDownloads" => config.file_downloads = flag("fileDownloads", value)?,
            "debug" => config.debug = flag("debug", value)?,
            "flushIntervalMs" => config.flush_interval_ms = number("flushIntervalMs", value, 100, 600_000)?,
            "flushAtEvents" => config.flush_at_events = number("flushAtEvents", value, 1, 500)? as usize,
            _ => return Err(ConfigError::UnknownOption(key.clone())),
        }
    }
    if config.site.is_empty() {
        return Err(ConfigError::SiteMissing);
    }
    if config.session_max_ms < config.session_timeout_ms {
        return Err(bad("sessionMaxMinutes", "at least sessionTimeoutMinutes"));
    }
    Ok(config)
}

fn bad(option: &'static str, expected: &'static str) -> ConfigError {
    ConfigError::BadValue { option, expected }
}

/// A boolean: `data-debug` with no value means on, as HTML attributes do.
fn flag(option: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value {
        "true" | "" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad(option, "true or false")),
    }
}

fn number(option: &'static str, value: &str, min: i64, max: i64) -> Result<i64, ConfigError> {
    match parse_int(value) {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ConfigError::BadValue { option, expected: range_text(min, max) }),
    }
}

/// "a whole number from MIN to MAX", leaked once per bad config: the
/// message is built on the cold path only and lives as long as the page.
fn range_text(min: i64, max: i64) -> &'static str {
    let mut s = String::from("a whole number from ");
    s.push_str(&int_string(min));
    s.push_str(" to ");
    s.push_str(&int_string(max));
    // `leak`, not `Box::leak`: a boxed str would first shrink the
    // string, a path (with its panic message) the module otherwise lacks.
    s.leak()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_site_alone_gives_the_documented_defaults() {
        let c = parse(&opts(&[("site", "demo")]), "https://stats.example/api/collect").unwrap();
        assert_eq!(c.endpoint, "https://stats.example/api/collect");
        assert_eq!(c.storage, StorageMode::LocalStorage);
        assert!(!c.consent_required && c.honor_privacy_signals && c.auto_pageviews && !c.outbound_links);
        assert_eq!((c.session_timeout_ms, c.session_max_ms), (DEFAULT_SESSION_TIMEOUT_MS, DEFAULT_SESSION_MAX_MS));
        assert_eq!((c.flush_interval_ms, c.flush_at_events), (5_000, 20));
    }

    #[test]
    fn every_option_is_read() {
        let c = parse(
            &opts(&[
                ("site", "shop"), ("endpoint", "/collect"), ("consent", "required"), ("consentVersion", " v2 "), ("cookieless", "true"),
                ("privacySignals", "ignore"), ("storage", "cookie"), ("cookieDomain", "example.com"),
                ("cookieDays", "30"), ("sessionTimeoutMinutes", "15"), ("sessionMaxMinutes", "120"),
                ("autoPageviews", "false"), ("outboundLinks", ""), ("fileDownloads", "true"), ("debug", ""),
                ("flushIntervalMs", "1000"), ("flushAtEvents", "5"),
            ]),
            "/api/collect",
        )
        .unwrap();
        assert_eq!(c.endpoint, "/collect");
        assert!(c.consent_required && c.cookieless && !c.honor_privacy_signals);
        assert_eq!(c.consent_version.as_deref(), Some("v2"));
        assert_eq!((c.storage, c.cookie_domain.as_deref(), c.cookie_days), (StorageMode::Cookie, Some("example.com"), 30));
        assert_eq!((c.session_timeout_ms, c.session_max_ms), (15 * 60_000, 120 * 60_000));
        assert!(!c.auto_pageviews && c.outbound_links && c.file_downloads && c.debug);
        assert_eq!((c.flush_interval_ms, c.flush_at_events), (1000, 5));
    }

    #[test]
    fn a_missing_site_is_an_error_that_says_where_to_set_it() {
        let err = parse(&opts(&[("debug", "true")]), "/api/collect").unwrap_err();
        assert_eq!(err, ConfigError::SiteMissing);
        assert!(err.message().contains("data-site"));
    }

    #[test]
    fn bad_values_name_the_option_and_what_it_accepts() {
        let err = parse(&opts(&[("site", "s"), ("storage", "indexeddb")]), "/").unwrap_err();
        assert_eq!(err.message(), "option `storage` must be \"localStorage\", \"cookie\" or \"none\"");
        let err = parse(&opts(&[("site", "s"), ("sessionTimeoutMinutes", "0")]), "/").unwrap_err();
        assert_eq!(err.message(), "option `sessionTimeoutMinutes` must be a whole number from 1 to 1440");
        let err = parse(&opts(&[("site", "s"), ("sessionMaxMinutes", "10081")]), "/").unwrap_err();
        assert_eq!(err.message(), "option `sessionMaxMinutes` must be a whole number from 1 to 10080");
    }

    #[test]
    fn a_consent_version_is_optional_and_at_most_a_property_value_long() {
        assert_eq!(parse(&opts(&[("site", "s"), ("consentVersion", "")]), "/").unwrap().consent_version, None);
        assert_eq!(parse(&opts(&[("site", "s")]), "/").unwrap().consent_version, None);
        let longest = "v".repeat(MAX_PROP_VALUE_BYTES);
        assert_eq!(parse(&opts(&[("site", "s"), ("consentVersion", &longest)]), "/").unwrap().consent_version, Some(longest.clone()));
        let err = parse(&opts(&[("site", "s"), ("consentVersion", &(longest + "v"))]), "/").unwrap_err();
        let expected = ["option `consentVersion` must be text of at most ", &int_string(MAX_PROP_VALUE_BYTES as i64), " bytes"].concat();
        assert_eq!(err.message(), expected);
    }

    #[test]
    fn unknown_options_are_refused_by_name() {
        let err = parse(&opts(&[("site", "s"), ("sessionTimeout", "10")]), "/").unwrap_err();
        assert!(err.message().starts_with("unknown option `sessionTimeout`; known: site, endpoint, consent, consentVersion"));
    }
}
