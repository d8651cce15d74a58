//! The proxy's memory of Lua script bodies, so that an EVALSHA can run on a
//! server that never saw its script (one added to servers.json after the
//! SCRIPT LOAD, or one that restarted and lost its script cache).
//!
//! [`ScriptCache`] maps a body's SHA1 (40 lower-case hex digits, the name
//! Redis gives a script) to the body, for every body the proxy forwarded
//! with SCRIPT LOAD, EVAL or EVAL_RO (queued in MULTI too). It is bounded:
//! at most [`MAX_SCRIPTS`] bodies and [`MAX_BYTES`] bytes of them, the least
//! recently used (stored, or looked up by an EVALSHA) leaving first; a body
//! over [`MAX_BODY`] bytes is not kept. SCRIPT FLUSH through the proxy
//! empties it, as it empties the servers' caches.
//!
//! Each body also notes the servers known to hold it (a SCRIPT LOAD answered
//! there, or an EVALSHA sent behind a load ran there), each with that server's [`Backend::epoch`] at the
//! time: once a pooled connection to the server was opened since, the note
//! no longer counts (the server may have restarted). `scripting.rs` sends
//! `SCRIPT LOAD body` right before an EVALSHA on a server without a note,
//! in the same write on the same connection, so the EVALSHA finds its
//! script and runs in the client's order.
//!
//! Cost: O(body) to hash a body, outside the lock; O(log n + servers
//! noted) per store or lookup under one mutex.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use bytes::Bytes;

use crate::pool::Backend;

/// Most bodies kept.
pub const MAX_SCRIPTS: usize = 4096;
/// Most body bytes kept in all.
pub const MAX_BYTES: usize = 64 << 20;
/// Largest body kept.
pub const MAX_BODY: usize = 4 << 20;

/// A script's name: the SHA1 of its body as 40 lower-case hex digits.
pub type Sha = [u8; 40];

/// The SHA1 of `body`, as Redis names the script. O(body).
pub fn sha_of(body: &[u8]) -> Sha {
    use sha1::{Digest, Sha1};
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha1::digest(body);
    let mut out = [0u8; 40];
    for (i, b) in digest.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 15)];
    }
    out
}

/// A client's SHA1 argument as a cache key (lower-cased, as the server
/// reads it); `None` when it cannot name a script (not 40 bytes). O(1).
pub fn sha_arg(arg: &[u8]) -> Option<Sha> {
    let sha: Sha = arg.try_into().ok()?;
    Some(sha.map(|c| c.to_ascii_lowercase()))
}

struct Entry {
    body: Bytes,
    /// Position in the recency order.
    tick: u64,
    /// Servers known to hold the script, with their epoch then.
    held_by: Vec<(Weak<Backend>, u64)>,
}

/// How much the cache keeps.
#[derive(Clone, Copy)]
struct Limits {
    scripts: usize,
    bytes: usize,
    body: usize,
}

const LIMITS: Limits = Limits { scripts: MAX_SCRIPTS, bytes: MAX_BYTES, body: MAX_BODY };

struct Lru {
    map: HashMap<Sha, Entry>,
    /// Tick → script, oldest first.
    order: BTreeMap<u64, Sha>,
    tick: u64,
    bytes: usize,
    limits: Limits,
}

impl Lru {
    fn new(limits: Limits) -> Lru {
        Lru { map: HashMap::new(), order: BTreeMap::new(), tick: 0, bytes: 0, limits }
    }

    /// The entry of `sha`, made the most recently used.
    fn touch(&mut self, sha: &Sha) -> Option<&mut Entry> {
        self.tick += 1;
        let e = self.map.get_mut(sha)?;
        self.order.remove(&e.tick);
        e.tick = self.tick;
        self.order.insert(self.tick, *sha);
        Some(e)
    }

    /// Adds a body not kept yet, then drops the least recently used ones
    /// until within the limits (the new one, the newest, always stays:
    /// one body is within them).
    fn insert(&mut self, sha: Sha, body: Bytes) {
        self.tick += 1;
        self.bytes += body.len();
        self.order.insert(self.tick, sha);
        self.map.insert(sha, Entry { body, tick: self.tick, held_by: Vec::new() });
        while self.map.len() > self.limits.scripts || self.bytes > self.limits.bytes {
            let Some((_, old)) = self.order.pop_first() else { break };
            if let Some(e) = self.map.remove(&old) {
                self.bytes -= e.body.len();
            }
        }
    }
}

fn is(w: &Weak<Backend>, b: &Arc<Backend>) -> bool {
    std::ptr::eq(w.as_ptr(), Arc::as_ptr(b))
}

/// Script bodies by SHA1, shared by every client of the proxy.
pub struct ScriptCache {
    inner: Mutex<Lru>,
}

impl Default for ScriptCache {
    fn default() -> ScriptCache {
        ScriptCache { inner: Mutex::new(Lru::new(LIMITS)) }
    }
}

impl ScriptCache {
    fn lock(&self) -> MutexGuard<'_, Lru> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `body` (unless over [`MAX_BODY`]) and gives its SHA1. O(body).
    pub fn remember(&self, body: &Bytes) -> Sha {
        let sha = sha_of(body);
        let mut lru = self.lock();
        if body.len() <= lru.limits.body && lru.touch(&sha).is_none() {
            lru.insert(sha, body.clone());
        }
        sha
    }

    /// The body named `sha`, if kept, and whether `on` is known to hold
    /// it; counts as a use. O(log n).
    pub fn body_for(&self, sha: &Sha, on: &Arc<Backend>) -> Option<(Bytes, bool)> {
        let epoch = on.epoch();
        let mut lru = self.lock();
        let e = lru.touch(sha)?;
        let held = e.held_by.iter().any(|(w, at)| is(w, on) && *at == epoch);
        Some((e.body.clone(), held))
    }

    /// Notes that `on` holds the script `sha` now (if the body is kept).
    pub fn held_by(&self, sha: &Sha, on: &Arc<Backend>) {
        let epoch = on.epoch();
        let mut lru = self.lock();
        if let Some(e) = lru.map.get_mut(sha) {
            e.held_by.retain(|(w, _)| w.strong_count() > 0 && !is(w, on));
            e.held_by.push((Arc::downgrade(on), epoch));
        }
    }

    /// Forgets that `on` holds the script `sha` (it answered NOSCRIPT).
    pub fn not_held_by(&self, sha: &Sha, on: &Arc<Backend>) {
        let mut lru = self.lock();
        if let Some(e) = lru.map.get_mut(sha) {
            e.held_by.retain(|(w, _)| !is(w, on));
        }
    }

    /// Forgets every body (SCRIPT FLUSH). O(n).
    pub fn clear(&self) {
        let mut lru = self.lock();
        *lru = Lru::new(lru.limits);
    }

    /// Bodies kept and their total size.
    #[cfg(test)]
    fn size(&self) -> (usize, usize) {
        let lru = self.lock();
        (lru.map.len(), lru.bytes)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::ServerSpec;

    fn backend() -> Arc<Backend> {
        let spec = ServerSpec {
            addr: "127.0.0.1:1".into(),
            weight: 500,
            drain: false,
            name: None,
            tls: false,
            password: None,
            replicas: Vec::new(),
        };
        Arc::new(Backend::new(spec, 1, Duration::from_secs(1), None))
    }

    #[test]
    fn sha1_names_scripts_as_redis_does() {
        // redis-cli SCRIPT LOAD "return 1"
        assert_eq!(&sha_of(b"return 1"), b"e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
        assert_eq!(sha_arg(b"E0E1F9FABFC9D4800C877A703B823AC0578FF8DB"), Some(sha_of(b"return 1")));
        assert_eq!(sha_arg(b"e0e1f9"), None);
    }

    #[test]
    fn bodies_and_the_servers_holding_them() {
        let cache = ScriptCache::default();
        let (a, b) = (backend(), backend());
        let body = Bytes::from_static(b"return 1");
        let sha = cache.remember(&body);
        assert_eq!(cache.body_for(&sha, &a), Some((body.clone(), false)));
        cache.held_by(&sha, &a);
        assert_eq!(cache.body_for(&sha, &a), Some((body.clone(), true)));
        assert_eq!(cache.body_for(&sha, &b), Some((body.clone(), false)));
        cache.not_held_by(&sha, &a);
        assert_eq!(cache.body_for(&sha, &a), Some((body.clone(), false)));
        // A pooled connection opened since makes the note stale.
        cache.held_by(&sha, &a);
        a.bump_epoch_for_test();
        assert_eq!(cache.body_for(&sha, &a), Some((body.clone(), false)));
        assert_eq!(cache.body_for(&sha_of(b"return 2"), &a), None);
        cache.clear();
        assert_eq!(cache.body_for(&sha, &a), None);
        assert_eq!(cache.size(), (0, 0));
    }

    #[test]
    fn least_recently_used_bodies_leave_first() {
        let cache = ScriptCache { inner: Mutex::new(Lru::new(Limits { scripts: 100, bytes: 1000, body: 300 })) };
        let a = backend();
        let first = cache.remember(&Bytes::from_static(b"return 'first'"));
        for i in 0..110 {
            cache.remember(&Bytes::from(format!("return {i}")));
            // Used again and again: stays.
            assert!(cache.body_for(&first, &a).is_some());
        }
        assert_eq!(cache.size().0, 100);
        assert!(cache.body_for(&sha_of(b"return 10"), &a).is_none());
        assert!(cache.body_for(&sha_of(b"return 11"), &a).is_some());
        // By bytes: big bodies push out the small ones, oldest first.
        let big = |i: u8| Bytes::from(vec![i; 250]);
        for i in 0..4 {
            cache.remember(&big(i));
        }
        assert_eq!(cache.size(), (4, 1000));
        assert!(cache.body_for(&first, &a).is_none());
        assert!(cache.body_for(&sha_of(&big(0)), &a).is_some());
        cache.remember(&big(4));
        assert!(cache.body_for(&sha_of(&big(1)), &a).is_none(), "big(0) was used after big(1)");
        assert!(cache.body_for(&sha_of(&big(0)), &a).is_some());
        // Too big to keep.
        let sha = cache.remember(&Bytes::from(vec![b'-'; 301]));
        assert!(cache.body_for(&sha, &a).is_none());
        assert_eq!(cache.size(), (4, 1000));
    }
}
