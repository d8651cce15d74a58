//! Blocking stream reads against the real server: XREAD BLOCK and
//! XREADGROUP BLOCK served by XADD in the order the clients blocked, `$`
//! fixed at the time of the call, BLOCK 0 waiting until an entry comes,
//! timeouts, CLIENT UNBLOCK, blocked XREADGROUPs failing when their group
//! or key goes, blocking inside MULTI and scripts, and a group's entries
//! served to blocked consumers exactly once. Synchronisation is by polling
//! INFO clients / CLIENT LIST, never by sleeping.

mod common;
use std::collections::HashSet;

use common::{arr, blocked_clients, bulk, bulks, err, int, nil_array, ok, text, wait_blocked, Raw, Resp, Server};

/// `[[key, [[id, [f, v]]…]]]`, the RESP2 reply of a read of one stream
/// whose entries all have the pair `f v`.
fn served(key: &str, ids: &[&str]) -> Resp {
    let entries = ids.iter().map(|id| arr(vec![bulk(id), bulks(&["f", "v"])])).collect();
    arr(vec![arr(vec![bulk(key), arr(entries)])])
}

/// A raw connection and its client id.
fn client(s: &Server) -> (Raw, i64) {
    let mut c = s.raw();
    let Resp::Int(id) = c.call(&["CLIENT", "ID"]) else { panic!("CLIENT ID") };
    (c, id)
}

/// The `flags=` field of one client's CLIENT LIST line.
fn flags(admin: &mut Raw, id: i64) -> String {
    let line = text(admin.call(&["CLIENT", "LIST", "ID", &id.to_string()]));
    line.split_whitespace().find_map(|f| f.strip_prefix("flags=")).unwrap_or("").to_string()
}

/// Polls CLIENT LIST until client `id` is blocked (flag `b`).
fn wait_client_blocked(admin: &mut Raw, id: i64) {
    common::wait_for(10, &format!("client {id} to block"), || flags(admin, id).contains('b'));
}

fn xadd(c: &mut Raw, key: &str, id: &str) {
    assert_eq!(c.call(&["XADD", key, id, "f", "v"]), bulk(id));
}

const NOGROUP_GONE: &str = "NOGROUP the consumer group this client was blocked on no longer exists";
const KEY_GONE: &str = "UNBLOCKED the stream key no longer exists";

#[test]
fn xreadgroup_waiters_are_served_first_come_first_served() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    assert_eq!(admin.call(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]), ok());
    let mut consumers: Vec<(Raw, &str)> = vec![(s.raw(), "c0"), (s.raw(), "c1"), (s.raw(), "c2")];
    let mut next = 1;
    for round in 0..4 {
        // A different blocking order each round.
        consumers.rotate_left(1);
        for (i, (c, name)) in consumers.iter_mut().enumerate() {
            c.send_cmd(&["XREADGROUP", "GROUP", "g", name, "BLOCK", "0", "STREAMS", "s", ">"]);
            wait_blocked(&mut admin, i + 1);
        }
        for (i, (c, name)) in consumers.iter_mut().enumerate() {
            let id = format!("{next}-0");
            next += 1;
            xadd(&mut admin, "s", &id);
            assert_eq!(c.read(), served("s", &[&id]), "round {round}: {name} was not served next");
            wait_blocked(&mut admin, 2 - i);
        }
    }
    // Each delivery is pending for the consumer it went to, once.
    let Resp::Array(Some(summary)) = admin.call(&["XPENDING", "s", "g"]) else { panic!("XPENDING") };
    assert_eq!(summary[0], int(12));
    assert_eq!(summary[3], arr(vec![bulks(&["c0", "4"]), bulks(&["c1", "4"]), bulks(&["c2", "4"])]));
}

#[test]
fn xread_waiters_all_get_the_new_entry() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    xadd(&mut admin, "s", "1-0");
    let mut readers: Vec<Raw> = (0..3).map(|_| s.raw()).collect();
    for (i, r) in readers.iter_mut().enumerate() {
        r.send_cmd(&["XREAD", "BLOCK", "0", "STREAMS", "other", "s", "$", "$"]);
        wait_blocked(&mut admin, i + 1);
    }
    // A write to another key, or a deletion in the stream, serves nobody.
    xadd(&mut admin, "unrelated", "1-0");
    assert_eq!(admin.call(&["XDEL", "s", "1-0"]), int(1));
    assert_eq!(blocked_clients(&mut admin), 3);
    xadd(&mut admin, "s", "2-0");
    for r in &mut readers {
        assert_eq!(r.read(), served("s", &["2-0"]));
    }
    assert_eq!(blocked_clients(&mut admin), 0);
    // A read of several streams is served by whichever gets an entry.
    let r = &mut readers[0];
    r.send_cmd(&["XREAD", "BLOCK", "0", "STREAMS", "s", "other", "$", "$"]);
    wait_blocked(&mut admin, 1);
    xadd(&mut admin, "other", "7-0");
    assert_eq!(r.read(), served("other", &["7-0"]));
    // With an id already behind the stream's end there is no waiting.
    assert_eq!(r.call(&["XREAD", "BLOCK", "0", "STREAMS", "s", "1-0"]), served("s", &["2-0"]));
}

#[test]
fn dollar_is_the_last_id_at_the_time_of_the_call() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    let mut r = s.raw();
    xadd(&mut admin, "s", "1-0");
    xadd(&mut admin, "s", "2-0");
    r.send_cmd(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    wait_blocked(&mut admin, 1);
    // Two entries added at once: both come, nothing from before.
    assert_eq!(admin.call(&["MULTI"]), ok());
    admin.call(&["XADD", "s", "3-0", "f", "v"]);
    admin.call(&["XADD", "s", "4-0", "f", "v"]);
    assert_eq!(admin.call(&["EXEC"]), bulks(&["3-0", "4-0"]));
    assert_eq!(r.read(), served("s", &["3-0", "4-0"]));
    // On a missing key `$` is 0-0.
    r.send_cmd(&["XREAD", "BLOCK", "0", "STREAMS", "new", "$"]);
    wait_blocked(&mut admin, 1);
    xadd(&mut admin, "new", "0-1");
    assert_eq!(r.read(), served("new", &["0-1"]));
    // The stream replaced while waiting: `$` still means 4-0.
    r.send_cmd(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    wait_blocked(&mut admin, 1);
    assert_eq!(admin.call(&["DEL", "s"]), int(1));
    xadd(&mut admin, "s", "4-0");
    assert_eq!(blocked_clients(&mut admin), 1);
    xadd(&mut admin, "s", "5-0");
    assert_eq!(r.read(), served("s", &["5-0"]));
    // Turned into another type: XREAD keeps waiting.
    r.send_cmd(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    wait_blocked(&mut admin, 1);
    assert_eq!(admin.call(&["SET", "s", "x"]), ok());
    assert_eq!(admin.call(&["DEL", "s"]), int(1));
    assert_eq!(blocked_clients(&mut admin), 1);
    xadd(&mut admin, "s", "9-0");
    assert_eq!(r.read(), served("s", &["9-0"]));
}

#[test]
fn block_zero_waits_until_an_entry_comes() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    let (mut forever, id) = client(&s);
    let (mut group_forever, gid) = client(&s);
    let mut brief = s.raw();
    assert_eq!(admin.call(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]), ok());
    forever.send_cmd(&["XREAD", "BLOCK", "0", "STREAMS", "s", "$"]);
    wait_client_blocked(&mut admin, id);
    group_forever.send_cmd(&["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]);
    wait_client_blocked(&mut admin, gid);
    // Others time out meanwhile; the BLOCK 0 clients stay blocked.
    for _ in 0..3 {
        assert_eq!(brief.call(&["XREAD", "BLOCK", "30", "STREAMS", "s", "$"]), nil_array());
        assert_eq!(brief.call(&["XREADGROUP", "GROUP", "g", "b", "BLOCK", "30", "STREAMS", "s", ">"]), nil_array());
    }
    assert!(flags(&mut admin, id).contains('b'));
    assert!(flags(&mut admin, gid).contains('b'));
    assert_eq!(blocked_clients(&mut admin), 2);
    xadd(&mut admin, "s", "1-0");
    assert_eq!(forever.read(), served("s", &["1-0"]));
    assert_eq!(group_forever.read(), served("s", &["1-0"]));
    wait_blocked(&mut admin, 0);
}

#[test]
fn timeouts_answer_nil() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["XREAD", "BLOCK", "10", "STREAMS", "s", "$"]), nil_array());
    assert_eq!(c.call(&["XREAD", "BLOCK", "10", "STREAMS", "a", "b", "0", "0"]), nil_array());
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]), ok());
    assert_eq!(c.call(&["XREADGROUP", "GROUP", "g", "c", "BLOCK", "10", "STREAMS", "s", ">"]), nil_array());
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "g", "c", "COUNT", "5", "BLOCK", "10", "STREAMS", "s", ">"]),
        nil_array()
    );
    assert_eq!(blocked_clients(&mut c), 0);
    // A timed-out reader takes nothing later.
    xadd(&mut c, "s", "1-0");
    assert_eq!(c.call(&["XPENDING", "s", "g"]), arr(vec![int(0), Resp::Bulk(None), Resp::Bulk(None), nil_array()]));
    // RESP3: a null.
    assert!(matches!(c.call(&["HELLO", "3"]), Resp::Map(_)));
    assert_eq!(c.call(&["XREAD", "BLOCK", "10", "STREAMS", "s", "$"]), Resp::Null);
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "g", "c", "BLOCK", "10", "STREAMS", "s", ">"]),
        Resp::Map(vec![(bulk("s"), served_entries(&["1-0"]))])
    );
    assert_eq!(c.call(&["XREADGROUP", "GROUP", "g", "c", "BLOCK", "10", "STREAMS", "s", ">"]), Resp::Null);
    // Errors come at once.
    assert_eq!(c.call(&["SET", "str", "x"]), ok());
    let wrongtype = err("WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_eq!(c.call(&["XREAD", "BLOCK", "0", "STREAMS", "str", "$"]), wrongtype);
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "nokey", ">"]),
        err("NOGROUP No such key 'nokey' or consumer group 'g' in XREADGROUP with GROUP option")
    );
    assert_eq!(c.call(&["XREAD", "BLOCK", "-5", "STREAMS", "s", "$"]), err("ERR timeout is negative"));
    assert_eq!(blocked_clients(&mut c), 0);
}

/// The entries part of [`served`].
fn served_entries(ids: &[&str]) -> Resp {
    arr(ids.iter().map(|id| arr(vec![bulk(id), bulks(&["f", "v"])])).collect())
}

#[test]
fn client_unblock_releases_stream_readers() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    let (mut v, id) = client(&s);
    assert_eq!(admin.call(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]), ok());
    let reads: [&[&str]; 2] = [
        &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
        &["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"],
    ];
    for cmd in reads {
        for (reason, want) in [
            (None, nil_array()),
            (Some("TIMEOUT"), nil_array()),
            (Some("ERROR"), err("UNBLOCKED client unblocked via CLIENT UNBLOCK")),
        ] {
            v.send_cmd(cmd);
            wait_client_blocked(&mut admin, id);
            let ids = id.to_string();
            let mut unblock = vec!["CLIENT", "UNBLOCK", &ids];
            unblock.extend(reason);
            assert_eq!(admin.call(&unblock), int(1));
            assert_eq!(v.read(), want, "{cmd:?} {reason:?}");
            assert_eq!(blocked_clients(&mut admin), 0);
            assert_eq!(admin.call(&["CLIENT", "UNBLOCK", &ids]), int(0));
        }
    }
    // The released XREADGROUP left no waiter behind: the entry stays undelivered.
    xadd(&mut admin, "s", "1-0");
    assert_eq!(admin.call(&["XPENDING", "s", "g"]), arr(vec![int(0), Resp::Bulk(None), Resp::Bulk(None), nil_array()]));
    assert_eq!(v.call(&["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]), served("s", &["1-0"]));
}

#[test]
fn blocked_xreadgroup_fails_when_its_group_or_key_goes() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    let mut w = s.raw();
    let killers: &[(&[&[&str]], &str)] = &[
        (&[&["XGROUP", "DESTROY", "s", "g"]], NOGROUP_GONE),
        (&[&["DEL", "s"]], KEY_GONE),
        (&[&["UNLINK", "s"]], KEY_GONE),
        (&[&["SET", "s", "x"]], KEY_GONE),
        (&[&["FLUSHALL"]], KEY_GONE),
        (&[&["FLUSHDB"]], KEY_GONE),
        (&[&["RENAME", "s", "t"]], KEY_GONE),
        (&[&["PEXPIREAT", "s", "1"]], KEY_GONE),
        // Replaced by a new stream without the group.
        (&[&["MULTI"], &["DEL", "s"], &["XADD", "s", "5-0", "f", "v"], &["EXEC"]], NOGROUP_GONE),
    ];
    for (cmds, want) in killers {
        admin.call(&["FLUSHALL"]);
        assert_eq!(admin.call(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]), ok());
        w.send_cmd(&["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]);
        wait_blocked(&mut admin, 1);
        for cmd in *cmds {
            admin.call(cmd);
        }
        assert_eq!(w.read(), err(want), "{cmds:?}");
        assert_eq!(blocked_clients(&mut admin), 0, "{cmds:?}");
    }
    // Changes that leave stream and group keep it waiting; SETID serves it.
    admin.call(&["FLUSHALL"]);
    xadd(&mut admin, "s", "1-0");
    xadd(&mut admin, "s", "2-0");
    assert_eq!(admin.call(&["XGROUP", "CREATE", "s", "g", "$"]), ok());
    w.send_cmd(&["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]);
    wait_blocked(&mut admin, 1);
    assert_eq!(admin.call(&["XDEL", "s", "1-0"]), int(1));
    assert_eq!(admin.call(&["XTRIM", "s", "MAXLEN", "0"]), int(1));
    assert_eq!(admin.call(&["XGROUP", "CREATE", "s", "other", "0"]), ok());
    assert_eq!(admin.call(&["XGROUP", "DESTROY", "s", "other"]), int(1));
    assert_eq!(admin.call(&["XGROUP", "CREATECONSUMER", "s", "g", "x"]), int(1));
    assert_eq!(blocked_clients(&mut admin), 1);
    xadd(&mut admin, "s", "3-0");
    xadd(&mut admin, "s", "4-0");
    assert_eq!(w.read(), served("s", &["3-0"]));
    w.send_cmd(&["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]);
    assert_eq!(w.read(), served("s", &["4-0"]));
    w.send_cmd(&["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"]);
    wait_blocked(&mut admin, 1);
    assert_eq!(admin.call(&["XGROUP", "SETID", "s", "g", "0"]), ok());
    assert_eq!(w.read(), served("s", &["3-0", "4-0"]));
}

#[test]
fn blocking_reads_inside_multi_and_scripts_do_not_block() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]), ok());
    assert_eq!(c.call(&["MULTI"]), ok());
    for cmd in [
        &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"][..],
        &["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"],
        &["XADD", "s", "1-0", "f", "v"],
        &["XREAD", "BLOCK", "0", "STREAMS", "s", "$"],
        &["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"],
    ] {
        assert_eq!(c.call(cmd), Resp::Simple("QUEUED".into()));
    }
    assert_eq!(c.call(&["EXEC"]), arr(vec![nil_array(), nil_array(), bulk("1-0"), nil_array(), served("s", &["1-0"])]));
    assert_eq!(blocked_clients(&mut c), 0);
    for (cmd, script) in [
        ("XREAD", "return redis.call('XREAD', 'BLOCK', '0', 'STREAMS', 's', '$')"),
        ("XREADGROUP", "return redis.call('XREADGROUP', 'GROUP', 'g', 'c', 'BLOCK', '0', 'STREAMS', 's', '>')"),
    ] {
        let Resp::Error(e) = c.call(&["EVAL", script, "0"]) else { panic!("{cmd} BLOCK in a script") };
        assert!(e.starts_with(&format!("ERR {cmd} command is not allowed with BLOCK option from scripts")), "{e}");
    }
    assert_eq!(blocked_clients(&mut c), 0);
}

#[test]
fn blocked_consumers_of_one_group_never_share_an_entry() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    assert_eq!(admin.call(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]), ok());
    // Deterministic: two waiters with COUNT 1, three entries at once.
    let (mut a, mut b) = (s.raw(), s.raw());
    a.send_cmd(&["XREADGROUP", "GROUP", "g", "a", "COUNT", "1", "BLOCK", "0", "STREAMS", "s", ">"]);
    wait_blocked(&mut admin, 1);
    b.send_cmd(&["XREADGROUP", "GROUP", "g", "b", "COUNT", "1", "BLOCK", "0", "STREAMS", "s", ">"]);
    wait_blocked(&mut admin, 2);
    assert_eq!(admin.call(&["MULTI"]), ok());
    for id in ["1-0", "2-0", "3-0"] {
        admin.call(&["XADD", "s", id, "f", "v"]);
    }
    assert_eq!(admin.call(&["EXEC"]), bulks(&["1-0", "2-0", "3-0"]));
    assert_eq!(a.read(), served("s", &["1-0"]));
    assert_eq!(b.read(), served("s", &["2-0"]));
    assert_eq!(a.call(&["XREADGROUP", "GROUP", "g", "a", "BLOCK", "0", "STREAMS", "s", ">"]), served("s", &["3-0"]));
    // Concurrent: two consumer threads reading one entry at a time until
    // each gets a stop entry; the producer adds entries as they read.
    const N: usize = 300;
    admin.call(&["DEL", "s"]);
    assert_eq!(admin.call(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]), ok());
    let readers: Vec<_> = ["x", "y"]
        .into_iter()
        .map(|name| {
            let mut c = s.raw();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    let r =
                        c.call(&["XREADGROUP", "GROUP", "g", name, "COUNT", "1", "BLOCK", "0", "STREAMS", "s", ">"]);
                    let Resp::Array(Some(streams)) = r else { panic!("{name}: {r:?}") };
                    let Resp::Array(Some(pair)) = &streams[0] else { panic!("{name}") };
                    let Resp::Array(Some(entries)) = &pair[1] else { panic!("{name}") };
                    assert_eq!(entries.len(), 1, "{name}: COUNT 1");
                    let Resp::Array(Some(e)) = &entries[0] else { panic!("{name}") };
                    let stop = e[1] == bulks(&["stop", "1"]);
                    got.push(text(e[0].clone()));
                    if stop {
                        return got;
                    }
                }
            })
        })
        .collect();
    wait_blocked(&mut admin, 2);
    let mut produced = Vec::new();
    for i in 0..N {
        produced.push(text(admin.call(&["XADD", "s", "*", "n", &i.to_string()])));
    }
    for _ in 0..2 {
        produced.push(text(admin.call(&["XADD", "s", "*", "stop", "1"])));
    }
    let got: Vec<Vec<String>> = readers.into_iter().map(|r| r.join().expect("reader")).collect();
    let all: Vec<&String> = got.iter().flatten().collect();
    let unique: HashSet<&String> = all.iter().copied().collect();
    assert_eq!(all.len(), unique.len(), "an entry was delivered twice");
    assert_eq!(unique, produced.iter().collect::<HashSet<_>>(), "entries lost");
    // Each reader got its entries in stream order.
    let parse = |id: &String| -> (u64, u64) {
        let (ms, seq) = id.split_once('-').expect("ms-seq");
        (ms.parse().unwrap(), seq.parse().unwrap())
    };
    for g in &got {
        assert!(g.windows(2).all(|w| parse(&w[0]) < parse(&w[1])), "{g:?}");
    }
    let Resp::Array(Some(summary)) = admin.call(&["XPENDING", "s", "g"]) else { panic!("XPENDING") };
    assert_eq!(summary[0], int((N + 2) as i64));
    assert_eq!(blocked_clients(&mut admin), 0);
}
