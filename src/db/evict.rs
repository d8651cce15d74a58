//! Eviction under `maxmemory`, in the manner of Redis's `evict.c`.
//!
//! Before a command runs while memory is over the limit, keys are evicted
//! until it is under again. Candidates are found by sampling
//! `maxmemory-samples` keys (from all keys, or from keys with a TTL for the
//! `volatile-*` policies) and keeping the best in a pool of 16 across calls,
//! which approximates true LRU/LFU closely at O(samples) per eviction and
//! without any global lock: each sample locks one shard briefly. Reads never
//! take a lock beyond their key's shard; their LRU/LFU update is a store
//! into the entry they already hold.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

use super::keyspace::SHARDS;
use super::{idle_seconds, lfu_decayed, now_ms, Keyspace, Locked};

/// `maxmemory-policy` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Refuse writes that need memory (`-OOM`).
    NoEviction,
    /// Least recently used among all keys.
    AllKeysLru,
    /// Least recently used among keys with a TTL.
    VolatileLru,
    /// Least frequently used among all keys.
    AllKeysLfu,
    /// Least frequently used among keys with a TTL.
    VolatileLfu,
    /// Any key.
    AllKeysRandom,
    /// Any key with a TTL.
    VolatileRandom,
    /// The key with the nearest expiry.
    VolatileTtl,
}

impl Policy {
    /// Parses a `maxmemory-policy` name (unknown names mean noeviction).
    pub fn parse(s: &str) -> Policy {
        match s {
            "allkeys-lru" => Policy::AllKeysLru,
            "volatile-lru" => Policy::VolatileLru,
            "allkeys-lfu" => Policy::AllKeysLfu,
            "volatile-lfu" => Policy::VolatileLfu,
            "allkeys-random" => Policy::AllKeysRandom,
            "volatile-random" => Policy::VolatileRandom,
            "volatile-ttl" => Policy::VolatileTtl,
            _ => Policy::NoEviction,
        }
    }

    fn volatile(self) -> bool {
        matches!(self, Policy::VolatileLru | Policy::VolatileLfu | Policy::VolatileRandom | Policy::VolatileTtl)
    }

    fn random(self) -> bool {
        matches!(self, Policy::AllKeysRandom | Policy::VolatileRandom)
    }

    fn as_u8(self) -> u8 {
        self as u8
    }

    fn from_u8(v: u8) -> Policy {
        [
            Policy::NoEviction,
            Policy::AllKeysLru,
            Policy::VolatileLru,
            Policy::AllKeysLfu,
            Policy::VolatileLfu,
            Policy::AllKeysRandom,
            Policy::VolatileRandom,
            Policy::VolatileTtl,
        ]
        .get(v as usize)
        .copied()
        .unwrap_or(Policy::NoEviction)
    }
}

const POOL_SIZE: usize = 16;

/// Picks between two refreshes of the list of databases holding keys.
const HINT_PICKS: u32 = 256;

#[derive(Clone)]
struct Candidate {
    /// Higher is a better victim.
    score: u64,
    db: usize,
    key: Bytes,
}

/// The candidate pool and the databases worth sampling.
#[derive(Default)]
struct PoolState {
    /// Best candidates last, at most [`POOL_SIZE`].
    cands: Vec<Candidate>,
    /// Databases that held (volatile) keys at the last look: sampling skips
    /// the others, so 15 empty databases cost nothing per eviction.
    dbs: Vec<usize>,
    /// Picks since `dbs` was refreshed.
    age: u32,
}

/// Eviction settings and the candidate pool.
pub struct Evictor {
    maxmemory: AtomicU64,
    policy: AtomicU8,
    samples: AtomicU64,
    pool: Mutex<PoolState>,
}

impl Default for Evictor {
    fn default() -> Self {
        Evictor {
            maxmemory: AtomicU64::new(0),
            policy: AtomicU8::new(0),
            samples: AtomicU64::new(5),
            pool: Mutex::new(PoolState { cands: Vec::with_capacity(POOL_SIZE), dbs: Vec::new(), age: HINT_PICKS }),
        }
    }
}

impl Evictor {
    /// Applies `maxmemory`, `maxmemory-policy` and `maxmemory-samples`
    /// (clamped to 1..=64), and forgets the candidates of the old policy.
    pub fn configure(&self, maxmemory: u64, policy: &str, samples: u64) {
        self.maxmemory.store(maxmemory, Ordering::Relaxed);
        self.policy.store(Policy::parse(policy).as_u8(), Ordering::Relaxed);
        self.samples.store(samples.clamp(1, 64), Ordering::Relaxed);
        let mut pool = self.pool.lock();
        pool.cands.clear();
        pool.age = HINT_PICKS;
    }

    /// The limit in bytes (0: none).
    pub fn maxmemory(&self) -> u64 {
        self.maxmemory.load(Ordering::Relaxed)
    }

    /// The current policy.
    pub fn policy(&self) -> Policy {
        Policy::from_u8(self.policy.load(Ordering::Relaxed))
    }

    /// Evicts keys until `used()` is at most the limit. Returns false when
    /// memory is still over it (nothing evictable, or noeviction). Each
    /// eviction costs O(`maxmemory-samples`) shard locks; one call evicts
    /// at most 4096 keys.
    pub fn free_memory(&self, ks: &Keyspace, used: impl Fn() -> u64) -> bool {
        self.free_memory_with(ks, used, |_, _| {})
    }

    /// [`Evictor::free_memory`], calling `on_evict(locked, key)` for every
    /// evicted key right after its removal, with the key's shard still
    /// locked and `locked.db` set to its database: the place to invalidate
    /// WATCHes and to propagate a `DEL` to the AOF in order with other
    /// writes to the key.
    pub fn free_memory_with(
        &self,
        ks: &Keyspace,
        used: impl Fn() -> u64,
        mut on_evict: impl FnMut(&mut Locked<'_>, &Bytes),
    ) -> bool {
        let limit = self.maxmemory();
        if limit == 0 || used() <= limit {
            return true;
        }
        let policy = self.policy();
        if policy == Policy::NoEviction {
            return false;
        }
        let _cycle = crate::cmd::server::latency::Timed::start("eviction-cycle");
        // Bounded work per call: a command never waits on an unbounded sweep.
        for _ in 0..4096 {
            if used() <= limit {
                return true;
            }
            let Some(victim) = self.pick(ks, policy) else { return false };
            let mut l = ks.lock_keys(victim.db, [&victim.key[..]]);
            l.db = victim.db;
            // A PERSIST since the pick makes the key exempt from volatile-*.
            if policy.volatile() && l.peek(&victim.key).is_none_or(|e| e.expire_at == 0) {
                continue;
            }
            let del = crate::cmd::server::latency::Monitor::start();
            if l.remove(&victim.key).is_some() {
                del.end("eviction-del");
                ks.stats.evicted.fetch_add(1, Ordering::Relaxed);
                on_evict(&mut l, &victim.key);
            }
        }
        used() <= limit
    }

    /// Chooses the next key to evict; `None` only when no database holds
    /// a key the policy may evict. O(samples) shard locks per database
    /// holding keys, plus O(shards) every [`HINT_PICKS`] picks.
    fn pick(&self, ks: &Keyspace, policy: Policy) -> Option<Candidate> {
        let mut pool = self.pool.lock();
        pool.age += 1;
        if pool.age >= HINT_PICKS {
            refresh_dbs(&mut pool, ks, policy);
        }
        if let Some(c) = self.pick_from(&mut pool, ks, policy) {
            return Some(c);
        }
        // Keys may have appeared in databases the hint thought empty.
        refresh_dbs(&mut pool, ks, policy);
        self.pick_from(&mut pool, ks, policy)
    }

    fn pick_from(&self, pool: &mut PoolState, ks: &Keyspace, policy: Policy) -> Option<Candidate> {
        let volatile = policy.volatile();
        if policy.random() {
            // A random database among those with keys, then the first shard
            // holding keys from a random start, then a random key in it.
            let n = pool.dbs.len();
            let first = fastrand::usize(..n.max(1));
            for j in 0..n {
                let db = pool.dbs[(first + j) % n];
                let start = fastrand::usize(..SHARDS);
                for i in 0..SHARDS {
                    let s = ks.lock_shard((start + i) % SHARDS);
                    let part = &s.dbs[db];
                    let key = if volatile {
                        part.expires.get_index(fastrand::usize(..part.expires.len().max(1)))
                    } else {
                        part.map.get_index(fastrand::usize(..part.map.len().max(1))).map(|(k, _)| k)
                    };
                    if let Some(k) = key {
                        return Some(Candidate { score: 0, db, key: k.to_bytes() });
                    }
                }
            }
            return None;
        }
        let samples = self.samples.load(Ordering::Relaxed) as usize;
        let now = now_ms();
        for &db in &pool.dbs {
            // `samples` keys from distinct shards (keys are spread over the
            // shards by hash, so this is a uniform sample), skipping empty
            // parts; at most one pass over the shards.
            let start = fastrand::usize(..SHARDS);
            let mut got = 0;
            for i in 0..SHARDS {
                if got >= samples {
                    break;
                }
                let s = ks.lock_shard((start + i) % SHARDS);
                let part = &s.dbs[db];
                let entry = if volatile {
                    let k = part.expires.get_index(fastrand::usize(..part.expires.len().max(1)));
                    k.and_then(|k| part.map.get_key_value(k))
                } else {
                    part.map.get_index(fastrand::usize(..part.map.len().max(1)))
                };
                let Some((k, e)) = entry else { continue };
                got += 1;
                let score = match policy {
                    Policy::AllKeysLfu | Policy::VolatileLfu => 255 - lfu_decayed(e.freq, e.lru) as u64,
                    Policy::VolatileTtl => u64::MAX - e.expire_at.max(now),
                    _ => idle_seconds(e.lru),
                };
                insert_pool(&mut pool.cands, Candidate { score, db, key: k.to_bytes() });
            }
        }
        // Best candidates sit at the end; skip ones that vanished meanwhile
        // (or lost their TTL, for the volatile policies).
        while let Some(c) = pool.cands.pop() {
            let s = ks.lock_shard(ks.shard_of(&c.key));
            let part = &s.dbs[c.db];
            let present = if volatile { part.expires.contains(&c.key[..]) } else { part.map.contains_key(&c.key[..]) };
            if present {
                return Some(c);
            }
        }
        None
    }
}

/// Lists the databases holding keys the policy may evict. O(shards × dbs).
fn refresh_dbs(pool: &mut PoolState, ks: &Keyspace, policy: Policy) {
    let mut has = vec![false; ks.databases()];
    for i in 0..SHARDS {
        let s = ks.lock_shard(i);
        for (db, part) in s.dbs.iter().enumerate() {
            has[db] |= if policy.volatile() { !part.expires.is_empty() } else { !part.map.is_empty() };
        }
    }
    pool.dbs = has.iter().enumerate().filter(|(_, &h)| h).map(|(db, _)| db).collect();
    pool.age = 0;
}

/// Keeps the pool sorted by score ascending, at most [`POOL_SIZE`] long.
fn insert_pool(pool: &mut Vec<Candidate>, c: Candidate) {
    if pool.iter().any(|p| p.db == c.db && p.key == c.key) {
        return;
    }
    if pool.len() >= POOL_SIZE && pool.first().is_some_and(|p| p.score >= c.score) {
        return;
    }
    let pos = pool.partition_point(|p| p.score < c.score);
    pool.insert(pos, c);
    if pool.len() > POOL_SIZE {
        pool.remove(0);
    }
}
