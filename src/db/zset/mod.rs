//! The sorted set type's storage (Redis's `t_zset.c` encodings), switching
//! exactly where Redis 7.0 switches from `listpack` to `skiplist` (and, as
//! Redis, never back: only freshly built results such as ZUNIONSTORE's
//! start packed again when small).
//!
//! * Packed: a [`Listpack`] of alternating member and score, in (score,
//!   member) order, while the set has at most `zset-max-listpack-entries`
//!   members none longer than `zset-max-listpack-value` bytes. A score is
//!   stored as its shortest exact text (`3`, `1.5`, `1e300`, `inf`), so an
//!   element costs its bytes plus 2 length bytes plus the score's digits —
//!   no more than Redis's listpack. Every operation is O(bytes).
//! * Large: a [`SkipList`] with spans plus a member map (see
//!   [`skiplist`]): O(1) score lookup, O(log n) insert, remove, rank and
//!   range start.
//!
//! Ranks are 0-based everywhere in this module.

mod skiplist;

use std::sync::atomic::{AtomicUsize, Ordering};

use super::listpack::Listpack;
pub use skiplist::SkipList;

/// `zset-max-listpack-entries` (Redis 7.0's default: 128).
static MAX_ENTRIES: AtomicUsize = AtomicUsize::new(128);
/// `zset-max-listpack-value` (default 64 bytes).
static MAX_VALUE: AtomicUsize = AtomicUsize::new(64);

/// Sets `zset-max-listpack-entries` and `zset-max-listpack-value`: sorted
/// sets changed from now on leave the packed encoding past them.
pub fn set_zset_listpack_limits(entries: u64, value: u64) {
    let clamp = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    MAX_ENTRIES.store(clamp(entries), Ordering::Relaxed);
    MAX_VALUE.store(clamp(value), Ordering::Relaxed);
}

fn max_entries() -> usize {
    MAX_ENTRIES.load(Ordering::Relaxed)
}

fn max_value() -> usize {
    MAX_VALUE.load(Ordering::Relaxed)
}

/// Whether a set of `len` members, the longest `longest` bytes, may be packed.
fn fits_packed(len: usize, longest: usize) -> bool {
    len <= max_entries() && longest <= max_value()
}

/// A score as the packed encoding stores it: the shortest text that parses
/// back to exactly the same double.
fn score_text(s: f64) -> String {
    if s == 0.0 {
        // -0 too, as Redis's listpack stores it (its skip list keeps -0).
        return "0".into();
    }
    if s.fract() == 0.0 && s.abs() < 1e15 {
        return itoa::Buffer::new().format(s as i64).to_string();
    }
    let (plain, sci) = (format!("{s}"), format!("{s:e}"));
    if sci.len() < plain.len() {
        sci
    } else {
        plain
    }
}

/// Reads a stored score back (the text was written by [`score_text`]).
fn parse_score(b: &[u8]) -> f64 {
    std::str::from_utf8(b).ok().and_then(|s| s.parse().ok()).unwrap_or(0.0)
}

/// A sorted set value: members ordered by (score, member bytes).
#[derive(Debug, Clone)]
pub enum ZSetValue {
    /// Small: alternating member, score text, in order.
    Pack(Listpack),
    /// Large: skip list and member map.
    List(Box<SkipList>),
}

impl Default for ZSetValue {
    fn default() -> Self {
        ZSetValue::Pack(Listpack::new())
    }
}

/// The ascending iterator of either encoding.
enum Iter<'a> {
    Pack(super::listpack::Iter<'a>),
    List(Box<dyn Iterator<Item = (&'a [u8], f64)> + 'a>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Pack(it) => {
                let m = it.next()?;
                let s = it.next()?;
                Some((m, parse_score(s)))
            }
            Iter::List(it) => it.next(),
        }
    }
}

impl ZSetValue {
    /// An empty set in the encoding Redis's `zsetTypeCreate` picks for
    /// about `size_hint` members the longest `longest` bytes. O(1).
    pub fn with_hint(size_hint: usize, longest: usize) -> ZSetValue {
        if fits_packed(size_hint, longest) {
            ZSetValue::default()
        } else {
            ZSetValue::List(Box::new(SkipList::with_capacity(size_hint.min(1 << 20))))
        }
    }

    /// A sorted set of `pairs` (a later duplicate member overwrites the
    /// score), packed if its content allows. O(n log n).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a [u8], f64)>) -> ZSetValue {
        let mut list = SkipList::default();
        for (m, s) in pairs {
            list.insert(m, s);
        }
        let longest = list.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        if fits_packed(list.len(), longest) {
            let mut texts = Vec::with_capacity(list.len());
            for (_, s) in list.iter() {
                texts.push(score_text(s));
            }
            let items = list.iter().zip(texts.iter()).flat_map(|((m, _), t)| [m, t.as_bytes()]);
            let items: Vec<&[u8]> = items.collect();
            ZSetValue::Pack(Listpack::from_items(items.iter().copied()))
        } else {
            ZSetValue::List(Box::new(list))
        }
    }

    /// Converts a packed set to the large encoding. O(n log n).
    fn convert(&mut self) {
        if let ZSetValue::Pack(lp) = self {
            let mut list = SkipList::with_capacity(lp.len() / 2 + 1);
            let mut it = lp.iter();
            while let (Some(m), Some(s)) = (it.next(), it.next()) {
                list.insert(m, parse_score(s));
            }
            *self = ZSetValue::List(Box::new(list));
        }
    }

    /// Sets `m`'s score; true if `m` was new. Converts to the large
    /// encoding past the packed limits. O(log n) large, O(bytes) packed.
    pub fn insert(&mut self, m: &[u8], score: f64) -> bool {
        if let ZSetValue::Pack(lp) = self {
            if m.len() > max_value() || (lp.len() / 2 + 1 > max_entries() && self.score(m).is_none()) {
                self.convert();
            }
        }
        match self {
            ZSetValue::List(l) => l.insert(m, score),
            ZSetValue::Pack(lp) => {
                let old = Self::pack_find(lp, m);
                if let Some((i, s)) = old {
                    if s == score {
                        return false;
                    }
                    lp.remove_range(2 * i, 2 * i + 2);
                }
                let at = Self::pack_prefix(lp, |s, x| s < score || (s == score && x < m));
                lp.insert(2 * at, m);
                lp.insert(2 * at + 1, score_text(score).as_bytes());
                old.is_none()
            }
        }
    }

    /// Position and score of `m` in a pack. O(bytes).
    fn pack_find(lp: &Listpack, m: &[u8]) -> Option<(usize, f64)> {
        let mut it = lp.iter();
        let mut i = 0;
        while let (Some(x), Some(s)) = (it.next(), it.next()) {
            if x == m {
                return Some((i, parse_score(s)));
            }
            i += 1;
        }
        None
    }

    /// Leading pairs of a pack satisfying `pred`. O(bytes).
    fn pack_prefix(lp: &Listpack, mut pred: impl FnMut(f64, &[u8]) -> bool) -> usize {
        let mut it = lp.iter();
        let mut i = 0;
        while let (Some(x), Some(s)) = (it.next(), it.next()) {
            if !pred(parse_score(s), x) {
                break;
            }
            i += 1;
        }
        i
    }

    /// The score of `m`. O(1) large, O(bytes) packed.
    pub fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            ZSetValue::Pack(lp) => Self::pack_find(lp, m).map(|(_, s)| s),
            ZSetValue::List(l) => l.score(m),
        }
    }

    /// The 0-based rank of `m` in ascending order, and its score.
    /// O(log n) large, O(bytes) packed.
    pub fn rank(&self, m: &[u8]) -> Option<(usize, f64)> {
        match self {
            ZSetValue::Pack(lp) => Self::pack_find(lp, m),
            ZSetValue::List(l) => l.rank(m),
        }
    }

    /// Removes `m`; true if it was present. O(log n) large, O(bytes) packed.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            ZSetValue::Pack(lp) => match Self::pack_find(lp, m) {
                Some((i, _)) => {
                    lp.remove_range(2 * i, 2 * i + 2);
                    true
                }
                None => false,
            },
            ZSetValue::List(l) => l.remove(m),
        }
    }

    /// How many leading members (in ascending order) satisfy `pred`
    /// (score, member), which must hold for a prefix of the order: the
    /// start or end rank of a score or lex range. O(log n) large, O(bytes)
    /// packed.
    pub fn prefix_len(&self, pred: impl FnMut(f64, &[u8]) -> bool) -> usize {
        match self {
            ZSetValue::Pack(lp) => Self::pack_prefix(lp, pred),
            ZSetValue::List(l) => l.prefix_len(pred),
        }
    }

    /// [`ZSetValue::prefix_len`] for a predicate on the score alone (a
    /// score range's ends), cheaper on a large set. O(log n) large,
    /// O(bytes) packed.
    pub fn score_prefix_len(&self, mut pred: impl FnMut(f64) -> bool) -> usize {
        match self {
            ZSetValue::Pack(lp) => Self::pack_prefix(lp, |s, _| pred(s)),
            ZSetValue::List(l) => l.score_prefix_len(pred),
        }
    }

    /// Calls `f` on up to `count` members starting at rank `start`, going
    /// up (or down with `rev`). O(log n + count) large, O(bytes) packed.
    pub fn walk(&self, start: usize, count: usize, rev: bool, mut f: impl FnMut(&[u8], f64)) {
        match self {
            ZSetValue::List(l) => l.walk(start, count, rev, f),
            ZSetValue::Pack(_) if !rev => self.iter().skip(start).take(count).for_each(|(m, s)| f(m, s)),
            ZSetValue::Pack(_) => {
                let first = (start + 1).saturating_sub(count);
                let items: Vec<(&[u8], f64)> = self.iter().skip(first).take(start + 1 - first).collect();
                items.into_iter().rev().for_each(|(m, s)| f(m, s));
            }
        }
    }

    /// Calls `f` on the members from rank `start` on (downwards with `rev`)
    /// until it returns false. O(log n + visited) large, O(bytes) packed.
    pub fn walk_while(&self, start: usize, rev: bool, mut f: impl FnMut(&[u8], f64) -> bool) {
        match self {
            ZSetValue::List(l) => l.walk_while(start, rev, f),
            ZSetValue::Pack(_) if !rev => {
                for (m, s) in self.iter().skip(start) {
                    if !f(m, s) {
                        break;
                    }
                }
            }
            ZSetValue::Pack(_) => {
                let items: Vec<(&[u8], f64)> = self.iter().take(start + 1).collect();
                for (m, s) in items.into_iter().rev() {
                    if !f(m, s) {
                        break;
                    }
                }
            }
        }
    }

    /// Walks up the order from the first member whose score fails `below`,
    /// calling `f(score, member)` until it answers false; `member` is
    /// fetched only when called (see [`SkipList::walk_scores_from`]).
    /// O(log n + walked) large, O(bytes) packed.
    pub fn walk_scores_from<'s>(
        &'s self,
        mut below: impl FnMut(f64) -> bool,
        mut f: impl FnMut(f64, &dyn Fn() -> &'s [u8]) -> bool,
    ) {
        match self {
            ZSetValue::List(l) => l.walk_scores_from(below, f),
            ZSetValue::Pack(_) => {
                for (m, s) in self.iter().skip_while(|&(_, s)| below(s)) {
                    if !f(s, &|| m) {
                        break;
                    }
                }
            }
        }
    }

    /// How many consecutive members from rank `start` on (downwards with
    /// `rev`) satisfy `pred`. O(log n + counted) large, O(bytes) packed.
    pub fn count_while(&self, start: usize, rev: bool, mut pred: impl FnMut(&[u8]) -> bool) -> usize {
        match self {
            ZSetValue::List(l) => l.count_while(start, rev, pred),
            ZSetValue::Pack(_) if !rev => self.iter().skip(start).take_while(|(m, _)| pred(m)).count(),
            ZSetValue::Pack(_) => {
                let items: Vec<&[u8]> = self.iter().take(start + 1).map(|(m, _)| m).collect();
                items.into_iter().rev().take_while(|m| pred(m)).count()
            }
        }
    }

    /// The rank of the last member (in ascending order) satisfying `pred`
    /// as Redis finds it: a packed set is scanned from its tail, a large
    /// one descended like [`ZSetValue::prefix_len`] (the same member when
    /// `pred` holds for a prefix). O(log n) large, O(bytes) packed.
    pub fn last_where(&self, mut pred: impl FnMut(&[u8]) -> bool) -> Option<usize> {
        match self {
            ZSetValue::List(l) => l.prefix_len(|_, m| pred(m)).checked_sub(1),
            ZSetValue::Pack(_) => {
                let mut last = None;
                for (i, (m, _)) in self.iter().enumerate() {
                    if pred(m) {
                        last = Some(i);
                    }
                }
                last
            }
        }
    }

    /// The member and score at rank `i`. O(log n) large, O(bytes) packed.
    pub fn get(&self, i: usize) -> Option<(&[u8], f64)> {
        match self {
            ZSetValue::Pack(_) => self.iter().nth(i),
            ZSetValue::List(l) => l.get(i),
        }
    }

    /// Removes the members at ranks `start..=end` (clamped); returns how
    /// many. O(log n + removed) large, O(bytes) packed.
    pub fn remove_range(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len().saturating_sub(1));
        if start > end || start >= self.len() {
            return 0;
        }
        match self {
            ZSetValue::Pack(lp) => {
                lp.remove_range(2 * start, 2 * end + 2);
                end - start + 1
            }
            ZSetValue::List(l) => l.remove_range(start, end),
        }
    }

    /// Number of members. O(1).
    pub fn len(&self) -> usize {
        match self {
            ZSetValue::Pack(lp) => lp.len() / 2,
            ZSetValue::List(l) => l.len(),
        }
    }

    /// Whether the set has no member. O(1).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the set is packed (`OBJECT ENCODING` `listpack`, RDB type 17;
    /// else `skiplist`). O(1).
    pub fn is_packed(&self) -> bool {
        matches!(self, ZSetValue::Pack(_))
    }

    /// The large form, for ZSCAN's slot walk (`None` when packed).
    pub fn as_list(&self) -> Option<&SkipList> {
        match self {
            ZSetValue::List(l) => Some(l),
            ZSetValue::Pack(_) => None,
        }
    }

    /// Members and scores in ascending (score, member) order. Each step O(1).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        match self {
            ZSetValue::Pack(lp) => Iter::Pack(lp.iter()),
            ZSetValue::List(l) => Iter::List(Box::new(l.iter())),
        }
    }

    /// Heap bytes held (MEMORY USAGE, eviction estimates). O(n) large.
    pub fn heap_size(&self) -> usize {
        match self {
            ZSetValue::Pack(lp) => lp.heap_size(),
            ZSetValue::List(l) => std::mem::size_of::<SkipList>() + l.heap_size(),
        }
    }
}

#[cfg(test)]
mod tests;
