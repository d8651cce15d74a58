//! CLIENT UNBLOCK against the real binary: clients blocked in BLPOP, BRPOP,
//! BLMOVE, BRPOPLPUSH and BLMPOP are released with their timeout reply or
//! the UNBLOCKED error, the reply counts and errors are Redis's, and the
//! released connection keeps working.

mod common;
use std::time::{Duration, Instant};

use common::{bulk, err, int, nil, ok, status, text, Raw, Resp, Server};

const UNBLOCKED: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

/// The `flags=` field of one client's CLIENT LIST line.
fn flags(admin: &mut Raw, id: i64) -> String {
    let line = text(admin.call(&["CLIENT", "LIST", "ID", &id.to_string()]));
    line.split_whitespace().find_map(|f| f.strip_prefix("flags=")).unwrap_or("").to_string()
}

/// Polls until client `id` shows as blocked (flag `b`), with a deadline.
fn wait_blocked(admin: &mut Raw, id: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !flags(admin, id).contains('b') {
        assert!(Instant::now() < deadline, "client {id} never blocked");
        std::thread::yield_now();
    }
}

/// A raw connection and its client id.
fn client(s: &Server) -> (Raw, i64) {
    let mut c = s.raw();
    let Resp::Int(id) = c.call(&["CLIENT", "ID"]) else { panic!("CLIENT ID") };
    (c, id)
}

/// Sends `cmd` on `victim`, waits until it is blocked, unblocks it with
/// `reason` (none: the default) and returns what the victim got.
fn block_then_unblock(admin: &mut Raw, victim: &mut Raw, id: i64, cmd: &[&str], reason: Option<&str>) -> Resp {
    let a: Vec<&[u8]> = cmd.iter().map(|s| s.as_bytes()).collect();
    victim.cmd(&a);
    wait_blocked(admin, id);
    assert_eq!(common::blocked_clients(admin), 1);
    let ids = id.to_string();
    let mut unblock = vec!["CLIENT", "UNBLOCK", &ids];
    unblock.extend(reason);
    assert_eq!(admin.call(&unblock), int(1));
    let got = victim.read();
    assert_eq!(common::blocked_clients(admin), 0);
    assert!(!flags(admin, id).contains('b'));
    got
}

#[test]
fn unblock_timeout_gives_each_commands_timeout_reply() {
    let s = Server::start(&[]);
    let (mut admin, _) = client(&s);
    let (mut v, id) = client(&s);
    for (cmd, reason, want) in [
        (&["BLPOP", "q", "0"][..], None, Resp::Array(None)),
        (&["BRPOP", "q", "other", "0"][..], Some("TIMEOUT"), Resp::Array(None)),
        (&["BLMOVE", "q", "dst", "LEFT", "RIGHT", "0"][..], Some("timeout"), nil()),
        (&["BRPOPLPUSH", "q", "dst", "100"][..], None, nil()),
        (&["BLMPOP", "0", "2", "q", "r", "LEFT", "COUNT", "3"][..], Some("TiMeOuT"), Resp::Array(None)),
    ] {
        assert_eq!(block_then_unblock(&mut admin, &mut v, id, cmd, reason), want, "{cmd:?}");
        assert_eq!(v.call(&["PING"]), status("PONG"));
    }
    // Nothing was created by the unblocked commands.
    assert_eq!(admin.call(&["EXISTS", "q", "dst", "r"]), int(0));
}

#[test]
fn unblock_error_gives_unblocked_error() {
    let s = Server::start(&[]);
    let (mut admin, _) = client(&s);
    let (mut v, id) = client(&s);
    for cmd in [
        &["BLPOP", "q", "0"][..],
        &["BRPOP", "q", "0"][..],
        &["BLMOVE", "q", "dst", "RIGHT", "LEFT", "0"][..],
        &["BRPOPLPUSH", "q", "dst", "0"][..],
        &["BLMPOP", "0", "1", "q", "RIGHT"][..],
    ] {
        assert_eq!(block_then_unblock(&mut admin, &mut v, id, cmd, Some("ERROR")), err(UNBLOCKED), "{cmd:?}");
        assert_eq!(v.call(&["PING"]), status("PONG"));
    }
    let stats = text(admin.call(&["INFO", "errorstats"]));
    assert!(stats.contains("errorstat_UNBLOCKED:count=5"), "{stats}");
}

#[test]
fn unblocked_connection_keeps_working() {
    let s = Server::start(&[]);
    let (mut admin, _) = client(&s);
    let (mut v, id) = client(&s);
    // A request pipelined behind the blocked one runs after the unblock.
    v.send(b"BLPOP q 0\r\nPING\r\n");
    wait_blocked(&mut admin, id);
    assert_eq!(admin.call(&["CLIENT", "UNBLOCK", &id.to_string(), "error"]), int(1));
    assert_eq!(v.read(), err(UNBLOCKED));
    assert_eq!(v.read(), status("PONG"));
    // The unblocked client did not leave a waiter behind: a push stays in the list.
    assert_eq!(admin.call(&["RPUSH", "q", "x"]), int(1));
    assert_eq!(admin.call(&["LLEN", "q"]), int(1));
    // It blocks and is served normally afterwards.
    assert_eq!(v.call(&["BLPOP", "q", "0"]), Resp::Array(Some(vec![bulk("q"), bulk("x")])));
    v.cmd(&[b"BLPOP", b"q", b"0"]);
    wait_blocked(&mut admin, id);
    assert_eq!(admin.call(&["LPUSH", "q", "y"]), int(1));
    assert_eq!(v.read(), Resp::Array(Some(vec![bulk("q"), bulk("y")])));
    common::wait_blocked(&mut admin, 0);
    assert_eq!(v.call(&["SET", "k", "v"]), ok());
    // Unblocking it again now that it is not blocked does nothing.
    assert_eq!(admin.call(&["CLIENT", "UNBLOCK", &id.to_string()]), int(0));
}

#[test]
fn unblock_resp3_timeout_is_null() {
    let s = Server::start(&[]);
    let (mut admin, _) = client(&s);
    let (mut v, id) = client(&s);
    assert!(matches!(v.call(&["HELLO", "3"]), Resp::Map(_)));
    assert_eq!(block_then_unblock(&mut admin, &mut v, id, &["BLPOP", "q", "0"], None), Resp::Null);
}

#[test]
fn unblock_of_unblockable_clients_is_zero() {
    let s = Server::start(&[]);
    let (mut admin, me) = client(&s);
    let (mut idle, idle_id) = client(&s);
    assert_eq!(idle.call(&["PING"]), status("PONG"));
    assert_eq!(admin.call(&["CLIENT", "UNBLOCK", &idle_id.to_string()]), int(0));
    assert_eq!(admin.call(&["CLIENT", "UNBLOCK", &idle_id.to_string(), "ERROR"]), int(0));
    assert_eq!(admin.call(&["CLIENT", "UNBLOCK", &me.to_string()]), int(0));
    for id in ["999999", "0", "-1"] {
        assert_eq!(admin.call(&["CLIENT", "UNBLOCK", id]), int(0), "{id}");
    }
    // A blocking command inside MULTI does not block.
    assert_eq!(idle.call(&["MULTI"]), ok());
    assert_eq!(idle.call(&["BLPOP", "q", "0"]), status("QUEUED"));
    assert_eq!(admin.call(&["CLIENT", "UNBLOCK", &idle_id.to_string()]), int(0));
    assert_eq!(idle.call(&["EXEC"]), Resp::Array(Some(vec![Resp::Array(None)])));
    assert_eq!(common::blocked_clients(&mut admin), 0);
    // A second unblock of the same blocked client finds it no longer blocked.
    let (mut v, id) = client(&s);
    v.cmd(&[b"BLPOP", b"q", b"0"]);
    wait_blocked(&mut admin, id);
    assert_eq!(admin.call(&["CLIENT", "UNBLOCK", &id.to_string()]), int(1));
    assert_eq!(admin.call(&["CLIENT", "UNBLOCK", &id.to_string(), "ERROR"]), int(0));
    assert_eq!(v.read(), Resp::Array(None));
}

#[test]
fn unblock_argument_errors() {
    let s = Server::start(&[]);
    let (mut admin, id) = client(&s);
    let id = id.to_string();
    assert_eq!(
        admin.call(&["CLIENT", "UNBLOCK", &id, "BOGUS"]),
        err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    );
    // The reason is checked before the id, as in Redis.
    assert_eq!(
        admin.call(&["CLIENT", "UNBLOCK", "abc", "BOGUS"]),
        err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    );
    assert_eq!(admin.call(&["CLIENT", "UNBLOCK", "abc"]), err("ERR value is not an integer or out of range"));
    assert_eq!(admin.call(&["CLIENT", "UNBLOCK", "1.5", "ERROR"]), err("ERR value is not an integer or out of range"));
    assert_eq!(admin.call(&["CLIENT", "UNBLOCK"]), err("ERR wrong number of arguments for 'client|unblock' command"));
    assert_eq!(
        admin.call(&["CLIENT", "UNBLOCK", &id, "ERROR", "x"]),
        err("ERR unknown subcommand or wrong number of arguments for 'UNBLOCK'. Try CLIENT HELP.")
    );
    let Resp::Array(Some(help)) = admin.call(&["CLIENT", "HELP"]) else { panic!("help") };
    assert!(help.contains(&status("UNBLOCK <clientid> [TIMEOUT|ERROR]")));
}

#[test]
fn unblocked_client_hands_its_place_in_line_on() {
    let s = Server::start(&[]);
    let (mut admin, _) = client(&s);
    let (mut first, first_id) = client(&s);
    let (mut second, second_id) = client(&s);
    first.cmd(&[b"BLPOP", b"q", b"0"]);
    wait_blocked(&mut admin, first_id);
    second.cmd(&[b"BLPOP", b"q", b"0"]);
    wait_blocked(&mut admin, second_id);
    assert_eq!(common::blocked_clients(&mut admin), 2);
    assert_eq!(admin.call(&["CLIENT", "UNBLOCK", &first_id.to_string()]), int(1));
    assert_eq!(first.read(), Resp::Array(None));
    assert_eq!(admin.call(&["RPUSH", "q", "x"]), int(1));
    assert_eq!(second.read(), Resp::Array(Some(vec![bulk("q"), bulk("x")])));
    common::wait_blocked(&mut admin, 0);
    assert_eq!(admin.call(&["EXISTS", "q"]), int(0));
}

#[test]
fn unblock_racing_a_push_either_serves_or_unblocks() {
    let s = Server::start(&[]);
    let (mut admin, _) = client(&s);
    let (mut pusher, _) = client(&s);
    let (mut v, id) = client(&s);
    let ids = id.to_string();
    let unblock = common::encode_cmd(&[b"CLIENT", b"UNBLOCK", ids.as_bytes(), b"ERROR"]);
    let push = common::encode_cmd(&[b"RPUSH", b"q", b"x"]);
    for i in 0..200 {
        v.cmd(&[b"BLPOP", b"q", b"0"]);
        wait_blocked(&mut admin, id);
        // Both requests in flight at once, in alternating order.
        if i % 2 == 0 {
            admin.send(&unblock);
            pusher.send(&push);
        } else {
            pusher.send(&push);
            admin.send(&unblock);
        }
        let unblocked = admin.read();
        assert_eq!(pusher.read(), int(1));
        let got = v.read();
        let left = pusher.call(&["LLEN", "q"]);
        if unblocked == int(1) {
            assert_eq!(got, err(UNBLOCKED), "round {i}");
            assert_eq!(left, int(1), "round {i}");
            assert_eq!(pusher.call(&["DEL", "q"]), int(1));
        } else {
            assert_eq!(unblocked, int(0), "round {i}");
            assert_eq!(got, Resp::Array(Some(vec![bulk("q"), bulk("x")])), "round {i}");
            assert_eq!(left, int(0), "round {i}");
        }
    }
    common::wait_blocked(&mut admin, 0);
}
