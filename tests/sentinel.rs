//! Failover driven by a real `redis-sentinel` (Debian's package; the test
//! is skipped, saying so, when it is not installed): one primary and two
//! replicas of this server, the primary killed with SIGKILL, Sentinel
//! promotes a replica and repoints the other and, when it returns, the old
//! primary. Writes acknowledged with `WAIT 1` before the crash survive it,
//! and a client that asks Sentinel for the primary finds the new one.

mod common;
use std::io::Write;

use common::{info_field, int, ok, text, wait_for, Raw, Resp, Sentinel, Server};

fn role(port: u16) -> Vec<Resp> {
    common::items(Raw::connect(port).call(&["ROLE"]))
}

/// A command's reply on a new connection, or `None` when the server closes
/// it first: Sentinel ends every reconfiguration (SLAVEOF) with `CLIENT
/// KILL TYPE normal`, which can catch a poll in flight.
fn poll(port: u16, args: &[&str]) -> Option<Resp> {
    let mut c = Raw::connect(port);
    c.w.write_all(&common::encode_cmd(&args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>())).ok()?;
    common::read_resp(&mut c.r).ok()
}

fn replication(port: u16, field: &str) -> Option<String> {
    info_field(&text(poll(port, &["INFO", "replication"])?), field)
}

#[test]
fn sentinel_fails_over_a_killed_primary_without_losing_acknowledged_writes() {
    let mut primary = Server::start(&[]);
    let at = primary.port.to_string();
    let replicas =
        [Server::start(&["--replicaof", "127.0.0.1", &at]), Server::start(&["--replicaof", "127.0.0.1", &at])];
    wait_for(20, "two replicas online", || replication(primary.port, "connected_slaves").as_deref() == Some("2"));
    let Some(sentinel) = Sentinel::start(primary.port) else { return };
    // Sentinel must know both replicas before it can choose one.
    wait_for(
        30,
        "sentinel discovers the replicas",
        || matches!(sentinel.call(&["SENTINEL", "REPLICAS", "mymaster"]), Resp::Array(Some(r)) if r.len() == 2),
    );

    let mut w = primary.raw();
    for i in 0..200 {
        assert_eq!(w.call(&["SET", &format!("k{i}"), &format!("v{i}")]), ok());
        if i % 20 == 19 {
            let Resp::Int(acked) = w.call(&["WAIT", "1", "5000"]) else { panic!("WAIT") };
            assert!(acked >= 1, "WAIT 1 acknowledged by {acked} replicas");
        }
    }
    primary.kill9();

    wait_for(60, "sentinel promotes a replica", || sentinel.primary_port() != Some(primary.port));
    let new_primary = sentinel.primary_port().expect("sentinel names a primary");
    let other = replicas.iter().find(|r| r.port != new_primary).expect("the other replica");
    assert!(replicas.iter().any(|r| r.port == new_primary), "promoted {new_primary}, not one of ours");
    assert_eq!(role(new_primary)[0], common::bulk("master"));
    let mut c = Raw::connect(new_primary);
    for i in 0..200 {
        assert_eq!(c.call(&["GET", &format!("k{i}")]), common::bulk(&format!("v{i}")), "k{i} lost in the failover");
    }
    assert_eq!(c.call(&["SET", "after", "failover"]), ok());
    // The other replica follows the new primary and receives its writes.
    wait_for(60, "the other replica follows the new primary", || {
        replication(other.port, "master_port").as_deref() == Some(new_primary.to_string().as_str())
            && replication(other.port, "master_link_status").as_deref() == Some("up")
    });
    wait_for(20, "the write reaches the other replica", || {
        poll(other.port, &["GET", "after"]) == Some(common::bulk("failover"))
    });
    assert_eq!(Raw::connect(other.port).call(&["EXISTS", "k199"]), int(1));
    // The old primary comes back (empty, on its port): Sentinel makes it a
    // replica of the new one, and it gets the data.
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut old, log) = common::spawn_ready_again(|| common::server_command(primary.port, dir.path(), &[]))
        .expect("old primary restarts");
    // Sentinel converts it at its first INFO 8 s after seeing it as a
    // primary (about 10 s here); a Sentinel that enters TILT after a stall of
    // the machine acts again only 30 s later, hence the margin.
    let converted = common::wait_until(90, || {
        replication(primary.port, "master_port").as_deref() == Some(new_primary.to_string().as_str())
            && replication(primary.port, "master_link_status").as_deref() == Some("up")
    });
    if !converted {
        // Say what each side saw (a second failover, say: see
        // `common::Sentinel` on `down-after-milliseconds`).
        let info = |p: u16| poll(p, &["INFO", "replication"]).map(text).unwrap_or_default().replace("\r\n", " ");
        let logs = |rx: &std::sync::mpsc::Receiver<String>| rx.try_iter().collect::<Vec<_>>().join("\n");
        let new_log = replicas.iter().find(|r| r.port == new_primary).map(|r| logs(&r.log)).unwrap_or_default();
        panic!(
            "sentinel did not convert the old primary {} to a replica of {new_primary} in 90 s\n\
             old: {}\nnew: {}\nother: {}\nold primary's log:\n{}\nnew primary's log:\n{}\n\
             other replica's log:\n{}\nsentinel:\n{}",
            primary.port,
            info(primary.port),
            info(new_primary),
            info(other.port),
            logs(&log),
            new_log,
            logs(&other.log),
            sentinel.events()
        );
    }
    assert_eq!(Raw::connect(primary.port).call(&["GET", "k0"]), common::bulk("v0"));
    let _ = old.kill();
    let _ = old.wait();
}
