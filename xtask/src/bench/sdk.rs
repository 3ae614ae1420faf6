//! What the browser SDK costs a page: the bytes it downloads (brotli and
//! gzip, as a server sends them; the optional consent banner's apart), the cost of one `track()` call and the
//! longest main-thread task from script start to ready, the last two side
//! by side with posthog-js and @snowplow/browser-tracker from npm, measured
//! in the same Chromium run by `tests/bench/sdk.mjs`.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Bars from the SDK issues (issue 15's lighter SDK for the bytes).
const LOADER_BROTLI_BAR: usize = 700;
const TOTAL_BROTLI_BAR: usize = 15_000;
const TRACK_US_BAR: f64 = 1.0;
const LONGEST_TASK_MS_BAR: f64 = 10.0;

struct Sizes {
    raw: usize,
    gzip: usize,
    brotli: usize,
}

fn sizes(bytes: &[u8]) -> Result<Sizes> {
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gzip.write_all(bytes)?;
    let gzip = gzip.finish()?.len();
    let mut brotli = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut brotli, 4096, 11, 22);
        writer.write_all(bytes)?;
    }
    Ok(Sizes { raw: bytes.len(), gzip, brotli: brotli.len() })
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

pub fn section(root: &Path) -> Result<String> {
    let www = root.join("www");
    let loader = read(&www.join("waymark.js"))?;
    let glue = read(&www.join("sdk/waymark_sdk.js"))?;
    let wasm = read(&www.join("sdk/waymark_sdk_bg.wasm"))?;
    let all: Vec<u8> = [loader.as_slice(), &glue, &wasm].concat();
    let loader_sizes = sizes(&loader)?;
    let total = sizes(&all)?;

    // Each row beside its brotli figure in the BENCHMARKS.md this run
    // replaces: a change's effect on the download reads side by side.
    let written = std::fs::read_to_string(root.join("BENCHMARKS.md")).unwrap_or_default();
    let mut s = String::from(
        "## Browser SDK\n\n\
         `cargo xtask bench` builds the SDK (`cargo xtask build-sdk`) and runs `tests/bench/sdk.mjs` in Debian's Chromium.\n\n\
         ### Bytes a page downloads\n\n\
         | file | bytes | gzip | brotli | brotli in the previous BENCHMARKS.md |\n| --- | ---: | ---: | ---: | ---: |\n",
    );
    let mut row = |name: &str, z: &Sizes| {
        let before = previous_brotli(&written, name).unwrap_or_else(|| "–".into());
        s.push_str(&format!("| {name} | {} | {} | {} | {before} |\n", z.raw, z.gzip, z.brotli));
    };
    for (name, bytes) in [("`/waymark.js` (loader)", &loader), ("`/sdk/waymark_sdk.js` (API, browser edge, glue)", &glue), ("`/sdk/waymark_sdk_bg.wasm`", &wasm)] {
        row(name, &sizes(bytes)?);
    }
    row("**all three** (compressed together)", &total);
    // The consent banner is fetched only by pages that switch it on, so it
    // stands apart from the total every page pays.
    row("`/sdk/consent-banner.js` (only with `data-consent-banner`; not in the total)", &sizes(&read(&www.join("sdk/consent-banner.js"))?)?);
    // Pages with debug output or link autocapture on fetch this module in
    // the other's place: their three files, compressed together, too.
    let extras = read(&www.join("sdk/waymark_sdk_extras_bg.wasm"))?;
    row(
        "`/sdk/waymark_sdk_extras_bg.wasm` (instead of `waymark_sdk_bg.wasm`, only with `data-debug`, `data-outbound-links`, `data-file-downloads` or `data-storage=\"cookie\"`; not in the total)",
        &sizes(&extras)?,
    );
    row("all three with the extras module (compressed together)", &sizes(&[loader.as_slice(), &glue, &extras].concat())?);
    s.push('\n');
    s.push_str(&format!(
        "Bars: loader ≤ 700 B brotli: {} ({} B); everything ≤ 15,000 B brotli: {} ({} B).\n\n",
        verdict(loader_sizes.brotli <= LOADER_BROTLI_BAR),
        loader_sizes.brotli,
        verdict(total.brotli <= TOTAL_BROTLI_BAR),
        total.brotli,
    ));

    let out = Command::new("node").arg(root.join("tests/bench/sdk.mjs")).current_dir(root.join("tests")).output().context("running node tests/bench/sdk.mjs")?;
    if !out.status.success() {
        bail!("tests/bench/sdk.mjs failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let report: Value = serde_json::from_slice(&out.stdout).context("tests/bench/sdk.mjs printed no JSON")?;
    let sdks = report["sdks"].as_array().context("no `sdks` in the bench output")?;
    let waymark = sdks.iter().find(|x| x["name"] == "waymark").context("no Waymark figures")?;
    let number = |v: &Value, key: &str| v[key].as_f64().unwrap_or(f64::NAN);
    let (track_base, task_base) = (number(waymark, "track_median_us"), number(waymark, "longest_task_ms"));

    s.push_str(&format!(
        "### Main-thread cost in Chromium {} (same run, interleaved)\n\n\
         `track()`: median of 100 samples of 100 calls each, each sample in its own task, on a cross-origin-isolated page \
         (5 µs timer resolution, so 0.05 µs per call); the median over runs. \
         \"with microtasks\" also counts the microtasks the calls queued, which still run in the caller's task \
         (Waymark hands each burst of calls to Wasm in one). Longest task: the longest `RunTask` on the \
         page's renderer's main thread (not Chromium's own WebUI renderers) with JS-engine work in it (running or compiling script \
         or Wasm, collecting garbage), from the SDK's script starting to the SDK being ready (of the task the SDK's script starts in, \
         only the part from its start), leaving out tasks the test driver's DevTools calls cause; median (and worst) over runs, as wall time, \
         which is what the page waits, and the median of the same tasks' CPU time: where wall time is far above CPU time the renderer \
         was waiting for a core (a loaded machine), not working. The page holds nothing but the SDK, so every such task is the SDK's. \
         Every SDK sends to a local sink answering 200; defaults otherwise (posthog-js `array.js` with autocapture and \
         recording off; snowplow's UMD bundle with `eventMethod: \"post\"`).\n\n\
         | SDK | runs | `track()` median µs | p90 µs | with microtasks µs | × Waymark | longest task ms | worst ms | CPU ms | × Waymark | ready ms |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        report["chromium"].as_str().unwrap_or("?")
    ));
    for sdk in sdks {
        let track = number(sdk, "track_median_us");
        let task = number(sdk, "longest_task_ms");
        s.push_str(&format!(
            "| {} | {} | {:.2} | {:.2} | {:.2} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} |\n",
            sdk["name"].as_str().unwrap_or("?"),
            sdk["runs"],
            track,
            number(sdk, "track_p90_us"),
            number(sdk, "track_settled_us"),
            track / track_base,
            task,
            number(sdk, "longest_task_max_ms"),
            number(sdk, "longest_task_cpu_ms"),
            task / task_base,
            number(sdk, "ready_ms"),
        ));
    }
    s.push_str(&format!(
        "\nBars: `track()` median ≤ 1 µs: {} ({track_base:.2} µs); no SDK task over 10 ms: {} (worst {:.1} ms wall, {:.1} ms CPU).\n",
        verdict(track_base <= TRACK_US_BAR),
        verdict(number(waymark, "longest_task_max_ms") <= LONGEST_TASK_MS_BAR),
        number(waymark, "longest_task_max_ms"),
        worst_run_cpu_ms(waymark),
    ));
    s.push_str("\nEach run's longest task: wall ms (CPU ms), what it ran (its longest trace events), and whether it was the browser's first page.\n\n");
    for sdk in sdks {
        s.push_str(&format!("- {}:\n", sdk["name"].as_str().unwrap_or("?")));
        for (i, run) in sdk["per_run"].as_array().into_iter().flatten().enumerate() {
            s.push_str(&format!(
                "  {}. {:.1} ({:.1}): {}{}\n",
                i + 1,
                number(run, "longest_task_ms"),
                number(run, "cpu_ms"),
                run["ran"].as_str().filter(|r| !r.is_empty()).unwrap_or("no task"),
                if run["first_in_browser"] == true { " (first page)" } else { "" },
            ));
        }
    }
    if let Some(failures) = report["failures"].as_array().filter(|f| !f.is_empty()) {
        s.push_str(&format!("\nRuns that failed and were retried: {}.\n", serde_json::to_string(failures)?));
    }
    s.push('\n');
    Ok(s)
}

/// The brotli figure (the fourth cell) of the row named `name` in the
/// download table of `written` (a BENCHMARKS.md).
fn previous_brotli(written: &str, name: &str) -> Option<String> {
    let line = written.lines().find(|line| line.starts_with(&format!("| {name} |")))?;
    line.split(" | ").nth(3).map(|cell| cell.trim_end_matches(" |").to_owned())
}

/// The CPU time of an SDK's run with the longest (wall time) task.
fn worst_run_cpu_ms(sdk: &Value) -> f64 {
    let runs = sdk["per_run"].as_array().into_iter().flatten();
    let wall = |run: &&Value| run["longest_task_ms"].as_f64().unwrap_or(f64::NAN);
    runs.max_by(|a, b| wall(a).total_cmp(&wall(b))).and_then(|run| run["cpu_ms"].as_f64()).unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_previous_brotli_figure_is_read_from_either_table_shape() {
        let old = "| file | bytes | gzip | brotli |\n| `/waymark.js` (loader) | 1200 | 678 | 577 |\n";
        assert_eq!(super::previous_brotli(old, "`/waymark.js` (loader)").as_deref(), Some("577"));
        let new = "| `/waymark.js` (loader) | 1190 | 670 | 570 | 577 |\n";
        assert_eq!(super::previous_brotli(new, "`/waymark.js` (loader)").as_deref(), Some("570"));
        assert_eq!(super::previous_brotli(new, "`/sdk/other.wasm`"), None);
    }
}
