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

/// Where a cluster puts a table's rows: a visitor's events and sessions
/// on one shard (so `FINAL` collapses every version of a row on the shard
/// that holds it, and a visitor's window is read from one place).
const BY_VISITOR: &str = "cityHash64(site, visitor_id)";

/// One table of the store. On one server it is created as it is; on a
/// cluster each shard holds `<name>_local` and every shard a `Distributed`
/// table `<name>` over them, so that the store reads and writes `<name>`
/// alike in both. A table without `shard_by` lives on the first shard.
pub struct Table {
    pub name: &'static str,
    columns: String,
    engine: &'static str,
    shard_by: Option<&'static str>,
    /// A `SELECT` that fills the new table from rows stored before it
    /// existed, run on each server into its own rows; `{events}` names
    /// that server's events table.
    fill: Option<&'static str>,
}

impl Table {
    fn new(name: &'static str, columns: impl Into<String>, engine: &'static str) -> Table {
        Table { name, columns: columns.into(), engine, shard_by: None, fill: None }
    }

    fn by_visitor(self) -> Table {
        Table { shard_by: Some(BY_VISITOR), ..self }
    }

    fn filled_by(self, select: &'static str) -> Table {
        Table { fill: Some(select), ..self }
    }

    /// The statements that create it, on one server or on a cluster's shard.
    fn create(&self, cluster: Option<&str>, database: &str) -> Vec<String> {
        let Table { name, columns, engine, shard_by, fill } = self;
        let mut statements = match cluster {
            None => vec![format!("CREATE TABLE IF NOT EXISTS {name} ({columns}) ENGINE = {engine}")],
            Some(cluster) => vec![
                format!("CREATE TABLE IF NOT EXISTS {name}_local ({columns}) ENGINE = {engine}"),
                format!(
                    "CREATE TABLE IF NOT EXISTS {name} AS {name}_local ENGINE = Distributed({cluster}, {database}, {name}_local, {})",
                    shard_by.unwrap_or("0")
                ),
            ],
        };
        if let Some(select) = fill {
            // Each shard fills its own rows from its own events: a table
            // sharded as `events` is keeps them on the same shard.
            let cluster = cluster.is_some();
            statements.push(format!("INSERT INTO {} {}", local(name, cluster), select.replace("{events}", &local("events", cluster))));
        }
        statements
    }
}

/// The table that holds `table`'s rows on a server: itself on one server,
/// `<table>_local` on a cluster's shard (where deletions run).
pub fn local(table: &str, cluster: bool) -> String {
    if cluster { format!("{table}_local") } else { table.to_owned() }
}

/// Each migration: its tables, created in order.
pub fn migrations() -> Vec<Vec<Table>> {
    vec![
        vec![
            Table::new(
                "events",
                format!(
                    "site String, id String, ts Int64, received_ms Int64, name String, session_id String,
                    client_session_id Nullable(String), visitor_id String, user_id Nullable(String),
                    url String, host String, path String, title Nullable(String), referrer Nullable(String),
                    {VISIT_COLUMNS}, browser_version Nullable(String), props String, engaged_ms Nullable(Int64),
                    version UInt64"
                ),
                "ReplacingMergeTree(version) ORDER BY (site, id)",
            )
            .by_visitor(),
            Table::new(
                "sessions",
                format!(
                    "site String, id String, visitor_id String, client_session_id Nullable(String), user_id Nullable(String),
                    start_ts Int64, end_ts Int64, duration_ms Int64, pageviews Int64, events Int64,
                    entry_path Nullable(String), exit_path Nullable(String), bounce UInt8, {VISIT_COLUMNS},
                    version UInt64, deleted UInt8"
                ),
                "ReplacingMergeTree(version) ORDER BY (site, id)",
            )
            .by_visitor(),
            Table::new("salts", "day Int64, secret String", "MergeTree ORDER BY day"),
            Table::new("bot_hits", "site String, day String, bot String, hits Int64", "MergeTree ORDER BY (site, day, bot)"),
            Table::new(
                "audit_log",
                "at_ms Int64, seq UInt64, site String, kind String, rows_removed UInt64, requested_by String",
                "MergeTree ORDER BY (at_ms, seq)",
            ),
            Table::new(
                "dashboard_users",
                "name String, password_hash String, role String, sites String, version UInt64, deleted UInt8",
                "ReplacingMergeTree(version) ORDER BY name",
            ),
            Table::new(
                "dashboard_sessions",
                "token_hash String, user String, expires_ms Int64, version UInt64, deleted UInt8",
                "ReplacingMergeTree(version) ORDER BY token_hash",
            ),
        ],
        vec![
            // Events appended by collectors that leave sessions to the
            // sessionizer (see `incoming`), with when they were written.
            Table::new(
                "incoming",
                "site String, id String, visitor_id String, visitor_id_yesterday Nullable(String), event String,
                arrived_ms Int64",
                "MergeTree PARTITION BY intDiv(arrived_ms, 86400000) ORDER BY (site, id)",
            )
            .by_visitor(),
            // How far each sessionizer shard has come through `incoming`.
            Table::new("sessionizer_progress", "shard String, arrived_ms Int64, version UInt64", "ReplacingMergeTree(version) ORDER BY shard"),
        ],
        vec![
            // The identity link log (see `crate::identity`): one row per
            // site, visitor and user id per group that carried it; merges
            // keep the earliest (`first` = i64::MAX - ts, the highest
            // wins), reads take the minimum of what is not yet merged.
            Table::new(
                "identity_links",
                "site String, visitor_id String, user_id String, ts Int64, event_id String, first UInt64",
                "ReplacingMergeTree(first) ORDER BY (site, visitor_id, user_id)",
            )
            .by_visitor()
            .filled_by(
                "SELECT site, visitor_id, user, first_ts, event_id, toUInt64(9223372036854775807 - first_ts) FROM (
                     SELECT site, visitor_id, assumeNotNull(user_id) AS user, min(ts) AS first_ts, argMin(id, ts) AS event_id
                     FROM {events} FINAL WHERE user_id IS NOT NULL AND user_id != '' GROUP BY site, visitor_id, user)",
            ),
            // Goals and segments a site saves (see `store::definitions`).
            Table::new(
                "definitions",
                "site String, kind String, id String, name String, body String, updated_ms Int64, version UInt64, deleted UInt8",
                "ReplacingMergeTree(version) ORDER BY (site, kind, id)",
            ),
        ],
    ]
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

/// Creates the database if needed and applies the migrations it lacks,
/// on the one server or on every shard of the cluster.
pub async fn migrate(client: &Client) -> Result<(), SchemaError> {
    let connection = client.connection();
    let cluster = connection.cluster.as_ref().map(|c| c.name.as_str());
    for server in connection.servers() {
        migrate_server(&Client::new(server), cluster).await?;
    }
    Ok(())
}

async fn migrate_server(client: &Client, cluster: Option<&str>) -> Result<(), SchemaError> {
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
    for (n, tables) in all.iter().enumerate().skip(found as usize) {
        for statement in tables.iter().flat_map(|t| t.create(cluster, &database)) {
            client.execute(&statement).await?;
        }
        let now = crate::clock::Clock::now_ms(&crate::clock::SystemClock);
        client.execute(&format!("INSERT INTO schema_migrations (version, applied_ms) VALUES ({}, {now})", n + 1)).await?;
    }
    tracing::debug!(database = %lit(&database), server = %client.connection().url, version = known, "ClickHouse schema is current");
    Ok(())
}
