//! The static files the collector serves: the script-tag loader
//! (`/waymark.js`), the built SDK (`/sdk/…`), the demo site (`/`) and the
//! dashboard (`/dashboard`). Embedded in release builds, read from `www/`
//! in debug builds.

use axum::Router;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../www/"]
struct Www;

pub fn router() -> Router {
    Router::new()
        .route("/", get(|| async { file("demo/index.html") }))
        .route("/dashboard", get(|| async { Redirect::permanent("/dashboard/") }))
        .route("/dashboard/", get(|| async { file("dashboard/index.html") }))
        // Browsers ask for `/favicon.ico` by themselves; every browser
        // Waymark supports draws an SVG icon.
        .route("/favicon.ico", get(|| async { file("favicon.svg") }))
        .fallback(get(|uri: Uri| async move { file(uri.path().trim_start_matches('/')) }))
}

fn file(path: &str) -> Response {
    match Www::get(path) {
        Some(content) => {
            let mime = mime_guess::from_path(path).first_or_octet_stream();
            ([(header::CONTENT_TYPE, mime.as_ref())], content.data).into_response()
        }
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}
