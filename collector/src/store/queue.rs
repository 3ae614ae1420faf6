//! The queue in front of a backend's one writer: what callers submit
//! ([`Job`]), the bound that turns a backlog into [`StoreError::Busy`]
//! (503 with `Retry-After` at the API) instead of growing without end, and
//! how the writer takes a group of appends at once ([`next_group`]).
//! The same for every backend; what a writer does with a job is its own.

use std::sync::Mutex;

use tokio::sync::{mpsc, oneshot};

use crate::event::StoredEvent;
use crate::store::lifecycle::{AuditRecord, Deleted, Erased, Selector};
use crate::store::{Appended, BotHit, DaySalts, Rebuilt, StoreError};

/// Requests taken into one group at most.
pub const MAX_GROUP: usize = 512;

pub type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

pub enum Job {
    Append {
        events: Vec<StoredEvent>,
        reply: Reply<Vec<Appended>>,
    },
    CountBots {
        hits: Vec<BotHit>,
        reply: Reply<()>,
    },
    Salts {
        today: i64,
        day: i64,
        reply: Reply<DaySalts>,
    },
    Rebuild {
        reply: Reply<Rebuilt>,
    },
    DeleteBefore {
        site: String,
        before_ms: i64,
        max_rows: usize,
        reply: Reply<Deleted>,
    },
    /// `earlier`: what the chunks of a site's erasure removed before this.
    Erase {
        site: String,
        selector: Selector,
        at_ms: i64,
        requested_by: String,
        earlier: Erased,
        reply: Reply<Erased>,
    },
    Audit {
        record: AuditRecord,
        reply: Reply<()>,
    },
}

/// A group's writes, taken apart: the appends' events and whom to answer.
#[derive(Default)]
pub struct Group {
    pub batches: Vec<Vec<StoredEvent>>,
    pub append_replies: Vec<Reply<Vec<Appended>>>,
    pub bots: Vec<BotHit>,
    pub bot_replies: Vec<Reply<()>>,
}

impl Group {
    /// Answers every request of the group with the same failure.
    pub fn fail(self, failed: impl Fn() -> StoreError) {
        for reply in self.append_replies {
            let _ = reply.send(Err(failed()));
        }
        for reply in self.bot_replies {
            let _ = reply.send(Err(failed()));
        }
    }
}

/// What the writer does next: one job of its own, or a group of appends
/// and bot counts.
pub enum Next {
    One(Job),
    Group(Group),
}

/// Takes `first` and, if it is an append or a bot count, whatever appends
/// and bot counts are queued behind it (up to [`MAX_GROUP`]); another
/// kind of job met on the way is left in `held` for the next call.
pub fn next_group(first: Job, receiver: &mut mpsc::Receiver<Job>, held: &mut Option<Job>) -> Next {
    let mut group = Group::default();
    let add = |job: Job, group: &mut Group| match job {
        Job::Append { events, reply } => {
            group.batches.push(events);
            group.append_replies.push(reply);
            None
        }
        Job::CountBots { hits, reply } => {
            group.bots.extend(hits);
            group.bot_replies.push(reply);
            None
        }
        other => Some(other),
    };
    if let Some(own) = add(first, &mut group) {
        return Next::One(own);
    }
    while group.append_replies.len() + group.bot_replies.len() < MAX_GROUP {
        match receiver.try_recv() {
            Ok(job) => {
                if let Some(other) = add(job, &mut group) {
                    *held = Some(other);
                    break;
                }
            }
            Err(_) => break,
        }
    }
    Next::Group(group)
}

/// The writer's loop: each job or group in turn, as [`next_group`] takes
/// them, until the queue is closed and empty.
pub fn drain(mut receiver: mpsc::Receiver<Job>, mut each: impl FnMut(Next)) {
    let mut held: Option<Job> = None;
    while let Some(first) = held.take().or_else(|| receiver.blocking_recv()) {
        each(next_group(first, &mut receiver, &mut held));
    }
}

/// The sending side: bounded, closed once on shutdown.
pub struct WriteQueue {
    sender: Mutex<Option<mpsc::Sender<Job>>>,
}

impl WriteQueue {
    /// A queue holding at most `capacity` requests, and the writer's end.
    pub fn new(capacity: usize) -> (WriteQueue, mpsc::Receiver<Job>) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        (WriteQueue { sender: Mutex::new(Some(sender)) }, receiver)
    }

    /// Queues a job and waits for its answer; refused at once when full.
    async fn submit<T>(&self, job: impl FnOnce(Reply<T>) -> Job) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        {
            let sender = self.sender.lock().expect("sender lock");
            let sender = sender.as_ref().ok_or(StoreError::Closed)?;
            sender.try_send(job(reply)).map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => StoreError::Busy(sender.max_capacity()),
                mpsc::error::TrySendError::Closed(_) => StoreError::Closed,
            })?;
        }
        answer.await.map_err(|_| StoreError::Closed)?
    }

    pub async fn append(&self, events: Vec<StoredEvent>) -> Result<Vec<Appended>, StoreError> {
        self.submit(|reply| Job::Append { events, reply }).await
    }

    pub async fn count_bots(&self, hits: Vec<BotHit>) -> Result<(), StoreError> {
        self.submit(|reply| Job::CountBots { hits, reply }).await
    }

    pub async fn salts(&self, today: i64, day: i64) -> Result<DaySalts, StoreError> {
        self.submit(|reply| Job::Salts { today, day, reply }).await
    }

    pub async fn rebuild(&self) -> Result<Rebuilt, StoreError> {
        self.submit(|reply| Job::Rebuild { reply }).await
    }

    pub async fn delete_before(&self, site: &str, before_ms: i64, max_rows: usize) -> Result<Deleted, StoreError> {
        let site = site.to_owned();
        self.submit(|reply| Job::DeleteBefore { site, before_ms, max_rows, reply }).await
    }

    /// An erasure; `earlier`: what chunks of it removed before (a site's).
    pub async fn erase(
        &self,
        site: &str,
        selector: &Selector,
        at_ms: i64,
        requested_by: &str,
        earlier: Erased,
    ) -> Result<Erased, StoreError> {
        let (site, selector, requested_by) = (site.to_owned(), selector.clone(), requested_by.to_owned());
        self.submit(|reply| Job::Erase { site, selector, at_ms, requested_by, earlier, reply }).await
    }

    pub async fn record_audit(&self, record: AuditRecord) -> Result<(), StoreError> {
        self.submit(|reply| Job::Audit { record, reply }).await
    }

    /// Requests waiting for the writer.
    pub fn depth(&self) -> usize {
        self.sender.lock().expect("sender lock").as_ref().map_or(0, |s| s.max_capacity() - s.capacity())
    }

    /// Stops taking jobs: the writer ends once it has done what is queued.
    pub fn close(&self) {
        self.sender.lock().expect("sender lock").take();
    }
}
