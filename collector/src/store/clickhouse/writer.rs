//! The writer thread: the only one that writes events and sessions.
//!
//! Mechanism: appends from many requests queue on a bounded channel
//! ([`crate::store::queue`]); the writer takes everything queued as one
//! group, fetches what the plan needs for the whole group in a few
//! queries ([`InWriter::prefetch`]), asks the pipeline for the plan
//! ([`group::plan`]), and writes it in four inserts: the identity links it makes, the group's events
//! (new ones, and stored ones moved to another session, as new versions),
//! its session rows (new versions, and tombstones for replaced sessions)
//! and its bot counts. It answers once ClickHouse has acknowledged them.
//!
//! ClickHouse has no transaction over the inserts. Events go
//! first: should the session insert then fail, the requests are answered
//! with an error and the writer forgets every tail, so the next plan
//! reads what is stored; the sessions of those events are then missing
//! until `waymark sessions rebuild` (or, later, the sessionizer that
//! recomputes sessions from events) makes them again.

use std::time::Instant;

use tokio::sync::mpsc;

use super::db::Db;
use super::incoming;
use super::lifecycle::{self, Removed};
use super::rebuild;
use super::rows::{EventWrite, SessionRow, Versions};
use super::salts;
use super::state::InWriter;
use crate::event::StoredEvent;
use crate::ingest::dedupe::Dedupe;
use crate::ingest::group::{self, Plan, Rules, SessionWrite, SiteRules};
use crate::store::queue::{self, Group, Job, Next, Reply};
use crate::store::tails::{self, Tails};
use crate::store::{Appended, BotHit, StoreError};

/// What the writer does with appends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Plans sessions and writes events and sessions (one collector).
    Sessionize,
    /// Appends to `incoming`, for the sessionizer ([`super::incoming`]).
    Append,
}

pub(super) struct Writer {
    pub db: Db,
    pub mode: Mode,
    /// The server's time, for rows appended in [`Mode::Append`].
    pub clock: incoming::ServerClock,
    pub rules: SiteRules,
    pub commit_seconds: Option<prometheus::Histogram>,
    /// Recent visitors' latest events and sessions, as written.
    pub tails: Tails,
    pub versions: Versions,
}

impl Writer {
    pub(super) fn run(mut self, receiver: mpsc::Receiver<Job>) {
        queue::drain(receiver, |next| match next {
            Next::Group(group) => self.commit(group),
            Next::One(job) => self.one(job),
        });
    }

    /// Forgets the tails of visitors whose rows a lifecycle write removed.
    fn forget<T>(&mut self, site: &str, removed: Result<Removed<T>, StoreError>) -> Result<T, StoreError> {
        let Removed { result, visitors } = removed?;
        let rules = &self.rules;
        self.tails.forget(site, visitors, |site| rules.of(site).timeout_ms);
        Ok(result)
    }

    /// A job of its own: salts, a rebuild, a lifecycle write.
    fn one(&mut self, job: Job) {
        match job {
            Job::Salts { today, day, reply } => answer(reply, salts::salts(&self.db, today, day)),
            Job::Rebuild { reply } => {
                self.tails.clear();
                answer(reply, rebuild::rebuild(&self.db, &self.rules, &mut self.versions));
            }
            Job::DeleteBefore { site, before_ms, max_rows, reply } => {
                let deleted = lifecycle::delete_before(&self.db, &site, before_ms, max_rows);
                answer(reply, self.forget(&site, deleted));
            }
            Job::Erase { site, selector, at_ms, requested_by, earlier, reply } => {
                let erased = lifecycle::erase(&self.db, &site, &selector, at_ms, &requested_by, earlier, &mut self.versions);
                answer(reply, self.forget(&site, erased));
            }
            Job::Audit { record, reply } => answer(reply, lifecycle::insert_audit(&self.db, &record, &mut self.versions)),
            Job::Append { .. } | Job::CountBots { .. } => {
                unreachable!("appends and bot counts come in groups")
            }
        }
    }

    fn commit(&mut self, mut group: Group) {
        let started = Instant::now();
        let result = match self.mode {
            Mode::Sessionize => self.write(&mut group.batches, &group.bots).map(|plan| self.remember(plan, &group.batches)),
            Mode::Append => incoming::append(&self.db, &mut self.clock, &group.batches, &group.bots),
        };
        if let Some(h) = &self.commit_seconds {
            h.observe(started.elapsed().as_secs_f64());
        }
        match result {
            Ok(outcomes) => {
                for (reply, outcome) in group.append_replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
                for reply in group.bot_replies {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "a group's inserts failed; the requests are answered with an error");
                // Some of the group may be stored: what is remembered may be behind it.
                self.tails.clear();
                let unavailable = matches!(err, StoreError::Unavailable(_));
                group.fail(|| if unavailable { StoreError::Unavailable(err.to_string()) } else { StoreError::Commit(err.to_string()) });
            }
        }
    }

    /// Remembers what a written plan leaves as each visitor's latest
    /// event and session; the outcomes of its events.
    pub(super) fn remember(&mut self, plan: Plan, batches: &[Vec<StoredEvent>]) -> Vec<Vec<Appended>> {
        let Plan { outcomes, sessions, latest, .. } = plan;
        let changes = tails::changes_of(latest, sessions, batches);
        let rules = &self.rules;
        self.tails.apply(changes, |site| rules.of(site).timeout_ms);
        outcomes
    }

    /// Plans the group against what is stored and writes the plan.
    pub(super) fn write(&mut self, batches: &mut [Vec<StoredEvent>], bots: &[BotHit]) -> Result<Plan, StoreError> {
        let mut state = InWriter::prefetch(&self.db, &self.tails, batches)?;
        // Every id was looked up in the prefetch: an insert cannot refuse one.
        let plan = group::plan(&mut state, batches, Dedupe::LookUp, &self.rules)?;
        let versions = &mut self.versions;
        let mut events: Vec<EventWrite> =
            plan.new.iter().map(|&(b, i)| EventWrite { event: &batches[b][i], version: versions.next() }).collect();
        let moved: Vec<StoredEvent> = plan
            .moved
            .iter()
            .filter_map(|(site, id, session_id)| {
                let stored = state.read_events.get(&(site.clone(), id.clone()))?;
                Some(StoredEvent { session_id: session_id.clone(), ..stored.clone() })
            })
            .collect();
        if moved.len() != plan.moved.len() {
            return Err(StoreError::Backend("the plan moved an event it had not read".into()));
        }
        events.extend(moved.iter().map(|event| EventWrite { event, version: versions.next() }));
        let sessions = session_rows(&plan.sessions, &state, versions)?;
        // Links first: a resent event that was stored is a duplicate and
        // makes no link, so a link lost after its events would stay lost;
        // a link written before events that then fail is a visitor with
        // no events yet, and the same link again when they are resent.
        self.db.insert("identity_links", &super::identity::link_rows(&plan.links))?;
        self.db.insert("events", &events)?;
        self.db.insert("sessions", &sessions)?;
        self.db.insert("bot_hits", bots)?;
        Ok(plan)
    }
}

/// The plan's session writes as rows, versions rising in the plan's order
/// (a session deleted and written again under its id ends up written).
fn session_rows(writes: &[SessionWrite], state: &InWriter, versions: &mut Versions) -> Result<Vec<SessionRow>, StoreError> {
    let mut rows = Vec::with_capacity(writes.len());
    for write in writes {
        match write {
            SessionWrite::Insert(s) | SessionWrite::Extend(s) => {
                // A session's start never moves (its id is made from it);
                // were it to, its row under the old start would be ended.
                if let Some((visitor, start)) = state.read_sessions.get(&(s.site.clone(), s.id.clone()))
                    && *start != s.start_ts
                {
                    rows.push(SessionRow::tombstone(&s.site, &s.id, visitor, *start, versions.next()));
                }
                rows.push(SessionRow::live(s, versions.next()));
            }
            SessionWrite::Delete { site, id } => {
                let (visitor, start) = state
                    .read_sessions
                    .get(&(site.clone(), id.clone()))
                    .ok_or_else(|| StoreError::Backend(format!("the plan deleted session {id:?}, which it had not read")))?;
                rows.push(SessionRow::tombstone(site, id, visitor, *start, versions.next()));
            }
        }
    }
    Ok(rows)
}

fn answer<T>(reply: Reply<T>, result: Result<T, StoreError>) {
    let _ = reply.send(result);
}
