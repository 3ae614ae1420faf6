//! `POST /v1/{call}`: the Segment Tracking API. The first byte picks the
//! call (a batch or one message of a kind) and whether it came from a
//! browser; the rest is the body, read into messages, mapped onto events
//! and validated.
#![no_main]

use libfuzzer_sys::fuzz_target;
use waymark_collector::ingest::enrich::Sender;
use waymark_collector::ingest::segment::{self, Call};
use waymark_collector_fuzz::{NOW_MS, enrich};

const PATHS: [&str; 7] = ["batch", "track", "page", "screen", "identify", "alias", "group"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let call = Call::from_path(PATHS[usize::from(pick) % PATHS.len()]).expect("a known path");
    let from_browser = pick & 0x80 != 0;
    if body.len() > call.max_body_bytes() {
        return;
    }
    let Ok(received) = segment::decode(call, body) else { return };
    for (checked, stated) in segment::check("shop", received, NOW_MS, from_browser) {
        enrich(vec![checked], &Sender { ip: stated.ip, user_agent: stated.user_agent.as_deref() });
    }
});
