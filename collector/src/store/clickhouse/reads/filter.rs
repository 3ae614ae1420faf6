//! Filters as ClickHouse SQL: the column or expression of each dimension in
//! `sessions` and `events`, and the `WHERE` fragments a filtered query adds
//! (what a filter means is [`crate::query::filter`]'s; the shape follows
//! `store::sqlite::reads::filter`: uncorrelated `IN` subqueries over a time
//! range that assumes no session lasts longer than the site's maximum).
//! Columns are named bare: a query reads one table, and each subquery its own.

pub(super) use crate::query::filter::Scope;
use crate::query::filter::{Dimension, Filter, Level};
use crate::store::clickhouse::client::{lit, lits};
use crate::store::clickhouse::rows::LIVE_SESSIONS;
use crate::store::clickhouse::schema::start_days;
use crate::store::columns;
pub(super) use crate::store::columns::session_column;

/// The live sessions of `site` that started in `[lo, hi)`.
pub(super) fn sessions_in(site: &str, lo: i64, hi: i64) -> String {
    format!("{LIVE_SESSIONS} AND site = {} AND {} AND start_ts >= {lo} AND start_ts < {hi}", lit(site), start_days(lo, hi))
}

/// The events of `site` that happened in `[lo, hi)`.
pub(super) fn events_in(site: &str, lo: i64, hi: i64) -> String {
    format!("events FINAL WHERE site = {} AND ts >= {lo} AND ts < {hi}", lit(site))
}

/// The expression over `events` for the dimensions events carry.
pub(super) fn event_expression(dimension: &Dimension) -> Option<String> {
    match dimension {
        Dimension::Property(key) => Some(property_text(key)),
        other => columns::event_column(other).map(str::to_owned),
    }
}

/// A top-level property's value as text, as SQLite's `json_extract` gives
/// it: a string unquoted, a number as written, `true`/`false` as 1/0, a
/// missing key or `null` as NULL. (ClickHouse 18.16 has no JSON path
/// functions: `visitParam*` read the first occurrence of the key, which
/// for the flat objects the collector stores is the top-level one.)
pub(super) fn property_text(key: &str) -> String {
    let (props, key) = ("props", lit(key));
    let raw = format!("visitParamExtractRaw({props}, {key})");
    format!(
        "if(visitParamHas({props}, {key}) AND {raw} != 'null', multiIf({raw} = 'true', '1', {raw} = 'false', '0', \
         startsWith({raw}, '\"'), visitParamExtractString({props}, {key}), {raw}), NULL)"
    )
}

/// Whether the event has the property at all.
pub(super) fn has_property(key: &str) -> String {
    format!("visitParamHas(props, {})", lit(key))
}

fn condition(expression: &str, value: &Option<String>) -> String {
    match value {
        Some(v) => format!(" AND {expression} = {}", lit(v)),
        None => format!(" AND {expression} IS NULL"),
    }
}

/// Conditions on sessions started in `scope`.
pub(super) fn on_sessions(filters: &[Filter], scope: Scope) -> String {
    let mut clause = String::new();
    let mut on_event = String::new();
    for f in filters {
        if let Dimension::Visitors(ids) = &f.dimension {
            clause.push_str(&format!(" AND visitor_id IN {}", lits(ids.iter().map(String::as_str))));
            continue;
        }
        match f.dimension.level() {
            Level::Session => {
                clause.push_str(&condition(session_column(&f.dimension).expect("session dimensions have a column"), &f.value))
            }
            Level::Event => {
                on_event.push_str(&condition(&event_expression(&f.dimension).expect("event dimensions have an expression"), &f.value))
            }
        }
    }
    if !on_event.is_empty() {
        // Events of sessions started in the scope happen from its start on.
        clause
            .push_str(&format!(" AND id IN (SELECT session_id FROM {}{on_event})", events_in(scope.site, scope.lo, scope.hi + scope.span)));
    }
    clause
}

/// Conditions on events that happened in `scope`.
pub(super) fn on_events(filters: &[Filter], scope: Scope) -> String {
    let mut clause = String::new();
    let mut on_session = String::new();
    for f in filters {
        if let Dimension::Visitors(ids) = &f.dimension {
            clause.push_str(&format!(" AND visitor_id IN {}", lits(ids.iter().map(String::as_str))));
            continue;
        }
        if f.dimension.carried_by_events() {
            clause.push_str(&condition(&event_expression(&f.dimension).expect("what events carry has an expression"), &f.value));
        } else {
            on_session.push_str(&condition(session_column(&f.dimension).expect("session dimensions have a column"), &f.value));
        }
    }
    if !on_session.is_empty() {
        // Events in the scope belong to sessions started before its end.
        clause.push_str(&format!(
            " AND session_id IN (SELECT id FROM {}{on_session})",
            sessions_in(scope.site, scope.lo - scope.span, scope.hi)
        ));
    }
    clause
}
