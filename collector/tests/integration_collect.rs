//! `POST /api/collect` over real HTTP against a real SQLite file.

use std::path::PathBuf;

use serde_json::{Value, json};
use tokio::sync::oneshot;
use waymark_collector::config::Config;

struct Running {
    url: String,
    db: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

async fn start() -> Running {
    let dir = tempfile::tempdir().unwrap();
    let server = waymark_collector::start(Config::demo("127.0.0.1:0".parse().unwrap(), dir.path().to_path_buf())).await.unwrap();
    let url = format!("http://{}", server.addr);
    let db = server.db_path.clone();
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(server.run_until(async move { let _ = stopped.await; }));
    Running { url, db, stop: Some(stop), done, _dir: dir }
}

impl Running {
    async fn post(&self, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/api/collect", self.url))
            .header("content-type", "text/plain")
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    async fn shutdown(&mut self) -> PathBuf {
        self.stop.take().unwrap().send(()).unwrap();
        (&mut self.done).await.unwrap().unwrap();
        self.db.clone()
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn event(id: &str, name: &str) -> Value {
    json!({"id": id, "name": name, "ts": now_ms(), "session_id": "6f1c8b3e-8f1e-4c1a-9d7a-0a1b2c3d4e5f", "url": "https://example.com/pricing?x=1"})
}

const ID_A: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
const ID_B: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

#[tokio::test]
async fn a_mixed_batch_keeps_its_valid_events_and_names_the_invalid_ones() {
    let mut server = start().await;
    let batch = json!({"site": "demo", "sent_at": now_ms(), "events": [event(ID_A, "$pageview"), event("not-a-uuid", "signup"), event(ID_B, "")]});
    let (status, body) = server.post(batch.to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(body["accepted"], 1);
    assert_eq!(body["rejected"], 2);
    assert_eq!(body["results"][1]["reason"], "id_invalid");
    assert_eq!(body["results"][2]["reason"], "name_empty");
    assert_eq!(body["results"][2]["message"], "event 2: `name` is empty");

    let db = server.shutdown().await;
    let conn = rusqlite_count(&db);
    assert_eq!(conn, vec![(ID_A.to_string(), "/pricing".to_string())]);
}

#[tokio::test]
async fn a_resent_event_is_acknowledged_as_a_duplicate_and_stored_once() {
    let mut server = start().await;
    let batch = json!({"site": "demo", "sent_at": now_ms(), "events": [event(ID_A, "$pageview")]}).to_string();
    assert_eq!(server.post(batch.clone()).await.1["accepted"], 1);
    let (status, again) = server.post(batch).await;
    assert_eq!(status, 200);
    assert_eq!(again["duplicates"], 1);
    assert_eq!(again["results"][0]["outcome"], "duplicate");
    let db = server.shutdown().await;
    assert_eq!(rusqlite_count(&db).len(), 1);
}

#[tokio::test]
async fn malformed_bodies_and_unknown_sites_are_refused_with_a_reason() {
    let mut server = start().await;
    let (status, body) = server.post("{not json").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("malformed")));
    let (status, body) = server.post(json!({"site": "demo", "events": []}).to_string()).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("missing field `sent_at`"), "{body}");
    let (status, body) = server.post(json!({"site": "nope", "sent_at": 0, "events": []}).to_string()).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("unknown_site")));
    // Still serving.
    let (status, _) = server.post(json!({"site": "demo", "sent_at": now_ms(), "events": [event(ID_A, "$pageview")]}).to_string()).await;
    assert_eq!(status, 200);
    server.shutdown().await;
}

fn rusqlite_count(db: &std::path::Path) -> Vec<(String, String)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare("SELECT id, path FROM events ORDER BY id").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}
