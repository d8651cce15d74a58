//! FAILOVER (Redis 7.0's coordinated failover) with real processes: its
//! errors, a hand-over between two of our servers under a write load
//! losing no acknowledged write, TIMEOUT/ABORT, and interop with
//! `redis-server` on either side.

mod common;
mod replication_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{wait_for, Server};
use redis::Connection;
use replication_support::{field, q, q_err, replicaof, signal, wait_synced};

/// A primary and one replica in sync (diskless sync without its delay).
fn pair() -> (Server, Server, Connection, Connection) {
    let primary = Server::start(&["--repl-diskless-sync-delay", "0"]);
    let replica = Server::start(&["--repl-diskless-sync-delay", "0"]);
    let (mut p, mut r) = (primary.conn(), replica.conn());
    replicaof(&mut r, primary.port);
    wait_synced(&mut p, &mut r);
    (primary, replica, p, r)
}

fn role(c: &mut Connection) -> String {
    let v: Vec<redis::Value> = q(c, &["ROLE"]);
    match &v[0] {
        redis::Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("ROLE: {other:?}"),
    }
}

#[test]
fn failover_errors_as_redis() {
    let lone = Server::start(&[]);
    let mut c = lone.conn();
    assert_eq!(q_err(&mut c, &["FAILOVER"]), "ERR FAILOVER requires connected replicas.");
    assert_eq!(q_err(&mut c, &["FAILOVER", "ABORT"]), "ERR No failover in progress.");
    let (_primary, replica, mut p, mut r) = pair();
    let port = replica.port.to_string();
    assert_eq!(q_err(&mut p, &["FAILOVER", "TO", "127.0.0.1", "nope"]), "ERR value is not an integer or out of range");
    assert_eq!(
        q_err(&mut p, &["FAILOVER", "TO", "invalidhost", &port]),
        "ERR FAILOVER target HOST and PORT is not a replica."
    );
    assert_eq!(
        q_err(&mut p, &["FAILOVER", "FORCE", "TIMEOUT", "100"]),
        "ERR FAILOVER with force option requires both a timeout and target HOST and IP."
    );
    assert_eq!(
        q_err(&mut p, &["FAILOVER", "TO", "127.0.0.1", &port, "FORCE"]),
        "ERR FAILOVER with force option requires both a timeout and target HOST and IP."
    );
    assert_eq!(q_err(&mut p, &["FAILOVER", "TIMEOUT", "0"]), "ERR FAILOVER timeout must be greater than 0");
    assert_eq!(q_err(&mut p, &["FAILOVER", "ABORT", "TIMEOUT", "5"]), "ERR syntax error");
    assert_eq!(q_err(&mut r, &["FAILOVER"]), "ERR FAILOVER is not valid when server is a replica.");
    assert_eq!(field(&mut p, "replication", "master_failover_state"), "no-failover");
}

#[test]
fn failover_swaps_roles_without_losing_acknowledged_writes() {
    let (primary, replica, mut p, mut r) = pair();
    // A writer: every SET it saw acknowledged must survive the hand-over.
    let stop = Arc::new(AtomicBool::new(false));
    let (stop2, url) = (stop.clone(), primary.url());
    let writer = std::thread::spawn(move || {
        let mut c = redis::Client::open(url).expect("client").get_connection().expect("connect");
        let mut acked = Vec::new();
        for i in 0.. {
            if stop2.load(Ordering::Relaxed) {
                break;
            }
            let key = format!("k{i}");
            match redis::cmd("SET").arg(&key).arg(i).query::<String>(&mut c) {
                Ok(_) => acked.push(key),
                Err(_) => break, // READONLY once the old primary is a replica
            }
        }
        acked
    });
    wait_for(30, "writes flowing", || q::<i64>(&mut p, &["DBSIZE"]) > 200);
    let before = field(&mut r, "stats", "sync_full");
    let ok: String = q(&mut p, &["FAILOVER", "TO", "127.0.0.1", &replica.port.to_string()]);
    assert_eq!(ok, "OK");
    wait_for(30, "failover ends", || field(&mut p, "replication", "master_failover_state") == "no-failover");
    stop.store(true, Ordering::Relaxed);
    let acked = writer.join().expect("writer");
    assert_eq!(role(&mut p), "slave");
    assert_eq!(role(&mut r), "master");
    assert_eq!(field(&mut p, "replication", "master_port"), replica.port.to_string());
    // The new primary continued the old history: a partial resync, no full one.
    assert_eq!(field(&mut r, "stats", "sync_partial_ok"), "1");
    assert_eq!(field(&mut r, "stats", "sync_full"), before);
    assert!(!acked.is_empty());
    for key in &acked {
        let v: Option<String> = q(&mut r, &["GET", key]);
        assert!(v.is_some(), "{key} acknowledged by the old primary, lost by the new one");
    }
    assert!(q_err(&mut p, &["SET", "x", "1"]).starts_with("READONLY"));
    let _: () = q(&mut r, &["SET", "after", "1"]);
    wait_synced(&mut r, &mut p);
    assert_eq!(q::<Option<String>>(&mut p, &["GET", "after"]).as_deref(), Some("1"));
    assert_eq!(q::<i64>(&mut p, &["DBSIZE"]), q::<i64>(&mut r, &["DBSIZE"]));
}

#[test]
fn failover_timeout_and_abort_resume_writes() {
    let (primary, replica, mut p, mut r) = pair();
    let port = replica.port.to_string();
    // A replica that cannot catch up: the failover waits, writes wait, then
    // the timeout ends it and they go on.
    signal(replica.pid(), "STOP");
    let _: () = q(&mut p, &["SET", "a", "1"]);
    let ok: String = q(&mut p, &["FAILOVER", "TO", "127.0.0.1", &port, "TIMEOUT", "300"]);
    assert_eq!(ok, "OK");
    assert_eq!(field(&mut p, "replication", "master_failover_state"), "waiting-for-sync");
    assert_eq!(q_err(&mut p, &["REPLICAOF", "NO", "ONE"]), "ERR REPLICAOF not allowed while failing over.");
    assert_eq!(q_err(&mut p, &["FAILOVER"]), "ERR FAILOVER already in progress.");
    let mut w = primary.conn();
    // CLIENT UNPAUSE ends only CLIENT PAUSE, not the failover's hold.
    let _: () = q(&mut w, &["CLIENT", "UNPAUSE"]);
    let _: () = q(&mut w, &["SET", "b", "2"]); // held until the failover ends
    assert_eq!(field(&mut p, "replication", "master_failover_state"), "no-failover");
    assert_eq!(role(&mut p), "master");
    // ABORT while waiting.
    let ok: String = q(&mut p, &["FAILOVER", "TO", "127.0.0.1", &port]);
    assert_eq!(ok, "OK");
    let ok: String = q(&mut p, &["FAILOVER", "ABORT"]);
    assert_eq!(ok, "OK");
    assert_eq!(field(&mut p, "replication", "master_failover_state"), "no-failover");
    let _: () = q(&mut w, &["SET", "c", "3"]);
    signal(replica.pid(), "CONT");
    wait_synced(&mut p, &mut r);
    assert_eq!(q::<Option<String>>(&mut r, &["GET", "c"]).as_deref(), Some("3"));
    assert_eq!(role(&mut r), "slave");
}

#[test]
fn failover_interop_with_redis_server_both_ways() {
    let Some(redis) = common::RealRedis::start(&["--repl-diskless-sync-delay", "0"]) else { return };
    let ours = Server::start(&["--repl-diskless-sync-delay", "0"]);
    let (mut o, mut x) = (ours.conn(), redis.conn());
    // Ours primary, redis-server replica: redis-server takes over.
    let _: () = q(&mut o, &["SET", "one", "1"]);
    replicaof(&mut x, ours.port);
    wait_synced(&mut o, &mut x);
    let ok: String = q(&mut o, &["FAILOVER", "TO", "127.0.0.1", &redis.port.to_string()]);
    assert_eq!(ok, "OK");
    wait_for(30, "failover to redis-server ends", || {
        field(&mut o, "replication", "master_failover_state") == "no-failover"
    });
    assert_eq!(role(&mut o), "slave");
    assert_eq!(role(&mut x), "master");
    assert_eq!(field(&mut x, "stats", "sync_partial_ok"), "1");
    let _: () = q(&mut x, &["SET", "two", "2"]);
    wait_synced(&mut x, &mut o);
    assert_eq!(q::<Option<String>>(&mut o, &["GET", "two"]).as_deref(), Some("2"));
    // And back: redis-server's FAILOVER sends us PSYNC ... FAILOVER.
    let ok: String = q(&mut x, &["FAILOVER", "TO", "127.0.0.1", &ours.port.to_string()]);
    assert_eq!(ok, "OK");
    wait_for(30, "failover to ours ends", || field(&mut x, "replication", "master_failover_state") == "no-failover");
    wait_for(30, "roles swapped back", || role(&mut o) == "master" && role(&mut x) == "slave");
    let _: () = q(&mut o, &["SET", "three", "3"]);
    wait_synced(&mut o, &mut x);
    assert_eq!(q::<Option<String>>(&mut x, &["GET", "three"]).as_deref(), Some("3"));
    assert_eq!(q::<Option<String>>(&mut x, &["GET", "one"]).as_deref(), Some("1"));
    assert_eq!(field(&mut o, "stats", "sync_partial_ok"), "1");
}
