//! The collector's configuration: where it listens, where data lives, and
//! the sites it accepts events for.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub sites: Vec<SiteConfig>,
}

#[derive(Debug, Clone)]
pub struct SiteConfig {
    /// The public key in the script tag's `data-site`.
    pub key: String,
    /// Session idle timeout for this site.
    pub session_timeout_ms: i64,
}

impl Config {
    /// The out-of-the-box setup: one site, `demo`, as used by the demo page.
    pub fn demo(listen: SocketAddr, data_dir: PathBuf) -> Config {
        Config {
            listen,
            data_dir,
            sites: vec![SiteConfig {
                key: "demo".into(),
                session_timeout_ms: waymark_protocol::limits::DEFAULT_SESSION_TIMEOUT_MS,
            }],
        }
    }

    pub fn site(&self, key: &str) -> Option<&SiteConfig> {
        self.sites.iter().find(|s| s.key == key)
    }
}
