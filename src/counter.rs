//! Statistics counters bumped on every command by every worker thread,
//! without locked instructions.
//!
//! A relaxed `fetch_add` is a locked read-modify-write on x86: about as
//! costly as a cache miss, and a full barrier that keeps the CPU from
//! overlapping the misses of the commands around it. Counters here are
//! split in [`SLOTS`] per-thread slots instead: a thread owns its slot
//! alone and adds with a plain load and store; threads started after the
//! owned slots ran out share slot [`SHARED`], updated atomically. Reading
//! sums the slots (O(SLOTS)); a reset racing an owner's add may leave that
//! one add's old value behind, which statistics tolerate.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Slots per counter (slot 0 shared, the rest owned by one thread each).
pub const SLOTS: usize = 8;

/// The slot of threads that found no slot of their own.
pub const SHARED: usize = 0;

static NEXT: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    static MINE: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// The calling thread's slot (given out once, never recycled). O(1).
#[inline]
pub fn slot() -> usize {
    MINE.try_with(|s| {
        let mut i = s.get();
        if i == usize::MAX {
            i = NEXT.fetch_add(1, Ordering::Relaxed);
            if i >= SLOTS {
                i = SHARED;
            }
            s.set(i);
        }
        i
    })
    .unwrap_or(SHARED)
}

/// Adds `n` to `c`, the slot `slot` of some counter: a plain load and store
/// in an owned slot, an atomic add in the shared one.
#[inline]
pub fn bump(c: &AtomicU64, slot: usize, n: u64) {
    if slot == SHARED {
        c.fetch_add(n, Ordering::Relaxed);
    } else {
        c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }
}

#[repr(align(64))]
#[derive(Default)]
struct Line(AtomicU64);

/// One counter, one cache line per slot (no false sharing between
/// threads). For the few process-wide counters every command bumps.
#[derive(Default)]
pub struct Counter([Line; SLOTS]);

impl Counter {
    /// Adds `n`. O(1), no locked instruction from a thread owning a slot.
    #[inline]
    pub fn add(&self, n: u64) {
        let s = slot();
        bump(&self.0[s].0, s, n);
    }

    /// The total. O(SLOTS).
    pub fn get(&self) -> u64 {
        self.0.iter().fold(0u64, |t, l| t.wrapping_add(l.0.load(Ordering::Relaxed)))
    }

    /// Sets the total to 0 (CONFIG RESETSTAT). O(SLOTS).
    pub fn reset(&self) {
        for l in &self.0 {
            l.0.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_add_up() {
        let c = std::sync::Arc::new(Counter::default());
        let threads: Vec<_> = (0..12)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || (0..10_000).for_each(|_| c.add(1)))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(c.get(), 120_000);
        c.reset();
        assert_eq!(c.get(), 0);
    }
}
