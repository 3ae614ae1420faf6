//! `/api/goals` and the goals in `GET /api/query/overview` and
//! `/api/query/breakdown` over real HTTP, on the seeded people of
//! `analyses_seed/mod.rs` (Jan 29 – Feb 11: four visitors; all four saw
//! `/pricing`; maya's laptop alone sent `signup`).

mod analyses_seed;

use serde_json::{Value, json};

const PERIOD: &str = "site=shop&from=2024-01-29&to=2024-02-11";

async fn add(server: &analyses_seed::Running, goal: Value) -> (u16, Value) {
    server.send(server.client().post(format!("{}/api/goals?site=shop", server.url)).json(&goal)).await
}

/// (name, conversions, events, rate)
type Figures = Vec<(String, i64, i64, f64)>;

fn figures(goals: &Value) -> Figures {
    goals
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["name"].as_str().unwrap().to_owned(), g["conversions"].as_i64().unwrap(), g["events"].as_i64().unwrap(), g["rate"].as_f64().unwrap()))
        .collect()
}

#[tokio::test]
async fn goals_count_converted_visitors_and_their_rate_in_the_overview_and_per_breakdown_row() {
    let mut server = analyses_seed::start().await;
    let (status, body) = add(&server, json!({"name": "Signed up", "condition": {"kind": "event", "name": "signup"}})).await;
    assert_eq!(status, 201, "{body}");
    add(&server, json!({"name": "Saw pricing", "condition": {"kind": "page", "pattern": "/pricing"}})).await;

    let (_, overview) = server.get(&format!("/api/query/overview?{PERIOD}")).await;
    assert_eq!(figures(&overview["current"]["goals"]), [("Saw pricing".into(), 4, 4, 1.0), ("Signed up".into(), 1, 1, 0.25)]);

    let (_, devices) = server.get(&format!("/api/query/breakdown?{PERIOD}&dimension=device")).await;
    let rows: Vec<(String, Figures)> =
        devices["rows"].as_array().unwrap().iter().map(|r| (r["value"].as_str().unwrap().to_owned(), figures(&r["goals"]))).collect();
    assert_eq!(
        rows,
        [
            ("desktop".into(), vec![("Saw pricing".into(), 2, 2, 1.0), ("Signed up".into(), 1, 1, 0.5)]),
            ("mobile".into(), vec![("Saw pricing".into(), 2, 2, 1.0), ("Signed up".into(), 0, 0, 0.0)]),
        ]
    );
    // A breakdown by page (each event's own value) carries none.
    let (_, pages) = server.get(&format!("/api/query/breakdown?{PERIOD}&dimension=page")).await;
    assert!(pages["rows"][0].get("goals").is_none(), "{pages}");
    server.stop().await;
}

#[tokio::test]
async fn goals_are_listed_replaced_and_removed() {
    let mut server = analyses_seed::start().await;
    let (_, created) = add(&server, json!({"name": "Pro", "condition": {"kind": "event", "name": "signup", "property": "plan", "value": "pro"}})).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, list) = server.get("/api/goals?site=shop").await;
    assert_eq!(list, json!([created]));

    let url = format!("{}/api/goals/{id}?site=shop", server.url);
    let (status, replaced) = server.send(server.client().put(&url).json(&json!({"name": "Docs", "condition": {"kind": "page", "pattern": "/docs*"}}))).await;
    assert_eq!((status, replaced["name"].as_str()), (200, Some("Docs")));
    let (_, overview) = server.get(&format!("/api/query/overview?{PERIOD}")).await;
    assert_eq!(figures(&overview["current"]["goals"]), [("Docs".into(), 1, 1, 0.25)]);

    let (status, _) = server.send(server.client().delete(&url)).await;
    assert_eq!(status, 204);
    let (status, body) = server.send(server.client().delete(&url)).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("unknown_definition")), "{body}");
    let (_, overview) = server.get(&format!("/api/query/overview?{PERIOD}")).await;
    assert!(overview["current"].get("goals").is_none());
    server.stop().await;
}

#[tokio::test]
async fn a_goal_without_a_name_or_with_an_unknown_kind_is_refused_with_the_shape_to_send() {
    let mut server = analyses_seed::start().await;
    let (status, body) = add(&server, json!({"name": " ", "condition": {"kind": "page", "pattern": "/"}})).await;
    assert_eq!(status, 400);
    assert!(body.to_string().contains("`name`"), "{body}");
    let (status, body) = add(&server, json!({"name": "x", "condition": {"kind": "click"}})).await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains(r#""pattern""#), "{body}");
    server.stop().await;
}
