//! Breakdowns: the top values of one dimension in a period. Session
//! dimensions count sessions (with their visitors and bounce rate); pages
//! count pageviews; event names and property values count events. Rows come
//! by count, highest first, then by value; at most the request's limit
//! (and never more than [`MAX_LIMIT`]).

use serde::Serialize;

use super::filter::{Dimension, Filter, Level};
use super::period::Period;
use super::ratio;
use super::table::{Table, cell};

/// Rows one breakdown returns at most.
pub const MAX_LIMIT: usize = 1000;

#[derive(Debug, Clone)]
pub struct BreakdownRequest {
    pub period: Period,
    pub dimension: Dimension,
    pub filters: Vec<Filter>,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// `None` when the value is missing (shown as `(none)`).
    pub value: Option<String>,
    pub visitors: i64,
    /// What `metric` names: sessions, pageviews or events.
    pub count: i64,
    /// For session dimensions only.
    pub bounce_rate: Option<f64>,
    /// The site's goals among the row's visitors, for visit dimensions
    /// (filled by `Queries`, none from a backend).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub goals: Vec<super::goals::GoalFigures>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breakdown {
    pub dimension: String,
    pub metric: &'static str,
    pub rows: Vec<Row>,
}

impl BreakdownRequest {
    /// The rows to return at most.
    pub fn limit(&self) -> usize {
        self.limit.min(MAX_LIMIT)
    }

    /// What the rows count: sessions, pageviews or events.
    pub fn metric(&self) -> &'static str {
        match (self.dimension.level(), &self.dimension) {
            (Level::Session, _) => "sessions",
            (Level::Event, Dimension::Page) => "pageviews",
            (Level::Event, _) => "events",
        }
    }
}

impl Row {
    /// A row from what a backend counted; `bounces` for session dimensions only.
    pub fn new(value: Option<String>, visitors: i64, count: i64, bounces: Option<i64>) -> Row {
        Row { value, visitors, count, bounce_rate: bounces.map(|b| ratio(b, count)), goals: Vec::new() }
    }
}

impl Table for Breakdown {
    fn columns(&self) -> Vec<&'static str> {
        vec!["value", "visitors", self.metric, "bounce_rate"]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|r| vec![cell(&r.value), r.visitors.to_string(), r.count.to_string(), cell(&r.bounce_rate.map(|b| format!("{b:.4}")))])
            .collect()
    }
}
