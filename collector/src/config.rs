//! The collector's configuration: a TOML file (`--config`), overridden by
//! `WAYMARK_*` environment variables, checked once at start.
//!
//! Every struct rejects unknown fields, so a typo fails at start with the
//! field's name instead of being silently ignored.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use waymark_protocol::limits;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// A MaxMind-format `.mmdb` file for country (and region/city) lookups.
    #[serde(default)]
    pub geoip_db: Option<PathBuf>,
    #[serde(default)]
    pub dashboard: DashboardConfig,
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
    /// Origins allowed to send browser events (`https://example.com`);
    /// empty allows any origin.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// The secret for the server-to-server endpoint (`Authorization: Bearer`).
    #[serde(default)]
    pub secret_key: Option<String>,
    /// Idle minutes that end a session.
    #[serde(default = "default_session_timeout_minutes")]
    pub session_timeout_minutes: u32,
    /// IANA time zone the dashboard reports days in.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardConfig {
    /// The admin password; a PHC hash (`$argon2id$…`) or plain text that is
    /// hashed at start.
    #[serde(default)]
    pub admin_password: Option<String>,
    /// Bearer tokens for the query API, for scripts.
    #[serde(default)]
    pub api_tokens: Vec<String>,
}

fn default_listen() -> SocketAddr {
    "127.0.0.1:8080".parse().expect("a valid address")
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}
fn default_session_timeout_minutes() -> u32 {
    (limits::DEFAULT_SESSION_TIMEOUT_MS / 60_000) as u32
}
fn default_time_zone() -> String {
    "UTC".into()
}
fn demo_sites() -> Vec<SiteConfig> {
    vec![SiteConfig {
        key: "demo".into(),
        name: Some("Demo site".into()),
        allowed_origins: Vec::new(),
        secret_key: None,
        session_timeout_minutes: default_session_timeout_minutes(),
        time_zone: default_time_zone(),
    }]
}

impl SiteConfig {
    pub fn session_timeout_ms(&self) -> i64 {
        i64::from(self.session_timeout_minutes) * 60_000
    }
}

impl Config {
    /// The out-of-the-box setup: one site, `demo`, as used by the demo page.
    pub fn demo(listen: SocketAddr, data_dir: PathBuf) -> Config {
        Config { listen, data_dir, geoip_db: None, dashboard: DashboardConfig::default(), sites: demo_sites() }
    }

    pub fn site(&self, key: &str) -> Option<&SiteConfig> {
        self.sites.iter().find(|s| s.key == key)
    }
}
