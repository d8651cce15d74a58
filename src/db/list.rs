//! The list type's storage: packed while small, a deque of elements when
//! large (Redis 7.2's listpack/quicklist switch; 7.0 used quicklist nodes
//! of listpacks, so `OBJECT ENCODING` keeps answering `quicklist`).
//!
//! A list stays a [`Listpack`] while it is within `list-max-listpack-size`
//! (negative: -1..-5 = 4..64 KiB of encoded bytes; positive: that many
//! elements). Past the limit it becomes a deque of [`CompactBytes`] (O(1)
//! at both ends, O(1) by index) and turns back into a pack when it shrinks
//! to half the limit, so a list hovering at the limit does not convert on
//! every push.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, Ordering};

use super::compact::CompactBytes;
use super::listpack::{self, Listpack};

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

/// Encoded size of one element in a pack (length prefix + bytes).
fn packed_size(v: &[u8]) -> usize {
    v.len() + if v.len() < 0x80 { 1 } else { 5 }
}

/// A large list: its elements and their packed size (so the way back to
/// a pack is decided in O(1)).
#[derive(Debug, Clone, Default)]
pub struct Deque {
    items: VecDeque<CompactBytes>,
    packed_bytes: usize,
}

/// A list value. Indexes are 0-based from the head.
#[derive(Debug, Clone)]
pub enum ListValue {
    /// Small: one block, O(bytes) access.
    Pack(Listpack),
    /// Large: O(1) at both ends and by index.
    Deque(Box<Deque>),
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
        let (count, bytes) = items.clone().into_iter().fold((0, 4), |(n, b), it| (n + 1, b + packed_size(it)));
        if within_limit(count, bytes, 1, 1) {
            // One exactly sized block, no reallocation per element.
            return ListValue::Pack(Listpack::from_items(items));
        }
        let items: VecDeque<CompactBytes> = items.into_iter().map(CompactBytes::from_slice).collect();
        ListValue::Deque(Box::new(Deque { items, packed_bytes: bytes - 4 }))
    }

    /// Number of elements. O(1).
    pub fn len(&self) -> usize {
        match self {
            ListValue::Pack(p) => p.len(),
            ListValue::Deque(d) => d.items.len(),
        }
    }

    /// Whether the list is empty. O(1).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the list is packed (for tests and `DEBUG`). O(1).
    pub fn is_packed(&self) -> bool {
        matches!(self, ListValue::Pack(_))
    }

    /// Heap bytes held (for MEMORY USAGE and eviction estimates). O(n) for
    /// a deque.
    pub fn heap_size(&self) -> usize {
        match self {
            ListValue::Pack(p) => p.heap_size(),
            ListValue::Deque(d) => {
                std::mem::size_of::<Deque>()
                    + d.items.capacity() * std::mem::size_of::<CompactBytes>()
                    + d.items
                        .iter()
                        .filter(|e| e.len() > super::compact::INLINE_MAX)
                        .map(|e| e.len() + 16)
                        .sum::<usize>()
            }
        }
    }

    /// The elements from the head. Each step is O(1).
    pub fn iter(&self) -> Iter<'_> {
        match self {
            ListValue::Pack(p) => Iter::Pack(p.iter()),
            ListValue::Deque(d) => Iter::Deque(d.items.iter()),
        }
    }

    /// Element `i`. O(1) for a deque, O(bytes) for a pack.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        match self {
            ListValue::Pack(p) => p.get(i),
            ListValue::Deque(d) => d.items.get(i).map(|e| &e[..]),
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
            ListValue::Deque(d) => Iter::Deque(d.items.range(from.min(d.items.len())..)),
        };
        it.take(n)
    }

    /// Pushes `v` at `end`. O(1) amortized for a deque, O(bytes) for a pack.
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
            ListValue::Deque(d) => {
                d.packed_bytes += packed_size(v);
                let v = CompactBytes::from_slice(v);
                match end {
                    End::Left => d.items.push_front(v),
                    End::Right => d.items.push_back(v),
                }
            }
        }
    }

    /// Pops the element at `end`. O(1) for a deque, O(bytes) for a pack.
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
            ListValue::Deque(d) => {
                let v = match end {
                    End::Left => d.items.pop_front(),
                    End::Right => d.items.pop_back(),
                }?;
                d.packed_bytes -= packed_size(&v);
                v
            }
        };
        self.maybe_pack();
        Some(v)
    }

    /// Replaces element `i`; false if out of range. O(1) for a deque.
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
            ListValue::Deque(d) => {
                d.packed_bytes = d.packed_bytes - packed_size(&d.items[i]) + packed_size(v);
                d.items[i] = CompactBytes::from_slice(v);
                self.maybe_pack();
            }
        }
        true
    }

    /// Inserts `v` before element `i` (`i == len` appends). O(n).
    pub fn insert(&mut self, i: usize, v: &[u8]) {
        match self {
            ListValue::Pack(p) => {
                p.insert(i, v);
                if !within_limit(p.len(), p.encoded_size(), 1, 1) {
                    self.unpack();
                }
            }
            ListValue::Deque(d) => {
                d.packed_bytes += packed_size(v);
                d.items.insert(i, CompactBytes::from_slice(v));
            }
        }
    }

    /// Keeps elements `from..=to` only (caller-clamped). O(n).
    pub fn trim(&mut self, from: usize, to: usize) {
        match self {
            ListValue::Pack(p) => {
                p.remove_range(to + 1, usize::MAX);
                p.remove_range(0, from);
            }
            ListValue::Deque(d) => {
                d.items.truncate(to + 1);
                d.items.drain(..from.min(d.items.len()));
                d.packed_bytes = d.items.iter().map(|e| packed_size(e)).sum();
            }
        }
        self.maybe_pack();
    }

    /// Keeps only the elements for which `keep(position, element)` holds. O(n).
    pub fn retain(&mut self, mut keep: impl FnMut(usize, &[u8]) -> bool) {
        match self {
            ListValue::Pack(p) => p.retain(keep),
            ListValue::Deque(d) => {
                let mut i = 0;
                d.items.retain(|e| {
                    let k = keep(i, e);
                    i += 1;
                    k
                });
                d.packed_bytes = d.items.iter().map(|e| packed_size(e)).sum();
            }
        }
        self.maybe_pack();
    }

    /// Pack → deque, once a pack outgrows the limit. O(n).
    fn unpack(&mut self) {
        if let ListValue::Pack(p) = self {
            let items: VecDeque<CompactBytes> = p.iter().map(CompactBytes::from_slice).collect();
            let packed_bytes = p.iter().map(packed_size).sum();
            *self = ListValue::Deque(Box::new(Deque { items, packed_bytes }));
        }
    }

    /// Deque → pack, once a deque is within half the limit. O(1) unless it
    /// converts.
    fn maybe_pack(&mut self) {
        if let ListValue::Deque(d) = self {
            if within_limit(d.items.len(), d.packed_bytes + 4, 1, 2) {
                *self = ListValue::Pack(Listpack::from_items(d.items.iter().map(|e| &e[..])));
            }
        }
    }
}

/// Iterator over a list's elements, from the head (double-ended for deques
/// only through [`ListValue::get`]).
#[derive(Clone)]
pub enum Iter<'a> {
    /// Over a pack.
    Pack(listpack::Iter<'a>),
    /// Over a deque.
    Deque(std::collections::vec_deque::Iter<'a, CompactBytes>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            Iter::Pack(it) => it.next(),
            Iter::Deque(it) => it.next().map(|e| &e[..]),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Pack(it) => it.size_hint(),
            Iter::Deque(it) => it.size_hint(),
        }
    }

    fn nth(&mut self, n: usize) -> Option<&'a [u8]> {
        match self {
            Iter::Pack(it) => it.nth(n),
            Iter::Deque(it) => it.nth(n).map(|e| &e[..]),
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
