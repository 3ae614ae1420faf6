//! Who may read the numbers: a dashboard user signed in with their name and
//! password (a session cookie), or a script with an API token
//! (`Authorization: Bearer`). Each is a [`Principal`] with a role and
//! sites ([`crate::access`]); handlers take [`Authenticated`] and check
//! the site they answer for, or [`Authenticated::require_admin`].
//!
//! Policy:
//! - users and their passwords are [`crate::users`]'s; sign-in without a
//!   name signs in `admin` (the one user there was before names);
//! - sign-in is rate limited per client address and per account
//!   ([`super::rate_limit`]): the 11th attempt within a minute is 429
//!   `sign_in_limited` with `Retry-After`;
//! - the session cookie is `HttpOnly; Secure; SameSite=Strict` and lives a
//!   week; sessions are stored in the database as the hash of their token
//!   ([`crate::store::accounts`]), so a restart signs no one out, and
//!   signing out deletes the session. A request is given the user's role
//!   and sites as they are now, so a change applies at once;
//! - API tokens come from the config: `[dashboard] api_tokens` are admins
//!   of every site (as before), `[[dashboard.token]]` each have a role and
//!   sites;
//! - state-changing requests (sign-in, sign-out, managing users) are
//!   refused when the browser says they come from another site
//!   ([`super::origin::check_same_origin`]), on top of `SameSite=Strict`.
//!
//! Tokens are read and compared by [`super::credentials`], as the server
//! senders' secrets are; refusals are [`ApiError`]s, whose status codes are
//! decided in [`super::error`].

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::HeaderMap;
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::collect::client_ip;
use super::credentials::{bearer, cookie, same_secret};
use super::error::ApiError;
use super::origin::check_same_origin;
use crate::access::{Principal, Role, Sites, Via};
use crate::config::Config;
use crate::query::SharedClock;
use crate::store::accounts::{Accounts, TokenHash};
use crate::access::ADMIN;
use crate::users::{Users, random_text};

pub const SESSION_COOKIE: &str = "waymark_session";
const SESSION_LIFETIME_MS: i64 = 7 * 24 * 60 * 60 * 1000;
pub use crate::users::PASSWORD_ENV;

struct ApiToken {
    secret: String,
    principal: Principal,
}

pub struct Auth {
    users: Users,
    tokens: Vec<ApiToken>,
    clock: SharedClock,
}

impl Auth {
    pub fn from_config(config: &Config, accounts: Arc<dyn Accounts>, clock: SharedClock) -> Result<Auth, ApiError> {
        let d = &config.dashboard;
        let token = |secret: &str, name: String, role, sites| ApiToken {
            secret: secret.to_owned(),
            principal: Principal { name, role, sites, via: Via::Token },
        };
        let mut tokens: Vec<ApiToken> =
            d.api_tokens.iter().enumerate().map(|(i, t)| token(t, format!("api token {i}"), Role::Admin, Sites::All)).collect();
        for (i, t) in d.tokens.iter().enumerate() {
            tokens.push(token(&t.token, t.name.clone().unwrap_or_else(|| format!("token {i}")), t.role, t.sites.clone()));
        }
        Ok(Auth { users: Users::open_for_serving(config, accounts)?, tokens, clock })
    }

    pub fn users(&self) -> &Users {
        &self.users
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    fn token_principal(&self, presented: &str) -> Option<Principal> {
        // Every token is compared, so the time does not say which matched.
        let mut found = None;
        for token in &self.tokens {
            if same_secret(presented, &token.secret) && found.is_none() {
                found = Some(token.principal.clone());
            }
        }
        found
    }

    /// The principal a request's token or session cookie stands for. Reads
    /// the database: run it off the async threads.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, ApiError> {
        if let Some(token) = bearer(headers) {
            return self.token_principal(token).ok_or(ApiError::NotSignedIn);
        }
        let session = cookie(headers, SESSION_COOKIE).ok_or(ApiError::NotSignedIn)?;
        let name = self.users.accounts().session_user(TokenHash::of(session), self.now_ms())?.ok_or(ApiError::NotSignedIn)?;
        let user = self.users.find(&name)?.ok_or(ApiError::NotSignedIn)?;
        Ok(Principal { name: user.name, role: user.role, sites: user.sites, via: Via::Session })
    }

    /// Checks the password and starts a session; the cookie's token.
    fn sign_in(&self, name: &str, password: &str) -> Result<(String, Role), ApiError> {
        let user = self.users.check_password(name, password)?.ok_or(ApiError::WrongPassword)?;
        let token = random_text(43);
        let now = self.now_ms();
        self.users.accounts().start_session(TokenHash::of(&token), &user.name, now, now + SESSION_LIFETIME_MS)?;
        Ok((token, user.role))
    }
}

/// Handlers that take this run only for a signed-in user or a valid token,
/// and are told who it is.
pub struct Authenticated(pub Principal);

impl Authenticated {
    /// For what only an admin may do (managing users; erasing data): 403
    /// `forbidden` for a viewer. `action` completes "only an admin may …".
    pub fn require_admin(&self, action: &'static str) -> Result<(), ApiError> {
        Ok(self.0.require_admin(action)?)
    }

    /// For an answer about one site: 403 `forbidden` when it is not one of
    /// the principal's.
    pub fn require_site(&self, site: &str) -> Result<(), ApiError> {
        Ok(self.0.require_site(site)?)
    }

    pub fn principal(&self) -> &Principal {
        &self.0
    }
}

impl FromRequestParts<Arc<AppState>> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let (state, headers) = (state.clone(), parts.headers.clone());
        let principal = tokio::task::spawn_blocking(move || state.dashboard.auth.authenticate(&headers))
            .await
            .map_err(|e| ApiError::PasswordHash(e.to_string()))??;
        Ok(Authenticated(principal))
    }
}

#[derive(Deserialize)]
pub struct SignIn {
    /// Absent or empty: `admin`.
    #[serde(default)]
    name: Option<String>,
    password: String,
}

/// `POST /api/auth/sign-in {"name": …, "password": …}`: sets the session cookie.
pub async fn sign_in(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Json<SignIn>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    check_same_origin(&state.config, &headers)?;
    let Json(body) = body.map_err(|e| {
        ApiError::BadRequest(format!("send `{{\"name\": \"…\", \"password\": \"…\"}}` as application/json: {}", e.body_text()))
    })?;
    let name = body.name.filter(|n| !n.is_empty()).unwrap_or_else(|| ADMIN.to_owned());
    state.rate_limits.check_sign_in(client_ip(&state.config, peer, &headers), &name).map_err(ApiError::SignInLimited)?;
    let dashboard = state.dashboard.clone();
    let signed_in = name.clone();
    // Argon2 is deliberately slow: off the async threads.
    let (token, role) = tokio::task::spawn_blocking(move || dashboard.auth.sign_in(&signed_in, &body.password))
        .await
        .map_err(|e| ApiError::PasswordHash(e.to_string()))??;
    let cookie = format!("{SESSION_COOKIE}={token}; Path=/; Max-Age={}; HttpOnly; Secure; SameSite=Strict", SESSION_LIFETIME_MS / 1000);
    Ok(([(SET_COOKIE, cookie)], Json(json!({ "signed_in": true, "name": name, "role": role }))))
}

/// `POST /api/auth/sign-out`: ends the session and clears the cookie.
pub async fn sign_out(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<impl IntoResponse, ApiError> {
    check_same_origin(&state.config, &headers)?;
    if let Some(session) = cookie(&headers, SESSION_COOKIE) {
        let hash = TokenHash::of(session);
        let dashboard = state.dashboard.clone();
        tokio::task::spawn_blocking(move || dashboard.auth.users().accounts().end_session(hash))
            .await
            .map_err(|e| ApiError::PasswordHash(e.to_string()))??;
    }
    let cookie = format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict");
    Ok(([(SET_COOKIE, cookie)], Json(json!({ "signed_in": false }))))
}

/// `GET /api/auth/session`: who is signed in (200), or 401.
pub async fn session(who: Authenticated) -> Json<serde_json::Value> {
    let p = who.principal();
    Json(json!({ "signed_in": true, "name": p.name, "role": p.role, "sites": p.sites }))
}
