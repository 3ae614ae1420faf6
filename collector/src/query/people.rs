//! People: visitors joined by the identity link log ([`crate::identity`]).
//! The list of people active in a period, one person's journey across
//! devices, and the count of people an overview shows beside visitors.
//!
//! Policy:
//! - a person is active in a period when one of their visits (sessions)
//!   started in it and passes the filters; first and last seen are the
//!   first visit's start and the last visit's end among those;
//! - `devices` are the person's visitor ids (a browser on a device each),
//!   with the device types and countries they came with;
//! - search matches identified people whose user id contains the text,
//!   ignoring case; listed by last seen, latest first, then by key;
//! - a journey is every session of every visitor the user was ever linked
//!   to (as erasure and export take them), in time order, each with its
//!   events: one person's visits across devices.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::filter::{Dimension, Filter};
use super::period::Period;
use super::person::PersonData;
use super::table::{Table, cell};
use crate::event::StoredEvent;
use crate::identity::{People, Person};
use crate::query::matching::Visit;
use crate::sessions::Session;

/// People one page holds at most.
pub const MAX_PER_PAGE: usize = 500;

#[derive(Debug, Clone)]
pub struct PeopleRequest {
    pub period: Period,
    pub filters: Vec<Filter>,
    /// Only identified people whose user id contains this (any case).
    pub search: Option<String>,
    pub page: usize,
    pub per_page: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonRow {
    /// `user:ID` or `visitor:ID`.
    pub key: String,
    pub user_id: Option<String>,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub sessions: i64,
    /// The visitor ids: one per browser and device.
    pub visitors: Vec<String>,
    /// Device types (`desktop`, `mobile`, …), each once.
    pub devices: Vec<String>,
    pub countries: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeoplePage {
    pub total: i64,
    pub page: usize,
    pub per_page: usize,
    pub people: Vec<PersonRow>,
}

impl PeopleRequest {
    pub fn per_page(&self) -> usize {
        self.per_page.clamp(1, MAX_PER_PAGE)
    }
}

/// The page of people the request asks for, from the period's visits.
pub fn list(request: &PeopleRequest, visits: &[Visit], people: &People) -> PeoplePage {
    let search = request.search.as_deref().map(str::to_lowercase).filter(|s| !s.is_empty());
    let mut rows: BTreeMap<Person<'_>, PersonRow> = BTreeMap::new();
    for v in visits {
        let person = people.person(&v.visitor_id);
        if let Some(search) = &search {
            match person {
                Person::User(u) if u.to_lowercase().contains(search.as_str()) => {}
                _ => continue,
            }
        }
        let row = rows.entry(person.clone()).or_insert_with(|| PersonRow {
            key: person.key(),
            user_id: match person {
                Person::User(u) => Some(u.to_owned()),
                Person::Visitor(_) => None,
            },
            first_seen_ms: v.start_ts,
            last_seen_ms: v.end_ts,
            sessions: 0,
            visitors: Vec::new(),
            devices: Vec::new(),
            countries: Vec::new(),
        });
        row.first_seen_ms = row.first_seen_ms.min(v.start_ts);
        row.last_seen_ms = row.last_seen_ms.max(v.end_ts);
        row.sessions += 1;
        add_once(&mut row.visitors, &v.visitor_id);
        if let Some(d) = &v.device {
            add_once(&mut row.devices, d);
        }
        if let Some(c) = &v.country {
            add_once(&mut row.countries, c);
        }
    }
    let mut rows: Vec<PersonRow> = rows.into_values().collect();
    rows.sort_by(|a, b| b.last_seen_ms.cmp(&a.last_seen_ms).then_with(|| a.key.cmp(&b.key)));
    let per_page = request.per_page();
    let total = rows.len() as i64;
    let people = rows.into_iter().skip(request.page.saturating_mul(per_page)).take(per_page).collect();
    PeoplePage { total, page: request.page, per_page, people }
}

fn add_once(list: &mut Vec<String>, value: &str) {
    if !list.iter().any(|v| v == value) {
        list.push(value.to_owned());
        list.sort();
    }
}

/// The distinct people among distinct `visitors`: each linked to a user
/// counts as that user, every other visitor as itself.
pub fn count<'a>(visitors: impl IntoIterator<Item = &'a str>, people: &People) -> i64 {
    let mut users: foldhash::HashSet<&str> = foldhash::HashSet::default();
    let mut unlinked = 0;
    for visitor in visitors {
        match people.user_of(visitor) {
            Some(user) => {
                users.insert(user);
            }
            None => unlinked += 1,
        }
    }
    unlinked + users.len() as i64
}

/// The people among `visitors` distinct visitors, from the visits of those
/// of them ever linked to a user: each linked visitor counts as its user,
/// every other visitor as itself. So a report reads only its linked
/// visitors' visits (none on a site that never identifies anyone), not
/// every visit of its period again.
pub fn count_from_linked(visitors: i64, linked_visits: &[Visit], people: &People) -> i64 {
    let linked: BTreeSet<&str> = linked_visits.iter().map(|v| v.visitor_id.as_str()).collect();
    let users: BTreeSet<&str> = linked.iter().filter_map(|v| people.user_of(v)).collect();
    visitors - linked.len() as i64 + users.len() as i64
}

/// One visit of a journey, with its events in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JourneyVisit {
    #[serde(flatten)]
    pub session: Session,
    pub events: Vec<StoredEvent>,
}

/// One person's visits across their devices, in time order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonJourney {
    pub user_id: Option<String>,
    pub visitors: Vec<String>,
    pub first_seen_ms: Option<i64>,
    pub last_seen_ms: Option<i64>,
    pub visits: Vec<JourneyVisit>,
}

impl PersonJourney {
    /// The journey from a person's stored data (sessions by start, events by time).
    pub fn of(user_id: Option<String>, data: PersonData) -> PersonJourney {
        let PersonData { visitors, sessions, events, .. } = data;
        let mut by_session: BTreeMap<String, Vec<StoredEvent>> = BTreeMap::new();
        for e in events {
            by_session.entry(e.session_id.clone()).or_default().push(e);
        }
        let visits: Vec<JourneyVisit> = sessions
            .into_iter()
            .map(|session| JourneyVisit { events: by_session.remove(&session.id).unwrap_or_default(), session })
            .collect();
        PersonJourney {
            user_id,
            visitors,
            first_seen_ms: visits.iter().map(|v| v.session.start_ts).min(),
            last_seen_ms: visits.iter().map(|v| v.session.end_ts).max(),
            visits,
        }
    }
}

impl Table for PeoplePage {
    fn columns(&self) -> Vec<&'static str> {
        vec!["key", "user_id", "first_seen_ms", "last_seen_ms", "sessions", "visitors", "devices", "countries"]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.people
            .iter()
            .map(|p| {
                vec![
                    p.key.clone(), cell(&p.user_id), p.first_seen_ms.to_string(), p.last_seen_ms.to_string(), p.sessions.to_string(),
                    p.visitors.join(";"), p.devices.join(";"), p.countries.join(";"),
                ]
            })
            .collect()
    }
}

/// As CSV: one row per event, with its visit and device.
impl Table for PersonJourney {
    fn columns(&self) -> Vec<&'static str> {
        vec!["session_id", "visitor_id", "device", "ts", "name", "path", "url"]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.visits
            .iter()
            .flat_map(|v| {
                v.events.iter().map(|e| {
                    vec![v.session.id.clone(), e.visitor_id.clone(), cell(&e.device), e.ts.to_string(), e.name.clone(), e.path.clone(), e.url.clone()]
                })
            })
            .collect()
    }
}

/// `filters` narrowed to the visitors ever linked to a user: what the
/// people figure reads (see [`count_from_linked`]); `None`
/// when none of the visitors `filters` keep is linked. A list of visitors
/// among `filters` (a segment's) is intersected with the linked ones, so
/// that one short list is read instead of two long ones.
pub fn linked_filters(filters: &[Filter], people: &People) -> Option<Vec<Filter>> {
    let mut narrowed = Vec::new();
    let mut lists: Vec<foldhash::HashSet<&str>> = Vec::new();
    for f in filters {
        match &f.dimension {
            Dimension::Visitors(ids) => lists.push(ids.iter().map(String::as_str).collect()),
            _ => narrowed.push(f.clone()),
        }
    }
    let kept = |visitor: &str| lists.iter().all(|list| list.contains(visitor));
    let mut linked: Vec<String> = people.linked_visitors().filter(|v| kept(v)).map(str::to_owned).collect();
    if linked.is_empty() {
        return None;
    }
    linked.sort_unstable();
    narrowed.push(Filter::visitors(linked));
    Some(narrowed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{Identity, resolve};

    fn visit(visitor: &str) -> Visit {
        Visit { visitor_id: visitor.into(), session_id: String::new(), start_ts: 0, end_ts: 0, device: None, country: None, value: None }
    }

    #[test]
    fn people_from_the_linked_visits_alone_are_the_distinct_persons_of_every_visit() {
        let link = |v: &str, u: &str| Identity { visitor_id: v.into(), user_id: u.into(), since_ms: 0 };
        // ann on two devices, bob on one (not active), two anonymous visitors.
        let people = resolve([link("a1", "ann"), link("a2", "ann"), link("b1", "bob")]);
        let visits: Vec<Visit> = ["a1", "a2", "a2", "x", "y", "x"].into_iter().map(visit).collect();
        let every: BTreeSet<_> = visits.iter().map(|v| people.person(&v.visitor_id)).collect();
        let visitors = visits.iter().map(|v| v.visitor_id.as_str()).collect::<BTreeSet<_>>().len() as i64;
        let linked: Vec<Visit> = visits.iter().filter(|v| people.user_of(&v.visitor_id).is_some()).cloned().collect();
        assert_eq!(count_from_linked(visitors, &linked, &people), every.len() as i64);
        assert_eq!(count(visits.iter().map(|v| v.visitor_id.as_str()).collect::<BTreeSet<_>>(), &people), every.len() as i64);
        assert_eq!(every.len(), 3);
    }

    fn people(links: &[(&str, &str)]) -> People {
        resolve(links.iter().map(|(v, u)| Identity { visitor_id: (*v).into(), user_id: (*u).into(), since_ms: 0 }))
    }

    fn visitors(ids: &[&str]) -> Filter {
        Filter::visitors(ids.iter().map(|v| (*v).to_owned()))
    }

    #[test]
    fn the_people_figure_reads_the_linked_visitors_among_a_segments_only() {
        let people = people(&[("b", "user-1"), ("d", "user-2"), ("e", "user-2")]);
        let country = Filter::new(Dimension::Country, "DE");
        assert_eq!(linked_filters(&[country.clone()], &people), Some(vec![country.clone(), visitors(&["b", "d", "e"])]));
        assert_eq!(
            linked_filters(&[visitors(&["a", "b", "c", "e"]), country.clone(), visitors(&["e", "b", "x"])], &people),
            Some(vec![country.clone(), visitors(&["b", "e"])])
        );
        assert_eq!(linked_filters(&[country, visitors(&["a", "c"])], &people), None, "no member is linked: people are visitors");
        assert_eq!(linked_filters(&[], &People::default()), None);
    }
}
