//! Blocking list commands: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP.
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

use super::{move_one, mpop_from, parse_end, parse_mpop, parse_timeout, pop_n, write_list, End};
use crate::cmd::{CmdResult, Ctx};
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
fn finish(ctx: &mut Ctx, keys: &[Bytes], result: CmdResult) -> CmdResult {
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
        if d == db && keys.contains(&k) && ctx.ks.peek(&k).is_some_and(|e| matches!(e.value, Value::List(_))) {
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

/// The shared body of every blocking command: tries `keys` in order and
/// runs `take` on the first holding elements that are the caller's to
/// take; otherwise blocks (or, inside EXEC, answers `timeout_reply`).
fn serve(
    ctx: &mut Ctx,
    keys: &[Bytes],
    timeout: Option<Duration>,
    timeout_reply: Reply,
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
            return finish(ctx, keys, unblocked(how, &timeout_reply));
        }
    }
    for key in keys {
        let ready = match write_list(&mut ctx.ks, key) {
            // A key that now holds another type does not serve a blocked
            // client (Redis only serves list keys): keep waiting.
            Err(_) if retry => false,
            Err(e) => return finish(ctx, keys, Err(e)),
            Ok(l) => l.is_some_and(|l| !l.is_empty()),
        };
        if ready && !(fifo && someone_ahead(ctx, key)) {
            // Serving and CLIENT UNBLOCK exclude each other: whichever
            // changes the client's block state first wins.
            if retry && !ctx.client.handle.claim_served() {
                if let Some(how) = ctx.client.handle.unblock_requested() {
                    return finish(ctx, keys, unblocked(how, &timeout_reply));
                }
            }
            let r = take(ctx, key);
            return finish(ctx, keys, r);
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

/// BLPOP/BRPOP key [key ...] timeout: `[key, element]`, or a null array
/// on timeout. O(number of keys).
fn bpop(ctx: &mut Ctx, a: &[Bytes], end: End) -> CmdResult {
    let timeout = parse_timeout(&a[a.len() - 1])?;
    serve(ctx, &a[1..a.len() - 1], timeout, Reply::NilArray, |ctx, key| {
        let v = pop_n(&mut ctx.ks, key, end, 1).into_iter().next();
        Ok(Reply::Array(vec![Reply::Bulk(key.clone()), Reply::opt_bulk(v)]))
    })
}

/// BLPOP: pops the head of the first non-empty list, blocking until one is
/// non-empty. O(number of keys).
pub(super) fn blpop(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    bpop(ctx, a, End::Left)
}

/// BRPOP: pops the tail of the first non-empty list, blocking until one is
/// non-empty. O(number of keys).
pub(super) fn brpop(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    bpop(ctx, a, End::Right)
}

/// BLMOVE/BRPOPLPUSH body: LMOVE once `src` holds elements; null bulk on
/// timeout. O(1).
fn bmove(ctx: &mut Ctx, a: &[Bytes], from: End, to: End, timeout: Option<Duration>) -> CmdResult {
    let dst = a[2].clone();
    serve(ctx, &a[1..2], timeout, Reply::Nil, |ctx, src| move_one(ctx, src, &dst, from, to))
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout. O(1).
pub(super) fn blmove(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (from, to) = (parse_end(&a[3])?, parse_end(&a[4])?);
    let timeout = parse_timeout(&a[5])?;
    bmove(ctx, a, from, to, timeout)
}

/// BRPOPLPUSH source destination timeout (BLMOVE … RIGHT LEFT). O(1).
pub(super) fn brpoplpush(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let timeout = parse_timeout(&a[3])?;
    bmove(ctx, a, End::Right, End::Left, timeout)
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT n]:
/// `[key, [elements]]`, or a null array on timeout. O(keys + popped).
pub(super) fn blmpop(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let m = parse_mpop(a, 2)?;
    let timeout = parse_timeout(&a[1])?;
    serve(ctx, m.keys, timeout, Reply::NilArray, |ctx, key| Ok(mpop_from(ctx, key, m.end, m.count)))
}
