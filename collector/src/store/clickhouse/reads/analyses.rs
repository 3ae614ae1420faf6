//! The plain rows the analyses are counted from (`crate::query::matching`),
//! in ClickHouse SQL, mirroring `store::sqlite::reads::analyses`: the
//! identity link log, the visits of a range, and the events of a range
//! that match some conditions.

use super::filter::{Scope, events_in, on_events, on_sessions, property_text, session_column, sessions_in};
use crate::identity::Identity;
use crate::query::matching::{Condition, Match, MatchRequest, Visit, VisitsRequest, pattern_pieces};
use crate::query::{QueryError, Site};
use crate::store::clickhouse::client::{Client, lit};

pub(super) async fn identities(client: &Client, site: &Site) -> Result<Vec<Identity>, QueryError> {
    // Rows not yet merged by the table's engine come together here.
    Ok(client
        .rows(&format!(
            "SELECT visitor_id, user_id, min(ts) AS since_ms FROM identity_links WHERE site = {} GROUP BY visitor_id, user_id",
            lit(&site.key)
        ))
        .await?)
}

pub(super) async fn visits(client: &Client, site: &Site, request: &VisitsRequest) -> Result<Vec<Visit>, QueryError> {
    request.check()?;
    let clause = on_sessions(&request.filters, Scope::of(site, request.lo, request.hi));
    let value = request.dimension.as_ref().and_then(session_column).unwrap_or("CAST(NULL AS Nullable(String))");
    let id = if request.dimension.is_some() { "id" } else { "''" };
    Ok(client
        .rows(&format!(
            "SELECT visitor_id, {id} AS session_id, start_ts, end_ts, device, country, {value} AS value
             FROM {}{clause} ORDER BY start_ts, visitor_id, id",
            sessions_in(&site.key, request.lo, request.hi)
        ))
        .await?)
}

pub(super) async fn matches(client: &Client, site: &Site, request: &MatchRequest) -> Result<Vec<Match>, QueryError> {
    if request.conditions.is_empty() {
        return Ok(Vec::new());
    }
    let conditions: Vec<String> = request.conditions.iter().map(condition).collect();
    let mask = conditions.iter().enumerate().map(|(i, c)| format!("toUInt64({c}) * {}", 1u64 << i)).collect::<Vec<_>>().join(" + ");
    let any = conditions.iter().map(|c| format!("{c} = 1")).collect::<Vec<_>>().join(" OR ");
    let clause = on_events(&request.filters, Scope::of(site, request.lo, request.hi));
    Ok(client
        .rows(&format!(
            "SELECT visitor_id, session_id, ts, {mask} AS mask FROM {} AND ({any}){clause} ORDER BY ts, id",
            events_in(&site.key, request.lo, request.hi)
        ))
        .await?)
}

/// A condition over `events` as 0 or 1 (never NULL).
fn condition(c: &Condition) -> String {
    match c {
        Condition::Page { pattern } => format!("toUInt8(name = '$pageview' AND match(path, {}))", lit(&regex(pattern))),
        Condition::Event { name, .. } => match c.property() {
            Some((key, value)) => format!("toUInt8(name = {} AND ifNull({} = {}, 0))", lit(name), property_text(key), lit(value)),
            None => format!("toUInt8(name = {})", lit(name)),
        },
    }
}

/// A path pattern as an RE2 expression over the whole path: `*` is `.*`,
/// every other character is itself (punctuation escaped).
fn regex(pattern: &str) -> String {
    let literal = |piece: &str| {
        piece
            .chars()
            .map(|c| if c.is_ascii_punctuation() { format!("\\{c}") } else { c.to_string() })
            .collect::<String>()
    };
    let body = pattern_pieces(pattern).into_iter().map(literal).collect::<Vec<_>>().join(".*");
    format!("^{body}$")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_patterns_regex_anchors_both_ends_and_escapes_punctuation() {
        assert_eq!(super::regex("/a.b/*"), "^\\/a\\.b\\/.*$");
    }
}
