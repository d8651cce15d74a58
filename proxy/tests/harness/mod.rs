//! Test harness for the proxy: starts real `inmemory-server` processes and
//! a real `inmemory-proxy` in front of them, on free 127.0.0.1 ports.
//!
//! The data server binary is found next to the proxy binary in the shared
//! target directory; when it is missing (`cargo test -p inmemory-proxy` on
//! a fresh tree) it is built once with `cargo build -p inmemory --bin
//! inmemory-server`. Every process is killed when its handle drops.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// The proxy binary under test.
pub fn proxy_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_inmemory-proxy"))
}

/// The data server binary (built on first use if absent).
pub fn server_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let proxy = proxy_bin();
        let dir = proxy.parent().expect("bin dir");
        let bin = dir.join("inmemory-server");
        if !bin.exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
            let ok = Command::new(cargo)
                .args(["build", "-p", "inmemory", "--bin", "inmemory-server"])
                .current_dir(root)
                .status()
                .expect("run cargo build");
            assert!(ok.success(), "building inmemory-server failed");
        }
        assert!(bin.exists(), "no inmemory-server at {}", bin.display());
        bin
    })
    .clone()
}

/// A running process that printed "Ready to accept connections".
pub struct Proc {
    child: Child,
    /// Lines it logged after start.
    pub log: mpsc::Receiver<String>,
}

impl Proc {
    fn spawn(mut cmd: Command) -> Result<Proc, String> {
        cmd.env("RUST_LOG", "info").stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null());
        let mut child = cmd.spawn().map_err(|e| e.to_string())?;
        let (tx, rx) = mpsc::channel();
        for out in [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
            child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        let mut seen = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) if line.contains("Ready to accept connections") => return Ok(Proc { child, log: rx }),
                Ok(line) => seen.push(line),
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("no ready line; output: {}", seen.join("\n")));
                }
            }
        }
    }

    /// SIGKILL and wait.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Log lines so far.
    pub fn drain_log(&self) -> Vec<String> {
        self.log.try_iter().collect()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A data server.
pub struct DataServer {
    pub proc: Proc,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl DataServer {
    /// Starts a data server on a free port.
    pub fn start() -> DataServer {
        let mut last = String::new();
        for _ in 0..5 {
            match Self::start_on(free_port()) {
                Ok(s) => return s,
                Err(e) => last = e,
            }
        }
        panic!("data server did not start: {last}");
    }

    /// Starts a data server on `port` (to bring a killed one back).
    pub fn start_on(port: u16) -> Result<DataServer, String> {
        Self::start_with(port, &[])
    }

    /// Starts a data server on `port` with `extra` flags.
    pub fn start_with(port: u16, extra: &[&str]) -> Result<DataServer, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(server_bin());
        cmd.arg("--port").arg(port.to_string()).arg("--dir").arg(dir.path()).arg("--save").arg("");
        cmd.args(extra);
        Ok(DataServer { proc: Proc::spawn(cmd)?, port, dir })
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A direct connection (bypassing the proxy).
    pub fn conn(&self) -> redis::Connection {
        connect(self.port, false)
    }

    /// Keys stored on this server.
    pub fn dbsize(&self) -> i64 {
        redis::cmd("DBSIZE").query(&mut self.conn()).expect("dbsize")
    }
}

/// A proxy process with its own servers.json.
pub struct Proxy {
    pub proc: Proc,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

/// A servers.json listing `servers` with weight 500.
pub fn servers_json(servers: &[&DataServer]) -> String {
    let items: Vec<String> =
        servers.iter().map(|s| format!("{{\"addr\": \"{}\", \"weight\": 500}}", s.addr())).collect();
    format!("[\n  {}\n]\n", items.join(",\n  "))
}

impl Proxy {
    /// Starts a proxy whose servers.json holds `json`, plus `extra` flags.
    pub fn start(json: &str, extra: &[&str]) -> Proxy {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("servers.json"), json).expect("write servers.json");
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let mut cmd = Command::new(proxy_bin());
            cmd.arg("--port").arg(port.to_string()).arg("--servers").arg(dir.path().join("servers.json"));
            cmd.args(extra);
            match Proc::spawn(cmd) {
                Ok(proc) => return Proxy { proc, port, dir },
                Err(e) => last = e,
            }
        }
        panic!("proxy did not start: {last}");
    }

    /// Path of its servers.json.
    pub fn servers_path(&self) -> PathBuf {
        self.dir.path().join("servers.json")
    }

    /// Replaces servers.json the way editors save: write a new file, rename it over.
    pub fn write_servers(&self, json: &str) {
        let tmp = self.dir.path().join(".servers.json.tmp");
        std::fs::write(&tmp, json).expect("write");
        std::fs::rename(&tmp, self.servers_path()).expect("rename");
    }

    /// A RESP2 client connection through the proxy.
    pub fn conn(&self) -> redis::Connection {
        connect(self.port, false)
    }

    /// A RESP3 client connection through the proxy.
    pub fn conn3(&self) -> redis::Connection {
        connect(self.port, true)
    }

    /// A raw socket to the proxy.
    pub fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }

    /// One field of the proxy's INFO.
    pub fn info_field(&self, field: &str) -> Option<String> {
        let text: String = redis::cmd("INFO").query(&mut self.conn()).ok()?;
        text.lines().find_map(|l| l.strip_prefix(field)?.strip_prefix(':').map(|v| v.trim().to_string()))
    }

    /// Polls INFO until `field` equals `want` (true) or `secs` pass (false).
    pub fn wait_info(&self, field: &str, want: &str, secs: u64) -> bool {
        wait_until(secs, || self.info_field(field).as_deref() == Some(want))
    }
}

/// Polls `cond` every 20 ms for up to `secs` seconds.
pub fn wait_until(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// A `redis` crate connection to 127.0.0.1:port.
pub fn connect(port: u16, resp3: bool) -> redis::Connection {
    let url =
        if resp3 { format!("redis://127.0.0.1:{port}/?protocol=resp3") } else { format!("redis://127.0.0.1:{port}/") };
    let c = redis::Client::open(url).expect("client").get_connection().expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    c
}

/// A RESP reply read from a raw socket.
#[derive(Debug, Clone, PartialEq)]
pub enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Resp>>),
    Null,
    Map(Vec<(Resp, Resp)>),
    Set(Vec<Resp>),
    Double(String),
    Bool(bool),
    Verbatim(Vec<u8>),
}

/// A raw client connection.
pub struct Raw {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Raw {
    /// Connects to 127.0.0.1:port.
    pub fn connect(port: u16) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        Raw { r: BufReader::new(s.try_clone().expect("clone")), w: s }
    }

    /// Sends bytes as they are.
    pub fn send(&mut self, b: &[u8]) {
        self.w.write_all(b).expect("write");
    }

    /// Reads one reply.
    pub fn read(&mut self) -> Resp {
        read_resp(&mut self.r).expect("read reply")
    }

    /// Sends one command and reads its reply.
    pub fn call(&mut self, args: &[&str]) -> Resp {
        self.send(&encode(args));
        self.read()
    }

    /// True once the other side closed.
    pub fn is_closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.r.read(&mut b), Ok(0))
    }
}

/// A command as a RESP multibulk.
pub fn encode(args: &[&str]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
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
    let n: i64 = rest.parse().unwrap_or(-1);
    Ok(match t {
        "+" => Resp::Simple(rest.into()),
        "-" => Resp::Error(rest.into()),
        ":" => Resp::Int(n),
        "$" | "=" if n < 0 => Resp::Bulk(None),
        "$" | "=" => {
            let mut b = vec![0u8; n as usize + 2];
            r.read_exact(&mut b)?;
            b.truncate(n as usize);
            if t == "=" {
                Resp::Verbatim(b[4..].to_vec())
            } else {
                Resp::Bulk(Some(b))
            }
        }
        "*" if n < 0 => Resp::Array(None),
        "*" | "~" => {
            let items = (0..n).map(|_| read_resp(r)).collect::<Result<Vec<_>, _>>()?;
            if t == "~" {
                Resp::Set(items)
            } else {
                Resp::Array(Some(items))
            }
        }
        "%" => {
            let mut m = Vec::new();
            for _ in 0..n {
                m.push((read_resp(r)?, read_resp(r)?));
            }
            Resp::Map(m)
        }
        "_" => Resp::Null,
        "," => Resp::Double(rest.into()),
        "#" => Resp::Bool(rest == "t"),
        _ => Resp::Error(format!("unparsed: {line}")),
    })
}

/// A bulk reply.
pub fn bulk(s: &str) -> Resp {
    Resp::Bulk(Some(s.as_bytes().to_vec()))
}
