//! The column each dimension is stored in: the same names in every
//! backend's `sessions` and `events` tables (what a dimension means is
//! [`crate::query::filter`]'s; how a backend reads a property is its own).

use crate::query::filter::Dimension;

/// The column of `sessions`, for session dimensions.
pub fn session_column(dimension: &Dimension) -> Option<&'static str> {
    use Dimension::*;
    Some(match dimension {
        EntryPage => "entry_path",
        ExitPage => "exit_path",
        Source => "source",
        Medium => "medium",
        Referrer => "referrer_host",
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
        Visitors(_) => "visitor_id",
        Page | Event | Property(_) => return None,
    })
}

/// The column of `events` for the dimensions events carry in a column of
/// their own (a property is inside `props`).
pub fn event_column(dimension: &Dimension) -> Option<&'static str> {
    use Dimension::*;
    Some(match dimension {
        Page => "path",
        Event => "name",
        Country => "country",
        Region => "region",
        City => "city",
        Device => "device",
        Browser => "browser",
        Os => "os",
        _ => return None,
    })
}
