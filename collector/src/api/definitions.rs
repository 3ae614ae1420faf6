//! `/api/goals` and `/api/segments`: what a site's analysts save by name
//! (see [`crate::store::definitions`]). Anyone who may read the site lists
//! them; admins save and remove them. Each names its site with `site=`.
//!
//! `GET` lists; `POST` saves a new one (201, with the id the collector
//! gives it); `PUT /{id}` replaces one; `DELETE /{id}` removes one; an id
//! the site does not have is 404 `unknown_definition`.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::AppState;
use super::auth::Authenticated;
use super::error::ApiError;
use super::origin::check_same_origin;
use super::query::{Pairs, Params};
use crate::query::goals::Goal;
use crate::store::definitions::{Definition, Definitions, Kind};

const SAVE: &str = "save goals and segments";

/// A definition's body, checked, with its name: a goal's condition.
fn checked(kind: Kind, body: Value) -> Result<(String, String), ApiError> {
    let shape = match kind {
        Kind::Goal => r#"{"name": …, "condition": {"kind": "page", "pattern": "/thanks"} | {"kind": "event", "name": …, "property"?: …, "value"?: …}}"#,
        Kind::Segment => crate::query::segments::SHAPE,
    };
    let bad = |e: String| ApiError::BadRequest(format!("send {shape}: {e}"));
    match kind {
        Kind::Goal => {
            let goal: Goal = serde_json::from_value(body).map_err(|e| bad(e.to_string()))?;
            goal.check()?;
            Ok((goal.name, serde_json::to_string(&goal.condition).expect("a condition serializes")))
        }
        Kind::Segment => {
            let segment: crate::query::segments::Segment = serde_json::from_value(body).map_err(|e| bad(e.to_string()))?;
            segment.check()?;
            Ok((segment.name.clone(), serde_json::to_string(&segment).expect("a segment serializes")))
        }
    }
}

/// A stored definition as the API shows it.
fn shown(d: Definition) -> Value {
    let body: Value = serde_json::from_str(&d.body).unwrap_or(Value::Null);
    match d.kind {
        Kind::Goal => serde_json::json!({ "id": d.id, "name": d.name, "condition": body, "updated_ms": d.updated_ms }),
        Kind::Segment => {
            let mut v = body;
            if let Some(o) = v.as_object_mut() {
                o.insert("id".into(), d.id.into());
                o.insert("updated_ms".into(), d.updated_ms.into());
            }
            v
        }
    }
}

async fn blocking<T: Send + 'static>(
    state: &Arc<AppState>,
    f: impl FnOnce(&dyn Definitions) -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    let definitions = state.dashboard.queries.definitions();
    tokio::task::spawn_blocking(move || f(definitions.as_ref()))
        .await
        .map_err(|e| ApiError::Store(crate::store::StoreError::Backend(e.to_string())))?
        .map_err(ApiError::Store)
}

fn new_id() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn json_body(body: Result<Json<Value>, JsonRejection>) -> Result<Value, ApiError> {
    body.map(|Json(b)| b).map_err(|e| ApiError::BadRequest(format!("send the definition as application/json: {}", e.body_text())))
}

async fn list(kind: Kind, who: Authenticated, state: Arc<AppState>, pairs: Vec<(String, String)>) -> Result<Json<Vec<Value>>, ApiError> {
    let site = Params { pairs }.site(&state)?;
    who.require_site(&site.key)?;
    let saved = blocking(&state, move |d| d.list(&site.key, kind)).await?;
    Ok(Json(saved.into_iter().map(shown).collect()))
}

async fn save(
    kind: Kind,
    id: Option<String>,
    who: Authenticated,
    state: Arc<AppState>,
    pairs: Vec<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<Value>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let site = Params { pairs }.site(&state)?;
    who.require_site(&site.key)?;
    who.require_admin(SAVE)?;
    check_same_origin(&state.config, &headers)?;
    let (name, body) = checked(kind, json_body(body)?)?;
    let created = id.is_none();
    let id = id.unwrap_or_else(new_id);
    let definition = Definition { site: site.key.clone(), kind, id: id.clone(), name, body, updated_ms: state.clock.now_ms() };
    let stored = {
        let (key, id) = (site.key.clone(), id.clone());
        blocking(&state, move |d| {
            if !created && d.get(&key, kind, &id)?.is_none() {
                return Ok(None);
            }
            d.put(&definition)?;
            Ok(Some(definition))
        })
        .await?
    };
    let stored = stored.ok_or(ApiError::UnknownDefinition { kind: kind.name(), id, site: site.key })?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(shown(stored))))
}

async fn remove(kind: Kind, id: String, who: Authenticated, state: Arc<AppState>, pairs: Vec<(String, String)>, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    let site = Params { pairs }.site(&state)?;
    who.require_site(&site.key)?;
    who.require_admin(SAVE)?;
    check_same_origin(&state.config, &headers)?;
    let removed = {
        let (key, id) = (site.key.clone(), id.clone());
        blocking(&state, move |d| d.delete(&key, kind, &id)).await?
    };
    if removed { Ok(StatusCode::NO_CONTENT) } else { Err(ApiError::UnknownDefinition { kind: kind.name(), id, site: site.key }) }
}

/// The four routes of one kind: list, add, replace, delete.
macro_rules! routes_of {
    ($kind:expr, $path:literal, $list:ident, $add:ident, $put:ident, $delete:ident) => {
        #[doc = concat!("`GET ", $path, "?site=…`")]
        pub async fn $list(who: Authenticated, State(state): State<Arc<AppState>>, Query(pairs): Pairs) -> Result<Json<Vec<Value>>, ApiError> {
            list($kind, who, state, pairs).await
        }

        #[doc = concat!("`POST ", $path, "?site=…`")]
        pub async fn $add(
            who: Authenticated,
            State(state): State<Arc<AppState>>,
            Query(pairs): Pairs,
            headers: HeaderMap,
            body: Result<Json<Value>, JsonRejection>,
        ) -> Result<(StatusCode, Json<Value>), ApiError> {
            save($kind, None, who, state, pairs, headers, body).await
        }

        #[doc = concat!("`PUT ", $path, "/{id}?site=…`")]
        pub async fn $put(
            who: Authenticated,
            State(state): State<Arc<AppState>>,
            Path(id): Path<String>,
            Query(pairs): Pairs,
            headers: HeaderMap,
            body: Result<Json<Value>, JsonRejection>,
        ) -> Result<(StatusCode, Json<Value>), ApiError> {
            save($kind, Some(id), who, state, pairs, headers, body).await
        }

        #[doc = concat!("`DELETE ", $path, "/{id}?site=…`")]
        pub async fn $delete(
            who: Authenticated,
            State(state): State<Arc<AppState>>,
            Path(id): Path<String>,
            Query(pairs): Pairs,
            headers: HeaderMap,
        ) -> Result<StatusCode, ApiError> {
            remove($kind, id, who, state, pairs, headers).await
        }
    };
}

// Goals: `{"name", "condition"}`; segments: `{"name", "match", "conditions"}`.
routes_of!(Kind::Goal, "/api/goals", list_goals, add_goal, put_goal, delete_goal);
routes_of!(Kind::Segment, "/api/segments", list_segments, add_segment, put_segment, delete_segment);
