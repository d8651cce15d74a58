//! Unit tests of the sorted-set storage, both encodings against a sorted
//! vector model.

use super::*;

/// The model: (score, member) pairs kept sorted.
fn model_sorted(m: &[(f64, Vec<u8>)]) -> Vec<(f64, Vec<u8>)> {
    let mut v = m.to_vec();
    v.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    v
}

fn check(z: &ZSetValue, model: &[(f64, Vec<u8>)]) {
    let want = model_sorted(model);
    let got: Vec<(f64, Vec<u8>)> = z.iter().map(|(m, s)| (s, m.to_vec())).collect();
    assert_eq!(got, want);
    assert_eq!(z.len(), want.len());
    for (i, (s, m)) in want.iter().enumerate() {
        assert_eq!(z.rank(m), Some((i, *s)));
        assert_eq!(z.get(i).map(|(m, s)| (m.to_vec(), s)), Some((m.clone(), *s)));
    }
}

fn random_run(packed_limit: bool, ops: usize, universe: u32) {
    let mut z = if packed_limit { ZSetValue::default() } else { ZSetValue::List(Box::default()) };
    let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
    for step in 0..ops {
        let m = format!("m{}", fastrand::u32(..universe)).into_bytes();
        let s = fastrand::i32(-20..20) as f64 / 2.0;
        match fastrand::u8(..10) {
            0..=5 => {
                let pos = model.iter().position(|(_, x)| *x == m);
                // A third of the updates nudge the score, which mostly keeps
                // the member in place (the update-in-place path).
                let s = match pos {
                    Some(p) if step % 3 == 0 => model[p].0 + 0.25,
                    _ => s,
                };
                let new = z.insert(&m, s);
                assert_eq!(new, pos.is_none());
                match pos {
                    Some(p) => model[p].0 = s,
                    None => model.push((s, m)),
                }
            }
            6 | 7 => {
                let pos = model.iter().position(|(_, x)| *x == m);
                assert_eq!(z.remove(&m), pos.is_some());
                if let Some(p) = pos {
                    model.remove(p);
                }
            }
            8 => {
                let len = model.len();
                if len > 0 {
                    let a = fastrand::usize(..len);
                    let b = fastrand::usize(a..len);
                    let sorted = model_sorted(&model);
                    assert_eq!(z.remove_range(a, b), b - a + 1);
                    model = sorted[..a].iter().chain(&sorted[b + 1..]).cloned().collect();
                }
            }
            _ => {
                let sorted = model_sorted(&model);
                let below = sorted.iter().filter(|(sc, _)| *sc < s).count();
                assert_eq!(z.prefix_len(|sc, _| sc < s), below);
                assert_eq!(z.score_prefix_len(|sc| sc < s), below);
                let start = fastrand::usize(..sorted.len() + 1);
                let count = fastrand::usize(..5);
                let mut got = Vec::new();
                z.walk(start, count, step % 2 == 0, |m, s| got.push((s, m.to_vec())));
                let want: Vec<_> = if step % 2 == 0 {
                    sorted.iter().take(start + 1).rev().take(count).cloned().collect()
                } else {
                    sorted.iter().skip(start).take(count).cloned().collect()
                };
                if start < sorted.len() {
                    assert_eq!(got, want);
                }
            }
        }
        if step % 50 == 0 {
            check(&z, &model);
        }
    }
    check(&z, &model);
}

#[test]
fn skiplist_matches_sorted_vec() {
    for _ in 0..5 {
        random_run(false, 3000, 400);
    }
}

#[test]
fn packed_matches_sorted_vec_and_converts() {
    for _ in 0..5 {
        random_run(true, 2000, 200);
    }
}

#[test]
fn converts_at_limits() {
    let mut z = ZSetValue::default();
    for i in 0..128 {
        z.insert(format!("{i}").as_bytes(), i as f64);
    }
    assert!(z.is_packed());
    z.insert(b"x", 1.0);
    assert!(!z.is_packed());
    let mut z = ZSetValue::default();
    z.insert(&[b'a'; 64], 1.0);
    assert!(z.is_packed());
    z.insert(&[b'a'; 65], 1.0);
    assert!(!z.is_packed());
    assert_eq!(z.len(), 2);
}

#[test]
fn score_text_round_trips() {
    for s in [0.0, 1.0, -3.0, 1.5, 0.1, 1e300, -1e-300, f64::INFINITY, f64::NEG_INFINITY, 1e15, 123456789.123] {
        let t = score_text(s);
        assert_eq!(parse_score(t.as_bytes()).to_bits(), s.to_bits(), "{s} as {t}");
    }
    assert_eq!(score_text(1e300), "1e300");
    assert_eq!(score_text(42.0), "42");
    assert_eq!(score_text(-0.0), "0");
}

#[test]
fn from_pairs_picks_encoding() {
    let small: Vec<(Vec<u8>, f64)> = (0..10).map(|i| (format!("m{i}").into_bytes(), i as f64)).collect();
    let z = ZSetValue::from_pairs(small.iter().map(|(m, s)| (&m[..], *s)));
    assert!(z.is_packed());
    assert_eq!(z.len(), 10);
    let big: Vec<(Vec<u8>, f64)> = (0..200).map(|i| (format!("m{i}").into_bytes(), -(i as f64))).collect();
    let z = ZSetValue::from_pairs(big.iter().map(|(m, s)| (&m[..], *s)));
    assert!(!z.is_packed());
    assert_eq!(z.get(0), Some((&b"m199"[..], -199.0)));
}

#[test]
fn value_stays_small() {
    assert!(std::mem::size_of::<ZSetValue>() <= 16);
}
