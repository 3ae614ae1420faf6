//! Answers the writer's requests once what they wrote is on disk, on a
//! thread of its own, so that the writer builds the next group while the
//! disk flushes the last one.
//!
//! Mechanism: the writer commits with `synchronous=NORMAL`, which in WAL
//! mode writes the transaction to the `-wal` file without flushing it, and
//! hands the group's answers here. This thread flushes the WAL file
//! (`fdatasync`), then answers: every answer waits for a flush that began
//! after its commit had been written, so a 2xx still means the events
//! survive `kill -9` and power loss, as with `synchronous=FULL`. Answers
//! that queue up while a flush runs share the next one. Dropping an
//! answer's events happens here too, off the writer's thread.

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;

use crate::store::StoreError;

/// Sends one answer, given whether the flush succeeded.
pub type Answer = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

pub struct WalSync {
    sender: Option<mpsc::Sender<Vec<Answer>>>,
    thread: Option<JoinHandle<()>>,
}

impl WalSync {
    /// Flushes `wal` (the database's `-wal` file) for the answers it is given.
    pub fn start(wal: PathBuf) -> WalSync {
        let (sender, receiver) = mpsc::channel::<Vec<Answer>>();
        let thread = std::thread::Builder::new()
            .name("waymark-wal-sync".into())
            .spawn(move || {
                while let Ok(mut answers) = receiver.recv() {
                    while let Ok(more) = receiver.try_recv() {
                        answers.extend(more);
                    }
                    let flushed = std::fs::File::open(&wal).and_then(|file| file.sync_data()).map_err(|err| {
                        tracing::error!(error = %err, wal = %wal.display(), "flushing the WAL failed; the requests are answered with an error");
                        err.to_string()
                    });
                    for answer in answers {
                        answer(flushed.clone().map_err(StoreError::Commit));
                    }
                }
            })
            .expect("spawning the WAL flush thread");
        WalSync { sender: Some(sender), thread: Some(thread) }
    }

    /// Queues answers for after the next flush.
    pub fn after_flush(&self, answers: Vec<Answer>) {
        if let Some(sender) = &self.sender
            && let Err(mpsc::SendError(answers)) = sender.send(answers)
        {
            for answer in answers {
                answer(Err(StoreError::Closed));
            }
        }
    }
}

impl Drop for WalSync {
    /// Flushes and answers everything queued before returning.
    fn drop(&mut self) {
        self.sender.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
