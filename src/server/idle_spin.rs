//! Before the worker thread sleeps, it keeps watching for new work for a
//! short while (`idle-spin-us`), so that a client's next request does not
//! have to wake it.
//!
//! Why: on a small machine, and on a VM most of all, waking a sleeping
//! thread is costly on both sides. The client's `send` runs the wake-up
//! (`try_to_wake_up`, an inter-processor interrupt) in its own system
//! time, and the server pays to leave the idle state. Measured with
//! `perf record` on redis-benchmark (`XRANGE … COUNT 100`, 50 connections,
//! P1, each process pinned to its own core): the wake-up was 9% of the
//! client's time against us and 5% against Redis, which stays busy longer
//! per request and so sleeps less; with the spin it is 2%. A single
//! connection's round trip (`redis-benchmark -c 1 GET`) falls from 58 µs
//! to 30 µs (Redis: 55 µs).
//!
//! What it costs: CPU. The watch lasts at most the setting and at most
//! [`BUSY_FACTOR`] times as long as the worker has just worked, so an
//! idle server sleeps at once and a lightly loaded one spends at most
//! three times the CPU its requests need; a busy one spins in the gaps
//! between batches, on a core that would otherwise be idle.
//!
//! How: the runtime calls [`before_park`] when its worker has nothing left
//! to run. It polls the runtime's epoll instance with a zero timeout, which
//! reports whether events are pending without taking them (tokio's own
//! `epoll_wait` still collects them), until one is or the time is up. Any
//! wake-up that would end the worker's sleep, I/O, a task woken from
//! another thread, makes that epoll instance readable, so the watch never
//! delays work; a timer due during it fires up to the watch's length late.
//! Only with one worker (the default on 2 CPUs): with several, all but one
//! sleep on a condition variable, not on epoll. Linux only. Off by default
//! (see [`DEFAULT_US`]).

use std::cell::Cell;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::stopwatch::Stopwatch;

/// The watch lasts at most this many times the worker's last busy spell.
/// Against 4 and against no such bound (the setting alone), same run,
/// pinned, 3 rounds: 0.99–1.02 geomean over SET GET LPUSH MSET XRANGE_100.
pub const BUSY_FACTOR: u64 = 2;

/// The epoll instances found by [`arm`]: the runtime's I/O driver.
static EPOLL_FDS: OnceLock<Vec<RawFd>> = OnceLock::new();

/// `idle-spin-us`'s default: off, so that an idle or lightly loaded server
/// costs no more CPU than its requests need. It was turned off when
/// `tests/pubsub`'s ordering test failed with the watch on; the cause was
/// found later and was not the watch (the same reorder happened without it,
/// more often: 9 against 2 in 100,000 rounds); `server::read_now` fixed it.
/// 200 is what was measured.
pub const DEFAULT_US: u64 = 0;

/// `idle-spin-us` in nanoseconds; 0 turns the watch off.
static LIMIT_NS: AtomicU64 = AtomicU64::new(DEFAULT_US * 1000);

thread_local! {
    /// When this worker thread last woke (see [`after_unpark`]).
    static WOKE: Cell<Option<Stopwatch>> = const { Cell::new(None) };
}

/// Sets the longest watch (`idle-spin-us`); 0 turns it off. Takes effect
/// at the worker's next sleep.
pub fn set_limit_us(us: u64) {
    LIMIT_NS.store(us.saturating_mul(1000), Ordering::Relaxed);
}

/// Finds the epoll instance of the runtime just built, so that
/// [`before_park`] can watch it. Call it once, after building the only
/// runtime of the process and only if it has one worker; without it the
/// watch stays off.
pub fn arm() {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else { return };
    let fds: Vec<RawFd> = dir
        .flatten()
        .filter(|e| std::fs::read_link(e.path()).is_ok_and(|t| t.as_os_str() == "anon_inode:[eventpoll]"))
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .take(MAX_FDS)
        .collect();
    if !fds.is_empty() {
        let _ = EPOLL_FDS.set(fds);
    }
}

/// At most this many epoll instances are watched.
const MAX_FDS: usize = 4;

/// The runtime's after-unpark hook: the worker's busy spell starts.
pub fn after_unpark() {
    if EPOLL_FDS.get().is_none() {
        return;
    }
    WOKE.with(|w| w.set(Some(Stopwatch::start())));
}

/// How long to watch after a busy spell of `busy_ns`.
fn budget_ns(limit_ns: u64, busy_ns: u64) -> u64 {
    limit_ns.min(busy_ns.saturating_mul(BUSY_FACTOR))
}

/// The runtime's before-park hook: watches the epoll instance until an
/// event is pending or the budget is spent. O(budget); one `poll` system
/// call per turn.
pub fn before_park() {
    let limit = LIMIT_NS.load(Ordering::Relaxed);
    let Some(fds) = EPOLL_FDS.get().filter(|_| limit > 0) else { return };
    let busy = WOKE.with(|w| w.take()).map_or(0, |s| s.elapsed_ns());
    let budget = budget_ns(limit, busy);
    if budget == 0 {
        return;
    }
    let mut pfds = [libc::pollfd { fd: -1, events: 0, revents: 0 }; MAX_FDS];
    for (p, fd) in pfds.iter_mut().zip(fds) {
        p.fd = *fd;
        p.events = libc::POLLIN;
    }
    let n = fds.len() as libc::nfds_t;
    let watch = Stopwatch::start();
    loop {
        // SAFETY: `pfds` holds `n` (at most MAX_FDS) initialised entries and
        // outlives the call; a zero timeout never blocks.
        let ready = unsafe { libc::poll(pfds.as_mut_ptr(), n, 0) };
        if ready != 0 || watch.elapsed_ns() >= budget {
            return;
        }
        std::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watch_is_bounded_by_the_setting_and_by_the_work_done() {
        assert_eq!(budget_ns(200_000, 0), 0);
        assert_eq!(budget_ns(200_000, 10_000), 20_000);
        assert_eq!(budget_ns(200_000, 5_000_000), 200_000);
        assert_eq!(budget_ns(0, 5_000_000), 0);
        assert_eq!(budget_ns(200_000, u64::MAX), 200_000);
    }
}
