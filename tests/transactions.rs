//! MULTI/EXEC/DISCARD/WATCH against the real binary: queueing, EXECABORT,
//! runtime errors, WATCH aborts (RESP2 `*-1`, RESP3 null), and atomicity
//! of EXEC with respect to other clients.

mod common;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{arr, bulk, err, int, ok, Raw, Resp, Server};

fn queued() -> Resp {
    Resp::Simple("QUEUED".into())
}

const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

/// WATCH `key` on `r`, let `other` run `cmd`, then run an empty-ish
/// transaction and return EXEC's reply.
fn exec_after(r: &mut Raw, other: &mut Raw, key: &str, cmd: &[&str]) -> Resp {
    assert_eq!(r.call(&["WATCH", key]), ok());
    other.call(cmd);
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["PING"]), queued());
    r.call(&["EXEC"])
}

#[test]
fn multi_exec_runs_queued_commands_in_order() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["SET", "a", "1"]), queued());
    assert_eq!(r.call(&["INCR", "a"]), queued());
    assert_eq!(r.call(&["GET", "a"]), queued());
    assert_eq!(r.call(&["GET", "nokey"]), queued());
    assert_eq!(r.call(&["EXEC"]), arr(vec![ok(), int(2), bulk("2"), Resp::Bulk(None)]));
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["EXEC"]), arr(vec![]));
    // SELECT inside a transaction applies to the commands after it.
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["SELECT", "1"]), queued());
    assert_eq!(r.call(&["SET", "a", "db1"]), queued());
    assert_eq!(r.call(&["SELECT", "0"]), queued());
    assert_eq!(r.call(&["EXEC"]), arr(vec![ok(), ok(), ok()]));
    assert_eq!(r.call(&["GET", "a"]), bulk("2"));
    assert_eq!(r.call(&["SELECT", "1"]), ok());
    assert_eq!(r.call(&["GET", "a"]), bulk("db1"));
    // The redis crate's atomic pipeline.
    let mut c = s.conn();
    let (x, y): (i64, i64) = redis::pipe().atomic().incr("n", 5).incr("n", 5).query(&mut c).unwrap();
    assert_eq!((x, y), (5, 10));
    // RESP3: the same replies.
    let mut r3 = s.raw();
    assert!(matches!(r3.call(&["HELLO", "3"]), Resp::Map(_)));
    assert_eq!(r3.call(&["MULTI"]), ok());
    assert_eq!(r3.call(&["GET", "nokey"]), queued());
    assert_eq!(r3.call(&["EXEC"]), arr(vec![Resp::Null]));
}

#[test]
fn queueing_errors_abort_exec() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["SET", "a", "1"]), queued());
    assert_eq!(r.call(&["SET", "b"]), err("ERR wrong number of arguments for 'set' command"));
    assert_eq!(r.call(&["SET", "c", "3"]), queued());
    assert_eq!(r.call(&["EXEC"]), err(EXECABORT));
    assert_eq!(r.call(&["EXISTS", "a", "b", "c"]), int(0), "nothing ran");
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["SET", "a", "1"]), queued());
    assert_eq!(r.call(&["NOSUCHCMD", "x"]), err("ERR unknown command 'NOSUCHCMD', with args beginning with: 'x' "));
    assert_eq!(r.call(&["EXEC"]), err(EXECABORT));
    assert_eq!(r.call(&["EXISTS", "a"]), int(0));
    // After EXECABORT the client is out of MULTI.
    assert_eq!(r.call(&["SET", "a", "1"]), ok());
    assert_eq!(r.call(&["EXEC"]), err("ERR EXEC without MULTI"));
}

#[test]
fn runtime_errors_do_not_stop_the_others() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["SET", "a", "x"]), queued());
    assert_eq!(r.call(&["INCR", "a"]), queued());
    assert_eq!(r.call(&["HSET", "a", "f", "v"]), queued());
    assert_eq!(r.call(&["SET", "c", "3"]), queued());
    assert_eq!(
        r.call(&["EXEC"]),
        arr(vec![
            ok(),
            err("ERR value is not an integer or out of range"),
            err("WRONGTYPE Operation against a key holding the wrong kind of value"),
            ok(),
        ])
    );
    assert_eq!(r.call(&["GET", "c"]), bulk("3"));
    assert_eq!(r.call(&["GET", "a"]), bulk("x"));
}

#[test]
fn discard_and_misplaced_commands() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["EXEC"]), err("ERR EXEC without MULTI"));
    assert_eq!(r.call(&["DISCARD"]), err("ERR DISCARD without MULTI"));
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["SET", "a", "1"]), queued());
    assert_eq!(r.call(&["DISCARD"]), ok());
    assert_eq!(r.call(&["EXISTS", "a"]), int(0));
    assert_eq!(r.call(&["DISCARD"]), err("ERR DISCARD without MULTI"));
    // Nested MULTI is an error that does not abort the transaction.
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["MULTI"]), err("ERR MULTI calls can not be nested"));
    assert_eq!(r.call(&["SET", "a", "1"]), queued());
    assert_eq!(r.call(&["EXEC"]), arr(vec![ok()]));
    // WATCH inside MULTI likewise.
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["SET", "b", "2"]), queued());
    assert_eq!(r.call(&["WATCH", "x"]), err("ERR WATCH inside MULTI is not allowed"));
    assert_eq!(r.call(&["EXEC"]), arr(vec![ok()]));
    assert_eq!(r.call(&["GET", "b"]), bulk("2"));
    assert_eq!(r.call(&["WATCH"]), err("ERR wrong number of arguments for 'watch' command"));
}

#[test]
fn watch_aborts_exec_when_another_client_writes() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut other = s.raw();
    assert_eq!(r.call(&["SET", "k", "1"]), ok());
    assert_eq!(r.call(&["WATCH", "k"]), ok());
    assert_eq!(other.call(&["SET", "k", "other"]), ok());
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["SET", "k", "mine"]), queued());
    assert_eq!(r.call(&["EXEC"]), Resp::Array(None), "RESP2 null array");
    assert_eq!(r.call(&["GET", "k"]), bulk("other"));
    // EXEC (even aborted) forgets the watches: the next transaction runs.
    assert_eq!(other.call(&["SET", "k", "again"]), ok());
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["SET", "k", "mine"]), queued());
    assert_eq!(r.call(&["EXEC"]), arr(vec![ok()]));
    // Other kinds of modification abort too.
    for cmd in [
        &["DEL", "k"][..],
        &["EXPIRE", "k", "100"],
        &["RENAME", "k", "k2"],
        &["APPEND", "k", "x"],
        &["INCRBYFLOAT", "k", "1"],
        &["FLUSHDB"],
        &["FLUSHALL"],
        &["MOVE", "k", "1"],
    ] {
        assert_eq!(other.call(&["SET", "k", "1"]), ok());
        assert_eq!(exec_after(&mut r, &mut other, "k", cmd), Resp::Array(None), "{cmd:?}");
    }
    // A key that did not exist and is created.
    assert_eq!(other.call(&["DEL", "k"]), int(0));
    assert_eq!(exec_after(&mut r, &mut other, "k", &["SET", "k", "new"]), Resp::Array(None));
    // SWAPDB changes what the watched name refers to.
    assert_eq!(other.call(&["SELECT", "1"]), ok());
    assert_eq!(other.call(&["SET", "k", "db1"]), ok());
    assert_eq!(exec_after(&mut r, &mut other, "k", &["SWAPDB", "0", "1"]), Resp::Array(None));
    // RESP3: a null.
    let mut r3 = s.raw();
    assert!(matches!(r3.call(&["HELLO", "3"]), Resp::Map(_)));
    assert_eq!(other.call(&["SELECT", "0"]), ok());
    assert_eq!(exec_after(&mut r3, &mut other, "k", &["SET", "k", "x"]), Resp::Null);
}

#[test]
fn watch_unchanged_other_db_or_unwatched_executes() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut other = s.raw();
    assert_eq!(r.call(&["SET", "k", "1"]), ok());
    assert_eq!(exec_after(&mut r, &mut other, "k", &["GET", "k"]), arr(vec![Resp::Simple("PONG".into())]));
    assert_eq!(exec_after(&mut r, &mut other, "k", &["SET", "unrelated", "1"]), arr(vec![Resp::Simple("PONG".into())]));
    // The same name in another database is another key.
    assert_eq!(other.call(&["SELECT", "1"]), ok());
    assert_eq!(exec_after(&mut r, &mut other, "k", &["SET", "k", "2"]), arr(vec![Resp::Simple("PONG".into())]));
    assert_eq!(other.call(&["SELECT", "0"]), ok());
    // UNWATCH forgets.
    assert_eq!(r.call(&["WATCH", "k"]), ok());
    assert_eq!(r.call(&["UNWATCH"]), ok());
    assert_eq!(other.call(&["SET", "k", "3"]), ok());
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["GET", "k"]), queued());
    assert_eq!(r.call(&["EXEC"]), arr(vec![bulk("3")]));
    // UNWATCH inside MULTI is queued like any command: too late to save EXEC.
    assert_eq!(r.call(&["WATCH", "k"]), ok());
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["UNWATCH"]), queued());
    assert_eq!(other.call(&["SET", "k", "3"]), ok());
    assert_eq!(r.call(&["EXEC"]), Resp::Array(None));
    // DISCARD forgets too.
    assert_eq!(r.call(&["WATCH", "k"]), ok());
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["DISCARD"]), ok());
    assert_eq!(other.call(&["SET", "k", "4"]), ok());
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["GET", "k"]), queued());
    assert_eq!(r.call(&["EXEC"]), arr(vec![bulk("4")]));
    // Several keys: any one of them changing aborts.
    assert_eq!(r.call(&["WATCH", "a", "b", "c"]), ok());
    assert_eq!(other.call(&["SET", "c", "1"]), ok());
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["EXEC"]), Resp::Array(None));
    // A client's own write to a watched key aborts its transaction too.
    assert_eq!(r.call(&["WATCH", "k"]), ok());
    assert_eq!(r.call(&["SET", "k", "self"]), ok());
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["EXEC"]), Resp::Array(None));
}

#[test]
fn watch_ignores_writes_that_change_nothing() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut other = s.raw();
    let pong = arr(vec![Resp::Simple("PONG".into())]);
    assert_eq!(r.call(&["SET", "x", "1"]), ok());
    // Redis answers each of these with EXEC running, because none modified x.
    for cmd in [
        &["SETNX", "x", "2"][..],
        &["DEL", "nokey"],
        &["EXPIRE", "x", "100", "GT"],
        &["GETEX", "x"],
        &["SET", "x", "3", "NX"],
        &["PERSIST", "x"],
    ] {
        let key = if cmd[1] == "nokey" { "nokey" } else { "x" };
        assert_eq!(exec_after(&mut r, &mut other, key, cmd), pong, "{cmd:?}");
    }
    assert_eq!(exec_after(&mut r, &mut other, "nokey", &["FLUSHALL"]), pong, "FLUSHALL of nothing watched");
}

#[test]
fn whole_keyspace_and_server_commands_inside_exec() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    // EXEC holds every shard lock: a command that took a lock itself would hang.
    r.r.get_ref().set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    assert_eq!(r.call(&["SET", "k", "12"]), ok());
    let cmds: &[&[&str]] = &[
        &["INFO", "keyspace"],
        &["DEBUG", "OBJECT", "k"],
        &["OBJECT", "ENCODING", "k"],
        &["DBSIZE"],
        &["KEYS", "*"],
        &["SCAN", "0"],
        &["RANDOMKEY"],
        &["CONFIG", "GET", "hz"],
        &["COMMAND", "COUNT"],
        &["CLIENT", "ID"],
        &["TIME"],
        &["SWAPDB", "0", "1"],
        &["SWAPDB", "0", "1"],
        &["FLUSHDB"],
        &["DBSIZE"],
    ];
    assert_eq!(r.call(&["MULTI"]), ok());
    for c in cmds {
        assert_eq!(r.call(c), queued(), "{c:?}");
    }
    let Resp::Array(Some(replies)) = r.call(&["EXEC"]) else { panic!("EXEC reply") };
    assert_eq!(replies.len(), cmds.len());
    let Resp::Bulk(Some(info)) = &replies[0] else { panic!("{:?}", replies[0]) };
    assert!(String::from_utf8_lossy(info).contains("db0:keys=1,expires=0"));
    assert!(matches!(&replies[1], Resp::Simple(s) if s.contains("encoding:int")));
    assert_eq!(replies[2], bulk("int"));
    assert_eq!(replies[3], int(1));
    assert_eq!(replies[4], arr(vec![bulk("k")]));
    assert_eq!(replies[6], bulk("k"));
    assert_eq!(replies[13], ok());
    assert_eq!(replies[14], int(0));
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["DEBUG", "RELOAD"]), queued());
    assert_eq!(r.call(&["CONFIG", "SET", "appendonly", "yes"]), queued());
    assert_eq!(
        r.call(&["EXEC"]),
        arr(vec![
            err("ERR DEBUG RELOAD is not supported inside MULTI"),
            err("ERR CONFIG SET appendonly is not supported inside MULTI"),
        ])
    );
    assert_eq!(r.call(&["PING"]), Resp::Simple("PONG".into()));
}

#[test]
fn exec_is_atomic_for_other_readers() {
    let s = Server::start(&[]);
    let done = Arc::new(AtomicBool::new(false));
    let mut writer = s.raw();
    let done_w = done.clone();
    let w = std::thread::spawn(move || {
        let mut batch = Vec::new();
        for _ in 0..200 {
            batch.extend(common::encode_cmd(&[b"MULTI"]));
            for _ in 0..100 {
                batch.extend(common::encode_cmd(&[b"INCR", b"x"]));
            }
            batch.extend(common::encode_cmd(&[b"EXEC"]));
        }
        writer.send(&batch);
        for t in 0..200 {
            assert_eq!(writer.read(), ok());
            for _ in 0..100 {
                assert_eq!(writer.read(), queued());
            }
            let Resp::Array(Some(results)) = writer.read() else { panic!("EXEC reply") };
            assert_eq!(results.len(), 100);
            assert_eq!(results[99], int((t + 1) * 100));
        }
        done_w.store(true, Ordering::Release);
    });
    let mut reader = s.raw();
    let mut reads = 0;
    let mut last = 0;
    while !done.load(Ordering::Acquire) {
        match reader.call(&["GET", "x"]) {
            Resp::Bulk(None) => {}
            Resp::Bulk(Some(v)) => {
                let n: i64 = String::from_utf8(v).unwrap().parse().unwrap();
                assert_eq!(n % 100, 0, "saw a half-applied transaction: {n}");
                assert!(n >= last, "went backwards: {last} -> {n}");
                last = n;
                reads += 1;
            }
            other => panic!("{other:?}"),
        }
        assert!(reads < 10_000_000);
    }
    w.join().unwrap();
    assert_eq!(reader.call(&["GET", "x"]), bulk("20000"));
    assert!(reads > 0);
}
