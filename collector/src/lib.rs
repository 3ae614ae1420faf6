//! Waymark's collector. The data path, one module per stage:
//!
//! 1. `api` (HTTP): `api::collect` / `api::server_collect` decode,
//!    authorize and validate a request (`ingest::decode`,
//!    `ingest::validate`), and answer; `api::segment` does the same for
//!    the Segment Tracking API, whose messages `ingest::segment` reads into
//!    events first; `api::error` decides every status.
//! 2. `ingest::pipeline`: enrich (`ingest::enrich`: `agent`, `referrer`,
//!    `geo`), bots counted, cookieless visitor keys (`ingest::visitor`),
//!    then append through the write seam, `store::Store`.
//! 3. `store::sqlite` (or another backend): its writer groups appends and,
//!    for each group, asks `ingest::group` for the plan (`ingest::dedupe`,
//!    yesterday's key, `ingest::sessionize` by the rule in `sessions`),
//!    then persists it and answers once it is durable.
//! 4. `query` (the questions and their policy) asks the read seam,
//!    `store::read::Reads`; `live` pushes what was stored to the dashboard.
//!
//! 5. `lifecycle`: retention (a background job deleting what is older than
//!    each site's period, in bounded chunks through the write seam) and
//!    erasure of one person or a site, each recorded in the audit log;
//!    export of one person is a question of the read seam.
//!
//! `identity` says which visitors are one person (the link log the
//! pipeline appends, resolved when reading).
//!
//! `event` is the stored event every stage passes along; `www` serves the
//! SDK, demo and dashboard; `api::ops` and `metrics` are for operators.

pub mod access;
pub mod api;
pub mod clock;
pub mod config;
pub mod event;
pub mod identity;
pub mod ingest;
pub mod lifecycle;
pub mod live;
pub mod metrics;
pub mod migrate;
pub mod query;
pub mod server;
pub mod sessions;
pub mod store;
pub mod users;
pub mod www;

pub use server::{Server, start, start_with_clock};
