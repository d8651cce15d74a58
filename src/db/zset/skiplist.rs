//! The large sorted-set encoding: a skip list with spans (Redis's
//! `zskiplist`) whose nodes live in an arena `Vec` addressed by `u32`
//! indices (no `unsafe`, no per-node pointers), plus an insertion-ordered
//! member map ([`IndexMap`]) that owns the member bytes once.
//!
//! * The map takes a member to its node; a node knows its member by its
//!   position in the map. Removing a member swaps the map's last entry into
//!   the hole (fixing that entry's node), so entries only ever move to
//!   lower positions: ZSCAN walks positions downwards and never misses a
//!   member present for the whole scan. A score update relinks the node in
//!   the list but keeps its map position.
//! * Each list level link carries the number of level-0 steps it skips
//!   (its span), so rank lookups and rank ranges are O(log n) expected.
//!
//! Node 0 is the list head (32 levels); index 0 as a link target means
//! "none". Spans are `u32`: a sorted set holds fewer than 2^32 members.

use indexmap::IndexMap;

use super::super::compact::CompactBytes;
use super::super::value::Hasher;

/// Most levels a node may have (Redis's `ZSKIPLIST_MAXLEVEL`).
const MAX_LEVEL: usize = 32;
/// Index of the head node, also "no node" as a link target.
const HEAD: u32 = 0;

/// A link at one level: the next node and how many level-0 steps it skips.
#[derive(Debug, Clone, Copy, Default)]
struct Link {
    next: u32,
    span: u32,
}

/// A list node (16 bytes): its member's map position, its predecessor at
/// level 0 (`HEAD` for the first node), and where its run in the arena
/// starts: the score, then `height` links (one per level, lowest first).
#[derive(Debug, Clone)]
struct Node {
    pos: u32,
    back: u32,
    off: u32,
    height: u32,
}

/// A skip list ordered by (score, member bytes) plus a member → node map.
#[derive(Debug, Clone)]
pub struct SkipList {
    nodes: Vec<Node>,
    free: Vec<u32>,
    tail: u32,
    level: usize,
    map: IndexMap<CompactBytes, u32, Hasher>,
    /// Every node's score and links, each node's in one run (as inside a
    /// Redis node: a search step reads a node's score and links from the
    /// same cache line, with no pointer to follow and no allocation).
    links: Vec<Link>,
    /// Freed link runs by height, reused by nodes of that height.
    free_links: Vec<Vec<u32>>,
    /// Heap bytes of long members (so [`SkipList::heap_size`] is O(1)).
    member_heap: usize,
}

impl Default for SkipList {
    fn default() -> Self {
        let head = Node { pos: 0, back: HEAD, off: 0, height: MAX_LEVEL as u32 };
        SkipList {
            nodes: vec![head],
            free: Vec::new(),
            tail: HEAD,
            level: 1,
            map: IndexMap::default(),
            links: vec![Link::default(); MAX_LEVEL + 1],
            free_links: vec![Vec::new(); MAX_LEVEL + 1],
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
        s.nodes.reserve(n);
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

    fn member(&self, x: u32) -> &[u8] {
        match self.map.get_index(self.nodes[x as usize].pos as usize) {
            Some((m, _)) => m,
            None => &[],
        }
    }

    fn link(&self, x: u32, i: usize) -> Link {
        self.links[self.nodes[x as usize].off as usize + 1 + i]
    }

    fn link_mut(&mut self, x: u32, i: usize) -> &mut Link {
        let off = self.nodes[x as usize].off as usize;
        &mut self.links[off + 1 + i]
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

    /// The score of node `x` (stored in the first slot of its run).
    fn score_of(&self, x: u32) -> f64 {
        let l = self.links[self.nodes[x as usize].off as usize];
        f64::from_bits(u64::from(l.next) | u64::from(l.span) << 32)
    }

    /// Links node `x` (position set, not linked) into the list with
    /// `score`. O(log n) expected.
    fn link_in(&mut self, x: u32, score: f64) {
        let (mut update, mut rank) = self.find_update(score, self.member(x));
        let len = self.len() as u32 - 1; // x's member is already in the map
        let lvl = random_level();
        if lvl > self.level {
            for i in self.level..lvl {
                rank[i] = 0;
                update[i] = HEAD;
                self.link_mut(HEAD, i).span = len;
            }
            self.level = lvl;
        }
        let off = self.alloc_links(lvl);
        self.nodes[x as usize].off = off;
        self.nodes[x as usize].height = lvl as u32;
        let bits = score.to_bits();
        self.links[off as usize] = Link { next: bits as u32, span: (bits >> 32) as u32 };
        for i in 0..lvl {
            let u = self.link(update[i], i);
            *self.link_mut(x, i) = Link { next: u.next, span: u.span - (rank[0] - rank[i]) };
            *self.link_mut(update[i], i) = Link { next: x, span: rank[0] - rank[i] + 1 };
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(lvl) {
            self.link_mut(u, i).span += 1;
        }
        let next = self.link(x, 0).next;
        self.nodes[x as usize].back = update[0];
        if next != HEAD {
            self.nodes[next as usize].back = x;
        } else {
            self.tail = x;
        }
    }

    /// A run for a node of `height` levels (its score and links): a freed run of that height, or
    /// new room at the arena's end (grown by a quarter). O(1) amortized.
    fn alloc_links(&mut self, height: usize) -> u32 {
        if let Some(off) = self.free_links[height].pop() {
            return off;
        }
        let (off, run) = (self.links.len(), height + 1);
        if off + run > self.links.capacity() {
            self.links.reserve_exact(off / 4 + run + 16);
        }
        self.links.resize(off + run, Link::default());
        off as u32
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
        let (next, back) = (self.link(x, 0).next, self.nodes[x as usize].back);
        if next != HEAD {
            self.nodes[next as usize].back = back;
        } else {
            self.tail = back;
        }
        while self.level > 1 && self.link(HEAD, self.level - 1).next == HEAD {
            self.level -= 1;
        }
        let node = &mut self.nodes[x as usize];
        let (off, height) = (node.off, node.height as usize);
        node.height = 0;
        self.free_links[height].push(off);
    }

    /// Unlinks node `x` from the list (finding its predecessors). O(log n).
    fn unlink_node(&mut self, x: u32) {
        let (update, _) = self.find_update(self.score_of(x), self.member(x));
        self.unlink(x, &update);
    }

    /// Frees node `x` (already unlinked) and its map entry. O(1).
    fn release(&mut self, x: u32) {
        let pos = self.nodes[x as usize].pos as usize;
        if let Some((m, _)) = self.map.swap_remove_index(pos) {
            self.member_heap -= m.heap_size();
        }
        if let Some((_, &moved)) = self.map.get_index(pos) {
            self.nodes[moved as usize].pos = pos as u32;
        }
        self.free.push(x);
    }

    /// The score of `member`. O(1).
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.map.get(member).map(|&x| self.score_of(x))
    }

    /// Sets `member`'s score; true if it was new. O(log n) expected.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        if let Some(&x) = self.map.get(member) {
            if self.score_of(x) != score {
                self.unlink_node(x);
                self.link_in(x, score);
            }
            return false;
        }
        let pos = self.map.len() as u32;
        let node = Node { pos, back: HEAD, off: 0, height: 0 };
        let x = match self.free.pop() {
            Some(x) => {
                self.nodes[x as usize] = node;
                x
            }
            None => {
                if self.nodes.len() == self.nodes.capacity() {
                    // Grow by a quarter, not double: the arena is most of
                    // a large set's memory.
                    self.nodes.reserve_exact(self.nodes.len() / 4 + 4);
                }
                self.nodes.push(node);
                self.nodes.len() as u32 - 1
            }
        };
        let m = CompactBytes::from_slice(member);
        self.member_heap += m.heap_size();
        self.map.insert(m, x);
        self.link_in(x, score);
        true
    }

    /// Removes `member`; true if it was present. O(log n) expected.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        let Some(&x) = self.map.get(member) else { return false };
        self.unlink_node(x);
        self.release(x);
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
            x = if rev { self.nodes[x as usize].back } else { self.link(x, 0).next };
        }
    }

    /// How many consecutive members from `rank` on (downwards with `rev`)
    /// satisfy `pred`. O(log n + counted) expected.
    pub fn count_while(&self, rank: usize, rev: bool, mut pred: impl FnMut(&[u8]) -> bool) -> usize {
        let mut x = self.node_at(rank).unwrap_or(HEAD);
        let mut n = 0;
        while x != HEAD && pred(self.member(x)) {
            n += 1;
            x = if rev { self.nodes[x as usize].back } else { self.link(x, 0).next };
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
            self.unlink(x, &update);
            self.release(x);
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
        self.map.get_index(i).map(|(m, &x)| (&m[..], self.score_of(x)))
    }

    /// The 0-based rank of `member` and its score. O(log n) expected.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        let score = self.score(member)?;
        Some((self.prefix_len(|s, m| s < score || (s == score && m < member)), score))
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

    /// Heap bytes held: nodes, their level links, the map (entries and
    /// index) and long members. O(1).
    pub fn heap_size(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.links.capacity() * std::mem::size_of::<Link>()
            + self.free_links.iter().map(|f| f.capacity() * 4).sum::<usize>()
            + self.free.capacity() * 4
            + self.map.capacity() * (std::mem::size_of::<(u64, CompactBytes, u32)>() + 9)
            + self.member_heap
    }
}
