//! One person's export in SQL: their visitors (resolved by
//! `sqlite::identity`, as erasure resolves them), each visitor's sessions
//! by start and the events of those sessions in (time, id) order.

use rusqlite::{Connection, params};

use crate::query::person::{PersonData, is_person};
use crate::query::{QueryError, Site};
use crate::store::lifecycle::Selector;
use crate::store::sqlite::identity::visitors_of;
use crate::store::sqlite::rows::{EVENT_COLUMNS, event_from_row};
use crate::store::sqlite::{SESSION_COLUMNS, session_from_row};

pub(super) fn person(conn: &Connection, site: &Site, selector: &Selector) -> Result<PersonData, QueryError> {
    if !is_person(selector) {
        return Err(QueryError::BadRequest("export names one person: a visitor, a user or a session".into()));
    }
    let visitors = visitors_of(conn, &site.key, selector)?;
    let mut sessions = Vec::new();
    let mut events = Vec::new();
    let mut of_visitor = conn.prepare_cached(&format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE site = ?1 AND visitor_id = ?2"))?;
    let mut of_session =
        conn.prepare_cached(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE site = ?1 AND session_id = ?2 ORDER BY ts, id"))?;
    for visitor in &visitors {
        for session in of_visitor.query_map(params![site.key, visitor], session_from_row)? {
            let session = session?;
            for event in of_session.query_map(params![site.key, session.id], event_from_row)? {
                events.push(event?);
            }
            sessions.push(session);
        }
    }
    sessions.sort_by(|a, b| (a.start_ts, &a.id).cmp(&(b.start_ts, &b.id)));
    events.sort_by(|a, b| (a.ts, &a.id).cmp(&(b.ts, &b.id)));
    Ok(PersonData { site: site.key.clone(), visitors, sessions, events })
}
