//! Streams as keys: TYPE, OBJECT ENCODING, SCAN TYPE, COPY/RENAME/MOVE
//! with consumer groups, expiry, MEMORY USAGE, WATCH and DEBUG
//! DIGEST-VALUE.

use super::common::{
    arr, bulk, bulks, int, nil, nil_array, ok, sorted_strings, status, strings, text, wait_for, Raw, Resp, Server,
};
use super::groups::groups_summary;
use super::{add_ids, add_range, field, fv_entries, read_reply};

/// DEBUG DIGEST-VALUE of one key.
fn digest(c: &mut Raw, key: &str) -> String {
    let Resp::Array(Some(d)) = c.call(&["DEBUG", "DIGEST-VALUE", key]) else { panic!("DEBUG DIGEST-VALUE {key}") };
    text(d[0].clone())
}

/// MEMORY USAGE of one key.
fn memory(c: &mut Raw, key: &str) -> i64 {
    match c.call(&["MEMORY", "USAGE", key]) {
        Resp::Int(n) => n,
        other => panic!("MEMORY USAGE {key}: {other:?}"),
    }
}

#[test]
fn type_encoding_and_scan_type() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    add_ids(&mut c, "s1", &["1-0"]);
    assert_eq!(c.call(&["XGROUP", "CREATE", "s2", "g", "$", "MKSTREAM"]), ok());
    assert_eq!(c.call(&["XADD", "s3", "MAXLEN", "0", "1-0", "f", "v"]), bulk("1-0"));
    c.call(&["SET", "str", "v"]);
    c.call(&["RPUSH", "list", "v"]);
    c.call(&["HSET", "hash", "f", "v"]);
    c.call(&["SADD", "set", "v"]);
    c.call(&["ZADD", "zset", "1", "v"]);
    for k in ["s1", "s2", "s3"] {
        assert_eq!(c.call(&["TYPE", k]), status("stream"), "{k}");
        assert_eq!(c.call(&["OBJECT", "ENCODING", k]), bulk("stream"), "{k}");
    }
    assert_eq!(c.call(&["DBSIZE"]), int(8));
    let Resp::Array(Some(scan)) = c.call(&["SCAN", "0", "TYPE", "stream", "COUNT", "1000"]) else { panic!("SCAN") };
    assert_eq!(scan[0], bulk("0"));
    assert_eq!(sorted_strings(scan[1].clone()), ["s1", "s2", "s3"]);
    let Resp::Array(Some(scan)) = c.call(&["SCAN", "0", "TYPE", "STREAM", "MATCH", "*1", "COUNT", "1000"]) else {
        panic!("SCAN")
    };
    assert_eq!(strings(scan[1].clone()), ["s1"]);
    // Other types are not streams.
    let Resp::Array(Some(scan)) = c.call(&["SCAN", "0", "TYPE", "string", "COUNT", "1000"]) else { panic!("SCAN") };
    assert_eq!(strings(scan[1].clone()), ["str"]);
    assert_eq!(sorted_strings(c.call(&["KEYS", "s?"])), ["s1", "s2", "s3"]);
    assert_eq!(c.call(&["DEL", "s1", "s2"]), int(2));
    assert_eq!(c.call(&["UNLINK", "s3"]), int(1));
    assert_eq!(c.call(&["TYPE", "s1"]), status("none"));
    let Resp::Array(Some(scan)) = c.call(&["SCAN", "0", "TYPE", "stream"]) else { panic!("SCAN") };
    assert_eq!(scan[1], arr(vec![]));
}

#[test]
fn copy_rename_and_move_keep_groups() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    super::info::fill(&mut c);
    let full = c.call(&["XINFO", "STREAM", "s", "FULL"]);
    let d = digest(&mut c, "s");
    // COPY is deep: same content, then independent.
    assert_eq!(c.call(&["COPY", "s", "cp"]), int(1));
    assert_eq!(c.call(&["XINFO", "STREAM", "cp", "FULL"]), full);
    assert_eq!(digest(&mut c, "cp"), d);
    assert_eq!(c.call(&["XACK", "cp", "g", "1-0"]), int(1));
    assert_eq!(c.call(&["XADD", "cp", "9-0", "f", "v"]), bulk("9-0"));
    assert_eq!(c.call(&["XGROUP", "DESTROY", "cp", "g2"]), int(1));
    assert_eq!(c.call(&["XGROUP", "CREATECONSUMER", "cp", "g", "dave"]), int(1));
    assert_eq!(c.call(&["XINFO", "STREAM", "s", "FULL"]), full);
    assert_eq!(digest(&mut c, "s"), d);
    assert_ne!(digest(&mut c, "cp"), d);
    // Onto an existing key only with REPLACE; to another database.
    c.call(&["SET", "str", "x"]);
    assert_eq!(c.call(&["COPY", "s", "str"]), int(0));
    assert_eq!(c.call(&["COPY", "s", "str", "REPLACE"]), int(1));
    assert_eq!(c.call(&["TYPE", "str"]), status("stream"));
    assert_eq!(c.call(&["COPY", "s", "other", "DB", "1"]), int(1));
    // RENAME carries the groups, the PELs and the consumers.
    assert_eq!(c.call(&["RENAME", "str", "renamed"]), ok());
    assert_eq!(c.call(&["EXISTS", "str"]), int(0));
    assert_eq!(c.call(&["XINFO", "STREAM", "renamed", "FULL"]), full);
    assert_eq!(c.call(&["RENAMENX", "renamed", "cp"]), int(0));
    assert_eq!(c.call(&["RENAMENX", "renamed", "r2"]), int(1));
    // MOVE to database 2; the copy in database 1 is the same.
    assert_eq!(c.call(&["MOVE", "r2", "2"]), int(1));
    assert_eq!(c.call(&["EXISTS", "r2"]), int(0));
    for db in ["1", "2"] {
        assert_eq!(c.call(&["SELECT", db]), ok());
        let key = if db == "1" { "other" } else { "r2" };
        assert_eq!(c.call(&["XINFO", "STREAM", key, "FULL"]), full, "db {db}");
        assert_eq!(digest(&mut c, key), d, "db {db}");
        // The group works there: the next `>` read gets 3-0.
        assert_eq!(
            c.call(&["XREADGROUP", "GROUP", "g", "alice", "STREAMS", key, ">"]),
            read_reply(key, arr(vec![super::entry("3-0", &["a", "4"])]))
        );
    }
    assert_eq!(c.call(&["SELECT", "0"]), ok());
    assert_eq!(groups_summary(&mut c, "s")[0][2], "2");
}

#[test]
fn a_stream_key_expires() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    add_ids(&mut c, "s", &["1-0"]);
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "g", "0"]), ok());
    assert_eq!(c.call(&["EXPIRE", "s", "100"]), int(1));
    // Stream writes keep the TTL.
    add_ids(&mut c, "s", &["2-0"]);
    c.call(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"]);
    assert_eq!(c.call(&["XTRIM", "s", "MAXLEN", "1"]), int(1));
    assert!(matches!(c.call(&["PTTL", "s"]), Resp::Int(t) if t > 0 && t <= 100_000));
    assert_eq!(c.call(&["PERSIST", "s"]), int(1));
    assert_eq!(c.call(&["TTL", "s"]), int(-1));
    // A deadline in the past deletes it at once.
    assert_eq!(c.call(&["PEXPIREAT", "s", "1"]), int(1));
    assert_eq!(c.call(&["EXISTS", "s"]), int(0));
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"]),
        super::common::err("NOGROUP No such key 's' or consumer group 'g' in XREADGROUP with GROUP option")
    );
    // Lazy expiry (active expiry off) on a read, and active expiry.
    assert_eq!(c.call(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]), ok());
    add_ids(&mut c, "lazy", &["1-0"]);
    assert_eq!(c.call(&["PEXPIRE", "lazy", "1"]), int(1));
    wait_for(10, "lazy stream to expire", || c.call(&["XLEN", "lazy"]) == int(0));
    assert_eq!(c.call(&["XRANGE", "lazy", "-", "+"]), fv_entries(&[]));
    assert_eq!(c.call(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]), ok());
    add_ids(&mut c, "active", &["1-0"]);
    assert_eq!(c.call(&["PEXPIRE", "active", "1"]), int(1));
    wait_for(10, "active expiry of the stream", || c.call(&["DBSIZE"]) == int(0));
    // A new stream at the key starts afresh.
    add_ids(&mut c, "s", &["1-0"]);
    assert_eq!(c.call(&["TTL", "s"]), int(-1));
    assert_eq!(c.call(&["XINFO", "GROUPS", "s"]), arr(vec![]));
}

#[test]
fn memory_usage_grows_with_entries_and_groups() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["MEMORY", "USAGE", "s"]), nil());
    add_range(&mut c, "s", 1..=10);
    let m10 = memory(&mut c, "s");
    add_range(&mut c, "s", 11..=100);
    let m100 = memory(&mut c, "s");
    add_range(&mut c, "s", 101..=1000);
    let m1000 = memory(&mut c, "s");
    assert!(m10 < m100 && m100 < m1000, "{m10} {m100} {m1000}");
    assert!(m1000 > 1000 * 4, "1000 entries in {m1000} bytes");
    // Consumer groups with pending entries count too.
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "g", "0"]), ok());
    c.call(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"]);
    let with_pel = memory(&mut c, "s");
    assert!(with_pel > m1000, "{with_pel} vs {m1000}");
    // Trimming gives memory back.
    assert_eq!(c.call(&["XTRIM", "s", "MAXLEN", "10"]), int(990));
    assert_eq!(c.call(&["XGROUP", "DESTROY", "s", "g"]), int(1));
    let trimmed = memory(&mut c, "s");
    assert!(trimmed < m1000 / 2, "{trimmed} vs {m1000}");
}

#[test]
fn watch_sees_stream_writes_only() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let mut other = s.raw();
    let reset = |c: &mut Raw| {
        c.call(&["FLUSHALL"]);
        add_ids(c, "s", &["1-0", "2-0"]);
        assert_eq!(c.call(&["XGROUP", "CREATE", "s", "g", "0"]), ok());
        c.call(&["XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">"]);
    };
    // Whether the transaction ran after `cmd` from another client.
    let mut runs_after = |cmd: &[&str]| {
        reset(&mut c);
        assert_eq!(c.call(&["WATCH", "s"]), ok());
        other.call(cmd);
        assert_eq!(c.call(&["MULTI"]), ok());
        assert_eq!(c.call(&["PING"]), status("QUEUED"));
        match c.call(&["EXEC"]) {
            Resp::Array(None) => false,
            Resp::Array(Some(_)) => true,
            r => panic!("EXEC after {cmd:?}: {r:?}"),
        }
    };
    for cmd in [
        &["XADD", "s", "9-0", "f", "v"][..],
        &["XADD", "s", "*", "f", "v"],
        &["XADD", "s", "MAXLEN", "0", "*", "f", "v"],
        &["XDEL", "s", "1-0"],
        &["XTRIM", "s", "MAXLEN", "1"],
        &["DEL", "s"],
    ] {
        assert!(!runs_after(cmd), "{cmd:?} did not touch the watched key");
    }
    for cmd in [
        &["XRANGE", "s", "-", "+"][..],
        &["XREVRANGE", "s", "+", "-"],
        &["XLEN", "s"],
        &["XREAD", "STREAMS", "s", "0"],
        &["XINFO", "STREAM", "s", "FULL"],
        &["XPENDING", "s", "g"],
        &["XDEL", "s", "7-0"],
        &["XTRIM", "s", "MAXLEN", "100"],
        &["XADD", "nokey", "*", "f", "v"],
    ] {
        assert!(runs_after(cmd), "{cmd:?} touched the watched key");
    }
    // A watched stream that does not exist yet, then XADD creates it.
    c.call(&["FLUSHALL"]);
    assert_eq!(c.call(&["WATCH", "new"]), ok());
    assert_eq!(other.call(&["XADD", "new", "NOMKSTREAM", "*", "f", "v"]), nil());
    assert_eq!(other.call(&["XGROUP", "CREATE", "new", "g", "$", "MKSTREAM"]), ok());
    assert_eq!(c.call(&["MULTI"]), ok());
    c.call(&["XADD", "new", "*", "f", "v"]);
    assert_eq!(c.call(&["EXEC"]), nil_array());
    assert_eq!(c.call(&["XLEN", "new"]), int(0));
}

#[test]
fn digest_value_follows_the_content() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    for k in ["a", "b"] {
        add_ids(&mut c, k, &["1-0", "2-0"]);
    }
    assert_eq!(digest(&mut c, "a"), digest(&mut c, "b"));
    let before = digest(&mut c, "a");
    let mut changes: Vec<(&[&str], &[&str])> = vec![
        (&["XADD", "a", "3-0", "f", "v"], &["XADD", "b", "3-0", "f", "v"]),
        (&["XDEL", "a", "1-0"], &["XDEL", "b", "1-0"]),
        (&["XSETID", "a", "10-0"], &["XSETID", "b", "10-0"]),
        (&["XGROUP", "CREATE", "a", "g", "0"], &["XGROUP", "CREATE", "b", "g", "0"]),
        (
            &["XCLAIM", "a", "g", "c", "0", "2-0", "FORCE", "TIME", "1000", "RETRYCOUNT", "2", "JUSTID"],
            &["XCLAIM", "b", "g", "c", "0", "2-0", "FORCE", "TIME", "1000", "RETRYCOUNT", "2", "JUSTID"],
        ),
    ];
    let mut seen = vec![before];
    for (on_a, on_b) in changes.drain(..) {
        c.call(on_a);
        let da = digest(&mut c, "a");
        assert!(!seen.contains(&da), "{on_a:?} left the digest as it was");
        assert_ne!(da, digest(&mut c, "b"), "{on_a:?}");
        c.call(on_b);
        assert_eq!(da, digest(&mut c, "b"), "{on_b:?}");
        seen.push(da);
    }
    // The same entries with other field names differ.
    add_ids(&mut c, "x", &["1-0"]);
    assert_eq!(c.call(&["XADD", "y", "1-0", "g", "v"]), bulk("1-0"));
    assert_ne!(digest(&mut c, "x"), digest(&mut c, "y"));
    assert_eq!(c.call(&["XREVRANGE", "y", "+", "-"]), arr(vec![arr(vec![bulk("1-0"), bulks(&["g", "v"])])]));
    let info = c.call(&["XINFO", "STREAM", "a"]);
    assert_eq!(field(&info, "groups"), int(1));
}
