//! Per-connection state ([`ClientState`], owned by the connection task) and
//! the registry of connected clients ([`ClientRegistry`], shared, for
//! `CLIENT LIST/KILL` and INFO).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::db::watch::DirtyFlag;

/// Redis's test of a local peer: exactly `127.0.0.1` or `::1` (an
/// IPv4-mapped `::ffff:127.0.0.1` is not, as Redis compares the printed
/// address). O(1).
fn is_local(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => v4 == std::net::Ipv4Addr::LOCALHOST,
        std::net::IpAddr::V6(v6) => v6 == std::net::Ipv6Addr::LOCALHOST,
    }
}

/// What the connection should do with replies (`CLIENT REPLY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyMode {
    /// Send every reply.
    On,
    /// Send none.
    Off,
    /// Skip the reply of the next command only.
    Skip,
    /// Internal: the command being executed is the skipped one.
    SkipThis,
}

/// A blocked command: which keys it waits on and until when.
#[derive(Debug, Clone)]
pub struct BlockSpec {
    /// (database, key) pairs whose readiness wakes the client.
    pub keys: Vec<(usize, Bytes)>,
    /// When to give up (`None`: wait forever).
    pub deadline: Option<Instant>,
    /// The reply on timeout (null array for BLPOP, null bulk for BLMOVE).
    pub timeout_reply: crate::protocol::Reply,
    /// The command to re-run when a key is ready, when it differs from the
    /// one sent (XREAD's `$` resolved to the id it meant at the time).
    pub rerun_args: Option<Vec<bytes::Bytes>>,
}

/// The error a client blocked in a command gets from `CLIENT UNBLOCK id ERROR`.
pub const UNBLOCKED_ERROR: &str = "UNBLOCKED client unblocked via CLIENT UNBLOCK";

/// How `CLIENT UNBLOCK` asked a blocked client to stop waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unblock {
    /// As if the command's timeout had passed (the default).
    Timeout,
    /// With the [`UNBLOCKED_ERROR`] error.
    Error,
}

impl Unblock {
    /// The reply the unblocked command answers: `timeout_reply` or the
    /// `UNBLOCKED` error. O(size of `timeout_reply`).
    pub fn reply(self, timeout_reply: &crate::protocol::Reply) -> crate::protocol::Reply {
        match self {
            Unblock::Timeout => timeout_reply.clone(),
            Unblock::Error => crate::protocol::Reply::err(UNBLOCKED_ERROR),
        }
    }
}

/// The part of a client other tasks may see or act on.
#[derive(Debug)]
pub struct ClientHandle {
    /// Unique, increasing id (`CLIENT ID`).
    pub id: u64,
    /// Peer address.
    pub addr: String,
    /// Local address.
    pub laddr: String,
    /// Connected from the loopback interface (`127.0.0.1` or `::1`, as
    /// Redis's `islocalClient`), or internal (no peer): `local` protected
    /// actions such as DEBUG are allowed.
    pub local: bool,
    /// Connection time.
    pub created: Instant,
    /// `CLIENT SETNAME`.
    pub name: Mutex<Option<Bytes>>,
    /// `CLIENT SETINFO lib-name` / `lib-ver`.
    pub lib: Mutex<(String, String)>,
    /// Current database.
    pub db: AtomicUsize,
    /// Protocol version (2 or 3).
    pub resp: AtomicU8,
    /// Last interaction (a read, a write, the end of a wait; a replica's
    /// primary link: an applied command), Unix ms by the coarse clock
    /// (`crate::db::coarse_ms`); set by [`ClientHandle::interacted`].
    pub last_active_ms: AtomicU64,
    /// Last command name.
    pub last_cmd: Mutex<&'static str>,
    /// Set by `CLIENT KILL`; the connection closes at its next step.
    pub killed: AtomicBool,
    /// Wakes the tasks other than the connection's own loop that serve this
    /// client (a replica's link) when it is killed.
    pub kill_notify: Notify,
    /// Wakes the connection task: a pushed message, a kill, a request to
    /// release its buffers, shutdown (it checks which).
    pub wake: super::doorbell::Doorbell,
    /// Authenticated user name.
    pub user: Mutex<String>,
    /// Parked in a blocking command (`CLIENT LIST` flag `b`; a command
    /// re-run for a parked client knows it is one).
    blocked: AtomicBool,
    /// Inside MULTI.
    pub in_multi: AtomicBool,
    /// Query buffer: bytes not yet executed (the current command's
    /// included, as Redis counts them), capacity and recent peak, published
    /// by the connection for `CLIENT LIST` (`qbuf`, `qbuf-free`) and the
    /// clients cron (see `server::querybuf`).
    pub qbuf: super::querybuf::QueryBufStats,
    /// Pub/sub messages waiting to be written to this connection.
    pub push: super::push::PushQueue,
    /// Subscriptions to channels, patterns and shard channels (`CLIENT
    /// LIST` `sub`, `psub`, `ssub`), published by the connection.
    pub sub_counts: [AtomicUsize; 3],
    /// In MONITOR mode (`CLIENT LIST` flag `O`).
    pub monitoring: AtomicBool,
    /// Client-side caching state bits (`super::tracking::handle_flags`),
    /// for `CLIENT LIST` flags `t`, `B`, `R`.
    pub tracking: std::sync::atomic::AtomicU8,
    /// Normal client, replica or this replica's primary
    /// (`crate::replication::KIND_*`: `CLIENT LIST` flags `S`/`M`, `CLIENT KILL TYPE`).
    pub kind: AtomicU8,
}

impl ClientHandle {
    /// Queues a copy of an encoded push message (pub/sub, an invalidation,
    /// a MONITOR line) for this connection and wakes it. O(size of msg).
    ///
    /// Every message rings, not only the first one queued since the last
    /// drain: ringing only for the first let a PUBLISH sent after an
    /// UNSUBSCRIBE on another connection run first (2 to 3 runs in 40 of
    /// `tests/pubsub` under load, none with a ring per message). That was
    /// before `super::read_now` fixed a reorder of exactly that kind, which
    /// may have been the cause; the ring-once variant was not measured
    /// again since.
    pub fn deliver(&self, msg: &[u8], limit: super::output_limit::Limit) -> super::push::Pushed {
        let r = self.push.push(msg, limit);
        self.wake.ring();
        r
    }

    /// Marks the client killed and wakes its connection.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill_notify.notify_one();
        self.wake.ring();
    }

    /// True while the client is parked in a blocking command. O(1).
    pub fn is_blocked(&self) -> bool {
        self.blocked.load(Ordering::Acquire)
    }

    /// Marks the client parked in a blocking command. O(1).
    pub fn set_blocked(&self) {
        self.blocked.store(true, Ordering::Release);
    }

    /// Marks the client's wait over. O(1).
    pub fn end_block(&self) {
        self.blocked.store(false, Ordering::Release);
    }

    /// Notes an interaction with the client now and returns the time: the
    /// connection's `timeout` counts from it, and CLIENT LIST's `idle` from
    /// the copy kept here. Called per read and write rather than per command
    /// (a clock read per request), as Redis keeps `lastinteraction`. O(1).
    pub fn interacted(&self) -> u64 {
        let now = crate::db::coarse_ms();
        self.last_active_ms.store(now, Ordering::Relaxed);
        now
    }

    /// Idle seconds.
    pub fn idle(&self) -> Duration {
        let last = self.last_active_ms.load(Ordering::Relaxed);
        Duration::from_millis(crate::db::coarse_ms().saturating_sub(last))
    }

    /// One line of `CLIENT LIST`, in Redis's field order.
    pub fn info_line(&self) -> String {
        let name = self.name.lock().as_ref().map(|n| String::from_utf8_lossy(n).into_owned()).unwrap_or_default();
        let (lib_name, lib_ver) = self.lib.lock().clone();
        let mut flags = String::new();
        if self.in_multi.load(Ordering::Relaxed) {
            flags.push('x');
        }
        if self.is_blocked() {
            flags.push('b');
        }
        if self.monitoring.load(Ordering::Relaxed) {
            flags.push('O');
        }
        match self.kind.load(Ordering::Relaxed) {
            crate::replication::KIND_REPLICA => flags.push('S'),
            crate::replication::KIND_MASTER => flags.push('M'),
            _ => {}
        }
        let subs = self.sub_counts.each_ref().map(|c| c.load(Ordering::Relaxed));
        if subs.iter().any(|&n| n > 0) {
            flags.push('P');
        }
        let tracking = self.tracking.load(Ordering::Relaxed);
        for (bit, c) in [(1, 't'), (4, 'R'), (2, 'B')] {
            if tracking & bit != 0 {
                flags.push(c);
            }
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let (qbuf, qbuf_cap) = (self.qbuf.len.load(Ordering::Relaxed), self.qbuf.cap.load(Ordering::Relaxed));
        format!(
            "id={} addr={} laddr={} fd=8 name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi=-1 qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            name,
            self.created.elapsed().as_secs(),
            self.idle().as_secs(),
            flags,
            self.db.load(Ordering::Relaxed),
            subs[0],
            subs[1],
            subs[2],
            qbuf,
            qbuf_cap.saturating_sub(qbuf),
            qbuf_cap,
            self.last_cmd.lock(),
            self.user.lock(),
            self.resp.load(Ordering::Relaxed),
            lib_name,
            lib_ver
        )
    }
}

/// State of one connection, owned by its task; commands read and change it.
pub struct ClientState {
    /// Shared part (name, kill flag …).
    pub handle: Arc<ClientHandle>,
    /// Selected database.
    pub db: usize,
    /// Negotiated protocol: 2 or 3.
    pub resp: u8,
    /// Queued commands while inside MULTI.
    pub multi: Option<Vec<Vec<Bytes>>>,
    /// A command failed to queue: EXEC must answer EXECABORT.
    pub multi_error: bool,
    /// Keys under WATCH.
    pub watched: Vec<(usize, Bytes)>,
    /// Set when a watched key changes.
    pub watch_dirty: DirtyFlag,
    /// Set by a blocking command that found nothing to pop.
    pub block: Option<BlockSpec>,
    /// Where this connection's state waits while it is parked in a blocking
    /// command (set on the stand-in state the connection holds meanwhile).
    pub parked: Option<Arc<crate::cmd::blocking::Parked>>,
    /// Commands are running inside EXEC (blocking commands answer at once).
    pub in_exec: bool,
    /// Running inside a script (`redis.call`): set-order-dependent replies
    /// are made deterministic (SORT BY nosort).
    pub in_script: bool,
    /// The error reply about to be sent was already counted in the error
    /// statistics (a script passing on a command's error): not again.
    pub error_counted: bool,
    /// `CLIENT REPLY` state.
    pub reply_mode: ReplyMode,
    /// Close the connection after writing the pending replies (QUIT, protocol error).
    pub close_after_reply: bool,
    /// Passed AUTH (or no password is configured).
    pub authenticated: bool,
    /// `CLIENT NO-TOUCH on`.
    pub no_touch: bool,
    /// `CLIENT NO-EVICT on`.
    pub no_evict: bool,
    /// AOF offset of this client's last logged write (replies wait for it under `appendfsync always`).
    pub aof_offset: u64,
    /// Writes of the running EXEC, logged together as MULTI … EXEC.
    pub exec_log: Vec<(usize, Vec<Bytes>)>,
    /// What the running command is logged as, when not as it was sent
    /// (set by commands whose effect depends on when they ran, such as
    /// XADD `*` or XREADGROUP; cleared after every command).
    pub propagate_as: Option<Vec<Vec<Bytes>>>,
    /// Keyspace events the running command raised itself (see
    /// [`crate::pubsub::notify::raise`]); published after it, then cleared.
    pub events: Vec<crate::pubsub::notify::Event>,
    /// The command just dispatched was held by CLIENT PAUSE: the
    /// connection waits for the pause to end and dispatches it again.
    pub postponed: bool,
    /// Pub/sub subscriptions (`None` until the first one).
    pub subs: Option<Box<crate::pubsub::Subscriptions>>,
    /// The ACL user this connection acts as, with the ACL version it was read at (None: look it up by name).
    pub acl_user: Option<(u64, Arc<crate::acl::user::User>)>,
    /// CLIENT TRACKING options while tracking is on (the registry in
    /// `Server::tracking` holds the same, for other threads).
    pub tracking: Option<super::tracking::Options>,
    /// `CLIENT CACHING yes|no` was given for the next command (or MULTI).
    pub caching: bool,
    /// A read-only command ran inside the running script: its declared keys
    /// are tracked when it ends, as Redis 7.0 does.
    pub script_read: bool,
    /// Invalidation messages for this client about keys its own command
    /// changed: written after that command's reply.
    pub after_reply: Vec<bytes::Bytes>,
    /// Set by PSYNC/SYNC/WAIT: what the connection does after the command.
    pub repl_request: Option<crate::replication::Request>,
    /// The table row the previous command's name resolved to: a pipeline
    /// repeating one command compares the name with it instead of hashing
    /// it again, and stores `cmd=` (CLIENT LIST) only when it changes.
    /// Cleared when a subcommand's full name is stored there instead.
    pub last_spec: Option<LastCommand>,
    /// Every argument of at least `BIG_ARG` bytes given to this client's
    /// commands spans an allocation of its own, exactly its size (its
    /// connection's parser is made with `RequestParser::exact_big_args`;
    /// queued, scripted and generated arguments are such copies or clones):
    /// SET and its kin may then keep one as the value without copying it.
    /// False unless the connection says so.
    pub args_exact: bool,
}

/// The previous command's name as the client spelled it (up to 16 bytes)
/// and the row it resolved to: the next command matches it by comparing
/// bytes, without lower-casing or hashing.
#[derive(Clone, Copy)]
pub struct LastCommand {
    /// The row.
    pub spec: &'static crate::cmd::table::CommandSpec,
    name: [u8; 16],
    len: u8,
}

impl LastCommand {
    /// `None` when `name` is too long to keep (such names are looked up
    /// every time).
    pub fn new(spec: &'static crate::cmd::table::CommandSpec, name: &[u8]) -> Option<LastCommand> {
        let mut buf = [0u8; 16];
        buf.get_mut(..name.len())?.copy_from_slice(name);
        Some(LastCommand { spec, name: buf, len: name.len() as u8 })
    }

    /// The row, if `name` is spelled exactly as last time. O(1): two
    /// overlapping word compares, not a `memcmp` call (1.4% of a pipelined
    /// GETBIT; names of three letters too, as GET).
    #[inline]
    pub fn matches(&self, name: &[u8]) -> Option<&'static crate::cmd::table::CommandSpec> {
        let n = name.len();
        if n != self.len as usize {
            return None;
        }
        let kept = &self.name[..n];
        let same = match n {
            8.. => at::<8>(name, 0) == at::<8>(kept, 0) && at::<8>(name, n - 8) == at::<8>(kept, n - 8),
            4.. => at::<4>(name, 0) == at::<4>(kept, 0) && at::<4>(name, n - 4) == at::<4>(kept, n - 4),
            2.. => at::<2>(name, 0) == at::<2>(kept, 0) && at::<2>(name, n - 2) == at::<2>(kept, n - 2),
            _ => name.first() == kept.first(),
        };
        same.then_some(self.spec)
    }
}

/// The `N` bytes of `b` from `from`, if it has them.
#[inline]
fn at<const N: usize>(b: &[u8], from: usize) -> Option<[u8; N]> {
    b.get(from..from + N)?.try_into().ok()
}

impl ClientState {
    /// A fresh client in database 0 speaking RESP2.
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> ClientState {
        ClientState {
            handle,
            db: 0,
            resp: 2,
            multi: None,
            multi_error: false,
            watched: Vec::new(),
            watch_dirty: Arc::new(AtomicBool::new(false)),
            block: None,
            parked: None,
            in_exec: false,
            in_script: false,
            error_counted: false,
            reply_mode: ReplyMode::On,
            close_after_reply: false,
            authenticated,
            no_touch: false,
            no_evict: false,
            aof_offset: 0,
            exec_log: Vec::new(),
            propagate_as: None,
            events: Vec::new(),
            subs: None,
            postponed: false,
            acl_user: None,
            tracking: None,
            caching: false,
            script_read: false,
            after_reply: Vec::new(),
            repl_request: None,
            last_spec: None,
            args_exact: false,
        }
    }

    /// The client id.
    pub fn id(&self) -> u64 {
        self.handle.id
    }

    /// In pub/sub mode: subscribed to at least one channel, pattern or
    /// shard channel.
    pub fn subscribed(&self) -> bool {
        self.subs.as_ref().is_some_and(|s| s.total() > 0)
    }
}

/// All connected clients, by id.
#[derive(Default)]
pub struct ClientRegistry {
    clients: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    next_id: AtomicU64,
}

impl ClientRegistry {
    /// Registers a new connection and returns its handle.
    pub fn register(&self, addr: Option<SocketAddr>, laddr: Option<SocketAddr>) -> Arc<ClientHandle> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let h = Arc::new(ClientHandle {
            id,
            addr: addr.map(|a| a.to_string()).unwrap_or_default(),
            laddr: laddr.map(|a| a.to_string()).unwrap_or_default(),
            local: addr.is_none_or(|a| is_local(a.ip())),
            created: Instant::now(),
            name: Mutex::new(None),
            lib: Mutex::new((String::new(), String::new())),
            db: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            last_active_ms: AtomicU64::new(crate::db::coarse_ms()),
            last_cmd: Mutex::new("NULL"),
            killed: AtomicBool::new(false),
            kill_notify: Notify::new(),
            wake: Default::default(),
            user: Mutex::new("default".into()),
            blocked: AtomicBool::new(false),
            in_multi: AtomicBool::new(false),
            qbuf: Default::default(),
            push: Default::default(),
            sub_counts: Default::default(),
            monitoring: AtomicBool::new(false),
            tracking: Default::default(),
            kind: AtomicU8::new(0),
        });
        self.clients.lock().insert(id, h.clone());
        h
    }

    /// Removes a closed connection.
    pub fn unregister(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    /// A snapshot of every client, in id order.
    pub fn list(&self) -> Vec<Arc<ClientHandle>> {
        self.clients.lock().values().cloned().collect()
    }

    /// Number of connected clients.
    pub fn len(&self) -> usize {
        self.clients.lock().len()
    }

    /// True when no client is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of clients blocked in a blocking command.
    pub fn blocked(&self) -> usize {
        self.clients.lock().values().filter(|c| c.is_blocked()).count()
    }

    /// The client with this id, if connected. O(log clients).
    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.clients.lock().get(&id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_matches_only_when_every_byte_is_the_same() {
        let Some(spec) = crate::cmd::table::lookup(b"get") else { panic!("GET is in the table") };
        for len in 1..=16 {
            let name: Vec<u8> = (0..len).map(|i| b'a' + i as u8).collect();
            let Some(last) = LastCommand::new(spec, &name) else { panic!("{len} bytes are kept") };
            assert!(last.matches(&name).is_some(), "{len}");
            assert!(last.matches(&name[..len - 1]).is_none(), "{len}");
            for i in 0..len {
                let mut other = name.clone();
                other[i] = b'Z';
                assert!(last.matches(&other).is_none(), "{len} {i}");
            }
        }
        assert!(LastCommand::new(spec, &[b'x'; 17]).is_none());
    }
}
