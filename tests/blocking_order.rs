//! Blocked clients are served by the command that makes their key ready,
//! before any later command runs (Redis's `handleClientsBlockedOnKeys`
//! after `call()`): no client — the pusher or a third one — ever sees a
//! ready key while a client still waits on it; served in blocking order;
//! chains of BLMOVEs complete within the push; a transaction serves after
//! EXEC; any command that creates the key (RENAME, COPY, MOVE) serves.

mod common;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{bulk, bulks, int, wait_blocked, Raw, Resp, Server};

#[test]
fn push_then_read_never_sees_the_unserved_element() {
    let s = Server::start(&[]);
    let mut waiter = s.raw();
    let mut pusher = s.raw();
    let mut admin = s.raw();
    // A third client reads the list all along: it must never see it non-empty.
    let stop = Arc::new(AtomicBool::new(false));
    let observer = {
        let (stop, mut obs) = (stop.clone(), s.raw());
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(obs.call(&["LLEN", "q"]), int(0), "a third client saw an element a blocked client was owed");
                reads += 1;
            }
            reads
        })
    };
    for i in 0..2000 {
        waiter.send_cmd(&["BLPOP", "q", "0"]);
        wait_blocked(&mut admin, 1);
        let v = i.to_string();
        // Push and read in one pipeline: the read runs right after the push.
        pusher.send(&common::encode_cmd(&[b"RPUSH", b"q", v.as_bytes()]));
        pusher.send(&common::encode_cmd(&[b"LLEN", b"q"]));
        assert_eq!(pusher.read(), int(1));
        assert_eq!(pusher.read(), int(0), "round {i}: the pusher saw the element the blocked client was owed");
        assert_eq!(waiter.read(), bulks(&["q", &v]));
    }
    stop.store(true, Ordering::Relaxed);
    let reads = observer.join().expect("observer");
    assert!(reads > 0);
}

#[test]
fn linked_lmoves_complete_within_the_push() {
    let s = Server::start(&[]);
    let (mut rd1, mut rd2, mut r) = (s.raw(), s.raw(), s.raw());
    for round in 0..200 {
        rd1.send_cmd(&["BLMOVE", "list1", "list2", "RIGHT", "LEFT", "0"]);
        wait_blocked(&mut r, 1);
        rd2.send_cmd(&["BLMOVE", "list2", "list3", "LEFT", "RIGHT", "0"]);
        wait_blocked(&mut r, 2);
        r.send(&common::encode_cmd(&[b"RPUSH", b"list1", b"foo"]));
        r.send(&common::encode_cmd(&[b"LRANGE", b"list1", b"0", b"-1"]));
        r.send(&common::encode_cmd(&[b"LRANGE", b"list2", b"0", b"-1"]));
        r.send(&common::encode_cmd(&[b"LRANGE", b"list3", b"0", b"-1"]));
        assert_eq!(r.read(), int(1));
        assert_eq!(r.read(), bulks(&[]), "round {round}: list1");
        assert_eq!(r.read(), bulks(&[]), "round {round}: list2");
        assert_eq!(r.read(), bulks(&["foo"]), "round {round}: list3");
        assert_eq!(rd1.read(), bulk("foo"));
        assert_eq!(rd2.read(), bulk("foo"));
        assert_eq!(r.call(&["DEL", "list3"]), int(1));
    }
}

#[test]
fn clients_are_served_in_the_order_they_blocked() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    let mut waiters: Vec<Raw> = (0..5).map(|_| s.raw()).collect();
    for (i, w) in waiters.iter_mut().enumerate() {
        w.send_cmd(&["BRPOP", "k", "0"]);
        wait_blocked(&mut admin, i + 1);
    }
    // One push of five elements serves all five, first blocked first.
    assert_eq!(admin.call(&["LPUSH", "k", "a", "b", "c", "d", "e"]), int(5));
    assert_eq!(admin.call(&["EXISTS", "k"]), int(0));
    for (w, want) in waiters.iter_mut().zip(["a", "b", "c", "d", "e"]) {
        assert_eq!(w.read(), bulks(&["k", want]));
    }
    // Two elements for three waiters: the third keeps waiting.
    for (i, w) in waiters.iter_mut().take(3).enumerate() {
        w.send_cmd(&["BLPOP", "k", "0"]);
        wait_blocked(&mut admin, i + 1);
    }
    assert_eq!(admin.call(&["RPUSH", "k", "x", "y"]), int(2));
    assert_eq!(waiters[0].read(), bulks(&["k", "x"]));
    assert_eq!(waiters[1].read(), bulks(&["k", "y"]));
    wait_blocked(&mut admin, 1);
    assert_eq!(admin.call(&["RPUSH", "k", "z"]), int(1));
    assert_eq!(waiters[2].read(), bulks(&["k", "z"]));
}

#[test]
fn a_transaction_serves_blocked_clients_after_exec() {
    let s = Server::start(&[]);
    let (mut w, mut r) = (s.raw(), s.raw());
    w.send_cmd(&["BLPOP", "k", "0"]);
    wait_blocked(&mut r, 1);
    assert_eq!(r.call(&["MULTI"]), Resp::Simple("OK".into()));
    r.call(&["RPUSH", "k", "v"]);
    r.call(&["LLEN", "k"]);
    // Inside EXEC the list holds the element; the waiter takes it after.
    assert_eq!(r.call(&["EXEC"]), Resp::Array(Some(vec![int(1), int(1)])));
    assert_eq!(r.call(&["LLEN", "k"]), int(0));
    assert_eq!(w.read(), bulks(&["k", "v"]));
}

#[test]
fn a_key_of_another_type_does_not_serve_and_a_later_push_does() {
    let s = Server::start(&[]);
    let (mut w, mut r) = (s.raw(), s.raw());
    w.send_cmd(&["BLPOP", "k", "0"]);
    wait_blocked(&mut r, 1);
    assert_eq!(r.call(&["SET", "k", "str"]), Resp::Simple("OK".into()));
    wait_blocked(&mut r, 1);
    assert_eq!(r.call(&["DEL", "k"]), int(1));
    // RENAME of a list onto the awaited key serves the waiter, too.
    assert_eq!(r.call(&["RPUSH", "src", "v"]), int(1));
    assert_eq!(r.call(&["RENAME", "src", "k"]), Resp::Simple("OK".into()));
    assert_eq!(w.read(), bulks(&["k", "v"]));
    assert_eq!(r.call(&["EXISTS", "k"]), int(0));
    // So does any command that creates the key: COPY, MOVE.
    w.send_cmd(&["BLPOP", "k", "0"]);
    wait_blocked(&mut r, 1);
    assert_eq!(r.call(&["RPUSH", "src", "c"]), int(1));
    assert_eq!(r.call(&["COPY", "src", "k"]), int(1));
    assert_eq!(w.read(), bulks(&["k", "c"]));
    w.send_cmd(&["BLPOP", "k", "0"]);
    wait_blocked(&mut r, 1);
    assert_eq!(r.call(&["SELECT", "1"]), Resp::Simple("OK".into()));
    assert_eq!(r.call(&["RPUSH", "k", "m"]), int(1));
    assert_eq!(r.call(&["MOVE", "k", "0"]), int(1));
    assert_eq!(w.read(), bulks(&["k", "m"]));
}

#[test]
fn a_transaction_touching_many_keys_serves_each_waiter_once_in_order() {
    // More ready keys than the server dedupes on insert (16), with the
    // awaited key signalled again and again among them.
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut waiters: Vec<Raw> = (0..3).map(|_| s.raw()).collect();
    for (i, w) in waiters.iter_mut().enumerate() {
        w.send_cmd(&["BLPOP", "k", "0"]);
        wait_blocked(&mut r, i + 1);
    }
    assert_eq!(r.call(&["MULTI"]), Resp::Simple("OK".into()));
    for i in 0..40 {
        r.call(&["RPUSH", &format!("other{i}"), "x"]);
        if i % 10 == 0 {
            r.call(&["RPUSH", "k", &format!("v{i}")]);
        }
    }
    let Resp::Array(Some(replies)) = r.call(&["EXEC"]) else { panic!("EXEC did not answer an array") };
    assert_eq!(replies.len(), 44);
    // Four elements for three waiters: one each, first blocked first, and
    // the fourth stays in the list.
    for (w, want) in waiters.iter_mut().zip(["v0", "v10", "v20"]) {
        assert_eq!(w.read(), bulks(&["k", want]));
    }
    assert_eq!(r.call(&["LRANGE", "k", "0", "-1"]), Resp::Array(Some(vec![bulk("v30")])));
}
