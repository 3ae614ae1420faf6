//! `cargo xtask bench`: each module measures one part and returns its
//! section of `BENCHMARKS.md`, with the command that reproduces it.

mod clickhouse;
pub(crate) mod ingest;
mod lifecycle;
pub(crate) mod loadgen;
mod overload;
mod query;
mod sdk;
mod soak;

use std::path::Path;
use std::process::Command;

use anyhow::Result;

pub fn run(root: &Path) -> Result<()> {
    let date = String::from_utf8(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]).output()?.stdout)?;
    let mut report = format!(
        "# Benchmarks\n\nWritten by `cargo xtask bench` on {} on {}.\n\
         Every figure below comes from that one run; compare side by side, not across runs.\n\n",
        date.trim(),
        crate::tools::machine_description()
    );
    // `WAYMARK_BENCH_ONLY=ingest` runs one section and prints it, leaving
    // BENCHMARKS.md alone: for working on that part.
    if let Ok(only) = std::env::var("WAYMARK_BENCH_ONLY") {
        let section = match only.as_str() {
            "ingest" => ingest::section(root)?,
            "sdk" => sdk::section(root)?,
            "query" => query::section(root)?,
            "lifecycle" => lifecycle::section(root)?,
            "clickhouse" => clickhouse::section(root)?,
            "durability" => ingest::durability_section(root)?,
            "soak" => soak::section(root)?,
            "overload" => overload::section(root)?,
            other => anyhow::bail!("unknown bench section {other:?}; known: clickhouse, durability, ingest, lifecycle, overload, query, sdk, soak"),
        };
        eprintln!("{section}");
        return Ok(());
    }
    report.push_str(&sdk::section(root)?);
    report.push_str(&ingest::section(root)?);
    report.push_str(&clickhouse::section(root)?);
    report.push_str(&query::section(root)?);
    report.push_str(&lifecycle::section(root)?);
    // The fuzzing figures come from `cargo xtask fuzz`, the crash loops'
    // from `cargo xtask crash`, overload and soak from runs of their own
    // (too long for every bench): kept as they are.
    let written = std::fs::read_to_string(root.join("BENCHMARKS.md")).unwrap_or_default();
    if let Some(fuzzing) = crate::fuzz::section(&written) {
        report.push_str(fuzzing);
    }
    for heading in KEPT {
        if let Some(kept) = kept_section(&written, heading) {
            report.push_str(kept);
        }
    }
    std::fs::write(root.join("BENCHMARKS.md"), &report)?;
    eprintln!("{report}");
    Ok(())
}

/// The sections written from runs of their own, by their headings.
const KEPT: [&str; 3] = ["## Crash loops", "## Overload", "## Soak"];

/// The section of `text` under `heading`, up to the next `## ` heading.
fn kept_section<'t>(text: &'t str, heading: &str) -> Option<&'t str> {
    let start = text.find(&format!("\n{heading}\n"))? + 1;
    let end = text[start + heading.len()..].find("\n## ").map_or(text.len(), |i| start + heading.len() + i + 1);
    Some(&text[start..end])
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_kept_section_runs_to_the_next_heading() {
        let text = "# Benchmarks\n\n## Soak\n\nflat\n\n## Overload\n\nshed\n";
        assert_eq!(super::kept_section(text, "## Soak"), Some("## Soak\n\nflat\n\n"));
        assert_eq!(super::kept_section(text, "## Overload"), Some("## Overload\n\nshed\n"));
        assert_eq!(super::kept_section(text, "## Crash loops"), None);
    }
}
