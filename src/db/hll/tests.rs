//! Known vectors from redis-server 7.0.15 (the bytes `GET` returned after
//! the same commands), and properties of the two encodings.

use super::*;

/// FNV-1a 64 of `b`: a fingerprint of the long vectors.
fn fnv(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| (h ^ x as u64).wrapping_mul(0x0100_0000_01b3))
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// PFADD as the command does it: create when missing (that counts as an
/// update), add, mark the cache stale if anything changed.
fn pfadd<S: AsRef<[u8]>>(key: &mut Option<Vec<u8>>, eles: &[S]) -> bool {
    let mut updated = key.is_none();
    let s = key.get_or_insert_with(new_sparse);
    for e in eles {
        updated |= add(s, e.as_ref()).unwrap();
    }
    if updated {
        invalidate_cache(s);
    }
    updated
}

/// PFCOUNT of one key: the cache, else a count stored in it.
fn pfcount(s: &mut [u8]) -> u64 {
    if let Some(c) = cached_count(s) {
        return c;
    }
    let c = count(s).unwrap();
    set_cached_count(s, c);
    c
}

/// PFMERGE dest srcs…: the union of every key, dest included.
fn pfmerge(dest: &mut Option<Vec<u8>>, srcs: &[&Vec<u8>]) {
    let mut max = [0u8; REGISTERS];
    let mut dense = false;
    for s in dest.iter().chain(srcs.iter().copied()) {
        dense |= validate(s) == Ok(Encoding::Dense);
        merge_into(&mut max, s).unwrap();
    }
    let d = dest.get_or_insert_with(new_sparse);
    store_union(d, &max, dense).unwrap();
}

/// [`raise`] with `hll-sparse-max-bytes` at `max_bytes`.
fn raise_with(s: &mut Vec<u8>, i: usize, v: u8, max_bytes: usize) -> bool {
    match validate(s) {
        Ok(Encoding::Sparse) => sparse::raise(s, i, v, max_bytes).unwrap(),
        _ => dense_raise(&mut s[HDR..], i, v),
    }
}

fn nums(range: std::ops::Range<usize>, prefix: &str) -> Vec<String> {
    range.map(|i| format!("{prefix}{i}")).collect()
}

#[test]
fn small_sketches_match_redis_bytes() {
    let mut e = None;
    pfadd::<&str>(&mut e, &[]);
    assert_eq!(e.unwrap(), hex("48594c4c0100000000000000000000807fff"));

    let mut k = None;
    assert!(pfadd(&mut k, &["a", "b", "c"]));
    assert!(!pfadd(&mut k, &["a", "b", "c"]));
    let s = k.as_mut().unwrap();
    assert_eq!(*s, hex("48594c4c01000000000000000000008060f38050b1844bfb80425a"));
    assert_eq!(pfcount(s), 3);
    assert_eq!(*s, hex("48594c4c01000000030000000000000060f38050b1844bfb80425a"));

    // Element lengths 0..20 exercise every MurmurHash tail length.
    let tails: Vec<String> = (0..20).map(|n| "x".repeat(n)).collect();
    let mut t = None;
    pfadd(&mut t, &tails);
    let t = t.unwrap();
    assert_eq!(
        t,
        hex("48594c4c010000000000000000000080450880425a9043749040a784453c8441a180416d84435c8441dd84464794460d8042858c407b80405f8043db800d84426a8046968444fa90453a8408")
    );
    assert_eq!(
        sparse::decode(&t[HDR..]),
        "Z:1289 v:1,1 Z:603 v:5,1 Z:885 v:5,1 Z:168 v:2,1 Z:1341 v:2,1 Z:418 v:1,1 Z:366 v:2,1 Z:861 v:2,1 \
         Z:478 v:2,1 Z:1608 v:6,1 Z:1550 v:1,1 Z:646 v:4,1 Z:124 v:1,1 Z:96 v:1,1 Z:988 v:1,1 z:14 v:2,1 \
         Z:619 v:1,1 Z:1687 v:2,1 Z:1275 v:5,1 Z:1339 v:2,1 z:9"
    );

    let mut h = None;
    pfadd(&mut h, &nums(1..101, ""));
    let h = h.as_mut().unwrap();
    assert_eq!((h.len(), fnv(h)), (287, 0xac12d593e674f307));
    assert_eq!(pfcount(h), 100);
}

#[test]
fn growth_and_promotion_match_redis_bytes() {
    let mut big = None;
    for i in (0..5000).step_by(100) {
        pfadd(&mut big, &nums(i..i + 100, "ele:"));
        if i == 200 {
            let b = big.as_ref().unwrap();
            assert_eq!((b.len(), fnv(b)), (701, 0x4c829d713c9c4374));
        }
    }
    let b = big.as_mut().unwrap();
    assert_eq!(validate(b), Ok(Encoding::Dense));
    assert_eq!((b.len(), fnv(b)), (12304, 0x89640588c87fd1a1));
    assert_eq!(pfcount(b), 4993);
    assert_eq!(fnv(b), 0xd07142925f023645);

    let mut huge = None;
    pfadd(&mut huge, &nums(0..100_000, "u"));
    let hu = huge.as_mut().unwrap();
    assert_eq!(pfcount(hu), 100_420);
    assert_eq!(fnv(hu), 0xd9cf311344af2ed9);

    let mut max = [0u8; REGISTERS];
    merge_into(&mut max, b).unwrap();
    merge_into(&mut max, hu).unwrap();
    assert_eq!(count_raw(&max), 105_119);
}

#[test]
fn merges_match_redis_bytes() {
    let (mut s1, mut s2, mut big) = (None, None, None);
    pfadd(&mut s1, &nums(0..50, "a"));
    pfadd(&mut s2, &nums(0..50, "b"));
    for i in (0..5000).step_by(100) {
        pfadd(&mut big, &nums(i..i + 100, "ele:"));
    }
    let (s1, s2, big) = (s1.unwrap(), s2.unwrap(), big.unwrap());
    let mut m = None;
    pfmerge(&mut m, &[&s1, &s2]);
    let m = m.unwrap();
    assert_eq!((m.len(), fnv(&m)), (287, 0xb0d5b6d38276fec0));
    assert_eq!(count(&m), Ok(100));
    let mut md = None;
    pfmerge(&mut md, &[&s1, &big]);
    let md = md.unwrap();
    assert_eq!(fnv(&md), 0xa190f4a206b604fb);
    assert_eq!(count(&md), Ok(5056));
}

#[test]
fn sparse_max_bytes_promotes_early() {
    let mut s = new_sparse();
    for e in nums(0..200, "c") {
        let (i, v) = pattern(e.as_bytes());
        raise_with(&mut s, i, v, 200);
    }
    invalidate_cache(&mut s);
    assert_eq!((s.len(), fnv(&s)), (12304, 0x4bd78c79986b7d0e));
}

#[test]
fn header_checks() {
    assert_eq!(validate(b"HYLL"), Err(NotHll));
    assert_eq!(validate(&new_sparse()), Ok(Encoding::Sparse));
    let mut bad = new_sparse();
    bad[0] = b'h';
    assert_eq!(validate(&bad), Err(NotHll));
    let mut dense_short = new_sparse();
    dense_short[4] = 0;
    assert_eq!(validate(&dense_short), Err(NotHll));
    let mut enc2 = new_sparse();
    enc2[4] = 2;
    assert_eq!(validate(&enc2), Err(NotHll));
    let mut tail = new_sparse();
    tail.extend_from_slice(b"hello");
    assert_eq!(count(&tail), Err(Corrupt));
}

#[test]
fn dense_and_sparse_agree_and_registers_round_trip() {
    let mut dense = new_sparse();
    to_dense(&mut dense).unwrap();
    let mut sparse = new_sparse();
    for i in 0..3000u32 {
        let e = i.to_le_bytes();
        add(&mut dense, &e).unwrap();
        add(&mut sparse, &e).unwrap();
        if i % 97 == 0 {
            assert_eq!(count(&dense), count(&sparse));
        }
    }
    let mut promoted = sparse.clone();
    to_dense(&mut promoted).unwrap();
    assert_eq!(promoted[HDR..], dense[HDR..]);
    for i in 0..REGISTERS {
        let v = (i % 64) as u8;
        dense_set(&mut dense[HDR..], i, v);
    }
    for i in 0..REGISTERS {
        assert_eq!(dense_get(&dense[HDR..], i), (i % 64) as u8);
    }
}

/// A model check: random register raises applied to a sparse sketch with
/// a random size limit read back exactly as plain registers.
#[test]
fn sparse_updates_follow_a_register_model() {
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..30 {
        let max_bytes = rng.usize(20..4000);
        let mut s = new_sparse();
        let mut model = [0u8; REGISTERS];
        for _ in 0..rng.usize(1..600) {
            let i = if rng.bool() { rng.usize(..REGISTERS) } else { rng.usize(..40) };
            let top = if rng.u8(..10) == 0 { 52 } else { 8 };
            let v = rng.u8(1..top);
            let changed = raise_with(&mut s, i, v, max_bytes);
            assert_eq!(changed, v > model[i]);
            model[i] = model[i].max(v);
        }
        let mut got = [0u8; REGISTERS];
        merge_into(&mut got, &s).unwrap();
        assert_eq!(got, model);
        if validate(&s) == Ok(Encoding::Sparse) {
            assert!(s.len() <= max_bytes.max(HDR + 2));
        }
    }
}

#[test]
fn corrupt_bodies_never_panic() {
    let mut rng = fastrand::Rng::with_seed(11);
    let mut base = None;
    pfadd(&mut base, &nums(0..300, "f"));
    let base = base.unwrap();
    for _ in 0..3000 {
        let mut s = base.clone();
        for _ in 0..rng.usize(1..6) {
            let p = rng.usize(HDR..s.len());
            s[p] = rng.u8(..);
        }
        if rng.bool() {
            s.truncate(rng.usize(HDR..=s.len()));
        }
        let _ = count(&s);
        let mut max = [0u8; REGISTERS];
        let _ = merge_into(&mut max, &s);
        let _ = sparse::decode(&s[HDR..]);
        let _ = add(&mut s.clone(), b"x");
        let _ = to_dense(&mut s.clone());
    }
}

#[test]
fn estimator_edges() {
    let mut all_high = vec![0u8; DENSE_SIZE];
    all_high[..4].copy_from_slice(b"HYLL");
    for i in 0..REGISTERS {
        dense_set(&mut all_high[HDR..], i, 60);
    }
    // Registers above 51 do not count; C's llroundl(inf) is LLONG_MIN.
    assert_eq!(count(&all_high), Ok(i64::MIN as u64));
    assert_eq!(count(&new_sparse()), Ok(0));
}
