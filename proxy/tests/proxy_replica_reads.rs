//! `"read_from": "replica"`: read-only commands go to a replica of their
//! server; writes, transactions and WATCH stay on the primary.

mod harness;

use harness::*;

fn json(primary: &DataServer, replicas: &[&DataServer], read_from: &str) -> String {
    let r: Vec<String> = replicas.iter().map(|s| format!("\"{}\"", s.addr())).collect();
    format!(
        "{{\"servers\": [{{\"addr\": \"{}\", \"replicas\": [{}]}}], \"read_from\": \"{read_from}\"}}",
        primary.addr(),
        r.join(", ")
    )
}

fn get(c: &mut redis::Connection, k: &str) -> Option<String> {
    redis::cmd("GET").arg(k).query(c).unwrap()
}

#[test]
fn reads_go_to_a_real_replica_and_writes_to_the_primary() {
    let p = DataServer::start();
    let r = DataServer::start();
    redis::cmd("REPLICAOF").arg("127.0.0.1").arg(p.port).query::<()>(&mut r.conn()).unwrap();
    let proxy = Proxy::start(&json(&p, &[&r], "replica"), &[]);
    let mut c = proxy.conn();
    // A write through the proxy reaches the primary (the replica refuses writes).
    redis::cmd("SET").arg("k").arg("v1").query::<()>(&mut c).unwrap();
    let mut rc = r.conn();
    assert!(wait_until(10, || get(&mut rc, "k").as_deref() == Some("v1")), "not replicated");
    assert_eq!(get(&mut c, "k").as_deref(), Some("v1"));
    let info: String = redis::cmd("INFO").arg("shards").query(&mut c).unwrap();
    let reads: u64 = info
        .split(',')
        .find_map(|f| f.strip_prefix("replica_reads="))
        .and_then(|v| v.parse().ok())
        .expect("replica_reads");
    assert!(reads >= 1, "{info}");
    assert_eq!(proxy.info_field("read_from").as_deref(), Some("replica"));
}

#[test]
fn transactions_and_watch_read_the_primary() {
    // A stand-in replica holding an older value shows where each read went.
    let p = DataServer::start();
    let r = DataServer::start();
    redis::cmd("SET").arg("k").arg("stale").query::<()>(&mut r.conn()).unwrap();
    let proxy = Proxy::start(&json(&p, &[&r], "replica"), &[]);
    let mut c = proxy.conn();
    redis::cmd("SET").arg("k").arg("fresh").query::<()>(&mut c).unwrap();
    assert_eq!(get(&mut c, "k").as_deref(), Some("stale"));
    let (v,): (String,) = redis::pipe().atomic().cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, "fresh", "MULTI read a replica");
    redis::cmd("WATCH").arg("k").query::<()>(&mut c).unwrap();
    assert_eq!(get(&mut c, "k").as_deref(), Some("fresh"), "read under WATCH went to a replica");
    redis::cmd("UNWATCH").query::<()>(&mut c).unwrap();
    assert_eq!(get(&mut c, "k").as_deref(), Some("stale"));

    // "primary" (the default): replicas are unused.
    proxy.write_servers(&json(&p, &[&r], "primary"));
    assert!(proxy.wait_info("read_from", "primary", 10));
    assert_eq!(get(&mut c, "k").as_deref(), Some("fresh"));
}

#[test]
fn a_dead_replica_leaves_reads_to_the_primary() {
    let p = DataServer::start();
    let mut r = DataServer::start();
    redis::cmd("SET").arg("k").arg("stale").query::<()>(&mut r.conn()).unwrap();
    let proxy = Proxy::start(&json(&p, &[&r], "replica"), &[]);
    let mut c = proxy.conn();
    redis::cmd("SET").arg("k").arg("fresh").query::<()>(&mut c).unwrap();
    assert_eq!(get(&mut c, "k").as_deref(), Some("stale"));
    r.proc.kill9();
    // The read that finds it dead fails (naming it); later ones go to the primary.
    assert!(
        wait_until(10, || redis::cmd("GET").arg("k").query::<Option<String>>(&mut c).ok().flatten().as_deref()
            == Some("fresh")),
        "reads did not fall back to the primary"
    );
}
