//! The append-only file rebuilds streams exactly: entries, deletions,
//! the last id and counters (XSETID), consumer groups with their
//! positions and read counters, consumers, pending entries with delivery
//! times and counts. Checked through DEBUG DIGEST-VALUE, XINFO STREAM FULL
//! (consumers' seen-time is the replay's clock, so masked) and XINFO
//! GROUPS, after replaying the plain log (whose stream commands are the
//! logged forms: XADD with the concrete id, XCLAIM for deliveries, `=`
//! trims) and after BGREWRITEAOF in both base formats.
//!
//! What does not come back is pinned by an ignored test: a command-form
//! base (`aof-use-rdb-preamble no`) drops pending entries of deleted
//! entries, as Redis 7.0's does (the default RDB-preamble base keeps them).

use std::path::Path;

use super::common::{bulk, info_field, int, ok, text, wait_blocked, wait_for, Raw, Resp, Server};
use super::field;

/// Small nodes so the streams span many.
const AOF: &[&str] = &["--appendonly", "yes", "--set", "stream-node-max-entries=4"];
const AOF_COMMANDS_BASE: &[&str] =
    &["--appendonly", "yes", "--set", "stream-node-max-entries=4", "--set", "aof-use-rdb-preamble=no"];

/// A field of INFO persistence.
fn persistence(c: &mut Raw, name: &str) -> String {
    let info = text(c.call(&["INFO", "persistence"]));
    info_field(&info, name).unwrap_or_else(|| panic!("no {name} in INFO persistence"))
}

/// Files of the AOF directory listed in its manifest with `type t`.
fn aof_files(dir: &Path, t: &str) -> Vec<std::path::PathBuf> {
    let aof_dir = dir.join("appendonlydir");
    let manifest = std::fs::read_to_string(aof_dir.join("appendonly.aof.manifest")).expect("manifest");
    manifest
        .lines()
        .filter(|l| l.ends_with(&format!("type {t}")))
        .map(|l| aof_dir.join(l.split_whitespace().nth(1).expect("file name")))
        .collect()
}

fn read_all(files: &[std::path::PathBuf]) -> String {
    files.iter().map(|f| String::from_utf8_lossy(&std::fs::read(f).expect("aof file")).into_owned()).collect()
}

/// What [`build`] includes beyond the state every test rebuilds.
#[derive(Clone, Copy)]
struct Scenario {
    /// XREADGROUP history reads (`0`), which count deliveries.
    history: bool,
    /// Pending entries whose stream entry went (XDEL, trims).
    pending_gone: bool,
}

/// XADD `key n-0` for n in `range`, two field layouts alternating.
fn add_range(c: &mut Raw, key: &str, range: std::ops::RangeInclusive<u64>) {
    for n in range {
        let (id, v) = (format!("{n}-0"), n.to_string());
        let fields: &[&str] = if n % 3 == 0 { &["x", &v, "y", "z"] } else { &["a", &v] };
        let mut a = vec!["XADD", key, &id];
        a.extend_from_slice(fields);
        assert_eq!(c.call(&a), bulk(&id));
    }
}

/// Streams touching every piece of stream state, in databases 0 and 1.
fn build(s: &Server, c: &mut Raw, sc: Scenario) {
    // s: entries across nodes, groups, consumers, every way of delivering.
    add_range(c, "s", 1..=30);
    assert_eq!(c.call(&["XDEL", "s", "3-0", "10-0"]), int(2));
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "g1", "0"]), ok());
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "g2", "$"]), ok());
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "g3", "5-0", "ENTRIESREAD", "5"]), ok());
    c.call(&["XREADGROUP", "GROUP", "g1", "alice", "COUNT", "5", "STREAMS", "s", ">"]);
    c.call(&["XREADGROUP", "GROUP", "g1", "bob", "COUNT", "5", "STREAMS", "s", ">"]);
    assert_eq!(c.call(&["XACK", "s", "g1", "1-0", "7-0"]), int(2));
    c.call(&["XCLAIM", "s", "g1", "carol", "0", "2-0", "IDLE", "5000"]);
    c.call(&["XCLAIM", "s", "g1", "carol", "0", "4-0", "TIME", "1600000000000", "RETRYCOUNT", "9", "JUSTID"]);
    c.call(&["XAUTOCLAIM", "s", "g1", "dave", "0", "0", "COUNT", "2"]);
    if sc.history {
        c.call(&["XREADGROUP", "GROUP", "g1", "bob", "STREAMS", "s", "0"]);
    }
    assert_eq!(c.call(&["XGROUP", "CREATECONSUMER", "s", "g1", "erin"]), int(1));
    assert_eq!(c.call(&["XGROUP", "CREATECONSUMER", "s", "g1", "gone"]), int(1));
    assert_eq!(c.call(&["XGROUP", "DELCONSUMER", "s", "g1", "gone"]), int(0));
    c.call(&["XREADGROUP", "GROUP", "g3", "nack", "NOACK", "COUNT", "3", "STREAMS", "s", ">"]);
    if sc.pending_gone {
        assert_eq!(c.call(&["XDEL", "s", "12-0"]), int(1));
    }
    c.call(&["XCLAIM", "s", "g1", "dave", "0", "13-0", "LASTID", "15-0", "JUSTID"]);
    assert_eq!(c.call(&["XGROUP", "SETID", "s", "g2", "20-0", "ENTRIESREAD", "17"]), ok());
    assert_eq!(c.call(&["XSETID", "s", "99999999999999-0", "ENTRIESADDED", "1000", "MAXDELETEDID", "50-0"]), ok());
    // A transaction with an auto id and a delivery.
    assert_eq!(c.call(&["MULTI"]), ok());
    c.call(&["XADD", "s", "*", "in", "multi"]);
    c.call(&["XREADGROUP", "GROUP", "g2", "frank", "COUNT", "2", "STREAMS", "s", ">"]);
    let Resp::Array(Some(_)) = c.call(&["EXEC"]) else { panic!("EXEC") };
    // t: approximate trims (logged as exact ones) and auto ids, before or
    // after its group's deliveries.
    add_range(c, "t", 1..=30);
    let group = |c: &mut Raw| {
        assert_eq!(c.call(&["XGROUP", "CREATE", "t", "g", "0"]), ok());
        c.call(&["XREADGROUP", "GROUP", "g", "c", "COUNT", "3", "STREAMS", "t", ">"]);
    };
    if sc.pending_gone {
        group(c);
    }
    assert_eq!(c.call(&["XTRIM", "t", "MAXLEN", "~", "23"]), int(4));
    let Resp::Bulk(Some(_)) = c.call(&["XADD", "t", "MAXLEN", "~", "20", "*", "a", "auto"]) else { panic!("XADD *") };
    if !sc.pending_gone {
        group(c);
    }
    // A blocked XREADGROUP served by an XADD.
    assert_eq!(c.call(&["XGROUP", "CREATE", "blk", "g", "$", "MKSTREAM"]), ok());
    let mut waiter = s.raw();
    waiter.send_cmd(&["XREADGROUP", "GROUP", "g", "w", "BLOCK", "0", "STREAMS", "blk", ">"]);
    wait_blocked(c, 1);
    assert_eq!(c.call(&["XADD", "blk", "1-0", "f", "v"]), bulk("1-0"));
    let Resp::Array(Some(_)) = waiter.read() else { panic!("blocked XREADGROUP") };
    // Empty streams: made by MKSTREAM, by MAXLEN 0, by deleting everything.
    assert_eq!(c.call(&["XGROUP", "CREATE", "empty", "g", "$", "MKSTREAM"]), ok());
    assert_eq!(c.call(&["XGROUP", "CREATECONSUMER", "empty", "g", "c"]), int(1));
    assert_eq!(c.call(&["XADD", "trimmed", "MAXLEN", "0", "5-0", "f", "v"]), bulk("5-0"));
    for id in ["1-0", "2-0"] {
        assert_eq!(c.call(&["XADD", "alldel", id, "f", "v"]), bulk(id));
    }
    assert_eq!(c.call(&["XGROUP", "CREATE", "alldel", "g", "0"]), ok());
    if sc.pending_gone {
        c.call(&["XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "alldel", ">"]);
    }
    assert_eq!(c.call(&["XDEL", "alldel", "1-0", "2-0"]), int(2));
    // A stream with a TTL, and one in database 1.
    assert_eq!(c.call(&["XADD", "ttl", "1-0", "f", "v"]), bulk("1-0"));
    assert_eq!(c.call(&["PEXPIREAT", "ttl", "99999999999999"]), int(1));
    assert_eq!(c.call(&["SELECT", "1"]), ok());
    assert_eq!(c.call(&["XADD", "s", "7-7", "db", "1"]), bulk("7-7"));
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "g", "0"]), ok());
    c.call(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"]);
    assert_eq!(c.call(&["SELECT", "0"]), ok());
}

/// Writes after a rewrite, on top of its base.
fn more(c: &mut Raw, sc: Scenario) {
    c.call(&["XREADGROUP", "GROUP", "g1", "alice", "COUNT", "3", "STREAMS", "s", ">"]);
    assert_eq!(c.call(&["XACK", "s", "g1", "2-0"]), int(1));
    assert_eq!(c.call(&["XADD", "s", "99999999999999-5", "late", "1"]), bulk("99999999999999-5"));
    c.call(&["XAUTOCLAIM", "s", "g1", "zed", "0", "0", "COUNT", "3"]);
    if sc.pending_gone {
        assert_eq!(c.call(&["XDEL", "blk", "1-0"]), int(1));
    }
}

/// Sets every group's entries-read to 0 at its current position (a logged
/// write, so a replay ends the same way): the normalized variant of the
/// exact test, checking the counters do not matter to the rest.
fn normalize_read_counters(c: &mut Raw) {
    for db in ["0", "1"] {
        assert_eq!(c.call(&["SELECT", db]), ok());
        for k in super::common::strings(c.call(&["KEYS", "*"])) {
            let Resp::Array(Some(groups)) = c.call(&["XINFO", "GROUPS", &k]) else { panic!("XINFO GROUPS {k}") };
            for g in groups {
                let (name, last) = (text(field(&g, "name")), text(field(&g, "last-delivered-id")));
                assert_eq!(c.call(&["XGROUP", "SETID", &k, &name, &last, "ENTRIESREAD", "0"]), ok());
            }
        }
    }
    assert_eq!(c.call(&["SELECT", "0"]), ok());
}

/// Zeroes the values of the fields named in `names`, at any depth of a
/// RESP2 field list.
fn mask(r: Resp, names: &[&str]) -> Resp {
    match r {
        Resp::Array(Some(items)) => {
            let mut out: Vec<Resp> = Vec::with_capacity(items.len());
            let mut blank_next = false;
            for item in items {
                if blank_next {
                    out.push(Resp::Int(0));
                    blank_next = false;
                    continue;
                }
                blank_next = matches!(&item, Resp::Bulk(Some(b)) if names.iter().any(|n| n.as_bytes() == b.as_slice()));
                out.push(mask(item, names));
            }
            Resp::Array(Some(out))
        }
        other => other,
    }
}

/// Everything about the streams that must survive a restart.
fn snapshot(c: &mut Raw) -> Vec<(String, Resp)> {
    let mut out = vec![("DEBUG DIGEST".to_string(), c.call(&["DEBUG", "DIGEST"]))];
    for db in ["0", "1"] {
        assert_eq!(c.call(&["SELECT", db]), ok());
        let mut keys = super::common::strings(c.call(&["KEYS", "*"]));
        keys.sort();
        for k in keys {
            let tag = |what: &str| format!("db {db} {k}: {what}");
            out.push((tag("digest"), c.call(&["DEBUG", "DIGEST-VALUE", &k])));
            let full = c.call(&["XINFO", "STREAM", &k, "FULL", "COUNT", "0"]);
            out.push((tag("full"), mask(full, &["seen-time", "radix-tree-keys", "radix-tree-nodes"])));
            out.push((tag("groups"), c.call(&["XINFO", "GROUPS", &k])));
            out.push((tag("pexpiretime"), c.call(&["PEXPIRETIME", &k])));
        }
    }
    assert_eq!(c.call(&["SELECT", "0"]), ok());
    out
}

/// A reply as compact text, for failure messages.
fn show(r: &Resp) -> String {
    match r {
        Resp::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
        Resp::Bulk(None) | Resp::Array(None) | Resp::Null => "nil".into(),
        Resp::Int(n) => n.to_string(),
        Resp::Simple(t) => t.clone(),
        Resp::Array(Some(items)) => format!("[{}]", items.iter().map(show).collect::<Vec<_>>().join(" ")),
        other => format!("{other:?}"),
    }
}

/// Fails naming every item that differs.
fn assert_same(before: &[(String, Resp)], after: &[(String, Resp)]) {
    let names = |v: &[(String, Resp)]| v.iter().map(|(w, _)| w.clone()).collect::<Vec<_>>();
    assert_eq!(names(before), names(after), "keys differ after the restart");
    let diffs: Vec<String> = before
        .iter()
        .zip(after)
        .filter(|((_, b), (_, a))| a != b)
        .map(|((what, b), (_, a))| format!("{what}:\n  before {}\n  after  {}", show(b), show(a)))
        .collect();
    assert!(diffs.is_empty(), "differences after the restart:\n{}", diffs.join("\n"));
}

/// Runs BGREWRITEAOF and waits for it to end well.
fn rewrite(c: &mut Raw) {
    let done: u64 = persistence(c, "aof_rewrites").parse().unwrap();
    wait_for(20, "no rewrite running", || persistence(c, "aof_rewrite_in_progress") == "0");
    assert_eq!(c.call(&["BGREWRITEAOF"]), Resp::Simple("Background append only file rewriting started".into()));
    wait_for(20, "the rewrite", || {
        persistence(c, "aof_rewrite_in_progress") == "0"
            && persistence(c, "aof_rewrites").parse::<u64>().unwrap() > done
    });
    assert_eq!(persistence(c, "aof_last_bgrewrite_status"), "ok");
}

/// Replays the plain log of `sc`'s streams and compares; with
/// `normalize`, the groups' read counters are reset first.
fn plain_log_round_trip(sc: Scenario, normalize: bool) {
    let mut srv = Server::start(AOF);
    let mut c = srv.raw();
    build(&srv, &mut c, sc);
    if normalize {
        normalize_read_counters(&mut c);
    }
    let before = snapshot(&mut c);
    assert!(srv.terminate().success());
    let log = read_all(&aof_files(srv.dir.path(), "i"));
    // The logged forms: concrete ids, deliveries as XCLAIM, exact trims.
    for gone in ["XREADGROUP", "XAUTOCLAIM", "$1\r\n*\r\n", "$1\r\n~\r\n"] {
        assert!(!log.contains(gone), "{gone:?} in the log");
    }
    for kept in ["XCLAIM", "XSETID", "XTRIM", "MULTI", "LASTID"] {
        assert!(log.contains(kept), "{kept} missing from the log");
    }
    let srv = Server::start_in(srv.into_dir(true), AOF);
    let mut c = srv.raw();
    assert_same(&before, &snapshot(&mut c));
    // The restored groups go on working.
    let Resp::Array(Some(_)) = c.call(&["XREADGROUP", "GROUP", "g1", "alice", "COUNT", "1", "STREAMS", "s", ">"])
    else {
        panic!("XREADGROUP after the restart")
    };
}

#[test]
fn the_plain_log_replays_streams() {
    plain_log_round_trip(Scenario { history: false, pending_gone: true }, true);
}

#[test]
fn the_plain_log_replays_streams_exactly() {
    plain_log_round_trip(Scenario { history: true, pending_gone: true }, false);
}

/// BGREWRITEAOF with `flags`, a restart on the new base (compared), then
/// writes logged on top of it and another restart (compared).
fn rewrite_round_trip(flags: &[&str], sc: Scenario) {
    let mut srv = Server::start(flags);
    let mut c = srv.raw();
    build(&srv, &mut c, sc);
    rewrite(&mut c);
    if flags == AOF_COMMANDS_BASE {
        let base = read_all(&aof_files(srv.dir.path(), "b"));
        for cmd in ["XADD", "XSETID", "XGROUP", "CREATECONSUMER", "XCLAIM", "ENTRIESREAD"] {
            assert!(base.contains(cmd), "{cmd} missing from the rewritten base");
        }
    }
    let rewritten = snapshot(&mut c);
    srv.terminate();
    let mut srv = Server::start_in(srv.into_dir(true), flags);
    let mut c = srv.raw();
    assert_same(&rewritten, &snapshot(&mut c));
    more(&mut c, sc);
    normalize_read_counters(&mut c);
    let before = snapshot(&mut c);
    srv.terminate();
    let srv = Server::start_in(srv.into_dir(true), flags);
    assert_same(&before, &snapshot(&mut srv.raw()));
}

#[test]
fn a_rewrite_with_an_rdb_base_rebuilds_streams_exactly() {
    rewrite_round_trip(AOF, Scenario { history: true, pending_gone: true });
}

#[test]
fn a_rewrite_with_a_command_base_rebuilds_streams_exactly() {
    rewrite_round_trip(AOF_COMMANDS_BASE, Scenario { history: true, pending_gone: false });
}

#[test]
#[ignore = "bug: BGREWRITEAOF with aof-use-rdb-preamble no writes each pending entry as XCLAIM … FORCE JUSTID, which on loading drops (instead of recreating) a pending entry whose stream entry was deleted or trimmed; those PEL entries, and consumers whose pending entries were all such, are gone after the restart (s g1: 8 pending before, 7 after, 12-0 was XDELed; t: consumer c and its 3 pending entries, trimmed by MAXLEN ~, gone; alldel: consumer c and pending 1-0 gone). Redis 7.0.15 loses them the same way; the RDB-preamble rewrite keeps them"]
fn a_rewrite_with_a_command_base_keeps_pending_entries_of_deleted_entries() {
    rewrite_round_trip(AOF_COMMANDS_BASE, Scenario { history: true, pending_gone: true });
}
