//! Active expiry: a background cycle in the manner of Redis's `expire.c`.
//!
//! Ten times a second, for each shard and database, sample up to 20 keys that
//! carry a TTL and delete the expired ones; repeat on that shard while more
//! than 10% of a sample was stale. Each cycle stops after a 25 ms budget
//! (25% of one core at most), resuming where it left off next time, so a
//! mass expiry is reclaimed steadily without stalling clients: each shard
//! lock is held for one sample of 20 keys at a time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{now_ms, Keyspace};

const SAMPLE: usize = 20;
const STALE_PERCENT: usize = 10;
const CYCLE_BUDGET: Duration = Duration::from_millis(25);
const PERIOD: Duration = Duration::from_millis(100);

/// Whether the background cycle runs (`DEBUG SET-ACTIVE-EXPIRE`); lazy
/// expiry on access is unaffected.
static ACTIVE_EXPIRE: AtomicBool = AtomicBool::new(true);

/// Turns the active expiry cycle on or off (process-wide). O(1).
pub fn set_active_expire(on: bool) {
    ACTIVE_EXPIRE.store(on, Ordering::Relaxed);
}

/// Whether the active expiry cycle is on. O(1).
pub fn active_expire_enabled() -> bool {
    ACTIVE_EXPIRE.load(Ordering::Relaxed)
}

/// Called for each key the cycle deletes, with its database, while the
/// key's shard is still locked (so a WATCH touch or an AOF `DEL` is ordered
/// with the commands on that key).
pub type ExpiredHook = Arc<dyn Fn(usize, &Bytes) + Send + Sync>;

/// Runs one cycle starting at shard `start`; returns where to resume and
/// how many keys were deleted.
pub fn expire_cycle(ks: &Keyspace, start: usize) -> (usize, u64) {
    expire_cycle_with(ks, start, &|_, _| {})
}

/// [`expire_cycle`], calling `on_expired(db, key)` for every deleted key
/// under its shard lock.
pub fn expire_cycle_with(ks: &Keyspace, start: usize, on_expired: &dyn Fn(usize, &Bytes)) -> (usize, u64) {
    let began = Instant::now();
    let mut deleted = 0u64;
    let nshards = super::keyspace::SHARDS;
    for n in 0..nshards {
        let si = (start + n) % nshards;
        for db in 0..ks.databases() {
            loop {
                let (sampled, stale) = {
                    let mut shard = ks.lock_shard(si);
                    let part = &mut shard.dbs[db];
                    if part.expires.is_empty() {
                        break;
                    }
                    let now = now_ms();
                    let mut stale = 0;
                    let n = part.expires.len().min(SAMPLE);
                    for _ in 0..n {
                        let len = part.expires.len();
                        if len == 0 {
                            break;
                        }
                        let i = fastrand::usize(..len);
                        let Some(key) = part.expires.get_index(i).cloned() else { break };
                        let expired = part.map.get(&key).is_none_or(|e| e.expire_at != 0 && e.expire_at <= now);
                        if expired {
                            part.expires.swap_remove_index(i);
                            if part.map.swap_remove(&key).is_some() {
                                ks.notify_expired(db, &key);
                                stale += 1;
                                ks.count_expired();
                                on_expired(db, &key);
                            }
                        }
                    }
                    if stale > 0 {
                        part.maybe_shrink();
                    }
                    (n, stale)
                };
                deleted += stale as u64;
                if stale * 100 <= sampled * STALE_PERCENT {
                    break;
                }
                if began.elapsed() > CYCLE_BUDGET {
                    return (si, deleted);
                }
            }
        }
        if began.elapsed() > CYCLE_BUDGET {
            return ((si + 1) % nshards, deleted);
        }
    }
    (start, deleted)
}

/// Spawns the periodic active-expiry task; it ends when `ks` is dropped.
pub fn spawn_active_expiry(ks: &Arc<Keyspace>) {
    spawn_active_expiry_with(ks, Arc::new(|_, _| {}));
}

/// [`spawn_active_expiry`], calling `on_expired` for every key the cycle
/// deletes (Redis touches WATCHers and propagates a `DEL` for each).
pub fn spawn_active_expiry_with(ks: &Arc<Keyspace>, on_expired: ExpiredHook) {
    let weak = Arc::downgrade(ks);
    tokio::spawn(async move {
        let mut next = 0;
        let mut tick = tokio::time::interval(PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(ks) = weak.upgrade() else { return };
            if !active_expire_enabled() {
                continue;
            }
            let (resume, _) = tokio::task::block_in_place(|| expire_cycle_with(&ks, next, &*on_expired));
            next = resume;
        }
    });
}
