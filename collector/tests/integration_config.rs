//! The binary's configuration at start: a bad file fails with a message
//! naming the problem; `--help` documents the options.

use std::process::Command;

fn waymark(args: &[&str], file: Option<&str>) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_waymark"));
    cmd.args(args).env_remove("WAYMARK_CONFIG").env("WAYMARK_DATA_DIR", dir.path());
    if let Some(text) = file {
        let path = dir.path().join("waymark.toml");
        std::fs::write(&path, text).unwrap();
        cmd.arg("--config").arg(path);
    }
    let out = cmd.output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn an_unknown_field_stops_the_collector_at_start_naming_it() {
    let (ok, said) = waymark(&["serve", "--listen", "127.0.0.1:0"], Some("[[site]]\nkey = \"a\"\nallowed_origin = [\"https://a.example\"]\n"));
    assert!(!ok);
    assert!(said.contains("allowed_origin"), "{said}");
}

#[test]
fn an_invalid_origin_stops_the_collector_at_start_naming_the_site() {
    let (ok, said) = waymark(&["serve", "--listen", "127.0.0.1:0"], Some("[[site]]\nkey = \"blog\"\nallowed_origins = [\"blog.example\"]\n"));
    assert!(!ok);
    assert!(said.contains("\"blog\"") && said.contains("blog.example"), "{said}");
}

#[test]
fn help_lists_the_commands_and_the_config_option() {
    let (ok, said) = waymark(&["--help"], None);
    assert!(ok, "{said}");
    for word in ["serve", "sessions", "--config", "--listen", "WAYMARK_"] {
        assert!(said.contains(word), "{word} missing from\n{said}");
    }
}

#[test]
fn a_site_open_to_every_origin_is_named_in_a_warning_at_start() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("waymark.toml");
    std::fs::write(&path, "[[site]]\nkey = \"open-site\"\nallowed_origins = [\"*\"]\n[[site]]\nkey = \"closed\"\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_waymark"))
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .env("WAYMARK_DATA_DIR", dir.path())
        .env("WAYMARK_LOG", "info")
        .env_remove("WAYMARK_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut said = Vec::new();
    for line in std::io::BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        let done = line.contains("collector started");
        said.push(line);
        if done {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let warning = said.iter().find(|l| l.contains("WARN") && l.contains("\"open-site\"")).unwrap_or_else(|| panic!("{said:#?}"));
    assert!(warning.contains("accepts browser events from every origin"), "{warning}");
    assert!(said.iter().any(|l| l.contains("\"closed\" lists no allowed_origins")), "{said:#?}");
}
