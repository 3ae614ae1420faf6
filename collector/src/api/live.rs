//! `GET /api/live?site=…`: the live feed of one site as server-sent events,
//! for the dashboard's live view and installation checker. Each SSE event is
//! named after the message (`stored`, `duplicate`, `rejected`,
//! `session_started`) and carries it as JSON; `lagged` says how many
//! messages a slow listener missed. Streams end when the collector stops.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, KeepAliveStream, Sse};
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::AppState;
use super::auth::Authenticated;
use super::error::ApiError;
use super::query::{Pairs, Params};
use crate::live::LiveMessage;

/// Events buffered for one slow connection before the feed's own lag applies.
const BUFFER: usize = 64;

pub async fn live_route(
    who: Authenticated,
    State(state): State<Arc<AppState>>,
    Query(pairs): Pairs,
) -> Result<Sse<KeepAliveStream<ReceiverStream<Result<Event, Infallible>>>>, ApiError> {
    let site = Params { pairs }.site(&state)?.key;
    who.require_site(&site)?;
    let mut feed = state.live.subscribe();
    let mut stopping = state.dashboard.stopping();
    let (sender, receiver) = mpsc::channel(BUFFER);
    tokio::spawn(async move {
        loop {
            let event = tokio::select! {
                _ = stopping.wait_for(|stop| *stop) => break,
                _ = sender.closed() => break,
                message = feed.recv() => match message {
                    Ok(message) if message.site() == site => sse_event(&message),
                    Ok(_) => continue,
                    Err(RecvError::Lagged(missed)) => Event::default().event("lagged").data(missed.to_string()),
                    Err(RecvError::Closed) => break,
                },
            };
            if sender.send(Ok(event)).await.is_err() {
                break;
            }
        }
    });
    Ok(Sse::new(ReceiverStream::new(receiver)).keep_alive(KeepAlive::default()))
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
