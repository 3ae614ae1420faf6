//! The store's tables in ClickHouse and their migrations, checked at start.
//!
//! Policy: migrations are numbered and only ever appended; the versions
//! applied are rows of `schema_migrations` in the store's database. A
//! database migrated by a newer collector (a version this binary does not
//! know) is refused at start, with both versions named, rather than
//! written with an older idea of the tables.
//!
//! How counts stay exact before merges: `events` and `sessions` are
//! `ReplacingMergeTree(version)` tables. Every write of a row (an event
//! moved to another session, a session extended or recomputed, a session
//! deleted, as a tombstone with `deleted = 1`) is a new row with a higher
//! `version` under the same sorting key, and every read goes through
//! `FINAL`, which collapses each key to its latest version at read time,
//! whatever the background merges have done. The cost: `FINAL` merges at
//! read time, and a read's `WHERE` on columns outside the key may only
//! filter after the collapse (which is why the client turns off automatic
//! `PREWHERE`).
//!
//! The keys put time first, so that a dashboard's period reads only its
//! own part of the table ([`EVENTS_ENGINE`], [`SESSIONS_ENGINE`]); they
//! hold because a row's time never changes between its versions: an
//! event's `ts` is its own, and a session's id is made from its first
//! event (`sessions::session_id`), so a session that gains an earlier
//! event is a new session, and the old one a tombstone at the old start.
//! An id is looked up in `event_keys` (ordered by id, filled from every
//! insert into `events` by a materialized view): the writer stores an id
//! only when that lookup does not find it, so one event id is never two
//! keys. Only the server's types and engines of 18.16 are used: no
//! `LowCardinality`, no `DateTime64` (times are `Int64` milliseconds),
//! `UInt8` for booleans.

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

/// Events by time (30-day partitions, so retention can later drop whole
/// ones), then by id within a millisecond. Ids enter keys as 64-bit hashes:
/// `FINAL` compares keys row by row, and on 18.16 merges half as fast over
/// two strings as over their hashes (two events of one millisecond whose
/// ids share a 64-bit hash would count once).
pub const EVENTS_ENGINE: &str = "ReplacingMergeTree(version) PARTITION BY intDiv(ts, 2592000000) ORDER BY (site, ts, cityHash64(id))";

/// Sessions by the day they started, then visitor, then id: a period
/// reads its days, and the writer a visitor's sessions of a few days
/// ([`of_visitor`]).
pub const SESSIONS_ENGINE: &str = "ReplacingMergeTree(version) PARTITION BY intDiv(start_ts, 2592000000) \
    ORDER BY (site, intDiv(start_ts, 86400000), cityHash64(visitor_id), cityHash64(id))";

/// The condition on `sessions`' key that the rows of `visitor` meet (with
/// the column's own, which the hash alone does not decide).
pub fn of_visitor(visitor: &str) -> String {
    let visitor = lit(visitor);
    format!("cityHash64(visitor_id) = cityHash64({visitor}) AND visitor_id = {visitor}")
}

/// The condition on `sessions`' key that a start in `[lo, hi]` implies
/// (18.16 uses a key expression only when a query names it).
pub fn start_days(lo: i64, hi: i64) -> String {
    const DAY_MS: i64 = 86_400_000;
    format!("intDiv(start_ts, {DAY_MS}) >= {} AND intDiv(start_ts, {DAY_MS}) <= {}", lo.div_euclid(DAY_MS), hi.div_euclid(DAY_MS))
}

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

/// One step of a migration, run on every server (each shard of a cluster).
pub enum Step {
    Create(Table),
    /// Gives `table` a new engine (and so a new sorting key) by copying its
    /// rows into a table made with it, which then takes its name. Done
    /// already when the table has that key. Writes to the table while it
    /// runs are not copied: migrate with one collector running. A view
    /// over the table stays with the old one: drop and make it again.
    Rekey { table: &'static str, engine: &'static str },
    /// A materialized view that copies `columns` of each row inserted into
    /// `from` into `to`, and a copy of the rows `from` holds already.
    Copy { view: &'static str, from: &'static str, to: &'static str, columns: &'static str },
}

impl From<Table> for Step {
    fn from(table: Table) -> Step {
        Step::Create(table)
    }
}

/// Each migration: its steps, run in order. A database made from
/// scratch gets the current keys from the first; the third gives them to
/// one made before.
pub fn migrations() -> Vec<Vec<Step>> {
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
                EVENTS_ENGINE,
            )
            .by_visitor()
            .into(),
            Table::new(
                "sessions",
                format!(
                    "site String, id String, visitor_id String, client_session_id Nullable(String), user_id Nullable(String),
                    start_ts Int64, end_ts Int64, duration_ms Int64, pageviews Int64, events Int64,
                    entry_path Nullable(String), exit_path Nullable(String), bounce UInt8, {VISIT_COLUMNS},
                    version UInt64, deleted UInt8"
                ),
                SESSIONS_ENGINE,
            )
            .by_visitor()
            .into(),
            Table::new("salts", "day Int64, secret String", "MergeTree ORDER BY day").into(),
            Table::new("bot_hits", "site String, day String, bot String, hits Int64", "MergeTree ORDER BY (site, day, bot)").into(),
            Table::new(
                "audit_log",
                "at_ms Int64, seq UInt64, site String, kind String, rows_removed UInt64, requested_by String",
                "MergeTree ORDER BY (at_ms, seq)",
            )
            .into(),
            Table::new(
                "dashboard_users",
                "name String, password_hash String, role String, sites String, version UInt64, deleted UInt8",
                "ReplacingMergeTree(version) ORDER BY name",
            )
            .into(),
            Table::new(
                "dashboard_sessions",
                "token_hash String, user String, expires_ms Int64, version UInt64, deleted UInt8",
                "ReplacingMergeTree(version) ORDER BY token_hash",
            )
            .into(),
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
            .by_visitor()
            .into(),
            // How far each sessionizer shard has come through `incoming`.
            Table::new("sessionizer_progress", "shard String, arrived_ms Int64, version UInt64", "ReplacingMergeTree(version) ORDER BY shard")
                .into(),
        ],
        vec![
            // Time first (the first migration made them by id).
            Step::Rekey { table: "events", engine: EVENTS_ENGINE },
            Step::Rekey { table: "sessions", engine: SESSIONS_ENGINE },
            // Every stored event id, for the writer's lookups, on the
            // shard of its event.
            Table::new(
                "event_keys",
                "site String, id String, ts Int64, received_ms Int64, visitor_id String",
                "ReplacingMergeTree ORDER BY (site, id)",
            )
            .by_visitor()
            .into(),
            Step::Copy { view: "event_keys_from_events", from: "events", to: "event_keys", columns: EVENT_KEY_COLUMNS },
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
            )
            .into(),
            // Goals and segments a site saves (see `store::definitions`).
            Table::new(
                "definitions",
                "site String, kind String, id String, name String, body String, updated_ms Int64, version UInt64, deleted UInt8",
                "ReplacingMergeTree(version) ORDER BY (site, kind, id)",
            )
            .into(),
        ],
    ]
}

/// The columns of `event_keys`, as `events` has them.
const EVENT_KEY_COLUMNS: &str = "site, id, ts, received_ms, visitor_id";

impl Step {
    /// Runs the step on the server `client` names (a shard of `cluster`).
    async fn run(&self, client: &Client, cluster: Option<&str>, database: &str) -> Result<(), ClientError> {
        let on_shard = |table: &str| local(table, cluster.is_some());
        match self {
            Step::Create(table) => {
                for statement in table.create(cluster, database) {
                    client.execute(&statement).await?;
                }
            }
            Step::Rekey { table, engine } => {
                let table = on_shard(table);
                let (next, before) = (format!("{table}_rekeyed"), format!("{table}_before_rekey"));
                let key = &engine[engine.find("ORDER BY").expect("an engine with a sorting key")..];
                #[derive(serde::Deserialize)]
                struct Made {
                    create_table_query: String,
                }
                let made: Vec<Made> = client
                    .rows(&format!(
                        "SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = {}",
                        lit(&table)
                    ))
                    .await?;
                if !made.iter().any(|m| m.create_table_query.contains(key)) {
                    client.execute(&format!("DROP TABLE IF EXISTS {next}")).await?;
                    client.execute(&format!("CREATE TABLE {next} AS {table} ENGINE = {engine}")).await?;
                    client.execute(&format!("INSERT INTO {next} SELECT * FROM {table}")).await?;
                    client.execute(&format!("RENAME TABLE {table} TO {before}, {next} TO {table}")).await?;
                }
                client.execute(&format!("DROP TABLE IF EXISTS {before}")).await?;
            }
            Step::Copy { view, from, to, columns } => {
                let (from, to) = (on_shard(from), on_shard(to));
                client.execute(&format!("CREATE MATERIALIZED VIEW IF NOT EXISTS {view} TO {to} AS SELECT {columns} FROM {from}")).await?;
                client.execute(&format!("INSERT INTO {to} SELECT {columns} FROM {from}")).await?;
            }
        }
        Ok(())
    }
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
    for (n, steps) in all.iter().enumerate().skip(found as usize) {
        for step in steps {
            step.run(client, cluster, &database).await?;
        }
        let now = crate::clock::Clock::now_ms(&crate::clock::SystemClock);
        client.execute(&format!("INSERT INTO schema_migrations (version, applied_ms) VALUES ({}, {now})", n + 1)).await?;
    }
    tracing::debug!(database = %lit(&database), server = %client.connection().url, version = known, "ClickHouse schema is current");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::clickhouse::{Cluster, ClickhouseStore, Connection, StoreOptions, test_connection, test_server};
    use crate::store::{Appended, Store, conformance};

    /// The keys of schema version 2, by id.
    const BY_ID: &str = "ReplacingMergeTree(version) ORDER BY (site, id)";

    /// Puts a current database back as schema version 2 left it: events
    /// and sessions keyed by id, no `event_keys`.
    async fn back_to_version_two(connection: &Connection) {
        let cluster = connection.cluster.as_ref().map(|c| c.name.as_str());
        for server in connection.servers() {
            let client = Client::new(server);
            let database = client.connection().database.clone();
            for table in ["events", "sessions"] {
                Step::Rekey { table, engine: BY_ID }.run(&client, cluster, &database).await.unwrap();
            }
            client.execute("DROP TABLE event_keys_from_events").await.unwrap();
            client.execute(&format!("DROP TABLE {}", local("event_keys", cluster.is_some()))).await.unwrap();
            if cluster.is_some() {
                client.execute("DROP TABLE event_keys").await.unwrap();
            }
            client.execute("DROP TABLE schema_migrations").await.unwrap();
            client.execute("CREATE TABLE schema_migrations (version UInt32, applied_ms Int64) ENGINE = MergeTree ORDER BY version").await.unwrap();
            client.execute("INSERT INTO schema_migrations (version, applied_ms) VALUES (1, 0), (2, 0)").await.unwrap();
        }
    }

    async fn keys(connection: &Connection) -> Vec<String> {
        #[derive(serde::Deserialize)]
        struct Made {
            create_table_query: String,
        }
        let mut keys = Vec::new();
        for server in connection.servers() {
            let client = Client::new(server);
            for table in ["events", "sessions"] {
                let sql = format!(
                    "SELECT create_table_query FROM system.tables WHERE database = currentDatabase() AND name = {}",
                    lit(&local(table, connection.cluster.is_some()))
                );
                let made: Vec<Made> = client.rows(&sql).await.unwrap();
                let query = &made[0].create_table_query;
                keys.push(query[query.find("ORDER BY").unwrap()..].trim_end_matches(" SETTINGS index_granularity = 8192").to_owned());
            }
        }
        keys
    }

    /// Stores visits in a database, turns it back into version 2, opens it
    /// again: the third migration must keep every event and session, and
    /// every id it knew.
    async fn a_database_keyed_by_id_is_rekeyed_by_time_with_all_it_held(connection: Connection) {
        // Four visitors, each with a visit a day for three days.
        let events: Vec<_> = (0..36u64)
            .map(|n| {
                let (visitor, day, minute) = (["anna", "ben", "cara", "dan"][(n % 4) as usize], (n / 12) as i64, (n / 4 % 3) as i64);
                conformance::pageview(n, visitor, conformance::T0 + day * crate::clock::DAY_MS + minute * 60_000)
            })
            .collect();
        let store = ClickhouseStore::open(connection.clone(), StoreOptions::default()).unwrap();
        store.append(events.clone()).await.unwrap();
        let (held, sessions) = (store.events("site").await.unwrap(), store.sessions("site").await.unwrap());
        assert_eq!((held.len(), sessions.len()), (36, 12));
        store.close().await;

        back_to_version_two(&connection).await;
        assert!(keys(&connection).await.iter().all(|k| k == "ORDER BY (site, id)"), "{:?}", keys(&connection).await);

        let store = ClickhouseStore::open(connection.clone(), StoreOptions::default()).unwrap();
        let key = |engine: &str| engine[engine.find("ORDER BY").unwrap()..].to_owned();
        for on_server in keys(&connection).await.chunks(2) {
            assert_eq!(on_server, [key(EVENTS_ENGINE), key(SESSIONS_ENGINE)]);
        }
        assert_eq!(store.events("site").await.unwrap(), held);
        assert_eq!(store.sessions("site").await.unwrap(), sessions);
        let again = store.append(events).await.unwrap();
        assert!(again.iter().all(|a| matches!(a, Appended::Duplicate)), "every stored id is known after the move: {again:?}");
        store.close().await;
    }

    #[tokio::test]
    async fn a_database_keyed_by_id_is_rekeyed_by_time_on_one_server() {
        if test_server::skip() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        a_database_keyed_by_id_is_rekeyed_by_time_with_all_it_held(test_connection(dir.path())).await;
    }

    #[tokio::test]
    async fn a_database_keyed_by_id_is_rekeyed_by_time_on_every_shard_of_a_cluster() {
        if test_server::skip() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let shards = test_server::cluster_urls();
        let connection = Connection {
            cluster: Some(Cluster { name: test_server::CLUSTER_NAME.into(), shards: shards.clone() }),
            ..Connection::server(shards[0].clone(), test_server::database_for(dir.path()))
        };
        a_database_keyed_by_id_is_rekeyed_by_time_with_all_it_held(connection).await;
    }
}
