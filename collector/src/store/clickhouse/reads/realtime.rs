//! Realtime in ClickHouse SQL: both counts from events, never sessions
//! (see [`crate::query::realtime`]).

use super::filter::events_in;
use crate::query::realtime::{ACTIVE_WINDOW_MS, Realtime, first_minute_ms};
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

pub(super) async fn realtime(client: &Client, site: &Site, now_ms: i64) -> Result<Realtime, QueryError> {
    let mut answer = Realtime::empty(now_ms);
    // The window is `(now - 5 min, now]`, the minutes `[first, now]`.
    let active: Vec<Active> = client
        .rows(&format!("SELECT uniqExact(visitor_id) AS visitors FROM {}", events_in(&site.key, now_ms - ACTIVE_WINDOW_MS + 1, now_ms + 1)))
        .await?;
    answer.active_visitors = active.first().map_or(0, |a| a.visitors);
    let first = first_minute_ms(now_ms);
    let minutes: Vec<MinuteRow> = client
        .rows(&format!(
            "SELECT intDiv(ts - {first}, 60000) AS minute, toInt64(count()) AS events, toInt64(uniqExact(session_id)) AS sessions
             FROM {} GROUP BY minute",
            events_in(&site.key, first, now_ms + 1)
        ))
        .await?;
    for m in minutes {
        if let Some(minute) = answer.minute_mut(m.minute) {
            (minute.events, minute.sessions) = (m.events, m.sessions);
        }
    }
    Ok(answer)
}
