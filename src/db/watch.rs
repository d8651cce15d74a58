//! Keys watched by clients (WATCH), so EXEC can abort when one changed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

/// A client's "some watched key changed" flag.
pub type DirtyFlag = Arc<AtomicBool>;

type Watchers = Vec<(u64, DirtyFlag)>;

/// Which clients watch which (database, key).
#[derive(Default)]
pub struct WatchRegistry {
    keys: Mutex<HashMap<(usize, Bytes), Watchers>>,
    count: AtomicUsize,
}

impl WatchRegistry {
    /// Client `id` watches `key` in `db`.
    pub fn watch(&self, id: u64, db: usize, key: Bytes, flag: &DirtyFlag) {
        let mut m = self.keys.lock();
        let list = m.entry((db, key)).or_default();
        if !list.iter().any(|(c, _)| *c == id) {
            list.push((id, flag.clone()));
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Drops every watch of client `id` on `keys`.
    pub fn unwatch(&self, id: u64, keys: &[(usize, Bytes)]) {
        let mut m = self.keys.lock();
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

    /// Marks the watchers of `key` dirty. Cheap when nothing is watched.
    pub fn touch(&self, db: usize, key: &[u8]) {
        if self.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let m = self.keys.lock();
        if let Some(list) = m.get(&(db, Bytes::copy_from_slice(key))) {
            for (_, f) in list {
                f.store(true, Ordering::Release);
            }
        }
    }

    /// Marks dirty every watcher of database `db`, or of all databases (`None`).
    pub fn touch_db(&self, db: Option<usize>) {
        if self.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let m = self.keys.lock();
        for ((d, _), list) in m.iter() {
            if db.is_none_or(|x| x == *d) {
                for (_, f) in list {
                    f.store(true, Ordering::Release);
                }
            }
        }
    }
}
