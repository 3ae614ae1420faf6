//! `POST /api/collect` with `Content-Encoding: gzip`: any bytes through the
//! bounded decompression (a bomb stops one byte past the limit), then the
//! batch's stages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use waymark_collector::ingest::decode::decompress;
use waymark_collector_fuzz::{Request, browser_batch};

/// Small, so that bombs reach the limit quickly.
const LIMIT: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let request = Request::read(data);
    if let Ok(body) = decompress(Some("gzip"), request.body, LIMIT) {
        assert!(body.len() <= LIMIT, "decompressed past the limit");
        browser_batch(&Request { body: &body, ..request });
    }
});
