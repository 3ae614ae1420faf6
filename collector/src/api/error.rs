//! Every status code the HTTP API answers, for every route (collect, server
//! collect, sign-in, queries, live, lifecycle): decided here only.
//!
//! Policy:
//! - a refusal's body is `{"error": code, "message": text}`, written by
//!   [`refusal`] only: the code for programs, the text for the developer
//!   reading the response;
//! - an unknown site key is 404 `unknown_site` on every route. The key is a
//!   name, not a credential (every tracked page shows it), so 401 would send
//!   the sender looking for a credential that cannot help, and the dashboard
//!   reads any 401 as "signed out"; 404 says "no such site: fix the key",
//!   which is what the sender can act on, and no sender (the SDK included)
//!   retries it;
//! - who is asking: 401 when no one is signed in or the credential is not
//!   right (a write key of the Segment API too: it names the site, and a
//!   wrong one is a wrong credential, `bad_write_key`) (the dashboard reads any 401 as "sign in"), 403 `forbidden`
//!   when someone is signed in but may not do this (a site not given to a
//!   viewer, an admin-only action), 403 `origin_not_allowed` with what to
//!   add to `allowed_origins`, 429 `sign_in_limited` for too many sign-ins;
//! - a wait the sender should honour comes with `Retry-After` (429, 503);
//! - a batch whose every event was refused is 400 with the same per-event
//!   body as a 200 ([`BatchAnswer`]); a batch that kept anything stays 200,
//!   and so does an empty batch: nothing in it was wrong, and a 400 would
//!   tell the sender to fix an event that does not exist.
//!
//! Mechanism: every refusal (a 400 batch too) carries its code in the
//! response's extensions ([`Refused`]), and one layer ([`count_refusals`],
//! on the whole router) counts them in `waymark_requests_refused_total`,
//! labelled by that code. A layer rather than the `IntoResponse` impl: a
//! response knows nothing of the server it came from (tests run several
//! collectors, each with its own metrics, in one process), and the layer
//! sees every route's refusals, extractors' rejections included, with no
//! handler counting or wrapping itself.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use waymark_protocol::BatchResponse;

use super::AppState;
use super::rate_limit::Exceeded;
use crate::access::Denied;
use crate::ingest::decode::DecodeError;
use crate::query::QueryError;
use crate::store::StoreError;
use crate::users::UserError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    // What the request carries.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("the request body could not be read: {0}")]
    BodyUnreadable(String),
    #[error("the request body did not arrive in time (`[server] body_timeout_seconds`)")]
    BodyTimeout,
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Query(#[from] QueryError),
    #[error("{0}")]
    BadSelector(String),
    #[error("no {kind} {id:?} on site {site:?}")]
    UnknownDefinition { kind: &'static str, id: String, site: String },

    // What it names.
    #[error("unknown site key {0:?}: no [[site]] in the collector's config has it")]
    UnknownSite(String),
    #[error("no tracking call /v1/{0}: send to /v1/batch, track, page, screen, identify, alias or group")]
    UnknownCall(String),

    // Who is asking.
    #[error("missing or wrong `Authorization: Bearer <secret key>` for site {0:?}")]
    BadSecret(String),
    #[error("missing or unknown write key: send a site's `write_key` as the HTTP Basic user name (empty password) or as `writeKey`")]
    BadWriteKey,
    #[error("{}", origin_message(site, origin.as_deref(), own.as_deref(), *listed))]
    OriginNotAllowed { site: String, origin: Option<String>, own: Option<String>, listed: bool },
    #[error("sign in, or send `Authorization: Bearer <api token>`")]
    NotSignedIn,
    #[error("the name or password is not right")]
    WrongPassword,
    #[error("refused: this request came from another site")]
    CrossSite,
    /// A viewer asking for a site not given to them, or for what only an
    /// admin may do.
    #[error(transparent)]
    Forbidden(#[from] Denied),

    // Accounts.
    #[error("there is already a user {0:?}")]
    UserExists(String),
    #[error("no user {0:?}")]
    UnknownUser(String),
    #[error("user {0:?} is defined in the config file; change it there")]
    UserInConfig(String),
    #[error("you cannot remove your own account or take away your own admin role; another admin can")]
    OwnAccount,

    // What the collector can take right now.
    #[error("too many requests from this {}; retry after {} s", .0.scope, retry_after_seconds(.0.retry_after))]
    RateLimited(Exceeded),
    #[error("too many sign-in attempts {}; retry after {} s", .0.scope, retry_after_seconds(.0.retry_after))]
    SignInLimited(Exceeded),
    #[error("the database is behind; retry after {} s", retry_after_seconds(BUSY_RETRY))]
    Busy,
    #[error("the collector is handling as many ingest requests as it takes at once ({limit}, `[limits] ingest_in_flight`); retry after {wait} s", limit = .0, wait = retry_after_seconds(BUSY_RETRY))]
    Overloaded(usize),
    #[error("the collector is shutting down; retry later")]
    ShuttingDown,
    #[error("the events could not be stored; retry later")]
    Store(StoreError),

    // The collector's own failures.
    #[error("a password could not be hashed or read: {0}")]
    PasswordHash(String),
    #[error("the export could not be written: {0}")]
    Export(String),
}

/// How long a sender waits when the writer's queue is full: commits take
/// milliseconds, so the queue drains within a second.
const BUSY_RETRY: Duration = Duration::from_secs(1);
const STORE_RETRY: Duration = Duration::from_secs(5);

/// What the operator should add, for a refused origin.
fn origin_message(site: &str, origin: Option<&str>, own: Option<&str>, listed: bool) -> String {
    let own = own.unwrap_or("the origin of the address it is reached at");
    match origin {
        None => format!(
            "site {site:?} takes browser events only from its allowed_origins, and this request has no Origin header; \
             a server sends to /api/server/collect with the site's secret_key"
        ),
        Some("null") => format!(
            "the page sent `Origin: null` (a sandboxed frame, a file, or a no-referrer policy), which names no site; \
             only allowed_origins = [\"*\"] in site {site:?}'s [[site]] accepts it"
        ),
        Some(origin) if listed => {
            format!("origin {origin} may not send events for site {site:?}; add \"{origin}\" to the site's allowed_origins")
        }
        Some(origin) => format!(
            "origin {origin} may not send events for site {site:?}: a site with no allowed_origins accepts only the collector's \
             own origin ({own}); add allowed_origins = [\"{origin}\"] to its [[site]] (or set public_url if this is the \
             collector's own address)"
        ),
    }
}

fn retry_after_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl From<Exceeded> for ApiError {
    fn from(e: Exceeded) -> Self {
        ApiError::RateLimited(e)
    }
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Invalid(message) => ApiError::BadRequest(message),
            UserError::Exists(name) => ApiError::UserExists(name),
            UserError::Unknown(name) => ApiError::UnknownUser(name),
            UserError::InConfig(name) => ApiError::UserInConfig(name),
            UserError::Hash(message) => ApiError::PasswordHash(message),
            UserError::Store(e) => e.into(),
        }
    }
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
    fn status_and_code(&self) -> (StatusCode, &'static str) {
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
            ApiError::BodyTimeout => (StatusCode::REQUEST_TIMEOUT, "body_timeout"),
            ApiError::BadRequest(_) | ApiError::Query(QueryError::BadRequest(_)) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::BadSelector(_) => (StatusCode::BAD_REQUEST, "bad_selector"),
            ApiError::Query(QueryError::SessionNotFound(_)) => (StatusCode::NOT_FOUND, "session_not_found"),
            ApiError::Query(QueryError::SegmentNotFound(_)) => (StatusCode::NOT_FOUND, "segment_not_found"),
            ApiError::Query(QueryError::TimeZone(_)) => (StatusCode::INTERNAL_SERVER_ERROR, "time_zone"),
            ApiError::Query(QueryError::Database(_) | QueryError::Interrupted) => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
            ApiError::UnknownSite(_) => (StatusCode::NOT_FOUND, "unknown_site"),
            ApiError::UnknownDefinition { .. } => (StatusCode::NOT_FOUND, "unknown_definition"),
            ApiError::UnknownCall(_) => (StatusCode::NOT_FOUND, "unknown_call"),
            ApiError::BadSecret(_) => (StatusCode::UNAUTHORIZED, "bad_secret"),
            ApiError::BadWriteKey => (StatusCode::UNAUTHORIZED, "bad_write_key"),
            ApiError::OriginNotAllowed { .. } => (StatusCode::FORBIDDEN, "origin_not_allowed"),
            ApiError::NotSignedIn => (StatusCode::UNAUTHORIZED, "not_signed_in"),
            ApiError::WrongPassword => (StatusCode::UNAUTHORIZED, "wrong_password"),
            ApiError::CrossSite => (StatusCode::FORBIDDEN, "cross_site"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::UserExists(_) => (StatusCode::CONFLICT, "user_exists"),
            ApiError::UnknownUser(_) => (StatusCode::NOT_FOUND, "unknown_user"),
            ApiError::UserInConfig(_) => (StatusCode::CONFLICT, "user_in_config"),
            ApiError::OwnAccount => (StatusCode::CONFLICT, "own_account"),
            ApiError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::SignInLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "sign_in_limited"),
            ApiError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "store_busy"),
            ApiError::Overloaded(_) => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            ApiError::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
            ApiError::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
            ApiError::PasswordHash(_) => (StatusCode::INTERNAL_SERVER_ERROR, "password_hash"),
            ApiError::Export(_) => (StatusCode::INTERNAL_SERVER_ERROR, "export"),
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::RateLimited(e) | ApiError::SignInLimited(e) => Some(e.retry_after),
            ApiError::Busy | ApiError::Overloaded(_) => Some(BUSY_RETRY),
            ApiError::ShuttingDown | ApiError::Store(_) | ApiError::Query(QueryError::Database(_) | QueryError::Interrupted) => {
                Some(STORE_RETRY)
            }
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, "request failed");
        } else if status.is_server_error() && !matches!(self, ApiError::Overloaded(_)) {
            // Shed requests are counted (`waymark_requests_refused_total`),
            // not logged: a line each would add a flood of writes to the overload.
            tracing::warn!(error = %self, "request refused");
        }
        let mut response = refusal(status, code, &self.to_string());
        if let Some(wait) = self.retry_after() {
            let seconds = retry_after_seconds(wait).max(1);
            response.headers_mut().insert("retry-after", HeaderValue::from(seconds));
        }
        response
    }
}

/// The one writer of a refusal's body.
fn refusal(status: StatusCode, code: &'static str, message: &str) -> Response {
    let mut response = (status, Json(json!({ "error": code, "message": message }))).into_response();
    response.extensions_mut().insert(Refused(code));
    response
}

/// The answer to a batch that was read: per event, what became of it. 200
/// when anything was kept (accepted, duplicate or filtered) or the batch was
/// empty; 400, with the same body, when every event was rejected.
pub struct BatchAnswer(pub BatchResponse);

/// The code a 400 batch is counted under.
const ALL_EVENTS_REJECTED: &str = "all_events_rejected";

impl IntoResponse for BatchAnswer {
    fn into_response(self) -> Response {
        let batch = self.0;
        let kept = batch.accepted + batch.duplicates + batch.filtered;
        if kept == 0 && batch.rejected > 0 {
            let mut response = (StatusCode::BAD_REQUEST, Json(batch)).into_response();
            response.extensions_mut().insert(Refused(ALL_EVENTS_REJECTED));
            response
        } else {
            Json(batch).into_response()
        }
    }
}

/// A response that refused its request, with the code it was refused for.
#[derive(Debug, Clone, Copy)]
pub struct Refused(pub &'static str);

/// The layer, on every route, that counts each refusal once under its code.
pub async fn count_refusals(State(state): State<Arc<AppState>>, response: Response) -> Response {
    if let Some(Refused(code)) = response.extensions().get::<Refused>() {
        state.metrics.requests_refused.with_label_values(&[code]).inc();
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use waymark_protocol::{EventResult, Outcome};

    fn answer(outcomes: &[Outcome]) -> BatchResponse {
        let count = |o: Outcome| outcomes.iter().filter(|x| **x == o).count();
        BatchResponse {
            accepted: count(Outcome::Accepted),
            duplicates: count(Outcome::Duplicate),
            rejected: count(Outcome::Rejected),
            filtered: count(Outcome::Filtered),
            results: outcomes
                .iter()
                .enumerate()
                .map(|(index, outcome)| EventResult { index, id: String::new(), outcome: outcome.clone(), reason: None, message: None })
                .collect(),
            session: None,
            ids: None,
        }
    }

    #[test]
    fn a_batch_is_refused_only_when_every_event_in_it_was_rejected() {
        let status = |outcomes: &[Outcome]| BatchAnswer(answer(outcomes)).into_response().status();
        assert_eq!(status(&[Outcome::Rejected, Outcome::Rejected]), StatusCode::BAD_REQUEST);
        assert_eq!(status(&[Outcome::Rejected, Outcome::Accepted]), StatusCode::OK);
        assert_eq!(status(&[Outcome::Rejected, Outcome::Duplicate]), StatusCode::OK);
        assert_eq!(status(&[Outcome::Rejected, Outcome::Filtered]), StatusCode::OK);
        assert_eq!(status(&[]), StatusCode::OK);
    }

    #[test]
    fn every_refusal_is_marked_with_the_code_its_body_names() {
        for error in [ApiError::UnknownSite("nope".into()), ApiError::NotSignedIn, ApiError::Busy] {
            let code = error.status_and_code().1;
            let response = error.into_response();
            assert_eq!(response.extensions().get::<Refused>().map(|r| r.0), Some(code));
        }
        let refused = BatchAnswer(answer(&[Outcome::Rejected])).into_response();
        assert_eq!(refused.extensions().get::<Refused>().map(|r| r.0), Some(ALL_EVENTS_REJECTED));
        assert!(BatchAnswer(answer(&[Outcome::Accepted])).into_response().extensions().get::<Refused>().is_none());
    }
}
