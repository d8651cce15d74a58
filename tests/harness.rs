//! Tests of the test harness itself (`tests/common/mod.rs`): a server that a
//! test started does not outlive the test process, even when that process
//! is killed by a signal and never runs its destructors (Linux only).

mod common;

#[cfg(target_os = "linux")]
use std::io::{BufRead, BufReader, Read};
#[cfg(target_os = "linux")]
use std::process::{Command, Stdio};
#[cfg(target_os = "linux")]
use std::time::{Duration, Instant};

#[cfg(target_os = "linux")]
use common::Server;

/// Whether `pid` is a live (not zombie) `inmemory-server` process.
#[cfg(target_os = "linux")]
fn server_alive(pid: i32) -> bool {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The state is the first field after the command name in parentheses.
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next());
    comm.trim_end() == "inmemory-server" && !matches!(state, None | Some('Z') | Some('X'))
}

/// Set in the environment of the child this test runs itself as.
#[cfg(target_os = "linux")]
const HELPER_ENV: &str = "INMEMORY_HARNESS_HELPER";

/// The child's part: start a server, print its pid, wait until stdin closes.
#[cfg(target_os = "linux")]
fn helper_start_server_and_wait() {
    let s = Server::start(&[]);
    println!("server-pid={}", s.pid());
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

/// Runs this same test binary as a child (marked by [`HELPER_ENV`]) that
/// starts a server, kills the child with SIGKILL, and expects the server
/// to go too.
#[cfg(target_os = "linux")]
#[test]
fn servers_die_with_a_killed_test_process() {
    if std::env::var_os(HELPER_ENV).is_some() {
        return helper_start_server_and_wait();
    }
    let exe = std::env::current_exe().expect("test executable");
    let mut helper = Command::new(exe)
        .args(["--exact", "servers_die_with_a_killed_test_process", "--nocapture", "--test-threads=1"])
        .env(HELPER_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn helper");
    // libtest prints "test <name> ... " first, on the same line as the pid.
    let out = BufReader::new(helper.stdout.take().expect("helper stdout"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let pid = out.lines().map_while(Result::ok).find_map(|l| l.split_once("server-pid=")?.1.parse().ok());
        let _ = tx.send(pid);
    });
    let Ok(Some(pid)) = rx.recv_timeout(Duration::from_secs(60)) else {
        let _ = helper.kill();
        let _ = helper.wait();
        panic!("the helper printed no server pid");
    };
    assert!(server_alive(pid), "server {pid} not running under the helper");

    // SIGKILL: the helper runs no destructors, so only PDEATHSIG can stop the server.
    helper.kill().expect("kill helper");
    helper.wait().expect("wait helper");
    let deadline = Instant::now() + Duration::from_secs(10);
    while server_alive(pid) {
        if Instant::now() > deadline {
            // SAFETY: plain kill(2) on the orphan this test made, so it does not linger.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("server {pid} outlived its killed parent by 10 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
