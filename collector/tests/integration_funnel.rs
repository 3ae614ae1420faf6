//! `GET /api/query/funnel` over real HTTP on the seeded people of
//! `analyses_seed/mod.rs`: the three steps `/` → `/pricing` → `/signup`,
//! Jan 29 – Feb 4 (Berlin), every number worked out by hand:
//!
//! | visitor | within a session | strict order breaks at | within 7 days |
//! | --- | --- | --- | --- |
//! | maya-laptop (L1) | 3 steps (/ 10:00, /pricing 10:02, /signup 10:05) | nothing (the identify is no page) | 3 |
//! | maya-phone (P1) | 2 (/ 08:00, /pricing 08:03) | - | 2 |
//! | jon-desk (J1) | 3 (/ 23:30, /pricing 23:35, /signup 23:45) | /docs between /pricing and /signup: 2 | 3 loose, 2 strict |
//! | ada-phone (A1, A2) | 2 (/ , /pricing 5 min later) | - | 3: /signup in A2 five days on, the next page she saw |
//!
//! J2's `/` on Feb 5 is after the period: no funnel starts there.

mod analyses_seed;

use serde_json::Value;

const FUNNEL: &str = "/api/query/funnel?site=shop&from=2024-01-29&to=2024-02-04&step=page:/&step=page:/pricing&step=page:/signup";

fn reached(steps: &Value) -> Vec<i64> {
    steps["steps"].as_array().unwrap().iter().map(|s| s["reached"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn a_three_step_funnel_within_a_session_counts_each_visitor_by_their_furthest_step() {
    let mut server = analyses_seed::start().await;
    let (status, body) = server.get(FUNNEL).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(reached(&body["total"]), [4, 4, 2]);
    let steps = body["total"]["steps"].as_array().unwrap();
    assert_eq!((steps[2]["from_previous"].as_f64(), steps[2]["from_first"].as_f64(), steps[2]["dropped"].as_i64()), (Some(0.5), Some(0.5), Some(2)));
    // To /pricing: 2, 3, 5 and 5 minutes; the median of four is the lower middle.
    assert_eq!(steps[1]["median_ms"], 180_000);
    // To /signup: maya 3 minutes, jon 10.
    assert_eq!(steps[2]["median_ms"], 180_000);
    assert_eq!(steps[0]["median_ms"], Value::Null);
    server.stop().await;
}

#[tokio::test]
async fn strict_order_ends_an_attempt_at_another_page_between_steps() {
    let mut server = analyses_seed::start().await;
    let (_, body) = server.get(&format!("{FUNNEL}&order=strict")).await;
    assert_eq!(reached(&body["total"]), [4, 4, 1]);
    assert_eq!(body["order"], "strict");
    server.stop().await;
}

#[tokio::test]
async fn within_seven_days_later_steps_may_come_in_later_visits() {
    let mut server = analyses_seed::start().await;
    let (_, loose) = server.get(&format!("{FUNNEL}&within=7")).await;
    assert_eq!(reached(&loose["total"]), [4, 4, 3]);
    let (_, strict) = server.get(&format!("{FUNNEL}&within=7&order=strict")).await;
    assert_eq!(reached(&strict["total"]), [4, 4, 2]);
    // Counting people, maya's phone joins her laptop: three people, all through.
    let (_, people) = server.get(&format!("{FUNNEL}&within=7&count=people")).await;
    assert_eq!(reached(&people["total"]), [3, 3, 3]);
    let (_, people_in_a_session) = server.get(&format!("{FUNNEL}&count=people")).await;
    assert_eq!(reached(&people_in_a_session["total"]), [3, 3, 2]);
    server.stop().await;
}

#[tokio::test]
async fn a_funnel_breaks_down_by_the_first_steps_visit() {
    let mut server = analyses_seed::start().await;
    let (_, body) = server.get(&format!("{FUNNEL}&breakdown=device")).await;
    let rows: Vec<(Value, Vec<i64>)> = body["breakdown"].as_array().unwrap().iter().map(|g| (g["value"].clone(), reached(g))).collect();
    assert_eq!(rows, [(Value::from("desktop"), vec![2, 2, 2]), (Value::from("mobile"), vec![2, 2, 0])]);
    server.stop().await;
}

#[tokio::test]
async fn a_funnel_with_one_step_or_an_unreadable_one_is_refused_with_the_reason() {
    let mut server = analyses_seed::start().await;
    let (status, body) = server.get("/api/query/funnel?site=shop&step=page:/").await;
    assert_eq!(status, 400);
    assert!(body.to_string().contains("2 to"), "{body}");
    let (status, body) = server.get("/api/query/funnel?site=shop&step=page:/&step=signup").await;
    assert_eq!(status, 400);
    assert!(body.to_string().contains("event:name"), "{body}");
    let (status, body) = server.get(&format!("{FUNNEL}&within=forever")).await;
    assert_eq!(status, 400);
    assert!(body.to_string().contains("`within`"), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn an_event_step_can_ask_for_a_property_value() {
    let mut server = analyses_seed::start().await;
    let base = "/api/query/funnel?site=shop&from=2024-01-29&to=2024-02-04&step=page:/pricing";
    let (_, pro) = server.get(&format!("{base}&step=event:signup:plan=pro")).await;
    assert_eq!(reached(&pro["total"]), [4, 1]);
    let (_, free) = server.get(&format!("{base}&step=event:signup:plan=free")).await;
    assert_eq!(reached(&free["total"]), [4, 0]);
    server.stop().await;
}
