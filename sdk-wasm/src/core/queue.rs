//! The queue of encoded events waiting for the collector's acknowledgement.
//!
//! Policy:
//! - at most one request is in flight; its events stay at the front of the
//!   queue until the collector answers 2xx (at-least-once; the collector
//!   counts each event id once);
//! - each request carries at most `MAX_EVENTS_PER_BATCH` events and stays
//!   under `MAX_REQUEST_BYTES`, so `sendBeacon` and `keepalive` take it;
//! - memory holds at most [`MAX_QUEUED_EVENTS`]; when the collector is down
//!   for long, the oldest events go first and the count of dropped events
//!   is reported;
//! - with consent, the newest [`MAX_PERSISTED_EVENTS`] are kept in storage
//!   under [`QUEUE_KEY`] (one event per line) and resent after a reload.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;


use crate::core::json::{push_int, push_string};
use crate::core::text::split;
use crate::core::storage::KeyValue;
use waymark_protocol::limits::{MAX_EVENTS_PER_BATCH, MAX_REQUEST_BYTES};

pub const QUEUE_KEY: &str = "waymark.queue";
pub const MAX_QUEUED_EVENTS: usize = 1000;
pub const MAX_PERSISTED_EVENTS: usize = 200;

#[derive(Default)]
pub struct Queue {
    /// Oldest first. A `Vec`, not a `VecDeque` (1.5 KB more of Wasm): with
    /// the queue full, each new event drops the oldest one not in flight
    /// and moves the others down, a copy of 1000 pointers (some 24 KB, a
    /// microsecond or two) that happens only while the collector is down.
    events: Vec<String>,
    /// How many events at the front are in the request in flight.
    in_flight: usize,
    /// The persisted copy is behind memory.
    dirty: bool,
}

impl Queue {
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn in_flight(&self) -> bool {
        self.in_flight > 0
    }

    /// Adds an event; returns how many old events were dropped to make room.
    pub fn push(&mut self, event: String) -> usize {
        // Never an event of the request in flight: its answer counts them.
        let dropped = (self.events.len() + 1).saturating_sub(MAX_QUEUED_EVENTS);
        self.drop_after_flight(dropped);
        self.events.push(event);
        self.dirty = true;
        dropped
    }

    /// The next request body, when nothing is in flight.
    pub fn next_batch(&mut self, site: &str, sent_at: i64) -> Option<String> {
        if self.in_flight > 0 || self.events.is_empty() {
            return None;
        }
        let (body, count) = batch(self.events.iter(), site, sent_at);
        self.in_flight = count;
        Some(body)
    }

    /// The collector stored (or refused for good) the request in flight;
    /// returns how many events it held.
    pub fn settle(&mut self) -> usize {
        let n = self.in_flight.min(self.events.len());
        self.in_flight = 0;
        self.drop_after_flight(n);
        self.dirty = true;
        n
    }

    /// Drops the `n` events after those in flight (`retain`, not `remove`
    /// or `drain`: no index to check, so no panic message in the module).
    fn drop_after_flight(&mut self, n: usize) {
        let (mut at, first) = (0, self.in_flight);
        self.events.retain(|_| {
            at += 1;
            at <= first || at > first + n
        });
    }

    /// The request in flight failed and will be retried.
    pub fn retry_later(&mut self) {
        self.in_flight = 0;
    }

    /// Every queued event as request bodies, for `sendBeacon` when the page
    /// is hidden. The events stay queued (and persisted) until acknowledged.
    pub fn all_batches(&self, site: &str, sent_at: i64) -> Vec<String> {
        let mut bodies = Vec::new();
        let mut rest = self.events.iter();
        loop {
            let (body, count) = batch(rest.clone(), site, sent_at);
            if count == 0 {
                return bodies;
            }
            bodies.push(body);
            rest.nth(count - 1);
        }
    }

    /// Writes the newest events to storage when they changed; returns how
    /// many queued events did not fit.
    pub fn save(&mut self, store: &dyn KeyValue) -> usize {
        if !self.dirty {
            return 0;
        }
        self.dirty = false;
        if self.events.is_empty() {
            store.remove(QUEUE_KEY);
            return 0;
        }
        let skipped = self.events.len().saturating_sub(MAX_PERSISTED_EVENTS);
        let mut record = String::new();
        for event in self.events.iter().skip(skipped) {
            if !record.is_empty() {
                record.push('\n');
            }
            record.push_str(event);
        }
        store.set(QUEUE_KEY, &record);
        skipped
    }

    /// Adds what an earlier page left unsent.
    pub fn restore(&mut self, store: &dyn KeyValue) -> usize {
        let Some(record) = store.get(QUEUE_KEY) else { return 0 };
        let before = self.events.len();
        for event in split(&record, b'\n').filter(|l| l.starts_with('{') && l.ends_with('}')).take(MAX_PERSISTED_EVENTS) {
            self.push(event.to_owned());
        }
        self.events.len() - before
    }

    /// Consent withdrawn: queued events and their stored copy are dropped.
    pub fn clear(&mut self, store: &dyn KeyValue) -> usize {
        let n = self.events.len() - self.in_flight;
        self.events.truncate(self.in_flight);
        store.remove(QUEUE_KEY);
        self.dirty = false;
        n
    }
}

/// One request body from the front of `events`, and how many it holds.
fn batch<'a>(events: impl Iterator<Item = &'a String>, site: &str, sent_at: i64) -> (String, usize) {
    let mut body = String::from("{\"site\":");
    push_string(&mut body, site);
    body.push_str(",\"sent_at\":");
    push_int(&mut body, sent_at);
    body.push_str(",\"events\":[");
    let mut count = 0;
    for event in events {
        if count == MAX_EVENTS_PER_BATCH || body.len() + event.len() + 3 > MAX_REQUEST_BYTES {
            break;
        }
        if count > 0 {
            body.push(',');
        }
        body.push_str(event);
        count += 1;
    }
    body.push_str("]}");
    (body, count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::storage::MemoryStore;

    fn event(i: usize, pad: usize) -> String {
        let mut s = String::from("{\"n\":");
        push_int(&mut s, i as i64);
        s.push_str(",\"pad\":\"");
        s.push_str(&"x".repeat(pad));
        s.push_str("\"}");
        s
    }

    #[test]
    fn a_batch_is_the_wire_format_with_every_queued_event() {
        let mut q = Queue::default();
        q.push(event(1, 0));
        q.push(event(2, 0));
        let body = q.next_batch("demo", 42).unwrap();
        assert_eq!(body, r#"{"site":"demo","sent_at":42,"events":[{"n":1,"pad":""},{"n":2,"pad":""}]}"#);
        assert!(q.next_batch("demo", 43).is_none(), "one request in flight at a time");
        assert_eq!(q.settle(), 2);
        assert!(q.is_empty());
    }

    #[test]
    fn requests_stay_under_the_size_and_count_limits() {
        let mut q = Queue::default();
        for i in 0..300 {
            q.push(event(i, 1000));
        }
        let bodies = q.all_batches("demo", 0);
        assert!(bodies.len() > 1);
        assert!(bodies.iter().all(|b| b.len() <= MAX_REQUEST_BYTES));
        let total: usize = bodies.iter().map(|b| b.matches("\"n\":").count()).sum();
        assert_eq!(total, 300, "every event in exactly one request");

        let mut small = Queue::default();
        for i in 0..MAX_EVENTS_PER_BATCH + 10 {
            small.push(event(i, 0));
        }
        small.next_batch("demo", 0);
        assert_eq!(small.settle(), MAX_EVENTS_PER_BATCH);
    }

    #[test]
    fn a_failed_request_keeps_its_events_for_the_retry() {
        let mut q = Queue::default();
        q.push(event(1, 0));
        let first = q.next_batch("demo", 1).unwrap();
        q.push(event(2, 0));
        q.retry_later();
        let second = q.next_batch("demo", 1).unwrap();
        assert!(second.starts_with(&first[..first.len() - 2]), "the same events first, in order");
        assert_eq!(q.settle(), 2);
    }

    #[test]
    fn memory_is_bounded_when_the_collector_stays_down() {
        let mut q = Queue::default();
        q.push(event(0, 0));
        q.next_batch("demo", 0);
        // An hour of a busy page with every request failing.
        let mut dropped = 0;
        for i in 1..=3600 {
            dropped += q.push(event(i, 0));
            q.retry_later();
            q.next_batch("demo", 0);
        }
        assert_eq!(q.len(), MAX_QUEUED_EVENTS);
        assert_eq!(dropped, 3601 - MAX_QUEUED_EVENTS);
        assert_eq!(q.settle(), MAX_EVENTS_PER_BATCH);
    }

    #[test]
    fn unsent_events_survive_a_reload_up_to_the_persisted_bound() {
        let store = MemoryStore::default();
        let mut q = Queue::default();
        for i in 0..MAX_PERSISTED_EVENTS + 5 {
            q.push(event(i, 0));
        }
        assert_eq!(q.save(&store), 5, "the 5 oldest do not fit");
        let mut reloaded = Queue::default();
        assert_eq!(reloaded.restore(&store), MAX_PERSISTED_EVENTS);
        let body = reloaded.next_batch("demo", 0).unwrap();
        assert!(body.contains("{\"n\":5,") && !body.contains("{\"n\":4,"));
        reloaded.settle();
        reloaded.save(&store);
        assert_eq!(store.get(QUEUE_KEY), None, "an empty queue leaves nothing stored");
    }

    #[test]
    fn saving_an_unchanged_queue_writes_nothing() {
        let store = crate::core::storage::CountingStore::default();
        let mut q = Queue::default();
        q.push(event(1, 0));
        q.save(&store);
        q.save(&store);
        assert_eq!(store.counts().1, 1);
    }
}
