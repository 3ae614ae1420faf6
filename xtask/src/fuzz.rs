//! `cargo xtask fuzz --seconds N`: every fuzz target for N seconds, its
//! executions, coverage and crashes written to the "Fuzzing" section of
//! BENCHMARKS.md (the rest of the file is left as it is); and the smoke
//! run `cargo xtask test` makes of each target, so that an input that
//! crashes one fails CI.
//!
//! The targets are cargo-fuzz crates of their own (`collector/fuzz`,
//! `sdk-wasm/fuzz`), built on the nightly toolchain in release mode with
//! debug assertions and overflow checks, without a sanitizer: the code
//! under test is safe Rust, so what a fuzzer can find is a panic (an
//! unwrap, an index, an overflow), and the sanitizer would only slow the
//! search. Each run starts from the committed seed corpus (payloads of the
//! real tests) and the corpus earlier runs grew under `target/fuzz/`,
//! where new inputs and crashing ones (artifacts) are written.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// The cargo-fuzz version `cargo xtask` installs when it is missing.
pub const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Each target: its crate, its name, what a stranger reaches through it.
const TARGETS: &[(&str, &str, &str)] = &[
    ("collector/fuzz", "browser_batch", "`POST /api/collect` body, id cookie, user agent: decode, validate, enrich"),
    ("collector/fuzz", "browser_batch_gzip", "the same body gzipped: bounded decompression first"),
    ("collector/fuzz", "server_batch", "`POST /api/server/collect` body: decode, validate with stated addresses, enrich"),
    ("collector/fuzz", "segment", "`POST /v1/{call}`: Segment messages read, mapped and validated"),
    ("collector/fuzz", "config", "config file and `WAYMARK_*` overrides: load, validate"),
    ("collector/fuzz", "query", "`GET /api/query/…` parameters and filters, answered by SQLite"),
    ("sdk-wasm/fuzz", "stored_state", "SDK: tampered localStorage and cookie values, then calls and answers"),
];

/// Crashes found in what the targets reach, each fixed with a regression
/// test in the normal suite: (target, what it was).
const FOUND: &[(&str, &str)] = &[(
    "query",
    "a page number near `usize::MAX` overflowed the offset of the sessions list and the consent log (a panic in debug \
     builds, the first page in release ones): found reading the code the target covers and reproduced through it \
     (`page=184467440737095516&per_page=1000`, route 3) before the fix in `query::{sessions,consent}`; regression test \
     `integration_query::a_page_past_the_end_of_any_store_is_empty_for_sessions_and_the_consent_log`",
)];

const HEADING: &str = "## Fuzzing";

/// One target's run: libFuzzer's last figures.
struct Figures {
    executions: u64,
    seconds: f64,
    cov: u64,
    ft: u64,
    corpus: u64,
    crash: Option<String>,
}

pub fn fuzz(root: &Path, args: &[String]) -> Result<()> {
    let seconds: u64 = match args {
        [flag, n] if flag == "--seconds" => n.parse().context("--seconds takes a whole number")?,
        [] => 60,
        _ => bail!("usage: cargo xtask fuzz [--seconds N]"),
    };
    crate::tools::ensure_cargo_fuzz()?;
    build(root)?;
    let mut rows = Vec::new();
    for &(dir, name, what) in TARGETS {
        let figures = run(root, dir, name, seconds)?;
        eprintln!("fuzz: {name}: {} executions, cov {}, ft {}, crash: {:?}", figures.executions, figures.cov, figures.ft, figures.crash);
        rows.push((name, what, figures));
    }
    let section = report(seconds, &rows);
    let path = root.join("BENCHMARKS.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n\n".into());
    std::fs::write(&path, with_section(&text, &section))?;
    eprintln!("{section}");
    let crashed: Vec<&str> = rows.iter().filter(|(_, _, f)| f.crash.is_some()).map(|(n, _, _)| *n).collect();
    if !crashed.is_empty() {
        bail!("fuzz targets crashed: {} (inputs under target/fuzz/artifacts/)", crashed.join(", "));
    }
    Ok(())
}

/// For `cargo xtask test`: each target over its seed corpus and for a few
/// seconds more; any crash fails.
pub fn smoke(root: &Path) -> Result<()> {
    crate::tools::ensure_cargo_fuzz()?;
    build(root)?;
    for &(dir, name, _) in TARGETS {
        let figures = run(root, dir, name, SMOKE_SECONDS)?;
        if let Some(crash) = figures.crash {
            bail!("fuzz target {name} crashed: {crash}");
        }
    }
    Ok(())
}

const SMOKE_SECONDS: u64 = 3;

fn cargo_fuzz(dir: &Path) -> Command {
    let mut cmd = Command::new("cargo");
    // The nightly toolchain, whatever the workspace's own toolchain is.
    cmd.current_dir(dir).env_remove("RUSTUP_TOOLCHAIN").env_remove("CARGO").args(["+nightly", "fuzz"]);
    cmd
}

/// Release, debug assertions (overflow checks), no sanitizer: see the module doc.
const BUILD_FLAGS: [&str; 4] = ["-O", "-a", "-s", "none"];

fn build(root: &Path) -> Result<()> {
    let mut dirs: Vec<&str> = TARGETS.iter().map(|t| t.0).collect();
    dirs.dedup();
    for dir in dirs {
        crate::run(cargo_fuzz(&root.join(dir)).arg("build").args(BUILD_FLAGS))?;
    }
    Ok(())
}

fn run(root: &Path, dir: &str, name: &str, seconds: u64) -> Result<Figures> {
    let work = root.join("target/fuzz/corpus").join(name);
    let artifacts = root.join("target/fuzz/artifacts").join(name);
    std::fs::create_dir_all(&work)?;
    std::fs::create_dir_all(&artifacts)?;
    let seeds = root.join(dir).join("corpus").join(name);
    // New inputs go to the first corpus directory: the work one, never the committed seeds.
    let out = cargo_fuzz(&root.join(dir))
        .arg("run")
        .args(BUILD_FLAGS)
        .arg(name)
        .arg(&work)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg("-print_final_stats=1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running fuzz target {name}"))?;
    let log = String::from_utf8_lossy(&out.stderr);
    let mut figures = parse(&log);
    if !out.status.success() {
        let written = log.lines().find_map(|l| l.split_once("Test unit written to ").map(|(_, p)| p.trim().to_owned()));
        let why = log.lines().find(|l| l.contains("panicked at") || l.contains("ERROR: libFuzzer")).unwrap_or("it failed");
        figures.crash = Some(format!("{why} (input: {})", written.unwrap_or_else(|| "not written".into())));
        eprintln!("{log}");
    }
    Ok(figures)
}

/// libFuzzer's figures from its log: the last status line's `cov`, `ft`
/// and `corp`, and `stat::number_of_executed_units`.
fn parse(log: &str) -> Figures {
    let mut figures = Figures { executions: 0, seconds: 0.0, cov: 0, ft: 0, corpus: 0, crash: None };
    for line in log.lines() {
        let value = |key: &str| -> Option<u64> {
            let rest = line.split_once(key)?.1.trim_start();
            rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
        };
        if let Some(count) = line.strip_prefix('#') {
            figures.cov = value("cov: ").unwrap_or(figures.cov);
            figures.ft = value("ft: ").unwrap_or(figures.ft);
            figures.corpus = value("corp: ").unwrap_or(figures.corpus);
            if let Some(n) = count.split(|c: char| !c.is_ascii_digit()).next().and_then(|n| n.parse().ok()) {
                figures.executions = figures.executions.max(n);
            }
        }
        if let Some(n) = value("stat::number_of_executed_units:") {
            figures.executions = n;
        }
        // `Done 113591 runs in 9 second(s)`: the fuzzing time, without the build.
        if let Some(seconds) = value(" runs in ").filter(|_| line.starts_with("Done ")) {
            figures.seconds = seconds as f64;
        }
    }
    figures
}

fn report(seconds: u64, rows: &[(&str, &str, Figures)]) -> String {
    let date = Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]).output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let mut s = format!(
        "{HEADING}\n\n`cargo xtask fuzz --seconds {seconds}` on {} on {}: each target {seconds} s, one after another, \
         through cargo-fuzz {CARGO_FUZZ_VERSION} (libFuzzer) on the nightly toolchain, release builds with debug assertions \
         and overflow checks and no sanitizer (safe Rust: the findings are panics and overflows), from the committed seed \
         corpus (`collector/fuzz/corpus/`, `sdk-wasm/fuzz/corpus/`: the real tests' payloads) and what earlier runs added \
         under `target/fuzz/corpus/`. `cargo xtask test` runs each target {SMOKE_SECONDS} s over its seeds.\n\n\
         | target | what a stranger reaches | executions | per second | coverage (cov) | features (ft) | corpus | crashes |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        date.unwrap_or_default(),
        crate::tools::machine_description()
    );
    let mut total = 0;
    for (name, what, f) in rows {
        total += f.executions;
        s.push_str(&format!(
            "| `{name}` | {what} | {} | {:.0} | {} | {} | {} | {} |\n",
            f.executions,
            f.executions as f64 / f.seconds.max(1.0),
            f.cov,
            f.ft,
            f.corpus,
            if f.crash.is_some() { "**1**" } else { "0" }
        ));
    }
    let crashes = rows.iter().filter(|r| r.2.crash.is_some()).count();
    s.push_str(&format!(
        "\nTotal: **{total} executions** in {} s of fuzzing; crashes in this run: {crashes}.\n\nCrashes found and fixed, each with a regression test in the normal suite:\n\n",
        seconds * rows.len() as u64
    ));
    for (target, what) in FOUND {
        s.push_str(&format!("- `{target}`: {what}.\n"));
    }
    s.push_str("\nReproduce: `cargo xtask fuzz --seconds 60`; one target: `cd collector/fuzz && cargo +nightly fuzz run -O -a -s none query`.\n\n");
    s
}

/// `text` with its "Fuzzing" section replaced by `section` (or added at the end).
pub fn with_section(text: &str, section: &str) -> String {
    match section_range(text) {
        Some((start, end)) => format!("{}{section}{}", &text[..start], &text[end..]),
        None => format!("{}\n{section}", text.trim_end_matches('\n').to_owned() + "\n"),
    }
}

/// The "Fuzzing" section of BENCHMARKS.md's text, to keep across `cargo xtask bench`.
pub fn section(text: &str) -> Option<&str> {
    section_range(text).map(|(start, end)| &text[start..end])
}

fn section_range(text: &str) -> Option<(usize, usize)> {
    let start = if text.starts_with(HEADING) { 0 } else { text.find(&format!("\n{HEADING}\n"))? + 1 };
    let end = text[start + HEADING.len()..].find("\n## ").map_or(text.len(), |i| start + HEADING.len() + i + 1);
    Some((start, end))
}

