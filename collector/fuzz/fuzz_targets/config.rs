//! The config file and its `WAYMARK_*` overrides: the TOML text, then
//! after a NUL byte one `NAME=value` override a line. Whatever they say,
//! loading ends in a config or an error naming the field, never a panic;
//! a config that loads also builds what start builds from it without
//! touching disk or network (rate limits, session rules, origins).
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use waymark_collector::api::rate_limit::RateLimits;
use waymark_collector::clock::SystemClock;
use waymark_collector::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (file, overrides) = text.split_once('\0').unwrap_or((text, ""));
    let env = overrides.lines().filter_map(|line| line.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned()));
    let Ok(config) = Config::parse(file, "fuzz.toml", env) else { return };
    let _ = RateLimits::new(&config.limits, Arc::new(SystemClock));
    let _ = config.public_origin();
    for site in &config.sites {
        let _ = (site.session_rule(), site.session_timeout_ms());
    }
});
