//! Replication with real processes: full sync of every type, live writes,
//! read-only replicas (scripts and functions included), partial resync after a link cut, WAIT, chained
//! replicas and promotion, expiry on replicas, min-replicas-to-write, and
//! interop with `redis-server` both ways (when it is on PATH).

mod common;
mod replication_support;

use std::collections::BTreeMap;

use common::{wait_for, Server};
use redis::{Connection, Value};
use replication_support::{field, q, q_err, replicaof, wait_synced};

/// Redis's databases this test writes to.
const DBS: [i64; 3] = [0, 2, 5];

/// A `redis-server` on PATH set up as these tests need it (no diskless
/// delay, DEBUG allowed), or `None`.
fn redis_server() -> Option<common::RealRedis> {
    common::RealRedis::start(&["--repl-diskless-sync-delay", "0", "--enable-debug-command", "yes"])
}

/// Writes keys of every type (small and large encodings), a TTL, a stream
/// with a consumer group, in several databases.
fn fill(c: &mut Connection, tag: &str) {
    for db in DBS {
        let _: () = q(c, &["SELECT", &db.to_string()]);
        let k = |n: &str| format!("{tag}:{n}");
        let _: () = q(c, &["SET", &k("str"), "hello"]);
        let _: () = q(c, &["SET", &k("int"), "12345"]);
        let _: () = q(c, &["SET", &k("ttl"), "v", "EX", "10000"]);
        let _: i64 = q(c, &["RPUSH", &k("list"), "a", "b", "c"]);
        let _: i64 = q(c, &["HSET", &k("hash"), "f1", "v1", "f2", "v2"]);
        let _: i64 = q(c, &["SADD", &k("intset"), "1", "2", "3"]);
        let _: i64 = q(c, &["SADD", &k("set"), "x", "y", "z"]);
        let _: i64 = q(c, &["ZADD", &k("zset"), "1", "a", "2.5", "b"]);
        for i in 0..300 {
            let (n, v) = (i.to_string(), format!("value-{i}"));
            let _: i64 = q(c, &["RPUSH", &k("biglist"), &v]);
            let _: i64 = q(c, &["HSET", &k("bighash"), &n, &v]);
            let _: i64 = q(c, &["SADD", &k("bigset"), &v]);
            let _: i64 = q(c, &["ZADD", &k("bigzset"), &n, &v]);
        }
        for i in 0..5 {
            let _: String = q(c, &["XADD", &k("stream"), "*", "n", &i.to_string()]);
        }
        let _: () = q(c, &["XGROUP", "CREATE", &k("stream"), "g", "0"]);
        let _: Value = q(c, &["XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", &k("stream"), ">"]);
    }
    let _: () = q(c, &["SELECT", "0"]);
}

/// Every key of the databases in [`DBS`], as a canonical description of its
/// type, content and whether it has a TTL (servers may encode the same data
/// differently, so DUMP payloads are compared only between like servers).
fn dataset(c: &mut Connection) -> BTreeMap<(i64, String), String> {
    let mut out = BTreeMap::new();
    for db in DBS {
        let _: () = q(c, &["SELECT", &db.to_string()]);
        let mut cursor = "0".to_string();
        let mut keys = Vec::new();
        loop {
            let (next, batch): (String, Vec<String>) = q(c, &["SCAN", &cursor, "COUNT", "1000"]);
            keys.extend(batch);
            if next == "0" {
                break;
            }
            cursor = next;
        }
        for k in keys {
            let t: String = q(c, &["TYPE", &k]);
            let content = match t.as_str() {
                "string" => format!("{:?}", q::<Vec<u8>>(c, &["GET", &k])),
                "list" => format!("{:?}", q::<Vec<String>>(c, &["LRANGE", &k, "0", "-1"])),
                "hash" => format!("{:?}", q::<BTreeMap<String, String>>(c, &["HGETALL", &k])),
                "set" => {
                    let mut m: Vec<String> = q(c, &["SMEMBERS", &k]);
                    m.sort();
                    format!("{m:?}")
                }
                "zset" => format!("{:?}", q::<Vec<String>>(c, &["ZRANGE", &k, "0", "-1", "WITHSCORES"])),
                "stream" => format!(
                    "{:?} {:?}",
                    q::<Value>(c, &["XRANGE", &k, "-", "+"]),
                    q::<Value>(c, &["XINFO", "GROUPS", &k])
                ),
                other => other.to_string(),
            };
            let ttl: i64 = q(c, &["PTTL", &k]);
            out.insert((db, k), format!("{t} ttl:{} {content}", ttl > 0));
        }
    }
    let _: () = q(c, &["SELECT", "0"]);
    out
}

/// Writes after the sync: transactions, non-deterministic commands (sent
/// in their deterministic form), deletions, expiries, another database.
fn live_writes(c: &mut Connection, tag: &str) {
    let k = |n: &str| format!("{tag}:{n}");
    let _: () = q(c, &["SET", &k("live"), "1"]);
    let _: f64 = q(c, &["INCRBYFLOAT", &k("float"), "1.5"]);
    let _: Value = q(c, &["SPOP", &k("bigset"), "3"]);
    let _: i64 = q(c, &["EXPIRE", &k("str"), "5000"]);
    let _: i64 = q(c, &["DEL", &k("list")]);
    let _: String = q(c, &["XADD", &k("stream"), "*", "live", "1"]);
    let mut pipe = redis::pipe();
    pipe.atomic().cmd("LPUSH").arg(k("tx")).arg("a").cmd("HINCRBY").arg(k("hash")).arg("n").arg(3);
    let _: Value = pipe.query(c).expect("multi/exec");
    let _: () = q(c, &["SELECT", "5"]);
    let _: () = q(c, &["SET", &k("db5"), "x"]);
    let _: () = q(c, &["SELECT", "0"]);
}

#[test]
fn full_sync_all_types_then_live_writes_and_read_only_replica() {
    let (primary, replica) = (Server::start(&[]), Server::start(&[]));
    let (mut p, mut r) = (primary.conn(), replica.conn());
    fill(&mut p, "k");
    replicaof(&mut r, primary.port);
    wait_synced(&mut p, &mut r);
    assert_eq!(dataset(&mut r), dataset(&mut p));
    live_writes(&mut p, "k");
    wait_synced(&mut p, &mut r);
    assert_eq!(dataset(&mut r), dataset(&mut p));
    // Read-only replica, its role and INFO.
    let e = redis::cmd("SET").arg("x").arg("1").query::<()>(&mut r).unwrap_err();
    assert!(e.to_string().contains("You can't write against a read only replica"), "{e}");
    assert_eq!(field(&mut r, "replication", "role"), "slave");
    assert_eq!(field(&mut p, "replication", "connected_slaves"), "1");
    assert!(field(&mut p, "replication", "slave0").contains("state=online"));
    assert_eq!(field(&mut r, "replication", "master_replid"), field(&mut p, "replication", "master_replid"));
    let role: Vec<Value> = q(&mut r, &["ROLE"]);
    assert_eq!(role[0], Value::BulkString(b"slave".to_vec()));
    let role: Vec<Value> = q(&mut p, &["ROLE"]);
    assert_eq!(role[0], Value::BulkString(b"master".to_vec()));
    assert_eq!(field(&mut p, "stats", "sync_full"), "1");
}

/// A library with a function that writes (`w`), one declared `no-writes`
/// that reads (`r`) and one declared `no-writes` that writes anyway (`rw`).
const LIBRARY: &str = "#!lua name=rolib
redis.register_function('w', function(keys) return redis.call('set', keys[1], 'v') end)
redis.register_function{function_name='r', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}
redis.register_function{function_name='rw', callback=function(keys) return redis.call('set', keys[1], 'v') end, flags={'no-writes'}}";

/// Scripts and functions on the read-only replica `r` of `p`, as Redis 7.0
/// answers them (checked against redis-server 7.0.15): a write through
/// `redis.call` fails with -READONLY (with the script's location), through
/// `redis.pcall` returns that error; a script or function not declared
/// `no-writes` is a write command, refused as SET is; reading ones run; a
/// `no-writes` one or EVAL_RO that writes gets the read-only-script error.
/// With `replica-read-only no` they all write.
fn scripts_on_a_read_only_replica(p: &mut Connection, r: &mut Connection) {
    const RO: &str = "READONLY You can't write against a read only replica.";
    const RO_SCRIPT: &str = "ERR Write commands are not allowed from read-only scripts.";
    let _: String = q(p, &["FUNCTION", "LOAD", LIBRARY]);
    let _: () = q(p, &["SET", "x", "1"]);
    wait_synced(p, r);
    let set = "return redis.call('set','x','2')";
    let e = q_err(r, &["EVAL", set, "0"]);
    assert!(e.starts_with(&format!("{RO} script: ")) && e.ends_with("on @user_script:1."), "{e}");
    assert_eq!(q_err(r, &["EVAL", "return redis.pcall('set','x','2')", "0"]), RO);
    assert_eq!(q_err(r, &["EVAL", &format!("#!lua\n{set}"), "0"]), RO);
    let sha: String = q(r, &["SCRIPT", "LOAD", &format!("#!lua flags=allow-oom\n{set}")]);
    assert_eq!(q_err(r, &["EVALSHA", &sha, "0"]), RO);
    assert_eq!(q_err(r, &["EVAL_RO", &format!("#!lua\n{set}"), "0"]), RO);
    assert!(q_err(r, &["EVAL", &format!("#!lua flags=no-writes\n{set}"), "0"]).starts_with(RO_SCRIPT));
    assert!(q_err(r, &["EVAL_RO", set, "0"]).starts_with(RO_SCRIPT));
    let get = "return redis.call('get','x')";
    assert_eq!(q::<String>(r, &["EVAL", get, "0"]), "1");
    assert_eq!(q::<String>(r, &["EVAL_RO", get, "0"]), "1");
    assert_eq!(q::<String>(r, &["EVAL", &format!("#!lua flags=no-writes\n{get}"), "0"]), "1");
    assert_eq!(q_err(r, &["FCALL", "w", "1", "x"]), RO);
    assert_eq!(q_err(r, &["FCALL_RO", "w", "1", "x"]), RO);
    assert_eq!(q::<String>(r, &["FCALL", "r", "1", "x"]), "1");
    assert_eq!(q::<String>(r, &["FCALL_RO", "r", "1", "x"]), "1");
    let e = q_err(r, &["FCALL", "rw", "1", "x"]);
    assert!(e.starts_with(&format!("{RO_SCRIPT} script: rw, on @user_function:")), "{e}");
    // Inside MULTI such a call is refused when queued, and EXEC aborts.
    let _: () = q(r, &["MULTI"]);
    assert_eq!(q_err(r, &["EVAL", &format!("#!lua\n{set}"), "0"]), RO);
    assert_eq!(q_err(r, &["FCALL", "w", "1", "x"]), RO);
    let e = q_err(r, &["EXEC"]);
    assert!(e.starts_with("EXECABORT"), "{e}");
    assert_eq!(q::<String>(r, &["GET", "x"]), "1");
    let _: () = q(r, &["CONFIG", "SET", "replica-read-only", "no"]);
    let _: () = q(r, &["EVAL", set, "0"]);
    let _: () = q(r, &["EVAL", &format!("#!lua\n{set}"), "0"]);
    let _: () = q(r, &["FCALL", "w", "1", "y"]);
    assert_eq!(q::<Vec<String>>(r, &["MGET", "x", "y"]), ["2", "v"]);
    let _: () = q(r, &["CONFIG", "SET", "replica-read-only", "yes"]);
}

#[test]
fn scripts_and_functions_on_a_read_only_replica() {
    let (primary, replica) = (Server::start(&[]), Server::start(&[]));
    let (mut p, mut r) = (primary.conn(), replica.conn());
    replicaof(&mut r, primary.port);
    scripts_on_a_read_only_replica(&mut p, &mut r);
    // The same answers from redis-server, when installed.
    let (Some(primary), Some(replica)) = (redis_server(), redis_server()) else { return };
    let (mut p, mut r) = (primary.conn(), replica.conn());
    replicaof(&mut r, primary.port);
    scripts_on_a_read_only_replica(&mut p, &mut r);
}

#[test]
fn partial_resync_after_link_cut_either_side() {
    let (primary, replica) = (Server::start(&[]), Server::start(&[]));
    let (mut p, mut r) = (primary.conn(), replica.conn());
    fill(&mut p, "k");
    replicaof(&mut r, primary.port);
    wait_synced(&mut p, &mut r);
    // Cut from the replica's side, write meanwhile.
    let killed: i64 = q(&mut r, &["CLIENT", "KILL", "TYPE", "master"]);
    assert_eq!(killed, 1);
    live_writes(&mut p, "k");
    wait_for(30, "partial resync", || field(&mut p, "stats", "sync_partial_ok") == "1");
    wait_synced(&mut p, &mut r);
    assert_eq!(dataset(&mut r), dataset(&mut p));
    // Cut from the primary's side.
    let killed: i64 = q(&mut p, &["CLIENT", "KILL", "TYPE", "replica"]);
    assert_eq!(killed, 1);
    live_writes(&mut p, "k2");
    wait_for(30, "second partial resync", || field(&mut p, "stats", "sync_partial_ok") == "2");
    wait_synced(&mut p, &mut r);
    assert_eq!(dataset(&mut r), dataset(&mut p));
    assert_eq!(field(&mut p, "stats", "sync_full"), "1");
}

#[test]
fn backlog_overflow_forces_a_full_sync() {
    let primary = Server::start(&["--repl-backlog-size", "16kb"]);
    let replica = Server::start(&[]);
    let (mut p, mut r) = (primary.conn(), replica.conn());
    replicaof(&mut r, primary.port);
    wait_synced(&mut p, &mut r);
    let _: () = q(&mut p, &["CLIENT", "KILL", "TYPE", "replica"]);
    let big = "x".repeat(1000);
    for i in 0..100 {
        let _: () = q(&mut p, &["SET", &format!("k{i}"), &big]);
    }
    wait_for(30, "second full sync", || field(&mut p, "stats", "sync_full") == "2");
    wait_synced(&mut p, &mut r);
    assert_eq!(dataset(&mut r), dataset(&mut p));
}

#[test]
fn wait_counts_acknowledging_replicas() {
    let (primary, replica) = (Server::start(&[]), Server::start(&[]));
    let (mut p, mut r) = (primary.conn(), replica.conn());
    // No replica: WAIT 0 answers at once, WAIT 1 after its timeout.
    let n: i64 = q(&mut p, &["WAIT", "0", "0"]);
    assert_eq!(n, 0);
    let n: i64 = q(&mut p, &["WAIT", "1", "50"]);
    assert_eq!(n, 0);
    replicaof(&mut r, primary.port);
    wait_synced(&mut p, &mut r);
    let _: () = q(&mut p, &["SET", "a", "1"]);
    let n: i64 = q(&mut p, &["WAIT", "1", "0"]);
    assert_eq!(n, 1);
    let v: String = q(&mut r, &["GET", "a"]);
    assert_eq!(v, "1");
    let n: i64 = q(&mut p, &["WAIT", "2", "100"]);
    assert_eq!(n, 1);
    let e = redis::cmd("WAIT").arg(1).arg(0).query::<i64>(&mut r).unwrap_err();
    assert!(e.to_string().contains("replica"), "{e}");
}

#[test]
fn chained_replicas_and_promotion_keep_partial_resync() {
    let a = Server::start(&[]);
    let b = Server::start(&[]);
    let c = Server::start(&[]);
    let (mut pa, mut pb, mut pc) = (a.conn(), b.conn(), c.conn());
    fill(&mut pa, "k");
    replicaof(&mut pb, a.port);
    wait_synced(&mut pa, &mut pb);
    replicaof(&mut pc, b.port);
    wait_synced(&mut pb, &mut pc);
    live_writes(&mut pa, "k");
    wait_synced(&mut pa, &mut pb);
    wait_synced(&mut pb, &mut pc);
    assert_eq!(dataset(&mut pc), dataset(&mut pa));
    let id_a = field(&mut pa, "replication", "master_replid");
    assert_eq!(field(&mut pc, "replication", "master_replid"), id_a);
    assert_eq!(
        field(&mut pc, "replication", "master_repl_offset"),
        field(&mut pa, "replication", "master_repl_offset")
    );
    // Promote B: it keeps A's id as replid2, and C continues with it.
    let _: () = q(&mut pb, &["REPLICAOF", "NO", "ONE"]);
    assert_eq!(field(&mut pb, "replication", "role"), "master");
    assert_eq!(field(&mut pb, "replication", "master_replid2"), id_a);
    let _: () = q(&mut pb, &["SET", "after-promotion", "1"]);
    wait_for(30, "C continues with B", || field(&mut pb, "stats", "sync_partial_ok") == "1");
    wait_synced(&mut pb, &mut pc);
    let v: String = q(&mut pc, &["GET", "after-promotion"]);
    assert_eq!(v, "1");
    assert_eq!(field(&mut pb, "stats", "sync_full"), "1");
    // The old primary joins B and continues too (its history is B's past).
    replicaof(&mut pa, b.port);
    wait_synced(&mut pb, &mut pa);
    assert_eq!(dataset(&mut pa), dataset(&mut pb));
}

#[test]
fn replicas_never_expire_keys_themselves() {
    let (primary, replica) = (Server::start(&[]), Server::start(&[]));
    let (mut p, mut r) = (primary.conn(), replica.conn());
    let _: () = q(&mut p, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    replicaof(&mut r, primary.port);
    wait_synced(&mut p, &mut r);
    let _: () = q(&mut p, &["SET", "k", "v", "PX", "50"]);
    wait_synced(&mut p, &mut r);
    // Past its TTL the replica reads nil but keeps the key ...
    wait_for(10, "key logically expired on the replica", || q::<Option<String>>(&mut r, &["GET", "k"]).is_none());
    let n: i64 = q(&mut r, &["DBSIZE"]);
    assert_eq!(n, 1);
    // ... until the primary's DEL (its lazy expiry on access) arrives.
    let v: Option<String> = q(&mut p, &["GET", "k"]);
    assert_eq!(v, None);
    wait_synced(&mut p, &mut r);
    let n: i64 = q(&mut r, &["DBSIZE"]);
    assert_eq!(n, 0);
}

#[test]
fn min_replicas_to_write_refuses_without_good_replicas() {
    let (primary, replica) = (Server::start(&[]), Server::start(&[]));
    let (mut p, mut r) = (primary.conn(), replica.conn());
    let _: () = q(&mut p, &["CONFIG", "SET", "min-replicas-to-write", "1"]);
    let e = redis::cmd("SET").arg("a").arg("1").query::<()>(&mut p).unwrap_err();
    assert!(e.to_string().contains("NOREPLICAS"), "{e}");
    // Scripts too: at the write, or before a script declaring writes runs.
    for script in ["return redis.call('set','a','1')", "#!lua\nreturn redis.call('get','a')"] {
        let e = redis::cmd("EVAL").arg(script).arg(0).query::<()>(&mut p).unwrap_err();
        assert!(e.to_string().contains("NOREPLICAS"), "{script}: {e}");
    }
    replicaof(&mut r, primary.port);
    wait_synced(&mut p, &mut r);
    wait_for(10, "writes accepted", || redis::cmd("SET").arg("a").arg("1").query::<()>(&mut p).is_ok());
    let _: () = q(&mut p, &["CONFIG", "SET", "min-replicas-to-write", "0"]);
    let _: () = q(&mut p, &["SET", "a", "2"]);
    // Set at start, it holds from the first write.
    let started = Server::start(&["--min-replicas-to-write", "1"]);
    let e = redis::cmd("SET").arg("a").arg("1").query::<()>(&mut started.conn()).unwrap_err();
    assert!(e.to_string().contains("NOREPLICAS"), "{e}");
}

/// Same dataset in both, compared also by DUMP where both are this server.
fn assert_same(a: &mut Connection, b: &mut Connection) {
    assert_eq!(dataset(a), dataset(b));
}

#[test]
fn interop_this_server_replicates_redis_server() {
    let Some(redis) = redis_server() else { return };
    let ours = Server::start(&[]);
    let (mut p, mut r) = (redis.conn(), ours.conn());
    fill(&mut p, "k");
    let _: () = q(&mut p, &["DEBUG", "POPULATE", "2000", "pop", "20"]);
    replicaof(&mut r, redis.port);
    wait_synced(&mut p, &mut r);
    assert_same(&mut r, &mut p);
    assert_eq!(q::<i64>(&mut r, &["DBSIZE"]), q::<i64>(&mut p, &["DBSIZE"]));
    live_writes(&mut p, "k");
    wait_synced(&mut p, &mut r);
    assert_same(&mut r, &mut p);
    let _: () = q(&mut r, &["CLIENT", "KILL", "TYPE", "master"]);
    live_writes(&mut p, "k2");
    wait_for(30, "partial resync with redis-server", || field(&mut p, "stats", "sync_partial_ok") == "1");
    wait_synced(&mut p, &mut r);
    assert_same(&mut r, &mut p);
    assert_eq!(q::<i64>(&mut r, &["DBSIZE"]), q::<i64>(&mut p, &["DBSIZE"]));
    assert_eq!(field(&mut p, "stats", "sync_full"), "1");
}

#[test]
fn interop_redis_server_replicates_this_server() {
    let ours = Server::start(&[]);
    let Some(redis) = redis_server() else { return };
    let (mut p, mut r) = (ours.conn(), redis.conn());
    fill(&mut p, "k");
    replicaof(&mut r, ours.port);
    wait_synced(&mut p, &mut r);
    assert_same(&mut r, &mut p);
    live_writes(&mut p, "k");
    wait_synced(&mut p, &mut r);
    assert_same(&mut r, &mut p);
    let _: () = q(&mut r, &["CLIENT", "KILL", "TYPE", "master"]);
    live_writes(&mut p, "k2");
    wait_for(30, "redis-server partial resync", || field(&mut p, "stats", "sync_partial_ok") == "1");
    wait_synced(&mut p, &mut r);
    assert_same(&mut r, &mut p);
    assert_eq!(field(&mut p, "stats", "sync_full"), "1");
}

#[test]
fn publish_reaches_subscribers_of_replicas() {
    let (primary, replica) = (Server::start(&[]), Server::start(&[]));
    let (mut p, mut r) = (primary.conn(), replica.conn());
    replicaof(&mut r, primary.port);
    wait_synced(&mut p, &mut r);
    let mut sub = replica.raw();
    let _ = sub.call(&["SUBSCRIBE", "news"]);
    let n: i64 = q(&mut p, &["PUBLISH", "news", "hello"]);
    assert_eq!(n, 0);
    let msg = common::strings(sub.read());
    assert_eq!(msg, vec!["message", "news", "hello"]);
}
