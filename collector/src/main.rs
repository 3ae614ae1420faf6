use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use waymark_collector::config::Config;
use waymark_collector::metrics::Metrics;
use waymark_collector::server::store_options;
use waymark_collector::store::Store;
use waymark_collector::access::{Role, Sites};
use waymark_collector::clock::Clock;
use waymark_collector::store::sqlite::{SqliteAccounts, SqliteStore};
use waymark_collector::users::{Change, Source, Users, random_text};

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
    /// Manage the dashboard's users kept in the database (those in the
    /// config file are listed, and changed there). Works while the
    /// collector runs; changes apply at once.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Every user: name, role, sites, and where it is defined.
    List(CommonArgs),
    /// Add a user. Without --password-stdin a password is generated and printed.
    Add {
        name: String,
        /// admin (everything, managing users included) or viewer (reads its sites).
        #[arg(long, default_value = "viewer")]
        role: String,
        /// "all", or site keys separated by commas.
        #[arg(long, default_value = "all")]
        sites: String,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Set a user's password (this signs them out everywhere).
    Passwd {
        name: String,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Change a user's role or sites.
    Set {
        name: String,
        #[arg(long)]
        role: Option<String>,
        /// "all", or site keys separated by commas.
        #[arg(long)]
        sites: Option<String>,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Remove a user and end their sessions.
    Remove {
        name: String,
        #[command(flatten)]
        common: CommonArgs,
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
        Some(Command::Users { command }) => users(command),
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

fn users(command: UsersCommand) -> anyhow::Result<()> {
    let open = |common: &CommonArgs| -> anyhow::Result<Users> {
        let config = common.config()?;
        let accounts = Arc::new(SqliteAccounts::open_in(&config.data_dir)?);
        Ok(Users::open(&config, accounts)?)
    };
    let password = |from_stdin: bool| -> anyhow::Result<(String, bool)> {
        if !from_stdin {
            return Ok((random_text(20), true));
        }
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok((line.trim_end_matches(['\r', '\n']).to_owned(), false))
    };
    let now = || waymark_collector::clock::SystemClock.now_ms();
    match command {
        UsersCommand::List(common) => {
            for user in open(&common)?.list()? {
                println!("{}\t{}\t{}\t{}", user.name, user.role.name(), user.sites.describe(), if user.source == Source::Config { "config" } else { "database" });
            }
        }
        UsersCommand::Add { name, role, sites, password_stdin, common } => {
            let users = open(&common)?;
            let (password, generated) = password(password_stdin)?;
            let user = users.add(&name, &password, Role::parse(&role).map_err(anyhow::Error::msg)?, Sites::parse_list(&sites), now())?;
            println!("added {} ({}, sites: {})", user.name, user.role.name(), user.sites.describe());
            if generated {
                println!("password: {password}");
            }
        }
        UsersCommand::Passwd { name, password_stdin, common } => {
            let users = open(&common)?;
            let (password, generated) = password(password_stdin)?;
            users.change(&name, Change { password: Some(password.clone()), ..Change::default() })?;
            println!("password of {name} changed; their sessions are ended");
            if generated {
                println!("password: {password}");
            }
        }
        UsersCommand::Set { name, role, sites, common } => {
            let role = role.map(|r| Role::parse(&r)).transpose().map_err(anyhow::Error::msg)?;
            let user = open(&common)?.change(&name, Change { role, sites: sites.as_deref().map(Sites::parse_list), password: None })?;
            println!("{} is now {}, sites: {}", user.name, user.role.name(), user.sites.describe());
        }
        UsersCommand::Remove { name, common } => {
            open(&common)?.remove(&name)?;
            println!("removed {name}");
        }
    }
    Ok(())
}

async fn rebuild(config: Config) -> anyhow::Result<()> {
    let store = Arc::new(SqliteStore::open_with(&config.data_dir, store_options(&config, &Metrics::default()))?);
    let rebuilt = store.rebuild_sessions().await?;
    store.close().await;
    println!("rebuilt {} sessions from {} events in {}", rebuilt.sessions, rebuilt.events, store.path().display());
    Ok(())
}
