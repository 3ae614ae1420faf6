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

// Several users, roles and sites; sign-in limits; sessions that outlive a
// restart. On the support collector (sites `demo` and `shop`).

mod support;

use std::sync::Arc;

use support::{Answer, send};
use waymark_collector::access::{Role, Sites};
use waymark_collector::clock::{ManualClock, SystemClock};
use waymark_collector::config::{Config, TokenConfig, UserConfig};

const ADMIN_PASSWORD: &str = "the admin's password";
const VIEWER_PASSWORD: &str = "ana's own password";
const SHOP_TOKEN: &str = "token-for-the-shop-only";

/// The support config with the admin, a viewer `ana` given `shop`, and a
/// viewer token for `shop`.
fn people() -> Config {
    let mut config = support::config();
    config.dashboard.admin_password = Some(ADMIN_PASSWORD.into());
    config.dashboard.users.push(UserConfig {
        name: "ana".into(),
        password: VIEWER_PASSWORD.into(),
        role: Role::Viewer,
        sites: Sites::Only(vec!["shop".into()]),
    });
    config.dashboard.tokens.push(TokenConfig {
        name: Some("shop script".into()),
        token: SHOP_TOKEN.into(),
        role: Role::Viewer,
        sites: Sites::Only(vec!["shop".into()]),
    });
    config
}

async fn sign_in_as(url: &str, name: Option<&str>, password: &str) -> (Answer, Option<String>) {
    sign_in_from(url, name, password, None).await
}

async fn sign_in_from(url: &str, name: Option<&str>, password: &str, address: Option<&str>) -> (Answer, Option<String>) {
    let body = match name {
        Some(name) => json!({"name": name, "password": password}),
        None => json!({"password": password}),
    };
    let mut request = client().post(format!("{url}/api/auth/sign-in")).header("origin", url).json(&body);
    if let Some(address) = address {
        request = request.header("x-forwarded-for", address);
    }
    let response = request.send().await.unwrap();
    let cookie = response.headers().get("set-cookie").map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned());
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    (Answer { status, retry_after, body }, cookie)
}

fn with_cookie(request: reqwest::RequestBuilder, url: &str, cookie: &str) -> reqwest::RequestBuilder {
    request.header("cookie", cookie).header("origin", url)
}

async fn get_as(url: &str, path: &str, cookie: &str) -> Answer {
    send(with_cookie(client().get(format!("{url}{path}")), url, cookie)).await
}

#[tokio::test]
async fn the_eleventh_wrong_password_within_a_minute_is_429_with_retry_after_and_after_that_wait_the_right_one_works() {
    let clock = ManualClock::at(support::MIDNIGHT);
    let mut server = support::start_with(people(), Arc::new(clock.clone())).await;
    for attempt in 1..=10 {
        let (answer, cookie) = sign_in_as(&server.url, None, "a wrong guess").await;
        assert_eq!((answer.status, answer.body["error"].as_str()), (401, Some("wrong_password")), "attempt {attempt}");
        assert!(cookie.is_none());
    }
    let (eleventh, _) = sign_in_as(&server.url, None, "another wrong guess").await;
    assert_eq!((eleventh.status, eleventh.body["error"].as_str()), (429, Some("sign_in_limited")));
    assert_eq!(eleventh.retry_after.as_deref(), Some("6"));
    assert_eq!(eleventh.body["message"], "too many sign-in attempts from this address; retry after 6 s");
    let (right_too_soon, cookie) = sign_in_as(&server.url, None, ADMIN_PASSWORD).await;
    assert_eq!(right_too_soon.status, 429, "while limited, the right password does not say it is right");
    assert!(cookie.is_none());

    clock.advance(6_000);
    let (right, cookie) = sign_in_as(&server.url, None, ADMIN_PASSWORD).await;
    assert_eq!(right.status, 200, "{:?}", right.body);
    assert_eq!(right.body["role"], "admin");
    assert!(cookie.is_some());
    server.shutdown().await;
}

#[tokio::test]
async fn a_guesser_spread_over_many_addresses_still_meets_the_accounts_limit() {
    let clock = ManualClock::at(support::MIDNIGHT);
    let mut config = people();
    config.client_ip_header = Some("x-forwarded-for".into());
    let mut server = support::start_with(config, Arc::new(clock.clone())).await;
    for i in 1..=10 {
        let (answer, _) = sign_in_from(&server.url, Some("ana"), "a guess", Some(&format!("203.0.113.{i}"))).await;
        assert_eq!(answer.status, 401, "address {i}");
    }
    let (limited, _) = sign_in_from(&server.url, Some("ana"), VIEWER_PASSWORD, Some("198.51.100.7")).await;
    assert_eq!((limited.status, limited.retry_after.as_deref()), (429, Some("6")));
    assert_eq!(limited.body["message"], "too many sign-in attempts for this account; retry after 6 s");
    let (other_account, _) = sign_in_from(&server.url, None, ADMIN_PASSWORD, Some("198.51.100.7")).await;
    assert_eq!(other_account.status, 200, "other accounts are not held up");
    server.shutdown().await;
}

#[tokio::test]
async fn an_unknown_name_and_a_wrong_password_get_the_same_answer() {
    let mut server = support::start_with(people(), Arc::new(SystemClock)).await;
    let (unknown, _) = sign_in_as(&server.url, Some("nobody"), VIEWER_PASSWORD).await;
    let (wrong, _) = sign_in_as(&server.url, Some("ana"), "not it at all").await;
    assert_eq!((unknown.status, &unknown.body), (wrong.status, &wrong.body));
    assert_eq!(unknown.body["message"], "the name or password is not right");
    server.shutdown().await;
}

#[tokio::test]
async fn a_viewer_sees_only_the_sites_given_to_them_and_cannot_do_what_only_an_admin_may() {
    let mut server = support::start_with(people(), Arc::new(SystemClock)).await;
    let url = server.url.clone();
    let (signed_in, cookie) = sign_in_as(&url, Some("ana"), VIEWER_PASSWORD).await;
    assert_eq!((signed_in.status, signed_in.body["role"].as_str()), (200, Some("viewer")));
    let cookie = cookie.unwrap();

    let session = get_as(&url, "/api/auth/session", &cookie).await;
    assert_eq!(session.body, json!({"signed_in": true, "name": "ana", "role": "viewer", "sites": ["shop"]}));
    let sites = get_as(&url, "/api/sites", &cookie).await;
    assert_eq!(sites.body.as_array().unwrap().iter().map(|s| s["key"].as_str().unwrap()).collect::<Vec<_>>(), ["shop"]);

    for route in QUERY_ROUTES.iter().filter(|r| r.contains("site=")) {
        // Only the status: the live stream's body does not end.
        let own = with_cookie(client().get(format!("{url}{route}")), &url, &cookie).send().await.unwrap().status();
        assert!(own == 200 || own == 404, "{route}: {own}");
        let other = route.replace("site=shop", "site=demo");
        let refused = get_as(&url, &other, &cookie).await;
        assert_eq!((refused.status, refused.body["error"].as_str()), (403, Some("forbidden")), "{other}");
        assert_eq!(refused.body["message"], "site \"demo\" is not one of the sites given to \"ana\"; an admin can add it");
    }
    let export = get_as(&url, "/api/query/breakdown?site=demo&dimension=page&format=csv", &cookie).await;
    assert_eq!((export.status, export.body["error"].as_str()), (403, Some("forbidden")), "no export of another site");

    let users = get_as(&url, "/api/users", &cookie).await;
    assert_eq!((users.status, users.body["error"].as_str()), (403, Some("forbidden")));
    assert_eq!(users.body["message"], "only an admin may manage users; \"ana\" is a viewer");
    let add = with_cookie(client().post(format!("{url}/api/users")), &url, &cookie)
        .json(&json!({"name": "mallory", "password": "long enough password", "role": "admin"}));
    assert_eq!(send(add).await.status, 403);
    let remove = with_cookie(client().delete(format!("{url}/api/users/admin")), &url, &cookie);
    assert_eq!(send(remove).await.status, 403);

    // Erasure is an admin's, even on the viewer's own site; export and the
    // site's audit log are for whoever may see the site.
    let erase = with_cookie(client().post(format!("{url}/api/lifecycle/erase")), &url, &cookie).json(&json!({"site": "shop", "visitor": "v"}));
    let refused = send(erase).await;
    assert_eq!((refused.status, refused.body["error"].as_str()), (403, Some("forbidden")));
    assert_eq!(refused.body["message"], "only an admin may erase a person's data; \"ana\" is a viewer");
    assert_eq!(get_as(&url, "/api/lifecycle/export?site=shop&visitor=v", &cookie).await.status, 200);
    assert_eq!(get_as(&url, "/api/lifecycle/export?site=demo&visitor=v", &cookie).await.status, 403);
    assert_eq!(get_as(&url, "/api/lifecycle/audit?site=shop", &cookie).await.status, 200);
    assert_eq!(get_as(&url, "/api/lifecycle/audit", &cookie).await.status, 403, "every site's log is an admin's");
    server.shutdown().await;
}

#[tokio::test]
async fn an_admins_erasure_is_recorded_under_their_name_and_not_the_persons_id() {
    let mut server = support::start_with(people(), Arc::new(SystemClock)).await;
    let url = server.url.clone();
    let (_, cookie) = sign_in_as(&url, Some("admin"), ADMIN_PASSWORD).await;
    let cookie = cookie.unwrap();
    let erase = with_cookie(client().post(format!("{url}/api/lifecycle/erase")), &url, &cookie)
        .json(&json!({"site": "shop", "visitor": "visitor-to-forget"}));
    assert_eq!(send(erase).await.status, 200);
    let audit = get_as(&url, "/api/lifecycle/audit?site=shop", &cookie).await;
    assert_eq!(audit.body[0]["requested_by"], "admin", "{:?}", audit.body);
    assert!(!audit.body.to_string().contains("visitor-to-forget"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_scoped_api_token_reads_its_sites_only_and_the_old_tokens_read_all() {
    let mut config = people();
    config.dashboard.api_tokens = vec![seeded::TOKEN.into()];
    let mut server = support::start_with(config, Arc::new(SystemClock)).await;
    let get = |path: &str, token: &str| send(client().get(format!("{}{path}", server.url)).bearer_auth(token));
    assert_eq!(get("/api/query/overview?site=shop", SHOP_TOKEN).await.status, 200);
    let refused = get("/api/query/overview?site=demo&format=csv", SHOP_TOKEN).await;
    assert_eq!((refused.status, refused.body["error"].as_str()), (403, Some("forbidden")));
    assert!(refused.body["message"].as_str().unwrap().contains("\"shop script\""), "{:?}", refused.body);
    assert_eq!(get("/api/live?site=demo", SHOP_TOKEN).await.status, 403);
    assert_eq!(get("/api/users", SHOP_TOKEN).await.status, 403);
    assert_eq!(get("/api/query/overview?site=demo", seeded::TOKEN).await.status, 200);
    assert_eq!(get("/api/users", seeded::TOKEN).await.status, 200, "`api_tokens` are admins, as before");
    server.shutdown().await;
}

#[tokio::test]
async fn an_admin_adds_a_viewer_who_signs_in_to_their_sites_and_is_signed_out_when_removed() {
    let mut server = support::start_with(people(), Arc::new(SystemClock)).await;
    let url = server.url.clone();
    let (_, admin) = sign_in_as(&url, None, ADMIN_PASSWORD).await;
    let admin = admin.expect("the admin signs in with the password alone");
    let add = |body: serde_json::Value, origin: &str| {
        client().post(format!("{url}/api/users")).header("cookie", &admin).header("origin", origin).json(&body)
    };
    let vee = json!({"name": "vee", "password": "vee's password", "role": "viewer", "sites": ["demo"]});
    assert_eq!(send(add(vee.clone(), "https://evil.example")).await.body["error"], "cross_site");
    let added = send(add(vee.clone(), &url)).await;
    assert_eq!(added.status, 201, "{:?}", added.body);
    assert_eq!(added.body, json!({"name": "vee", "role": "viewer", "sites": ["demo"], "source": "database"}));
    let again = send(add(vee, &url)).await;
    assert_eq!((again.status, again.body["error"].as_str()), (409, Some("user_exists")));
    let short = send(add(json!({"name": "wes", "password": "short", "role": "viewer"}), &url)).await;
    assert_eq!((short.status, short.body["error"].as_str()), (400, Some("bad_request")));
    let unknown_site = send(add(json!({"name": "wes", "password": "long enough pw", "role": "viewer", "sites": ["nope"]}), &url)).await;
    assert!(unknown_site.body["message"].as_str().unwrap().contains("\"nope\""), "{:?}", unknown_site.body);

    let (_, vee_cookie) = sign_in_as(&url, Some("vee"), "vee's password").await;
    let vee_cookie = vee_cookie.unwrap();
    let keys = |answer: Answer| answer.body.as_array().unwrap().iter().map(|s| s["key"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(keys(get_as(&url, "/api/sites", &vee_cookie).await), ["demo"]);

    let widen = with_cookie(client().patch(format!("{url}/api/users/vee")), &url, &admin).json(&json!({"sites": "all"}));
    assert_eq!(send(widen).await.body["sites"], "all");
    assert_eq!(keys(get_as(&url, "/api/sites", &vee_cookie).await), ["demo", "shop"], "a change applies at once");

    let listed = get_as(&url, "/api/users", &admin).await;
    let names: Vec<_> = listed.body.as_array().unwrap().iter().map(|u| (u["name"].as_str().unwrap(), u["source"].as_str().unwrap())).collect();
    assert_eq!(names, [("admin", "config"), ("ana", "config"), ("vee", "database")]);
    assert!(!listed.body.to_string().contains("argon2"), "no password hash is listed");

    let in_config = with_cookie(client().delete(format!("{url}/api/users/ana")), &url, &admin);
    assert_eq!(send(in_config).await.body["error"], "user_in_config");
    let own = with_cookie(client().delete(format!("{url}/api/users/admin")), &url, &admin);
    assert_eq!(send(own).await.body["error"], "own_account");
    let removed = send(with_cookie(client().delete(format!("{url}/api/users/vee")), &url, &admin)).await;
    assert_eq!(removed.body, json!({"removed": "vee"}));
    assert_eq!(get_as(&url, "/api/sites", &vee_cookie).await.status, 401, "removing a user ends their sessions");
    let gone = send(with_cookie(client().delete(format!("{url}/api/users/vee")), &url, &admin)).await;
    assert_eq!((gone.status, gone.body["error"].as_str()), (404, Some("unknown_user")));
    server.shutdown().await;
}

/// A collector on `dir`, until the returned sender fires.
async fn serve_in(
    dir: &std::path::Path,
) -> (String, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let mut config = people();
    config.data_dir = dir.to_path_buf();
    let server = waymark_collector::start(config).await.unwrap();
    let url = format!("http://{}", server.addr);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));
    (url, stop, done)
}

#[tokio::test]
async fn a_dashboard_session_survives_a_restart_is_stored_hashed_and_ends_at_sign_out() {
    let dir = tempfile::tempdir().unwrap();
    let (url, stop, done) = serve_in(dir.path()).await;
    let (_, cookie) = sign_in_as(&url, Some("ana"), VIEWER_PASSWORD).await;
    let cookie = cookie.unwrap();
    stop.send(()).unwrap();
    done.await.unwrap().unwrap();

    let token = cookie.strip_prefix("waymark_session=").unwrap();
    let stored = support::query(&dir.path().join("waymark.db"), "SELECT hex(token_hash), user_name FROM dashboard_sessions");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0][1], "ana");
    assert_ne!(stored[0][0].as_str().unwrap().to_lowercase(), hex(token.as_bytes()), "not the token itself");

    let (url, stop, done) = serve_in(dir.path()).await;
    assert_eq!(get_as(&url, "/api/auth/session", &cookie).await.body["name"], "ana", "still signed in after the restart");
    let out = send(with_cookie(client().post(format!("{url}/api/auth/sign-out")), &url, &cookie)).await;
    assert_eq!(out.status, 200);
    assert_eq!(get_as(&url, "/api/auth/session", &cookie).await.status, 401);
    assert!(support::query(&dir.path().join("waymark.db"), "SELECT 1 FROM dashboard_sessions").is_empty());
    stop.send(()).unwrap();
    done.await.unwrap().unwrap();
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn a_user_added_from_the_command_line_signs_in_to_the_running_collector() {
    let mut server = support::start_with(people(), Arc::new(SystemClock)).await;
    let mut cli = std::process::Command::new(env!("CARGO_BIN_EXE_waymark"))
        .args(["users", "add", "cli-user", "--role", "viewer", "--sites", "demo", "--password-stdin", "--data-dir"])
        .arg(&server.dir)
        .env_remove("WAYMARK_CONFIG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(cli.stdin.as_mut().unwrap(), b"typed at the prompt\n").unwrap();
    let out = cli.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "added cli-user (viewer, sites: demo)\n");
    let (answer, cookie) = sign_in_as(&server.url, Some("cli-user"), "typed at the prompt").await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let sites = get_as(&server.url, "/api/sites", &cookie.unwrap()).await;
    assert_eq!(sites.body[0]["key"], "demo");
    assert_eq!(sites.body.as_array().unwrap().len(), 1);
    server.shutdown().await;
}
