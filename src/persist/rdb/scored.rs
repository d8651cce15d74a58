//! [`ScoredElements`]: the members and scores of a sorted set, the members
//! in one buffer (an [`Elements`]) and the scores in a parallel vector, so
//! reading a sorted set costs three allocations whatever its size.

use super::elements::{Elements, Iter};

/// Members of a sorted set with one score each, in the order they were
/// pushed (for a value read from a file: the file's order).
///
/// Scores are kept as the exact `f64` read or given; equality compares
/// members and the scores' bits (so `-0.0 != 0.0` here, and the type is
/// `Eq`).
#[derive(Clone, Default)]
pub struct ScoredElements {
    members: Elements,
    scores: Vec<f64>,
}

impl ScoredElements {
    /// An empty sequence (no allocation).
    pub fn new() -> ScoredElements {
        ScoredElements::default()
    }

    /// The (member, score) pairs of `pairs`, in order. O(bytes).
    pub fn from_pairs<M: AsRef<[u8]>>(pairs: impl IntoIterator<Item = (M, f64)>) -> ScoredElements {
        let mut z = ScoredElements::new();
        for (m, s) in pairs {
            z.push(m.as_ref(), s);
        }
        z
    }

    /// Appends a member and its score. O(len) amortized.
    pub fn push(&mut self, member: &[u8], score: f64) {
        self.members.push(member);
        self.scores.push(score);
    }

    /// Number of members. O(1).
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// Whether there is no member. O(1).
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// Member `i` and its score, if in range. O(1).
    pub fn get(&self, i: usize) -> Option<(&[u8], f64)> {
        Some((self.members.get(i)?, *self.scores.get(i)?))
    }

    /// The members alone, in order. O(1).
    pub fn members(&self) -> &Elements {
        &self.members
    }

    /// The scores alone, in order (one per member). O(1).
    pub fn scores(&self) -> &[f64] {
        &self.scores
    }

    /// The (member, score) pairs in order. Each step is O(1).
    pub fn iter(&self) -> ScoredIter<'_> {
        ScoredIter { members: self.members.range(0, self.scores.len()), scores: self.scores.iter() }
    }

    /// Removes everything, keeping the buffers' capacity. O(1).
    pub fn clear(&mut self) {
        self.members.clear();
        self.scores.clear();
    }

    /// Heap bytes held by the buffers (capacity, not length). O(1).
    pub fn capacity_bytes(&self) -> usize {
        self.members.capacity_bytes() + self.scores.capacity() * std::mem::size_of::<f64>()
    }

    /// Reserves room for `members` more members of `bytes` bytes in total
    /// (a hint: callers pass amounts the input has already proven).
    pub fn reserve(&mut self, members: usize, bytes: usize) {
        self.members.reserve(members, bytes);
        self.scores.reserve(members);
    }

    /// The member buffer, for a reader that appends a member in place
    /// (then [`push_score`](Self::push_score) completes the pair).
    pub(super) fn members_mut(&mut self) -> &mut Elements {
        &mut self.members
    }

    /// Adds the score of the member last appended through
    /// [`members_mut`](Self::members_mut). O(1) amortized.
    pub(super) fn push_score(&mut self, score: f64) {
        self.scores.push(score);
    }
}

impl PartialEq for ScoredElements {
    fn eq(&self, other: &Self) -> bool {
        self.members == other.members
            && self.scores.len() == other.scores.len()
            && self.scores.iter().zip(&other.scores).all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl Eq for ScoredElements {}

impl std::fmt::Debug for ScoredElements {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter().map(|(m, s)| (String::from_utf8_lossy(m), s))).finish()
    }
}

/// Iterator over the (member, score) pairs of a [`ScoredElements`].
#[derive(Clone)]
pub struct ScoredIter<'a> {
    members: Iter<'a>,
    scores: std::slice::Iter<'a, f64>,
}

impl<'a> Iterator for ScoredIter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        Some((self.members.next()?, *self.scores.next()?))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.scores.size_hint()
    }
}

impl ExactSizeIterator for ScoredIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_iterate_compare() {
        let mut z = ScoredElements::from_pairs([("a", 1.5), ("b", f64::INFINITY)]);
        z.push(b"", -0.0);
        assert_eq!(z.len(), 3);
        assert_eq!(z.get(1), Some((&b"b"[..], f64::INFINITY)));
        assert_eq!(z.get(3), None);
        let v: Vec<_> = z.iter().collect();
        assert_eq!(v, [(&b"a"[..], 1.5), (b"b", f64::INFINITY), (b"", -0.0)]);
        assert_eq!(z.iter().len(), 3);
        assert_eq!(z.members().len(), 3);
        assert_eq!(z.scores(), [1.5, f64::INFINITY, -0.0]);
        // Scores compare by their bits.
        let mut zero = z.clone();
        assert_eq!(zero, z);
        zero.clear();
        zero.extend_for_test(&[("a", 1.5), ("b", f64::INFINITY), ("", 0.0)]);
        assert_ne!(zero, z);
        assert!(format!("{z:?}").contains("(\"a\", 1.5)"));
        z.clear();
        assert!(z.is_empty() && z.capacity_bytes() > 0);
    }

    impl ScoredElements {
        fn extend_for_test(&mut self, pairs: &[(&str, f64)]) {
            for (m, s) in pairs {
                self.push(m.as_bytes(), *s);
            }
        }
    }
}
