//! Clients registered against (database, key) pairs: the common core of the
//! blocking-pop waiters and the WATCH lists.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

/// A (database, key) pair.
pub type DbKey = (usize, Bytes);

/// For each (database, key), the clients registered on it with a value of
/// theirs (a waker, a dirty flag), in registration order.
pub struct KeyRegistry<T> {
    map: Mutex<HashMap<DbKey, Vec<(u64, T)>>>,
    count: AtomicUsize,
}

impl<T> Default for KeyRegistry<T> {
    fn default() -> Self {
        KeyRegistry { map: Mutex::new(HashMap::new()), count: AtomicUsize::new(0) }
    }
}

impl<T: Clone> KeyRegistry<T> {
    /// Registers client `id` on `key` (once). O(clients on that key).
    pub fn add(&self, id: u64, key: DbKey, value: &T) {
        let mut m = self.map.lock();
        let list = m.entry(key).or_default();
        if !list.iter().any(|(c, _)| *c == id) {
            list.push((id, value.clone()));
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Removes client `id` from `keys`.
    pub fn remove(&self, id: u64, keys: &[DbKey]) {
        let mut m = self.map.lock();
        for k in keys {
            if let Some(list) = m.get_mut(k) {
                let before = list.len();
                list.retain(|(c, _)| *c != id);
                self.count.fetch_sub(before - list.len(), Ordering::Relaxed);
                if list.is_empty() {
                    m.remove(k);
                }
            }
        }
    }

    /// True when nobody is registered (one atomic load: the fast path of
    /// every write).
    pub fn is_empty(&self) -> bool {
        self.count.load(Ordering::Relaxed) == 0
    }

    /// Calls `f` for every registration whose key satisfies `pred`.
    pub fn for_each_where(&self, mut pred: impl FnMut(&DbKey) -> bool, mut f: impl FnMut(&T)) {
        if self.is_empty() {
            return;
        }
        let m = self.map.lock();
        for (k, list) in m.iter() {
            if pred(k) {
                list.iter().for_each(|(_, v)| f(v));
            }
        }
    }

    /// Calls `f` for the registrations of each key in `keys`, in order.
    pub fn for_each_on(&self, keys: &[DbKey], mut f: impl FnMut(&T)) {
        if self.is_empty() {
            return;
        }
        let m = self.map.lock();
        for k in keys {
            if let Some(list) = m.get(k) {
                list.iter().for_each(|(_, v)| f(v));
            }
        }
    }
}
