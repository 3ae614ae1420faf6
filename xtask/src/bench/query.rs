//! The dashboard's queries on large stores, and what they cost ingest: runs
//! the collector's `query_bench` example (server profile), which seeds
//! SQLite stores with synthetic events over 90 days (their sessions derived
//! by the store's own rebuild, the rule live ingest uses), times realtime, a
//! 30-day overview and filtered breakdowns through the read seam, then
//! measures ingest over HTTP alone and with dashboard queries running; the
//! same queries on ClickHouse (a server of the bench's own, the stores
//! moved in by `waymark migrate`'s code). This module seeds nothing itself.
//!
//! Store sizes come from `WAYMARK_BENCH_QUERY_EVENTS` (comma-separated,
//! default `1000000`); add `10000000` for the 10M figures, which take several
//! minutes to seed.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

pub fn section(root: &Path) -> Result<String> {
    let sizes = std::env::var("WAYMARK_BENCH_QUERY_EVENTS").unwrap_or_else(|_| "1000000".into());
    let clickhouse = super::clickhouse::Server::start(root)?;
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root)
        .args(["run", "--quiet", "--profile", "server", "-p", "waymark-collector", "--example", "query_bench", "--"])
        .args(sizes.split(',').map(str::trim))
        .env("QUERY_BENCH_CLICKHOUSE", &clickhouse.url)
        .stderr(Stdio::inherit());
    eprintln!("+ {cmd:?}");
    let out = cmd.output().context("running the query benchmark")?;
    if !out.status.success() {
        bail!("the query benchmark failed with {}", out.status);
    }
    clickhouse.stop()?;
    let mut section = String::from_utf8(out.stdout)?;
    section.push_str(&format!(
        "\nReproduce: `WAYMARK_BENCH_QUERY_EVENTS={sizes} cargo xtask bench`, or \
         `cargo run --profile server -p waymark-collector --example query_bench -- {}`.\n\n",
        sizes.replace(',', " ")
    ));
    Ok(section)
}
