use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use waymark_collector::config::{Backend, Config, Sessionizer};
use waymark_collector::migrate::{self, Step, verify};
use waymark_collector::store::clickhouse::sessionizer::Running;
use waymark_collector::store::clickhouse::{Connection, Sessionizer as SessionsMaker, SessionizerOptions, Shard};
use waymark_collector::metrics::Metrics;
use waymark_collector::clock::{Clock, SystemClock};
use waymark_collector::lifecycle::{erasure, retention::Retention};
use waymark_collector::query::Site;
use waymark_collector::query::person::{PersonEvents, PersonSessions};
use waymark_collector::server::{OpenStore, lock_data_dir, open_accounts, open_store};
use waymark_collector::store::Store;
use waymark_collector::store::lifecycle::Selector;
use waymark_collector::store::read::Reads;
use waymark_collector::access::{Role, Sites};
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
    /// Delete what is older than each site's retention period now
    /// (`retention_days`, `[lifecycle] retention_days`), or with
    /// `--dry-run` print what that would delete, per site and day. Run it
    /// with the collector stopped (the running collector does this itself
    /// every `retention_every_minutes`).
    Retention(RetentionArgs),
    /// Erase one person (every event and session of a visitor, of every
    /// visitor of a user id, or of a session's visitor) or a whole site,
    /// and record it in the audit log. Run it with the collector stopped,
    /// or use `POST /api/lifecycle/erase` of the running collector.
    Erase(EraseArgs),
    /// Print every stored event and session of one person, as JSON (both)
    /// or CSV (`--table events|sessions`), for them to receive.
    Export(ExportArgs),
    /// Print the audit log: erasures and retention runs, oldest first.
    Audit(AuditArgs),
    /// Make sessions from the events collectors append to ClickHouse
    /// (`[store] sessionizer = "separate"`), until stopped (Ctrl-C or
    /// SIGTERM). Resumes where it stopped; `--shard i/n` takes the i-th
    /// of n parts of the visitors, so n of these share the work.
    Sessionize(SessionizeArgs),
    /// Manage the dashboard's users kept in the database (those in the
    /// config file are listed, and changed there). Works while the
    /// collector runs; changes apply at once.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Move the SQLite store (in --data-dir) into ClickHouse (the config's
    /// [store], or --url): events, bot counts, the audit log, dashboard
    /// users and the current cookieless salts; sessions are recomputed
    /// there. Stopped and run again, it goes on where it was. At the end
    /// it compares events and sessions per site and day and fails naming
    /// the first day that differs. Run it with the collector stopped.
    Migrate(MigrateArgs),
}

#[derive(clap::Args)]
struct MigrateArgs {
    /// The backend to move to.
    #[arg(long, value_enum)]
    to: MigrateTarget,
    /// ClickHouse's HTTP address, e.g. http://127.0.0.1:8123 (instead of [store] url).
    #[arg(long)]
    url: Option<String>,
    /// The ClickHouse database (instead of [store] database).
    #[arg(long)]
    database: Option<String>,
    /// Events per insert.
    #[arg(long, default_value_t = migrate::DEFAULT_PAGE_ROWS)]
    page_rows: usize,
    /// For tests: exit at once, as if killed, once this many pages are
    /// inserted (the last one not yet marked).
    #[arg(long, hide = true)]
    exit_after_pages: Option<u64>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(clap::ValueEnum, Clone, Copy)]
enum MigrateTarget {
    Clickhouse,
}

#[derive(clap::Args)]
struct SessionizeArgs {
    /// This sessionizer's part of the visitors, i/n (0 <= i < n).
    #[arg(long, default_value = "0/1", value_parser = Shard::parse)]
    shard: Shard,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(clap::Args)]
struct RetentionArgs {
    /// Print what would be deleted, per site and day; delete nothing.
    #[arg(long)]
    dry_run: bool,
    /// Only this site.
    #[arg(long)]
    site: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("whom").required(true).args(["visitor", "user", "session", "all"])))]
struct EraseArgs {
    #[arg(long)]
    site: String,
    /// A visitor id.
    #[arg(long)]
    visitor: Option<String>,
    /// A user id (from `identify`): every visitor linked to it.
    #[arg(long)]
    user: Option<String>,
    /// A session id (as the session explorer shows it): its visitor.
    #[arg(long)]
    session: Option<String>,
    /// Everything the site holds.
    #[arg(long)]
    all: bool,
    /// Do not ask before erasing.
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("whom").required(true).args(["visitor", "user", "session"])))]
struct ExportArgs {
    #[arg(long)]
    site: String,
    #[arg(long)]
    visitor: Option<String>,
    #[arg(long)]
    user: Option<String>,
    #[arg(long)]
    session: Option<String>,
    /// `json` (events and sessions) or `csv` (one table).
    #[arg(long, default_value = "json")]
    format: String,
    /// With `--format csv`: `events` or `sessions`.
    #[arg(long, default_value = "events")]
    table: String,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(clap::Args)]
struct AuditArgs {
    /// Only this site's records.
    #[arg(long)]
    site: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
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
        Some(Command::Retention(args)) => run_retention(args).await,
        Some(Command::Erase(args)) => erase(args).await,
        Some(Command::Export(args)) => export(args).await,
        Some(Command::Audit(args)) => audit(args).await,
        Some(Command::Sessionize(args)) => sessionize(args).await,
        Some(Command::Users { command }) => users(command),
        Some(Command::Migrate(args)) => run_migrate(args).await,
        None => serve(cli.serve.config()?).await,
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let sites = config.sites.len();
    let server = waymark_collector::start(config).await?;
    let stop = waymark_collector::server::shutdown_signal();
    // Tests and scripts read this line to find the port.
    println!("waymark listening on http://{}", server.addr);
    println!("waymark data in {}", server.data);
    tracing::info!(addr = %server.addr, sites, "collector started");
    server.run_until(stop).await
}

async fn sessionize(args: SessionizeArgs) -> anyhow::Result<()> {
    let config = args.common.config()?;
    let Some(connection) = Connection::of(&config.store) else {
        anyhow::bail!("waymark sessionize is for [store] backend = \"clickhouse\"; on SQLite the collector makes sessions as it writes");
    };
    if config.store.sessionizer == Sessionizer::Writer {
        tracing::warn!(
            "[store] sessionizer is \"writer\": collectors make sessions themselves and append nothing for this; \
             set it to \"separate\" on every collector"
        );
    }
    let options = SessionizerOptions {
        shard: args.shard,
        session_rules: config.sites.iter().map(|s| (s.key.clone(), s.session_rule())).collect(),
        ..SessionizerOptions::default()
    };
    let mut running = tokio::task::spawn_blocking(move || {
        let sessionizer = SessionsMaker::open(connection, options)?;
        anyhow::Ok(Running::spawn(sessionizer)?)
    })
    .await??;
    // Scripts and tests read this line to know it runs.
    println!("waymark sessionizer running, shard {}", args.shard.key());
    waymark_collector::server::shutdown_signal().await;
    tokio::task::spawn_blocking(move || running.stop()).await?;
    Ok(())
}

fn users(command: UsersCommand) -> anyhow::Result<()> {
    let open = |common: &CommonArgs| -> anyhow::Result<Users> {
        let config = common.config()?;
        let accounts = open_accounts(&config)?;
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

/// The store as a maintenance command opens it: on ClickHouse without a
/// sessionizer of its own (`inside` is for `serve`); its appends, if any,
/// still go where the collectors' go.
async fn open_for_maintenance(config: &Config) -> anyhow::Result<OpenStore> {
    let mut config = config.clone();
    if config.store.sessionizer == Sessionizer::Inside {
        config.store.sessionizer = Sessionizer::Separate;
    }
    open_store(&config, &Metrics::default()).await
}

async fn rebuild(config: Config) -> anyhow::Result<()> {
    let OpenStore { store, data, .. } = open_for_maintenance(&config).await?;
    let rebuilt = store.rebuild_sessions().await?;
    store.close().await;
    println!("rebuilt {} sessions from {} events in {data}", rebuilt.sessions, rebuilt.events);
    Ok(())
}

/// The store for a maintenance command, with the data directory taken (a
/// running collector holds it: the command refuses to run beside it).
struct Maintenance {
    config: Config,
    store: Arc<dyn Store>,
    reads: Arc<dyn Reads>,
    _lock: std::fs::File,
}

impl Maintenance {
    async fn open(args: &CommonArgs) -> anyhow::Result<Maintenance> {
        let config = args.config()?;
        let lock = lock_data_dir(&config.data_dir)?;
        let OpenStore { store, reads, .. } = open_for_maintenance(&config).await?;
        Ok(Maintenance { config, store, reads, _lock: lock })
    }

    fn site(&self, key: &str) -> anyhow::Result<Site> {
        let site = self.config.site(key).ok_or_else(|| anyhow::anyhow!("no [[site]] with key {key:?} in the config"))?;
        Ok(Site::new(&site.key, &site.time_zone)?)
    }
}

fn utc(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}

async fn run_retention(args: RetentionArgs) -> anyhow::Result<()> {
    let m = Maintenance::open(&args.common).await?;
    if let Some(site) = &args.site {
        m.site(site)?;
    }
    let store: Arc<dyn Store> = m.store.clone();
    let retention = Retention::new(&m.config, store, Arc::new(SystemClock), None).unpaced();
    let sites: Vec<String> =
        retention.policies().iter().filter(|p| args.site.as_ref().is_none_or(|s| *s == p.site)).map(|p| p.site.clone()).collect();
    let mut total = 0;
    for site in &sites {
        let preview = retention.preview(site).await?.expect("a configured site");
        let Some(cutoff) = preview.cutoff_ms else {
            println!("{site}: kept forever (no retention_days)");
            continue;
        };
        println!("{site}: kept {} days; sessions that ended before {} go", preview.retention_days.unwrap_or_default(), utc(cutoff));
        if args.dry_run {
            for day in &preview.days {
                println!("  {}  {} sessions  {} events  {} bot counts", day.day, day.sessions, day.events, day.bot_days);
            }
            println!("  would delete {} rows ({} sessions, {} events)", preview.rows(), preview.days.iter().map(|d| d.sessions).sum::<u64>(), preview.days.iter().map(|d| d.events).sum::<u64>());
        }
        total += preview.rows();
    }
    if args.dry_run {
        m.store.close().await;
        return Ok(());
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} rows ({per_sec}, {eta} left)")?.progress_chars("=> "));
    let mut done_before = 0;
    let mut current = String::new();
    let run = retention
        .run(erasure::CLI, args.site.as_deref(), |site, rows| {
            if site != current {
                done_before = bar.position();
                current = site.to_owned();
                bar.set_message(current.clone());
            }
            bar.set_position(done_before + rows);
        })
        .await;
    bar.finish_and_clear();
    let run = run?;
    m.store.close().await;
    for site in &run.sites {
        println!(
            "{}: removed {} rows ({} sessions, {} events, {} bot counts) in {} chunks",
            site.site, site.deleted.rows(), site.deleted.sessions, site.deleted.events, site.deleted.bot_days, site.chunks
        );
    }
    Ok(())
}

fn selector_of(visitor: Option<&str>, user: Option<&str>, session: Option<&str>, all: bool) -> anyhow::Result<Selector> {
    erasure::selector(visitor, user, session, all).map_err(|e| anyhow::anyhow!(e))
}

async fn erase(args: EraseArgs) -> anyhow::Result<()> {
    let m = Maintenance::open(&args.common).await?;
    m.site(&args.site)?;
    let selector = selector_of(args.visitor.as_deref(), args.user.as_deref(), args.session.as_deref(), args.all)?;
    if !args.yes {
        let what = match &selector {
            Selector::Site => format!("EVERY event and session of site {:?}", args.site),
            other => format!("every event and session of that {} on site {:?}", other.kind().as_str(), args.site),
        };
        eprint!("Erase {what}? This cannot be undone. Type yes: ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if answer.trim() != "yes" {
            m.store.close().await;
            anyhow::bail!("not erased (pass --yes to skip this question)");
        }
    }
    let erased = erasure::erase(m.store.as_ref(), &args.site, &selector, erasure::CLI, SystemClock.now_ms()).await;
    m.store.close().await;
    let erased = erased?;
    println!(
        "erased {} rows ({} events, {} sessions of {} visitors) from {}; recorded in the audit log",
        erased.rows(), erased.events, erased.sessions, erased.visitors, args.site
    );
    Ok(())
}

async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let m = Maintenance::open(&args.common).await?;
    let site = m.site(&args.site)?;
    let selector = selector_of(args.visitor.as_deref(), args.user.as_deref(), args.session.as_deref(), false)?;
    let data = m.reads.person(&site, &selector).await;
    m.store.close().await;
    let data = data?;
    let out = match (args.format.as_str(), args.table.as_str()) {
        ("json", _) => serde_json::to_vec_pretty(&data)?,
        ("csv", "events") => waymark_collector::api::export::to_csv(&PersonEvents(data))?,
        ("csv", "sessions") => waymark_collector::api::export::to_csv(&PersonSessions(data))?,
        ("csv", other) => anyhow::bail!("--table is events or sessions, got {other:?}"),
        (other, _) => anyhow::bail!("--format is json or csv, got {other:?}"),
    };
    use std::io::Write;
    std::io::stdout().write_all(&out)?;
    Ok(())
}

async fn audit(args: AuditArgs) -> anyhow::Result<()> {
    let m = Maintenance::open(&args.common).await?;
    if let Some(site) = &args.site {
        m.site(site)?;
    }
    let records = m.store.audit(args.site.as_deref()).await;
    m.store.close().await;
    println!("at\tsite\tkind\trows_removed\trequested_by");
    for r in records? {
        println!("{}\t{}\t{}\t{}\t{}", utc(r.at_ms), r.site, r.kind.as_str(), r.rows_removed, r.requested_by);
    }
    Ok(())
}

async fn run_migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let MigrateTarget::Clickhouse = args.to;
    let mut config = args.common.config()?;
    if let Some(url) = args.url {
        config.store.backend = Backend::Clickhouse;
        config.store.url = Some(url);
    }
    if let Some(database) = args.database {
        config.store.database = database;
    }
    config.validate()?;
    let mut stderr = migrate::progress::Stderr::default();
    let moved = migrate::to_clickhouse(&config, args.page_rows, &mut |step| {
        if let (Step::Inserted { pages, .. }, Some(last)) = (step, args.exit_after_pages)
            && pages >= last
        {
            std::process::exit(137);
        }
        stderr.show(step);
    })
    .await?;
    println!("{:<10}  {:<20} {:>14} {:>12} {:>16} {:>12}", "day", "site", "events SQLite", "ClickHouse", "sessions SQLite", "ClickHouse");
    let row = |day: &str, site: &str, d: &verify::DayRow| {
        let mark = if d.matches() { "" } else { "  differs" };
        println!("{day:<10}  {site:<20} {:>14} {:>12} {:>16} {:>12}{mark}", d.events.0, d.events.1, d.sessions.0, d.sessions.1);
    };
    for d in &moved.comparison.days {
        row(&d.label(), &d.site, d);
    }
    row("total", "", &moved.comparison.totals());
    if let Some(first) = moved.comparison.first_difference() {
        anyhow::bail!("{}", verify::describe(first));
    }
    let totals = moved.comparison.totals();
    println!(
        "moved {} events ({} written by this run) and their {} sessions from {} to {}; every day matches",
        totals.events.1, moved.events_written, totals.sessions.1, moved.source, moved.target
    );
    Ok(())
}
