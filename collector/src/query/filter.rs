//! Dimensions (what a breakdown groups by and a filter narrows on) and the
//! SQL each becomes.
//!
//! Policy: a dimension belongs either to the session (where the visit came
//! from, who made it, where it entered and left) or to the event (page,
//! event name, property). Filtering sessions by an event dimension keeps the
//! sessions with at least one matching event; all event filters must hold on
//! that same event (`page=/pricing` and `event=signup`: a signup on
//! /pricing). Filtering events by a session dimension keeps the events of
//! matching sessions, except for device, browser, OS and place, which every
//! event carries itself. The value `(none)` matches a missing value.
//!
//! Mechanism: the cross-table conditions are uncorrelated `IN` subqueries
//! over a time range, which SQLite evaluates once from the time indexes;
//! the range assumes no session lasts longer than [`MAX_SESSION_SPAN_MS`].

use rusqlite::types::Value;

use super::QueryError;

/// How a missing value is shown, and how a filter asks for one.
pub const NONE_VALUE: &str = "(none)";

/// The longest a session is assumed to last, from its first event to its
/// last: a session needs an event at least every 30 minutes to go on.
pub const MAX_SESSION_SPAN_MS: i64 = 24 * 60 * 60 * 1000;

/// What the filtered query covers: a site and `[lo, hi)`, ms UTC.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub site: &'a str,
    pub lo: i64,
    pub hi: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dimension {
    Page,
    EntryPage,
    ExitPage,
    Source,
    Medium,
    Referrer,
    UtmSource,
    UtmMedium,
    UtmCampaign,
    UtmTerm,
    UtmContent,
    Country,
    Region,
    City,
    Device,
    Browser,
    Os,
    Event,
    /// A custom property's values, by key.
    Property(String),
}

/// Every dimension name, for error messages and the OpenAPI file.
pub const NAMES: &[&str] = &[
    "page", "entry_page", "exit_page", "source", "medium", "referrer", "utm_source", "utm_medium", "utm_campaign",
    "utm_term", "utm_content", "country", "region", "city", "device", "browser", "os", "event", "prop:<key>",
];

impl Dimension {
    pub fn parse(name: &str) -> Result<Dimension, QueryError> {
        use Dimension::*;
        Ok(match name {
            "page" => Page,
            "entry_page" => EntryPage,
            "exit_page" => ExitPage,
            "source" => Source,
            "medium" => Medium,
            "referrer" => Referrer,
            "utm_source" => UtmSource,
            "utm_medium" => UtmMedium,
            "utm_campaign" => UtmCampaign,
            "utm_term" => UtmTerm,
            "utm_content" => UtmContent,
            "country" => Country,
            "region" => Region,
            "city" => City,
            "device" => Device,
            "browser" => Browser,
            "os" => Os,
            "event" => Event,
            other => match other.strip_prefix("prop:") {
                Some(key) if !key.is_empty() => Property(key.to_owned()),
                _ => {
                    return Err(QueryError::BadRequest(format!(
                        "unknown dimension {other:?}; known: {}",
                        NAMES.join(", ")
                    )));
                }
            },
        })
    }

    pub fn name(&self) -> String {
        use Dimension::*;
        match self {
            Page => "page",
            EntryPage => "entry_page",
            ExitPage => "exit_page",
            Source => "source",
            Medium => "medium",
            Referrer => "referrer",
            UtmSource => "utm_source",
            UtmMedium => "utm_medium",
            UtmCampaign => "utm_campaign",
            UtmTerm => "utm_term",
            UtmContent => "utm_content",
            Country => "country",
            Region => "region",
            City => "city",
            Device => "device",
            Browser => "browser",
            Os => "os",
            Event => "event",
            Property(key) => return format!("prop:{key}"),
        }
        .to_owned()
    }

    /// The column of `sessions` (alias `s`), for session dimensions.
    pub fn session_column(&self) -> Option<&'static str> {
        use Dimension::*;
        Some(match self {
            EntryPage => "s.entry_path",
            ExitPage => "s.exit_path",
            Source => "s.source",
            Medium => "s.medium",
            Referrer => "s.referrer_host",
            UtmSource => "s.utm_source",
            UtmMedium => "s.utm_medium",
            UtmCampaign => "s.utm_campaign",
            UtmTerm => "s.utm_term",
            UtmContent => "s.utm_content",
            Country => "s.country",
            Region => "s.region",
            City => "s.city",
            Device => "s.device",
            Browser => "s.browser",
            Os => "s.os",
            Page | Event | Property(_) => return None,
        })
    }

    /// The expression over `events` (alias `e`) for event dimensions and for
    /// the session dimensions every event carries too.
    fn event_expression(&self) -> Option<(String, Option<Value>)> {
        use Dimension::*;
        let column = match self {
            Page => "e.path",
            Event => "e.name",
            Country => "e.country",
            Region => "e.region",
            City => "e.city",
            Device => "e.device",
            Browser => "e.browser",
            Os => "e.os",
            Property(key) => return Some((PROPERTY_TEXT.into(), Some(Value::Text(json_path(key))))),
            _ => return None,
        };
        Some((column.into(), None))
    }

}

/// A property's value as text: numbers and booleans compare with the text
/// a breakdown shows for them.
pub const PROPERTY_TEXT: &str = "CAST(json_extract(e.props, ?) AS TEXT)";

/// `$."key"`: the JSON path of a top-level key, quoted so any key works.
pub fn json_path(key: &str) -> String {
    format!("$.\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub dimension: Dimension,
    /// `None` matches a missing value.
    pub value: Option<String>,
}

impl Filter {
    pub fn new(dimension: Dimension, value: &str) -> Filter {
        Filter { dimension, value: (value != NONE_VALUE).then(|| value.to_owned()) }
    }
}

/// A WHERE fragment (`AND …` terms) and its parameters, in order.
#[derive(Debug, Default)]
pub struct Clause {
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
}

/// Conditions on `sessions s` started in `scope`.
pub fn on_sessions(filters: &[Filter], scope: Scope) -> Clause {
    let mut clause = Clause::default();
    let mut on_event = Clause::default();
    for f in filters {
        match f.dimension.session_column() {
            Some(column) => clause.push(column, None, &f.value),
            None => {
                let (expression, param) = f.dimension.event_expression().expect("event dimensions have an expression");
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
        clause.params.extend(scope_params(scope.site, scope.lo, scope.hi + MAX_SESSION_SPAN_MS));
        clause.params.extend(on_event.params);
    }
    clause
}

/// Conditions on `events e` that happened in `scope`.
pub fn on_events(filters: &[Filter], scope: Scope) -> Clause {
    let mut clause = Clause::default();
    let mut on_session = Clause::default();
    for f in filters {
        match f.dimension.event_expression() {
            Some((expression, param)) => clause.push(&expression, param, &f.value),
            None => {
                let column = f.dimension.session_column().expect("session dimensions have a column");
                on_session.push(column, None, &f.value);
            }
        }
    }
    if !on_session.sql.is_empty() {
        // Events in the scope belong to sessions started before its end.
        clause.sql.push_str(&format!(
            " AND e.session_id IN (SELECT s.id FROM sessions s WHERE s.site = ? AND s.start_ts >= ? AND s.start_ts < ?{})",
            on_session.sql
        ));
        clause.params.extend(scope_params(scope.site, scope.lo - MAX_SESSION_SPAN_MS, scope.hi));
        clause.params.extend(on_session.params);
    }
    clause
}

fn scope_params(site: &str, lo: i64, hi: i64) -> [Value; 3] {
    [Value::Text(site.to_owned()), Value::Integer(lo), Value::Integer(hi)]
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCOPE: Scope = Scope { site: "shop", lo: 1000, hi: 2000 };

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
        let day = MAX_SESSION_SPAN_MS;
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
        assert_eq!(clause.params[1], Value::Integer(1000 - MAX_SESSION_SPAN_MS));
    }

    #[test]
    fn unknown_dimensions_are_refused_with_the_known_ones_listed() {
        let err = Dimension::parse("colour").unwrap_err().to_string();
        assert!(err.contains("\"colour\"") && err.contains("utm_campaign"), "{err}");
        assert_eq!(Dimension::parse("prop:plan").unwrap(), Dimension::Property("plan".into()));
    }
}
