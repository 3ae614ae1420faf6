//! `POST /api/collect`: batches from browsers. Accepts `text/plain` (beacons
//! need no CORS preflight) and `application/json`. Answers, per event,
//! accepted, duplicate or rejected with a reason, after the commit.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use waymark_protocol::{BatchResponse, EventResult, Outcome};

use super::AppState;
use super::error::ApiError;
use crate::ingest::{decode::decode, validate::{Checked, check_batch}};
use crate::live::LiveMessage;
use crate::store::Appended;

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

pub async fn browser_batch(State(state): State<Arc<AppState>>, body: Bytes) -> Result<Json<BatchResponse>, ApiError> {
    let batch = decode(&body)?;
    if state.config.site(&batch.site).is_none() {
        return Err(ApiError::UnknownSite(batch.site));
    }
    let site = batch.site.clone();
    let checked = check_batch(batch, now_ms());

    let mut results: Vec<EventResult> = Vec::with_capacity(checked.len());
    let mut rows = Vec::new();
    for (index, c) in checked.into_iter().enumerate() {
        match c {
            Checked::Valid(row) => {
                results.push(EventResult { index, id: row.id.clone(), outcome: Outcome::Accepted, reason: None, message: None });
                rows.push(row);
            }
            Checked::Invalid(result) => {
                state.live.publish(LiveMessage::Rejected {
                    site: site.clone(),
                    index,
                    id: result.id.clone(),
                    reason: result.reason.clone().unwrap_or_default(),
                    message: result.message.clone().unwrap_or_default(),
                });
                results.push(result);
            }
        }
    }
    let appended = if rows.is_empty() { Vec::new() } else { state.store.append(rows.clone()).await? };
    let mut stored = rows.into_iter().zip(appended);
    for result in results.iter_mut().filter(|r| r.outcome == Outcome::Accepted) {
        match stored.next() {
            Some((row, Appended::Duplicate)) => {
                result.outcome = Outcome::Duplicate;
                state.live.publish(LiveMessage::Duplicate { site: row.site, id: row.id });
            }
            Some((row, Appended::Stored)) => state.live.publish(LiveMessage::Stored { event: row }),
            None => {}
        }
    }
    let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
    Ok(Json(BatchResponse {
        accepted: count(Outcome::Accepted),
        duplicates: count(Outcome::Duplicate),
        rejected: count(Outcome::Rejected),
        results,
    }))
}
