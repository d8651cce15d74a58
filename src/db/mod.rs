//! Data: the keyspace, stored values, expiry, and the registries that connect
//! keys to waiting clients (blocking pops, WATCH).
//!
//! Nothing here knows about the network or the protocol.

pub mod compact;
pub mod evict;
pub mod expire;
pub mod geohash;
pub mod glob;
pub mod hash;
pub mod hll;
pub mod keyspace;
pub mod lazyfree;
pub mod list;
pub mod listpack;
pub mod locked;
pub mod quicklist;
pub mod registry;
pub mod sample;
pub mod set;
pub mod stream;
pub mod value;
pub mod watch;
pub mod zset;

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub use keyspace::{Keyspace, Locked};
pub use value::{Entry, Value};

/// Wall-clock time in Unix milliseconds (expiry is absolute, as in Redis).
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Wall-clock time in Unix microseconds.
pub fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// Wall-clock Unix milliseconds at the kernel's tick resolution (1–4 ms
/// on Linux): for access times, idle times and timeouts counted in
/// seconds, which do not need a precise clock per command (Redis caches
/// its clock for the same reason). Reads the vDSO's coarse clock: a few
/// nanoseconds, no system call and no thread to keep it fresh. Expiry uses
/// [`now_ms`].
pub fn coarse_ms() -> u64 {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: `ts` is a valid timespec to write; the call cannot fail
        // for this clock on Linux (and leaves 0 if it did).
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) };
        ts.tv_sec as u64 * 1000 + ts.tv_nsec as u64 / 1_000_000
    }
    #[cfg(not(target_os = "linux"))]
    now_ms()
}

/// The LRU clock: seconds, wrapping at 2^24 like Redis's `LRU_CLOCK`.
/// Read on every key access, so it is the value [`tick_lru_clock`] last
/// published (every 100 ms, by the active expiry thread), as Redis reads
/// the `lruclock` its cron keeps: an atomic load instead of two clock reads
/// per access. Computed when nothing has published it (no server running).
pub fn lru_clock() -> u32 {
    match LRU_CLOCK.load(Ordering::Relaxed) {
        0 => current_lru_clock(),
        c => c,
    }
}

/// The LRU clock [`lru_clock`] hands out; 0 until first published (a real
/// 0 is then recomputed, which is harmless).
static LRU_CLOCK: AtomicU32 = AtomicU32::new(0);

fn current_lru_clock() -> u32 {
    ((coarse_ms() / 1000) & 0xFF_FFFF) as u32
}

/// Publishes the current LRU clock for [`lru_clock`]. Call it at least
/// every few hundred milliseconds while serving (its resolution is a
/// second).
pub fn tick_lru_clock() {
    LRU_CLOCK.store(current_lru_clock(), Ordering::Relaxed);
}

/// Seconds since `lru` by the LRU clock (handles one wrap-around).
pub fn idle_seconds(lru: u32) -> u64 {
    let now = lru_clock();
    if now >= lru {
        (now - lru) as u64
    } else {
        (now + (0xFF_FFFF - lru)) as u64
    }
}

/// Unix ms until which CLIENT PAUSE suspends expiry (0: not paused).
static EXPIRY_PAUSED_UNTIL: AtomicU64 = AtomicU64::new(0);

/// Suspends deleting expired keys until `until` (`None`: resumes): keys
/// past their TTL read as missing but stay, as under Redis's CLIENT PAUSE.
pub fn set_expiry_paused_until(until: Option<std::time::Instant>) {
    let ms = until.map_or(0, |u| now_ms() + u.saturating_duration_since(std::time::Instant::now()).as_millis() as u64);
    EXPIRY_PAUSED_UNTIL.store(ms, Ordering::Relaxed);
}

/// This server is a replica: keys never expire on their own (they read
/// as missing once past their TTL; the primary's DEL removes them).
static REPLICA_MODE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Enters or leaves replica mode (see `REPLICA_MODE`). O(1).
pub fn set_replica_mode(on: bool) {
    REPLICA_MODE.store(on, Ordering::Relaxed);
}

/// Whether expired keys must be left in place now (CLIENT PAUSE, or a
/// replica). O(1).
pub fn expiry_paused() -> bool {
    if REPLICA_MODE.load(Ordering::Relaxed) {
        return true;
    }
    let until = EXPIRY_PAUSED_UNTIL.load(Ordering::Relaxed);
    until != 0 && now_ms() < until
}

static LFU_LOG_FACTOR: AtomicU64 = AtomicU64::new(10);
static LFU_DECAY_TIME: AtomicU64 = AtomicU64::new(1);

/// Applies `lfu-log-factor` and `lfu-decay-time` (minutes).
pub fn set_lfu_params(log_factor: u64, decay_minutes: u64) {
    LFU_LOG_FACTOR.store(log_factor, Ordering::Relaxed);
    LFU_DECAY_TIME.store(decay_minutes, Ordering::Relaxed);
}

/// The LFU counter after Redis's decay: one point less per `lfu-decay-time`
/// minutes since the last access (`lru` holds that access time).
pub fn lfu_decayed(counter: u8, lru: u32) -> u8 {
    let period = LFU_DECAY_TIME.load(Ordering::Relaxed);
    if period == 0 {
        return counter;
    }
    let periods = idle_seconds(lru) / 60 / period;
    counter.saturating_sub(periods.min(255) as u8)
}

/// Redis's logarithmic LFU increment (`lfu-log-factor`, 10 by default): the
/// counter grows ever more slowly, saturating at 255.
pub fn lfu_incr(counter: u8) -> u8 {
    if counter == 255 {
        return 255;
    }
    let base = counter.saturating_sub(value::LFU_INIT) as f64;
    let p = 1.0 / (base * LFU_LOG_FACTOR.load(Ordering::Relaxed) as f64 + 1.0);
    if fastrand::f64() < p {
        counter + 1
    } else {
        counter
    }
}

thread_local! {
    static NO_TOUCH: Cell<bool> = const { Cell::new(false) };
    static LOADING: Cell<bool> = const { Cell::new(false) };
}

/// True while this thread replays persisted data: keys do not expire then
/// (as in Redis), so a replayed log rebuilds exactly the state it recorded.
pub fn loading() -> bool {
    LOADING.with(|c| c.get())
}

/// Runs `f` with loading semantics on this thread.
pub fn with_loading<R>(f: impl FnOnce() -> R) -> R {
    let prev = LOADING.with(|c| c.replace(true));
    let r = f();
    LOADING.with(|c| c.set(prev));
    r
}

/// Whether lookups on this thread must leave access times alone
/// (`CLIENT NO-TOUCH on`, and `OBJECT`/`TYPE` style introspection).
pub fn no_touch() -> bool {
    NO_TOUCH.with(|c| c.get())
}

/// Runs `f` with access-time updates suppressed (or not) on this thread.
pub fn with_no_touch<R>(on: bool, f: impl FnOnce() -> R) -> R {
    let prev = NO_TOUCH.with(|c| c.replace(on));
    let r = f();
    NO_TOUCH.with(|c| c.set(prev));
    r
}
