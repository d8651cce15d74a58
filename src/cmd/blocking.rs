//! The shared mechanism of every blocking command (BLPOP and the other
//! list pops, BZPOPMIN and the other sorted-set pops): serve at once when a
//! key is ready, otherwise block the client on its keys.
//!
//! A blocking command that finds nothing to pop sets `client.block` and
//! replies [`Reply::None`]; the connection then registers the client on the
//! keys and re-executes the whole command whenever one of them is signalled
//! (see `server/connection.rs`), until it produces a reply or times out.
//! Inside EXEC the commands never block: they answer the timeout reply.
//!
//! # Serving order
//!
//! A push wakes every client blocked on the key and their retries race for
//! the shard lock. To serve them first-come first-served anyway, this module
//! keeps, per (database, key), the queue of clients that blocked on it
//! (a *session* per blocked command). A blocking command that finds
//! elements on a key pops them only if no client ahead of it in that key's
//! queue is going to retry (it is blocked, not killed, not about to time
//! out); otherwise it leaves them to that client and keeps waiting. A client
//! that is served (or fails) re-signals its keys that still hold elements,
//! so the next one in line retries. New blocking commands queue behind
//! clients already waiting, as in Redis.
//!
//! # CLIENT UNBLOCK
//!
//! An unblock request wakes the client; its retry answers the timeout reply
//! (or the `UNBLOCKED` error) and hands its place in line on like a served
//! client. A retry about to pop claims the client's block state first, so a
//! client is either served or unblocked, never both.
//!
//! Limits of the retry design: a non-blocking pop (LPOP …) can take
//! elements before a woken client retries; and a client that disconnects at
//! the very moment it is woken leaves the element to the next push's wake-up.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

use super::args::wrongtype;
use super::{CmdResult, Ctx};
use crate::db::value::Hasher;
use crate::db::Value;
use crate::protocol::Reply;
use crate::server::client::{BlockSpec, ClientHandle, Unblock};

/// A waiter whose deadline is closer than this may time out instead of
/// retrying, so nobody defers to it.
const DEADLINE_MARGIN: Duration = Duration::from_millis(50);

/// A (database, key) pair clients block on.
type DbKey = (usize, Bytes);

/// One blocked command of one client.
struct Session {
    /// Distinguishes this command from the client's earlier ones.
    gen: u64,
    /// The keys it waits on (deduplicated).
    keys: Vec<DbKey>,
    /// When it times out (`None`: never).
    deadline: Option<Instant>,
    /// The client; dead once the connection is gone.
    handle: Weak<ClientHandle>,
}

impl Session {
    /// True when this command can no longer be served: the client is gone
    /// or killed, or its timeout passed.
    fn gone(&self, now: Instant) -> bool {
        match self.handle.upgrade() {
            None => true,
            Some(h) => h.killed.load(Ordering::Acquire) || self.deadline.is_some_and(|d| d <= now),
        }
    }

    /// True when the client is parked on this command and will retry when
    /// woken (so elements may be left to it).
    fn will_retry(&self, now: Instant) -> bool {
        match self.handle.upgrade() {
            None => false,
            Some(h) => {
                h.is_waiting()
                    && !h.killed.load(Ordering::Acquire)
                    && self.deadline.is_none_or(|d| d > now + DEADLINE_MARGIN)
            }
        }
    }
}

/// Sessions by client (the address of its [`ClientHandle`], unique while
/// the session holds a `Weak` to it) and the per-key queues of
/// `(client, gen)`. Invariant: a queue entry exists iff its session does.
#[derive(Default)]
struct Fifo {
    sessions: HashMap<usize, Session, Hasher>,
    queues: HashMap<DbKey, VecDeque<(usize, u64)>, Hasher>,
    next_gen: u64,
    sweep_at: usize,
}

impl Fifo {
    /// Removes a session and its queue entries. O(keys × queue length).
    fn remove(&mut self, id: usize) -> Option<Session> {
        let s = self.sessions.remove(&id)?;
        for k in &s.keys {
            if let Some(q) = self.queues.get_mut(k) {
                q.retain(|e| *e != (id, s.gen));
                if q.is_empty() {
                    self.queues.remove(k);
                }
            }
        }
        Some(s)
    }

    /// Drops every session that can no longer be served, once the number of
    /// sessions has doubled since the last sweep (amortized O(1)).
    fn maybe_sweep(&mut self, now: Instant) {
        if self.sessions.len() < self.sweep_at {
            return;
        }
        let dead: Vec<usize> = self.sessions.iter().filter(|(_, s)| s.gone(now)).map(|(id, _)| *id).collect();
        for id in dead {
            self.remove(id);
        }
        self.sweep_at = (self.sessions.len() * 2).max(64);
    }
}

static FIFO: LazyLock<Mutex<Fifo>> = LazyLock::new(Default::default);

/// The calling client's identity in [`Fifo`].
fn me(ctx: &Ctx) -> usize {
    Arc::as_ptr(&ctx.client.handle) as usize
}

/// True if a client ahead of the caller in `key`'s queue will retry, so the
/// caller must leave the key's elements to it. Prunes dead entries.
fn someone_ahead(ctx: &Ctx, key: &Bytes) -> bool {
    let id = me(ctx);
    let k = (ctx.ks.db, key.clone());
    let now = Instant::now();
    let mut f = FIFO.lock();
    let Some(q) = f.queues.get(&k) else { return false };
    let mut dead = Vec::new();
    let mut ahead = false;
    for &(cid, gen) in q {
        let Some(s) = f.sessions.get(&cid).filter(|s| s.gen == gen) else { continue };
        if cid == id {
            break;
        }
        if s.gone(now) {
            dead.push(cid);
        } else if s.will_retry(now) {
            ahead = true;
            break;
        }
    }
    for cid in dead {
        f.remove(cid);
    }
    ahead
}

/// Queues the caller on `keys` unless its session already exists.
fn enqueue(ctx: &Ctx, keys: &[DbKey], deadline: Option<Instant>) {
    let id = me(ctx);
    let mut f = FIFO.lock();
    if f.sessions.contains_key(&id) {
        return;
    }
    f.maybe_sweep(Instant::now());
    f.next_gen += 1;
    let gen = f.next_gen;
    for k in keys {
        f.queues.entry(k.clone()).or_default().push_back((id, gen));
    }
    let handle = Arc::downgrade(&ctx.client.handle);
    f.sessions.insert(id, Session { gen, keys: keys.to_vec(), deadline, handle });
}

/// Ends the caller's session (if any) with `result`; its keys that still
/// hold elements and have other waiters are signalled so the next in line
/// retries.
fn finish(ctx: &mut Ctx, keys: &[Bytes], ready: Readiness, result: CmdResult) -> CmdResult {
    let id = me(ctx);
    let mut waiting = Vec::new();
    {
        let mut f = FIFO.lock();
        if let Some(s) = f.remove(id) {
            waiting = s.keys.into_iter().filter(|k| f.queues.contains_key(k)).collect();
        }
    }
    let db = ctx.ks.db;
    for (d, k) in waiting {
        // Only keys of this command are locked.
        if d == db && keys.contains(&k) && ctx.ks.peek(&k).is_some_and(|e| ready(&e.value) == Some(true)) {
            ctx.ks.signal_ready(&k);
        }
    }
    result
}

/// The answer of a command unblocked by `CLIENT UNBLOCK` (errors as `Err`,
/// so they are counted as failed calls). O(size of `timeout_reply`).
fn unblocked(how: Unblock, timeout_reply: &Reply) -> CmdResult {
    match how.reply(timeout_reply) {
        e @ Reply::Error(_) => Err(e),
        r => Ok(r),
    }
}

/// Whether a key's value can serve a blocked command: `Some(true)` when it
/// is of the command's type and holds elements, `Some(false)` when of the
/// type but empty, `None` when of another type (WRONGTYPE at first try).
pub type Readiness = fn(&Value) -> Option<bool>;

/// The shared body of every blocking command: tries `keys` in order and
/// runs `take` on the first whose value `ready` accepts and that is the
/// caller's to take; otherwise blocks (or, inside EXEC, answers
/// `timeout_reply`). `take` must remove what it serves and delete a key it
/// empties. O(keys) plus `take`.
pub fn serve(
    ctx: &mut Ctx,
    keys: &[Bytes],
    timeout: Option<Duration>,
    timeout_reply: Reply,
    ready: Readiness,
    mut take: impl FnMut(&mut Ctx, &Bytes) -> CmdResult,
) -> CmdResult {
    let fifo = !ctx.client.in_exec;
    let retry = fifo && ctx.client.handle.is_blocked();
    if fifo && !retry {
        // A new command, not a retry: forget the client's earlier session.
        FIFO.lock().remove(me(ctx));
    }
    if retry {
        if let Some(how) = ctx.client.handle.unblock_requested() {
            return finish(ctx, keys, ready, unblocked(how, &timeout_reply));
        }
    }
    for key in keys {
        let has = match ctx.ks.write(key).map(|e| ready(&e.value)) {
            None => false,
            Some(Some(has)) => has,
            // A key that now holds another type does not serve a blocked
            // client (Redis only serves keys of the command's type): keep waiting.
            Some(None) if retry => false,
            Some(None) => return finish(ctx, keys, ready, wrongtype()),
        };
        if has && !(fifo && someone_ahead(ctx, key)) {
            // Serving and CLIENT UNBLOCK exclude each other: whichever
            // changes the client's block state first wins.
            if retry && !ctx.client.handle.claim_served() {
                if let Some(how) = ctx.client.handle.unblock_requested() {
                    return finish(ctx, keys, ready, unblocked(how, &timeout_reply));
                }
            }
            let r = take(ctx, key);
            return finish(ctx, keys, ready, r);
        }
    }
    if !fifo {
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
    enqueue(ctx, &waited, deadline);
    ctx.client.block = Some(BlockSpec { keys: waited, deadline, timeout_reply });
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
