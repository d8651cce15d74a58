//! SLOWLOG against the real binary: the thresholds, the entries' fields,
//! trimming of long calls, redaction of secrets, which commands are logged
//! (EXEC, blocked commands, scripts), and the latency monitor's
//! `expire-cycle` / `eviction-*` events. Commands are made "slow" with a
//! threshold of 0 or with DEBUG SLEEP, never by waiting.

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{bulk, bulks, err, int, items, num, ok, strings, text, Raw, Resp, Server};

/// One SLOWLOG GET entry, decoded.
#[derive(Debug)]
struct Entry {
    id: i64,
    time: i64,
    micros: i64,
    args: Vec<String>,
    peer: String,
    name: String,
}

fn entries(r: &mut Raw, count: Option<&str>) -> Vec<Entry> {
    let mut cmd = vec!["SLOWLOG", "GET"];
    cmd.extend(count);
    items(r.call(&cmd))
        .into_iter()
        .map(|e| {
            let f = items(e);
            assert_eq!(f.len(), 6, "{f:?}");
            Entry {
                id: num(&f[0]),
                time: num(&f[1]),
                micros: num(&f[2]),
                args: strings(f[3].clone()),
                peer: text(f[4].clone()),
                name: text(f[5].clone()),
            }
        })
        .collect()
}

/// The arguments of every entry, newest first.
fn logged(r: &mut Raw) -> Vec<Vec<String>> {
    entries(r, Some("-1")).into_iter().map(|e| e.args).collect()
}

fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// The address the server sees for `r`.
fn peer_of(r: &Raw) -> String {
    r.w.local_addr().expect("local addr").to_string()
}

/// Polls `cond` (a sync on server state, not a guess at timing) for up to 10 s.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn defaults_help_and_argument_errors() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(items(r.call(&["CONFIG", "GET", "slowlog-log-slower-than"]))[1], bulk("10000"));
    assert_eq!(items(r.call(&["CONFIG", "GET", "slowlog-max-len"]))[1], bulk("128"));
    assert_eq!(r.call(&["SLOWLOG", "LEN"]), int(0));
    assert_eq!(r.call(&["SLOWLOG", "GET"]), Resp::Array(Some(vec![])));
    let help = strings(r.call(&["SLOWLOG", "HELP"]));
    assert_eq!(help[0], "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    assert_eq!(help[1], "GET [<count>]");
    assert_eq!(help.last().map(String::as_str), Some("    Prints this help."));

    let count_err = err("ERR count should be greater than or equal to -1");
    assert_eq!(r.call(&["SLOWLOG", "GET", "-2"]), count_err);
    assert_eq!(r.call(&["SLOWLOG", "GET", "-222"]), count_err);
    assert_eq!(r.call(&["SLOWLOG", "GET", "x"]), count_err);
    assert_eq!(
        r.call(&["SLOWLOG", "GET", "1", "2"]),
        err("ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP.")
    );
    assert_eq!(r.call(&["SLOWLOG", "nope"]), err("ERR unknown subcommand 'nope'. Try SLOWLOG HELP."));
    assert_eq!(r.call(&["SLOWLOG", "LEN", "x"]), err("ERR wrong number of arguments for 'slowlog|len' command"));
    assert_eq!(r.call(&["SLOWLOG"]), err("ERR wrong number of arguments for 'slowlog' command"));
    assert_eq!(
        r.call(&["CONFIG", "SET", "slowlog-max-len", "-1"]),
        err("ERR CONFIG SET failed (possibly related to argument 'slowlog-max-len') - argument must be between 0 and 9223372036854775807 inclusive")
    );
    // COMMAND knows the container and its subcommands.
    let list = strings(r.call(&["COMMAND", "LIST"]));
    assert!(list.iter().any(|c| c == "slowlog"), "{list:?}");
    let info = items(r.call(&["COMMAND", "INFO", "slowlog|get"]));
    assert_eq!(items(info[0].clone())[0], bulk("slowlog|get"));
}

#[test]
fn only_commands_reaching_the_threshold_are_logged_with_their_fields() {
    let s = Server::start(&["--set", "slowlog-log-slower-than=100000"]);
    let mut r = s.raw();
    assert_eq!(r.call(&["CLIENT", "SETNAME", "foobar"]), ok());
    assert_eq!(r.call(&["PING"]), Resp::Simple("PONG".into()));
    assert_eq!(r.call(&["SLOWLOG", "LEN"]), int(0));
    assert_eq!(r.call(&["DEBUG", "SLEEP", "0.2"]), ok());
    assert_eq!(r.call(&["SLOWLOG", "LEN"]), int(1));

    let e = entries(&mut r, None);
    assert_eq!(e.len(), 1);
    let e = &e[0];
    assert_eq!(e.id, 0);
    assert!(e.micros >= 200_000 && e.micros < 10_000_000, "{} µs", e.micros);
    assert_eq!(e.args, owned(&["DEBUG", "SLEEP", "0.2"]));
    assert_eq!(e.peer, peer_of(&r));
    assert_eq!(e.name, "foobar");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((now - 10..=now + 1).contains(&e.time), "{} vs {now}", e.time);

    // Another client's entries carry its own address and (no) name.
    let mut other = s.raw();
    assert_eq!(other.call(&["DEBUG", "SLEEP", "0.15"]), ok());
    let e = entries(&mut r, None);
    assert_eq!((e[0].id, e[0].peer.as_str(), e[0].name.as_str()), (1, peer_of(&other).as_str(), ""));

    // Negative: off (nothing logged, nothing trimmed).
    assert_eq!(r.call(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]), ok());
    assert_eq!(r.call(&["DEBUG", "SLEEP", "0.15"]), ok());
    assert_eq!(r.call(&["SLOWLOG", "LEN"]), int(2));
    assert_eq!(r.call(&["CONFIG", "SET", "slowlog-max-len", "1"]), ok());
    assert_eq!(r.call(&["SLOWLOG", "LEN"]), int(2));
}

#[test]
fn zero_logs_everything_up_to_the_maximum_and_ids_keep_growing() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    // The CONFIG SET that lowers the threshold is itself logged (it is
    // measured after it ran), the one that turns the log off is not.
    assert_eq!(r.call(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]), ok());
    assert_eq!(r.call(&["CONFIG", "SET", "slowlog-max-len", "10"]), ok());
    for _ in 0..100 {
        assert_eq!(r.call(&["PING"]), Resp::Simple("PONG".into()));
    }
    assert_eq!(r.call(&["SLOWLOG", "LEN"]), int(10));
    // Default count 10, -1 all, 0 none; newest first.
    let e = entries(&mut r, None);
    assert_eq!(e.len(), 10);
    assert_eq!(e[0].args, owned(&["SLOWLOG", "LEN"]));
    assert_eq!(e[0].id, 102, "2 CONFIG SETs, 100 PINGs, then SLOWLOG LEN");
    assert!(e.windows(2).all(|w| w[0].id == w[1].id + 1));
    assert_eq!(entries(&mut r, Some("5")).len(), 5);
    assert_eq!(entries(&mut r, Some("0")).len(), 0);
    assert_eq!(entries(&mut r, Some("-1")).len(), 10);

    assert_eq!(r.call(&["SLOWLOG", "RESET"]), ok());
    let e = entries(&mut r, None);
    assert_eq!(e.len(), 1, "only the RESET itself");
    assert_eq!(e[0].args, owned(&["SLOWLOG", "RESET"]));
    assert!(e[0].id > 102, "ids are not reset");

    // A lower maximum trims at once while the log is on.
    assert_eq!(r.call(&["CONFIG", "SET", "slowlog-max-len", "3"]), ok());
    for k in ["a", "b", "c", "d"] {
        assert_eq!(r.call(&["SET", k, "v"]), ok());
    }
    assert_eq!(r.call(&["CONFIG", "SET", "slowlog-max-len", "2"]), ok());
    assert_eq!(r.call(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]), ok());
    assert_eq!(logged(&mut r), vec![owned(&["CONFIG", "SET", "slowlog-max-len", "2"]), owned(&["SET", "d", "v"])]);
    // Max length 0: nothing is kept.
    assert_eq!(r.call(&["CONFIG", "SET", "slowlog-max-len", "0", "slowlog-log-slower-than", "0"]), ok());
    assert_eq!(r.call(&["SLOWLOG", "LEN"]), int(0));
}

#[test]
fn long_calls_and_long_arguments_are_cut() {
    let s = Server::start(&["--set", "slowlog-log-slower-than=0"]);
    let mut r = s.raw();
    let members: Vec<String> = (3..=33).map(|i| i.to_string()).collect();
    let mut cmd = vec!["sadd".to_string(), "set".to_string()];
    cmd.extend(members.iter().cloned());
    assert_eq!(r.call_owned(&cmd), int(31));
    let e = logged(&mut r);
    let mut want = cmd[..31].to_vec();
    want.push("... (2 more arguments)".into());
    assert_eq!(e[0], want);

    let long = "A".repeat(129);
    assert_eq!(r.call(&["sadd", "set", "foo", &long]), int(2));
    let e = logged(&mut r);
    assert_eq!(e[0], owned(&["sadd", "set", "foo", &format!("{}... (1 more bytes)", "A".repeat(128))]));
    // Binary arguments are kept as sent.
    r.cmd(&[b"SET", b"bin", b"\x00\xff\r\n"]);
    assert_eq!(r.read(), ok());
    let raw = items(items(r.call(&["SLOWLOG", "GET", "1"]))[0].clone());
    assert_eq!(items(raw[3].clone())[2], Resp::Bulk(Some(b"\x00\xff\r\n".to_vec())));
}

#[test]
fn secrets_are_redacted() {
    let s = Server::start(&["--set", "slowlog-log-slower-than=0"]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SLOWLOG", "RESET"]), ok());
    let _ = r.call(&["ACL", "SETUSER", "slowlog test user", "+get", "+set"]);
    assert_eq!(r.call(&["ACL", "SETUSER", "slowlog-test-user", "on", ">secret", "+get"]), ok());
    assert_eq!(r.call(&["CONFIG", "SET", "requirepass", "pw", "slowlog-max-len", "100"]), ok());
    assert_eq!(r.call(&["AUTH", "pw"]), ok());
    assert!(matches!(r.call(&["AUTH", "slowlog-test-user", "wrong"]), Resp::Error(_)));
    assert!(matches!(r.call(&["HELLO", "2", "AUTH", "default", "pw", "SETNAME", "n"]), Resp::Map(_) | Resp::Array(_)));
    assert_eq!(r.call(&["CONFIG", "SET", "requirepass", ""]), ok());
    assert_eq!(r.call(&["CONFIG", "SET", "slowlog-log-slower-than", "-1"]), ok());
    let e = logged(&mut r);
    let want: Vec<Vec<String>> = [
        &["CONFIG", "SET", "requirepass", "(redacted)"][..],
        &["HELLO", "2", "AUTH", "(redacted)", "(redacted)", "SETNAME", "n"],
        &["AUTH", "(redacted)", "(redacted)"],
        &["AUTH", "(redacted)"],
        &["CONFIG", "SET", "requirepass", "(redacted)", "slowlog-max-len", "100"],
        &["ACL", "SETUSER", "(redacted)", "(redacted)", "(redacted)", "(redacted)"],
        &["ACL", "SETUSER", "(redacted)", "(redacted)", "(redacted)"],
        &["SLOWLOG", "RESET"],
    ]
    .iter()
    .map(|a| owned(a))
    .collect();
    assert_eq!(e, want);
    // HELLO's SETNAME named the client before its entry was made.
    assert_eq!(entries(&mut r, None)[1].name, "n");
}

#[test]
fn exec_is_not_logged_but_the_commands_it_runs_are() {
    let s = Server::start(&["--set", "slowlog-log-slower-than=100000"]);
    let mut r = s.raw();
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["DEBUG", "SLEEP", "0.2"]), Resp::Simple("QUEUED".into()));
    assert_eq!(r.call(&["PING"]), Resp::Simple("QUEUED".into()));
    assert_eq!(items(r.call(&["EXEC"])).len(), 2);
    assert_eq!(logged(&mut r), vec![owned(&["DEBUG", "SLEEP", "0.2"])]);

    assert_eq!(r.call(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]), ok());
    assert_eq!(r.call(&["SLOWLOG", "RESET"]), ok());
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["SET", "k", "v"]), Resp::Simple("QUEUED".into()));
    assert_eq!(r.call(&["INCR", "n"]), Resp::Simple("QUEUED".into()));
    assert_eq!(items(r.call(&["EXEC"])).len(), 2);
    // MULTI is logged when it runs, the queued commands when EXEC runs them.
    assert_eq!(
        logged(&mut r),
        vec![owned(&["INCR", "n"]), owned(&["SET", "k", "v"]), owned(&["MULTI"]), owned(&["SLOWLOG", "RESET"])]
    );
}

#[test]
fn refused_calls_are_not_logged() {
    let s = Server::start(&["--set", "slowlog-log-slower-than=0"]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SLOWLOG", "RESET"]), ok());
    assert!(matches!(r.call(&["GET"]), Resp::Error(_)));
    assert!(matches!(r.call(&["NOSUCHCOMMAND"]), Resp::Error(_)));
    assert!(matches!(r.call(&["CONFIG", "NOSUCH"]), Resp::Error(_)));
    assert!(matches!(r.call(&["CONFIG", "HELP", "extra"]), Resp::Error(_)));
    // A command that ran and failed is logged.
    assert_eq!(r.call(&["SET", "s", "x"]), ok());
    assert!(matches!(r.call(&["INCR", "s"]), Resp::Error(_)));
    assert_eq!(logged(&mut r), vec![owned(&["INCR", "s"]), owned(&["SET", "s", "x"]), owned(&["SLOWLOG", "RESET"])]);
}

#[test]
fn a_blocked_command_is_logged_once_served_without_its_wait() {
    let s = Server::start(&["--set", "slowlog-log-slower-than=100000"]);
    let mut r = s.raw();
    let mut blocked = s.raw();
    assert_eq!(blocked.call(&["CLIENT", "SETNAME", "waiter"]), ok());
    blocked.send_cmd(&["BLPOP", "l", "0"]);
    wait_until("the client to block", || text(r.call(&["INFO", "clients"])).contains("blocked_clients:1\r\n"));
    // Time passes while it waits (the sleep itself is logged) …
    assert_eq!(r.call(&["DEBUG", "SLEEP", "0.2"]), ok());
    assert_eq!(r.call(&["LPUSH", "l", "x"]), int(1));
    assert_eq!(blocked.read(), bulks(&["l", "x"]));
    // … but the BLPOP did not take 100 ms to run.
    assert_eq!(logged(&mut r), vec![owned(&["DEBUG", "SLEEP", "0.2"])]);

    // Logged when served, with its own arguments and client, after what
    // served it.
    assert_eq!(r.call(&["CONFIG", "SET", "slowlog-log-slower-than", "0"]), ok());
    blocked.send_cmd(&["BLPOP", "l", "0"]);
    wait_until("the client to block", || text(r.call(&["INFO", "clients"])).contains("blocked_clients:1\r\n"));
    assert_eq!(r.call(&["SLOWLOG", "RESET"]), ok());
    assert_eq!(r.call(&["RPUSH", "l", "y"]), int(1));
    assert_eq!(blocked.read(), bulks(&["l", "y"]));
    let e = entries(&mut r, None);
    assert_eq!(e[0].args, owned(&["BLPOP", "l", "0"]));
    assert_eq!((e[0].peer.as_str(), e[0].name.as_str()), (peer_of(&blocked).as_str(), "waiter"));
    assert!(e[0].micros < 100_000, "{} µs", e[0].micros);
    assert_eq!(e[1].args, owned(&["RPUSH", "l", "y"]));
}

#[test]
fn scripts_and_the_commands_they_run_are_logged_as_redis_logs_them() {
    let s = Server::start(&["--set", "slowlog-log-slower-than=0"]);
    let mut r = s.raw();
    assert_eq!(r.call(&["CLIENT", "SETNAME", "caller"]), ok());
    assert_eq!(r.call(&["SLOWLOG", "RESET"]), ok());
    assert_eq!(r.call(&["EVAL", "return redis.call('set', KEYS[1], 'v')", "1", "k"]), ok());
    let e = entries(&mut r, None);
    let got: Vec<(Vec<String>, &str, &str)> =
        e.iter().map(|e| (e.args.clone(), e.peer.as_str(), e.name.as_str())).collect();
    let me = peer_of(&r);
    assert_eq!(
        got,
        vec![
            (owned(&["EVAL", "return redis.call('set', KEYS[1], 'v')", "1", "k"]), me.as_str(), "caller"),
            // Redis's script client: no address, no name.
            (owned(&["set", "k", "v"]), "?:0", ""),
            (owned(&["SLOWLOG", "RESET"]), me.as_str(), "caller"),
        ]
    );
}
