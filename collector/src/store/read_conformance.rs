//! What every [`Reads`] backend must answer, as tests. One hand-written
//! event stream goes in through the write seam ([`Store::append`], so the
//! sessions are the real rule's), and each case checks answers against
//! numbers worked out by hand from the table below. A backend runs every
//! case, each its own `#[tokio::test]`, by one line in its tests:
//! `read_conformance_tests!(open);`, where `open(dir)` gives a fresh
//! [`Backend`] keeping its data in `dir`.
//!
//! Site `shop`, read in Europe/Berlin (UTC+1 in January). Times are UTC,
//! local in brackets; events carry their visitor's device, browser, OS and
//! country.
//!
//! | # | visitor (device, browser, country) | SDK session | time | event | path | source |
//! | --- | --- | --- | --- | --- | --- | --- |
//! | 1 | anna (desktop, Firefox, DE) | a-1 | Jan 14 22:30 (23:30) | pageview | `/` | Google |
//! | 2 | anna | a-1 | Jan 14 22:40 | pageview | `/pricing` | Google |
//! | 3 | anna | a-1 | Jan 14 22:45 | `signup` {plan: pro} | `/pricing` | Google |
//! | 4 | anna | a-2 | Jan 14 23:10 (Jan 15 00:10) | pageview | `/blog` | none |
//! | 5 | ben (mobile, Chrome, FR) | - | Jan 15 09:00 (10:00) | pageview | `/` | news.example |
//! | 6 | ben | - | Jan 15 09:05 | pageview | `/docs` | news.example |
//! | 7 | ben | - | Jan 15 09:07 | `$engagement` | `/docs` | news.example |
//! | 8 | ben | - | Jan 15 10:00 (11:00), 53 idle minutes later | pageview | `/docs` | news.example |
//! | 9 | dora (desktop, Safari, US) | d-1 | Jan 15 10:01:00 | pageview | `/` | Google |
//! | 10 | dora | d-1 | Jan 15 10:01:30 | pageview | `/pricing` | Google |
//! | 11 | carl (mobile, Chrome, DE) | c-1 | Jan 15 22:59 (23:59) | pageview | `/pricing` | Google |
//! | 12 | carl | c-1 | Jan 15 23:02 (Jan 16 00:02) | `signup` {plan: free} | `/pricing` | Google |
//! | 13 | otto, on site `elsewhere` | o-1 | Jan 15 10:00:10 | pageview | `/` | Google |
//!
//! They arrive in three appends, out of order (2 and 7 late, 3 before 1)
//! and with 1 sent twice. By the session rule that gives, on `shop`:
//!
//! | session | events | start (local day) | duration | pageviews | bounce | entry → exit |
//! | --- | --- | --- | --- | --- | --- | --- |
//! | A1 | 1-3 | Jan 14 | 15 min | 2 | no | `/` → `/pricing` |
//! | A2 | 4 (new SDK session) | Jan 15 (UTC: Jan 14) | 0 | 1 | yes | `/blog` |
//! | B1 | 5-7 | Jan 15 | 7 min | 2 | no | `/` → `/docs` |
//! | B2 | 8 (after the timeout) | Jan 15 | 0 | 1 | yes | `/docs` |
//! | D | 9-10 | Jan 15 | 30 s | 2 | no | `/` → `/pricing` |
//! | C | 11-12 | Jan 15 (its signup: Jan 16) | 3 min | 1 | no (a signup) | `/pricing` |

use std::path::Path;

use super::Store;
use super::read::Reads;
use crate::event::StoredEvent;
use crate::query::breakdown::{BreakdownRequest, Row};
use crate::query::consent::ConsentLogRequest;
use crate::query::filter::{Dimension, Filter, NONE_VALUE};
use crate::query::matching::{Condition, MatchRequest, VisitsRequest};
use crate::query::overview::{Metrics, OverviewRequest};
use crate::query::period::{Interval, Period};
use crate::query::realtime::{Realtime, RealtimeRequest};
use crate::query::sessions::SessionsRequest;
use crate::store::lifecycle::Selector;
use crate::query::{QueryError, Site};
use crate::sessions;

/// A backend under test: its write seam and its read seam over the same data.
pub struct Backend {
    pub store: Box<dyn Store>,
    pub reads: Box<dyn Reads>,
}

/// One `#[tokio::test]` per case below for the backend `open` makes;
/// with `skip_when: $skip`, as for `write_conformance_tests!`.
macro_rules! read_conformance_tests {
    ($open:expr) => {
        $crate::store::read_conformance::read_conformance_tests!($open, skip_when: false);
    };
    ($open:expr, skip_when: $skip:expr) => {
        $crate::store::read_conformance::read_conformance_tests!(@cases $open, $skip;
            realtime_counts_the_visitors_of_the_last_five_minutes_and_each_of_the_last_sixty,
            realtime_counts_only_the_events_that_pass_the_filters,
            an_overview_counts_sessions_by_their_start_and_events_by_their_time_in_the_sites_day,
            the_same_events_read_in_utc_fall_on_other_days,
            a_visitor_on_two_days_counts_once_in_the_period_and_once_in_each_day,
            filters_narrow_sessions_and_events_alike_and_combine,
            a_missing_value_is_asked_for_as_none,
            an_event_filter_keeps_sessions_whose_matching_event_came_after_the_period,
            a_session_filter_keeps_the_events_of_matching_sessions,
            a_page_breakdown_counts_pageviews_by_path,
            a_source_breakdown_counts_sessions_with_their_bounce_rate,
            breakdowns_by_device_country_and_page_follow_filters_and_limits,
            event_and_property_breakdowns_count_events,
            entry_and_exit_pages_come_from_each_sessions_first_and_last_pageview,
            sessions_are_listed_newest_first_a_page_at_a_time_with_the_total,
            the_sessions_list_follows_filters,
            a_journey_is_a_sessions_events_in_the_order_they_happened,
            a_journey_of_an_unknown_or_another_sites_session_is_not_found,
            answers_export_as_csv_with_the_same_numbers,
            a_persons_export_holds_every_event_and_session_of_their_visitors,
            the_consent_log_lists_each_decision_newest_first_with_its_categories_page_and_version,
            the_link_log_holds_each_visitor_and_user_its_events_carried_from_the_earliest,
            erasing_a_user_removes_their_links,
            retention_forgets_the_links_of_visitors_it_leaves_without_events,
            visits_are_the_sessions_started_in_a_range_with_a_visit_dimensions_value,
            matches_mark_which_conditions_each_event_met_in_time_order,
            matches_that_share_a_time_come_in_event_id_order,
            a_visitor_set_narrows_sessions_and_events_to_its_visitors,
        );
    };
    (@cases $open:expr, $skip:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                if $skip {
                    return;
                }
                $crate::store::read_conformance::$case(&$open).await;
            }
        )*
    };
}
pub(crate) use read_conformance_tests;

/// 2024-01-15T10:02:30Z: "now" for realtime.
const NOW: i64 = 1_705_312_950_000;

/// Realtime as of [`NOW`], of the events that pass `filters`.
fn now(filters: &[Filter]) -> RealtimeRequest {
    RealtimeRequest { now_ms: NOW, filters: filters.to_vec() }
}

fn utc(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

/// (#, site, visitor, SDK session, time, name, path, props, source)
type Spec = (u64, &'static str, &'static str, Option<&'static str>, &'static str, &'static str, &'static str, &'static str, Option<&'static str>);

const STREAM: [Spec; 13] = [
    (1, "shop", "anna", Some("a-1"), "2024-01-14T22:30:00Z", "$pageview", "/", "{}", Some("Google")),
    (2, "shop", "anna", Some("a-1"), "2024-01-14T22:40:00Z", "$pageview", "/pricing", "{}", Some("Google")),
    (3, "shop", "anna", Some("a-1"), "2024-01-14T22:45:00Z", "signup", "/pricing", r#"{"plan":"pro"}"#, Some("Google")),
    (4, "shop", "anna", Some("a-2"), "2024-01-14T23:10:00Z", "$pageview", "/blog", "{}", None),
    (5, "shop", "ben", None, "2024-01-15T09:00:00Z", "$pageview", "/", "{}", Some("news.example")),
    (6, "shop", "ben", None, "2024-01-15T09:05:00Z", "$pageview", "/docs", "{}", Some("news.example")),
    (7, "shop", "ben", None, "2024-01-15T09:07:00Z", "$engagement", "/docs", "{}", Some("news.example")),
    (8, "shop", "ben", None, "2024-01-15T10:00:00Z", "$pageview", "/docs", "{}", Some("news.example")),
    (9, "shop", "dora", Some("d-1"), "2024-01-15T10:01:00Z", "$pageview", "/", "{}", Some("Google")),
    (10, "shop", "dora", Some("d-1"), "2024-01-15T10:01:30Z", "$pageview", "/pricing", "{}", Some("Google")),
    (11, "shop", "carl", Some("c-1"), "2024-01-15T22:59:00Z", "$pageview", "/pricing", "{}", Some("Google")),
    (12, "shop", "carl", Some("c-1"), "2024-01-15T23:02:00Z", "signup", "/pricing", r#"{"plan":"free"}"#, Some("Google")),
    (13, "elsewhere", "otto", Some("o-1"), "2024-01-15T10:00:10Z", "$pageview", "/", "{}", Some("Google")),
];

/// The order the events arrive in: three appends, some late, one resent.
const ARRIVALS: [&[u64]; 3] = [&[3, 1, 4, 13], &[5, 6, 8, 9, 10], &[2, 7, 1, 11, 12]];

/// Event `n` of the stream, enriched as ingest would have it.
fn event(n: u64) -> StoredEvent {
    let (_, site, visitor, client_session, at, name, path, props, source) = STREAM[n as usize - 1];
    let (device, browser, os, country) = match visitor {
        "anna" | "otto" => ("desktop", "Firefox", "Linux", "DE"),
        "ben" => ("mobile", "Chrome", "Android", "FR"),
        "dora" => ("desktop", "Safari", "macOS", "US"),
        _ => ("mobile", "Chrome", "iOS", "DE"),
    };
    let ts = utc(at);
    StoredEvent {
        site: site.into(),
        id: format!("00000000-0000-4000-8000-{n:012}"),
        ts,
        received_ms: ts,
        name: name.into(),
        client_session_id: client_session.map(Into::into),
        visitor_id: visitor.into(),
        url: format!("https://{site}.example{path}"),
        host: format!("{site}.example"),
        path: path.into(),
        props: props.into(),
        engaged_ms: (name == "$engagement").then_some(120_000),
        source: source.map(Into::into),
        medium: source.map(|_| "referral".into()),
        browser: Some(browser.into()),
        os: Some(os.into()),
        device: Some(device.into()),
        country: Some(country.into()),
        ..StoredEvent::default()
    }
}

/// The id the session rule gives the session that begins with event `first`.
fn session(first: u64) -> String {
    let e = event(first);
    sessions::session_id(&e.site, &e.visitor_id, &e)
}

/// A backend holding the stream, and the directory it keeps it in.
struct Seeded {
    backend: Backend,
    _dir: tempfile::TempDir,
}

async fn seeded(open: &impl Fn(&Path) -> Backend) -> Seeded {
    let dir = tempfile::tempdir().unwrap();
    let backend = open(dir.path());
    for arrival in ARRIVALS {
        backend.store.append(arrival.iter().map(|&n| event(n)).collect()).await.unwrap();
    }
    Seeded { backend, _dir: dir }
}

impl Seeded {
    fn reads(&self) -> &dyn Reads {
        self.backend.reads.as_ref()
    }

    async fn close(self) {
        self.backend.store.close().await;
    }

    async fn totals(&self, site: &Site, from: &str, to: &str, filters: &[(Dimension, &str)]) -> Totals {
        let overview = self.reads().overview(site, &overview_request(from, to, Interval::Day, filters)).await.unwrap();
        totals(&overview.current.totals)
    }

    async fn rows(&self, dimension: Dimension, filters: &[(Dimension, &str)], limit: usize) -> Vec<(Option<String>, i64, i64, Option<f64>)> {
        let request = BreakdownRequest { period: days("2024-01-14", "2024-01-16"), dimension, filters: filters_of(filters), limit };
        let breakdown = self.reads().breakdown(&berlin(), &request).await.unwrap();
        breakdown.rows.into_iter().map(|Row { value, visitors, count, bounce_rate, .. }| (value, visitors, count, bounce_rate)).collect()
    }

    async fn session_ids(&self, filters: &[(Dimension, &str)], page: usize, per_page: usize) -> (i64, Vec<String>) {
        let request = SessionsRequest { period: days("2024-01-15", "2024-01-15"), filters: filters_of(filters), page, per_page };
        let answer = self.reads().sessions(&berlin(), &request).await.unwrap();
        (answer.total, answer.sessions.into_iter().map(|s| s.id).collect())
    }
}

fn berlin() -> Site {
    Site::new("shop", "Europe/Berlin").unwrap()
}

fn days(from: &str, to: &str) -> Period {
    Period::parse(from, to).unwrap()
}

fn filters_of(filters: &[(Dimension, &str)]) -> Vec<Filter> {
    filters.iter().map(|(dimension, value)| Filter::new(dimension.clone(), value)).collect()
}

fn overview_request(from: &str, to: &str, interval: Interval, filters: &[(Dimension, &str)]) -> OverviewRequest {
    OverviewRequest { period: days(from, to), interval, filters: filters_of(filters), people: None }
}

/// (visitors, sessions, pageviews, events, bounces, bounce rate, average duration ms)
type Totals = (i64, i64, i64, i64, i64, f64, f64);

fn totals(m: &Metrics) -> Totals {
    (m.visitors, m.sessions, m.pageviews, m.events, m.bounces, m.bounce_rate, m.avg_duration_ms)
}

fn row(value: &str, visitors: i64, count: i64, bounce_rate: Option<f64>) -> (Option<String>, i64, i64, Option<f64>) {
    ((value != NONE_VALUE).then(|| value.to_owned()), visitors, count, bounce_rate)
}

pub async fn realtime_counts_the_visitors_of_the_last_five_minutes_and_each_of_the_last_sixty(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    let realtime = s.reads().realtime(&berlin(), &now(&[])).await.unwrap();
    // Since 09:57:30: ben at 10:00 and dora at 10:01; otto is another site's.
    assert_eq!((realtime.now_ms, realtime.active_visitors), (NOW, 2));
    assert_eq!(realtime.minutes.len(), 60);
    assert_eq!(realtime.minutes[0].start_ms, utc("2024-01-15T09:03:00Z"));
    assert_eq!(realtime.minutes[59].start_ms, utc("2024-01-15T10:02:00Z"));
    let busy: Vec<(i64, i64, i64)> = realtime.minutes.iter().filter(|m| m.events > 0).map(|m| (m.start_ms, m.events, m.sessions)).collect();
    let at = |hh_mm: &str| utc(&format!("2024-01-15T{hh_mm}:00Z"));
    // Ben's first pageview (09:00) is before the hour; carl's events are after now.
    assert_eq!(busy, vec![(at("09:05"), 1, 1), (at("09:07"), 1, 1), (at("10:00"), 1, 1), (at("10:01"), 2, 1)]);
    s.close().await;
}

pub async fn realtime_counts_only_the_events_that_pass_the_filters(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    let busy = |realtime: &Realtime| -> Vec<(i64, i64, i64)> {
        realtime.minutes.iter().filter(|m| m.events > 0).map(|m| (m.start_ms, m.events, m.sessions)).collect()
    };
    let at = |hh_mm: &str| utc(&format!("2024-01-15T{hh_mm}:00Z"));
    // Ben alone: his 10:00 pageview is recent, and his hour's three events.
    let ben = s.reads().realtime(&berlin(), &now(&[Filter::visitors(["ben".to_owned(), "carl".to_owned()])])).await.unwrap();
    assert_eq!(ben.active_visitors, 1);
    assert_eq!(busy(&ben), vec![(at("09:05"), 1, 1), (at("09:07"), 1, 1), (at("10:00"), 1, 1)]);
    // Dora alone, by a value her events carry and by one of her visit's.
    for filter in [Filter::new(Dimension::Country, "US"), Filter::new(Dimension::Source, "Google")] {
        let dora = s.reads().realtime(&berlin(), &now(std::slice::from_ref(&filter))).await.unwrap();
        assert_eq!((dora.active_visitors, busy(&dora)), (1, vec![(at("10:01"), 2, 1)]), "{filter:?}");
    }
    // An empty set keeps nothing, and every minute is still there.
    let none = s.reads().realtime(&berlin(), &now(&[Filter::visitors([])])).await.unwrap();
    assert_eq!((none.active_visitors, none.minutes.len(), busy(&none)), (0, 60, vec![]));
    s.close().await;
}

pub async fn an_overview_counts_sessions_by_their_start_and_events_by_their_time_in_the_sites_day(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    let overview = s.reads().overview(&berlin(), &overview_request("2024-01-15", "2024-01-15", Interval::Hour, &[])).await.unwrap();
    assert_eq!(overview.interval, Interval::Hour);
    // Local Jan 15: A2, B1, B2, D and C start (4 visitors; ben twice); A2 and
    // B2 bounce; durations 0 + 7 min + 0 + 30 s + 3 min. Pageviews 4, 5, 6,
    // 8, 9, 10, 11, and ben's engagement; carl's signup is on Jan 16.
    assert_eq!(totals(&overview.current.totals), (4, 5, 7, 8, 2, 0.4, 126_000.0));
    assert_eq!((overview.current.from.as_str(), overview.current.to.as_str()), ("2024-01-15", "2024-01-15"));
    // Local Jan 14: A1 alone, the resent pageview counted once.
    assert_eq!(totals(&overview.previous.totals), (1, 1, 2, 3, 0, 0.0, 900_000.0));
    assert_eq!(overview.previous.from, "2024-01-14");

    let series = &overview.current.series;
    assert_eq!(series.len(), 24);
    assert_eq!((series[0].label.as_str(), series[0].start_ms), ("2024-01-15 00:00", utc("2024-01-14T23:00:00Z")));
    let sessions_by_hour: Vec<(&str, i64)> =
        series.iter().filter(|p| p.metrics.sessions > 0).map(|p| (p.label.as_str(), p.metrics.sessions)).collect();
    assert_eq!(sessions_by_hour, vec![("2024-01-15 00:00", 1), ("2024-01-15 10:00", 1), ("2024-01-15 11:00", 2), ("2024-01-15 23:00", 1)]);
    // 11:00 local: B2 (bounced) and D; pageviews 8, 9, 10.
    assert_eq!(totals(&series[11].metrics), (2, 2, 3, 3, 1, 0.5, 15_000.0));
    // 10:00 local: B1, with its two pageviews and the engagement.
    assert_eq!(totals(&series[10].metrics), (1, 1, 2, 3, 0, 0.0, 420_000.0));
    s.close().await;
}

pub async fn the_same_events_read_in_utc_fall_on_other_days(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    let utc_site = Site::new("shop", "UTC").unwrap();
    // UTC Jan 15: B1, B2, D, C (A2 started on UTC Jan 14); all of carl's events.
    assert_eq!(s.totals(&utc_site, "2024-01-15", "2024-01-15", &[]).await, (3, 4, 6, 8, 1, 0.25, 157_500.0));
    // UTC Jan 14: A1 and A2, one visitor.
    assert_eq!(s.totals(&utc_site, "2024-01-14", "2024-01-14", &[]).await, (1, 2, 3, 4, 1, 0.5, 450_000.0));
    // The same day in Berlin, for contrast.
    assert_eq!(s.totals(&berlin(), "2024-01-15", "2024-01-15", &[]).await, (4, 5, 7, 8, 2, 0.4, 126_000.0));
    s.close().await;
}

pub async fn a_visitor_on_two_days_counts_once_in_the_period_and_once_in_each_day(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    let overview = s.reads().overview(&berlin(), &overview_request("2024-01-14", "2024-01-16", Interval::Day, &[])).await.unwrap();
    let days: Vec<(&str, i64, i64, i64, i64)> = overview
        .current
        .series
        .iter()
        .map(|p| (p.label.as_str(), p.metrics.visitors, p.metrics.sessions, p.metrics.pageviews, p.metrics.events))
        .collect();
    assert_eq!(days, vec![("2024-01-14", 1, 1, 2, 3), ("2024-01-15", 4, 5, 7, 8), ("2024-01-16", 0, 0, 0, 1)]);
    // Anna on Jan 14 and 15 is one visitor of the period.
    assert_eq!(totals(&overview.current.totals), (4, 6, 9, 12, 2, 1.0 / 3.0, 255_000.0));
    assert_eq!((overview.previous.from.as_str(), overview.previous.to.as_str()), ("2024-01-11", "2024-01-13"));
    assert_eq!(totals(&overview.previous.totals), (0, 0, 0, 0, 0, 0.0, 0.0));
    s.close().await;
}

pub async fn filters_narrow_sessions_and_events_alike_and_combine(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    let site = berlin();
    let day = |filters: &'static [(Dimension, &'static str)]| s.totals(&site, "2024-01-15", "2024-01-15", filters);
    // Germany: A2 (bounced, /blog) and C (3 min, /pricing), and those two pageviews.
    assert_eq!(day(&[(Dimension::Country, "DE")]).await, (2, 2, 2, 2, 1, 0.5, 90_000.0));
    // A page keeps the sessions with an event on it (B1, B2) and the events
    // on it: two pageviews and the engagement sent from /docs.
    assert_eq!(day(&[(Dimension::Page, "/docs")]).await, (1, 2, 2, 3, 1, 0.5, 210_000.0));
    assert_eq!(day(&[(Dimension::Page, "/docs"), (Dimension::Country, "DE")]).await, (0, 0, 0, 0, 0, 0.0, 0.0));
    s.close().await;
}

pub async fn a_missing_value_is_asked_for_as_none(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    // A2 came with no source.
    assert_eq!(s.totals(&berlin(), "2024-01-15", "2024-01-15", &[(Dimension::Source, NONE_VALUE)]).await, (1, 1, 1, 1, 1, 1.0, 0.0));
    s.close().await;
}

pub async fn an_event_filter_keeps_sessions_whose_matching_event_came_after_the_period(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    // The session that signed up for `pro` (A1), and that signup itself.
    let pro = [(Dimension::Property("plan".into()), "pro")];
    assert_eq!(s.totals(&berlin(), "2024-01-14", "2024-01-14", &pro).await, (1, 1, 0, 1, 0, 0.0, 900_000.0));
    // A signup on /pricing: C's, at 00:02 on Jan 16. C started on Jan 15 and
    // counts there; the signup itself is not an event of Jan 15.
    let signup_on_pricing = [(Dimension::Page, "/pricing"), (Dimension::Event, "signup")];
    assert_eq!(s.totals(&berlin(), "2024-01-15", "2024-01-15", &signup_on_pricing).await, (1, 1, 0, 0, 0, 0.0, 180_000.0));
    s.close().await;
}

pub async fn a_session_filter_keeps_the_events_of_matching_sessions(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    // Google's sessions A1, D and C; their events on Jan 14-15 are 1, 2, 3,
    // 9, 10 and 11 (C's signup is on Jan 16; A2's /blog came with no source).
    assert_eq!(s.totals(&berlin(), "2024-01-14", "2024-01-15", &[(Dimension::Source, "Google")]).await, (3, 3, 5, 6, 0, 0.0, 370_000.0));
    s.close().await;
}

pub async fn a_page_breakdown_counts_pageviews_by_path(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    let request = BreakdownRequest { period: days("2024-01-14", "2024-01-16"), dimension: Dimension::Page, filters: vec![], limit: 10 };
    let breakdown = s.reads().breakdown(&berlin(), &request).await.unwrap();
    assert_eq!((breakdown.dimension.as_str(), breakdown.metric), ("page", "pageviews"));
    // By count, then by value.
    assert_eq!(
        s.rows(Dimension::Page, &[], 10).await,
        vec![row("/", 3, 3, None), row("/pricing", 3, 3, None), row("/docs", 1, 2, None), row("/blog", 1, 1, None)]
    );
    s.close().await;
}

pub async fn a_source_breakdown_counts_sessions_with_their_bounce_rate(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    let request = BreakdownRequest { period: days("2024-01-14", "2024-01-16"), dimension: Dimension::Source, filters: vec![], limit: 10 };
    assert_eq!(s.reads().breakdown(&berlin(), &request).await.unwrap().metric, "sessions");
    assert_eq!(
        s.rows(Dimension::Source, &[], 10).await,
        vec![row("Google", 3, 3, Some(0.0)), row("news.example", 1, 2, Some(0.5)), row(NONE_VALUE, 1, 1, Some(1.0))]
    );
    s.close().await;
}

pub async fn breakdowns_by_device_country_and_page_follow_filters_and_limits(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    // German sessions: A1 and A2 on desktop, C on mobile.
    assert_eq!(
        s.rows(Dimension::Device, &[(Dimension::Country, "DE")], 10).await,
        vec![row("desktop", 1, 2, Some(0.5)), row("mobile", 1, 1, Some(0.0))]
    );
    // Sessions with an event on /pricing: A1, C (DE) and D (US).
    assert_eq!(
        s.rows(Dimension::Country, &[(Dimension::Page, "/pricing")], 10).await,
        vec![row("DE", 2, 2, Some(0.0)), row("US", 1, 1, Some(0.0))]
    );
    // Chrome: B1 and B2 (FR) and C (DE); the first row only.
    assert_eq!(s.rows(Dimension::Country, &[(Dimension::Browser, "Chrome")], 1).await, vec![row("FR", 1, 2, Some(0.5))]);
    // Pageviews sent from mobiles: ben's and carl's.
    assert_eq!(
        s.rows(Dimension::Page, &[(Dimension::Device, "mobile")], 10).await,
        vec![row("/docs", 1, 2, None), row("/", 1, 1, None), row("/pricing", 1, 1, None)]
    );
    s.close().await;
}

pub async fn event_and_property_breakdowns_count_events(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    assert_eq!(
        s.rows(Dimension::Event, &[], 10).await,
        vec![row("$pageview", 4, 9, None), row("signup", 2, 2, None), row("$engagement", 1, 1, None)]
    );
    let request = BreakdownRequest { period: days("2024-01-14", "2024-01-16"), dimension: Dimension::Property("plan".into()), filters: vec![], limit: 10 };
    let plans = s.reads().breakdown(&berlin(), &request).await.unwrap();
    assert_eq!((plans.dimension.as_str(), plans.metric), ("prop:plan", "events"));
    assert_eq!(s.rows(Dimension::Property("plan".into()), &[], 10).await, vec![row("free", 1, 1, None), row("pro", 1, 1, None)]);
    s.close().await;
}

pub async fn entry_and_exit_pages_come_from_each_sessions_first_and_last_pageview(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    // A1 left from /pricing after its signup there; B1 from /docs after the engagement.
    assert_eq!(
        s.rows(Dimension::ExitPage, &[], 10).await,
        vec![row("/pricing", 3, 3, Some(0.0)), row("/docs", 1, 2, Some(0.5)), row("/blog", 1, 1, Some(1.0))]
    );
    assert_eq!(
        s.rows(Dimension::EntryPage, &[(Dimension::Device, "mobile")], 10).await,
        vec![row("/", 1, 1, Some(0.0)), row("/docs", 1, 1, Some(1.0)), row("/pricing", 1, 1, Some(0.0))]
    );
    s.close().await;
}

pub async fn sessions_are_listed_newest_first_a_page_at_a_time_with_the_total(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    assert_eq!(s.session_ids(&[], 0, 2).await, (5, vec![session(11), session(9)]));
    assert_eq!(s.session_ids(&[], 1, 2).await, (5, vec![session(8), session(5)]));
    assert_eq!(s.session_ids(&[], 2, 2).await, (5, vec![session(4)]));
    assert_eq!(s.session_ids(&[], 3, 2).await, (5, vec![]));

    let request = SessionsRequest { period: days("2024-01-15", "2024-01-15"), filters: vec![], page: 1, per_page: 2 };
    let page = s.reads().sessions(&berlin(), &request).await.unwrap();
    assert_eq!((page.page, page.per_page), (1, 2));
    // B1 as the rule made it, with its late engagement.
    let b1 = &page.sessions[1];
    assert_eq!((b1.visitor_id.as_str(), b1.start_ts, b1.end_ts), ("ben", utc("2024-01-15T09:00:00Z"), utc("2024-01-15T09:07:00Z")));
    assert_eq!((b1.duration_ms, b1.pageviews, b1.events, b1.bounce), (420_000, 2, 3, false));
    assert_eq!((b1.entry_path.as_deref(), b1.exit_path.as_deref()), (Some("/"), Some("/docs")));
    assert_eq!((b1.source.as_deref(), b1.device.as_deref(), b1.country.as_deref()), (Some("news.example"), Some("mobile"), Some("FR")));
    assert!(page.sessions[0].bounce, "B2 is one pageview");

    // A page holds at least one session.
    let request = SessionsRequest { per_page: 0, page: 0, ..request };
    let page = s.reads().sessions(&berlin(), &request).await.unwrap();
    assert_eq!((page.per_page, page.sessions.len(), page.total), (1, 1, 5));
    s.close().await;
}

pub async fn the_sessions_list_follows_filters(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    assert_eq!(s.session_ids(&[(Dimension::Device, "mobile")], 0, 10).await, (3, vec![session(11), session(8), session(5)]));
    assert_eq!(s.session_ids(&[(Dimension::Page, "/docs")], 0, 10).await, (2, vec![session(8), session(5)]));
    assert_eq!(s.session_ids(&[(Dimension::Source, NONE_VALUE)], 0, 10).await, (1, vec![session(4)]));
    s.close().await;
}

pub async fn a_journey_is_a_sessions_events_in_the_order_they_happened(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    let journey = s.reads().journey(&berlin(), &session(1)).await.unwrap();
    let steps: Vec<(&str, &str)> = journey.events.iter().map(|e| (e.name.as_str(), e.path.as_str())).collect();
    // Sent as 3, 1, then 2 (and 1 again): shown in the order they happened, once each.
    assert_eq!(steps, vec![("$pageview", "/"), ("$pageview", "/pricing"), ("signup", "/pricing")]);
    let ids: Vec<String> = journey.events.iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids, [1, 2, 3].map(|n| event(n).id));
    assert_eq!(journey.events[2].props, serde_json::json!({"plan": "pro"}));
    assert_eq!(journey.events[0].url, "https://shop.example/");
    let a1 = journey.session.unwrap();
    assert_eq!((a1.id, a1.duration_ms, a1.events, a1.client_session_id.as_deref()), (session(1), 900_000, 3, Some("a-1")));

    let journey = s.reads().journey(&berlin(), &session(5)).await.unwrap();
    let last = journey.events.last().unwrap();
    assert_eq!((last.name.as_str(), last.engaged_ms), ("$engagement", Some(120_000)));
    s.close().await;
}

pub async fn a_journey_of_an_unknown_or_another_sites_session_is_not_found(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    let unknown = s.reads().journey(&berlin(), "no-such-session").await;
    assert!(matches!(unknown, Err(QueryError::SessionNotFound(ref id)) if id == "no-such-session"), "{unknown:?}");
    let elsewhere = s.reads().journey(&berlin(), &session(13)).await;
    assert!(matches!(elsewhere, Err(QueryError::SessionNotFound(_))), "{elsewhere:?}");
    assert!(s.reads().journey(&Site::new("elsewhere", "UTC").unwrap(), &session(13)).await.is_ok());
    s.close().await;
}

pub async fn answers_export_as_csv_with_the_same_numbers(open: &impl Fn(&Path) -> Backend) {
    use crate::api::export::to_csv;
    let s = seeded(open).await;
    let csv = |bytes: Vec<u8>| String::from_utf8(bytes).unwrap();
    let request = BreakdownRequest { period: days("2024-01-14", "2024-01-16"), dimension: Dimension::Source, filters: vec![], limit: 10 };
    let sources = s.reads().breakdown(&berlin(), &request).await.unwrap();
    assert_eq!(
        csv(to_csv(&sources).unwrap()),
        "value,visitors,sessions,bounce_rate\nGoogle,3,3,0.0000\nnews.example,1,2,0.5000\n,1,1,1.0000\n"
    );

    let overview = s.reads().overview(&berlin(), &overview_request("2024-01-15", "2024-01-15", Interval::Day, &[])).await.unwrap();
    assert_eq!(
        csv(to_csv(&overview).unwrap()),
        "period,bucket,visitors,sessions,pageviews,events,bounces,bounce_rate,avg_duration_ms\n\
         current,2024-01-15,4,5,7,8,2,0.4000,126000\ncurrent,total,4,5,7,8,2,0.4000,126000\n\
         previous,2024-01-14,1,1,2,3,0,0.0000,900000\nprevious,total,1,1,2,3,0,0.0000,900000\n"
    );

    let request = SessionsRequest { period: days("2024-01-15", "2024-01-15"), filters: vec![], page: 0, per_page: 1 };
    let newest = s.reads().sessions(&berlin(), &request).await.unwrap();
    let c = session(11);
    let start = utc("2024-01-15T22:59:00Z");
    assert_eq!(
        csv(to_csv(&newest).unwrap()),
        format!(
            "id,visitor_id,user_id,start_ts,end_ts,duration_ms,pageviews,events,entry_path,exit_path,bounce,source,referrer_host,country,device,browser,os\n\
             {c},carl,,{start},{},180000,1,2,/pricing,/pricing,0,Google,,DE,mobile,Chrome,iOS\n",
            start + 180_000
        )
    );

    let journey = s.reads().journey(&berlin(), &c).await.unwrap();
    let journey_csv = csv(to_csv(&journey).unwrap());
    assert_eq!(journey_csv.lines().count(), 3, "{journey_csv}");
    assert!(journey_csv.contains(",signup,/pricing,https://shop.example/pricing,,,\"{\"\"plan\"\":\"\"free\"\"}\",\n"), "{journey_csv}");

    let realtime = s.reads().realtime(&berlin(), &now(&[])).await.unwrap();
    let realtime_csv = csv(to_csv(&realtime).unwrap());
    assert_eq!(realtime_csv.lines().count(), 61);
    assert!(realtime_csv.ends_with(&format!("{},0,0,2\n", utc("2024-01-15T10:02:00Z"))), "{realtime_csv}");
    s.close().await;
}

pub async fn a_persons_export_holds_every_event_and_session_of_their_visitors(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    let ids = |events: &[StoredEvent]| events.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    // Anna: events 1-4, sessions A1 and A2, in the order they happened.
    let anna = s.reads().person(&berlin(), &Selector::Visitor("anna".into())).await.unwrap();
    assert_eq!(anna.visitors, ["anna"]);
    assert_eq!(ids(&anna.events), [1, 2, 3, 4].map(|n| event(n).id));
    assert_eq!(anna.sessions.iter().map(|x| x.id.clone()).collect::<Vec<_>>(), [session(1), session(4)]);
    assert_eq!(anna.events[2].props, r#"{"plan":"pro"}"#);
    // A session names its visitor: B2 gives all of ben's.
    let ben = s.reads().person(&berlin(), &Selector::Session(session(8))).await.unwrap();
    assert_eq!((ben.visitors.as_slice(), ben.events.len(), ben.sessions.len()), (["ben".to_owned()].as_slice(), 4, 2));
    // A user id gives every visitor that carried it: dora's and carl's devices.
    let identified = |n: u64, visitor: &str, at: &str| StoredEvent {
        user_id: Some("user-9".into()),
        visitor_id: visitor.into(),
        ..StoredEvent { id: format!("00000000-0000-4000-9000-{n:012}"), ts: utc(at), received_ms: utc(at), ..event(n) }
    };
    s.backend.store.append(vec![identified(9, "dora", "2024-01-15T10:02:00Z"), identified(11, "carl", "2024-01-15T23:03:00Z")]).await.unwrap();
    let user = s.reads().person(&berlin(), &Selector::User("user-9".into())).await.unwrap();
    assert_eq!(user.visitors, ["carl", "dora"]);
    assert_eq!((user.events.len(), user.sessions.len()), (6, 2));
    // Nobody by that id, or another site's visitor: nothing.
    assert!(s.reads().person(&berlin(), &Selector::Visitor("nobody".into())).await.unwrap().is_empty());
    assert!(s.reads().person(&berlin(), &Selector::Visitor("otto".into())).await.unwrap().is_empty());
    assert!(matches!(s.reads().person(&berlin(), &Selector::Site).await, Err(QueryError::BadRequest(_))));
    s.close().await;
}

/// Consent decisions added to the stream (ids `…-7000-…`), each a
/// `$consent` event as the SDK sends it:
///
/// | # | visitor | SDK session | time (Berlin) | page | props |
/// | --- | --- | --- | --- | --- | --- |
/// | 1 | anna | a-1 | Jan 14 23:30:30 | `/` | analytics granted, version v2 |
/// | 2 | a daily key (no ids) | - | Jan 15 10:30 | `/pricing` | analytics denied, version v2 |
/// | 3 | anna | a-2 | Jan 15 23:00 (a day after A2: a new session) | `/blog` | analytics denied, version v3, via banner |
/// | 4 | carl | c-1 | Jan 16 00:30 | `/pricing` | analytics granted (after the period) |
/// | 5 | otto, on site `elsewhere` | o-1 | Jan 15 11:00 | `/` | analytics granted |
fn consent_event(n: u64, base: u64, visitor: &str, client_session: Option<&str>, at: &str, path: &str, props: &str) -> StoredEvent {
    let site = event(base).site;
    StoredEvent {
        id: format!("00000000-0000-4000-7000-{n:012}"),
        ts: utc(at),
        received_ms: utc(at),
        name: "$consent".into(),
        visitor_id: visitor.into(),
        client_session_id: client_session.map(Into::into),
        url: format!("https://{site}.example{path}"),
        path: path.into(),
        props: props.into(),
        engaged_ms: None,
        ..event(base)
    }
}

pub async fn the_consent_log_lists_each_decision_newest_first_with_its_categories_page_and_version(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    let withdrawal_event =
        consent_event(3, 4, "anna", Some("a-2"), "2024-01-15T22:00:00Z", "/blog", r#"{"analytics":"denied","version":"v3","via":"banner"}"#);
    // A day after A2: a session of its own.
    let withdrawal_session = sessions::session_id("shop", "anna", &withdrawal_event);
    let decisions = vec![
        consent_event(1, 1, "anna", Some("a-1"), "2024-01-14T22:30:30Z", "/", r#"{"analytics":"granted","version":"v2"}"#),
        consent_event(2, 5, "daily-key", None, "2024-01-15T09:30:00Z", "/pricing", r#"{"analytics":"denied","version":"v2"}"#),
        withdrawal_event,
        consent_event(4, 11, "carl", Some("c-1"), "2024-01-15T23:30:00Z", "/pricing", r#"{"analytics":"granted"}"#),
        consent_event(5, 13, "otto", Some("o-1"), "2024-01-15T10:00:00Z", "/", r#"{"analytics":"granted"}"#),
    ];
    s.backend.store.append(decisions).await.unwrap();
    let request = |visitor: Option<&str>, page: usize, per_page: usize| ConsentLogRequest {
        period: days("2024-01-14", "2024-01-15"),
        visitor_id: visitor.map(Into::into),
        page,
        per_page,
    };
    let log = s.reads().consent_log(&berlin(), &request(None, 0, 50)).await.unwrap();
    let id = |n: u64| format!("00000000-0000-4000-7000-{n:012}");
    // Carl's grant is on Jan 16 in Berlin; otto's is another site's.
    assert_eq!((log.total, log.page, log.per_page), (3, 0, 50));
    assert_eq!(log.records.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), [id(3), id(2), id(1)]);
    let [withdrawal, denial, grant] = [&log.records[0], &log.records[1], &log.records[2]];
    // Anna's grant, in the session of the pageview it came with.
    assert_eq!((grant.visitor_id.as_str(), grant.session_id.clone(), grant.ts), ("anna", session(1), utc("2024-01-14T22:30:30Z")));
    assert_eq!((grant.decisions.get("analytics").map(String::as_str), grant.version.as_deref()), (Some("granted"), Some("v2")));
    assert_eq!((grant.path.as_str(), grant.url.as_str(), grant.cookieless), ("/", "https://shop.example/", false));
    // A denial before any grant came without ids: the daily key.
    assert_eq!((denial.visitor_id.as_str(), denial.cookieless, denial.path.as_str()), ("daily-key", true, "/pricing"));
    assert_eq!(denial.decisions.get("analytics").map(String::as_str), Some("denied"));
    // The withdrawal keeps how it was given.
    assert_eq!((withdrawal.session_id.clone(), withdrawal.version.as_deref()), (withdrawal_session.clone(), Some("v3")));
    assert_eq!(withdrawal.props, serde_json::json!({"analytics": "denied", "version": "v3", "via": "banner"}));

    // One visitor: when and how anna consented.
    let anna = s.reads().consent_log(&berlin(), &request(Some("anna"), 0, 50)).await.unwrap();
    assert_eq!((anna.total, anna.records.iter().map(|r| r.id.clone()).collect::<Vec<_>>()), (2, vec![id(3), id(1)]));
    assert_eq!(s.reads().consent_log(&berlin(), &request(Some("otto"), 0, 50)).await.unwrap().total, 0);
    // A page at a time.
    let second = s.reads().consent_log(&berlin(), &request(None, 1, 1)).await.unwrap();
    assert_eq!((second.total, second.records.len(), second.records[0].id.clone()), (3, 1, id(2)));
    // The other site has its own log.
    let elsewhere = Site::new("elsewhere", "UTC").unwrap();
    assert_eq!(s.reads().consent_log(&elsewhere, &request(None, 0, 50)).await.unwrap().records[0].id, id(5));

    let csv = String::from_utf8(crate::api::export::to_csv(&anna).unwrap()).unwrap();
    assert_eq!(
        csv,
        format!(
            "ts,time,visitor_id,session_id,user_id,cookieless,decisions,version,path,url,props,id\n\
             {},2024-01-15T22:00:00Z,anna,{},,0,analytics=denied,v3,/blog,https://shop.example/blog,\"{{\"\"analytics\"\":\"\"denied\"\",\"\"version\"\":\"\"v3\"\",\"\"via\"\":\"\"banner\"\"}}\",{}\n\
             {},2024-01-14T22:30:30Z,anna,{},,0,analytics=granted,v2,/,https://shop.example/,\"{{\"\"analytics\"\":\"\"granted\"\",\"\"version\"\":\"\"v2\"\"}}\",{}\n",
            utc("2024-01-15T22:00:00Z"), withdrawal_session, id(3), utc("2024-01-14T22:30:30Z"), session(1), id(1)
        )
    );
    s.close().await;
}

/// Identified events added to the stream (ids `…-6000-…`): dora as
/// `user-1` at 10:01:30 (in D) and, arriving later, at 10:01:10; carl as
/// `user-1` on his phone; anna as `user-2`, then as `user-1` (a shared
/// device identified twice without a reset).
fn identified(n: u64, visitor: &str, user: &str, at: &str) -> StoredEvent {
    let base = match visitor {
        "dora" => 9,
        "carl" => 11,
        _ => 1,
    };
    StoredEvent {
        id: format!("00000000-0000-4000-6000-{n:012}"),
        ts: utc(at),
        received_ms: utc(at),
        name: "$identify".into(),
        user_id: Some(user.into()),
        visitor_id: visitor.into(),
        ..event(base)
    }
}

async fn identities(s: &Seeded) -> Vec<(String, String, i64)> {
    let people = s.reads().identities(&berlin()).await.unwrap();
    let mut links: Vec<(String, String, i64)> = people.into_iter().map(|i| (i.visitor_id, i.user_id, i.since_ms)).collect();
    // Repeats of a pair count for its earliest.
    links.sort();
    links.dedup_by(|b, a| a.0 == b.0 && a.1 == b.1);
    links
}

pub async fn the_link_log_holds_each_visitor_and_user_its_events_carried_from_the_earliest(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    assert!(s.reads().identities(&berlin()).await.unwrap().is_empty(), "no event carried a user id");
    let append = |events: Vec<StoredEvent>| s.backend.store.append(events);
    append(vec![identified(1, "dora", "user-1", "2024-01-15T10:01:30Z"), identified(2, "anna", "user-2", "2024-01-14T22:50:00Z")]).await.unwrap();
    append(vec![identified(3, "dora", "user-1", "2024-01-15T10:01:10Z"), identified(4, "carl", "user-1", "2024-01-15T23:00:00Z")]).await.unwrap();
    append(vec![identified(5, "anna", "user-1", "2024-01-14T22:55:00Z")]).await.unwrap();
    assert_eq!(
        identities(&s).await,
        [
            ("anna".into(), "user-1".into(), utc("2024-01-14T22:55:00Z")),
            ("anna".into(), "user-2".into(), utc("2024-01-14T22:50:00Z")),
            ("carl".into(), "user-1".into(), utc("2024-01-15T23:00:00Z")),
            ("dora".into(), "user-1".into(), utc("2024-01-15T10:01:10Z")),
        ]
    );
    // Resolved: anna counts for the user she was first seen as.
    let people = crate::identity::resolve(s.reads().identities(&berlin()).await.unwrap());
    assert_eq!((people.user_of("anna"), people.user_of("dora"), people.user_of("ben")), (Some("user-2"), Some("user-1"), None));
    // The identify joined dora's visit: still one session, now of three events.
    let dora = s.reads().person(&berlin(), &Selector::Visitor("dora".into())).await.unwrap();
    assert_eq!((dora.sessions.len(), dora.sessions[0].events), (1, 4));
    // Another site holds none of them.
    let elsewhere = Site::new("elsewhere", "Europe/Berlin").unwrap();
    assert!(s.reads().identities(&elsewhere).await.unwrap().is_empty());
    s.close().await;
}

pub async fn retention_forgets_the_links_of_visitors_it_leaves_without_events(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    let store = &s.backend.store;
    store.append(vec![identified(1, "anna", "user-2", "2024-01-14T22:50:00Z"), identified(2, "dora", "user-1", "2024-01-15T10:01:30Z")]).await.unwrap();
    // Every session of anna ended before Jan 15 (UTC); dora's visit after.
    let deleted = store.delete_before("shop", utc("2024-01-15T00:00:00Z"), 10_000).await.unwrap();
    assert_eq!(deleted.sessions, 2);
    assert_eq!(identities(&s).await, [("dora".into(), "user-1".into(), utc("2024-01-15T10:01:30Z"))], "anna's user id is gone with her events");
    s.close().await;
}

pub async fn erasing_a_user_removes_their_links(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    let store = &s.backend.store;
    store.append(vec![identified(1, "dora", "user-1", "2024-01-15T10:01:30Z"), identified(2, "ben", "user-3", "2024-01-15T09:01:00Z")]).await.unwrap();
    store.erase("shop", &Selector::User("user-1".into()), NOW, "test").await.unwrap();
    assert_eq!(identities(&s).await, [("ben".into(), "user-3".into(), utc("2024-01-15T09:01:00Z"))]);
    assert!(s.reads().person(&berlin(), &Selector::User("user-1".into())).await.unwrap().is_empty());
    s.close().await;
}

pub async fn visits_are_the_sessions_started_in_a_range_with_a_visit_dimensions_value(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    let (lo, hi) = days("2024-01-15", "2024-01-15").bounds(&berlin().time_zone);
    let reads = s.reads();
    let visits = |filters: &[(Dimension, &str)], dimension: Option<Dimension>| {
        let request = VisitsRequest { lo, hi, filters: filters_of(filters), dimension, places: true };
        async move { reads.visits(&berlin(), &request).await.unwrap() }
    };
    // Local Jan 15: A2 (00:10), B1, B2, D, C, by start.
    let all = visits(&[], Some(Dimension::Source)).await;
    let shape: Vec<(&str, &str, Option<&str>)> = all.iter().map(|v| (v.visitor_id.as_str(), v.session_id.as_str(), v.value.as_deref())).collect();
    let (a2, b1, b2, d, c) = (session(4), session(5), session(8), session(9), session(11));
    assert_eq!(
        shape,
        [
            ("anna", a2.as_str(), None),
            ("ben", b1.as_str(), Some("news.example")),
            ("ben", b2.as_str(), Some("news.example")),
            ("dora", d.as_str(), Some("Google")),
            ("carl", c.as_str(), Some("Google")),
        ]
    );
    assert_eq!((all[1].start_ts, all[1].end_ts), (utc("2024-01-15T09:00:00Z"), utc("2024-01-15T09:07:00Z")));
    assert_eq!((all[3].device.as_deref(), all[3].country.as_deref()), (Some("desktop"), Some("US")));
    // Filters as everywhere: visits with a signup (carl's, whose signup came after midnight).
    let signed = visits(&[(Dimension::Event, "signup")], None).await;
    assert_eq!(signed.iter().map(|v| (v.visitor_id.as_str(), v.session_id.as_str())).collect::<Vec<_>>(), [("carl", "")]);
    assert_eq!(signed[0].value, None);
    // An event dimension has no value per visit.
    let request = VisitsRequest { lo, hi, filters: vec![], dimension: Some(Dimension::Page), places: true };
    assert!(matches!(s.reads().visits(&berlin(), &request).await, Err(QueryError::BadRequest(_))));
    s.close().await;
}

pub async fn matches_mark_which_conditions_each_event_met_in_time_order(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    let (lo, hi) = days("2024-01-14", "2024-01-16").bounds(&berlin().time_zone);
    let conditions = vec![
        Condition::Page { pattern: "/pricing".into() },
        Condition::Event { name: "signup".into(), property: Some("plan".into()), value: Some("pro".into()) },
        Condition::Page { pattern: "/*o*".into() },
        Condition::Event { name: "$engagement".into(), property: None, value: None },
    ];
    let request = MatchRequest { lo, hi, filters: vec![], conditions: conditions.clone() };
    let found = s.reads().matches(&berlin(), &request).await.unwrap();
    let shape: Vec<(i64, &str, u64)> = found.iter().map(|m| (m.ts, m.visitor_id.as_str(), m.mask)).collect();
    let id = |n: u64| event(n).ts;
    // /pricing pageviews (bit 0), anna's pro signup (bit 1), paths with an `o`
    // after the first slash (bit 2: /blog, /docs; `/` has none), the engagement (bit 3).
    assert_eq!(
        shape,
        [
            (id(2), "anna", 1),
            (id(3), "anna", 2),
            (id(4), "anna", 4),
            (id(6), "ben", 4),
            (id(7), "ben", 8),
            (id(8), "ben", 4),
            (id(10), "dora", 1),
            (id(11), "carl", 1),
        ]
    );
    assert_eq!((found[0].session_id.clone(), found[0].ts), (session(1), utc("2024-01-14T22:40:00Z")));
    // Filters as everywhere: in Germany only (anna and carl).
    let german = MatchRequest { filters: filters_of(&[(Dimension::Country, "DE")]), ..request };
    let found = s.reads().matches(&berlin(), &german).await.unwrap();
    assert_eq!(found.iter().map(|m| m.visitor_id.as_str()).collect::<Vec<_>>(), ["anna", "anna", "anna", "carl"]);
    // A pattern's other characters are themselves, `.` included; a star matches nothing too.
    let literal = MatchRequest { lo, hi, filters: vec![], conditions: vec![Condition::Page { pattern: "/pric.ng".into() }, Condition::Page { pattern: "/docs*".into() }] };
    let found = s.reads().matches(&berlin(), &literal).await.unwrap();
    assert_eq!(found.iter().map(|m| (m.ts, m.mask)).collect::<Vec<_>>(), [(id(6), 2), (id(8), 2)]);
    s.close().await;
}

pub async fn matches_that_share_a_time_come_in_event_id_order(open: &impl Fn(&Path) -> Backend) {
    let dir = tempfile::tempdir().unwrap();
    let backend = open(dir.path());
    // One visitor's pageview and signup at the same millisecond: the
    // signup's id is the smaller, though it was stored second and sorts
    // after `$pageview` by name.
    let at = event(1);
    let pageview = StoredEvent { id: "00000000-0000-4000-8000-00000000000b".into(), path: "/pricing".into(), ..at.clone() };
    let signup = StoredEvent { id: "00000000-0000-4000-8000-00000000000a".into(), name: "signup".into(), ..at.clone() };
    backend.store.append(vec![pageview]).await.unwrap();
    backend.store.append(vec![signup]).await.unwrap();
    let conditions = vec![Condition::Page { pattern: "/pricing".into() }, Condition::Event { name: "signup".into(), property: None, value: None }];
    let request = MatchRequest { lo: at.ts, hi: at.ts + 1, filters: vec![], conditions };
    let found = backend.reads.matches(&berlin(), &request).await.unwrap();
    assert_eq!(found.iter().map(|m| (m.ts, m.mask)).collect::<Vec<_>>(), [(at.ts, 2), (at.ts, 1)]);
    backend.store.close().await;
}

pub async fn a_visitor_set_narrows_sessions_and_events_to_its_visitors(open: &impl Fn(&Path) -> Backend) {
    let s = seeded(open).await;
    let segment = Filter::visitors(["ben".to_owned(), "carl".to_owned()]);
    let request = OverviewRequest { period: days("2024-01-15", "2024-01-15"), interval: Interval::Day, filters: vec![segment.clone()], people: None };
    let overview = s.reads().overview(&berlin(), &request).await.unwrap();
    // B1, B2 and C; pageviews 5, 6, 8, 11 and the engagement (carl's signup is on Jan 16).
    assert_eq!(totals(&overview.current.totals), (2, 3, 4, 5, 1, 1.0 / 3.0, 200_000.0));
    assert_eq!(overview.current.people, 2, "not told who anyone is, people are visitors");
    // Told that ben and carl are one user (and a visitor of no session is another), they count once.
    let link = |v: &str, u: &str| crate::identity::Identity { visitor_id: v.into(), user_id: u.into(), since_ms: 0 };
    let people = std::sync::Arc::new(crate::identity::resolve([link("ben", "u1"), link("carl", "u1"), link("nobody", "u2")]));
    let told = OverviewRequest { people: Some(people.clone()), ..request.clone() };
    assert_eq!(s.reads().overview(&berlin(), &told).await.unwrap().current.people, 1);
    let everyone = OverviewRequest { filters: vec![], ..told };
    let figures = s.reads().overview(&berlin(), &everyone).await.unwrap().current;
    assert_eq!(figures.people, figures.totals.visitors - 1, "{figures:?}");
    let page = SessionsRequest { period: days("2024-01-15", "2024-01-15"), filters: vec![segment.clone()], page: 0, per_page: 10 };
    assert_eq!(s.reads().sessions(&berlin(), &page).await.unwrap().total, 3);
    // With the other filters: ben's only.
    let both = vec![segment.clone(), Filter::new(Dimension::Country, "FR")];
    let request = BreakdownRequest { period: days("2024-01-14", "2024-01-16"), dimension: Dimension::Page, filters: both, limit: 10 };
    let rows: Vec<(Option<String>, i64)> = s.reads().breakdown(&berlin(), &request).await.unwrap().rows.into_iter().map(|r| (r.value, r.count)).collect();
    assert_eq!(rows, [(Some("/docs".to_owned()), 2), (Some("/".to_owned()), 1)]);
    // An empty set keeps nothing.
    let none = OverviewRequest { period: days("2024-01-15", "2024-01-15"), interval: Interval::Day, filters: vec![Filter::visitors([])], people: None };
    assert_eq!(s.reads().overview(&berlin(), &none).await.unwrap().current.totals.sessions, 0);
    s.close().await;
}
