//! Keeps the WAL short: copies it into the database file and lets SQLite
//! start it again from its beginning.
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
//! commit). In the last eighth of [`RESTART_FRAMES`] it asks this thread
//! for a checkpoint after each commit, so the thread keeps up with it; at
//! the full length it copies the few frames left itself (2–4 ms), between
//! two transactions, and its next transaction starts the WAL over. The
//! file then stays at that length and later commits rewrite pages the
//! kernel already holds. A reader holding an old snapshot can delay the
//! start over; the writer tries again after each commit.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::wal::CheckpointMode;

use crate::store::StoreError;

/// How often the checkpoint thread runs when nobody asks sooner.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// WAL frames (pages) after which the writer starts the WAL over: 64 MiB
/// with 4 KiB pages.
pub const RESTART_FRAMES: u32 = 16384;

/// The checkpoint thread; dropping this stops it.
struct Checkpoints {
    asks: mpsc::Sender<()>,
}

impl Checkpoints {
    /// Starts checkpointing the database at `path` on a thread of its own.
    fn start(path: PathBuf) -> Checkpoints {
        let (asks, asked) = mpsc::channel();
        std::thread::Builder::new()
            .name("waymark-checkpoint".into())
            .spawn(move || run(&path, asked))
            .expect("spawning the checkpoint thread");
        Checkpoints { asks }
    }

    /// Runs a checkpoint soon rather than at the next half second.
    fn ask(&self) {
        let _ = self.asks.send(());
    }
}

fn run(path: &Path, asked: mpsc::Receiver<()>) {
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
        checkpoint(&conn);
    }
}

/// Copies what it can of the WAL into the database without waiting. Busy
/// (another checkpoint is running) or failed, it is tried again later.
fn checkpoint(conn: &Connection) {
    match conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE) {
        Ok(_) => {}
        Err(err) if err.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => {}
        Err(err) => tracing::warn!(error = %err, "could not copy the WAL into the database; trying again later"),
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
}

impl WalLength {
    /// Watches the WAL of the writer's connection `conn` to the database at
    /// `path`, and starts the checkpoint thread; `restart_frames` is the
    /// length at which the writer starts the WAL over.
    pub fn watch(conn: &mut Connection, path: &Path, restart_frames: u32) -> Result<WalLength, StoreError> {
        // A WAL that grew anyway (a reader held an old snapshot through
        // several tries) is cut back when it starts over.
        conn.pragma_update(None, "journal_size_limit", i64::from(restart_frames) * 2 * 4096)?;
        let frames = Arc::new(AtomicU32::new(0));
        let reported = frames.clone();
        conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages: std::ffi::c_int| {
            reported.store(u32::try_from(pages).unwrap_or(0), Ordering::Relaxed);
            Ok(())
        }))?;
        Ok(WalLength { frames, restart_frames: restart_frames.max(2), checkpoints: Checkpoints::start(path.to_owned()) })
    }

    /// Called by the writer between transactions.
    pub fn after_commit(&mut self, conn: &Connection) {
        let frames = self.frames.load(Ordering::Relaxed);
        if frames >= self.restart_frames {
            // Usually only the frames written since the thread's last
            // checkpoint are left; when no reader holds an older snapshot
            // this copies all, and the next transaction starts over. When
            // the thread is checkpointing just now, the next commit tries.
            checkpoint(conn);
        } else if frames >= self.restart_frames - self.restart_frames / 8 {
            self.checkpoints.ask();
        }
    }
}
