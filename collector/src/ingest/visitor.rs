//! Cookieless visitors: without consent the SDK sends no ids, and the
//! collector derives a visitor key from what the request carries anyway.
//!
//! Policy: key = keyed BLAKE3 of (site, IP, user agent) under a random
//! secret salt for the UTC day the event happened (not the day it arrived:
//! a backfill of three days keys a person three times, live or late). The
//! salt lives in the database for two days (yesterday's is kept so a visit
//! spans midnight), then is deleted: after that nobody, the operator
//! included, can recompute a key or link a person across days. A backfill
//! of an older day gets a salt of its own for that day, deleted when the
//! next day begins. The IP is only hashed here, never stored.
//! Near midnight an event carries yesterday's key too; it keeps that key
//! when the visitor is still in a session under it
//! ([`keep_yesterdays_key`]), so a visit spans midnight.

use std::net::IpAddr;

use crate::clock::{DAY_MS, day_of};
use crate::event::StoredEvent;
use crate::store::{DaySalts, StoredState};

/// The first 16 bytes of a hash, written like a UUID so that every id in
/// the database has one shape.
pub fn uuid_shaped(bytes: &[u8; 32]) -> String {
    let mut first = [0u8; 16];
    first.copy_from_slice(&bytes[..16]);
    uuid::Uuid::from_bytes(first).hyphenated().to_string()
}

/// The cookieless visitor key under one salt.
pub fn cookieless_key(salt: &[u8; 32], site: &str, ip: IpAddr, user_agent: &str) -> String {
    let mut hasher = blake3::Hasher::new_keyed(salt);
    hasher.update(site.as_bytes());
    hasher.update(&[0]);
    match ip {
        IpAddr::V4(v4) => hasher.update(&v4.octets()),
        IpAddr::V6(v6) => hasher.update(&v6.octets()),
    };
    hasher.update(&[0]);
    hasher.update(user_agent.as_bytes());
    uuid_shaped(hasher.finalize().as_bytes())
}

/// The key under the salt of the event's day, and under the day before's
/// when the event lies within a session timeout of that day's midnight
/// (the store keeps that one if the visitor is still in a session).
pub fn cookieless_keys(
    salts: &DaySalts,
    site: &str,
    ip: IpAddr,
    user_agent: &str,
    event_ts: i64,
    timeout_ms: i64,
) -> (String, Option<String>) {
    let today = cookieless_key(&salts.salt, site, ip, user_agent);
    let near_midnight = event_ts < salts.day * DAY_MS + timeout_ms || day_of(event_ts) < salts.day;
    let yesterday = salts.day_before.filter(|_| near_midnight).map(|salt| cookieless_key(&salt, site, ip, user_agent));
    (today, yesterday)
}

/// Gives a cookieless event yesterday's key when that visitor has an event
/// within a timeout of it, stored or `arriving` in the same group (site,
/// visitor, time). Reads, and does not take, the offered key, so a group
/// planned again decides the same way. (A stored event of the visitor within
/// a timeout of `ts` exists exactly when one of its sessions overlaps that
/// window: a session's events are at most a timeout apart.)
pub fn keep_yesterdays_key<S: StoredState>(
    state: &mut S,
    event: &mut StoredEvent,
    timeout_ms: i64,
    arriving: &[(&str, &str, i64)],
) -> Result<(), S::Error> {
    let Some(previous) = &event.visitor_id_yesterday else { return Ok(()) };
    let near = |ts: i64| (ts - event.ts).abs() <= timeout_ms;
    let in_group = arriving.iter().any(|&(site, visitor, ts)| site == event.site && visitor == previous && near(ts));
    if in_group || !state.sessions_overlapping(&event.site, previous, event.ts - timeout_ms, event.ts + timeout_ms, 1)?.is_empty() {
        event.visitor_id = previous.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: &str = "203.0.113.9";
    const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0";

    fn salts(day: i64) -> DaySalts {
        DaySalts { day, salt: [day as u8; 32], day_before: Some([(day - 1) as u8; 32]) }
    }

    #[test]
    fn the_key_depends_on_site_ip_agent_and_salt() {
        let ip = IP.parse().unwrap();
        let key = cookieless_key(&[1; 32], "a", ip, UA);
        assert_eq!(key, cookieless_key(&[1; 32], "a", ip, UA));
        assert!(waymark_protocol::is_uuid(&key));
        assert_ne!(key, cookieless_key(&[2; 32], "a", ip, UA));
        assert_ne!(key, cookieless_key(&[1; 32], "b", ip, UA));
        assert_ne!(key, cookieless_key(&[1; 32], "a", "203.0.113.10".parse().unwrap(), UA));
        assert_ne!(key, cookieless_key(&[1; 32], "a", ip, "curl/8"));
    }

    #[test]
    fn yesterdays_key_is_offered_only_near_midnight() {
        let day = 20_000;
        let midnight = day * DAY_MS;
        let ip = IP.parse().unwrap();
        let (_, at_0010) = cookieless_keys(&salts(day), "s", ip, UA, midnight + 10 * 60_000, 30 * 60_000);
        assert!(at_0010.is_some());
        let (_, at_0040) = cookieless_keys(&salts(day), "s", ip, UA, midnight + 40 * 60_000, 30 * 60_000);
        assert!(at_0040.is_none());
    }
}
