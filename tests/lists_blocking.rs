//! Blocking list commands against the real server (BLPOP, BRPOP, BLMOVE,
//! BRPOPLPUSH, BLMPOP): immediate answers when data is there, argument
//! errors, timeouts, wake-ups from other connections, serving order, MULTI,
//! disconnects, pipelining behind a blocked command.

mod common;
use std::time::{Duration, Instant};

use common::{
    blocked_clients, bulk, bulks as arr, err, int, ints, keyed, nil, nil_array, ok, wait_blocked, Resp, Server,
};

#[test]
fn blocking_commands_with_data_do_not_block() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["RPUSH", "b", "1", "2", "3", "4", "5"]);
    assert_eq!(c.call(&["BLPOP", "a", "b", "0"]), arr(&["b", "1"]));
    assert_eq!(c.call(&["BRPOP", "a", "b", "0"]), arr(&["b", "5"]));
    assert_eq!(c.call(&["BLMOVE", "b", "d", "LEFT", "RIGHT", "0"]), bulk("2"));
    assert_eq!(c.call(&["BRPOPLPUSH", "b", "d", "0"]), bulk("4"));
    assert_eq!(c.call(&["LRANGE", "d", "0", "-1"]), arr(&["4", "2"]));
    assert_eq!(c.call(&["BLMPOP", "0", "2", "a", "d", "RIGHT", "COUNT", "5"]), keyed("d", &["2", "4"]));
    assert_eq!(c.call(&["EXISTS", "d"]), int(0));
    assert_eq!(c.call(&["BLPOP", "b", "0"]), arr(&["b", "3"]));
    assert_eq!(c.call(&["EXISTS", "b"]), int(0));
}

#[test]
fn blocking_argument_errors() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["BLPOP", "k", "-1"]), err("ERR timeout is negative"));
    assert_eq!(c.call(&["BRPOP", "k", "abc"]), err("ERR timeout is not a float or out of range"));
    assert_eq!(c.call(&["BLPOP", "k", "1e300"]), err("ERR timeout is out of range"));
    assert_eq!(c.call(&["BLMOVE", "k", "d", "LEFT", "LEFT", "-0.5"]), err("ERR timeout is negative"));
    assert_eq!(c.call(&["BLMOVE", "k", "d", "UP", "LEFT", "x"]), err("ERR syntax error"));
    assert_eq!(c.call(&["BRPOPLPUSH", "k", "d", "x"]), err("ERR timeout is not a float or out of range"));
    assert_eq!(c.call(&["BLMPOP", "x", "1", "k", "LEFT"]), err("ERR timeout is not a float or out of range"));
    assert_eq!(c.call(&["BLMPOP", "0", "0", "k", "LEFT"]), err("ERR numkeys should be greater than 0"));
    assert_eq!(c.call(&["BLMPOP", "0", "2", "k", "LEFT"]), err("ERR syntax error"));
    assert_eq!(c.call(&["BLMPOP", "0", "1", "k", "LEFT", "COUNT", "0"]), err("ERR count should be greater than 0"));
    assert_eq!(c.call(&["BLPOP", "k"]), err("ERR wrong number of arguments for 'blpop' command"));
    assert_eq!(c.call(&["BLMPOP", "0", "1", "k"]), err("ERR wrong number of arguments for 'blmpop' command"));
    assert_eq!(
        c.call(&["BLMOVE", "k", "d", "LEFT", "LEFT"]),
        err("ERR wrong number of arguments for 'blmove' command")
    );
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn blocking_commands_time_out() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let t = Instant::now();
    assert_eq!(c.call(&["BLPOP", "k1", "k2", "0.1"]), nil_array());
    assert!(t.elapsed() >= Duration::from_millis(100), "returned before the timeout");
    assert_eq!(c.call(&["BRPOP", "k", "0.05"]), nil_array());
    assert_eq!(c.call(&["BLMOVE", "k", "d", "LEFT", "RIGHT", "0.05"]), nil());
    assert_eq!(c.call(&["BRPOPLPUSH", "k", "d", "0.05"]), nil());
    assert_eq!(c.call(&["BLMPOP", "0.05", "1", "k", "LEFT"]), nil_array());
    assert_eq!(c.call(&["EXISTS", "d"]), int(0));
    assert_eq!(blocked_clients(&mut c), 0);
    // The connection works normally afterwards, and a later push is kept.
    assert_eq!(c.call(&["RPUSH", "k", "v"]), int(1));
    assert_eq!(c.call(&["LRANGE", "k", "0", "-1"]), arr(&["v"]));
}

#[test]
fn blpop_is_woken_by_a_push_from_another_connection() {
    let s = Server::start(&[]);
    let mut waiter = s.raw();
    let mut c = s.raw();
    waiter.send_cmd(&["BLPOP", "k1", "k2", "0"]);
    wait_blocked(&mut c, 1);
    let list = match c.call(&["CLIENT", "LIST"]) {
        Resp::Bulk(Some(b)) | Resp::Verbatim(b) => String::from_utf8(b).unwrap(),
        other => panic!("{other:?}"),
    };
    assert!(list.lines().any(|l| l.contains("flags=b") && l.contains("cmd=blpop")), "{list}");
    assert_eq!(c.call(&["RPUSH", "k2", "a", "b"]), int(2));
    assert_eq!(waiter.read(), arr(&["k2", "a"]));
    assert_eq!(c.call(&["LRANGE", "k2", "0", "-1"]), arr(&["b"]));
    wait_blocked(&mut c, 0);

    // BRPOP from the tail; the key is created by the waker and deleted by the pop.
    waiter.send_cmd(&["BRPOP", "k3", "0"]);
    wait_blocked(&mut c, 1);
    assert_eq!(c.call(&["LPUSH", "k3", "x", "y"]), int(2));
    assert_eq!(waiter.read(), arr(&["k3", "x"]));
    assert_eq!(c.call(&["LRANGE", "k3", "0", "-1"]), arr(&["y"]));

    // A push inside EXEC wakes the waiter once EXEC is done.
    waiter.send_cmd(&["BLMPOP", "0", "2", "m1", "m2", "LEFT", "COUNT", "2"]);
    wait_blocked(&mut c, 1);
    assert_eq!(c.call(&["MULTI"]), ok());
    assert_eq!(c.call(&["RPUSH", "m2", "1", "2", "3"]), Resp::Simple("QUEUED".into()));
    assert_eq!(c.call(&["EXEC"]), ints(&[3]));
    assert_eq!(waiter.read(), keyed("m2", &["1", "2"]));
    assert_eq!(c.call(&["LRANGE", "m2", "0", "-1"]), arr(&["3"]));
}

#[test]
fn blmove_is_woken_and_feeds_another_waiter() {
    let s = Server::start(&[]);
    let mut mover = s.raw();
    let mut popper = s.raw();
    let mut c = s.raw();
    mover.send_cmd(&["BLMOVE", "src", "dst", "RIGHT", "LEFT", "0"]);
    wait_blocked(&mut c, 1);
    popper.send_cmd(&["BLPOP", "dst", "0"]);
    wait_blocked(&mut c, 2);
    assert_eq!(c.call(&["RPUSH", "src", "a", "b"]), int(2));
    assert_eq!(mover.read(), bulk("b"));
    // The moved element woke the client blocked on the destination.
    assert_eq!(popper.read(), arr(&["dst", "b"]));
    assert_eq!(c.call(&["LRANGE", "src", "0", "-1"]), arr(&["a"]));
    assert_eq!(c.call(&["EXISTS", "dst"]), int(0));
    wait_blocked(&mut c, 0);

    mover.send_cmd(&["BRPOPLPUSH", "s2", "d2", "0"]);
    wait_blocked(&mut c, 1);
    c.call(&["RPUSH", "tmp", "p", "v"]);
    assert_eq!(c.call(&["LINSERT", "tmp", "BEFORE", "v", "w"]), int(3));
    assert_eq!(c.call(&["LMOVE", "tmp", "s2", "RIGHT", "LEFT"]), bulk("v"));
    assert_eq!(mover.read(), bulk("v"));
    assert_eq!(c.call(&["LRANGE", "d2", "0", "-1"]), arr(&["v"]));
}

#[test]
fn clients_blocked_on_one_key_are_served_in_order() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let mut first = s.raw();
    let mut second = s.raw();
    let mut third = s.raw();
    for round in 0..10 {
        let key = format!("q{round}");
        first.send_cmd(&["BLPOP", &key, "0"]);
        wait_blocked(&mut c, 1);
        second.send_cmd(&["BLPOP", &key, "0"]);
        wait_blocked(&mut c, 2);
        third.send_cmd(&["BRPOP", "other", &key, "0"]);
        wait_blocked(&mut c, 3);
        // One push of two elements: the first two waiters get one each, in order.
        assert_eq!(c.call(&["RPUSH", &key, "a", "b"]), int(2));
        assert_eq!(first.read(), arr(&[&key, "a"]), "round {round}");
        assert_eq!(second.read(), arr(&[&key, "b"]), "round {round}");
        wait_blocked(&mut c, 1);
        // One element at a time: the remaining waiter gets it.
        assert_eq!(c.call(&["RPUSH", &key, "c"]), int(1));
        assert_eq!(third.read(), arr(&[&key, "c"]), "round {round}");
        wait_blocked(&mut c, 0);
        assert_eq!(c.call(&["EXISTS", &key]), int(0));
    }
    // Single pushes with two waiters: the one that blocked first is served first.
    for round in 0..10 {
        let key = format!("s{round}");
        first.send_cmd(&["BLPOP", &key, "0"]);
        wait_blocked(&mut c, 1);
        second.send_cmd(&["BLPOP", &key, "0"]);
        wait_blocked(&mut c, 2);
        assert_eq!(c.call(&["RPUSH", &key, "x"]), int(1));
        assert_eq!(first.read(), arr(&[&key, "x"]), "round {round}");
        wait_blocked(&mut c, 1);
        assert_eq!(c.call(&["RPUSH", &key, "y"]), int(1));
        assert_eq!(second.read(), arr(&[&key, "y"]), "round {round}");
        wait_blocked(&mut c, 0);
    }
}

#[test]
fn blocking_inside_multi_returns_at_once() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["MULTI"]), ok());
    for cmd in [
        &["BLPOP", "k", "0"][..],
        &["BRPOP", "k", "0"],
        &["BLMOVE", "k", "d", "LEFT", "LEFT", "0"],
        &["BRPOPLPUSH", "k", "d", "0"],
        &["BLMPOP", "0", "1", "k", "LEFT"],
        &["RPUSH", "k2", "v"],
        &["BLPOP", "k2", "0"],
    ] {
        assert_eq!(c.call(cmd), Resp::Simple("QUEUED".into()));
    }
    let t = Instant::now();
    assert_eq!(
        c.call(&["EXEC"]),
        Resp::Array(Some(vec![nil_array(), nil_array(), nil(), nil(), nil_array(), int(1), arr(&["k2", "v"])]))
    );
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(blocked_clients(&mut c), 0);
    assert_eq!(c.call(&["PING"]), Resp::Simple("PONG".into()));
}

#[test]
fn a_disconnected_blocked_client_does_not_disturb_later_pushes() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    {
        let mut gone = s.raw();
        gone.send_cmd(&["BLPOP", "k", "0"]);
        wait_blocked(&mut c, 1);
        let mut gone2 = s.raw();
        gone2.send_cmd(&["BLMOVE", "k", "d", "LEFT", "LEFT", "0"]);
        wait_blocked(&mut c, 2);
    }
    wait_blocked(&mut c, 0);
    assert_eq!(c.call(&["RPUSH", "k", "v"]), int(1));
    assert_eq!(c.call(&["LRANGE", "k", "0", "-1"]), arr(&["v"]));
    assert_eq!(c.call(&["EXISTS", "d"]), int(0));
    // A new waiter behind the departed ones is served at once and by later pushes.
    let mut w = s.raw();
    assert_eq!(w.call(&["BLPOP", "k", "0"]), arr(&["k", "v"]));
    w.send_cmd(&["BLPOP", "k", "0"]);
    wait_blocked(&mut c, 1);
    assert_eq!(c.call(&["RPUSH", "k", "again"]), int(1));
    assert_eq!(w.read(), arr(&["k", "again"]));
    // A waiter that timed out does not hold up the next one either.
    assert_eq!(w.call(&["BLPOP", "t", "0.05"]), nil_array());
    w.send_cmd(&["BLPOP", "t", "0"]);
    wait_blocked(&mut c, 1);
    c.call(&["RPUSH", "t", "1"]);
    assert_eq!(w.read(), arr(&["t", "1"]));
}

#[test]
fn pipelined_commands_after_a_blocked_blpop_run_after_it() {
    let s = Server::start(&[]);
    let mut p = s.raw();
    let mut c = s.raw();
    let mut buf = common::encode_cmd(&[b"BLPOP", b"k", b"0"]);
    buf.extend(common::encode_cmd(&[b"SET", b"after", b"1"]));
    buf.extend(common::encode_cmd(&[b"PING"]));
    buf.extend(common::encode_cmd(&[b"LLEN", b"k"]));
    p.send(&buf);
    wait_blocked(&mut c, 1);
    assert_eq!(c.call(&["GET", "after"]), nil(), "commands behind a blocked one must wait");
    assert_eq!(c.call(&["RPUSH", "k", "a", "b"]), int(2));
    assert_eq!(p.read(), arr(&["k", "a"]));
    assert_eq!(p.read(), ok());
    assert_eq!(p.read(), Resp::Simple("PONG".into()));
    assert_eq!(p.read(), int(1));
    assert_eq!(c.call(&["GET", "after"]), bulk("1"));
}

#[test]
fn concurrent_producers_and_blocked_consumers_lose_nothing() {
    let s = Server::start(&[]);
    let consumers = 4;
    let per = 50;
    let mut handles = Vec::new();
    for _ in 0..consumers {
        let mut c = s.raw();
        handles.push(std::thread::spawn(move || {
            let mut got = Vec::new();
            for _ in 0..per {
                match c.call(&["BLPOP", "work", "10"]) {
                    Resp::Array(Some(v)) => match &v[1] {
                        Resp::Bulk(Some(b)) => got.push(String::from_utf8(b.clone()).unwrap()),
                        other => panic!("{other:?}"),
                    },
                    other => panic!("consumer got {other:?}"),
                }
            }
            got
        }));
    }
    let mut prod = s.raw();
    for i in 0..consumers * per {
        let v = i.to_string();
        prod.call(&["RPUSH", "work", &v]);
    }
    let mut all: Vec<usize> = handles.into_iter().flat_map(|h| h.join().unwrap()).map(|s| s.parse().unwrap()).collect();
    all.sort_unstable();
    assert_eq!(all, (0..consumers * per).collect::<Vec<_>>());
    assert_eq!(prod.call(&["EXISTS", "work"]), int(0));
}
