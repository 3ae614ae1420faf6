//! Realtime in ClickHouse SQL: both counts from events, never sessions
//! (see [`crate::query::realtime`]); filters as [`super::filter::on_events`]
//! writes them.

use super::filter::{Scope, events_in, on_events};
use crate::query::realtime::{ACTIVE_WINDOW_MS, Realtime, RealtimeRequest, first_minute_ms};
use crate::query::{QueryError, Site};
use crate::store::clickhouse::client::Client;

#[derive(serde::Deserialize)]
struct Active {
    visitors: i64,
}

#[derive(serde::Deserialize)]
struct MinuteRow {
    minute: i64,
    events: i64,
    sessions: i64,
}

pub(super) async fn realtime(client: &Client, site: &Site, request: &RealtimeRequest) -> Result<Realtime, QueryError> {
    let now_ms = request.now_ms;
    let mut answer = Realtime::empty(now_ms);
    // The window is `(now - 5 min, now]`, the minutes `[first, now]`.
    let (lo, hi) = (now_ms - ACTIVE_WINDOW_MS + 1, now_ms + 1);
    let active: Vec<Active> = client
        .rows(&format!(
            "SELECT uniqExact(visitor_id) AS visitors FROM {}{}",
            events_in(&site.key, lo, hi),
            on_events(&request.filters, Scope::of(site, lo, hi))
        ))
        .await?;
    answer.active_visitors = active.first().map_or(0, |a| a.visitors);
    let first = first_minute_ms(now_ms);
    let minutes: Vec<MinuteRow> = client
        .rows(&format!(
            "SELECT intDiv(ts - {first}, 60000) AS minute, toInt64(count()) AS events, toInt64(uniqExact(session_id)) AS sessions
             FROM {}{} GROUP BY minute",
            events_in(&site.key, first, hi),
            on_events(&request.filters, Scope::of(site, first, hi))
        ))
        .await?;
    for m in minutes {
        if let Some(minute) = answer.minute_mut(m.minute) {
            (minute.events, minute.sessions) = (m.events, m.sessions);
        }
    }
    Ok(answer)
}
