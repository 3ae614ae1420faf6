//! When to send again after a request failed.
//!
//! Policy: network errors, 408, 429 and 5xx are retried with exponential
//! backoff (1 s doubling up to 5 min) with jitter (each delay is drawn from
//! its upper half), and never sooner than the collector's `Retry-After`
//! (capped at an hour). Any other 4xx means the request itself is wrong: it
//! is not retried.

pub const RETRY_BASE_MS: i64 = 1_000;
pub const RETRY_MAX_MS: i64 = 5 * 60_000;
pub const RETRY_AFTER_MAX_MS: i64 = 60 * 60_000;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Delivery {
    Stored,
    Retry,
    Refused,
}

/// What an HTTP status (or `None` for a network error) means for a batch.
pub fn classify(status: Option<u16>) -> Delivery {
    match status {
        None | Some(408) | Some(429) | Some(500..=599) => Delivery::Retry,
        Some(200..=299) => Delivery::Stored,
        Some(_) => Delivery::Refused,
    }
}

#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// The delay before the next attempt. `unit` is a random number in
    /// `[0, 1)`; `retry_after_ms` what the collector asked for (its
    /// `Retry-After`, seconds or a date, as the browser edge read it).
    pub fn next_delay(&mut self, retry_after_ms: Option<i64>, unit: f64) -> i64 {
        let ceiling = (RETRY_BASE_MS << self.failures.min(20)).min(RETRY_MAX_MS);
        self.failures = self.failures.saturating_add(1);
        let jittered = ceiling / 2 + ((ceiling / 2) as f64 * unit) as i64;
        jittered.max(retry_after_ms.unwrap_or(0).min(RETRY_AFTER_MAX_MS))
    }

    pub fn succeeded(&mut self) {
        self.failures = 0;
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_failures_are_retried() {
        assert_eq!(classify(None), Delivery::Retry);
        for status in [408, 429, 500, 502, 503] {
            assert_eq!(classify(Some(status)), Delivery::Retry, "{status}");
        }
        for status in [400, 401, 403, 404, 413, 422] {
            assert_eq!(classify(Some(status)), Delivery::Refused, "{status}");
        }
        assert_eq!(classify(Some(200)), Delivery::Stored);
    }

    #[test]
    fn delays_double_up_to_five_minutes_within_their_jitter_band() {
        let mut lowest = Backoff::default();
        let mut highest = Backoff::default();
        let low: Vec<i64> = (0..12).map(|_| lowest.next_delay(None, 0.0)).collect();
        let high: Vec<i64> = (0..12).map(|_| highest.next_delay(None, 0.999_999)).collect();
        assert_eq!(low, [500, 1000, 2000, 4000, 8000, 16000, 32000, 64000, 128000, 150000, 150000, 150000]);
        assert_eq!(&high[..4], [999, 1999, 3999, 7999]);
        assert_eq!(high[11], 299_999);
    }

    #[test]
    fn retry_after_is_honoured_but_capped() {
        let mut b = Backoff::default();
        assert_eq!(b.next_delay(Some(30_000), 0.5), 30_000);
        assert_eq!(b.next_delay(Some(86_400_000), 0.5), RETRY_AFTER_MAX_MS);
    }

    #[test]
    fn success_starts_the_schedule_over() {
        let mut b = Backoff::default();
        b.next_delay(None, 0.0);
        b.next_delay(None, 0.0);
        b.succeeded();
        assert_eq!(b.next_delay(None, 0.0), 500);
    }
}
