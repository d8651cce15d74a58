//! The sorted set type's storage (Redis's `t_zset.c` encodings).
//!
//! PLACEHOLDER: a sorted vector; the real encodings (packed while small, an
//! ordered structure with O(log n) rank plus a member map when large)
//! replace it.

use super::compact::CompactBytes;

/// Sets `zset-max-listpack-entries` and `zset-max-listpack-value`: sorted
/// sets changed from now on leave the packed encoding past them.
pub fn set_zset_listpack_limits(_entries: u64, _value: u64) {}

/// A sorted set value: members ordered by (score, member bytes).
#[derive(Debug, Clone, Default)]
#[allow(clippy::box_collection)] // placeholder: keeps Value at 24 bytes
pub struct ZSetValue {
    items: Box<Vec<(f64, CompactBytes)>>,
}

impl ZSetValue {
    /// A sorted set of `pairs` (a later duplicate member overwrites the
    /// score), in the encoding its content calls for. O(n log n).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a [u8], f64)>) -> ZSetValue {
        let mut z = ZSetValue::default();
        for (m, s) in pairs {
            z.insert(m, s);
        }
        z
    }

    /// Sets `m`'s score; true if `m` was new. O(n).
    pub fn insert(&mut self, m: &[u8], score: f64) -> bool {
        let new = match self.items.iter().position(|(_, x)| &x[..] == m) {
            Some(i) => {
                self.items.remove(i);
                false
            }
            None => true,
        };
        let pos = self.items.partition_point(|(s, x)| (*s, &x[..]) < (score, m));
        self.items.insert(pos, (score, CompactBytes::from_slice(m)));
        new
    }

    /// Number of members. O(1).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the set has no member. O(1).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether the set is packed (`OBJECT ENCODING` `listpack`, RDB type 17;
    /// else `skiplist`). O(1).
    pub fn is_packed(&self) -> bool {
        true
    }

    /// Members and scores in ascending (score, member) order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        self.items.iter().map(|(s, m)| (&m[..], *s))
    }

    /// Heap bytes held (MEMORY USAGE, eviction estimates).
    pub fn heap_size(&self) -> usize {
        self.items.capacity() * 32 + self.items.iter().map(|(_, m)| m.heap_size()).sum::<usize>()
    }
}
