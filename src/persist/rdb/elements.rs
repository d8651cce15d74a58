//! [`Elements`]: the byte strings of a list or hash value, stored back to
//! back in one buffer, so reading a value from a file costs two
//! allocations whatever its number of elements.

/// A sequence of byte strings in one buffer plus one end offset per
/// element. A hash is stored as its fields and values alternately.
/// Equality compares the elements.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Elements {
    data: Vec<u8>,
    ends: Vec<usize>,
}

impl Elements {
    /// An empty sequence (no allocation).
    pub fn new() -> Elements {
        Elements::default()
    }

    /// A sequence of fields and values alternately, from `pairs`. O(bytes).
    pub fn from_pairs<A: AsRef<[u8]>, B: AsRef<[u8]>>(pairs: impl IntoIterator<Item = (A, B)>) -> Elements {
        let mut e = Elements::new();
        for (f, v) in pairs {
            e.push(f.as_ref());
            e.push(v.as_ref());
        }
        e
    }

    /// Number of elements. O(1).
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there is no element. O(1).
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Appends a copy of `item`. O(len) amortized.
    pub fn push(&mut self, item: &[u8]) {
        self.data.extend_from_slice(item);
        self.ends.push(self.data.len());
    }

    /// Appends the decimal text of `v` (how Redis reads integer-encoded
    /// elements). O(1).
    pub fn push_int(&mut self, v: i64) {
        write_decimal(&mut self.data, v);
        self.ends.push(self.data.len());
    }

    /// Removes every element, keeping the buffers' capacity. O(1).
    pub fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
    }

    /// Heap bytes held by the buffers (capacity, not length). O(1).
    pub fn capacity_bytes(&self) -> usize {
        self.data.capacity() + self.ends.capacity() * std::mem::size_of::<usize>()
    }

    /// Reserves room for `elements` more elements of `bytes` bytes in
    /// total (a hint: callers pass amounts the input has already proven).
    pub fn reserve(&mut self, elements: usize, bytes: usize) {
        self.ends.reserve(elements);
        self.data.reserve(bytes);
    }

    /// The buffer the next element's bytes are appended to, for a reader
    /// that writes an element in place; [`end_element`](Self::end_element)
    /// then closes it. Bytes appended without closing are dropped by
    /// [`truncate_open`](Self::truncate_open).
    pub fn open_buffer(&mut self) -> &mut Vec<u8> {
        &mut self.data
    }

    /// Closes the element written through [`open_buffer`](Self::open_buffer).
    /// O(1).
    pub fn end_element(&mut self) {
        self.ends.push(self.data.len());
    }

    /// Drops bytes written through [`open_buffer`](Self::open_buffer) but
    /// not closed as an element. O(1).
    pub fn truncate_open(&mut self) {
        self.data.truncate(self.ends.last().copied().unwrap_or(0));
    }

    /// Element `i`, if in range. O(1).
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.data[start..end])
    }

    /// Bytes of all the elements together. O(1).
    pub fn byte_len(&self) -> usize {
        self.data.len()
    }

    /// Appends every element of `other`. O(bytes of `other`).
    pub fn extend_from(&mut self, other: &Elements) {
        let base = self.data.len();
        self.data.extend_from_slice(&other.data);
        self.ends.extend(other.ends.iter().map(|e| e + base));
    }

    /// The elements in order. Each step is O(1).
    pub fn iter(&self) -> Iter<'_> {
        self.range(0, self.len())
    }

    /// Elements `from..to` (clamped to the length) in order. O(1), then
    /// each step is O(1).
    pub fn range(&self, from: usize, to: usize) -> Iter<'_> {
        let to = to.min(self.len());
        let from = from.min(to);
        let start = if from == 0 { 0 } else { self.ends[from - 1] };
        Iter { data: &self.data, ends: self.ends[from..to].iter(), start }
    }

    /// The elements taken two by two (field, value); an odd last element is
    /// left out. Each step is O(1).
    pub fn pairs(&self) -> Pairs<'_> {
        Pairs(self.iter())
    }
}

/// Appends the decimal text of `v` to `out`. O(1).
pub fn write_decimal(out: &mut Vec<u8>, v: i64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&buf[i..]);
}

impl<T: AsRef<[u8]>> FromIterator<T> for Elements {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut e = Elements::new();
        for it in items {
            e.push(it.as_ref());
        }
        e
    }
}

impl std::fmt::Debug for Elements {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter().map(String::from_utf8_lossy)).finish()
    }
}

/// Iterator over an [`Elements`].
#[derive(Clone)]
pub struct Iter<'a> {
    data: &'a [u8],
    ends: std::slice::Iter<'a, usize>,
    start: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let end = *self.ends.next()?;
        let item = &self.data[self.start..end];
        self.start = end;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.ends.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> Iter<'a> {
    /// The remaining elements taken two by two (see [`Elements::pairs`]).
    pub fn pairs(self) -> Pairs<'a> {
        Pairs(self)
    }
}

/// Iterator over the (field, value) pairs of an [`Elements`].
#[derive(Clone)]
pub struct Pairs<'a>(Iter<'a>);

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.len() < 2 {
            return None;
        }
        Some((self.0.next()?, self.0.next()?))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.0.len() / 2;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Pairs<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_get_iterate() {
        let mut e: Elements = ["a", "", "bcd"].into_iter().collect();
        e.push_int(0);
        e.push_int(-42);
        e.push_int(i64::MIN);
        e.push_int(i64::MAX);
        let want = ["a", "", "bcd", "0", "-42", "-9223372036854775808", "9223372036854775807"];
        assert_eq!(e.len(), want.len());
        let got: Vec<&[u8]> = e.iter().collect();
        assert_eq!(got, want.iter().map(|s| s.as_bytes()).collect::<Vec<_>>());
        for (i, w) in want.iter().enumerate() {
            assert_eq!(e.get(i), Some(w.as_bytes()));
        }
        assert_eq!(e.get(want.len()), None);
        assert_eq!(e.pairs().len(), 3);
        let r: Vec<&[u8]> = e.range(2, 4).collect();
        assert_eq!(r, [&b"bcd"[..], b"0"]);
        assert_eq!(e.range(5, 100).len(), 2);
        assert_eq!(e.range(9, 3).len(), 0);
        assert_eq!(e.range(1, 5).pairs().collect::<Vec<_>>(), [(&b""[..], &b"bcd"[..]), (b"0", b"-42")]);
        let mut twice = e.clone();
        twice.extend_from(&e);
        assert_eq!(twice.len(), 2 * e.len());
        assert_eq!(twice.byte_len(), 2 * e.byte_len());
        assert!(twice.range(e.len(), twice.len()).eq(e.iter()));
        twice.clear();
        assert!(twice.is_empty() && twice.capacity_bytes() > 0);
        // The odd last element is left out of the pairs.
        assert_eq!(e.pairs().last(), Some((&b"-42"[..], &b"-9223372036854775808"[..])));
        assert_eq!(format!("{:?}", Elements::from_pairs([("f", "v")])), r#"["f", "v"]"#);
    }

    #[test]
    fn open_buffer_writes_in_place() {
        let mut e = Elements::new();
        e.push(b"x");
        e.open_buffer().extend_from_slice(b"partial");
        e.truncate_open();
        e.open_buffer().extend_from_slice(b"whole");
        e.end_element();
        assert_eq!(e, ["x", "whole"].into_iter().collect());
    }
}
