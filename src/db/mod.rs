//! Data: the keyspace, stored values, expiry, and the registries that connect
//! keys to waiting clients (blocking pops, WATCH).
//!
//! Nothing here knows about the network or the protocol.

pub mod blocking;
pub mod expire;
pub mod glob;
pub mod keyspace;
pub mod value;
pub mod watch;

use std::cell::Cell;
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

/// The LRU clock: seconds, wrapping at 2^24 like Redis's `LRU_CLOCK`.
pub fn lru_clock() -> u32 {
    ((now_ms() / 1000) & 0xFF_FFFF) as u32
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

/// Redis's logarithmic LFU increment (lfu-log-factor 10): the counter grows
/// ever more slowly, saturating at 255.
pub fn lfu_incr(counter: u8) -> u8 {
    if counter == 255 {
        return 255;
    }
    let base = counter.saturating_sub(value::LFU_INIT) as f64;
    let p = 1.0 / (base * 10.0 + 1.0);
    if fastrand::f64() < p {
        counter + 1
    } else {
        counter
    }
}

thread_local! {
    static NO_TOUCH: Cell<bool> = const { Cell::new(false) };
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
