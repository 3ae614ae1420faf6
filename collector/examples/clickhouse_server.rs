//! A ClickHouse server of its own for `cargo xtask bench`: Debian's
//! `clickhouse-server`, started as the tests start theirs (see
//! `test_server`: a temporary directory, free ports, 127.0.0.1 only),
//! its HTTP address printed on the first line of stdout. It stops when
//! stdin closes (or this process ends).

#[path = "../src/store/clickhouse/test_server.rs"]
#[allow(dead_code)]
mod test_server;

fn main() {
    if test_server::skip() {
        std::process::exit(2);
    }
    let server = test_server::OwnServer::start();
    println!("clickhouse at {}", server.url());
    let mut rest = String::new();
    while std::io::stdin().read_line(&mut rest).is_ok_and(|n| n > 0) {}
    drop(server);
}
