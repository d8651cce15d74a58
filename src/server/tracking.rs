//! Client-side caching (Redis's `tracking.c`): which clients may hold which
//! keys in a local cache, and the invalidation messages that tell them a
//! key changed.
//!
//! Two modes, as in Redis:
//! - **default**: every key a tracking client reads with a read-only
//!   command is remembered in one table (key → client ids, across all
//!   databases, as Redis keeps it). The first change to the key sends each of
//!   those clients one `invalidate [key]` and forgets the entry, so a key is
//!   invalidated once per read, however often it changes. The table holds at
//!   most `tracking-table-max-keys` keys: past that, keys are invalidated
//!   early to make room ([`Tracking::limit`]).
//! - **BCAST**: a client names key prefixes (none: every key); each command
//!   sends it one message listing the keys it changed under each prefix,
//!   whether the client read them or not. No table memory.
//!
//! Messages go as RESP3 push frames, or, redirected to another connection
//! (`REDIRECT id`), as RESP3 pushes or RESP2 `message`s of the
//! `__redis__:invalidate` channel when that connection is subscribed. A flush
//! sends a null key list. A message to the client whose own command changed
//! the key is written after that command's reply, as Redis does, through the
//! per-thread [`Scope`] the command runs in.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::{BufMut, Bytes, BytesMut};
use parking_lot::Mutex;

use super::client::{ClientHandle, ClientRegistry, ClientState};
use super::output_limit::Limit;

/// Bits of [`ClientHandle::tracking`], for `CLIENT LIST` flags.
pub mod handle_flags {
    /// Tracking is on (`t`).
    pub const ON: u8 = 1;
    /// BCAST mode (`B`).
    pub const BCAST: u8 = 2;
    /// The redirect client is gone (`R`).
    pub const BROKEN: u8 = 4;
}

/// `tracking-table-max-keys` (0: no limit), read without the config lock.
static MAX_KEYS: AtomicUsize = AtomicUsize::new(1_000_000);

/// Applies `tracking-table-max-keys`; the next command or cron tick
/// invalidates keys past it.
pub fn set_max_keys(n: u64) {
    MAX_KEYS.store(n as usize, Ordering::Relaxed);
}

/// A client's tracking options (`CLIENT TRACKING ON …`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Client id to send invalidations to (0: this connection).
    pub redirect: u64,
    /// BCAST mode.
    pub bcast: bool,
    /// Track only reads preceded by `CLIENT CACHING yes`.
    pub optin: bool,
    /// Track every read except those preceded by `CLIENT CACHING no`.
    pub optout: bool,
    /// No messages about keys this client changed itself.
    pub noloop: bool,
}

/// What the registry keeps per tracking client.
#[derive(Debug)]
struct Tracker {
    opts: Options,
    handle: std::sync::Weak<ClientHandle>,
    /// BCAST prefixes, sorted.
    prefixes: Vec<Bytes>,
}

#[derive(Default)]
struct State {
    /// Default mode: key → ids of clients that read it since its last change.
    table: HashMap<Bytes, HashSet<u64>, foldhash::fast::FixedState>,
    /// Client ids across `table` (`tracking_total_items`).
    items: usize,
    trackers: HashMap<u64, Tracker>,
    /// BCAST prefix → subscribed client ids.
    prefixes: BTreeMap<Bytes, Vec<u64>>,
    /// Consecutive [`Tracking::limit`] calls that left the table over its
    /// limit: each does more work than the last, as Redis's.
    limit_rounds: usize,
}

/// The server's client-side caching registry.
#[derive(Default)]
pub struct Tracking {
    state: Mutex<State>,
    /// Table keys plus prefixes: 0 means no change needs looking at (the
    /// fast path of every write).
    watched: AtomicUsize,
    /// Clients with tracking on (`tracking_clients`).
    clients: AtomicUsize,
}

/// The invalidation messages of one command, gathered on its thread so those
/// for the running client follow its reply and BCAST keys go out in one
/// message per prefix.
struct ScopeData {
    /// The client whose command runs.
    id: u64,
    /// Keys (None: a flush) to invalidate for the running client itself.
    own: Vec<Option<Bytes>>,
    /// Keys changed, with the client that changed them (None: expiry or
    /// eviction), for BCAST clients.
    bcast: Vec<(Bytes, Option<u64>)>,
}

thread_local! {
    static SCOPE: RefCell<Option<ScopeData>> = const { RefCell::new(None) };
}

/// The scope a command replaced, restored by [`Tracking::leave`].
#[must_use]
pub struct Scope(Option<ScopeData>);

/// The client whose command runs on this thread (0: none).
fn current_id() -> u64 {
    SCOPE.with(|s| s.borrow().as_ref().map_or(0, |d| d.id))
}

impl Tracking {
    /// True when some client tracks or some key is remembered: only then do
    /// commands open a [`Scope`] and writes look keys up. O(1).
    pub fn in_use(&self) -> bool {
        self.clients.load(Ordering::Relaxed) > 0 || self.watched.load(Ordering::Relaxed) > 0
    }

    /// `tracking_clients`, `tracking_total_keys`, `tracking_total_items`,
    /// `tracking_total_prefixes` of INFO.
    pub fn stats(&self) -> (usize, usize, usize, usize) {
        let s = self.state.lock();
        (self.clients.load(Ordering::Relaxed), s.table.len(), s.items, s.prefixes.len())
    }

    fn recount(&self, s: &State) {
        self.watched.store(s.table.len() + s.prefixes.len(), Ordering::Relaxed);
    }

    /// Turns tracking on (or changes its options) for `client`. The caller
    /// has checked the options (see `cmd::client_tracking`). BCAST prefixes
    /// add to those already set.
    pub fn enable(&self, handle: &std::sync::Arc<ClientHandle>, opts: Options, prefixes: &[Bytes]) {
        let mut s = self.state.lock();
        let id = handle.id;
        let mut kept = match s.trackers.remove(&id) {
            Some(t) => t.prefixes,
            None => {
                self.clients.fetch_add(1, Ordering::Relaxed);
                Vec::new()
            }
        };
        if opts.bcast {
            let wanted: Vec<Bytes> = if prefixes.is_empty() { vec![Bytes::new()] } else { prefixes.to_vec() };
            for p in wanted {
                let p = Bytes::copy_from_slice(&p);
                let ids = s.prefixes.entry(p.clone()).or_default();
                if !ids.contains(&id) {
                    ids.push(id);
                }
                if !kept.contains(&p) {
                    kept.push(p);
                }
            }
            kept.sort();
        }
        let mut bits = handle_flags::ON;
        if opts.bcast {
            bits |= handle_flags::BCAST;
        }
        handle.tracking.store(bits, Ordering::Relaxed);
        s.trackers.insert(id, Tracker { opts, handle: std::sync::Arc::downgrade(handle), prefixes: kept });
        self.recount(&s);
    }

    /// Turns tracking off for client `id` (also when it disconnects). Keys
    /// it read stay in the table until they change, as in Redis.
    pub fn disable(&self, handle: &ClientHandle) {
        if handle.tracking.swap(0, Ordering::Relaxed) == 0 {
            return;
        }
        let mut s = self.state.lock();
        if let Some(t) = s.trackers.remove(&handle.id) {
            self.clients.fetch_sub(1, Ordering::Relaxed);
            for p in &t.prefixes {
                if let Some(ids) = s.prefixes.get_mut(p) {
                    ids.retain(|&i| i != handle.id);
                    if ids.is_empty() {
                        s.prefixes.remove(p);
                    }
                }
            }
        }
        self.recount(&s);
    }

    /// The options and prefixes of client `id`, if it tracks.
    pub fn options(&self, id: u64) -> Option<(Options, Vec<Bytes>)> {
        let s = self.state.lock();
        s.trackers.get(&id).map(|t| (t.opts.clone(), t.prefixes.clone()))
    }

    /// The BCAST prefix of client `id` that overlaps `p` (one is a prefix
    /// of the other), for Redis's collision error.
    pub fn overlapping_prefix(&self, id: u64, p: &[u8]) -> Option<Bytes> {
        let s = self.state.lock();
        let t = s.trackers.get(&id)?;
        t.prefixes.iter().find(|q| overlaps(q, p)).cloned()
    }

    /// Remembers that `client` read `keys` (default mode). O(keys).
    pub fn remember<'k>(&self, id: u64, keys: impl Iterator<Item = &'k [u8]>) {
        let mut s = self.state.lock();
        let mut added = 0;
        for k in keys {
            let ids = match s.table.get_mut(k) {
                Some(ids) => ids,
                None => s.table.entry(Bytes::copy_from_slice(k)).or_default(),
            };
            if ids.insert(id) {
                added += 1;
            }
        }
        s.items += added;
        self.recount(&s);
    }

    /// Begins a command's scope on this thread for client `id`: messages to
    /// that client wait for [`Self::leave`], BCAST keys are batched.
    pub fn enter(&self, id: u64) -> Scope {
        Scope(SCOPE.with(|s| s.borrow_mut().replace(ScopeData { id, own: Vec::new(), bcast: Vec::new() })))
    }

    /// Ends the scope [`Self::enter`] began (restoring `outer`): sends the
    /// BCAST messages and queues the running client's own messages in
    /// `client.after_reply`.
    pub fn leave(&self, clients: &ClientRegistry, outer: Scope, client: &mut ClientState) {
        let Some(data) = SCOPE.with(|s| std::mem::replace(&mut *s.borrow_mut(), outer.0)) else { return };
        if data.own.is_empty() && data.bcast.is_empty() {
            return;
        }
        let s = self.state.lock();
        for key in &data.own {
            let body = key.as_ref().map(|k| key_array(std::iter::once(&k[..]), 1));
            self.send(&s, clients, client.id(), body.as_deref(), Some(client));
        }
        if !data.bcast.is_empty() {
            self.broadcast(&s, clients, data.bcast, Some(client));
        }
    }

    /// `key` changed, by client `by` (None: expired or evicted). Cheap when
    /// nothing is tracked.
    pub fn invalidate(&self, clients: &ClientRegistry, key: &[u8], by: Option<u64>) {
        if self.watched.load(Ordering::Relaxed) == 0 {
            return;
        }
        let mut s = self.state.lock();
        if !s.prefixes.is_empty() {
            let batched = SCOPE.with(|sc| match sc.borrow_mut().as_mut() {
                Some(d) => {
                    d.bcast.push((Bytes::copy_from_slice(key), by));
                    true
                }
                None => false,
            });
            if !batched {
                self.broadcast(&s, clients, vec![(Bytes::copy_from_slice(key), by)], None);
            }
        }
        self.invalidate_tracked(&mut s, clients, key);
        self.recount(&s);
    }

    /// The default-mode half of [`Self::invalidate`]: tells every client
    /// that read `key` and forgets them.
    fn invalidate_tracked(&self, s: &mut State, clients: &ClientRegistry, key: &[u8]) {
        let Some(ids) = s.table.remove(key) else { return };
        s.items -= ids.len();
        let current = current_id();
        let mut body = None;
        for id in ids {
            let Some(t) = s.trackers.get(&id) else { continue };
            if t.opts.bcast || (t.opts.noloop && id == current) {
                continue;
            }
            if id == current {
                SCOPE.with(|sc| {
                    if let Some(d) = sc.borrow_mut().as_mut() {
                        d.own.push(Some(Bytes::copy_from_slice(key)));
                    }
                });
                continue;
            }
            let body = body.get_or_insert_with(|| key_array(std::iter::once(key), 1));
            self.send(s, clients, id, Some(body), None);
        }
    }

    /// FLUSHALL/FLUSHDB: every tracking client is told to drop its whole
    /// cache (a null key list), and the table is emptied.
    pub fn flush(&self, clients: &ClientRegistry) {
        if !self.in_use() {
            return;
        }
        let mut s = self.state.lock();
        let current = current_id();
        let ids: Vec<u64> = s.trackers.keys().copied().collect();
        for id in ids {
            if id == current {
                SCOPE.with(|sc| {
                    if let Some(d) = sc.borrow_mut().as_mut() {
                        d.own.push(None);
                    }
                });
                continue;
            }
            self.send(&s, clients, id, None, None);
        }
        s.table.clear();
        s.items = 0;
        self.recount(&s);
    }

    /// Invalidates keys until the table holds at most
    /// `tracking-table-max-keys`, doing at most 100 × (rounds over the
    /// limit so far) keys per call, as Redis's `trackingLimitUsedSlots`.
    /// Called before each command and once a second.
    pub fn limit(&self, clients: &ClientRegistry) {
        let max = MAX_KEYS.load(Ordering::Relaxed);
        if max == 0 || self.watched.load(Ordering::Relaxed) <= max {
            return;
        }
        let mut s = self.state.lock();
        if s.table.len() <= max {
            s.limit_rounds = 0;
            return;
        }
        let effort = 100 * (s.limit_rounds + 1);
        let victims: Vec<Bytes> = s.table.keys().take(effort).cloned().collect();
        for k in victims {
            self.invalidate_tracked(&mut s, clients, &k);
            if s.table.len() <= max {
                s.limit_rounds = 0;
                self.recount(&s);
                return;
            }
        }
        s.limit_rounds += 1;
        self.recount(&s);
    }

    /// Sends the BCAST messages for `changed` keys: per prefix, the keys
    /// under it (sorted, each once; for a NOLOOP client without those it
    /// changed last itself).
    fn broadcast(
        &self,
        s: &State,
        clients: &ClientRegistry,
        changed: Vec<(Bytes, Option<u64>)>,
        mut own: Option<&mut ClientState>,
    ) {
        // Last change of each key wins, as Redis's radix-tree insert.
        let mut last: BTreeMap<Bytes, Option<u64>> = BTreeMap::new();
        for (k, by) in changed {
            last.insert(k, by);
        }
        for (prefix, ids) in &s.prefixes {
            let keys: Vec<(&Bytes, Option<u64>)> =
                last.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(k, b)| (k, *b)).collect();
            if keys.is_empty() {
                continue;
            }
            let all = key_array(keys.iter().map(|(k, _)| &k[..]), keys.len());
            for &id in ids {
                let noloop = s.trackers.get(&id).is_some_and(|t| t.opts.noloop);
                let body = if noloop {
                    let mine: Vec<&[u8]> = keys.iter().filter(|(_, b)| *b != Some(id)).map(|(k, _)| &k[..]).collect();
                    if mine.is_empty() {
                        continue;
                    }
                    key_array(mine.iter().copied(), mine.len())
                } else {
                    all.clone()
                };
                let me = own.as_deref_mut().filter(|c| c.id() == id);
                self.send(s, clients, id, Some(&body), me);
            }
        }
    }

    /// Sends one invalidation for tracking client `id` — of the keys in
    /// `body` (an encoded array), or of everything (None, after a flush) —
    /// to its redirect client, or to itself (after the reply when `own` is
    /// its running state). A gone redirect marks the client broken and tells
    /// it so (RESP3 only), as Redis does.
    fn send(&self, s: &State, clients: &ClientRegistry, id: u64, body: Option<&[u8]>, own: Option<&mut ClientState>) {
        let Some(t) = s.trackers.get(&id) else { return };
        let Some(me) = t.handle.upgrade() else { return };
        if t.opts.redirect != 0 {
            let Some(target) = clients.get(t.opts.redirect) else {
                me.tracking.fetch_or(handle_flags::BROKEN, Ordering::Relaxed);
                if me.resp.load(Ordering::Relaxed) >= 3 {
                    let mut m = BytesMut::new();
                    m.put_slice(b">2\r\n$21\r\ntracking-redir-broken\r\n");
                    m.put_slice(format!(":{}\r\n", t.opts.redirect).as_bytes());
                    me.deliver(&m, Limit::default());
                }
                return;
            };
            if let Some(msg) = frame(&target, body, true) {
                target.deliver(&msg, Limit::default());
            }
            return;
        }
        let Some(msg) = frame(&me, body, false) else { return };
        match own {
            Some(c) => c.after_reply.push(msg),
            None => {
                me.deliver(&msg, Limit::default());
            }
        }
    }
}

/// True when one of `a`, `b` is a prefix of the other.
pub fn overlaps(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

/// The invalidation frame for `target`: a RESP3 push, or for a redirect
/// target in RESP2 pub/sub mode a `__redis__:invalidate` message; None when
/// the target cannot receive it (RESP2, not subscribed). A flush (`body`
/// None) is the null of the target's protocol.
fn frame(target: &ClientHandle, body: Option<&[u8]>, redirected: bool) -> Option<Bytes> {
    let resp3 = target.resp.load(Ordering::Relaxed) >= 3;
    let body = body.unwrap_or(if resp3 { b"_\r\n" } else { b"$-1\r\n" });
    let mut m = BytesMut::with_capacity(40 + body.len());
    if resp3 {
        m.put_slice(b">2\r\n$10\r\ninvalidate\r\n");
    } else if redirected && target.sub_counts.iter().any(|c| c.load(Ordering::Relaxed) > 0) {
        m.put_slice(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n");
    } else {
        return None;
    }
    m.put_slice(body);
    Some(m.freeze())
}

/// `*n` followed by the keys as bulk strings.
fn key_array<'k>(keys: impl Iterator<Item = &'k [u8]>, n: usize) -> Vec<u8> {
    let mut out = format!("*{n}\r\n").into_bytes();
    for k in keys {
        out.extend_from_slice(format!("${}\r\n", k.len()).as_bytes());
        out.extend_from_slice(k);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_overlap_when_one_starts_the_other() {
        assert!(overlaps(b"foo", b"foobar"));
        assert!(overlaps(b"foobar", b"foo"));
        assert!(overlaps(b"", b"x"));
        assert!(!overlaps(b"foo", b"bar"));
    }

    #[test]
    fn key_arrays_are_resp() {
        assert_eq!(key_array([&b"a"[..], b"bc"].into_iter(), 2), b"*2\r\n$1\r\na\r\n$2\r\nbc\r\n");
    }
}
