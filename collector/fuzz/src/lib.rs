//! What the collector's fuzz targets share: the moment they run at, and a
//! browser batch taken through every stage a stranger's request reaches
//! before the store (decode, the id cookie, validation, enrichment).

use waymark_collector::config::IdCookieConfig;
use waymark_collector::ingest::decode::decode;
use waymark_collector::ingest::enrich::{Enricher, Sender};
use waymark_collector::ingest::id_cookie::{self, IdCookie};
use waymark_collector::ingest::referrer::Attributions;
use waymark_collector::ingest::validate::{Checked, check_batch};

/// 2025-11-25T12:00:00Z: the targets' clock, so a run is reproducible.
pub const NOW_MS: i64 = 1_764_072_000_000;

/// The request headers a target reads from the front of its input, one
/// `name:value` line each (`cookie:`, `user-agent:`), then the body.
pub struct Request<'a> {
    pub cookie: Option<&'a str>,
    pub user_agent: &'a str,
    pub body: &'a [u8],
}

impl Request<'_> {
    pub fn read(mut data: &[u8]) -> Request<'_> {
        let mut request = Request { cookie: None, user_agent: "", body: data };
        loop {
            let (name, rest) = if let Some(rest) = data.strip_prefix(b"cookie:") {
                ("cookie", rest)
            } else if let Some(rest) = data.strip_prefix(b"user-agent:") {
                ("user-agent", rest)
            } else {
                break;
            };
            let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let value = std::str::from_utf8(&rest[..end]).unwrap_or_default();
            match name {
                "cookie" => request.cookie = Some(value),
                _ => request.user_agent = value,
            }
            data = rest.get(end + 1..).unwrap_or_default();
        }
        request.body = data;
        request
    }
}

/// A browser batch as `POST /api/collect` reads it after decompression.
pub fn browser_batch(request: &Request) {
    let Ok(mut batch) = decode(request.body) else { return };
    let stored = request.cookie.and_then(IdCookie::parse);
    let (_, change) = id_cookie::apply(&mut batch.events, stored, 30 * 60_000);
    // The answer's `Set-Cookie`, as the site's id cookie is configured by default.
    let _ = change.header("shop", &IdCookieConfig { domain: None, path: "/".into(), days: 400 });
    let sender = Sender { ip: Some([203, 0, 113, 9].into()), user_agent: Some(request.user_agent) };
    enrich(check_batch(batch, NOW_MS), &sender);
}

/// Enriches the valid rows as the pipeline does (agent, referrer, UTM).
pub fn enrich(checked: Vec<Checked>, sender: &Sender) {
    thread_local! {
        static ENRICHER: Enricher = Enricher::new(None, true).expect("no GeoIP file to open");
    }
    let mut attributions = Attributions::default();
    ENRICHER.with(|enricher| {
        let client = sender.user_agent.map(|agent| enricher.classify(agent));
        for checked in checked {
            if let Checked::Valid(mut row) = checked {
                let _ = enricher.enrich(&mut row, sender, client.as_deref(), &mut attributions);
            }
        }
    });
}
