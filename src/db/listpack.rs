//! A packed sequence of byte strings in one allocation: the small-collection
//! encoding (Redis's `listpack.c` plays the same part).
//!
//! A list of ten short elements stored as ten separately allocated strings
//! costs a handle and a heap block per element; packed, it costs one block
//! holding a 4-byte count and, per element, a LEB128 length and the bytes.
//! Access is by a forward walk, so every operation but `len` is O(total
//! bytes): the owners ([`super::list::ListValue`], [`super::hash::HashValue`])
//! keep packs small and switch to a per-element structure past a size limit.
//!
//! The block is sized exactly (every change reallocates to fit, as Redis
//! does), since the point is memory, and small reallocations are cheap.

/// Bytes taken by the element count at the front of the block.
const HEADER: usize = 4;

/// A packed sequence of byte strings. Cloning copies one block.
#[derive(Clone, PartialEq, Eq)]
pub struct Listpack {
    /// `[count: u32 LE][len varint][bytes]...`; empty until the first
    /// push. A boxed slice, not a `Vec`: 8 bytes smaller, which lets a
    /// [`super::Value`] fit in 24 bytes.
    buf: Box<[u8]>,
}

/// The LEB128 length prefix of an element of `n` bytes: the bytes, and
/// how many of them are used.
fn len_prefix(mut n: usize) -> ([u8; 10], usize) {
    let (mut out, mut k) = ([0u8; 10], 0);
    while n >= 0x80 {
        out[k] = (n as u8) | 0x80;
        n >>= 7;
        k += 1;
    }
    out[k] = n as u8;
    (out, k + 1)
}

/// Bytes `v` takes in a pack (length prefix and contents): what the size
/// limits of packed lists and hashes and quicklist nodes count. O(1).
pub fn encoded_len(v: &[u8]) -> usize {
    len_prefix(v.len()).1 + v.len()
}

/// Reads the element at `off`: `(start of its bytes, its length)`. The
/// block was written by this module, so lengths are well formed.
fn read_at(buf: &[u8], off: usize) -> (usize, usize) {
    let (mut n, mut shift, mut i) = (0usize, 0u32, off);
    loop {
        let b = buf[i];
        n |= ((b & 0x7f) as usize) << shift;
        i += 1;
        if b < 0x80 {
            return (i, n);
        }
        shift += 7;
    }
}

/// Replaces `buf[range]` with `prefix` followed by `v`, growing the block
/// by exactly what it needs: one move of the bytes after `range` (a
/// `Vec::splice` of the chained bytes fed them one at a time, 6% of an
/// LPUSH). O(bytes).
fn splice_in(buf: &mut Vec<u8>, range: std::ops::Range<usize>, prefix: &[u8], v: &[u8]) {
    let add = prefix.len() + v.len();
    let old_len = buf.len();
    let new_len = old_len - range.len() + add;
    if new_len > old_len {
        buf.reserve_exact(new_len - old_len);
        buf.resize(new_len, 0);
    }
    buf.copy_within(range.end..old_len, range.start + add);
    buf[range.start..range.start + prefix.len()].copy_from_slice(prefix);
    buf[range.start + prefix.len()..range.start + add].copy_from_slice(v);
    buf.truncate(new_len);
}

impl Default for Listpack {
    fn default() -> Self {
        Listpack::new()
    }
}

impl Listpack {
    /// An empty pack (no allocation).
    pub fn new() -> Listpack {
        Listpack { buf: Box::default() }
    }

    /// Runs `f` on the block as a `Vec` (free both ways: the block stays
    /// exactly sized since every growth is `reserve_exact`), then stores
    /// the count `n` (an empty pack frees its block).
    fn edit(&mut self, f: impl FnOnce(&mut Vec<u8>) -> usize) {
        let mut v = std::mem::take(&mut self.buf).into_vec();
        let n = f(&mut v);
        if n == 0 {
            return;
        }
        v[..HEADER].copy_from_slice(&(n as u32).to_le_bytes());
        self.buf = v.into_boxed_slice();
    }

    /// A pack of `items`, in order, in one exactly sized block (one
    /// allocation: `items` is walked twice). O(bytes).
    pub fn from_items<'a>(items: impl IntoIterator<Item = &'a [u8]> + Clone) -> Listpack {
        let mut p = Listpack::new();
        let mut n = 0usize;
        // Sized first: one allocation, no growth and no shrink at the end.
        let size = items.clone().into_iter().fold(HEADER, |s, it| s + encoded_len(it));
        let mut body = Vec::with_capacity(size);
        body.extend_from_slice(&[0; HEADER]);
        for it in items {
            let (prefix, k) = len_prefix(it.len());
            body.extend_from_slice(&prefix[..k]);
            body.extend_from_slice(it);
            n += 1;
        }
        p.edit(|v| {
            *v = body;
            n
        });
        p
    }

    /// Number of elements. O(1).
    pub fn len(&self) -> usize {
        match self.buf.get(..HEADER) {
            Some(h) => u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize,
            None => 0,
        }
    }

    /// Whether the pack holds no element. O(1).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of the encoded block (what Redis's size limits compare). O(1).
    pub fn encoded_size(&self) -> usize {
        self.buf.len()
    }

    /// Bytes of the elements alone (the block without its header). O(1).
    pub fn payload_size(&self) -> usize {
        self.buf.len().saturating_sub(HEADER)
    }

    /// Removes the last element, handing it to `take` first. One walk:
    /// O(bytes).
    pub fn pop_back_with<R>(&mut self, take: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let len = self.len();
        let at = self.offset(len.checked_sub(1)?);
        let (s, n) = read_at(&self.buf, at);
        let r = take(&self.buf[s..s + n]);
        self.edit(|buf| {
            buf.truncate(at);
            len - 1
        });
        Some(r)
    }

    /// Heap bytes held. O(1).
    pub fn heap_size(&self) -> usize {
        self.buf.len()
    }

    /// The elements in order. Each step is O(1).
    pub fn iter(&self) -> Iter<'_> {
        Iter { buf: &self.buf, off: HEADER.min(self.buf.len()), left: self.len() }
    }

    /// Byte offset of element `i` (`i == len` gives the end, without a
    /// walk). O(bytes before it).
    fn offset(&self, i: usize) -> usize {
        if i >= self.len() {
            return self.buf.len().max(HEADER);
        }
        let mut off = HEADER;
        for _ in 0..i {
            let (start, n) = read_at(&self.buf, off);
            off = start + n;
        }
        off
    }

    /// Element `i`, if in range. O(bytes before it).
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        if i >= self.len() {
            return None;
        }
        let (start, n) = read_at(&self.buf, self.offset(i));
        Some(&self.buf[start..start + n])
    }

    /// Inserts `v` before element `i` (`i == len` appends). O(bytes).
    pub fn insert(&mut self, i: usize, v: &[u8]) {
        let len = self.len();
        debug_assert!(i <= len);
        let at = self.offset(i);
        let (prefix, k) = len_prefix(v.len());
        self.edit(|buf| {
            let header = if buf.is_empty() { HEADER } else { 0 };
            // One exact growth for the header and the element together.
            buf.reserve_exact(header + k + v.len());
            buf.resize(buf.len() + header, 0);
            splice_in(buf, at..at, &prefix[..k], v);
            len + 1
        });
    }

    /// Appends `v`. O(bytes) (a reallocation may copy the block).
    pub fn push_back(&mut self, v: &[u8]) {
        self.insert(self.len(), v);
    }

    /// Prepends `v`. O(bytes) (everything moves).
    pub fn push_front(&mut self, v: &[u8]) {
        self.insert(0, v);
    }

    /// Removes elements `from..to` (clamped to the length). O(bytes).
    pub fn remove_range(&mut self, from: usize, to: usize) {
        let len = self.len();
        let to = to.min(len);
        if from >= to {
            return;
        }
        let start = self.offset(from);
        let mut end = start;
        for _ in from..to {
            let (s, n) = read_at(&self.buf, end);
            end = s + n;
        }
        self.edit(|buf| {
            buf.drain(start..end);
            len - (to - from)
        });
    }

    /// Removes element `i` (no-op if out of range). O(bytes).
    pub fn remove(&mut self, i: usize) {
        self.remove_range(i, i + 1);
    }

    /// Replaces element `i` with `v` (no-op if out of range). O(bytes).
    pub fn replace(&mut self, i: usize, v: &[u8]) {
        if i >= self.len() {
            return;
        }
        let at = self.offset(i);
        let (s, n) = read_at(&self.buf, at);
        let (prefix, k) = len_prefix(v.len());
        let len = self.len();
        self.edit(|buf| {
            splice_in(buf, at..s + n, &prefix[..k], v);
            len
        });
    }

    /// Keeps only the elements for which `keep(position, element)` holds.
    /// O(bytes).
    pub fn retain(&mut self, mut keep: impl FnMut(usize, &[u8]) -> bool) {
        let kept: Vec<&[u8]> = self.iter().enumerate().filter(|(i, v)| keep(*i, v)).map(|(_, v)| v).collect();
        if kept.len() != self.len() {
            *self = Listpack::from_items(kept.iter().copied());
        }
    }
}

impl std::fmt::Debug for Listpack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter().map(String::from_utf8_lossy)).finish()
    }
}

/// Forward iterator over a [`Listpack`]'s elements.
#[derive(Clone)]
pub struct Iter<'a> {
    buf: &'a [u8],
    off: usize,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let (s, n) = read_at(self.buf, self.off);
        self.off = s + n;
        self.left -= 1;
        Some(&self.buf[s..s + n])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(p: &Listpack) -> Vec<Vec<u8>> {
        p.iter().map(|v| v.to_vec()).collect()
    }

    #[test]
    fn mirrors_a_vec_under_random_edits() {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut p = Listpack::new();
        let mut model: Vec<Vec<u8>> = Vec::new();
        for _ in 0..5000 {
            // Lengths around the 1- and 2-byte varint boundary, and empty.
            let n = [0, 1, 5, 127, 128, 200, 16400][rng.usize(..7)];
            let v: Vec<u8> = (0..n).map(|_| rng.u8(..)).collect();
            match rng.usize(..7) {
                0 => {
                    p.push_back(&v);
                    model.push(v);
                }
                1 => {
                    p.push_front(&v);
                    model.insert(0, v);
                }
                2 => {
                    let i = rng.usize(..=model.len());
                    p.insert(i, &v);
                    model.insert(i, v);
                }
                3 if !model.is_empty() => {
                    let i = rng.usize(..model.len());
                    p.remove(i);
                    model.remove(i);
                }
                4 if !model.is_empty() => {
                    let i = rng.usize(..model.len());
                    p.replace(i, &v);
                    model[i] = v;
                }
                5 => {
                    let (a, b) = (rng.usize(..=model.len()), rng.usize(..=model.len()));
                    p.remove_range(a.min(b), a.max(b));
                    model.drain(a.min(b)..a.max(b));
                }
                _ => {
                    let m = rng.u8(..);
                    p.retain(|i, x| (i + x.len()) % 3 != (m % 3) as usize);
                    let mut i = 0;
                    model.retain(|x| {
                        let k = (i + x.len()) % 3 != (m % 3) as usize;
                        i += 1;
                        k
                    });
                }
            }
            assert_eq!(p.len(), model.len());
            if model.len() > 40 {
                p.remove_range(0, 20);
                model.drain(..20);
            }
        }
        assert_eq!(items(&p), model);
        for (i, v) in model.iter().enumerate() {
            assert_eq!(p.get(i), Some(&v[..]));
        }
        assert_eq!(p.get(model.len()), None);
    }

    #[test]
    fn block_is_exactly_sized() {
        let p = Listpack::from_items((0..10).map(|_| &b"elem:123"[..]));
        assert_eq!(p.encoded_size(), HEADER + 10 * 9);
        let mut q = Listpack::new();
        for _ in 0..10 {
            q.push_back(b"elem:123");
        }
        assert_eq!(q, p);
        assert_eq!(q.heap_size(), q.encoded_size());
        q.remove_range(0, 10);
        assert_eq!(q.heap_size(), 0);
        assert!(q.is_empty());
    }
}
