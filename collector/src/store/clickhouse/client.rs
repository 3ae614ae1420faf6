//! ClickHouse over its HTTP interface: statements in the request body,
//! rows in and out as `JSONEachRow`, authenticated with HTTP Basic. Plain
//! HTTP on purpose: the official client crate reads rows in a binary
//! format that older servers (Debian's 18.16) do not have, and this is all
//! the store needs.
//!
//! Every statement runs with the same settings, sent as URL parameters:
//! 64-bit integers as JSON numbers, no automatic `PREWHERE` (a `PREWHERE`
//! filters rows before `FINAL` collapses their versions, which would let
//! an old version of a row through; see `schema`), and inserts into a
//! cluster that return once the shards hold the rows.
//!
//! ClickHouse has no bound parameters on 18.16, so values go into the SQL
//! as literals, always through [`lit`].

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Where the server is and who we are to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// `http://host:8123`.
    pub url: String,
    pub database: String,
    pub user: String,
    pub password: String,
    /// When the database is a cluster of shards.
    pub cluster: Option<Cluster>,
    /// How long one statement may take before the store reports the
    /// database unavailable: [`STATEMENT_TIMEOUT`], or [`MAINTENANCE_TIMEOUT`]
    /// for commands that read whole tables ([`Connection::patient`]).
    pub statement_timeout: Duration,
}

/// A cluster of shards: its name in the shards' `<remote_servers>`, and
/// every shard's HTTP address in that order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    pub name: String,
    pub shards: Vec<String>,
}

impl Connection {
    /// A connection to one server.
    pub fn server(url: impl Into<String>, database: impl Into<String>) -> Connection {
        Connection {
            url: url.into(),
            database: database.into(),
            user: "default".into(),
            password: String::new(),
            cluster: None,
            statement_timeout: STATEMENT_TIMEOUT,
        }
    }

    /// The same, for a command that reads or copies whole tables (the move
    /// from SQLite, a rebuild): its statements may take minutes.
    pub fn patient(self) -> Connection {
        Connection { statement_timeout: MAINTENANCE_TIMEOUT, ..self }
    }

    /// The connection `[store]` configures, if its backend is ClickHouse.
    pub fn of(store: &crate::config::StoreConfig) -> Option<Connection> {
        (store.backend == crate::config::Backend::Clickhouse).then(|| Connection {
            url: store.url.clone().unwrap_or_default(),
            database: store.database.clone(),
            user: store.user.clone(),
            password: store.password.clone(),
            cluster: store.cluster.clone().map(|name| Cluster { name, shards: store.shards.clone() }),
            statement_timeout: STATEMENT_TIMEOUT,
        })
    }

    /// One connection per server that holds tables: each shard, or the
    /// one server.
    pub fn servers(&self) -> Vec<Connection> {
        match &self.cluster {
            None => vec![self.clone()],
            Some(cluster) => cluster.shards.iter().map(|url| Connection { url: url.clone(), ..self.clone() }).collect(),
        }
    }
}

/// How long one statement may take before the store reports the database
/// unreachable (retention mutations wait longer, see `lifecycle`).
pub const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// The same for maintenance commands, whose statements read whole tables.
pub const MAINTENANCE_TIMEOUT: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No answer: the server is down, unreachable or too slow.
    #[error("ClickHouse at {url} {}: {source}", if source.is_timeout() { "did not answer within the statement timeout" } else { "is unreachable" })]
    Unreachable { url: String, source: reqwest::Error },
    /// The server answered with an error.
    #[error("ClickHouse refused a statement: {0}")]
    Refused(String),
    #[error("ClickHouse answered rows this collector cannot read: {0}")]
    Rows(String),
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    connection: Connection,
}

impl Client {
    pub fn new(connection: Connection) -> Client {
        let http = reqwest::Client::builder().timeout(connection.statement_timeout).build().expect("an HTTP client without TLS builds");
        Client { http, connection }
    }

    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Runs a statement that returns nothing (DDL, `ALTER`, an insert
    /// with its rows in the SQL).
    pub async fn execute(&self, sql: &str) -> Result<(), ClientError> {
        self.post(sql.to_owned(), true).await.map(drop)
    }

    /// As [`Client::execute`], outside the store's database (to create it).
    pub async fn execute_on_server(&self, sql: &str) -> Result<(), ClientError> {
        self.post(sql.to_owned(), false).await.map(drop)
    }

    /// The rows of a `SELECT`, each read by its column names.
    pub async fn rows<T: DeserializeOwned>(&self, sql: &str) -> Result<Vec<T>, ClientError> {
        let body = self.post(format!("{sql}\nFORMAT JSONEachRow"), true).await?;
        body.lines()
            .filter(|l| !l.is_empty())
            .map(|line| serde_json::from_str(line).map_err(|e| ClientError::Rows(format!("{e}: {line}"))))
            .collect()
    }

    /// Inserts `rows` (named as the table's columns) in one statement.
    pub async fn insert<T: Serialize>(&self, table: &str, rows: &[T]) -> Result<(), ClientError> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut body = format!("INSERT INTO {table} FORMAT JSONEachRow\n");
        for row in rows {
            body.push_str(&serde_json::to_string(row).map_err(|e| ClientError::Rows(e.to_string()))?);
            body.push('\n');
        }
        self.post(body, true).await.map(drop)
    }

    async fn post(&self, body: String, in_database: bool) -> Result<String, ClientError> {
        let c = &self.connection;
        let mut query: Vec<(&str, &str)> = vec![
            ("output_format_json_quote_64bit_integers", "0"),
            ("optimize_move_to_prewhere", "0"),
            // An insert into a cluster's `Distributed` table is acknowledged
            // once every shard has its rows, not when queued on the node.
            ("insert_distributed_sync", "1"),
            // A segment applied to a report is a list of its visitors in
            // the statement (`query::segments`): more than the default 256 KiB.
            ("max_query_size", "67108864"),
        ];
        if in_database {
            query.push(("database", &c.database));
        }
        let unreachable = |source| ClientError::Unreachable { url: c.url.clone(), source };
        let response =
            self.http.post(&c.url).query(&query).basic_auth(&c.user, Some(&c.password)).body(body).send().await.map_err(unreachable)?;
        let ok = response.status().is_success();
        let text = response.text().await.map_err(unreachable)?;
        if ok { Ok(text) } else { Err(ClientError::Refused(text.trim().to_owned())) }
    }
}

/// A string as a ClickHouse literal.
pub fn lit(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Strings as a literal list for `IN (…)`; `('')` when empty, which
/// matches nothing a store writes (ids are never empty).
pub fn lits<'a>(values: impl IntoIterator<Item = &'a str>) -> String {
    let list: Vec<String> = values.into_iter().map(lit).collect();
    if list.is_empty() { "('')".into() } else { format!("({})", list.join(", ")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        assert_eq!(lit(r"it's a \ test"), r"'it\'s a \\ test'");
        assert_eq!(lits(["a", "b"]), "('a', 'b')");
        assert_eq!(lits(std::iter::empty()), "('')");
    }
}
