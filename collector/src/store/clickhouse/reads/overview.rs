//! The overview in ClickHouse SQL: per bucket, the sessions by their start
//! and the events by their time, each counted in one grouped query (the
//! bucket of a row is the first whose end lies after it); totals and rates
//! are derived by [`Figures::from_counts`].

use super::filter::{Scope, events_in, on_events, on_sessions, sessions_in};
use crate::identity::People;
use crate::query::filter::Filter;
use crate::query::matching::VisitsRequest;
use crate::query::people;
use crate::query::overview::{Counts, Figures, Overview, OverviewRequest};
use crate::query::period::{Bucket, Interval, Period};
use crate::query::{QueryError, Site};
use crate::store::clickhouse::client::Client;

pub(super) async fn overview(client: &Client, site: &Site, request: &OverviewRequest) -> Result<Overview, QueryError> {
    let mut current = figures(client, site, &request.period, request.interval, &request.filters).await?;
    let mut previous = figures(client, site, &request.period.previous(), request.interval, &request.filters).await?;
    if let Some(people) = &request.people {
        for (figures, period) in [(&mut current, request.period.clone()), (&mut previous, request.period.previous())] {
            figures.people = count_people(client, site, &period, &request.filters, figures.totals.visitors, people).await?;
        }
    }
    Ok(Overview { interval: request.interval, current, previous })
}

/// The people among a period's `visitors` distinct visitors, from the
/// visits of those ever linked to a user (see [`people::count_from_linked`]).
async fn count_people(client: &Client, site: &Site, period: &Period, filters: &[Filter], visitors: i64, people: &People) -> Result<i64, QueryError> {
    let Some(filters) = people::linked_filters(filters, people) else { return Ok(visitors) };
    let (lo, hi) = period.bounds(&site.time_zone);
    let visits = super::analyses::visits(client, site, &VisitsRequest { lo, hi, filters, dimension: None, places: false }).await?;
    Ok(people::count_from_linked(visitors, &visits, people))
}

#[derive(serde::Deserialize)]
struct SessionCounts {
    bucket: usize,
    visitors: i64,
    sessions: i64,
    bounces: i64,
    duration_ms: i64,
}

#[derive(serde::Deserialize)]
struct EventCounts {
    bucket: usize,
    events: i64,
    pageviews: i64,
}

#[derive(serde::Deserialize)]
struct Visitors {
    visitors: i64,
}

/// The 1-based index of the bucket `column` falls in (0 past the last).
/// 18.16's lambdas cannot read a column, so it comes in as an array.
fn bucket_of(column: &str, buckets: &[Bucket]) -> String {
    let ends: Vec<String> = buckets.iter().map(|b| b.end_ms.to_string()).collect();
    let ends = format!("[{}]", ends.join(", "));
    format!("arrayFirstIndex((end, t) -> t < end, {ends}, replicate({column}, {ends}))")
}

async fn figures(client: &Client, site: &Site, period: &Period, interval: Interval, filters: &[Filter]) -> Result<Figures, QueryError> {
    let buckets = period.buckets(interval, &site.time_zone);
    let mut counts = vec![Counts::default(); buckets.len()];
    let (lo, hi) = period.bounds(&site.time_zone);
    let scope = Scope::of(site, lo, hi);

    let sessions = format!("{}{}", sessions_in(scope.site, lo, hi), on_sessions(filters, scope));
    let per_bucket: Vec<SessionCounts> = client
        .rows(&format!(
            "SELECT {} AS bucket, toInt64(uniqExact(visitor_id)) AS visitors, toInt64(count()) AS sessions,
                toInt64(sum(bounce)) AS bounces, toInt64(sum(duration_ms)) AS duration_ms
             FROM {sessions} GROUP BY bucket",
            bucket_of("start_ts", &buckets)
        ))
        .await?;
    for row in per_bucket {
        if let Some(c) = row.bucket.checked_sub(1).and_then(|i| counts.get_mut(i)) {
            (c.visitors, c.sessions, c.bounces, c.duration_ms) = (row.visitors, row.sessions, row.bounces, row.duration_ms);
        }
    }
    let visitors: Vec<Visitors> = client.rows(&format!("SELECT toInt64(uniqExact(visitor_id)) AS visitors FROM {sessions}")).await?;

    let events: Vec<EventCounts> = client
        .rows(&format!(
            "SELECT {} AS bucket, toInt64(count()) AS events, toInt64(countIf(name = '$pageview')) AS pageviews
             FROM {}{} GROUP BY bucket",
            bucket_of("ts", &buckets),
            events_in(scope.site, lo, hi),
            on_events(filters, scope)
        ))
        .await?;
    for row in events {
        if let Some(c) = row.bucket.checked_sub(1).and_then(|i| counts.get_mut(i)) {
            (c.events, c.pageviews) = (row.events, row.pageviews);
        }
    }
    Ok(Figures::from_counts(period, &buckets, &counts, visitors.first().map_or(0, |v| v.visitors)))
}
