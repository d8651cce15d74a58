//! Keys watched by clients (WATCH), so EXEC can abort when one changed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use super::registry::{DbKey, KeyRegistry};

/// A client's "some watched key changed" flag.
pub type DirtyFlag = Arc<AtomicBool>;

/// Which clients watch which (database, key).
#[derive(Default)]
pub struct WatchRegistry {
    keys: KeyRegistry<DirtyFlag>,
}

impl WatchRegistry {
    /// Client `id` watches `key` in `db`.
    pub fn watch(&self, id: u64, db: usize, key: Bytes, flag: &DirtyFlag) {
        self.keys.add(id, (db, key), flag);
    }

    /// Drops every watch of client `id` on `keys`.
    pub fn unwatch(&self, id: u64, keys: &[DbKey]) {
        self.keys.remove(id, keys);
    }

    /// Marks the watchers of `key` dirty. Cheap when nothing is watched.
    pub fn touch(&self, db: usize, key: &[u8]) {
        if self.keys.is_empty() {
            return;
        }
        self.keys.for_each_on(&[(db, Bytes::copy_from_slice(key))], |f| f.store(true, Ordering::Release));
    }

    /// Marks dirty the watchers of keys in database `db` (or in all databases,
    /// `None`) for which `exists` is true: FLUSHDB and SWAPDB only touch keys
    /// that really change.
    pub fn touch_db(&self, db: Option<usize>, mut exists: impl FnMut(usize, &[u8]) -> bool) {
        self.keys
            .for_each_where(|(d, k)| db.is_none_or(|x| x == *d) && exists(*d, k), |f| f.store(true, Ordering::Release));
    }

    /// True when no key is watched (the fast path of every write).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
