//! Waymark's collector. The data path, one module per stage:
//! `api::collect` / `api::server_collect` (HTTP) → `ingest::decode` →
//! `ingest::validate` → `ingest::enrich` and `ingest::visitor` → `store`
//! (durable, group-committed, keeping `sessions` by the rule in
//! `sessions`) → `live` (pushed to the dashboard). `www` serves the SDK,
//! demo and dashboard; `api::ops` and `metrics` are for operators.

pub mod api;
pub mod clock;
pub mod config;
pub mod event;
pub mod ingest;
pub mod live;
pub mod metrics;
pub mod query;
pub mod server;
pub mod sessions;
pub mod store;
pub mod www;

pub use server::{Server, start, start_with_clock};
