//! A real ClickHouse server for the tests: Debian's `clickhouse-server`,
//! started once per test binary as a child process with a generated
//! config in a temporary directory (its own data path, ports picked free,
//! 127.0.0.1 only, a `default` user without password), never the system
//! service or its ports. Each test gets a database of its own, named after
//! the test's temporary directory (so a test that reopens its store finds
//! its data).
//!
//! The server dies with the test process: it is started from a thread
//! that lives as long as the process, with `PR_SET_PDEATHSIG` (SIGKILL
//! when that thread ends, which is when the process ends). Directories of
//! earlier runs whose process is gone are removed at the next start.
//!
//! The library's tests use it as `store::clickhouse::test_server`; the
//! HTTP integration test includes this file as a module of its own.
//!
//! Without the binary the tests are skipped with a line on stderr, unless
//! `WAYMARK_CLICKHOUSE=required` (which `cargo xtask test` sets): then
//! they fail.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const BINARY: &str = "clickhouse-server";
const DIR_PREFIX: &str = "waymark-clickhouse-";
/// The environment variable that turns a missing server into a failure.
pub const REQUIRED_ENV: &str = "WAYMARK_CLICKHOUSE";

static SERVER: OnceLock<Result<u16, String>> = OnceLock::new();
static CLUSTER: OnceLock<Result<Vec<u16>, String>> = OnceLock::new();

/// The name of the test cluster in its servers' `<remote_servers>`.
pub const CLUSTER_NAME: &str = "waymark_test";

fn binary() -> Option<PathBuf> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join(BINARY))
        .find(|p| p.is_file())
}

/// True when the tests that need ClickHouse should not run here (said on
/// stderr); panics when they must (`WAYMARK_CLICKHOUSE=required`).
pub fn skip() -> bool {
    if binary().is_some() {
        return false;
    }
    if std::env::var(REQUIRED_ENV).is_ok_and(|v| v == "required") {
        panic!("{BINARY} is not installed and {REQUIRED_ENV}=required: install it with `apt-get install -y clickhouse-server`");
    }
    eprintln!("skipped: {BINARY} is not installed (set {REQUIRED_ENV}=required to fail instead; `cargo xtask test` does)");
    true
}

/// The shared server's HTTP address, starting it on first use.
pub fn url() -> String {
    match SERVER.get_or_init(start) {
        Ok(port) => format!("http://127.0.0.1:{port}"),
        Err(e) => panic!("the test ClickHouse server did not start: {e}"),
    }
}

/// The HTTP addresses of a cluster of two servers, each a shard, started
/// on first use (apart from [`url`]'s server).
pub fn cluster_urls() -> Vec<String> {
    match CLUSTER.get_or_init(start_cluster) {
        Ok(ports) => ports.iter().map(|port| format!("http://127.0.0.1:{port}")).collect(),
        Err(e) => panic!("the test ClickHouse cluster did not start: {e}"),
    }
}

/// A database name of `dir`'s own (the same for the same directory).
pub fn database_for(dir: &Path) -> String {
    let hash = blake3::hash(dir.as_os_str().as_encoded_bytes()).to_hex();
    format!("test_{}", &hash[..16])
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Ports of one server: HTTP, native (the cluster's shards talk over it)
/// and interserver.
#[derive(Clone, Copy)]
struct Ports {
    http: u16,
    tcp: u16,
    interserver: u16,
}

impl Ports {
    fn free() -> Result<Ports, String> {
        let port = || free_port().map_err(|e| e.to_string());
        Ok(Ports { http: port()?, tcp: port()?, interserver: port()? })
    }
}

/// `<remote_servers>` naming each of `shards` (native ports) as a shard.
fn remote_servers(shards: &[u16]) -> String {
    let shards: String =
        shards.iter().map(|port| format!("<shard><replica><host>127.0.0.1</host><port>{port}</port></replica></shard>")).collect();
    format!("<remote_servers><{CLUSTER_NAME}>{shards}</{CLUSTER_NAME}></remote_servers>")
}

fn config(dir: &Path, Ports { http, tcp, interserver }: Ports, remote_servers: &str) -> String {
    let d = dir.display();
    format!(
        r#"<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{d}/server.log</log><errorlog>{d}/error.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>{http}</http_port>
  <tcp_port>{tcp}</tcp_port>
  <interserver_http_port>{interserver}</interserver_http_port>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <users_config>{d}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  {remote_servers}
</yandex>
"#
    )
}

const USERS: &str = r#"<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default></default></quotas>
</yandex>
"#;

/// Removes the directories of earlier runs whose process is gone.
fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !entry.file_name().to_string_lossy().starts_with(DIR_PREFIX) {
            continue;
        }
        let owner = std::fs::read_to_string(path.join("owner.pid")).ok().and_then(|p| p.trim().parse::<u32>().ok());
        if owner.is_none_or(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

fn start() -> Result<u16, String> {
    remove_stale_dirs();
    again(|| {
        let ports = Ports::free()?;
        spawn(ports, "")?;
        ready(ports.http)
    })
}

fn start_cluster() -> Result<Vec<u16>, String> {
    remove_stale_dirs();
    again(|| {
        let shards = [Ports::free()?, Ports::free()?];
        let remote = remote_servers(&shards.map(|p| p.tcp));
        for ports in shards {
            spawn(ports, &remote)?;
        }
        shards.iter().map(|p| ready(p.http)).collect()
    })
}

/// `start` tried up to three times: a port found free may be taken by
/// another process (another test binary starting its servers) before the
/// server binds it, and that server then never answers.
fn again<T>(start: impl Fn() -> Result<T, String>) -> Result<T, String> {
    let mut failed = Vec::new();
    for _ in 0..3 {
        match start() {
            Ok(started) => return Ok(started),
            Err(e) => failed.push(e),
        }
    }
    Err(failed.join("; then "))
}

/// Starts a server with its own directory and `ports`.
fn spawn(ports: Ports, remote_servers: &str) -> Result<(), String> {
    let dir = tempfile::Builder::new().prefix(DIR_PREFIX).tempdir().map_err(|e| e.to_string())?.keep();
    spawn_in(&dir, ports, remote_servers).map(drop)
}

/// Starts a server keeping its data in `dir`; its process id.
fn spawn_in(dir: &Path, ports: Ports, remote_servers: &str) -> Result<u32, String> {
    let binary = binary().ok_or_else(|| format!("{BINARY} is not installed"))?;
    let cfg = dir.join("config.xml");
    std::fs::write(&cfg, config(dir, ports, remote_servers)).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("users.xml"), USERS).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("owner.pid"), std::process::id().to_string()).map_err(|e| e.to_string())?;
    let log = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("stdout.log")).map_err(|e| e.to_string())?;
    let (spawned, outcome) = std::sync::mpsc::channel();
    let keeper_dir = dir.to_path_buf();
    // This thread lives as long as the server: the server's death signal
    // is tied to it, and it ends only when the server does.
    std::thread::Builder::new()
        .name("clickhouse-test-server".into())
        .spawn(move || {
            let mut command = Command::new(binary);
            command.arg(format!("--config-file={}", cfg.display())).current_dir(&keeper_dir).stdin(Stdio::null());
            command.stdout(log.try_clone().expect("log file")).stderr(log);
            // SAFETY: prctl and getppid are async-signal-safe; nothing else runs here.
            unsafe {
                let parent = libc::getpid();
                command.pre_exec(move || {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 || libc::getppid() != parent {
                        libc::_exit(1);
                    }
                    Ok(())
                });
            }
            match command.spawn() {
                Ok(mut child) => {
                    let _ = spawned.send(Ok(child.id()));
                    let _ = child.wait();
                }
                Err(e) => drop(spawned.send(Err(e.to_string()))),
            }
        })
        .map_err(|e| e.to_string())?;
    outcome.recv().map_err(|e| e.to_string())?
}

/// A server of one test's own, to stop and start again with its data.
pub struct OwnServer {
    ports: Ports,
    dir: PathBuf,
    pid: u32,
}

impl OwnServer {
    pub fn start() -> OwnServer {
        remove_stale_dirs();
        let started = (|| {
            let ports = Ports::free()?;
            let dir = tempfile::Builder::new().prefix(DIR_PREFIX).tempdir().map_err(|e| e.to_string())?.keep();
            let pid = spawn_in(&dir, ports, "")?;
            ready(ports.http)?;
            Ok::<_, String>(OwnServer { ports, dir, pid })
        })();
        started.unwrap_or_else(|e| panic!("a test ClickHouse server did not start: {e}"))
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.http)
    }

    /// SIGKILL, and waits until it no longer answers.
    pub fn kill(&mut self) {
        // SAFETY: a plain syscall on a process this test started.
        unsafe { libc::kill(self.pid as i32, libc::SIGKILL) };
        while ping(self.ports.http) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts it again on the same ports and data.
    pub fn restart(&mut self) {
        self.pid = spawn_in(&self.dir, self.ports, "").and_then(|pid| ready(self.ports.http).map(|_| pid)).expect("the server restarts");
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        // SAFETY: as in `kill`.
        unsafe { libc::kill(self.pid as i32, libc::SIGKILL) };
    }
}

/// Waits for the server on `http` to answer.
fn ready(http: u16) -> Result<u16, String> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if ping(http) {
            return Ok(http);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("no answer on port {http} within a minute"))
}

fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream.write_all(b"GET /ping HTTP/1.0\r\n\r\n").is_err() {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.ends_with("Ok.\n")
}

/// The rows of one `SELECT` on the server at `url`, in `database`, as JSON
/// values: what a test reads back as a user with `clickhouse-client` would.
pub async fn rows(url: &str, database: &str, sql: &str) -> Vec<serde_json::Value> {
    let body = reqwest::Client::new()
        .post(url)
        .query(&[("database", database), ("output_format_json_quote_64bit_integers", "0")])
        .body(format!("{sql} FORMAT JSONEachRow"))
        .send()
        .await
        .expect("the test server answers")
        .text()
        .await
        .expect("a body");
    body.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{sql}: {e}: {l}"))).collect()
}
