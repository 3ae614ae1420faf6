//! Goals: named conversions (a pageview matching a path pattern, or an
//! event with an optional property value), counted in the overview and in
//! each row of a breakdown by a visit dimension.
//!
//! Policy:
//! - a visitor converts in a period when one of their events in it
//!   matches the goal; `conversions` counts those visitors (each once),
//!   `events` the matching events, `rate` is conversions / the period's
//!   visitors (of the report: same filters);
//! - in a breakdown row (a visit dimension: source, country, …) a visitor
//!   converts when the matching event happened in a visit with the row's
//!   value, and the rate is over the row's visitors; breakdowns by an event
//!   dimension (page, event, property) carry no goals.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::QueryError;
use super::matching::{Condition, Match};
use super::ratio;

/// Goals one site may keep.
pub const MAX_GOALS: usize = super::matching::MAX_CONDITIONS;

/// A goal as saved: its name and what converts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Goal {
    /// Given by the collector when saved.
    #[serde(default)]
    pub id: String,
    pub name: String,
    pub condition: Condition,
}

impl Goal {
    pub fn check(&self) -> Result<(), QueryError> {
        if self.name.trim().is_empty() {
            return Err(QueryError::BadRequest("a goal needs a `name`".into()));
        }
        self.condition.check()
    }
}

/// One goal's figures in a period or a breakdown row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoalFigures {
    pub id: String,
    pub name: String,
    /// Visitors who converted, each once.
    pub conversions: i64,
    /// Matching events.
    pub events: i64,
    /// Conversions / visitors.
    pub rate: f64,
}

/// Each goal's figures from the period's matched events (bit `i` = goal
/// `i`) over `visitors`.
pub fn figures(goals: &[Goal], matches: &[Match], visitors: i64) -> Vec<GoalFigures> {
    goals
        .iter()
        .enumerate()
        .map(|(i, goal)| {
            let hits: Vec<&Match> = matches.iter().filter(|m| m.matches(i)).collect();
            let converted: BTreeSet<&str> = hits.iter().map(|m| m.visitor_id.as_str()).collect();
            GoalFigures {
                id: goal.id.clone(),
                name: goal.name.clone(),
                conversions: converted.len() as i64,
                events: hits.len() as i64,
                rate: ratio(converted.len() as i64, visitors),
            }
        })
        .collect()
}

/// Each goal's figures per breakdown value: `value_of` maps a session to
/// its row's value, `visitors_of` a value to the row's visitors.
pub fn by_value(
    goals: &[Goal],
    matches: &[Match],
    value_of: &HashMap<String, Option<String>>,
    visitors_of: &HashMap<Option<String>, i64>,
) -> HashMap<Option<String>, Vec<GoalFigures>> {
    let mut rows: HashMap<Option<String>, Vec<Match>> = HashMap::new();
    for m in matches {
        if let Some(value) = value_of.get(&m.session_id) {
            rows.entry(value.clone()).or_default().push(m.clone());
        }
    }
    visitors_of
        .iter()
        .map(|(value, &visitors)| {
            let hits = rows.get(value).map(Vec::as_slice).unwrap_or_default();
            (value.clone(), figures(goals, hits, visitors))
        })
        .collect()
}
