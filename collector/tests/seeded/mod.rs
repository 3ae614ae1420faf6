//! A collector over real HTTP on a SQLite file seeded with a small, known
//! history, for the query API tests. The clock is fixed. The events go in
//! through the store's write seam, so the sessions are the ones the real
//! rule derives (their ids too: [`Running::session_id`] gives the id of
//! each visit below); each visit is one SDK session.
//!
//! Site `shop` reports in Europe/Berlin (UTC+1 in January). Four sessions,
//! times in UTC (local in brackets):
//!
//! | visit (SDK session) | visitor | start | events | duration | bounce | source | country, device |
//! | --- | --- | --- | --- | --- | --- | --- | --- |
//! | S1 | V1 | Jan 14 22:30 (23:30) | pv `/`, pv `/pricing` 22:40, `signup` {plan: pro} 22:45 | 15 min | no | Google | DE desktop Firefox |
//! | S2 | V1 | Jan 14 23:10 (Jan 15 00:10) | pv `/blog` | 0 | yes | none | DE desktop Firefox |
//! | S3 | V2 | Jan 15 09:00 (10:00) | pv `/`, pv `/docs` 09:05, `$engagement` 09:07 | 7 min | no | news.example | FR mobile Chrome |
//! | S4 | V3 | Jan 15 22:59 (23:59) | pv `/pricing`, `signup` {plan: free} 23:02 (Jan 16 00:02) | 3 min | no | Google | DE mobile Chrome |
//!
//! So local Jan 15 holds S2, S3, S4 by start, while UTC Jan 15 would hold
//! S3 and S4: a test that buckets in UTC gets different numbers.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

use tokio::sync::oneshot;
use waymark_collector::config::Config;
use waymark_collector::clock::ManualClock;
use waymark_collector::event::StoredEvent;
use waymark_collector::store::Store;

pub const PASSWORD: &str = "correct horse battery staple";
pub const TOKEN: &str = "test-api-token-0123456789";
/// 2024-01-15T09:07:30Z.
pub const NOW: i64 = 1_705_309_650_000;

pub fn utc(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

pub struct Running {
    pub url: String,
    pub db: PathBuf,
    /// Visit (`S1`…) → the id the session rule gave its session.
    session_ids: HashMap<String, String>,
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

pub async fn start() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::demo("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
    let mut shop = config.sites[0].clone();
    shop.key = "shop".into();
    shop.name = Some("The shop".into());
    shop.time_zone = "Europe/Berlin".into();
    config.sites.push(shop);
    config.dashboard.admin_password = Some(PASSWORD.into());
    config.dashboard.api_tokens = vec![TOKEN.into()];
    let server = waymark_collector::start_with_clock(config, std::sync::Arc::new(ManualClock::at(NOW))).await.unwrap();
    let url = format!("http://{}", server.addr);
    let db = server.db_path.clone();
    let session_ids = seed(server.state().store.as_ref()).await;
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));
    Running { url, db, session_ids, stop: Some(stop), done: Some(done), _dir: dir }
}

impl Running {
    /// The id of visit `visit`'s session (`S1`…, see the table above).
    pub fn session_id(&self, visit: &str) -> String {
        self.session_ids[visit].clone()
    }

    /// GET with the API token; the status and the JSON body.
    pub async fn get(&self, path_and_query: &str) -> (u16, serde_json::Value) {
        let r = reqwest::Client::new()
            .get(format!("{}{path_and_query}", self.url))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            done.await.unwrap().unwrap();
        }
    }
}

struct Visit {
    id: &'static str,
    visitor: &'static str,
    source: Option<&'static str>,
    country: &'static str,
    device: &'static str,
    browser: &'static str,
    /// (time, name, path, props)
    events: &'static [(&'static str, &'static str, &'static str, &'static str)],
}

const VISITS: &[Visit] = &[
    Visit {
        id: "S1",
        visitor: "V1",
        source: Some("Google"),
        country: "DE",
        device: "desktop",
        browser: "Firefox",
        events: &[
            ("2024-01-14T22:30:00Z", "$pageview", "/", "{}"),
            ("2024-01-14T22:40:00Z", "$pageview", "/pricing", "{}"),
            ("2024-01-14T22:45:00Z", "signup", "/pricing", r#"{"plan":"pro"}"#),
        ],
    },
    Visit {
        id: "S2",
        visitor: "V1",
        source: None,
        country: "DE",
        device: "desktop",
        browser: "Firefox",
        events: &[("2024-01-14T23:10:00Z", "$pageview", "/blog", "{}")],
    },
    Visit {
        id: "S3",
        visitor: "V2",
        source: Some("news.example"),
        country: "FR",
        device: "mobile",
        browser: "Chrome",
        events: &[
            ("2024-01-15T09:00:00Z", "$pageview", "/", "{}"),
            ("2024-01-15T09:05:00Z", "$pageview", "/docs", "{}"),
            ("2024-01-15T09:07:00Z", "$engagement", "/docs", "{}"),
        ],
    },
    Visit {
        id: "S4",
        visitor: "V3",
        source: Some("Google"),
        country: "DE",
        device: "mobile",
        browser: "Chrome",
        events: &[
            ("2024-01-15T22:59:00Z", "$pageview", "/pricing", "{}"),
            ("2024-01-15T23:02:00Z", "signup", "/pricing", r#"{"plan":"free"}"#),
        ],
    },
];

/// Appends the visits' events, enriched as the ingest path would have
/// them, through the store; returns each visit's session id.
async fn seed(store: &dyn Store) -> HashMap<String, String> {
    let mut events = Vec::new();
    for v in VISITS {
        for (ts, name, path, props) in v.events {
            events.push(StoredEvent {
                site: "shop".into(),
                id: format!("E{}", events.len() + 1),
                ts: utc(ts),
                received_ms: utc(ts),
                name: (*name).into(),
                client_session_id: Some(v.id.into()),
                visitor_id: v.visitor.into(),
                url: format!("https://shop.example{path}"),
                host: "shop.example".into(),
                path: (*path).into(),
                props: (*props).into(),
                source: v.source.map(Into::into),
                browser: Some(v.browser.into()),
                device: Some(v.device.into()),
                country: Some(v.country.into()),
                ..StoredEvent::default()
            });
        }
    }
    store.append(events).await.unwrap();
    let sessions = store.sessions("shop").await.unwrap();
    assert_eq!(sessions.len(), VISITS.len(), "one session per visit: {sessions:?}");
    sessions.into_iter().map(|s| (s.client_session_id.expect("each visit has its SDK session"), s.id)).collect()
}
