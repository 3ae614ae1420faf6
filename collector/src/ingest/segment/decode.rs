//! A Segment API body to messages. A body that is not JSON, or a batch
//! without `batch`, is refused whole; each message of a batch is read on
//! its own, so one that is too large or not an object is refused alone.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use waymark_protocol::limits;

use super::{MAX_MESSAGE_BYTES, Refusal};
use crate::ingest::decode::DecodeError;

/// What a message is, from its `type` or the path it was sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Track,
    Page,
    Screen,
    Identify,
    Alias,
    Group,
}

impl Kind {
    pub fn from_type(name: &str) -> Option<Kind> {
        Some(match name {
            "track" => Kind::Track,
            "page" => Kind::Page,
            "screen" => Kind::Screen,
            "identify" => Kind::Identify,
            "alias" => Kind::Alias,
            "group" => Kind::Group,
            _ => return None,
        })
    }
}

/// What a request to `/v1/<path>` carries: a batch, or one message of a
/// kind. The short paths are analytics.js's (`/v1/t`, `/v1/p`, …, `/v1/b`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Batch,
    One(Kind),
}

impl Call {
    pub fn from_path(path: &str) -> Option<Call> {
        Some(match path {
            "batch" | "b" => Call::Batch,
            "track" | "t" => Call::One(Kind::Track),
            "page" | "p" => Call::One(Kind::Page),
            "screen" | "s" => Call::One(Kind::Screen),
            "identify" | "i" => Call::One(Kind::Identify),
            "alias" | "a" => Call::One(Kind::Alias),
            "group" | "g" => Call::One(Kind::Group),
            _ => return None,
        })
    }

    /// The largest body this call may have.
    pub fn max_body_bytes(self) -> usize {
        match self {
            Call::Batch => super::MAX_BATCH_BYTES,
            Call::One(_) => MAX_MESSAGE_BYTES,
        }
    }
}

/// A decoded body: the write key and `sentAt` it states, the context every
/// message shares, and each message or why it could not be read.
pub struct Received {
    pub write_key: Option<String>,
    pub sent_at: Option<Value>,
    pub context: Option<Map<String, Value>>,
    /// The kind the path says, for a single message.
    pub kind: Option<Kind>,
    pub messages: Vec<Result<Map<String, Value>, Unread>>,
}

/// A message that could not be read, with its `messageId` when it has one.
pub struct Unread {
    pub id: String,
    pub refusal: Refusal,
}

#[derive(Deserialize)]
struct Envelope<'b> {
    #[serde(borrow)]
    batch: Vec<&'b RawValue>,
    #[serde(default, rename = "writeKey")]
    write_key: Option<String>,
    #[serde(default, rename = "sentAt")]
    sent_at: Option<Value>,
    #[serde(default)]
    context: Option<Map<String, Value>>,
}

pub fn decode(call: Call, body: &[u8]) -> Result<Received, DecodeError> {
    let text = std::str::from_utf8(body).map_err(|e| DecodeError::NotUtf8(e.valid_up_to()))?;
    match call {
        Call::One(kind) => {
            let message: Map<String, Value> = serde_json::from_str(text).map_err(|e| DecodeError::Json(e.to_string()))?;
            let write_key = message.get("writeKey").and_then(Value::as_str).map(str::to_owned);
            Ok(Received { write_key, sent_at: None, context: None, kind: Some(kind), messages: vec![Ok(message)] })
        }
        Call::Batch => {
            let envelope: Envelope = serde_json::from_str(text).map_err(|e| DecodeError::Json(e.to_string()))?;
            if envelope.batch.len() > limits::MAX_EVENTS_PER_BATCH {
                return Err(DecodeError::TooManyEvents(envelope.batch.len()));
            }
            Ok(Received {
                write_key: envelope.write_key,
                sent_at: envelope.sent_at,
                context: envelope.context,
                kind: None,
                messages: envelope.batch.iter().map(|raw| read_message(raw.get())).collect(),
            })
        }
    }
}

fn read_message(raw: &str) -> Result<Map<String, Value>, Unread> {
    let value: Result<Value, _> = serde_json::from_str(raw);
    let id = value.as_ref().ok().and_then(|v| v.get("messageId")).and_then(Value::as_str).unwrap_or_default().to_owned();
    if raw.len() > MAX_MESSAGE_BYTES {
        return Err(Unread { id, refusal: Refusal::TooLarge });
    }
    match value {
        Ok(Value::Object(message)) => Ok(message),
        Ok(_) => Err(Unread { id, refusal: Refusal::Malformed("a message must be a JSON object".into()) }),
        Err(e) => Err(Unread { id, refusal: Refusal::Malformed(e.to_string()) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_short_paths_are_the_long_ones() {
        assert_eq!(Call::from_path("b"), Some(Call::Batch));
        assert_eq!(Call::from_path("t"), Call::from_path("track"));
        assert_eq!(Call::from_path("s"), Some(Call::One(Kind::Screen)));
        assert_eq!(Call::from_path("collect"), None);
    }

    #[test]
    fn a_batch_keeps_its_readable_messages_and_refuses_the_others_alone() {
        let big = "x".repeat(MAX_MESSAGE_BYTES);
        let body = format!(
            r#"{{"writeKey":"wk","sentAt":"2025-11-25T12:00:00Z","batch":[{{"type":"track"}},[1],{{"messageId":"m3","p":"{big}"}}]}}"#
        );
        let received = decode(Call::Batch, body.as_bytes()).ok().unwrap();
        assert_eq!(received.write_key.as_deref(), Some("wk"));
        assert!(received.messages[0].is_ok());
        let codes: Vec<_> = received.messages.iter().skip(1).map(|m| m.as_ref().err().map(|u| (u.id.clone(), u.refusal.code()))).collect();
        assert_eq!(codes, [Some((String::new(), "event_malformed")), Some(("m3".into(), "event_too_large"))]);
    }

    #[test]
    fn a_body_that_is_not_a_batch_is_refused_whole() {
        assert!(matches!(decode(Call::Batch, b"{not json"), Err(DecodeError::Json(_))));
        assert!(matches!(decode(Call::Batch, br#"{"events":[]}"#), Err(DecodeError::Json(m)) if m.contains("batch")));
        assert!(matches!(decode(Call::One(Kind::Track), b"[]"), Err(DecodeError::Json(_))));
    }
}
