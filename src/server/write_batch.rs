//! Replies are written after every ready connection has run, as Redis
//! writes all replies between two turns of its event loop.
//!
//! A client that reads from many connections (redis-benchmark, a pool) is
//! then woken once for many replies, not once per reply: waking a sleeping
//! process is much of a request's kernel time on a small machine.
//!
//! With one worker thread (the default on 2 CPUs) a connection that has
//! replies waits in a list until the worker's run queue is empty: the
//! runtime calls [`after_task_poll`] after each task's turn, and the first
//! call that finds no task left wakes every waiting connection, in the
//! order they queued. No epoll call comes between the last request read
//! and the writes, and no newly readable connection runs before them.
//! Otherwise (several workers, or a build without tokio's unstable hooks)
//! [`end_of_batch`] is `tokio::task::yield_now`, which writes after the
//! tasks already queued but lets the runtime poll for I/O first.
//!
//! Promise: a connection waiting here is woken at the latest when its
//! worker's queue next drains, which happens before the worker sleeps; it
//! never waits for another connection's I/O.

use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::task::{Poll, Waker};

use parking_lot::Mutex;

/// Set once the runtime has exactly one worker and calls
/// [`after_task_poll`] after every task poll.
static WATCHED: OnceLock<tokio::runtime::RuntimeMetrics> = OnceLock::new();

/// Connections waiting for the queue to drain, in arrival order, and the
/// number of releases so far (a waiter is done once it changed). Not
/// thread-local: `block_in_place` (DEBUG SLEEP, a busy script) moves the
/// worker's queue to another thread while a waiter's task is queued.
static WAITING: Mutex<(Vec<Waker>, u64)> = Mutex::new((Vec::new(), 0));

/// `WAITING`'s length, read without the lock by the hook that runs after
/// every task poll.
static WAITERS: AtomicUsize = AtomicUsize::new(0);

/// Turns the batching on for `rt`, whose builder must call
/// [`after_task_poll`] after every task poll. Ignored unless the runtime
/// has exactly one worker (with several, a queue drained by stealing would
/// leave no poll on this worker to release its waiters) and tokio's
/// unstable metrics are built in.
pub fn watch(rt: &tokio::runtime::Runtime) {
    let metrics = rt.metrics();
    if cfg!(tokio_unstable) && metrics.num_workers() == 1 {
        let _ = WATCHED.set(metrics);
    }
}

/// Whether replies wait for the end of the batch ([`watch`] found one
/// worker): the worker is then the only thread running connections.
pub fn watching() -> bool {
    WATCHED.get().is_some()
}

/// Waits until every connection ready to run now has run (see the module
/// documentation). Call it only from a task spawned on the runtime given
/// to [`watch`]. O(1) per connection.
pub async fn end_of_batch() {
    let Some(metrics) = WATCHED.get() else {
        return tokio::task::yield_now().await;
    };
    // Nobody to write after: no connection waits and none is queued to
    // run, so the release would come right after this task's turn, at the
    // cost of a second turn (a lone request's usual case at pipeline depth 1).
    if WAITERS.load(Ordering::Relaxed) == 0 && queued_tasks(metrics) == 0 {
        return;
    }
    let mut round = None;
    poll_fn(|cx| {
        let mut w = WAITING.lock();
        match round {
            Some(r) if r != w.1 => return Poll::Ready(()),
            Some(_) => {}
            None => {
                round = Some(w.1);
                w.0.push(cx.waker().clone());
                WAITERS.store(w.0.len(), Ordering::Relaxed);
            }
        }
        Poll::Pending
    })
    .await
}

/// The runtime's after-poll hook: once the worker's run queue is empty,
/// releases the connections waiting in [`end_of_batch`], in the order they
/// began waiting. O(1) while the queue holds tasks or none wait; O(waiting)
/// when it releases them.
pub fn after_task_poll() {
    if WAITERS.load(Ordering::Relaxed) == 0 {
        return;
    }
    let Some(metrics) = WATCHED.get() else { return };
    if queued_tasks(metrics) > 0 {
        return;
    }
    let mut waiting = {
        let mut w = WAITING.lock();
        w.1 = w.1.wrapping_add(1);
        WAITERS.store(0, Ordering::Relaxed);
        std::mem::take(&mut w.0)
    };
    for w in waiting.drain(..) {
        w.wake();
    }
    // Give the buffer back unless waiters arrived meanwhile (they cannot
    // with one worker): releasing then allocates nothing.
    let mut w = WAITING.lock();
    if w.0.is_empty() {
        w.0 = waiting;
    }
}

/// Tasks in the single worker's run queues: its local one and the global
/// one, where tasks past the local queue's 256 go (many ready connections).
#[cfg(tokio_unstable)]
fn queued_tasks(metrics: &tokio::runtime::RuntimeMetrics) -> usize {
    metrics.worker_local_queue_depth(0) + metrics.global_queue_depth()
}

#[cfg(not(tokio_unstable))]
fn queued_tasks(_: &tokio::runtime::RuntimeMetrics) -> usize {
    0
}
