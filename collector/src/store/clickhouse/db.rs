//! The writer's side of the client: the same statements, waited for on
//! the writer's own thread (the pipeline's [`crate::store::StoredState`]
//! is synchronous), and the wait for a mutation (`ALTER TABLE … DELETE`)
//! to be done, which ClickHouse 18.16 cannot do for us (`mutations_sync`
//! came later): the store polls `system.mutations`.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::client::{Client, ClientError, lit};
use super::schema;
use crate::store::StoreError;

/// How long a deletion may take before the store gives up waiting (the
/// mutation goes on in the server and a later run finds nothing left).
const MUTATION_TIMEOUT: Duration = Duration::from_secs(300);
const MUTATION_POLL: Duration = Duration::from_millis(10);

impl From<ClientError> for StoreError {
    fn from(e: ClientError) -> StoreError {
        match e {
            ClientError::Unreachable { .. } => StoreError::Unavailable(e.to_string()),
            other => StoreError::Backend(other.to_string()),
        }
    }
}

/// The client and a runtime of its own to wait on it (the writer's, or
/// the accounts'; either may be dropped on an async thread, so the
/// runtime is shut down in the background).
pub(super) struct Db {
    runtime: Option<tokio::runtime::Runtime>,
    client: Client,
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[derive(serde::Deserialize)]
struct Count {
    n: u64,
}

impl Db {
    pub(super) fn new(client: Client) -> std::io::Result<Db> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        Ok(Db { runtime: Some(runtime), client })
    }

    /// Waits for `work` on this runtime. Called on an async thread (the
    /// dashboard reads its users once while it starts), where a runtime
    /// cannot block, it waits on a thread of its own.
    pub(super) fn block_on<T: Send>(&self, work: impl Future<Output = T> + Send) -> T {
        let runtime = self.runtime.as_ref().expect("the runtime lives until drop");
        if tokio::runtime::Handle::try_current().is_err() {
            return runtime.block_on(work);
        }
        std::thread::scope(|scope| scope.spawn(|| runtime.block_on(work)).join().expect("a statement's thread does not panic"))
    }

    pub(super) fn client(&self) -> &Client {
        &self.client
    }

    pub(super) fn rows<T: DeserializeOwned + Send>(&self, sql: &str) -> Result<Vec<T>, StoreError> {
        Ok(self.block_on(self.client.rows(sql))?)
    }

    pub(super) fn count(&self, sql: &str) -> Result<u64, StoreError> {
        Ok(self.rows::<Count>(sql)?.first().map_or(0, |c| c.n))
    }

    pub(super) fn execute(&self, sql: &str) -> Result<(), StoreError> {
        Ok(self.block_on(self.client.execute(sql))?)
    }

    pub(super) fn insert<T: Serialize + Sync>(&self, table: &str, rows: &[T]) -> Result<(), StoreError> {
        Ok(self.block_on(self.client.insert(table, rows))?)
    }

    /// Deletes the rows of `table` that `condition` matches, and waits
    /// until the mutation has rewritten every part that held them: on a
    /// cluster, on every shard's local table (a `Distributed` table takes
    /// no `ALTER`).
    pub(super) fn delete(&self, table: &str, condition: &str) -> Result<(), StoreError> {
        let connection = self.client.connection();
        let local = schema::local(table, connection.cluster.is_some());
        for server in connection.servers() {
            let client = Client::new(server);
            self.block_on(client.execute(&format!("ALTER TABLE {local} DELETE WHERE {condition}")))?;
            let pending = format!(
                "SELECT count() AS n FROM system.mutations WHERE database = currentDatabase() AND table = {} AND is_done = 0",
                lit(&local)
            );
            let started = Instant::now();
            while self.block_on(client.rows::<Count>(&pending))?.first().map_or(0, |c| c.n) > 0 {
                if started.elapsed() > MUTATION_TIMEOUT {
                    return Err(StoreError::Backend(format!("a deletion from {table} is still running after {MUTATION_TIMEOUT:?}")));
                }
                std::thread::sleep(MUTATION_POLL);
            }
        }
        Ok(())
    }
}
