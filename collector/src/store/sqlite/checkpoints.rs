//! Keeps the WAL short: copies it into the database file and lets SQLite
//! start it again from its beginning, and keeps its file under `[store]
//! wal_max_mib`.
//!
//! Mechanism: a thread of its own runs passive checkpoints (copying the
//! WAL's pages into the database, with their fsyncs) every half second,
//! or sooner when the writer asks. A checkpoint alone never shortens the
//! WAL: SQLite starts it over only when a write transaction begins after
//! every frame has been copied, and under steady load new frames arrive
//! while each checkpoint runs, so the WAL would grow for as long as the
//! load lasts (1.2 GB in 8 s of the store benchmark), every commit
//! extending the file (new blocks, which the kernel zeroes: a quarter of
//! the writer's time) and readers searching an ever larger index. So the
//! writer watches the WAL's length (SQLite's WAL hook reports it after each
//! commit). In the last eighth of its restart length (half of
//! `wal_max_mib`) it asks this thread for a checkpoint after each commit,
//! so the thread keeps up with it; at the full length it copies the few
//! frames left itself (2–4 ms), between two transactions, and its next
//! transaction starts the WAL over. The file then stays at that length and
//! later commits rewrite pages the kernel already holds.
//!
//! Policy for readers: a read transaction pins the frames after its
//! snapshot, so while dashboard queries follow each other without a gap
//! (each longer than the time between them) no checkpoint copies
//! everything and the WAL grows without end (81 MiB in the soak's hour).
//! When the writer's copy at the restart length is held back by a reader,
//! it closes the [`ReaderGate`]: new queries of the read pool wait (at most
//! [`READERS_WAIT_AT_MOST`]) while the running ones finish, the next copy
//! takes everything, and the gate opens again; queries that start after a
//! complete copy read the database file alone and no longer keep the WAL
//! from starting over. `journal_size_limit` cuts the file back to
//! `wal_max_mib` when it starts over. Queries wait at most for the
//! longest running one; ingest never waits for them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::wal::CheckpointMode;

use crate::store::StoreError;

/// How often the checkpoint thread runs when nobody asks sooner.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// The longest a query waits at a closed [`ReaderGate`]: past it, it runs
/// anyway (a reader that never ends, an export of a year, must not stop
/// the dashboard; the WAL then grows until that reader ends).
pub const READERS_WAIT_AT_MOST: Duration = Duration::from_secs(10);

/// Where the read pool's queries begin their read transactions: open, or
/// closed while the writer waits for the running ones to end so that a
/// checkpoint can copy the whole WAL.
pub struct ReaderGate {
    closed: Mutex<bool>,
    opened: Condvar,
    wait_at_most: Duration,
}

impl Default for ReaderGate {
    fn default() -> Self {
        ReaderGate::waiting_at_most(READERS_WAIT_AT_MOST)
    }
}

impl ReaderGate {
    pub fn waiting_at_most(wait_at_most: Duration) -> ReaderGate {
        ReaderGate { closed: Mutex::new(false), opened: Condvar::new(), wait_at_most }
    }

    /// Returns when the gate is open, or after the longest wait. Blocks:
    /// called on the query's blocking thread.
    pub fn pass(&self) {
        let closed = self.closed.lock().expect("gate lock");
        drop(self.opened.wait_timeout_while(closed, self.wait_at_most, |closed| *closed).expect("gate lock"));
    }

    #[cfg(test)]
    pub fn is_closed(&self) -> bool {
        *self.closed.lock().expect("gate lock")
    }

    fn close(&self) {
        *self.closed.lock().expect("gate lock") = true;
    }

    fn open(&self) {
        let mut closed = self.closed.lock().expect("gate lock");
        if *closed {
            *closed = false;
            self.opened.notify_all();
        }
    }
}

/// The checkpoint thread; dropping this stops it.
struct Checkpoints {
    asks: mpsc::Sender<()>,
}

impl Checkpoints {
    /// Starts checkpointing the database at `path` on a thread of its own.
    fn start(path: PathBuf, readers: Arc<ReaderGate>) -> Checkpoints {
        let (asks, asked) = mpsc::channel();
        std::thread::Builder::new()
            .name("waymark-checkpoint".into())
            .spawn(move || run(&path, asked, &readers))
            .expect("spawning the checkpoint thread");
        Checkpoints { asks }
    }

    /// Runs a checkpoint soon rather than at the next half second.
    fn ask(&self) {
        let _ = self.asks.send(());
    }
}

fn run(path: &Path, asked: mpsc::Receiver<()>, readers: &ReaderGate) {
    let conn = match super::connection::open_connection(path) {
        Ok(conn) => conn,
        Err(err) => {
            tracing::error!(error = %err, "checkpoint thread could not open the database; the writer checkpoints alone");
            return;
        }
    };
    loop {
        match asked.recv_timeout(CHECKPOINT_EVERY) {
            // Asked after each commit while the WAL is long: copy what
            // the commits since the last checkpoint added, so that little is
            // left for the writer to copy.
            Ok(()) => while asked.try_recv().is_ok() {},
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        // Everything copied while the gate is closed (the writer has been
        // idle since it closed it): queries may start, on the database file.
        if checkpoint(&conn) == Copied::All {
            readers.open();
        }
    }
}

/// What a checkpoint copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Copied {
    /// Every frame: the writer's next transaction starts the WAL over.
    All,
    /// Up to the oldest snapshot a reader holds.
    HeldBack,
    /// Nothing: another checkpoint is running, or it failed (logged).
    Busy,
}

/// Copies what it can of the WAL into the database without waiting. Busy
/// (another checkpoint is running) or failed, it is tried again later.
fn checkpoint(conn: &Connection) -> Copied {
    match conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE) {
        Ok((log, copied)) if copied >= log => Copied::All,
        Ok(_) => Copied::HeldBack,
        Err(err) if err.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => Copied::Busy,
        Err(err) => {
            tracing::warn!(error = %err, "could not copy the WAL into the database; trying again later");
            Copied::Busy
        }
    }
}

/// Copies the whole WAL into the database and truncates it to nothing,
/// waiting (the connection's busy timeout) for readers on older
/// snapshots: after an erasure, so that no page image from before it
/// stays in the `-wal` file. Failing that (a reader held its snapshot for
/// longer), the old frames are overwritten as the WAL starts over.
pub fn truncate_wal(conn: &Connection) {
    match conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::TRUNCATE) {
        Ok(_) => {}
        Err(err) => tracing::warn!(error = %err, "could not truncate the WAL after an erasure; its old frames go as it starts over"),
    }
}

/// The writer's side: the WAL's length after each commit, and what to do
/// about it.
pub struct WalLength {
    frames: Arc<AtomicU32>,
    restart_frames: u32,
    checkpoints: Checkpoints,
    readers: Arc<ReaderGate>,
}

impl WalLength {
    /// Watches the WAL of the writer's connection `conn` to the database at
    /// `path`, and starts the checkpoint thread; the writer starts the WAL
    /// over at half of `max_bytes`, closing `readers` when a reader holds
    /// it back, and the file is cut back to `max_bytes` as it does.
    pub fn watch(conn: &mut Connection, path: &Path, max_bytes: u64, readers: Arc<ReaderGate>) -> Result<WalLength, StoreError> {
        // A WAL that grew anyway (a reader held an old snapshot through
        // several tries) is cut back when it starts over.
        conn.pragma_update(None, "journal_size_limit", i64::try_from(max_bytes).unwrap_or(i64::MAX))?;
        let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        let restart_frames = u32::try_from(max_bytes / 2 / page_size.max(512) as u64).unwrap_or(u32::MAX);
        let frames = Arc::new(AtomicU32::new(0));
        let reported = frames.clone();
        conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages: std::ffi::c_int| {
            reported.store(u32::try_from(pages).unwrap_or(0), Ordering::Relaxed);
            Ok(())
        }))?;
        let checkpoints = Checkpoints::start(path.to_owned(), readers.clone());
        Ok(WalLength { frames, restart_frames: restart_frames.max(2), checkpoints, readers })
    }

    /// Called by the writer between transactions.
    pub fn after_commit(&mut self, conn: &Connection) {
        let frames = self.frames.load(Ordering::Relaxed);
        if frames >= self.restart_frames {
            // Usually only the frames written since the thread's last
            // checkpoint are left; when no reader holds an older snapshot
            // this copies all, and the next transaction starts over. When
            // the thread is checkpointing just now, the next commit tries.
            match checkpoint(conn) {
                Copied::All => self.readers.open(),
                Copied::HeldBack => self.readers.close(),
                Copied::Busy => {}
            }
        } else if frames >= self.restart_frames - self.restart_frames / 8 {
            self.checkpoints.ask();
        }
    }
}
