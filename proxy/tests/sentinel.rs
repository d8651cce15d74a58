//! The proxy follows a Sentinel failover without a restart: one primary
//! and two replicas of `inmemory-server` named `mymaster` in servers.json
//! (beside a plain, unnamed server), a real `redis-sentinel` (Debian's
//! package; the test is skipped, saying so, when it is not installed)
//! watching them. The primary is killed with SIGKILL after every write
//! through the proxy has reached the replicas; once Sentinel has promoted a
//! replica, the same proxy reads every key back and takes new writes, a
//! reload of servers.json (still naming the dead primary's address) does
//! not send `mymaster` back there, and keys of the unnamed server never
//! moved.
//!
//! The proxy refuses WAIT (it cannot tell which client's writes a server
//! should count), so acknowledgement is checked on the servers directly:
//! the replicas' `slave_repl_offset` reaching the primary's
//! `master_repl_offset`.

mod harness;

use harness::*;

/// One field of a server's `INFO replication`.
fn replication(port: u16, field: &str) -> Option<String> {
    let text = match Raw::connect(port).call(&["INFO", "replication"]) {
        Resp::Bulk(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
        _ => return None,
    };
    text.lines().find_map(|l| l.strip_prefix(field)?.strip_prefix(':').map(|v| v.trim().to_string()))
}

fn offset(port: u16, field: &str) -> i64 {
    replication(port, field).and_then(|v| v.parse().ok()).unwrap_or(-1)
}

/// A replica of `primary` on a free port.
fn replica(primary: u16) -> DataServer {
    let at = primary.to_string();
    for _ in 0..5 {
        if let Ok(s) = DataServer::start_with(free_port(), &["--replicaof", "127.0.0.1", &at]) {
            return s;
        }
    }
    panic!("replica did not start");
}

/// servers.json: `mymaster` at the primary, `plain` unnamed, two Sentinels.
fn servers_file(primary: &DataServer, plain: &DataServer, dead: u16, sentinel: u16) -> String {
    format!(
        "{{\"servers\": [{{\"addr\": \"{}\", \"name\": \"mymaster\"}}, {{\"addr\": \"{}\"}}],\n \
         \"sentinel\": {{\"addrs\": [\"127.0.0.1:{dead}\", \"127.0.0.1:{sentinel}\"]}}}}\n",
        primary.addr(),
        plain.addr()
    )
}

#[test]
fn proxy_follows_a_sentinel_failover_without_restart() {
    let mut primary = DataServer::start();
    let replicas = [replica(primary.port), replica(primary.port)];
    assert!(
        wait_until(20, || replication(primary.port, "connected_slaves").as_deref() == Some("2")),
        "two replicas online"
    );
    let plain = DataServer::start();
    let Some(sentinel) = Sentinel::start(primary.port) else { return };
    assert!(
        wait_until(30, || matches!(sentinel.call(&["SENTINEL", "REPLICAS", "mymaster"]),
            Resp::Array(Some(r)) if r.len() == 2)),
        "sentinel discovers the replicas"
    );
    // The first Sentinel listed is not running: the proxy moves on to the next.
    let nobody = free_port();
    let p = Proxy::start(&servers_file(&primary, &plain, nobody, sentinel.port), &[]);
    let link = format!("127.0.0.1:{}", sentinel.port);
    assert!(p.wait_info("sentinel_link", &link, 20), "the proxy subscribes to the live sentinel");
    assert_eq!(p.info_field("sentinel"), Some(format!("127.0.0.1:{nobody},{link}")));

    let mut c = p.raw();
    for i in 0..300 {
        assert_eq!(c.call(&["SET", &format!("k{i}"), &format!("v{i}")]), ok());
    }
    let on_plain = plain.dbsize();
    assert!(on_plain > 0 && on_plain < 300, "both servers hold keys ({on_plain} on the plain one)");
    // Acknowledged: both replicas hold everything the primary wrote.
    let written = offset(primary.port, "master_repl_offset");
    assert!(written > 0);
    assert!(
        wait_until(20, || replicas.iter().all(|r| offset(r.port, "slave_repl_offset") >= written)),
        "replicas acknowledge offset {written}"
    );
    let dead = primary.port;
    primary.proc.kill9();

    // Through the same proxy: writes to a key of the killed primary
    // succeed once Sentinel has switched (a key on the plain server would
    // succeed at once).
    let i = (0..300).find(|i| plain_has(&plain, &format!("k{i}")) == 0).expect("a key on mymaster");
    let (key, value) = (format!("k{i}"), format!("v{i}"));
    assert!(
        wait_until(60, || p.raw().call(&["SET", &key, &value]) == ok()),
        "writes through the proxy resume after the failover"
    );
    let new_primary = sentinel.primary_port().expect("sentinel names a primary");
    assert_ne!(new_primary, dead);
    assert!(replicas.iter().any(|r| r.port == new_primary), "promoted {new_primary}, not one of ours");
    let mut c = p.raw();
    for i in 0..300 {
        assert_eq!(c.call(&["GET", &format!("k{i}")]), bulk(&format!("v{i}")), "k{i} lost in the failover");
    }
    assert_eq!(plain.dbsize(), on_plain, "the unnamed server's keys stayed put");
    let new_addr = format!("127.0.0.1:{new_primary}");
    assert!(p.info_field("shard0").is_some_and(|s| s.contains(&format!("addr={new_addr},"))));
    assert!(p.info_field("sentinel_switches").and_then(|v| v.parse::<u64>().ok()).is_some_and(|n| n >= 1));
    let log = p.proc.drain_log().join("\n");
    assert!(log.contains("master mymaster moved from"), "no switch line in the log:\n{log}");

    // A reload of the file (which still names the dead address) keeps the
    // Sentinel's address.
    let reloads: u64 = p.info_field("config_reloads").and_then(|v| v.parse().ok()).expect("config_reloads");
    p.write_servers(&servers_file_with_port(dead, &plain, sentinel.port));
    assert!(p.wait_info("config_reloads", &(reloads + 1).to_string(), 20), "the file is reloaded");
    assert!(p.info_field("shard0").is_some_and(|s| s.contains(&format!("addr={new_addr},"))));
    assert_eq!(p.raw().call(&["SET", "after-reload", "x"]), ok());
    assert_eq!(p.raw().call(&["GET", "k0"]), bulk("v0"));
}

/// 1 when `key` is on `s`, else 0.
fn plain_has(s: &DataServer, key: &str) -> i64 {
    redis::cmd("EXISTS").arg(key).query(&mut s.conn()).expect("exists")
}

/// The servers.json naming `mymaster` at 127.0.0.1:`port` and only the live
/// Sentinel (a changed setting: the proxy resubscribes and asks again).
fn servers_file_with_port(port: u16, plain: &DataServer, sentinel: u16) -> String {
    format!(
        "{{\"servers\": [{{\"addr\": \"127.0.0.1:{port}\", \"name\": \"mymaster\"}}, {{\"addr\": \"{}\"}}],\n\n \
         \"sentinel\": {{\"addrs\": [\"127.0.0.1:{sentinel}\"]}}}}\n",
        plain.addr()
    )
}
