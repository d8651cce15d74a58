//! Loading the dataset at start while clients are served, as Redis 7: the
//! listeners accept at once, commands without Redis's `loading` flag get
//! `-LOADING`, INFO reports `loading:1` and the `loading_*` progress, and
//! once the file is in (`loading:0`) everything is served. `key-load-delay`
//! makes the load slow; `CONFIG SET key-load-delay 0` lets it finish, so the
//! tests are deterministic without sleeping.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{bulk, err, free_port, info_field as field, int, ok, server_bin, status, Raw, Resp, Server};

const LOADING: &str = "LOADING Redis is loading the dataset in memory";

/// A server process started on a data directory that may still be loading.
struct Loading {
    child: Child,
    port: u16,
    log: mpsc::Receiver<String>,
    dir: tempfile::TempDir,
}

impl Loading {
    /// Starts the server on `dir` (saving disabled unless `extra` says
    /// otherwise) and returns once it accepts connections ("Server
    /// initialized"), before its data may be loaded.
    fn start(dir: tempfile::TempDir, extra: &[&str]) -> Loading {
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(server_bin())
                .args(["--port", &port.to_string(), "--dir", dir.path().to_str().unwrap(), "--save", ""])
                .args(extra)
                .env("RUST_LOG", "info")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn server");
            let (tx, log) = mpsc::channel();
            for out in [
                Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
                Box::new(child.stderr.take().unwrap()),
            ] {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for line in BufReader::new(out).lines().map_while(Result::ok) {
                        let _ = tx.send(line);
                    }
                });
            }
            let mut seen = Vec::new();
            loop {
                match log.recv_timeout(Duration::from_secs(30)) {
                    Ok(line) if line.contains("Server initialized") => return Loading { child, port, log, dir },
                    Ok(line) => seen.push(line),
                    Err(_) => break,
                }
            }
            let _ = child.kill();
            let _ = child.wait();
            last = seen.join("\n");
        }
        panic!("server did not start: {last}");
    }

    fn raw(&self) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        Raw { r: BufReader::new(s.try_clone().expect("clone")), w: s }
    }

    /// Waits (up to 20 s) for a log line containing `what`.
    fn wait_log(&self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(what) => return,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("no log line with {what:?}");
    }

    /// SIGTERM, then waits for the exit.
    fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        self.child.wait().expect("wait")
    }
}

impl Drop for Loading {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text of `INFO <section>`.
fn info(r: &mut Raw, section: &str) -> String {
    match r.call(&["INFO", section]) {
        Resp::Bulk(Some(b)) => String::from_utf8(b).unwrap(),
        other => panic!("INFO {section}: {other:?}"),
    }
}

/// Polls INFO persistence (no sleeping) until `loading:0`, for at most 10 s.
fn wait_loaded(r: &mut Raw) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = info(r, "persistence");
        if field(&text, "loading").as_deref() == Some("0") {
            assert_eq!(field(&text, "loading_total_bytes"), None, "loading_* fields only while loading");
            return;
        }
        assert!(Instant::now() < deadline, "still loading after 10 s: {text}");
    }
}

/// Writes `n` string keys `k<i>` = `v<i>` in one pipeline.
fn fill(r: &mut Raw, n: usize) {
    for i in 0..n {
        r.call(&["SET", &format!("k{i}"), &format!("v{i}")]);
    }
}

/// A data directory holding a dump of `n` keys (and a list and a hash).
fn dump_of(n: usize) -> tempfile::TempDir {
    let srv = Server::start(&[]);
    let mut r = srv.raw();
    fill(&mut r, n);
    assert_eq!(r.call(&["RPUSH", "list", "a", "b", "c"]), int(3));
    assert_eq!(r.call(&["HSET", "hash", "f", "v"]), int(1));
    assert_eq!(r.call(&["SAVE"]), ok());
    srv.into_dir(true)
}

#[test]
fn rdb_load_refuses_data_commands_until_loaded() {
    const N: usize = 200;
    let dir = dump_of(N);
    let size = std::fs::metadata(dir.path().join("dump.rdb")).unwrap().len();
    // 100 ms per key: the load lasts until the delay is lifted below.
    let srv = Loading::start(dir, &["--set", "key-load-delay=100000"]);
    let mut r = srv.raw();

    let text = info(&mut r, "persistence");
    assert_eq!(field(&text, "loading").as_deref(), Some("1"), "{text}");
    assert_eq!(field(&text, "loading_total_bytes"), Some(size.to_string()), "{text}");
    let loaded: u64 = field(&text, "loading_loaded_bytes").unwrap().parse().unwrap();
    assert!(loaded <= size, "{text}");
    let start: u64 = field(&text, "loading_start_time").unwrap().parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(start <= now && now - start < 60, "{text}");
    let perc: f64 = field(&text, "loading_loaded_perc").unwrap().parse().unwrap();
    assert!((0.0..=100.0).contains(&perc), "{text}");
    assert!(field(&text, "loading_eta_seconds").unwrap().parse::<u64>().is_ok(), "{text}");

    // Data commands (and PING, which lacks Redis's loading flag) are refused…
    for cmd in
        [&["GET", "k1"][..], &["SET", "x", "1"], &["DBSIZE"], &["PING"], &["SAVE"], &["OBJECT", "ENCODING", "k1"]]
    {
        assert_eq!(r.call(cmd), err(LOADING), "{cmd:?}");
    }
    assert_eq!(r.call(&["DEBUG", "RELOAD"]), err(LOADING));
    // … while the loading-flagged ones are served.
    assert_eq!(r.call(&["ECHO", "hi"]), bulk("hi"));
    assert_eq!(r.call(&["SELECT", "0"]), ok());
    assert!(matches!(r.call(&["TIME"]), Resp::Array(Some(v)) if v.len() == 2));
    assert!(matches!(r.call(&["CLIENT", "ID"]), Resp::Int(_)));
    assert!(matches!(r.call(&["OBJECT", "HELP"]), Resp::Array(Some(_))));
    assert_eq!(
        r.call(&["CONFIG", "GET", "key-load-delay"]),
        Resp::Array(Some(vec![bulk("key-load-delay"), bulk("100000")]))
    );
    // A transaction with a refused command is discarded at EXEC.
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["SET", "x", "1"]), err(LOADING));
    assert_eq!(r.call(&["EXEC"]), err("EXECABORT Transaction discarded because of previous errors."));
    assert_eq!(field(&info(&mut r, "persistence"), "loading").as_deref(), Some("1"));

    // Lift the delay: the load finishes, then everything is served.
    assert_eq!(r.call(&["CONFIG", "SET", "key-load-delay", "0"]), ok());
    wait_loaded(&mut r);
    srv.wait_log("Ready to accept connections");
    assert_eq!(r.call(&["PING"]), status("PONG"));
    assert_eq!(r.call(&["DBSIZE"]), int(N as i64 + 2));
    assert_eq!(r.call(&["GET", "k1"]), bulk("v1"));
    assert_eq!(r.call(&["GET", &format!("k{}", N - 1)]), bulk(&format!("v{}", N - 1)));
    assert_eq!(r.call(&["LRANGE", "list", "0", "-1"]), Resp::Array(Some(vec![bulk("a"), bulk("b"), bulk("c")])));
    assert_eq!(r.call(&["HGET", "hash", "f"]), bulk("v"));
    let text = info(&mut r, "persistence");
    assert_eq!(field(&text, "rdb_last_load_keys_loaded"), Some((N + 2).to_string()), "{text}");
    assert_eq!(r.call(&["SET", "x", "1"]), ok());
    // Writes after the load are a change to save; the loaded data is not.
    assert_eq!(field(&info(&mut r, "persistence"), "rdb_changes_since_last_save").as_deref(), Some("1"));
}

#[test]
fn a_slow_load_finishes_by_itself() {
    const N: usize = 40;
    let dir = dump_of(N);
    let started = Instant::now();
    // 10 ms per key (42 keys): at least 0.42 s of loading.
    let srv = Loading::start(dir, &["--set", "key-load-delay=10000"]);
    let mut r = srv.raw();
    wait_loaded(&mut r);
    assert!(started.elapsed() >= Duration::from_millis(420), "loaded in {:?}", started.elapsed());
    assert_eq!(r.call(&["DBSIZE"]), int(N as i64 + 2));
    assert_eq!(r.call(&["GET", "k7"]), bulk("v7"));
}

#[test]
fn aof_replay_is_a_load_too_and_the_log_continues_after_it() {
    const N: usize = 100;
    const AOF: &[&str] = &["--appendonly", "yes"];
    let srv = Server::start(AOF);
    let mut r = srv.raw();
    fill(&mut r, N);
    assert_eq!(r.call(&["RPUSH", "list", "a", "b"]), int(2));
    let dir = srv.into_dir(true);
    // The AOF is Redis 7's directory: the load reads every file its manifest lists.
    let size: u64 = std::fs::read_dir(dir.path().join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| !e.file_name().to_string_lossy().ends_with(".manifest"))
        .map(|e| e.metadata().unwrap().len())
        .sum();

    let srv = Loading::start(dir, &["--appendonly", "yes", "--set", "key-load-delay=100000"]);
    let mut r = srv.raw();
    let text = info(&mut r, "persistence");
    assert_eq!(field(&text, "loading").as_deref(), Some("1"), "{text}");
    assert_eq!(field(&text, "loading_total_bytes"), Some(size.to_string()), "{text}");
    assert_eq!(r.call(&["GET", "k1"]), err(LOADING));
    assert_eq!(r.call(&["SET", "k1", "lost"]), err(LOADING));
    assert_eq!(r.call(&["CONFIG", "SET", "key-load-delay", "0"]), ok());
    wait_loaded(&mut r);
    assert_eq!(r.call(&["GET", "k1"]), bulk("v1"));
    assert_eq!(r.call(&["DBSIZE"]), int(N as i64 + 1));
    // A write after the load reaches the log: it survives a restart.
    assert_eq!(r.call(&["SET", "after", "1"]), ok());
    drop(r);
    let mut srv = srv;
    assert!(srv.terminate().success());
    let dir = std::mem::replace(&mut srv.dir, tempfile::tempdir().unwrap());
    let srv = Server::start_in(dir, AOF);
    let mut r = srv.raw();
    assert_eq!(r.call(&["GET", "after"]), bulk("1"));
    assert_eq!(r.call(&["GET", "k1"]), bulk("v1"));
    assert_eq!(r.call(&["LRANGE", "list", "0", "-1"]), Resp::Array(Some(vec![bulk("a"), bulk("b")])));
}

#[test]
fn shutdown_while_loading_never_saves_the_partial_data() {
    let dir = dump_of(50);
    let dump = dir.path().join("dump.rdb");
    let before = std::fs::read(&dump).unwrap();
    // Save rules are set, so a normal shutdown would write a final dump.
    let mut srv = Loading::start(dir, &["--set", "key-load-delay=100000", "--save", "900 1"]);
    let mut r = srv.raw();
    assert_eq!(field(&info(&mut r, "persistence"), "loading").as_deref(), Some("1"));
    assert!(srv.terminate().success());
    assert_eq!(std::fs::read(&dump).unwrap(), before, "the dump was rewritten");
    let log: Vec<String> = srv.log.try_iter().collect();
    assert!(!log.iter().any(|l| l.contains("DB saved on disk")), "{log:?}");
}
