//! FAILOVER: a coordinated hand-over from this primary to one of its
//! replicas, as Redis 7.0's (`failoverCommand`, `updateFailoverStatus`,
//! `abortFailover`).
//!
//! ```text
//!  FAILOVER ─▶ writes paused ─▶ waiting-for-sync: a replica (the named one,
//!              or any) acked the whole stream (or TIMEOUT with FORCE)
//!           ─▶ failover-in-progress: this server becomes a replica of it and
//!              sends `PSYNC <our replid> <offset+1> FAILOVER`; the replica,
//!              whose id is ours, promotes itself and answers +CONTINUE
//!           ─▶ no-failover: writes resume (and are refused: we are a replica)
//! ```
//!
//! Promises: no write is accepted between the pause and the hand-over, so
//! a replica that acked the primary's offset holds every acknowledged
//! write; `FAILOVER ABORT`, a TIMEOUT without FORCE, or a refused PSYNC end
//! the failover and resume writes (after an in-progress abort this server
//! is a primary again, under a new replication id, as Redis).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::cmd::args::{err, is};
use crate::protocol::Reply;
use crate::server::Server;

/// Redis's `failover_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    /// No failover.
    #[default]
    None,
    /// Writes paused, waiting for a replica to ack the whole stream.
    WaitForSync,
    /// Replica of the target, asking it to take over with PSYNC FAILOVER.
    InProgress,
}

impl Phase {
    /// INFO's `master_failover_state`.
    pub fn name(self) -> &'static str {
        match self {
            Phase::None => "no-failover",
            Phase::WaitForSync => "waiting-for-sync",
            Phase::InProgress => "failover-in-progress",
        }
    }
}

/// The failover in force (see the module doc).
#[derive(Default)]
pub struct State {
    /// Where it is.
    pub phase: Phase,
    /// `TO host port`, or the replica chosen once it caught up.
    target: Option<(String, u16)>,
    /// `TIMEOUT`: when waiting ends.
    deadline: Option<Instant>,
    /// `FORCE`: at the deadline, fail over to the target anyway.
    force: bool,
}

/// A parsed FAILOVER request.
#[derive(Debug, PartialEq)]
pub enum Request {
    /// `FAILOVER ABORT`.
    Abort,
    /// `FAILOVER [TO host port [FORCE]] [TIMEOUT ms]`.
    Start {
        /// `TO host port`.
        target: Option<(String, u16)>,
        /// `TIMEOUT` in ms (0: none).
        timeout_ms: u64,
        /// `FORCE`.
        force: bool,
    },
}

/// Parses FAILOVER's arguments (name first) with Redis's errors and order
/// of checks (each option once, ABORT only alone). O(args).
pub fn parse(a: &[Bytes]) -> Result<Request, Reply> {
    if a.len() == 2 && is(&a[1], "abort") {
        return Ok(Request::Abort);
    }
    let (mut target, mut timeout_ms, mut force) = (None, 0u64, false);
    let mut j = 1;
    while j < a.len() {
        if is(&a[j], "timeout") && j + 1 < a.len() && timeout_ms == 0 {
            let t = crate::cmd::args::int(&a[j + 1])?;
            if t <= 0 {
                return Err(Reply::err("ERR FAILOVER timeout must be greater than 0"));
            }
            timeout_ms = t as u64;
            j += 2;
        } else if is(&a[j], "to") && j + 2 < a.len() && target.is_none() {
            let port = crate::cmd::args::int(&a[j + 2])?;
            // Redis keeps the long: a port no replica listens on is "not a replica".
            let port = u16::try_from(port).unwrap_or(0);
            target = Some((String::from_utf8_lossy(&a[j + 1]).into_owned(), port));
            j += 3;
        } else if is(&a[j], "force") && !force {
            force = true;
            j += 1;
        } else {
            return Err(Reply::err(err::SYNTAX));
        }
    }
    Ok(Request::Start { target, timeout_ms, force })
}

/// FAILOVER: checks it may start (Redis's errors), pauses writes and
/// starts watching the replicas' ACKs. O(replicas).
pub fn start(srv: &Arc<Server>, req: Request) -> Result<(), Reply> {
    let r = &srv.replication;
    let (target, timeout_ms, force) = match req {
        Request::Abort => {
            if phase(srv) == Phase::None {
                return Err(Reply::err("ERR No failover in progress."));
            }
            abort(srv, "Failover manually aborted");
            return Ok(());
        }
        Request::Start { target, timeout_ms, force } => (target, timeout_ms, force),
    };
    let mut st = r.failover.lock();
    if st.phase != Phase::None {
        return Err(Reply::err("ERR FAILOVER already in progress."));
    }
    if r.is_replica() {
        return Err(Reply::err("ERR FAILOVER is not valid when server is a replica."));
    }
    if r.peers.lock().is_empty() {
        return Err(Reply::err("ERR FAILOVER requires connected replicas."));
    }
    if force && (timeout_ms == 0 || target.is_none()) {
        return Err(Reply::err("ERR FAILOVER with force option requires both a timeout and target HOST and IP."));
    }
    if let Some((host, port)) = &target {
        let Some(peer) = find_replica(srv, host, *port) else {
            return Err(Reply::err("ERR FAILOVER target HOST and PORT is not a replica."));
        };
        if peer.state.load(Ordering::Relaxed) != 2 {
            return Err(Reply::err("ERR FAILOVER target replica is not online."));
        }
        tracing::info!("FAILOVER requested to {host}:{port}.");
    } else {
        tracing::info!("FAILOVER requested to any replica.");
    }
    *st = State {
        phase: Phase::WaitForSync,
        target,
        deadline: (timeout_ms > 0).then(|| Instant::now() + Duration::from_millis(timeout_ms)),
        force,
    };
    drop(st);
    // Writes wait until the failover ends (CLIENT UNPAUSE does not end it).
    srv.pause.hold_for_failover(true);
    tokio::spawn(watch(srv.clone()));
    Ok(())
}

/// The failover's phase (INFO, the link, REPLICAOF, PSYNC). O(1).
pub fn phase(srv: &Server) -> Phase {
    srv.replication.failover.lock().phase
}

/// The connected replica announcing `host:port` (Redis's `findReplica`).
fn find_replica(srv: &Server, host: &str, port: u16) -> Option<Arc<super::ReplicaPeer>> {
    srv.replication.peers.lock().values().find(|p| p.port == port && p.ip.eq_ignore_ascii_case(host)).cloned()
}

/// Waits for a replica to catch up (checked on every ACK and every 100 ms,
/// as Redis's faster cron during a failover), then hands over; or ends the
/// failover at its deadline. Ends when the phase leaves WaitForSync.
async fn watch(srv: Arc<Server>) {
    let r = &srv.replication;
    loop {
        let acked = r.acked.notified();
        if !step(&srv) {
            return;
        }
        let _ = tokio::time::timeout(Duration::from_millis(100), acked).await;
    }
}

/// One check of [`watch`]; false once there is nothing more to wait for.
fn step(srv: &Arc<Server>) -> bool {
    let r = &srv.replication;
    let mut st = r.failover.lock();
    if st.phase != Phase::WaitForSync {
        return false;
    }
    if st.deadline.is_some_and(|d| d <= Instant::now()) {
        if st.force {
            if let Some((host, port)) = st.target.clone() {
                tracing::info!("FAILOVER to {host}:{port} time out exceeded, failing over.");
                st.phase = Phase::InProgress;
                drop(st);
                hand_over(srv, host, port);
                return false;
            }
        }
        drop(st);
        abort(srv, "Replica never caught up before timeout");
        return false;
    }
    let offset = r.stream.with(|s| s.offset);
    let caught_up = |p: &super::ReplicaPeer| p.ack_offset.load(Ordering::Relaxed) >= offset;
    let chosen = match &st.target {
        Some((host, port)) => find_replica(srv, host, *port).filter(|p| caught_up(p)).map(|_| (host.clone(), *port)),
        None => r.peers.lock().values().find(|p| caught_up(p)).map(|p| (p.ip.clone(), p.port)),
    };
    let Some((host, port)) = chosen else { return true };
    tracing::info!("Failover target {host}:{port} is synced, failing over.");
    st.target = Some((host.clone(), port));
    st.phase = Phase::InProgress;
    drop(st);
    hand_over(srv, host, port);
    false
}

/// Becomes a replica of the target; the link sends PSYNC FAILOVER while
/// the phase is InProgress and reports back ([`psync_answered`]).
fn hand_over(srv: &Arc<Server>, host: String, port: u16) {
    let target = Some((host, port));
    super::replica::set_master(srv, target.clone());
    srv.config.write().replicaof = target;
}

/// The link's PSYNC FAILOVER got an answer: `accepted` (+CONTINUE or
/// +FULLRESYNC) ends the failover, anything else aborts it.
pub fn psync_answered(srv: &Arc<Server>, accepted: bool) {
    if phase(srv) != Phase::InProgress {
        return;
    }
    if accepted {
        clear(srv);
    } else {
        abort(srv, "Failover target rejected psync request");
    }
}

/// The link to the target failed before its answer.
pub fn link_failed(srv: &Arc<Server>, why: &str) {
    if phase(srv) == Phase::InProgress {
        abort(srv, why);
    }
}

/// Ends the failover and resumes writes (Redis's `clearFailoverState`).
fn clear(srv: &Server) {
    *srv.replication.failover.lock() = State::default();
    srv.pause.hold_for_failover(false);
}

/// Redis's `abortFailover`: an in-progress failover is undone (this server
/// is a primary again); writes resume either way.
pub fn abort(srv: &Arc<Server>, why: &str) {
    let (phase, target) = {
        let st = srv.replication.failover.lock();
        (st.phase, st.target.clone())
    };
    if phase == Phase::None {
        return;
    }
    match target {
        Some((h, p)) => tracing::info!("FAILOVER to {h}:{p} aborted: {why}"),
        None => tracing::info!("FAILOVER to any replica aborted: {why}"),
    }
    if phase == Phase::InProgress {
        super::replica::set_master(srv, None);
        srv.config.write().replicaof = None;
    }
    clear(srv);
}

/// `PSYNC <replid> <offset> FAILOVER` received: this replica becomes the
/// primary when the id is its own (the old primary and it share a
/// history), then serves the PSYNC as usual. Redis's errors otherwise.
pub fn on_psync_failover(srv: &Server, replid: &[u8]) -> Result<(), Reply> {
    let r = &srv.replication;
    tracing::warn!("Failover request received for replid {}.", String::from_utf8_lossy(replid));
    if !r.is_replica() {
        return Err(Reply::err("ERR PSYNC FAILOVER can't be sent to a master."));
    }
    let mine = r.stream.with(|s| s.replid.clone());
    if !replid.eq_ignore_ascii_case(mine.as_bytes()) {
        return Err(Reply::err("ERR PSYNC FAILOVER replid must match my replid."));
    }
    let Some(srv) = r.server() else {
        return Err(Reply::err(crate::cmd::LOADING_ERROR));
    };
    super::replica::set_master(&srv, None);
    srv.config.write().replicaof = None;
    tracing::info!("MASTER MODE enabled (failover request)");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<Bytes> {
        s.split_whitespace().map(|w| Bytes::copy_from_slice(w.as_bytes())).collect()
    }

    #[test]
    fn parses_as_redis() {
        assert_eq!(parse(&args("FAILOVER abort")), Ok(Request::Abort));
        assert_eq!(
            parse(&args("FAILOVER TO h 6380 FORCE TIMEOUT 10")),
            Ok(Request::Start { target: Some(("h".into(), 6380)), timeout_ms: 10, force: true })
        );
        assert_eq!(parse(&args("FAILOVER")), Ok(Request::Start { target: None, timeout_ms: 0, force: false }));
        assert_eq!(parse(&args("FAILOVER abort x")), Err(Reply::err(err::SYNTAX)));
        assert_eq!(parse(&args("FAILOVER force force")), Err(Reply::err(err::SYNTAX)));
        assert_eq!(parse(&args("FAILOVER timeout 1 timeout 2")), Err(Reply::err(err::SYNTAX)));
        assert_eq!(parse(&args("FAILOVER to h")), Err(Reply::err(err::SYNTAX)));
        assert_eq!(parse(&args("FAILOVER to h x")), Err(Reply::err(err::NOT_INT)));
        assert_eq!(parse(&args("FAILOVER timeout -1")), Err(Reply::err("ERR FAILOVER timeout must be greater than 0")));
    }
}
