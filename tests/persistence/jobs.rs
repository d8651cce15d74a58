//! Background jobs: one child at a time (BGSAVE vs BGREWRITEAOF, scheduled
//! jobs, `BGSAVE SCHEDULE`), and `CONFIG SET appendonly yes` writing the
//! log's base in the background without losing a write. Slow children come
//! from Redis's `rdb-key-save-delay` (microseconds per key in the child).

use std::collections::HashMap;

use super::*;

const AOF: &[&str] = &["--appendonly", "yes"];

/// Every field of one `INFO persistence` reply.
fn persistence(c: &mut Connection) -> HashMap<String, String> {
    let text: String = redis::cmd("INFO").arg("persistence").query(c).unwrap();
    text.lines().filter_map(|l| l.split_once(':')).map(|(k, v)| (k.to_string(), v.trim().to_string())).collect()
}

fn config_set(c: &mut Connection, name: &str, value: &str) {
    let _: () = redis::cmd("CONFIG").arg("SET").arg(name).arg(value).query(c).unwrap();
}

fn status(c: &mut Connection, args: &[&str]) -> String {
    redis::cmd(args[0]).arg(&args[1..]).query(c).unwrap()
}

fn error(c: &mut Connection, args: &[&str]) -> String {
    let e = redis::cmd(args[0]).arg(&args[1..]).query::<String>(c).unwrap_err();
    format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or(""))
}

/// Polls INFO persistence until `done` holds, checking on every reply that
/// no two children ran at once.
fn wait_jobs(c: &mut Connection, what: &str, mut done: impl FnMut(&HashMap<String, String>) -> bool) {
    wait_for(30, what, || {
        let i = persistence(c);
        assert!(
            !(i["rdb_bgsave_in_progress"] == "1" && i["aof_rewrite_in_progress"] == "1"),
            "two children at once: {i:?}"
        );
        done(&i)
    });
}

/// No temporary file of a save or rewrite is left in `dir` or its AOF directory.
fn assert_no_temp_files(dir: &Path) {
    let aof_dir = dir.join("appendonlydir");
    let left: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .chain(std::fs::read_dir(aof_dir).into_iter().flatten())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("temp-"))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[test]
fn bgrewriteaof_during_a_bgsave_is_scheduled_and_runs_when_it_ends() {
    let mut srv = Server::start(AOF);
    let mut c = srv.conn();
    fill(&mut c, 300);
    config_set(&mut c, "rdb-key-save-delay", "5000");
    assert_eq!(status(&mut c, &["BGSAVE"]), "Background saving started");
    assert_eq!(error(&mut c, &["BGSAVE"]), "ERR Background save already in progress");
    assert_eq!(status(&mut c, &["BGREWRITEAOF"]), "Background append only file rewriting scheduled");
    let i = persistence(&mut c);
    assert_eq!((i["rdb_bgsave_in_progress"].as_str(), i["aof_rewrite_in_progress"].as_str()), ("1", "0"), "{i:?}");
    assert_eq!(i["aof_rewrite_scheduled"], "1");
    assert_eq!(i["aof_pending_rewrite"], "1");
    // Asked again while still scheduled: still scheduled, not started twice.
    assert_eq!(status(&mut c, &["BGREWRITEAOF"]), "Background append only file rewriting scheduled");
    config_set(&mut c, "rdb-key-save-delay", "0");
    let _: () = c.set("during", "1").unwrap();
    wait_jobs(&mut c, "the scheduled rewrite", |i| {
        i["aof_rewrites"] == "1" && i["aof_rewrite_in_progress"] == "0" && i["aof_rewrite_scheduled"] == "0"
    });
    let i = persistence(&mut c);
    assert_eq!((i["rdb_saves"].as_str(), i["rdb_last_bgsave_status"].as_str()), ("1", "ok"), "{i:?}");
    assert_eq!(i["aof_last_bgrewrite_status"], "ok");
    let _: () = c.set("after", "1").unwrap();
    let before = dump_all(&mut c);
    srv.terminate();
    assert_no_temp_files(srv.dir.path());
    let srv = Server::start_in(srv.into_dir(true), AOF);
    assert_same(&before, &dump_all(&mut srv.conn()));
}

#[test]
fn bgsave_during_a_rewrite_is_refused_unless_scheduled() {
    // The save rule is due at once: the cron must hold it while the rewrite runs.
    let mut srv = Server::start(&["--appendonly", "yes", "--set", "save=1 1"]);
    let mut c = srv.conn();
    fill(&mut c, 300);
    config_set(&mut c, "rdb-key-save-delay", "5000");
    assert_eq!(status(&mut c, &["BGREWRITEAOF"]), "Background append only file rewriting started");
    assert_eq!(error(&mut c, &["BGREWRITEAOF"]), "ERR Background append only file rewriting already in progress");
    assert_eq!(
        error(&mut c, &["BGSAVE"]),
        "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible."
    );
    assert_eq!(error(&mut c, &["BGSAVE", "NOW"]), "ERR syntax error");
    assert_eq!(status(&mut c, &["BGSAVE", "SCHEDULE"]), "Background saving scheduled");
    let i = persistence(&mut c);
    assert_eq!((i["aof_rewrite_in_progress"].as_str(), i["rdb_bgsave_in_progress"].as_str()), ("1", "0"));
    assert_eq!(i["rdb_saves"], "0");
    config_set(&mut c, "rdb-key-save-delay", "0");
    wait_jobs(&mut c, "the scheduled save", |i| {
        i["rdb_saves"] != "0" && i["rdb_bgsave_in_progress"] == "0" && i["aof_rewrites"] == "1"
    });
    assert!(srv.dir.path().join("dump.rdb").exists());
    srv.terminate();
    assert_no_temp_files(srv.dir.path());
}

#[test]
fn bgsave_and_bgrewriteaof_inside_exec_are_scheduled() {
    let srv = Server::start(&[]);
    let mut c = srv.conn();
    let _: () = c.set("k", "v").unwrap();
    let (save, rewrite): (String, String) =
        redis::pipe().atomic().cmd("BGSAVE").cmd("BGREWRITEAOF").query(&mut c).unwrap();
    assert_eq!(save, "Background saving scheduled");
    assert_eq!(rewrite, "Background append only file rewriting scheduled");
    wait_jobs(&mut c, "both scheduled jobs", |i| {
        i["rdb_saves"] == "1" && i["aof_rewrites"] == "1" && i["rdb_bgsave_in_progress"] == "0"
    });
    assert!(srv.dir.path().join("dump.rdb").exists());
    assert!(srv.dir.path().join("appendonlydir").join("appendonly.aof.manifest").exists());
}

/// A writer for the CONFIG SET tests: SET w:n for n = 0, 1 … until the
/// connection fails or `stop`; returns the acknowledged n.
fn spawn_acked_writer(srv: &Server, stop: Arc<AtomicBool>, acks: Arc<AtomicU64>) -> std::thread::JoinHandle<u64> {
    let mut c = srv.conn();
    std::thread::spawn(move || {
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) && c.set::<_, _, ()>(format!("w:{n}"), format!("v{n}")).is_ok() {
            n += 1;
            acks.store(n, Ordering::Relaxed);
        }
        n
    })
}

#[test]
fn config_set_appendonly_yes_returns_at_once_and_keeps_every_acknowledged_write() {
    let mut srv = Server::start(&["--appendfsync", "always"]);
    let mut c = srv.conn();
    fill(&mut c, 500);
    config_set(&mut c, "rdb-key-save-delay", "4000");
    let (stop, acks) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicU64::new(0)));
    let w = spawn_acked_writer(&srv, stop.clone(), acks.clone());
    wait_for(20, "writes before", || acks.load(Ordering::Relaxed) >= 50);
    let t0 = Instant::now();
    config_set(&mut c, "appendonly", "yes");
    let took = t0.elapsed();
    // The base takes the child 500 × 4 ms: it is still being written.
    let i = persistence(&mut c);
    assert_eq!((i["aof_enabled"].as_str(), i["aof_rewrite_in_progress"].as_str()), ("1", "1"), "{i:?}");
    assert!(took < Duration::from_secs(1), "CONFIG SET took {took:?}");
    let _: () = c.set("k:0", "changed while the base is written").unwrap();
    config_set(&mut c, "rdb-key-save-delay", "0");
    wait_jobs(&mut c, "the first rewrite", |i| i["aof_rewrites"] == "1" && i["aof_rewrite_in_progress"] == "0");
    let i = persistence(&mut c);
    assert_eq!((i["aof_last_bgrewrite_status"].as_str(), i["aof_rewrite_scheduled"].as_str()), ("ok", "0"));
    let after = acks.load(Ordering::Relaxed);
    wait_for(20, "writes after", || acks.load(Ordering::Relaxed) >= after + 100);
    let _: () = c.set("last", "1").unwrap();
    // appendfsync always: whatever was acknowledged survives kill -9.
    srv.kill9();
    let acked = w.join().unwrap();
    let srv = Server::start_in(srv.into_dir(false), AOF);
    let mut c = srv.conn();
    assert_eq!(c.get::<_, String>("k:0").unwrap(), "changed while the base is written");
    assert_eq!(c.get::<_, String>("k:499").unwrap(), kval(499, 'x'));
    assert_eq!(c.get::<_, String>("last").unwrap(), "1");
    let mut p = redis::pipe();
    for n in 0..acked {
        p.get(format!("w:{n}"));
    }
    let got: Vec<Option<String>> = p.query(&mut c).unwrap();
    for (n, v) in got.into_iter().enumerate() {
        assert_eq!(v, Some(format!("v{n}")), "acknowledged SET w:{n} lost ({acked} acknowledged)");
    }
}

#[test]
fn config_set_appendonly_yes_during_a_bgsave_schedules_the_rewrite() {
    let mut srv = Server::start(&[]);
    let mut c = srv.conn();
    populate(&mut c);
    fill(&mut c, 300);
    config_set(&mut c, "rdb-key-save-delay", "5000");
    assert_eq!(status(&mut c, &["BGSAVE"]), "Background saving started");
    config_set(&mut c, "appendonly", "yes");
    let i = persistence(&mut c);
    assert_eq!(i["aof_enabled"], "1");
    assert_eq!((i["aof_rewrite_scheduled"].as_str(), i["aof_rewrite_in_progress"].as_str()), ("1", "0"), "{i:?}");
    config_set(&mut c, "rdb-key-save-delay", "0");
    let _: () = c.set("during", "1").unwrap();
    wait_jobs(&mut c, "the scheduled first rewrite", |i| {
        i["aof_rewrites"] == "1" && i["aof_rewrite_in_progress"] == "0" && i["aof_rewrite_scheduled"] == "0"
    });
    assert_eq!(persistence(&mut c)["rdb_last_bgsave_status"], "ok");
    let _: () = c.set("after", "1").unwrap();
    let before = dump_all(&mut c);
    srv.terminate();
    assert_no_temp_files(srv.dir.path());
    std::fs::remove_file(srv.dir.path().join("dump.rdb")).unwrap();
    let srv = Server::start_in(srv.into_dir(true), AOF);
    assert_same(&before, &dump_all(&mut srv.conn()));
}

#[test]
fn appendonly_no_during_the_first_rewrite_stops_it_cleanly() {
    let srv = Server::start(&[]);
    let mut c = srv.conn();
    fill(&mut c, 300);
    config_set(&mut c, "rdb-key-save-delay", "5000");
    config_set(&mut c, "appendonly", "yes");
    assert_eq!(persistence(&mut c)["aof_rewrite_in_progress"], "1");
    config_set(&mut c, "appendonly", "no");
    let i = persistence(&mut c);
    assert_eq!((i["aof_enabled"].as_str(), i["aof_rewrite_in_progress"].as_str()), ("0", "0"), "{i:?}");
    assert_eq!((i["aof_rewrite_scheduled"].as_str(), i["aof_last_bgrewrite_status"].as_str()), ("0", "ok"));
    assert_no_temp_files(srv.dir.path());
    assert!(!srv.dir.path().join("appendonlydir").join("appendonly.aof.manifest").exists());
    // Nothing is left scheduled or running: a BGSAVE starts at once.
    config_set(&mut c, "rdb-key-save-delay", "0");
    assert_eq!(status(&mut c, &["BGSAVE"]), "Background saving started");
}

#[test]
fn shutdown_during_the_first_rewrite_still_writes_the_aof() {
    let mut srv = Server::start(&[]);
    let mut c = srv.conn();
    fill(&mut c, 300);
    config_set(&mut c, "rdb-key-save-delay", "20000");
    config_set(&mut c, "appendonly", "yes");
    let _: () = c.set("during", "1").unwrap();
    assert_eq!(persistence(&mut c)["aof_rewrite_in_progress"], "1");
    // The foreground base at shutdown is written without the delay.
    config_set(&mut c, "rdb-key-save-delay", "0");
    srv.terminate();
    assert_no_temp_files(srv.dir.path());
    let srv = Server::start_in(srv.into_dir(true), AOF);
    let mut c = srv.conn();
    assert_eq!(c.get::<_, String>("during").unwrap(), "1");
    assert_eq!(c.get::<_, String>("k:299").unwrap(), kval(299, 'x'));
}
