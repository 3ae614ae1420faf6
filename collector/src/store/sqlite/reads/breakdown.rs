//! Breakdowns in SQL: one grouped query, over `sessions` for a session
//! dimension and over `events` otherwise (see [`crate::query::breakdown`]).

use rusqlite::{Connection, params_from_iter, types::Value};

use super::filter::{PROPERTY_TEXT, Scope, json_path, on_events, on_sessions, session_column};
use crate::query::breakdown::{Breakdown, BreakdownRequest, Row};
use crate::query::filter::{Dimension, Level};
use crate::query::{QueryError, Site};

pub(super) fn breakdown(conn: &Connection, site: &Site, request: &BreakdownRequest) -> Result<Breakdown, QueryError> {
    let (lo, hi) = request.period.bounds(&site.time_zone);
    let mut params = vec![Value::Text(site.key.clone()), Value::Integer(lo), Value::Integer(hi)];
    let sql = match request.dimension.level() {
        Level::Session => {
            let column = session_column(&request.dimension).expect("session dimensions have a column");
            let clause = on_sessions(&request.filters, Scope::of(site, lo, hi));
            params.extend(clause.params);
            format!(
                "SELECT {column}, count(DISTINCT s.visitor_id), count(*), sum(s.bounce) FROM sessions s
                 WHERE s.site = ? AND s.start_ts >= ? AND s.start_ts < ?{}
                 GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT ?",
                clause.sql
            )
        }
        Level::Event => {
            let clause = on_events(&request.filters, Scope::of(site, lo, hi));
            let (expression, only) = match &request.dimension {
                Dimension::Page => ("e.path".to_owned(), " AND e.name = '$pageview'".to_owned()),
                Dimension::Property(key) => {
                    params.insert(0, Value::Text(json_path(key)));
                    params.push(Value::Text(json_path(key)));
                    (PROPERTY_TEXT.to_owned(), " AND json_extract(e.props, ?) IS NOT NULL".to_owned())
                }
                _ => ("e.name".to_owned(), String::new()),
            };
            params.extend(clause.params);
            format!(
                "SELECT {expression}, count(DISTINCT e.visitor_id), count(*), NULL FROM events e
                 WHERE e.site = ? AND e.ts >= ? AND e.ts < ?{only}{}
                 GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT ?",
                clause.sql
            )
        }
    };
    params.push(Value::Integer(request.limit() as i64));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params_from_iter(params), |r| {
            let value: Option<Value> = r.get(0)?;
            Ok(Row::new(value.and_then(as_text), r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Breakdown { dimension: request.dimension.name(), metric: request.metric(), rows })
}

/// Property values may be numbers or booleans in JSON; shown as text.
fn as_text(value: Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::Integer(i) => Some(i.to_string()),
        Value::Real(f) => Some(f.to_string()),
        Value::Text(s) => Some(s),
        Value::Blob(b) => Some(String::from_utf8_lossy(&b).into_owned()),
    }
}
