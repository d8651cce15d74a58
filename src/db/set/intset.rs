//! The integer encoding of sets (Redis's `intset.c`): distinct integers,
//! sorted, in one exactly sized block, each taking 2, 4 or 8 bytes — the
//! smallest width that holds every member. Adding a wider integer widens
//! them all; removals never narrow (as in Redis).
//!
//! Layout: `[width][members little-endian, ascending]`; an empty set holds
//! no block. Lookups are binary searches (O(log n)); insertions and
//! removals move the members after the position (O(n)), which is why sets
//! leave this encoding past `set-max-intset-entries`.

/// A sorted set of distinct integers, 2, 4 or 8 bytes each.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct IntSet {
    /// `[width: u8][members]`; empty when there is no member.
    buf: Box<[u8]>,
}

/// The smallest width (bytes) that holds `v`.
fn width_of(v: i64) -> usize {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

/// Reads the member of `width` bytes at `bytes`.
fn read(bytes: &[u8], width: usize) -> i64 {
    match width {
        2 => i16::from_le_bytes([bytes[0], bytes[1]]) as i64,
        4 => i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as i64,
        _ => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[..8]);
            i64::from_le_bytes(b)
        }
    }
}

/// Appends `v` in `width` bytes (which must hold it).
fn write(out: &mut Vec<u8>, v: i64, width: usize) {
    out.extend_from_slice(&v.to_le_bytes()[..width]);
}

impl IntSet {
    /// The set of `sorted` (ascending, distinct), in one block. O(n).
    pub fn from_sorted(sorted: &[i64]) -> IntSet {
        let Some(width) = sorted.iter().map(|&v| width_of(v)).max() else { return IntSet::default() };
        let mut out = Vec::with_capacity(1 + width * sorted.len());
        out.push(width as u8);
        for &v in sorted {
            write(&mut out, v, width);
        }
        IntSet { buf: out.into_boxed_slice() }
    }

    /// Bytes per member (0 when empty). O(1).
    fn width(&self) -> usize {
        self.buf.first().map_or(0, |&w| w as usize)
    }

    /// Number of members. O(1).
    pub fn len(&self) -> usize {
        match self.width() {
            0 => 0,
            w => (self.buf.len() - 1) / w,
        }
    }

    /// Whether the set has no member. O(1).
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Member `i` in ascending order. O(1).
    pub fn get(&self, i: usize) -> Option<i64> {
        let w = self.width();
        (i < self.len()).then(|| read(&self.buf[1 + i * w..], w))
    }

    /// `Ok(position)` of `v`, or `Err(position it would take)`. O(log n).
    fn search(&self, v: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        if width_of(v) > self.width() {
            // Wider than every member: below or above them all.
            return Err(if v < 0 { 0 } else { hi });
        }
        while lo < hi {
            let mid = (lo + hi) / 2;
            let m = self.get(mid).unwrap_or(v);
            match m.cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// Whether `v` is a member. O(log n).
    pub fn contains(&self, v: i64) -> bool {
        self.search(v).is_ok()
    }

    /// Adds `v`; true if it was new. Widens every member when `v` needs
    /// more bytes. O(n) (the block is reallocated to its exact size).
    pub fn insert(&mut self, v: i64) -> bool {
        let Err(pos) = self.search(v) else { return false };
        let old = self.width();
        let width = old.max(width_of(v));
        let len = self.len();
        let mut out = Vec::with_capacity(1 + width * (len + 1));
        out.push(width as u8);
        if width == old {
            out.extend_from_slice(&self.buf[1..1 + pos * width]);
            write(&mut out, v, width);
            out.extend_from_slice(&self.buf[1 + pos * width..]);
        } else {
            for i in 0..len {
                if i == pos {
                    write(&mut out, v, width);
                }
                write(&mut out, read(&self.buf[1 + i * old..], old), width);
            }
            if pos == len {
                write(&mut out, v, width);
            }
        }
        self.buf = out.into_boxed_slice();
        true
    }

    /// Removes `v`; true if it was a member. O(n).
    pub fn remove(&mut self, v: i64) -> bool {
        let Ok(pos) = self.search(v) else { return false };
        self.remove_at(pos);
        true
    }

    /// Removes the member at position `pos` (ascending order), if any. O(n).
    pub fn remove_at(&mut self, pos: usize) {
        let (w, len) = (self.width(), self.len());
        if pos >= len {
            return;
        }
        if len == 1 {
            self.buf = Box::default();
            return;
        }
        let mut v = std::mem::take(&mut self.buf).into_vec();
        v.drain(1 + pos * w..1 + (pos + 1) * w);
        self.buf = v.into_boxed_slice();
    }

    /// Keeps the members for which `keep(position, member)` holds, in one
    /// pass. O(n).
    pub fn retain(&mut self, mut keep: impl FnMut(usize, i64) -> bool) {
        let kept: Vec<i64> = self.iter().enumerate().filter(|&(i, v)| keep(i, v)).map(|(_, v)| v).collect();
        if kept.len() != self.len() {
            *self = IntSet::from_sorted(&kept);
        }
    }

    /// The members in ascending order. Each step is O(1).
    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        let w = self.width().max(1);
        self.buf.get(1..).unwrap_or_default().chunks_exact(w).map(move |c| read(c, w))
    }

    /// Heap bytes held. O(1).
    pub fn heap_size(&self) -> usize {
        self.buf.len()
    }
}

impl std::fmt::Debug for IntSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn mirrors_a_btreeset_across_widths() {
        let mut rng = fastrand::Rng::with_seed(11);
        let mut s = IntSet::default();
        let mut model = BTreeSet::new();
        for step in 0..4000 {
            // Mostly small values; wider ones appear later so widening happens mid-way.
            let v = match (step / 1000, rng.u8(..4)) {
                (0, _) | (_, 0) => rng.i64(-300..300),
                (1, _) => rng.i64(-70000..70000),
                _ => rng.i64(..),
            };
            if rng.u8(..3) == 0 {
                assert_eq!(s.remove(v), model.remove(&v));
            } else {
                assert_eq!(s.insert(v), model.insert(v));
            }
            assert_eq!(s.len(), model.len());
            assert_eq!(s.contains(v), model.contains(&v));
        }
        assert!(s.iter().eq(model.iter().copied()));
        assert_eq!(s.width(), 8);
        assert_eq!(s.heap_size(), 1 + 8 * model.len());
    }

    #[test]
    fn extremes_and_exact_size() {
        let mut s = IntSet::default();
        assert_eq!(s.heap_size(), 0);
        for v in [0, i16::MAX as i64, i16::MIN as i64] {
            assert!(s.insert(v));
        }
        assert_eq!((s.width(), s.heap_size()), (2, 7));
        assert!(s.insert(i64::MIN) && s.insert(i64::MAX));
        assert!(!s.insert(i64::MAX));
        assert_eq!(s.iter().collect::<Vec<_>>(), [i64::MIN, i16::MIN as i64, 0, i16::MAX as i64, i64::MAX]);
        assert!(s.contains(i64::MIN) && !s.contains(1) && !s.contains(i64::MAX - 1));
        assert!(s.remove(i64::MIN) && s.remove(i64::MAX));
        assert_eq!(s.width(), 8, "removals never narrow, as in Redis");
        s.retain(|_, v| v != 0);
        assert_eq!(s.iter().collect::<Vec<_>>(), [i16::MIN as i64, i16::MAX as i64]);
        s.remove_at(0);
        s.remove_at(0);
        assert!(s.is_empty() && s.heap_size() == 0);
    }
}
