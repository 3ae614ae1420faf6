//! Installing what the build and the tests need, on a fresh machine:
//! the wasm target, the wasm-bindgen CLI pinned to the crate's version,
//! npm packages from the committed lockfile (wasm-opt, playwright-core),
//! Debian's Chromium, its driver and sqlite3, Debian's ClickHouse (whose
//! server the tests start themselves, never the system service), and a
//! Python virtual environment with Segment's Python client for the
//! compatibility test, and cargo-fuzz (pinned) with the nightly toolchain.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::run;

pub fn ensure_build_tools(root: &Path) -> Result<()> {
    ensure_wasm_target()?;
    ensure_wasm_bindgen(root)?;
    ensure_npm_packages(root)
}

fn ensure_wasm_target() -> Result<()> {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    match installed {
        Ok(out) if String::from_utf8_lossy(&out.stdout).contains("wasm32-unknown-unknown") => Ok(()),
        Ok(_) => run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"])),
        Err(_) => bail!("rustup is not installed: install the wasm32-unknown-unknown target for your toolchain"),
    }
}

/// The exact version `wasm-bindgen` is pinned to in the workspace manifest.
fn pinned_wasm_bindgen(root: &Path) -> Result<String> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))?;
    manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("wasm-bindgen = \"=")?.strip_suffix('"').map(str::to_owned))
        .context("Cargo.toml must pin wasm-bindgen as `wasm-bindgen = \"=X.Y.Z\"`")
}

fn ensure_wasm_bindgen(root: &Path) -> Result<()> {
    let version = pinned_wasm_bindgen(root)?;
    let current = Command::new("wasm-bindgen").arg("--version").output();
    if let Ok(out) = current
        && String::from_utf8_lossy(&out.stdout).contains(&version)
    {
        return Ok(());
    }
    // No --locked: the CLI's lockfile pins a crate some registries lack.
    run(Command::new("cargo").args(["install", "wasm-bindgen-cli", "--version", &version]))
}

fn ensure_npm_packages(root: &Path) -> Result<()> {
    let tests = root.join("tests");
    let installed = tests.join("node_modules/.package-lock.json");
    let fresh = match (std::fs::metadata(&installed), std::fs::metadata(tests.join("package-lock.json"))) {
        (Ok(i), Ok(l)) => i.modified()? >= l.modified()?,
        _ => false,
    };
    if !fresh {
        run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&tests))?;
    }
    Ok(())
}

/// cargo-fuzz at its pinned version, and the nightly toolchain it builds
/// the fuzz targets with.
pub fn ensure_cargo_fuzz() -> Result<()> {
    let nightly = Command::new("rustup").args(["run", "nightly", "rustc", "--version"]).output();
    if !nightly.is_ok_and(|out| out.status.success()) {
        run(Command::new("rustup").args(["toolchain", "install", "nightly", "--profile", "minimal"]))?;
    }
    let version = crate::fuzz::CARGO_FUZZ_VERSION;
    let current = Command::new("cargo").args(["fuzz", "--version"]).output();
    if current.is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim_end().ends_with(version)) {
        return Ok(());
    }
    run(Command::new("cargo").args(["install", "cargo-fuzz", "--version", &format!("={version}")]))
}

/// `wasm-opt` from npm's binaryen (Debian's is too old for today's Wasm).
pub fn wasm_opt(root: &Path) -> PathBuf {
    root.join("tests/node_modules/.bin/wasm-opt")
}

/// Debian's Chromium and ChromeDriver (never a downloaded browser), and
/// sqlite3 for the tests to read the collector's database as a user would.
pub fn ensure_browser() -> Result<()> {
    ensure_debian_packages(&[
        ("/usr/bin/chromium", "chromium"),
        ("/usr/bin/chromedriver", "chromium-driver"),
        ("/usr/bin/sqlite3", "sqlite3"),
    ])
}

/// Debian's ClickHouse server and client, for the ClickHouse backend's
/// tests: they start `clickhouse-server` as their own child process.
pub fn ensure_clickhouse() -> Result<()> {
    ensure_debian_packages(&[("/usr/sbin/clickhouse-server", "clickhouse-server"), ("/usr/bin/clickhouse-client", "clickhouse-client")])
}

/// Installs the packages whose binary is missing (as root), or says how.
fn ensure_debian_packages(needed: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = needed.iter().filter(|(bin, _)| !Path::new(bin).exists()).map(|(_, pkg)| *pkg).collect();
    install_debian_packages(&missing)
}

/// `apt-get install` as root; otherwise what to run.
fn install_debian_packages(missing: &[&str]) -> Result<()> {
    if missing.is_empty() {
        return Ok(());
    }
    let is_root = Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0")).unwrap_or(false);
    if !is_root {
        bail!("the tests need Debian packages that are missing: {}. Install them with `sudo apt-get install -y {}`", missing.join(", "), missing.join(" "));
    }
    run(Command::new("apt-get").arg("update"))?;
    run(Command::new("apt-get").args(["install", "-y", "--no-install-recommends"]).args(missing).env("DEBIAN_FRONTEND", "noninteractive"))
}

/// The Python of `target/pyenv`, a virtual environment holding exactly
/// `tests/python/requirements.txt` (Segment's Python client, pinned):
/// made, or brought up to date, when the installed list differs.
pub fn ensure_python_clients(root: &Path) -> Result<PathBuf> {
    let venv = root.join("target/pyenv");
    let python = venv.join("bin/python");
    let requirements = root.join("tests/python/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).with_context(|| format!("reading {}", requirements.display()))?;
    let installed = venv.join("installed-requirements.txt");
    if python.exists() && std::fs::read_to_string(&installed).is_ok_and(|had| had == wanted) {
        return Ok(python);
    }
    if !python.exists() {
        let made = Command::new("python3").arg("-m").arg("venv").arg(&venv).status();
        if !made.is_ok_and(|status| status.success()) {
            // Debian's python3 makes environments only with python3-venv.
            install_debian_packages(&["python3", "python3-venv"])?;
            let _ = std::fs::remove_dir_all(&venv);
            run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
        }
    }
    run(Command::new(&python).args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"]).arg(&requirements))?;
    std::fs::write(&installed, wanted)?;
    Ok(python)
}

pub fn machine_description() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned()))
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_kb: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0);
    format!("{cores} cores ({cpu}), {} GiB memory", mem_kb / 1024 / 1024)
}
