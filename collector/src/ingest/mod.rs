//! The ingest pipeline: decode the body, validate each event, and turn the
//! valid ones into rows. Pure functions over data; the clock is passed in.

pub mod decode;
pub mod validate;
