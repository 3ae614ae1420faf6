//! `GET /api/query/…`: the first byte picks the route (overview,
//! breakdown, sessions, consent log, journey), the rest is the query
//! string. Its parameters and filters are read as the routes read them,
//! and each question that reads is put to a SQLite store holding a few
//! events: a refusal or an answer, never a panic.
#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use waymark_collector::api::query::Params;
use waymark_collector::event::StoredEvent;
use waymark_collector::query::Site;
use waymark_collector::store::Store;
use waymark_collector::store::read::Reads;
use waymark_collector::store::sqlite::SqliteStore;
use waymark_collector_fuzz::NOW_MS;

struct World {
    runtime: tokio::runtime::Runtime,
    reads: Arc<dyn Reads>,
    site: Site,
    _dir: tempfile::TempDir,
}

/// A store with a few events of two visitors over two days.
static WORLD: LazyLock<World> = LazyLock::new(|| {
    // A read runs on a blocking thread, where tokio would catch its panic:
    // make every panic a crash that libFuzzer sees.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        std::process::abort();
    }));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(dir.path()).expect("a new store");
    let events = (0..6u64)
        .map(|n| StoredEvent {
            site: "shop".into(),
            id: format!("0190a000-0000-7000-8000-{n:012x}"),
            ts: NOW_MS - (n as i64) * 3_600_000 * 9,
            received_ms: NOW_MS,
            name: if n % 3 == 2 { "signup".into() } else { "$pageview".into() },
            visitor_id: format!("v{}", n % 2),
            client_session_id: Some(format!("s{}", n % 2)),
            url: format!("https://shop.example/p{n}?utm_source=news"),
            host: "shop.example".into(),
            path: format!("/p{n}"),
            props: r#"{"plan":"pro","n":1}"#.into(),
            country: Some("DE".into()),
            device: Some("desktop".into()),
            source: Some("news".into()),
            ..StoredEvent::default()
        })
        .collect();
    runtime.block_on(store.append(events)).expect("appending the seed events");
    let reads: Arc<dyn Reads> = Arc::new(store.reads());
    World { runtime, reads, site: Site::new("shop", "Europe/Berlin").expect("a known zone"), _dir: dir }
});

fuzz_target!(|data: &[u8]| {
    let Some((&route, query)) = data.split_first() else { return };
    let world = &*WORLD;
    let params = Params { pairs: url::form_urlencoded::parse(query).into_owned().collect() };
    let _ = params.format();
    let (reads, site) = (&world.reads, &world.site);
    world.runtime.block_on(async {
        let _ = match route % 5 {
            0 => match params.overview(site, NOW_MS) {
                Ok(request) => reads.overview(site, &request).await.map(drop),
                Err(_) => Ok(()),
            },
            1 => match params.breakdown(site, NOW_MS) {
                Ok(request) => reads.breakdown(site, &request).await.map(drop),
                Err(_) => Ok(()),
            },
            2 => match params.sessions(site, NOW_MS) {
                Ok(request) => reads.sessions(site, &request).await.map(drop),
                Err(_) => Ok(()),
            },
            3 => match params.consent_log(site, NOW_MS) {
                Ok(request) => reads.consent_log(site, &request).await.map(drop),
                Err(_) => Ok(()),
            },
            _ => reads.journey(site, &String::from_utf8_lossy(query)).await.map(drop),
        };
    });
});
