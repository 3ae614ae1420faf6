//! The driver: one request's checked events through the rest of the
//! pipeline, and the answer for each. Every ingest endpoint (browser,
//! server-to-server, the Segment API) ends here, after it decoded,
//! authorized and validated.
//!
//! Policy: an invalid event is rejected with its reason (and shown on the
//! live feed); a bot's event is filtered and counted per day, not stored; a
//! cookieless event gets the day's visitor key (and yesterday's, near
//! midnight); every other event is appended, and the answer says accepted
//! or duplicate only after the store made it durable. Events of one batch
//! are independent: a rejected one does not stop the others. Every answer
//! carries the site's session rule, which the SDK adopts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use waymark_protocol::{BatchResponse, EventResult, Outcome};

use super::agent::Client;
use super::enrich::{Enricher, Sender};
use super::referrer::Attributions;
use super::validate::Checked;
use super::visitor::cookieless_keys;
use crate::clock::{Clock, day_label, day_of};
use crate::config::{Config, SiteConfig};
use crate::event::StoredEvent;
use crate::live::{LiveFeed, LiveMessage};
use crate::metrics::Metrics;
use crate::store::{Appended, BotHit, DaySalts, Store, StoreError};

/// What the pipeline needs at hand: enrichment's tables, the store, the
/// live feed, the metrics, the clock, and the salts of the days seen today.
pub struct Pipeline {
    enricher: Enricher,
    store: Arc<dyn Store>,
    live: LiveFeed,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    salts: Mutex<SaltCache>,
}

/// Salts by the day they key, as fetched on the UTC day `today`.
#[derive(Default)]
struct SaltCache {
    today: i64,
    days: HashMap<i64, DaySalts>,
}

impl Pipeline {
    pub fn new(config: &Config, store: Arc<dyn Store>, live: LiveFeed, metrics: Arc<Metrics>, clock: Arc<dyn Clock>) -> anyhow::Result<Pipeline> {
        Ok(Pipeline {
            enricher: Enricher::new(config.geoip_db.as_deref(), config.headless_browsers_are_bots)?,
            store,
            live,
            metrics,
            clock,
            salts: Mutex::new(SaltCache::default()),
        })
    }

    /// Enriches the valid events, counts bots, gives cookieless events their
    /// visitor key, stores the rest and reports on each event, in order.
    pub async fn ingest(&self, site: &SiteConfig, checked: Vec<(Checked, Sender<'_>)>) -> Result<BatchResponse, StoreError> {
        let now = self.clock.now_ms();
        let mut results: Vec<EventResult> = Vec::with_capacity(checked.len());
        let mut rows: Vec<(usize, StoredEvent)> = Vec::new();
        let mut bots: Vec<BotHit> = Vec::new();
        // A browser's events share one user agent: classify it once.
        let mut last_agent: Option<(&str, Arc<Client>)> = None;
        let mut attributions = Attributions::default();
        for (index, (c, sender)) in checked.into_iter().enumerate() {
            let mut row = match c {
                Checked::Valid(row) => row,
                Checked::Invalid(result) => {
                    self.reject(site, index, &result);
                    results.push(result);
                    continue;
                }
            };
            let result = |outcome, id: &str| EventResult { index, id: id.to_owned(), outcome, reason: None, message: None };
            let client = sender.user_agent.map(|ua| match &last_agent {
                Some((seen, client)) if *seen == ua => client.clone(),
                _ => {
                    let client = self.enricher.classify(ua);
                    last_agent = Some((ua, client.clone()));
                    client
                }
            });
            if let Err(bot) = self.enricher.enrich(&mut row, &sender, client.as_deref(), &mut attributions) {
                results.push(result(Outcome::Filtered, &row.id));
                let day = day_label(day_of(now));
                match bots.iter_mut().find(|h| h.bot == bot && h.day == day) {
                    Some(hit) => hit.hits += 1,
                    None => bots.push(BotHit { site: site.key.clone(), day, bot, hits: 1 }),
                }
                continue;
            }
            if row.visitor_id.is_empty()
                && let (Some(ip), Some(user_agent)) = (sender.ip, sender.user_agent)
            {
                let salts = self.salts(now, row.ts).await?;
                let (today, yesterday) = cookieless_keys(&salts, &site.key, ip, user_agent, row.ts, site.session_timeout_ms());
                row.visitor_id = today;
                row.visitor_id_yesterday = yesterday;
            }
            results.push(result(Outcome::Accepted, &row.id));
            rows.push((index, row));
        }

        if !bots.is_empty() {
            self.metrics.bot_hits.inc_by(bots.iter().map(|h| h.hits as u64).sum());
            self.store.count_bots(bots).await?;
        }
        if !rows.is_empty() {
            self.append(rows, &mut results).await?;
        }
        let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
        Ok(BatchResponse {
            accepted: count(Outcome::Accepted),
            duplicates: count(Outcome::Duplicate),
            rejected: count(Outcome::Rejected),
            filtered: count(Outcome::Filtered),
            results,
            // The SDK cuts its client sessions by the site's rule.
            session: Some(site.session_rule()),
            ids: None,
        })
    }

    fn reject(&self, site: &SiteConfig, index: usize, result: &EventResult) {
        let reason = result.reason.clone().unwrap_or_default();
        self.metrics.rejected.with_label_values(&[reason.as_str()]).inc();
        self.live.publish(LiveMessage::Rejected {
            site: site.key.clone(),
            index,
            id: result.id.clone(),
            reason,
            message: result.message.clone().unwrap_or_default(),
        });
    }

    /// Stores the rows and turns the result of each whose copy was stored
    /// already into a duplicate; tells live listeners what was stored.
    async fn append(&self, rows: Vec<(usize, StoredEvent)>, results: &mut [EventResult]) -> Result<(), StoreError> {
        let (positions, events): (Vec<usize>, Vec<StoredEvent>) = rows.into_iter().unzip();
        // The rows go to the writer; copies are kept only for live listeners.
        let published = if self.live.has_listeners() { events.clone() } else { Vec::new() };
        let appended = self.store.append(events).await?;
        let mut published = published.into_iter();
        for (index, appended) in positions.into_iter().zip(appended) {
            let event = published.next();
            // Every event of the batch pushed exactly one result, in order.
            let result = &mut results[index];
            match (appended, event) {
                (Appended::Duplicate, event) => {
                    result.outcome = Outcome::Duplicate;
                    self.metrics.duplicates.inc();
                    if let Some(event) = event {
                        self.live.publish(LiveMessage::Duplicate { site: event.site, id: event.id });
                    }
                }
                (Appended::Stored { .. } | Appended::Accepted { .. }, None) => self.metrics.accepted.inc(),
                (Appended::Accepted { visitor_id }, Some(mut event)) => {
                    // Its session is not known yet: the sessionizer makes it.
                    self.metrics.accepted.inc();
                    event.visitor_id = visitor_id;
                    self.live.publish(LiveMessage::Stored { event });
                }
                (Appended::Stored { session_id, visitor_id, session_started }, Some(mut event)) => {
                    self.metrics.accepted.inc();
                    event.session_id = session_id;
                    event.visitor_id = visitor_id;
                    event.visitor_id_yesterday = None;
                    if session_started {
                        self.live.publish(LiveMessage::SessionStarted {
                            site: event.site.clone(),
                            session_id: event.session_id.clone(),
                            visitor_id: event.visitor_id.clone(),
                            ts: event.ts,
                        });
                    }
                    self.live.publish(LiveMessage::Stored { event });
                }
            }
        }
        Ok(())
    }

    /// The salts of the day of `event_ts` (today's for an event ahead of
    /// the collector's clock), from memory unless the day changed.
    async fn salts(&self, now_ms: i64, event_ts: i64) -> Result<DaySalts, StoreError> {
        let today = day_of(now_ms);
        let day = day_of(event_ts).min(today);
        {
            let mut cache = self.salts.lock().expect("salt cache");
            if cache.today != today {
                *cache = SaltCache { today, days: HashMap::new() };
            }
            if let Some(cached) = cache.days.get(&day) {
                return Ok(cached.clone());
            }
        }
        let fresh = self.store.salts(today, day).await?;
        let mut cache = self.salts.lock().expect("salt cache");
        if cache.today == today {
            cache.days.insert(day, fresh.clone());
        }
        Ok(fresh)
    }
}
