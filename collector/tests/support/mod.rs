//! A real collector on 127.0.0.1:0 with a real SQLite file in a temp dir,
//! and a client that speaks to it as a browser or a backend would.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::oneshot;
use waymark_collector::clock::{Clock, ManualClock, SystemClock};
use waymark_collector::config::{Config, SiteConfig};

pub const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
pub const CHROME_ANDROID: &str =
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36";
pub const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
pub const SECRET: &str = "s3cret-s3cret-s3cret";
/// The site `shop`'s write key for the Segment API.
pub const WRITE_KEY: &str = "wk-shop-0123456789abcdef";
pub const MIN: i64 = 60_000;
/// 2025-11-25 00:00 UTC.
pub const MIDNIGHT: i64 = 1_764_028_800_000;

pub struct Running {
    pub state: Arc<waymark_collector::api::AppState>,
    pub url: String,
    pub db: PathBuf,
    pub dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

/// The demo config plus a site `shop` that allows one origin and has a
/// server secret.
pub fn config() -> Config {
    let dir = PathBuf::new();
    let mut config = Config::demo("127.0.0.1:0".parse().unwrap(), dir);
    config.sites.push(SiteConfig {
        key: "shop".into(),
        name: None,
        allowed_origins: vec!["https://shop.example".into()],
        secret_key: Some(SECRET.into()),
        write_key: Some(WRITE_KEY.into()),
        session_timeout_minutes: 30,
        session_max_minutes: 24 * 60,
        time_zone: "UTC".into(),
        retention_days: None,
        id_cookie: None,
    });
    config
}

pub async fn start() -> Running {
    start_with(config(), Arc::new(SystemClock)).await
}

pub async fn start_with(mut config: Config, clock: Arc<dyn Clock>) -> Running {
    let dir = tempfile::tempdir().unwrap();
    config.data_dir = dir.path().to_path_buf();
    let server = waymark_collector::start_with_clock(config, clock).await.unwrap();
    let url = format!("http://{}", server.addr);
    let db = server.db_path.clone();
    let state = server.state();
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));
    Running { state, url, db, dir: dir.path().to_path_buf(), stop: Some(stop), done: Some(done), _dir: dir }
}

pub async fn start_at(ms: i64) -> (Running, ManualClock) {
    let clock = ManualClock::at(ms);
    (start_with(config(), Arc::new(clock.clone())).await, clock)
}

pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Value,
}

impl Running {
    pub fn request(&self, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new().post(format!("{}{path}", self.url))
    }

    /// A browser's beacon: `text/plain`, a browser user agent.
    pub async fn post(&self, body: impl Into<reqwest::Body>) -> Answer {
        send(self.request("/api/collect").header("content-type", "text/plain").header("user-agent", FIREFOX).body(body)).await
    }

    pub async fn post_batch(&self, batch: &Value) -> Answer {
        self.post(batch.to_string()).await
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let r = reqwest::get(format!("{}{path}", self.url)).await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Stops the collector (committing what is queued) and returns the
    /// database path.
    pub async fn shutdown(&mut self) -> PathBuf {
        self.stop.take().unwrap().send(()).unwrap();
        self.done.take().unwrap().await.unwrap().unwrap();
        self.db.clone()
    }

    pub fn query(&self, sql: &str) -> Vec<Vec<Value>> {
        query(&self.db, sql)
    }
}

/// What the shop's pages send from the browser.
pub async fn post_from_shop_page(server: &Running, body: &Value) -> Answer {
    let request = server.request("/api/collect").header("content-type", "text/plain").header("user-agent", FIREFOX);
    send(request.header("origin", "https://shop.example").body(body.to_string())).await
}

pub async fn send(request: reqwest::RequestBuilder) -> Answer {
    let r = request.send().await.unwrap();
    let status = r.status().as_u16();
    let retry_after = r.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer { status, retry_after, body }
}

/// Rows as JSON values, read with a separate connection (as the dashboard
/// does) while the collector runs.
pub fn query(db: &std::path::Path, sql: &str) -> Vec<Vec<Value>> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let columns = stmt.column_count();
    stmt.query_map([], |r| {
        (0..columns)
            .map(|i| {
                Ok(match r.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => Value::Null,
                    rusqlite::types::ValueRef::Integer(n) => json!(n),
                    rusqlite::types::ValueRef::Real(f) => json!(f),
                    rusqlite::types::ValueRef::Text(t) => json!(String::from_utf8_lossy(t)),
                    rusqlite::types::ValueRef::Blob(_) => json!("<blob>"),
                })
            })
            .collect()
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

pub fn now_ms() -> i64 {
    SystemClock.now_ms()
}

/// The `n`th test event id.
pub fn id(n: u64) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

pub fn session(n: u64) -> String {
    format!("11111111-0000-4000-8000-{n:012}")
}

pub fn visitor(n: u64) -> String {
    format!("22222222-0000-4000-8000-{n:012}")
}

/// A pageview with the SDK's ids (consent given).
pub fn pageview(n: u64, ts: i64, path: &str) -> Value {
    json!({"id": id(n), "name": "$pageview", "ts": ts, "session_id": session(1), "visitor_id": visitor(1),
           "url": format!("https://shop.example{path}")})
}

/// A pageview without ids (no consent): the collector derives the visitor.
pub fn cookieless(n: u64, ts: i64, path: &str) -> Value {
    json!({"id": id(n), "name": "$pageview", "ts": ts, "url": format!("https://shop.example{path}")})
}

pub fn batch(site: &str, sent_at: i64, events: Vec<Value>) -> Value {
    json!({"site": site, "sent_at": sent_at, "events": events})
}
