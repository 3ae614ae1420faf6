//! Every refusal the API makes, and its status code: decided here only.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::ingest::decode::DecodeError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("unknown site key {0:?}")]
    UnknownSite(String),
    #[error("the events could not be stored; retry later")]
    Store(#[from] StoreError),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Decode(DecodeError::TooLarge(_)) => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            ApiError::Decode(DecodeError::TooManyEvents(_)) => (StatusCode::PAYLOAD_TOO_LARGE, "too_many_events"),
            ApiError::Decode(DecodeError::Json(_)) => (StatusCode::BAD_REQUEST, "malformed"),
            ApiError::Decode(DecodeError::SiteMissing) => (StatusCode::BAD_REQUEST, "site_missing"),
            ApiError::UnknownSite(_) => (StatusCode::UNAUTHORIZED, "unknown_site"),
            ApiError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let mut response = (status, Json(json!({ "error": code, "message": self.to_string() }))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("5"));
        }
        response
    }
}
