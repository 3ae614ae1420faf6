//! Filters as SQL: the column or expression each dimension is in `sessions
//! s` and `events e`, and the WHERE fragments a filtered query adds (what a
//! filter means is [`crate::query::filter`]'s).
//!
//! Mechanism: the cross-table conditions are uncorrelated `IN` subqueries
//! over a time range, which SQLite evaluates once from the time indexes;
//! the range assumes no session lasts longer than the site's maximum length.

use rusqlite::types::Value;

pub(super) use crate::query::filter::Scope;
use crate::query::filter::{Dimension, Filter, Level};
use crate::store::columns;

/// The column of `sessions` (alias `s`), for session dimensions.
pub(super) fn session_column(dimension: &Dimension) -> Option<String> {
    columns::session_column(dimension).map(|c| format!("s.{c}"))
}

/// The expression over `events` (alias `e`) for the dimensions events
/// carry, with the parameter it takes, if any.
pub(super) fn event_expression(dimension: &Dimension) -> Option<(String, Option<Value>)> {
    match dimension {
        Dimension::Property(key) => Some((PROPERTY_TEXT.into(), Some(Value::Text(json_path(key))))),
        other => columns::event_column(other).map(|c| (format!("e.{c}"), None)),
    }
}

/// A property's value as text: numbers and booleans compare with the text
/// a breakdown shows for them.
pub(super) const PROPERTY_TEXT: &str = "CAST(json_extract(e.props, ?) AS TEXT)";

/// `$."key"`: the JSON path of a top-level key, quoted so any key works.
pub(super) fn json_path(key: &str) -> String {
    format!("$.\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A WHERE fragment (`AND …` terms) and its parameters, in order.
#[derive(Debug, Default)]
pub(super) struct Clause {
    pub sql: String,
    pub params: Vec<Value>,
}

impl Clause {
    fn push(&mut self, expression: &str, expression_param: Option<Value>, value: &Option<String>) {
        self.params.extend(expression_param);
        match value {
            Some(v) => {
                self.sql.push_str(&format!(" AND {expression} = ?"));
                self.params.push(Value::Text(v.clone()));
            }
            None => self.sql.push_str(&format!(" AND {expression} IS NULL")),
        }
    }

    /// `column` is one of `ids` (sent as one JSON array).
    fn push_in(&mut self, column: &str, ids: &[String]) {
        self.sql.push_str(&format!(" AND {column} IN (SELECT value FROM json_each(?))"));
        self.params.push(Value::Text(serde_json::to_string(ids).expect("strings serialize")));
    }
}

/// Conditions on `sessions s` started in `scope`.
pub(super) fn on_sessions(filters: &[Filter], scope: Scope) -> Clause {
    let mut clause = Clause::default();
    let mut on_event = Clause::default();
    for f in filters {
        if let Dimension::Visitors(ids) = &f.dimension {
            clause.push_in("s.visitor_id", ids);
            continue;
        }
        match f.dimension.level() {
            Level::Session => clause.push(&session_column(&f.dimension).expect("session dimensions have a column"), None, &f.value),
            Level::Event => {
                let (expression, param) = event_expression(&f.dimension).expect("event dimensions have an expression");
                on_event.push(&expression, param, &f.value);
            }
        }
    }
    if !on_event.sql.is_empty() {
        // Events of sessions started in the scope happen from its start on.
        clause.sql.push_str(&format!(
            " AND s.id IN (SELECT e.session_id FROM events e WHERE e.site = ? AND e.ts >= ? AND e.ts < ?{})",
            on_event.sql
        ));
        clause.params.extend(scope_params(scope.site, scope.lo, scope.hi + scope.span));
        clause.params.extend(on_event.params);
    }
    clause
}

/// Conditions on `events e` that happened in `scope`.
pub(super) fn on_events(filters: &[Filter], scope: Scope) -> Clause {
    let mut clause = Clause::default();
    let mut on_session = Clause::default();
    for f in filters {
        if let Dimension::Visitors(ids) = &f.dimension {
            clause.push_in("e.visitor_id", ids);
            continue;
        }
        if f.dimension.carried_by_events() {
            let (expression, param) = event_expression(&f.dimension).expect("what events carry has an expression");
            clause.push(&expression, param, &f.value);
        } else {
            let column = session_column(&f.dimension).expect("session dimensions have a column");
            on_session.push(&column, None, &f.value);
        }
    }
    if !on_session.sql.is_empty() {
        // Events in the scope belong to sessions started before its end.
        clause.sql.push_str(&format!(
            " AND e.session_id IN (SELECT s.id FROM sessions s WHERE s.site = ? AND s.start_ts >= ? AND s.start_ts < ?{})",
            on_session.sql
        ));
        clause.params.extend(scope_params(scope.site, scope.lo - scope.span, scope.hi));
        clause.params.extend(on_session.params);
    }
    clause
}

/// The parameters of `site = ? AND ts >= ? AND ts < ?`.
pub(super) fn scope_params(site: &str, lo: i64, hi: i64) -> [Value; 3] {
    [Value::Text(site.to_owned()), Value::Integer(lo), Value::Integer(hi)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::filter::{NAMES, NONE_VALUE};

    const SPAN: i64 = 24 * 60 * 60 * 1000;
    const SCOPE: Scope = Scope { site: "shop", lo: 1000, hi: 2000, span: SPAN };

    #[test]
    fn an_event_filter_on_sessions_asks_for_one_matching_event() {
        let filters = [
            Filter::new(Dimension::Country, "DE"),
            Filter::new(Dimension::Page, "/pricing"),
            Filter::new(Dimension::Property("plan".into()), "pro"),
        ];
        let clause = on_sessions(&filters, SCOPE);
        assert_eq!(
            clause.sql,
            " AND s.country = ? AND s.id IN (SELECT e.session_id FROM events e WHERE e.site = ? AND e.ts >= ? AND e.ts < ? \
             AND e.path = ? AND CAST(json_extract(e.props, ?) AS TEXT) = ?)"
        );
        let day = SPAN;
        assert_eq!(
            clause.params,
            vec![
                Value::Text("DE".into()),
                Value::Text("shop".into()),
                Value::Integer(1000),
                Value::Integer(2000 + day),
                Value::Text("/pricing".into()),
                Value::Text("$.\"plan\"".into()),
                Value::Text("pro".into()),
            ]
        );
    }

    #[test]
    fn none_matches_a_missing_value() {
        let clause = on_events(&[Filter::new(Dimension::Source, NONE_VALUE)], SCOPE);
        assert!(clause.sql.ends_with("s.start_ts < ? AND s.source IS NULL)"), "{}", clause.sql);
        assert_eq!(clause.params[1], Value::Integer(1000 - SPAN));
    }

    #[test]
    fn every_dimension_filters_both_sessions_and_events() {
        for name in NAMES {
            let dimension = Dimension::parse(&name.replace("<key>", "plan")).unwrap();
            let filters = [Filter::new(dimension, "x")];
            // Each renders without reaching a dimension the SQL does not know.
            assert!(!on_sessions(&filters, SCOPE).sql.is_empty(), "{name}");
            assert!(!on_events(&filters, SCOPE).sql.is_empty(), "{name}");
        }
    }
}
