//! Bytes to a [`Batch`]. A body that is not a batch at all is refused whole;
//! per-event problems are left to validation so that valid events are kept.

use waymark_protocol::{Batch, limits};

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("body is {0} bytes; at most {max} are accepted", max = limits::MAX_BODY_BYTES)]
    TooLarge(usize),
    #[error("body is not a JSON batch: {0}")]
    Json(String),
    #[error("batch has {0} events; at most {max} are accepted", max = limits::MAX_EVENTS_PER_BATCH)]
    TooManyEvents(usize),
    #[error("`site` is empty")]
    SiteMissing,
}

pub fn decode(body: &[u8]) -> Result<Batch, DecodeError> {
    if body.len() > limits::MAX_BODY_BYTES {
        return Err(DecodeError::TooLarge(body.len()));
    }
    let batch: Batch = serde_json::from_slice(body).map_err(|e| DecodeError::Json(e.to_string()))?;
    if batch.site.is_empty() {
        return Err(DecodeError::SiteMissing);
    }
    if batch.events.len() > limits::MAX_EVENTS_PER_BATCH {
        return Err(DecodeError::TooManyEvents(batch.events.len()));
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_json_names_the_problem() {
        let err = decode(b"{not json").unwrap_err();
        assert!(err.to_string().starts_with("body is not a JSON batch"), "{err}");
    }

    #[test]
    fn a_missing_field_is_named() {
        let err = decode(br#"{"site":"demo","events":[]}"#).unwrap_err();
        assert!(err.to_string().contains("sent_at"), "{err}");
    }
}
