//! `GET /api/query/people`, `/api/query/people/journey` and the overview's
//! `people` over real HTTP: the seeded people of `analyses_seed/mod.rs`,
//! and an identify sent mid-visit by a browser.

mod analyses_seed;
mod support;

use serde_json::{Value, json};

const PERIOD: &str = "site=shop&from=2024-01-29&to=2024-02-11";

fn strings(v: &Value) -> Vec<&str> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_person_on_two_devices_is_one_person_with_both_devices_and_the_others_are_listed_beside() {
    let mut server = analyses_seed::start().await;
    let (status, body) = server.get(&format!("/api/query/people?{PERIOD}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"], 3);
    let people = body["people"].as_array().unwrap();
    // Latest seen first: jon (Feb 5), ada (Feb 3), maya (Feb 2).
    let keys: Vec<&str> = people.iter().map(|p| p["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["visitor:jon-desk", "user:ada", "user:maya"]);
    let maya = &people[2];
    assert_eq!(maya["user_id"], "maya");
    assert_eq!(strings(&maya["visitors"]), ["maya-laptop", "maya-phone"]);
    assert_eq!(strings(&maya["devices"]), ["desktop", "mobile"]);
    assert_eq!(strings(&maya["countries"]), ["DE"]);
    assert_eq!(maya["sessions"], 2);
    assert_eq!(maya["first_seen_ms"], analyses_seed::utc("2024-01-30T10:00:00Z"));
    assert_eq!(maya["last_seen_ms"], analyses_seed::utc("2024-02-02T08:03:00Z"));
    // Ada's visit before she identified is hers too.
    assert_eq!((people[1]["sessions"].as_i64(), people[1]["first_seen_ms"].as_i64()), (Some(2), Some(analyses_seed::utc("2024-01-29T09:00:00Z"))));
    assert_eq!(people[0]["user_id"], Value::Null);
    server.stop().await;
}

#[tokio::test]
async fn people_are_searched_by_user_id_in_any_case() {
    let mut server = analyses_seed::start().await;
    let (_, body) = server.get(&format!("/api/query/people?{PERIOD}&search=MA")).await;
    let keys: Vec<&str> = body["people"].as_array().unwrap().iter().map(|p| p["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["user:maya"]);
    let (_, body) = server.get(&format!("/api/query/people?{PERIOD}&search=nobody")).await;
    assert_eq!(body["total"], 0);
    server.stop().await;
}

#[tokio::test]
async fn a_persons_journey_joins_their_devices_visits_in_time_order() {
    let mut server = analyses_seed::start().await;
    let (status, body) = server.get("/api/query/people/journey?site=shop&user=maya").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(strings(&body["visitors"]), ["maya-laptop", "maya-phone"]);
    let visits = body["visits"].as_array().unwrap();
    let shape: Vec<(&str, &str, usize)> = visits
        .iter()
        .map(|v| (v["visitor_id"].as_str().unwrap(), v["device"].as_str().unwrap(), v["events"].as_array().unwrap().len()))
        .collect();
    assert_eq!(shape, [("maya-laptop", "desktop", 5), ("maya-phone", "mobile", 3)]);
    // The laptop's anonymous pageviews before the identify are in the same visit.
    let first: Vec<(&str, Value)> = visits[0]["events"].as_array().unwrap().iter().map(|e| (e["path"].as_str().unwrap(), e["user_id"].clone())).collect();
    assert_eq!(first[..3], [("/", Value::Null), ("/pricing", Value::Null), ("/pricing", json!("maya"))]);
    // Asked by one of her visitors, it is the same journey.
    let (_, by_phone) = server.get("/api/query/people/journey?site=shop&visitor=maya-phone").await;
    assert_eq!(by_phone, body);
    // An unidentified visitor's journey is their own.
    let (_, jon) = server.get("/api/query/people/journey?site=shop&visitor=jon-desk").await;
    assert_eq!((jon["user_id"].clone(), jon["visits"].as_array().unwrap().len()), (Value::Null, 2));
    server.stop().await;
}

#[tokio::test]
async fn a_journey_must_name_one_person() {
    let mut server = analyses_seed::start().await;
    let (status, body) = server.get("/api/query/people/journey?site=shop").await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("`user`"), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn the_overview_counts_people_beside_visitors() {
    let mut server = analyses_seed::start().await;
    let (_, body) = server.get(&format!("/api/query/overview?{PERIOD}")).await;
    assert_eq!(body["current"]["totals"]["visitors"], 4);
    assert_eq!(body["current"]["people"], 3);
    // Filters hold: on phones, maya's phone and ada's are two people.
    let (_, body) = server.get(&format!("/api/query/overview?{PERIOD}&filter.device=mobile")).await;
    assert_eq!((body["current"]["totals"]["visitors"].as_i64(), body["current"]["people"].as_i64()), (Some(2), Some(2)));
    server.stop().await;
}

#[tokio::test]
async fn identify_in_the_middle_of_a_visit_keeps_one_visit_and_one_visitor() {
    let mut config = support::config();
    config.dashboard.api_tokens = vec![analyses_seed::TOKEN.into()];
    let clock = waymark_collector::clock::ManualClock::at(support::MIDNIGHT + 60 * support::MIN);
    let mut server = support::start_with(config, std::sync::Arc::new(clock)).await;
    let at = support::MIDNIGHT + 30 * support::MIN;
    let mut identify = support::pageview(2, at + support::MIN, "/pricing");
    identify["name"] = json!("$identify");
    identify["user_id"] = json!("u-42");
    let mut after = support::pageview(3, at + 2 * support::MIN, "/thanks");
    after["user_id"] = json!("u-42");
    let answer = support::post_from_shop_page(&server, &support::batch("shop", at + 3 * support::MIN, vec![support::pageview(1, at, "/pricing"), identify, after])).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let get = |path: String| reqwest::Client::new().get(format!("{}{path}", server.url)).bearer_auth(analyses_seed::TOKEN);
    let day = "site=shop&from=2025-11-25&to=2025-11-25";
    let sessions: Value = get(format!("/api/query/sessions?{day}")).send().await.unwrap().json().await.unwrap();
    assert_eq!(sessions["total"], 1, "{sessions}");
    let journey: Value = get("/api/query/people/journey?site=shop&user=u-42".into()).send().await.unwrap().json().await.unwrap();
    let visits = journey["visits"].as_array().unwrap();
    assert_eq!(visits.len(), 1, "{journey}");
    assert_eq!(visits[0]["events"].as_array().unwrap().len(), 3, "the pageview before the identify is in the visit");
    assert_eq!(strings(&journey["visitors"]), [support::visitor(1)]);
    server.shutdown().await;
}
