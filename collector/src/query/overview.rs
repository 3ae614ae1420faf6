//! The overview: visitors, sessions, pageviews, events, bounce rate and
//! average session duration for a period, as totals and as a time series,
//! with the same for the previous period.

use rusqlite::{Connection, params_from_iter, types::Value};
use serde::Serialize;

use super::filter::{Filter, on_events, on_sessions};
use super::period::{Bucket, Interval, Period};
use super::table::Table;
use super::{QueryError, Site, ratio};

#[derive(Debug, Clone)]
pub struct OverviewRequest {
    pub period: Period,
    pub interval: Interval,
    pub filters: Vec<Filter>,
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
    pub series: Vec<Point>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    pub interval: Interval,
    pub current: Figures,
    pub previous: Figures,
}

pub fn overview(conn: &Connection, site: &Site, request: &OverviewRequest) -> Result<Overview, QueryError> {
    let current = figures(conn, site, &request.period, request.interval, &request.filters)?;
    let previous = figures(conn, site, &request.period.previous(), request.interval, &request.filters)?;
    Ok(Overview { interval: request.interval, current, previous })
}

fn figures(conn: &Connection, site: &Site, period: &Period, interval: Interval, filters: &[Filter]) -> Result<Figures, QueryError> {
    let buckets = period.buckets(interval, &site.time_zone);
    let mut series: Vec<Point> = buckets
        .iter()
        .map(|b| Point { label: b.label.clone(), start_ms: b.start_ms, metrics: Metrics::default() })
        .collect();
    let mut totals = Metrics::default();
    let mut durations = vec![0i64; series.len()];
    let mut total_duration = 0;

    // Sessions by the bucket they started in.
    let clause = on_sessions(filters);
    let sql = format!(
        "WITH b(idx, lo, hi) AS ({BUCKETS})
         SELECT b.idx, count(*), count(DISTINCT s.visitor_id), sum(s.bounce), sum(s.duration_ms)
         FROM b CROSS JOIN sessions s
         WHERE s.site = ? AND s.start_ts >= b.lo AND s.start_ts < b.hi{}
         GROUP BY b.idx",
        clause.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(bucket_params(&buckets, site, clause.params.clone())))?;
    while let Some(row) = rows.next()? {
        let idx = bucket_index(row.get(0)?, series.len())?;
        let m = &mut series[idx].metrics;
        (m.sessions, m.visitors, m.bounces) = (row.get(1)?, row.get(2)?, row.get(3)?);
        durations[idx] = row.get(4)?;
        totals.sessions += m.sessions;
        totals.bounces += m.bounces;
        total_duration += durations[idx];
    }

    // Visitors over the whole period: one visitor in two buckets counts once.
    let (lo, hi) = period.bounds(&site.time_zone);
    let sql = format!(
        "SELECT count(DISTINCT s.visitor_id) FROM sessions s WHERE s.site = ? AND s.start_ts >= ? AND s.start_ts < ?{}",
        clause.sql
    );
    let params = [Value::Text(site.key.clone()), Value::Integer(lo), Value::Integer(hi)].into_iter().chain(clause.params.iter().cloned());
    totals.visitors = conn.prepare_cached(&sql)?.query_row(params_from_iter(params), |r| r.get(0))?;

    // Pageviews and events by their own time.
    let clause = on_events(filters);
    let sql = format!(
        "WITH b(idx, lo, hi) AS ({BUCKETS})
         SELECT b.idx, count(*), sum(e.name = '$pageview')
         FROM b CROSS JOIN events e
         WHERE e.site = ? AND e.ts >= b.lo AND e.ts < b.hi{}
         GROUP BY b.idx",
        clause.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(bucket_params(&buckets, site, clause.params)))?;
    while let Some(row) = rows.next()? {
        let idx = bucket_index(row.get(0)?, series.len())?;
        let m = &mut series[idx].metrics;
        (m.events, m.pageviews) = (row.get(1)?, row.get(2)?);
        totals.events += m.events;
        totals.pageviews += m.pageviews;
    }

    for (point, duration) in series.iter_mut().zip(durations) {
        point.metrics.derive_rates(duration);
    }
    totals.derive_rates(total_duration);
    Ok(Figures { from: period.from.to_string(), to: period.to.to_string(), totals, series })
}

/// The buckets as rows `(idx, lo, hi)` from one JSON parameter, so a query
/// scans the time index once per bucket.
const BUCKETS: &str = "SELECT key, json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)";

/// The bucket a row belongs to; json_each keys are the array's indexes.
fn bucket_index(key: i64, len: usize) -> Result<usize, QueryError> {
    usize::try_from(key).ok().filter(|i| *i < len).ok_or(QueryError::Database(rusqlite::Error::IntegralValueOutOfRange(0, key)))
}

fn bucket_params(buckets: &[Bucket], site: &Site, filter_params: Vec<Value>) -> Vec<Value> {
    let json = serde_json::to_string(&buckets.iter().map(|b| [b.start_ms, b.end_ms]).collect::<Vec<_>>()).unwrap_or_default();
    let mut params = vec![Value::Text(json), Value::Text(site.key.clone())];
    params.extend(filter_params);
    params
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
