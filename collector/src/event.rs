//! An event as the collector keeps it: validated, enriched, timed on the
//! collector's clock, with the ids the pipeline gave it. The one type every
//! stage after validation passes along and every backend stores.

/// An event as it is stored: validated, enriched, with its time on the
/// collector's clock and the ids the collector assigned.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredEvent {
    pub site: String,
    pub id: String,
    /// Skew-corrected event time, ms since the epoch (UTC).
    pub ts: i64,
    pub received_ms: i64,
    pub name: String,
    /// The server-side session this event belongs to (set by the store).
    pub session_id: String,
    /// The session id the SDK sent, if any.
    pub client_session_id: Option<String>,
    /// The SDK's visitor id, or the collector's daily cookieless key.
    pub visitor_id: String,
    /// For a cookieless event shortly after midnight: the visitor's key
    /// under yesterday's salt. The store uses it instead of `visitor_id`
    /// when that visitor is still in a session, so visits span midnight.
    #[serde(skip)]
    pub visitor_id_yesterday: Option<String>,
    pub user_id: Option<String>,
    pub url: String,
    pub host: String,
    pub path: String,
    pub referrer: Option<String>,
    pub title: Option<String>,
    /// Custom properties as a JSON object.
    pub props: String,
    pub engaged_ms: Option<i64>,
    pub referrer_host: Option<String>,
    pub source: Option<String>,
    pub medium: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub utm_term: Option<String>,
    pub utm_content: Option<String>,
    pub browser: Option<String>,
    pub browser_version: Option<String>,
    pub os: Option<String>,
    pub device: Option<String>,
    pub country: Option<String>,
    pub region: Option<String>,
    pub city: Option<String>,
}
