//! Large lists: a deque of packed nodes (Redis's quicklist).
//!
//! Each node is a [`Listpack`] of at most [`NODE_MAX_ENTRIES`] elements and
//! (unless it holds a single larger element) [`NODE_MAX_BYTES`] of encoded
//! bytes, so a short element costs its length plus one byte instead of a
//! 24-byte handle, and a node is small enough that the walks inside it
//! (the last element for RPOP, an index) stay short. Each node's element
//! count is kept beside it, so finding the node of an index reads the
//! deque's slots in order without touching the nodes.
//!
//! Costs: push and pop at either end O(node), access by index O(nodes +
//! node) from the nearer end (Redis: the same), insertion and removal in
//! the middle O(nodes + node). Nodes emptied by removals are dropped;
//! nodes that outgrow the limits (insertion, replacement) are split.

use std::collections::VecDeque;

use super::compact::CompactBytes;
use super::listpack::{self, Listpack};

/// Most elements per node: bounds the walk for an element inside a node.
pub const NODE_MAX_ENTRIES: usize = 128;
/// Most encoded bytes per node of more than one element (Redis's default
/// `list-max-listpack-size -2`).
pub const NODE_MAX_BYTES: usize = 8 * 1024;

/// One node and its element count.
#[derive(Debug, Clone)]
struct Node {
    count: u32,
    pack: Listpack,
}

/// A large list. Indexes are 0-based from the head.
#[derive(Debug, Clone, Default)]
pub struct Quicklist {
    nodes: VecDeque<Node>,
    len: usize,
    /// Encoded bytes of all elements (node headers excluded): what the
    /// list would take packed, for the way back to one pack.
    payload: usize,
}

/// Whether a node of `count` elements and `payload` bytes may take `v`.
fn has_room(count: u32, payload: usize, v: &[u8]) -> bool {
    (count as usize) < NODE_MAX_ENTRIES && payload + listpack::encoded_len(v) <= NODE_MAX_BYTES
}

impl Quicklist {
    /// The elements of `items` in order, in full nodes. O(n).
    pub fn from_items<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Quicklist {
        let mut q = Quicklist::default();
        let mut chunk: Vec<&[u8]> = Vec::with_capacity(NODE_MAX_ENTRIES);
        let mut chunk_bytes = 0;
        for it in items {
            if !chunk.is_empty() && !has_room(chunk.len() as u32, chunk_bytes, it) {
                q.push_node_back(&chunk);
                chunk.clear();
                chunk_bytes = 0;
            }
            chunk_bytes += listpack::encoded_len(it);
            chunk.push(it);
        }
        if !chunk.is_empty() {
            q.push_node_back(&chunk);
        }
        q
    }

    fn push_node_back(&mut self, items: &[&[u8]]) {
        let pack = Listpack::from_items(items.iter().copied());
        self.len += items.len();
        self.payload += pack.payload_size();
        self.nodes.push_back(Node { count: items.len() as u32, pack });
    }

    /// Number of elements. O(1).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list is empty. O(1).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Encoded bytes of all elements (what one pack of them would take,
    /// without its header). O(1).
    pub fn payload_size(&self) -> usize {
        self.payload
    }

    /// Heap bytes held. O(1).
    pub fn heap_size(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>() + self.payload + self.nodes.len() * 4
    }

    /// Runs `f` on node `k` and keeps the counts right; drops the node if
    /// it became empty. O(1) plus `f`.
    fn with_node<R>(&mut self, k: usize, f: impl FnOnce(&mut Listpack) -> R) -> R {
        let node = &mut self.nodes[k];
        let (count, payload) = (node.count as usize, node.pack.payload_size());
        let r = f(&mut node.pack);
        let (new_count, new_payload) = (node.pack.len(), node.pack.payload_size());
        node.count = new_count as u32;
        self.len = self.len + new_count - count;
        self.payload = self.payload + new_payload - payload;
        if new_count == 0 {
            self.nodes.remove(k);
        }
        r
    }

    /// The node holding index `i` and the index within it, walking the
    /// counts from the nearer end. O(nodes).
    fn locate(&self, i: usize) -> Option<(usize, usize)> {
        if i >= self.len {
            return None;
        }
        if i < self.len / 2 {
            let mut before = 0;
            for (k, n) in self.nodes.iter().enumerate() {
                if i < before + n.count as usize {
                    return Some((k, i - before));
                }
                before += n.count as usize;
            }
        } else {
            let mut after = self.len;
            for (k, n) in self.nodes.iter().enumerate().rev() {
                after -= n.count as usize;
                if i >= after {
                    return Some((k, i - after));
                }
            }
        }
        None
    }

    /// Element `i`. O(nodes + node).
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let (k, j) = self.locate(i)?;
        self.nodes[k].pack.get(j)
    }

    /// Appends `v` at the tail. O(node).
    pub fn push_back(&mut self, v: &[u8]) {
        match self.nodes.back() {
            Some(n) if has_room(n.count, n.pack.payload_size(), v) => {
                let k = self.nodes.len() - 1;
                self.with_node(k, |p| p.push_back(v));
            }
            _ => self.push_node_back(&[v]),
        }
    }

    /// Prepends `v` at the head. O(node).
    pub fn push_front(&mut self, v: &[u8]) {
        match self.nodes.front() {
            Some(n) if has_room(n.count, n.pack.payload_size(), v) => self.with_node(0, |p| p.push_front(v)),
            _ => {
                let pack = Listpack::from_items([v]);
                self.len += 1;
                self.payload += pack.payload_size();
                self.nodes.push_front(Node { count: 1, pack });
            }
        }
    }

    /// Removes and returns the head. O(node).
    pub fn pop_front(&mut self) -> Option<CompactBytes> {
        let v = CompactBytes::from_slice(self.nodes.front()?.pack.get(0)?);
        self.with_node(0, |p| p.remove(0));
        Some(v)
    }

    /// Removes and returns the tail. O(node).
    pub fn pop_back(&mut self) -> Option<CompactBytes> {
        let k = self.nodes.len().checked_sub(1)?;
        self.with_node(k, |p| p.pop_back_with(CompactBytes::from_slice))
    }

    /// Replaces element `i`; false if out of range. O(nodes + node).
    pub fn set(&mut self, i: usize, v: &[u8]) -> bool {
        let Some((k, j)) = self.locate(i) else { return false };
        self.with_node(k, |p| p.replace(j, v));
        self.split_if_big(k);
        true
    }

    /// Inserts `v` before element `i` (`i == len` appends). O(nodes + node).
    pub fn insert(&mut self, i: usize, v: &[u8]) {
        if i >= self.len {
            return self.push_back(v);
        }
        if let Some((k, j)) = self.locate(i) {
            self.with_node(k, |p| p.insert(j, v));
            self.split_if_big(k);
        }
    }

    /// Splits node `k` in two halves if it outgrew the node limits.
    fn split_if_big(&mut self, k: usize) {
        let n = &self.nodes[k];
        if n.count < 2 || ((n.count as usize) <= NODE_MAX_ENTRIES && n.pack.payload_size() <= NODE_MAX_BYTES) {
            return;
        }
        let half = n.count as usize / 2;
        let first = Listpack::from_items(n.pack.iter().take(half));
        let second = Listpack::from_items(n.pack.iter().skip(half));
        // Same elements: len is unchanged; the payload too (same encodings).
        self.nodes[k] = Node { count: half as u32, pack: first };
        let count = second.len() as u32;
        self.nodes.insert(k + 1, Node { count, pack: second });
        self.split_if_big(k + 1);
        self.split_if_big(k);
    }

    /// Removes elements `from..to` (clamped). O(nodes + bytes removed).
    pub fn remove_range(&mut self, from: usize, to: usize) {
        let to = to.min(self.len);
        if from >= to {
            return;
        }
        let mut start = 0; // index of the current node's first element
        let mut k = 0;
        let mut left = to - from;
        while k < self.nodes.len() && left > 0 {
            let count = self.nodes[k].count as usize;
            let end = start + count;
            let cut = from.max(start)..to.min(end);
            if cut.start < cut.end {
                let n = cut.end - cut.start;
                left -= n;
                if n == count {
                    // The whole node goes.
                    self.len -= count;
                    self.payload -= self.nodes[k].pack.payload_size();
                    self.nodes.remove(k);
                    start = end;
                    continue;
                }
                let (a, b) = (cut.start - start, cut.end - start);
                self.with_node(k, |p| p.remove_range(a, b));
            }
            start = end;
            k += 1;
        }
    }

    /// Keeps only the elements for which `keep(position, element)` holds.
    /// O(n).
    pub fn retain(&mut self, mut keep: impl FnMut(usize, &[u8]) -> bool) {
        let kept = {
            let items = self.iter().enumerate().filter(|(i, v)| keep(*i, v)).map(|(_, v)| v);
            Quicklist::from_items(items)
        };
        *self = kept;
    }

    /// The elements from the head. Each step is O(1) amortized.
    pub fn iter(&self) -> Iter<'_> {
        Iter { nodes: self.nodes.range(..), cur: None, left: self.len }
    }

    /// The elements from index `from` on. O(nodes) to start.
    pub fn iter_from(&self, from: usize) -> Iter<'_> {
        match self.locate(from) {
            None => Iter { nodes: self.nodes.range(0..0), cur: None, left: 0 },
            Some((k, j)) => {
                let mut cur = self.nodes[k].pack.iter();
                if j > 0 {
                    cur.nth(j - 1);
                }
                Iter { nodes: self.nodes.range(k + 1..), cur: Some(cur), left: self.len - from }
            }
        }
    }
}

/// Iterator over a [`Quicklist`]'s elements, from the head or an index.
#[derive(Clone)]
pub struct Iter<'a> {
    nodes: std::collections::vec_deque::Iter<'a, Node>,
    cur: Option<listpack::Iter<'a>>,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            if let Some(v) = self.cur.as_mut().and_then(|c| c.next()) {
                self.left -= 1;
                return Some(v);
            }
            self.cur = Some(self.nodes.next()?.pack.iter());
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(q: &Quicklist, model: &[Vec<u8>]) {
        assert_eq!(q.len(), model.len());
        assert_eq!(q.iter().map(|v| v.to_vec()).collect::<Vec<_>>(), model);
        assert_eq!(q.payload_size(), model.iter().map(|v| listpack::encoded_len(v)).sum::<usize>());
        let counts: usize = q.nodes.iter().map(|n| n.count as usize).sum();
        assert_eq!(counts, model.len());
        for n in &q.nodes {
            assert_eq!(n.count as usize, n.pack.len());
            assert!(n.count > 0, "no empty nodes");
            assert!(n.count == 1 || (n.count as usize <= NODE_MAX_ENTRIES && n.pack.payload_size() <= NODE_MAX_BYTES));
        }
        for i in [0, model.len() / 3, model.len() / 2, model.len().saturating_sub(1)] {
            assert_eq!(q.get(i), model.get(i).map(|v| &v[..]));
            let from: Vec<Vec<u8>> = q.iter_from(i).take(5).map(|v| v.to_vec()).collect();
            assert_eq!(from, model.iter().skip(i).take(5).cloned().collect::<Vec<_>>());
        }
    }

    #[test]
    fn mirrors_a_vec_under_random_edits() {
        let mut rng = fastrand::Rng::with_seed(11);
        let mut q = Quicklist::default();
        let mut model: Vec<Vec<u8>> = Vec::new();
        for step in 0..20_000 {
            let n = [0, 3, 10, 100, 300, 9000][rng.usize(..6)];
            let v: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
            let len = model.len();
            match rng.usize(..10) {
                0 | 1 => {
                    q.push_back(&v);
                    model.push(v);
                }
                2 | 3 => {
                    q.push_front(&v);
                    model.insert(0, v);
                }
                4 => assert_eq!(q.pop_front().as_deref(), (len > 0).then(|| model.remove(0)).as_deref()),
                5 => assert_eq!(q.pop_back().as_deref(), model.pop().as_deref()),
                6 => {
                    let i = rng.usize(..=len);
                    q.insert(i, &v);
                    model.insert(i, v);
                }
                7 if len > 0 => {
                    let i = rng.usize(..len);
                    assert!(q.set(i, &v));
                    model[i] = v;
                }
                8 => {
                    let (a, b) = (rng.usize(..=len), rng.usize(..=len));
                    let (a, b) = (a.min(b), a.max(b).min(a.min(b) + 40));
                    q.remove_range(a, b);
                    model.drain(a..b);
                }
                _ if step % 50 == 0 => {
                    let m = rng.usize(..3);
                    q.retain(|i, x| (i + x.len()) % 3 != m);
                    let mut i = 0;
                    model.retain(|x| {
                        let k = (i + x.len()) % 3 != m;
                        i += 1;
                        k
                    });
                }
                _ => {}
            }
            if step % 97 == 0 {
                check(&q, &model);
            }
        }
        check(&q, &model);
    }

    #[test]
    fn short_elements_cost_about_their_length() {
        let items: Vec<Vec<u8>> = (0..100_000u32).map(|i| format!("{:08}", i).into_bytes()).collect();
        let q = Quicklist::from_items(items.iter().map(|v| &v[..]));
        assert_eq!(q.len(), 100_000);
        // 9 bytes per element packed, plus node overhead well under 1 byte.
        assert!(q.heap_size() < 100_000 * 10, "{}", q.heap_size());
        assert!(q.nodes.iter().all(|n| n.count as usize == NODE_MAX_ENTRIES || n.count == 100_000 % 128));
    }
}
