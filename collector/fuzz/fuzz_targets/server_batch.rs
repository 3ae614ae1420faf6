//! `POST /api/server/collect`: a server batch's body (after the secret was
//! accepted), decoded, validated with its stated addresses, enriched.
#![no_main]

use libfuzzer_sys::fuzz_target;
use waymark_collector::ingest::decode::decode_server;
use waymark_collector::ingest::enrich::Sender;
use waymark_collector::ingest::validate::check_server_batch;
use waymark_collector_fuzz::{NOW_MS, enrich};

fuzz_target!(|data: &[u8]| {
    let Ok(batch) = decode_server(data) else { return };
    for (checked, stated) in check_server_batch(batch, NOW_MS) {
        enrich(vec![checked], &Sender { ip: stated.ip, user_agent: stated.user_agent.as_deref() });
    }
});
