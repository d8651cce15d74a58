//! `inmemory-cli` against the real server: one-shot output in each mode
//! (byte for byte as redis-cli 7 prints it), stdin arguments, databases,
//! RESP3, AUTH, TLS, the REPL fed through stdin, and the exit statuses and
//! messages for usage errors, refused connections, TLS failures and timeouts.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, Server};

/// What one run of the client produced.
#[derive(Debug)]
struct Run {
    out: String,
    err: String,
    code: i32,
}

/// Runs `inmemory-cli args` with `stdin` as its input; killed after 30 s.
fn cli(args: &[&str], stdin: &[u8]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_inmemory-cli"))
        .args(args)
        .env_remove("REDISCLI_AUTH")
        .env_remove("INMEMORY_CLI_AUTH")
        .env("INMEMORY_CLI_HISTFILE", "/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn inmemory-cli");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin).expect("write stdin");
    drop(input);
    let (mut out, mut err) = (child.stdout.take().expect("stdout"), child.stderr.take().expect("stderr"));
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).expect("read stdout");
        s
    });
    let mut e = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("inmemory-cli {args:?} did not finish");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    err.read_to_string(&mut e).expect("read stderr");
    Run { out: reader.join().expect("reader"), err: e, code: status.code().unwrap_or(-1) }
}

/// `-p PORT --no-raw` plus `args`: the standard (terminal) output form.
fn std_run(s: &Server, args: &[&str]) -> Run {
    let port = s.port.to_string();
    let mut v = vec!["-p", &port, "--no-raw"];
    v.extend_from_slice(args);
    cli(&v, b"")
}

/// Asserts a successful run printing exactly `want`.
fn ok(r: Run, want: &str) {
    assert_eq!((r.out.as_str(), r.code), (want, 0), "stderr: {}", r.err);
}

#[test]
fn one_shot_scalars_and_errors() {
    let s = Server::start(&[]);
    ok(std_run(&s, &["set", "k", "v"]), "OK\n");
    ok(std_run(&s, &["get", "k"]), "\"v\"\n");
    ok(std_run(&s, &["get", "missing"]), "(nil)\n");
    ok(std_run(&s, &["incr", "n"]), "(integer) 1\n");
    ok(std_run(&s, &["set", "bin", "a\tb\x01\"\\\n\u{e9}"]), "OK\n");
    ok(std_run(&s, &["get", "bin"]), "\"a\\tb\\x01\\\"\\\\\\n\\xc3\\xa9\"\n");
    // Arguments after the command are passed unchanged, even if they look like flags.
    ok(std_run(&s, &["set", "neg", "-1"]), "OK\n");
    ok(std_run(&s, &["incrby", "neg", "-2"]), "(integer) -3\n");

    // An error reply: printed like redis-cli, exit status 1.
    let r = std_run(&s, &["get", "k", "extra"]);
    assert_eq!((r.out.as_str(), r.code), ("(error) ERR wrong number of arguments for 'get' command\n", 1));
    let r = std_run(&s, &["lpush", "k", "x"]);
    assert_eq!(r.out, "(error) WRONGTYPE Operation against a key holding the wrong kind of value\n");
    // -e: the error goes to stderr instead.
    let r = std_run(&s, &["-e", "nosuchcommand"]);
    assert_eq!((r.out.as_str(), r.code), ("", 1));
    assert!(r.err.starts_with("(error) ERR unknown command 'nosuchcommand'"), "{}", r.err);
}

#[test]
fn one_shot_arrays_nested_and_empty() {
    let s = Server::start(&[]);
    ok(std_run(&s, &["rpush", "l", "a", "b", "c d"]), "(integer) 3\n");
    ok(std_run(&s, &["lrange", "l", "0", "-1"]), "1) \"a\"\n2) \"b\"\n3) \"c d\"\n");
    ok(std_run(&s, &["lrange", "nolist", "0", "-1"]), "(empty array)\n");
    // SCAN's reply nests an array; indexes of 10+ elements are right-aligned.
    ok(std_run(&s, &["scan", "0"]), "1) \"0\"\n2) 1) \"l\"\n");
    let args: Vec<String> = (1..=11).map(|i| i.to_string()).collect();
    let mut cmd = vec!["rpush", "ten"];
    cmd.extend(args.iter().map(String::as_str));
    ok(std_run(&s, &cmd), "(integer) 11\n");
    let r = std_run(&s, &["lrange", "ten", "0", "-1"]);
    assert!(r.out.starts_with(" 1) \"1\"\n 2) \"2\"\n"), "{}", r.out);
    assert!(r.out.ends_with(" 9) \"9\"\n10) \"10\"\n11) \"11\"\n"), "{}", r.out);
    // The original project's vocabulary goes through unchanged.
    ok(std_run(&s, &["hset", "h", "f", "v"]), "(integer) 1\n");
    ok(std_run(&s, &["hget", "h", "f"]), "\"v\"\n");
    ok(std_run(&s, &["lget", "l", "1"]), "\"b\"\n");
    ok(std_run(&s, &["ttl", "h"]), "(integer) -1\n");
    ok(std_run(&s, &["remove", "h"]), "(integer) 1\n");
}

#[test]
fn raw_json_and_resp3_output() {
    let s = Server::start(&[]);
    let p = s.port.to_string();
    ok(cli(&["-p", &p, "rpush", "l", "a", "b"], b""), "2\n"); // stdout is a pipe: raw by default
    ok(cli(&["-p", &p, "--raw", "lrange", "l", "0", "-1"], b""), "a\nb\n");
    ok(cli(&["-p", &p, "--raw", "get", "missing"], b""), "\n");
    let r = cli(&["-p", &p, "--raw", "nosuchcommand"], b"");
    assert_eq!((r.out.as_str(), r.code), ("ERR unknown command 'nosuchcommand', with args beginning with: \n\n", 1));
    ok(cli(&["-p", &p, "hset", "h", "f1", "v1", "f2", "a\"b"], b""), "2\n");
    ok(cli(&["-p", &p, "--raw", "-3", "hgetall", "h"], b""), "f1 v1\nf2 a\"b\n");
    // JSON uses RESP3 unless -2 (as redis-cli does); errors are JSON objects.
    ok(cli(&["-p", &p, "--json", "hgetall", "h"], b""), "{\"f1\":\"v1\",\"f2\":\"a\\\"b\"}\n");
    ok(cli(&["-p", &p, "--json", "-2", "hgetall", "h"], b""), "[\"f1\",\"v1\",\"f2\",\"a\\\"b\"]\n");
    ok(cli(&["-p", &p, "--json", "get", "missing"], b""), "null\n");
    ok(cli(&["-p", &p, "--json", "lrange", "l", "0", "-1"], b""), "[\"a\",\"b\"]\n");
    let r = cli(&["-p", &p, "--json", "lpush", "h", "x"], b"");
    let want = "{\"error\":\"WRONGTYPE Operation against a key holding the wrong kind of value\"}\n";
    assert_eq!((r.out.as_str(), r.code), (want, 1));
    // RESP3 maps and sets in the standard form, as redis-cli -3 prints them.
    ok(std_run(&s, &["-3", "hgetall", "h"]), "1# \"f1\" => \"v1\"\n2# \"f2\" => \"a\\\"b\"\n");
    ok(std_run(&s, &["--resp3", "hgetall", "missing"]), "(empty hash)\n");
    ok(std_run(&s, &["-3", "get", "missing"]), "(nil)\n");
    let r = std_run(&s, &["-3", "hello", "3"]);
    assert!(r.out.starts_with("1# \"server\" => \"redis\"\n2# \"version\" => "), "{}", r.out);
    assert!(r.out.contains("# \"proto\" => (integer) 3\n"), "{}", r.out);
}

#[test]
fn stdin_argument_databases_and_auth() {
    let s = Server::start(&["--requirepass", "s3cret"]);
    let p = s.port.to_string();
    let a = ["-p", p.as_str(), "-a", "s3cret", "--no-auth-warning"];
    let with = |extra: &[&str], stdin: &[u8]| cli(&[&a[..], extra].concat(), stdin);
    ok(with(&["-x", "set", "doc"], b"line one\nline two\n"), "OK\n");
    ok(with(&["--no-raw", "get", "doc"], b""), "\"line one\\nline two\\n\"\n");
    ok(with(&["-n", "3", "set", "k", "in3"], b""), "OK\n");
    ok(with(&["--no-raw", "get", "k"], b""), "(nil)\n");
    ok(with(&["--no-raw", "-n", "3", "get", "k"], b""), "\"in3\"\n");
    // Failures of the connection set-up: exit status 3 with redis-cli's words.
    let r = with(&["-n", "99", "get", "k"], b"");
    assert_eq!((r.out.as_str(), r.code), ("", 3));
    assert_eq!(r.err, "SELECT 99 failed: ERR DB index is out of range\n");
    let r = cli(&["-p", &p, "-a", "wrong", "ping"], b"");
    assert_eq!(r.code, 3);
    assert!(r.err.starts_with("Warning: Using a password with '-a'"), "{}", r.err);
    assert!(r.err.contains("AUTH failed: WRONGPASS"), "{}", r.err);
    let r = cli(&["-p", &p, "ping"], b"");
    assert_eq!((r.out.as_str(), r.code), ("NOAUTH Authentication required.\n\n", 1));
}

#[test]
fn repl_reads_commands_from_stdin() {
    let s = Server::start(&[]);
    let p = s.port.to_string();
    let input = "set a 1\nget a\nnosuch\n\"unbalanced\n\n   \n2 incr a\n0 incr a\nset 'x y' \"q\\x41\\n\"\n\
                 get \"x y\"\nselect 2\nmulti\nincr a\nexec\nhelp get\nquit\nget a\n";
    let r = cli(&["-p", &p, "--no-raw"], input.as_bytes());
    let want = "OK\n\"1\"\n(error) ERR unknown command 'nosuch', with args beginning with: \nInvalid argument(s)\n\
                (integer) 2\n(integer) 3\nInvalid redis-cli repeat command option value.\nOK\n\"qA\\n\"\nOK\nOK\n\
                QUEUED\n1) (integer) 1\n";
    assert!(r.out.starts_with(want), "{}", r.out);
    // `help get`, answered from COMMAND DOCS.
    let help = &r.out[want.len()..];
    assert!(help.starts_with("\n  GET") && help.contains("\n  summary: ") && help.ends_with("\n\n"), "{help}");
    assert!(!r.out.contains("(integer) 4"), "commands after quit must not run: {}", r.out);
    assert_eq!(r.code, 0, "{}", r.err);
    // Raw mode (stdout is not a terminal), errors followed by an empty line as redis-cli does.
    let r = cli(&["-p", &p], b"get a\nnosuch\nlrange none 0 -1\n");
    assert_eq!(r.out, "3\nERR unknown command 'nosuch', with args beginning with: \n\n\n");
}

#[test]
fn repl_without_server_reports_and_exits_3() {
    let port = free_port().to_string();
    let r = cli(&["-p", &port], b"ping\n");
    let msg = format!("Could not connect to 127.0.0.1:{port}: Connection refused\n");
    assert_eq!((r.out.as_str(), r.err, r.code), ("", format!("{msg}{msg}"), 3));
}

#[test]
fn usage_and_connection_failures() {
    for args in [&["--bogus"][..], &["-x"], &["--tls"], &["--raw", "--json", "ping"], &["-p", "notaport", "ping"]] {
        let r = cli(args, b"");
        assert_eq!((r.out.as_str(), r.code), ("", 2), "{args:?}: {}", r.err);
        assert!(!r.err.is_empty());
    }
    let r = cli(&["--help"], b"");
    assert_eq!(r.code, 0);
    assert!(r.out.contains("Exit status: 0 ok; 1 the server replied with an error"), "{}", r.out);

    let port = free_port().to_string();
    let r = cli(&["-p", &port, "ping"], b"");
    assert_eq!((r.out.as_str(), r.code), ("", 3));
    assert_eq!(r.err, format!("Could not connect to 127.0.0.1:{port}: Connection refused\n"));
    let r = cli(&["--addr", &format!("127.0.0.1:{port}"), "ping"], b"");
    assert_eq!(
        (r.err.as_str(), r.code),
        (format!("Could not connect to 127.0.0.1:{port}: Connection refused\n").as_str(), 3)
    );

    // A listener that never answers: the reply timeout fires.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let sp = silent.local_addr().expect("addr").port().to_string();
    let r = cli(&["-p", &sp, "--timeout", "0.3", "ping"], b"");
    assert_eq!((r.out.as_str(), r.code), ("", 3));
    assert_eq!(r.err, format!("Timed out after 300ms waiting for a reply from 127.0.0.1:{sp}\n"));
    // TLS to a port that speaks plain RESP: no ServerHello ever comes. Either the handshake times out or, when
    // the random ClientHello happens to contain a newline, the server answers the "inline command" with a RESP
    // error, which is no TLS record: both are a TLS failure with exit code 3.
    let s = Server::start(&[]);
    let r = cli(&["-p", &s.port.to_string(), "--tls", "--insecure", "--connect-timeout", "0.5", "ping"], b"");
    let prefix = format!("Could not negotiate a TLS connection with 127.0.0.1:{}: ", s.port);
    assert_eq!(r.code, 3, "{}", r.err);
    assert!(r.err.starts_with(&prefix), "{}", r.err);
    assert!(r.err.contains("timed out after 500ms") || r.err.contains("corrupt message"), "{}", r.err);
    // A peer that hangs up during the handshake.
    let closer = TcpListener::bind("127.0.0.1:0").expect("bind");
    let cp = closer.local_addr().expect("addr").port();
    let t = std::thread::spawn(move || drop(closer.accept()));
    let r = cli(&["-p", &cp.to_string(), "--tls", "--insecure", "ping"], b"");
    t.join().expect("closer thread");
    assert_eq!(r.code, 3);
    assert!(r.err.starts_with(&format!("Could not negotiate a TLS connection with 127.0.0.1:{cp}: ")), "{}", r.err);
    let r = cli(&["-p", &s.port.to_string(), "--tls", "--cacert", "/nonexistent/ca.crt", "ping"], b"");
    assert_eq!(r.code, 3);
    assert!(r.err.starts_with("TLS configuration error: CA certificate file /nonexistent/ca.crt"), "{}", r.err);
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn tls_with_client_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = inmemory::tls::testcerts::generate(dir.path()).expect("certs");
    let tls_port = free_port().to_string();
    let s = Server::start(&[
        "--tls-port",
        &tls_port,
        "--tls-cert-file",
        path(&c.server_cert),
        "--tls-key-file",
        path(&c.server_key),
        "--tls-ca-cert-file",
        path(&c.ca_cert),
        "--tls-auth-clients",
        "yes",
    ]);
    let base = ["-p", tls_port.as_str(), "--tls", "--cacert", path(&c.ca_cert)];
    let identity = ["--cert", path(&c.client_cert), "--key", path(&c.client_key)];
    ok(cli(&[&base[..], &identity, &["set", "k", "over tls"]].concat(), b""), "OK\n");
    ok(cli(&[&base[..], &identity, &["--no-raw", "get", "k"]].concat(), b""), "\"over tls\"\n");
    ok(cli(&[&base[..], &identity, &["--sni", "localhost", "ping"]].concat(), b""), "PONG\n");
    ok(cli(&[&base[..], &identity].concat(), b"get k\nquit\n"), "over tls\n");
    // No client certificate: the server refuses the handshake (TLS 1.3 reports it on the first read).
    let r = cli(&[&base[..], &["ping"]].concat(), b"");
    assert_eq!((r.out.as_str(), r.code), ("", 3), "{}", r.err);
    // Usually the alert is read; the server's reset may overtake it.
    let alert = r.err.contains("CertificateRequired (the server wants a client certificate");
    assert!(alert || r.err.contains("closed the connection"), "{}", r.err);
    // A CA that did not sign the server's certificate.
    let r = cli(&["-p", &tls_port, "--tls", "--cacert", path(&c.client_cert), "ping"], b"");
    assert_eq!(r.code, 3);
    assert!(r.err.contains("UnknownIssuer (is --cacert the CA"), "{}", r.err);
    // A name the certificate does not cover.
    let r = cli(&[&base[..], &identity, &["--sni", "elsewhere.example", "ping"]].concat(), b"");
    assert_eq!(r.code, 3);
    assert!(r.err.starts_with("Could not negotiate a TLS connection with 127.0.0.1:"), "{}", r.err);
    drop(s);
}
