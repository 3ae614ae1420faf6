//! A saved segment on the live feed (`/api/live?segment=ID`): which
//! messages a segmented stream carries. This module is the policy; working
//! out and sharing the members is [`super::members`].
//!
//! Policy, what "member" means live:
//! - a member is a visitor the segment holds for over **today**, in the
//!   site's time zone by the collector's clock: the visitors the overview of
//!   today counts with `segment=ID` (`Queries::apply_segment`, rules in
//!   `crate::query::segments`). That set is worked out when the first stream
//!   of a site and segment opens, then again every
//!   `[dashboard] live_segment_refresh_seconds` (10 by default) while one is
//!   open, once for every stream watching the same site and segment; so a
//!   visitor who just did what the segment asks appears within that time;
//! - between two workings-out, an event that shows on its own that the
//!   segment holds admits its visitor at once, for their later events too,
//!   until a working-out begun after it decides (with `"match": "all"` each
//!   condition must be shown by the event, with `"any"` one). One event shows:
//!   a device, browser, OS, country or region it carries; a page (its path);
//!   the source, medium and UTM fields of the visit it opens, and the entry
//!   page when it opens it with a pageview (those are the visit's: a later
//!   event of the visit shows nothing about them); a `did` that it is (a
//!   pageview whose path matches, an event by name whose property has the
//!   value, compared as text as reports do); `identified` when it carries a
//!   user id; `sessions` of at least 1. The rest (at least 2 sessions, not
//!   identified, a `did` done earlier) waits for the next working-out;
//! - a segmented stream carries the stored events and session starts of
//!   members only (a session start with its first event, or not at all);
//!   duplicates and refusals belong to no visitor and are left out (the
//!   installation checker reads the site's whole stream);
//! - nobody leaves between two workings-out; one may leave at the next (an
//!   event admitted them, but over today the segment does not hold: a page
//!   seen in a visit that began yesterday);
//! - the counters beside the stream (`/api/query/realtime?segment=ID`,
//!   `Queries::realtime`) count the members over today too, worked out for
//!   each request rather than kept here.
//!
//! On ClickHouse a visit is made by the sessionizer, after the event: a
//! working-out sees an event once it is sessionized, and no session start
//! is published, so what only a visit's first event shows (its source,
//! medium, UTM fields, entry page) waits for a working-out there.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use crate::event::StoredEvent;
use crate::query::filter::{Dimension, Filter};
use crate::query::matching::{Condition, path_matches};
use crate::query::segments::{Combine, Segment, SegmentCondition};

use super::LiveMessage;

/// Visitors admitted by their events, remembered at most until the next
/// working-out (beyond this, an admitting event still passes, alone).
const MAX_ADMITTED: usize = 10_000;
/// Session starts held for their first event at most.
const MAX_OPENING: usize = 1_000;

/// One working-out of a segment's members.
#[derive(Debug)]
pub struct Membership {
    pub id: String,
    /// The segment as saved when this was worked out.
    pub segment: Segment,
    pub members: HashSet<String>,
    /// When the working-out began: it saw every event stored before.
    pub began: Instant,
}

/// What one segmented stream lets through (one per connection; the
/// membership is shared).
pub struct LiveSegment {
    membership: Arc<Membership>,
    /// Visitors an event admitted since, and when.
    admitted: HashMap<String, Instant>,
    /// Session starts waiting for their first event, by session id.
    opening: HashMap<String, LiveMessage>,
}

impl LiveSegment {
    pub fn new(membership: Arc<Membership>) -> LiveSegment {
        LiveSegment { membership, admitted: HashMap::new(), opening: HashMap::new() }
    }

    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    /// A new working-out: it decides for everyone admitted before it began.
    pub fn refreshed(&mut self, membership: Arc<Membership>) {
        self.admitted.retain(|_, at| *at >= membership.began);
        self.membership = membership;
    }

    /// The visitor is a member, or an event admitted them since.
    pub fn is_member(&self, visitor_id: &str) -> bool {
        self.membership.members.contains(visitor_id) || self.admitted.contains_key(visitor_id)
    }

    /// The messages `message` lets through, `now` being when it arrived:
    /// none, itself, or a held session start and its first event.
    pub fn pass(&mut self, message: LiveMessage, now: Instant) -> Vec<LiveMessage> {
        match message {
            LiveMessage::SessionStarted { ref session_id, .. } => {
                if self.opening.len() >= MAX_OPENING {
                    self.opening.clear();
                }
                self.opening.insert(session_id.clone(), message);
                Vec::new()
            }
            LiveMessage::Stored { event } => {
                let start = self.opening.remove(&event.session_id);
                let member = self.is_member(&event.visitor_id) || {
                    let shown = shows(&self.membership.segment, &event, start.is_some());
                    if shown && self.admitted.len() < MAX_ADMITTED {
                        self.admitted.insert(event.visitor_id.clone(), now);
                    }
                    shown
                };
                if !member {
                    return Vec::new();
                }
                start.into_iter().chain([LiveMessage::Stored { event }]).collect()
            }
            LiveMessage::Duplicate { .. } | LiveMessage::Rejected { .. } => Vec::new(),
        }
    }
}

/// Whether `event` alone shows that `segment` holds for its visitor;
/// `opens_visit` when it is the first event of its visit.
pub fn shows(segment: &Segment, event: &StoredEvent, opens_visit: bool) -> bool {
    if segment.conditions.is_empty() {
        return false;
    }
    let mut shown = segment.conditions.iter().map(|c| condition_shown(c, event, opens_visit));
    match segment.combine {
        Combine::All => shown.all(|s| s),
        Combine::Any => shown.any(|s| s),
    }
}

fn condition_shown(condition: &SegmentCondition, event: &StoredEvent, opens_visit: bool) -> bool {
    match condition {
        SegmentCondition::Dimension { dimension, value } => {
            let Ok(dimension) = Dimension::parse(dimension) else { return false };
            let wanted = Filter::new(dimension, value);
            carried(&wanted.dimension, event, opens_visit).is_some_and(|v| v == wanted.value)
        }
        SegmentCondition::Did { condition } => is(condition, event),
        SegmentCondition::Sessions { at_least } => *at_least <= 1,
        SegmentCondition::Identified { identified } => *identified && event.user_id.is_some(),
    }
}

/// The value of `dimension` that `event` shows (the inner `None`: shown
/// missing), or `None` when one event cannot tell.
fn carried(dimension: &Dimension, event: &StoredEvent, opens_visit: bool) -> Option<Option<String>> {
    use Dimension::*;
    let visit = |value: &Option<String>| opens_visit.then(|| value.clone());
    match dimension {
        Device => Some(event.device.clone()),
        Browser => Some(event.browser.clone()),
        Os => Some(event.os.clone()),
        Country => Some(event.country.clone()),
        Region => Some(event.region.clone()),
        City => Some(event.city.clone()),
        Page => Some(Some(event.path.clone())),
        EntryPage => (opens_visit && event.name == PAGEVIEW).then(|| Some(event.path.clone())),
        // The visit's source and medium are its first event's, by the session rule's own function.
        Source => opens_visit.then(|| crate::ingest::referrer::session_source(event).source),
        Medium => opens_visit.then(|| crate::ingest::referrer::session_source(event).medium),
        UtmSource => visit(&event.utm_source),
        UtmMedium => visit(&event.utm_medium),
        UtmCampaign => visit(&event.utm_campaign),
        UtmTerm => visit(&event.utm_term),
        UtmContent => visit(&event.utm_content),
        ExitPage | Referrer | Event | Property(_) | Visitors(_) => None,
    }
}

const PAGEVIEW: &str = "$pageview";

/// Whether `event` is what `condition` looks for.
fn is(condition: &Condition, event: &StoredEvent) -> bool {
    match condition {
        Condition::Page { pattern } => event.name == PAGEVIEW && path_matches(pattern, &event.path),
        Condition::Event { name, .. } => {
            *name == event.name
                && condition.property().is_none_or(|(key, value)| property_text(&event.props, key).as_deref() == Some(value))
        }
    }
}

/// A property's value as text, as reports compare it: a string as itself,
/// a number as written, a boolean as 1 or 0; a missing or null one is none.
fn property_text(props: &str, key: &str) -> Option<String> {
    let props: serde_json::Map<String, serde_json::Value> = serde_json::from_str(props).ok()?;
    match props.get(key)? {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_owned()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn segment(combine: Combine, conditions: Vec<SegmentCondition>) -> Segment {
        Segment { name: "s".into(), combine, conditions }
    }

    fn dimension(name: &str, value: &str) -> SegmentCondition {
        SegmentCondition::Dimension { dimension: name.into(), value: value.into() }
    }

    fn did(name: &str) -> SegmentCondition {
        SegmentCondition::Did { condition: Condition::Event { name: name.into(), property: None, value: None } }
    }

    fn event(visitor: &str, name: &str, device: &str) -> StoredEvent {
        StoredEvent {
            site: "shop".into(),
            id: format!("{visitor}-{name}"),
            name: name.into(),
            session_id: format!("S-{visitor}"),
            visitor_id: visitor.into(),
            path: "/pricing".into(),
            props: r#"{"plan":"pro","seats":3,"trial":true}"#.into(),
            device: Some(device.into()),
            source: Some("Google".into()),
            ..StoredEvent::default()
        }
    }

    fn membership(segment: Segment, members: &[&str], began: Instant) -> Arc<Membership> {
        Arc::new(Membership { id: "seg".into(), segment, members: members.iter().map(|m| (*m).to_owned()).collect(), began })
    }

    fn stored(event: StoredEvent) -> LiveMessage {
        LiveMessage::Stored { event }
    }

    fn names(messages: &[LiveMessage]) -> Vec<String> {
        messages
            .iter()
            .map(|m| match m {
                LiveMessage::Stored { event } => event.id.clone(),
                LiveMessage::SessionStarted { visitor_id, .. } => format!("start {visitor_id}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn members_events_pass_and_others_do_not_and_refusals_never_do() {
        let now = Instant::now();
        let mut live = LiveSegment::new(membership(segment(Combine::All, vec![did("add_to_cart")]), &["ann"], now));
        assert_eq!(names(&live.pass(stored(event("ann", "$pageview", "desktop")), now)), ["ann-$pageview"]);
        assert!(live.pass(stored(event("bob", "$pageview", "desktop")), now).is_empty());
        let refused = LiveMessage::Rejected { site: "shop".into(), index: 0, id: "x".into(), reason: "r".into(), message: "m".into() };
        assert!(live.pass(refused, now).is_empty());
        assert!(live.pass(LiveMessage::Duplicate { site: "shop".into(), id: "x".into() }, now).is_empty());
    }

    #[test]
    fn an_event_that_is_the_behaviour_admits_its_visitor_at_once_for_their_later_events_too() {
        let now = Instant::now();
        let cart = segment(Combine::All, vec![dimension("device", "mobile"), did("add_to_cart")]);
        let mut live = LiveSegment::new(membership(cart.clone(), &[], now));
        assert!(live.pass(stored(event("bob", "$pageview", "mobile")), now).is_empty(), "a mobile visitor who did not add to cart yet");
        assert!(live.pass(stored(event("cy", "add_to_cart", "desktop")), now).is_empty(), "a desktop visitor is not in it");
        let later = now + Duration::from_secs(1);
        assert_eq!(names(&live.pass(stored(event("bob", "add_to_cart", "mobile")), later)), ["bob-add_to_cart"]);
        assert_eq!(names(&live.pass(stored(event("bob", "$pageview", "mobile")), later)), ["bob-$pageview"]);
        // A working-out begun before the admission does not undo it; one begun after decides.
        live.refreshed(membership(cart.clone(), &[], now));
        assert!(live.is_member("bob"));
        live.refreshed(membership(cart, &[], later + Duration::from_secs(1)));
        assert!(!live.is_member("bob"));
    }

    #[test]
    fn a_session_start_passes_with_its_first_event_or_not_at_all() {
        let now = Instant::now();
        let mut live = LiveSegment::new(membership(segment(Combine::All, vec![dimension("source", "Google")]), &[], now));
        for visitor in ["ann", "bob"] {
            let start = LiveMessage::SessionStarted { site: "shop".into(), session_id: format!("S-{visitor}"), visitor_id: visitor.into(), ts: 0 };
            assert!(live.pass(start, now).is_empty());
        }
        // ann's visit opens from Google: her start and first event pass.
        assert_eq!(names(&live.pass(stored(event("ann", "$pageview", "desktop")), now)), ["start ann", "ann-$pageview"]);
        // bob's first event came from elsewhere: neither passes.
        let mut direct = event("bob", "$pageview", "desktop");
        direct.source = Some("Bing".into());
        assert!(live.pass(stored(direct), now).is_empty());
        // A later event of a visit says nothing of where the visit came from.
        assert!(live.pass(stored(event("cy", "$pageview", "desktop")), now).is_empty());
    }

    #[test]
    fn what_one_event_shows_of_each_kind_of_condition() {
        let e = event("ann", "signup", "mobile");
        let one = |c: SegmentCondition, opens: bool| shows(&segment(Combine::All, vec![c]), &e, opens);
        assert!(one(dimension("device", "mobile"), false) && !one(dimension("device", "desktop"), false));
        assert!(one(dimension("page", "/pricing"), false));
        assert!(one(dimension("country", "(none)"), false), "a missing country is `(none)`");
        assert!(!one(dimension("entry_page", "/pricing"), true), "a visit's entry page is its first pageview");
        assert!(one(dimension("utm_campaign", "(none)"), true) && !one(dimension("utm_campaign", "(none)"), false));
        let with = |property: &str, value: &str| SegmentCondition::Did {
            condition: Condition::Event { name: "signup".into(), property: Some(property.into()), value: Some(value.into()) },
        };
        assert!(one(with("plan", "pro"), false) && one(with("seats", "3"), false) && one(with("trial", "1"), false));
        assert!(!one(with("plan", "free"), false) && !one(with("missing", "x"), false));
        let page = |pattern: &str| SegmentCondition::Did { condition: Condition::Page { pattern: pattern.into() } };
        assert!(!one(page("/pricing"), false), "a custom event is not a pageview");
        assert!(shows(&segment(Combine::All, vec![page("/pri*")]), &event("ann", "$pageview", "mobile"), false));
        assert!(one(SegmentCondition::Sessions { at_least: 1 }, false) && !one(SegmentCondition::Sessions { at_least: 2 }, false));
        assert!(!one(SegmentCondition::Identified { identified: true }, false));
        assert!(!one(SegmentCondition::Identified { identified: false }, false), "a later link may identify them");
        let mut known = e.clone();
        known.user_id = Some("ann-1".into());
        assert!(shows(&segment(Combine::All, vec![SegmentCondition::Identified { identified: true }]), &known, false));
        // "any": one condition shown is enough.
        let any = segment(Combine::Any, vec![SegmentCondition::Sessions { at_least: 3 }, dimension("device", "mobile")]);
        assert!(shows(&any, &e, false));
        assert!(!shows(&segment(Combine::All, vec![SegmentCondition::Sessions { at_least: 3 }, dimension("device", "mobile")]), &e, false));
    }
}
