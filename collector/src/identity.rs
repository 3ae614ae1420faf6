//! Identity: which visitors are one person.
//!
//! Policy, in one place:
//! - `identify(userId)` (the SDK, a server sender, a Segment `identify` or
//!   `alias`) makes the visitor's events carry the user id. The pipeline
//!   appends a [`Link`] visitor → user for each visitor and user id a
//!   group's new events carry ([`links_of`]): the link log. Stored events
//!   are never rewritten; every read resolves the log when it runs.
//! - The link covers the whole visitor, so the events it sent before the
//!   identify belong to the person too, in the same visit: identify starts
//!   no new visitor and no new session.
//! - `reset()` ends the link on that device: the SDK starts a new visitor
//!   (and session) with no user, which nothing links until it identifies.
//! - A person is every visitor linked to one user id; a visitor never
//!   linked is a person of its own. A visitor linked to several users (a
//!   shared device identified twice without a reset) counts for the first
//!   ([`resolve`]: earliest link, then the smaller user id), so that each
//!   visitor is one person in every count; a user's journey, export and
//!   erasure take every visitor ever linked to them.

use std::collections::HashMap;

use serde::Serialize;

use crate::event::StoredEvent;

/// One entry of the link log: `visitor_id` was seen as `user_id` from `ts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Link {
    pub site: String,
    pub visitor_id: String,
    pub user_id: String,
    /// The earliest event of the visitor carrying the user id, in the group that wrote it.
    pub ts: i64,
    /// That event's id.
    pub event_id: String,
}

/// The links a group's new events make: one per site, visitor and user id,
/// at the earliest such event, in (site, visitor, user) order.
pub fn links_of<'a>(events: impl IntoIterator<Item = &'a StoredEvent>) -> Vec<Link> {
    let mut earliest: HashMap<(&str, &str, &str), (i64, &str)> = HashMap::new();
    for e in events {
        let Some(user) = e.user_id.as_deref().filter(|u| !u.is_empty()) else { continue };
        let entry = earliest.entry((&e.site, &e.visitor_id, user)).or_insert((e.ts, &e.id));
        if (e.ts, e.id.as_str()) < *entry {
            *entry = (e.ts, &e.id);
        }
    }
    let mut links: Vec<Link> = earliest
        .into_iter()
        .map(|((site, visitor, user), (ts, id))| Link {
            site: site.to_owned(),
            visitor_id: visitor.to_owned(),
            user_id: user.to_owned(),
            ts,
            event_id: id.to_owned(),
        })
        .collect();
    links.sort_by(|a, b| (&a.site, &a.visitor_id, &a.user_id).cmp(&(&b.site, &b.visitor_id, &b.user_id)));
    links
}

/// A visitor and the user it counts for: its earliest link, then the
/// smaller user id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Identity {
    pub visitor_id: String,
    pub user_id: String,
    /// When the visitor was first seen as that user.
    pub since_ms: i64,
}

/// Each linked visitor's user, from any number of link rows (a backend may
/// hand over the log as stored, repeats included).
pub fn resolve(links: impl IntoIterator<Item = Identity>) -> People {
    let mut first: HashMap<String, (i64, String)> = HashMap::new();
    for link in links {
        match first.get_mut(&link.visitor_id) {
            Some(best) if (link.since_ms, &link.user_id) < (best.0, &best.1) => *best = (link.since_ms, link.user_id),
            Some(_) => {}
            None => {
                first.insert(link.visitor_id, (link.since_ms, link.user_id));
            }
        }
    }
    People { user_of: first.into_iter().map(|(visitor, (_, user))| (visitor, user)).collect() }
}

/// The link log resolved: who each visitor is.
#[derive(Debug, Clone, Default)]
pub struct People {
    /// Looked up once per row an analysis counts: a hash fast on short strings.
    user_of: foldhash::HashMap<String, String>,
}

/// One person: an identified user, or a visitor never linked.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Person<'a> {
    User(&'a str),
    Visitor(&'a str),
}

impl People {
    /// The user a visitor counts for, if it was ever identified.
    pub fn user_of(&self, visitor: &str) -> Option<&str> {
        self.user_of.get(visitor).map(String::as_str)
    }

    /// Every visitor ever linked to a user.
    pub fn linked_visitors(&self) -> impl Iterator<Item = &str> {
        self.user_of.keys().map(String::as_str)
    }

    /// The person a visitor is.
    pub fn person<'a>(&'a self, visitor: &'a str) -> Person<'a> {
        match self.user_of(visitor) {
            Some(user) => Person::User(user),
            None => Person::Visitor(visitor),
        }
    }
}

impl Person<'_> {
    /// A key that names the person among every site's people: `user:ID` or `visitor:ID`.
    pub fn key(&self) -> String {
        match self {
            Person::User(u) => format!("user:{u}"),
            Person::Visitor(v) => format!("visitor:{v}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(visitor: &str, user: Option<&str>, ts: i64, id: &str) -> StoredEvent {
        StoredEvent { site: "s".into(), visitor_id: visitor.into(), user_id: user.map(Into::into), ts, id: id.into(), ..StoredEvent::default() }
    }

    #[test]
    fn a_group_links_each_visitor_to_each_user_it_carries_once_at_the_earliest_event() {
        let events = [event("v1", Some("u"), 30, "c"), event("v1", Some("u"), 10, "b"), event("v1", None, 5, "a"), event("v2", Some("u"), 7, "d")];
        let links = links_of(&events);
        assert_eq!(links.len(), 2);
        assert_eq!((links[0].visitor_id.as_str(), links[0].ts, links[0].event_id.as_str()), ("v1", 10, "b"));
        assert_eq!((links[1].visitor_id.as_str(), links[1].user_id.as_str()), ("v2", "u"));
    }

    #[test]
    fn a_visitor_identified_as_two_users_counts_for_the_first_and_unlinked_visitors_are_their_own_person() {
        let identity = |v: &str, u: &str, since_ms| Identity { visitor_id: v.into(), user_id: u.into(), since_ms };
        let people = resolve([identity("shared", "zoe", 20), identity("shared", "adam", 10), identity("shared", "adam", 40), identity("phone", "zoe", 5)]);
        assert_eq!(people.person("shared"), Person::User("adam"));
        assert_eq!(people.person("phone"), Person::User("zoe"));
        assert_eq!(people.person("stranger"), Person::Visitor("stranger"));
        assert_eq!(people.person("stranger").key(), "visitor:stranger");
    }
}
