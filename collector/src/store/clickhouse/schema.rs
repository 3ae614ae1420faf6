//! The store's tables in ClickHouse and their migrations, checked at start.
//!
//! Policy: migrations are numbered and only ever appended; the versions
//! applied are rows of `schema_migrations` in the store's database. A
//! database migrated by a newer collector (a version this binary does not
//! know) is refused at start, with both versions named, rather than
//! written with an older idea of the tables.
//!
//! How counts stay exact before merges: `events` and `sessions` are
//! `ReplacingMergeTree(version)` tables ordered by `(site, id)`. Every
//! write of a row (an event moved to another session, a session extended
//! or recomputed, a session deleted, as a tombstone with `deleted = 1`) is
//! a new row with a higher `version`, and every read goes through `FINAL`,
//! which collapses each `(site, id)` to its latest version at read time,
//! whatever the background merges have done. So a resent event that got
//! past the collector's lookup still counts once, and a recomputed session
//! replaces its older rows. The cost: `FINAL` merges at read time, and a
//! read's `WHERE` on other columns may only filter after the collapse
//! (which is why the client turns off automatic `PREWHERE`). Only the
//! server's types and engines of 18.16 are used: no `LowCardinality`, no
//! `DateTime64` (times are `Int64` milliseconds), `UInt8` for booleans.

use super::client::{Client, ClientError, lit};

/// The session and event columns shared by both tables' definitions.
const VISIT_COLUMNS: &str = "referrer_host Nullable(String), source Nullable(String), medium Nullable(String),
    utm_source Nullable(String), utm_medium Nullable(String), utm_campaign Nullable(String),
    utm_term Nullable(String), utm_content Nullable(String), browser Nullable(String), os Nullable(String),
    device Nullable(String), country Nullable(String), region Nullable(String), city Nullable(String)";

/// Each migration: its statements, run in order.
pub fn migrations() -> Vec<Vec<String>> {
    vec![vec![
        format!(
            "CREATE TABLE IF NOT EXISTS events (
                site String, id String, ts Int64, received_ms Int64, name String, session_id String,
                client_session_id Nullable(String), visitor_id String, user_id Nullable(String),
                url String, host String, path String, title Nullable(String), referrer Nullable(String),
                {VISIT_COLUMNS}, browser_version Nullable(String), props String, engaged_ms Nullable(Int64),
                version UInt64
            ) ENGINE = ReplacingMergeTree(version) ORDER BY (site, id)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS sessions (
                site String, id String, visitor_id String, client_session_id Nullable(String), user_id Nullable(String),
                start_ts Int64, end_ts Int64, duration_ms Int64, pageviews Int64, events Int64,
                entry_path Nullable(String), exit_path Nullable(String), bounce UInt8, {VISIT_COLUMNS},
                version UInt64, deleted UInt8
            ) ENGINE = ReplacingMergeTree(version) ORDER BY (site, id)"
        ),
        "CREATE TABLE IF NOT EXISTS salts (day Int64, secret String) ENGINE = MergeTree ORDER BY day".into(),
        "CREATE TABLE IF NOT EXISTS bot_hits (site String, day String, bot String, hits Int64)
            ENGINE = MergeTree ORDER BY (site, day, bot)"
            .into(),
        "CREATE TABLE IF NOT EXISTS audit_log (at_ms Int64, seq UInt64, site String, kind String, rows_removed UInt64,
            requested_by String) ENGINE = MergeTree ORDER BY (at_ms, seq)"
            .into(),
        "CREATE TABLE IF NOT EXISTS dashboard_users (name String, password_hash String, role String, sites String,
            version UInt64, deleted UInt8) ENGINE = ReplacingMergeTree(version) ORDER BY name"
            .into(),
        "CREATE TABLE IF NOT EXISTS dashboard_sessions (token_hash String, user String, expires_ms Int64,
            version UInt64, deleted UInt8) ENGINE = ReplacingMergeTree(version) ORDER BY token_hash"
            .into(),
    ]]
}

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(
        "the ClickHouse database {database:?} has schema version {found}, newer than this collector's {known}: \
         run a collector at least as new as the one that migrated it"
    )]
    Newer { database: String, found: u32, known: u32 },
}

#[derive(serde::Deserialize)]
struct Applied {
    version: u32,
}

/// Creates the database if needed and applies the migrations it lacks.
pub async fn migrate(client: &Client) -> Result<(), SchemaError> {
    let database = client.connection().database.clone();
    client.execute_on_server(&format!("CREATE DATABASE IF NOT EXISTS `{}`", database.replace('`', ""))).await?;
    client
        .execute("CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, applied_ms Int64) ENGINE = MergeTree ORDER BY version")
        .await?;
    let applied: Vec<Applied> = client.rows("SELECT max(version) AS version FROM schema_migrations").await?;
    let found = applied.first().map_or(0, |a| a.version);
    let all = migrations();
    let known = all.len() as u32;
    if found > known {
        return Err(SchemaError::Newer { database, found, known });
    }
    for (n, statements) in all.iter().enumerate().skip(found as usize) {
        for statement in statements {
            client.execute(statement).await?;
        }
        let now = crate::clock::Clock::now_ms(&crate::clock::SystemClock);
        client.execute(&format!("INSERT INTO schema_migrations (version, applied_ms) VALUES ({}, {now})", n + 1)).await?;
    }
    tracing::debug!(database = %lit(&database), version = known, "ClickHouse schema is current");
    Ok(())
}
