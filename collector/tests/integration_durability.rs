//! A 2xx means the events are on disk: the collector binary is killed with
//! SIGKILL right after answering, and the row is there when reopened.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::json;
use support::*;

#[tokio::test]
async fn an_acknowledged_event_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_waymark"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("WAYMARK_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    // Other lines (a generated dashboard password) may come first.
    let url = lines
        .find_map(|line| line.unwrap().strip_prefix("waymark listening on ").map(str::to_owned))
        .expect("the collector says where it listens");

    let now = now_ms();
    let answer = send(
        reqwest::Client::new()
            .post(format!("{url}/api/collect"))
            .header("content-type", "text/plain")
            .header("user-agent", FIREFOX)
            .body(batch("demo", now, vec![pageview(1, now, "/before-the-crash")]).to_string()),
    )
    .await;
    assert_eq!(answer.body["accepted"], 1);
    child.kill().unwrap(); // SIGKILL: no shutdown, no flush.
    child.wait().unwrap();

    let db = dir.path().join("waymark.db");
    assert_eq!(query(&db, "SELECT path FROM events"), vec![vec![json!("/before-the-crash")]]);
    assert_eq!(query(&db, "SELECT pageviews FROM sessions"), vec![vec![json!(1)]]);
}
