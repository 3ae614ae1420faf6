use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use waymark_collector::config::Config;
use waymark_collector::metrics::Metrics;
use waymark_collector::server::store_options;
use waymark_collector::store::Store;
use waymark_collector::store::sqlite::SqliteStore;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Waymark: privacy-first session tracking you host yourself.
///
/// Configuration comes from a TOML file (`--config`), overridden by
/// `WAYMARK_*` environment variables (`WAYMARK_LISTEN`,
/// `WAYMARK_LIMITS__PER_IP_PER_SECOND`, …), overridden by the flags below.
/// Without a file it runs the demo site `demo`. Logs: `WAYMARK_LOG=debug`.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: CommonArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the collector (the default).
    Serve(CommonArgs),
    /// Maintain the sessions table.
    Sessions {
        #[command(subcommand)]
        command: SessionsCommand,
    },
}

#[derive(Subcommand)]
enum SessionsCommand {
    /// Recompute every session from the stored events with the current
    /// rule and each site's current timeout. Run it with the collector
    /// stopped.
    Rebuild(CommonArgs),
}

#[derive(clap::Args, Clone)]
struct CommonArgs {
    /// A TOML configuration file.
    #[arg(long, env = "WAYMARK_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on; port 0 picks a free port. [default: 127.0.0.1:8080]
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Directory for the database; created if missing. [default: data]
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

impl CommonArgs {
    fn config(&self) -> anyhow::Result<Config> {
        let mut config = Config::load(self.config.as_deref(), std::env::vars())?;
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(data_dir) = &self.data_dir {
            config.data_dir = data_dir.clone();
        }
        Ok(config)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logs go to stderr: stdout carries only the lines scripts read.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("WAYMARK_LOG").unwrap_or_else(|_| "info".into()))
        .init();
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Sessions { command: SessionsCommand::Rebuild(args) }) => rebuild(args.config()?).await,
        Some(Command::Serve(args)) => serve(args.config()?).await,
        None => serve(cli.serve.config()?).await,
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let sites = config.sites.len();
    let server = waymark_collector::start(config).await?;
    let stop = waymark_collector::server::shutdown_signal();
    // Tests and scripts read this line to find the port.
    println!("waymark listening on http://{}", server.addr);
    println!("waymark data in {}", server.db_path.display());
    tracing::info!(addr = %server.addr, sites, "collector started");
    server.run_until(stop).await
}

async fn rebuild(config: Config) -> anyhow::Result<()> {
    let store = Arc::new(SqliteStore::open_with(&config.data_dir, store_options(&config, &Metrics::default()))?);
    let rebuilt = store.rebuild_sessions().await?;
    store.close().await;
    println!("rebuilt {} sessions from {} events in {}", rebuilt.sessions, rebuilt.events, store.path().display());
    Ok(())
}
