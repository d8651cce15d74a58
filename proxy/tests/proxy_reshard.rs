//! Online resharding with real processes: keys of every type written
//! through the proxy stay reachable, with their last acknowledged value
//! and their TTL, while servers are added, reweighted, drained and
//! removed; with two proxies; and across a proxy killed mid-migration.

mod harness;

// The proxy's own ring, to check that every key sits on its ring owner.
#[allow(dead_code)]
#[path = "../src/ring.rs"]
mod ring;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use harness::*;

/// Keys written before each change (spread over six types).
const KEYS: usize = 20_000;
/// Keys the writer keeps rewriting during a migration (each a string and a
/// list, named `hotN:s:i` and `hotN:l:i`).
const HOT: usize = 200;
/// Every TTL_EVERY-th key gets a TTL.
const TTL_EVERY: usize = 5;
/// The TTL given (ms): long enough never to expire during a test.
const TTL_MS: i64 = 3_600_000;
/// A pace slow enough that the writer and readers run during the migration.
const SLOW: &[&str] = &["--reshard-rate", "4000", "--reshard-batch", "100"];

/// One server entry: the data server, its weight, drained or not.
type Entry<'a> = (&'a DataServer, u32, bool);

fn json(entries: &[Entry]) -> String {
    let items: Vec<String> = entries
        .iter()
        .map(|(s, w, d)| format!("{{\"addr\": \"{}\", \"weight\": {w}, \"drain\": {d}}}", s.addr()))
        .collect();
    format!("[{}]", items.join(", "))
}

fn ring_of(entries: &[Entry]) -> ring::Ring {
    let ids: Vec<(usize, String, u32)> =
        entries.iter().enumerate().filter(|e| !e.1 .2).map(|(i, (s, w, _))| (i, s.addr(), *w)).collect();
    ring::Ring::new(ids.iter().map(|(i, id, w)| (*i, id.as_str(), *w)))
}

fn key(i: usize) -> String {
    let kind = ["s", "l", "h", "set", "z", "x"][i % 6];
    format!("{kind}:{i}")
}

/// Writes the KEYS keys of every type through the proxy.
fn populate(p: &Proxy) {
    let mut c = p.conn();
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(1000) {
        let mut pipe = redis::pipe();
        for &i in chunk {
            let k = key(i);
            match i % 6 {
                0 => pipe.cmd("SET").arg(&k).arg(format!("v{i}")).ignore(),
                1 => pipe.cmd("RPUSH").arg(&k).arg("a").arg(i).ignore(),
                2 => pipe.cmd("HSET").arg(&k).arg("f").arg(i).arg("g").arg("x").ignore(),
                3 => pipe.cmd("SADD").arg(&k).arg("m").arg(i).ignore(),
                4 => pipe.cmd("ZADD").arg(&k).arg(i).arg("m").ignore(),
                _ => pipe.cmd("XADD").arg(&k).arg("1-1").arg("f").arg(i).ignore(),
            };
            if i.is_multiple_of(TTL_EVERY) {
                pipe.cmd("PEXPIRE").arg(&k).arg(TTL_MS).ignore();
            }
        }
        pipe.query::<()>(&mut c).expect("populate");
    }
}

/// Reads every key through the proxy and compares it with what was written.
fn check_values(p: &Proxy) {
    let mut c = p.conn();
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(1000) {
        let mut pipe = redis::pipe();
        for &i in chunk {
            let k = key(i);
            match i % 6 {
                0 => pipe.cmd("GET").arg(&k),
                1 => pipe.cmd("LINDEX").arg(&k).arg(1),
                2 => pipe.cmd("HGET").arg(&k).arg("f"),
                3 => pipe.cmd("SISMEMBER").arg(&k).arg(i),
                4 => pipe.cmd("ZSCORE").arg(&k).arg("m"),
                _ => pipe.cmd("XLEN").arg(&k),
            };
        }
        let got: Vec<redis::Value> = pipe.query(&mut c).expect("read back");
        for (&i, v) in chunk.iter().zip(got) {
            let s = match v {
                redis::Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
                redis::Value::Int(n) => n.to_string(),
                other => format!("{other:?}"),
            };
            let want = match i % 6 {
                0 => format!("v{i}"),
                3 | 5 => "1".to_string(),
                _ => i.to_string(),
            };
            assert_eq!(s, want, "key {}", key(i));
        }
    }
}

/// Every key (the KEYS keys and the hot ones) is on its ring owner and on
/// no other server; TTLs are preserved.
fn check_placement(servers: &[&DataServer], entries: &[Entry]) {
    let ring = ring_of(entries);
    let expected: HashSet<String> = (0..KEYS).map(key).collect();
    let mut seen = HashSet::new();
    for s in servers {
        let mut c = s.conn();
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut c).unwrap();
        let Some(idx) = entries.iter().position(|e| e.0.port == s.port) else {
            assert!(keys.is_empty(), "{} keys left on {}, not in the list", keys.len(), s.addr());
            continue;
        };
        for k in &keys {
            assert!(expected.contains(k) || k.starts_with("hot"), "unexpected key {k} on {}", s.addr());
            assert_eq!(ring.route(k.as_bytes()), Some(idx), "key {k} is on {}, not on its ring owner", s.addr());
            assert!(seen.insert(k.clone()), "key {k} on two servers");
        }
        let mut pipe = redis::pipe();
        let ttl_keys: Vec<&String> = keys.iter().filter(|k| !k.starts_with("hot")).collect();
        for k in &ttl_keys {
            pipe.cmd("PTTL").arg(*k);
        }
        let ttls: Vec<i64> = pipe.query(&mut c).unwrap();
        for (k, t) in ttl_keys.iter().zip(ttls) {
            let i: usize = k.rsplit(':').next().unwrap().parse().unwrap();
            if i.is_multiple_of(TTL_EVERY) {
                assert!(t > TTL_MS - 600_000 && t <= TTL_MS, "key {k}: TTL {t} not preserved");
            } else {
                assert_eq!(t, -1, "key {k} got a TTL");
            }
        }
    }
    let lost: Vec<&String> = expected.iter().filter(|k| !seen.contains(*k)).take(10).collect();
    assert!(lost.is_empty(), "keys lost: {lost:?}");
}

/// A writer rewriting the hot keys and readers checking, through the
/// proxies given, that every read returns at least the last acknowledged
/// value (never nil, never older).
struct Traffic {
    stop: Arc<AtomicBool>,
    errors: Arc<Mutex<Vec<String>>>,
    reads: Arc<AtomicU64>,
    threads: Vec<JoinHandle<()>>,
}

impl Traffic {
    /// Writes the first version of every hot key of `prefix` through `port`.
    fn prepare(port: u16, prefix: &str) {
        let mut c = connect(port, false);
        let mut pipe = redis::pipe();
        for i in 0..HOT {
            pipe.cmd("SET").arg(format!("{prefix}:s:{i}")).arg(0).ignore();
            pipe.cmd("DEL").arg(format!("{prefix}:l:{i}")).ignore();
            pipe.cmd("RPUSH").arg(format!("{prefix}:l:{i}")).arg(0).ignore();
        }
        pipe.query::<()>(&mut c).unwrap();
    }

    /// Traffic on the hot keys named `prefix:...` (as [`Traffic::prepare`]
    /// left them): one writer through `writer_port`, a reader through each
    /// of `reader_ports`.
    fn start(prefix: &str, writer_port: u16, reader_ports: &[u16]) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let reads = Arc::new(AtomicU64::new(0));
        // acked[i]: the last version of hot key i acknowledged (string value, list length - 1).
        let acked: Arc<Vec<AtomicU64>> = Arc::new((0..HOT).map(|_| AtomicU64::new(0)).collect());
        let mut threads = Vec::new();
        {
            let (stop, errors, acked) = (stop.clone(), errors.clone(), acked.clone());
            let prefix = prefix.to_string();
            threads.push(std::thread::spawn(move || {
                let mut c = connect(writer_port, false);
                let (ks, kl) = (format!("{prefix}:s:"), format!("{prefix}:l:"));
                let mut n = 0u64;
                // Bounded: the test stops it long before.
                while !stop.load(Ordering::Relaxed) && n < 2_000_000 {
                    n += 1;
                    let i = (n as usize * 7) % HOT;
                    let v = acked[i].load(Ordering::SeqCst) + 1;
                    let r: redis::RedisResult<((), i64)> = redis::pipe()
                        .cmd("SET")
                        .arg(format!("{ks}{i}"))
                        .arg(v)
                        .cmd("RPUSH")
                        .arg(format!("{kl}{i}"))
                        .arg(v)
                        .query(&mut c);
                    match r {
                        Ok(((), len)) if len as u64 == v + 1 => acked[i].store(v, Ordering::SeqCst),
                        Ok(((), len)) => errors.lock().unwrap().push(format!("{kl}{i} has {len} items after push {v}")),
                        Err(e) => errors.lock().unwrap().push(format!("write: {e}")),
                    }
                }
            }));
        }
        for (t, &port) in reader_ports.iter().enumerate() {
            let (stop, errors, acked, reads) = (stop.clone(), errors.clone(), acked.clone(), reads.clone());
            let prefix = prefix.to_string();
            threads.push(std::thread::spawn(move || {
                let mut c = connect(port, false);
                let (ks, kl) = (format!("{prefix}:s:"), format!("{prefix}:l:"));
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) && n < 2_000_000 {
                    n += 1;
                    let i = (n * 13 + t * 101) % HOT;
                    let floor = acked[i].load(Ordering::SeqCst);
                    let r: redis::RedisResult<(Option<u64>, u64)> = redis::pipe()
                        .cmd("GET")
                        .arg(format!("{ks}{i}"))
                        .cmd("LLEN")
                        .arg(format!("{kl}{i}"))
                        .query(&mut c);
                    let mut errors = errors.lock().unwrap();
                    match r {
                        Ok((Some(v), len)) if v >= floor && len > floor => {}
                        Ok((v, len)) => errors.push(format!("{ks}{i}: read {v:?} / {len} items, acked {floor}")),
                        Err(e) => errors.push(format!("read: {e}")),
                    }
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        Traffic { stop, errors, reads, threads }
    }

    fn finish(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        let e = self.errors.lock().unwrap().clone();
        assert!(e.is_empty(), "{} bad replies, first: {:?}", e.len(), &e[..e.len().min(10)]);
        assert!(self.reads.load(Ordering::Relaxed) > 0);
    }
}

fn info_map(p: &Proxy) -> HashMap<String, String> {
    let text: String = redis::cmd("INFO").arg("resharding").query(&mut p.conn()).unwrap();
    text.lines().filter_map(|l| l.split_once(':')).map(|(k, v)| (k.to_string(), v.trim().to_string())).collect()
}

/// Waits until migration `n` (or a later one) is done.
fn wait_idle(p: &Proxy, n: u64) {
    let ok = wait_until(120, || {
        let m = info_map(p);
        m.get("reshard_state").map(String::as_str) == Some("idle")
            && m.get("reshard_migration").and_then(|v| v.parse::<u64>().ok()).is_some_and(|m| m >= n)
    });
    assert!(ok, "migration {n} did not finish: {:?}", info_map(p));
}

fn migration(p: &Proxy) -> u64 {
    info_map(p).get("reshard_migration").and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn moved(p: &Proxy) -> u64 {
    info_map(p).get("reshard_keys_moved").and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Rewrites the file and waits until the proxy started the migration.
fn change(p: &Proxy, entries: &[Entry]) -> u64 {
    let before = migration(p);
    p.write_servers(&json(entries));
    assert!(wait_until(10, || migration(p) > before), "change not applied");
    before + 1
}

#[test]
fn add_reweight_drain_and_remove_under_traffic() {
    let s: Vec<DataServer> = (0..3).map(|_| DataServer::start()).collect();
    let (a, b, c) = (&s[0], &s[1], &s[2]);
    let all = [a, b, c];
    let p = Proxy::start(&json(&[(a, 500, false), (b, 500, false)]), SLOW);
    wait_idle(&p, 1);
    populate(&p);
    Traffic::prepare(p.port, "hot1");
    Traffic::prepare(p.port, "hot2");

    // Add C, then reweight A before that migration ends: two changes in a row.
    let t = Traffic::start("hot1", p.port, &[p.port, p.port]);
    change(&p, &[(a, 500, false), (b, 500, false), (c, 500, false)]);
    assert!(wait_until(30, || moved(&p) > 500), "no keys moved");
    let entries = [(a, 1000, false), (b, 500, false), (c, 500, false)];
    let n = change(&p, &entries);
    wait_idle(&p, n);
    t.finish();
    check_placement(&all, &entries);
    check_values(&p);
    let log = p.proc.drain_log();
    assert!(log.iter().any(|l| l.contains("resharding: scanning server") && l.contains(&a.addr())), "{log:?}");
    assert!(log.iter().any(|l| l.contains("resharding done")));

    // Drain A: it keeps serving its keys while they move, then is empty.
    let t = Traffic::start("hot2", p.port, &[p.port]);
    let entries = [(a, 1000, true), (b, 500, false), (c, 500, false)];
    let n = change(&p, &entries);
    wait_idle(&p, n);
    t.finish();
    assert_eq!(info_map(&p).get("reshard0").map(|v| v.contains("state=drained_empty")), Some(true));
    assert_eq!(a.dbsize(), 0);
    check_placement(&all, &entries);
    check_values(&p);
    assert!(p.proc.drain_log().iter().any(|l| l.contains("can be deleted from the server list")));

    // Remove it: nothing moves, nothing is lost.
    let entries = [(b, 500, false), (c, 500, false)];
    let n = change(&p, &entries);
    wait_idle(&p, n);
    check_placement(&all, &entries);
    check_values(&p);
    assert!(wait_until(10, || p.proc.drain_log().iter().any(|l| l.contains("it held no keys"))));
}

#[test]
fn deleting_a_server_that_holds_keys_is_reported_loudly() {
    let s: Vec<DataServer> = (0..2).map(|_| DataServer::start()).collect();
    let p = Proxy::start(&json(&[(&s[0], 500, false), (&s[1], 500, false)]), &[]);
    let mut c = p.conn();
    for i in 0..200 {
        redis::cmd("SET").arg(format!("k{i}")).arg(i).query::<()>(&mut c).unwrap();
    }
    change(&p, &[(&s[0], 500, false)]);
    let addr = s[1].addr();
    assert!(
        wait_until(10, || p
            .proc
            .drain_log()
            .iter()
            .any(|l| l.contains("ERROR") && l.contains(&addr) && l.contains("unreachable"))),
        "no error line for the deleted server"
    );
}

#[test]
fn two_proxies_reshard_the_same_servers() {
    let s: Vec<DataServer> = (0..3).map(|_| DataServer::start()).collect();
    let (a, b, c) = (&s[0], &s[1], &s[2]);
    let two = [(a, 500, false), (b, 500, false)];
    let p1 = Proxy::start(&json(&two), SLOW);
    let p2 = Proxy::start(&json(&two), SLOW);
    wait_idle(&p1, 1);
    wait_idle(&p2, 1);
    populate(&p1);
    Traffic::prepare(p1.port, "hot1");
    Traffic::prepare(p1.port, "hot2");

    // Both proxies pick the change up; then traffic crosses them while
    // both migrate (each read may go through the other proxy).
    let three = [(a, 500, false), (b, 500, false), (c, 500, false)];
    let n1 = change(&p1, &three);
    let n2 = change(&p2, &three);
    let t = Traffic::start("hot1", p1.port, &[p2.port, p1.port]);
    let t2 = Traffic::start("hot2", p2.port, &[p1.port]);
    wait_idle(&p1, n1);
    wait_idle(&p2, n2);
    t.finish();
    t2.finish();
    check_placement(&[a, b, c], &three);
    check_values(&p2);
    // Both moved keys; each client's first command on a key still to move moved it.
    let n = |p: &Proxy, f: &str| info_map(p).get(f).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    assert!(n(&p1, "reshard_keys_moved") > 0 && n(&p2, "reshard_keys_moved") > 0);
    assert!(n(&p1, "reshard_keys_moved_on_demand") + n(&p2, "reshard_keys_moved_on_demand") > 0);
    let reads = n(&p1, "reshard_reads_from_previous_owner") + n(&p2, "reshard_reads_from_previous_owner");
    assert!(reads > 0, "no read was answered by a previous owner");
}

#[test]
fn a_proxy_restarted_mid_migration_finishes_it() {
    let s: Vec<DataServer> = (0..3).map(|_| DataServer::start()).collect();
    let (a, b, c) = (&s[0], &s[1], &s[2]);
    let mut p = Proxy::start(&json(&[(a, 500, false), (b, 500, false)]), &["--reshard-rate", "1000"]);
    wait_idle(&p, 1);
    populate(&p);
    Traffic::prepare(p.port, "hot1");
    let three = [(a, 500, false), (b, 500, false), (c, 500, false)];
    change(&p, &three);
    assert!(wait_until(30, || moved(&p) >= 200), "no keys moved");
    p.proc.kill9();
    let left = info_or_none(&p);
    assert!(left.is_none());

    // A new proxy knows nothing of the previous ring: its first scan finds
    // the keys still on their previous owner, and serves them meanwhile.
    let p = Proxy::start(&json(&three), SLOW);
    let t = Traffic::start("hot1", p.port, &[p.port]);
    assert_eq!(info_map(&p).get("reshard_state").map(String::as_str), Some("first_scan"));
    check_values(&p);
    wait_idle(&p, 1);
    t.finish();
    check_placement(&[a, b, c], &three);
    check_values(&p);
}

fn info_or_none(p: &Proxy) -> Option<String> {
    let c = redis::Client::open(format!("redis://127.0.0.1:{}/", p.port)).ok()?;
    let mut c = c.get_connection().ok()?;
    redis::cmd("INFO").query(&mut c).ok()
}

#[test]
fn a_dead_server_does_not_stop_the_first_scan_serving_the_others() {
    let s: Vec<DataServer> = (0..2).map(|_| DataServer::start()).collect();
    let mut dead = DataServer::start();
    dead.proc.kill9();
    let entries = [(&s[0], 500, false), (&s[1], 500, false), (&dead, 500, false)];
    let p = Proxy::start(&json(&entries), &[]);
    let ring = ring_of(&entries);
    let live: Vec<String> = (0..300).map(|i| format!("k{i}")).filter(|k| ring.route(k.as_bytes()) != Some(2)).collect();
    let mut c = p.conn();
    // The first command may find the dead server before the proxy knows it is down.
    assert!(wait_until(10, || redis::cmd("SET").arg(&live[0]).arg(0).query::<()>(&mut c).is_ok()));
    for k in &live {
        redis::cmd("SET").arg(k).arg(k).query::<()>(&mut c).unwrap();
        assert_eq!(get_str(&mut c, k), Some(k.clone()));
    }
    let info = info_map(&p);
    assert_eq!(info.get("reshard_state").map(String::as_str), Some("first_scan"));
    assert!(info.get("reshard2").is_some_and(|v| v.contains("state=unreachable")), "{info:?}");
}

fn get_str(c: &mut redis::Connection, k: &str) -> Option<String> {
    redis::cmd("GET").arg(k).query(c).unwrap()
}

/// `n` hash tags whose owner changes from `before` to `after`.
fn moved_tags(before: &[Entry], after: &[Entry], n: usize) -> Vec<String> {
    let (rb, ra) = (ring_of(before), ring_of(after));
    let port = |e: &[Entry], i: Option<usize>| i.map(|i| e[i].0.port);
    (0..10_000)
        .map(|i| format!("tag{i}"))
        .filter(|t| port(before, rb.route(t.as_bytes())) != port(after, ra.route(t.as_bytes())))
        .take(n)
        .collect()
}

#[test]
fn transactions_scripts_and_multi_key_commands_move_their_keys_first() {
    let s: Vec<DataServer> = (0..3).map(|_| DataServer::start()).collect();
    let (a, b, c) = (&s[0], &s[1], &s[2]);
    let two = [(a, 500, false), (b, 500, false)];
    let three = [(a, 500, false), (b, 500, false), (c, 500, false)];
    // So slow that the background moves nothing during the test.
    let p = Proxy::start(&json(&two), &["--reshard-rate", "1"]);
    wait_idle(&p, 1);
    let tags = moved_tags(&two, &three, 6);
    let mut cn = p.conn();
    for t in &tags {
        redis::pipe()
            .cmd("SET")
            .arg(format!("{{{t}}}n"))
            .arg(10)
            .cmd("SET")
            .arg(format!("{{{t}}}s"))
            .arg("x")
            .cmd("RPUSH")
            .arg(format!("{{{t}}}l"))
            .arg("e")
            .query::<()>(&mut cn)
            .unwrap();
    }
    change(&p, &three);
    assert_eq!(c.dbsize(), 0, "the background moved keys already");

    // MULTI/EXEC: both keys moved before the batch runs.
    let t = &tags[0];
    let (n, v): (i64, String) = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg(format!("{{{t}}}n"))
        .cmd("GET")
        .arg(format!("{{{t}}}s"))
        .query(&mut cn)
        .unwrap();
    assert_eq!((n, v.as_str()), (11, "x"));
    // WATCH: the watched key is moved first, the transaction runs.
    let t = &tags[1];
    redis::cmd("WATCH").arg(format!("{{{t}}}n")).query::<()>(&mut cn).unwrap();
    let v: i64 = redis::cmd("GET").arg(format!("{{{t}}}n")).query(&mut cn).unwrap();
    let r: Option<(i64,)> =
        redis::pipe().atomic().cmd("INCRBY").arg(format!("{{{t}}}n")).arg(v).query(&mut cn).unwrap();
    assert_eq!(r, Some((20,)), "the transaction did not run");
    // MGET over keys on several servers, moved or not.
    let keys: Vec<String> = tags[2..4].iter().map(|t| format!("{{{t}}}s")).chain(["never".to_string()]).collect();
    let got: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query(&mut cn).unwrap();
    assert_eq!(got, [Some("x".to_string()), Some("x".to_string()), None]);
    // A script's declared keys, and a blocking pop.
    let t = &tags[4];
    let v: String = redis::cmd("EVAL")
        .arg("return redis.call('GET', KEYS[1])")
        .arg(1)
        .arg(format!("{{{t}}}s"))
        .query(&mut cn)
        .unwrap();
    assert_eq!(v, "x");
    let t = &tags[5];
    let popped: (String, String) = redis::cmd("BLPOP").arg(format!("{{{t}}}l")).arg(1).query(&mut cn).unwrap();
    assert_eq!(popped.1, "e");

    // Each key touched lives on C alone now.
    let mut dc = c.conn();
    let on_c: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut dc).unwrap();
    for k in [
        format!("{{{}}}n", tags[0]),
        format!("{{{}}}s", tags[0]),
        format!("{{{}}}n", tags[1]),
        format!("{{{}}}s", tags[4]),
    ] {
        assert!(on_c.contains(&k), "{k} not on its new owner: {on_c:?}");
        for old in [a, b] {
            let e: i64 = redis::cmd("EXISTS").arg(&k).query(&mut old.conn()).unwrap();
            assert_eq!(e, 0, "{k} still on {}", old.addr());
        }
    }
    let n: i64 = redis::cmd("GET").arg(format!("{{{}}}n", tags[1])).query(&mut dc).unwrap();
    assert_eq!(n, 20);
}
