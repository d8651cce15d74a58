//! Blocking sorted-set pops against the real server (BZPOPMIN, BZPOPMAX,
//! BZMPOP): immediate answers, argument and type errors, timeouts, wake-ups
//! by every command that adds members, FIFO serving order, MULTI.

mod common;
use std::time::{Duration, Instant};

use common::{blocked_clients, bulk, bulks as arr, err, int, nil_array, ok, wait_blocked, Resp, Server};

/// ZMPOP's `[key, [[member, score], ...]]`.
fn keyed_pairs(key: &str, pairs: &[(&str, &str)]) -> Resp {
    let items = pairs.iter().map(|(m, s)| arr(&[m, s])).collect();
    Resp::Array(Some(vec![bulk(key), Resp::Array(Some(items))]))
}

#[test]
fn with_members_there_is_no_blocking() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
    assert_eq!(c.call(&["BZPOPMIN", "nokey", "z", "0"]), arr(&["z", "a", "1"]));
    assert_eq!(c.call(&["BZPOPMAX", "z", "0"]), arr(&["z", "c", "3"]));
    assert_eq!(c.call(&["BZMPOP", "0", "2", "nokey", "z", "MIN", "COUNT", "5"]), keyed_pairs("z", &[("b", "2")]));
    assert_eq!(c.call(&["EXISTS", "z"]), int(0));
}

#[test]
fn argument_and_type_errors() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["BZPOPMIN", "k", "-1"]), err("ERR timeout is negative"));
    assert_eq!(c.call(&["BZPOPMAX", "k", "abc"]), err("ERR timeout is not a float or out of range"));
    assert_eq!(c.call(&["BZPOPMIN", "k"]), err("ERR wrong number of arguments for 'bzpopmin' command"));
    assert_eq!(c.call(&["BZMPOP", "x", "1", "k", "MIN"]), err("ERR timeout is not a float or out of range"));
    assert_eq!(c.call(&["BZMPOP", "0", "0", "k", "MIN"]), err("ERR numkeys should be greater than 0"));
    assert_eq!(c.call(&["BZMPOP", "0", "2", "k", "MIN"]), err("ERR syntax error"));
    assert_eq!(c.call(&["BZMPOP", "0", "1", "k", "MIN", "COUNT", "0"]), err("ERR count should be greater than 0"));
    c.call(&["SET", "s", "x"]);
    let wrongtype = err("WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_eq!(c.call(&["BZPOPMIN", "s", "0"]), wrongtype);
    assert_eq!(c.call(&["BZMPOP", "0", "1", "s", "MAX"]), wrongtype);
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn timeouts_answer_a_null_array() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["BZPOPMIN", "k1", "k2", "0.05"]), nil_array());
    assert_eq!(c.call(&["BZPOPMAX", "k", "0.05"]), nil_array());
    assert_eq!(c.call(&["BZMPOP", "0.05", "1", "k", "MAX"]), nil_array());
    assert_eq!(blocked_clients(&mut c), 0);
    assert_eq!(c.call(&["ZADD", "k", "1", "a"]), int(1));
    assert_eq!(c.call(&["ZCARD", "k"]), int(1));
}

#[test]
fn every_adding_command_wakes_the_waiter() {
    let s = Server::start(&[]);
    let mut w = s.raw();
    let mut c = s.raw();
    c.call(&["ZADD", "src", "5", "x", "6", "y"]);
    let wakers: &[&[&str]] = &[
        &["ZADD", "k", "1", "a"],
        &["ZINCRBY", "k", "2", "a"],
        &["ZUNIONSTORE", "k", "1", "src"],
        &["ZRANGESTORE", "k", "src", "0", "0"],
        &["ZINTERSTORE", "k", "2", "src", "src"],
        &["ZDIFFSTORE", "k", "1", "src"],
    ];
    for waker in wakers {
        w.send_cmd(&["BZPOPMIN", "other", "k", "0"]);
        wait_blocked(&mut c, 1);
        c.call(waker);
        match w.read() {
            Resp::Array(Some(items)) => assert_eq!(items[0], bulk("k"), "{waker:?}"),
            other => panic!("{waker:?}: {other:?}"),
        }
        wait_blocked(&mut c, 0);
        c.call(&["DEL", "k"]);
    }
    // BZMPOP takes COUNT members at once.
    w.send_cmd(&["BZMPOP", "0", "1", "k", "MAX", "COUNT", "2"]);
    wait_blocked(&mut c, 1);
    c.call(&["ZADD", "k", "1", "a", "2", "b", "3", "c"]);
    assert_eq!(w.read(), keyed_pairs("k", &[("c", "3"), ("b", "2")]));
    assert_eq!(c.call(&["ZRANGE", "k", "0", "-1"]), arr(&["a"]));
}

#[test]
fn waiters_are_served_first_come_first_served() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let mut first = s.raw();
    let mut second = s.raw();
    let mut third = s.raw();
    for round in 0..5 {
        let key = format!("q{round}");
        first.send_cmd(&["BZPOPMIN", &key, "0"]);
        wait_blocked(&mut c, 1);
        second.send_cmd(&["BZPOPMAX", &key, "0"]);
        wait_blocked(&mut c, 2);
        third.send_cmd(&["BZMPOP", "0", "2", "other", &key, "MIN"]);
        wait_blocked(&mut c, 3);
        assert_eq!(c.call(&["ZADD", &key, "1", "a", "2", "b"]), int(2));
        assert_eq!(first.read(), arr(&[&key, "a", "1"]), "round {round}");
        assert_eq!(second.read(), arr(&[&key, "b", "2"]), "round {round}");
        wait_blocked(&mut c, 1);
        assert_eq!(c.call(&["ZADD", &key, "3", "c"]), int(1));
        assert_eq!(third.read(), keyed_pairs(&key, &[("c", "3")]), "round {round}");
        wait_blocked(&mut c, 0);
        assert_eq!(c.call(&["EXISTS", &key]), int(0));
    }
}

#[test]
fn inside_multi_blocking_pops_answer_at_once() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["MULTI"]), ok());
    for cmd in [
        &["BZPOPMIN", "k", "0"][..],
        &["BZPOPMAX", "k", "0"],
        &["BZMPOP", "0", "1", "k", "MIN"],
        &["ZADD", "k2", "1", "v"],
        &["BZPOPMAX", "k2", "0"],
    ] {
        assert_eq!(c.call(cmd), Resp::Simple("QUEUED".into()));
    }
    let t = Instant::now();
    assert_eq!(
        c.call(&["EXEC"]),
        Resp::Array(Some(vec![nil_array(), nil_array(), nil_array(), int(1), arr(&["k2", "v", "1"])]))
    );
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn a_key_turned_to_another_type_keeps_the_waiter_waiting() {
    let s = Server::start(&[]);
    let mut w = s.raw();
    let mut c = s.raw();
    w.send_cmd(&["BZPOPMIN", "k", "0"]);
    wait_blocked(&mut c, 1);
    c.call(&["RPUSH", "k", "x"]);
    c.call(&["DEL", "k"]);
    c.call(&["ZADD", "k", "7", "m"]);
    assert_eq!(w.read(), arr(&["k", "m", "7"]));
}
