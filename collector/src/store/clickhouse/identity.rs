//! Who a [`Selector`] names on ClickHouse: the visitor ids whose events
//! and sessions are one person's, resolved as `store::sqlite::identity`
//! resolves them (a user id: every visitor the link log ever linked to it;
//! a session: its visitor; a visitor: itself, when the site holds a session
//! of it). The one place erasure and export ask; and the link log's rows
//! as written.

use serde::Serialize;

use super::client::lit;
use super::rows::LIVE_SESSIONS;
use crate::identity::Link;
use crate::store::lifecycle::Selector;

/// A link as written to `identity_links`: `first` ranks the earliest
/// highest, so that the table's merges keep it (see `schema`).
#[derive(Serialize)]
pub(super) struct LinkWrite<'a> {
    #[serde(flatten)]
    pub link: &'a Link,
    pub first: u64,
}

/// The rows of `links`.
pub(super) fn link_rows(links: &[Link]) -> Vec<LinkWrite<'_>> {
    links.iter().map(|link| LinkWrite { link, first: (i64::MAX - link.ts.max(0)) as u64 }).collect()
}

/// A row of the query [`visitors_sql`] gives.
#[derive(serde::Deserialize)]
pub(super) struct VisitorRow {
    pub visitor_id: String,
}

/// The query for the visitors `selector` names on `site`, each once, in id order.
pub(super) fn visitors_sql(site: &str, selector: &Selector) -> String {
    let site = lit(site);
    match selector {
        Selector::Visitor(v) => format!("SELECT DISTINCT visitor_id FROM {LIVE_SESSIONS} AND site = {site} AND visitor_id = {}", lit(v)),
        Selector::User(u) => {
            format!("SELECT DISTINCT visitor_id FROM identity_links WHERE site = {site} AND user_id = {} ORDER BY visitor_id", lit(u))
        }
        Selector::Session(s) => format!("SELECT visitor_id FROM {LIVE_SESSIONS} AND site = {site} AND id = {}", lit(s)),
        Selector::Site => format!("SELECT DISTINCT visitor_id FROM {LIVE_SESSIONS} AND site = {site} ORDER BY visitor_id"),
    }
}
