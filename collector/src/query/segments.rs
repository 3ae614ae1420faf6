//! Segments: a saved, named set of conditions on visitors, applied to a
//! report (`segment=ID`) as "only these visitors".
//!
//! Policy:
//! - a visitor is in a segment for a report's period when the conditions
//!   hold over that period, all of them (`"match": "all"`, the default) or
//!   at least one (`"any"`);
//! - a dimension condition (device, browser, OS, country, region, source,
//!   medium, UTM fields, entry page, page) holds when one of the visitor's
//!   visits in the period has that value (for page: viewed that page);
//! - `did` holds when one of the visitor's events in the period matches
//!   (an event by name, with property = value when given, or a pageview
//!   matching a path pattern); `sessions` when they had at least that many
//!   visits in the period; `identified` when the link log links the
//!   visitor to a user (or, false, when it does not);
//! - applied, a segment keeps the sessions and events of its visitors: the
//!   report's filters still hold on top;
//! - right now (the live stream, the realtime figures), the period is
//!   today in the site's time zone ([`live_period`]).

use std::collections::{BTreeSet, HashMap};

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::QueryError;
use super::filter::{Dimension, Filter};
use super::matching::{Condition, Match, Visit};
use super::period::Period;
use crate::identity::People;

/// The period a segment's members are worked out over right now, `now_ms`
/// by the collector's clock: today, in the site's time zone.
pub fn live_period(now_ms: i64, tz: &TimeZone) -> Period {
    Period::last_days(1, now_ms, tz)
}

/// Conditions one segment holds at most.
pub const MAX_CONDITIONS: usize = 20;

/// The JSON a segment is sent as, for error messages.
pub const SHAPE: &str = r#"{"name": …, "match": "all" | "any", "conditions": [{"kind": "dimension", "dimension": "country", "value": "DE"} | {"kind": "did", "condition": {"kind": "event", "name": "add_to_cart"}} | {"kind": "sessions", "at_least": 2} | {"kind": "identified", "identified": true}]}"#;

/// The dimensions a segment's dimension condition may name.
const DIMENSIONS: &[&str] = &[
    "device", "browser", "os", "country", "region", "source", "medium", "utm_source", "utm_medium", "utm_campaign", "utm_term",
    "utm_content", "entry_page", "page",
];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    #[default]
    All,
    Any,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SegmentCondition {
    Dimension { dimension: String, value: String },
    Did { condition: Condition },
    Sessions { at_least: i64 },
    Identified { identified: bool },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    pub name: String,
    #[serde(default, rename = "match")]
    pub combine: Combine,
    pub conditions: Vec<SegmentCondition>,
}

impl Segment {
    pub fn check(&self) -> Result<(), QueryError> {
        if self.name.trim().is_empty() {
            return Err(QueryError::BadRequest("a segment needs a `name`".into()));
        }
        if self.conditions.is_empty() || self.conditions.len() > MAX_CONDITIONS {
            return Err(QueryError::BadRequest(format!("a segment has 1 to {MAX_CONDITIONS} conditions")));
        }
        for c in &self.conditions {
            match c {
                SegmentCondition::Dimension { dimension, .. } if !DIMENSIONS.contains(&dimension.as_str()) => {
                    return Err(QueryError::BadRequest(format!(
                        "a segment's dimension is one of {}, got {dimension:?}",
                        DIMENSIONS.join(", ")
                    )));
                }
                SegmentCondition::Did { condition } => condition.check()?,
                SegmentCondition::Sessions { at_least } if *at_least < 1 => {
                    return Err(QueryError::BadRequest(format!("`at_least` is 1 or more, got {at_least}")));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The filters of each dimension condition, in order.
    pub fn dimension_filters(&self) -> Result<Vec<Filter>, QueryError> {
        self.conditions
            .iter()
            .filter_map(|c| match c {
                SegmentCondition::Dimension { dimension, value } => Some(Dimension::parse(dimension).map(|d| Filter::new(d, value))),
                _ => None,
            })
            .collect()
    }

    /// The event conditions of each `did`, in order.
    pub fn did_conditions(&self) -> Vec<Condition> {
        self.conditions
            .iter()
            .filter_map(|c| match c {
                SegmentCondition::Did { condition } => Some(condition.clone()),
                _ => None,
            })
            .collect()
    }
}

/// What the segment's conditions are decided from, over one period.
pub struct Evidence<'a> {
    /// Every visit of the period (no filters); read only for a segment
    /// with `sessions` or `identified` conditions, empty otherwise.
    pub visits: &'a [Visit],
    /// For each dimension condition in order, the visitors of the visits with its value.
    pub by_dimension: Vec<BTreeSet<String>>,
    /// The period's events matching the `did` conditions (bit `i` = the `i`th).
    pub matches: &'a [Match],
    /// The link log resolved; as `visits`, only when a condition needs it.
    pub people: &'a People,
}

/// The visitors in the segment over the period.
pub fn members(segment: &Segment, evidence: &Evidence<'_>) -> BTreeSet<String> {
    let all: BTreeSet<&str> = evidence.visits.iter().map(|v| v.visitor_id.as_str()).collect();
    let mut sessions: HashMap<&str, i64> = HashMap::new();
    for v in evidence.visits {
        *sessions.entry(&v.visitor_id).or_default() += 1;
    }
    let (mut dimension, mut did) = (0, 0);
    let sets: Vec<BTreeSet<String>> = segment
        .conditions
        .iter()
        .map(|c| match c {
            SegmentCondition::Dimension { .. } => {
                dimension += 1;
                evidence.by_dimension[dimension - 1].clone()
            }
            SegmentCondition::Did { .. } => {
                did += 1;
                let bit = did - 1;
                evidence.matches.iter().filter(|m| m.matches(bit)).map(|m| m.visitor_id.clone()).collect()
            }
            SegmentCondition::Sessions { at_least } => {
                sessions.iter().filter(|(_, n)| **n >= *at_least).map(|(v, _)| (*v).to_owned()).collect()
            }
            SegmentCondition::Identified { identified } => {
                all.iter().filter(|v| evidence.people.user_of(v).is_some() == *identified).map(|v| (*v).to_owned()).collect()
            }
        })
        .collect();
    let mut sets = sets.into_iter();
    let first = sets.next().unwrap_or_default();
    sets.fold(first, |acc, set| match segment.combine {
        Combine::All => acc.intersection(&set).cloned().collect(),
        Combine::Any => acc.union(&set).cloned().collect(),
    })
}
