//! Starting and stopping the collector: bind, serve, and on shutdown commit
//! what is queued before exiting.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::api::dashboard::Dashboard;
use crate::api::{AppState, router};
use crate::config::Config;
use crate::live::LiveFeed;
use crate::query::Clock;
use crate::store::{Store, sqlite::SqliteStore};

pub struct Server {
    pub addr: SocketAddr,
    pub db_path: PathBuf,
    listener: TcpListener,
    state: Arc<AppState>,
}

/// Opens the store and binds the listener; `run_until_signal` serves.
pub async fn start(config: Config) -> anyhow::Result<Server> {
    start_with_clock(config, Clock::system()).await
}

/// As [`start`], with the dashboard's "now" from `clock` (tests fix it).
pub async fn start_with_clock(config: Config, clock: Clock) -> anyhow::Result<Server> {
    let store = SqliteStore::open(&config.data_dir)?;
    let db_path = store.path().to_path_buf();
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let dashboard = Arc::new(Dashboard::open(&config, &db_path, clock)?);
    let state = Arc::new(AppState { config, store: Arc::new(store) as Arc<dyn Store>, live: LiveFeed::default(), dashboard });
    Ok(Server { addr, db_path, listener, state })
}

impl Server {
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
        axum::serve(self.listener, app).with_graceful_shutdown(shutdown).await?;
        self.state.store.close().await;
        tracing::info!("stopped; every acknowledged event is committed");
        Ok(())
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
