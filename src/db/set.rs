//! The set type's storage (Redis's `t_set.c` encodings).
//!
//! PLACEHOLDER: a plain table; the real encodings (intset while every member
//! is an integer, packed while small, a table when large) replace it.

use std::borrow::Cow;

use indexmap::IndexSet;

use super::compact::CompactBytes;
use super::value::Hasher;

/// Sets `set-max-intset-entries`: sets changed from now on leave the
/// integer encoding past this many members.
pub fn set_max_intset_entries(_n: u64) {}

/// A set value.
#[derive(Debug, Clone, Default)]
pub struct SetValue {
    members: Box<IndexSet<CompactBytes, Hasher>>,
}

impl SetValue {
    /// A set of `members` (duplicates collapse), in the encoding its content
    /// calls for. O(n).
    pub fn from_members<'a>(members: impl IntoIterator<Item = &'a [u8]>) -> SetValue {
        let mut s = SetValue::default();
        for m in members {
            s.insert(m);
        }
        s
    }

    /// Adds `m`; true if it was new.
    pub fn insert(&mut self, m: &[u8]) -> bool {
        self.members.insert(CompactBytes::from_slice(m))
    }

    /// Number of members. O(1).
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the set has no member. O(1).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Whether every member is an integer kept in the integer encoding
    /// (`OBJECT ENCODING` `intset`; RDB type 11). O(1).
    pub fn is_intset(&self) -> bool {
        false
    }

    /// The members, in no particular order. O(n) for the whole walk.
    pub fn iter(&self) -> impl Iterator<Item = Cow<'_, [u8]>> + '_ {
        self.members.iter().map(|m| Cow::Borrowed(&m[..]))
    }

    /// Heap bytes held (MEMORY USAGE, eviction estimates).
    pub fn heap_size(&self) -> usize {
        self.members.capacity() * 40 + self.members.iter().map(|m| m.heap_size()).sum::<usize>()
    }
}
