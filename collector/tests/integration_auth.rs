//! Who may read: sign-in with the admin password (session cookie), API
//! tokens, refusals, cross-site protection; and the live stream, which is
//! behind the same door.

mod seeded;

use serde_json::json;

const QUERY_ROUTES: &[&str] = &[
    "/api/query/realtime?site=shop",
    "/api/query/overview?site=shop",
    "/api/query/breakdown?site=shop&dimension=page",
    "/api/query/sessions?site=shop",
    "/api/query/sessions/S1?site=shop",
    "/api/sites",
    "/api/live?site=shop",
];

/// A browser's client: a request without a user agent is counted as a bot.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")
        .build()
        .unwrap()
}

#[tokio::test]
async fn every_query_route_refuses_a_request_without_a_session_or_with_a_wrong_token() {
    let mut server = seeded::start().await;
    for route in QUERY_ROUTES {
        let anonymous = client().get(format!("{}{route}", server.url)).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "{route}");
        let body: serde_json::Value = anonymous.json().await.unwrap();
        assert_eq!(body["error"], "not_signed_in");
        let wrong = client().get(format!("{}{route}", server.url)).bearer_auth("not-the-token").send().await.unwrap();
        assert_eq!(wrong.status(), 401, "{route}");
        let forged = client().get(format!("{}{route}", server.url)).header("cookie", "waymark_session=forged").send().await.unwrap();
        assert_eq!(forged.status(), 401, "{route}");
    }
    server.stop().await;
}

#[tokio::test]
async fn signing_in_sets_a_strict_http_only_secure_cookie_that_opens_the_api_until_sign_out() {
    let mut server = seeded::start().await;
    let wrong = client().post(format!("{}/api/auth/sign-in", server.url)).json(&json!({"password": "guess"})).send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.headers().get("set-cookie").is_none());

    let signed_in = client()
        .post(format!("{}/api/auth/sign-in", server.url))
        .header("origin", &server.url)
        .json(&json!({"password": seeded::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200);
    let set_cookie = signed_in.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let sites = client().get(format!("{}/api/sites", server.url)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(sites.status(), 200);
    let sites: serde_json::Value = sites.json().await.unwrap();
    assert_eq!(sites[1], json!({"key": "shop", "name": "The shop", "time_zone": "Europe/Berlin", "retention_days": null}));

    let out = client().post(format!("{}/api/auth/sign-out", server.url)).header("cookie", &cookie).send().await.unwrap();
    assert!(out.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let after = client().get(format!("{}/api/auth/session", server.url)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(after.status(), 401);
    server.stop().await;
}

#[tokio::test]
async fn a_sign_in_posted_from_another_site_is_refused_even_with_the_right_password() {
    let mut server = seeded::start().await;
    for (header, value) in [("origin", "https://evil.example"), ("sec-fetch-site", "cross-site")] {
        let r = client()
            .post(format!("{}/api/auth/sign-in", server.url))
            .header(header, value)
            .json(&json!({"password": seeded::PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{header}");
        assert!(r.headers().get("set-cookie").is_none());
    }
    server.stop().await;
}

#[tokio::test]
async fn a_sign_in_without_a_json_password_is_told_what_to_send() {
    let mut server = seeded::start().await;
    let r = client().post(format!("{}/api/auth/sign-in", server.url)).body("password=guess").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "bad_request");
    assert!(body["message"].as_str().unwrap().contains("application/json"), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn the_live_stream_of_an_unknown_or_missing_site_is_refused_like_a_query() {
    let mut server = seeded::start().await;
    let (status, body) = server.get("/api/live?site=nope").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("unknown_site")));
    let (status, body) = server.get("/api/live").await;
    assert_eq!((status, body["error"].as_str()), (400, Some("bad_request")));
    assert!(body["message"].as_str().unwrap().contains("`site` is required"), "{body}");
    server.stop().await;
}

/// Reads the SSE stream until `needle` shows up.
async fn read_until(response: &mut reqwest::Response, needle: &str) -> String {
    let mut seen = String::new();
    while !seen.contains(needle) {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), response.chunk())
            .await
            .expect("the live stream went quiet")
            .unwrap()
            .expect("the live stream ended");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    seen
}

#[tokio::test]
async fn the_live_stream_pushes_each_stored_and_refused_event_of_its_site_only() {
    let mut server = seeded::start().await;
    let mut live = client().get(format!("{}/api/live?site=demo", server.url)).bearer_auth(seeded::TOKEN).send().await.unwrap();
    assert_eq!(live.status(), 200);
    assert_eq!(live.headers()["content-type"], "text/event-stream");

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let event = |id: &str, name: &str| json!({"id": id, "name": name, "ts": now, "session_id": "6f1c8b3e-8f1e-4c1a-9d7a-0a1b2c3d4e5f", "url": "https://demo.example/a"});
    let elsewhere = json!({"site": "shop", "sent_at": now, "events": [event("9b2f0e1a-3c4d-4e5f-8a9b-0c1d2e3f4a5b", "other-site")]});
    let posted = client().post(format!("{}/api/collect", server.url)).header("content-type", "text/plain").body(elsewhere.to_string()).send().await.unwrap();
    assert_eq!(posted.status(), 200);
    let batch = json!({"site": "demo", "sent_at": now, "events": [
        event("0f8fad5b-d9cb-469f-a165-70867728950e", "signup"),
        event("7c9e6679-7425-40de-944b-e07fc1f90ae7", ""),
    ]});
    let posted = client().post(format!("{}/api/collect", server.url)).header("content-type", "text/plain").body(batch.to_string()).send().await.unwrap();
    assert_eq!(posted.status(), 200);

    // Refusals are published at validation, stored events after the commit.
    let seen = read_until(&mut live, "event: stored").await;
    let stored = seen.split("\n\n").find(|m| m.contains("event: stored")).expect("a stored message");
    let data: serde_json::Value = serde_json::from_str(stored.lines().find_map(|l| l.strip_prefix("data: ")).unwrap()).unwrap();
    assert_eq!(data["event"]["name"], "signup");
    assert_eq!(data["event"]["id"], "0f8fad5b-d9cb-469f-a165-70867728950e");
    assert!(seen.contains("\"reason\":\"name_empty\""), "{seen}");
    assert!(!seen.contains("other-site"), "{seen}");
    // An open stream does not hold up shutdown.
    server.stop().await;
}
