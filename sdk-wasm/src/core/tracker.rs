//! The tracker: consent gate → session → queue, and what to do with the
//! collector's answer. Everything the SDK decides is decided here, over
//! data; the web adapter calls in with the time and the stores, and does
//! the I/O the tracker asks for.
//!
//! Consent policy at the gate:
//! - `granted`: events get the visitor, session and user ids; unsent events
//!   are persisted, so a reload resends what was not acknowledged, once it
//!   matters: when a delivery failed or the page is hidden (while the
//!   collector answers, events are acknowledged within a request and the
//!   storage is left alone);
//! - `pending`: with `cookieless`, events are sent without client ids;
//!   otherwise they are held in memory (at most [`MAX_HELD_EVENTS`]) and
//!   sent with ids on a grant or dropped on a denial;
//! - `denied`: sent without client ids with `cookieless`, else dropped.
//!
//! Nothing but the choice itself is written to storage unless granted.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use crate::core::config::Config;
use crate::core::consent::{Category, Consent, Decision};
use crate::core::event::{Draft, encode_props, Prop};
use crate::core::ids::new_event_id;
use crate::core::json::int_string;
use crate::core::page::Page;
use crate::core::queue::{QUEUE_KEY, Queue};
use crate::core::retry::{Backoff, Delivery, classify};
use crate::core::session::{Roll, Sessions};
use crate::core::storage::KeyValue;
use waymark_protocol::names;

/// Events held while consent is pending.
pub const MAX_HELD_EVENTS: usize = 100;

/// What the tracker needs from its platform.
pub trait Env {
    /// Where ids and the consent choice live (localStorage, cookie or memory).
    fn ids(&self) -> &dyn KeyValue;
    /// Where unsent events are kept across reloads, if anywhere.
    fn backlog(&self) -> Option<&dyn KeyValue>;
}

pub struct Tracker {
    pub config: Config,
    consent: Consent,
    sessions: Sessions,
    queue: Queue,
    held: Vec<Draft>,
    pub page: Page,
    backoff: Backoff,
    retry_at: Option<i64>,
    sent_once: bool,
    /// Unsent events are to be kept in storage (a delivery failed, the page
    /// was hidden, or a previous page left some).
    persist: bool,
    /// Debug output not yet printed: every event, consent decision and
    /// session roll with its reason (kept only with `debug` on).
    pub debug_lines: Vec<String>,
}

impl Tracker {
    pub fn new(config: Config, privacy_signal: bool, env: &dyn Env) -> Tracker {
        let consent = Consent::initial(env.ids(), config.consent_required, privacy_signal && config.honor_privacy_signals);
        let sessions = Sessions::new(config.session_timeout_ms, config.session_max_ms);
        let mut tracker = Tracker {
            config,
            consent,
            sessions,
            queue: Queue::default(),
            held: Vec::new(),
            page: Page::default(),
            backoff: Backoff::default(),
            retry_at: None,
            sent_once: false,
            persist: false,
            debug_lines: Vec::new(),
        };
        let decision = tracker.consent.get(Category::Analytics);
        tracker.log(&["consent analytics: ", decision.as_str(), " (", basis_text(&tracker.consent), ")"]);
        if decision == Decision::Granted
            && let Some(backlog) = env.backlog()
        {
            let restored = tracker.queue.restore(backlog);
            if restored > 0 {
                tracker.persist = true;
                tracker.log(&["resending ", &int_string(restored as i64), " events a previous page left unsent"]);
            }
        }
        tracker
    }

    fn log(&mut self, parts: &[&str]) {
        if self.config.debug {
            // A plain loop: `concat` brings a generic join into the module.
            let mut line = String::new();
            for part in parts {
                line.push_str(part);
            }
            self.debug_lines.push(line);
        }
    }

    pub fn consent(&self, category: Category) -> Decision {
        self.consent.get(category)
    }

    /// Passes an event through the consent gate.
    pub fn record(&mut self, draft: Draft, env: &dyn Env) {
        match (self.consent.get(Category::Analytics), self.config.cookieless) {
            (Decision::Granted, _) => {
                let (ids, roll) = self.sessions.touch(env.ids(), draft.ts);
                let event = draft.encode(&new_event_id(draft.ts), Some(ids));
                if roll != Roll::Continued {
                    let session = ids.session.id.clone();
                    self.log(&["new session ", &session, ": ", roll.reason()]);
                }
                self.enqueue(&draft.name, event);
            }
            (_, true) => {
                let event = draft.encode(&new_event_id(draft.ts), None);
                self.enqueue(&draft.name, event);
            }
            (Decision::Pending, false) if self.held.len() < MAX_HELD_EVENTS => {
                self.log(&["holding ", &draft.name, " until consent is decided"]);
                self.held.push(draft);
            }
            (Decision::Pending, false) => self.log(&["dropped ", &draft.name, ": too many events held while consent is pending"]),
            (Decision::Denied, false) => self.log(&["dropped ", &draft.name, ": consent denied"]),
        }
    }

    fn enqueue(&mut self, name: &str, event: String) {
        self.log(&["queued ", name, " ", &event]);
        let dropped = self.queue.push(event);
        if dropped > 0 {
            self.log(&["queue full: dropped the ", &int_string(dropped as i64), " oldest unsent events"]);
        }
    }

    /// A person's consent choice; `true` when it changed the state. The
    /// change is sent as a `$consent` event, with ids only when granted.
    pub fn decide(&mut self, category: Category, decision: Decision, now_ms: i64, url: &str, env: &dyn Env) -> bool {
        if decision == Decision::Pending || !self.consent.decide(env.ids(), category, decision) {
            return false;
        }
        self.log(&["consent ", category.as_str(), ": ", decision.as_str(), " (chosen)"]);
        let mut event = Draft::new(names::CONSENT, now_ms, url);
        event.props = encode_props(&[(category.as_str().into(), Prop::Text(decision.as_str().into()))]).unwrap_or_default();
        let held = core::mem::take(&mut self.held);
        if decision == Decision::Granted {
            for draft in held {
                self.record(draft, env);
            }
            self.record(event, env);
        } else {
            if !held.is_empty() {
                self.log(&["dropped ", &int_string(held.len() as i64), " held events: consent denied"]);
            }
            self.sessions.forget(env.ids());
            if let Some(backlog) = env.backlog() {
                backlog.remove(QUEUE_KEY);
            }
            let event = event.encode(&new_event_id(now_ms), None);
            self.enqueue(names::CONSENT, event);
        }
        true
    }

    /// `identify(userId)`: needs consent, since a user id is personal data.
    pub fn identify(&mut self, user: &str, now_ms: i64, url: &str, env: &dyn Env) {
        if self.consent.get(Category::Analytics) != Decision::Granted {
            self.log(&["identify ignored: analytics consent is not granted"]);
            return;
        }
        if self.sessions.identify(env.ids(), now_ms, user) {
            self.record(Draft::new(names::IDENTIFY, now_ms, url), env);
        }
    }

    /// `reset()` at logout: a new visitor and session, no user.
    pub fn reset(&mut self, now_ms: i64) {
        if self.consent.get(Category::Analytics) == Decision::Granted {
            self.sessions.reset(now_ms);
            self.log(&["new session: reset"]);
        }
    }

    /// The end of a turn of the event loop: storage catches up, once.
    pub fn end_turn(&mut self, env: &dyn Env) {
        if self.consent.get(Category::Analytics) != Decision::Granted {
            return;
        }
        self.sessions.end_turn(env.ids());
        if !self.persist {
            return;
        }
        if self.queue.is_empty() {
            self.persist = false;
        }
        if let Some(backlog) = env.backlog() {
            let skipped = self.queue.save(backlog);
            if skipped > 0 {
                self.log(&["persisted queue full: the ", &int_string(skipped as i64), " oldest unsent events are kept in memory only"]);
            }
        }
    }

    /// The page is being hidden, maybe for good: unsent events go to storage.
    pub fn page_hidden(&mut self) {
        self.persist = true;
    }

    /// Send now rather than at the interval: enough events wait, or this
    /// page has sent nothing yet (the landing pageview shows up live, and a
    /// bounce does not depend on the page-hide beacon alone).
    pub fn batch_is_full(&self) -> bool {
        !self.queue.is_empty() && (!self.sent_once || self.queue.len() >= self.config.flush_at_events)
    }

    pub fn has_unsent(&self) -> bool {
        !self.queue.is_empty()
    }

    /// The next request body, unless one is in flight or a retry waits.
    pub fn next_batch(&mut self, now_ms: i64) -> Option<String> {
        if self.retry_at.is_some_and(|at| now_ms < at) {
            return None;
        }
        let batch = self.queue.next_batch(&self.config.site, now_ms);
        self.sent_once |= batch.is_some();
        batch
    }

    /// Every unsent event as request bodies, for `sendBeacon` as the page
    /// is hidden; they stay queued until acknowledged.
    pub fn batches_for_page_hide(&self, now_ms: i64) -> Vec<String> {
        self.queue.all_batches(&self.config.site, now_ms)
    }

    /// The collector's answer (`None`: a network error); returns the delay
    /// before the next attempt when the batch is to be retried.
    pub fn answered(&mut self, status: Option<u16>, retry_after_ms: Option<i64>, now_ms: i64, unit: f64) -> Option<i64> {
        let status_text = status.map_or_else(|| "a network error".to_owned(), |s| int_string(s.into()));
        match classify(status) {
            Delivery::Stored => {
                let n = self.queue.settle();
                self.backoff.succeeded();
                self.retry_at = None;
                self.log(&["delivered ", &int_string(n as i64), " events"]);
                None
            }
            Delivery::Refused => {
                let n = self.queue.settle();
                self.log(&["dropped ", &int_string(n as i64), " events: the collector refused them with ", &status_text, " (not retried)"]);
                None
            }
            Delivery::Retry => {
                self.persist = true;
                self.queue.retry_later();
                let delay = self.backoff.next_delay(retry_after_ms, unit);
                self.retry_at = Some(now_ms + delay);
                self.log(&["delivery failed with ", &status_text, "; retry in ", &int_string(delay), " ms"]);
                Some(delay)
            }
        }
    }
}

fn basis_text(consent: &Consent) -> &'static str {
    use crate::core::consent::Basis;
    match consent.basis {
        Basis::Stored => "stored choice",
        Basis::PrivacySignal => "Global Privacy Control or Do Not Track",
        Basis::Required => "the site requires consent",
        Basis::NotRequired => "the site does not require consent",
        Basis::Chosen => "chosen",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::parse;
    use crate::core::consent::CONSENT_KEY;
    use crate::core::session::SESSION_KEY;
    use crate::core::storage::{CountingStore, MemoryStore};

    struct TestEnv<S: KeyValue> {
        store: S,
    }

    impl<S: KeyValue> Env for TestEnv<S> {
        fn ids(&self) -> &dyn KeyValue {
            &self.store
        }
        fn backlog(&self) -> Option<&dyn KeyValue> {
            Some(&self.store)
        }
    }

    fn config(extra: &[(&str, &str)]) -> Config {
        let mut options = vec![("site".to_owned(), "demo".to_owned()), ("debug".to_owned(), "true".to_owned())];
        options.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        parse(&options, "/api/collect").unwrap()
    }

    fn pageview(ts: i64) -> Draft {
        Draft::new(names::PAGEVIEW, ts, "https://example.com/")
    }

    fn sent(tracker: &mut Tracker, now: i64) -> String {
        let body = tracker.next_batch(now).unwrap_or_default();
        tracker.answered(Some(200), None, now, 0.5);
        body
    }

    #[test]
    fn while_consent_is_pending_only_the_consent_key_is_read_and_nothing_written() {
        let env = TestEnv { store: CountingStore::default() };
        let mut t = Tracker::new(config(&[("consent", "required")]), false, &env);
        for ts in 0..10 {
            t.record(pageview(ts), &env);
            t.end_turn(&env);
        }
        assert_eq!(env.store.counts(), (1, 0), "one read of the stored choice, no write");
        assert!(t.next_batch(100).is_none(), "held, not sent");
        assert!(t.debug_lines.iter().any(|l| l == "holding $pageview until consent is decided"));
    }

    #[test]
    fn a_grant_sends_the_held_events_with_ids_and_then_the_consent_event() {
        let env = TestEnv { store: MemoryStore::default() };
        let mut t = Tracker::new(config(&[("consent", "required")]), false, &env);
        t.record(pageview(1), &env);
        assert!(t.decide(Category::Analytics, Decision::Granted, 2, "https://example.com/", &env));
        t.end_turn(&env);
        let body = sent(&mut t, 3);
        let pageview_at = body.find("\"$pageview\"").unwrap();
        let consent_at = body.find("\"$consent\"").unwrap();
        assert!(pageview_at < consent_at);
        assert_eq!(body.matches("\"session_id\"").count(), 2);
        assert!(body.contains("\"props\":{\"analytics\":\"granted\"}"));
        assert_eq!(env.store.get(CONSENT_KEY).as_deref(), Some("analytics=granted"));
        assert!(env.store.get(SESSION_KEY).is_some());
    }

    #[test]
    fn a_denial_drops_held_events_stores_only_the_choice_and_reports_it_without_ids() {
        let env = TestEnv { store: MemoryStore::default() };
        let mut t = Tracker::new(config(&[("consent", "required")]), false, &env);
        t.record(pageview(1), &env);
        t.decide(Category::Analytics, Decision::Denied, 2, "https://example.com/", &env);
        t.record(pageview(3), &env);
        t.end_turn(&env);
        let body = sent(&mut t, 4);
        assert!(!body.contains("$pageview"));
        assert!(body.contains("\"name\":\"$consent\"") && !body.contains("session_id"));
        assert_eq!(env.store.len(), 1, "only the choice is stored");
    }

    #[test]
    fn cookieless_events_flow_without_ids_while_pending() {
        let env = TestEnv { store: CountingStore::default() };
        let mut t = Tracker::new(config(&[("consent", "required"), ("cookieless", "true")]), false, &env);
        t.record(pageview(1), &env);
        t.end_turn(&env);
        let body = sent(&mut t, 2);
        assert!(body.contains("$pageview") && !body.contains("session_id") && !body.contains("visitor_id"));
        assert_eq!(env.store.counts().1, 0);
    }

    #[test]
    fn a_privacy_signal_denies_unless_the_site_ignores_it() {
        let env = TestEnv { store: MemoryStore::default() };
        let honoured = Tracker::new(config(&[]), true, &env);
        assert_eq!(honoured.consent(Category::Analytics), Decision::Denied);
        let ignored = Tracker::new(config(&[("privacySignals", "ignore")]), true, &env);
        assert_eq!(ignored.consent(Category::Analytics), Decision::Granted);
    }

    #[test]
    fn held_events_are_bounded() {
        let env = TestEnv { store: MemoryStore::default() };
        let mut t = Tracker::new(config(&[("consent", "required")]), false, &env);
        for ts in 0..(MAX_HELD_EVENTS as i64 + 50) {
            t.record(pageview(ts), &env);
        }
        t.decide(Category::Analytics, Decision::Granted, 1_000, "https://example.com/", &env);
        let body = sent(&mut t, 1_001);
        assert_eq!(body.matches("$pageview").count(), MAX_HELD_EVENTS);
    }

    #[test]
    fn unacknowledged_events_are_resent_by_the_next_page() {
        let env = TestEnv { store: MemoryStore::default() };
        let mut first = Tracker::new(config(&[]), false, &env);
        first.record(pageview(1), &env);
        first.end_turn(&env);
        assert!(first.next_batch(2).is_some());
        assert_eq!(first.answered(None, None, 2, 0.0), Some(500), "network error: retried");
        first.end_turn(&env);
        // The page is reloaded before the retry.
        let mut second = Tracker::new(config(&[]), false, &env);
        assert!(second.debug_lines.iter().any(|l| l == "resending 1 events a previous page left unsent"));
        let body = sent(&mut second, 3);
        assert_eq!(body.matches("$pageview").count(), 1);
        second.end_turn(&env);
        assert_eq!(env.store.get(QUEUE_KEY), None);
    }

    #[test]
    fn retries_wait_for_the_backoff_and_a_refusal_is_not_retried() {
        let env = TestEnv { store: MemoryStore::default() };
        let mut t = Tracker::new(config(&[]), false, &env);
        t.record(pageview(0), &env);
        t.next_batch(0).unwrap();
        assert_eq!(t.answered(Some(503), Some(10_000), 0, 0.0), Some(10_000));
        assert!(t.next_batch(9_999).is_none(), "Retry-After honoured");
        t.next_batch(10_000).unwrap();
        assert_eq!(t.answered(Some(500), None, 10_000, 0.0), Some(1_000), "second failure: the next step");
        t.next_batch(11_000).unwrap();
        assert_eq!(t.answered(Some(400), None, 11_000, 0.0), None);
        assert!(!t.has_unsent());
        assert!(t.debug_lines.iter().any(|l| l.contains("refused them with 400 (not retried)")));
    }

    #[test]
    fn debug_output_names_the_session_roll_and_its_reason() {
        let env = TestEnv { store: MemoryStore::default() };
        let mut t = Tracker::new(config(&[]), false, &env);
        t.record(pageview(0), &env);
        t.end_turn(&env);
        t.record(pageview(31 * 60_000), &env);
        assert_eq!(t.debug_lines.iter().filter(|l| l.starts_with("new session ")).count(), 2);
        assert!(t.debug_lines.iter().any(|l| l.ends_with(": idle timeout passed")));
    }

    #[test]
    fn while_the_collector_answers_the_queue_is_not_written_to_storage() {
        let env = TestEnv { store: CountingStore::default() };
        let mut t = Tracker::new(config(&[]), false, &env);
        for ts in 0..5 {
            t.record(pageview(ts), &env);
            t.end_turn(&env);
            sent(&mut t, ts);
            t.end_turn(&env);
        }
        assert!(!env.store.keys().contains(&QUEUE_KEY.to_owned()));
        t.record(pageview(10), &env);
        t.page_hidden();
        t.end_turn(&env);
        assert!(env.store.keys().contains(&QUEUE_KEY.to_owned()), "kept when the page is hidden");
        sent(&mut t, 11);
        t.end_turn(&env);
        assert!(!env.store.keys().contains(&QUEUE_KEY.to_owned()), "and removed once acknowledged");
    }
}
