//! The SDK's pure core: no browser APIs, the clock passed in as milliseconds.

pub mod ids;
pub mod session;
pub mod storage;
