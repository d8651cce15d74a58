//! Random sampling shared by the collection types: HRANDFIELD,
//! SRANDMEMBER and SPOP pick distinct positions the same way.

/// `count` distinct positions out of `size`, uniformly (requires
/// `count <= size`): a partial shuffle when `count` is a large part of
/// `size` (Redis's "copy and remove" strategy, O(size)), else random draws
/// with rejection of repeats (O(count) expected).
pub fn distinct_positions(size: usize, count: usize) -> Vec<usize> {
    let count = count.min(size);
    if count * 3 > size {
        let mut idx: Vec<usize> = (0..size).collect();
        for i in 0..count {
            idx.swap(i, fastrand::usize(i..size));
        }
        idx.truncate(count);
        idx
    } else {
        let mut seen = std::collections::HashSet::with_capacity(count);
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let i = fastrand::usize(..size);
            if seen.insert(i) {
                out.push(i);
            }
        }
        out
    }
}
