//! `POST /api/collect` with an identity body: any bytes, optionally after
//! `cookie:` and `user-agent:` lines, must be answered, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use waymark_collector_fuzz::{Request, browser_batch};

fuzz_target!(|data: &[u8]| {
    browser_batch(&Request::read(data));
});
