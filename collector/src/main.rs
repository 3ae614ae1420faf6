use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use waymark_collector::config::Config;

/// Waymark: privacy-first session tracking you host yourself.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the collector (the default).
    Serve(ServeArgs),
}

#[derive(clap::Args, Clone)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "WAYMARK_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory for the database; created if missing.
    #[arg(long, env = "WAYMARK_DATA_DIR", default_value = "data")]
    data_dir: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("WAYMARK_LOG").unwrap_or_else(|_| "info".into()))
        .init();
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Serve(args)) => args,
        None => cli.serve,
    };
    let config = Config::demo(args.listen, args.data_dir);
    let server = waymark_collector::start(config).await?;
    // Tests and scripts read this line to find the port.
    println!("waymark listening on http://{}", server.addr);
    println!("waymark data in {}", server.db_path.display());
    server.run_until_signal().await
}
