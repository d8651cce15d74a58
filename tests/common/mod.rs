//! Test harness: starts the real `inmemory-server` binary on a free port
//! and gives clients to it (the `redis` crate, or raw RESP over a socket).
//! The process is killed when the handle drops, and (Linux) when the test
//! process dies. The proxy's test harness includes this file too.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running server process.
pub struct Server {
    child: Child,
    /// Its plain TCP port.
    pub port: u16,
    /// Its data directory (removed on drop unless kept).
    pub dir: tempfile::TempDir,
    /// Lines the server logged after start (collected in the background).
    pub log: mpsc::Receiver<String>,
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// Path of the `inmemory-server` binary. In the root package's tests cargo
/// names it (`CARGO_BIN_EXE_inmemory-server`). Other packages that include
/// this file (the proxy's tests, with `#[path]`) get the one in the running
/// test's target directory, built once with `cargo build` when absent (as
/// after `cargo test -p inmemory-proxy` on a fresh tree).
pub fn server_bin() -> PathBuf {
    match option_env!("CARGO_BIN_EXE_inmemory-server") {
        Some(bin) => PathBuf::from(bin),
        None => workspace_server_bin(),
    }
}

/// `<target>/<profile>/inmemory-server`, next to the directory of the
/// running test executable (`<target>/<profile>/deps/`); built on first use
/// if missing.
fn workspace_server_bin() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable path");
        let profile_dir = exe.parent().and_then(Path::parent).expect("target profile directory");
        let bin = profile_dir.join("inmemory-server");
        if !bin.exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let ok = Command::new(cargo)
                .args(["build", "-p", "inmemory", "--bin", "inmemory-server"])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .status()
                .expect("run cargo build");
            assert!(ok.success(), "building inmemory-server failed");
        }
        assert!(bin.exists(), "no inmemory-server at {}", bin.display());
        bin
    })
    .clone()
}

/// Makes the child started by `cmd` get SIGKILL when the thread that spawns
/// it exits (Linux `PR_SET_PDEATHSIG`), so a test process killed by a signal
/// leaves no server or proxy behind. The signal follows the spawning
/// *thread*: spawn from the test's own thread, not from a helper thread that
/// ends before the test does. Elsewhere than Linux: does nothing.
pub fn die_with_parent(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: the hook runs in the forked child before exec and only makes
        // async-signal-safe system calls (prctl, getppid); it allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent died before prctl took effect: no signal will come.
                if libc::getppid() != parent {
                    return Err(std::io::Error::other("parent exited during spawn"));
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}

/// Spawns `cmd` (with `RUST_LOG=info`, piped output, no stdin, and
/// [`die_with_parent`]) and waits up to 30 s for it to log "Ready to accept
/// connections". Gives back the child and a receiver of the lines it logs
/// from then on (stdout and stderr, read by two background threads); on
/// failure the child is killed and the error holds what it printed.
pub fn spawn_ready(mut cmd: Command) -> Result<(Child, mpsc::Receiver<String>), String> {
    cmd.env("RUST_LOG", "info").stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null());
    die_with_parent(&mut cmd);
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx2.send(line);
        }
    });
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line.contains("Ready to accept connections") => return Ok((child, rx)),
            Ok(line) => seen.push(line),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no ready line; output: {}", seen.join("\n")));
            }
        }
    }
}

/// [`spawn_ready`] for a server that must come back on a port it had
/// before (a replica or Sentinel knows it by that address). Once freed, the
/// kernel may lend the port to another test's `bind(0)` or outgoing
/// connection for a moment; while the start fails with EADDRINUSE it is
/// tried again, for up to 20 s. Any other failure is returned at once.
pub fn spawn_ready_again(make: impl Fn() -> Command) -> Result<(Child, mpsc::Receiver<String>), String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match spawn_ready(make()) {
            Err(e) if e.contains("Address already in use") && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100))
            }
            other => return other,
        }
    }
}

/// The command line of a data server on `port` with its data in `dir`,
/// saving disabled, plus `extra` flags.
pub fn server_command(port: u16, dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(server_bin());
    cmd.arg("--port").arg(port.to_string()).arg("--dir").arg(dir).arg("--save").arg("");
    cmd.args(extra);
    cmd
}

impl Server {
    /// Starts a server with default settings plus `extra` flags.
    pub fn start(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        Self::start_in(dir, extra)
    }

    /// Starts a server whose `--dir` is `dir` (to restart on the same data).
    pub fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Server {
        let mut last_err = String::new();
        for _ in 0..5 {
            let port = free_port();
            match Self::try_start(dir.path(), port, extra) {
                Ok((child, log)) => return Server { child, port, dir, log },
                Err(e) => last_err = e,
            }
        }
        panic!("server did not start: {last_err}");
    }

    fn try_start(dir: &Path, port: u16, extra: &[&str]) -> Result<(Child, mpsc::Receiver<String>), String> {
        spawn_ready(server_command(port, dir, extra))
    }

    /// `redis://127.0.0.1:port/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A synchronous RESP2 connection from the `redis` crate.
    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url()).expect("client").get_connection().expect("connect")
    }

    /// A synchronous RESP3 connection from the `redis` crate.
    pub fn conn3(&self) -> redis::Connection {
        redis::Client::open(format!("{}?protocol=resp3", self.url()))
            .expect("client")
            .get_connection()
            .expect("connect")
    }

    /// An async multiplexed connection.
    pub async fn aconn(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url()).expect("client").get_multiplexed_async_connection().await.expect("connect")
    }

    /// A RESP3 multiplexed connection from the `redis` crate whose push
    /// frames (pub/sub messages, invalidations) arrive on the receiver.
    pub async fn push_conn(
        &self,
    ) -> (redis::aio::MultiplexedConnection, tokio::sync::mpsc::UnboundedReceiver<redis::PushInfo>) {
        let client = redis::Client::open(format!("{}?protocol=resp3", self.url())).expect("client");
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let config = redis::AsyncConnectionConfig::new().set_push_sender(tx);
        let con = client.get_multiplexed_async_connection_with_config(&config).await.expect("connect");
        (con, rx)
    }

    /// A raw socket to the server.
    pub fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }

    /// Stops the server with SIGTERM and waits for it (graceful shutdown path).
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).stderr(Stdio::null()).status();
        self.child.wait().expect("wait")
    }

    /// Kills the server with SIGKILL (crash) and waits for it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the process and gives back its data directory (for a restart).
    pub fn into_dir(mut self, graceful: bool) -> tempfile::TempDir {
        if graceful {
            self.terminate();
        } else {
            self.kill9();
        }
        std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A parsed RESP reply, for raw-socket tests.
#[derive(Debug, Clone, PartialEq)]
pub enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Resp>>),
    /// RESP3 types, kept as their type byte and raw line/children.
    Null,
    Map(Vec<(Resp, Resp)>),
    Set(Vec<Resp>),
    Double(String),
    Bool(bool),
    Verbatim(Vec<u8>),
    Push(Vec<Resp>),
}

/// A raw connection: write bytes, read RESP replies.
pub struct Raw {
    pub r: BufReader<TcpStream>,
    pub w: TcpStream,
}

impl Raw {
    /// Connects to 127.0.0.1:`port` (reads time out after 30 s).
    pub fn connect(port: u16) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        Raw { r: BufReader::new(s.try_clone().expect("clone")), w: s }
    }

    /// Sends raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).expect("write");
    }

    /// Sends a command as a RESP multibulk.
    pub fn cmd(&mut self, args: &[&[u8]]) {
        self.send(&encode_cmd(args));
    }

    /// Sends a command of binary arguments and reads its reply.
    pub fn call_bytes(&mut self, args: &[&[u8]]) -> Resp {
        self.cmd(args);
        self.read()
    }

    /// Reads one reply.
    pub fn read(&mut self) -> Resp {
        read_resp(&mut self.r).expect("read reply")
    }

    /// Sends a command without reading its reply (a blocking command, a
    /// pipeline).
    pub fn send_cmd(&mut self, args: &[&str]) {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.cmd(&a);
    }

    /// Sends a command built from owned strings and reads its reply.
    pub fn call_owned(&mut self, args: &[String]) -> Resp {
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        self.call(&a)
    }

    /// Sends a command and reads its reply.
    pub fn call(&mut self, args: &[&str]) -> Resp {
        self.send_cmd(args);
        self.read()
    }

    /// True once the server closed the connection (read returns 0).
    pub fn is_closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.r.read(&mut b), Ok(0))
    }
}

/// Encodes a command as a RESP array of bulk strings.
pub fn encode_cmd(args: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::new();
    inmemory::protocol::reply::encode_request(&mut v, args);
    v
}

fn read_line(r: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed"));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Reads one RESP2/RESP3 reply.
pub fn read_resp(r: &mut impl BufRead) -> std::io::Result<Resp> {
    let line = read_line(r)?;
    let (t, rest) = line.split_at(1);
    let n = || rest.parse::<i64>().unwrap_or(-1);
    Ok(match t {
        "+" => Resp::Simple(rest.into()),
        "-" => Resp::Error(rest.into()),
        ":" => Resp::Int(n()),
        "$" | "=" => {
            if n() < 0 {
                Resp::Bulk(None)
            } else {
                let mut b = vec![0u8; n() as usize + 2];
                r.read_exact(&mut b)?;
                b.truncate(n() as usize);
                if t == "=" {
                    Resp::Verbatim(b[4..].to_vec())
                } else {
                    Resp::Bulk(Some(b))
                }
            }
        }
        "*" | "~" | ">" => {
            if n() < 0 {
                Resp::Array(None)
            } else {
                let items = (0..n()).map(|_| read_resp(r)).collect::<Result<Vec<_>, _>>()?;
                match t {
                    "~" => Resp::Set(items),
                    ">" => Resp::Push(items),
                    _ => Resp::Array(Some(items)),
                }
            }
        }
        "%" => {
            let mut m = Vec::new();
            for _ in 0..n() {
                let k = read_resp(r)?;
                let v = read_resp(r)?;
                m.push((k, v));
            }
            Resp::Map(m)
        }
        "_" => Resp::Null,
        "," => Resp::Double(rest.into()),
        "#" => Resp::Bool(rest == "t"),
        _ => Resp::Error(format!("unparsed: {line}")),
    })
}

/// Shorthand for a bulk reply.
pub fn bulk(s: &str) -> Resp {
    Resp::Bulk(Some(s.as_bytes().to_vec()))
}

/// Shorthand for an error reply's text.
pub fn err(s: &str) -> Resp {
    Resp::Error(s.into())
}

/// The `+OK` reply.
pub fn ok() -> Resp {
    Resp::Simple("OK".into())
}

/// An integer reply.
pub fn int(n: i64) -> Resp {
    Resp::Int(n)
}

/// A status reply.
pub fn status(s: &str) -> Resp {
    Resp::Simple(s.into())
}

/// The null bulk reply.
pub fn nil() -> Resp {
    Resp::Bulk(None)
}

/// An array of bulk strings.
pub fn bulks(items: &[&str]) -> Resp {
    Resp::Array(Some(items.iter().map(|s| bulk(s)).collect()))
}

/// An array of integers.
pub fn ints(items: &[i64]) -> Resp {
    Resp::Array(Some(items.iter().map(|&n| Resp::Int(n)).collect()))
}

/// The null array reply (`*-1`).
pub fn nil_array() -> Resp {
    Resp::Array(None)
}

/// LMPOP/BLMPOP's `[key, [elements]]`.
pub fn keyed(key: &str, items: &[&str]) -> Resp {
    Resp::Array(Some(vec![bulk(key), bulks(items)]))
}

/// A string-like reply (bulk, verbatim, status, integer) as text.
pub fn text(r: Resp) -> String {
    match r {
        Resp::Bulk(Some(b)) | Resp::Verbatim(b) => String::from_utf8(b).unwrap(),
        Resp::Simple(s) => s,
        Resp::Int(n) => n.to_string(),
        other => panic!("not a string: {other:?}"),
    }
}

/// The strings of a flat array (or RESP3 set) reply, in reply order.
pub fn strings(r: Resp) -> Vec<String> {
    let (Resp::Array(Some(items)) | Resp::Set(items)) = r else { panic!("not an array: {r:?}") };
    items.into_iter().map(text).collect()
}

/// The strings of a flat array (or RESP3 set) reply, sorted: for replies
/// in no particular order (SMEMBERS, KEYS).
pub fn sorted_strings(r: Resp) -> Vec<String> {
    let mut v = strings(r);
    v.sort();
    v
}

/// `OBJECT ENCODING key` as text.
pub fn encoding(c: &mut Raw, key: &str) -> String {
    text(c.call(&["OBJECT", "ENCODING", key]))
}

/// `rdb_changes_since_last_save`: how many modifications were counted.
pub fn dirty(c: &mut Raw) -> i64 {
    let info = text(c.call(&["INFO", "persistence"]));
    info_field(&info, "rdb_changes_since_last_save").and_then(|v| v.parse().ok()).expect("rdb_changes_since_last_save")
}

/// `used_memory`: the bytes the server's allocator holds.
pub fn used_memory(c: &mut Raw) -> i64 {
    info_field(&text(c.call(&["INFO", "memory"])), "used_memory").and_then(|v| v.parse().ok()).expect("used_memory")
}

/// One `name:value` field of an INFO text.
pub fn info_field(info: &str, name: &str) -> Option<String> {
    info.lines().find_map(|l| l.strip_prefix(&format!("{name}:")).map(|v| v.trim().to_string()))
}

/// Polls `cond` every 10 ms until it holds or `secs` pass; whether it held.
pub fn wait_until(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// Polls `cond` until it holds; fails the test after `secs`, naming `what`.
pub fn wait_for(secs: u64, what: &str, cond: impl FnMut() -> bool) {
    assert!(wait_until(secs, cond), "timed out waiting for {what}");
}

/// An array reply of `items`.
pub fn arr(items: Vec<Resp>) -> Resp {
    Resp::Array(Some(items))
}

/// `blocked_clients` from INFO clients.
pub fn blocked_clients(c: &mut Raw) -> usize {
    let info = text(c.call(&["INFO", "clients"]));
    info_field(&info, "blocked_clients").and_then(|v| v.parse().ok()).expect("blocked_clients in INFO clients")
}

/// Polls INFO until exactly `n` clients are blocked (10 s deadline).
pub fn wait_blocked(c: &mut Raw, n: usize) {
    wait_for(10, &format!("{n} blocked clients"), || blocked_clients(c) == n);
}

/// The elements of an array reply (panics on anything else).
pub fn items(r: Resp) -> Vec<Resp> {
    match r {
        Resp::Array(Some(v)) => v,
        other => panic!("not an array: {other:?}"),
    }
}

/// The value of an integer reply (panics on anything else).
pub fn num(r: &Resp) -> i64 {
    match r {
        Resp::Int(n) => *n,
        other => panic!("not an integer: {other:?}"),
    }
}

/// A real `redis-server` started by a test (for interop and comparison
/// tests), without persistence, killed on drop.
pub struct RealRedis {
    child: Child,
    /// Its port.
    pub port: u16,
    /// Its working directory.
    pub dir: tempfile::TempDir,
}

impl RealRedis {
    /// `redis-server` on a free port with `extra` flags, or `None` (after
    /// saying so on stderr) when it is not installed.
    pub fn start(extra: &[&str]) -> Option<RealRedis> {
        Self::start_in(tempfile::tempdir().expect("tempdir"), extra)
    }

    /// As [`RealRedis::start`], working in `dir` (to load a dump put there).
    pub fn start_in(dir: tempfile::TempDir, extra: &[&str]) -> Option<RealRedis> {
        if Command::new("redis-server").arg("--version").output().is_err() {
            eprintln!("SKIPPED: redis-server is not installed; the comparison did not run");
            return None;
        }
        let mut last_err = String::new();
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = Command::new("redis-server");
            cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
            cmd.arg("--dir").arg(dir.path()).args(extra);
            match spawn_ready(cmd) {
                Ok((child, _log)) => return Some(RealRedis { child, port, dir }),
                Err(e) => last_err = e,
            }
        }
        panic!("redis-server did not start: {last_err}");
    }

    /// A raw RESP connection to it.
    pub fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }

    /// A `redis` crate connection to it.
    pub fn conn(&self) -> redis::Connection {
        let client = redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).expect("client");
        client.get_connection().expect("connect to redis-server")
    }
}

impl Drop for RealRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real `redis-sentinel` started by a test, monitoring one primary as
/// `mymaster` with quorum 1, a two-second `down-after-milliseconds` and a
/// ten-second `failover-timeout`; killed on drop. Not one second: Sentinel
/// pings every min(down-after, 1 s), and after a switch it links to the new
/// primary afresh, so with one second its first PONG could arrive just
/// after the deadline (seen: `+sdown` 1.003 s after `+switch-master`,
/// `-sdown` 87 ms later) and it failed over a second time.
pub struct Sentinel {
    child: Child,
    /// Its port.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Sentinel {
    /// Sentinel watching 127.0.0.1:`primary`, once it answers PING; `None`
    /// (after saying so on stderr) when redis-sentinel is not installed.
    pub fn start(primary: u16) -> Option<Sentinel> {
        if Command::new("redis-sentinel").arg("--version").output().is_err() {
            eprintln!("SKIPPED: redis-sentinel is not installed; the failover test did not run");
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let conf = dir.path().join("sentinel.conf");
        let text = format!(
            "port {port}\nbind 127.0.0.1\ndir {}\nsentinel monitor mymaster 127.0.0.1 {primary} 1\n\
             sentinel down-after-milliseconds mymaster 2000\nsentinel failover-timeout mymaster 10000\n\
             sentinel parallel-syncs mymaster 1\nlogfile {}\n",
            dir.path().display(),
            dir.path().join("sentinel.log").display()
        );
        std::fs::write(&conf, text).expect("write sentinel.conf");
        let mut cmd = Command::new("redis-sentinel");
        cmd.arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).stdin(Stdio::null());
        die_with_parent(&mut cmd);
        let child = cmd.spawn().expect("spawn redis-sentinel");
        let s = Sentinel { child, port, _dir: dir };
        wait_for(20, "sentinel answers PING", || {
            TcpStream::connect(("127.0.0.1", port)).is_ok() && Raw::connect(port).call(&["PING"]) == status("PONG")
        });
        Some(s)
    }

    /// Sends a command on a new connection and reads its reply.
    pub fn call(&self, args: &[&str]) -> Resp {
        Raw::connect(self.port).call(args)
    }

    /// Sentinel's notices and warnings so far (its `+sdown`, `+switch-master`,
    /// `+convert-to-slave`… events), for a failing test to show what
    /// Sentinel decided and when.
    pub fn events(&self) -> String {
        let log = std::fs::read_to_string(self._dir.path().join("sentinel.log")).unwrap_or_default();
        log.lines().filter(|l| l.contains(" # ") || l.contains(" * ")).collect::<Vec<_>>().join("\n")
    }

    /// The port of `mymaster`'s primary as Sentinel reports it.
    pub fn primary_port(&self) -> Option<u16> {
        match self.call(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"]) {
            Resp::Array(Some(addr)) if addr.len() == 2 => match &addr[1] {
                Resp::Bulk(Some(p)) => String::from_utf8_lossy(p).parse().ok(),
                _ => None,
            },
            _ => None,
        }
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
