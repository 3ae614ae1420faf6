//! A collector over real HTTP on a SQLite file seeded with people on
//! several devices, for the analyses' API tests (people, funnels,
//! retention, goals, segments). The clock is fixed; the events go in
//! through the store's write seam, so sessions and identity links are the
//! pipeline's. Each visit is one SDK session.
//!
//! Site `shop` reports in Europe/Berlin (UTC+1). Times UTC (local in brackets):
//!
//! | visit | visitor (device, country) | events (user id from the identify on) |
//! | --- | --- | --- |
//! | L1 | `maya-laptop` (desktop, DE) | Jan 30 10:00 pv `/`, 10:02 pv `/pricing`, 10:03 `$identify` maya, 10:05 pv `/signup`, 10:06 `signup` {plan: pro} |
//! | P1 | `maya-phone` (mobile, DE) | Feb 2 08:00 pv `/`, 08:01 `$identify` maya, 08:03 pv `/pricing` |
//! | J1 | `jon-desk` (desktop, FR) | Jan 31 23:30 (Feb 1 00:30) pv `/`, 23:35 pv `/pricing`, 23:40 pv `/docs`, 23:45 pv `/signup` |
//! | J2 | `jon-desk` | Feb 5 12:00 pv `/` |
//! | A1 | `ada-phone` (mobile, US) | Jan 29 09:00 pv `/`, 09:05 pv `/pricing` |
//! | A2 | `ada-phone` | Feb 3 09:00 pv `/signup`, 09:01 `$identify` ada |
//!
//! So: three people (maya on two devices, ada identified on her second
//! visit, jon never), four visitors; J1 is in February in Berlin but in
//! January in UTC.

#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::Value;
use tokio::sync::oneshot;
use waymark_collector::clock::ManualClock;
use waymark_collector::config::Config;
use waymark_collector::event::StoredEvent;
use waymark_collector::store::Store;

pub const PASSWORD: &str = "correct horse battery staple";
pub const TOKEN: &str = "test-api-token-0123456789";
/// 2024-02-12T12:00:00Z.
pub const NOW: i64 = 1_707_739_200_000;

pub fn utc(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

pub struct Running {
    pub url: String,
    pub db: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    done: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

/// (visit, visitor, device, country, [(time, name, path, props, user)])
type Visit = (&'static str, &'static str, &'static str, &'static str, &'static [(&'static str, &'static str, &'static str, &'static str, Option<&'static str>)]);

const VISITS: &[Visit] = &[
    ("L1", "maya-laptop", "desktop", "DE", &[
        ("2024-01-30T10:00:00Z", "$pageview", "/", "{}", None),
        ("2024-01-30T10:02:00Z", "$pageview", "/pricing", "{}", None),
        ("2024-01-30T10:03:00Z", "$identify", "/pricing", "{}", Some("maya")),
        ("2024-01-30T10:05:00Z", "$pageview", "/signup", "{}", Some("maya")),
        ("2024-01-30T10:06:00Z", "signup", "/signup", r#"{"plan":"pro"}"#, Some("maya")),
    ]),
    ("P1", "maya-phone", "mobile", "DE", &[
        ("2024-02-02T08:00:00Z", "$pageview", "/", "{}", None),
        ("2024-02-02T08:01:00Z", "$identify", "/", "{}", Some("maya")),
        ("2024-02-02T08:03:00Z", "$pageview", "/pricing", "{}", Some("maya")),
    ]),
    ("J1", "jon-desk", "desktop", "FR", &[
        ("2024-01-31T23:30:00Z", "$pageview", "/", "{}", None),
        ("2024-01-31T23:35:00Z", "$pageview", "/pricing", "{}", None),
        ("2024-01-31T23:40:00Z", "$pageview", "/docs", "{}", None),
        ("2024-01-31T23:45:00Z", "$pageview", "/signup", "{}", None),
    ]),
    ("J2", "jon-desk", "desktop", "FR", &[("2024-02-05T12:00:00Z", "$pageview", "/", "{}", None)]),
    ("A1", "ada-phone", "mobile", "US", &[
        ("2024-01-29T09:00:00Z", "$pageview", "/", "{}", None),
        ("2024-01-29T09:05:00Z", "$pageview", "/pricing", "{}", None),
    ]),
    ("A2", "ada-phone", "mobile", "US", &[
        ("2024-02-03T09:00:00Z", "$pageview", "/signup", "{}", None),
        ("2024-02-03T09:01:00Z", "$identify", "/signup", "{}", Some("ada")),
    ]),
];

pub async fn start() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::demo("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf());
    let mut shop = config.sites[0].clone();
    shop.key = "shop".into();
    shop.time_zone = "Europe/Berlin".into();
    config.sites.push(shop);
    config.dashboard.admin_password = Some(PASSWORD.into());
    config.dashboard.api_tokens = vec![TOKEN.into()];
    let server = waymark_collector::start_with_clock(config, std::sync::Arc::new(ManualClock::at(NOW))).await.unwrap();
    let url = format!("http://{}", server.addr);
    let db = server.db_path.clone();
    seed(server.state().store.as_ref()).await;
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));
    Running { url, db, stop: Some(stop), done: Some(done), _dir: dir }
}

async fn seed(store: &dyn Store) {
    let mut events = Vec::new();
    for (visit, visitor, device, country, list) in VISITS {
        for (ts, name, path, props, user) in *list {
            events.push(StoredEvent {
                site: "shop".into(),
                id: format!("E{:02}", events.len() + 1),
                ts: utc(ts),
                received_ms: utc(ts),
                name: (*name).into(),
                client_session_id: Some((*visit).into()),
                visitor_id: (*visitor).into(),
                user_id: user.map(Into::into),
                url: format!("https://shop.example{path}"),
                host: "shop.example".into(),
                path: (*path).into(),
                props: (*props).into(),
                device: Some((*device).into()),
                country: Some((*country).into()),
                ..StoredEvent::default()
            });
        }
    }
    store.append(events).await.unwrap();
    assert_eq!(store.sessions("shop").await.unwrap().len(), VISITS.len(), "one session per visit");
}

impl Running {
    pub async fn get(&self, path_and_query: &str) -> (u16, Value) {
        self.send(reqwest::Client::new().get(format!("{}{path_and_query}", self.url))).await
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let r = request.bearer_auth(TOKEN).send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub fn client(&self) -> reqwest::Client {
        reqwest::Client::new()
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
