//! The collector's configuration: a TOML file (`--config`), overridden by
//! `WAYMARK_*` environment variables, checked once at start.
//!
//! Every struct rejects unknown fields, so a typo fails at start with the
//! field's name instead of being silently ignored. Environment overrides
//! name a field by its path, `__` between levels:
//! `WAYMARK_LISTEN=0.0.0.0:8080`, `WAYMARK_LIMITS__PER_IP_PER_SECOND=50`,
//! `WAYMARK_DASHBOARD__ADMIN_PASSWORD=…`. A value is read as TOML when it
//! parses as a number, boolean or array, else as a string. A variable whose
//! first part names no top-level field (`WAYMARK_BIN`, used by tools) is
//! not configuration: it is skipped with a warning; below a known field,
//! unknown names are errors like in the file.
//!
//! Without a file the collector runs the demo setup: one site, `demo`,
//! accepting its own pages (served by the collector, on its origin).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use waymark_protocol::limits;

use crate::access::{Role, Sites};

/// The longest a client may take over a request's headers or body.
const MAX_TIMEOUT_SECONDS: u64 = 3600;

/// The prefix of environment overrides.
pub const ENV_PREFIX: &str = "WAYMARK_";
/// Variables with the prefix that are not configuration fields.
/// (`WAYMARK_CLICKHOUSE` tells the test command whether ClickHouse is
/// required; collectors the tests start inherit it.)
const ENV_NOT_FIELDS: [&str; 3] = ["WAYMARK_LOG", "WAYMARK_CONFIG", "WAYMARK_CLICKHOUSE"];
/// The top-level fields, which environment overrides may start with.
const TOP_LEVEL_FIELDS: [&str; 12] = [
    "listen", "data_dir", "public_url", "geoip_db", "client_ip_header", "headless_browsers_are_bots", "limits", "dashboard", "site", "lifecycle",
    "store", "server",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// The address people and pages reach the collector at
    /// (`https://stats.example.com`): its origin is the collector's own
    /// (see [`crate::api::origin`]). Unset, the own origin is the one the
    /// request's `Host` names.
    #[serde(default)]
    pub public_url: Option<String>,
    /// A MaxMind-format `.mmdb` file for country (and region/city) lookups.
    #[serde(default)]
    pub geoip_db: Option<PathBuf>,
    /// Take the client address from this request header (the rightmost
    /// entry of e.g. `x-forwarded-for`) instead of the TCP peer: set it only
    /// behind a reverse proxy that writes the header.
    #[serde(default)]
    pub client_ip_header: Option<String>,
    /// Headless browsers (`HeadlessChrome`) are mostly scrapers and are
    /// counted as bots; the demo setup counts them as visitors so that
    /// automated browsers show up in it.
    #[serde(default = "default_true")]
    pub headless_browsers_are_bots: bool,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub dashboard: DashboardConfig,
    #[serde(default)]
    pub lifecycle: LifecycleConfig,
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub server: ServerConfig,
    /// `[[site]]` tables.
    #[serde(default = "demo_sites", rename = "site")]
    pub sites: Vec<SiteConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// The public key in the script tag's `data-site`.
    pub key: String,
    /// A name for people, shown in the dashboard's site picker.
    #[serde(default)]
    pub name: Option<String>,
    /// Origins allowed to send browser events (`https://example.com`).
    /// Empty: only the collector's own origin (its demo and pages it
    /// serves); `["*"]`: any origin, said in a warning at start. See
    /// [`crate::api::origin`].
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// The secret for the server-to-server endpoint (`Authorization: Bearer`).
    #[serde(default)]
    pub secret_key: Option<String>,
    /// The write key of the Segment-compatible tracking API (`/v1/*`),
    /// which Segment's and RudderStack's clients send as the HTTP Basic
    /// user name. Its own field, never the secret: a write key sits in
    /// every page that loads analytics.js, and it names the site (those
    /// requests carry no site key), so it is unique across sites. See
    /// [`crate::api::segment`].
    #[serde(default)]
    pub write_key: Option<String>,
    /// Idle minutes that end a session.
    #[serde(default = "default_session_timeout_minutes")]
    pub session_timeout_minutes: u32,
    /// Minutes after its start at which a session ends however busy it is
    /// (the next event starts another); at least the timeout.
    #[serde(default = "default_session_max_minutes")]
    pub session_max_minutes: u32,
    /// IANA time zone the dashboard reports days in.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Days this site's events and sessions are kept; unset: the
    /// `[lifecycle]` default (see [`LifecycleConfig`]).
    #[serde(default)]
    pub retention_days: Option<u32>,
    /// The visitor's and session's ids kept in an `HttpOnly` cookie the
    /// collector sets, when it is served from the site's own domain (see
    /// [`crate::ingest::id_cookie`]); unset: no such cookie.
    #[serde(default)]
    pub id_cookie: Option<IdCookieConfig>,
}

/// `id_cookie = { domain = "example.com", days = 400 }`: where the
/// collector's id cookie is sent and how long it lasts.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct IdCookieConfig {
    /// The cookie's `Domain`, to share it across subdomains
    /// (`stats.example.com` serving `www.example.com`); unset: the host
    /// the collector is reached at only.
    #[serde(default)]
    pub domain: Option<String>,
    /// The cookie's `Path`: where the collector is mounted on the site.
    #[serde(default = "default_id_cookie_path")]
    pub path: String,
    /// Days the cookie lasts after the visitor's last event (browsers cap
    /// it at 400).
    #[serde(default = "default_id_cookie_days")]
    pub days: u32,
}

/// Browsers keep a cookie at most 400 days (RFC 6265bis).
pub const MAX_ID_COOKIE_DAYS: u32 = 400;

fn default_id_cookie_path() -> String {
    "/".into()
}
fn default_id_cookie_days() -> u32 {
    MAX_ID_COOKIE_DAYS
}

// The data lifecycle's settings (retention), in a block of their own.

/// `[lifecycle]`: how long data is kept and how often that is enforced.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleConfig {
    /// Days events and sessions are kept, for sites without a
    /// `retention_days` of their own. Unset (the default): kept forever.
    #[serde(default)]
    pub retention_days: Option<u32>,
    /// Minutes between retention runs; one also runs at start.
    #[serde(default = "default_retention_every_minutes")]
    pub retention_every_minutes: u32,
}

/// Shortest write key accepted (Segment's own are 32 characters).
const MIN_WRITE_KEY_BYTES: usize = 16;

/// Longest retention period accepted: a hundred years.
const MAX_RETENTION_DAYS: u32 = 36_500;

fn default_retention_every_minutes() -> u32 {
    60
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig { retention_days: None, retention_every_minutes: default_retention_every_minutes() }
    }
}

impl Config {
    /// The days `site` keeps its data: its own setting, else the default;
    /// `None` keeps it forever.
    pub fn retention_days(&self, site: &str) -> Option<u32> {
        self.site(site).and_then(|s| s.retention_days).or(self.lifecycle.retention_days)
    }

    fn validate_lifecycle(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if let Some(days) = self.lifecycle.retention_days
            && !(1..=MAX_RETENTION_DAYS).contains(&days)
        {
            return invalid(format!("lifecycle.retention_days must be 1 to {MAX_RETENTION_DAYS} (leave it out to keep data forever), got {days}"));
        }
        if !(1..=7 * 24 * 60).contains(&self.lifecycle.retention_every_minutes) {
            return invalid("lifecycle.retention_every_minutes must be 1 to 10080".into());
        }
        for site in &self.sites {
            if let Some(days) = site.retention_days
                && !(1..=MAX_RETENTION_DAYS).contains(&days)
            {
                return invalid(format!("site {:?}: `retention_days` must be 1 to {MAX_RETENTION_DAYS}, got {days}", site.key));
            }
        }
        Ok(())
    }
}

/// `[store]`: where events and sessions are kept. SQLite (the default)
/// keeps them in `data_dir`; ClickHouse on the server at `url`, in
/// `database` (created and migrated at start), as `user` with `password`
/// (`WAYMARK_STORE__PASSWORD` keeps it out of the file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    #[serde(default)]
    pub backend: Backend,
    /// ClickHouse's HTTP interface, `http://127.0.0.1:8123`.
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default = "default_database")]
    pub database: String,
    #[serde(default = "default_store_user")]
    pub user: String,
    #[serde(default)]
    pub password: String,
    /// Who makes sessions on ClickHouse: see [`Sessionizer`].
    #[serde(default)]
    pub sessionizer: Sessionizer,
    /// A ClickHouse cluster of shards: the name of its `<remote_servers>`
    /// entry, which every shard's config holds. The store's tables are then
    /// `Distributed` over `*_local` tables on each shard.
    #[serde(default)]
    pub cluster: Option<String>,
    /// Every shard's HTTP address, in the cluster's order, where the
    /// collector creates and migrates the local tables and runs deletions
    /// (ClickHouse 18.16 has no `ON CLUSTER` without ZooKeeper). `url` may
    /// be any of them.
    #[serde(default)]
    pub shards: Vec<String>,
    /// SQLite: how hard each group commit reaches the disk (see [`Durability`]).
    #[serde(default)]
    pub durability: Durability,
    /// SQLite: the WAL's file, MiB. The writer starts the WAL over at half
    /// of it and the file is cut back to it when it does; while a reader
    /// holds an older snapshot past that half, new queries wait for the
    /// running ones to end (see `store::sqlite::checkpoints`).
    #[serde(default = "default_wal_max_mib")]
    pub wal_max_mib: u32,
    /// SQLite: dashboard queries run at once, each on a read connection
    /// kept open between queries. Unset: half the machine's cores, at least 1.
    #[serde(default)]
    pub read_connections: Option<usize>,
    /// SQLite: the page cache of each read connection, MiB.
    #[serde(default = "default_read_cache_mib")]
    pub read_cache_mib: u32,
    /// SQLite: how much of the database file the writer maps into memory,
    /// MiB (0: none). Mapped pages count in the collector's RSS as file
    /// pages, which the kernel takes back when it needs the memory.
    #[serde(default = "default_mmap_mib")]
    pub mmap_mib: u32,
}

/// What SQLite may use: with these defaults the collector's memory stays
/// within its caches whatever the store's size (BENCHMARKS.md, "Soak").
fn default_wal_max_mib() -> u32 {
    64
}
fn default_read_cache_mib() -> u32 {
    16
}
fn default_mmap_mib() -> u32 {
    256
}
/// The largest `wal_max_mib`, `read_cache_mib` and `mmap_mib`.
const MAX_STORE_MIB: u32 = 64 * 1024;
/// The most read connections: each is a file descriptor and a page cache.
const MAX_READ_CONNECTIONS: usize = 256;

/// Who turns stored events into sessions on ClickHouse.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sessionizer {
    /// The collector's writer, as it stores events (one collector per
    /// database; the only choice on SQLite).
    #[default]
    Writer,
    /// Collectors only append events; this collector also runs the
    /// sessionizer over every visitor (`waymark sessionize` in-process).
    Inside,
    /// Collectors only append events; `waymark sessionize` runs apart.
    Separate,
}

/// `[store] durability`: what a commit of SQLite's waits for. Both answer
/// 2xx only once the WAL holding the events is on disk; they differ in who
/// flushes it and what the writer waits for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// The writer commits with `synchronous=NORMAL` and a thread of the
    /// collector flushes the WAL (`fdatasync`) before answering, while the
    /// writer builds the next group; the database file is flushed at each
    /// checkpoint.
    #[default]
    Normal,
    /// SQLite's `synchronous=FULL`: SQLite itself flushes the WAL inside
    /// every group commit (the first time also the directory holding it),
    /// and the writer waits for it before the next group.
    Full,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Sqlite,
    Clickhouse,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            backend: Backend::Sqlite,
            url: None,
            database: default_database(),
            user: default_store_user(),
            password: String::new(),
            sessionizer: Sessionizer::Writer,
            cluster: None,
            shards: Vec::new(),
            durability: Durability::Normal,
            wal_max_mib: default_wal_max_mib(),
            read_connections: None,
            read_cache_mib: default_read_cache_mib(),
            mmap_mib: default_mmap_mib(),
        }
    }
}

impl StoreConfig {
    /// `read_connections`, or half the machine's cores (at least 1).
    pub fn read_connections(&self) -> usize {
        self.read_connections.unwrap_or_else(|| (std::thread::available_parallelism().map_or(2, |n| n.get()) / 2).max(1))
    }
}

fn default_database() -> String {
    "waymark".into()
}

fn default_store_user() -> String {
    "default".into()
}

impl Config {
    fn validate_store(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        let store = &self.store;
        if !(1..=MAX_STORE_MIB).contains(&store.wal_max_mib) {
            return invalid(format!("store.wal_max_mib must be 1 to {MAX_STORE_MIB}"));
        }
        if !(1..=MAX_STORE_MIB).contains(&store.read_cache_mib) {
            return invalid(format!("store.read_cache_mib must be 1 to {MAX_STORE_MIB}"));
        }
        if store.mmap_mib > MAX_STORE_MIB {
            return invalid(format!("store.mmap_mib must be 0 to {MAX_STORE_MIB}"));
        }
        if store.read_connections.is_some_and(|n| !(1..=MAX_READ_CONNECTIONS).contains(&n)) {
            return invalid(format!("store.read_connections must be 1 to {MAX_READ_CONNECTIONS}"));
        }
        match store.backend {
            Backend::Sqlite if store.url.is_some() => {
                invalid("store.url is for backend = \"clickhouse\"; SQLite keeps its file in data_dir".into())
            }
            Backend::Sqlite if store.sessionizer != Sessionizer::Writer || store.cluster.is_some() || !store.shards.is_empty() => {
                invalid("store.sessionizer, store.cluster and store.shards are for backend = \"clickhouse\"".into())
            }
            Backend::Sqlite => Ok(()),
            Backend::Clickhouse => {
                let Some(url) = &store.url else {
                    return invalid(
                        "store.backend = \"clickhouse\" needs store.url, ClickHouse's HTTP address, e.g. http://127.0.0.1:8123".into(),
                    );
                };
                if !url::Url::parse(url).is_ok_and(|u| u.scheme() == "http" && u.host().is_some()) {
                    return invalid(format!(
                        "store.url {url:?} must be an http:// address, e.g. http://127.0.0.1:8123 (https is not supported yet)"
                    ));
                }
                if store.database.is_empty() || !store.database.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return invalid(format!("store.database {:?} must be letters, digits or `_`", store.database));
                }
                match (&store.cluster, store.shards.is_empty()) {
                    (None, false) => invalid("store.shards needs store.cluster, the name of the cluster in the shards' remote_servers".into()),
                    (Some(_), true) => invalid("store.cluster needs store.shards, every shard's HTTP address".into()),
                    (Some(cluster), false) if cluster.is_empty() || !cluster.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                        invalid(format!("store.cluster {cluster:?} must be letters, digits or `_`"))
                    }
                    _ => match store.shards.iter().find(|u| !url::Url::parse(u).is_ok_and(|u| u.scheme() == "http" && u.host().is_some())) {
                        Some(bad) => invalid(format!("store.shards: {bad:?} must be an http:// address, e.g. http://10.0.0.2:8123")),
                        None => Ok(()),
                    },
                }
            }
        }
    }
}

/// `[server]`: how long a client may take and how many may be connected,
/// so that slow or idle clients cannot hold the collector.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Open connections at most; further ones wait in the listen backlog
    /// (not accepted) until one closes. Keep it below the process's
    /// open-file limit (`ulimit -n`), which the database needs too.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// A request's headers must arrive within this, counted from when the
    /// connection waits for them: a connection idle this long (a new one,
    /// or between keep-alive requests) is closed.
    #[serde(default = "default_header_timeout_seconds")]
    pub header_timeout_seconds: u64,
    /// A request's whole body must arrive within this after its headers;
    /// past it the answer is 408 `body_timeout` and the connection closes.
    #[serde(default = "default_body_timeout_seconds")]
    pub body_timeout_seconds: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_connections: default_max_connections(),
            header_timeout_seconds: default_header_timeout_seconds(),
            body_timeout_seconds: default_body_timeout_seconds(),
        }
    }
}

fn default_max_connections() -> usize {
    1000
}
fn default_header_timeout_seconds() -> u64 {
    10
}
fn default_body_timeout_seconds() -> u64 {
    30
}

/// What one sender may ask of the collector.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request body, after decompression.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Sustained requests per second from one client address, and the burst
    /// above it.
    #[serde(default = "default_per_ip_per_second")]
    pub per_ip_per_second: u32,
    #[serde(default = "default_per_ip_burst")]
    pub per_ip_burst: u32,
    /// Sustained requests per second to one site, and the burst above it.
    #[serde(default = "default_per_site_per_second")]
    pub per_site_per_second: u32,
    #[serde(default = "default_per_site_burst")]
    pub per_site_burst: u32,
    /// Requests waiting for the database writer; past this the collector
    /// answers 503 with `Retry-After` instead of queueing without bound.
    #[serde(default = "default_write_queue")]
    pub write_queue: usize,
    /// Ingest requests handled at once (their bodies read, checked and
    /// waiting for the writer); past this a request is answered 503 with
    /// `Retry-After` at once, its body unread, rather than late: under
    /// more load than it can take the collector keeps its answers prompt
    /// and its memory bounded.
    #[serde(default = "default_ingest_in_flight")]
    pub ingest_in_flight: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardConfig {
    /// The password of the user `admin` (an admin of every site); a PHC
    /// hash (`$argon2id$…`) or plain text that is hashed at start.
    #[serde(default)]
    pub admin_password: Option<String>,
    /// Bearer tokens for the query API, for scripts: each an admin of
    /// every site (`[[dashboard.token]]` scopes one).
    #[serde(default)]
    pub api_tokens: Vec<String>,
    /// `[[dashboard.user]]`: users defined here (others are added with
    /// `waymark users add` or from the dashboard, in the database).
    #[serde(default, rename = "user")]
    pub users: Vec<UserConfig>,
    /// `[[dashboard.token]]`: API tokens with a role and sites.
    #[serde(default, rename = "token")]
    pub tokens: Vec<TokenConfig>,
    /// Seconds between two workings-out of a segment's members for the
    /// live view (`/api/live?segment=…`, see `live::segment`): how long a
    /// visitor who just did what the segment asks may wait to appear.
    #[serde(default = "default_live_segment_refresh_seconds")]
    pub live_segment_refresh_seconds: u32,
}

/// Longest wait between two workings-out of a live segment's members.
const MAX_LIVE_SEGMENT_REFRESH_SECONDS: u32 = 3_600;

fn default_live_segment_refresh_seconds() -> u32 {
    10
}

impl Default for DashboardConfig {
    fn default() -> Self {
        DashboardConfig {
            admin_password: None,
            api_tokens: Vec::new(),
            users: Vec::new(),
            tokens: Vec::new(),
            live_segment_refresh_seconds: default_live_segment_refresh_seconds(),
        }
    }
}

/// A dashboard user defined in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    /// A PHC hash (`$argon2id$…`), or plain text hashed at start.
    pub password: String,
    /// `admin` or `viewer` (the default).
    #[serde(default = "default_role")]
    pub role: Role,
    /// `"all"` (the default) or a list of site keys.
    #[serde(default)]
    pub sites: Sites,
}

/// An API token with a role and sites.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// A name for the token, in logs and refusals; default `token N`.
    #[serde(default)]
    pub name: Option<String>,
    /// The secret a script sends as `Authorization: Bearer`.
    pub token: String,
    #[serde(default = "default_role")]
    pub role: Role,
    #[serde(default)]
    pub sites: Sites,
}

fn default_role() -> Role {
    Role::Viewer
}

fn default_true() -> bool {
    true
}
fn default_listen() -> SocketAddr {
    "127.0.0.1:8080".parse().expect("a valid address")
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}
fn default_session_timeout_minutes() -> u32 {
    (limits::DEFAULT_SESSION_TIMEOUT_MS / limits::MINUTE_MS) as u32
}
fn default_session_max_minutes() -> u32 {
    (limits::DEFAULT_SESSION_MAX_MS / limits::MINUTE_MS) as u32
}
fn default_time_zone() -> String {
    "UTC".into()
}
fn default_max_body_bytes() -> usize {
    limits::MAX_BODY_BYTES
}
fn default_per_ip_per_second() -> u32 {
    50
}
fn default_per_ip_burst() -> u32 {
    200
}
fn default_per_site_per_second() -> u32 {
    5_000
}
fn default_per_site_burst() -> u32 {
    20_000
}
fn default_write_queue() -> usize {
    4_096
}
fn default_ingest_in_flight() -> usize {
    512
}
fn demo_sites() -> Vec<SiteConfig> {
    vec![SiteConfig {
        key: "demo".into(),
        name: Some("Demo site".into()),
        allowed_origins: Vec::new(),
        secret_key: None,
        write_key: None,
        session_timeout_minutes: default_session_timeout_minutes(),
        session_max_minutes: default_session_max_minutes(),
        time_zone: default_time_zone(),
        retention_days: None,
        id_cookie: None,
    }]
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_body_bytes: default_max_body_bytes(),
            per_ip_per_second: default_per_ip_per_second(),
            per_ip_burst: default_per_ip_burst(),
            per_site_per_second: default_per_site_per_second(),
            per_site_burst: default_per_site_burst(),
            write_queue: default_write_queue(),
            ingest_in_flight: default_ingest_in_flight(),
        }
    }
}

impl SiteConfig {
    pub fn session_timeout_ms(&self) -> i64 {
        i64::from(self.session_timeout_minutes) * limits::MINUTE_MS
    }

    /// The site's session rule: the collector's, and the SDK's once it
    /// reads it from a collect answer.
    pub fn session_rule(&self) -> waymark_protocol::SessionRule {
        waymark_protocol::SessionRule {
            timeout_ms: self.session_timeout_ms(),
            max_ms: i64::from(self.session_max_minutes) * limits::MINUTE_MS,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not read the config file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("environment variable {name}: {message}")]
    Env { name: String, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// The out-of-the-box setup: one site, `demo`, as used by the demo page.
    pub fn demo(listen: SocketAddr, data_dir: PathBuf) -> Config {
        Config {
            listen,
            data_dir,
            public_url: None,
            geoip_db: None,
            client_ip_header: None,
            headless_browsers_are_bots: false,
            limits: LimitsConfig::default(),
            dashboard: DashboardConfig::default(),
            lifecycle: LifecycleConfig::default(),
            store: StoreConfig::default(),
            server: ServerConfig::default(),
            sites: demo_sites(),
        }
    }

    pub fn site(&self, key: &str) -> Option<&SiteConfig> {
        self.sites.iter().find(|s| s.key == key)
    }

    /// The `i`th site's write key: long enough, not its secret, its own.
    fn validate_write_key(&self, i: usize) -> Result<(), ConfigError> {
        let site = &self.sites[i];
        let Some(key) = &site.write_key else { return Ok(()) };
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if key.len() < MIN_WRITE_KEY_BYTES || key.contains(':') || key.chars().any(char::is_whitespace) {
            return invalid(format!(
                "site {:?}: `write_key` must be at least {MIN_WRITE_KEY_BYTES} characters, without `:` or spaces (it travels as an HTTP Basic user name)",
                site.key
            ));
        }
        if site.secret_key.as_ref() == Some(key) {
            return invalid(format!(
                "site {:?}: `write_key` must differ from `secret_key`: the write key may be seen in pages, the secret must not",
                site.key
            ));
        }
        if let Some(other) = self.sites[..i].iter().find(|s| s.write_key.as_ref() == Some(key)) {
            return invalid(format!("sites {:?} and {:?} have the same `write_key`; it names the site, so each needs its own", other.key, site.key));
        }
        Ok(())
    }

    /// Reads `file` (if any), applies the `WAYMARK_*` variables of `env` on
    /// top, and checks the result.
    pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
        match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
                Config::parse(&text, &path.display().to_string(), env)
            }
            None => {
                let mut table = toml::Table::new();
                table.insert("headless_browsers_are_bots".into(), false.into());
                Config::from_table(table, "the demo configuration", env)
            }
        }
    }

    /// A config file's text (`origin` names it in errors), with the
    /// `WAYMARK_*` variables of `env` on top, checked.
    pub fn parse(text: &str, origin: &str, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
        let table = toml::from_str::<toml::Table>(text).map_err(|e| ConfigError::Parse { origin: origin.to_owned(), message: e.to_string() })?;
        Config::from_table(table, origin, env)
    }

    fn from_table(mut table: toml::Table, origin: &str, env: impl IntoIterator<Item = (String, String)>) -> Result<Config, ConfigError> {
        for (name, value) in env {
            if !name.starts_with(ENV_PREFIX) || ENV_NOT_FIELDS.contains(&name.as_str()) {
                continue;
            }
            let top = name[ENV_PREFIX.len()..].split("__").next().unwrap_or("").to_ascii_lowercase();
            if !TOP_LEVEL_FIELDS.contains(&top.as_str()) {
                tracing::warn!(variable = %name, "not a configuration field; ignored");
                continue;
            }
            apply_env(&mut table, &name, &value)?;
        }
        let config: Config = table
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Parse { origin: origin.to_owned(), message: e.to_string() })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what the types alone cannot; the first problem is reported.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        if self.sites.is_empty() {
            return invalid("no [[site]] is configured".into());
        }
        for (i, site) in self.sites.iter().enumerate() {
            if site.key.is_empty() || !site.key.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                return invalid(format!("site {i}: `key` {:?} must be non-empty letters, digits, `-`, `_` or `.`", site.key));
            }
            if self.sites[..i].iter().any(|s| s.key == site.key) {
                return invalid(format!("site key {:?} is configured twice", site.key));
            }
            let (min, max) = (limits::MIN_SESSION_TIMEOUT_MS / limits::MINUTE_MS, limits::MAX_SESSION_TIMEOUT_MS / limits::MINUTE_MS);
            if !(min..=max).contains(&i64::from(site.session_timeout_minutes)) {
                return invalid(format!("site {:?}: `session_timeout_minutes` must be {min} to {max}", site.key));
            }
            let longest = limits::MAX_SESSION_MAX_MS / limits::MINUTE_MS;
            if !(i64::from(site.session_timeout_minutes)..=longest).contains(&i64::from(site.session_max_minutes)) {
                return invalid(format!(
                    "site {:?}: `session_max_minutes` must be from `session_timeout_minutes` ({}) to {longest}",
                    site.key, site.session_timeout_minutes
                ));
            }
            if site.time_zone.is_empty() {
                return invalid(format!("site {:?}: `time_zone` is empty", site.key));
            }
            if let Some(secret) = &site.secret_key
                && secret.len() < 16
            {
                return invalid(format!("site {:?}: `secret_key` must be at least 16 characters", site.key));
            }
            self.validate_write_key(i)?;
            if site.allowed_origins.iter().any(|o| o == "*") && site.allowed_origins.len() > 1 {
                return invalid(format!("site {:?}: `*` in allowed_origins accepts every origin; list it alone", site.key));
            }
            if let Some(cookie) = &site.id_cookie {
                if !(1..=MAX_ID_COOKIE_DAYS).contains(&cookie.days) {
                    return invalid(format!("site {:?}: `id_cookie.days` must be 1 to {MAX_ID_COOKIE_DAYS}", site.key));
                }
                if !cookie.path.starts_with('/') || !cookie.path.chars().all(|c| c.is_ascii_graphic() && c != ';') {
                    return invalid(format!("site {:?}: `id_cookie.path` {:?} must be a path starting with `/`, e.g. \"/stats\"", site.key, cookie.path));
                }
                if let Some(domain) = &cookie.domain
                    && (domain.is_empty() || !domain.chars().all(|c| c.is_ascii_alphanumeric() || "-.".contains(c)))
                {
                    return invalid(format!("site {:?}: `id_cookie.domain` {domain:?} must be a host name, e.g. example.com", site.key));
                }
            }
            for origin in site.allowed_origins.iter().filter(|o| *o != "*") {
                if !is_origin(origin) {
                    return invalid(format!(
                        "site {:?}: allowed origin {origin:?} must be scheme://host[:port] with no path, e.g. https://example.com",
                        site.key
                    ));
                }
            }
        }
        if let Some(url) = &self.public_url
            && !url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        {
            return invalid(format!("public_url {url:?} must be an http(s) address, e.g. https://stats.example.com"));
        }
        self.validate_dashboard()?;
        let l = &self.limits;
        if l.max_body_bytes == 0 || l.max_body_bytes > 16 * limits::MAX_BODY_BYTES {
            return invalid(format!("limits.max_body_bytes must be 1 to {}", 16 * limits::MAX_BODY_BYTES));
        }
        for (name, value) in [
            ("per_ip_per_second", l.per_ip_per_second),
            ("per_ip_burst", l.per_ip_burst),
            ("per_site_per_second", l.per_site_per_second),
            ("per_site_burst", l.per_site_burst),
        ] {
            if value == 0 {
                return invalid(format!("limits.{name} must be at least 1"));
            }
        }
        if l.write_queue == 0 {
            return invalid("limits.write_queue must be at least 1".into());
        }
        if l.ingest_in_flight == 0 {
            return invalid("limits.ingest_in_flight must be at least 1".into());
        }
        let server = &self.server;
        if server.max_connections == 0 {
            return invalid("server.max_connections must be at least 1".into());
        }
        for (name, seconds) in [("header_timeout_seconds", server.header_timeout_seconds), ("body_timeout_seconds", server.body_timeout_seconds)] {
            if !(1..=MAX_TIMEOUT_SECONDS).contains(&seconds) {
                return invalid(format!("server.{name} must be 1 to {MAX_TIMEOUT_SECONDS}"));
            }
        }
        if let Some(path) = &self.geoip_db
            && !path.is_file()
        {
            return invalid(format!("geoip_db {} is not a file", path.display()));
        }
        self.validate_lifecycle()?;
        self.validate_store()
    }
}

impl Config {
    /// The collector's own origin when `public_url` sets it.
    pub fn public_origin(&self) -> Option<String> {
        let url = url::Url::parse(self.public_url.as_deref()?).ok()?;
        Some(url.origin().ascii_serialization())
    }

    fn validate_dashboard(&self) -> Result<(), ConfigError> {
        let invalid = |m: String| Err(ConfigError::Invalid(m));
        let sites: Vec<&str> = self.sites.iter().map(|s| s.key.as_str()).collect();
        let d = &self.dashboard;
        if !(1..=MAX_LIVE_SEGMENT_REFRESH_SECONDS).contains(&d.live_segment_refresh_seconds) {
            return invalid(format!(
                "dashboard.live_segment_refresh_seconds must be 1 to {MAX_LIVE_SEGMENT_REFRESH_SECONDS}, got {}",
                d.live_segment_refresh_seconds
            ));
        }
        for (i, user) in d.users.iter().enumerate() {
            if let Err(e) = crate::access::check_name(&user.name) {
                return invalid(format!("dashboard.user {i}: {e}"));
            }
            let taken = d.users[..i].iter().any(|u| u.name == user.name)
                || (user.name == crate::access::ADMIN && d.admin_password.is_some());
            if taken {
                return invalid(format!("dashboard user {:?} is configured twice (`admin_password` is the user \"admin\")", user.name));
            }
            if user.password.is_empty() {
                return invalid(format!("dashboard user {:?}: `password` is empty", user.name));
            }
            if let Err(e) = crate::access::check_sites(&user.sites, &sites) {
                return invalid(format!("dashboard user {:?}: {e}", user.name));
            }
        }
        for (i, token) in d.tokens.iter().enumerate() {
            let name = token.name.clone().unwrap_or_else(|| format!("token {i}"));
            if token.token.len() < 16 {
                return invalid(format!("dashboard token {name:?}: `token` must be at least 16 characters"));
            }
            if let Err(e) = crate::access::check_sites(&token.sites, &sites) {
                return invalid(format!("dashboard token {name:?}: {e}"));
            }
        }
        Ok(())
    }
}

/// `https://example.com` or `http://localhost:3000`: what browsers send as
/// `Origin`, nothing more.
fn is_origin(origin: &str) -> bool {
    url::Url::parse(origin).is_ok_and(|u| {
        matches!(u.scheme(), "http" | "https") && u.origin().ascii_serialization() == origin.trim_end_matches('/')
    })
}

/// `WAYMARK_LIMITS__PER_IP_BURST=5` → `limits.per_ip_burst = 5`.
fn apply_env(table: &mut toml::Table, name: &str, value: &str) -> Result<(), ConfigError> {
    let path: Vec<String> = name[ENV_PREFIX.len()..].split("__").map(str::to_ascii_lowercase).collect();
    let env_error = |message: String| ConfigError::Env { name: name.to_owned(), message };
    let (last, parents) = path.split_last().expect("split yields at least one part");
    let mut at = table;
    for part in parents {
        let entry = at.entry(part.clone()).or_insert_with(|| toml::Table::new().into());
        at = entry.as_table_mut().ok_or_else(|| env_error(format!("`{part}` is not a table")))?;
    }
    let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !v.is_str() && !v.is_table() && !v.is_datetime())
        .unwrap_or_else(|| value.into());
    at.insert(last.clone(), parsed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut f, text.as_bytes()).unwrap();
        f
    }

    fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    const TWO_SITES: &str = r#"
        listen = "0.0.0.0:9000"
        data_dir = "/var/lib/waymark"
        [limits]
        per_ip_per_second = 5
        [[site]]
        key = "shop"
        allowed_origins = ["https://shop.example"]
        secret_key = "0123456789abcdef0123"
        session_timeout_minutes = 45
        [[site]]
        key = "blog"
    "#;

    #[test]
    fn a_file_sets_sites_limits_and_defaults_the_rest() {
        let f = write(TWO_SITES);
        let config = Config::load(Some(f.path()), []).unwrap();
        assert_eq!(config.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(config.sites.len(), 2);
        assert_eq!(config.site("shop").unwrap().session_timeout_ms(), 45 * 60_000);
        assert_eq!(config.site("blog").unwrap().session_timeout_minutes, 30);
        assert_eq!(config.limits.per_ip_per_second, 5);
        assert_eq!(config.limits.max_body_bytes, limits::MAX_BODY_BYTES);
        assert!(config.headless_browsers_are_bots);
    }

    #[test]
    fn slow_client_limits_have_defaults_and_environment_overrides() {
        let defaults = Config::parse(TWO_SITES, "t", []).unwrap().server;
        assert_eq!((defaults.max_connections, defaults.header_timeout_seconds, defaults.body_timeout_seconds), (1000, 10, 30));
        let set = Config::parse(TWO_SITES, "t", env(&[("WAYMARK_SERVER__MAX_CONNECTIONS", "64"), ("WAYMARK_SERVER__BODY_TIMEOUT_SECONDS", "5")]))
            .unwrap()
            .server;
        assert_eq!((set.max_connections, set.body_timeout_seconds), (64, 5));
    }

    #[test]
    fn ingest_in_flight_defaults_to_512_and_zero_is_refused_with_the_field() {
        assert_eq!(Config::parse(TWO_SITES, "t", []).unwrap().limits.ingest_in_flight, 512);
        let set = Config::parse(TWO_SITES, "t", env(&[("WAYMARK_LIMITS__INGEST_IN_FLIGHT", "64")])).unwrap();
        assert_eq!(set.limits.ingest_in_flight, 64);
        let err = Config::parse(TWO_SITES, "t", env(&[("WAYMARK_LIMITS__INGEST_IN_FLIGHT", "0")])).unwrap_err().to_string();
        assert!(err.contains("limits.ingest_in_flight must be at least 1"), "{err}");
    }

    #[test]
    fn durability_is_normal_unless_full_is_asked_for_and_other_values_are_refused() {
        assert_eq!(Config::parse(TWO_SITES, "t", []).unwrap().store.durability, Durability::Normal);
        let full = Config::parse(&format!("{TWO_SITES}\n[store]\ndurability = \"full\"\n"), "t", []).unwrap();
        assert_eq!(full.store.durability, Durability::Full);
        let by_env = Config::parse(TWO_SITES, "t", env(&[("WAYMARK_STORE__DURABILITY", "full")])).unwrap();
        assert_eq!(by_env.store.durability, Durability::Full);
        let err = Config::parse(TWO_SITES, "t", env(&[("WAYMARK_STORE__DURABILITY", "extra")])).unwrap_err().to_string();
        assert!(err.contains("durability") && err.contains("full"), "{err}");
    }

    #[test]
    fn sqlite_memory_and_wal_bounds_have_defaults_overrides_and_ranges() {
        let defaults = Config::parse(TWO_SITES, "t", []).unwrap().store;
        assert_eq!((defaults.wal_max_mib, defaults.read_connections, defaults.read_cache_mib, defaults.mmap_mib), (64, None, 16, 256));
        assert!(defaults.read_connections() >= 1);
        let file = format!("{TWO_SITES}\n[store]\nwal_max_mib = 16\nread_connections = 3\nmmap_mib = 0\n");
        let set = Config::parse(&file, "t", env(&[("WAYMARK_STORE__READ_CACHE_MIB", "4")])).unwrap().store;
        assert_eq!((set.wal_max_mib, set.read_connections(), set.read_cache_mib, set.mmap_mib), (16, 3, 4, 0));
        for (name, value, says) in [
            ("WAL_MAX_MIB", "0", "store.wal_max_mib must be 1 to 65536"),
            ("READ_CONNECTIONS", "0", "store.read_connections must be 1 to 256"),
            ("READ_CACHE_MIB", "0", "store.read_cache_mib must be 1 to 65536"),
            ("MMAP_MIB", "100000", "store.mmap_mib must be 0 to 65536"),
        ] {
            let err = Config::parse(TWO_SITES, "t", env(&[(&format!("WAYMARK_STORE__{name}"), value)])).unwrap_err().to_string();
            assert!(err.contains(says), "{name}: {err}");
        }
    }

    #[test]
    fn environment_variables_override_the_file_by_path() {
        let f = write(TWO_SITES);
        let vars = env(&[
            ("WAYMARK_LISTEN", "127.0.0.1:7000"),
            ("WAYMARK_LIMITS__PER_IP_BURST", "9"),
            ("WAYMARK_DASHBOARD__ADMIN_PASSWORD", "hunter2hunter2"),
            ("WAYMARK_DASHBOARD__API_TOKENS", r#"["a", "b"]"#),
            ("WAYMARK_LOG", "debug"),
            ("PATH", "/bin"),
        ]);
        let config = Config::load(Some(f.path()), vars).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:7000");
        assert_eq!(config.limits.per_ip_burst, 9);
        assert_eq!(config.limits.per_ip_per_second, 5);
        assert_eq!(config.dashboard.admin_password.as_deref(), Some("hunter2hunter2"));
        assert_eq!(config.dashboard.api_tokens, ["a", "b"]);
    }

    #[test]
    fn without_a_file_the_demo_site_lists_no_origins_so_only_the_collectors_own_pages_send() {
        let config = Config::load(None, env(&[("WAYMARK_DATA_DIR", "/tmp/w")])).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/tmp/w"));
        let demo = config.site("demo").unwrap();
        assert!(demo.allowed_origins.is_empty());
        assert_eq!(config.public_url, None);
        assert!(!config.headless_browsers_are_bots);
    }

    #[test]
    fn a_cluster_needs_its_name_and_every_shard_and_the_sessionizer_is_for_clickhouse() {
        let load = |store: &str| Config::load(Some(write(&format!("[store]\n{store}\n[[site]]\nkey = \"shop\"\n")).path()), env(&[]));
        let config = load(
            "backend = \"clickhouse\"\nurl = \"http://10.0.0.1:8123\"\ncluster = \"stats\"\nshards = [\"http://10.0.0.1:8123\", \"http://10.0.0.2:8123\"]\nsessionizer = \"separate\"",
        )
        .unwrap();
        assert_eq!((config.store.cluster.as_deref(), config.store.shards.len(), config.store.sessionizer), (Some("stats"), 2, Sessionizer::Separate));
        for (store, says) in [
            ("backend = \"clickhouse\"\nurl = \"http://a:8123\"\ncluster = \"stats\"", "store.cluster needs store.shards"),
            ("backend = \"clickhouse\"\nurl = \"http://a:8123\"\nshards = [\"http://a:8123\"]", "store.shards needs store.cluster"),
            ("backend = \"clickhouse\"\nurl = \"http://a:8123\"\ncluster = \"s\"\nshards = [\"https://a\"]", "must be an http:// address"),
            ("sessionizer = \"inside\"", "are for backend = \"clickhouse\""),
        ] {
            let err = load(store).unwrap_err().to_string();
            assert!(err.contains(says), "{store}: {err}");
        }
    }

    #[test]
    fn the_store_is_sqlite_unless_clickhouse_is_configured_with_its_url() {
        assert_eq!(Config::load(None, env(&[])).unwrap().store.backend, Backend::Sqlite);
        let file = write("[store]\nbackend = \"clickhouse\"\nurl = \"http://127.0.0.1:8123\"\n[[site]]\nkey = \"shop\"\n");
        let config =
            Config::load(Some(file.path()), env(&[("WAYMARK_STORE__DATABASE", "stats"), ("WAYMARK_STORE__PASSWORD", "pw")])).unwrap();
        let store = &config.store;
        assert_eq!(
            (store.backend, store.url.as_deref(), store.database.as_str(), store.user.as_str(), store.password.as_str()),
            (Backend::Clickhouse, Some("http://127.0.0.1:8123"), "stats", "default", "pw")
        );
        let err = Config::load(None, env(&[("WAYMARK_STORE__BACKEND", "clickhouse")])).unwrap_err().to_string();
        assert!(err.contains("store.url"), "{err}");
        let err = Config::load(None, env(&[("WAYMARK_STORE__HOST", "x")])).unwrap_err().to_string();
        assert!(err.contains("host"), "{err}");
    }

    #[test]
    fn an_unknown_field_is_named_in_the_error() {
        let f = write("[[site]]\nkey = \"a\"\nsession_timout_minutes = 5\n");
        let err = Config::load(Some(f.path()), []).unwrap_err().to_string();
        assert!(err.contains("session_timout_minutes"), "{err}");
        let err = Config::load(None, env(&[("WAYMARK_LIMITS__PER_IP", "3")])).unwrap_err().to_string();
        assert!(err.contains("per_ip"), "{err}");
        // Other tools' variables with the prefix are not configuration.
        assert!(Config::load(None, env(&[("WAYMARK_BIN", "/usr/bin/waymark")])).is_ok());
    }

    #[test]
    fn invalid_values_fail_at_start_with_the_site_and_field() {
        let cases = [
            ("[[site]]\nkey = \"a\"\nallowed_origins = [\"https://a.example/path\"]\n", "allowed origin"),
            ("[[site]]\nkey = \"a\"\nsession_timeout_minutes = 0\n", "session_timeout_minutes"),
            ("[[site]]\nkey = \"a\"\nsession_timeout_minutes = 60\nsession_max_minutes = 30\n", "session_max_minutes"),
            ("[[site]]\nkey = \"a\"\nsecret_key = \"short\"\n", "secret_key"),
            ("[[site]]\nkey = \"a\"\nwrite_key = \"short\"\n", "`write_key` must be at least"),
            ("[[site]]\nkey = \"a\"\nwrite_key = \"0123456789abcdef\"\nsecret_key = \"0123456789abcdef\"\n", "must differ from `secret_key`"),
            ("[[site]]\nkey = \"a\"\nwrite_key = \"0123456789abcdef\"\n[[site]]\nkey = \"b\"\nwrite_key = \"0123456789abcdef\"\n", "the same `write_key`"),
            ("[[site]]\nkey = \"a\"\n[[site]]\nkey = \"a\"\n", "configured twice"),
            ("[[site]]\nkey = \"\"\n", "`key`"),
            ("geoip_db = \"/nonexistent.mmdb\"\n", "geoip_db"),
            ("[limits]\nper_site_burst = 0\n", "per_site_burst"),
            ("[[site]]\nkey = \"a\"\nretention_days = 0\n", "`retention_days`"),
            ("[lifecycle]\nretention_days = 0\n", "lifecycle.retention_days"),
            ("[lifecycle]\nretention_every_minutes = 0\n", "lifecycle.retention_every_minutes"),
            ("[dashboard]\nlive_segment_refresh_seconds = 0\n", "dashboard.live_segment_refresh_seconds"),
            ("listen = \"not an address\"\n", "listen"),
            ("[[site]]\nkey = \"a\"\nid_cookie = { days = 401 }\n", "id_cookie.days"),
            ("[[site]]\nkey = \"a\"\nid_cookie = { path = \"stats\" }\n", "id_cookie.path"),
            ("[[site]]\nkey = \"a\"\nid_cookie = { domain = \"a.example; x\" }\n", "id_cookie.domain"),
            ("[[site]]\nkey = \"a\"\nid_cookie = { lifetime = 3 }\n", "lifetime"),
            ("[server]\nmax_connections = 0\n", "server.max_connections"),
            ("[server]\nheader_timeout_seconds = 0\n", "server.header_timeout_seconds"),
            ("[server]\nbody_timeout_seconds = 3601\n", "server.body_timeout_seconds"),
        ];
        for (text, expected) in cases {
            let f = write(text);
            let err = Config::load(Some(f.path()), []).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn the_id_cookie_is_off_unless_a_site_asks_and_then_has_defaults() {
        let f = write("[[site]]\nkey = \"shop\"\nid_cookie = {}\n[[site]]\nkey = \"blog\"\n");
        let config = Config::load(Some(f.path()), []).unwrap();
        assert_eq!(config.sites[0].id_cookie, Some(IdCookieConfig { domain: None, path: "/".into(), days: 400 }));
        assert_eq!(config.sites[1].id_cookie, None);
    }

    #[test]
    fn a_site_keeps_its_own_retention_period_else_the_default_else_forever() {
        let f = write("[lifecycle]\nretention_days = 90\n[[site]]\nkey = \"shop\"\nretention_days = 30\n[[site]]\nkey = \"blog\"\n");
        let config = Config::load(Some(f.path()), []).unwrap();
        assert_eq!((config.retention_days("shop"), config.retention_days("blog")), (Some(30), Some(90)));
        assert_eq!(config.lifecycle.retention_every_minutes, 60);
        let forever = Config::load(None, []).unwrap();
        assert_eq!(forever.retention_days("demo"), None);
    }

    #[test]
    fn dashboard_users_and_tokens_come_with_a_role_and_sites_checked_at_start() {
        let f = write(&format!(
            "{TWO_SITES}\n[[dashboard.user]]\nname = \"ana\"\npassword = \"pw-for-ana\"\nsites = [\"shop\"]\n\
             [[dashboard.user]]\nname = \"bo\"\npassword = \"pw-for-bo\"\nrole = \"admin\"\n\
             [[dashboard.token]]\ntoken = \"0123456789abcdef-shop\"\nsites = [\"shop\"]\n"
        ));
        let config = Config::load(Some(f.path()), []).unwrap();
        let [ana, bo] = &config.dashboard.users[..] else { panic!("two users") };
        assert_eq!((ana.role, &ana.sites), (Role::Viewer, &Sites::Only(vec!["shop".into()])));
        assert_eq!((bo.role, &bo.sites), (Role::Admin, &Sites::All));
        assert_eq!(config.dashboard.tokens[0].role, Role::Viewer);

        let cases = [
            ("[[dashboard.user]]\nname = \"ana\"\npassword = \"x\"\nsites = [\"nope\"]\n", "\"nope\""),
            ("[[dashboard.user]]\nname = \"ana\"\npassword = \"x\"\nrole = \"owner\"\n", "\"owner\""),
            ("[[dashboard.user]]\nname = \"a b\"\npassword = \"x\"\n", "name"),
            ("[dashboard]\nadmin_password = \"x\"\n[[dashboard.user]]\nname = \"admin\"\npassword = \"y\"\n", "configured twice"),
            ("[[dashboard.token]]\ntoken = \"short\"\n", "at least 16"),
            ("public_url = \"stats.example.com\"\n", "public_url"),
            ("[[site]]\nkey = \"a\"\nallowed_origins = [\"*\", \"https://a.example\"]\n", "list it alone"),
        ];
        for (text, expected) in cases {
            let f = write(text);
            let err = Config::load(Some(f.path()), []).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }
}
