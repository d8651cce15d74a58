//! Persistence against the real server: RDB (SAVE, BGSAVE, shutdown save,
//! DEBUG RELOAD, interchange with the real `redis-server`, corrupt files),
//! the append-only file (round trips, absolute expiries, MULTI/EXEC,
//! blocking pops, rewrites, truncated and corrupt logs), durability under
//! `kill -9`, MISCONF, INFO persistence's fields, and the one background
//! child at a time (scheduled jobs, `CONFIG SET appendonly yes`).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{free_port, server_bin, wait_for, Server};
use redis::{Commands, Connection};

/// One stored value, as read back through commands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum V {
    S(Vec<u8>),
    L(Vec<Vec<u8>>),
    H(BTreeMap<Vec<u8>, Vec<u8>>),
}

/// The whole dataset: (db, key) → (value, PEXPIRETIME or -1).
type Data = BTreeMap<(i64, Vec<u8>), (V, i64)>;

/// A field of `INFO persistence`.
fn info(c: &mut Connection, field: &str) -> String {
    let text: String = redis::cmd("INFO").arg("persistence").query(c).unwrap();
    let prefix = format!("{field}:");
    text.lines().find_map(|l| l.strip_prefix(&prefix)).map(|v| v.trim().to_string()).unwrap_or_default()
}

/// Waits until no background save runs and `field` reached `at_least`.
fn wait_info_at_least(c: &mut Connection, field: &str, at_least: u64) {
    wait_for(20, field, || info(c, field).parse::<u64>().unwrap_or(0) >= at_least);
}

fn wait_bgsave_done(c: &mut Connection) {
    wait_for(20, "bgsave end", || info(c, "rdb_bgsave_in_progress") == "0");
}

/// Reads every key of databases 0..16 with its value and absolute expiry (pipelined).
fn dump_all(c: &mut Connection) -> Data {
    let mut out = Data::new();
    for db in 0..16i64 {
        redis::cmd("SELECT").arg(db).query::<()>(c).unwrap();
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(c).unwrap();
        for chunk in keys.chunks(500) {
            let mut p = redis::pipe();
            for k in chunk {
                p.cmd("TYPE").arg(k);
            }
            let types: Vec<String> = p.query(c).unwrap();
            let mut p = redis::pipe();
            for (k, t) in chunk.iter().zip(&types) {
                match t.as_str() {
                    "string" => p.cmd("GET").arg(k),
                    "list" => p.cmd("LRANGE").arg(k).arg(0).arg(-1),
                    "hash" => p.cmd("HGETALL").arg(k),
                    other => panic!("unexpected type {other}"),
                };
                p.cmd("PEXPIRETIME").arg(k);
            }
            let vals: Vec<redis::Value> = p.query(c).unwrap();
            for ((k, t), pair) in chunk.iter().zip(&types).zip(vals.chunks(2)) {
                let v = match t.as_str() {
                    "string" => V::S(redis::from_redis_value(&pair[0]).unwrap()),
                    "list" => V::L(redis::from_redis_value(&pair[0]).unwrap()),
                    _ => V::H(redis::from_redis_value(&pair[0]).unwrap()),
                };
                let exp: i64 = redis::from_redis_value(&pair[1]).unwrap();
                out.insert((db, k.clone()), (v, exp));
            }
        }
    }
    redis::cmd("SELECT").arg(0).query::<()>(c).unwrap();
    out
}

/// Writes a dataset with every type, encodings from tiny to large, binary
/// data, TTLs, and a second database.
fn populate(c: &mut Connection) {
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let mut p = redis::pipe();
    p.cmd("SET")
        .arg("s:plain")
        .arg("hello")
        .cmd("SET")
        .arg("s:int")
        .arg("12345")
        .cmd("SET")
        .arg("s:neg")
        .arg("-9007199254740993")
        .cmd("SET")
        .arg("s:empty")
        .arg("")
        .cmd("SET")
        .arg("s:bin")
        .arg(&b"a\x00b\r\nc\xff"[..])
        .cmd("SET")
        .arg("s:big")
        .arg(&big[..])
        .cmd("SET")
        .arg("s:rep")
        .arg("ab".repeat(5000))
        .cmd("SET")
        .arg("s:ttl")
        .arg("t")
        .arg("EX")
        .arg(1000)
        .cmd("RPUSH")
        .arg("l:small")
        .arg("a")
        .arg("1")
        .arg("")
        .arg(&b"\x00\x01"[..])
        .cmd("HSET")
        .arg("h:small")
        .arg("f")
        .arg("v")
        .arg("n")
        .arg("42")
        .arg("")
        .arg("empty")
        .cmd("RPUSH")
        .arg("l:ttl")
        .arg("x")
        .arg("y")
        .cmd("PEXPIRE")
        .arg("l:ttl")
        .arg(900_000)
        .cmd("HSET")
        .arg("h:ttl")
        .arg("a")
        .arg("b")
        .cmd("EXPIRE")
        .arg("h:ttl")
        .arg(800)
        .cmd("SELECT")
        .arg(3)
        .cmd("SET")
        .arg("db3:s")
        .arg("three")
        .cmd("LPUSH")
        .arg("db3:l")
        .arg("z")
        .cmd("SELECT")
        .arg(0)
        .ignore();
    for i in 0..1000 {
        p.cmd("RPUSH").arg("l:big").arg(format!("elem-{i}-{}", "q".repeat(i % 70))).ignore();
        p.cmd("HSET").arg("h:big").arg(format!("field-{i}")).arg(i * 7).ignore();
    }
    p.cmd("RPUSH").arg("l:big").arg(&big[..1000]).ignore();
    // Small values in every listpack integer encoding, strings that only
    // look like integers, and a list whose nodes a big element splits.
    let ints = [
        "0",
        "127",
        "128",
        "-1",
        "4095",
        "-4096",
        "32767",
        "-32769",
        "8388607",
        "-8388609",
        "2147483647",
        "-2147483649",
        "9223372036854775807",
        "-9223372036854775808",
        "007",
        "-0",
        "+1",
        "1.5",
        "9223372036854775808",
    ];
    p.cmd("RPUSH").arg("l:ints").arg(&ints[..]).ignore();
    for (i, v) in ints.iter().enumerate() {
        p.cmd("HSET").arg("h:ints").arg(*v).arg(i as i64 - 3).ignore();
    }
    p.cmd("RPUSH").arg("l:nodes").arg("head").arg("n".repeat(20_000)).arg("tail").ignore();
    p.query::<()>(c).unwrap();
}

/// Checks the restored data equals the saved data (and has every type).
fn assert_same(before: &Data, after: &Data) {
    assert!(before.len() >= 12, "dataset too small: {}", before.len());
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
    for (k, v) in before {
        assert_eq!(Some(v), after.get(k), "key {k:?}");
    }
}

/// Runs the server expecting it to refuse to start; returns its output.
fn start_fails(dir: &Path, extra: &[&str]) -> String {
    let out = Command::new(server_bin())
        .args(["--port", &free_port().to_string(), "--dir", dir.to_str().unwrap(), "--save", ""])
        .args(extra)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "server started but should not have: {text}");
    assert!(!text.contains("Ready to accept"), "{text}");
    text
}

/// A process we started (ours with its full log, or redis-server), killed on drop.
struct Proc {
    child: Child,
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    fn spawn(bin: &Path, args: &[&str], ready: &str) -> Proc {
        let port = free_port();
        let mut child = Command::new(bin)
            .arg("--port")
            .arg(port.to_string())
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        for s in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let log = log.clone();
            std::thread::spawn(move || {
                BufReader::new(s).lines().map_while(Result::ok).for_each(|l| log.lock().unwrap().push(l))
            });
        }
        let p = Proc { child, port, log };
        wait_for(20, "process ready", || p.log.lock().unwrap().iter().any(|l| l.contains(ready)));
        p
    }

    fn conn(&self) -> Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).unwrap().get_connection().unwrap()
    }

    fn logged(&self, what: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(what))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// redis-server on `dir` (no persistence rules), or None when not installed.
fn redis_server(dir: &Path) -> Option<Proc> {
    if Command::new("redis-server").arg("--version").output().is_err() {
        eprintln!("SKIPPED: redis-server is not installed; the interchange check did not run");
        return None;
    }
    let args = ["--bind", "127.0.0.1", "--dir", dir.to_str().unwrap(), "--save", "", "--appendonly", "no"];
    Some(Proc::spawn(Path::new("redis-server"), &args, "Ready to accept connections"))
}

#[test]
fn rdb_save_and_restart_round_trips_every_type() {
    let srv = Server::start(&[]);
    let mut c = srv.conn();
    populate(&mut c);
    let before = dump_all(&mut c);
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    assert_eq!(info(&mut c, "rdb_changes_since_last_save"), "0");
    let srv = Server::start_in(srv.into_dir(false), &[]);
    assert_same(&before, &dump_all(&mut srv.conn()));
}

#[test]
fn rdb_bgsave_and_restart_round_trips_every_type() {
    let srv = Server::start(&[]);
    let mut c = srv.conn();
    populate(&mut c);
    let before = dump_all(&mut c);
    let r: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    assert_eq!(r, "Background saving started");
    wait_info_at_least(&mut c, "rdb_saves", 1);
    wait_bgsave_done(&mut c);
    assert_eq!(info(&mut c, "rdb_last_bgsave_status"), "ok");
    let srv = Server::start_in(srv.into_dir(false), &[]);
    assert_same(&before, &dump_all(&mut srv.conn()));
}

#[test]
fn sigterm_saves_when_save_rules_are_set() {
    let mut srv = Server::start(&["--set", "save=3600 1"]);
    let mut c = srv.conn();
    populate(&mut c);
    let before = dump_all(&mut c);
    assert!(srv.terminate().success());
    assert!(srv.dir.path().join("dump.rdb").exists());
    let srv = Server::start_in(srv.into_dir(true), &[]);
    assert_same(&before, &dump_all(&mut srv.conn()));
}

#[test]
fn debug_reload_keeps_the_data() {
    let srv = Server::start(&[]);
    let mut c = srv.conn();
    populate(&mut c);
    let before = dump_all(&mut c);
    let _: () = redis::cmd("DEBUG").arg("RELOAD").query(&mut c).unwrap();
    assert_same(&before, &dump_all(&mut c));
}

#[test]
fn a_dump_written_by_redis_loads_here() {
    let rdir = tempfile::tempdir().unwrap();
    let Some(redis) = redis_server(rdir.path()) else { return };
    let mut rc = redis.conn();
    populate(&mut rc);
    let before = dump_all(&mut rc);
    let _: () = redis::cmd("SAVE").query(&mut rc).unwrap();
    drop(redis);
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(rdir.path().join("dump.rdb"), dir.path().join("dump.rdb")).unwrap();
    let srv = Server::start_in(dir, &[]);
    assert_same(&before, &dump_all(&mut srv.conn()));
}

#[test]
fn a_dump_written_here_loads_in_redis_and_passes_redis_check_rdb() {
    let srv = Server::start(&[]);
    let mut c = srv.conn();
    populate(&mut c);
    let before = dump_all(&mut c);
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    let rdir = tempfile::tempdir().unwrap();
    std::fs::copy(srv.dir.path().join("dump.rdb"), rdir.path().join("dump.rdb")).unwrap();
    match Command::new("redis-check-rdb").arg(rdir.path().join("dump.rdb")).output() {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success() && text.contains("RDB looks OK"), "redis-check-rdb: {text}");
        }
        Err(_) => eprintln!("SKIPPED: redis-check-rdb is not installed"),
    }
    let Some(redis) = redis_server(rdir.path()) else { return };
    assert_same(&before, &dump_all(&mut redis.conn()));
}

/// The sizes of the dumps `SAVE` writes, Redis's then ours, for the same
/// data (`fill` adds the commands that make it to a pipeline); `None`
/// without a `redis-server` binary.
fn dump_sizes(fill: impl Fn(&mut redis::Pipeline)) -> Option<(u64, u64)> {
    let rdir = tempfile::tempdir().unwrap();
    let redis = redis_server(rdir.path())?;
    let srv = Server::start(&[]);
    let mut sizes = Vec::new();
    for (mut c, dir) in [(redis.conn(), rdir.path()), (srv.conn(), srv.dir.path())] {
        let mut p = redis::pipe();
        fill(&mut p);
        p.query::<()>(&mut c).unwrap();
        let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
        sizes.push(std::fs::metadata(dir.join("dump.rdb")).unwrap().len());
    }
    Some((sizes[0], sizes[1]))
}

/// Many small hashes and lists, as in a cache: Redis stores each as one
/// listpack blob (RDB types 16 and 18), and so must we.
#[test]
fn small_hashes_and_lists_dump_as_compactly_as_in_redis() {
    let Some((theirs, ours)) = dump_sizes(|p| {
        for i in 0..2000 {
            let mut hset = redis::cmd("HSET");
            hset.arg(format!("hash:{i:06}"));
            let mut rpush = redis::cmd("RPUSH");
            rpush.arg(format!("list:{i:06}"));
            for j in 0..10 {
                hset.arg(format!("fld:{j:04}")).arg(format!("val:{:04}", (i * 7 + j) % 10_000));
                rpush.arg(format!("elem:{:03}", (i + j) % 1000)).arg(i * 10 + j);
            }
            p.add_command(hset).ignore().add_command(rpush).ignore();
        }
    }) else {
        return;
    };
    assert!(ours <= theirs + theirs / 50, "our dump is {ours} bytes, Redis's {theirs}");
}

#[test]
fn backup_flag_loads_that_file_at_start() {
    let srv = Server::start(&[]);
    let mut c = srv.conn();
    populate(&mut c);
    let before = dump_all(&mut c);
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    let other = tempfile::tempdir().unwrap();
    let backup = other.path().join("backup.rdb");
    std::fs::copy(srv.dir.path().join("dump.rdb"), &backup).unwrap();
    drop(srv);
    let srv = Server::start(&["--backup", backup.to_str().unwrap()]);
    assert_same(&before, &dump_all(&mut srv.conn()));
}

#[test]
fn corrupt_or_truncated_rdb_refuses_to_start_and_empty_dir_starts_empty() {
    let srv = Server::start(&[]);
    let mut c = srv.conn();
    populate(&mut c);
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    let good = std::fs::read(srv.dir.path().join("dump.rdb")).unwrap();
    drop(srv);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dump.rdb");
    // A flipped byte inside the data: the checksum (or the structure) fails.
    let mut bad = good.clone();
    bad[good.len() / 2] ^= 0x5a;
    std::fs::write(&file, &bad).unwrap();
    let out = start_fails(dir.path(), &[]);
    assert!(out.contains(file.to_str().unwrap()) && out.contains("offset"), "{out}");
    // Cut in the middle.
    std::fs::write(&file, &good[..good.len() * 2 / 3]).unwrap();
    let out = start_fails(dir.path(), &[]);
    assert!(out.contains(file.to_str().unwrap()) && out.contains("offset"), "{out}");
    // Not an RDB at all.
    std::fs::write(&file, b"hello world, not redis").unwrap();
    let out = start_fails(dir.path(), &[]);
    assert!(out.contains("offset 0"), "{out}");
    let srv = Server::start(&[]);
    let n: i64 = redis::cmd("DBSIZE").query(&mut srv.conn()).unwrap();
    assert_eq!(n, 0);
}

/// Writes `k:{i}` = "{i}:" + 100 × `fill`.
fn kval(i: u64, fill: char) -> String {
    format!("{i}:{}", fill.to_string().repeat(100))
}

/// Background writer for the point-in-time tests: for n = 1, 2 …: INCR ctr
/// (→ n), SET new:n, overwrite k:n with the 'y' value, RPUSH log n.
fn spawn_writer(srv: &Server, stop: Arc<AtomicBool>, done: Arc<AtomicU64>) -> std::thread::JoinHandle<()> {
    let mut c = srv.conn();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let n: u64 = c.incr("ctr", 1).unwrap();
            let _: () = c.set(format!("new:{n}"), kval(n, 'n')).unwrap();
            let _: () = c.set(format!("k:{n}"), kval(n, 'y')).unwrap();
            let _: () = c.rpush("log", n).unwrap();
            done.store(n, Ordering::Relaxed);
        }
    })
}

fn fill(c: &mut Connection, n: u64) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut p = redis::cmd("MSET");
        for &i in chunk {
            p.arg(format!("k:{i}")).arg(kval(i, 'x'));
        }
        p.query::<()>(c).unwrap();
    }
}

/// Checks a restored image is one instant of [`spawn_writer`]'s sequence.
fn assert_point_in_time(c: &mut Connection, keys: u64) -> u64 {
    let ctr: u64 = c.get("ctr").unwrap();
    let log: Vec<u64> = c.lrange("log", 0, -1).unwrap();
    assert!(log.len() as u64 == ctr || log.len() as u64 + 1 == ctr, "ctr {ctr} log {}", log.len());
    assert!(log.iter().enumerate().all(|(i, &n)| n == i as u64 + 1), "log in order, no gaps");
    let mut p = redis::pipe();
    for i in 0..keys {
        p.get(format!("k:{i}"));
    }
    let vals: Vec<Option<String>> = p.query(c).unwrap();
    for (i, v) in vals.iter().enumerate() {
        let i = i as u64;
        let v = v.as_deref().unwrap_or_else(|| panic!("k:{i} lost"));
        if i >= 1 && i <= log.len() as u64 {
            assert_eq!(v, kval(i, 'y'), "k:{i} overwritten before the instant");
        } else if i > ctr || i == 0 {
            assert_eq!(v, kval(i, 'x'), "k:{i} overwritten after the instant");
        } else {
            assert!(v == kval(i, 'x') || v == kval(i, 'y'), "torn k:{i}");
        }
    }
    for n in 1..ctr {
        assert_eq!(c.get::<_, Option<String>>(format!("new:{n}")).unwrap(), Some(kval(n, 'n')));
    }
    let after: bool = c.exists(format!("new:{}", ctr + 1)).unwrap();
    assert!(!after, "a write after the instant is in the image");
    ctr
}

#[test]
fn bgsave_under_concurrent_writes_is_point_in_time() {
    let srv = Server::start(&[]);
    let mut c = srv.conn();
    fill(&mut c, 50_000);
    let (stop, done) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let w = spawn_writer(&srv, stop.clone(), done.clone());
    wait_for(20, "writes before", || done.load(Ordering::Relaxed) >= 200);
    let before = done.load(Ordering::Relaxed);
    let _: () = redis::cmd("BGSAVE").query(&mut c).unwrap();
    wait_info_at_least(&mut c, "rdb_saves", 1);
    wait_bgsave_done(&mut c);
    let after = done.load(Ordering::Relaxed);
    wait_for(20, "writes after", || done.load(Ordering::Relaxed) >= after + 100);
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    let srv = Server::start_in(srv.into_dir(false), &[]);
    let ctr = assert_point_in_time(&mut srv.conn(), 50_000);
    assert!(ctr >= before && ctr <= after + 1, "instant {ctr} outside [{before}, {after}]");
}

#[path = "persistence/aof.rs"]
mod aof;

#[path = "persistence/jobs.rs"]
mod jobs;

#[path = "persistence/multipart.rs"]
mod multipart;

#[path = "persistence/sets_rdb.rs"]
mod sets_rdb;

#[path = "persistence/streams_rdb.rs"]
mod streams_rdb;
