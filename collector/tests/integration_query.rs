//! `GET /api/query/…` over real HTTP on a seeded SQLite file; every number
//! is worked out by hand from the table in `seeded/mod.rs`.

mod seeded;

use serde_json::{Value, json};

fn totals(figures: &Value) -> (i64, i64, i64, i64, f64, f64) {
    let t = &figures["totals"];
    (
        t["visitors"].as_i64().unwrap(),
        t["sessions"].as_i64().unwrap(),
        t["pageviews"].as_i64().unwrap(),
        t["events"].as_i64().unwrap(),
        t["bounce_rate"].as_f64().unwrap(),
        t["avg_duration_ms"].as_f64().unwrap(),
    )
}

fn values(breakdown: &Value) -> Vec<(Value, i64, i64)> {
    breakdown["rows"].as_array().unwrap().iter().map(|r| (r["value"].clone(), r["visitors"].as_i64().unwrap(), r["count"].as_i64().unwrap())).collect()
}

#[tokio::test]
async fn a_day_is_counted_in_the_sites_time_zone_with_the_previous_day_beside_it() {
    let mut server = seeded::start().await;
    let (status, body) = server.get("/api/query/overview?site=shop&from=2024-01-15&to=2024-01-15").await;
    assert_eq!(status, 200, "{body}");
    // Local Jan 15 holds S2 (00:10), S3 and S4 (23:59): 3 visitors, 3
    // sessions, S2 bounced, durations 0 + 7 + 3 minutes. Pageviews by event
    // time: /blog, /, /docs, /pricing; events add the engagement, while S4's
    // signup fell on local Jan 16.
    assert_eq!(totals(&body["current"]), (3, 3, 4, 5, 1.0 / 3.0, 200_000.0));
    // Jan 14 local: S1 alone, 15 minutes, two pageviews and a signup.
    assert_eq!(totals(&body["previous"]), (1, 1, 2, 3, 0.0, 900_000.0));
    assert_eq!(body["interval"], "hour");

    let series = body["current"]["series"].as_array().unwrap();
    assert_eq!(series.len(), 24);
    let sessions_by_hour: Vec<(&str, i64)> = series
        .iter()
        .filter(|p| p["sessions"].as_i64() != Some(0))
        .map(|p| (p["label"].as_str().unwrap(), p["sessions"].as_i64().unwrap()))
        .collect();
    assert_eq!(sessions_by_hour, vec![("2024-01-15 00:00", 1), ("2024-01-15 10:00", 1), ("2024-01-15 23:00", 1)]);
    assert_eq!(series[0]["start_ms"], seeded::utc("2024-01-14T23:00:00Z"));
    server.stop().await;
}

#[tokio::test]
async fn a_visitor_on_two_days_counts_once_in_the_period_and_once_in_each_day() {
    let mut server = seeded::start().await;
    let (_, body) = server.get("/api/query/overview?site=shop&from=2024-01-14&to=2024-01-15").await;
    assert_eq!(totals(&body["current"]).0, 3);
    let (_, body) = server.get("/api/query/overview?site=shop&from=2024-01-14&to=2024-01-15&interval=day").await;
    let days: Vec<(String, i64, i64)> = body["current"]["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["label"].as_str().unwrap().to_owned(), p["visitors"].as_i64().unwrap(), p["sessions"].as_i64().unwrap()))
        .collect();
    assert_eq!(days, vec![("2024-01-14".into(), 1, 1), ("2024-01-15".into(), 3, 3)]);
    assert_eq!(body["previous"]["from"], "2024-01-12");
    server.stop().await;
}

#[tokio::test]
async fn the_unfiltered_counts_follow_events_removed_from_the_store() {
    let mut server = seeded::start().await;
    let day = "/api/query/overview?site=shop&from=2024-01-15&to=2024-01-15";
    // S3's /docs pageview (E6) and engagement (E7) go, as retention would remove them.
    let conn = rusqlite::Connection::open(&server.db).unwrap();
    conn.execute("DELETE FROM events WHERE site = 'shop' AND id IN ('E6', 'E7')", []).unwrap();
    let (_, body) = server.get(day).await;
    assert_eq!((totals(&body["current"]).2, totals(&body["current"]).3), (3, 3));
    // The filtered path counts the events themselves and agrees.
    let (_, body) = server.get(&format!("{day}&filter.page=/")).await;
    assert_eq!((totals(&body["current"]).2, totals(&body["current"]).3), (1, 1));
    server.stop().await;
}

#[tokio::test]
async fn filters_narrow_sessions_and_events_and_combine() {
    let mut server = seeded::start().await;
    let day = "site=shop&from=2024-01-15&to=2024-01-15";
    // Germany on Jan 15: S2 (bounced, /blog) and S4 (/pricing, 3 min).
    let (_, body) = server.get(&format!("/api/query/overview?{day}&filter.country=DE")).await;
    assert_eq!(totals(&body["current"]), (2, 2, 2, 2, 0.5, 90_000.0));
    // A page filter keeps the sessions with an event on it (S3), and the
    // events on it: the /docs pageview and the engagement sent from /docs.
    let (_, body) = server.get(&format!("/api/query/overview?{day}&filter.page=/docs")).await;
    assert_eq!(totals(&body["current"]), (1, 1, 1, 2, 0.0, 420_000.0));
    // Combined with a country it no session has: nothing.
    let (_, body) = server.get(&format!("/api/query/overview?{day}&filter.page=/docs&filter.country=DE")).await;
    assert_eq!(totals(&body["current"]), (0, 0, 0, 0, 0.0, 0.0));
    // A property filter: the session that signed up for `pro`, S1 on Jan 14.
    let (_, body) = server.get("/api/query/overview?site=shop&from=2024-01-14&to=2024-01-14&filter.prop:plan=pro").await;
    assert_eq!(totals(&body["current"]).1, 1);
    // A session dimension on events: Google's sessions S1 and S4 had 3 + 1
    // events on Jan 14–15 (S4's signup is on Jan 16).
    let (_, body) = server.get("/api/query/overview?site=shop&from=2024-01-14&to=2024-01-15&filter.source=Google").await;
    assert_eq!(totals(&body["current"]).3, 4);
    // `(none)` asks for a missing value: S2 came with no source.
    let (_, body) = server.get(&format!("/api/query/overview?{day}&filter.source=(none)")).await;
    assert_eq!(totals(&body["current"]).1, 1);
    server.stop().await;
}

#[tokio::test]
async fn breakdowns_count_sessions_pageviews_and_events_by_dimension() {
    let mut server = seeded::start().await;
    let days = "site=shop&from=2024-01-14&to=2024-01-16";
    let (_, pages) = server.get(&format!("/api/query/breakdown?{days}&dimension=page")).await;
    assert_eq!(pages["metric"], "pageviews");
    assert_eq!(
        values(&pages),
        vec![(json!("/"), 2, 2), (json!("/pricing"), 2, 2), (json!("/blog"), 1, 1), (json!("/docs"), 1, 1)]
    );
    let (_, sources) = server.get(&format!("/api/query/breakdown?{days}&dimension=source")).await;
    assert_eq!(sources["metric"], "sessions");
    assert_eq!(values(&sources), vec![(json!("Google"), 2, 2), (Value::Null, 1, 1), (json!("news.example"), 1, 1)]);
    assert_eq!(sources["rows"][1]["bounce_rate"], 1.0);
    let (_, entries) = server.get(&format!("/api/query/breakdown?{days}&dimension=entry_page&filter.device=mobile")).await;
    assert_eq!(values(&entries), vec![(json!("/"), 1, 1), (json!("/pricing"), 1, 1)]);
    let (_, exits) = server.get(&format!("/api/query/breakdown?{days}&dimension=exit_page")).await;
    assert_eq!(values(&exits)[0], (json!("/pricing"), 2, 2));
    let (_, events) = server.get(&format!("/api/query/breakdown?{days}&dimension=event")).await;
    assert_eq!(values(&events), vec![(json!("$pageview"), 3, 6), (json!("signup"), 2, 2), (json!("$engagement"), 1, 1)]);
    let (_, plans) = server.get(&format!("/api/query/breakdown?{days}&dimension=prop:plan")).await;
    assert_eq!(values(&plans), vec![(json!("free"), 1, 1), (json!("pro"), 1, 1)]);
    let (_, countries) = server.get(&format!("/api/query/breakdown?{days}&dimension=country&filter.browser=Chrome&limit=1")).await;
    assert_eq!(values(&countries), vec![(json!("DE"), 1, 1)]);
    server.stop().await;
}

#[tokio::test]
async fn realtime_counts_the_last_five_minutes_and_each_of_the_last_sixty() {
    let mut server = seeded::start().await;
    // Now is 09:07:30: V2's /docs (09:05) and engagement (09:07) are recent.
    let (status, body) = server.get("/api/query/realtime?site=shop").await;
    assert_eq!(status, 200);
    assert_eq!(body["active_visitors"], 1);
    let minutes = body["minutes"].as_array().unwrap();
    assert_eq!(minutes.len(), 60);
    assert_eq!(minutes[59]["start_ms"], seeded::utc("2024-01-15T09:07:00Z"));
    let busy: Vec<(i64, i64, i64)> = minutes
        .iter()
        .filter(|m| m["events"] != 0)
        .map(|m| (m["start_ms"].as_i64().unwrap(), m["events"].as_i64().unwrap(), m["sessions"].as_i64().unwrap()))
        .collect();
    let at = |s| seeded::utc(&format!("2024-01-15T09:{s}:00Z"));
    assert_eq!(busy, vec![(at("00"), 1, 1), (at("05"), 1, 1), (at("07"), 1, 1)]);
    server.stop().await;
}

#[tokio::test]
async fn sessions_are_listed_newest_first_a_page_at_a_time_and_one_opens_as_its_journey() {
    let mut server = seeded::start().await;
    let (_, page) = server.get("/api/query/sessions?site=shop&from=2024-01-15&to=2024-01-15&per_page=2").await;
    assert_eq!(page["total"], 3);
    let ids = |p: &Value| p["sessions"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(ids(&page), vec![server.session_id("S4"), server.session_id("S3")]);
    let (_, second) = server.get("/api/query/sessions?site=shop&from=2024-01-15&to=2024-01-15&per_page=2&page=1").await;
    assert_eq!(ids(&second), vec![server.session_id("S2")]);
    assert_eq!(second["sessions"][0]["bounce"], true);

    let (status, journey) = server.get(&format!("/api/query/sessions/{}?site=shop", server.session_id("S1"))).await;
    assert_eq!(status, 200);
    let steps: Vec<(&str, &str)> =
        journey["events"].as_array().unwrap().iter().map(|e| (e["name"].as_str().unwrap(), e["path"].as_str().unwrap())).collect();
    assert_eq!(steps, vec![("$pageview", "/"), ("$pageview", "/pricing"), ("signup", "/pricing")]);
    assert_eq!(journey["events"][2]["props"], json!({"plan": "pro"}));
    assert_eq!(journey["session"]["duration_ms"], 900_000);

    let (status, missing) = server.get("/api/query/sessions/nope?site=shop").await;
    assert_eq!((status, missing["error"].as_str()), (404, Some("session_not_found")));
    server.stop().await;
}

#[tokio::test]
async fn any_answer_exports_as_csv_with_the_same_numbers() {
    let mut server = seeded::start().await;
    let r = reqwest::Client::new()
        .get(format!("{}/api/query/breakdown?site=shop&from=2024-01-14&to=2024-01-16&dimension=source&format=csv", server.url))
        .bearer_auth(seeded::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains("waymark-breakdown-source.csv"));
    assert_eq!(r.text().await.unwrap(), "value,visitors,sessions,bounce_rate\nGoogle,2,2,0.0000\n,1,1,1.0000\nnews.example,1,1,0.0000\n");

    let r = reqwest::Client::new()
        .get(format!("{}/api/query/overview?site=shop&from=2024-01-15&to=2024-01-15&interval=day&format=csv", server.url))
        .bearer_auth(seeded::TOKEN)
        .send()
        .await
        .unwrap();
    let csv = r.text().await.unwrap();
    assert!(csv.starts_with("period,bucket,visitors,sessions,pageviews,events,bounces,bounce_rate,avg_duration_ms\n"), "{csv}");
    assert!(csv.contains("current,total,3,3,4,5,1,0.3333,200000\n"), "{csv}");
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_say_what_to_fix() {
    let mut server = seeded::start().await;
    let cases = [
        ("/api/query/overview?site=shop&from=2024-01-15", 400, "give both"),
        ("/api/query/overview?site=shop&from=2024-01-15&to=2024-01-01", 400, "before"),
        ("/api/query/breakdown?site=shop&dimension=colour", 400, "unknown dimension"),
        ("/api/query/overview?site=nope", 404, "unknown site"),
        ("/api/query/overview", 400, "`site` is required"),
        ("/api/query/overview?site=shop&format=xml", 400, "json or csv"),
    ];
    for (path, status, message) in cases {
        let (got, body) = server.get(path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(body["message"].as_str().unwrap().contains(message), "{path}: {body}");
    }
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_site_is_404_unknown_site_as_on_the_collect_routes() {
    let mut server = seeded::start().await;
    for path in ["/api/query/overview?site=nope", "/api/query/sessions/S1?site=nope"] {
        let (status, body) = server.get(path).await;
        assert_eq!((status, body["error"].as_str()), (404, Some("unknown_site")), "{path}: {body}");
        assert!(body["message"].as_str().unwrap().contains("\"nope\""), "{body}");
    }
    server.stop().await;
}

/// Found by fuzzing (`collector/fuzz`, target `query`): a page number near
/// `usize::MAX` overflowed the offset (a panic in debug builds, the first
/// page in release ones).
#[tokio::test]
async fn a_page_past_the_end_of_any_store_is_empty_for_sessions_and_the_consent_log() {
    let mut server = seeded::start().await;
    let far = "page=18446744073709551615&per_page=100&from=2024-01-15&to=2024-01-15";
    let (status, sessions) = server.get(&format!("/api/query/sessions?site=shop&{far}")).await;
    assert_eq!((status, sessions["total"].as_i64(), sessions["sessions"].as_array().map(Vec::len)), (200, Some(3), Some(0)), "{sessions}");
    let (status, consent) = server.get(&format!("/api/query/consent?site=shop&{far}")).await;
    assert_eq!((status, consent["records"].as_array().map(Vec::len)), (200, Some(0)), "{consent}");
    server.stop().await;
}
