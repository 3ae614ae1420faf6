//! The ingest pipeline, one module per stage: `decode` the body, `validate`
//! each event, `enrich` it (`agent`, `referrer`, `geo`), give cookieless
//! events a `visitor` key. Pure functions over data, the clock passed in;
//! storing and sessionizing happen in `store` and `sessions`.

pub mod agent;
pub mod decode;
pub mod enrich;
pub mod geo;
pub mod referrer;
pub mod validate;
pub mod visitor;
