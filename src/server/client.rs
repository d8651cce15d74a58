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
    /// Last command time, Unix ms by the coarse clock (`crate::db::coarse_ms`).
    pub last_active_ms: AtomicU64,
    /// Last command name.
    pub last_cmd: Mutex<&'static str>,
    /// Set by `CLIENT KILL`; the connection closes at its next step.
    pub killed: AtomicBool,
    /// Wakes the connection task when killed.
    pub kill_notify: Notify,
    /// Authenticated user name.
    pub user: Mutex<String>,
    /// Blocked in a blocking command.
    pub blocked: AtomicBool,
    /// Inside MULTI.
    pub in_multi: AtomicBool,
}

impl ClientHandle {
    /// Marks the client killed and wakes its connection.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.kill_notify.notify_one();
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
        if self.blocked.load(Ordering::Relaxed) {
            flags.push('b');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        format!(
            "id={} addr={} laddr={} fd=8 name={} age={} idle={} flags={} db={} sub=0 psub=0 ssub=0 multi=-1 watch=0 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=16384 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user={} redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            name,
            self.created.elapsed().as_secs(),
            self.idle().as_secs(),
            flags,
            self.db.load(Ordering::Relaxed),
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
    /// The blocked command was woken by its deadline (retry returns the timeout reply).
    pub in_exec: bool,
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
    /// The ACL user this connection acts as, with the ACL version it was read at (None: look it up by name).
    pub acl_user: Option<(u64, Arc<crate::acl::user::User>)>,
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
            in_exec: false,
            reply_mode: ReplyMode::On,
            close_after_reply: false,
            authenticated,
            no_touch: false,
            no_evict: false,
            aof_offset: 0,
            exec_log: Vec::new(),
            acl_user: None,
        }
    }

    /// The client id.
    pub fn id(&self) -> u64 {
        self.handle.id
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
            created: Instant::now(),
            name: Mutex::new(None),
            lib: Mutex::new((String::new(), String::new())),
            db: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            last_active_ms: AtomicU64::new(crate::db::coarse_ms()),
            last_cmd: Mutex::new("NULL"),
            killed: AtomicBool::new(false),
            kill_notify: Notify::new(),
            user: Mutex::new("default".into()),
            blocked: AtomicBool::new(false),
            in_multi: AtomicBool::new(false),
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
        self.clients.lock().values().filter(|c| c.blocked.load(Ordering::Relaxed)).count()
    }
}
