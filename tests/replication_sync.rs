//! Full syncs and the link's edge cases with real processes: diskless and
//! disk-backed sending (to this server and to `redis-server`), every
//! `repl-diskless-load` mode, `replica-serve-stale-data no`,
//! `repl-backlog-ttl`, a replica that stops reading hitting its output
//! limit, one stopped and resumed mid-stream, a kill -9 of the primary
//! mid-stream, and the offset a GETACK is answered with.

mod common;
mod replication_support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::Receiver;

use common::{wait_for, Server};
use redis::Connection;
use replication_support::{field, q, q_err, replicaof, signal, wait_synced};

/// Some keys of several types.
fn fill(c: &mut Connection) {
    for batch in 0..30 {
        let mut mset = redis::cmd("MSET");
        for i in batch * 100..(batch + 1) * 100 {
            mset.arg(format!("key:{i}")).arg(format!("value:{i:010}"));
        }
        let _: () = mset.query(c).expect("MSET");
    }
    let _: i64 = q(c, &["RPUSH", "list", "a", "b", "c"]);
    let _: i64 = q(c, &["HSET", "hash", "f", "v"]);
    let _: i64 = q(c, &["ZADD", "zset", "1", "m"]);
}

/// The keys a replica must hold after [`fill`].
fn check(c: &mut Connection) {
    assert_eq!(q::<i64>(c, &["DBSIZE"]), 3003);
    assert_eq!(q::<Vec<String>>(c, &["LRANGE", "list", "0", "-1"]), ["a", "b", "c"]);
    assert_eq!(q::<String>(c, &["HGET", "hash", "f"]), "v");
    assert_eq!(q::<String>(c, &["GET", "key:2999"]).len(), 16);
}

/// Whether the server logged the start of a full sync in this mode.
fn logged_sync(log: &Receiver<String>, diskless: bool) -> bool {
    let want = format!("diskless={diskless}");
    let mut found = false;
    wait_for(30, "the full sync logged", || {
        while let Ok(line) = log.try_recv() {
            found |= line.contains("Starting a full resynchronization") && line.contains(&want);
        }
        found
    });
    found
}

#[test]
fn diskless_and_disk_backed_sync_to_this_server_and_redis_server() {
    for diskless in ["yes", "no"] {
        let primary = Server::start(&["--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0"]);
        let mut p = primary.conn();
        fill(&mut p);
        let ours = Server::start(&[]);
        let mut r = ours.conn();
        replicaof(&mut r, primary.port);
        wait_synced(&mut p, &mut r);
        assert!(logged_sync(&primary.log, diskless == "yes"));
        check(&mut r);
        let Some(redis) = common::RealRedis::start(&[]) else { continue };
        let mut x = redis.conn();
        replicaof(&mut x, primary.port);
        wait_synced(&mut p, &mut x);
        assert!(logged_sync(&primary.log, diskless == "yes"));
        check(&mut x);
        // The stream follows the snapshot in both modes.
        let _: () = q(&mut p, &["SET", "live", diskless]);
        wait_synced(&mut p, &mut x);
        wait_synced(&mut p, &mut r);
        assert_eq!(q::<String>(&mut x, &["GET", "live"]), diskless);
        assert_eq!(q::<String>(&mut r, &["GET", "live"]), diskless);
    }
}

#[test]
fn diskless_sync_delay_ends_early_with_max_replicas() {
    // A delay far beyond the test's patience: only max-replicas can end it.
    let primary = Server::start(&["--repl-diskless-sync-delay", "3600", "--repl-diskless-sync-max-replicas", "1"]);
    let mut p = primary.conn();
    fill(&mut p);
    let replica = Server::start(&[]);
    let mut r = replica.conn();
    replicaof(&mut r, primary.port);
    wait_synced(&mut p, &mut r);
    check(&mut r);
}

#[test]
fn every_diskless_load_mode_loads_the_snapshot() {
    for mode in ["disabled", "swapdb", "on-empty-db"] {
        for diskless in ["yes", "no"] {
            let primary = Server::start(&["--repl-diskless-sync", diskless, "--repl-diskless-sync-delay", "0"]);
            let mut p = primary.conn();
            fill(&mut p);
            let replica = Server::start(&["--repl-diskless-load", mode]);
            let mut r = replica.conn();
            let _: () = q(&mut r, &["SET", "stale", "1"]); // replaced by the snapshot
            replicaof(&mut r, primary.port);
            wait_synced(&mut p, &mut r);
            check(&mut r);
            assert_eq!(q::<Option<String>>(&mut r, &["GET", "stale"]), None, "{mode} {diskless}");
            // No temporary file is left behind.
            let left: Vec<_> = std::fs::read_dir(replica.dir.path())
                .expect("dir")
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("temp-"))
                .collect();
            assert!(left.is_empty(), "{mode}: {left:?}");
        }
    }
}

#[test]
fn stale_replica_refuses_with_masterdown_when_asked() {
    // A primary that is not there: the link stays down.
    let gone = common::free_port();
    let replica = Server::start(&["--replica-serve-stale-data", "no"]);
    let mut r = replica.conn();
    replicaof(&mut r, gone);
    let masterdown = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
    assert_eq!(q_err(&mut r, &["GET", "k"]), masterdown);
    assert_eq!(q_err(&mut r, &["PING"]), masterdown);
    assert!(q_err(&mut r, &["SET", "k", "v"]).starts_with("READONLY"));
    assert_eq!(field(&mut r, "replication", "master_link_status"), "down");
    let _: String = q(&mut r, &["ECHO", "stale commands still run"]);
    let _: Vec<redis::Value> = q(&mut r, &["ROLE"]);
    // In a transaction: refused when queued, so EXEC aborts.
    let _: () = q(&mut r, &["MULTI"]);
    assert_eq!(q_err(&mut r, &["GET", "k"]), masterdown);
    assert!(q_err(&mut r, &["EXEC"]).starts_with("EXECABORT"));
    let _: () = q(&mut r, &["CONFIG", "SET", "replica-serve-stale-data", "yes"]);
    assert_eq!(q::<Option<String>>(&mut r, &["GET", "k"]), None);
    let _: () = q(&mut r, &["CONFIG", "SET", "replica-serve-stale-data", "no"]);
    // Once the link is up, everything is served again.
    let primary = Server::start(&["--repl-diskless-sync-delay", "0"]);
    let mut p = primary.conn();
    let _: () = q(&mut p, &["SET", "k", "v"]);
    replicaof(&mut r, primary.port);
    wait_synced(&mut p, &mut r);
    assert_eq!(q::<String>(&mut r, &["GET", "k"]), "v");
}

#[test]
fn backlog_is_freed_after_ttl_without_replicas() {
    let primary = Server::start(&["--repl-backlog-ttl", "1", "--repl-diskless-sync-delay", "0"]);
    let replica = Server::start(&[]);
    let (mut p, mut r) = (primary.conn(), replica.conn());
    replicaof(&mut r, primary.port);
    wait_synced(&mut p, &mut r);
    assert_eq!(field(&mut p, "replication", "repl_backlog_active"), "1");
    let id = field(&mut p, "replication", "master_replid");
    let _: () = q(&mut r, &["REPLICAOF", "NO", "ONE"]);
    wait_for(30, "backlog freed", || field(&mut p, "replication", "repl_backlog_active") == "0");
    // A new history: a returning replica cannot continue the old one.
    assert_ne!(field(&mut p, "replication", "master_replid"), id);
    replicaof(&mut r, primary.port);
    wait_synced(&mut p, &mut r);
    assert_eq!(field(&mut p, "stats", "sync_full"), "2");
}

/// Sends a command on a raw socket.
fn send(s: &mut TcpStream, args: &[&str]) {
    let parts: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    s.write_all(&common::encode_cmd(&parts)).expect("write");
}

#[test]
fn replica_that_stops_reading_is_disconnected_at_its_output_limit() {
    let primary = Server::start(&["--repl-diskless-sync", "no"]);
    let mut p = primary.conn();
    let _: () = q(&mut p, &["CONFIG", "SET", "client-output-buffer-limit", "replica 1mb 0 0"]);
    // A "replica" that asks for the stream and never reads it.
    let mut fake = TcpStream::connect(("127.0.0.1", primary.port)).expect("connect");
    send(&mut fake, &["PSYNC", "?", "-1"]);
    wait_for(30, "the replica attached", || field(&mut p, "replication", "connected_slaves") == "1");
    let value = "x".repeat(64 * 1024);
    let mut i = 0;
    wait_for(60, "the replica disconnected", || {
        for _ in 0..32 {
            let _: () = q(&mut p, &["SET", &format!("big{i}"), &value]);
            i += 1;
        }
        field(&mut p, "replication", "connected_slaves") == "0"
    });
    // Well before everything written (the socket's buffers aside) was queued.
    assert!(i < 4096, "{i} writes of 64 KiB before the disconnection");
    let mut rest = Vec::new();
    fake.set_read_timeout(Some(std::time::Duration::from_secs(30))).expect("timeout");
    let _ = fake.read_to_end(&mut rest); // ends: the primary closed the link
    let _: () = q(&mut p, &["SET", "after", "1"]);
}

#[test]
fn kill_9_of_the_primary_mid_stream_keeps_what_the_replica_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = common::free_port();
    let start = |dir: &std::path::Path| {
        common::spawn_ready_again(|| common::server_command(port, dir, &["--repl-diskless-sync-delay", "0"]))
            .expect("primary starts")
            .0
    };
    let mut primary = start(dir.path());
    let url = format!("redis://127.0.0.1:{port}/");
    let mut p = redis::Client::open(url.as_str()).expect("client").get_connection().expect("connect");
    let replica = Server::start(&[]);
    let mut r = replica.conn();
    replicaof(&mut r, port);
    wait_synced(&mut p, &mut r);
    // Writes flow; every 50th is followed by WAIT 1.
    let writer = std::thread::spawn(move || {
        let mut acked = 0u64;
        for i in 0u64.. {
            if redis::cmd("SET").arg(format!("k{i}")).arg(i).query::<()>(&mut p).is_err() {
                break;
            }
            if i % 50 == 49 {
                match redis::cmd("WAIT").arg(1).arg(0).query::<i64>(&mut p) {
                    Ok(1) => acked = i + 1,
                    _ => break,
                }
            }
        }
        acked
    });
    wait_for(30, "writes reach the replica", || q::<i64>(&mut r, &["DBSIZE"]) > 500);
    let _ = primary.kill();
    let _ = primary.wait();
    let acked = writer.join().expect("writer");
    wait_for(30, "link down", || field(&mut r, "replication", "master_link_status") == "down");
    // Every write the replica acknowledged is there, and what it holds is a
    // prefix of the primary's writes (the stream's order).
    let n: u64 = q::<i64>(&mut r, &["DBSIZE"]) as u64;
    assert!(n >= acked, "replica holds {n} keys, {acked} were acknowledged");
    for i in (0..n).step_by(97).chain([n - 1]) {
        assert_eq!(q::<Option<u64>>(&mut r, &["GET", &format!("k{i}")]), Some(i), "k{i} of {n}");
    }
    // A new primary on the same address: the replica syncs with it.
    let empty = tempfile::tempdir().expect("tempdir");
    let mut primary = start(empty.path());
    let mut p = redis::Client::open(url.as_str()).expect("client").get_connection().expect("connect");
    let _: () = q(&mut p, &["SET", "new", "primary"]);
    wait_synced(&mut p, &mut r);
    assert_eq!(q::<String>(&mut r, &["GET", "new"]), "primary");
    assert_eq!(q::<i64>(&mut r, &["DBSIZE"]), 1);
    let _ = primary.kill();
    let _ = primary.wait();
}

/// Reads from `s` until `buf` holds `want` (a fake primary's view).
fn read_until(s: &mut TcpStream, buf: &mut Vec<u8>, want: &[u8]) {
    let mut chunk = [0u8; 4096];
    while !buf.windows(want.len()).any(|w| w == want) {
        let n = s.read(&mut chunk).unwrap_or_else(|e| panic!("{e}; got {:?}", String::from_utf8_lossy(buf)));
        assert!(n > 0, "closed; got {:?}", String::from_utf8_lossy(buf));
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[test]
fn getack_is_answered_with_the_offset_before_it() {
    // This test plays the primary, sending a diskless (EOF-marked) snapshot.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let replica = Server::start(&[]);
    let mut r = replica.conn();
    replicaof(&mut r, port);
    let (mut s, _) = listener.accept().expect("accept");
    s.set_read_timeout(Some(std::time::Duration::from_secs(30))).expect("timeout");
    let mut got = Vec::new();
    read_until(&mut s, &mut got, b"PING\r\n");
    s.write_all(b"+PONG\r\n").expect("write");
    read_until(&mut s, &mut got, b"listening-port");
    s.write_all(b"+OK\r\n").expect("write");
    read_until(&mut s, &mut got, b"psync2\r\n");
    s.write_all(b"+OK\r\n").expect("write");
    read_until(&mut s, &mut got, b"PSYNC\r\n");
    // PSYNC's two arguments: four more lines.
    let start = got.windows(7).position(|w| w == b"PSYNC\r\n").unwrap_or(0);
    while got[start..].windows(2).filter(|w| w == b"\r\n").count() < 5 {
        let mut chunk = [0u8; 256];
        let n = s.read(&mut chunk).expect("read PSYNC");
        got.extend_from_slice(&chunk[..n]);
    }
    got.clear();
    let mark = "0123456789abcdef0123456789abcdef01234567";
    let mut rdb = b"REDIS0009".to_vec();
    rdb.push(0xff);
    rdb.extend_from_slice(&[0; 8]); // checksum 0: not checked
    s.write_all(format!("+FULLRESYNC {mark} 100\r\n$EOF:{mark}\r\n").as_bytes()).expect("write");
    s.write_all(&rdb).expect("write");
    s.write_all(mark.as_bytes()).expect("write");
    read_until(&mut s, &mut got, b"ACK\r\n$3\r\n100\r\n");
    let set = common::encode_cmd(&[b"SET", b"a", b"1"]);
    let getack = common::encode_cmd(&[b"REPLCONF", b"GETACK", b"*"]);
    s.write_all(&set).expect("write");
    s.write_all(&getack).expect("write");
    let want = (100 + set.len()).to_string();
    got.clear();
    read_until(&mut s, &mut got, format!("ACK\r\n${}\r\n{want}\r\n", want.len()).as_bytes());
    assert_eq!(q::<String>(&mut r, &["GET", "a"]), "1");
}

/// The idle seconds CLIENT LIST shows for the primary's replica
/// connection (the one flagged `S`).
fn replica_conn_idle(p: &mut Connection) -> u64 {
    let list: String = q(p, &["CLIENT", "LIST"]);
    let line = list.lines().find(|l| l.split_whitespace().any(|f| f == "flags=S")).unwrap_or_default();
    line.split_whitespace().find_map(|f| f.strip_prefix("idle=")).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// A replica stopped while the primary streams more than the sockets hold
/// gets every byte once resumed, though meanwhile its connection went idle
/// and the clients cron asked it to give its buffer back (a request that
/// shares the kill notification the waiting write listens to).
#[test]
fn a_stream_write_waiting_on_the_replica_survives_the_clients_cron() {
    // The sync at once, so the connection's 2 idle seconds end while the
    // writer waits on the stopped replica, not during the sync.
    let primary = Server::start(&["--repl-diskless-sync-delay", "0"]);
    let replica = Server::start(&[]);
    let (mut p, mut r) = (primary.conn(), replica.conn());
    replicaof(&mut r, primary.port);
    wait_synced(&mut p, &mut r);
    signal(replica.pid(), "STOP");
    // More than the sockets buffer: the primary's writer waits in a write.
    let big = "x".repeat(1 << 20);
    for i in 0..24 {
        let _: () = q(&mut p, &["SET", &format!("big:{i}"), &big]);
    }
    // Idle past the cron's 2 s: it asked the connection to release its buffer.
    wait_for(30, "replica connection idle for 3 s", || replica_conn_idle(&mut p) >= 3);
    signal(replica.pid(), "CONT");
    let _: () = q(&mut p, &["SET", "after", "1"]);
    wait_synced(&mut p, &mut r);
    for i in 0..24 {
        assert_eq!(q::<i64>(&mut r, &["STRLEN", &format!("big:{i}")]), 1 << 20, "big:{i}");
    }
    assert_eq!(q::<String>(&mut r, &["GET", "after"]), "1");
    // Through the one link: a lost byte would have broken it (a resync
    // would then hide the loss).
    assert_eq!(field(&mut p, "stats", "sync_full"), "1");
    assert_eq!(field(&mut p, "stats", "sync_partial_ok"), "0");
}
