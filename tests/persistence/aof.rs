//! The append-only file, durability under `kill -9`, MISCONF and INFO.

use super::*;

const AOF: &[&str] = &["--appendonly", "yes"];

/// The incremental files the manifest in `dir/appendonlydir` lists, in order.
fn incr_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let aof_dir = dir.join("appendonlydir");
    let manifest = std::fs::read_to_string(aof_dir.join("appendonly.aof.manifest")).unwrap();
    manifest
        .lines()
        .filter(|l| l.ends_with("type i"))
        .map(|l| aof_dir.join(l.split_whitespace().nth(1).unwrap()))
        .collect()
}

/// The last incremental file (where new commands are appended).
fn last_incr(dir: &Path) -> std::path::PathBuf {
    incr_files(dir).pop().unwrap()
}

/// The commands logged since the last rewrite (all incremental files).
fn aof_text(dir: &Path) -> String {
    incr_files(dir).iter().map(|f| String::from_utf8_lossy(&std::fs::read(f).unwrap()).into_owned()).collect()
}

/// Total size of the AOF directory's files.
fn aof_dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir.join("appendonlydir")).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum()
}

#[test]
fn aof_round_trips_every_type_with_absolute_expiries() {
    let mut srv = Server::start(AOF);
    let mut c = srv.conn();
    populate(&mut c);
    let mut p = redis::pipe();
    p.cmd("SET").arg("s:px").arg("v").arg("PX").arg(500_000).ignore();
    p.cmd("SETEX").arg("s:setex").arg(700).arg("v").ignore();
    p.cmd("SET").arg("s:getex").arg("v").ignore().cmd("GETEX").arg("s:getex").arg("EX").arg(600).ignore();
    p.cmd("INCRBYFLOAT").arg("s:float").arg("1.5").ignore();
    p.cmd("HINCRBYFLOAT").arg("h:small").arg("fl").arg("0.25").ignore();
    p.cmd("SET").arg("s:persist").arg("v").arg("EX").arg(100).ignore().cmd("PERSIST").arg("s:persist").ignore();
    p.query::<()>(&mut c).unwrap();
    let before = dump_all(&mut c);
    assert!(srv.terminate().success());
    let text = aof_text(srv.dir.path());
    assert!(text.contains("PXAT") && text.contains("PEXPIREAT"), "absolute expiries logged");
    for relative in ["\r\nEX\r\n", "\r\nPX\r\n", "SETEX", "\r\nEXPIRE\r\n", "\r\nPEXPIRE\r\n", "GETEX", "INCRBYFLOAT"] {
        assert!(!text.contains(relative), "{relative:?} logged as is");
    }
    // Restarting later must not extend any TTL: PEXPIRETIME is compared exactly.
    let srv = Server::start_in(srv.into_dir(true), AOF);
    assert_same(&before, &dump_all(&mut srv.conn()));
}

#[test]
fn aof_wins_over_rdb_when_both_exist() {
    let mut srv = Server::start(AOF);
    let mut c = srv.conn();
    let _: () = c.set("k", "from-rdb").unwrap();
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    let _: () = c.set("k", "from-aof").unwrap();
    let _: () = c.rpush("only-aof", "x").unwrap();
    srv.terminate();
    let srv = Server::start_in(srv.into_dir(true), AOF);
    let mut c = srv.conn();
    assert_eq!(c.get::<_, String>("k").unwrap(), "from-aof");
    assert_eq!(c.lrange::<_, Vec<String>>("only-aof", 0, -1).unwrap(), ["x"]);
    // Without appendonly the RDB is what loads.
    let srv = Server::start_in(srv.into_dir(true), &[]);
    assert_eq!(srv.conn().get::<_, String>("k").unwrap(), "from-rdb");
}

#[test]
fn multi_exec_is_logged_and_replayed_as_a_transaction() {
    let mut srv = Server::start(AOF);
    let mut c = srv.conn();
    let (a, l): (i64, i64) =
        redis::pipe().atomic().set("a", 1).ignore().incr("a", 5).rpush("l", "x").query(&mut c).unwrap();
    assert_eq!((a, l), (6, 1));
    let _: () = redis::pipe().atomic().cmd("SELECT").arg(2).set("in2", "v").query(&mut c).unwrap();
    srv.terminate();
    let text = aof_text(srv.dir.path());
    assert!(text.contains("MULTI") && text.contains("EXEC"), "{text}");
    let srv = Server::start_in(srv.into_dir(true), AOF);
    let mut c = srv.conn();
    assert_eq!(c.get::<_, i64>("a").unwrap(), 6);
    assert_eq!(c.lrange::<_, Vec<String>>("l", 0, -1).unwrap(), ["x"]);
    let _: () = redis::cmd("SELECT").arg(2).query(&mut c).unwrap();
    assert_eq!(c.get::<_, String>("in2").unwrap(), "v");
}

#[test]
fn blocking_pops_are_logged_as_non_blocking_commands() {
    let mut srv = Server::start(AOF);
    let mut c = srv.conn();
    let blocked = |cmd: redis::Cmd| {
        let mut b = srv.conn();
        std::thread::spawn(move || cmd.query::<redis::Value>(&mut b).unwrap())
    };
    let mut cmds = vec![redis::cmd("BLPOP"), redis::cmd("BRPOP"), redis::cmd("BLMOVE"), redis::cmd("BRPOPLPUSH")];
    cmds[0].arg("q1").arg(10);
    cmds[1].arg("q2").arg(10);
    cmds[2].arg("q3").arg("dst").arg("LEFT").arg("RIGHT").arg(10);
    cmds[3].arg("q4").arg("dst").arg(10);
    let mut mp = redis::cmd("BLMPOP");
    mp.arg(10).arg(2).arg("left").arg("q5").arg("RIGHT").arg("COUNT").arg(2);
    cmds.push(mp);
    let waiting: Vec<_> = cmds.into_iter().map(blocked).collect();
    wait_for(10, "5 blocked clients", || {
        let s: String = redis::cmd("INFO").arg("clients").query(&mut c).unwrap();
        s.contains("blocked_clients:5")
    });
    for q in ["q1", "q2", "q3", "q4", "q5"] {
        let _: () = c.rpush(q, &["a", "b", "c"]).unwrap();
    }
    for w in waiting {
        w.join().unwrap();
    }
    let before = dump_all(&mut c);
    srv.terminate();
    let text = aof_text(srv.dir.path());
    for b in ["BLPOP", "BRPOP", "BLMOVE", "BRPOPLPUSH", "BLMPOP"] {
        assert!(!text.contains(b), "{b} logged");
    }
    let srv = Server::start_in(srv.into_dir(true), AOF);
    let after = dump_all(&mut srv.conn());
    assert_eq!(before, after);
    assert_eq!(after[&(0, b"q5".to_vec())].0, V::L(vec![b"a".to_vec()]));
}

#[test]
fn bgrewriteaof_while_writes_continue_loses_nothing() {
    let mut srv = Server::start(AOF);
    let mut c = srv.conn();
    fill(&mut c, 50_000);
    populate(&mut c);
    let (stop, done) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let w = spawn_writer(&srv, stop.clone(), done.clone());
    wait_for(20, "writes before", || done.load(Ordering::Relaxed) >= 100);
    let r: String = redis::cmd("BGREWRITEAOF").query(&mut c).unwrap();
    assert_eq!(r, "Background append only file rewriting started");
    wait_info_at_least(&mut c, "aof_rewrites", 1);
    wait_for(20, "rewrite end", || info(&mut c, "aof_rewrite_in_progress") == "0");
    assert_eq!(info(&mut c, "aof_last_bgrewrite_status"), "ok");
    let after = done.load(Ordering::Relaxed);
    wait_for(20, "writes after", || done.load(Ordering::Relaxed) >= after + 100);
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    let before = dump_all(&mut c);
    srv.terminate();
    let srv = Server::start_in(srv.into_dir(true), AOF);
    let restored = dump_all(&mut srv.conn());
    assert_eq!(before.len(), restored.len());
    assert!(before == restored, "dataset differs after rewrite + restart");
}

#[test]
fn aof_rewrites_automatically_on_growth() {
    let mut srv = Server::start(&[
        "--appendonly",
        "yes",
        "--set",
        "auto-aof-rewrite-min-size=64kb",
        "--set",
        "auto-aof-rewrite-percentage=100",
    ]);
    let mut c = srv.conn();
    for i in 0..300 {
        let _: () = c.set("k", format!("{i}-{}", "v".repeat(1000))).unwrap();
    }
    wait_info_at_least(&mut c, "aof_rewrites", 1);
    let _: () = c.set("after", "1").unwrap();
    // Writes made while a rewrite ran land in the next increment, which
    // may itself have grown enough to start another: the files end small
    // once the rewrites triggered by the writes are done (a CI run saw the
    // size checked while the last one was still due).
    wait_for(20, "a compact AOF", || {
        info(&mut c, "aof_rewrite_in_progress") == "0" && aof_dir_size(srv.dir.path()) < 100_000
    });
    srv.terminate();
    let srv = Server::start_in(srv.into_dir(true), AOF);
    let mut c = srv.conn();
    assert_eq!(c.get::<_, String>("k").unwrap(), format!("299-{}", "v".repeat(1000)));
    assert_eq!(c.get::<_, String>("after").unwrap(), "1");
}

/// An AOF with a few commands, and the length of its complete part.
fn written_aof() -> (tempfile::TempDir, usize) {
    let mut srv = Server::start(AOF);
    let mut c = srv.conn();
    let _: () = c.set("a", "1").unwrap();
    let _: () = c.rpush("l", &["x", "y"]).unwrap();
    srv.terminate();
    let len = std::fs::read(last_incr(srv.dir.path())).unwrap().len();
    (srv.into_dir(true), len)
}

fn append(dir: &Path, bytes: &[u8]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(last_incr(dir)).unwrap();
    f.write_all(bytes).unwrap();
}

#[test]
fn truncated_aof_tail_loads_up_to_the_last_command_or_is_refused() {
    let (dir, len) = written_aof();
    append(dir.path(), b"*3\r\n$3\r\nSET\r\n$1\r\nz\r\n$5\r\nab");
    let d = dir.path().to_str().unwrap();
    let out = start_fails(dir.path(), &["--appendonly", "yes", "--set", "aof-load-truncated=no"]);
    assert!(out.contains("Unexpected end of file") && out.contains(&format!("offset {len}")), "{out}");
    let p = Proc::spawn(&server_bin(), &["--dir", d, "--save", "", "--appendonly", "yes"], "Ready to accept");
    assert!(p.logged(&format!("Truncating the AOF at offset {len}")), "{:?}", p.log.lock().unwrap());
    let mut c = p.conn();
    assert_eq!(c.get::<_, String>("a").unwrap(), "1");
    assert!(!c.exists::<_, bool>("z").unwrap());
    // New writes go after the cut and load again.
    let _: () = c.set("b", "2").unwrap();
    drop(c);
    drop(p);
    // An unfinished MULTI at the end is cut off too (Redis reverts it).
    append(dir.path(), b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nm\r\n$1\r\n1\r\n");
    let srv = Server::start_in(dir, AOF);
    let mut c = srv.conn();
    assert!(!c.exists::<_, bool>("m").unwrap());
    assert_eq!(c.lrange::<_, Vec<String>>("l", 0, -1).unwrap(), ["x", "y"]);
}

#[test]
fn garbage_in_the_middle_of_the_aof_refuses_to_start_naming_the_offset() {
    let (dir, len) = written_aof();
    append(dir.path(), b"this is not a command\r\n*2\r\n$3\r\nDEL\r\n$1\r\na\r\n");
    let out = start_fails(dir.path(), AOF);
    assert!(out.contains("Bad file format") && out.contains(&format!("offset {len}")), "{out}");
    let mut bytes = std::fs::read(last_incr(dir.path())).unwrap();
    bytes.truncate(len);
    bytes.extend_from_slice(b"*2\r\n$3\r\nDEL\r\n$x\r\na\r\n*1\r\n$4\r\nPING\r\n");
    std::fs::write(last_incr(dir.path()), bytes).unwrap();
    let out = start_fails(dir.path(), AOF);
    assert!(out.contains("Bad file format") && out.contains(&format!("offset {len}")), "{out}");
}

#[test]
fn config_set_appendonly_yes_logs_the_current_data() {
    let mut srv = Server::start(&[]);
    let mut c = srv.conn();
    populate(&mut c);
    let _: () = redis::cmd("CONFIG").arg("SET").arg("appendonly").arg("yes").query(&mut c).unwrap();
    assert_eq!(info(&mut c, "aof_enabled"), "1");
    let _: () = c.set("later", "v").unwrap();
    let before = dump_all(&mut c);
    srv.terminate();
    assert!(!srv.dir.path().join("dump.rdb").exists());
    let srv = Server::start_in(srv.into_dir(true), AOF);
    assert_same(&before, &dump_all(&mut srv.conn()));
}

#[test]
fn a_key_expired_when_written_stays_as_written_after_replay() {
    let mut srv = Server::start(AOF);
    let mut c = srv.conn();
    let _: () = redis::cmd("SET").arg("k").arg(5).arg("PX").arg(30).query(&mut c).unwrap();
    wait_for(5, "expiry", || !c.exists::<_, bool>("k").unwrap());
    assert_eq!(c.incr::<_, _, i64>("k", 1).unwrap(), 1);
    srv.terminate();
    let srv = Server::start_in(srv.into_dir(true), AOF);
    let mut c = srv.conn();
    assert_eq!(c.get::<_, i64>("k").unwrap(), 1);
    assert_eq!(c.ttl::<_, i64>("k").unwrap(), -1);
}

#[test]
fn a_key_alive_when_modified_is_not_resurrected_by_replay() {
    let mut srv = Server::start(AOF);
    let mut c = srv.conn();
    let t0 = Instant::now();
    let _: () = redis::cmd("SET").arg("k").arg(5).arg("PX").arg(300).query(&mut c).unwrap();
    assert_eq!(c.incr::<_, _, i64>("k", 1).unwrap(), 6);
    let _: () = c.rpush("l", "a").unwrap();
    let _: () = c.pexpire("l", 300).unwrap();
    let _: () = c.rpush("l", "b").unwrap();
    srv.terminate();
    wait_for(5, "the TTLs to pass", || t0.elapsed() > Duration::from_millis(400));
    let srv = Server::start_in(srv.into_dir(true), AOF);
    let mut c = srv.conn();
    assert!(!c.exists::<_, bool>("k").unwrap(), "k resurrected: {:?}", c.get::<_, Option<String>>("k"));
    assert!(!c.exists::<_, bool>("l").unwrap(), "l resurrected");
}

#[test]
fn kill9_under_concurrent_writes_keeps_every_acknowledged_write() {
    kill9_under_concurrent_writes("always", "1");
}

/// With two worker threads the writer thread syncs for the connections
/// (with one, the worker syncs before its batch's replies).
#[test]
fn kill9_under_always_with_two_workers_keeps_every_acknowledged_write() {
    kill9_under_concurrent_writes("always", "2");
}

/// Under `everysec` a reply is sent only after its commands were handed to
/// the OS, so a crash of the process (not of the machine) loses none.
#[test]
fn kill9_under_everysec_keeps_every_acknowledged_write() {
    kill9_under_concurrent_writes("everysec", "1");
}

fn kill9_under_concurrent_writes(policy: &str, threads: &str) {
    let mut srv = Server::start(&["--appendonly", "yes", "--appendfsync", policy, "--threads", threads]);
    let acks = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for t in 0..4u64 {
        let (mut c, acks) = (srv.conn(), acks.clone());
        workers.push(std::thread::spawn(move || {
            // Acknowledged: (n of SET w{t}:{n}), and the last RPUSH/INCR replies.
            let (mut sets, mut pushed, mut counted) = (Vec::new(), 0u64, 0i64);
            for n in 0u64.. {
                let ok = if t == 3 {
                    // A pipelined client: eight SETs per round trip.
                    let mut p = redis::pipe();
                    (n * 8..n * 8 + 8).for_each(|i| {
                        p.set(format!("w{t}:{i}"), format!("v{t}:{i}")).ignore();
                    });
                    p.query::<()>(&mut c).map(|_| sets.extend(n * 8..n * 8 + 8)).is_ok()
                } else {
                    c.set::<_, _, ()>(format!("w{t}:{n}"), format!("v{t}:{n}")).map(|_| sets.push(n)).is_ok()
                        && c.rpush::<_, _, u64>(format!("list{t}"), n).map(|len| pushed = len).is_ok()
                        && c.incr::<_, _, i64>(format!("ctr{t}"), 1).map(|v| counted = v).is_ok()
                };
                if !ok {
                    return (t, sets, pushed, counted);
                }
                acks.fetch_add(1, Ordering::Relaxed);
            }
            unreachable!()
        }));
    }
    let start = Instant::now();
    let mut c = srv.conn();
    let mut rewrite_started = false;
    while acks.load(Ordering::Relaxed) < 2000 && start.elapsed() < Duration::from_secs(3) {
        // Halfway, a rewrite swaps the log under the writers' feet.
        if !rewrite_started && acks.load(Ordering::Relaxed) >= 700 {
            let _: () = redis::cmd("BGREWRITEAOF").query(&mut c).unwrap();
            rewrite_started = true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let rewrites = info(&mut c, "aof_rewrites");
    srv.kill9();
    let results: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let srv = Server::start_in(srv.into_dir(false), &["--appendonly", "yes", "--appendfsync", policy]);
    let mut c = srv.conn();
    let mut total = 0;
    for (t, sets, pushed, counted) in results {
        total += sets.len();
        let mut p = redis::pipe();
        for n in &sets {
            p.get(format!("w{t}:{n}"));
        }
        let got: Vec<Option<String>> = p.query(&mut c).unwrap();
        for (n, v) in sets.iter().zip(got) {
            assert_eq!(v, Some(format!("v{t}:{n}")), "acknowledged SET w{t}:{n} lost");
        }
        if t < 3 {
            let list: Vec<u64> = c.lrange(format!("list{t}"), 0, -1).unwrap();
            let len = list.len() as u64;
            assert!(len >= pushed && len <= pushed + 1, "list{t}: {len} for {pushed} acknowledged");
            assert!(list.iter().enumerate().all(|(i, &n)| n == i as u64), "list{t} out of order");
            let ctr: i64 = c.get::<_, Option<i64>>(format!("ctr{t}")).unwrap().unwrap_or(0);
            assert!(ctr >= counted && ctr <= counted + 1, "ctr{t}: {ctr} for {counted} acknowledged");
        }
    }
    eprintln!("{policy}: kill -9 after {total} acknowledged SETs ({:?}, rewrites done: {rewrites})", start.elapsed());
    assert!(total >= 100, "too few writes before the kill: {total}");
}

#[test]
fn failing_bgsave_refuses_writes_with_misconf_until_a_save_succeeds() {
    let srv = Server::start(&["--set", "save=3600 1"]);
    let mut c = srv.conn();
    let _: () = c.set("k", "v").unwrap();
    let bad = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(bad.path().join("dump.rdb").join("occupied")).unwrap();
    let good: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("dir").query(&mut c).unwrap();
    let _: () = redis::cmd("CONFIG").arg("SET").arg("dir").arg(bad.path().to_str().unwrap()).query(&mut c).unwrap();
    let _: () = redis::cmd("BGSAVE").query(&mut c).unwrap();
    wait_for(20, "failed bgsave", || info(&mut c, "rdb_last_bgsave_status") == "err");
    wait_bgsave_done(&mut c);
    let e = c.set::<_, _, ()>("k2", "v").unwrap_err();
    assert_eq!(e.code(), Some("MISCONF"), "{e}");
    assert!(c.incr::<_, _, i64>("k", 1).is_err());
    assert_eq!(c.get::<_, String>("k").unwrap(), "v");
    let leftovers = std::fs::read_dir(bad.path()).unwrap().count();
    assert_eq!(leftovers, 1, "temp file left behind");
    let _: () = redis::cmd("CONFIG").arg("SET").arg("dir").arg(&good[1]).query(&mut c).unwrap();
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    assert_eq!(info(&mut c, "rdb_last_bgsave_status"), "ok");
    let _: () = c.set("k2", "v").unwrap();
}

#[test]
fn info_persistence_has_redis_field_names() {
    let srv = Server::start(AOF);
    let mut c = srv.conn();
    let _: () = c.set("a", 1).unwrap();
    for f in [
        "loading",
        "rdb_changes_since_last_save",
        "rdb_bgsave_in_progress",
        "rdb_last_save_time",
        "rdb_last_bgsave_status",
        "aof_enabled",
        "aof_rewrite_in_progress",
        "aof_last_write_status",
    ] {
        assert!(!info(&mut c, f).is_empty(), "INFO persistence lacks {f}");
    }
    assert_eq!(info(&mut c, "loading"), "0");
    assert_eq!(info(&mut c, "rdb_changes_since_last_save"), "1");
    assert_eq!(info(&mut c, "aof_enabled"), "1");
    assert_eq!(info(&mut c, "aof_last_write_status"), "ok");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let saved: u64 = info(&mut c, "rdb_last_save_time").parse().unwrap();
    assert!(saved <= now && saved + 60 > now);
    // Loading an AOF is not a change to save.
    let srv = Server::start_in(srv.into_dir(true), AOF);
    assert_eq!(info(&mut srv.conn(), "rdb_changes_since_last_save"), "0");
}

#[test]
fn random_and_blocking_set_pops_replay_to_the_same_state() {
    let mut srv = Server::start(AOF);
    let mut c = srv.conn();
    let members: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
    let _: () = redis::cmd("SADD").arg("s").arg(&members).query(&mut c).unwrap();
    let _: () = redis::cmd("SADD").arg("ints").arg((0..50).collect::<Vec<i64>>()).query(&mut c).unwrap();
    let _: Vec<String> = redis::cmd("SPOP").arg("s").arg(37).query(&mut c).unwrap();
    let _: Option<String> = redis::cmd("SPOP").arg("s").query(&mut c).unwrap();
    let _: Option<i64> = redis::cmd("SPOP").arg("ints").query(&mut c).unwrap();
    let mut b = srv.conn();
    let waiter = std::thread::spawn(move || {
        let min: redis::Value = redis::cmd("BZPOPMIN").arg("z1").arg(10).query(&mut b).unwrap();
        let mpop: redis::Value =
            redis::cmd("BZMPOP").arg(10).arg(1).arg("z2").arg("MAX").arg("COUNT").arg(2).query(&mut b).unwrap();
        (min, mpop)
    });
    for (key, blocked) in [("z1", 1), ("z2", 1)] {
        wait_for(10, "a blocked client", || {
            let s: String = redis::cmd("INFO").arg("clients").query(&mut c).unwrap();
            s.contains(&format!("blocked_clients:{blocked}"))
        });
        let _: () = redis::cmd("ZADD").arg(key).arg(&[(1, "a"), (2, "b"), (3, "c")]).query(&mut c).unwrap();
    }
    waiter.join().unwrap();
    let state = |c: &mut Connection| {
        let mut s: Vec<String> = redis::cmd("SMEMBERS").arg("s").query(c).unwrap();
        s.sort();
        let mut ints: Vec<i64> = redis::cmd("SMEMBERS").arg("ints").query(c).unwrap();
        ints.sort();
        let z1: Vec<String> = redis::cmd("ZRANGE").arg("z1").arg(0).arg(-1).query(c).unwrap();
        let z2: Vec<String> = redis::cmd("ZRANGE").arg("z2").arg(0).arg(-1).query(c).unwrap();
        (s, ints, z1, z2)
    };
    let before = state(&mut c);
    assert_eq!(before.0.len(), 200 - 38);
    assert_eq!(before.1.len(), 49);
    assert_eq!((before.2.clone(), before.3.clone()), (vec!["b".to_string(), "c".into()], vec!["a".to_string()]));
    srv.terminate();
    let text = aof_text(srv.dir.path());
    for logged_as_is in ["SPOP", "BZPOPMIN", "BZMPOP"] {
        assert!(!text.contains(logged_as_is), "{logged_as_is} logged");
    }
    let srv = Server::start_in(srv.into_dir(true), AOF);
    assert_eq!(state(&mut srv.conn()), before);
}

/// A rewrite whose new log cannot be written (the disk is full: the next
/// incremental file's name is made a link to `/dev/full`, which refuses
/// every write with ENOSPC) fails as a whole: the manifest still names the
/// old files, nothing it created is left behind, the writes acknowledged
/// meanwhile went to the old log, and a restart after `kill -9` has them.
#[test]
fn a_rewrite_that_finds_the_disk_full_fails_and_loses_nothing() {
    if !Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full");
        return;
    }
    let mut srv = Server::start(AOF);
    let mut c = srv.conn();
    let mut p = redis::pipe();
    for i in 0..200 {
        p.set(format!("k{i}"), i).ignore();
    }
    p.query::<()>(&mut c).unwrap();
    let dir = srv.dir.path().to_path_buf();
    let aof_dir = dir.join("appendonlydir");
    let manifest = std::fs::read_to_string(aof_dir.join("appendonly.aof.manifest")).unwrap();
    let next_seq = manifest
        .lines()
        .filter(|l| l.ends_with("type i"))
        .filter_map(|l| l.split_whitespace().nth(3)?.parse::<u64>().ok())
        .max()
        .unwrap()
        + 1;
    let full = aof_dir.join(format!("appendonly.aof.{next_seq}.incr.aof"));
    std::os::unix::fs::symlink("/dev/full", &full).unwrap();
    // Slow enough (2 ms per key in the child) that writes land during it.
    let _: () = redis::cmd("CONFIG").arg("SET").arg("rdb-key-save-delay").arg(2000).query(&mut c).unwrap();
    let _: () = redis::cmd("BGREWRITEAOF").query(&mut c).unwrap();
    let mut during = 0;
    while info(&mut c, "aof_rewrite_in_progress") == "1" {
        let _: () = c.set(format!("w{during}"), during).unwrap();
        during += 1;
    }
    assert!(during > 0, "no write landed during the rewrite");
    assert_eq!(info(&mut c, "aof_last_bgrewrite_status"), "err");
    assert_eq!(info(&mut c, "aof_last_write_status"), "ok");
    assert!(std::fs::symlink_metadata(&full).is_err(), "the failed rewrite's incremental file is left");
    let leftovers: Vec<_> = std::fs::read_dir(&aof_dir)
        .unwrap()
        .chain(std::fs::read_dir(&dir).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("temp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    assert_eq!(std::fs::read_to_string(aof_dir.join("appendonly.aof.manifest")).unwrap(), manifest);
    let _: () = c.set("after", 1).unwrap();
    srv.kill9();
    let srv = Server::start_in(srv.into_dir(false), AOF);
    let mut c = srv.conn();
    assert_eq!(c.get::<_, Option<i64>>("k199").unwrap(), Some(199));
    for i in 0..during {
        assert_eq!(c.get::<_, Option<i64>>(format!("w{i}")).unwrap(), Some(i), "acknowledged w{i} lost");
    }
    assert_eq!(c.get::<_, Option<i64>>("after").unwrap(), Some(1));
}
