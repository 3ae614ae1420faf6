//! The tracker: consent gate → session → queue → delivery, and what to do
//! with the collector's answer. Everything the SDK decides is decided here,
//! over data: the web adapter calls in with the time and the page's facts,
//! and performs the effects the tracker asks of its [`Env`] (storage,
//! requests, the flush timer), each a named function.
//!
//! Consent policy at the gate:
//! - `granted`: events get the visitor, session and user ids; unsent events
//!   are persisted (in `localStorage` mode only: see [`StorageMode`]), so a
//!   reload resends what was not acknowledged, once it matters: when a
//!   delivery failed or the page is hidden (while the collector answers,
//!   events are acknowledged within a request and the storage is left
//!   alone);
//! - `pending`: with `cookieless`, events are sent without client ids;
//!   otherwise they are held in memory (at most [`MAX_HELD_EVENTS`]) and
//!   sent with ids on a grant or dropped on a denial;
//! - `denied`: sent without client ids with `cookieless`, else dropped.
//!
//! Nothing but the choice itself is written to storage unless granted.
//!
//! Delivery policy:
//! - at the end of each turn of the event loop storage catches up once;
//!   then the queue is sent at once if `flushAtEvents` events wait or this
//!   page has sent nothing yet (the landing pageview shows up live, and a
//!   bounce does not depend on the page-hide beacon alone), else the flush
//!   timer is armed for `flushIntervalMs` (a timer armed sooner stays);
//! - one request is in flight at a time; a failure arms the timer for the
//!   backoff's delay ([`crate::core::retry`]);
//! - as the page is hidden, its engagement is reported, storage catches up
//!   and every unsent event goes by beacon (or `fetch` with `keepalive`
//!   when the browser refuses the beacon); they stay queued until a
//!   request is acknowledged;
//! - the collector's answer may carry the site's session rule, which the
//!   client's sessions follow from then on ([`Sessions::adopt`]).

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use crate::core::config::{Config, StorageMode};
use crate::core::consent::{Category, Consent, Decision, event_props, privacy_signal};
use crate::core::event::{Draft, EventError, check_props_json, cut, one_prop};
use crate::core::ids::{Random, new_event_id, random_unit};
use crate::core::json::int_string;
use crate::core::page::{LinkKind, Page, classify_link};
use crate::core::queue::{QUEUE_KEY, Queue};
use crate::core::retry::{Backoff, Delivery, classify};
use crate::core::session::{Roll, Sessions};
use crate::core::storage::{KeyValue, NoStore};
use waymark_protocol::limits::{MAX_PROP_VALUE_BYTES, MAX_TEXT_BYTES, MAX_URL_BYTES};
use waymark_protocol::{SessionRule, check_custom_name, names};

/// Events held while consent is pending.
pub const MAX_HELD_EVENTS: usize = 100;

/// What the tracker needs from its platform: the stores it chooses from,
/// the CSPRNG, the page's facts it reads, and the effects it asks for.
/// Taken as `impl Env`, not `dyn Env`: in the browser build an indirect
/// call returning a value makes `core::fmt`'s table entries reachable,
/// which costs the module 2 KB.
pub trait Env {
    fn local_storage(&self) -> &dyn KeyValue;
    /// First-party cookies with the attributes the core decided
    /// ([`CookieAttributes::for_config`]).
    fn cookies(&self) -> &dyn KeyValue;
    fn random(&self) -> &dyn Random;
    /// `location.href`.
    fn url(&self) -> String;
    fn referrer(&self) -> String;
    fn title(&self) -> String;
    /// Posts a batch; the answer comes back through [`Tracker::answered`].
    /// `false` when the request could not start.
    fn send(&self, endpoint: &str, body: &str) -> bool;
    /// `navigator.sendBeacon`; `false` when the browser refused it.
    fn beacon(&self, endpoint: &str, body: &str) -> bool;
    /// `fetch` with `keepalive`, its answer ignored (the page is going).
    fn send_unanswered(&self, endpoint: &str, body: &str);
    /// Calls [`Tracker::timer_fired`] after `delay_ms`, replacing the
    /// timer if one is armed.
    fn arm_flush_timer(&self, delay_ms: i64);
}

/// What the page says about itself at start.
pub struct PageFacts<'a> {
    pub global_privacy_control: bool,
    /// `navigator.doNotTrack` as the browser has it (`"1"` means on).
    pub do_not_track: &'a str,
}

/// The store the ids live in, as the storage mode says.
fn id_store(mode: StorageMode, env: &impl Env) -> &dyn KeyValue {
    match mode {
        StorageMode::LocalStorage => env.local_storage(),
        StorageMode::Cookie => env.cookies(),
        StorageMode::None => &NoStore,
    }
}

/// Where unsent events are kept across reloads, if anywhere.
fn backlog(mode: StorageMode, env: &impl Env) -> Option<&dyn KeyValue> {
    mode.keeps_backlog().then(|| env.local_storage())
}

/// Adds a debug line made of `parts` (see [`Tracker::debugging`]), which
/// are only evaluated then: without `extras` (the module most pages get)
/// neither their text nor the numbers and copies they are made of are
/// built, nor is the code that builds them in the module.
macro_rules! debug_line {
    ($tracker:expr, $($part:expr),+ $(,)?) => {
        if $tracker.debugging() {
            $tracker.log(&[$($part),+]);
        }
    };
}

pub struct Tracker {
    pub config: Config,
    consent: Consent,
    sessions: Sessions,
    queue: Queue,
    held: Vec<Draft>,
    page: Page,
    backoff: Backoff,
    retry_at: Option<i64>,
    /// When the armed flush timer fires.
    timer_at: Option<i64>,
    sent_once: bool,
    /// Unsent events are to be kept in storage (a delivery failed, the page
    /// was hidden, or a previous page left some).
    persist: bool,
    /// Debug output not yet printed: every event, consent decision and
    /// session roll with its reason (kept only with `debug` on).
    pub debug_lines: Vec<String>,
}

impl Tracker {
    pub fn new(config: Config, facts: &PageFacts, env: &impl Env) -> Tracker {
        let signal = config.honor_privacy_signals && privacy_signal(facts.global_privacy_control, facts.do_not_track);
        let consent = Consent::initial(id_store(config.storage, env), config.consent_required, signal);
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
            timer_at: None,
            sent_once: false,
            persist: false,
            debug_lines: Vec::new(),
        };
        let decision = tracker.consent.get(Category::Analytics);
        debug_line!(tracker, "consent analytics: ", decision.as_str(), " (", basis_text(&tracker.consent), ")");
        if decision == Decision::Granted
            && let Some(backlog) = backlog(tracker.config.storage, env)
        {
            let restored = tracker.queue.restore(backlog);
            if restored > 0 {
                tracker.persist = true;
                debug_line!(tracker, "resending ", &int_string(restored as i64), " events a previous page left unsent");
            }
        }
        tracker
    }

    /// Whether the page should report clicks on links (to [`Tracker::link_clicked`]).
    pub fn wants_clicks(&self) -> bool {
        cfg!(feature = "extras") && (self.config.outbound_links || self.config.file_downloads)
    }

    /// Whether debug lines are kept: only the `extras` module has debug
    /// output (see Cargo.toml), and only with `debug` on.
    fn debugging(&self) -> bool {
        cfg!(feature = "extras") && self.config.debug
    }

    fn log(&mut self, parts: &[&str]) {
        // A plain loop: `concat` brings a generic join into the module.
        let mut line = String::new();
        for part in parts {
            line.push_str(part);
        }
        self.debug_lines.push(line);
    }

    pub fn consent(&self, category: Category) -> Decision {
        self.consent.get(category)
    }

    /// Passes an event through the consent gate.
    fn record(&mut self, draft: Draft, env: &impl Env) {
        match (self.consent.get(Category::Analytics), self.config.cookieless) {
            (Decision::Granted, _) => {
                let debugging = self.debugging();
                let (event, new_session) = {
                    let (ids, roll) = self.sessions.touch(id_store(self.config.storage, env), env.random(), draft.ts);
                    let event = draft.encode(&new_event_id(draft.ts, env.random()), Some(ids));
                    (event, (roll != Roll::Continued && debugging).then(|| (ids.session.id.clone(), roll)))
                };
                if let Some((session, roll)) = new_session {
                    debug_line!(self, "new session ", &session, ": ", roll.reason());
                }
                self.enqueue(&draft.name, event);
            }
            (_, true) => {
                let event = draft.encode(&new_event_id(draft.ts, env.random()), None);
                self.enqueue(&draft.name, event);
            }
            (Decision::Pending, false) if self.held.len() < MAX_HELD_EVENTS => {
                debug_line!(self, "holding ", &draft.name, " until consent is decided");
                self.held.push(draft);
            }
            (Decision::Pending, false) => debug_line!(self, "dropped ", &draft.name, ": too many events held while consent is pending"),
            (Decision::Denied, false) => debug_line!(self, "dropped ", &draft.name, ": consent denied"),
        }
    }

    fn enqueue(&mut self, name: &str, event: String) {
        debug_line!(self, "queued ", name, " ", &event);
        let dropped = self.queue.push(event);
        if dropped > 0 {
            debug_line!(self, "queue full: dropped the ", &int_string(dropped as i64), " oldest unsent events");
        }
    }

    /// The page's first view, in a task after start: visible time starts
    /// counting, and the automatic pageview is recorded.
    pub fn first_view(&mut self, now_ms: i64, hidden: bool, env: &impl Env) {
        if !hidden {
            self.page.shown(now_ms);
        }
        if self.config.auto_pageviews {
            self.pageview(now_ms, false, env);
        }
    }

    /// `page()`: a pageview of the current location, even if counted.
    pub fn page(&mut self, now_ms: i64, env: &impl Env) {
        self.pageview(now_ms, true, env);
    }

    /// Records a pageview if the location changed (or `force`); over-long
    /// referrers and titles are cut to the protocol's limits.
    fn pageview(&mut self, now_ms: i64, force: bool, env: &impl Env) {
        let url = env.url();
        if !self.page.navigated(&url, force) {
            return;
        }
        let mut draft = Draft::new(names::PAGEVIEW, now_ms, &url);
        draft.referrer = Some(cut(&env.referrer(), MAX_URL_BYTES));
        draft.title = Some(cut(&env.title(), MAX_TEXT_BYTES));
        self.record(draft, env);
    }

    /// Sends the visible time on the page being left, if any.
    fn engagement(&mut self, now_ms: i64, page_url: Option<String>, env: &impl Env) {
        let (Some(ms), Some(url)) = (self.page.take_engagement(now_ms), page_url) else { return };
        let mut draft = Draft::new(names::ENGAGEMENT, now_ms, &url);
        draft.engaged_ms = Some(ms);
        self.record(draft, env);
    }

    /// A navigation in a single-page app (`restored`: a back-forward-cache
    /// restore): the engagement of the page left, then its pageview.
    pub fn navigated(&mut self, now_ms: i64, restored: bool, env: &impl Env) {
        if !self.config.auto_pageviews || (!restored && self.page.current_url() == Some(env.url().as_str())) {
            return;
        }
        let left = self.page.current_url().map(str::to_owned);
        self.engagement(now_ms, left, env);
        self.pageview(now_ms, restored, env);
    }

    /// The page is hidden or left: report engagement, write storage, and
    /// hand every unsent event to the beacon.
    pub fn hidden(&mut self, now_ms: i64, env: &impl Env) {
        let current = self.page.current_url().map(str::to_owned);
        self.engagement(now_ms, current, env);
        self.page.hidden(now_ms);
        self.persist = true;
        self.catch_up_storage(env);
        for body in self.queue.all_batches(&self.config.site, now_ms) {
            if !env.beacon(&self.config.endpoint, &body) {
                env.send_unanswered(&self.config.endpoint, &body);
            }
        }
    }

    /// The page is visible again.
    pub fn shown(&mut self, now_ms: i64) {
        self.page.shown(now_ms);
    }

    /// A click on a link to `href` (absolute): an `$outbound` or
    /// `$download` event if the site asked for those.
    pub fn link_clicked(&mut self, now_ms: i64, href: &str, env: &impl Env) {
        // Only the `extras` module listens for clicks (see Cargo.toml).
        if !cfg!(feature = "extras") {
            return;
        }
        let page_url = env.url();
        let Some(kind) = classify_link(href, &page_url, self.config.outbound_links, self.config.file_downloads) else { return };
        let name = match kind {
            LinkKind::Outbound => names::OUTBOUND_CLICK,
            LinkKind::Download => names::FILE_DOWNLOAD,
        };
        let mut draft = Draft::new(name, now_ms, &page_url);
        draft.props = one_prop("url", &cut(href, MAX_PROP_VALUE_BYTES));
        self.record(draft, env);
    }

    /// A custom event, `track(name, props)`, at the time and page it was
    /// called; `props` is what `JSON.stringify` made of the properties
    /// (empty for none). `Err` is the console message for a refused call.
    pub fn track(&mut self, name: &str, props: &str, ts: i64, url: &str, env: &impl Env) -> Result<(), String> {
        let checked = check_custom_name(name)
            .map_err(EventError::from)
            .and_then(|()| if props.is_empty() { Ok(String::new()) } else { check_props_json(props) })
            .and_then(|props| {
                let mut draft = Draft::new(name, ts, url);
                draft.props = props;
                draft.check_size().map(|()| draft)
            });
        match checked {
            Ok(draft) => {
                self.record(draft, env);
                Ok(())
            }
            Err(err) => {
                let mut message = String::from("track(\"");
                message.push_str(name);
                message.push_str("\") ignored: ");
                message.push_str(&err.message());
                Err(message)
            }
        }
    }

    /// A person's consent choice; `true` when it changed the state. The
    /// change is sent as a `$consent` event with the banner's version: a
    /// grant with the ids; a denial of what was granted with the ids it
    /// withdraws, which are forgotten then, so the consent log says which
    /// visitor withdrew; any other denial without ids (the collector's
    /// daily key stands for the visitor).
    pub fn decide(&mut self, category: Category, decision: Decision, now_ms: i64, env: &impl Env) -> bool {
        let withdrawn = self.consent.get(category) == Decision::Granted;
        if decision == Decision::Pending || !self.consent.decide(id_store(self.config.storage, env), category, decision) {
            return false;
        }
        debug_line!(self, "consent ", category.as_str(), ": ", decision.as_str(), " (chosen)");
        let mut event = Draft::new(names::CONSENT, now_ms, &env.url());
        event.props = event_props(category, decision, self.config.consent_version.as_deref());
        let held = core::mem::take(&mut self.held);
        if decision == Decision::Granted {
            for draft in held {
                self.record(draft, env);
            }
            self.record(event, env);
        } else {
            if !held.is_empty() {
                debug_line!(self, "dropped ", &int_string(held.len() as i64), " held events: consent denied");
            }
            let id = new_event_id(now_ms, env.random());
            let store = id_store(self.config.storage, env);
            let event = event.encode(&id, withdrawn.then(|| self.sessions.touch(store, env.random(), now_ms).0));
            self.sessions.forget(store);
            if let Some(backlog) = backlog(self.config.storage, env) {
                backlog.remove(QUEUE_KEY);
            }
            self.enqueue(names::CONSENT, event);
        }
        true
    }

    /// `identify(userId)`: needs consent, since a user id is personal data.
    /// `Err` is the console message for an unusable id.
    pub fn identify(&mut self, user: &str, now_ms: i64, env: &impl Env) -> Result<(), String> {
        if user.is_empty() || user.len() > MAX_TEXT_BYTES {
            let mut message = String::from("identify() needs a user id: a non-empty string of at most ");
            message.push_str(&int_string(MAX_TEXT_BYTES as i64));
            message.push_str(" bytes");
            return Err(message);
        }
        if self.consent.get(Category::Analytics) != Decision::Granted {
            debug_line!(self, "identify ignored: analytics consent is not granted");
            return Ok(());
        }
        if self.sessions.identify(id_store(self.config.storage, env), env.random(), now_ms, user) {
            self.record(Draft::new(names::IDENTIFY, now_ms, &env.url()), env);
        }
        Ok(())
    }

    /// `reset()` at logout: a new visitor and session, no user.
    pub fn reset(&mut self, now_ms: i64, env: &impl Env) {
        if self.consent.get(Category::Analytics) == Decision::Granted {
            self.sessions.reset(env.random(), now_ms);
            debug_line!(self, "new session: reset");
        }
    }

    /// Storage catches up with memory, once: ids, the site's session rule
    /// and (when it matters) the unsent events. Only with consent.
    fn catch_up_storage(&mut self, env: &impl Env) {
        if self.consent.get(Category::Analytics) != Decision::Granted {
            return;
        }
        self.sessions.end_turn(id_store(self.config.storage, env));
        if !self.persist {
            return;
        }
        if self.queue.is_empty() {
            self.persist = false;
        }
        if let Some(backlog) = backlog(self.config.storage, env) {
            let skipped = self.queue.save(backlog);
            if skipped > 0 {
                debug_line!(self, "persisted queue full: the ", &int_string(skipped as i64), " oldest unsent events are kept in memory only");
            }
        }
    }

    /// The end of a turn of the event loop: storage catches up, then the
    /// queue is sent if it is full, or the flush timer armed.
    pub fn end_turn(&mut self, now_ms: i64, env: &impl Env) {
        self.catch_up_storage(env);
        if self.batch_is_full() {
            self.send_next(now_ms, env);
        } else if !self.queue.is_empty() {
            self.arm_timer(now_ms, self.config.flush_interval_ms, env);
        }
    }

    /// `flush()`: send what is queued now rather than at the interval.
    pub fn flush(&mut self, now_ms: i64, env: &impl Env) {
        self.send_next(now_ms, env);
    }

    /// The flush timer fired.
    pub fn timer_fired(&mut self, now_ms: i64, env: &impl Env) {
        self.timer_at = None;
        self.send_next(now_ms, env);
    }

    /// Arms the flush timer for `delay_ms`, never before a retry may go
    /// (so the interval cannot fire uselessly inside a backoff and leave
    /// the retry without a timer), and only if that is sooner than the
    /// timer armed.
    fn arm_timer(&mut self, now_ms: i64, delay_ms: i64, env: &impl Env) {
        let at = (now_ms + delay_ms).max(self.retry_at.unwrap_or(i64::MIN));
        if self.timer_at.is_some_and(|armed_at| armed_at <= at) {
            return;
        }
        env.arm_flush_timer(at - now_ms);
        self.timer_at = Some(at);
    }

    fn send_next(&mut self, now_ms: i64, env: &impl Env) {
        let Some(body) = self.next_batch(now_ms) else { return };
        if !env.send(&self.config.endpoint, &body) {
            self.answered(None, None, None, "", now_ms, env);
        }
    }

    /// Send now rather than at the interval: enough events wait, or this
    /// page has sent nothing yet.
    fn batch_is_full(&self) -> bool {
        !self.queue.is_empty() && (!self.sent_once || self.queue.len() >= self.config.flush_at_events)
    }

    /// The next request body, unless one is in flight or a retry waits.
    fn next_batch(&mut self, now_ms: i64) -> Option<String> {
        if self.retry_at.is_some_and(|at| now_ms < at) {
            return None;
        }
        let batch = self.queue.next_batch(&self.config.site, now_ms);
        self.sent_once |= batch.is_some();
        batch
    }

    /// The collector's answer to the request in flight: its status (`None`:
    /// a network error), `Retry-After`, the site's session rule, if any,
    /// and the ids its id cookie restored, as `visitor session` (empty when
    /// none). The batch is settled, or retried after the backoff's delay.
    pub fn answered(&mut self, status: Option<u16>, retry_after_ms: Option<i64>, rule: Option<SessionRule>, ids: &str, now_ms: i64, env: &impl Env) {
        if rule.is_some_and(|rule| self.sessions.adopt(rule)) {
            debug_line!(self, "session rule: the site's");
        }
        let status_text = || status.map_or_else(|| "a network error".to_owned(), |s| int_string(s.into()));
        match classify(status) {
            Delivery::Stored => {
                self.sessions.confirm(ids);
                let n = self.queue.settle();
                self.backoff.succeeded();
                self.retry_at = None;
                debug_line!(self, "delivered ", &int_string(n as i64), " events");
            }
            Delivery::Refused => {
                let n = self.queue.settle();
                debug_line!(self, "dropped ", &int_string(n as i64), " events: the collector refused them with ", &status_text(), " (not retried)");
            }
            Delivery::Retry => {
                self.persist = true;
                self.queue.retry_later();
                let delay = self.backoff.next_delay(retry_after_ms, random_unit(env.random()));
                self.retry_at = Some(now_ms + delay);
                debug_line!(self, "delivery failed with ", &status_text(), "; retry in ", &int_string(delay), " ms");
                self.arm_timer(now_ms, delay, env);
                return;
            }
        }
        if !self.queue.is_empty() {
            self.arm_timer(now_ms, self.config.flush_interval_ms, env);
        }
    }

    /// The events of an answered batch the collector rejected, one
    /// `id: message` a line (reported in debug mode: the rest was stored).
    pub fn rejected(&mut self, lines: &str) {
        if !lines.is_empty() {
            debug_line!(self, "the collector rejected events (id: reason):\n", lines);
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
    use core::cell::{Cell, RefCell};

    use crate::core::config::parse;
    use crate::core::consent::CONSENT_KEY;
    use crate::core::ids::FakeRandom;
    use crate::core::session::SESSION_KEY;
    use waymark_protocol::limits::MINUTE_MS;
    use crate::core::storage::{CookieAttributes, CookieStore, CountingStore, FakeJar};

    /// A page: its stores, a fixed CSPRNG, and a record of every effect.
    struct TestEnv {
        local: CountingStore,
        jar: CookieStore<FakeJar>,
        random: FakeRandom,
        sent: RefCell<Vec<String>>,
        beacons: RefCell<Vec<String>>,
        unanswered: RefCell<Vec<String>>,
        timers: RefCell<Vec<i64>>,
        beacon_refused: Cell<bool>,
    }

    impl Default for TestEnv {
        fn default() -> TestEnv {
            TestEnv {
                local: CountingStore::default(),
                jar: CookieStore { jar: FakeJar::default(), attributes: CookieAttributes::new(None, 365, false) },
                random: FakeRandom::default(),
                sent: RefCell::default(),
                beacons: RefCell::default(),
                unanswered: RefCell::default(),
                timers: RefCell::default(),
                beacon_refused: Cell::default(),
            }
        }
    }

    impl Env for TestEnv {
        fn local_storage(&self) -> &dyn KeyValue {
            &self.local
        }
        fn cookies(&self) -> &dyn KeyValue {
            &self.jar
        }
        fn random(&self) -> &dyn Random {
            &self.random
        }
        fn url(&self) -> String {
            "https://example.com/".into()
        }
        fn referrer(&self) -> String {
            String::new()
        }
        fn title(&self) -> String {
            "Home".into()
        }
        fn send(&self, _: &str, body: &str) -> bool {
            self.sent.borrow_mut().push(body.into());
            true
        }
        fn beacon(&self, _: &str, body: &str) -> bool {
            self.beacons.borrow_mut().push(body.into());
            !self.beacon_refused.get()
        }
        fn send_unanswered(&self, _: &str, body: &str) {
            self.unanswered.borrow_mut().push(body.into());
        }
        fn arm_flush_timer(&self, delay_ms: i64) {
            self.timers.borrow_mut().push(delay_ms);
        }
    }

    const NO_SIGNAL: PageFacts = PageFacts { global_privacy_control: false, do_not_track: "unspecified" };

    fn config(extra: &[(&str, &str)]) -> Config {
        let mut options = vec![("site".to_owned(), "demo".to_owned()), ("debug".to_owned(), "true".to_owned())];
        options.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        parse(&options, "/api/collect").unwrap()
    }

    fn tracker(extra: &[(&str, &str)], env: &TestEnv) -> Tracker {
        Tracker::new(config(extra), &NO_SIGNAL, env)
    }

    fn track(t: &mut Tracker, name: &str, ts: i64, env: &TestEnv) {
        t.track(name, "", ts, "https://example.com/", env).unwrap();
    }

    /// The next request as the page would send it, answered 200.
    fn sent(t: &mut Tracker, now: i64, env: &TestEnv) -> String {
        let body = t.next_batch(now).unwrap_or_default();
        t.answered(Some(200), None, None, "", now, env);
        body
    }

    #[test]
    fn while_consent_is_pending_only_the_consent_key_is_read_and_nothing_written() {
        let env = TestEnv::default();
        let mut t = tracker(&[("consent", "required")], &env);
        for ts in 0..10 {
            track(&mut t, "early", ts, &env);
            t.end_turn(ts, &env);
        }
        assert_eq!(env.local.counts(), (1, 0), "one read of the stored choice, no write");
        assert!(env.sent.borrow().is_empty(), "held, not sent");
        assert!(t.debug_lines.iter().any(|l| l == "holding early until consent is decided"));
    }

    #[test]
    fn a_grant_sends_the_held_events_with_ids_and_then_the_consent_event() {
        let env = TestEnv::default();
        let mut t = tracker(&[("consent", "required")], &env);
        t.first_view(1, false, &env);
        assert!(t.decide(Category::Analytics, Decision::Granted, 2, &env));
        t.end_turn(2, &env);
        let body = env.sent.borrow()[0].clone();
        let pageview_at = body.find("\"$pageview\"").unwrap();
        let consent_at = body.find("\"$consent\"").unwrap();
        assert!(pageview_at < consent_at);
        assert_eq!(body.matches("\"session_id\"").count(), 2);
        assert!(body.contains("\"props\":{\"analytics\":\"granted\"}"));
        assert_eq!(env.local.get(CONSENT_KEY).as_deref(), Some("analytics=granted"));
        assert!(env.local.get(SESSION_KEY).is_some());
    }

    #[test]
    fn a_denial_drops_held_events_stores_only_the_choice_and_reports_it_without_ids() {
        let env = TestEnv::default();
        let mut t = tracker(&[("consent", "required")], &env);
        t.first_view(1, false, &env);
        t.decide(Category::Analytics, Decision::Denied, 2, &env);
        track(&mut t, "after_denial", 3, &env);
        t.end_turn(3, &env);
        let body = env.sent.borrow()[0].clone();
        assert!(!body.contains("$pageview") && !body.contains("after_denial"));
        assert!(body.contains("\"name\":\"$consent\"") && !body.contains("session_id"));
        assert_eq!(env.local.keys(), [CONSENT_KEY], "only the choice is stored");
    }

    #[test]
    fn every_consent_decision_carries_the_banners_version() {
        let env = TestEnv::default();
        let mut t = tracker(&[("consent", "required"), ("consentVersion", "v2")], &env);
        t.decide(Category::Analytics, Decision::Denied, 1, &env);
        t.decide(Category::Analytics, Decision::Granted, 2, &env);
        let body = sent(&mut t, 3, &env);
        assert!(body.contains(r#""props":{"analytics":"denied","version":"v2"}"#), "{body}");
        assert!(body.contains(r#""props":{"analytics":"granted","version":"v2"}"#), "{body}");
    }

    #[test]
    fn withdrawing_a_grant_is_reported_with_the_ids_it_withdraws_which_are_then_forgotten() {
        let env = TestEnv::default();
        let mut t = tracker(&[("consent", "required")], &env);
        t.decide(Category::Analytics, Decision::Granted, 1, &env);
        let grant = sent(&mut t, 1, &env);
        t.end_turn(1, &env);
        let visitor = env.local.get(crate::core::session::VISITOR_KEY).unwrap();
        assert!(grant.contains(&visitor));
        t.decide(Category::Analytics, Decision::Denied, 2, &env);
        let denial = sent(&mut t, 2, &env);
        t.end_turn(2, &env);
        assert!(denial.contains(r#""analytics":"denied""#) && denial.contains(&visitor) && denial.contains("session_id"), "{denial}");
        assert_eq!(env.local.keys(), [CONSENT_KEY], "the ids are gone");
        // The next denial has no ids to report.
        t.decide(Category::Analytics, Decision::Granted, 4, &env);
        t.decide(Category::Analytics, Decision::Denied, 5, &env);
        let body = sent(&mut t, 6, &env);
        assert!(!body.contains(&visitor), "a new grant is a new visitor: {body}");
    }

    #[test]
    fn cookieless_events_flow_without_ids_while_pending() {
        let env = TestEnv::default();
        let mut t = tracker(&[("consent", "required"), ("cookieless", "true")], &env);
        t.first_view(1, false, &env);
        t.end_turn(1, &env);
        let body = env.sent.borrow()[0].clone();
        assert!(body.contains("$pageview") && !body.contains("session_id") && !body.contains("visitor_id"));
        assert_eq!(env.local.counts().1, 0);
    }

    #[test]
    fn a_privacy_signal_denies_unless_the_site_ignores_it() {
        let env = TestEnv::default();
        for facts in [PageFacts { global_privacy_control: true, ..NO_SIGNAL }, PageFacts { do_not_track: "1", ..NO_SIGNAL }] {
            assert_eq!(Tracker::new(config(&[]), &facts, &env).consent(Category::Analytics), Decision::Denied);
            let ignored = Tracker::new(config(&[("privacySignals", "ignore")]), &facts, &env);
            assert_eq!(ignored.consent(Category::Analytics), Decision::Granted);
        }
    }

    #[test]
    fn held_events_are_bounded() {
        let env = TestEnv::default();
        let mut t = tracker(&[("consent", "required")], &env);
        for ts in 0..(MAX_HELD_EVENTS as i64 + 50) {
            track(&mut t, "early", ts, &env);
        }
        t.decide(Category::Analytics, Decision::Granted, 1_000, &env);
        let body = sent(&mut t, 1_001, &env);
        assert_eq!(body.matches("\"early\"").count(), MAX_HELD_EVENTS);
    }

    #[test]
    fn unacknowledged_events_are_resent_by_the_next_page() {
        let env = TestEnv::default();
        let mut first = tracker(&[], &env);
        track(&mut first, "unsent", 1, &env);
        first.end_turn(1, &env);
        assert_eq!(env.sent.borrow().len(), 1);
        first.answered(None, None, None, "", 2, &env);
        let delay = env.timers.borrow()[0];
        assert!((500..1_000).contains(&delay), "network error: retried after the first backoff step, {delay} ms");
        first.end_turn(2, &env);
        // The page is reloaded before the retry.
        let mut second = tracker(&[], &env);
        assert!(second.debug_lines.iter().any(|l| l == "resending 1 events a previous page left unsent"));
        let body = sent(&mut second, 3, &env);
        assert_eq!(body.matches("\"unsent\"").count(), 1);
        second.end_turn(3, &env);
        assert_eq!(env.local.get(QUEUE_KEY), None);
    }

    #[test]
    fn retries_wait_for_the_backoff_and_a_refusal_is_not_retried() {
        let env = TestEnv::default();
        let mut t = tracker(&[], &env);
        track(&mut t, "x", 0, &env);
        t.next_batch(0).unwrap();
        t.answered(Some(503), Some(10_000), None, "", 0, &env);
        assert_eq!(env.timers.borrow().last(), Some(&10_000), "Retry-After honoured");
        assert!(t.next_batch(9_999).is_none());
        t.timer_fired(10_000, &env);
        assert_eq!(env.sent.borrow().len(), 1, "sent when the timer fired");
        t.answered(Some(500), None, None, "", 10_000, &env);
        let delay = *env.timers.borrow().last().unwrap();
        assert!((1_000..2_000).contains(&delay), "second failure: the next step, {delay} ms");
        t.timer_fired(10_000 + delay, &env);
        assert_eq!(env.sent.borrow().len(), 2);
        t.answered(Some(400), None, None, "", 10_000 + delay, &env);
        assert!(t.queue.is_empty());
        assert!(t.debug_lines.iter().any(|l| l.contains("refused them with 400 (not retried)")));
    }

    #[test]
    fn the_first_events_of_a_page_go_at_once_and_later_ones_at_the_flush_interval() {
        let env = TestEnv::default();
        let mut t = tracker(&[("flushAtEvents", "3")], &env);
        t.first_view(0, false, &env);
        t.end_turn(0, &env);
        assert_eq!(env.sent.borrow().len(), 1, "the landing pageview at once");
        t.answered(Some(200), None, None, "", 10, &env);
        track(&mut t, "a", 20, &env);
        t.end_turn(20, &env);
        track(&mut t, "b", 30, &env);
        t.end_turn(30, &env);
        assert_eq!(env.sent.borrow().len(), 1);
        assert_eq!(*env.timers.borrow(), [5_000], "one timer for the interval, not re-armed later");
        track(&mut t, "c", 40, &env);
        t.end_turn(40, &env);
        assert_eq!(env.sent.borrow().len(), 2, "three waiting: sent without the timer");
    }

    #[test]
    fn the_flush_interval_does_not_cut_a_retry_s_wait_short() {
        let env = TestEnv::default();
        let mut t = tracker(&[], &env);
        track(&mut t, "x", 0, &env);
        t.end_turn(0, &env);
        t.answered(Some(503), Some(120_000), None, "", 10, &env);
        t.end_turn(10, &env);
        assert_eq!(*env.timers.borrow(), [120_000], "one timer, for the retry: the 5 s interval would fire inside the wait");
        t.timer_fired(120_010, &env);
        assert_eq!(env.sent.borrow().len(), 2, "retried when the collector asked");
    }

    #[test]
    fn a_hidden_page_beacons_every_unsent_event_and_falls_back_to_keepalive() {
        let env = TestEnv::default();
        let mut t = tracker(&[], &env);
        t.first_view(0, false, &env);
        t.end_turn(0, &env);
        track(&mut t, "before_hide", 1_000, &env);
        env.beacon_refused.set(true);
        t.hidden(2_000, &env);
        let beacon = env.beacons.borrow()[0].clone();
        assert!(beacon.contains("before_hide") && beacon.contains("$engagement"));
        assert_eq!(*env.unanswered.borrow(), [beacon], "refused beacon: fetch with keepalive");
        assert!(env.local.get(QUEUE_KEY).is_some(), "kept for the next page until acknowledged");
    }

    #[test]
    fn in_cookie_mode_nothing_is_written_to_local_storage() {
        let env = TestEnv::default();
        let mut t = tracker(&[("consent", "required"), ("storage", "cookie")], &env);
        t.first_view(0, false, &env);
        t.decide(Category::Analytics, Decision::Granted, 1, &env);
        track(&mut t, "x", 2, &env);
        t.end_turn(2, &env);
        t.answered(None, None, None, "", 3, &env);
        t.hidden(4, &env);
        t.end_turn(4, &env);
        assert_eq!(env.local.counts().1, 0, "no localStorage write, not even the unsent queue");
        let names: Vec<String> = env.jar.jar.lines.borrow().iter().map(|(n, _, _)| n.clone()).collect();
        assert!(names.contains(&"waymark_session".to_owned()) && names.contains(&"waymark_consent".to_owned()));
        assert!(env.jar.jar.lines.borrow().iter().all(|(_, _, a)| a.contains("SameSite=Lax")));
    }

    #[test]
    fn in_mode_none_the_ids_live_in_the_tracker_s_memory_only() {
        let env = TestEnv::default();
        let mut t = tracker(&[("storage", "none")], &env);
        t.first_view(0, false, &env);
        t.end_turn(0, &env);
        t.answered(Some(200), None, None, "", 1, &env);
        track(&mut t, "later", 2, &env);
        t.hidden(3, &env);
        assert_eq!(env.local.counts(), (0, 0));
        assert!(env.jar.jar.lines.borrow().is_empty());
        let session = |body: &str| body.split("\"session_id\":\"").nth(1).map(|s| s[..36].to_owned());
        let beacon = env.beacons.borrow()[0].clone();
        assert_eq!(session(&beacon), session(&env.sent.borrow()[0]), "one session for the page");
    }

    #[test]
    fn the_site_s_session_rule_from_an_answer_governs_the_client_session() {
        let env = TestEnv::default();
        let mut t = tracker(&[], &env);
        track(&mut t, "first", 0, &env);
        t.end_turn(0, &env);
        let rule = SessionRule { timeout_ms: 5 * MINUTE_MS, max_ms: 60 * MINUTE_MS };
        t.answered(Some(200), None, Some(rule), "", 10, &env);
        track(&mut t, "after_6_idle", 6 * MINUTE_MS, &env);
        t.end_turn(6 * MINUTE_MS, &env);
        assert!(t.debug_lines.iter().any(|l| l.ends_with(": idle timeout passed")), "{:?}", t.debug_lines);
        assert!(env.local.get(SESSION_KEY).unwrap().ends_with(".300000.3600000"), "kept with the session");
        let mut next_page = tracker(&[], &env);
        track(&mut next_page, "next_page", 7 * MINUTE_MS, &env);
        assert_eq!(next_page.sessions.rule(), rule);
    }

    #[test]
    fn ids_the_collector_s_cookie_kept_replace_the_ones_a_cleared_page_made() {
        let env = TestEnv::default();
        let mut t = tracker(&[], &env);
        track(&mut t, "first", 0, &env);
        t.end_turn(0, &env);
        assert!(env.sent.borrow()[0].contains(r#""new_ids":true"#), "made here: the collector may know better");
        let (visitor, session) = ("11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222");
        t.answered(Some(200), None, None, &format!("{visitor} {session}"), 10, &env);
        t.end_turn(10, &env);
        assert_eq!(env.local.get(crate::core::session::VISITOR_KEY).as_deref(), Some(visitor));
        assert!(env.local.get(SESSION_KEY).unwrap().starts_with(session));
        track(&mut t, "second", 20, &env);
        t.flush(20, &env);
        let second = env.sent.borrow()[1].clone();
        assert!(second.contains(visitor) && second.contains(session) && !second.contains("new_ids"), "{second}");

        // Once confirmed, a later answer naming other ids changes nothing.
        t.answered(Some(200), None, None, "33333333-3333-4333-8333-333333333333", 30, &env);
        t.end_turn(30, &env);
        assert_eq!(env.local.get(crate::core::session::VISITOR_KEY).as_deref(), Some(visitor));
    }

    #[test]
    fn a_plain_answer_confirms_the_page_s_own_ids_and_reset_ids_are_never_new() {
        let env = TestEnv::default();
        let mut t = tracker(&[], &env);
        track(&mut t, "first", 0, &env);
        t.end_turn(0, &env);
        t.answered(Some(200), None, None, "", 10, &env);
        track(&mut t, "second", 20, &env);
        t.flush(20, &env);
        assert!(!env.sent.borrow()[1].contains("new_ids"));
        t.answered(Some(200), None, None, "", 30, &env);
        t.reset(40, &env);
        track(&mut t, "after_reset", 50, &env);
        t.flush(50, &env);
        let last = env.sent.borrow().last().unwrap().clone();
        assert!(last.contains("after_reset") && !last.contains("new_ids"), "{last}");
    }

    #[test]
    fn without_consent_the_site_s_session_rule_stays_in_memory() {
        let env = TestEnv::default();
        let mut t = tracker(&[("consent", "required"), ("cookieless", "true")], &env);
        t.first_view(0, false, &env);
        t.end_turn(0, &env);
        t.answered(Some(200), None, Some(SessionRule { timeout_ms: 5 * MINUTE_MS, max_ms: 60 * MINUTE_MS }), "", 10, &env);
        t.end_turn(10, &env);
        assert_eq!(env.local.counts().1, 0);
        assert_eq!(t.sessions.rule().timeout_ms, 5 * MINUTE_MS);
        t.decide(Category::Analytics, Decision::Granted, 20, &env);
        t.end_turn(20, &env);
        assert!(env.local.get(SESSION_KEY).unwrap().ends_with(".300000.3600000"), "stored once consent allows it");
    }

    #[test]
    fn debug_output_names_the_session_roll_and_its_reason() {
        let env = TestEnv::default();
        let mut t = tracker(&[], &env);
        track(&mut t, "a", 0, &env);
        t.end_turn(0, &env);
        track(&mut t, "b", 31 * 60_000, &env);
        assert_eq!(t.debug_lines.iter().filter(|l| l.starts_with("new session ")).count(), 2);
        assert!(t.debug_lines.iter().any(|l| l.ends_with(": idle timeout passed")));
    }

    #[test]
    fn a_refused_track_call_says_why_with_the_protocol_s_message() {
        let env = TestEnv::default();
        let mut t = tracker(&[], &env);
        let err = t.track("$pageview", "", 0, "https://example.com/", &env).unwrap_err();
        assert!(err.starts_with("track(\"$pageview\") ignored: `name` \"$pageview\" starts with `$`, which is reserved"), "{err}");
        assert!(t.identify("", 0, &env).unwrap_err().ends_with("at most 1000 bytes"));
    }

    #[test]
    fn while_the_collector_answers_the_queue_is_not_written_to_storage() {
        let env = TestEnv::default();
        let mut t = tracker(&[], &env);
        for ts in 0..5 {
            track(&mut t, "x", ts, &env);
            t.end_turn(ts, &env);
            sent(&mut t, ts, &env);
            t.end_turn(ts, &env);
        }
        assert!(!env.local.keys().contains(&QUEUE_KEY.to_owned()));
        track(&mut t, "y", 10, &env);
        t.hidden(10, &env);
        assert!(env.local.keys().contains(&QUEUE_KEY.to_owned()), "kept when the page is hidden");
        sent(&mut t, 11, &env);
        t.end_turn(11, &env);
        assert!(!env.local.keys().contains(&QUEUE_KEY.to_owned()), "and removed once acknowledged");
    }

    #[test]
    fn links_are_reported_as_the_site_asked() {
        let env = TestEnv::default();
        let mut t = tracker(&[("outboundLinks", "true")], &env);
        assert!(t.wants_clicks());
        t.link_clicked(0, "https://other.example/", &env);
        t.link_clicked(1, "https://example.com/a.pdf", &env);
        t.end_turn(1, &env);
        let body = env.sent.borrow()[0].clone();
        assert!(body.contains(r#""name":"$outbound""#) && body.contains(r#""props":{"url":"https://other.example/"}"#));
        assert!(!body.contains("$download"), "downloads are not switched on");
        assert!(!tracker(&[], &env).wants_clicks());
    }
}
