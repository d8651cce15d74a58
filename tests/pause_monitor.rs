//! CLIENT PAUSE / UNPAUSE and MONITOR against the real binary: paused
//! writes wait (as blocked clients) while reads go on, a pause keeps
//! expired keys in place, UNPAUSE releases the held commands in order, and
//! MONITOR shows other clients' commands in redis-cli's format with
//! passwords redacted.

mod common;
use std::time::{Duration, Instant};

use common::{bulk, int, nil, ok, text, Raw, Resp, Server};

/// `field:value` of INFO.
fn info_field(c: &mut Raw, field: &str) -> String {
    common::info_field(&text(c.call(&["INFO", "everything"])), field).unwrap_or_default()
}

/// Polls INFO until `blocked_clients` is `n`, with a deadline.
fn wait_blocked(admin: &mut Raw, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_field(admin, "blocked_clients") != n.to_string() {
        assert!(Instant::now() < deadline, "blocked_clients never reached {n}");
        std::thread::yield_now();
    }
}

#[test]
fn pause_write_holds_writes_not_reads_and_unpause_releases_them_in_order() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    assert_eq!(admin.call(&["SET", "k", "v0"]), ok());
    assert_eq!(admin.call(&["CLIENT", "PAUSE", "100000", "WRITE"]), ok());
    let mut writers: Vec<Raw> = (0..3).map(|_| s.raw()).collect();
    for (i, w) in writers.iter_mut().enumerate() {
        w.send_cmd(&["APPEND", "k", &format!("-{i}")]);
        wait_blocked(&mut admin, i + 1);
    }
    // Reads run during the pause and see nothing of the held writes.
    let mut reader = s.raw();
    assert_eq!(reader.call(&["GET", "k"]), bulk("v0"));
    assert_eq!(reader.call(&["PING"]), Resp::Simple("PONG".into()));
    // A malformed write is answered at once.
    assert!(matches!(reader.call(&["SET", "k"]), Resp::Error(_)));
    assert_eq!(admin.call(&["CLIENT", "UNPAUSE"]), ok());
    for w in writers.iter_mut() {
        assert!(matches!(w.read(), Resp::Int(_)));
    }
    assert_eq!(admin.call(&["GET", "k"]), bulk("v0-0-1-2"));
    assert_eq!(info_field(&mut admin, "blocked_clients"), "0");
}

#[test]
fn pause_all_holds_reads_and_ends_at_its_deadline() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    assert_eq!(admin.call(&["CLIENT", "PAUSE", "300", "ALL"]), ok());
    let mut reader = s.raw();
    reader.send_cmd(&["GET", "missing"]);
    // Held until the pause times out, then answered.
    assert_eq!(reader.read(), nil());
}

#[test]
fn a_pause_keeps_expired_keys_until_it_ends() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let before: i64 = info_field(&mut c, "expired_keys").parse().unwrap_or(-1);
    assert_eq!(c.call(&["MULTI"]), ok());
    c.call(&["SET", "a", "1", "PX", "5"]);
    c.call(&["CLIENT", "PAUSE", "60000", "WRITE"]);
    assert!(matches!(c.call(&["EXEC"]), Resp::Array(_)));
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.call(&["GET", "a"]) != nil() {
        assert!(Instant::now() < deadline, "the key never read as expired");
    }
    assert_eq!(info_field(&mut c, "expired_keys"), before.to_string(), "nothing is deleted during a pause");
    assert_eq!(c.call(&["CLIENT", "UNPAUSE"]), ok());
    assert_eq!(c.call(&["GET", "a"]), nil());
    assert_eq!(info_field(&mut c, "expired_keys"), (before + 1).to_string());
}

#[test]
fn monitor_shows_commands_with_passwords_redacted() {
    let s = Server::start(&[]);
    let mut m = s.raw();
    assert_eq!(m.call(&["MONITOR"]), ok());
    let mut c = s.raw();
    assert_eq!(c.call(&["SET", "key one", "v\"x"]), ok());
    assert!(matches!(c.call(&["AUTH", "nobody", "secret"]), Resp::Error(_)));
    assert_eq!(c.call(&["EVAL", "return redis.call('incr', KEYS[1])", "1", "n"]), int(1));
    let lines: Vec<String> = (0..4).map(|_| text(m.read())).collect();
    assert!(lines[0].contains(r#"] "SET" "key one" "v\"x""#), "{lines:?}");
    assert!(lines[0].contains("[0 127.0.0.1:"), "{lines:?}");
    assert!(lines[1].contains(r#""AUTH" "(redacted)" "(redacted)""#), "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains("secret")));
    assert!(lines[2].contains(r#""EVAL""#), "{lines:?}");
    assert!(lines[3].contains(r#"[0 lua] "incr" "n""#), "{lines:?}");
    // The monitor shows as such in CLIENT LIST.
    assert!(text(c.call(&["CLIENT", "LIST"])).contains("flags=O"));
}
