//! One Segment message to one Waymark event: ids, name, page, props and
//! time, by the rules [`super`] states. Pure: the site, the envelope and
//! the arrival time are passed in.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use uuid::Uuid;
use waymark_protocol::{Event, PropValue, Rejection, check_custom_name, is_uuid, names};

use super::{Kind, Refusal};
use crate::ingest::validate::StatedSender;

/// The namespace of Waymark's derived ids (UUID v5): event ids from
/// `messageId`s and visitor ids from `anonymousId`s that are not UUIDs.
const NAMESPACE: Uuid = Uuid::from_u128(0x7761_796d_6172_6b00_8000_7365_676d_656e);

/// What every message of one request shares.
pub struct Envelope<'a> {
    pub site: &'a str,
    /// The batch's `sentAt`, for messages without their own.
    pub sent_at: Option<&'a Value>,
    /// The batch's `context`, under each message's own.
    pub context: Option<&'a Map<String, Value>>,
    /// The kind the path named, for a message without `type`.
    pub call: Option<Kind>,
    /// Sent by a browser, whose own request says who the visitor is: its
    /// `context.ip` and `context.userAgent` are not read.
    pub from_browser: bool,
}

/// A message as an event of the protocol, with the offset that moves its
/// time onto the collector's clock and the sender it states.
pub struct Mapped {
    pub event: Event,
    pub offset_ms: i64,
    pub stated: StatedSender,
}

/// The `messageId` as sent, to name a refused message in the answer.
pub fn id_of(message: &Map<String, Value>) -> String {
    message.get("messageId").and_then(Value::as_str).unwrap_or_default().to_owned()
}

pub fn map(envelope: &Envelope, m: &Map<String, Value>, now_ms: i64) -> Result<Mapped, Refusal> {
    let kind = match m.get("type").and_then(Value::as_str) {
        Some(name) => Kind::from_type(name).ok_or_else(|| Refusal::TypeUnknown(name.to_owned()))?,
        None => envelope.call.ok_or_else(|| Refusal::TypeUnknown(String::new()))?,
    };
    if kind == Kind::Group {
        return Err(Refusal::GroupUnsupported);
    }
    let site = envelope.site;
    let context = Context::of(m, envelope.context);
    let user_id = text_id(m, "userId")?;
    let visitor = match kind {
        Kind::Alias => {
            let previous = text_id(m, "previousId")?;
            if previous.is_none() || user_id.is_none() {
                return Err(Refusal::AliasIncomplete);
            }
            previous
        }
        _ => text_id(m, "anonymousId")?.or_else(|| user_id.clone()),
    }
    .ok_or(Refusal::IdentityMissing)?;

    let id = match text_id(m, "messageId")? {
        Some(id) => uuid_or_derived("message", site, &id),
        None => uuid_or_derived("message-text", site, &Value::Object(m.clone()).to_string()),
    };
    let properties = m.get("properties").and_then(Value::as_object);
    let page_field = |key: &str| context.page(key).or_else(|| text(properties?.get(key)?));
    let host = context.app_host().unwrap_or(site);
    let screen_name = text_of(m, "name");
    let (name, url, title) = match kind {
        Kind::Track => {
            let event = text_of(m, "event").filter(|e| !e.is_empty()).ok_or(Refusal::EventMissing)?;
            check_custom_name(&event).map_err(Rejection::from)?;
            (event, context.page("url").unwrap_or_else(|| format!("https://{host}/")), context.page("title"))
        }
        Kind::Page => {
            let path = page_field("path").filter(|p| p.starts_with('/')).unwrap_or_else(|| "/".into());
            let url = page_field("url").unwrap_or_else(|| format!("https://{host}{path}"));
            (names::PAGEVIEW.to_owned(), url, page_field("title").or_else(|| screen_name.clone()))
        }
        Kind::Screen => (names::PAGEVIEW.to_owned(), screen_url(host, screen_name.as_deref()), screen_name.clone()),
        Kind::Identify | Kind::Alias => {
            (names::IDENTIFY.to_owned(), context.page("url").unwrap_or_else(|| format!("https://{host}/")), None)
        }
        Kind::Group => unreachable!("refused above"),
    };
    let referrer = match kind {
        Kind::Page => page_field("referrer"),
        _ => context.page("referrer"),
    }
    .filter(|r| !r.is_empty());

    let mut props = BTreeMap::new();
    match kind {
        Kind::Identify => flatten("", m.get("traits").and_then(Value::as_object), &mut props),
        Kind::Alias => {
            props.insert("previous_id".into(), PropValue::Text(text_id(m, "previousId")?.unwrap_or_default()));
        }
        _ => flatten("", properties, &mut props),
    }
    if kind == Kind::Page {
        // Kept in the event's own fields; analytics.js repeats them here.
        for key in ["url", "path", "referrer", "title", "search"] {
            props.remove(key);
        }
    }
    if matches!(kind, Kind::Page | Kind::Screen) {
        if let Some(category) = text_of(m, "category") {
            props.insert("category".into(), PropValue::Text(category));
        }
        if let Some(name) = screen_name.filter(|n| Some(n) != title.as_ref()) {
            props.insert("name".into(), PropValue::Text(name));
        }
    }

    let (device_ts, offset_ms) = time(m, envelope.sent_at, now_ms)?;
    let stated = if envelope.from_browser {
        StatedSender { ip: None, user_agent: None }
    } else {
        let ip = match context.text("ip") {
            Some(ip) => Some(ip.parse().map_err(|_| Refusal::Wire(Rejection::IpInvalid))?),
            None => None,
        };
        StatedSender { ip, user_agent: context.text("userAgent") }
    };
    Ok(Mapped {
        event: Event {
            id,
            name,
            ts: device_ts,
            session_id: None,
            visitor_id: Some(uuid_or_derived("visitor", site, &visitor)),
            user_id,
            url: with_campaign(url, context.campaign()),
            referrer,
            title,
            engaged_ms: None,
            props,
            new_ids: false,
        },
        offset_ms,
        stated,
    })
}

/// A message's `context`, over the batch's.
struct Context<'m> {
    own: Option<&'m Map<String, Value>>,
    batch: Option<&'m Map<String, Value>>,
}

impl<'m> Context<'m> {
    fn of(m: &'m Map<String, Value>, batch: Option<&'m Map<String, Value>>) -> Context<'m> {
        Context { own: m.get("context").and_then(Value::as_object), batch }
    }

    fn get(&self, key: &str) -> Option<&'m Value> {
        self.own.and_then(|c| c.get(key)).or_else(|| self.batch.and_then(|c| c.get(key)))
    }

    fn text(&self, key: &str) -> Option<String> {
        text(self.get(key)?)
    }

    fn page(&self, key: &str) -> Option<String> {
        text(self.get("page")?.get(key)?)
    }

    /// The host of an app's screens: its `context.app.namespace`
    /// (`com.example.shop`) when that can be a host name.
    fn app_host(&self) -> Option<&'m str> {
        let namespace = self.get("app")?.get("namespace")?.as_str()?;
        let host_like = !namespace.is_empty()
            && namespace.len() <= 253
            && namespace.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        host_like.then_some(namespace)
    }

    /// `context.campaign` as `utm_*` parameters.
    fn campaign(&self) -> Vec<(&'static str, String)> {
        let Some(campaign) = self.get("campaign").and_then(Value::as_object) else { return Vec::new() };
        [("source", "utm_source"), ("medium", "utm_medium"), ("name", "utm_campaign"), ("term", "utm_term"), ("content", "utm_content")]
            .into_iter()
            .filter_map(|(field, parameter)| Some((parameter, text(campaign.get(field)?)?)))
            .collect()
    }
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

fn text_of(m: &Map<String, Value>, key: &str) -> Option<String> {
    text(m.get(key)?)
}

/// An id field: a string, or a number written as one (the Python client
/// takes both); absent, null or empty is none.
fn text_id(m: &Map<String, Value>, field: &'static str) -> Result<Option<String>, Refusal> {
    match m.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone()).filter(|s| !s.is_empty())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(_) => Err(Refusal::IdNotText(field)),
    }
}

/// A UUID as sent (lower case), or the UUID v5 of the site and the id:
/// the same id always gives the same UUID, and two sites never share one.
fn uuid_or_derived(kind: &str, site: &str, id: &str) -> String {
    if is_uuid(id) {
        return id.to_ascii_lowercase();
    }
    Uuid::new_v5(&NAMESPACE, format!("{kind}\0{site}\0{id}").as_bytes()).hyphenated().to_string()
}

/// `https://<host>/<screen name>`, the name one path segment (escaped).
fn screen_url(host: &str, name: Option<&str>) -> String {
    let base = format!("https://{host}/");
    match (url::Url::parse(&base), name) {
        (Ok(mut url), Some(name)) => {
            if let Ok(mut segments) = url.path_segments_mut() {
                segments.clear().push(name);
            }
            url.to_string()
        }
        _ => base,
    }
}

/// The page's URL with the stated campaign as its `utm_*` parameters,
/// unless the URL names a campaign itself.
fn with_campaign(url: String, campaign: Vec<(&'static str, String)>) -> String {
    if campaign.is_empty() {
        return url;
    }
    let Ok(mut parsed) = url::Url::parse(&url) else { return url };
    if parsed.query_pairs().any(|(key, _)| key.starts_with("utm_")) {
        return url;
    }
    parsed.query_pairs_mut().extend_pairs(campaign);
    parsed.to_string()
}

/// Properties into Waymark's flat props: objects to dotted keys, arrays to
/// their JSON text, nulls dropped. The protocol's limits are checked after.
fn flatten(prefix: &str, object: Option<&Map<String, Value>>, props: &mut BTreeMap<String, PropValue>) {
    for (key, value) in object.into_iter().flatten() {
        let key = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            Value::Null => {}
            Value::Bool(b) => {
                props.insert(key, PropValue::Bool(*b));
            }
            Value::Number(n) => {
                props.insert(key, PropValue::Number(n.as_f64().unwrap_or(f64::NAN)));
            }
            Value::String(s) => {
                props.insert(key, PropValue::Text(s.clone()));
            }
            Value::Array(_) => {
                props.insert(key, PropValue::Text(value.to_string()));
            }
            Value::Object(inner) => flatten(&key, Some(inner), props),
        }
    }
}

/// The message's time on the sender's clock and the offset onto the
/// collector's, as Segment corrects it: a device time (`originalTimestamp`,
/// or `timestamp` alone) moves by `receivedAt - sentAt`; a `timestamp`
/// beside an `originalTimestamp` is already corrected; none is now.
fn time(m: &Map<String, Value>, batch_sent_at: Option<&Value>, now_ms: i64) -> Result<(i64, i64), Refusal> {
    let timestamp = instant(m.get("timestamp"), "timestamp")?;
    let original = instant(m.get("originalTimestamp"), "originalTimestamp")?;
    let sent_at = match m.get("sentAt") {
        Some(own) if !own.is_null() => instant(Some(own), "sentAt")?,
        _ => instant(batch_sent_at, "sentAt")?,
    };
    let offset = |device: i64| (device, sent_at.map_or(0, |sent| now_ms - sent));
    Ok(match (timestamp, original) {
        (Some(corrected), Some(_)) => (corrected, 0),
        (None, Some(device)) | (Some(device), None) => offset(device),
        (None, None) => (now_ms, 0),
    })
}

/// An ISO 8601 date-time with an offset, in ms since the epoch.
fn instant(value: Option<&Value>, field: &'static str) -> Result<Option<i64>, Refusal> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let at: jiff::Timestamp = s.parse().map_err(|_| Refusal::TimestampInvalid(field))?;
            Ok(Some(at.as_millisecond()))
        }
        Some(_) => Err(Refusal::TimestampInvalid(field)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_764_072_000_000; // 2025-11-25T12:00:00Z

    fn mapped(message: Value) -> Result<Mapped, Refusal> {
        let envelope = Envelope { site: "shop", sent_at: None, context: None, call: None, from_browser: false };
        map(&envelope, message.as_object().unwrap(), NOW)
    }

    fn code(message: Value) -> &'static str {
        mapped(message).err().map_or("mapped", |r| r.code())
    }

    #[test]
    fn a_message_id_that_is_not_a_uuid_maps_to_the_same_uuid_every_time_and_per_site() {
        let id = |site| uuid_or_derived("message", site, "ajs-1");
        assert_eq!(id("shop"), id("shop"));
        assert_ne!(id("shop"), id("blog"));
        assert!(is_uuid(&id("shop")));
        assert_eq!(uuid_or_derived("message", "shop", "0F8FAD5B-D9CB-469F-A165-70867728950E"), "0f8fad5b-d9cb-469f-a165-70867728950e");
    }

    #[test]
    fn a_track_is_an_event_of_its_name_with_flattened_properties() {
        let m = mapped(json!({"type": "track", "event": "Order Completed", "userId": "u-1", "messageId": "m-1",
            "properties": {"total": 42.5, "coupon": null, "cart": {"items": 2, "gift": true}, "skus": ["a", "b"]}}))
        .ok()
        .unwrap();
        assert_eq!(m.event.name, "Order Completed");
        assert_eq!(m.event.user_id.as_deref(), Some("u-1"));
        assert_eq!(m.event.visitor_id, Some(uuid_or_derived("visitor", "shop", "u-1")), "only a user id: the visitor is derived from it");
        let props: Vec<_> = m.event.props.keys().map(String::as_str).collect();
        assert_eq!(props, ["cart.gift", "cart.items", "skus", "total"]);
        assert_eq!(m.event.props["skus"], PropValue::Text(r#"["a","b"]"#.into()));
        assert_eq!(m.event.url, "https://shop/");
    }

    #[test]
    fn a_page_is_a_pageview_of_its_context_page_and_a_screen_one_of_its_name() {
        let page = mapped(json!({"type": "page", "anonymousId": "a-1", "name": "Pricing",
            "context": {"page": {"url": "https://shop.example/pricing", "referrer": "https://news.example/", "title": "Pricing | Shop"}},
            "properties": {"url": "https://shop.example/pricing", "path": "/pricing", "plan": "pro"}}))
        .ok()
        .unwrap();
        assert_eq!((page.event.name.as_str(), page.event.url.as_str()), ("$pageview", "https://shop.example/pricing"));
        assert_eq!(page.event.referrer.as_deref(), Some("https://news.example/"));
        assert_eq!(page.event.title.as_deref(), Some("Pricing | Shop"));
        assert_eq!(page.event.props.keys().collect::<Vec<_>>(), ["name", "plan"]);
        let screen = mapped(json!({"type": "screen", "anonymousId": "a-1", "name": "Order Details",
            "context": {"app": {"namespace": "com.example.shop"}}}))
        .ok()
        .unwrap();
        assert_eq!(screen.event.url, "https://com.example.shop/Order%20Details");
        assert_eq!(screen.event.title.as_deref(), Some("Order Details"));
    }

    #[test]
    fn identify_keeps_traits_and_alias_links_the_previous_id_to_the_user() {
        let identify = mapped(
            json!({"type": "identify", "userId": "u-1", "anonymousId": "a-1", "traits": {"plan": "pro", "address": {"city": "Lyon"}}}),
        )
        .ok()
        .unwrap();
        assert_eq!(identify.event.name, "$identify");
        assert_eq!(identify.event.props.keys().collect::<Vec<_>>(), ["address.city", "plan"]);
        let alias = mapped(json!({"type": "alias", "previousId": "a-1", "userId": "u-1"})).ok().unwrap();
        assert_eq!((alias.event.name.as_str(), alias.event.user_id.as_deref()), ("$identify", Some("u-1")));
        assert_eq!(alias.event.visitor_id, identify.event.visitor_id, "the previous id's visitor");
    }

    #[test]
    fn what_cannot_be_mapped_is_refused_with_its_reason() {
        assert_eq!(code(json!({"type": "track", "event": "x"})), "identity_missing");
        assert_eq!(code(json!({"type": "track", "userId": "u"})), "event_name_missing");
        assert_eq!(code(json!({"type": "track", "userId": "u", "event": "$pageview"})), "name_reserved");
        assert_eq!(code(json!({"type": "group", "userId": "u", "groupId": "g"})), "group_unsupported");
        assert_eq!(code(json!({"type": "alias", "userId": "u"})), "alias_incomplete");
        assert_eq!(code(json!({"type": "flush", "userId": "u"})), "type_unknown");
        assert_eq!(code(json!({"type": "track", "userId": {"id": 1}, "event": "x"})), "id_invalid");
        assert_eq!(code(json!({"type": "track", "userId": "u", "event": "x", "timestamp": "yesterday"})), "timestamp_invalid");
        assert_eq!(code(json!({"type": "track", "userId": "u", "event": "x", "context": {"ip": "nope"}})), "ip_invalid");
    }

    #[test]
    fn a_server_states_the_visitors_address_and_browser_and_a_browser_does_not() {
        let message = json!({"type": "track", "userId": "u", "event": "x", "context": {"ip": "nope", "userAgent": "Firefox"}});
        let message = message.as_object().unwrap();
        let from = |from_browser| map(&Envelope { site: "shop", sent_at: None, context: None, call: None, from_browser }, message, NOW);
        assert_eq!(from(false).err().map(|r| r.code()), Some("ip_invalid"));
        let browser = from(true).ok().unwrap();
        assert_eq!((browser.stated.ip, browser.stated.user_agent), (None, None), "its own request says it");
    }

    #[test]
    fn the_device_time_is_corrected_by_sent_at_and_a_corrected_timestamp_is_kept() {
        let at = |m: Value| {
            let m = m.as_object().unwrap().clone();
            time(&m, Some(&json!("2025-11-25T11:50:00Z")), NOW).ok().unwrap()
        };
        let ten_minutes = 10 * 60_000;
        // The device's clock is ten minutes behind: its event, sent at once, happened now.
        assert_eq!(at(json!({"timestamp": "2025-11-25T11:50:00.000Z"})), (NOW - ten_minutes, ten_minutes));
        assert_eq!(at(json!({"originalTimestamp": "2025-11-25T11:50:00+00:00"})), (NOW - ten_minutes, ten_minutes));
        assert_eq!(at(json!({"timestamp": "2025-11-25T11:00:00Z", "originalTimestamp": "2025-11-25T10:50:00Z"})), (NOW - 60 * 60_000, 0));
        assert_eq!(at(json!({"timestamp": "2025-11-25T11:50:00Z", "sentAt": "2025-11-25T11:50:00Z"})), (NOW - ten_minutes, ten_minutes));
        let m = json!({}).as_object().unwrap().clone();
        assert_eq!(time(&m, None, NOW).ok().unwrap(), (NOW, 0));
    }

    #[test]
    fn a_stated_campaign_becomes_the_urls_utm_parameters_unless_it_has_its_own() {
        let campaign = vec![("utm_source", "newsletter".to_owned()), ("utm_campaign", "spring sale".to_owned())];
        assert_eq!(with_campaign("https://shop/".into(), campaign.clone()), "https://shop/?utm_source=newsletter&utm_campaign=spring+sale");
        assert_eq!(with_campaign("https://shop/?utm_source=ad".into(), campaign), "https://shop/?utm_source=ad");
    }
}
