//! The writer thread: the only connection that writes.
//!
//! Mechanism: appends from many requests queue on a bounded channel; the
//! writer takes everything queued (group commit), asks the pipeline to plan
//! the group ([`group::plan`], reading through [`InTransaction`]), persists
//! the plan in one transaction in named steps, and hands the answers to
//! [`WalSync`], which flushes the WAL and only then answers: an answered
//! commit survives power loss and `kill -9`, and the writer goes on with
//! the next group while the disk flushes. Salts, rebuilds and the
//! lifecycle's writes (retention chunks, erasures, audit records:
//! [`lifecycle`]) are their own transactions between groups: a retention
//! chunk is bounded, so an append waits for at most one. After each of
//! them the writer forgets the visitors whose rows went, so that no later
//! event continues a deleted session from memory; after an erasure it
//! also truncates the WAL, so no old page image of the erased rows stays
//! on disk.

use std::collections::HashMap;
use std::time::Instant;

use rusqlite::{Connection, Transaction, TransactionBehavior, params};
use tokio::sync::mpsc;
use waymark_protocol::names;

use super::WRITER_CACHE_KIB;
use super::checkpoints::{self, WalLength};
use super::lifecycle::{self, Removed};
use super::rebuild::rebuild;
use super::rows::{self, SLOT_MS};
use super::salts;
use super::state::InTransaction;
use super::wal_sync::{Answer, WalSync};
use crate::event::StoredEvent;
use crate::ingest::dedupe::{Dedupe, DedupePolicy, Position};
use crate::ingest::group::{self, Plan, Rules, SessionWrite, SiteRules};
use crate::store::queue::{self, Group, Job, Next, Reply};
use crate::store::tails::{self, Tails};
use crate::store::{BotHit, StoreError};

pub(super) struct Writer {
    pub conn: Connection,
    pub rules: SiteRules,
    pub commit_seconds: Option<prometheus::Histogram>,
    /// Recent visitors' latest events and sessions, as committed.
    pub tails: Tails,
    /// Answers requests once their commit is on disk.
    pub wal_sync: WalSync,
    /// Keeps the WAL from growing under steady load.
    pub wal_length: WalLength,
    pub dedupe: DedupePolicy,
}

impl Writer {
    pub(super) fn run(mut self, receiver: mpsc::Receiver<Job>) {
        queue::drain(receiver, |next| {
            match next {
                Next::Group(group) => self.commit(group),
                Next::One(job) => self.one(job),
            }
            self.wal_length.after_commit(&self.conn);
        });
        // The last answers wait for their flush before the connection
        // closes (closing the last connection removes the WAL file).
        let Writer { conn, wal_sync, .. } = self;
        drop(wal_sync);
        drop(conn);
    }

    /// A job of its own: salts, a rebuild, a lifecycle write.
    fn one(&mut self, job: Job) {
        match job {
            Job::Salts { today, day, reply } => {
                let salts = salts::salts(&mut self.conn, today, day);
                self.answer_after_flush(reply, salts);
            }
            Job::Rebuild { reply } => {
                self.tails.clear();
                let rebuilt = rebuild(&mut self.conn, &self.rules);
                self.answer_after_flush(reply, rebuilt);
            }
            Job::DeleteBefore { site, before_ms, max_rows, reply } => {
                let deleted = lifecycle::with_cache(&mut self.conn, WRITER_CACHE_KIB, |conn| {
                    lifecycle::delete_before(conn, &site, before_ms, max_rows)
                });
                let deleted = self.forget(&site, deleted);
                self.answer_after_flush(reply, deleted);
            }
            Job::Erase { site, selector, at_ms, requested_by, earlier, reply } => {
                let erased = lifecycle::with_cache(&mut self.conn, WRITER_CACHE_KIB, |conn| {
                    lifecycle::erase(conn, &site, &selector, at_ms, &requested_by, earlier)
                });
                let erased = self.forget(&site, erased);
                if erased.is_ok() {
                    checkpoints::truncate_wal(&self.conn);
                }
                self.answer_after_flush(reply, erased);
            }
            Job::Audit { record, reply } => {
                let recorded = lifecycle::insert_audit(&self.conn, &record);
                self.answer_after_flush(reply, recorded);
            }
            Job::Append { .. } | Job::CountBots { .. } => {
                unreachable!("appends and bot counts come in groups")
            }
        }
    }

    /// Forgets the tails of visitors whose rows a committed lifecycle write
    /// removed: the database answers for them next time.
    fn forget<T>(&mut self, site: &str, removed: rusqlite::Result<Removed<T>>) -> rusqlite::Result<T> {
        let Removed { result, visitors } = removed?;
        let rules = &self.rules;
        self.tails.forget(site, visitors, |site| rules.of(site).timeout_ms);
        Ok(result)
    }

    /// Sends a transaction's result once it is on disk (at once if it failed).
    fn answer_after_flush<T: Send + 'static>(&self, reply: Reply<T>, result: rusqlite::Result<T>) {
        match result {
            Ok(value) => self.wal_sync.after_flush(vec![Box::new(move |flushed| drop(reply.send(flushed.map(|()| value))))]),
            Err(err) => drop(reply.send(Err(StoreError::from(err)))),
        }
    }

    fn commit(&mut self, mut group: Group) {
        let started = Instant::now();
        let result = self.write(&mut group.batches, &group.bots);
        if let Some(h) = &self.commit_seconds {
            h.observe(started.elapsed().as_secs_f64());
        }
        match result {
            Ok(plan) => {
                let Plan { outcomes, sessions, latest, .. } = plan;
                self.remember(latest, sessions, &group.batches);
                // The answers own the group's events: they are freed on the
                // flush thread, not here.
                let mut answers: Vec<Answer> = Vec::with_capacity(outcomes.len() + group.bot_replies.len());
                for ((reply, outcome), events) in group.append_replies.into_iter().zip(outcomes).zip(group.batches) {
                    answers.push(Box::new(move |flushed| {
                        let _ = reply.send(flushed.map(|()| outcome));
                        drop(events);
                    }));
                }
                for reply in group.bot_replies {
                    answers.push(Box::new(move |flushed| drop(reply.send(flushed))));
                }
                self.wal_sync.after_flush(answers);
            }
            Err(err) => {
                tracing::error!(error = %err, "commit failed; the requests are answered with an error");
                group.fail(|| StoreError::Commit(err.to_string()));
            }
        }
    }

    /// Writes a group: assuming its events new unless a recent group met a
    /// stored one, and looking ids up when the assumption fails.
    fn write(&mut self, batches: &mut [Vec<StoredEvent>], bots: &[BotHit]) -> rusqlite::Result<Plan> {
        if self.dedupe.first_try() == Dedupe::Assume {
            if let Some(plan) = self.try_write(batches, bots, Dedupe::Assume)? {
                return Ok(plan);
            }
            self.dedupe.met_a_stored_id();
        }
        let plan = self.try_write(batches, bots, Dedupe::LookUp)?;
        Ok(plan.expect("a group whose ids were looked up is written or fails"))
    }

    /// One try at a group's transaction: the plan, then its writes. `None`
    /// when an event assumed new was stored already (nothing is written).
    fn try_write(&mut self, batches: &mut [Vec<StoredEvent>], bots: &[BotHit], dedupe: Dedupe) -> rusqlite::Result<Option<Plan>> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let plan = group::plan(&mut InTransaction { tx: &tx, tails: &self.tails }, batches, dedupe, &self.rules)?;
        // Dropping `tx` rolls the try back.
        if !store_events(&tx, batches, &plan.new, dedupe)? {
            return Ok(None);
        }
        write_sessions(&tx, &plan)?;
        append_links(&tx, &plan.links)?;
        count_slots(&tx, batches, &plan.new)?;
        count_bots(&tx, bots)?;
        tx.commit()?;
        Ok(Some(plan))
    }

    /// Records what the group committed about each visitor's latest event.
    fn remember(&mut self, plan_latest: Vec<group::Latest>, sessions: Vec<SessionWrite>, batches: &[Vec<StoredEvent>]) {
        let changes = tails::changes_of(plan_latest, sessions, batches);
        let rules = &self.rules;
        self.tails.apply(changes, |site| rules.of(site).timeout_ms);
    }
}

/// The new events, with their sessions. False when one assumed new is
/// stored already.
fn store_events(tx: &Transaction, batches: &[Vec<StoredEvent>], new: &[Position], dedupe: Dedupe) -> rusqlite::Result<bool> {
    rows::insert_events(tx, new.iter().map(|&(b, i)| &batches[b][i]), dedupe == Dedupe::Assume)
}

/// The sessions the plan changed, and the stored events it moved.
fn write_sessions(tx: &Transaction, plan: &Plan) -> rusqlite::Result<()> {
    for write in &plan.sessions {
        match write {
            SessionWrite::Insert(s) => rows::insert_session(tx, s)?,
            SessionWrite::Extend(s) => rows::update_session(tx, s)?,
            SessionWrite::Delete { site, id } => rows::delete_session(tx, site, id)?,
        }
    }
    for (site, id, session_id) in &plan.moved {
        rows::move_event(tx, site, id, session_id)?;
    }
    Ok(())
}

/// The identity links the plan made; a link stored already keeps the
/// earlier of its two first events.
fn append_links(tx: &Transaction, links: &[crate::identity::Link]) -> rusqlite::Result<()> {
    if links.is_empty() {
        return Ok(());
    }
    let mut add = tx.prepare_cached(
        "INSERT INTO identity_links (site, visitor_id, user_id, ts, event_id) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (site, visitor_id, user_id) DO UPDATE SET ts = excluded.ts, event_id = excluded.event_id
         WHERE excluded.ts < identity_links.ts",
    )?;
    for l in links {
        add.execute(params![l.site, l.visitor_id, l.user_id, l.ts, l.event_id])?;
    }
    Ok(())
}

/// The quarter-hour counts the overview adds up.
fn count_slots(tx: &Transaction, batches: &[Vec<StoredEvent>], new: &[Position]) -> rusqlite::Result<()> {
    let mut slots: HashMap<(&str, i64), (i64, i64)> = HashMap::new();
    for &(b, i) in new {
        let e = &batches[b][i];
        let count = slots.entry((e.site.as_str(), e.ts / SLOT_MS)).or_default();
        count.0 += 1;
        count.1 += i64::from(e.name == names::PAGEVIEW);
    }
    let mut add = tx.prepare_cached(
        "INSERT INTO event_slots (site, slot, events, pageviews) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (site, slot) DO UPDATE SET events = events + excluded.events, pageviews = pageviews + excluded.pageviews",
    )?;
    for ((site, slot), (events, pageviews)) in slots {
        add.execute(params![site, slot, events, pageviews])?;
    }
    Ok(())
}

fn count_bots(tx: &Transaction, hits: &[BotHit]) -> rusqlite::Result<()> {
    let mut count = tx.prepare_cached(
        "INSERT INTO bot_hits (site, day, bot, hits) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (site, day, bot) DO UPDATE SET hits = hits + excluded.hits",
    )?;
    for h in hits {
        count.execute(params![h.site, h.day, h.bot, h.hits])?;
    }
    Ok(())
}
