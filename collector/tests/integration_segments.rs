//! `/api/segments` and `segment=ID` on the reports, over real HTTP, on the
//! seeded people of `analyses_seed/mod.rs` (Jan 29 – Feb 11):
//!
//! | visitor | device, country | visits | did | identified |
//! | --- | --- | --- | --- | --- |
//! | maya-laptop | desktop, DE | L1 | /signup, `signup` | yes |
//! | maya-phone | mobile, DE | P1 | - | yes |
//! | jon-desk | desktop, FR | J1, J2 | /signup | no |
//! | ada-phone | mobile, US | A1, A2 | /signup | yes (on A2) |

mod analyses_seed;

use serde_json::{Value, json};

const PERIOD: &str = "site=shop&from=2024-01-29&to=2024-02-11";

async fn save(server: &analyses_seed::Running, segment: Value) -> String {
    let (status, body) = server.send(server.client().post(format!("{}/api/segments?site=shop", server.url)).json(&segment)).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

async fn visitors_and_sessions(server: &analyses_seed::Running, segment: &str) -> (i64, i64) {
    let (status, body) = server.get(&format!("/api/query/overview?{PERIOD}&segment={segment}")).await;
    assert_eq!(status, 200, "{body}");
    let t = &body["current"]["totals"];
    (t["visitors"].as_i64().unwrap(), t["sessions"].as_i64().unwrap())
}

#[tokio::test]
async fn a_segment_of_a_dimension_and_a_behaviour_narrows_every_report_to_its_visitors() {
    let mut server = analyses_seed::start().await;
    let id = save(
        &server,
        json!({"name": "Desktop sign-ups", "conditions": [
            {"kind": "dimension", "dimension": "device", "value": "desktop"},
            {"kind": "did", "condition": {"kind": "page", "pattern": "/signup"}},
        ]}),
    )
    .await;
    // maya's laptop (L1) and jon's desk (J1 and J2, J2 though it saw no /signup).
    assert_eq!(visitors_and_sessions(&server, &id).await, (2, 3));
    let (_, overview) = server.get(&format!("/api/query/overview?{PERIOD}&segment={id}")).await;
    assert_eq!(overview["current"]["people"], 2);
    let (_, sessions) = server.get(&format!("/api/query/sessions?{PERIOD}&segment={id}")).await;
    assert_eq!(sessions["total"], 3);
    let (_, sources) = server.get(&format!("/api/query/breakdown?{PERIOD}&dimension=country&segment={id}")).await;
    let countries: Vec<(&str, i64)> = sources["rows"].as_array().unwrap().iter().map(|r| (r["value"].as_str().unwrap(), r["visitors"].as_i64().unwrap())).collect();
    // By sessions: jon's two from France, then maya's laptop's one.
    assert_eq!(countries, [("FR", 1), ("DE", 1)]);
    let funnel = format!("/api/query/funnel?site=shop&from=2024-01-29&to=2024-02-04&step=page:/&step=page:/pricing&step=page:/signup&segment={id}");
    let (_, funnel) = server.get(&funnel).await;
    let reached: Vec<i64> = funnel["total"]["steps"].as_array().unwrap().iter().map(|s| s["reached"].as_i64().unwrap()).collect();
    assert_eq!(reached, [2, 2, 2]);
    // The report's own filters still hold on top: jon alone is French.
    let (_, french) = server.get(&format!("/api/query/overview?{PERIOD}&segment={id}&filter.country=FR")).await;
    assert_eq!(french["current"]["totals"]["sessions"], 2);
    // As CSV, the same numbers.
    let csv = server.client().get(format!("{}/api/query/sessions?{PERIOD}&segment={id}&format=csv", server.url)).bearer_auth(analyses_seed::TOKEN);
    let text = csv.send().await.unwrap().text().await.unwrap();
    assert_eq!(text.lines().count(), 1 + 3, "{text}");
    server.stop().await;
}

#[tokio::test]
async fn any_of_the_conditions_and_the_identity_and_session_count_conditions() {
    let mut server = analyses_seed::start().await;
    let any = save(
        &server,
        json!({"name": "US or signed up", "match": "any", "conditions": [
            {"kind": "dimension", "dimension": "country", "value": "US"},
            {"kind": "did", "condition": {"kind": "event", "name": "signup", "property": "plan", "value": "pro"}},
        ]}),
    )
    .await;
    // ada (A1, A2) and maya's laptop (L1).
    assert_eq!(visitors_and_sessions(&server, &any).await, (2, 3));
    let returning = save(&server, json!({"name": "Returning", "conditions": [{"kind": "sessions", "at_least": 2}]})).await;
    assert_eq!(visitors_and_sessions(&server, &returning).await, (2, 4));
    let anonymous = save(&server, json!({"name": "Anonymous", "conditions": [{"kind": "identified", "identified": false}]})).await;
    assert_eq!(visitors_and_sessions(&server, &anonymous).await, (1, 2));
    let known_phones = save(
        &server,
        json!({"name": "Known phones", "conditions": [
            {"kind": "identified", "identified": true},
            {"kind": "dimension", "dimension": "device", "value": "mobile"},
        ]}),
    )
    .await;
    assert_eq!(visitors_and_sessions(&server, &known_phones).await, (2, 3));
    server.stop().await;
}

#[tokio::test]
async fn segments_are_listed_replaced_and_removed_and_an_unknown_one_is_not_found() {
    let mut server = analyses_seed::start().await;
    let id = save(&server, json!({"name": "French", "conditions": [{"kind": "dimension", "dimension": "country", "value": "FR"}]})).await;
    let (_, list) = server.get("/api/segments?site=shop").await;
    assert_eq!((list[0]["id"].as_str(), list[0]["name"].as_str(), list[0]["match"].as_str()), (Some(id.as_str()), Some("French"), Some("all")));
    let url = format!("{}/api/segments/{id}?site=shop", server.url);
    let german = json!({"name": "German", "conditions": [{"kind": "dimension", "dimension": "country", "value": "DE"}]});
    let (status, _) = server.send(server.client().put(&url).json(&german)).await;
    assert_eq!(status, 200);
    assert_eq!(visitors_and_sessions(&server, &id).await, (2, 2));
    let (status, _) = server.send(server.client().delete(&url)).await;
    assert_eq!(status, 204);
    let (status, body) = server.get(&format!("/api/query/overview?{PERIOD}&segment={id}")).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("segment_not_found")), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn a_segment_with_an_unknown_dimension_or_no_conditions_is_refused_with_the_reason() {
    let mut server = analyses_seed::start().await;
    let post = |segment: Value| server.send(server.client().post(format!("{}/api/segments?site=shop", server.url)).json(&segment));
    let (status, body) = post(json!({"name": "x", "conditions": [{"kind": "dimension", "dimension": "colour", "value": "red"}]})).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("\"colour\""), "{body}");
    let (status, body) = post(json!({"name": "x", "conditions": []})).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("1 to"), "{body}");
    server.stop().await;
}
