//! The list type's storage: one pack while small, a quicklist of packed
//! nodes when large (Redis 7.2's listpack/quicklist switch; 7.0 always used
//! a quicklist, so `OBJECT ENCODING` keeps answering `quicklist`).
//!
//! A list stays a [`Listpack`] while it is within `list-max-listpack-size`
//! (negative: -1..-5 = 4..64 KiB of encoded bytes; positive: that many
//! elements). Past the limit it becomes a [`Quicklist`] (O(node) at both
//! ends, O(nodes) by index, as in Redis) and turns back into a pack when it
//! shrinks to half the limit, so a list hovering at the limit does not
//! convert on every push.

use std::sync::atomic::{AtomicI64, Ordering};

use super::compact::CompactBytes;
use super::listpack::{self, Listpack};
use super::quicklist::{self, Quicklist};

/// `list-max-listpack-size` (default -2: 8 KiB).
static LIST_MAX_LISTPACK_SIZE: AtomicI64 = AtomicI64::new(-2);

/// Sets `list-max-listpack-size` for lists changed from now on.
pub fn set_list_max_listpack_size(v: i64) {
    LIST_MAX_LISTPACK_SIZE.store(v, Ordering::Relaxed);
}

/// Whether a list of `count` elements and `bytes` encoded bytes is within
/// the pack limit scaled by `num/den` (1/1 to stay packed, 1/2 to return).
fn within_limit(count: usize, bytes: usize, num: usize, den: usize) -> bool {
    fits(LIST_MAX_LISTPACK_SIZE.load(Ordering::Relaxed), count, bytes, num, den)
}

/// [`within_limit`] for a given `list-max-listpack-size`.
fn fits(limit: i64, count: usize, bytes: usize, num: usize, den: usize) -> bool {
    if limit >= 0 {
        count * den <= (limit as usize) * num
    } else {
        let kib = match limit {
            -1 => 4,
            -2 => 8,
            -3 => 16,
            -4 => 32,
            _ => 64,
        };
        bytes * den <= kib * 1024 * num
    }
}

/// A list value. Indexes are 0-based from the head.
#[derive(Debug, Clone)]
pub enum ListValue {
    /// Small: one block, O(bytes) access.
    Pack(Listpack),
    /// Large: packed nodes, O(node) at both ends.
    Quick(Box<Quicklist>),
}

impl Default for ListValue {
    fn default() -> Self {
        ListValue::Pack(Listpack::new())
    }
}

/// An end of a list.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum End {
    /// The head (index 0).
    Left,
    /// The tail.
    Right,
}

impl ListValue {
    /// A list of `items` in order, in the encoding its size calls for. O(n).
    pub fn from_items<'a>(items: impl IntoIterator<Item = &'a [u8]> + Clone) -> ListValue {
        let (count, bytes) =
            items.clone().into_iter().fold((0, 4), |(n, b), it| (n + 1, b + listpack::encoded_len(it)));
        if within_limit(count, bytes, 1, 1) {
            // One exactly sized block, no reallocation per element.
            return ListValue::Pack(Listpack::from_items(items));
        }
        ListValue::Quick(Box::new(Quicklist::from_items(items)))
    }

    /// Number of elements. O(1).
    pub fn len(&self) -> usize {
        match self {
            ListValue::Pack(p) => p.len(),
            ListValue::Quick(q) => q.len(),
        }
    }

    /// Whether the list is empty. O(1).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the list is one pack (for tests and `DEBUG`). O(1).
    pub fn is_packed(&self) -> bool {
        matches!(self, ListValue::Pack(_))
    }

    /// Heap bytes held (for MEMORY USAGE and eviction estimates). O(1).
    pub fn heap_size(&self) -> usize {
        match self {
            ListValue::Pack(p) => p.heap_size(),
            ListValue::Quick(q) => std::mem::size_of::<Quicklist>() + q.heap_size(),
        }
    }

    /// The elements from the head. Each step is O(1).
    pub fn iter(&self) -> Iter<'_> {
        match self {
            ListValue::Pack(p) => Iter::Pack(p.iter()),
            ListValue::Quick(q) => Iter::Quick(q.iter()),
        }
    }

    /// Element `i`. O(bytes) for a pack, O(nodes + node) for a quicklist
    /// (O(node) near either end).
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        match self {
            ListValue::Pack(p) => p.get(i),
            ListValue::Quick(q) => q.get(i),
        }
    }

    /// Elements `from..=to` (caller-clamped), in order.
    pub fn range(&self, from: usize, to: usize) -> impl Iterator<Item = &[u8]> + Clone {
        let n = (to + 1).saturating_sub(from);
        let it: Iter<'_> = match self {
            ListValue::Pack(p) => {
                let mut it = p.iter();
                if from > 0 {
                    it.nth(from - 1);
                }
                Iter::Pack(it)
            }
            ListValue::Quick(q) => Iter::Quick(q.iter_from(from)),
        };
        it.take(n)
    }

    /// Pushes `v` at `end`. O(node) (O(bytes) for a pack).
    pub fn push(&mut self, end: End, v: &[u8]) {
        match self {
            ListValue::Pack(p) => {
                match end {
                    End::Left => p.push_front(v),
                    End::Right => p.push_back(v),
                }
                if !within_limit(p.len(), p.encoded_size(), 1, 1) {
                    self.unpack();
                }
            }
            ListValue::Quick(q) => match end {
                End::Left => q.push_front(v),
                End::Right => q.push_back(v),
            },
        }
    }

    /// Pops the element at `end`. O(node) (O(bytes) for a pack).
    pub fn pop(&mut self, end: End) -> Option<CompactBytes> {
        let v = match self {
            ListValue::Pack(p) => {
                let i = match end {
                    End::Left => 0,
                    End::Right => p.len().checked_sub(1)?,
                };
                let v = CompactBytes::from_slice(p.get(i)?);
                p.remove(i);
                v
            }
            ListValue::Quick(q) => match end {
                End::Left => q.pop_front(),
                End::Right => q.pop_back(),
            }?,
        };
        self.maybe_pack();
        Some(v)
    }

    /// Replaces element `i`; false if out of range. O(nodes + node).
    pub fn set(&mut self, i: usize, v: &[u8]) -> bool {
        if i >= self.len() {
            return false;
        }
        match self {
            ListValue::Pack(p) => {
                p.replace(i, v);
                if !within_limit(p.len(), p.encoded_size(), 1, 1) {
                    self.unpack();
                }
            }
            ListValue::Quick(q) => {
                q.set(i, v);
                self.maybe_pack();
            }
        }
        true
    }

    /// Inserts `v` before element `i` (`i == len` appends). O(n) for a
    /// pack, O(nodes + node) for a quicklist.
    pub fn insert(&mut self, i: usize, v: &[u8]) {
        match self {
            ListValue::Pack(p) => {
                p.insert(i, v);
                if !within_limit(p.len(), p.encoded_size(), 1, 1) {
                    self.unpack();
                }
            }
            ListValue::Quick(q) => q.insert(i, v),
        }
    }

    /// Keeps elements `from..=to` only (caller-clamped). O(n).
    pub fn trim(&mut self, from: usize, to: usize) {
        match self {
            ListValue::Pack(p) => {
                p.remove_range(to + 1, usize::MAX);
                p.remove_range(0, from);
            }
            ListValue::Quick(q) => {
                q.remove_range(to + 1, usize::MAX);
                q.remove_range(0, from);
            }
        }
        self.maybe_pack();
    }

    /// Keeps only the elements for which `keep(position, element)` holds. O(n).
    pub fn retain(&mut self, keep: impl FnMut(usize, &[u8]) -> bool) {
        match self {
            ListValue::Pack(p) => p.retain(keep),
            ListValue::Quick(q) => q.retain(keep),
        }
        self.maybe_pack();
    }

    /// Pack → quicklist, once a pack outgrows the limit. O(n).
    fn unpack(&mut self) {
        if let ListValue::Pack(p) = self {
            *self = ListValue::Quick(Box::new(Quicklist::from_items(p.iter())));
        }
    }

    /// Quicklist → pack, once it is within half the limit. O(1) unless it
    /// converts.
    fn maybe_pack(&mut self) {
        if let ListValue::Quick(q) = self {
            if within_limit(q.len(), q.payload_size() + 4, 1, 2) {
                *self = ListValue::Pack(Listpack::from_items(q.iter()));
            }
        }
    }
}

/// Iterator over a list's elements, from the head.
#[derive(Clone)]
pub enum Iter<'a> {
    /// Over a pack.
    Pack(listpack::Iter<'a>),
    /// Over a quicklist.
    Quick(quicklist::Iter<'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            Iter::Pack(it) => it.next(),
            Iter::Quick(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Pack(it) => it.size_hint(),
            Iter::Quick(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_both_ways_and_keeps_order() {
        // Default limit: 8 KiB of packed bytes.
        let mut l = ListValue::default();
        let big = [b'x'; 100];
        for _ in 0..81 {
            l.push(End::Right, &big);
        }
        assert!(l.is_packed(), "4 + 81 x 101 bytes fit in 8 KiB");
        for i in 0..10u8 {
            l.push(End::Left, &[i]);
        }
        assert!(!l.is_packed(), "past 8 KiB it is a deque");
        assert_eq!(l.len(), 91);
        assert_eq!(l.get(0), Some(&[9u8][..]));
        assert_eq!(l.range(8, 10).collect::<Vec<_>>(), vec![&[1u8][..], &[0u8][..], &big[..]]);
        while l.len() > 40 {
            l.pop(End::Right);
        }
        assert!(l.is_packed(), "back under half the limit it packs again");
        assert_eq!(l.iter().take(10).map(|v| v[0]).collect::<Vec<_>>(), (0..10).rev().collect::<Vec<u8>>());
        assert!(l.set(39, b"last"));
        assert_eq!(l.pop(End::Right).as_deref(), Some(&b"last"[..]));
    }

    #[test]
    fn limits_follow_redis_list_max_listpack_size() {
        assert!(fits(4, 4, 1 << 20, 1, 1));
        assert!(!fits(4, 5, 0, 1, 1));
        assert!(fits(4, 2, 0, 1, 2) && !fits(4, 3, 0, 1, 2));
        assert!(fits(-1, 100_000, 4096, 1, 1) && !fits(-1, 1, 4097, 1, 1));
        assert!(fits(-2, 1, 8192, 1, 1) && !fits(-2, 1, 8193, 1, 1));
        assert!(fits(-5, 1, 65536, 1, 1) && !fits(-5, 1, 65537, 1, 1));
        assert!(fits(-100, 1, 65536, 1, 1), "below -5 counts as -5");
        assert!(!fits(0, 1, 0, 1, 1), "0 never packs a non-empty list");
    }
}
