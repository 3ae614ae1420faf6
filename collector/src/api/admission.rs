//! Load shedding at the ingest routes (`/api/collect`,
//! `/api/server/collect`, `/v1/*`).
//!
//! Policy: at most `[limits] ingest_in_flight` ingest requests are handled
//! at once; one more is answered 503 `overloaded` with `Retry-After` at
//! once, its body unread. The writer's queue (`write_queue`) bounds what
//! waits for the disk; this bounds everything before it as well (bodies in
//! memory, decoding, enrichment, CPU), so that more load than the collector
//! can take is refused promptly instead of answered late, and its memory
//! stays flat. Senders retry as told: the SDK keeps the events and honours
//! `Retry-After`. Nothing refused here was acknowledged, so nothing is lost.
//!
//! Mechanism: a semaphore's permits, taken without waiting; the
//! `waymark_ingest_in_flight` gauge counts the requests holding one.

use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::IntGauge;
use tokio::sync::Semaphore;

use super::error::ApiError;

#[derive(Clone)]
pub struct Admission {
    slots: Arc<Semaphore>,
    limit: usize,
    in_flight: IntGauge,
}

/// Counts a request in flight until it is answered or dropped (a client
/// that leaves mid-request drops the handler's future).
struct InFlight(IntGauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Admission {
    pub fn new(limit: usize, in_flight: IntGauge) -> Admission {
        Admission { slots: Arc::new(Semaphore::new(limit)), limit, in_flight }
    }

    /// The middleware: handles the request if a slot is free, refuses it otherwise.
    pub async fn admit(self, request: Request, next: Next) -> Response {
        let Ok(_slot) = self.slots.clone().try_acquire_owned() else {
            return ApiError::Overloaded(self.limit).into_response();
        };
        self.in_flight.inc();
        let _counted = InFlight(self.in_flight.clone());
        next.run(request).await
    }
}
