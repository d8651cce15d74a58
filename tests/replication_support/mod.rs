//! Helpers shared by the replication test files (`mod replication_support;`
//! after `mod common;`): commands through the `redis` crate, INFO fields,
//! REPLICAOF and waiting for a replica to catch up.

#![allow(dead_code)]

use redis::Connection;

use crate::common::{info_field, wait_for};

/// Runs a command, panicking with its arguments on an error reply.
pub fn q<T: redis::FromRedisValue>(c: &mut Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// Runs a command and gives back its error text (panics if it succeeded).
pub fn q_err(c: &mut Connection, args: &[&str]) -> String {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    match cmd.query::<redis::Value>(c) {
        Ok(v) => panic!("{args:?} succeeded: {v:?}"),
        Err(e) => {
            let code = e.code().unwrap_or_default().to_string();
            let detail = e.detail().unwrap_or_default().to_string();
            format!("{code} {detail}").trim().to_string()
        }
    }
}

/// One INFO field of a section ("" when absent).
pub fn field(c: &mut Connection, section: &str, name: &str) -> String {
    let info: String = q(c, &["INFO", section]);
    info_field(&info, name).unwrap_or_default()
}

/// REPLICAOF 127.0.0.1 `port`.
pub fn replicaof(replica: &mut Connection, port: u16) {
    let r: String = q(replica, &["REPLICAOF", "127.0.0.1", &port.to_string()]);
    assert_eq!(r, "OK");
}

/// Waits until the replica's link is up and it processed everything the
/// primary had sent when this was called.
pub fn wait_synced(primary: &mut Connection, replica: &mut Connection) {
    let want: u64 = field(primary, "replication", "master_repl_offset").parse().unwrap_or(0);
    wait_for(30, "replica in sync", || {
        field(replica, "replication", "master_link_status") == "up"
            && field(replica, "replication", "slave_repl_offset").parse::<u64>().unwrap_or(0) >= want
    });
}

/// Stops (`STOP`) or resumes (`CONT`) a process.
pub fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status();
    assert!(ok.is_ok_and(|s| s.success()), "kill -{sig} {pid}");
}
