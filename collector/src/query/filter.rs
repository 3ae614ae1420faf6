//! Dimensions (what a breakdown groups by and a filter narrows on) and the
//! filters over them, as typed values every backend reads the same way.
//!
//! Policy: a dimension belongs either to the session (where the visit came
//! from, who made it, where it entered and left) or to the event (page,
//! event name, property): its [`Level`]. Filtering sessions by an event
//! dimension keeps the sessions with at least one matching event; all event
//! filters must hold on that same event (`page=/pricing` and
//! `event=signup`: a signup on /pricing). Filtering events by a session
//! dimension keeps the events of matching sessions, except for device,
//! browser, OS and place, which every event carries itself
//! ([`Dimension::carried_by_events`]). The value `(none)` matches a missing
//! value. A backend may assume no session lasts longer than the site's
//! maximum length ([`super::Site::session_max_ms`]: the collector cuts
//! sessions there) when it looks for a session's events.
//!
//! The SQL each becomes is the SQLite backend's (`store::sqlite::reads::filter`).

use super::QueryError;

/// What a filtered question covers: a site and `[lo, hi)`, ms UTC, and the
/// longest a session of the site lasts (see [`super::Site::session_max_ms`]).
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub site: &'a str,
    pub lo: i64,
    pub hi: i64,
    pub span: i64,
}

impl Scope<'_> {
    pub fn of(site: &super::Site, lo: i64, hi: i64) -> Scope<'_> {
        Scope { site: &site.key, lo, hi, span: site.session_max_ms }
    }
}

/// How a missing value is shown, and how a filter asks for one.
pub const NONE_VALUE: &str = "(none)";


/// What a dimension's value describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The visit as a whole: a column of the session.
    Session,
    /// Each event on its own.
    Event,
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
    /// Only these visitors: a segment's members over the report's period
    /// (see [`super::segments`]). Made by the collector, never parsed from
    /// a request, never a breakdown.
    Visitors(std::sync::Arc<[String]>),
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
            Visitors(_) => "segment",
        }
        .to_owned()
    }

    pub fn level(&self) -> Level {
        use Dimension::*;
        match self {
            Page | Event | Property(_) => Level::Event,
            Visitors(_) => Level::Session,
            EntryPage | ExitPage | Source | Medium | Referrer | UtmSource | UtmMedium | UtmCampaign | UtmTerm | UtmContent
            | Country | Region | City | Device | Browser | Os => Level::Session,
        }
    }

    /// Whether each event carries this value itself (then events filter on
    /// their own copy rather than on their session's): the event dimensions,
    /// and the device, browser, OS and place of the session ones.
    pub fn carried_by_events(&self) -> bool {
        use Dimension::*;
        matches!(self, Page | Event | Property(_) | Country | Region | City | Device | Browser | Os | Visitors(_))
    }
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

    /// Only the sessions and events of these visitors.
    pub fn visitors(ids: impl IntoIterator<Item = String>) -> Filter {
        Filter { dimension: Dimension::Visitors(ids.into_iter().collect()), value: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_dimensions_are_refused_with_the_known_ones_listed() {
        let err = Dimension::parse("colour").unwrap_err().to_string();
        assert!(err.contains("\"colour\"") && err.contains("utm_campaign"), "{err}");
        assert_eq!(Dimension::parse("prop:plan").unwrap(), Dimension::Property("plan".into()));
    }

    #[test]
    fn device_and_place_filter_events_by_their_own_value_and_where_a_visit_came_from_by_its_session() {
        for name in ["device", "browser", "os", "country", "region", "city"] {
            let d = Dimension::parse(name).unwrap();
            assert_eq!((d.level(), d.carried_by_events()), (Level::Session, true), "{name}");
        }
        for name in ["source", "entry_page", "exit_page", "utm_campaign", "referrer"] {
            let d = Dimension::parse(name).unwrap();
            assert_eq!((d.level(), d.carried_by_events()), (Level::Session, false), "{name}");
        }
        for name in ["page", "event", "prop:plan"] {
            assert_eq!(Dimension::parse(name).unwrap().level(), Level::Event, "{name}");
        }
    }
}
