//! The collector's id cookie: a site that serves the collector from its own
//! domain (a subdomain, or a path its reverse proxy forwards) can have the
//! visitor's and session's ids kept in an `HttpOnly; Secure; SameSite=Lax`
//! cookie the collector sets. Storage a script writes may be cleared
//! (Safari deletes it after seven days without a visit); a cookie set by
//! the site's own server lasts as configured.
//!
//! Policy, for a site with `id_cookie` configured:
//! - the cookie is written only from events that carry client ids, which
//!   the SDK sends only with consent; a consent denial in the batch clears
//!   it, and a batch without ids leaves it as it is;
//! - events sent with `new_ids` (the SDK found no ids stored on this page)
//!   take the cookie's visitor, and its session while that session lives
//!   by the site's idle timeout; the answer names those ids
//!   ([`waymark_protocol::ClientIds`]) and the SDK keeps them;
//! - events with ids of their own keep them (a `reset()` starts a new
//!   visitor on purpose), and the cookie follows them;
//! - the value is `visitor.session.last_event_ts`, the time on the
//!   browser's own clock, as the browser sent it: one clock, whatever its
//!   skew. A value that does not read as that is ignored and replaced.

use waymark_protocol::{ClientIds, Event, PropValue, is_uuid, names};

use super::decode::Unreadable;
use crate::config::IdCookieConfig;

/// The cookie's name for a site: sites that share a domain keep their own.
pub fn cookie_name(site: &str) -> String {
    format!("waymark_id_{site}")
}

/// What the cookie holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdCookie {
    pub visitor: String,
    pub session: String,
    /// The session's latest event, on the browser's clock.
    pub last_ts: i64,
}

impl IdCookie {
    pub fn parse(value: &str) -> Option<IdCookie> {
        let mut parts = value.split('.');
        let (visitor, session, last_ts) = (parts.next()?, parts.next()?, parts.next()?.parse().ok()?);
        (parts.next().is_none() && is_uuid(visitor) && is_uuid(session))
            .then(|| IdCookie { visitor: visitor.to_owned(), session: session.to_owned(), last_ts })
    }

    fn value(&self) -> String {
        format!("{}.{}.{}", self.visitor, self.session, self.last_ts)
    }
}

/// What the answer does to the cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieChange {
    Keep,
    Set(IdCookie),
    Clear,
}

impl CookieChange {
    /// The `Set-Cookie` value for the site's cookie, if it changes.
    pub fn header(&self, site: &str, config: &IdCookieConfig) -> Option<String> {
        let (value, max_age) = match self {
            CookieChange::Keep => return None,
            CookieChange::Set(cookie) => (cookie.value(), i64::from(config.days) * 86_400),
            CookieChange::Clear => (String::new(), 0),
        };
        let domain = config.domain.as_deref().map(|d| format!("; Domain={d}")).unwrap_or_default();
        Some(format!(
            "{}={value}; Path={}{domain}; Max-Age={max_age}; HttpOnly; Secure; SameSite=Lax",
            cookie_name(site),
            config.path
        ))
    }
}

/// Gives the batch's `new_ids` events the ids `cookie` holds, and says
/// which it gave (for the answer) and what becomes of the cookie.
pub fn apply(events: &mut [Result<Event, Unreadable>], cookie: Option<IdCookie>, timeout_ms: i64) -> (Option<ClientIds>, CookieChange) {
    let mut events: Vec<&mut Event> = events.iter_mut().filter_map(|e| e.as_mut().ok()).collect();
    let restored = cookie.as_ref().and_then(|cookie| restore(&mut events, cookie, timeout_ms));
    if events.iter().any(|e| is_denial(e)) {
        return (restored, CookieChange::Clear);
    }
    let latest = events
        .iter()
        .filter_map(|e| Some((e.ts, e.visitor_id.as_deref()?, e.session_id.as_deref()?)))
        .filter(|(_, visitor, session)| is_uuid(visitor) && is_uuid(session))
        .max_by_key(|(ts, ..)| *ts);
    let change = match latest {
        None => CookieChange::Keep,
        Some((ts, visitor, session)) => {
            let last_ts = match &cookie {
                Some(c) if c.visitor == visitor && c.session == session => c.last_ts.max(ts),
                _ => ts,
            };
            // Set even when unchanged: the lifetime counts from the last event.
            CookieChange::Set(IdCookie { visitor: visitor.to_owned(), session: session.to_owned(), last_ts })
        }
    };
    (restored, change)
}

/// The cookie's visitor for every `new_ids` event, and its session too
/// unless the first of them comes more than a timeout after its last event.
fn restore(events: &mut [&mut Event], cookie: &IdCookie, timeout_ms: i64) -> Option<ClientIds> {
    let first = events.iter().filter(|e| e.new_ids && e.visitor_id.is_some()).map(|e| e.ts).min()?;
    let session = (first - cookie.last_ts <= timeout_ms).then(|| cookie.session.clone());
    for event in events.iter_mut().filter(|e| e.new_ids && e.visitor_id.is_some()) {
        event.visitor_id = Some(cookie.visitor.clone());
        if let Some(session) = &session {
            event.session_id = Some(session.clone());
        }
    }
    Some(ClientIds { visitor_id: cookie.visitor.clone(), session_id: session })
}

fn is_denial(event: &Event) -> bool {
    event.name == names::CONSENT && event.props.get("analytics") == Some(&PropValue::Text("denied".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const V_OLD: &str = "11111111-1111-4111-8111-111111111111";
    const S_OLD: &str = "22222222-2222-4222-8222-222222222222";
    const V_NEW: &str = "33333333-3333-4333-8333-333333333333";
    const S_NEW: &str = "44444444-4444-4444-8444-444444444444";
    const TIMEOUT: i64 = 30 * 60_000;

    fn event(name: &str, ts: i64, ids: Option<(&str, &str)>, new_ids: bool) -> Result<Event, Unreadable> {
        Ok(Event {
            id: format!("e{ts}"),
            name: name.into(),
            ts,
            visitor_id: ids.map(|(v, _)| v.into()),
            session_id: ids.map(|(_, s)| s.into()),
            new_ids,
            ..Event::default()
        })
    }

    fn cookie(last_ts: i64) -> Option<IdCookie> {
        Some(IdCookie { visitor: V_OLD.into(), session: S_OLD.into(), last_ts })
    }

    fn ids_of(events: &[Result<Event, Unreadable>]) -> Vec<(String, String)> {
        events.iter().map(|e| e.as_ref().ok().unwrap()).map(|e| (e.visitor_id.clone().unwrap(), e.session_id.clone().unwrap())).collect()
    }

    #[test]
    fn a_page_that_found_no_ids_gets_the_cookie_s_visitor_and_its_live_session() {
        let mut events = vec![event("$pageview", 1_000 + TIMEOUT, Some((V_NEW, S_NEW)), true)];
        let (restored, change) = apply(&mut events, cookie(1_000), TIMEOUT);
        assert_eq!(ids_of(&events), [(V_OLD.to_owned(), S_OLD.to_owned())]);
        assert_eq!(restored, Some(ClientIds { visitor_id: V_OLD.into(), session_id: Some(S_OLD.into()) }));
        assert_eq!(change, CookieChange::Set(IdCookie { visitor: V_OLD.into(), session: S_OLD.into(), last_ts: 1_000 + TIMEOUT }));
    }

    #[test]
    fn after_the_idle_timeout_only_the_visitor_is_restored() {
        let mut events = vec![event("$pageview", 1_001 + TIMEOUT, Some((V_NEW, S_NEW)), true)];
        let (restored, change) = apply(&mut events, cookie(1_000), TIMEOUT);
        assert_eq!(ids_of(&events), [(V_OLD.to_owned(), S_NEW.to_owned())]);
        assert_eq!(restored, Some(ClientIds { visitor_id: V_OLD.into(), session_id: None }));
        assert_eq!(change, CookieChange::Set(IdCookie { visitor: V_OLD.into(), session: S_NEW.into(), last_ts: 1_001 + TIMEOUT }));
    }

    #[test]
    fn ids_the_sdk_kept_or_chose_stay_and_the_cookie_follows_them() {
        // As after `reset()`: a new visitor, not sent as `new_ids`.
        let mut events = vec![event("$pageview", 5_000, Some((V_NEW, S_NEW)), false)];
        let (restored, change) = apply(&mut events, cookie(1_000), TIMEOUT);
        assert_eq!(ids_of(&events), [(V_NEW.to_owned(), S_NEW.to_owned())]);
        assert_eq!(restored, None);
        assert_eq!(change, CookieChange::Set(IdCookie { visitor: V_NEW.into(), session: S_NEW.into(), last_ts: 5_000 }));
    }

    #[test]
    fn without_a_cookie_new_ids_are_kept_and_become_the_cookie() {
        let mut events = vec![event("$pageview", 5_000, Some((V_NEW, S_NEW)), true)];
        let (restored, change) = apply(&mut events, None, TIMEOUT);
        assert_eq!(ids_of(&events), [(V_NEW.to_owned(), S_NEW.to_owned())]);
        assert_eq!(restored, None);
        assert!(matches!(change, CookieChange::Set(c) if c.visitor == V_NEW));
    }

    #[test]
    fn events_without_ids_never_set_the_cookie_and_a_denial_clears_it() {
        let mut cookieless = vec![event("$pageview", 5_000, None, false)];
        assert_eq!(apply(&mut cookieless, cookie(1_000), TIMEOUT), (None, CookieChange::Keep));
        assert_eq!(apply(&mut cookieless, None, TIMEOUT), (None, CookieChange::Keep));

        let mut denial = event("$consent", 6_000, Some((V_OLD, S_OLD)), false);
        denial.as_mut().ok().unwrap().props.insert("analytics".into(), PropValue::Text("denied".into()));
        let mut events = vec![event("$pageview", 5_000, Some((V_OLD, S_OLD)), false), denial];
        assert_eq!(apply(&mut events, cookie(1_000), TIMEOUT).1, CookieChange::Clear);
    }

    #[test]
    fn the_cookie_reads_back_what_it_wrote_and_nothing_else() {
        let c = IdCookie { visitor: V_OLD.into(), session: S_OLD.into(), last_ts: 1_700_000_000_000 };
        assert_eq!(IdCookie::parse(&c.value()), Some(c));
        for bad in ["", "x.y.1", &format!("{V_OLD}.{S_OLD}"), &format!("{V_OLD}.{S_OLD}.1.2"), &format!("{V_OLD}.{S_OLD}.soon")] {
            assert_eq!(IdCookie::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_header_is_http_only_secure_and_lax_with_the_configured_scope() {
        let config = IdCookieConfig { domain: Some("example.com".into()), path: "/stats".into(), days: 400 };
        let set = CookieChange::Set(IdCookie { visitor: V_OLD.into(), session: S_OLD.into(), last_ts: 7 });
        assert_eq!(
            set.header("shop", &config).unwrap(),
            format!("waymark_id_shop={V_OLD}.{S_OLD}.7; Path=/stats; Domain=example.com; Max-Age=34560000; HttpOnly; Secure; SameSite=Lax")
        );
        assert_eq!(
            CookieChange::Clear.header("shop", &config).unwrap(),
            "waymark_id_shop=; Path=/stats; Domain=example.com; Max-Age=0; HttpOnly; Secure; SameSite=Lax"
        );
        assert_eq!(CookieChange::Keep.header("shop", &config), None);
    }
}
