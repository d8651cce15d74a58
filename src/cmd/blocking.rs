//! The shared mechanism of every blocking command (BLPOP and the other
//! list pops, BZPOPMIN and the other sorted-set pops): serve at once when a
//! key is ready, otherwise park the client on its keys until a command
//! makes one of them ready — and serve it right then, before that command's
//! locks are released, as Redis's `handleClientsBlockedOnKeys` does after
//! every `call()`.
//!
//! # How a client blocks
//!
//! A blocking command that finds nothing to take calls [`serve`], which sets
//! `client.block` and answers [`Reply::None`]. [`super::execute`] then,
//! still holding the command's shard locks, moves the client's whole
//! [`ClientState`] and the command's arguments into a [`Parked`] slot and
//! queues it, per (database, key), behind the clients already waiting there
//! ([`BlockedClients::park`]). The connection task waits on the slot
//! (`server/connection.rs`) for a reply, its timeout, `CLIENT UNBLOCK`, or
//! its own disconnection, and takes its state back.
//!
//! # How a client is served
//!
//! A write whose keys have parked clients locks every shard
//! ([`BlockedClients::waits_on`] decides, under the key's shard lock, and a
//! client only parks while holding that lock, so the answer cannot go stale).
//! Every key the write made ready ([`crate::db::Locked::signal_ready`]) is
//! then served ([`serve_ready`]): its parked clients, in the order they
//! blocked, re-run their command with their own state under the same locks.
//! A client whose re-run still finds nothing stays parked in its place; one
//! that is served gets its reply through its slot; keys its command made
//! ready in turn (BLMOVE's destination) are served in the same pass. So no
//! later command — the pusher's next one included — can see a key ready
//! with a client still waiting on it, and clients are served first come,
//! first served.
//!
//! Serving, timing out and `CLIENT UNBLOCK` all end a wait by taking the
//! state out of the slot under its mutex, so exactly one of them wins.
//! Inside EXEC the commands never block: they answer the timeout reply.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

use super::args::wrongtype;
use super::{table, CmdResult, Ctx};
use crate::db::value::Hasher;
use crate::db::Value;
use crate::protocol::Reply;
use crate::server::client::{BlockSpec, ClientState, Unblock};

/// A (database, key) pair clients block on.
pub type DbKey = (usize, Bytes);

/// Whether a key's value can serve a blocked command: `Some(true)` when it
/// is of the command's type and holds elements, `Some(false)` when of the
/// type but empty, `None` when of another type (WRONGTYPE at first try).
pub type Readiness = fn(&Value) -> Option<bool>;

/// Where a parked client's state is while it waits.
enum Slot {
    /// Parked: the state and the command to re-run.
    Waiting(Box<(ClientState, Vec<Bytes>)>),
    /// Taken out by a command re-running it right now.
    Running,
    /// The wait is over: the state and the reply, for the connection.
    Done(Box<(ClientState, Reply)>),
    /// The connection has taken its state back.
    Collected,
}

/// One parked client: its keys, its deadline and its slot.
pub struct Parked {
    /// The client's id (`CLIENT ID`).
    id: u64,
    /// The keys it waits on (deduplicated).
    keys: Vec<DbKey>,
    /// When it times out (`None`: never).
    pub deadline: Option<Instant>,
    /// The reply on timeout (and `CLIENT UNBLOCK … TIMEOUT`).
    timeout_reply: Reply,
    slot: Mutex<Slot>,
    /// Signalled once the slot is `Done`.
    done: Notify,
}

impl Parked {
    /// Waits until the wait is over (served or unblocked). Cancel-safe.
    pub async fn done(&self) {
        self.done.notified().await
    }
}

/// Parked clients by id, and per (database, key) the ids in blocking order.
#[derive(Default)]
struct Queues {
    parked: HashMap<u64, Arc<Parked>, Hasher>,
    by_key: HashMap<DbKey, VecDeque<u64>, Hasher>,
    /// Waiters per key name in any database (MOVE and COPY … DB reach
    /// another database's key).
    any_db: HashMap<Bytes, usize, Hasher>,
}

impl Queues {
    /// Removes a client from the registry and its keys' queues.
    /// O(keys × queue length).
    fn remove(&mut self, p: &Parked) {
        self.parked.remove(&p.id);
        for k in &p.keys {
            if let Some(q) = self.by_key.get_mut(k) {
                q.retain(|&id| id != p.id);
                if q.is_empty() {
                    self.by_key.remove(k);
                }
            }
            if let Some(n) = self.any_db.get_mut(&k.1) {
                *n -= 1;
                if *n == 0 {
                    self.any_db.remove(&k.1);
                }
            }
        }
    }
}

/// Every client parked in a blocking command.
#[derive(Default)]
pub struct BlockedClients {
    queues: Mutex<Queues>,
    count: AtomicUsize,
}

impl BlockedClients {
    /// True when no client is parked (one atomic load: the fast path of
    /// every command).
    pub fn is_empty(&self) -> bool {
        self.count.load(Ordering::Acquire) == 0
    }

    /// True if a client is parked on any of `keys`, in any database (MOVE
    /// and COPY … DB write another database's key). Authoritative while the
    /// keys' shards are locked. O(keys).
    pub fn waits_on<'k>(&self, mut keys: impl Iterator<Item = &'k [u8]>) -> bool {
        if self.is_empty() {
            return false;
        }
        let q = self.queues.lock();
        keys.any(|k| q.any_db.contains_key(k))
    }

    /// Every key some client waits on (SWAPDB changes what they all hold).
    pub fn waited_keys(&self) -> Vec<DbKey> {
        if self.is_empty() {
            return Vec::new();
        }
        self.queues.lock().by_key.keys().cloned().collect()
    }

    /// Parks `client`, which just blocked in the command `args` as `block`
    /// says, at the end of its keys' queues. Must be called with the keys'
    /// shards locked. O(keys).
    pub fn park(&self, client: ClientState, args: Vec<Bytes>, block: BlockSpec) -> Arc<Parked> {
        let id = client.id();
        client.handle.set_blocked();
        let parked = Arc::new(Parked {
            id,
            keys: block.keys,
            deadline: block.deadline,
            timeout_reply: block.timeout_reply,
            slot: Mutex::new(Slot::Waiting(Box::new((client, args)))),
            done: Notify::new(),
        });
        let mut q = self.queues.lock();
        if let Some(stale) = q.parked.get(&id).cloned() {
            // Unreachable: a connection parks one command at a time.
            q.remove(&stale);
            self.count.fetch_sub(1, Ordering::AcqRel);
        }
        for k in &parked.keys {
            q.by_key.entry(k.clone()).or_default().push_back(id);
            *q.any_db.entry(k.1.clone()).or_default() += 1;
        }
        q.parked.insert(id, parked.clone());
        self.count.fetch_add(1, Ordering::AcqRel);
        parked
    }

    /// Ends a wait as `end` says if the client is still parked (not being
    /// served): removes it and marks its slot done. False if it was not
    /// parked or is being served.
    fn end_if_waiting(&self, p: &Parked, end: impl FnOnce(&Parked) -> Reply) -> bool {
        let mut q = self.queues.lock();
        let mut slot = p.slot.lock();
        if !matches!(*slot, Slot::Waiting(_)) {
            return false;
        }
        let Slot::Waiting(w) = std::mem::replace(&mut *slot, Slot::Running) else { return false };
        let (client, _) = *w;
        *slot = Slot::Done(Box::new((client, end(p))));
        drop(slot);
        self.unregister(&mut q, p);
        p.done.notify_one();
        true
    }

    /// Removes a client whose wait ended from the registry.
    fn unregister(&self, q: &mut Queues, p: &Parked) {
        if q.parked.get(&p.id).is_some_and(|x| std::ptr::eq(&**x, p)) {
            q.remove(p);
            self.count.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// `CLIENT UNBLOCK`: ends client `id`'s wait with its timeout reply or
    /// the `UNBLOCKED` error. True if it was parked (and not being served).
    pub fn unblock(&self, id: u64, how: Unblock) -> bool {
        let Some(p) = self.queues.lock().parked.get(&id).cloned() else { return false };
        self.end_if_waiting(&p, |p| how.reply(&p.timeout_reply))
    }

    /// The connection takes its state back once the wait is over, or gives
    /// up waiting (timeout, disconnection): a client still parked answers
    /// its timeout reply. `None` while a command is re-running it (wait on
    /// [`Parked::done`] and ask again).
    pub fn collect(&self, p: &Parked) -> Option<(ClientState, Reply)> {
        self.end_if_waiting(p, |p| p.timeout_reply.clone());
        let mut slot = p.slot.lock();
        match std::mem::replace(&mut *slot, Slot::Collected) {
            Slot::Done(d) => {
                let (client, reply) = *d;
                client.handle.end_block();
                Some((client, reply))
            }
            other => {
                *slot = other;
                None
            }
        }
    }

    /// The clients parked on `key`, in blocking order.
    fn queue(&self, key: &DbKey) -> Vec<Arc<Parked>> {
        let q = self.queues.lock();
        q.by_key.get(key).map_or_else(Vec::new, |ids| ids.iter().filter_map(|id| q.parked.get(id).cloned()).collect())
    }
}

/// Serves the clients parked on every key `ctx.ks` made ready, in blocking
/// order, re-running their commands under the same locks, until no ready
/// key is left (a served command may make others ready). Requires every
/// shard locked whenever a ready key has parked clients (see
/// [`BlockedClients::waits_on`]). O(parked clients on the ready keys ×
/// their commands).
pub fn serve_ready(ctx: &mut Ctx<'_, '_>) {
    let db = ctx.ks.db;
    while !ctx.ks.ready.is_empty() {
        let mut ready = std::mem::take(&mut ctx.ks.ready);
        if ready.len() > crate::db::keyspace::READY_SCAN_LIMIT {
            // Long lists may repeat keys: keep each key's first place.
            let mut seen = std::collections::HashSet::with_capacity(ready.len());
            ready.retain(|k| seen.insert(k.clone()));
        }
        for key in ready {
            for p in ctx.srv.blocking.queue(&key) {
                if !ctx.ks.is_all() {
                    // Unreachable by construction (a write whose keys have
                    // parked clients locks every shard); the client keeps
                    // waiting rather than touching an unlocked shard.
                    tracing::warn!(db = key.0, "ready key with parked clients served without every shard locked");
                    break;
                }
                serve_one(ctx, &p);
            }
        }
    }
    ctx.ks.db = db;
}

/// Re-runs one parked client's command in `ctx` (the running command's
/// locks, the parked client's state swapped in for the duration); answers
/// it unless it blocks again.
fn serve_one(ctx: &mut Ctx<'_, '_>, p: &Arc<Parked>) {
    let (mut state, args) = {
        let mut slot = p.slot.lock();
        if !matches!(*slot, Slot::Waiting(_)) {
            return;
        }
        match std::mem::replace(&mut *slot, Slot::Running) {
            Slot::Waiting(w) => *w,
            _ => return,
        }
    };
    let killed = state.handle.killed.load(Ordering::Acquire);
    let reply = match table::lookup(&args[0]) {
        Some(spec) if !killed => {
            std::mem::swap(ctx.client, &mut state);
            // Its own invalidations follow its reply, as a command's do.
            let srv = ctx.srv;
            let outer = srv.tracking.in_use().then(|| srv.tracking.enter(ctx.client.id()));
            let reply = super::run(ctx, spec, &args);
            if let Some(outer) = outer {
                srv.tracking.leave(&srv.clients, outer, ctx.client);
            }
            std::mem::swap(ctx.client, &mut state);
            reply
        }
        _ => Reply::None,
    };
    let blocking = &ctx.srv.blocking;
    let mut q = blocking.queues.lock();
    let mut slot = p.slot.lock();
    if state.block.take().is_some() || matches!(reply, Reply::None) {
        // Still nothing to take (or a killed client): keep its place.
        *slot = Slot::Waiting(Box::new((state, args)));
        return;
    }
    *slot = Slot::Done(Box::new((state, reply)));
    drop(slot);
    blocking.unregister(&mut q, p);
    p.done.notify_one();
}

/// The shared body of every blocking command: tries `keys` in order and
/// runs `take` on the first whose value `ready` accepts; otherwise blocks
/// (or, inside EXEC, answers `timeout_reply`). `take` must remove what it
/// serves and delete a key it empties. A re-run of a parked client (see
/// [`serve_ready`]) skips keys of another type instead of failing.
/// O(keys) plus `take`.
pub fn serve(
    ctx: &mut Ctx,
    keys: &[Bytes],
    timeout: Option<Duration>,
    timeout_reply: Reply,
    ready: Readiness,
    take: impl FnOnce(&mut Ctx, &Bytes) -> CmdResult,
) -> CmdResult {
    let rerun = ctx.client.handle.is_blocked();
    let mut found = None;
    for key in keys {
        match ctx.ks.peek(key).map(|e| ready(&e.value)) {
            None | Some(Some(false)) => {}
            Some(Some(true)) => {
                found = Some(key);
                break;
            }
            // A key that now holds another type does not serve a parked
            // client (Redis only serves keys of the command's type).
            Some(None) if rerun => {}
            Some(None) => return wrongtype(),
        }
    }
    if let Some(key) = found {
        return take(ctx, key);
    }
    if ctx.client.in_exec {
        return Ok(timeout_reply);
    }
    let db = ctx.ks.db;
    let mut waited: Vec<DbKey> = Vec::with_capacity(keys.len());
    for k in keys {
        if !waited.iter().any(|(_, w)| w == k) {
            waited.push((db, k.clone()));
        }
    }
    let deadline = timeout.and_then(|d| Instant::now().checked_add(d));
    ctx.client.block = Some(BlockSpec { keys: waited, deadline, timeout_reply, rerun_args: None });
    Ok(Reply::None)
}

/// A blocking timeout in seconds: [`super::args::timeout`], plus Redis's
/// `ERR timeout is out of range` for values that overflow milliseconds.
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, Reply> {
    if super::args::parse_f64_bytes(arg).is_some_and(|f| f * 1000.0 > i64::MAX as f64) {
        return super::args::fail("ERR timeout is out of range");
    }
    super::args::timeout(arg)
}
