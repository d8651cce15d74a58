//! CLIENT PAUSE / CLIENT UNPAUSE (Redis's `pauseClients`): until a deadline,
//! commands that may write (or, with `ALL`, every command) wait before they
//! run, and keys are not expired (they read as expired but stay until the
//! pause ends), so a replica or a failover sees a frozen dataset.
//!
//! A command is held by its connection (`server/connection.rs`), which
//! waits on [`Pause::wait`] and counts as a blocked client meanwhile; the
//! dispatcher decides which commands are held (`cmd::pause_holds`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::Notify;

/// The pause in force.
#[derive(Debug, Clone, Copy)]
struct State {
    until: Instant,
    all: bool,
}

/// The server's pause.
#[derive(Default)]
pub struct Pause {
    /// Whether a pause may be in force (the fast path of every command;
    /// cleared once one is found over).
    on: std::sync::atomic::AtomicBool,
    state: Mutex<Option<State>>,
    changed: Notify,
    /// Clients whose command is held, in the order they were held: they
    /// run in this order once released, as Redis unblocks them.
    queue: Mutex<VecDeque<u64>>,
    /// FAILOVER's hold on writes (Redis's `PAUSE_DURING_FAILOVER`): apart
    /// from CLIENT PAUSE, which CLIENT UNPAUSE does not release.
    failover: std::sync::atomic::AtomicBool,
}

/// A held client's place in line; dropping it (after its command ran, or
/// when the client goes away) lets the next one run.
pub struct Turn<'a> {
    pause: &'a Pause,
    id: u64,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.pause.queue.lock().retain(|&x| x != self.id);
        self.pause.changed.notify_waiters();
    }
}

impl Pause {
    /// CLIENT PAUSE: holds commands for `dur` (every command with `all`,
    /// else those that may write). A pause already in force keeps the later
    /// deadline and the stricter mode, as in Redis.
    pub fn pause(&self, dur: Duration, all: bool) {
        let until = Instant::now() + dur;
        let mut s = self.state.lock();
        *s = Some(match *s {
            Some(old) if old.until > Instant::now() => State { until: old.until.max(until), all: old.all || all },
            _ => State { until, all },
        });
        if !self.failover_holds() {
            crate::db::set_expiry_paused_until(Some(until));
        }
        self.on.store(true, std::sync::atomic::Ordering::Release);
        drop(s);
        self.changed.notify_waiters();
    }

    /// CLIENT UNPAUSE: releases every held command.
    pub fn unpause(&self) {
        *self.state.lock() = None;
        self.on.store(false, std::sync::atomic::Ordering::Release);
        if !self.failover_holds() {
            crate::db::set_expiry_paused_until(None);
        }
        self.changed.notify_waiters();
    }

    /// FAILOVER holds writes (and expiry) until it ends (`on` false);
    /// CLIENT PAUSE/UNPAUSE do not change this hold.
    pub fn hold_for_failover(&self, on: bool) {
        self.failover.store(on, std::sync::atomic::Ordering::Release);
        let client_until = match *self.state.lock() {
            Some(st) if st.until > Instant::now() => Some(st.until),
            _ => None,
        };
        let forever = Instant::now() + Duration::from_secs(10 * 365 * 24 * 3600);
        crate::db::set_expiry_paused_until(if on { Some(forever) } else { client_until });
        self.changed.notify_waiters();
    }

    fn failover_holds(&self) -> bool {
        self.failover.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Whether a command is held now: `write_like` commands under any
    /// pause, every command under `ALL`. O(1).
    pub fn holds(&self, write_like: bool) -> bool {
        if write_like && self.failover_holds() {
            return true;
        }
        let mut s = self.state.lock();
        match *s {
            Some(st) if st.until > Instant::now() => st.all || write_like,
            Some(_) => {
                *s = None;
                self.on.store(false, std::sync::atomic::Ordering::Release);
                if !self.failover_holds() {
                    crate::db::set_expiry_paused_until(None);
                }
                false
            }
            None => false,
        }
    }

    /// Whether a pause may be in force: one atomic load, so commands pay
    /// nothing for CLIENT PAUSE when there is none.
    pub fn maybe_on(&self) -> bool {
        self.on.load(std::sync::atomic::Ordering::Acquire) || self.failover_holds()
    }

    /// Waits until the pause no longer holds client `id`'s command (of
    /// this kind) and every client held before it has run; keep the
    /// returned turn until the command ran. Cancel-safe.
    pub async fn wait(&self, id: u64, write_like: bool) -> Turn<'_> {
        self.queue.lock().push_back(id);
        let turn = Turn { pause: self, id };
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let until = match *self.state.lock() {
                Some(st) if st.until > Instant::now() && (st.all || write_like) => Some(st.until),
                _ => None,
            };
            let failover = write_like && self.failover_holds();
            if until.is_none() && !failover && self.queue.lock().front() == Some(&id) {
                return turn;
            }
            let sleep = async {
                match until {
                    Some(u) => tokio::time::sleep_until(u.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = notified => {}
                _ = sleep => {}
            }
        }
    }
}
