//! Scripts that run too long: past `lua-time-limit` other clients get
//! `-BUSY`, SCRIPT KILL stops a script that has not written, one that
//! wrote is `UNKILLABLE`, and SHUTDOWN NOSAVE still ends the server.

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use common::{free_port, server_command, spawn_ready, wait_for};

use super::*;

const BUSY: &str = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
const UNKILLABLE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";
const KILLED: &str = "ERR Script killed by user with SCRIPT KILL...";

/// A server process this test owns directly, to see it exit by itself
/// (killed on drop if it did not).
struct Proc {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Proc {
    fn start() -> Proc {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            match spawn_ready(server_command(port, dir.path(), &[])) {
                Ok((child, _log)) => return Proc { child, port, _dir: dir },
                Err(e) => last = e,
            }
        }
        panic!("server did not start: {last}");
    }

    fn raw(&self) -> Raw {
        Raw::connect(self.port)
    }

    /// The exit status once the process ended, or `None` after `secs`.
    fn wait_exit(&mut self, secs: u64) -> Option<ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sets a 50 ms limit, has `runner` start `body`, and polls with `other`
/// until the server answers `-BUSY`.
fn start_busy(runner: &mut Raw, other: &mut Raw, body: &str) {
    assert_eq!(other.call(&["CONFIG", "SET", "lua-time-limit", "50"]), ok());
    runner.send_cmd(&["EVAL", body, "0"]);
    wait_for(10, "-BUSY while the script runs", || other.call(&["PING"]) == err(BUSY));
}

/// Whether the server closed `c` without sending a reply.
fn closed_without_reply(c: &mut Raw) -> bool {
    common::read_resp(&mut c.r).is_err()
}

#[test]
fn script_kill_stops_a_script_that_did_not_write() {
    let s = Server::start(&[]);
    let (mut a, mut b) = (s.raw(), s.raw());
    assert_eq!(b.call(&["SCRIPT", "KILL"]), err("NOTBUSY No scripts in execution right now."));
    assert_eq!(b.call(&["SET", "x", "before"]), ok());
    for body in [
        "while true do end",
        // pcall cannot swallow the kill.
        "while true do pcall(function() while true do end end) end",
        // Reads do not make a script unkillable.
        "while true do redis.call('GET', 'x') end",
    ] {
        start_busy(&mut a, &mut b, body);
        assert_eq!(b.call(&["GET", "x"]), err(BUSY));
        assert_eq!(b.call(&["SET", "x", "during"]), err(BUSY));
        assert_eq!(b.call(&["EVAL", "return 1", "0"]), err(BUSY));
        assert_eq!(b.call(&["SCRIPT", "KILL"]), ok(), "{body}");
        let e = err_text(a.read());
        assert!(e.contains("killed by user"), "{body}: {e}");
        assert_eq!(Resp::Error(e), script_err(KILLED, body, 1));
        assert_eq!(b.call(&["PING"]), status("PONG"));
        assert_eq!(a.call(&["PING"]), status("PONG"));
        assert_eq!(b.call(&["SCRIPT", "KILL"]), err("NOTBUSY No scripts in execution right now."));
    }
    assert_eq!(b.call(&["GET", "x"]), bulk("before"), "no command ran while the script was busy");
}

#[test]
fn a_script_that_wrote_is_unkillable() {
    let s = Server::start(&[]);
    let (mut a, mut b) = (s.raw(), s.raw());
    start_busy(&mut a, &mut b, "redis.call('set', 'x', 'y') while true do end");
    assert_eq!(b.call(&["SCRIPT", "KILL"]), err(UNKILLABLE));
    assert_eq!(b.call(&["PING"]), err(BUSY), "still running after the refused kill");
    assert_eq!(b.call(&["SCRIPT", "KILL"]), err(UNKILLABLE));
    // The server (and the looping script) end with the test: SIGKILL on drop.
}

#[test]
fn shutdown_nosave_ends_the_server_during_a_busy_script() {
    let mut p = Proc::start();
    let (mut a, mut b) = (p.raw(), p.raw());
    start_busy(&mut a, &mut b, "while true do end");
    b.send_cmd(&["SHUTDOWN", "NOSAVE"]);
    assert!(closed_without_reply(&mut b), "SHUTDOWN NOSAVE closes the connection");
    assert!(p.wait_exit(10).is_some(), "the server did not exit after SHUTDOWN NOSAVE");
    assert!(closed_without_reply(&mut a));
}

#[test]
fn shutdown_nosave_ends_the_server_during_an_unkillable_script() {
    let mut p = Proc::start();
    let (mut a, mut b) = (p.raw(), p.raw());
    start_busy(&mut a, &mut b, "redis.call('set', 'x', 'y') while true do end");
    assert_eq!(b.call(&["SCRIPT", "KILL"]), err(UNKILLABLE));
    b.send_cmd(&["SHUTDOWN", "NOSAVE"]);
    assert!(closed_without_reply(&mut b), "SHUTDOWN NOSAVE closes the connection");
    assert!(p.wait_exit(10).is_some(), "the server did not exit after SHUTDOWN NOSAVE");
    assert!(closed_without_reply(&mut a));
}
