//! Bytes to a batch. A body that is not a batch at all is refused whole
//! (wrong type, too large, not gzip, not UTF-8, not JSON, no `site`); each
//! event is read on its own, so that one malformed event (a nested property
//! value, a number for a string) is rejected alone and the rest are kept.
//!
//! Policy: `text/plain` (beacons: no CORS preflight) and `application/json`
//! bodies, identity or `gzip`. The size limit applies to the decompressed
//! body: decompression stops one byte past it, so a gzip bomb costs the
//! collector at most the limit in memory.

use std::io::Read;

use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use waymark_protocol::{Batch, Event, ServerBatch, ServerEvent, limits};

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("body is larger than {limit} bytes (after decompression)")]
    TooLarge { limit: usize },
    #[error("content type {0:?} is not accepted; send `text/plain` or `application/json`")]
    UnsupportedType(String),
    #[error("content encoding {0:?} is not accepted; send `gzip` or no encoding")]
    UnsupportedEncoding(String),
    #[error("body is not valid gzip: {0}")]
    Gzip(String),
    #[error("body is not valid UTF-8 (at byte {0})")]
    NotUtf8(usize),
    #[error("body is not a JSON batch: {0}")]
    Json(String),
    #[error("batch has {0} events; at most {max} are accepted", max = limits::MAX_EVENTS_PER_BATCH)]
    TooManyEvents(usize),
    #[error("`site` is empty")]
    SiteMissing,
}

/// Checks the request's `Content-Type`: a missing one is refused too, since
/// every browser API the SDK uses sets it.
pub fn check_content_type(content_type: Option<&str>) -> Result<(), DecodeError> {
    let essence = content_type.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "text/plain" | "application/json" => Ok(()),
        _ => Err(DecodeError::UnsupportedType(content_type.unwrap_or("").to_owned())),
    }
}

/// The body as sent, decompressed when `Content-Encoding: gzip`, refused
/// past `limit` bytes.
pub fn decompress<'b>(content_encoding: Option<&str>, body: &'b [u8], limit: usize) -> Result<std::borrow::Cow<'b, [u8]>, DecodeError> {
    let too_large = DecodeError::TooLarge { limit };
    match content_encoding.map(|e| e.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("identity") => {
            if body.len() > limit {
                return Err(too_large);
            }
            Ok(std::borrow::Cow::Borrowed(body))
        }
        Some("gzip") | Some("x-gzip") => {
            let mut out = Vec::with_capacity((body.len() * 4).min(limit + 1));
            flate2::read::MultiGzDecoder::new(body)
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| DecodeError::Gzip(e.to_string()))?;
            if out.len() > limit {
                return Err(too_large);
            }
            Ok(std::borrow::Cow::Owned(out))
        }
        Some(other) => Err(DecodeError::UnsupportedEncoding(other.to_owned())),
    }
}

/// A decoded batch: the envelope, and each event or why it could not be
/// read.
pub struct Decoded<E> {
    pub site: String,
    pub sent_at: Option<i64>,
    pub events: Vec<Result<E, Unreadable>>,
}

/// An event that is JSON but not an event.
pub struct Unreadable {
    /// Its `id`, when it has a string one.
    pub id: String,
    pub message: String,
}

/// A browser batch, read as the protocol's [`Batch`] (`sent_at` is
/// required, for clock-skew correction) with each event still raw.
pub fn decode(body: &[u8]) -> Result<Decoded<Event>, DecodeError> {
    let batch: Batch<&RawValue> = envelope(body)?;
    read_events(batch.site, Some(batch.sent_at), &batch.events)
}

/// A server-to-server batch, read as the protocol's [`ServerBatch`].
pub fn decode_server(body: &[u8]) -> Result<Decoded<ServerEvent>, DecodeError> {
    let batch: ServerBatch<&RawValue> = envelope(body)?;
    read_events(batch.site, batch.sent_at, &batch.events)
}

fn envelope<'b, T: serde::Deserialize<'b>>(body: &'b [u8]) -> Result<T, DecodeError> {
    let text = std::str::from_utf8(body).map_err(|e| DecodeError::NotUtf8(e.valid_up_to()))?;
    serde_json::from_str(text).map_err(|e| DecodeError::Json(e.to_string()))
}

fn read_events<E: DeserializeOwned>(site: String, sent_at: Option<i64>, raw: &[&RawValue]) -> Result<Decoded<E>, DecodeError> {
    check_shape(&site, raw.len())?;
    let events = raw
        .iter()
        .map(|raw| {
            serde_json::from_str::<E>(raw.get()).map_err(|e| Unreadable {
                id: serde_json::from_str::<serde_json::Value>(raw.get())
                    .ok()
                    .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(str::to_owned))
                    .unwrap_or_default(),
                message: e.to_string(),
            })
        })
        .collect();
    Ok(Decoded { site, sent_at, events })
}

fn check_shape(site: &str, events: usize) -> Result<(), DecodeError> {
    if site.is_empty() {
        return Err(DecodeError::SiteMissing);
    }
    if events > limits::MAX_EVENTS_PER_BATCH {
        return Err(DecodeError::TooManyEvents(events));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn invalid_json_names_the_problem() {
        let err = decode(b"{not json").err().unwrap();
        assert!(err.to_string().starts_with("body is not a JSON batch"), "{err}");
    }

    #[test]
    fn a_missing_field_is_named() {
        let err = decode(br#"{"site":"demo","events":[]}"#).err().unwrap();
        assert!(err.to_string().contains("sent_at"), "{err}");
    }

    #[test]
    fn invalid_utf8_is_refused_with_its_position() {
        let err = decode(b"{\"site\":\"d\xff\"}").err().unwrap();
        assert!(matches!(err, DecodeError::NotUtf8(10)), "{err}");
    }

    #[test]
    fn one_malformed_event_leaves_the_others_readable() {
        let body = br#"{"site":"demo","sent_at":1,"events":[{"id":"a","name":"x","url":"https://a.example/"},
            {"id":"b","name":"x","props":{"nested":{"no":1}}},{"id":"c","ts":"yesterday"}]}"#;
        let batch = decode(body).ok().unwrap();
        assert!(batch.events[0].is_ok());
        let Err(nested) = &batch.events[1] else { panic!("a nested property is not readable") };
        assert_eq!(nested.id, "b");
        let Err(wrong_type) = &batch.events[2] else { panic!("a string `ts` is not readable") };
        assert!(wrong_type.message.contains("invalid type"), "{}", wrong_type.message);
    }

    #[test]
    fn a_gzip_bomb_stops_one_byte_past_the_limit() {
        let bomb = gzip(&vec![b' '; 64 * 1024 * 1024]);
        assert!(bomb.len() < 100 * 1024, "the bomb is small on the wire");
        let err = decompress(Some("gzip"), &bomb, limits::MAX_BODY_BYTES).unwrap_err();
        assert!(matches!(err, DecodeError::TooLarge { .. }));
    }

    #[test]
    fn gzip_bodies_within_the_limit_are_decompressed() {
        let body = br#"{"site":"demo","sent_at":1,"events":[]}"#;
        assert_eq!(&*decompress(Some("gzip"), &gzip(body), 1000).unwrap(), body);
        assert!(matches!(decompress(Some("gzip"), b"plain", 1000), Err(DecodeError::Gzip(_))));
        assert!(matches!(decompress(Some("br"), b"x", 1000), Err(DecodeError::UnsupportedEncoding(_))));
    }

    #[test]
    fn only_text_and_json_content_types_are_accepted() {
        assert!(check_content_type(Some("text/plain;charset=UTF-8")).is_ok());
        assert!(check_content_type(Some("application/json")).is_ok());
        assert!(check_content_type(Some("application/x-www-form-urlencoded")).is_err());
        assert!(check_content_type(None).is_err());
    }
}
