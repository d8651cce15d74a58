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

/// Runs one cycle starting at shard `start`; returns where to resume and
/// how many keys were deleted. Each deleted key is reported to the
/// keyspace's expired sink ([`Keyspace::notify_expired`]) under its shard
/// lock.
pub fn expire_cycle(ks: &Keyspace, start: usize) -> (usize, u64) {
    let began = Instant::now();
    let mut deleted = 0u64;
    let nshards = super::keyspace::SHARDS;
    for n in 0..nshards {
        let si = (start + n) % nshards;
        for db in 0..ks.databases() {
            loop {
                let (sampled, stale) = {
                    let mut shard = ks.lock_shard(si);
                    // Checked under the shard lock, not only when the cycle
                    // starts: once `DEBUG SET-ACTIVE-EXPIRE 0` (or a pause)
                    // has answered, a cycle already running reclaims
                    // nothing a later command wrote.
                    if !active_expire_enabled() || super::expiry_paused() {
                        return (si, deleted);
                    }
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

/// Starts the periodic active expiry on a thread of its own; it ends when
/// `ks` is dropped. It also keeps the LRU clock (`db::lru_clock`) fresh.
/// Not a task on the runtime: the cycle would either stall
/// that worker's clients for up to its budget or, through
/// `block_in_place`, hand the worker to another OS thread every 100 ms
/// (connections then hopped between two threads, and the data they wrote
/// landed in two malloc arenas: 100k small sets took 13.8-14.1 MB split
/// over two instead of 12.3 MB in one). On its own thread it takes each
/// shard lock for one sample at a time, between the clients' commands.
pub fn spawn_active_expiry(ks: &Arc<Keyspace>) {
    let weak = Arc::downgrade(ks);
    super::tick_lru_clock();
    let run = move || {
        let mut next = 0;
        loop {
            std::thread::sleep(PERIOD);
            let Some(ks) = weak.upgrade() else { return };
            // Published even while active expiry is off (DEBUG
            // SET-ACTIVE-EXPIRE 0) or paused.
            super::tick_lru_clock();
            if !active_expire_enabled() || super::expiry_paused() {
                continue;
            }
            let cycle = crate::cmd::server::latency::Monitor::start();
            let (resume, _) = expire_cycle(&ks, next);
            cycle.end("expire-cycle");
            next = resume;
        }
    };
    if let Err(e) = std::thread::Builder::new().name("active-expire".into()).spawn(run) {
        tracing::warn!("active expiry not started: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Value;
    use bytes::Bytes;

    #[test]
    fn the_cycle_reports_each_deleted_key() {
        let ks = Keyspace::new(2);
        let past = super::super::now_ms() - 1000;
        for i in 0..50 {
            let key = Bytes::from(format!("k{i}"));
            let mut l = ks.lock_keys(1, [&key[..]]);
            l.db = 1;
            l.set_with_expiry(&key, Value::str(b"v"), past);
        }
        let seen = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
        let sink = seen.clone();
        ks.set_expired_sink(Box::new(move |db, key| sink.lock().push((db, Bytes::copy_from_slice(key)))));
        let mut deleted = 0;
        let mut next = 0;
        for _ in 0..100 {
            let (resume, n) = expire_cycle(&ks, next);
            deleted += n;
            next = resume;
            if deleted == 50 {
                break;
            }
        }
        assert_eq!(deleted, 50);
        let seen = seen.lock();
        assert_eq!(seen.len(), 50);
        assert!(seen.iter().all(|(db, _)| *db == 1));
    }
}
