//! The overview: visitors, sessions, pageviews, events, bounce rate and
//! average session duration for a period, as totals and as a time series,
//! with the same for the previous period.

use rusqlite::types::{Type, Value};
use rusqlite::{Connection, params_from_iter};
use serde::Serialize;

use super::filter::{Filter, Scope, on_events, on_sessions};
use super::period::{Bucket, Interval, Period};
use super::table::Table;
use super::{QueryError, Site, ratio};
use crate::store::sqlite::SLOT_MS;

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
    let (lo, hi) = period.bounds(&site.time_zone);
    let scope = Scope { site: &site.key, lo, hi };

    let (visitors, durations) = count_sessions(conn, scope, filters, &buckets, &mut series)?;
    if filters.is_empty() && buckets.iter().all(|b| b.start_ms % SLOT_MS == 0 && b.end_ms % SLOT_MS == 0) {
        count_events_from_slots(conn, site, &buckets, &mut series)?;
    } else {
        count_events(conn, site, scope, filters, &buckets, &mut series)?;
    }

    let mut totals = Metrics { visitors, ..Metrics::default() };
    for (point, duration) in series.iter_mut().zip(&durations) {
        let m = &mut point.metrics;
        totals.sessions += m.sessions;
        totals.bounces += m.bounces;
        totals.pageviews += m.pageviews;
        totals.events += m.events;
        m.derive_rates(*duration);
    }
    totals.derive_rates(durations.iter().sum());
    Ok(Figures { from: period.from.to_string(), to: period.to.to_string(), totals, series })
}

/// Sessions, bounces and visitors per bucket, by when each session started,
/// in one pass over the period in time order; returns the period's distinct
/// visitors and each bucket's summed duration. A visitor counts once per
/// bucket and once in the period, however many sessions they had.
fn count_sessions(
    conn: &Connection,
    scope: Scope,
    filters: &[Filter],
    buckets: &[Bucket],
    series: &mut [Point],
) -> Result<(i64, Vec<i64>), QueryError> {
    let clause = on_sessions(filters, scope);
    let sql = format!(
        "SELECT s.start_ts, s.visitor_id, s.bounce, s.duration_ms FROM sessions s
         WHERE s.site = ? AND s.start_ts >= ? AND s.start_ts < ?{} ORDER BY s.start_ts",
        clause.sql
    );
    let params = [Value::Text(scope.site.to_owned()), Value::Integer(scope.lo), Value::Integer(scope.hi)].into_iter().chain(clause.params);
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    // Visitor → the last bucket they were counted in. Exact: whole ids as
    // keys, with a hash fast on short strings (this loop is the overview's cost).
    let mut seen: foldhash::HashMap<Box<str>, usize> = foldhash::HashMap::default();
    let mut durations = vec![0i64; buckets.len()];
    let mut bucket = 0;
    while let Some(row) = rows.next()? {
        let start: i64 = row.get(0)?;
        while bucket + 1 < buckets.len() && start >= buckets[bucket].end_ms {
            bucket += 1;
        }
        let m = &mut series[bucket].metrics;
        let visitor = row.get_ref(1)?.as_str().map_err(|e| rusqlite::Error::FromSqlConversionFailure(1, Type::Text, Box::new(e)))?;
        match seen.get_mut(visitor) {
            Some(last) if *last == bucket => {}
            Some(last) => {
                *last = bucket;
                m.visitors += 1;
            }
            None => {
                seen.insert(visitor.into(), bucket);
                m.visitors += 1;
            }
        }
        m.sessions += 1;
        m.bounces += row.get::<_, i64>(2)?;
        durations[bucket] += row.get::<_, i64>(3)?;
    }
    Ok((seen.len() as i64, durations))
}

/// Pageviews and events per bucket, by their own time, from every event.
fn count_events(conn: &Connection, site: &Site, scope: Scope, filters: &[Filter], buckets: &[Bucket], series: &mut [Point]) -> Result<(), QueryError> {
    let clause = on_events(filters, scope);
    let sql = format!(
        "WITH b(idx, lo, hi) AS ({BUCKETS})
         SELECT b.idx, count(*), sum(e.name = '$pageview')
         FROM b CROSS JOIN events e
         WHERE e.site = ? AND e.ts >= b.lo AND e.ts < b.hi{}
         GROUP BY b.idx",
        clause.sql
    );
    add_event_counts(conn, &sql, bucket_params(buckets, site, clause.params), series)
}

/// The same counts from the quarter-hour slots kept at ingest; only for an
/// unfiltered overview whose buckets start on quarter hours.
fn count_events_from_slots(conn: &Connection, site: &Site, buckets: &[Bucket], series: &mut [Point]) -> Result<(), QueryError> {
    let sql = format!(
        "WITH b(idx, lo, hi) AS ({BUCKETS})
         SELECT b.idx, sum(x.events), sum(x.pageviews)
         FROM b CROSS JOIN event_slots x
         WHERE x.site = ? AND x.slot >= b.lo / {SLOT_MS} AND x.slot < b.hi / {SLOT_MS}
         GROUP BY b.idx"
    );
    add_event_counts(conn, &sql, bucket_params(buckets, site, Vec::new()), series)
}

fn add_event_counts(conn: &Connection, sql: &str, params: Vec<Value>, series: &mut [Point]) -> Result<(), QueryError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    while let Some(row) = rows.next()? {
        let idx = bucket_index(row.get(0)?, series.len())?;
        let m = &mut series[idx].metrics;
        (m.events, m.pageviews) = (row.get(1)?, row.get(2)?);
    }
    Ok(())
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
