//! What an analysis looks for in the events: a pageview whose path
//! matches a pattern, or an event by name with an optional property value
//! (a goal, a funnel's step, a cohort's first event); and the two plain
//! reads every analysis is computed from (the visits of a period, and the
//! events that match some conditions), so that funnels, cohorts, goals and
//! people are counted once, here, from the same rows on every backend.
//!
//! Policy:
//! - a path pattern matches the whole path; `*` stands for any run of
//!   characters (none included), everything else is itself (`/blog/*`
//!   matches `/blog/` and `/blog/a/b`, not `/blog`; case matters);
//! - a property condition compares the property's value as text, as the
//!   `prop:` filter does (numbers as written, booleans as 1 and 0).

use serde::{Deserialize, Serialize};

use super::QueryError;
use super::filter::{Dimension, Filter, Level};

/// Conditions one request may ask for at most.
pub const MAX_CONDITIONS: usize = 16;

/// One thing to look for among the events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// A pageview whose path matches `pattern`.
    Page { pattern: String },
    /// An event named `name`, with `property` = `value` when both are given.
    Event {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        property: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<String>,
    },
}

impl Condition {
    /// Reads `page:/pattern`, `event:name` or `event:name:property=value`
    /// (a query string's shorthand).
    pub fn parse(text: &str) -> Result<Condition, QueryError> {
        let bad = || {
            QueryError::BadRequest(format!(
                "a step or goal is `page:/path/*` or `event:name` or `event:name:property=value`, got {text:?}"
            ))
        };
        let condition = if let Some(pattern) = text.strip_prefix("page:") {
            Condition::Page { pattern: pattern.to_owned() }
        } else if let Some(rest) = text.strip_prefix("event:") {
            match rest.split_once(':') {
                Some((name, matcher)) => {
                    let (property, value) = matcher.split_once('=').ok_or_else(bad)?;
                    Condition::Event { name: name.to_owned(), property: Some(property.to_owned()), value: Some(value.to_owned()) }
                }
                None => Condition::Event { name: rest.to_owned(), property: None, value: None },
            }
        } else {
            return Err(bad());
        };
        condition.check()?;
        Ok(condition)
    }

    /// Refuses an empty pattern, name or property.
    pub fn check(&self) -> Result<(), QueryError> {
        match self {
            Condition::Page { pattern } if !pattern.starts_with('/') && pattern != "*" => {
                Err(QueryError::BadRequest(format!("a page pattern starts with `/` (or is `*`), got {pattern:?}")))
            }
            Condition::Event { name, .. } if name.is_empty() => Err(QueryError::BadRequest("an event condition needs a name".into())),
            Condition::Event { property: Some(p), value: None, .. } | Condition::Event { property: None, value: Some(p), .. } => {
                Err(QueryError::BadRequest(format!("an event condition's property and value come together, got only {p:?}")))
            }
            Condition::Event { property: Some(p), .. } if p.is_empty() => {
                Err(QueryError::BadRequest("an event condition's property needs a name".into()))
            }
            _ => Ok(()),
        }
    }

    /// The property and value to compare, when the condition has them.
    pub fn property(&self) -> Option<(&str, &str)> {
        match self {
            Condition::Event { property: Some(p), value: Some(v), .. } => Some((p, v)),
            _ => None,
        }
    }
}

/// The literal pieces of a path pattern between its `*`s: `/a/*/b` is
/// `["/a/", "/b"]`; a match is the pieces in order with anything between.
pub fn pattern_pieces(pattern: &str) -> Vec<&str> {
    pattern.split('*').collect()
}

/// Whether `path` matches `pattern` (the rule every backend's SQL follows;
/// for tests and for rows already fetched).
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let pieces = pattern_pieces(pattern);
    let (first, rest) = pieces.split_first().expect("split gives at least one piece");
    let Some(mut tail) = path.strip_prefix(first) else { return false };
    let Some((last, middle)) = rest.split_last() else { return tail.is_empty() };
    for piece in middle {
        match tail.find(piece) {
            Some(at) => tail = &tail[at + piece.len()..],
            None => return false,
        }
    }
    tail.len() >= last.len() && tail.ends_with(last)
}

/// Sessions started in `[lo, hi)` (ms UTC) that pass the filters, with the
/// value of one session dimension when asked.
#[derive(Debug, Clone)]
pub struct VisitsRequest {
    pub lo: i64,
    pub hi: i64,
    pub filters: Vec<Filter>,
    /// A session dimension whose value each visit carries.
    pub dimension: Option<Dimension>,
    /// Whether each visit must carry its device and country (the people
    /// list shows them); without, a backend may leave them `None` to read
    /// less (SQLite does): counting visits and people needs only who came
    /// and when.
    pub places: bool,
}

impl VisitsRequest {
    /// Refuses a dimension that is not the session's (an event dimension has many values per visit).
    pub fn check(&self) -> Result<(), QueryError> {
        match &self.dimension {
            Some(d) if d.level() != Level::Session => Err(QueryError::BadRequest(format!(
                "{} is a value of each event, not of a visit: break down by a visit's dimension (source, country, device, …)",
                d.name()
            ))),
            _ => Ok(()),
        }
    }
}

/// One visit (a stored session), as the analyses read it. Visits come in
/// (start, visitor, session id) order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    pub visitor_id: String,
    /// Empty unless the request asks a dimension: what needs a visit's
    /// session (a breakdown's value by session) asks one, and leaving it
    /// out lets a backend read only its index of sessions by start.
    pub session_id: String,
    pub start_ts: i64,
    pub end_ts: i64,
    pub device: Option<String>,
    pub country: Option<String>,
    /// The asked dimension's value.
    pub value: Option<String>,
}

/// Events in `[lo, hi)` (ms UTC) that pass the filters and match at least
/// one of the conditions.
#[derive(Debug, Clone)]
pub struct MatchRequest {
    pub lo: i64,
    pub hi: i64,
    pub filters: Vec<Filter>,
    /// At most [`MAX_CONDITIONS`].
    pub conditions: Vec<Condition>,
}

/// One event that matched. A backend hands them over in (time, event id)
/// order, the id breaking ties, without the id itself: nothing counted
/// needs it, and a backend that keeps ids apart from its time index
/// (SQLite) looks them up only for events that share a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Match {
    pub visitor_id: String,
    pub session_id: String,
    pub ts: i64,
    /// Bit `i` set when condition `i` matched.
    pub mask: u64,
}

impl Match {
    pub fn matches(&self, condition: usize) -> bool {
        self.mask & (1 << condition) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_matches_the_whole_path_with_a_star_for_any_run_of_characters() {
        assert!(path_matches("/blog/*", "/blog/") && path_matches("/blog/*", "/blog/a/b"));
        assert!(!path_matches("/blog/*", "/blog") && !path_matches("/blog", "/blog/x") && !path_matches("/Blog", "/blog"));
        assert!(path_matches("/*/edit", "/posts/7/edit") && !path_matches("/*/edit", "/edit"));
        assert!(path_matches("*", "/anything") && path_matches("/a*a", "/aa") && !path_matches("/a*a", "/a"));
    }

    #[test]
    fn conditions_read_from_their_shorthand_and_say_what_is_wrong() {
        assert_eq!(Condition::parse("page:/pricing").unwrap(), Condition::Page { pattern: "/pricing".into() });
        assert_eq!(
            Condition::parse("event:signup:plan=pro").unwrap(),
            Condition::Event { name: "signup".into(), property: Some("plan".into()), value: Some("pro".into()) }
        );
        assert!(Condition::parse("signup").unwrap_err().to_string().contains("event:name"));
        assert!(Condition::parse("page:pricing").unwrap_err().to_string().contains("starts with `/`"));
        assert!(Condition::parse("event:signup:plan").is_err());
    }
}
