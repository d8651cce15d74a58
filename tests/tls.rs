//! TLS port: the `redis` crate (rustls) against the real server, mutual TLS, handshake failures, the handshake
//! timeout, TLS-only mode and certificate reload with `CONFIG SET`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{free_port, Resp, Server};
use inmemory::tls::testcerts::{generate, TestCerts};

/// A server with a TLS port next to its plain one, and the certificates it uses.
struct TlsServer {
    s: Server,
    tls_port: u16,
    certs: TestCerts,
    _dir: tempfile::TempDir,
}

fn certs() -> (TestCerts, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    (generate(dir.path()).expect("certs"), dir)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn start(auth_clients: &str, extra: &[&str]) -> TlsServer {
    let (certs, dir) = certs();
    let tls_port = free_port().to_string();
    let mut args = vec![
        "--tls-port",
        &tls_port,
        "--tls-cert-file",
        path(&certs.server_cert),
        "--tls-key-file",
        path(&certs.server_key),
        "--tls-ca-cert-file",
        path(&certs.ca_cert),
        "--tls-auth-clients",
        auth_clients,
    ];
    args.extend_from_slice(extra);
    let s = Server::start(&args);
    TlsServer { s, tls_port: tls_port.parse().expect("port"), certs, _dir: dir }
}

/// A `redis` crate connection over TLS trusting `ca`, presenting `(cert, key)` if given, then PING.
fn tls_ping(port: u16, ca: &Path, identity: Option<(&Path, &Path)>) -> redis::RedisResult<redis::Connection> {
    let read = |p: &Path| std::fs::read(p).expect("read pem");
    let client_tls = identity.map(|(c, k)| redis::ClientTlsConfig { client_cert: read(c), client_key: read(k) });
    let tls = redis::TlsCertificates { client_tls, root_cert: Some(read(ca)) };
    let client = redis::Client::build_with_tls(format!("rediss://127.0.0.1:{port}/"), tls)?;
    let mut c = client.get_connection_with_timeout(Duration::from_secs(10))?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    let pong: String = redis::cmd("PING").query(&mut c)?;
    assert_eq!(pong, "PONG");
    Ok(c)
}

fn client_identity(c: &TestCerts) -> Option<(&Path, &Path)> {
    Some((c.client_cert.as_path(), c.client_key.as_path()))
}

#[test]
fn tls_and_plain_listeners_side_by_side() {
    let t = start("no", &[]);
    let mut tls = tls_ping(t.tls_port, &t.certs.ca_cert, None).expect("TLS connection");
    let _: () = redis::cmd("SET").arg("k").arg("over tls").query(&mut tls).expect("set");
    let mut plain = t.s.conn();
    let v: String = redis::cmd("GET").arg("k").query(&mut plain).expect("get");
    assert_eq!(v, "over tls");
    // A large value and a pipeline go through the TLS stream intact.
    let big = "x".repeat(3 << 20);
    let _: () = redis::cmd("SET").arg("big").arg(&big).query(&mut tls).expect("set big");
    let mut p = redis::pipe();
    for i in 0..1000 {
        p.cmd("INCR").arg("n").ignore();
        if i == 999 {
            p.cmd("GET").arg("big");
        }
    }
    let (got,): (String,) = p.query(&mut tls).expect("pipeline");
    assert_eq!(got.len(), big.len());
    let n: i64 = redis::cmd("GET").arg("n").query(&mut plain).expect("get n");
    assert_eq!(n, 1000);
}

#[test]
fn async_client_over_tls() {
    let t = start("optional", &[]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let ca = std::fs::read(&t.certs.ca_cert).expect("ca");
        let tls = redis::TlsCertificates { client_tls: None, root_cert: Some(ca) };
        let client = redis::Client::build_with_tls(format!("rediss://127.0.0.1:{}/", t.tls_port), tls).expect("client");
        let mut c = client.get_multiplexed_async_connection().await.expect("connect");
        let _: () = redis::cmd("SET").arg("a").arg("1").query_async(&mut c).await.expect("set");
        let v: i64 = redis::cmd("INCR").arg("a").query_async(&mut c).await.expect("incr");
        assert_eq!(v, 2);
    });
}

#[test]
fn mutual_tls_requires_a_certificate_from_the_ca() {
    let t = start("yes", &[]);
    let (other, _d) = certs();
    tls_ping(t.tls_port, &t.certs.ca_cert, client_identity(&t.certs)).expect("client with certificate");
    assert!(tls_ping(t.tls_port, &t.certs.ca_cert, None).is_err(), "no client certificate must be refused");
    assert!(
        tls_ping(t.tls_port, &t.certs.ca_cert, client_identity(&other)).is_err(),
        "a certificate from another CA must be refused"
    );
    // `optional`: no certificate is fine, a foreign one is not.
    let t = start("optional", &[]);
    tls_ping(t.tls_port, &t.certs.ca_cert, None).expect("optional without certificate");
    tls_ping(t.tls_port, &t.certs.ca_cert, client_identity(&t.certs)).expect("optional with certificate");
    assert!(tls_ping(t.tls_port, &t.certs.ca_cert, client_identity(&other)).is_err());
}

#[test]
fn handshake_failures_leave_the_server_serving() {
    let t = start("no", &[]);
    let (other, _d) = certs();
    assert!(tls_ping(t.tls_port, &other.ca_cert, None).is_err(), "a client trusting another CA must fail");
    // Plaintext RESP to the TLS port: no reply but a TLS alert, then the connection closes.
    let mut raw = TcpStream::connect(("127.0.0.1", t.tls_port)).expect("connect");
    raw.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    raw.write_all(b"*1\r\n$4\r\nPING\r\n").expect("write");
    let mut got = Vec::new();
    let _ = raw.read_to_end(&mut got);
    assert!(!got.starts_with(b"+"), "plaintext must not be answered: {got:?}");
    assert!(got.is_empty() || got[0] == 0x15, "expected a TLS alert record: {got:?}");
    // An HTTP request and an immediate hang-up likewise.
    for bytes in [&b"GET / HTTP/1.1\r\n\r\n"[..], b""] {
        let mut raw = TcpStream::connect(("127.0.0.1", t.tls_port)).expect("connect");
        raw.write_all(bytes).expect("write");
        drop(raw);
    }
    tls_ping(t.tls_port, &t.certs.ca_cert, None).expect("server still serves TLS");
    assert_eq!(t.s.raw().call(&["PING"]), Resp::Simple("PONG".into()));
}

#[test]
fn silent_client_is_dropped_after_handshake_timeout() {
    // `timeout 1` also caps the handshake at one second (the default cap is 10 s).
    let t = start("no", &["--timeout", "1"]);
    let mut raw = TcpStream::connect(("127.0.0.1", t.tls_port)).expect("connect");
    raw.set_read_timeout(Some(Duration::from_secs(15))).expect("timeout");
    let began = Instant::now();
    let mut b = [0u8; 16];
    let n = raw.read(&mut b).unwrap_or(0);
    assert_eq!(n, 0, "the server should close a connection that never sends a ClientHello");
    assert!(began.elapsed() < Duration::from_secs(8), "closed after {:?}", began.elapsed());
    tls_ping(t.tls_port, &t.certs.ca_cert, None).expect("server still serves TLS");
}

#[test]
fn tls_only_with_port_zero_and_original_aliases() {
    let (c, _d) = certs();
    let tls_port = free_port();
    let port = tls_port.to_string();
    // `--cert`/`--key` are the original project's names for the certificate files.
    let s = Server::start(&[
        "--tls-port",
        &port,
        "--cert",
        path(&c.server_cert),
        "--key",
        path(&c.server_key),
        "--tls-auth-clients",
        "no",
        "--set",
        "port=0",
    ]);
    tls_ping(tls_port, &c.ca_cert, None).expect("TLS works");
    assert!(TcpStream::connect(("127.0.0.1", s.port)).is_err(), "the plain port must be closed");
}

#[test]
fn config_set_reloads_certificates() {
    let t = start("no", &[]);
    let (b, _d) = certs();
    let mut plain = t.s.raw();
    let set = |plain: &mut common::Raw, c: &TestCerts| {
        plain.call(&[
            "CONFIG",
            "SET",
            "tls-cert-file",
            path(&c.server_cert),
            "tls-key-file",
            path(&c.server_key),
            "tls-ca-cert-file",
            path(&c.ca_cert),
        ])
    };
    let old = tls_ping(t.tls_port, &t.certs.ca_cert, None).expect("before reload");
    assert_eq!(set(&mut plain, &b), Resp::Simple("OK".into()));
    tls_ping(t.tls_port, &b.ca_cert, None).expect("new certificate served");
    assert!(tls_ping(t.tls_port, &t.certs.ca_cert, None).is_err(), "old certificate no longer served");
    let mut old = old;
    let pong: String = redis::cmd("PING").query(&mut old).expect("established session survives reload");
    assert_eq!(pong, "PONG");

    // A file that cannot be read: CONFIG SET fails and nothing changes.
    let r = plain.call(&["CONFIG", "SET", "tls-cert-file", "/nonexistent/server.crt"]);
    assert!(matches!(&r, Resp::Error(e) if e.starts_with("ERR CONFIG SET failed")), "{r:?}");
    let got = plain.call(&["CONFIG", "GET", "tls-cert-file"]);
    assert_eq!(got, Resp::Array(Some(vec![common::bulk("tls-cert-file"), common::bulk(path(&b.server_cert))])));
    tls_ping(t.tls_port, &b.ca_cert, None).expect("still the new certificate");

    // Rotation in place: new files under the same names are read again by CONFIG SET.
    let rotated = generate(&b.dir).expect("regenerate");
    assert!(tls_ping(t.tls_port, &rotated.ca_cert, None).is_err(), "not reloaded yet");
    assert_eq!(set(&mut plain, &rotated), Resp::Simple("OK".into()));
    tls_ping(t.tls_port, &rotated.ca_cert, None).expect("rotated certificate served");
}

#[test]
fn redis_cli_speaks_tls_when_installed() {
    let Ok(out) = std::process::Command::new("redis-cli").arg("--version").output() else {
        eprintln!("redis-cli not installed: skipped");
        return;
    };
    assert!(out.status.success());
    let t = start("yes", &[]);
    let port = t.tls_port.to_string();
    let c = &t.certs;
    let out = std::process::Command::new("redis-cli")
        .args(["--tls", "--cacert", path(&c.ca_cert), "--cert", path(&c.client_cert), "--key", path(&c.client_key)])
        .args(["-h", "127.0.0.1", "-p", &port, "PING"])
        .output()
        .expect("run redis-cli");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "PONG", "{out:?}");
}
