//! A ClickHouse server of its own for `cargo xtask bench` and the end to
//! end tests: Debian's `clickhouse-server`, started as the tests start
//! theirs (see `test_server`: a temporary directory, free ports, 127.0.0.1
//! only). Prints `clickhouse at URL` on the first line of stdout, or with
//! `--cluster`, two servers as the shards of one cluster:
//! `clickhouse cluster NAME at URL URL`. They stop when stdin closes (or
//! this process ends). For `cargo xtask crash`, the one server is killed
//! (SIGKILL) by the line `kill` on stdin and started again on the same
//! ports and data by `restart`; each is answered `killed` / `restarted`.

#[path = "../src/store/clickhouse/test_server.rs"]
#[allow(dead_code)]
mod test_server;

fn main() {
    if test_server::skip() {
        std::process::exit(2);
    }
    // Kept until stdin closes; the cluster's servers end with the process.
    let mut server = if std::env::args().any(|a| a == "--cluster") {
        println!("clickhouse cluster {} at {}", test_server::CLUSTER_NAME, test_server::cluster_urls().join(" "));
        None
    } else {
        let server = test_server::OwnServer::start();
        println!("clickhouse at {}", server.url());
        Some(server)
    };
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line).is_ok_and(|n| n > 0) {
        match (line.trim(), server.as_mut()) {
            ("kill", Some(server)) => {
                server.kill();
                println!("killed");
            }
            ("restart", Some(server)) => {
                server.restart();
                println!("restarted");
            }
            _ => {}
        }
        line.clear();
    }
}
