//! The SDK writes its JSON by hand (serde would cost the download more
//! than the whole writer): this proves that what it writes, for every kind
//! of event, is what the protocol's own types read. Each request body the
//! tracker hands to the network is decoded into `waymark_protocol::Batch`
//! with serde_json, and every field is compared with what was tracked.

use alloc::collections::BTreeMap;
use core::cell::RefCell;

use waymark_protocol::{Batch, Event, PropValue, SessionRule, is_uuid, names};

use crate::core::config::parse;
use crate::core::consent::{Category, Decision};
use crate::core::ids::{FakeRandom, Random};
use crate::core::storage::{KeyValue, MemoryStore};
use crate::core::tracker::{Env, PageFacts, Tracker};

const PAGE: &str = "https://shop.example/pricing?plan=pro#top";

#[derive(Default)]
struct Page {
    local: MemoryStore,
    random: FakeRandom,
    url: RefCell<String>,
    sent: RefCell<Vec<String>>,
}

impl Env for Page {
    fn local_storage(&self) -> &dyn KeyValue {
        &self.local
    }
    /// Storage mode `localStorage` here: cookies are never asked for.
    fn cookies(&self) -> &dyn KeyValue {
        &self.local
    }
    fn random(&self) -> &dyn Random {
        &self.random
    }
    fn url(&self) -> String {
        self.url.borrow().clone()
    }
    fn referrer(&self) -> String {
        "https://news.example/item?id=1".into()
    }
    fn title(&self) -> String {
        "Pricing — \"Pro\" plan".into()
    }
    fn send(&self, _: &str, body: &str) -> bool {
        self.sent.borrow_mut().push(body.into());
        true
    }
    fn beacon(&self, _: &str, body: &str) -> bool {
        self.sent.borrow_mut().push(body.into());
        true
    }
    fn send_unanswered(&self, _: &str, _: &str) {}
    fn arm_flush_timer(&self, _: i64) {}
}

fn tracker(options: &[(&str, &str)], page: &Page) -> Tracker {
    let mut all = vec![("site".to_owned(), "shop".to_owned()), ("outboundLinks".to_owned(), "true".to_owned()), ("fileDownloads".to_owned(), "true".to_owned())];
    all.extend(options.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    page.url.replace(PAGE.into());
    let facts = PageFacts { global_privacy_control: false, do_not_track: "unspecified" };
    Tracker::new(parse(&all, "/api/collect").unwrap(), &facts, page)
}

/// Every batch sent so far, read as the collector reads it.
fn received(page: &Page) -> Vec<Batch> {
    page.sent.borrow().iter().map(|body| serde_json::from_str::<Batch>(body).unwrap_or_else(|e| panic!("{e}: {body}"))).collect()
}

fn props(pairs: &[(&str, PropValue)]) -> BTreeMap<String, PropValue> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn text(s: &str) -> PropValue {
    PropValue::Text(s.into())
}

/// `expected` with the ids the SDK drew, after checking they are UUIDs.
fn with_ids_of(actual: &Event, expected: Event) -> Event {
    assert!(is_uuid(&actual.id), "{actual:?}");
    for id in [&actual.session_id, &actual.visitor_id].into_iter().flatten() {
        assert!(is_uuid(id), "{actual:?}");
    }
    Event { id: actual.id.clone(), session_id: actual.session_id.clone(), visitor_id: actual.visitor_id.clone(), new_ids: actual.new_ids, ..expected }
}

fn event(name: &str, ts: i64, url: &str) -> Event {
    Event { name: name.into(), ts, url: url.into(), ..Event::default() }
}

#[test]
fn every_kind_of_event_the_sdk_writes_decodes_into_the_protocol_s_batch_field_by_field() {
    let page = Page::default();
    let mut t = tracker(&[("consent", "required"), ("flushAtEvents", "500")], &page);
    t.first_view(1_000, false, &page);
    assert!(t.decide(Category::Analytics, Decision::Granted, 2_000, &page));
    let custom = r#"{"plan":"pro","note":"é \"quoted\"\n\u0001","seats":3,"ratio":-1.5e-7,"big":12345678901234,"trial":false,"paid":true}"#;
    t.track("signup", custom, 3_000, PAGE, &page).unwrap();
    t.identify("user-7", 4_000, &page).unwrap();
    t.link_clicked(5_000, "https://other.example/a?b=1", &page);
    t.link_clicked(6_000, "https://shop.example/files/Report.PDF", &page);
    page.url.replace("https://shop.example/docs".into());
    t.navigated(7_000, false, &page);
    t.flush(7_000, &page);

    let batches = received(&page);
    assert_eq!(batches.len(), 1);
    let batch = &batches[0];
    assert_eq!((batch.site.as_str(), batch.sent_at), ("shop", 7_000));
    let ids = |e: &Event| (e.session_id.clone().unwrap(), e.visitor_id.clone().unwrap());
    let first = ids(&batch.events[0]);
    assert!(batch.events.iter().all(|e| ids(e) == first), "one session and visitor throughout");
    assert!(batch.events.iter().all(|e| e.new_ids), "ids made on this page, which no answer has confirmed yet");

    let mut pageview = event(names::PAGEVIEW, 1_000, PAGE);
    pageview.referrer = Some("https://news.example/item?id=1".into());
    pageview.title = Some("Pricing — \"Pro\" plan".into());
    let mut consent = event(names::CONSENT, 2_000, PAGE);
    consent.props = props(&[("analytics", text("granted"))]);
    let mut signup = event("signup", 3_000, PAGE);
    signup.props = props(&[
        ("plan", text("pro")),
        ("note", text("é \"quoted\"\n\u{1}")),
        ("seats", PropValue::Number(3.0)),
        ("ratio", PropValue::Number(-1.5e-7)),
        ("big", PropValue::Number(12_345_678_901_234.0)),
        ("trial", PropValue::Bool(false)),
        ("paid", PropValue::Bool(true)),
    ]);
    let mut identify = event(names::IDENTIFY, 4_000, PAGE);
    identify.user_id = Some("user-7".into());
    let mut outbound = event(names::OUTBOUND_CLICK, 5_000, PAGE);
    outbound.props = props(&[("url", text("https://other.example/a?b=1"))]);
    outbound.user_id = Some("user-7".into());
    let mut download = event(names::FILE_DOWNLOAD, 6_000, PAGE);
    download.props = props(&[("url", text("https://shop.example/files/Report.PDF"))]);
    download.user_id = Some("user-7".into());
    let mut engagement = event(names::ENGAGEMENT, 7_000, PAGE);
    engagement.engaged_ms = Some(6_000);
    engagement.user_id = Some("user-7".into());
    let mut next_page = event(names::PAGEVIEW, 7_000, "https://shop.example/docs");
    next_page.referrer = pageview.referrer.clone();
    next_page.title = pageview.title.clone();
    next_page.user_id = Some("user-7".into());

    let expected = [pageview, consent, signup, identify, outbound, download, engagement, next_page];
    assert_eq!(batch.events.len(), expected.len(), "{:#?}", batch.events);
    for (actual, expected) in batch.events.iter().zip(expected) {
        assert_eq!(actual, &with_ids_of(actual, expected));
    }
}

#[test]
fn cookieless_and_denial_events_decode_without_client_ids() {
    let page = Page::default();
    let mut t = tracker(&[("consent", "required"), ("cookieless", "true")], &page);
    t.first_view(1_000, false, &page);
    t.track("search", r#"{"q":"boots"}"#, 2_000, PAGE, &page).unwrap();
    assert!(t.decide(Category::Analytics, Decision::Denied, 3_000, &page));
    t.flush(3_000, &page);
    let events = &received(&page)[0].events;
    let mut pageview = event(names::PAGEVIEW, 1_000, PAGE);
    pageview.referrer = Some("https://news.example/item?id=1".into());
    pageview.title = Some("Pricing — \"Pro\" plan".into());
    let mut search = event("search", 2_000, PAGE);
    search.props = props(&[("q", text("boots"))]);
    let mut denial = event(names::CONSENT, 3_000, PAGE);
    denial.props = props(&[("analytics", text("denied"))]);
    let expected = [pageview, search, denial];
    assert_eq!(events.len(), expected.len());
    for (actual, expected) in events.iter().zip(expected) {
        assert_eq!((&actual.session_id, &actual.visitor_id), (&None, &None), "cookieless: no client ids");
        assert_eq!(actual, &with_ids_of(actual, expected));
    }
}

#[test]
fn the_collector_s_answer_with_a_session_rule_is_read_by_the_protocol_s_type_and_old_answers_still_are() {
    let answer: waymark_protocol::BatchResponse = serde_json::from_str(
        r#"{"accepted":1,"duplicates":0,"rejected":0,"results":[],"session":{"timeout_ms":300000,"max_ms":86400000}}"#,
    )
    .unwrap();
    assert_eq!(answer.session, Some(SessionRule { timeout_ms: 300_000, max_ms: 86_400_000 }));
    let old: waymark_protocol::BatchResponse = serde_json::from_str(r#"{"accepted":1,"duplicates":0,"rejected":0,"results":[]}"#).unwrap();
    assert_eq!(old.session, None);
    assert!(!serde_json::to_string(&old).unwrap().contains("session"), "no field when there is no rule");
}
