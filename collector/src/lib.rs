//! Waymark's collector. The data path, one module per stage:
//! `api::collect` (HTTP) → `ingest::decode` → `ingest::validate` → `store`
//! (durable, group-committed) → `live` (pushed to the dashboard). `www` serves the SDK, demo and dashboard.

pub mod api;
pub mod config;
pub mod ingest;
pub mod live;
pub mod query;
pub mod server;
pub mod store;
pub mod www;

pub use server::{Server, start, start_with_clock};
