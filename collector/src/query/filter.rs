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

use rusqlite::types::Value;

use super::QueryError;

/// How a missing value is shown, and how a filter asks for one.
pub const NONE_VALUE: &str = "(none)";

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

    fn is_event_dimension(&self) -> bool {
        self.session_column().is_none()
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

/// Conditions on `sessions s`.
pub fn on_sessions(filters: &[Filter]) -> Clause {
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
        clause.sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM events e WHERE e.site = s.site AND e.session_id = s.id{})",
            on_event.sql
        ));
        clause.params.extend(on_event.params);
    }
    clause
}

/// Conditions on `events e`.
pub fn on_events(filters: &[Filter]) -> Clause {
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
        clause.sql.push_str(&format!(
            " AND EXISTS (SELECT 1 FROM sessions s WHERE s.site = e.site AND s.id = e.session_id{})",
            on_session.sql
        ));
        clause.params.extend(on_session.params);
    }
    clause
}

/// Whether any filter needs the events of a session (the slower path).
pub fn needs_events(filters: &[Filter]) -> bool {
    filters.iter().any(|f| f.dimension.is_event_dimension())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_filter_on_sessions_asks_for_one_matching_event() {
        let filters = [
            Filter::new(Dimension::Country, "DE"),
            Filter::new(Dimension::Page, "/pricing"),
            Filter::new(Dimension::Property("plan".into()), "pro"),
        ];
        let clause = on_sessions(&filters);
        assert_eq!(
            clause.sql,
            " AND s.country = ? AND EXISTS (SELECT 1 FROM events e WHERE e.site = s.site AND e.session_id = s.id \
             AND e.path = ? AND CAST(json_extract(e.props, ?) AS TEXT) = ?)"
        );
        assert_eq!(clause.params.len(), 4);
        assert_eq!(clause.params[2], Value::Text("$.\"plan\"".into()));
    }

    #[test]
    fn none_matches_a_missing_value() {
        let clause = on_events(&[Filter::new(Dimension::Source, NONE_VALUE)]);
        assert!(clause.sql.ends_with("s.id = e.session_id AND s.source IS NULL)"), "{}", clause.sql);
        assert!(clause.params.is_empty());
    }

    #[test]
    fn unknown_dimensions_are_refused_with_the_known_ones_listed() {
        let err = Dimension::parse("colour").unwrap_err().to_string();
        assert!(err.contains("\"colour\"") && err.contains("utm_campaign"), "{err}");
        assert_eq!(Dimension::parse("prop:plan").unwrap(), Dimension::Property("plan".into()));
    }
}
