//! `POST /api/collect` for a site whose ids the collector keeps in its own
//! `HttpOnly` cookie (`id_cookie`): over real HTTP, with the cookie carried
//! from answer to request as a browser would.

mod support;

use std::sync::Arc;

use serde_json::{Value, json};
use support::*;
use waymark_collector::clock::ManualClock;
use waymark_collector::config::IdCookieConfig;

const T0: i64 = 1_764_000_000_000;

async fn start_with_cookie() -> (Running, ManualClock) {
    let mut config = config();
    config.sites[0].id_cookie = Some(IdCookieConfig { domain: None, path: "/".into(), days: 400 });
    let clock = ManualClock::at(T0);
    (start_with(config, Arc::new(clock.clone())).await, clock)
}

/// A pageview made on a page that found no ids stored (`new_ids`).
fn fresh_pageview(n: u64, ts: i64, visitor_n: u64, session_n: u64) -> Value {
    json!({"id": id(n), "name": "$pageview", "ts": ts, "session_id": session(session_n), "visitor_id": visitor(visitor_n),
           "new_ids": true, "url": "https://shop.example/"})
}

/// Posts as the page at `ts` would, sending `cookie`; the answer and its
/// `Set-Cookie`.
async fn post(server: &Running, clock: &ManualClock, ts: i64, events: Vec<Value>, cookie: Option<&str>) -> (Answer, Option<String>) {
    clock.set(ts);
    let mut request = server.request("/api/collect").header("content-type", "text/plain").header("user-agent", FIREFOX);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let r = request.body(batch("demo", ts, events).to_string()).send().await.unwrap();
    let set_cookie = r.headers().get("set-cookie").map(|v| v.to_str().unwrap().to_owned());
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    (Answer { status, retry_after: None, body }, set_cookie)
}

/// The `name=value` a browser sends back.
fn sent_back(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_page_whose_storage_was_cleared_continues_as_the_cookie_s_visitor() {
    let (mut server, clock) = start_with_cookie().await;
    let (first, set) = post(&server, &clock, T0, vec![fresh_pageview(1, T0, 1, 1)], None).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body.get("ids"), None, "nothing to restore on a first visit");
    let set = set.expect("the first answer sets the id cookie");
    assert_eq!(
        set,
        format!("waymark_id_demo={}.{}.{T0}; Path=/; Max-Age=34560000; HttpOnly; Secure; SameSite=Lax", visitor(1), session(1))
    );

    // Ten minutes on, the page has lost its storage and made new ids.
    let later = T0 + 10 * MIN;
    let (again, set) = post(&server, &clock, later, vec![fresh_pageview(2, later, 2, 2)], Some(&sent_back(&set))).await;
    assert_eq!(again.body["ids"], json!({"visitor_id": visitor(1), "session_id": session(1)}), "the SDK is told whom it tracks");
    let cookie = sent_back(&set.unwrap());

    // Days later (past the idle timeout): the same visitor, a new session.
    let days = T0 + 8 * 24 * 60 * MIN;
    let (week, _) = post(&server, &clock, days, vec![fresh_pageview(3, days, 3, 3)], Some(&cookie)).await;
    assert_eq!(week.body["ids"], json!({"visitor_id": visitor(1)}));

    server.shutdown().await;
    let rows = server.query("SELECT visitor_id, client_session_id FROM events ORDER BY ts");
    assert_eq!(
        rows,
        vec![
            vec![json!(visitor(1)), json!(session(1))],
            vec![json!(visitor(1)), json!(session(1))],
            vec![json!(visitor(1)), json!(session(3))],
        ]
    );
    assert_eq!(server.query("SELECT visitor_id, pageviews FROM sessions ORDER BY start_ts"), vec![
        vec![json!(visitor(1)), json!(2)],
        vec![json!(visitor(1)), json!(1)],
    ]);
}

#[tokio::test]
async fn ids_the_sdk_kept_win_over_the_cookie_and_a_denial_clears_it() {
    let (mut server, clock) = start_with_cookie().await;
    let (_, set) = post(&server, &clock, T0, vec![fresh_pageview(1, T0, 1, 1)], None).await;
    let cookie = sent_back(&set.unwrap());

    // After `reset()`: a new visitor, sent without `new_ids`.
    let mut reset = pageview(2, T0 + MIN, "/");
    reset["visitor_id"] = json!(visitor(2));
    reset["session_id"] = json!(session(2));
    let (answer, set) = post(&server, &clock, T0 + MIN, vec![reset], Some(&cookie)).await;
    assert_eq!(answer.body.get("ids"), None);
    assert!(set.unwrap().starts_with(&format!("waymark_id_demo={}.{}.", visitor(2), session(2))), "the cookie follows the SDK");

    let denial = json!({"id": id(3), "name": "$consent", "ts": T0 + 2 * MIN, "session_id": session(2), "visitor_id": visitor(2),
                        "url": "https://shop.example/", "props": {"analytics": "denied"}});
    let (_, set) = post(&server, &clock, T0 + 2 * MIN, vec![denial], Some(&cookie)).await;
    assert_eq!(set.unwrap(), "waymark_id_demo=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax");

    // Without consent the SDK sends no ids, and the cookie is not touched.
    let (answer, set) = post(&server, &clock, T0 + 3 * MIN, vec![cookieless(4, T0 + 3 * MIN, "/")], None).await;
    assert_eq!((answer.status, set), (200, None));
    server.shutdown().await;
    assert_eq!(server.query(&format!("SELECT visitor_id FROM events WHERE id = '{}'", id(2))), vec![vec![json!(visitor(2))]]);
}

#[tokio::test]
async fn a_site_without_the_id_cookie_sets_none_and_keeps_the_sdk_s_ids() {
    let (mut server, clock) = start_at(T0).await;
    let cookie = format!("waymark_id_demo={}.{}.{T0}", visitor(1), session(1));
    let (answer, set) = post(&server, &clock, T0, vec![fresh_pageview(1, T0, 2, 2)], Some(&cookie)).await;
    assert_eq!((answer.status, answer.body.get("ids"), set), (200, None, None));
    server.shutdown().await;
    assert_eq!(server.query("SELECT visitor_id FROM events"), vec![vec![json!(visitor(2))]]);
}
