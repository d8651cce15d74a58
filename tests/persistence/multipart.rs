//! Redis 7's multi-part AOF (`appendonlydir/` with a manifest, an RDB base
//! and incremental files): interchange with the real `redis-server` in
//! both directions, and the upgrade of a single pre-7.0 `appendonly.aof`.

use super::*;

/// The manifest's lines of `dir/appendonlydir`, as (file, type).
fn manifest(dir: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(dir.join("appendonlydir").join("appendonly.aof.manifest")).unwrap();
    text.lines()
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            assert_eq!((w.len(), w[0], w[2], w[4]), (6, "file", "seq", "type"), "{l}");
            (w[1].to_string(), w[5].to_string())
        })
        .collect()
}

/// Copies the files of `from/appendonlydir` into `to/appendonlydir`.
fn copy_aof_dir(from: &Path, to: &Path) {
    let dest = to.join("appendonlydir");
    std::fs::create_dir_all(&dest).unwrap();
    for e in std::fs::read_dir(from.join("appendonlydir")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dest.join(e.file_name())).unwrap();
    }
}

/// redis-server on `dir` with `appendonly yes` and `appendfsync always`
/// (every acknowledged write on disk), or None when not installed.
fn redis_server_aof(dir: &Path) -> Option<Proc> {
    if Command::new("redis-server").arg("--version").output().is_err() {
        eprintln!("SKIPPED: redis-server is not installed; the interchange check did not run");
        return None;
    }
    let d = dir.to_str().unwrap();
    let args = ["--bind", "127.0.0.1", "--dir", d, "--save", "", "--appendonly", "yes", "--appendfsync", "always"];
    Some(Proc::spawn(Path::new("redis-server"), &args, "Ready to accept connections"))
}

/// Starts a rewrite and waits until it is done (the `aof_rewrites` count
/// of our server, or the in-progress flags of redis-server).
pub(super) fn rewrite_and_wait(c: &mut Connection) {
    let _: String = redis::cmd("BGREWRITEAOF").query(c).unwrap();
    wait_for(20, "rewrite end", || {
        info(c, "aof_rewrite_in_progress") == "0" && info(c, "aof_rewrite_scheduled") == "0"
    });
    assert_eq!(info(c, "aof_last_bgrewrite_status"), "ok");
}

/// More writes after a rewrite, so the incremental file holds some too.
fn more_writes(c: &mut Connection) {
    let _: () = c.set("after:s", "x").unwrap();
    let _: () = c.rpush("l:small", "appended").unwrap();
    let _: () = c.hset("after:h", "f", "v").unwrap();
    let _: () = c.del("s:empty").unwrap();
    let _: () = redis::cmd("SELECT").arg(2).query(c).unwrap();
    let _: () = c.set("after:db2", "y").unwrap();
    let _: () = redis::cmd("SELECT").arg(0).query(c).unwrap();
}

#[test]
fn a_multipart_aof_written_by_redis_loads_here() {
    let rdir = tempfile::tempdir().unwrap();
    let Some(redis) = redis_server_aof(rdir.path()) else { return };
    let mut rc = redis.conn();
    populate(&mut rc);
    rewrite_and_wait(&mut rc);
    more_writes(&mut rc);
    let before = dump_all(&mut rc);
    drop(rc);
    drop(redis); // kill -9: appendfsync always put every write on disk
    let m = manifest(rdir.path());
    assert!(m.iter().any(|(f, t)| t == "b" && f.ends_with(".base.rdb")), "{m:?}");
    let dir = tempfile::tempdir().unwrap();
    copy_aof_dir(rdir.path(), dir.path());
    let mut srv = Server::start_in(dir, &["--appendonly", "yes"]);
    let mut c = srv.conn();
    assert_same(&before, &dump_all(&mut c));
    // We keep appending to Redis's last incremental file, and load it back.
    let _: () = c.set("ours", "1").unwrap();
    let before = dump_all(&mut c);
    srv.terminate();
    assert_eq!(manifest(srv.dir.path()), m);
    let srv = Server::start_in(srv.into_dir(true), &["--appendonly", "yes"]);
    assert_same(&before, &dump_all(&mut srv.conn()));
}

#[test]
fn our_multipart_aof_loads_in_redis_after_a_kill9() {
    let mut srv = Server::start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = srv.conn();
    populate(&mut c);
    let first = manifest(srv.dir.path());
    rewrite_and_wait(&mut c);
    more_writes(&mut c);
    let before = dump_all(&mut c);
    let (base, current) = (info(&mut c, "aof_base_size"), info(&mut c, "aof_current_size"));
    let (base, current): (u64, u64) = (base.parse().unwrap(), current.parse().unwrap());
    assert!(base > 1000 && current > base, "base {base}, current {current}");
    srv.kill9();
    // The rewrite made a new base and incremental file and deleted the old ones.
    let m = manifest(srv.dir.path());
    assert_eq!(m.len(), 2, "{m:?}");
    assert_eq!(m[0], ("appendonly.aof.2.base.rdb".into(), "b".into()));
    assert_eq!(m[1], ("appendonly.aof.2.incr.aof".into(), "i".into()));
    assert!(first.iter().all(|(f, _)| !srv.dir.path().join("appendonlydir").join(f).exists()), "{first:?}");
    let rdir = tempfile::tempdir().unwrap();
    copy_aof_dir(srv.dir.path(), rdir.path());
    let srv = Server::start_in(srv.into_dir(false), &["--appendonly", "yes"]);
    assert_same(&before, &dump_all(&mut srv.conn()));
    let Some(redis) = redis_server_aof(rdir.path()) else { return };
    assert_same(&before, &dump_all(&mut redis.conn()));
}

#[test]
fn a_single_old_style_aof_is_loaded_and_moved_into_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut old = Vec::new();
    for cmd in [&["SET", "a", "1"][..], &["RPUSH", "l", "x", "y"], &["SELECT", "1"], &["SET", "b", "2"]] {
        old.extend_from_slice(format!("*{}\r\n", cmd.len()).as_bytes());
        for a in cmd {
            old.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
    }
    std::fs::write(dir.path().join("appendonly.aof"), &old).unwrap();
    let mut srv = Server::start_in(dir, &["--appendonly", "yes"]);
    let mut c = srv.conn();
    assert_eq!(c.get::<_, String>("a").unwrap(), "1");
    let _: () = c.set("c", "3").unwrap();
    srv.terminate();
    let d = srv.dir.path();
    assert!(!d.join("appendonly.aof").exists());
    assert_eq!(std::fs::read(d.join("appendonlydir").join("appendonly.aof")).unwrap(), old);
    let m = manifest(d);
    assert_eq!(m[0], ("appendonly.aof".into(), "b".into()));
    assert_eq!(m[1], ("appendonly.aof.1.incr.aof".into(), "i".into()));
    let srv = Server::start_in(srv.into_dir(true), &["--appendonly", "yes"]);
    let mut c = srv.conn();
    assert_eq!(c.get::<_, String>("c").unwrap(), "3");
    assert_eq!(c.lrange::<_, Vec<String>>("l", 0, -1).unwrap(), ["x", "y"]);
    let _: () = redis::cmd("SELECT").arg(1).query(&mut c).unwrap();
    assert_eq!(c.get::<_, String>("b").unwrap(), "2");
}

#[test]
fn a_truncated_incremental_file_that_is_not_the_last_refuses_to_start() {
    let mut srv = Server::start(&["--appendonly", "yes"]);
    let _: () = srv.conn().set("a", "1").unwrap();
    srv.terminate();
    let d = srv.dir.path().join("appendonlydir");
    // A second incremental file after a cut-off first one.
    let mut first = std::fs::OpenOptions::new().append(true).open(d.join("appendonly.aof.1.incr.aof")).unwrap();
    std::io::Write::write_all(&mut first, b"*3\r\n$3\r\nSET\r\n$1\r\nz").unwrap();
    std::fs::write(d.join("appendonly.aof.2.incr.aof"), b"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n").unwrap();
    let m = std::fs::read_to_string(d.join("appendonly.aof.manifest")).unwrap();
    std::fs::write(d.join("appendonly.aof.manifest"), m + "file appendonly.aof.2.incr.aof seq 2 type i\n").unwrap();
    let dir = srv.into_dir(true);
    let out = start_fails(dir.path(), &["--appendonly", "yes"]);
    assert!(out.contains("is not the last file"), "{out}");
}

#[test]
fn without_the_rdb_preamble_the_base_is_commands_and_loads_back() {
    let srv = Server::start(&["--appendonly", "yes", "--set", "aof-use-rdb-preamble=no"]);
    let mut c = srv.conn();
    populate(&mut c);
    rewrite_and_wait(&mut c);
    more_writes(&mut c);
    let before = dump_all(&mut c);
    let m = manifest(srv.dir.path());
    assert_eq!(m[0], ("appendonly.aof.2.base.aof".into(), "b".into()));
    let base = std::fs::read(srv.dir.path().join("appendonlydir").join(&m[0].0)).unwrap();
    assert!(base.starts_with(b"*"), "not RESP");
    let srv = Server::start_in(srv.into_dir(true), &["--appendonly", "yes"]);
    assert_same(&before, &dump_all(&mut srv.conn()));
}

#[test]
fn bgrewriteaof_with_the_aof_off_writes_a_base_only_directory() {
    let srv = Server::start(&[]);
    let mut c = srv.conn();
    populate(&mut c);
    let before = dump_all(&mut c);
    rewrite_and_wait(&mut c);
    assert_eq!(manifest(srv.dir.path()), [("appendonly.aof.1.base.rdb".to_string(), "b".to_string())]);
    let srv = Server::start_in(srv.into_dir(true), &["--appendonly", "yes"]);
    let mut c = srv.conn();
    assert_same(&before, &dump_all(&mut c));
    // Opening the log added an incremental file to the manifest.
    assert_eq!(manifest(srv.dir.path())[1], ("appendonly.aof.1.incr.aof".into(), "i".into()));
}

#[test]
fn the_load_progress_covers_every_file_of_the_directory() {
    let mut srv = Server::start(&["--appendonly", "yes"]);
    let mut c = srv.conn();
    populate(&mut c);
    rewrite_and_wait(&mut c);
    more_writes(&mut c);
    let before = dump_all(&mut c);
    srv.terminate();
    let aof_dir = srv.dir.path().join("appendonlydir");
    let total: u64 =
        manifest(srv.dir.path()).iter().map(|(f, _)| std::fs::metadata(aof_dir.join(f)).unwrap().len()).sum();
    let dir = srv.into_dir(true);
    let d = dir.path().to_str().unwrap();
    let args = ["--dir", d, "--save", "", "--appendonly", "yes", "--set", "key-load-delay=100000"];
    let p = Proc::spawn(&server_bin(), &args, "Server initialized");
    let mut c = p.conn();
    assert_eq!(info(&mut c, "loading"), "1");
    assert_eq!(info(&mut c, "loading_total_bytes"), total.to_string());
    let _: () = redis::cmd("CONFIG").arg("SET").arg("key-load-delay").arg("0").query(&mut c).unwrap();
    wait_for(20, "load end", || info(&mut c, "loading") == "0");
    assert_same(&before, &dump_all(&mut c));
}

#[test]
fn an_upgrade_cut_short_after_the_manifest_is_completed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let aof_dir = dir.path().join("appendonlydir");
    std::fs::create_dir_all(&aof_dir).unwrap();
    std::fs::write(aof_dir.join("appendonly.aof.manifest"), "file appendonly.aof seq 1 type b\n").unwrap();
    std::fs::write(dir.path().join("appendonly.aof"), "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n").unwrap();
    let srv = Server::start_in(dir, &["--appendonly", "yes"]);
    assert_eq!(srv.conn().get::<_, String>("a").unwrap(), "1");
    assert!(!srv.dir.path().join("appendonly.aof").exists());
    assert!(aof_dir.join("appendonly.aof").exists());
}
