//! Replication, wire-compatible with Redis 7.0 (PSYNC2).
//!
//! ```text
//!  primary                                         replica
//!  write ─▶ persist::propagate ─▶ stream::Stream ─▶ channel ─▶ primary::serve (socket) ─▶ replica::link
//!                                  │ backlog (+CONTINUE)                            applies as master client,
//!  PSYNC ─▶ primary::serve: lock all shards, attach to the stream,                  forwards to its own stream
//!           fork a child writing the RDB, send it, then the buffered stream
//! ```
//!
//! - [`stream`]: ids, offset, backlog and the replicas' channels.
//! - [`primary`]: PSYNC/SYNC on a client connection (full or partial
//!   resync), the replica's writer loop and its ACKs; WAIT.
//! - [`replica`]: the link to a primary (handshake, RDB load, applying the
//!   stream, ACKs, reconnecting with a partial resync).
//! - [`fullsync`]: the snapshot of a full sync, disk-backed or diskless.
//! - [`load`]: the replica receiving and loading a snapshot (repl-diskless-load).
//! - [`failover`]: FAILOVER, the coordinated hand-over to a replica.
//! - [`stale`]: -MASTERDOWN while the link is down (`replica-serve-stale-data no`).
//!
//! Promises: a full sync's snapshot is the instant the replica was attached
//! to the stream (both happen under every shard lock), so every write is
//! either in the snapshot or in the stream after it, never both or neither.
//! No shard lock is ever held across network I/O.

pub mod backlog;
pub mod failover;
pub mod fullsync;
pub mod load;
pub mod primary;
pub mod replica;
pub mod stale;
pub mod stream;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::protocol::Reply;
use crate::server::client::ClientHandle;
use crate::server::Server;
use stream::Stream;

/// `ClientHandle::kind` values: a normal client.
pub const KIND_NORMAL: u8 = 0;
/// A replica connected to this server (after PSYNC/SYNC).
pub const KIND_REPLICA: u8 = 1;
/// This replica's link to its primary.
pub const KIND_MASTER: u8 = 2;

/// A replica as the primary sees it (INFO's `slaveN`, ROLE, WAIT).
pub struct ReplicaPeer {
    /// Its connection.
    pub handle: Arc<ClientHandle>,
    /// `REPLCONF listening-port`.
    pub port: u16,
    /// `REPLCONF ip-address`, or the connection's address.
    pub ip: String,
    /// 0 waiting for the snapshot, 1 receiving it, 2 online.
    pub state: AtomicU8,
    /// Offset of its last `REPLCONF ACK`.
    pub ack_offset: AtomicU64,
    /// When that ACK came (coarse Unix ms).
    pub ack_ms: AtomicU64,
}

/// What REPLCONF told about a connection before its PSYNC.
#[derive(Clone, Default)]
pub struct PeerConf {
    /// `listening-port`.
    pub port: u16,
    /// `ip-address`.
    pub ip: Option<String>,
    /// `capa eof`: it can read a diskless (`$EOF:`) snapshot.
    pub eof: bool,
}

/// This server's link to its primary (replica side).
#[derive(Default)]
pub struct MasterState {
    /// `replicaof` host and port (None: this server is a primary).
    pub target: Option<(String, u16)>,
    /// The link task (aborted by REPLICAOF).
    pub task: Option<tokio::task::AbortHandle>,
    /// ROLE's state: connect, connecting, sync, connected.
    pub link: &'static str,
    /// Whether the replica has a history to continue (PSYNC with its id).
    pub has_history: bool,
    /// When the link went down (Unix seconds; 0: never up).
    pub down_since: u64,
    /// Last bytes from the primary (Unix seconds).
    pub last_io: u64,
}

/// Replication state of the server: see the module doc.
pub struct Replication {
    /// The stream (shared with persistence, which feeds it).
    pub stream: Arc<Stream>,
    /// Replicas connected to this server, by client id.
    pub peers: Mutex<BTreeMap<u64, Arc<ReplicaPeer>>>,
    /// REPLCONF settings of connections not yet synced.
    pub pending: Mutex<BTreeMap<u64, PeerConf>>,
    /// The replica side.
    pub master: Mutex<MasterState>,
    /// Woken by every ACK (WAIT).
    pub acked: tokio::sync::Notify,
    /// `sync_full`, `sync_partial_ok`, `sync_partial_err`.
    pub sync_full: AtomicU64,
    /// See `sync_full`.
    pub sync_partial_ok: AtomicU64,
    /// See `sync_full`.
    pub sync_partial_err: AtomicU64,
    /// Held by a replica while it applies one command of its primary's
    /// stream and forwards it, and by a full sync while it attaches a
    /// sub-replica and forks: so a forwarded command is either in that
    /// snapshot and before its offset, or in neither (taken before any
    /// shard lock: the same order on both paths).
    pub applying: Mutex<()>,
    /// FAILOVER's state.
    pub failover: Mutex<failover::State>,
    /// `min-replicas-to-write` as last applied (see [`Replication::set_write_quorum`]):
    /// every write's refusal check reads it without the config lock.
    write_quorum: AtomicI64,
    /// The server itself, for the tasks REPLICAOF starts (set by [`start`]).
    me: std::sync::OnceLock<std::sync::Weak<Server>>,
}

impl Replication {
    /// State around the stream persistence feeds.
    pub fn new(stream: Arc<Stream>) -> Replication {
        Replication {
            stream,
            peers: Default::default(),
            pending: Default::default(),
            master: Default::default(),
            acked: Default::default(),
            sync_full: AtomicU64::new(0),
            sync_partial_ok: AtomicU64::new(0),
            sync_partial_err: AtomicU64::new(0),
            applying: Mutex::new(()),
            failover: Default::default(),
            write_quorum: AtomicI64::new(0),
            me: Default::default(),
        }
    }

    /// Takes `min-replicas-to-write` from the config (at start and on
    /// CONFIG SET).
    pub fn set_write_quorum(&self, n: i64) {
        self.write_quorum.store(n, Ordering::Relaxed);
    }

    /// The server, once [`start`] ran (None before, or during shutdown).
    pub fn server(&self) -> Option<Arc<Server>> {
        self.me.get().and_then(|w| w.upgrade())
    }

    /// Whether this server replicates from a primary. O(1).
    pub fn is_replica(&self) -> bool {
        self.stream.upstream()
    }

    /// Replicas whose last ACK is at most `max_lag` seconds old
    /// (min-replicas-max-lag). O(replicas).
    pub fn good_replicas(&self, max_lag: u64) -> usize {
        let now = crate::db::coarse_ms();
        self.peers
            .lock()
            .values()
            .filter(|p| p.state.load(Ordering::Relaxed) == 2)
            .filter(|p| now.saturating_sub(p.ack_ms.load(Ordering::Relaxed)) <= max_lag * 1000)
            .count()
    }

    /// Replicas whose ACK reached `offset`. O(replicas).
    pub fn acked_at(&self, offset: u64) -> usize {
        self.peers.lock().values().filter(|p| p.ack_offset.load(Ordering::Relaxed) >= offset).count()
    }
}

/// Whether [`write_refusal`] or [`stale::refusal`] may refuse a command
/// now: only a replica, or a primary with `min-replicas-to-write` set,
/// refuses. Two relaxed loads.
#[inline]
pub fn may_refuse(srv: &Server) -> bool {
    srv.replication.is_replica() || srv.replication.write_quorum.load(Ordering::Relaxed) > 0
}

/// Why a write is refused because of replication: `-READONLY` on a
/// read-only replica (except for its primary's link), `-NOREPLICAS` on a
/// primary with fewer good replicas than `min-replicas-to-write`. O(replicas).
pub fn write_refusal(srv: &Server, handle: &ClientHandle) -> Option<Reply> {
    let r = &srv.replication;
    if handle.kind.load(Ordering::Relaxed) == KIND_MASTER {
        return None;
    }
    if r.is_replica() {
        let read_only = srv.config.read().replica_read_only;
        return read_only.then(|| Reply::err("READONLY You can't write against a read only replica."));
    }
    if r.write_quorum.load(Ordering::Relaxed) <= 0 {
        return None;
    }
    let c = srv.config.read();
    if c.min_replicas_to_write > 0
        && c.min_replicas_max_lag > 0
        && r.good_replicas(c.min_replicas_max_lag as u64) < c.min_replicas_to_write as usize
    {
        return Some(Reply::err("NOREPLICAS Not enough good replicas to write."));
    }
    None
}

/// INFO's replication section, with Redis 7.0's fields. O(replicas).
pub fn info(srv: &Server) -> String {
    let r = &srv.replication;
    let mut s = String::from("# Replication\r\n");
    let now_s = crate::db::now_ms() / 1000;
    let (replid, replid2, offset, second, backlog) = r.stream.with(|st| {
        let b = st.backlog.as_ref().map(|b| (b.size(), b.len()));
        (st.replid.clone(), st.replid2.clone(), st.offset, st.second_offset, b)
    });
    if r.is_replica() {
        let m = r.master.lock();
        let (host, port) = m.target.clone().unwrap_or_default();
        let up = m.link == "connected";
        s.push_str(&format!(
            "role:slave\r\nmaster_host:{host}\r\nmaster_port:{port}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\nslave_read_repl_offset:{offset}\r\nslave_repl_offset:{offset}\r\n",
            if up { "up" } else { "down" },
            if m.last_io > 0 { now_s.saturating_sub(m.last_io) as i64 } else { -1 },
            (m.link == "sync") as u8,
        ));
        if !up {
            let since = if m.down_since > 0 { now_s.saturating_sub(m.down_since) } else { now_s };
            s.push_str(&format!("master_link_down_since_seconds:{since}\r\n"));
        }
        let ro = srv.config.read().replica_read_only;
        s.push_str(&format!("slave_priority:100\r\nslave_read_only:{}\r\nreplica_announced:1\r\n", ro as u8));
    } else {
        s.push_str("role:master\r\n");
    }
    let peers: Vec<Arc<ReplicaPeer>> = r.peers.lock().values().cloned().collect();
    s.push_str(&format!("connected_slaves:{}\r\n", peers.len()));
    if !r.is_replica() {
        let c = srv.config.read();
        if c.min_replicas_to_write > 0 && c.min_replicas_max_lag > 0 {
            s.push_str(&format!("min_slaves_good_slaves:{}\r\n", r.good_replicas(c.min_replicas_max_lag as u64)));
        }
    }
    let now = crate::db::coarse_ms();
    for (i, p) in peers.iter().enumerate() {
        let state = ["wait_bgsave", "send_bulk", "online"][p.state.load(Ordering::Relaxed).min(2) as usize];
        s.push_str(&format!(
            "slave{i}:ip={},port={},state={state},offset={},lag={}\r\n",
            p.ip,
            p.port,
            p.ack_offset.load(Ordering::Relaxed),
            now.saturating_sub(p.ack_ms.load(Ordering::Relaxed)) / 1000
        ));
    }
    s.push_str(&format!(
        "master_failover_state:{}\r\nmaster_replid:{replid}\r\nmaster_replid2:{replid2}\r\nmaster_repl_offset:{offset}\r\nsecond_repl_offset:{second}\r\n",
        failover::phase(srv).name()
    ));
    match backlog {
        Some((size, len)) => s.push_str(&format!(
            "repl_backlog_active:1\r\nrepl_backlog_size:{size}\r\nrepl_backlog_first_byte_offset:{}\r\nrepl_backlog_histlen:{len}\r\n",
            offset + 1 - len as u64
        )),
        None => {
            let size = srv.config.read().repl_backlog_size;
            s.push_str(&format!(
                "repl_backlog_active:0\r\nrepl_backlog_size:{size}\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n"
            ));
        }
    }
    s.push_str("\r\n");
    s
}

/// INFO stats' `sync_full`, `sync_partial_ok`, `sync_partial_err` lines.
pub fn stats_info(srv: &Server) -> String {
    let r = &srv.replication;
    format!(
        "sync_full:{}\r\nsync_partial_ok:{}\r\nsync_partial_err:{}\r\n",
        r.sync_full.load(Ordering::Relaxed),
        r.sync_partial_ok.load(Ordering::Relaxed),
        r.sync_partial_err.load(Ordering::Relaxed)
    )
}

/// ROLE's reply. O(replicas).
pub fn role(srv: &Server) -> Reply {
    let r = &srv.replication;
    let offset = r.stream.with(|st| st.offset);
    if r.is_replica() {
        let m = r.master.lock();
        let (host, port) = m.target.clone().unwrap_or_default();
        return Reply::Array(vec![
            Reply::bulk_str("slave"),
            Reply::bulk_str(host),
            Reply::Int(port as i64),
            Reply::bulk_str(m.link),
            Reply::Int(if m.link == "connected" { offset as i64 } else { -1 }),
        ]);
    }
    let peers: Vec<Reply> = r
        .peers
        .lock()
        .values()
        .filter(|p| p.state.load(Ordering::Relaxed) == 2)
        .map(|p| {
            Reply::Array(vec![
                Reply::bulk_str(p.ip.clone()),
                Reply::bulk_str(p.port.to_string()),
                Reply::bulk_str(p.ack_offset.load(Ordering::Relaxed).to_string()),
            ])
        })
        .collect();
    Reply::Array(vec![Reply::bulk_str("master"), Reply::Int(offset as i64), Reply::Array(peers)])
}

/// The bytes of `REPLCONF GETACK *` in the stream.
const GETACK: &[u8] = b"*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n";
/// The bytes of `PING` in the stream.
const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";

/// Starts replication once the dataset is loaded: the cron, and the link
/// to the primary when `replicaof` is set.
pub fn start(srv: &Arc<Server>) {
    let _ = srv.replication.me.set(Arc::downgrade(srv));
    spawn_cron(srv);
    let target = srv.config.read().replicaof.clone();
    if let Some(t) = target {
        replica::set_master(srv, Some(t));
    }
}

/// Once a second: PING the replicas every `repl-ping-replica-period`
/// (through the stream, so it counts in the offsets, as Redis), and on a
/// replica keep the link's ACKs going (see [`replica`]).
fn spawn_cron(srv: &Arc<Server>) {
    let srv = srv.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        let mut shutdown = srv.shutdown.subscribe();
        let mut since_ping = 0u64;
        // Seconds this primary has had no replica (repl-backlog-ttl).
        let mut alone = 0i64;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = crate::server::shutdown_started(&mut shutdown) => return,
            }
            since_ping += 1;
            let (period, ttl, lim) = {
                let c = srv.config.read();
                (c.repl_ping_replica_period.max(1) as u64, c.repl_backlog_ttl, c.client_output_buffer_limit.replica())
            };
            srv.replication.stream.set_limit(lim);
            let r = &srv.replication;
            if r.is_replica() || !r.peers.lock().is_empty() {
                alone = 0;
            } else {
                alone += 1;
                if ttl > 0 && alone >= ttl {
                    r.stream.free_backlog();
                }
            }
            if since_ping >= period {
                since_ping = 0;
                // Not while a failover waits: the PING would move the
                // offset the replicas must reach (as Redis).
                if !srv.replication.is_replica()
                    && !srv.replication.peers.lock().is_empty()
                    && failover::phase(&srv) == failover::Phase::None
                {
                    srv.replication.stream.feed_raw(Bytes::from_static(PING));
                }
            }
        }
    });
}

/// WAIT: the number of replicas that acknowledged the stream up to now,
/// waiting (up to `timeout_ms`, 0: forever) until `want` have. Asks them
/// for an ACK at once. Never holds a lock while waiting.
pub async fn wait(srv: &Server, want: usize, timeout_ms: u64) -> Reply {
    let r = &srv.replication;
    if r.is_replica() {
        return Reply::err("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
    }
    let target = r.stream.with(|st| st.offset);
    let count = r.acked_at(target);
    if count >= want {
        return Reply::Int(count as i64);
    }
    r.stream.feed_raw(Bytes::from_static(GETACK));
    let deadline = (timeout_ms > 0).then(|| tokio::time::Instant::now() + std::time::Duration::from_millis(timeout_ms));
    loop {
        let notified = r.acked.notified();
        let count = r.acked_at(target);
        if count >= want {
            return Reply::Int(count as i64);
        }
        match deadline {
            Some(d) => {
                if tokio::time::timeout_at(d, notified).await.is_err() {
                    return Reply::Int(r.acked_at(target) as i64);
                }
            }
            None => notified.await,
        }
    }
}

/// What a command asked its connection to do after it (the connection
/// owns the socket; see `server::connection`).
#[derive(Debug, Clone)]
pub enum Request {
    /// PSYNC/SYNC: the connection becomes a replica's link.
    Sync(primary::SyncRequest),
    /// WAIT: answer once this many replicas acknowledged (or the timeout, ms; 0: none).
    Wait {
        /// `numreplicas`.
        replicas: usize,
        /// `timeout` in ms.
        timeout_ms: u64,
    },
}
