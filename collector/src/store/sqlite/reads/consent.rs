//! The consent log in SQL: a page of the site's `$consent` events in a
//! period, with the total (see [`crate::query::consent`]). The period runs
//! on `events_by_time` (its `name` column picks the decisions out of the
//! index), one visitor on `events_by_visitor`.

use rusqlite::{Connection, params_from_iter, types::Value};

use crate::query::consent::{ConsentLog, ConsentLogRequest, ConsentRecord};
use crate::query::{QueryError, Site};
use waymark_protocol::names;

pub(super) fn consent_log(conn: &Connection, site: &Site, request: &ConsentLogRequest) -> Result<ConsentLog, QueryError> {
    let (lo, hi) = request.period.bounds(&site.time_zone);
    let mut params = vec![Value::Text(site.key.clone()), Value::Text(names::CONSENT.into()), Value::Integer(lo), Value::Integer(hi)];
    let mut from = String::from("FROM events WHERE site = ? AND name = ? AND ts >= ? AND ts < ?");
    if let Some(visitor) = &request.visitor_id {
        from.push_str(" AND visitor_id = ?");
        params.push(Value::Text(visitor.clone()));
    }

    let total = conn.prepare_cached(&format!("SELECT count(*) {from}"))?.query_row(params_from_iter(params.iter()), |r| r.get(0))?;
    let per_page = request.per_page();
    params.push(Value::Integer(per_page as i64));
    params.push(Value::Integer(request.offset() as i64));
    let sql = format!(
        "SELECT id, ts, visitor_id, session_id, user_id, client_session_id, url, path, props {from} ORDER BY ts DESC, id LIMIT ? OFFSET ?"
    );
    let records = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(params), |r| {
            let client_session_id: Option<String> = r.get(5)?;
            let props: String = r.get(8)?;
            Ok(ConsentRecord::from_event(
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                client_session_id.as_deref(),
                r.get(6)?,
                r.get(7)?,
                &props,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ConsentLog { total, page: request.page, per_page, records })
}
