//! What the collector counts, for `/metrics` (Prometheus text format):
//! events accepted, duplicates, rejected by reason, bot hits, whole
//! requests refused by reason, the writer's queue depth and commit latency;
//! the last retention run's time and the rows retention removed.

use prometheus::{Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

pub struct Metrics {
    registry: Registry,
    pub accepted: IntCounter,
    pub duplicates: IntCounter,
    pub rejected: IntCounterVec,
    pub bot_hits: IntCounter,
    pub requests_refused: IntCounterVec,
    pub queue_depth: IntGauge,
    /// Ingest requests being handled (at most `limits.ingest_in_flight`).
    pub ingest_in_flight: IntGauge,
    /// Client connections being served (at most `server.max_connections`).
    pub open_connections: IntGauge,
    pub commit_seconds: Histogram,
    /// Unix seconds of the last retention run (0: none since start).
    pub retention_last_run: IntGauge,
    pub retention_rows_removed: IntCounter,
}

impl Default for Metrics {
    fn default() -> Self {
        let registry = Registry::new();
        let accepted = IntCounter::new("waymark_events_accepted_total", "Events stored").expect("metric");
        let duplicates = IntCounter::new("waymark_events_duplicate_total", "Events already stored, acknowledged again").expect("metric");
        let rejected =
            IntCounterVec::new(Opts::new("waymark_events_rejected_total", "Events refused, by reason"), &["reason"]).expect("metric");
        let bot_hits = IntCounter::new("waymark_bot_hits_total", "Events from bots, counted and not stored").expect("metric");
        let requests_refused =
            IntCounterVec::new(Opts::new("waymark_requests_refused_total", "Whole requests refused, by reason"), &["reason"])
                .expect("metric");
        let queue_depth = IntGauge::new("waymark_write_queue_depth", "Requests waiting for the database writer").expect("metric");
        let ingest_in_flight = IntGauge::new("waymark_ingest_in_flight", "Ingest requests being handled").expect("metric");
        let open_connections = IntGauge::new("waymark_open_connections", "Client connections being served").expect("metric");
        let commit_seconds = Histogram::with_opts(
            HistogramOpts::new("waymark_commit_seconds", "Duration of one group commit")
                .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]),
        )
        .expect("metric");
        let retention_last_run =
            IntGauge::new("waymark_retention_last_run_timestamp_seconds", "When retention last ran, Unix seconds").expect("metric");
        let retention_rows_removed =
            IntCounter::new("waymark_retention_rows_removed_total", "Events and sessions retention deleted").expect("metric");
        for metric in [
            Box::new(accepted.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(duplicates.clone()),
            Box::new(rejected.clone()),
            Box::new(bot_hits.clone()),
            Box::new(requests_refused.clone()),
            Box::new(queue_depth.clone()),
            Box::new(ingest_in_flight.clone()),
            Box::new(open_connections.clone()),
            Box::new(commit_seconds.clone()),
            Box::new(retention_last_run.clone()),
            Box::new(retention_rows_removed.clone()),
        ] {
            registry.register(metric).expect("each metric registered once");
        }
        Metrics {
            registry,
            accepted,
            duplicates,
            rejected,
            bot_hits,
            requests_refused,
            queue_depth,
            ingest_in_flight,
            open_connections,
            commit_seconds,
            retention_last_run,
            retention_rows_removed,
        }
    }
}

impl Metrics {
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out).expect("text encoding");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}
