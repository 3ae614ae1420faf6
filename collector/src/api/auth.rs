//! Who may read the numbers: someone signed in with the admin password (a
//! session cookie), or a script with an API token (`Authorization: Bearer`).
//!
//! Policy:
//! - the admin password is kept only as an Argon2id hash; it comes from
//!   `[dashboard] admin_password` (a PHC hash, or plain text hashed at start;
//!   `WAYMARK_DASHBOARD__ADMIN_PASSWORD` in the environment), else one is
//!   generated at start and printed once on stdout;
//! - the session cookie is `HttpOnly; Secure; SameSite=Strict` and lives a
//!   week; sessions are in memory, so a restart signs everyone out;
//! - state-changing requests (sign-in, sign-out) are refused when the
//!   browser says they come from another site (`Origin` not this host, or
//!   `Sec-Fetch-Site: cross-site`), on top of `SameSite=Strict`.
//!
//! Tokens are read and compared by [`super::credentials`], as the server
//! senders' secrets are; refusals are [`ApiError`]s, whose status codes are
//! decided in [`super::error`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, State};
use axum::http::header::{COOKIE, HOST, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::credentials::{bearer, same_secret};
use super::error::ApiError;
use crate::config::DashboardConfig;
use crate::query::SharedClock;

pub const SESSION_COOKIE: &str = "waymark_session";
const SESSION_LIFETIME_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// The environment variable that sets `[dashboard] admin_password`.
pub const PASSWORD_ENV: &str = "WAYMARK_DASHBOARD__ADMIN_PASSWORD";

pub struct Auth {
    /// PHC string, `$argon2id$…`.
    password_hash: String,
    api_tokens: Vec<String>,
    /// Session token → expiry, ms.
    sessions: Mutex<HashMap<String, i64>>,
    clock: SharedClock,
}

impl Auth {
    pub fn from_config(config: &DashboardConfig, clock: SharedClock) -> Result<Auth, ApiError> {
        let configured = config.admin_password.clone().filter(|p| !p.is_empty());
        let password_hash = match configured {
            Some(phc) if phc.starts_with("$argon2") => {
                argon2::password_hash::phc::PasswordHash::new(&phc).map_err(|e| ApiError::PasswordHash(e.to_string()))?;
                phc
            }
            Some(plain) => hash(&plain)?,
            None => {
                let generated = random_text(16);
                // Printed once, like other self-hosted tools do: the operator
                // reads it from the log of the first start.
                println!("waymark dashboard password (generated; set {PASSWORD_ENV} to choose one): {generated}");
                hash(&generated)?
            }
        };
        Ok(Auth { password_hash, api_tokens: config.api_tokens.clone(), sessions: Mutex::new(HashMap::new()), clock })
    }

    fn verify_password(&self, password: &str) -> Result<(), ApiError> {
        Argon2::default().verify_password(password.as_bytes(), self.password_hash.as_str()).map_err(|_| ApiError::WrongPassword)
    }

    fn start_session(&self) -> String {
        let token = random_text(43);
        let now = self.clock.now_ms();
        let mut sessions = self.sessions.lock().expect("sessions lock");
        sessions.retain(|_, expiry| *expiry > now);
        sessions.insert(token.clone(), now + SESSION_LIFETIME_MS);
        token
    }

    fn end_session(&self, token: &str) {
        self.sessions.lock().expect("sessions lock").remove(token);
    }

    fn session_is_valid(&self, token: &str) -> bool {
        let now = self.clock.now_ms();
        self.sessions.lock().expect("sessions lock").get(token).is_some_and(|expiry| *expiry > now)
    }

    fn token_is_valid(&self, token: &str) -> bool {
        self.api_tokens.iter().any(|t| same_secret(token, t))
    }

    /// Whether the request carries a valid session cookie or API token.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        if let Some(token) = bearer(headers) {
            return if self.token_is_valid(token) { Ok(()) } else { Err(ApiError::NotSignedIn) };
        }
        match cookie(headers, SESSION_COOKIE) {
            Some(session) if self.session_is_valid(session) => Ok(()),
            _ => Err(ApiError::NotSignedIn),
        }
    }
}

fn hash(password: &str) -> Result<String, ApiError> {
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| ApiError::PasswordHash(e.to_string()))
}

/// `len` characters from a 64-letter alphabet, from the OS's CSPRNG.
fn random_text(len: usize) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).expect("the OS random source");
    bytes.iter().map(|b| ALPHABET[usize::from(b & 63)] as char).collect()
}

fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
}

/// Refuses requests a browser marks as coming from another site.
fn same_origin(headers: &HeaderMap) -> Result<(), ApiError> {
    if headers.get("sec-fetch-site").is_some_and(|v| v == "cross-site" || v == "same-site") {
        return Err(ApiError::CrossSite);
    }
    let Some(origin) = headers.get(ORIGIN) else { return Ok(()) };
    let host = headers.get(HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let origin = origin.to_str().unwrap_or_default();
    let origin_host = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    if origin_host == Some(host) { Ok(()) } else { Err(ApiError::CrossSite) }
}

/// Handlers that take this run only for a signed-in user or a valid token.
pub struct Authenticated;

impl FromRequestParts<Arc<AppState>> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        state.dashboard.auth.check(&parts.headers)?;
        Ok(Authenticated)
    }
}

#[derive(Deserialize)]
pub struct SignIn {
    password: String,
}

/// `POST /api/auth/sign-in {"password": …}`: sets the session cookie.
pub async fn sign_in(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Json<SignIn>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    same_origin(&headers)?;
    let Json(body) =
        body.map_err(|e| ApiError::BadRequest(format!("send `{{\"password\": \"…\"}}` as application/json: {}", e.body_text())))?;
    let dashboard = state.dashboard.clone();
    // Argon2 is deliberately slow: off the async threads.
    tokio::task::spawn_blocking(move || dashboard.auth.verify_password(&body.password))
        .await
        .map_err(|e| ApiError::PasswordHash(e.to_string()))??;
    let token = state.dashboard.auth.start_session();
    let cookie = format!("{SESSION_COOKIE}={token}; Path=/; Max-Age={}; HttpOnly; Secure; SameSite=Strict", SESSION_LIFETIME_MS / 1000);
    Ok(([(SET_COOKIE, cookie)], Json(json!({ "signed_in": true }))))
}

/// `POST /api/auth/sign-out`: ends the session and clears the cookie.
pub async fn sign_out(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    same_origin(&headers)?;
    if let Some(session) = cookie(&headers, SESSION_COOKIE) {
        state.dashboard.auth.end_session(session);
    }
    let cookie = format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict");
    Ok(([(SET_COOKIE, cookie)], Json(json!({ "signed_in": false }))))
}

/// `GET /api/auth/session`: 200 when signed in, 401 otherwise.
pub async fn session(_: Authenticated) -> Json<serde_json::Value> {
    Json(json!({ "signed_in": true }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; waymark_session=abc; b=2")]);
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers(&[("cookie", "waymark_sessionx=1")]), SESSION_COOKIE), None);
    }

    #[test]
    fn a_post_from_another_origin_is_refused_and_one_from_this_host_is_not() {
        assert!(same_origin(&headers(&[("host", "127.0.0.1:8080"), ("origin", "http://127.0.0.1:8080")])).is_ok());
        assert!(same_origin(&headers(&[("host", "127.0.0.1:8080"), ("origin", "https://evil.example")])).is_err());
        assert!(same_origin(&headers(&[("host", "a"), ("origin", "null")])).is_err());
        assert!(same_origin(&headers(&[("sec-fetch-site", "cross-site")])).is_err());
        // Scripts (curl) send no Origin: no browser, no cross-site request.
        assert!(same_origin(&headers(&[("host", "a")])).is_ok());
    }
}
