//! Clients blocked on list keys (BLPOP and friends), woken when a push
//! makes a key ready.
//!
//! A blocked client registers a [`tokio::sync::Notify`] for each key it
//! waits on, then retries its command whenever notified. Registration happens
//! before the retry, and `Notify` keeps a permit, so a push between the two is
//! never missed. Clients waiting on the same key are woken in the order they
//! blocked.

use std::sync::Arc;

use tokio::sync::Notify;

use super::registry::{DbKey, KeyRegistry};

/// Who waits on which (database, key).
#[derive(Default)]
pub struct BlockingRegistry {
    waiters: KeyRegistry<Arc<Notify>>,
}

impl BlockingRegistry {
    /// Registers client `id` as waiting on `keys`. O(keys).
    pub fn register(&self, id: u64, keys: &[DbKey], notify: &Arc<Notify>) {
        for k in keys {
            self.waiters.add(id, k.clone(), notify);
        }
    }

    /// Removes client `id` from `keys`.
    pub fn unregister(&self, id: u64, keys: &[DbKey]) {
        self.waiters.remove(id, keys);
    }

    /// Wakes the clients waiting on each ready key (the first waiter first).
    /// Cheap when nobody is blocked.
    pub fn wake(&self, ready: &[DbKey]) {
        self.waiters.for_each_on(ready, |n| n.notify_one());
    }

    /// Wakes every blocked client (SWAPDB, FLUSHALL change what is ready).
    pub fn wake_all(&self) {
        self.waiters.for_each_where(|_| true, |n| n.notify_one());
    }

    /// True when no client is blocked.
    pub fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }
}
