//! `scripts/cluster.sh`: `up` starts three data servers and the proxy on ports
//! of the test's own (CLUSTER_BASE_PORT, CLUSTER_DIR, BIN_DIR = this build's
//! binaries; the script builds inmemory-proxy if it is missing), keys written
//! through the proxy spread over the servers and read back through it with
//! `inmemory-cli`, then `status` and `down`.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::free_port;

/// A cluster started by the script; `down` runs on drop.
struct Cluster {
    dir: tempfile::TempDir,
    base: u16,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding the binaries this test run was built with.
fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_inmemory-server")).parent().expect("bin dir").to_path_buf()
}

/// A port `p` such that `p..p+4` were all free a moment ago.
fn free_block() -> u16 {
    for _ in 0..100 {
        let base = free_port();
        if base > 65000 {
            continue;
        }
        let held: Vec<_> = (0..4).map_while(|i| TcpListener::bind(("127.0.0.1", base + i)).ok()).collect();
        if held.len() == 4 {
            return base;
        }
    }
    panic!("no block of 4 free ports");
}

impl Cluster {
    /// Runs `scripts/cluster.sh cmd`, killed after `limit`.
    fn script(&self, cmd: &str, limit: Duration) -> Output {
        let mut child = Command::new("bash")
            .arg(root().join("scripts/cluster.sh"))
            .arg(cmd)
            .env("CLUSTER_BASE_PORT", self.base.to_string())
            .env("CLUSTER_DIR", self.dir.path())
            .env("CLUSTER_TIMEOUT", "60")
            .env("BIN_DIR", bin_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run cluster.sh");
        let deadline = Instant::now() + limit;
        while child.try_wait().expect("wait").is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.wait_with_output().expect("output")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.script("down", Duration::from_secs(60));
    }
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn cli(port: u16, args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_inmemory-cli"))
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run inmemory-cli");
    assert!(o.status.success(), "inmemory-cli {args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn cluster_script_up_talk_status_down() {
    let c = Cluster { dir: tempfile::tempdir().expect("tempdir"), base: free_block() };
    // Building the proxy (when this run has not built it) may take minutes.
    let up = c.script("up", Duration::from_secs(900));
    assert!(up.status.success(), "cluster.sh up failed: {}", text(&up));
    assert!(text(&up).contains(&format!("cluster up: proxy on 127.0.0.1:{}", c.base)), "{}", text(&up));

    let mut conn = redis::Client::open(format!("redis://127.0.0.1:{}/", c.base))
        .expect("client")
        .get_connection_with_timeout(Duration::from_secs(10))
        .expect("connect to the proxy");
    for i in 0..30 {
        let _: () = redis::cmd("SET").arg(format!("key{i}")).arg(format!("v{i}")).query(&mut conn).expect("SET");
    }
    let got: Vec<String> = redis::cmd("MGET").arg("key0").arg("key29").query(&mut conn).expect("MGET");
    assert_eq!(got, ["v0", "v29"]);
    assert_eq!(cli(c.base, &["--no-raw", "get", "key7"]), "\"v7\"\n");
    // The keys are spread over the three data servers, each with its own data directory.
    let sizes: Vec<i64> =
        (1..=3).map(|i| cli(c.base + i, &["dbsize"]).trim().parse().expect("DBSIZE is an integer")).collect();
    assert_eq!(sizes.iter().sum::<i64>(), 30, "{sizes:?}");
    assert!(sizes.iter().filter(|&&n| n > 0).count() >= 2, "{sizes:?}");
    for i in 1..=3 {
        assert!(c.dir.path().join(format!("node{i}")).is_dir());
        assert!(c.dir.path().join(format!("node{i}.pid")).is_file());
    }

    let status = c.script("status", Duration::from_secs(30));
    assert!(status.status.success(), "{}", text(&status));
    assert_eq!(text(&status).matches(": running (pid ").count(), 4, "{}", text(&status));

    drop(conn);
    let down = c.script("down", Duration::from_secs(60));
    assert!(down.status.success(), "{}", text(&down));
    for i in 0..4 {
        assert!(TcpStream::connect(("127.0.0.1", c.base + i)).is_err(), "port {} still open", c.base + i);
    }
    assert!(!c.dir.path().join("proxy.pid").exists());
    let status = c.script("status", Duration::from_secs(30));
    assert_eq!(status.status.code(), Some(1), "{}", text(&status));
}

#[test]
fn cluster_script_usage() {
    let c = Cluster { dir: tempfile::tempdir().expect("tempdir"), base: 7000 };
    assert_eq!(c.script("sideways", Duration::from_secs(30)).status.code(), Some(2));
    let bad = Command::new("bash")
        .arg(root().join("scripts/cluster.sh"))
        .arg("status")
        .env("CLUSTER_BASE_PORT", "seventy")
        .output()
        .expect("run cluster.sh");
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
}
