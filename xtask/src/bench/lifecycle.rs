//! Retention and erasure on a large store: runs the collector's
//! `lifecycle_bench` example (server profile), which seeds a SQLite store
//! with synthetic events over 90 days, deletes the oldest 30 days through
//! the retention job while appends go on (rows/s, and the append rate
//! beside it against appends alone), and times the erasure of one visitor.
//!
//! The store size comes from `WAYMARK_BENCH_LIFECYCLE_EVENTS` (default
//! `1000000`); `WAYMARK_BENCH_SECONDS` shortens the appends-alone phase.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

pub fn section(root: &Path) -> Result<String> {
    let events = std::env::var("WAYMARK_BENCH_LIFECYCLE_EVENTS").unwrap_or_else(|_| "1000000".into());
    let seconds = std::env::var("WAYMARK_BENCH_SECONDS").unwrap_or_else(|_| "5".into());
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root)
        .args(["run", "--quiet", "--profile", "server", "-p", "waymark-collector", "--example", "lifecycle_bench", "--"])
        .args([events.trim(), seconds.trim()])
        .stderr(Stdio::inherit());
    eprintln!("+ {cmd:?}");
    let out = cmd.output().context("running the lifecycle benchmark")?;
    if !out.status.success() {
        bail!("the lifecycle benchmark failed with {}", out.status);
    }
    let mut section = String::from_utf8(out.stdout)?;
    section.push_str(&format!(
        "\nReproduce: `WAYMARK_BENCH_ONLY=lifecycle WAYMARK_BENCH_LIFECYCLE_EVENTS={events} cargo xtask bench`, or \
         `cargo run --profile server -p waymark-collector --example lifecycle_bench -- {events} {seconds}`.\n\n"
    ));
    Ok(section)
}
