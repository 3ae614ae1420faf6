//! `/api/users`: the dashboard's Users view and scripts with an admin
//! token manage the users kept in the database (those in the config file
//! are listed, and changed only there). Admins only.
//!
//! Policy: the rules are [`crate::users`]'s, the same as `waymark users`;
//! here, on top: an admin cannot remove their own account or take their
//! own admin role away (another admin can), so no one locks themselves out
//! by a click; changes from a browser are refused when cross-site
//! ([`super::origin::check_same_origin`]).

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::auth::Authenticated;
use super::error::ApiError;
use super::origin::check_same_origin;
use crate::access::{Role, Sites};
use crate::users::{Change, UserInfo, Users};

const MANAGE: &str = "manage users";

/// Runs `f` on the users off the async threads (Argon2, the database).
async fn with_users<T: Send + 'static>(
    state: &Arc<AppState>,
    f: impl FnOnce(&Users, i64) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let dashboard = state.dashboard.clone();
    tokio::task::spawn_blocking(move || f(dashboard.auth.users(), dashboard.auth.now_ms()))
        .await
        .map_err(|e| ApiError::PasswordHash(e.to_string()))?
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>, shape: &str) -> Result<T, ApiError> {
    body.map(|Json(b)| b).map_err(|e| ApiError::BadRequest(format!("send `{shape}` as application/json: {}", e.body_text())))
}

/// `GET /api/users`
pub async fn list(who: Authenticated, State(state): State<Arc<AppState>>) -> Result<Json<Vec<UserInfo>>, ApiError> {
    who.require_admin(MANAGE)?;
    Ok(Json(with_users(&state, |users, _| Ok(users.list()?)).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    name: String,
    password: String,
    role: Role,
    #[serde(default)]
    sites: Sites,
}

/// `POST /api/users {"name", "password", "role", "sites"}`: 201 and the user.
pub async fn add(
    who: Authenticated,
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Json<NewUser>, JsonRejection>,
) -> Result<(StatusCode, Json<UserInfo>), ApiError> {
    who.require_admin(MANAGE)?;
    check_same_origin(&state.config, &headers)?;
    let new = json_body(body, r#"{"name": …, "password": …, "role": "admin|viewer", "sites": "all" | […]}"#)?;
    let added = with_users(&state, move |users, now| Ok(users.add(&new.name, &new.password, new.role, new.sites, now)?)).await?;
    tracing::info!(user = %added.name, role = added.role.name(), by = %who.principal().name, "dashboard user added");
    Ok((StatusCode::CREATED, Json(added)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    sites: Option<Sites>,
    #[serde(default)]
    password: Option<String>,
}

/// `PATCH /api/users/{name} {"role"?, "sites"?, "password"?}`: the user as changed.
pub async fn change(
    who: Authenticated,
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Json<UserChange>, JsonRejection>,
) -> Result<Json<UserInfo>, ApiError> {
    who.require_admin(MANAGE)?;
    check_same_origin(&state.config, &headers)?;
    let c = json_body(body, r#"{"role"?: "admin|viewer", "sites"?: "all" | […], "password"?: …}"#)?;
    if name == who.principal().name && c.role == Some(Role::Viewer) {
        return Err(ApiError::OwnAccount);
    }
    let change = Change { role: c.role, sites: c.sites, password: c.password };
    Ok(Json(with_users(&state, move |users, _| Ok(users.change(&name, change)?)).await?))
}

/// `DELETE /api/users/{name}`: removes the user and ends their sessions.
pub async fn remove(
    who: Authenticated,
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    who.require_admin(MANAGE)?;
    check_same_origin(&state.config, &headers)?;
    if name == who.principal().name {
        return Err(ApiError::OwnAccount);
    }
    let removed = name.clone();
    with_users(&state, move |users, _| Ok(users.remove(&removed)?)).await?;
    tracing::info!(user = %name, by = %who.principal().name, "dashboard user removed");
    Ok(Json(json!({ "removed": name })))
}
