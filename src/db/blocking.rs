//! Clients blocked on list keys (BLPOP and friends), woken when a push
//! makes a key ready.
//!
//! A blocked client registers a [`tokio::sync::Notify`] for each key it
//! waits on, then retries its command whenever notified. Registration happens
//! before the retry, and `Notify` keeps a permit, so a push between the two is
//! never missed. Clients waiting on the same key are woken in the order they
//! blocked.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

type Waiters = Vec<(u64, Arc<Notify>)>;

/// Who waits on which (database, key).
#[derive(Default)]
pub struct BlockingRegistry {
    waiters: Mutex<HashMap<(usize, Bytes), Waiters>>,
    count: AtomicUsize,
}

impl BlockingRegistry {
    /// Registers client `id` as waiting on `keys`. O(keys).
    pub fn register(&self, id: u64, keys: &[(usize, Bytes)], notify: &Arc<Notify>) {
        let mut w = self.waiters.lock();
        for k in keys {
            let list = w.entry(k.clone()).or_default();
            if !list.iter().any(|(cid, _)| *cid == id) {
                list.push((id, notify.clone()));
                self.count.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Removes client `id` from `keys`.
    pub fn unregister(&self, id: u64, keys: &[(usize, Bytes)]) {
        let mut w = self.waiters.lock();
        for k in keys {
            if let Some(list) = w.get_mut(k) {
                let before = list.len();
                list.retain(|(cid, _)| *cid != id);
                self.count.fetch_sub(before - list.len(), Ordering::Relaxed);
                if list.is_empty() {
                    w.remove(k);
                }
            }
        }
    }

    /// Wakes the clients waiting on each ready key (the first waiter first).
    /// Cheap when nobody is blocked.
    pub fn wake(&self, ready: &[(usize, Bytes)]) {
        if ready.is_empty() || self.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let w = self.waiters.lock();
        for k in ready {
            if let Some(list) = w.get(k) {
                for (_, n) in list {
                    n.notify_one();
                }
            }
        }
    }

    /// Wakes every blocked client (SWAPDB, FLUSHALL change what is ready).
    pub fn wake_all(&self) {
        let w = self.waiters.lock();
        for list in w.values() {
            for (_, n) in list {
                n.notify_one();
            }
        }
    }

    /// Number of blocked clients' registrations (`blocked_clients` in INFO counts clients).
    pub fn is_empty(&self) -> bool {
        self.count.load(Ordering::Relaxed) == 0
    }
}
