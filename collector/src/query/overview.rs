//! The overview: visitors, sessions, pageviews, events, bounce rate and
//! average session duration for a period, as totals and as a time series,
//! with the same for the previous period.
//!
//! Policy: a backend counts, per bucket of [`Period::buckets`], the sessions
//! that started in it (their distinct visitors, bounces and summed
//! durations) and the pageviews and events that happened in it, and the
//! period's distinct visitors; [`Figures::from_counts`] derives the totals
//! and the rates from those counts. A visitor counts once per bucket and
//! once in the period, however many sessions they had.

use serde::Serialize;

use super::filter::Filter;
use super::period::{Bucket, Interval, Period};
use super::ratio;
use super::table::Table;

#[derive(Debug, Clone)]
pub struct OverviewRequest {
    pub period: Period,
    pub interval: Interval,
    pub filters: Vec<Filter>,
    /// Who each visitor is ([`crate::identity`]): given, a backend counts
    /// the period's distinct people too ([`Figures::people`]), each visitor
    /// linked to a user as that user; `None` leaves people = visitors.
    pub people: Option<std::sync::Arc<crate::identity::People>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Metrics {
    pub visitors: i64,
    pub sessions: i64,
    pub pageviews: i64,
    pub events: i64,
    pub bounces: i64,
    /// Bounced sessions / sessions, 0..=1.
    pub bounce_rate: f64,
    pub avg_duration_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    pub label: String,
    pub start_ms: i64,
    #[serde(flatten)]
    pub metrics: Metrics,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub from: String,
    pub to: String,
    pub totals: Metrics,
    /// Distinct people among the period's visitors (see [`crate::query::people`]):
    /// as many as visitors unless the request says who each visitor is.
    pub people: i64,
    /// The site's goals in the period (filled by `Queries`, none from a backend).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub goals: Vec<super::goals::GoalFigures>,
    pub series: Vec<Point>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    pub interval: Interval,
    pub current: Figures,
    pub previous: Figures,
}

/// What a backend counts in one bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Distinct visitors of the sessions that started in the bucket.
    pub visitors: i64,
    pub sessions: i64,
    pub bounces: i64,
    /// The sum of those sessions' durations.
    pub duration_ms: i64,
    pub pageviews: i64,
    pub events: i64,
}

impl Figures {
    /// The figures of `period` from each of `buckets`' counts (the same
    /// length, in order) and the period's distinct visitors.
    pub fn from_counts(period: &Period, buckets: &[Bucket], counts: &[Counts], visitors: i64) -> Figures {
        let mut totals = Metrics { visitors, ..Metrics::default() };
        let mut duration_ms = 0;
        let series = buckets
            .iter()
            .zip(counts)
            .map(|(bucket, c)| {
                totals.sessions += c.sessions;
                totals.bounces += c.bounces;
                totals.pageviews += c.pageviews;
                totals.events += c.events;
                duration_ms += c.duration_ms;
                let mut metrics = Metrics {
                    visitors: c.visitors,
                    sessions: c.sessions,
                    pageviews: c.pageviews,
                    events: c.events,
                    bounces: c.bounces,
                    ..Metrics::default()
                };
                metrics.derive_rates(c.duration_ms);
                Point { label: bucket.label.clone(), start_ms: bucket.start_ms, metrics }
            })
            .collect();
        totals.derive_rates(duration_ms);
        Figures { from: period.from.to_string(), to: period.to.to_string(), totals, people: visitors, goals: Vec::new(), series }
    }
}

impl Metrics {
    fn derive_rates(&mut self, total_duration_ms: i64) {
        self.bounce_rate = ratio(self.bounces, self.sessions);
        self.avg_duration_ms = ratio(total_duration_ms, self.sessions);
    }
}

const METRIC_COLUMNS: [&str; 7] = ["visitors", "sessions", "pageviews", "events", "bounces", "bounce_rate", "avg_duration_ms"];

impl Metrics {
    fn cells(&self) -> Vec<String> {
        vec![
            self.visitors.to_string(),
            self.sessions.to_string(),
            self.pageviews.to_string(),
            self.events.to_string(),
            self.bounces.to_string(),
            format!("{:.4}", self.bounce_rate),
            format!("{:.0}", self.avg_duration_ms),
        ]
    }
}

/// As CSV: one row per bucket of both periods, then the two totals.
impl Table for Overview {
    fn columns(&self) -> Vec<&'static str> {
        let mut columns = vec!["period", "bucket"];
        columns.extend(METRIC_COLUMNS);
        columns
    }

    fn rows(&self) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        for (name, figures) in [("current", &self.current), ("previous", &self.previous)] {
            for point in &figures.series {
                rows.push([vec![name.to_owned(), point.label.clone()], point.metrics.cells()].concat());
            }
            rows.push([vec![name.to_owned(), "total".to_owned()], figures.totals.cells()].concat());
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_add_up_the_buckets_but_count_a_visitor_once_and_rates_come_from_the_sums() {
        let period = Period::parse("2024-01-15", "2024-01-16").unwrap();
        let buckets = period.buckets(Interval::Day, &jiff::tz::TimeZone::UTC);
        let counts = [
            Counts { visitors: 2, sessions: 3, bounces: 1, duration_ms: 60_000, pageviews: 5, events: 6 },
            Counts { visitors: 1, sessions: 1, bounces: 1, duration_ms: 0, pageviews: 1, events: 1 },
        ];
        let figures = Figures::from_counts(&period, &buckets, &counts, 2);
        let t = figures.totals;
        assert_eq!((t.visitors, t.sessions, t.bounces, t.pageviews, t.events), (2, 4, 2, 6, 7));
        assert_eq!((t.bounce_rate, t.avg_duration_ms), (0.5, 15_000.0));
        let first = figures.series[0].metrics;
        assert_eq!((first.bounce_rate, first.avg_duration_ms), (1.0 / 3.0, 20_000.0));
        assert_eq!((figures.series[1].label.as_str(), figures.from.as_str(), figures.to.as_str()), ("2024-01-16", "2024-01-15", "2024-01-16"));
    }
}
