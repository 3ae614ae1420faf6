//! The ingest pipeline, one module per stage, in the order an event meets
//! them: `decode` the body, `validate` each event, `enrich` it (`agent`,
//! `referrer`, `geo`), give cookieless events a `visitor` key; then, in the
//! store's writer, for each group of appends: `dedupe` (which events are
//! new), `visitor` (yesterday's key near midnight) and `sessionize`, put
//! together as a `group` plan that the backend persists. `pipeline` drives
//! a request's events through these stages and answers for each. Before
//! validation, a browser batch of a site with an id cookie has its
//! `new_ids` events given the cookie's ids (`id_cookie`), and `segment`
//! reads the Segment Tracking API's messages into the same events.
//! Every stage is plain code over data, with the clock passed in; what a
//! stage reads of the stored state it reads through `store::StoredState`.

pub mod agent;
pub mod decode;
pub mod dedupe;
pub mod enrich;
pub mod geo;
pub mod group;
pub mod id_cookie;
pub mod pipeline;
pub mod plan;
pub mod referrer;
pub mod segment;
pub mod sessionize;
pub mod validate;
pub mod visitor;
