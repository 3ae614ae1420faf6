//! A collector over real HTTP on a SQLite file seeded with a small, known
//! history, for the query API tests. The clock is fixed.
//!
//! Site `shop` reports in Europe/Berlin (UTC+1 in January). Four sessions,
//! times in UTC (local in brackets):
//!
//! | session | visitor | start | events | duration | bounce | source | country, device |
//! | --- | --- | --- | --- | --- | --- | --- | --- |
//! | S1 | V1 | Jan 14 22:30 (23:30) | pv `/`, pv `/pricing` 22:40, `signup` {plan: pro} 22:45 | 15 min | no | Google | DE desktop Firefox |
//! | S2 | V1 | Jan 14 23:10 (Jan 15 00:10) | pv `/blog` | 0 | yes | none | DE desktop Firefox |
//! | S3 | V2 | Jan 15 09:00 (10:00) | pv `/`, pv `/docs` 09:05, `$engagement` 09:07 | 7 min | no | news.example | FR mobile Chrome |
//! | S4 | V3 | Jan 15 22:59 (23:59) | pv `/pricing`, `signup` {plan: free} 23:02 (Jan 16 00:02) | 3 min | no | Google | DE mobile Chrome |
//!
//! So local Jan 15 holds S2, S3, S4 by start, while UTC Jan 15 would hold
//! S3 and S4: a test that buckets in UTC gets different numbers.

#![allow(dead_code)]

use std::path::PathBuf;

use rusqlite::{Connection, params};
use tokio::sync::oneshot;
use waymark_collector::config::Config;
use waymark_collector::clock::ManualClock;

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
    seed(&Connection::open(&db).unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));
    Running { url, db, stop: Some(stop), done: Some(done), _dir: dir }
}

impl Running {
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

/// Writes the visits as the ingest path would: each event with its
/// enrichment, each session with what the sessionizer derives.
fn seed(conn: &Connection) {
    conn.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    let mut n = 0;
    for v in VISITS {
        for (ts, name, path, props) in v.events {
            n += 1;
            conn.execute(
                "INSERT INTO events (site, id, ts, received_ms, name, session_id, visitor_id, url, host, path, source,
                    browser, device, country, props)
                 VALUES ('shop', ?1, ?2, ?2, ?3, ?4, ?5, ?6, 'shop.example', ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    format!("E{n}"), utc(ts), name, v.id, v.visitor, format!("https://shop.example{path}"), path,
                    v.source, v.browser, v.device, v.country, props
                ],
            )
            .unwrap();
        }
        let start = utc(v.events[0].0);
        let end = utc(v.events[v.events.len() - 1].0);
        let pageviews: Vec<&str> = v.events.iter().filter(|e| e.1 == "$pageview").map(|e| e.2).collect();
        let bounce = pageviews.len() <= 1 && v.events.len() == 1;
        conn.execute(
            "INSERT INTO sessions (site, id, visitor_id, start_ts, end_ts, duration_ms, pageviews, events, entry_path,
                exit_path, bounce, source, browser, device, country)
             VALUES ('shop', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            params![
                v.id, v.visitor, start, end, end - start, pageviews.len() as i64, v.events.len() as i64, pageviews[0],
                pageviews[pageviews.len() - 1], bounce, v.source, v.browser, v.device, v.country
            ],
        )
        .unwrap();
    }
    waymark_collector::store::sqlite::recount_event_slots(conn).unwrap();
}
