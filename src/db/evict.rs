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
use super::{idle_seconds, lfu_decayed, now_ms, Keyspace};

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

#[derive(Clone)]
struct Candidate {
    /// Higher is a better victim.
    score: u64,
    db: usize,
    key: Bytes,
}

/// Eviction settings and the candidate pool.
pub struct Evictor {
    maxmemory: AtomicU64,
    policy: AtomicU8,
    samples: AtomicU64,
    pool: Mutex<Vec<Candidate>>,
}

impl Default for Evictor {
    fn default() -> Self {
        Evictor {
            maxmemory: AtomicU64::new(0),
            policy: AtomicU8::new(0),
            samples: AtomicU64::new(5),
            pool: Mutex::new(Vec::with_capacity(POOL_SIZE)),
        }
    }
}

impl Evictor {
    /// Applies `maxmemory`, `maxmemory-policy` and `maxmemory-samples`.
    pub fn configure(&self, maxmemory: u64, policy: &str, samples: u64) {
        self.maxmemory.store(maxmemory, Ordering::Relaxed);
        self.policy.store(Policy::parse(policy).as_u8(), Ordering::Relaxed);
        self.samples.store(samples.clamp(1, 64), Ordering::Relaxed);
        self.pool.lock().clear();
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
    /// memory is still over it (nothing evictable, or noeviction).
    pub fn free_memory(&self, ks: &Keyspace, used: impl Fn() -> u64) -> bool {
        let limit = self.maxmemory();
        if limit == 0 || used() <= limit {
            return true;
        }
        let policy = self.policy();
        if policy == Policy::NoEviction {
            return false;
        }
        // Bounded work per call: a command never waits on an unbounded sweep.
        for _ in 0..4096 {
            if used() <= limit {
                return true;
            }
            let Some(victim) = self.pick(ks, policy) else { return false };
            let mut l = ks.lock_keys(victim.db, [&victim.key[..]]);
            l.db = victim.db;
            if l.remove(&victim.key).is_some() {
                ks.stats.evicted.fetch_add(1, Ordering::Relaxed);
            }
        }
        used() <= limit
    }

    /// Chooses the next key to evict.
    fn pick(&self, ks: &Keyspace, policy: Policy) -> Option<Candidate> {
        let ndb = ks.databases();
        if policy.random() {
            for _ in 0..64 {
                let db = fastrand::usize(..ndb);
                let shard = fastrand::usize(..SHARDS);
                let s = ks.lock_shard(shard);
                let part = &s.dbs[db];
                let key = if policy.volatile() {
                    (!part.expires.is_empty()).then(|| part.expires.get_index(fastrand::usize(..part.expires.len())))
                } else {
                    (!part.map.is_empty()).then(|| part.map.get_index(fastrand::usize(..part.map.len())).map(|(k, _)| k))
                };
                if let Some(Some(k)) = key {
                    return Some(Candidate { score: 0, db, key: k.clone() });
                }
            }
            return None;
        }
        let samples = self.samples.load(Ordering::Relaxed) as usize;
        let now = now_ms();
        let mut pool = self.pool.lock();
        for db in 0..ndb {
            let mut got = 0;
            for _ in 0..samples * 4 {
                if got >= samples {
                    break;
                }
                let shard = fastrand::usize(..SHARDS);
                let s = ks.lock_shard(shard);
                let part = &s.dbs[db];
                let entry = if policy.volatile() {
                    if part.expires.is_empty() {
                        continue;
                    }
                    let k = part.expires.get_index(fastrand::usize(..part.expires.len()));
                    k.and_then(|k| part.map.get_key_value(k))
                } else {
                    if part.map.is_empty() {
                        continue;
                    }
                    part.map.get_index(fastrand::usize(..part.map.len()))
                };
                let Some((k, e)) = entry else { continue };
                got += 1;
                let score = match policy {
                    Policy::AllKeysLfu | Policy::VolatileLfu => 255 - lfu_decayed(e.freq, e.lru) as u64,
                    Policy::VolatileTtl => u64::MAX - e.expire_at.max(now),
                    _ => idle_seconds(e.lru),
                };
                insert_pool(&mut pool, Candidate { score, db, key: k.clone() });
            }
        }
        // Best candidates sit at the end; skip ones that vanished meanwhile.
        while let Some(c) = pool.pop() {
            let s = ks.lock_shard(ks.shard_of(&c.key));
            if s.dbs[c.db].map.contains_key(&c.key[..]) {
                return Some(c);
            }
        }
        None
    }
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
