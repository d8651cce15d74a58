//! The hash type's storage: packed field/value pairs while small, a hash
//! table when large, switching exactly where Redis 7 switches from the
//! `listpack` to the `hashtable` encoding (and, as Redis, never back).
//!
//! A hash stays a [`Listpack`] of alternating fields and values while it has
//! at most `hash-max-listpack-entries` fields, none of whose names or values
//! is longer than `hash-max-listpack-value`. A packed hash is searched
//! linearly (O(bytes), as in Redis) and keeps insertion order, also across
//! deletions. A table is an insertion-ordered map whose deletions move the
//! last field into the hole, so fields only ever move to lower positions —
//! which HSCAN relies on to never miss a field.

use std::sync::atomic::{AtomicUsize, Ordering};

use indexmap::IndexMap;

use super::compact::CompactBytes;
use super::listpack::Listpack;
use super::value::Hasher;

/// `hash-max-listpack-entries` (Redis 7.0's default: 512).
static HASH_MAX_LISTPACK_ENTRIES: AtomicUsize = AtomicUsize::new(512);
/// `hash-max-listpack-value` (default 64 bytes).
static HASH_MAX_LISTPACK_VALUE: AtomicUsize = AtomicUsize::new(64);

/// Sets the thresholds past which a hash changed from now on is converted
/// to a table.
pub fn set_hash_listpack_limits(max_entries: u64, max_value: u64) {
    let clamp = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    HASH_MAX_LISTPACK_ENTRIES.store(clamp(max_entries), Ordering::Relaxed);
    HASH_MAX_LISTPACK_VALUE.store(clamp(max_value), Ordering::Relaxed);
}

/// The table form: field → value in insertion order (deletions swap).
pub type Table = IndexMap<CompactBytes, CompactBytes, Hasher>;

/// A hash value.
#[derive(Debug, Clone)]
pub enum HashValue {
    /// Small: alternating field, value in one block.
    Pack(Listpack),
    /// Large: O(1) by field.
    Table(Box<Table>),
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue::Pack(Listpack::new())
    }
}

fn fits_value(v: &[u8]) -> bool {
    v.len() <= HASH_MAX_LISTPACK_VALUE.load(Ordering::Relaxed)
}

/// Position (in pairs) of `field` in a packed hash. O(bytes).
fn find(p: &Listpack, field: &[u8]) -> Option<usize> {
    p.iter().step_by(2).position(|f| f == field)
}

impl HashValue {
    /// A hash of `pairs` (later duplicates overwrite), in the encoding its
    /// content calls for. O(n): a packed hash is built in one block.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a [u8], &'a [u8])> + Clone) -> HashValue {
        let mut n = 0;
        let packable = pairs.clone().into_iter().all(|(f, v)| {
            n += 1;
            fits_value(f) && fits_value(v)
        }) && n <= HASH_MAX_LISTPACK_ENTRIES.load(Ordering::Relaxed);
        // Fields of a file written by a server are distinct; a crafted one
        // may repeat them (the later value wins, through `insert`).
        let distinct = |pairs: &[(&[u8], &[u8])]| {
            if pairs.len() <= 16 {
                pairs.iter().enumerate().all(|(i, (f, _))| pairs[..i].iter().all(|(g, _)| f != g))
            } else {
                let mut seen = std::collections::HashSet::with_capacity(pairs.len());
                pairs.iter().all(|(f, _)| seen.insert(*f))
            }
        };
        if packable {
            let list: Vec<(&[u8], &[u8])> = pairs.clone().into_iter().collect();
            if distinct(&list) {
                // One exactly sized block, no reallocation per field.
                return HashValue::Pack(Listpack::from_items(list.iter().flat_map(|(f, v)| [*f, *v])));
            }
        }
        let mut h = HashValue::default();
        for (f, v) in pairs {
            h.insert(f, v);
        }
        h
    }

    /// Number of fields. O(1).
    pub fn len(&self) -> usize {
        match self {
            HashValue::Pack(p) => p.len() / 2,
            HashValue::Table(t) => t.len(),
        }
    }

    /// Whether the hash has no field. O(1).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the hash is packed: what `OBJECT ENCODING` reports as
    /// `listpack` (else `hashtable`). O(1).
    pub fn is_packed(&self) -> bool {
        matches!(self, HashValue::Pack(_))
    }

    /// Heap bytes held (MEMORY USAGE, eviction estimates). O(n) for a table.
    pub fn heap_size(&self) -> usize {
        match self {
            HashValue::Pack(p) => p.heap_size(),
            HashValue::Table(t) => {
                std::mem::size_of::<Table>()
                    + t.capacity() * (2 * std::mem::size_of::<CompactBytes>() + 8 + 9)
                    + t.iter().map(|(f, v)| f.heap_size() + v.heap_size()).sum::<usize>()
            }
        }
    }

    /// The value of `field`. O(1) for a table, O(bytes) packed.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            HashValue::Pack(p) => {
                let mut it = p.iter();
                while let Some(f) = it.next() {
                    let v = it.next()?;
                    if f == field {
                        return Some(v);
                    }
                }
                None
            }
            HashValue::Table(t) => t.get(field).map(|v| &v[..]),
        }
    }

    /// Whether `field` exists. Same cost as [`HashValue::get`].
    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets `field` to `value`; true if the field is new. Converts a packed
    /// hash to a table past the limits. O(1) amortized for a table, O(bytes)
    /// packed.
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        match self {
            HashValue::Pack(p) => {
                if !fits_value(field) || !fits_value(value) {
                    self.convert();
                    return self.insert(field, value);
                }
                match find(p, field) {
                    Some(i) => {
                        p.replace(2 * i + 1, value);
                        false
                    }
                    None => {
                        if p.len() / 2 + 1 > HASH_MAX_LISTPACK_ENTRIES.load(Ordering::Relaxed) {
                            self.convert();
                            return self.insert(field, value);
                        }
                        p.push_back(field);
                        p.push_back(value);
                        true
                    }
                }
            }
            HashValue::Table(t) => t.insert(CompactBytes::from_slice(field), CompactBytes::from_slice(value)).is_none(),
        }
    }

    /// Deletes `field`; true if it existed. Packed: the others keep their
    /// order. Table: the last field moves into the hole. O(1) for a table.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            HashValue::Pack(p) => match find(p, field) {
                Some(i) => {
                    p.remove_range(2 * i, 2 * i + 2);
                    true
                }
                None => false,
            },
            HashValue::Table(t) => t.swap_remove(field).is_some(),
        }
    }

    /// Field and value at position `i` (insertion order, see the module
    /// notes). O(1) for a table, O(bytes) packed.
    pub fn get_index(&self, i: usize) -> Option<(&[u8], &[u8])> {
        match self {
            HashValue::Pack(p) => {
                let mut it = p.iter();
                if i > 0 {
                    it.nth(2 * i - 1)?;
                }
                Some((it.next()?, it.next()?))
            }
            HashValue::Table(t) => t.get_index(i).map(|(f, v)| (&f[..], &v[..])),
        }
    }

    /// Every field with its value, in position order. Each step is O(1).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + Clone {
        let (pack, table) = match self {
            HashValue::Pack(p) => (Some(p.iter()), None),
            HashValue::Table(t) => (None, Some(t.iter())),
        };
        let pairs = pack.into_iter().flat_map(|mut it| std::iter::from_fn(move || Some((it.next()?, it.next()?))));
        pairs.chain(table.into_iter().flatten().map(|(f, v)| (&f[..], &v[..])))
    }

    /// Pack → table. O(n).
    fn convert(&mut self) {
        if let HashValue::Pack(p) = self {
            let mut t = Table::with_capacity_and_hasher(p.len() / 2, Hasher::default());
            let mut it = p.iter();
            while let (Some(f), Some(v)) = (it.next(), it.next()) {
                t.insert(CompactBytes::from_slice(f), CompactBytes::from_slice(v));
            }
            *self = HashValue::Table(Box::new(t));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_and_table_agree() {
        let mut small = HashValue::default();
        let mut big = HashValue::default();
        big.convert();
        let mut rng = fastrand::Rng::with_seed(3);
        for _ in 0..3000 {
            let f = format!("f{}", rng.u8(..40));
            let v = format!("v{}", rng.u32(..));
            if rng.bool() {
                assert_eq!(small.insert(f.as_bytes(), v.as_bytes()), big.insert(f.as_bytes(), v.as_bytes()));
            } else {
                assert_eq!(small.remove(f.as_bytes()), big.remove(f.as_bytes()));
            }
            assert_eq!(small.len(), big.len());
            assert_eq!(small.get(f.as_bytes()), big.get(f.as_bytes()));
        }
        assert!(small.is_packed() && !big.is_packed());
        let mut a: Vec<_> = small.iter().collect();
        let mut b: Vec<_> = big.iter().collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        for i in 0..small.len() {
            let (f, v) = small.get_index(i).unwrap();
            assert_eq!(small.get(f), Some(v));
        }
        assert_eq!(small.get_index(small.len()), None);
    }

    #[test]
    fn a_long_value_converts_for_good() {
        let mut h = HashValue::from_pairs([(&b"a"[..], &b"1"[..]), (b"b", b"2")]);
        assert!(h.is_packed());
        h.insert(b"c", &[b'x'; 65]);
        assert!(!h.is_packed());
        h.remove(b"c");
        assert!(!h.is_packed(), "Redis never converts back");
        assert_eq!(h.iter().collect::<Vec<_>>(), vec![(&b"a"[..], &b"1"[..]), (b"b", b"2")]);
    }
}
