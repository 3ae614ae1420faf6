//! `GET /api/live?site=…[&segment=ID]`: the live feed of one site as
//! server-sent events, for the dashboard's live view and installation
//! checker. Each SSE event is named after the message (`stored`,
//! `duplicate`, `rejected`, `session_started`) and carries it as JSON;
//! `lagged` says how many messages a slow listener missed. Streams end when
//! the collector stops.
//!
//! With `segment=ID` (a saved segment of the site; unknown: 404
//! `segment_not_found` before any stream) only the stored events and
//! session starts of its members come, as [`crate::live::segment`] decides;
//! a `segment` event (`{"id", "name", "members", "refresh_seconds"}`:
//! today's members as last worked out, and how often they are) comes first
//! and again when the name or the count changes, and `segment_deleted` ends the stream when it is deleted.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, KeepAliveStream, Sse};
use serde_json::json;
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::AppState;
use super::auth::Authenticated;
use super::error::ApiError;
use super::query::{Pairs, Params};
use crate::live::LiveMessage;
use crate::live::members::{Members, Watching};
use crate::live::segment::Membership;

/// Events buffered for one slow connection before the feed's own lag applies.
const BUFFER: usize = 64;

pub async fn live_route(
    who: Authenticated,
    State(state): State<Arc<AppState>>,
    Query(pairs): Pairs,
) -> Result<Sse<KeepAliveStream<ReceiverStream<Result<Event, Infallible>>>>, ApiError> {
    let params = Params { pairs };
    let site = params.site(&state)?;
    who.require_site(&site.key)?;
    let mut segment = match params.get("segment").filter(|id| !id.is_empty()) {
        Some(id) => Some(state.dashboard.live_segments.open(&site, id).await?),
        None => None,
    };
    let site = site.key;
    let refresh_seconds = state.config.dashboard.live_segment_refresh_seconds;
    let mut feed = state.live.subscribe();
    let mut stopping = state.dashboard.stopping();
    let (sender, receiver) = mpsc::channel(BUFFER);
    tokio::spawn(async move {
        let mut told = None;
        loop {
            if let Some(watching) = &segment {
                let said = said_of(watching.filter.membership());
                if told.as_ref() != Some(&said) {
                    if sender.send(Ok(segment_event(watching.filter.membership(), refresh_seconds))).await.is_err() {
                        break;
                    }
                    told = Some(said);
                }
            }
            // The events to send, and whether the stream ends after them.
            let (events, last) = tokio::select! {
                _ = stopping.wait_for(|stop| *stop) => break,
                _ = sender.closed() => break,
                refreshed = changed(&mut segment) => match refreshed {
                    Some(Members::Known(membership)) => {
                        if let Some(watching) = &mut segment {
                            watching.filter.refreshed(membership);
                        }
                        continue;
                    }
                    Some(Members::Gone) | None => {
                        let message = "the segment was deleted: list them at /api/segments";
                        (vec![Event::default().event("segment_deleted").data(message)], true)
                    }
                    Some(_) => continue,
                },
                message = feed.recv() => match message {
                    Ok(message) if message.site() == site => match &mut segment {
                        Some(watching) => (watching.filter.pass(message, Instant::now()).iter().map(sse_event).collect(), false),
                        None => (vec![sse_event(&message)], false),
                    },
                    Ok(_) => continue,
                    Err(RecvError::Lagged(missed)) => (vec![Event::default().event("lagged").data(missed.to_string())], false),
                    Err(RecvError::Closed) => break,
                },
            };
            for event in events {
                if sender.send(Ok(event)).await.is_err() {
                    return;
                }
            }
            if last {
                break;
            }
        }
    });
    Ok(Sse::new(ReceiverStream::new(receiver)).keep_alive(KeepAlive::default()))
}

/// The next working-out of the stream's segment (`None`: its refresher
/// ended); never, without a segment.
async fn changed(segment: &mut Option<Watching>) -> Option<Members> {
    let Some(watching) = segment else { return std::future::pending().await };
    watching.latest.changed().await.ok()?;
    Some(watching.latest.borrow_and_update().clone())
}

/// What a `segment` event tells: when it changes, another is sent.
fn said_of(membership: &Membership) -> (String, usize) {
    (membership.segment.name.clone(), membership.members.len())
}

fn segment_event(membership: &Membership, refresh_seconds: u32) -> Event {
    let data = json!({
        "id": membership.id,
        "name": membership.segment.name,
        "members": membership.members.len(),
        "refresh_seconds": refresh_seconds,
    });
    Event::default().event("segment").data(data.to_string())
}

fn sse_event(message: &LiveMessage) -> Event {
    let name = match message {
        LiveMessage::Stored { .. } => "stored",
        LiveMessage::Duplicate { .. } => "duplicate",
        LiveMessage::Rejected { .. } => "rejected",
        LiveMessage::SessionStarted { .. } => "session_started",
    };
    Event::default().event(name).json_data(message).unwrap_or_else(|_| Event::default().event(name))
}
