//! Mechanism: a segment's members for the live view, worked out once per
//! site and segment for every stream watching them, and again every
//! `[dashboard] live_segment_refresh_seconds` while one does. What a member
//! is and what a stream lets through: [`super::segment`].
//!
//! Cost: one working-out (`Queries::apply_segment` over today) per site
//! and segment per period, however many streams watch; none once the last
//! stream closes (its refresher stops with it).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::segment::{LiveSegment, Membership};
use crate::query::queries::Queries;
use crate::query::segments::live_period;
use crate::query::{QueryError, Site};

/// The latest working-out of one site and segment.
#[derive(Debug, Clone)]
pub enum Members {
    /// The first is under way.
    Pending,
    Known(Arc<Membership>),
    /// The segment was deleted.
    Gone,
    /// The first working-out failed (later failures keep the last one known).
    Failed(String),
}

/// Every site and segment a live stream watches.
pub struct LiveSegments {
    queries: Arc<Queries>,
    every: Duration,
    watched: Mutex<HashMap<(String, String), Weak<Watch>>>,
}

/// One site and segment's members, kept worked out while a stream holds it.
pub struct Watch {
    latest: watch::Receiver<Members>,
    refresher: tokio::task::AbortHandle,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.refresher.abort();
    }
}

/// What one stream holds: the shared members, and its own view of them.
pub struct Watching {
    _watch: Arc<Watch>,
    pub latest: watch::Receiver<Members>,
    pub filter: LiveSegment,
}

impl LiveSegments {
    pub fn new(queries: Arc<Queries>, every: Duration) -> LiveSegments {
        LiveSegments { queries, every, watched: Mutex::new(HashMap::new()) }
    }

    /// Watches segment `id` of `site`, once its members are known: an
    /// unknown segment is [`QueryError::SegmentNotFound`], before any stream.
    pub async fn open(&self, site: &Site, id: &str) -> Result<Watching, QueryError> {
        // Asked each time: a watch may outlive its segment until its next working-out.
        self.queries.saved_segment(site, id).await?;
        let watch = self.watch(site, id);
        let mut latest = watch.latest.clone();
        let members = latest
            .wait_for(|m| !matches!(m, Members::Pending))
            .await
            .map_err(|_| QueryError::Interrupted)?
            .clone();
        match members {
            Members::Known(membership) => Ok(Watching { _watch: watch, latest, filter: LiveSegment::new(membership) }),
            Members::Gone => Err(QueryError::SegmentNotFound(id.to_owned())),
            Members::Failed(message) => Err(QueryError::Database(message.into())),
            Members::Pending => unreachable!("waited for"),
        }
    }

    /// The watch of `site` and `id`, started when no stream holds one.
    fn watch(&self, site: &Site, id: &str) -> Arc<Watch> {
        let mut watched = self.watched.lock().expect("live segments");
        watched.retain(|_, w| w.strong_count() > 0);
        let key = (site.key.clone(), id.to_owned());
        if let Some(watch) = watched.get(&key).and_then(Weak::upgrade) {
            return watch;
        }
        let (sender, latest) = watch::channel(Members::Pending);
        let refresher = tokio::spawn(refresh(self.queries.clone(), site.clone(), id.to_owned(), self.every, sender));
        let watch = Arc::new(Watch { latest, refresher: refresher.abort_handle() });
        watched.insert(key, Arc::downgrade(&watch));
        watch
    }
}

/// Works the members out now and every `every`, until the segment is
/// deleted or the last stream lets go (which aborts this).
async fn refresh(queries: Arc<Queries>, site: Site, id: String, every: Duration, sender: watch::Sender<Members>) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut known = false;
    loop {
        ticks.tick().await;
        match work_out(&queries, &site, &id).await {
            Ok(membership) => {
                known = true;
                sender.send_replace(Members::Known(Arc::new(membership)));
            }
            Err(QueryError::SegmentNotFound(_)) => {
                sender.send_replace(Members::Gone);
                return;
            }
            Err(error) if !known => {
                sender.send_replace(Members::Failed(error.to_string()));
                return;
            }
            Err(error) => tracing::warn!(site = %site.key, segment = %id, %error, "the live segment's members could not be worked out; keeping the last"),
        }
    }
}

/// The members of today, in the site's time zone.
async fn work_out(queries: &Queries, site: &Site, id: &str) -> Result<Membership, QueryError> {
    let began = Instant::now();
    let segment = queries.saved_segment(site, id).await?;
    let today = live_period(queries.now_ms(), &site.time_zone);
    let members: HashSet<String> = queries.segment_members(site, &segment, &today).await?.into_iter().collect();
    Ok(Membership { id: id.to_owned(), segment, members, began })
}
