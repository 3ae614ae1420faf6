//! The data lifecycle: how long a site's data is kept ([`retention`]) and
//! a person's right to have theirs erased or handed to them
//! ([`erasure`]; the export itself is a question of the read seam,
//! `store::read::Reads::person`).
//!
//! Policy lives here; the store only deletes what it is told (write seam,
//! `store::Store::{delete_before, erase}`), in bounded chunks for anything
//! that can be large, so ingest never waits long. Every erasure and every
//! retention run that removed rows leaves a record in the audit log
//! (`store::lifecycle::AuditRecord`): when, which site, which kind of
//! request, how many rows, who asked. Never the person's ids.

pub mod erasure;
pub mod retention;
