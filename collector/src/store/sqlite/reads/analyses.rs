//! The plain rows the analyses are counted from (`crate::query::matching`),
//! in SQL: the identity link log, the visits of a range, and the events of
//! a range that match some conditions. Funnels, cohorts, goals and people
//! are computed from these in `crate::query`, the same for every backend.

use rusqlite::types::Value;
use rusqlite::{Connection, params, params_from_iter};

use super::filter::{PROPERTY_TEXT, Scope, json_path, on_events, on_sessions, session_column};
use crate::identity::Identity;
use crate::query::matching::{Condition, Match, MatchRequest, Visit, VisitsRequest, pattern_pieces};
use crate::query::{QueryError, Site};

pub(super) fn identities(conn: &Connection, site: &Site) -> Result<Vec<Identity>, QueryError> {
    let mut statement = conn.prepare_cached("SELECT visitor_id, user_id, ts FROM identity_links WHERE site = ?1")?;
    let rows = statement.query_map(params![site.key], |r| Ok(Identity { visitor_id: r.get(0)?, user_id: r.get(1)?, since_ms: r.get(2)? }))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn visits(conn: &Connection, site: &Site, request: &VisitsRequest) -> Result<Vec<Visit>, QueryError> {
    request.check()?;
    let clause = on_sessions(&request.filters, Scope::of(site, request.lo, request.hi));
    let value = request.dimension.as_ref().and_then(session_column).unwrap_or_else(|| "NULL".into());
    // `start_ts + duration_ms` is the end (the rule keeps them so); with
    // `id` left out unless a dimension is asked, the scan reads only
    // `sessions_by_start`, in its order (a session's id is in the table,
    // not in that index: a lookup per row).
    let (id, order) = if request.dimension.is_some() { ("s.id", "s.start_ts, s.visitor_id, s.id") } else { ("''", "s.start_ts, s.visitor_id") };
    let places = if request.places { "s.device, s.country" } else { "NULL, NULL" };
    let sql = format!(
        "SELECT s.visitor_id, {id}, s.start_ts, s.start_ts + s.duration_ms, {places}, {value} FROM sessions s
         WHERE s.site = ? AND s.start_ts >= ? AND s.start_ts < ?{} ORDER BY {order}",
        clause.sql
    );
    let params = [Value::Text(site.key.clone()), Value::Integer(request.lo), Value::Integer(request.hi)].into_iter().chain(clause.params);
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(params), |r| {
        Ok(Visit {
            visitor_id: r.get(0)?,
            session_id: r.get(1)?,
            start_ts: r.get(2)?,
            end_ts: r.get(3)?,
            device: r.get(4)?,
            country: r.get(5)?,
            value: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn matches(conn: &Connection, site: &Site, request: &MatchRequest) -> Result<Vec<Match>, QueryError> {
    if request.conditions.is_empty() {
        return Ok(Vec::new());
    }
    let conditions: Vec<(String, Vec<Value>)> = request.conditions.iter().map(condition).collect();
    let mask = conditions.iter().enumerate().map(|(i, (sql, _))| format!("(({sql}) << {i})")).collect::<Vec<_>>().join(" | ");
    let any = conditions.iter().map(|(sql, _)| format!("({sql})")).collect::<Vec<_>>().join(" OR ");
    let clause = on_events(&request.filters, Scope::of(site, request.lo, request.hi));
    // No ORDER BY and no id: the scan of `events_by_time` is in time order
    // already and carries everything else, while an id is in the table (a
    // lookup per row, most of the read's cost at a million events). Rows
    // are put in time order here; ids are looked up only to order events
    // that share a time.
    let sql = format!(
        "SELECT e.visitor_id, e.session_id, e.ts, e.rowid, {mask} FROM events e
         WHERE e.site = ? AND e.ts >= ? AND e.ts < ? AND ({any}){}",
        clause.sql
    );
    let condition_params = conditions.iter().flat_map(|(_, p)| p.iter().cloned());
    let params: Vec<Value> = condition_params
        .clone()
        .chain([Value::Text(site.key.clone()), Value::Integer(request.lo), Value::Integer(request.hi)])
        .chain(condition_params)
        .chain(clause.params)
        .collect();
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(params), |r| {
        let found = Match { visitor_id: r.get(0)?, session_id: r.get(1)?, ts: r.get(2)?, mask: r.get::<_, i64>(4)? as u64 };
        Ok((found, r.get::<_, i64>(3)?))
    })?;
    let mut found: Vec<(Match, i64)> = rows.collect::<Result<_, _>>()?;
    found.sort_by_key(|(m, _)| m.ts);
    order_ties_by_id(conn, &mut found)?;
    Ok(found.into_iter().map(|(m, _)| m).collect())
}

/// Orders each run of matches with one time by event id, as every backend
/// orders them; `found` is in time order, with each match's rowid.
fn order_ties_by_id(conn: &Connection, found: &mut [(Match, i64)]) -> Result<(), QueryError> {
    let mut id_of = conn.prepare_cached("SELECT id FROM events WHERE rowid = ?1")?;
    for run in found.chunk_by_mut(|a, b| a.0.ts == b.0.ts).filter(|run| run.len() > 1) {
        let mut keyed = Vec::with_capacity(run.len());
        for (m, rowid) in run.iter() {
            keyed.push((id_of.query_row([rowid], |r| r.get::<_, String>(0))?, m.clone(), *rowid));
        }
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        for (slot, (_, m, rowid)) in run.iter_mut().zip(keyed) {
            *slot = (m, rowid);
        }
    }
    Ok(())
}

/// A condition over `events e` (0 or 1), with its parameters in order.
fn condition(c: &Condition) -> (String, Vec<Value>) {
    match c {
        Condition::Page { pattern } => ("e.name = '$pageview' AND e.path GLOB ?".into(), vec![Value::Text(glob(pattern))]),
        Condition::Event { name, .. } => match c.property() {
            Some((key, value)) => (
                format!("e.name = ? AND coalesce({PROPERTY_TEXT} = ?, 0)"),
                vec![Value::Text(name.clone()), Value::Text(json_path(key)), Value::Text(value.to_owned())],
            ),
            None => ("e.name = ?".into(), vec![Value::Text(name.clone())]),
        },
    }
}

/// A path pattern as a GLOB: `*` stays, the pieces between are literal
/// (GLOB's own `?` and `[` inside brackets).
fn glob(pattern: &str) -> String {
    let literal = |piece: &str| piece.chars().map(|c| match c {
        '?' => "[?]".to_owned(),
        '[' => "[[]".to_owned(),
        c => c.to_string(),
    }).collect::<String>();
    pattern_pieces(pattern).into_iter().map(literal).collect::<Vec<_>>().join("*")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_patterns_glob_keeps_its_stars_and_quotes_globs_own_wildcards() {
        assert_eq!(super::glob("/a?b[1]/*"), "/a[?]b[[]1]/*");
    }
}
