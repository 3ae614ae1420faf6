//! `GET /api/query/retention` over real HTTP on the seeded people of
//! `analyses_seed/mod.rs`, Jan 29 – Feb 11, in Berlin. By month of first visit:
//!
//! | cohort | visitors | active in February |
//! | --- | --- | --- |
//! | January | maya-laptop (L1 Jan 30), ada-phone (A1 Jan 29) | ada-phone (A2) |
//! | February | maya-phone (P1), jon-desk (J1: Feb 1 00:30 in Berlin, Jan 31 in UTC) | - |

mod analyses_seed;

use serde_json::{Value, json};

const BASE: &str = "/api/query/retention?site=shop&from=2024-01-29&to=2024-02-11";

fn table(body: &Value) -> Vec<(String, i64, Vec<i64>)> {
    body["cohorts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let active = c["active"].as_array().unwrap().iter().map(|n| n.as_i64().unwrap()).collect();
            (c["start"].as_str().unwrap().to_owned(), c["size"].as_i64().unwrap(), active)
        })
        .collect()
}

#[tokio::test]
async fn monthly_cohorts_split_at_the_sites_midnight_and_form_a_triangle() {
    let mut server = analyses_seed::start().await;
    let (status, body) = server.get(&format!("{BASE}&by=month")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(table(&body), [("2024-01-01".into(), 2, vec![2, 1]), ("2024-02-01".into(), 2, vec![2])]);
    assert_eq!(body["cohorts"][0]["share"], json!([1.0, 0.5]));
    assert_eq!(body["curve"], json!([1.0, 0.5]));
    server.stop().await;
}

#[tokio::test]
async fn counting_people_a_second_device_keeps_its_owner_in_her_first_cohort() {
    let mut server = analyses_seed::start().await;
    let (_, body) = server.get(&format!("{BASE}&by=month&count=people")).await;
    // maya (laptop in January, phone in February) and ada return; jon starts in February.
    assert_eq!(table(&body), [("2024-01-01".into(), 2, vec![2, 2]), ("2024-02-01".into(), 1, vec![1])]);
    server.stop().await;
}

#[tokio::test]
async fn weekly_cohorts_start_on_monday() {
    let mut server = analyses_seed::start().await;
    let (_, body) = server.get(&format!("{BASE}&by=week")).await;
    // Everyone came first in the week of Jan 29; only jon came back the next week.
    assert_eq!(table(&body), [("2024-01-29".into(), 4, vec![4, 1]), ("2024-02-05".into(), 0, vec![0])]);
    server.stop().await;
}

#[tokio::test]
async fn cohorts_by_a_first_event_take_only_those_who_did_it() {
    let mut server = analyses_seed::start().await;
    let (_, visitors) = server.get(&format!("{BASE}&by=month&first_event=event:signup")).await;
    assert_eq!(table(&visitors), [("2024-01-01".into(), 1, vec![1, 0]), ("2024-02-01".into(), 0, vec![0])]);
    let (_, people) = server.get(&format!("{BASE}&by=month&first_event=event:signup&count=people")).await;
    assert_eq!(table(&people)[0], ("2024-01-01".into(), 1, vec![1, 1]));
    let (status, body) = server.get(&format!("{BASE}&by=year")).await;
    assert_eq!(status, 400);
    assert!(body.to_string().contains("day, week or month"), "{body}");
    server.stop().await;
}
