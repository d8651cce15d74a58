//! The set type's storage (Redis's `t_set.c` encodings).
//!
//! Three forms, switching where Redis 7.0 switches and, as in Redis, never
//! back:
//! - [`IntSet`]: while every member is an integer (Redis's `string2ll`
//!   rules) and there are at most `set-max-intset-entries` of them: sorted
//!   2/4/8-byte integers in one block (`OBJECT ENCODING` `intset`).
//! - packed: small sets with a non-integer member, at most
//!   [`PACK_MAX_ENTRIES`] members of at most [`PACK_MAX_VALUE`] bytes, in
//!   one [`Listpack`] (Redis 7.0 would use a hash table, which is what
//!   `OBJECT ENCODING` reports; packing them costs a fraction of that).
//! - table: an insertion-ordered hash set whose deletions move the last
//!   member into the hole, so members only ever move to lower positions
//!   (SSCAN walks positions downwards and never misses a member). O(1)
//!   membership and O(1) access by position (random members).
//!
//! A [`SetValue`] is 16 bytes: the integer block inline, the other forms
//! behind one box.

mod intset;

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use indexmap::IndexSet;

pub use self::intset::IntSet;
use super::compact::CompactBytes;
use super::listpack::Listpack;
use super::sample::distinct_positions;
use super::value::Hasher;
use crate::cmd::args::parse_i64_bytes;

/// `set-max-intset-entries` (Redis's default 512).
static MAX_INTSET_ENTRIES: AtomicUsize = AtomicUsize::new(512);

/// Most members of a packed set (Redis 7.2's `set-max-listpack-entries`).
pub const PACK_MAX_ENTRIES: usize = 128;
/// Longest member of a packed set (Redis 7.2's `set-max-listpack-value`).
pub const PACK_MAX_VALUE: usize = 64;

/// Sets `set-max-intset-entries`: sets changed from now on leave the
/// integer encoding past this many members (capped at 2^30, as Redis).
pub fn set_max_intset_entries(n: u64) {
    let n = usize::try_from(n).unwrap_or(usize::MAX).min(1 << 30);
    MAX_INTSET_ENTRIES.store(n, Ordering::Relaxed);
}

fn max_intset_entries() -> usize {
    MAX_INTSET_ENTRIES.load(Ordering::Relaxed)
}

/// The table form.
pub type Table = IndexSet<CompactBytes, Hasher>;

/// The forms for sets with a non-integer member (or too many integers).
#[derive(Debug, Clone)]
enum Strs {
    Pack(Listpack),
    Table(Box<Table>),
}

#[derive(Debug, Clone)]
enum Repr {
    Ints(IntSet),
    Strs(Box<Strs>),
}

/// A set value: see the module notes for its forms.
#[derive(Debug, Clone)]
pub struct SetValue(Repr);

impl Default for SetValue {
    /// An empty set in the integer form (no allocation).
    fn default() -> Self {
        SetValue(Repr::Ints(IntSet::default()))
    }
}

/// Whether `m` may be stored in a packed set.
fn packable(m: &[u8]) -> bool {
    m.len() <= PACK_MAX_VALUE
}

/// Decimal bytes of `v`.
fn int_cow<'a>(v: i64) -> Cow<'a, [u8]> {
    Cow::Owned(itoa::Buffer::new().format(v).as_bytes().to_vec())
}

impl SetValue {
    /// A set of `members` (duplicates collapse), in the encoding its content
    /// calls for, built in one step. O(n log n) for integers, O(n) else.
    pub fn from_members<'a>(members: impl IntoIterator<Item = &'a [u8]>) -> SetValue {
        let members: Vec<&[u8]> = members.into_iter().collect();
        let ints: Option<Vec<i64>> = members.iter().map(|m| parse_i64_bytes(m)).collect();
        if let Some(mut ints) = ints {
            ints.sort_unstable();
            ints.dedup();
            if ints.len() <= max_intset_entries() {
                return SetValue(Repr::Ints(IntSet::from_sorted(&ints)));
            }
        }
        let mut table = Table::with_capacity_and_hasher(members.len(), Hasher::default());
        for m in &members {
            table.insert(CompactBytes::from_slice(m));
        }
        if table.len() <= PACK_MAX_ENTRIES && table.iter().all(|m| packable(m)) {
            return SetValue(Repr::Strs(Box::new(Strs::Pack(Listpack::from_items(table.iter().map(|m| &m[..]))))));
        }
        SetValue(Repr::Strs(Box::new(Strs::Table(Box::new(table)))))
    }

    /// Adds `m`; true if it was new. Leaves the integer form for a
    /// non-integer member or past `set-max-intset-entries`, the packed form
    /// past its limits. O(n) for the integer and packed forms, O(1)
    /// amortized for a table.
    pub fn insert(&mut self, m: &[u8]) -> bool {
        match &mut self.0 {
            Repr::Ints(s) => match parse_i64_bytes(m) {
                Some(v) => {
                    if !s.insert(v) {
                        return false;
                    }
                    if s.len() > max_intset_entries() {
                        self.convert(0);
                    }
                    true
                }
                None => {
                    self.convert(1);
                    self.insert(m)
                }
            },
            Repr::Strs(b) => match &mut **b {
                Strs::Pack(p) => {
                    if p.iter().any(|x| x == m) {
                        return false;
                    }
                    if !packable(m) || p.len() >= PACK_MAX_ENTRIES {
                        self.make_table(1);
                        return self.insert(m);
                    }
                    p.push_back(m);
                    true
                }
                Strs::Table(t) => t.insert(CompactBytes::from_slice(m)),
            },
        }
    }

    /// Removes `m`; true if it was a member. O(n) for the integer and packed
    /// forms, O(1) for a table (the last member moves into the hole).
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match &mut self.0 {
            Repr::Ints(s) => parse_i64_bytes(m).is_some_and(|v| s.remove(v)),
            Repr::Strs(b) => match &mut **b {
                Strs::Pack(p) => match p.iter().position(|x| x == m) {
                    Some(i) => {
                        p.remove(i);
                        true
                    }
                    None => false,
                },
                Strs::Table(t) => {
                    let found = t.swap_remove(m);
                    shrink(t);
                    found
                }
            },
        }
    }

    /// Whether `m` is a member. O(log n) for integers, O(bytes) packed,
    /// O(1) for a table.
    pub fn contains(&self, m: &[u8]) -> bool {
        match &self.0 {
            Repr::Ints(s) => parse_i64_bytes(m).is_some_and(|v| s.contains(v)),
            Repr::Strs(b) => match &**b {
                Strs::Pack(p) => p.iter().any(|x| x == m),
                Strs::Table(t) => t.contains(m),
            },
        }
    }

    /// Number of members. O(1).
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Ints(s) => s.len(),
            Repr::Strs(b) => match &**b {
                Strs::Pack(p) => p.len(),
                Strs::Table(t) => t.len(),
            },
        }
    }

    /// Whether the set has no member. O(1).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every member is an integer kept in the integer encoding
    /// (`OBJECT ENCODING` `intset`; RDB type 11). O(1).
    pub fn is_intset(&self) -> bool {
        matches!(self.0, Repr::Ints(_))
    }

    /// Whether the set is in one of its compact forms (integers or packed),
    /// which SSCAN answers whole, as Redis answers its intsets. O(1).
    pub fn is_compact(&self) -> bool {
        !matches!(&self.0, Repr::Strs(b) if matches!(**b, Strs::Table(_)))
    }

    /// The members, in position order (ascending for integers, insertion
    /// order packed, table positions). Each step is O(1).
    pub fn iter(&self) -> impl Iterator<Item = Cow<'_, [u8]>> + '_ {
        let (ints, pack, table) = match &self.0 {
            Repr::Ints(s) => (Some(s.iter()), None, None),
            Repr::Strs(b) => match &**b {
                Strs::Pack(p) => (None, Some(p.iter()), None),
                Strs::Table(t) => (None, None, Some(t.iter())),
            },
        };
        let ints = ints.into_iter().flatten().map(int_cow);
        let pack = pack.into_iter().flatten().map(Cow::Borrowed);
        ints.chain(pack).chain(table.into_iter().flatten().map(|m| Cow::Borrowed(&m[..])))
    }

    /// The member at position `i` (see [`SetValue::iter`]). O(1), O(bytes)
    /// packed.
    pub fn get_index(&self, i: usize) -> Option<Cow<'_, [u8]>> {
        match &self.0 {
            Repr::Ints(s) => s.get(i).map(int_cow),
            Repr::Strs(b) => match &**b {
                Strs::Pack(p) => p.get(i).map(Cow::Borrowed),
                Strs::Table(t) => t.get_index(i).map(|m| Cow::Borrowed(&m[..])),
            },
        }
    }

    /// A uniformly chosen member (`None` when empty). O(1), O(bytes) packed.
    pub fn random(&self) -> Option<Cow<'_, [u8]>> {
        self.get_index(fastrand::usize(..self.len().max(1)))
    }

    /// The members at `positions`, in that order (see [`SetValue::iter`]
    /// for positions; out-of-range ones are skipped). O(len(positions)),
    /// plus one walk of a packed set.
    pub fn members_at(&self, positions: impl IntoIterator<Item = usize>) -> Vec<Cow<'_, [u8]>> {
        match &self.0 {
            Repr::Strs(b) if matches!(**b, Strs::Pack(_)) => {
                let all: Vec<Cow<'_, [u8]>> = self.iter().collect();
                positions.into_iter().filter_map(|i| all.get(i).cloned()).collect()
            }
            _ => positions.into_iter().filter_map(|i| self.get_index(i)).collect(),
        }
    }

    /// Removes and returns `count` uniformly chosen distinct members (all of
    /// them when `count >= len`). O(count) for a table; one pass O(n) for
    /// the compact forms.
    pub fn pop_random(&mut self, count: usize) -> Vec<Bytes> {
        let len = self.len();
        let count = count.min(len);
        if let Repr::Strs(b) = &mut self.0 {
            if let Strs::Table(t) = &mut **b {
                let mut out = Vec::with_capacity(count);
                for _ in 0..count {
                    if let Some(m) = t.swap_remove_index(fastrand::usize(..t.len())) {
                        out.push(m.to_bytes());
                    }
                }
                shrink(t);
                return out;
            }
        }
        let mut chosen = vec![false; len];
        for i in distinct_positions(len, count) {
            chosen[i] = true;
        }
        let out =
            self.iter().enumerate().filter(|(i, _)| chosen[*i]).map(|(_, m)| Bytes::from(m.into_owned())).collect();
        match &mut self.0 {
            Repr::Ints(s) => s.retain(|i, _| !chosen[i]),
            Repr::Strs(b) => {
                if let Strs::Pack(p) = &mut **b {
                    p.retain(|i, _| !chosen[i]);
                }
            }
        }
        out
    }

    /// Heap bytes held (MEMORY USAGE, eviction estimates). O(1) for the
    /// compact forms, O(n) for a table.
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Ints(s) => s.heap_size(),
            Repr::Strs(b) => {
                std::mem::size_of::<Strs>()
                    + match &**b {
                        Strs::Pack(p) => p.heap_size(),
                        Strs::Table(t) => {
                            std::mem::size_of::<Table>()
                                + t.capacity() * (std::mem::size_of::<CompactBytes>() + 8 + 9)
                                + t.iter().map(|m| m.heap_size()).sum::<usize>()
                        }
                    }
            }
        }
    }

    /// Leaves the integer form for the packed one if `extra` more members
    /// of at most [`PACK_MAX_VALUE`] bytes would fit, else for a table.
    /// O(n).
    fn convert(&mut self, extra: usize) {
        if let Repr::Ints(s) = &self.0 {
            if s.len() + extra <= PACK_MAX_ENTRIES {
                let items: Vec<Cow<'_, [u8]>> = self.iter().collect();
                let p = Listpack::from_items(items.iter().map(|m| &m[..]));
                self.0 = Repr::Strs(Box::new(Strs::Pack(p)));
            } else {
                self.make_table(extra);
            }
        }
    }

    /// Any form → table, with room for `extra` more members. O(n).
    fn make_table(&mut self, extra: usize) {
        if matches!(&self.0, Repr::Strs(b) if matches!(**b, Strs::Table(_))) {
            return;
        }
        let mut t = Table::with_capacity_and_hasher(self.len() + extra, Hasher::default());
        t.extend(self.iter().map(|m| CompactBytes::from_slice(&m)));
        self.0 = Repr::Strs(Box::new(Strs::Table(Box::new(t))));
    }
}

/// Gives a table's memory back once three quarters of it are unused.
fn shrink(t: &mut Table) {
    let cap = t.capacity();
    if cap > 64 && t.len() < cap / 4 {
        t.shrink_to(t.len() * 2);
    }
}

#[cfg(test)]
mod tests;
