//! Retention: each site keeps its events and sessions for its
//! `retention_days` (or the `[lifecycle]` default; neither set: forever).
//!
//! Policy:
//! - the cut-off is "now" on the collector's clock less the period; a
//!   session goes once it ended before the cut-off, whole, with all its
//!   events (see `store::lifecycle`: sessions that stay are exactly what a
//!   rebuild from the events that stay gives). A session that straddles
//!   the cut-off is kept until a later run, so an event can outlive the
//!   period by at most a session's maximum length;
//! - aggregates go with what they counted: a quarter hour's counts lose
//!   the deleted events, bot counts of days before the cut-off's day go;
//! - the job runs at start and then every `retention_every_minutes`, in
//!   chunks of at most [`CHUNK_ROWS`] rows, each its own short transaction
//!   between ingest's commits, so ingest keeps answering while it runs;
//!   and it is paced: after a chunk that took `d` it waits `d` times
//!   [`WRITER_SHARE`] less one, so it takes at most that share of the
//!   writer's time. Unpaced, the writer would alternate a chunk and one
//!   group of appends, and a sender with a few requests in flight would get
//!   one group per chunk (a twentieth of its rate, measured). The command
//!   line (`waymark retention`, collector stopped) runs unpaced;
//! - the policy is read from the config each run is given: a shortened
//!   period takes effect on the next run (at the next start, or at once
//!   with `waymark retention`);
//! - a run that removed rows of a site leaves one audit record for it
//!   (kind `retention`); `/metrics` shows the last run's time and the rows
//!   removed; the dry run counts per site and day exactly what a run at
//!   the same moment deletes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::clock::{Clock, DAY_MS};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::lifecycle::{AuditKind, AuditRecord, DayCount, Deleted};
use crate::store::{Store, StoreError};

/// Rows (events and sessions) one chunk deletes at most: a transaction of
/// a few milliseconds, so an append waits at most that long.
pub const CHUNK_ROWS: usize = 2_000;

/// The background job takes at most one part in this many of the writer's
/// time (see the module's policy).
pub const WRITER_SHARE: u32 = 4;

/// Who asked, in the audit log, when the background job ran.
pub const JOB: &str = "retention";

/// A site's retention period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub site: String,
    /// `None`: kept forever.
    pub retention_days: Option<u32>,
}

impl Policy {
    /// Every configured site's period: its own, else the global default.
    pub fn of_sites(config: &Config) -> Vec<Policy> {
        config.sites.iter().map(|s| Policy { site: s.key.clone(), retention_days: config.retention_days(&s.key) }).collect()
    }

    /// Data that ended before this goes; `None` when kept forever.
    pub fn cutoff_ms(&self, now_ms: i64) -> Option<i64> {
        self.retention_days.map(|days| now_ms - i64::from(days) * DAY_MS)
    }
}

/// What a run would delete on one site, per day: the dry run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Preview {
    pub site: String,
    pub retention_days: Option<u32>,
    pub cutoff_ms: Option<i64>,
    pub days: Vec<DayCount>,
}

impl Preview {
    pub fn rows(&self) -> u64 {
        self.days.iter().map(|d| d.events + d.sessions).sum()
    }
}

/// What one run deleted on one site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteRun {
    pub site: String,
    pub retention_days: u32,
    pub cutoff_ms: i64,
    pub deleted: Deleted,
    pub chunks: u64,
    /// Time spent in chunks (each until its commit was on disk), ms.
    pub busy_ms: u64,
}

/// One run of the job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    pub at_ms: i64,
    pub sites: Vec<SiteRun>,
}

impl Run {
    pub fn rows(&self) -> u64 {
        self.sites.iter().map(|s| s.deleted.rows()).sum()
    }
}

/// The retention job for one store and config.
pub struct Retention {
    store: Arc<dyn Store>,
    policies: Vec<Policy>,
    clock: Arc<dyn Clock>,
    metrics: Option<Arc<Metrics>>,
    last_run: Mutex<Option<Run>>,
    paced: bool,
    /// Runs finished since start: what [`Retention::finished`] waits on.
    runs: tokio::sync::watch::Sender<u64>,
}

impl Retention {
    pub fn new(config: &Config, store: Arc<dyn Store>, clock: Arc<dyn Clock>, metrics: Option<Arc<Metrics>>) -> Retention {
        let runs = tokio::sync::watch::channel(0).0;
        Retention { store, policies: Policy::of_sites(config), clock, metrics, last_run: Mutex::new(None), paced: true, runs }
    }

    /// Runs without pausing between chunks: when nothing else writes (the
    /// command line, with the collector stopped).
    pub fn unpaced(mut self) -> Retention {
        self.paced = false;
        self
    }

    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    pub fn policy(&self, site: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.site == site)
    }

    /// What a run now would delete on `site`.
    pub async fn preview(&self, site: &str) -> Result<Option<Preview>, StoreError> {
        let Some(policy) = self.policy(site) else { return Ok(None) };
        let cutoff_ms = policy.cutoff_ms(self.clock.now_ms());
        let days = match cutoff_ms {
            Some(cutoff) => self.store.count_before(site, cutoff).await?,
            None => Vec::new(),
        };
        Ok(Some(Preview { site: site.to_owned(), retention_days: policy.retention_days, cutoff_ms, days }))
    }

    /// The last run since start, if any.
    pub fn last_run(&self) -> Option<Run> {
        self.last_run.lock().expect("last run lock").clone()
    }

    /// Waits until `runs` runs have finished since start (tests wait for
    /// the run at start before they set the clock on).
    pub async fn finished(&self, runs: u64) {
        let _ = self.runs.subscribe().wait_for(|done| *done >= runs).await;
    }

    /// Runs now, as the background job does.
    pub async fn run_once(&self) -> Result<Run, StoreError> {
        self.run(JOB, None, |_, _| {}).await
    }

    /// Runs now on every site with a period (or only `only`), for
    /// `requested_by`; `progress` hears of each chunk (site, rows so far).
    pub async fn run(&self, requested_by: &str, only: Option<&str>, mut progress: impl FnMut(&str, u64)) -> Result<Run, StoreError> {
        let now_ms = self.clock.now_ms();
        let mut run = Run { at_ms: now_ms, sites: Vec::new() };
        for policy in self.policies.iter().filter(|p| only.is_none_or(|site| p.site == site)) {
            let (Some(retention_days), Some(cutoff_ms)) = (policy.retention_days, policy.cutoff_ms(now_ms)) else { continue };
            let mut site = SiteRun { site: policy.site.clone(), retention_days, cutoff_ms, deleted: Deleted::default(), chunks: 0, busy_ms: 0 };
            loop {
                let started = std::time::Instant::now();
                let chunk = self.store.delete_before(&policy.site, cutoff_ms, CHUNK_ROWS).await?;
                let took = started.elapsed();
                site.deleted.add(chunk);
                site.chunks += 1;
                site.busy_ms += took.as_millis() as u64;
                if let Some(m) = &self.metrics {
                    m.retention_rows_removed.inc_by(chunk.rows());
                }
                progress(&policy.site, site.deleted.rows());
                if chunk.rows() == 0 {
                    break;
                }
                if self.paced {
                    tokio::time::sleep(took * (WRITER_SHARE - 1)).await;
                }
            }
            if site.deleted.rows() > 0 {
                let record = AuditRecord {
                    at_ms: now_ms,
                    site: policy.site.clone(),
                    kind: AuditKind::Retention,
                    rows_removed: site.deleted.rows(),
                    requested_by: requested_by.to_owned(),
                };
                self.store.record_audit(record).await?;
                tracing::info!(site = %policy.site, retention_days, rows = site.deleted.rows(), "retention removed expired data");
            }
            run.sites.push(site);
        }
        if let Some(m) = &self.metrics {
            m.retention_last_run.set(now_ms.div_euclid(1000));
        }
        *self.last_run.lock().expect("last run lock") = Some(run.clone());
        self.runs.send_modify(|done| *done += 1);
        Ok(run)
    }
}

/// Runs the job at once and then every `every`, until the task is aborted.
pub fn spawn(retention: Arc<Retention>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(err) = retention.run_once().await {
                tracing::warn!(error = %err, "the retention run failed; trying again at the next");
                retention.runs.send_modify(|done| *done += 1);
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_is_the_period_before_now_and_none_keeps_forever() {
        let thirty = Policy { site: "s".into(), retention_days: Some(30) };
        assert_eq!(thirty.cutoff_ms(100 * DAY_MS), Some(70 * DAY_MS));
        assert_eq!(Policy { site: "s".into(), retention_days: None }.cutoff_ms(100 * DAY_MS), None);
    }
}
