//! The overview in SQL: per bucket, the sessions by their start (one pass
//! in time order over `sessions`) and the events by their time (from
//! `events`, from the quarter-hour `event_slots` the writer keeps when
//! nothing is filtered, or, when every filter keeps or drops whole sessions
//! (a segment, a source…), from the sessions' own counts in that same
//! pass); totals and rates are derived by [`Figures::from_counts`].

use rusqlite::types::{Type, Value};
use rusqlite::{Connection, params_from_iter};

use super::filter::{Scope, on_events, on_sessions};
use crate::query::filter::{Dimension, Filter, Level};
use crate::query::overview::{Counts, Figures, Overview, OverviewRequest};
use crate::query::period::{Bucket, Period};
use crate::query::{QueryError, Site};
use crate::store::sqlite::SLOT_MS;

pub(super) fn overview(conn: &Connection, site: &Site, request: &OverviewRequest) -> Result<Overview, QueryError> {
    let current = figures(conn, site, &request.period, request)?;
    let previous = figures(conn, site, &request.period.previous(), request)?;
    Ok(Overview { interval: request.interval, current, previous })
}

/// The figures of `period` (the request's or the one before it).
fn figures(conn: &Connection, site: &Site, period: &Period, request: &OverviewRequest) -> Result<Figures, QueryError> {
    let (interval, filters) = (request.interval, &request.filters[..]);
    let buckets = period.buckets(interval, &site.time_zone);
    let mut counts = vec![Counts::default(); buckets.len()];
    let (lo, hi) = period.bounds(&site.time_zone);
    let scope = Scope::of(site, lo, hi);

    let aligned = buckets.iter().all(|b| b.start_ms % SLOT_MS == 0 && b.end_ms % SLOT_MS == 0);
    let tally = if filters.is_empty() && aligned {
        let tally = count_sessions(conn, scope, filters, &buckets, &mut counts)?;
        count_events_from_slots(conn, site, &buckets, &mut counts)?;
        tally
    } else if filters.iter().all(of_whole_sessions) {
        count_whole_sessions(conn, scope, filters, &buckets, &mut counts)?
    } else {
        let tally = count_sessions(conn, scope, filters, &buckets, &mut counts)?;
        count_events(conn, site, scope, filters, &buckets, &mut counts)?;
        tally
    };
    let mut figures = Figures::from_counts(period, &buckets, &counts, tally.visitors());
    if let Some(people) = &request.people {
        figures.people = crate::query::people::count(tally.seen.keys().map(|v| &**v), people);
    }
    Ok(figures)
}

/// Sessions, bounces, durations and visitors per bucket, by when each
/// session started, in one pass over the period in time order; returns the
/// period's visitors.
fn count_sessions(conn: &Connection, scope: Scope, filters: &[Filter], buckets: &[Bucket], counts: &mut [Counts]) -> Result<Tally, QueryError> {
    let clause = on_sessions(filters, scope);
    let sql = format!(
        "SELECT s.start_ts, s.visitor_id, s.bounce, s.duration_ms FROM sessions s
         WHERE s.site = ? AND s.start_ts >= ? AND s.start_ts < ?{} ORDER BY s.start_ts",
        clause.sql
    );
    let params = [Value::Text(scope.site.to_owned()), Value::Integer(scope.lo), Value::Integer(scope.hi)].into_iter().chain(clause.params);
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    let mut tally = Tally::default();
    while let Some(row) = rows.next()? {
        tally.add(buckets, counts, row.get(0)?, text(row, 1)?, row.get(2)?, row.get(3)?);
    }
    Ok(tally)
}

/// The sessions of a period counted by bucket as they come in start order.
#[derive(Default)]
struct Tally {
    /// Visitor → the last bucket they were counted in. Exact: whole ids as
    /// keys, with a hash fast on short strings (this is the overview's cost).
    seen: foldhash::HashMap<Box<str>, usize>,
    bucket: usize,
}

impl Tally {
    fn add(&mut self, buckets: &[Bucket], counts: &mut [Counts], start: i64, visitor: &str, bounce: i64, duration_ms: i64) {
        while self.bucket + 1 < buckets.len() && start >= buckets[self.bucket].end_ms {
            self.bucket += 1;
        }
        let c = &mut counts[self.bucket];
        match self.seen.get_mut(visitor) {
            Some(last) if *last == self.bucket => {}
            Some(last) => {
                *last = self.bucket;
                c.visitors += 1;
            }
            None => {
                self.seen.insert(visitor.into(), self.bucket);
                c.visitors += 1;
            }
        }
        c.sessions += 1;
        c.bounces += bounce;
        c.duration_ms += duration_ms;
    }

    /// The period's distinct visitors.
    fn visitors(&self) -> i64 {
        self.seen.len() as i64
    }
}

/// A text column, borrowed from its row.
fn text<'r>(row: &'r rusqlite::Row<'_>, column: usize) -> Result<&'r str, QueryError> {
    Ok(row.get_ref(column)?.as_str().map_err(|e| rusqlite::Error::FromSqlConversionFailure(column, Type::Text, Box::new(e)))?)
}

/// Pageviews and events per bucket, by their own time, from every event.
fn count_events(conn: &Connection, site: &Site, scope: Scope, filters: &[Filter], buckets: &[Bucket], counts: &mut [Counts]) -> Result<(), QueryError> {
    let clause = on_events(filters, scope);
    let sql = format!(
        "WITH b(idx, lo, hi) AS ({BUCKETS})
         SELECT b.idx, count(*), sum(e.name = '$pageview')
         FROM b CROSS JOIN events e
         WHERE e.site = ? AND e.ts >= b.lo AND e.ts < b.hi{}
         GROUP BY b.idx",
        clause.sql
    );
    add_event_counts(conn, &sql, bucket_params(buckets, site, clause.params), counts)
}

/// Whether a filter keeps or drops a session's events all together: a
/// segment's visitors, or a value of the visit that its events do not carry
/// a copy of (source, UTM fields, entry page…). Then the events to count are
/// those of the sessions that pass.
fn of_whole_sessions(filter: &Filter) -> bool {
    matches!(filter.dimension, Dimension::Visitors(_)) || (filter.dimension.level() == Level::Session && !filter.dimension.carried_by_events())
}

/// Everything [`count_sessions`] counts, and the pageviews and events per
/// bucket, for filters that each keep or drop whole sessions
/// ([`of_whole_sessions`]), in one pass over the sessions in start order:
/// a session within one bucket adds its own event counts; the few that
/// cross a bucket's edge or the period's have their events read and counted
/// by time. A segment's visitors are looked up in a hash set here rather
/// than probed in SQL. Reads a session per session (from the
/// `sessions_by_start` index alone), where [`count_events`] would read
/// every event of the period.
fn count_whole_sessions(conn: &Connection, scope: Scope, filters: &[Filter], buckets: &[Bucket], counts: &mut [Counts]) -> Result<Tally, QueryError> {
    let mut lists: Vec<foldhash::HashSet<&str>> = Vec::new();
    let mut in_sql = Vec::new();
    for f in filters {
        match &f.dimension {
            Dimension::Visitors(ids) => lists.push(ids.iter().map(String::as_str).collect()),
            _ => in_sql.push(f.clone()),
        }
    }
    // Sessions with events in the period started at most a session's length before it.
    let from = Scope { lo: scope.lo - scope.span, ..scope };
    let clause = on_sessions(&in_sql, from);
    let sql = format!(
        "SELECT s.rowid, s.start_ts, s.duration_ms, s.visitor_id, s.bounce, s.events, s.pageviews FROM sessions s
         WHERE s.site = ? AND s.start_ts >= ? AND s.start_ts < ?{} ORDER BY s.start_ts",
        clause.sql
    );
    let params = [Value::Text(from.site.to_owned()), Value::Integer(from.lo), Value::Integer(from.hi)].into_iter().chain(clause.params);
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    let bucket_of = |ts: i64| {
        let i = buckets.partition_point(|b| b.end_ms <= ts);
        (i < buckets.len() && buckets[i].start_ms <= ts).then_some(i)
    };
    let mut tally = Tally::default();
    let mut crossing: Vec<i64> = Vec::new();
    while let Some(row) = rows.next()? {
        let visitor = text(row, 3)?;
        if !lists.iter().all(|list| list.contains(visitor)) {
            continue;
        }
        let (start, duration_ms): (i64, i64) = (row.get(1)?, row.get(2)?);
        if start >= scope.lo {
            tally.add(buckets, counts, start, visitor, row.get(4)?, duration_ms);
        }
        let end = start + duration_ms;
        match (bucket_of(start), bucket_of(end)) {
            (Some(a), Some(b)) if a == b => {
                counts[a].events += row.get::<_, i64>(5)?;
                counts[a].pageviews += row.get::<_, i64>(6)?;
            }
            (None, None) if end < scope.lo || start >= scope.hi => {}
            _ => crossing.push(row.get(0)?),
        }
    }
    let mut events = conn.prepare_cached(
        "SELECT e.ts, e.name = '$pageview' FROM events e WHERE e.site = ?1 AND e.session_id = (SELECT id FROM sessions WHERE rowid = ?2)",
    )?;
    for session in crossing {
        let mut rows = events.query(rusqlite::params![scope.site, session])?;
        while let Some(row) = rows.next()? {
            if let Some(i) = bucket_of(row.get(0)?) {
                counts[i].events += 1;
                counts[i].pageviews += row.get::<_, i64>(1)?;
            }
        }
    }
    Ok(tally)
}

/// The same counts from the quarter-hour slots kept at ingest; only for an
/// unfiltered overview whose buckets start on quarter hours.
fn count_events_from_slots(conn: &Connection, site: &Site, buckets: &[Bucket], counts: &mut [Counts]) -> Result<(), QueryError> {
    let sql = format!(
        "WITH b(idx, lo, hi) AS ({BUCKETS})
         SELECT b.idx, sum(x.events), sum(x.pageviews)
         FROM b CROSS JOIN event_slots x
         WHERE x.site = ? AND x.slot >= b.lo / {SLOT_MS} AND x.slot < b.hi / {SLOT_MS}
         GROUP BY b.idx"
    );
    add_event_counts(conn, &sql, bucket_params(buckets, site, Vec::new()), counts)
}

fn add_event_counts(conn: &Connection, sql: &str, params: Vec<Value>, counts: &mut [Counts]) -> Result<(), QueryError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    while let Some(row) = rows.next()? {
        let idx = bucket_index(row.get(0)?, counts.len())?;
        let c = &mut counts[idx];
        (c.events, c.pageviews) = (row.get(1)?, row.get(2)?);
    }
    Ok(())
}

/// The buckets as rows `(idx, lo, hi)` from one JSON parameter, so a query
/// scans the time index once per bucket.
const BUCKETS: &str = "SELECT key, json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)";

/// The bucket a row belongs to; json_each keys are the array's indexes.
fn bucket_index(key: i64, len: usize) -> Result<usize, QueryError> {
    usize::try_from(key).ok().filter(|i| *i < len).ok_or_else(|| rusqlite::Error::IntegralValueOutOfRange(0, key).into())
}

fn bucket_params(buckets: &[Bucket], site: &Site, filter_params: Vec<Value>) -> Vec<Value> {
    let json = serde_json::to_string(&buckets.iter().map(|b| [b.start_ms, b.end_ms]).collect::<Vec<_>>()).unwrap_or_default();
    let mut params = vec![Value::Text(json), Value::Text(site.key.clone())];
    params.extend(filter_params);
    params
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::store::conformance::{T0, pageview};
    use crate::store::sqlite::SqliteStore;

    /// Visits of 1–6 events over three days from an hour before the
    /// period: some cross an hour's or a day's edge, or the period's.
    fn visits() -> Vec<crate::event::StoredEvent> {
        let mut state = 7u64;
        let mut next = |m: u64| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % m
        };
        let (mut events, mut n) = (Vec::new(), 0);
        for visit in 0..80 {
            let visitor = format!("v{}", visit % 11);
            let source = if visit % 3 == 0 { "news.example" } else { "(direct)" };
            let mut ts = T0 - 3_600_000 + next(3 * 86_400_000) as i64;
            for _ in 0..1 + next(6) {
                n += 1;
                let mut e = pageview(n, &visitor, ts);
                e.source = Some(source.into());
                if next(3) == 0 {
                    e.name = "signup".into();
                }
                events.push(e);
                ts += 60_000 + next(25 * 60_000) as i64;
            }
        }
        events
    }

    #[tokio::test]
    async fn whole_sessions_counted_in_one_pass_equal_sessions_and_events_counted_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        store.append(visits()).await.unwrap();
        let conn = Connection::open(store.path()).unwrap();
        let site = Site::new("site", "UTC").unwrap();
        let period = Period::parse("2025-11-25", "2025-11-26").unwrap();
        let (lo, hi) = period.bounds(&site.time_zone);
        let segment = || Filter::visitors(["v1", "v2", "v5", "v7"].map(String::from));
        let filters = [
            vec![Filter::new(Dimension::Source, "news.example")],
            vec![segment()],
            vec![segment(), Filter::new(Dimension::Source, "news.example"), Filter::visitors(["v2", "v5", "v9"].map(String::from))],
        ];
        for filters in &filters {
            assert!(filters.iter().all(of_whole_sessions));
            for interval in [crate::query::period::Interval::Hour, crate::query::period::Interval::Day] {
                let buckets = period.buckets(interval, &site.time_zone);
                let scope = Scope::of(&site, lo, hi);
                let (mut in_one_pass, mut one_by_one) = (vec![Counts::default(); buckets.len()], vec![Counts::default(); buckets.len()]);
                let visitors = count_whole_sessions(&conn, scope, filters, &buckets, &mut in_one_pass).unwrap().visitors();
                let expected = count_sessions(&conn, scope, filters, &buckets, &mut one_by_one).unwrap().visitors();
                count_events(&conn, &site, scope, filters, &buckets, &mut one_by_one).unwrap();
                assert_eq!((visitors, &in_one_pass), (expected, &one_by_one), "{filters:?} by {interval:?}");
                assert!(one_by_one.iter().map(|c| c.events).sum::<i64>() > 10, "the filters keep some events");
                assert!(one_by_one.iter().map(|c| c.sessions).sum::<i64>() > 0, "the filters keep some sessions");
            }
        }
        store.close().await;
    }
}
