//! Property-based fuzzing (proptest) of the request parser and of the whole server through raw sockets, plus the
//! regression corpus in `tests/fixtures/fuzz/` replayed on every run.
//!
//! Properties: the parser never panics, gives the same requests however the input is split into reads, and
//! round-trips every encoded command vector; the server survives random byte streams and random (valid and
//! invalid) command vectors, answering PING on another connection after each case. Case counts are bounded so the
//! whole file runs in a few seconds.

mod common;

use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use common::{encode_cmd, read_resp, Resp, Server};
use inmemory::protocol::{ProtocolError, RequestParser};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Caps this test process's address space (and so the servers it starts) at 4 GiB, so a runaway allocation
/// found by the fuzzer fails the run instead of exhausting the machine's memory.
fn memory_guard() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let limit = libc::rlimit { rlim_cur: 4 << 30, rlim_max: 4 << 30 };
        // SAFETY: setrlimit only reads the struct passed by reference.
        let rc = unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) };
        assert_eq!(rc, 0, "setrlimit");
    });
}

/// What parsing an input produced: the requests, then the error that stopped it (if any).
type Outcome = (Vec<Vec<Vec<u8>>>, Option<ProtocolError>);

/// Parses `data` delivered in pieces of the given sizes (cycled; the rest in one piece), as a connection would.
fn parse_in_pieces(data: &[u8], pieces: &[usize], authenticated: bool) -> Outcome {
    memory_guard();
    let mut p = RequestParser::new(1 << 20);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut at = 0;
    let mut sizes = pieces.iter().copied().filter(|&n| n > 0).cycle();
    while at < data.len() {
        let n = sizes.next().unwrap_or(data.len()).min(data.len() - at);
        buf.extend_from_slice(&data[at..at + n]);
        at += n;
        loop {
            match p.parse(&mut buf, authenticated) {
                Ok(Some(args)) => {
                    assert!(!args.is_empty(), "a request is never empty");
                    assert!(
                        out.len() < at,
                        "more requests than bytes read: the parser returned input it did not consume"
                    );
                    out.push(args.iter().map(|a| a.to_vec()).collect());
                }
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

/// Fragments that make random streams look like RESP often enough to reach deep parser states.
fn token() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(any::<u8>(), 0..8),
        Just(b"*".to_vec()),
        Just(b"$".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        (-3i64..40).prop_map(|n| n.to_string().into_bytes()),
        Just(b"99999999999999999999".to_vec()),
        Just(b"PING".to_vec()),
        Just(b"SET".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"'".to_vec()),
        Just(b"\\x4".to_vec()),
        Just(b"\0".to_vec()),
    ]
}

fn stream() -> impl Strategy<Value = Vec<u8>> {
    vec(token(), 0..48).prop_map(|t| t.concat())
}

/// `cases` cases, times `INMEMORY_FUZZ_SCALE` (default 1) for longer campaigns.
fn config(cases: u32) -> Config {
    let scale = std::env::var("INMEMORY_FUZZ_SCALE").ok().and_then(|s| s.parse::<u32>().ok()).unwrap_or(1).max(1);
    Config { cases: cases.saturating_mul(scale), failure_persistence: None, ..Config::default() }
}

#[test]
fn parser_never_panics_and_ignores_read_boundaries() {
    let mut runner = TestRunner::new(config(1000));
    let strategy = (stream(), vec(1usize..16, 1..8), any::<bool>());
    runner
        .run(&strategy, |(data, pieces, auth)| {
            let whole = parse_in_pieces(&data, &[data.len().max(1)], auth);
            let split = parse_in_pieces(&data, &pieces, auth);
            prop_assert_eq!(&whole, &split);
            let bytewise = parse_in_pieces(&data, &[1], auth);
            prop_assert_eq!(&whole, &bytewise);
            Ok(())
        })
        .unwrap();
}

#[test]
fn encoded_commands_round_trip() {
    let mut runner = TestRunner::new(config(500));
    let cmds = vec(vec(vec(any::<u8>(), 0..40), 1..6), 1..8);
    runner
        .run(&(cmds, vec(1usize..64, 1..4)), |(cmds, pieces)| {
            let mut wire = Vec::new();
            for c in &cmds {
                let refs: Vec<&[u8]> = c.iter().map(|a| a.as_slice()).collect();
                wire.extend(encode_cmd(&refs));
            }
            let (got, e) = parse_in_pieces(&wire, &pieces, true);
            prop_assert_eq!(e, None);
            prop_assert_eq!(got, cmds);
            Ok(())
        })
        .unwrap();
}

/// Sends `bytes` on a fresh connection, closes our side, and reads until the server closes too.
fn send_and_drain(s: &Server, bytes: &[u8]) {
    memory_guard();
    let mut c = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let _ = c.write_all(bytes);
    let _ = c.shutdown(Shutdown::Write);
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut sink = [0u8; 1 << 16];
    while Instant::now() < deadline {
        match c.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
    panic!("the server did not close a connection whose peer hung up");
}

fn alive(checker: &mut common::Raw) -> bool {
    checker.call(&["PING"]) == Resp::Simple("PONG".into())
}

#[test]
fn server_survives_random_byte_streams() {
    memory_guard();
    let s = Server::start(&["--requirepass", "pw"]);
    let checker = std::cell::RefCell::new(s.raw());
    assert_eq!(checker.borrow_mut().call(&["AUTH", "pw"]), Resp::Simple("OK".into()));
    let mut runner = TestRunner::new(config(64));
    // Half the cases authenticate first, so both the tight and the normal limits are exercised.
    runner
        .run(&(stream(), any::<bool>()), |(data, auth)| {
            let mut bytes = if auth { encode_cmd(&[b"AUTH", b"pw"]) } else { Vec::new() };
            bytes.extend_from_slice(&data);
            send_and_drain(&s, &bytes);
            prop_assert!(alive(&mut checker.borrow_mut()));
            Ok(())
        })
        .unwrap();
}

/// Commands the command-vector fuzzer leaves out: they stop the server, block, silence replies, kill other
/// clients, or change settings the harness relies on.
const EXCLUDED: &[&str] = &[
    "shutdown",
    "debug",
    "config",
    "client",
    "wait",
    "monitor",
    "subscribe",
    "psubscribe",
    "sync",
    "psync",
    "replicaof",
    "slaveof",
    "failover",
    "acl",
];

/// Arguments: keys, numbers at the edges, option words, and random bytes.
fn argument() -> impl Strategy<Value = Vec<u8>> {
    let words: Vec<&'static str> = vec![
        "k0",
        "k1",
        "k2",
        "0",
        "1",
        "-1",
        "2",
        "10",
        "1000",
        "-1000",
        "9223372036854775807",
        "-9223372036854775808",
        "99999999999999999999",
        "1.5",
        "-0.0",
        "inf",
        "-inf",
        "nan",
        "1e308",
        "",
        "EX",
        "PX",
        "EXAT",
        "NX",
        "XX",
        "GET",
        "KEEPTTL",
        "LEFT",
        "RIGHT",
        "BEFORE",
        "AFTER",
        "COUNT",
        "MATCH",
        "TYPE",
        "*",
        "RANK",
        "MAXLEN",
        "GT",
        "LT",
        "WITHSCORES",
        "LIMIT",
        "FIELDS",
        "SYNC",
        "ASYNC",
        "FORCE",
        "REPLACE",
        "DB",
        "IDLETIME",
        "FREQ",
    ];
    prop_oneof![
        4 => proptest::sample::select(words).prop_map(|w| w.as_bytes().to_vec()),
        1 => vec(any::<u8>(), 0..12),
    ]
}

fn command(names: Vec<&'static str>) -> impl Strategy<Value = Vec<Vec<u8>>> {
    (proptest::sample::select(names), vec(argument(), 0..6)).prop_map(|(n, mut args)| {
        args.insert(0, n.as_bytes().to_vec());
        args
    })
}

#[test]
fn server_survives_random_command_vectors() {
    let names: Vec<&'static str> = inmemory::cmd::table::all()
        .filter(|c| !EXCLUDED.contains(&c.alias_of.unwrap_or(c.name)))
        .filter(|c| !c.has(inmemory::cmd::table::flags::BLOCKING))
        .map(|c| c.name)
        .chain(["NOSUCHCOMMAND", "Get", "sEt"])
        .collect();
    memory_guard();
    let s = Server::start(&[]);
    let checker = std::cell::RefCell::new(s.raw());
    let mut runner = TestRunner::new(config(150));
    runner
        .run(&vec(command(names), 1..10), |cmds| {
            let mut c = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
            c.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
            let mut wire = Vec::new();
            for cmd in &cmds {
                let refs: Vec<&[u8]> = cmd.iter().map(|a| a.as_slice()).collect();
                wire.extend(encode_cmd(&refs));
            }
            c.write_all(&wire).expect("write");
            let mut r = BufReader::new(c.try_clone().expect("clone"));
            // One reply per command (QUIT closes the connection after its reply).
            for cmd in &cmds {
                let reply = read_resp(&mut r);
                prop_assert!(reply.is_ok(), "no reply to {:?}", String::from_utf8_lossy(&cmd.concat()));
                if cmd[0].eq_ignore_ascii_case(b"quit") {
                    break;
                }
            }
            prop_assert!(alive(&mut checker.borrow_mut()));
            Ok(())
        })
        .unwrap();
}

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz")
}

#[test]
fn regression_corpus_replays() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/fixtures/fuzz exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(files.len() >= 10, "corpus has {} files", files.len());
    memory_guard();
    let s = Server::start(&[]);
    let mut checker = s.raw();
    for f in &files {
        let data = std::fs::read(f).expect("read corpus file");
        for auth in [false, true] {
            let whole = parse_in_pieces(&data, &[data.len().max(1)], auth);
            assert_eq!(whole, parse_in_pieces(&data, &[1], auth), "{}", f.display());
            assert_eq!(whole, parse_in_pieces(&data, &[7, 3, 100], auth), "{}", f.display());
        }
        send_and_drain(&s, &data);
        assert!(alive(&mut checker), "server stopped answering after {}", f.display());
    }
}
