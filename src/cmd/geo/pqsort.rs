//! Redis's `pqsort.c` (a partial BSD quicksort): GEO searches with a COUNT
//! below their number of matches sort only the positions they return with
//! it, so members at equal distances come out in Redis's order only if
//! the same steps are taken. The full sort Redis leaves to glibc's `qsort`
//! (a stable merge sort), which `sort_by` equals.

use std::cmp::Ordering;

/// Sorts `v` so that positions `lrange..=rrange` hold what a full sort
/// would put there, in order, taking the same steps as Redis's `pqsort`
/// (so ties end up where Redis puts them). O(n log n) worst case, about
/// O(n) when the range is short.
pub(super) fn pqsort<T>(v: &mut [T], cmp: &impl Fn(&T, &T) -> Ordering, lrange: usize, rrange: usize) {
    sort_part(v, 0, v.len(), cmp, lrange, rrange);
}

/// Whether a part `lo..lo + n` lies wholly beside the wanted range.
fn outside(lo: usize, n: usize, lrange: usize, rrange: usize) -> bool {
    (lrange < lo && rrange < lo) || (lrange >= lo + n && rrange >= lo + n)
}

/// The index of the median of three, as the C macro picks it.
fn med3<T>(v: &[T], a: usize, b: usize, c: usize, cmp: &impl Fn(&T, &T) -> Ordering) -> usize {
    let lt = |x: usize, y: usize| cmp(&v[x], &v[y]) == Ordering::Less;
    let gt = |x: usize, y: usize| cmp(&v[x], &v[y]) == Ordering::Greater;
    if lt(a, b) {
        if lt(b, c) {
            b
        } else if lt(a, c) {
            c
        } else {
            a
        }
    } else if gt(b, c) {
        b
    } else if lt(a, c) {
        a
    } else {
        c
    }
}

/// Swaps `n` elements from `a` with `n` from `b`, pair by pair in order.
fn vecswap<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        v.swap(a + i, b + i);
    }
}

/// `_pqsort` on `v[a..a + n]`.
fn sort_part<T>(v: &mut [T], mut a: usize, mut n: usize, cmp: &impl Fn(&T, &T) -> Ordering, lr: usize, rr: usize) {
    loop {
        if n < 7 {
            for pm in a + 1..a + n {
                let mut pl = pm;
                while pl > a && cmp(&v[pl - 1], &v[pl]) == Ordering::Greater {
                    v.swap(pl, pl - 1);
                    pl -= 1;
                }
            }
            return;
        }
        let mut pm = a + n / 2;
        if n > 7 {
            let (mut pl, mut pn) = (a, a + n - 1);
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d, cmp);
                pm = med3(v, pm - d, pm, pm + d, cmp);
                pn = med3(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = med3(v, pl, pm, pn, cmp);
        }
        v.swap(a, pm);
        let (mut pa, mut pb) = (a + 1, a + 1);
        let (mut pc, mut pd) = (a + n - 1, a + n - 1);
        loop {
            while pb <= pc {
                let c = cmp(&v[pb], &v[a]);
                if c == Ordering::Greater {
                    break;
                }
                if c == Ordering::Equal {
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb <= pc {
                let c = cmp(&v[pc], &v[a]);
                if c == Ordering::Less {
                    break;
                }
                if c == Ordering::Equal {
                    v.swap(pc, pd);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            v.swap(pb, pc);
            pb += 1;
            pc -= 1;
        }
        let pn = a + n;
        let r = (pa - a).min(pb - pa);
        vecswap(v, a, pb - r, r);
        let r = (pd - pc).min(pn - pd - 1);
        vecswap(v, pb, pn - r, r);
        let r = pb - pa;
        if r > 1 && !outside(a, r, lr, rr) {
            sort_part(v, a, r, cmp, lr, rr);
        }
        let r = pd - pc;
        if r <= 1 {
            return;
        }
        a = pn - r;
        n = r;
        if outside(a, n, lr, rr) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wanted range is sorted like a full sort, whatever the input.
    #[test]
    fn range_is_sorted() {
        let mut seed = 12345u64;
        for len in [0usize, 1, 5, 7, 8, 40, 41, 100, 1000] {
            for k in [1usize, 3, 10, 50] {
                let mut v: Vec<u32> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        (seed % 50) as u32
                    })
                    .collect();
                let mut sorted = v.clone();
                sorted.sort();
                let k = k.min(len);
                if k == 0 {
                    continue;
                }
                pqsort(&mut v, &|x: &u32, y: &u32| x.cmp(y), 0, k - 1);
                assert_eq!(v[..k], sorted[..k], "len {len} k {k}");
            }
        }
    }
}
