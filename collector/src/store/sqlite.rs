//! The embedded default store: SQLite in WAL mode.
//!
//! Mechanism: one writer thread owns the write connection. Appends from
//! many requests queue on a channel; the writer takes everything queued,
//! commits it in one transaction (group commit) and only then answers each
//! request. `synchronous=FULL` makes a commit survive power loss and
//! `kill -9`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread::JoinHandle;

use async_trait::async_trait;
use rusqlite::{Connection, params};
use tokio::sync::{mpsc, oneshot};

use super::{Appended, Store, StoreError, StoredEvent};

/// Schema migrations, applied in order; `PRAGMA user_version` is the count
/// applied so far.
const MIGRATIONS: &[&str] = &[include_str!("schema.sql")];

/// Appends taken into one transaction at most.
const MAX_GROUP: usize = 256;

type Reply = oneshot::Sender<Result<Vec<Appended>, StoreError>>;

struct Append {
    events: Vec<StoredEvent>,
    reply: Reply,
}

pub struct SqliteStore {
    path: PathBuf,
    sender: Mutex<Option<mpsc::UnboundedSender<Append>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl SqliteStore {
    /// Opens (creating if needed) `waymark.db` in `data_dir` and migrates it.
    pub fn open(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|source| StoreError::DataDir { path: data_dir.display().to_string(), source })?;
        let path = data_dir.join("waymark.db");
        let mut conn = open_connection(&path)?;
        migrate(&mut conn)?;
        let (sender, receiver) = mpsc::unbounded_channel();
        let writer = std::thread::Builder::new()
            .name("waymark-writer".into())
            .spawn(move || write_loop(conn, receiver))
            .expect("spawning the writer thread");
        Ok(SqliteStore { path, sender: Mutex::new(Some(sender)), writer: Mutex::new(Some(writer)) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A new read-only connection, for queries.
    pub fn reader(&self) -> Result<Connection, StoreError> {
        let conn = Connection::open_with_flags(&self.path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(conn)
    }
}

pub fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let applied: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (version, sql) in (0i64..).zip(MIGRATIONS).skip(applied as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
    Ok(())
}

fn write_loop(mut conn: Connection, mut receiver: mpsc::UnboundedReceiver<Append>) {
    while let Some(first) = receiver.blocking_recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match receiver.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        match commit_group(&mut conn, &group) {
            Ok(outcomes) => {
                for (append, outcome) in group.into_iter().zip(outcomes) {
                    let _ = append.reply.send(Ok(outcome));
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "commit failed; the requests are answered with an error");
                for append in group {
                    let _ = append.reply.send(Err(StoreError::Commit(err.to_string())));
                }
            }
        }
    }
}

fn commit_group(conn: &mut Connection, group: &[Append]) -> Result<Vec<Vec<Appended>>, rusqlite::Error> {
    let tx = conn.transaction()?;
    let mut outcomes = Vec::with_capacity(group.len());
    {
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO events (site, id, ts, received_ms, name, session_id, client_session_id,
                visitor_id, user_id, url, host, path, referrer, title, props, engaged_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        )?;
        for append in group {
            let mut results = Vec::with_capacity(append.events.len());
            for e in &append.events {
                let changed = insert.execute(params![
                    e.site, e.id, e.ts, e.received_ms, e.name, e.session_id, e.client_session_id,
                    e.visitor_id, e.user_id, e.url, e.host, e.path, e.referrer, e.title, e.props, e.engaged_ms
                ])?;
                results.push(if changed == 1 { Appended::Stored } else { Appended::Duplicate });
            }
            outcomes.push(results);
        }
    }
    tx.commit()?;
    Ok(outcomes)
}

#[async_trait]
impl Store for SqliteStore {
    async fn append(&self, events: Vec<StoredEvent>) -> Result<Vec<Appended>, StoreError> {
        let (reply, answer) = oneshot::channel();
        {
            let sender = self.sender.lock().expect("sender lock");
            let sender = sender.as_ref().ok_or(StoreError::Closed)?;
            sender.send(Append { events, reply }).map_err(|_| StoreError::Closed)?;
        }
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn close(&self) {
        // Dropping the sender ends the writer's loop once the queue is empty.
        self.sender.lock().expect("sender lock").take();
        let writer = self.writer.lock().expect("writer lock").take();
        if let Some(writer) = writer {
            let _ = tokio::task::spawn_blocking(move || writer.join()).await;
        }
    }
}
