//! Who a [`Selector`] names: the visitor ids whose events and sessions are
//! one person's, on one site. The one place erasure and export resolve a
//! person, so that the identity link log (visitor → user, appended by
//! `identify`) replaces the user case here and nowhere else.
//!
//! A user id names every visitor the link log ever linked to it
//! (`identity_links`, see [`crate::identity`]); a session id names its
//! visitor; a visitor id names itself when the site holds a session of it.

use rusqlite::{Connection, params};

use crate::store::lifecycle::Selector;

/// The visitors `selector` names on `site`, each once, in id order; none
/// when the site holds nothing of them.
pub(super) fn visitors_of(conn: &Connection, site: &str, selector: &Selector) -> rusqlite::Result<Vec<String>> {
    let (sql, id): (&str, Option<&str>) = match selector {
        Selector::Visitor(v) => ("SELECT DISTINCT visitor_id FROM sessions WHERE site = ?1 AND visitor_id = ?2", Some(v)),
        Selector::User(u) => ("SELECT DISTINCT visitor_id FROM identity_links WHERE site = ?1 AND user_id = ?2 ORDER BY 1", Some(u)),
        Selector::Session(s) => ("SELECT visitor_id FROM sessions WHERE site = ?1 AND id = ?2", Some(s)),
        Selector::Site => ("SELECT DISTINCT visitor_id FROM sessions WHERE site = ?1 ORDER BY 1", None),
    };
    let mut statement = conn.prepare_cached(sql)?;
    match id {
        Some(id) => statement.query_map(params![site, id], |r| r.get(0))?.collect(),
        None => statement.query_map(params![site], |r| r.get(0))?.collect(),
    }
}
