//! `cargo xtask`: the project's one entry point.
//!
//! - `serve`: install what is missing, build the SDK, run the collector with
//!   the demo site and dashboard on the embedded SQLite store.
//! - `test`: install what is missing (Chromium and Segment's Python client
//!   included), then run every suite: native `cargo test`, the SDK in headless Chromium, end to end.
//! - `build-sdk`: build and optimize the browser SDK into `www/sdk/`.
//! - `bench`: run the benchmarks and write `BENCHMARKS.md`.
//! - `fuzz --seconds N`: run every fuzz target N seconds and write their
//!   figures to BENCHMARKS.md's "Fuzzing" section.
//! - `crash --cycles N [--backend sqlite|clickhouse]`: kill the collector
//!   (and on ClickHouse the sessionizer and the database) under load N
//!   times; check that nothing acknowledged is lost or stored twice.

mod bench;
mod crash;
mod fuzz;
mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};


fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    match args.first().map(String::as_str) {
        Some("serve") => serve(&root, &args[1..]),
        Some("test") => test(&root),
        Some("build-sdk") => {
            tools::ensure_build_tools(&root)?;
            build_sdk(&root)
        }
        Some("bench") => bench(&root),
        Some("fuzz") => fuzz::fuzz(&root, &args[1..]),
        Some("crash") => crash::crash(&root, &args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n\
                 serve [--listen ADDR] [--data-dir DIR]   build the SDK and run the collector (default 127.0.0.1:8080, ./data)\n\
                 test                                      install what is missing and run every test\n\
                 build-sdk                                 build and optimize the SDK into www/sdk/\n\
                 bench                                     run the benchmarks and write BENCHMARKS.md\n\
                 fuzz [--seconds N]                        run every fuzz target N s (default 60), figures into BENCHMARKS.md\n\
                 crash [--cycles N] [--backend B] [--seed S]  kill -9 the collector under load N times (default 100; sqlite or clickhouse)"
            );
            std::process::exit(2);
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace").to_path_buf()
}

/// Runs a command, failing with its command line when it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("+ {cmd:?}");
    let status = cmd.status().with_context(|| format!("could not start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn cargo(root: &Path) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root);
    cmd
}

/// Builds the SDK for the browser: release (size-tuned, `no_std`) Wasm, JS
/// glue from wasm-bindgen (minified), then `wasm-opt -Oz`. Two modules: the
/// one most pages download (`waymark_sdk_bg.wasm`), and the one with the
/// `extras` feature (debug output, link autocapture, ids in cookies;
/// `waymark_sdk_extras_bg.wasm`), which pages that switch those on fetch in
/// its place. Both have the same exports, and the smaller one's imports are
/// among the extras module's, so one glue, the extras module's, serves
/// either (`bundle-sdk.mjs` checks it). Output in `www/sdk/`, which the
/// collector serves and embeds.
pub fn build_sdk(root: &Path) -> Result<()> {
    let out = root.join("www/sdk");
    let built = root.join("target/wasm32-unknown-unknown/release/waymark_sdk.wasm");
    let bindgen = |features: &[&str], out_dir: &Path| -> Result<()> {
        run(cargo(root).args(["build", "--release", "--target", "wasm32-unknown-unknown", "-p", "waymark-sdk"]).args(features))?;
        run(Command::new("wasm-bindgen").args(["--target", "web", "--no-typescript", "--out-dir"]).arg(out_dir).arg(&built))
    };
    let smaller_dir = root.join("target/sdk-smaller");
    bindgen(&["--no-default-features", "--features", "bare"], &smaller_dir)?;
    bindgen(&["--features", "bare"], &out)?;
    let extras = out.join("waymark_sdk_extras_bg.wasm");
    std::fs::rename(out.join("waymark_sdk_bg.wasm"), &extras).context("naming the extras module")?;
    std::fs::rename(smaller_dir.join("waymark_sdk_bg.wasm"), out.join("waymark_sdk_bg.wasm")).context("moving the smaller module into www/sdk")?;
    for bg in [out.join("waymark_sdk_bg.wasm"), extras] {
        // Both flags hold for a module that defines its own memory and
        // whose data and stack lie far above its first kilobyte.
        run(Command::new(tools::wasm_opt(root))
            .args(["-Oz", "--converge", "--strip-producers", "--zero-filled-memory", "--low-memory-unused"])
            .arg(&bg)
            .arg("-o")
            .arg(&bg))?;
    }
    run(Command::new("node").arg(root.join("tests/tools/bundle-sdk.mjs")).arg(root.join("sdk-wasm/js")).arg(&out))?;
    pack_npm(root)
}

/// The npm package: the same built SDK under `npm/dist/`, packed by
/// `npm pack` into `target/npm/waymark-sdk-<version>.tgz`.
fn pack_npm(root: &Path) -> Result<()> {
    let dist = root.join("npm/dist");
    std::fs::create_dir_all(&dist)?;
    for file in ["waymark_sdk.js", "waymark_sdk_bg.wasm", "waymark_sdk_extras_bg.wasm", "consent-banner.js"] {
        std::fs::copy(root.join("www/sdk").join(file), dist.join(file)).with_context(|| format!("copying {file} into npm/dist"))?;
    }
    let packed = root.join("target/npm");
    std::fs::create_dir_all(&packed)?;
    run(Command::new("npm")
        .args(["pack", "--silent", "--pack-destination"])
        .arg(&packed)
        .current_dir(root.join("npm")))
}

/// Copies the dashboard's chart library (uPlot, from the committed npm
/// lockfile) into `www/dashboard/vendor/`, which the collector serves and
/// embeds. Kept out of git: npm is its source.
pub fn build_dashboard_assets(root: &Path) -> Result<()> {
    let dist = root.join("tests/node_modules/uplot/dist");
    let vendor = root.join("www/dashboard/vendor");
    std::fs::create_dir_all(&vendor)?;
    for file in ["uPlot.iife.min.js", "uPlot.min.css"] {
        std::fs::copy(dist.join(file), vendor.join(file)).with_context(|| format!("copying {file} from {}", dist.display()))?;
    }
    Ok(())
}

/// The country database of npm's `@ip-location-db/geo-whois-asn-country-mmdb`
/// (CC0), installed from the committed lockfile.
pub fn demo_geoip_db(root: &Path) -> PathBuf {
    root.join("tests/node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb")
}

fn serve(root: &Path, args: &[String]) -> Result<()> {
    tools::ensure_build_tools(root)?;
    build_sdk(root)?;
    build_dashboard_assets(root)?;
    run(cargo(root).args(["build", "--profile", "server", "-p", "waymark-collector"]))?;
    let mut collector = Command::new(root.join("target/server/waymark"));
    collector.current_dir(root).arg("serve").args(args);
    // The demo, run with no config of its own, finds countries in the CC0
    // country database npm holds (a config's `geoip_db` is left alone).
    let configured = args.iter().any(|a| a.starts_with("--config")) || ["WAYMARK_CONFIG", "WAYMARK_GEOIP_DB"].iter().any(|v| std::env::var_os(v).is_some());
    if !configured {
        collector.env("WAYMARK_GEOIP_DB", demo_geoip_db(root));
    }
    run(&mut collector)
}

fn test(root: &Path) -> Result<()> {
    tools::ensure_build_tools(root)?;
    tools::ensure_browser()?;
    tools::ensure_clickhouse()?;
    tools::ensure_cargo_fuzz()?;
    let python = tools::ensure_python_clients(root)?;
    build_sdk(root)?;
    build_dashboard_assets(root)?;

    // 1. Pure logic and HTTP integration tests, natively; the ClickHouse
    // backend's against a server the tests start (missing: a failure).
    run(cargo(root).args(["test", "--workspace"]).env("WAYMARK_CLICKHOUSE", "required"))?;

    // 1b. Every fuzz target over its seed corpus and a few seconds more:
    // an input that crashes one fails here.
    fuzz::smoke(root)?;

    // 2. The SDK's browser adapters in headless Chromium (wasm-bindgen-test).
    run(cargo(root)
        .args(["test", "-p", "waymark-sdk", "--target", "wasm32-unknown-unknown"])
        .env("CHROMEDRIVER", "/usr/bin/chromedriver")
        .current_dir(root.join("sdk-wasm")))?;

    // 3. End to end: Chromium against the real collector (and, for the
    // cluster's test, ClickHouse servers the collector's example starts).
    run(cargo(root).args(["build", "-p", "waymark-collector", "--bins", "--example", "clickhouse_server"]))?;
    run(Command::new("node")
        .args(["--test", "--test-concurrency=1", "e2e/"])
        .current_dir(root.join("tests"))
        .env("E2E_COLLECTOR_BIN", root.join("target/debug/waymark"))
        .env("E2E_CLICKHOUSE_BIN", root.join("target/debug/examples/clickhouse_server"))
        .env("E2E_SEGMENT_PYTHON", python))?;

    // 4. Crash loops, a few cycles each so that they cannot rot: nothing
    // acknowledged lost or stored twice, and sessions equal a rebuild.
    crash::ensure_passed(&crash::run(&root.join("target/debug"), crash::Backend::Sqlite, 3, None)?)?;
    crash::ensure_passed(&crash::run(&root.join("target/debug"), crash::Backend::Clickhouse, 2, None)?)?;
    eprintln!("xtask test: every suite passed");
    Ok(())
}

fn bench(root: &Path) -> Result<()> {
    // The load generator and the no-op server run inside this process: an
    // unoptimized build would measure itself, not the collector. So the
    // benchmark runs from an optimized build of xtask.
    if cfg!(debug_assertions) {
        return run(cargo(root).args(["run", "--quiet", "--profile", "server", "--package", "xtask", "--", "bench"]));
    }
    // One server-side section alone (`WAYMARK_BENCH_ONLY`) uses the SDK
    // and dashboard files as they are built.
    if std::env::var("WAYMARK_BENCH_ONLY").is_err() || std::env::var("WAYMARK_BENCH_ONLY").is_ok_and(|only| only == "sdk") {
        tools::ensure_build_tools(root)?;
        build_sdk(root)?;
        build_dashboard_assets(root)?;
    }
    bench::run(root)
}
