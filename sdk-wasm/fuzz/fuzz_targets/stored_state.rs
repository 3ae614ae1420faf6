//! What the SDK finds in `localStorage` or its cookies when a page loads:
//! anything a user, an extension or another script on the origin left
//! there. The input is the stored values (session, visitor, user, consent,
//! queue, separated by 0x1E) up to a NUL byte, then, read by `arbitrary`,
//! the tracker's setup and a sequence of calls and answers over them. The
//! tracker must start, track, flush and answer without a panic: in the
//! browser a panic is a trap, and the SDK stops for the page.
#![no_main]

use std::cell::{Cell, RefCell};

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use waymark_protocol::SessionRule;
use waymark_sdk::core::config::parse;
use waymark_sdk::core::consent::{CONSENT_KEY, Category, Decision};
use waymark_sdk::core::ids::Random;
use waymark_sdk::core::queue::QUEUE_KEY;
use waymark_sdk::core::session::{SESSION_KEY, USER_KEY, VISITOR_KEY};
use waymark_sdk::core::storage::{CookieAttributes, CookieStore, Cookies, KeyValue, cookie_name};
use waymark_sdk::core::tracker::{Env, PageFacts, Tracker};

const KEYS: [&str; 5] = [SESSION_KEY, VISITOR_KEY, USER_KEY, CONSENT_KEY, QUEUE_KEY];
const START_MS: i64 = 1_764_072_000_000;

#[derive(Default)]
struct Memory(RefCell<Vec<(String, String)>>);

impl KeyValue for Memory {
    fn get(&self, key: &str) -> Option<String> {
        self.0.borrow().iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }
    fn set(&self, key: &str, value: &str) {
        self.remove(key);
        self.0.borrow_mut().push((key.to_owned(), value.to_owned()));
    }
    fn remove(&self, key: &str) {
        self.0.borrow_mut().retain(|(k, _)| k != key);
    }
}

impl Cookies for Memory {
    fn read(&self, name: &str) -> Option<String> {
        self.get(name)
    }
    fn write(&self, name: &str, value: &str, attributes: &str) {
        if attributes.contains("Max-Age=0") { self.remove(name) } else { self.set(name, value) }
    }
}

/// Random bytes from a counter: reproducible, never the same twice.
#[derive(Default)]
struct Counter(Cell<u64>);

impl Random for Counter {
    fn fill(&self, out: &mut [u8]) {
        for byte in out {
            let n = self.0.get().wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            self.0.set(n);
            *byte = (n >> 33) as u8;
        }
    }
}

struct Page {
    local: Memory,
    cookies: CookieStore<Memory>,
    random: Counter,
    url: String,
}

impl Env for Page {
    fn local_storage(&self) -> &dyn KeyValue {
        &self.local
    }
    fn cookies(&self) -> &dyn KeyValue {
        &self.cookies
    }
    fn random(&self) -> &dyn Random {
        &self.random
    }
    fn url(&self) -> String {
        self.url.clone()
    }
    fn referrer(&self) -> String {
        "https://news.example/".into()
    }
    fn title(&self) -> String {
        "Shop".into()
    }
    fn send(&self, _: &str, _: &str) -> bool {
        true
    }
    fn beacon(&self, _: &str, _: &str) -> bool {
        true
    }
    fn send_unanswered(&self, _: &str, _: &str) {}
    fn arm_flush_timer(&self, _: i64) {}
}

#[derive(Arbitrary, Debug)]
struct Setup {
    storage: u8,
    consent_required: bool,
    cookieless: bool,
    debug: bool,
    hidden: bool,
}

#[derive(Arbitrary, Debug)]
enum Call {
    Wait(u32),
    Track(String, String),
    Page,
    Navigated(bool),
    Hidden,
    Shown,
    Link(String),
    Grant,
    Deny,
    Identify(String),
    Reset,
    EndTurn,
    Flush,
    Timer,
    Answered { status: Option<u16>, retry_after_ms: Option<i64>, rule: Option<(i64, i64)>, ids: String },
    Rejected(String),
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let stored = String::from_utf8_lossy(&data[..split]);
    let mut u = Unstructured::new(data.get(split + 1..).unwrap_or_default());
    let Ok(setup) = Setup::arbitrary(&mut u) else { return };

    let page = Page {
        local: Memory::default(),
        cookies: CookieStore { jar: Memory::default(), attributes: CookieAttributes::new(None, 365, true) },
        random: Counter::default(),
        url: "https://shop.example/pricing".into(),
    };
    for (key, value) in KEYS.iter().zip(stored.split('\u{1e}')) {
        page.local.set(key, value);
        page.cookies.jar.set(&cookie_name(key), value);
    }
    let storage = ["localStorage", "cookie", "none"][usize::from(setup.storage) % 3];
    let flag = |on: bool| if on { "true" } else { "false" }.to_owned();
    let options = [
        ("site".to_owned(), "shop".to_owned()),
        ("storage".to_owned(), storage.to_owned()),
        ("consent".to_owned(), if setup.consent_required { "required" } else { "granted" }.to_owned()),
        ("cookieless".to_owned(), flag(setup.cookieless)),
        ("debug".to_owned(), flag(setup.debug)),
        ("outboundLinks".to_owned(), "true".to_owned()),
        ("fileDownloads".to_owned(), "true".to_owned()),
    ];
    let config = parse(&options, "https://stats.example/api/collect").expect("the options are valid");
    let facts = PageFacts { global_privacy_control: false, do_not_track: "" };

    let mut now = START_MS;
    let mut tracker = Tracker::new(config, &facts, &page);
    tracker.first_view(now, setup.hidden, &page);
    tracker.end_turn(now, &page);
    while let Ok(call) = Call::arbitrary(&mut u) {
        match call {
            Call::Wait(ms) => now += i64::from(ms),
            Call::Track(name, props) => drop(tracker.track(&name, &props, now, &page.url, &page)),
            Call::Page => tracker.page(now, &page),
            Call::Navigated(restored) => tracker.navigated(now, restored, &page),
            Call::Hidden => tracker.hidden(now, &page),
            Call::Shown => tracker.shown(now),
            Call::Link(href) => tracker.link_clicked(now, &href, &page),
            Call::Grant => drop(tracker.decide(Category::Analytics, Decision::Granted, now, &page)),
            Call::Deny => drop(tracker.decide(Category::Analytics, Decision::Denied, now, &page)),
            Call::Identify(user) => drop(tracker.identify(&user, now, &page)),
            Call::Reset => tracker.reset(now, &page),
            Call::EndTurn => tracker.end_turn(now, &page),
            Call::Flush => tracker.flush(now, &page),
            Call::Timer => tracker.timer_fired(now, &page),
            Call::Answered { status, retry_after_ms, rule, ids } => {
                let rule = rule.map(|(timeout_ms, max_ms)| SessionRule { timeout_ms, max_ms });
                tracker.answered(status, retry_after_ms, rule, &ids, now, &page);
            }
            Call::Rejected(lines) => tracker.rejected(&lines),
        }
        if u.is_empty() {
            break;
        }
    }
    tracker.hidden(now, &page);
});
