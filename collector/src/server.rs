//! Starting and stopping the collector: take the data directory, open the
//! store, bind, serve (and run the retention job), and on shutdown stop
//! taking requests, then commit what is queued before exiting.
//!
//! Slow and idle clients cannot hold it ([`serve`]): at most
//! `[server] max_connections` are served at a time (the others wait in the
//! listen backlog), a request's headers must arrive within
//! `header_timeout_seconds` (which also closes idle connections) and its
//! body within `body_timeout_seconds` (408 past it).
//!
//! While it runs, the collector holds a lock on `waymark.lock` in its data
//! directory: the maintenance commands (`waymark retention`, `erase`,
//! `export`, `audit`) take it too, and refuse to run beside a collector
//! whose writer remembers visitors they would erase.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceBuilder;
use tower_http::timeout::RequestBodyDeadlineLayer;

use crate::api::dashboard::Dashboard;
use crate::api::rate_limit::RateLimits;
use crate::ingest::pipeline::Pipeline;
use crate::api::{AppState, router};
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ServerConfig};
use crate::lifecycle::retention::{self, Retention};
use crate::live::LiveFeed;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::store::accounts::Accounts;
use crate::store::clickhouse::definitions::ClickhouseDefinitions;
use crate::store::definitions::Definitions;
use crate::store::sqlite::SqliteDefinitions;
use crate::store::clickhouse::{ClickhouseAccounts, ClickhouseStore, Connection, StoreOptions as ClickhouseOptions};
use crate::store::read::Reads;
use crate::store::sqlite::{ReadOptions, SqliteAccounts, SqliteStore, StoreOptions};

pub struct Server {
    pub addr: SocketAddr,
    /// The SQLite file (with ClickHouse, the data directory, which holds the lock).
    pub db_path: PathBuf,
    /// Where the data is, for people: the file, or ClickHouse's address and database.
    pub data: String,
    listener: TcpListener,
    state: Arc<AppState>,
    /// Held until the server stops.
    _data_dir_lock: std::fs::File,
}

/// Another process (a running collector, a maintenance command) holds the
/// data directory.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error(
        "{0} is in use: a collector (or another waymark command) is running on it. Stop it first, \
         or use the HTTP API (/api/lifecycle/…) of the running collector"
    )]
    Locked(String),
    #[error("could not lock {path}: {source}")]
    Io { path: String, source: std::io::Error },
}

/// Takes the data directory for this process (creating it if needed):
/// the lock is released when the file is dropped or the process ends.
pub fn lock_data_dir(data_dir: &std::path::Path) -> Result<std::fs::File, DataDirError> {
    let path = data_dir.join("waymark.lock");
    let io = |source| DataDirError::Io { path: path.display().to_string(), source };
    std::fs::create_dir_all(data_dir).map_err(io)?;
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(DataDirError::Locked(data_dir.display().to_string())),
        Err(std::fs::TryLockError::Error(source)) => Err(io(source)),
    }
}

/// Opens the store and binds the listener; `run_until_signal` serves.
pub async fn start(config: Config) -> anyhow::Result<Server> {
    start_with_clock(config, Arc::new(SystemClock)).await
}

/// As [`start`], on a given clock (tests set the date).
pub async fn start_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Server> {
    config.validate()?;
    let data_dir_lock = lock_data_dir(&config.data_dir)?;
    let metrics = Arc::new(Metrics::default());
    let OpenStore { store, reads, db_path, data } = open_store(&config, &metrics).await?;
    let accounts = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || open_accounts(&config)).await??
    };
    let definitions = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || open_definitions(&config)).await??
    };
    let live = LiveFeed::default();
    let pipeline = Pipeline::new(&config, store.clone(), live.clone(), metrics.clone(), clock.clone())?;
    let rate_limits = RateLimits::new(&config.limits, clock.clone());
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let dashboard = Arc::new(Dashboard::open(&config, reads, accounts, definitions, clock.clone())?);
    crate::api::origin::log_policies(&config);
    let retention = Arc::new(Retention::new(&config, store.clone(), clock.clone(), Some(metrics.clone())));
    let state = Arc::new(AppState { config, store, live, clock, metrics, pipeline, rate_limits, dashboard, retention });
    Ok(Server { addr, db_path, data, listener, state, _data_dir_lock: data_dir_lock })
}

/// The configured backend's write and read seams.
pub struct OpenStore {
    pub store: Arc<dyn Store>,
    pub reads: Arc<dyn Reads>,
    /// See [`Server::db_path`] and [`Server::data`].
    pub db_path: PathBuf,
    pub data: String,
}

/// Opens the store `[store]` configures: SQLite in the data directory, or
/// ClickHouse (checked and migrated first: an unreachable server or a
/// newer schema fails here, with the server named).
pub async fn open_store(config: &Config, metrics: &Metrics) -> anyhow::Result<OpenStore> {
    let options = store_options(config, metrics);
    match Connection::of(&config.store) {
        None => {
            let store = SqliteStore::open_with(&config.data_dir, options)?;
            let (db_path, reads) = (store.path().to_path_buf(), Arc::new(store.reads()));
            Ok(OpenStore { data: db_path.display().to_string(), db_path, reads, store: Arc::new(store) })
        }
        Some(connection) => {
            let data = format!("ClickHouse at {}, database {}", connection.url, connection.database);
            let options = ClickhouseOptions {
                write_queue: options.write_queue,
                session_rules: options.session_rules,
                commit_seconds: options.commit_seconds,
                sessionizer: config.store.sessionizer,
            };
            let store = tokio::task::spawn_blocking(move || ClickhouseStore::open(connection, options)).await??;
            Ok(OpenStore { data, db_path: config.data_dir.clone(), reads: Arc::new(store.reads()), store: Arc::new(store) })
        }
    }
}

/// The dashboard's accounts in the configured backend. Blocks.
pub fn open_accounts(config: &Config) -> Result<Arc<dyn Accounts>, crate::store::StoreError> {
    Ok(match Connection::of(&config.store) {
        None => Arc::new(SqliteAccounts::open_in(&config.data_dir)?),
        Some(connection) => Arc::new(ClickhouseAccounts::open(connection)?),
    })
}

/// The saved goals and segments in the configured backend (the store
/// migrated it). Blocks.
pub fn open_definitions(config: &Config) -> Result<Arc<dyn Definitions>, crate::store::StoreError> {
    Ok(match Connection::of(&config.store) {
        None => Arc::new(SqliteDefinitions::open_in(&config.data_dir)?),
        Some(connection) => Arc::new(ClickhouseDefinitions::open(connection)?),
    })
}

/// The store as the config sets it up: each site's session rule, the
/// write queue bound, commit latency into the metrics.
pub fn store_options(config: &Config, metrics: &Metrics) -> StoreOptions {
    StoreOptions {
        write_queue: config.limits.write_queue,
        session_rules: config.sites.iter().map(|s| (s.key.clone(), s.session_rule())).collect(),
        commit_seconds: Some(metrics.commit_seconds.clone()),
        durability: config.store.durability,
        wal_max_bytes: u64::from(config.store.wal_max_mib) << 20,
        reads: ReadOptions { connections: config.store.read_connections(), cache_kib: i64::from(config.store.read_cache_mib) * 1024 },
        mmap_bytes: u64::from(config.store.mmap_mib) << 20,
    }
}

impl Server {
    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes, then commits what is queued.
    pub async fn run_until(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let app = router(self.state.clone());
        let dashboard = self.state.dashboard.clone();
        let shutdown = async move {
            shutdown.await;
            dashboard.end_streams();
        };
        let forget = {
            let state = self.state.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_secs(60));
                loop {
                    every.tick().await;
                    state.rate_limits.forget_idle();
                }
            })
        };
        let every = Duration::from_secs(u64::from(self.state.config.lifecycle.retention_every_minutes) * 60);
        let retention_job = retention::spawn(self.state.retention.clone(), every);
        let open = self.state.metrics.open_connections.clone();
        serve(self.listener, app, &self.state.config.server, open, shutdown).await;
        forget.abort();
        // A chunk in flight commits or not as a whole; the next run goes on.
        retention_job.abort();
        let _ = retention_job.await;
        self.state.store.close().await;
        tracing::info!("stopped; every acknowledged event is committed");
        Ok(())
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets the
/// open connections finish their requests. A connection is accepted only
/// when one of `max_connections` slots is free (the others wait in the
/// kernel's backlog: a flood of idle connections delays new clients
/// instead of exhausting memory or file descriptors); hyper closes a
/// connection whose request headers take longer than the header timeout,
/// counted from its opening or from its previous answer, so idle ones
/// too; a request body not complete within the body timeout fails its
/// read ([`RequestBodyDeadlineLayer`]), which the handler answers with 408.
async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: &ServerConfig,
    open: prometheus::IntGauge,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    // HTTP/1.1 only: hyper's header deadline starts as a connection opens,
    // where the HTTP/2 detection of hyper-util's `auto` would first wait,
    // without a deadline, for bytes an idle client never sends. (HTTP/2 and
    // TLS belong to the reverse proxy in front.)
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(limits.header_timeout_seconds));
    let body_deadline = RequestBodyDeadlineLayer::new(Duration::from_secs(limits.body_timeout_seconds));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the slots are never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or the peer left before the
                    // accept: wait a moment rather than spin.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = ServiceBuilder::new()
            .map_request(|request: axum::http::Request<Incoming>| request.map(axum::body::Body::new))
            .layer(axum::Extension(ConnectInfo(peer)))
            .layer(body_deadline.clone())
            .service(app.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)));
        open.inc();
        let open = open.clone();
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
            open.dec();
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Completes on SIGTERM or Ctrl-C. The handlers are installed when this is
/// called, not when first polled: a SIGTERM right after start must not kill
/// the process without its graceful shutdown.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    let ctrl_c = tokio::signal::ctrl_c();
    async move {
        #[cfg(unix)]
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
    }
}
