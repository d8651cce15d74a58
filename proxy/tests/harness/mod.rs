//! Test harness for the proxy: starts real `inmemory-server` processes and
//! a real `inmemory-proxy` in front of them, on free 127.0.0.1 ports.
//!
//! Starting a process and waiting for its ready line, finding the data
//! server binary, and the raw RESP client come from the data server's
//! harness (`tests/common/mod.rs`, shared by path). Every process is killed
//! when its handle drops, and (Linux) when the test process dies.
#![allow(dead_code)]

#[path = "../../../tests/common/mod.rs"]
mod common;

pub use common::wait_until;

use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::Duration;

// Each test file uses a different part of what is re-exported.
#[allow(unused_imports)]
pub use common::{bulk, encode_cmd, free_port, Raw, Resp, Sentinel};

/// The proxy binary under test.
pub fn proxy_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_inmemory-proxy"))
}

/// A running process that printed "Ready to accept connections".
pub struct Proc {
    child: Child,
    /// Lines it logged after start.
    pub log: mpsc::Receiver<String>,
}

impl Proc {
    fn spawn(cmd: Command) -> Result<Proc, String> {
        let (child, log) = common::spawn_ready(cmd)?;
        Ok(Proc { child, log })
    }

    /// SIGKILL and wait.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
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
        let proc = Proc::spawn(common::server_command(port, dir.path(), extra))?;
        Ok(DataServer { proc, port, dir })
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

/// `n` fresh data servers behind a proxy started with `extra` flags.
pub fn cluster(n: usize, extra: &[&str]) -> (Vec<DataServer>, Proxy) {
    let s: Vec<DataServer> = (0..n).map(|_| DataServer::start()).collect();
    let p = Proxy::start(&servers_json(&s.iter().collect::<Vec<_>>()), extra);
    (s, p)
}

/// The `+OK` reply.
pub fn ok() -> Resp {
    Resp::Simple("OK".into())
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

/// A `redis` crate connection to 127.0.0.1:port.
pub fn connect(port: u16, resp3: bool) -> redis::Connection {
    let url =
        if resp3 { format!("redis://127.0.0.1:{port}/?protocol=resp3") } else { format!("redis://127.0.0.1:{port}/") };
    let c = redis::Client::open(url).expect("client").get_connection().expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    c
}

/// A command as a RESP multibulk.
pub fn encode(args: &[&str]) -> Vec<u8> {
    encode_cmd(&args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>())
}
