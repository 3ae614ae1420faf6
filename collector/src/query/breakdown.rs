//! Breakdowns: the top values of one dimension in a period. Session
//! dimensions count sessions (with their visitors and bounce rate); pages
//! count pageviews; event names and property values count events.

use rusqlite::{Connection, params_from_iter, types::Value};
use serde::Serialize;

use super::filter::{Dimension, Filter, PROPERTY_TEXT, Scope, json_path, on_events, on_sessions};
use super::period::Period;
use super::table::{Table, cell};
use super::{QueryError, Site, ratio};

/// Rows one breakdown returns at most.
pub const MAX_LIMIT: usize = 1000;

#[derive(Debug, Clone)]
pub struct BreakdownRequest {
    pub period: Period,
    pub dimension: Dimension,
    pub filters: Vec<Filter>,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// `None` when the value is missing (shown as `(none)`).
    pub value: Option<String>,
    pub visitors: i64,
    /// What `metric` names: sessions, pageviews or events.
    pub count: i64,
    /// For session dimensions only.
    pub bounce_rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breakdown {
    pub dimension: String,
    pub metric: &'static str,
    pub rows: Vec<Row>,
}

pub fn breakdown(conn: &Connection, site: &Site, request: &BreakdownRequest) -> Result<Breakdown, QueryError> {
    let (lo, hi) = request.period.bounds(&site.time_zone);
    let mut params = vec![Value::Text(site.key.clone()), Value::Integer(lo), Value::Integer(hi)];
    let (sql, metric) = match request.dimension.session_column() {
        Some(column) => {
            let clause = on_sessions(&request.filters, Scope { site: &site.key, lo, hi });
            params.extend(clause.params);
            let sql = format!(
                "SELECT {column}, count(DISTINCT s.visitor_id), count(*), sum(s.bounce) FROM sessions s
                 WHERE s.site = ? AND s.start_ts >= ? AND s.start_ts < ?{}
                 GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT ?",
                clause.sql
            );
            (sql, "sessions")
        }
        None => {
            let clause = on_events(&request.filters, Scope { site: &site.key, lo, hi });
            let (expression, only, metric) = match &request.dimension {
                Dimension::Page => ("e.path".to_owned(), " AND e.name = '$pageview'".to_owned(), "pageviews"),
                Dimension::Property(key) => {
                    params.insert(0, Value::Text(json_path(key)));
                    params.push(Value::Text(json_path(key)));
                    (PROPERTY_TEXT.to_owned(), " AND json_extract(e.props, ?) IS NOT NULL".to_owned(), "events")
                }
                _ => ("e.name".to_owned(), String::new(), "events"),
            };
            params.extend(clause.params);
            let sql = format!(
                "SELECT {expression}, count(DISTINCT e.visitor_id), count(*), NULL FROM events e
                 WHERE e.site = ? AND e.ts >= ? AND e.ts < ?{only}{}
                 GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT ?",
                clause.sql
            );
            (sql, metric)
        }
    };
    params.push(Value::Integer(request.limit.min(MAX_LIMIT) as i64));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(params_from_iter(params), |r| {
            let value: Option<rusqlite::types::Value> = r.get(0)?;
            let count: i64 = r.get(2)?;
            let bounces: Option<i64> = r.get(3)?;
            Ok(Row { value: value.and_then(as_text), visitors: r.get(1)?, count, bounce_rate: bounces.map(|b| ratio(b, count)) })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Breakdown { dimension: request.dimension.name(), metric, rows })
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

impl Table for Breakdown {
    fn columns(&self) -> Vec<&'static str> {
        vec!["value", "visitors", self.metric, "bounce_rate"]
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|r| vec![cell(&r.value), r.visitors.to_string(), r.count.to_string(), cell(&r.bounce_rate.map(|b| format!("{b:.4}")))])
            .collect()
    }
}
