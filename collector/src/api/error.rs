//! Every refusal the API makes, and its status code: decided here only.
//! The body is `{"error": code, "message": text}`: the code for programs,
//! the text for the developer reading the response.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::rate_limit::Exceeded;
use crate::ingest::decode::DecodeError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("the request body could not be read: {0}")]
    BodyUnreadable(String),
    #[error("unknown site key {0:?}")]
    UnknownSite(String),
    #[error("missing or wrong `Authorization: Bearer <secret key>` for site {0:?}")]
    BadSecret(String),
    #[error("origin {origin} may not send events for site {site:?}; add it to the site's allowed_origins")]
    OriginNotAllowed { site: String, origin: String },
    #[error("too many requests from this {}; retry after {} s", .0.scope, retry_after_seconds(.0.retry_after))]
    RateLimited(Exceeded),
    #[error("the database is behind; retry after {} s", retry_after_seconds(BUSY_RETRY))]
    Busy,
    #[error("the collector is shutting down; retry later")]
    ShuttingDown,
    #[error("the events could not be stored; retry later")]
    Store(StoreError),
}

/// How long a sender waits when the writer's queue is full: commits take
/// milliseconds, so the queue drains within a second.
const BUSY_RETRY: Duration = Duration::from_secs(1);
const STORE_RETRY: Duration = Duration::from_secs(5);

fn retry_after_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Busy(_) => ApiError::Busy,
            StoreError::Closed => ApiError::ShuttingDown,
            other => ApiError::Store(other),
        }
    }
}

impl ApiError {
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Decode(DecodeError::TooLarge { .. }) => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            ApiError::Decode(DecodeError::TooManyEvents(_)) => (StatusCode::PAYLOAD_TOO_LARGE, "too_many_events"),
            ApiError::Decode(DecodeError::UnsupportedType(_)) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_content_type"),
            ApiError::Decode(DecodeError::UnsupportedEncoding(_)) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_content_encoding")
            }
            ApiError::Decode(DecodeError::Gzip(_)) => (StatusCode::BAD_REQUEST, "gzip_invalid"),
            ApiError::Decode(DecodeError::NotUtf8(_)) => (StatusCode::BAD_REQUEST, "utf8_invalid"),
            ApiError::Decode(DecodeError::Json(_)) => (StatusCode::BAD_REQUEST, "malformed"),
            ApiError::Decode(DecodeError::SiteMissing) => (StatusCode::BAD_REQUEST, "site_missing"),
            ApiError::BodyUnreadable(_) => (StatusCode::BAD_REQUEST, "body_unreadable"),
            ApiError::UnknownSite(_) => (StatusCode::UNAUTHORIZED, "unknown_site"),
            ApiError::BadSecret(_) => (StatusCode::UNAUTHORIZED, "bad_secret"),
            ApiError::OriginNotAllowed { .. } => (StatusCode::FORBIDDEN, "origin_not_allowed"),
            ApiError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "store_busy"),
            ApiError::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
            ApiError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::RateLimited(e) => Some(e.retry_after),
            ApiError::Busy => Some(BUSY_RETRY),
            ApiError::ShuttingDown | ApiError::Store(_) => Some(STORE_RETRY),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::warn!(error = %self, "request refused");
        }
        let mut response = (status, Json(json!({ "error": code, "message": self.to_string() }))).into_response();
        if let Some(wait) = self.retry_after() {
            let seconds = retry_after_seconds(wait).max(1);
            response.headers_mut().insert("retry-after", HeaderValue::from(seconds));
        }
        response
    }
}
