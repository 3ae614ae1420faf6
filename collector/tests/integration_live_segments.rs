//! `/api/live?site=…&segment=ID` over real HTTP: the live feed of a saved
//! segment's members (policy in `collector/src/live/segment.rs`), and the
//! counters beside it, `/api/query/realtime?segment=ID`. The
//! collector's clock is fixed (today is 2025-11-25 in the demo site's UTC);
//! the members are worked out again every second
//! (`live_segment_refresh_seconds = 1`), and a test waits for the stream to
//! say so rather than sleeping.

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use support::{CHROME_ANDROID, FIREFOX, MIDNIGHT, MIN, Running, batch, id, send, session, visitor};
use waymark_collector::clock::ManualClock;

const TOKEN: &str = "live-segments-token-0123456789";
/// 2025-11-25 12:00 UTC.
const NOON: i64 = MIDNIGHT + 12 * 60 * MIN;

async fn start() -> Running {
    let mut config = support::config();
    config.dashboard.api_tokens = vec![TOKEN.into()];
    config.dashboard.live_segment_refresh_seconds = 1;
    support::start_with(config, Arc::new(ManualClock::at(NOON))).await
}

/// Event `n` of visitor `who` in their visit `visit`, an hour before noon and a second per `n`.
fn event(n: u64, who: u64, visit: u64, name: &str, path: &str) -> Value {
    event_at(NOON - 3_600_000 + n as i64 * 1_000, n, who, visit, name, path)
}

/// Event `n` of visitor `who` in their visit `visit`, at `ts`.
fn event_at(ts: i64, n: u64, who: u64, visit: u64, name: &str, path: &str) -> Value {
    json!({"id": id(n), "name": name, "ts": ts, "session_id": session(visit), "visitor_id": visitor(who),
           "url": format!("https://demo.example{path}")})
}

/// Sends `events` to the demo site from a browser that names itself `agent`.
async fn post(server: &Running, agent: &str, events: Vec<Value>) {
    let request = server.request("/api/collect").header("content-type", "text/plain").header("user-agent", agent);
    let answer = send(request.body(batch("demo", NOON, events).to_string())).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
}

async fn save_segment(server: &Running, segment: Value) -> String {
    let request = reqwest::Client::new().post(format!("{}/api/segments?site=demo", server.url)).bearer_auth(TOKEN).json(&segment);
    let answer = send(request).await;
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    answer.body["id"].as_str().unwrap().to_owned()
}

/// An open SSE stream and what it said so far.
struct Stream {
    response: reqwest::Response,
    seen: String,
}

impl Stream {
    async fn open(server: &Running, query: &str) -> Stream {
        let response = reqwest::Client::new().get(format!("{}/api/live?{query}", server.url)).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(response.status(), 200);
        Stream { response, seen: String::new() }
    }

    /// Reads until `needle` shows up; returns what came since the last call.
    async fn until(&mut self, needle: &str) -> String {
        let from = self.seen.len();
        while !self.seen[from..].contains(needle) {
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("the live stream went quiet before {needle:?}: {}", &self.seen[from..]))
                .unwrap()
                .unwrap_or_else(|| panic!("the live stream ended before {needle:?}: {}", &self.seen[from..]));
            self.seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        self.seen[from..].to_owned()
    }
}

#[tokio::test]
async fn the_stream_of_a_segment_carries_its_members_events_and_a_visitor_joins_with_the_event_that_makes_them_one() {
    let mut server = start().await;
    // Visitor 1 added to cart this morning; visitor 2 only looked.
    post(&server, FIREFOX, vec![event(1, 1, 1, "$pageview", "/"), event(2, 1, 1, "add_to_cart", "/shoes"), event(3, 2, 2, "$pageview", "/")]).await;
    let carts = save_segment(&server, json!({"name": "Carts", "conditions": [{"kind": "did", "condition": {"kind": "event", "name": "add_to_cart"}}]})).await;
    let mut live = Stream::open(&server, &format!("site=demo&segment={carts}")).await;
    let said = live.until("event: segment\n").await;
    let data = said.lines().find_map(|l| l.strip_prefix("data: ")).expect("the segment's data");
    assert_eq!(serde_json::from_str::<Value>(data).unwrap(), json!({"id": carts, "name": "Carts", "members": 1, "refresh_seconds": 1}));

    // The non-member's pageview is sent first; the member's comes, the other never did.
    post(&server, FIREFOX, vec![event(10, 2, 2, "$pageview", "/pricing")]).await;
    post(&server, FIREFOX, vec![event(11, 1, 1, "$pageview", "/checkout")]).await;
    let seen = live.until(&id(11)).await;
    assert!(!seen.contains(&id(10)), "a non-member's event came: {seen}");
    assert!(seen.contains("event: stored"), "{seen}");

    // Visitor 2 adds to cart: that event shows they are in, and so their next one comes.
    post(&server, FIREFOX, vec![event(12, 2, 2, "add_to_cart", "/shoes"), event(13, 2, 2, "$pageview", "/cart")]).await;
    let seen = live.until(&id(13)).await;
    assert!(seen.contains(&id(12)), "{seen}");
    // And the next working-out counts them.
    live.until(r#""members":2"#).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_visitor_who_meets_a_condition_no_single_event_shows_joins_at_the_next_working_out() {
    let mut server = start().await;
    post(&server, FIREFOX, vec![event(1, 3, 3, "$pageview", "/")]).await;
    let returning = save_segment(&server, json!({"name": "Returning", "conditions": [{"kind": "sessions", "at_least": 2}]})).await;
    let mut live = Stream::open(&server, &format!("site=demo&segment={returning}")).await;
    let said = live.until("event: segment\n").await;
    assert!(said.contains(r#""members":0"#), "{said}");

    // A second visit (a new SDK session) makes visitor 3 returning; that one
    // event cannot tell, so it is not sent, but the next working-out knows.
    post(&server, FIREFOX, vec![event(2, 3, 4, "$pageview", "/again")]).await;
    let seen = live.until(r#""members":1"#).await;
    assert!(!seen.contains(&id(2)), "{seen}");
    post(&server, FIREFOX, vec![event(3, 3, 4, "$pageview", "/pricing")]).await;
    live.until(&id(3)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_new_visitor_on_the_segments_device_comes_at_once_with_the_start_of_their_visit() {
    let mut server = start().await;
    let phones = save_segment(&server, json!({"name": "Phones", "conditions": [{"kind": "dimension", "dimension": "device", "value": "mobile"}]})).await;
    let mut live = Stream::open(&server, &format!("site=demo&segment={phones}")).await;
    live.until(r#""members":0"#).await;
    post(&server, FIREFOX, vec![event(1, 5, 5, "$pageview", "/")]).await;
    post(&server, CHROME_ANDROID, vec![event(2, 6, 6, "$pageview", "/")]).await;
    let seen = live.until(&id(2)).await;
    assert!(!seen.contains(&id(1)) && !seen.contains(&visitor(5)), "the computer's visit came: {seen}");
    let start = seen.split("\n\n").find(|m| m.contains("event: session_started")).expect("the phone's visit start");
    assert!(start.contains(&visitor(6)), "{start}");
    server.shutdown().await;
}

#[tokio::test]
async fn an_unknown_segment_is_not_found_before_any_stream_and_a_deleted_one_ends_its_streams() {
    let mut server = start().await;
    let answer = send(reqwest::Client::new().get(format!("{}/api/live?site=demo&segment=nope", server.url)).bearer_auth(TOKEN)).await;
    assert_eq!((answer.status, answer.body["error"].as_str()), (404, Some("segment_not_found")), "{:?}", answer.body);
    assert!(answer.body["message"].as_str().unwrap().contains("\"nope\""), "{:?}", answer.body);

    let phones = save_segment(&server, json!({"name": "Phones", "conditions": [{"kind": "dimension", "dimension": "device", "value": "mobile"}]})).await;
    let mut live = Stream::open(&server, &format!("site=demo&segment={phones}")).await;
    live.until("event: segment\n").await;
    let deleted = send(reqwest::Client::new().delete(format!("{}/api/segments/{phones}?site=demo", server.url)).bearer_auth(TOKEN)).await;
    assert_eq!(deleted.status, 204);
    let said = live.until("event: segment_deleted").await;
    assert!(said.contains("/api/segments"), "{said}");
    let ended = tokio::time::timeout(Duration::from_secs(10), live.response.chunk()).await.expect("the stream ended").unwrap();
    assert!(ended.is_none(), "{ended:?}");
    let answer = send(reqwest::Client::new().get(format!("{}/api/live?site=demo&segment={phones}", server.url)).bearer_auth(TOKEN)).await;
    assert_eq!(answer.status, 404);
    server.shutdown().await;
}

/// `/api/query/realtime?site=demo…`: (visitors now, events in the last 60
/// minutes, the minutes with events as (minutes before noon, events, sessions)).
async fn realtime(server: &Running, query: &str) -> (i64, i64, Vec<(i64, i64, i64)>) {
    let request = reqwest::Client::new().get(format!("{}/api/query/realtime?site=demo{query}", server.url)).bearer_auth(TOKEN);
    let answer = send(request).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let minutes = answer.body["minutes"].as_array().unwrap();
    let busy: Vec<(i64, i64, i64)> = minutes
        .iter()
        .filter(|m| m["events"] != 0)
        .map(|m| ((NOON - m["start_ms"].as_i64().unwrap()) / MIN, m["events"].as_i64().unwrap(), m["sessions"].as_i64().unwrap()))
        .collect();
    (answer.body["active_visitors"].as_i64().unwrap(), busy.iter().map(|(_, events, _)| events).sum(), busy)
}

#[tokio::test]
async fn the_realtime_counters_of_a_segment_count_its_members_of_today_and_not_everyone() {
    let mut server = start().await;
    let before = |minutes: i64| NOON - minutes * MIN;
    post(&server, FIREFOX, vec![
        // 21 added to cart two minutes ago; 23 did, twenty minutes ago; 22 only looked, three minutes ago.
        event_at(before(30), 1, 21, 21, "$pageview", "/"),
        event_at(before(2), 2, 21, 21, "add_to_cart", "/shoes"),
        event_at(before(3), 3, 22, 22, "$pageview", "/"),
        event_at(before(20), 4, 23, 23, "$pageview", "/"),
        event_at(before(19), 5, 23, 23, "add_to_cart", "/shoes"),
        // 24 added to cart yesterday, and today only looked, a minute ago.
        event_at(before(12 * 60 + 10), 6, 24, 24, "add_to_cart", "/shoes"),
        event_at(before(1), 7, 24, 25, "$pageview", "/"),
    ])
    .await;
    let carts = save_segment(&server, json!({"name": "Carts", "conditions": [{"kind": "did", "condition": {"kind": "event", "name": "add_to_cart"}}]})).await;

    // Everyone: 21, 22 and 24 in the last five minutes; every event of the hour (not yesterday's).
    assert_eq!(realtime(&server, "").await, (3, 6, vec![(30, 1, 1), (20, 1, 1), (19, 1, 1), (3, 1, 1), (2, 1, 1), (1, 1, 1)]));
    // The segment's members today, 21 and 23: 21 is here now; their four events.
    let segment = format!("&segment={carts}");
    assert_eq!(realtime(&server, &segment).await, (1, 4, vec![(30, 1, 1), (20, 1, 1), (19, 1, 1), (2, 1, 1)]));

    // 22 adds to cart: counted at once, with the pageview before.
    post(&server, FIREFOX, vec![event_at(NOON, 8, 22, 22, "add_to_cart", "/shoes")]).await;
    assert_eq!(realtime(&server, &segment).await, (2, 6, vec![(30, 1, 1), (20, 1, 1), (19, 1, 1), (3, 1, 1), (2, 1, 1), (0, 1, 1)]));

    let request = reqwest::Client::new().get(format!("{}/api/query/realtime?site=demo&segment=nope", server.url)).bearer_auth(TOKEN);
    let answer = send(request).await;
    assert_eq!((answer.status, answer.body["error"].as_str()), (404, Some("segment_not_found")), "{:?}", answer.body);
    server.shutdown().await;
}
