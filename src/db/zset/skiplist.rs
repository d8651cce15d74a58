//! The large sorted-set encoding: a skip list with spans (Redis's
//! `zskiplist`) stored in one arena `Vec` of 8-byte slots addressed by
//! `u32` offsets (no `unsafe`, no per-node allocation), plus an
//! insertion-ordered member map ([`IndexMap`]) that owns the member bytes
//! once.
//!
//! * A node is a run of slots at offset `x`: its score, then its member's
//!   map position and its level-0 predecessor, then one link per level
//!   (next node, span). As inside a Redis node, a search step reads the
//!   next node's score and links from one place: one cache miss per step.
//! * The map takes a member to its node's offset and height; a node knows
//!   its member by its map position. Removing a member swaps the map's last
//!   entry into the hole (fixing that entry's node), so entries only ever
//!   move to lower positions: ZSCAN walks positions downwards and never
//!   misses a member present for the whole scan. A score update relinks
//!   the member as a new node but keeps its map position.
//! * Each link carries the number of level-0 steps it skips (its span), so
//!   rank lookups and rank ranges are O(log n) expected.
//!
//! The head is the run at offset 0 (32 levels); offset 0 as a link target
//! means "none". Freed runs are reused by nodes of the same height. Spans
//! are `u32`: a sorted set holds fewer than 2^32 members.

use indexmap::IndexMap;

use super::super::compact::CompactBytes;
use super::super::value::Hasher;

/// Most levels a node may have (Redis's `ZSKIPLIST_MAXLEVEL`).
const MAX_LEVEL: usize = 32;
/// Offset of the head node, also "no node" as a link target.
const HEAD: u32 = 0;
/// Slots before a node's links: score, then (map position, predecessor).
const META: usize = 2;

/// One 8-byte slot: a link at one level (the next node and how many
/// level-0 steps it skips), or a node's score bits or metadata.
#[derive(Debug, Clone, Copy, Default)]
struct Link {
    next: u32,
    span: u32,
}

/// A skip list ordered by (score, member bytes) plus a member map.
#[derive(Debug, Clone)]
pub struct SkipList {
    /// Every node's run of slots.
    slots: Vec<Link>,
    /// Freed runs by height, reused by nodes of that height.
    free: Vec<Vec<u32>>,
    tail: u32,
    level: usize,
    /// Member → (node offset, node height).
    map: IndexMap<CompactBytes, (u32, u32), Hasher>,
    /// Heap bytes of long members (so [`SkipList::heap_size`] is O(1)).
    member_heap: usize,
}

impl Default for SkipList {
    fn default() -> Self {
        SkipList {
            slots: vec![Link::default(); META + MAX_LEVEL],
            free: vec![Vec::new(); MAX_LEVEL + 1],
            tail: HEAD,
            level: 1,
            map: IndexMap::default(),
            member_heap: 0,
        }
    }
}

/// Redis's random level: each extra level with probability 1/4.
fn random_level() -> usize {
    let mut l = 1;
    while l < MAX_LEVEL && fastrand::u32(..4) == 0 {
        l += 1;
    }
    l
}

impl SkipList {
    /// An empty list with room for `n` members.
    pub fn with_capacity(n: usize) -> SkipList {
        let mut s = SkipList::default();
        s.slots.reserve(n * 4);
        s.map.reserve(n);
        s
    }

    /// Number of members. O(1).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the list has no member. O(1).
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn score_of(&self, x: u32) -> f64 {
        let l = self.slots[x as usize];
        f64::from_bits(u64::from(l.next) | u64::from(l.span) << 32)
    }

    fn pos_of(&self, x: u32) -> u32 {
        self.slots[x as usize + 1].next
    }

    fn back_of(&self, x: u32) -> u32 {
        self.slots[x as usize + 1].span
    }

    fn set_back(&mut self, x: u32, back: u32) {
        self.slots[x as usize + 1].span = back;
    }

    fn member(&self, x: u32) -> &[u8] {
        match self.map.get_index(self.pos_of(x) as usize) {
            Some((m, _)) => m,
            None => &[],
        }
    }

    fn link(&self, x: u32, i: usize) -> Link {
        self.slots[x as usize + META + i]
    }

    fn link_mut(&mut self, x: u32, i: usize) -> &mut Link {
        &mut self.slots[x as usize + META + i]
    }

    /// Whether node `x` sorts before (score, member).
    fn before(&self, x: u32, score: f64, member: &[u8]) -> bool {
        let s = self.score_of(x);
        s < score || (s == score && self.member(x) < member)
    }

    /// The last node before (score, member) at each level, and the rank
    /// (number of nodes up to and including it) at each level.
    fn find_update(&self, score: f64, member: &[u8]) -> ([u32; MAX_LEVEL], [u32; MAX_LEVEL]) {
        let (mut update, mut rank) = ([HEAD; MAX_LEVEL], [0u32; MAX_LEVEL]);
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            rank[i] = if i + 1 == self.level { 0 } else { rank[i + 1] };
            loop {
                let l = self.link(x, i);
                if l.next != HEAD && self.before(l.next, score, member) {
                    rank[i] += l.span;
                    x = l.next;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        (update, rank)
    }

    /// A run for a node of `height` levels: a freed run of that height, or
    /// new room at the arena's end (grown by a quarter). O(1) amortized.
    fn alloc_run(&mut self, height: usize) -> u32 {
        if let Some(x) = self.free[height].pop() {
            return x;
        }
        let (x, run) = (self.slots.len(), META + height);
        if x + run > self.slots.capacity() {
            self.slots.reserve_exact(x / 4 + run + 16);
        }
        self.slots.resize(x + run, Link::default());
        x as u32
    }

    /// Links a new node for the member at map position `pos` with `score`;
    /// returns its offset and height. O(log n) expected.
    fn link_in(&mut self, pos: u32, score: f64) -> (u32, u32) {
        let member = match self.map.get_index(pos as usize) {
            Some((m, _)) => m,
            None => &[][..],
        };
        let (mut update, mut rank) = self.find_update(score, member);
        let len = self.len() as u32 - 1; // the member is already in the map
        let lvl = random_level();
        if lvl > self.level {
            for i in self.level..lvl {
                rank[i] = 0;
                update[i] = HEAD;
                self.link_mut(HEAD, i).span = len;
            }
            self.level = lvl;
        }
        let x = self.alloc_run(lvl);
        let bits = score.to_bits();
        self.slots[x as usize] = Link { next: bits as u32, span: (bits >> 32) as u32 };
        self.slots[x as usize + 1] = Link { next: pos, span: update[0] };
        for i in 0..lvl {
            let u = self.link(update[i], i);
            *self.link_mut(x, i) = Link { next: u.next, span: u.span - (rank[0] - rank[i]) };
            *self.link_mut(update[i], i) = Link { next: x, span: rank[0] - rank[i] + 1 };
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(lvl) {
            self.link_mut(u, i).span += 1;
        }
        let next = self.link(x, 0).next;
        if next != HEAD {
            self.set_back(next, x);
        } else {
            self.tail = x;
        }
        (x, lvl as u32)
    }

    /// Unlinks node `x` given the `update` array of its predecessors.
    fn unlink(&mut self, x: u32, update: &[u32; MAX_LEVEL]) {
        for (i, &u) in update.iter().enumerate().take(self.level) {
            let ul = self.link(u, i);
            if ul.next == x {
                let xl = self.link(x, i);
                *self.link_mut(u, i) = Link { next: xl.next, span: ul.span + xl.span - 1 };
            } else {
                self.link_mut(u, i).span -= 1;
            }
        }
        let (next, back) = (self.link(x, 0).next, self.back_of(x));
        if next != HEAD {
            self.set_back(next, back);
        } else {
            self.tail = back;
        }
        while self.level > 1 && self.link(HEAD, self.level - 1).next == HEAD {
            self.level -= 1;
        }
    }

    /// Unlinks node `x` from the list (finding its predecessors). O(log n).
    fn unlink_node(&mut self, x: u32) {
        let (update, _) = self.find_update(self.score_of(x), self.member(x));
        self.unlink(x, &update);
    }

    /// Frees node `x` (already unlinked) of `height` levels and its member's
    /// map entry. O(1).
    fn release(&mut self, x: u32, height: u32) {
        self.free[height as usize].push(x);
        let pos = self.pos_of(x) as usize;
        if let Some((m, _)) = self.map.swap_remove_index(pos) {
            self.member_heap -= m.heap_size();
        }
        if let Some((_, &(moved, _))) = self.map.get_index(pos) {
            self.slots[moved as usize + 1].next = pos as u32;
        }
    }

    /// The score of `member`. O(1).
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.map.get(member).map(|&(x, _)| self.score_of(x))
    }

    /// Sets `member`'s score; true if it was new. O(log n) expected; O(1)
    /// for a new score that keeps the member between its neighbours (as
    /// Redis's `zslUpdateScore`: a small ZINCRBY rarely moves a member).
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        if let Some((pos, _, &(x, h))) = self.map.get_full(member) {
            if self.score_of(x) != score {
                let (back, next) = (self.back_of(x), self.link(x, 0).next);
                let after_back = back == HEAD || self.before(back, score, member);
                // `next` holds another member, so "not before" is "after".
                let before_next = next == HEAD || !self.before(next, score, member);
                if after_back && before_next {
                    let bits = score.to_bits();
                    self.slots[x as usize] = Link { next: bits as u32, span: (bits >> 32) as u32 };
                    return false;
                }
                self.unlink_node(x);
                self.free[h as usize].push(x);
                let node = self.link_in(pos as u32, score);
                if let Some((_, v)) = self.map.get_index_mut(pos) {
                    *v = node;
                }
            }
            return false;
        }
        let m = CompactBytes::from_slice(member);
        self.member_heap += m.heap_size();
        let (pos, _) = self.map.insert_full(m, (HEAD, 0));
        let node = self.link_in(pos as u32, score);
        if let Some((_, v)) = self.map.get_index_mut(pos) {
            *v = node;
        }
        true
    }

    /// Removes `member`; true if it was present. O(log n) expected.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        let Some(&(x, h)) = self.map.get(member) else { return false };
        self.unlink_node(x);
        self.release(x, h);
        true
    }

    /// How many leading members (in order) satisfy `pred`, which must hold
    /// for a prefix of the order. O(log n) expected.
    pub fn prefix_len(&self, mut pred: impl FnMut(f64, &[u8]) -> bool) -> usize {
        let (mut x, mut r) = (HEAD, 0usize);
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next != HEAD && pred(self.score_of(l.next), self.member(l.next)) {
                    r += l.span as usize;
                    x = l.next;
                } else {
                    break;
                }
            }
        }
        r
    }

    /// [`SkipList::prefix_len`] for a predicate on the score alone (no
    /// member is looked at). O(log n) expected.
    pub fn score_prefix_len(&self, mut pred: impl FnMut(f64) -> bool) -> usize {
        let (mut x, mut r) = (HEAD, 0usize);
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next != HEAD && pred(self.score_of(l.next)) {
                    r += l.span as usize;
                    x = l.next;
                } else {
                    break;
                }
            }
        }
        r
    }

    /// The node at 0-based `rank`. O(log n) expected.
    fn node_at(&self, rank: usize) -> Option<u32> {
        if rank >= self.len() {
            return None;
        }
        let want = rank + 1;
        let (mut x, mut t) = (HEAD, 0usize);
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next != HEAD && t + l.span as usize <= want {
                    t += l.span as usize;
                    x = l.next;
                } else {
                    break;
                }
            }
            if t == want {
                return Some(x);
            }
        }
        None
    }

    /// The member and score at 0-based `rank`. O(log n) expected.
    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        self.node_at(rank).map(|x| (self.member(x), self.score_of(x)))
    }

    /// Calls `f` on `count` members from `rank` on, ascending (or, with
    /// `rev`, from `rank` downwards). O(log n + count) expected.
    pub fn walk(&self, rank: usize, count: usize, rev: bool, mut f: impl FnMut(&[u8], f64)) {
        let mut x = self.node_at(rank).unwrap_or(HEAD);
        let mut left = count;
        while x != HEAD && left > 0 {
            f(self.member(x), self.score_of(x));
            left -= 1;
            x = if rev { self.back_of(x) } else { self.link(x, 0).next };
        }
    }

    /// Calls `f` on the members from `rank` on (downwards with `rev`) until
    /// it returns false. O(log n + visited) expected.
    pub fn walk_while(&self, rank: usize, rev: bool, mut f: impl FnMut(&[u8], f64) -> bool) {
        let mut x = self.node_at(rank).unwrap_or(HEAD);
        while x != HEAD && f(self.member(x), self.score_of(x)) {
            x = if rev { self.back_of(x) } else { self.link(x, 0).next };
        }
    }

    /// Walks up the order from the first member whose score fails `below`
    /// (which must hold for a prefix of the order), calling `f(score,
    /// member)` until it answers false; `member` fetches the member only
    /// when called, so a walk that filters on scores (GEOSEARCH's cells)
    /// touches no member it skips. One search: O(log n + walked) expected.
    pub fn walk_scores_from<'s>(
        &'s self,
        mut below: impl FnMut(f64) -> bool,
        mut f: impl FnMut(f64, &dyn Fn() -> &'s [u8]) -> bool,
    ) {
        let mut x = HEAD;
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next != HEAD && below(self.score_of(l.next)) {
                    x = l.next;
                } else {
                    break;
                }
            }
        }
        x = self.link(x, 0).next;
        while x != HEAD {
            let node = x;
            if !f(self.score_of(node), &|| self.member(node)) {
                break;
            }
            x = self.link(node, 0).next;
        }
    }

    /// How many consecutive members from `rank` on (downwards with `rev`)
    /// satisfy `pred`. O(log n + counted) expected.
    pub fn count_while(&self, rank: usize, rev: bool, mut pred: impl FnMut(&[u8]) -> bool) -> usize {
        let mut x = self.node_at(rank).unwrap_or(HEAD);
        let mut n = 0;
        while x != HEAD && pred(self.member(x)) {
            n += 1;
            x = if rev { self.back_of(x) } else { self.link(x, 0).next };
        }
        n
    }

    /// Removes the members at 0-based ranks `start..=end`; returns how many.
    /// O(log n + removed) expected.
    pub fn remove_range(&mut self, start: usize, end: usize) -> usize {
        let mut update = [HEAD; MAX_LEVEL];
        let (mut x, mut t) = (HEAD, 0usize);
        for i in (0..self.level).rev() {
            loop {
                let l = self.link(x, i);
                if l.next != HEAD && t + (l.span as usize) <= start {
                    t += l.span as usize;
                    x = l.next;
                } else {
                    break;
                }
            }
            update[i] = x;
        }
        let mut removed = 0;
        let mut x = self.link(x, 0).next;
        let mut rank = start;
        while x != HEAD && rank <= end {
            let next = self.link(x, 0).next;
            let height = self.map.get_index(self.pos_of(x) as usize).map_or(0, |(_, &(_, h))| h);
            self.unlink(x, &update);
            self.release(x, height);
            removed += 1;
            rank += 1;
            x = next;
        }
        removed
    }

    /// Number of map slots ZSCAN walks (positions `0..slots()`). O(1).
    pub fn slots(&self) -> usize {
        self.map.len()
    }

    /// The member and score at map position `i` (ZSCAN). O(1).
    pub fn slot(&self, i: usize) -> Option<(&[u8], f64)> {
        self.map.get_index(i).map(|(m, &(x, _))| (&m[..], self.score_of(x)))
    }

    /// The 0-based rank of `member` and its score. O(log n) expected.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        let score = self.score(member)?;
        let (_, rank) = self.find_update(score, member);
        Some((rank[0] as usize, score))
    }

    /// Iterates in ascending order. Each step O(1).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        let mut x = self.link(HEAD, 0).next;
        std::iter::from_fn(move || {
            if x == HEAD {
                return None;
            }
            let out = (self.member(x), self.score_of(x));
            x = self.link(x, 0).next;
            Some(out)
        })
    }

    /// Iterates in descending order (the order Redis writes a skiplist in
    /// an RDB file). O(log n) to start, each step O(1).
    pub fn iter_rev(&self) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        let mut x = self.len().checked_sub(1).and_then(|last| self.node_at(last)).unwrap_or(HEAD);
        std::iter::from_fn(move || {
            if x == HEAD {
                return None;
            }
            let out = (self.member(x), self.score_of(x));
            x = self.back_of(x);
            Some(out)
        })
    }

    /// Heap bytes held: the slot arena, free lists, the map (entries and
    /// index) and long members. O(1).
    pub fn heap_size(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Link>()
            + self.free.iter().map(|f| f.capacity() * 4).sum::<usize>()
            + self.map.capacity() * (std::mem::size_of::<(u64, CompactBytes, (u32, u32))>() + 9)
            + self.member_heap
    }
}
