//! Starting and stopping the collector: open the store, bind, serve, and on
//! shutdown stop taking requests, then commit what is queued before exiting.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::api::dashboard::Dashboard;
use crate::api::rate_limit::RateLimits;
use crate::ingest::pipeline::Pipeline;
use crate::api::{AppState, router};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::live::LiveFeed;
use crate::metrics::Metrics;
use crate::store::sqlite::{SqliteStore, StoreOptions};
use crate::store::Store;
use crate::store::accounts::Accounts;

pub struct Server {
    pub addr: SocketAddr,
    pub db_path: PathBuf,
    listener: TcpListener,
    state: Arc<AppState>,
}

/// Opens the store and binds the listener; `run_until_signal` serves.
pub async fn start(config: Config) -> anyhow::Result<Server> {
    start_with_clock(config, Arc::new(SystemClock)).await
}

/// As [`start`], on a given clock (tests set the date).
pub async fn start_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Server> {
    config.validate()?;
    let metrics = Arc::new(Metrics::default());
    let store = SqliteStore::open_with(&config.data_dir, store_options(&config, &metrics))?;
    let db_path = store.path().to_path_buf();
    let accounts = Arc::new(store.accounts()?) as Arc<dyn Accounts>;
    let store = Arc::new(store) as Arc<dyn Store>;
    let live = LiveFeed::default();
    let pipeline = Pipeline::new(&config, store.clone(), live.clone(), metrics.clone(), clock.clone())?;
    let rate_limits = RateLimits::new(&config.limits, clock.clone());
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let dashboard = Arc::new(Dashboard::open(&config, &db_path, accounts, clock.clone())?);
    crate::api::origin::log_policies(&config);
    let state = Arc::new(AppState { config, store, live, clock, metrics, pipeline, rate_limits, dashboard });
    Ok(Server { addr, db_path, listener, state })
}

/// The store as the config sets it up: each site's session rule, the
/// write queue bound, commit latency into the metrics.
pub fn store_options(config: &Config, metrics: &Metrics) -> StoreOptions {
    StoreOptions {
        write_queue: config.limits.write_queue,
        session_rules: config.sites.iter().map(|s| (s.key.clone(), s.session_rule())).collect(),
        commit_seconds: Some(metrics.commit_seconds.clone()),
        ..StoreOptions::default()
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
        let served = axum::serve(self.listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await;
        forget.abort();
        self.state.store.close().await;
        served?;
        tracing::info!("stopped; every acknowledged event is committed");
        Ok(())
    }
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
