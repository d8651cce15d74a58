//! Freeing large values off the command path (Redis's `lazyfree.c`):
//! UNLINK hands values whose freeing costs more than [`LAZYFREE_THRESHOLD`]
//! allocations to one background thread, and `FLUSHALL/FLUSHDB ASYNC` whole
//! databases ([`free_many`]), so deleting a million-element key or a
//! million keys costs the caller O(1).
//!
//! `INFO` reports `lazyfree_pending_objects` (queued, not freed yet) and
//! `lazyfreed_objects` (freed in the background since the last
//! `CONFIG RESETSTAT`); a flushed database counts one object per key, as
//! Redis counts it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{LazyLock, Mutex};

use super::Value;

/// Values costing more allocations than this to free are freed in the
/// background (Redis's `LAZYFREE_THRESHOLD`).
pub const LAZYFREE_THRESHOLD: usize = 64;

static PENDING: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);

/// Something to drop in the background, and how many objects it counts for.
type Job = (Box<dyn Send>, u64);

static QUEUE: LazyLock<Option<Mutex<Sender<Job>>>> = LazyLock::new(|| {
    let (tx, rx) = channel::<Job>();
    std::thread::Builder::new()
        .name("lazyfree".into())
        .spawn(move || {
            for (v, n) in rx {
                drop(v);
                PENDING.fetch_sub(n, Ordering::AcqRel);
                FREED.fetch_add(n, Ordering::AcqRel);
            }
        })
        .ok()?;
    Some(Mutex::new(tx))
});

/// Roughly how many allocations freeing `v` takes (Redis's
/// `lazyfreeGetFreeEffort`): 1 for a string or a packed collection, its
/// size for a table, its nodes (plus groups' pending entries) for a stream.
pub fn free_effort(v: &Value) -> usize {
    match v {
        Value::Str(_) => 1,
        Value::List(l) => l.len() / 128 + 1,
        Value::Hash(h) if h.is_packed() => 1,
        Value::Hash(h) => h.len(),
        Value::Set(s) if s.is_intset() => 1,
        Value::Set(s) => s.len(),
        Value::ZSet(z) if z.is_packed() => 1,
        Value::ZSet(z) => z.len(),
        Value::Stream(s) => {
            let groups = s.groups.len();
            let first_pel = s.groups.values().next().map_or(0, |g| g.pel.len());
            s.node_count() + groups * (1 + first_pel)
        }
    }
}

/// Drops `v` here, or on the background thread when it is large.
pub fn free(v: Value) {
    if free_effort(&v) > LAZYFREE_THRESHOLD {
        free_many(v, 1);
    }
}

/// Drops `x` on the background thread, counted as `objects` objects
/// (pending until dropped, then freed); `x` is dropped here if it counts
/// for none or the thread could not be started. O(1) for the caller.
pub fn free_many<T: Send + 'static>(x: T, objects: u64) {
    let Some(q) = QUEUE.as_ref().filter(|_| objects > 0) else { return };
    PENDING.fetch_add(objects, Ordering::AcqRel);
    let sent = q.lock().map(|tx| tx.send((Box::new(x), objects)).is_ok()).unwrap_or(false);
    if !sent {
        PENDING.fetch_sub(objects, Ordering::AcqRel);
    }
}

/// Values queued and not freed yet.
pub fn pending() -> u64 {
    PENDING.load(Ordering::Acquire)
}

/// Values freed in the background since the last [`reset_stats`].
pub fn freed() -> u64 {
    FREED.load(Ordering::Acquire)
}

/// `CONFIG RESETSTAT`.
pub fn reset_stats() {
    FREED.store(0, Ordering::Release);
}
