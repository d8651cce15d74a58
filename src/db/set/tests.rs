//! Unit tests of the set storage: every form agrees with a model, and the
//! forms switch where Redis switches.

use std::collections::BTreeSet;

use super::*;

fn sorted(s: &SetValue) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = s.iter().map(|m| m.into_owned()).collect();
    v.sort();
    v
}

fn model_vec(m: &BTreeSet<Vec<u8>>) -> Vec<Vec<u8>> {
    m.iter().cloned().collect()
}

#[test]
fn stays_within_16_bytes() {
    assert_eq!(std::mem::size_of::<SetValue>(), 16);
}

#[test]
fn every_form_agrees_with_a_model() {
    let mut rng = fastrand::Rng::with_seed(5);
    // Integers only (intset then table), short strings (packed then table),
    // and a mix with long members.
    for (round, kinds) in [(0, 1u8), (1, 2), (2, 3)].into_iter() {
        let mut s = SetValue::default();
        let mut model = BTreeSet::new();
        let mut forms = BTreeSet::new();
        for _ in 0..3000 {
            let m: Vec<u8> = match rng.u8(..kinds) {
                0 => rng.i64(-700..700).to_string().into_bytes(),
                1 => format!("m{}", rng.u16(..400)).into_bytes(),
                _ => vec![b'x'; 60 + rng.usize(..10)],
            };
            if rng.u8(..3) == 0 {
                assert_eq!(s.remove(&m), model.remove(&m), "round {round}");
            } else {
                assert_eq!(s.insert(&m), model.insert(m.clone()), "round {round}");
            }
            assert_eq!(s.len(), model.len());
            assert_eq!(s.contains(&m), model.contains(&m));
            forms.insert((s.is_intset(), s.is_compact()));
        }
        assert_eq!(sorted(&s), model_vec(&model), "round {round}");
        assert!(forms.len() >= 2, "round {round} never changed form: {forms:?}");
        let by_index: BTreeSet<Vec<u8>> = (0..s.len()).map(|i| s.get_index(i).unwrap().into_owned()).collect();
        assert_eq!(by_index, model);
        assert_eq!(s.get_index(s.len()), None);
    }
}

#[test]
fn intset_limit_and_non_integers() {
    let mut s =
        SetValue::from_members((0..512).map(|i| i.to_string()).collect::<Vec<_>>().iter().map(|m| m.as_bytes()));
    assert!(s.is_intset());
    assert_eq!(s.heap_size(), 1 + 2 * 512, "512 small integers: two bytes each");
    assert!(!s.insert(b"511"));
    assert!(s.is_intset());
    assert!(s.insert(b"512"));
    assert!(!s.is_intset() && !s.is_compact());
    assert!(s.remove(b"512"));
    assert!(!s.is_intset(), "never converts back");

    let mut s = SetValue::from_members([&b"1"[..], b"2", b"3"]);
    assert!(s.is_intset());
    // Not integers by string2ll: leading zero, plus sign, spaces, overflow.
    for m in ["01", "+1", " 1", "9223372036854775808"] {
        assert!(!s.contains(m.as_bytes()));
    }
    assert!(s.insert(b"a"));
    assert!(!s.is_intset() && s.is_compact());
    assert!(s.contains(b"1") && s.contains(b"a"));
    assert_eq!(sorted(&s), [b"1".to_vec(), b"2".to_vec(), b"3".to_vec(), b"a".to_vec()]);
}

#[test]
fn packed_limits() {
    let mut s = SetValue::default();
    for i in 0..PACK_MAX_ENTRIES {
        assert!(s.insert(format!("k{i}").as_bytes()));
    }
    assert!(s.is_compact() && !s.is_intset());
    assert!(s.insert(b"one more"));
    assert!(!s.is_compact());

    let mut s = SetValue::from_members([&b"a"[..]]);
    assert!(s.is_compact());
    assert!(s.insert(&[b'y'; PACK_MAX_VALUE + 1]));
    assert!(!s.is_compact());
    let s = SetValue::from_members([&b"a"[..], b"a", b"b"]);
    assert_eq!(s.len(), 2);
}

#[test]
fn pop_random_takes_distinct_members_from_every_form() {
    let ints: Vec<String> = (0..50).map(|i| i.to_string()).collect();
    let strs: Vec<String> = (0..50).map(|i| format!("s{i}")).collect();
    let big: Vec<String> = (0..500).map(|i| format!("s{i}")).collect();
    for members in [&ints, &strs, &big] {
        for count in [0, 1, 7, 40, 49, 50, 80] {
            let mut s = SetValue::from_members(members.iter().map(|m| m.as_bytes()));
            let before: BTreeSet<Vec<u8>> = s.iter().map(|m| m.into_owned()).collect();
            let popped = s.pop_random(count);
            assert_eq!(popped.len(), count.min(members.len()));
            let popped: BTreeSet<Vec<u8>> = popped.iter().map(|m| m.to_vec()).collect();
            assert_eq!(popped.len(), count.min(members.len()), "distinct");
            let after: BTreeSet<Vec<u8>> = s.iter().map(|m| m.into_owned()).collect();
            assert!(popped.is_disjoint(&after));
            assert_eq!(popped.union(&after).cloned().collect::<BTreeSet<_>>(), before);
        }
    }
}

#[test]
fn random_members_cover_the_set() {
    for members in [vec!["1", "2", "3"], vec!["a", "b", "c"]] {
        let s = SetValue::from_members(members.iter().map(|m| m.as_bytes()));
        let mut seen = BTreeSet::new();
        for _ in 0..200 {
            seen.insert(s.random().unwrap().into_owned());
        }
        assert_eq!(seen.len(), 3);
        let picked = s.members_at([2, 0, 7]);
        assert_eq!(picked.len(), 2);
    }
    assert!(SetValue::default().random().is_none());
    for (size, count) in [(10, 3), (10, 9), (1000, 5), (5, 5)] {
        let p = distinct_positions(size, count);
        let distinct: BTreeSet<usize> = p.iter().copied().collect();
        assert_eq!((p.len(), distinct.len()), (count, count));
        assert!(p.iter().all(|&i| i < size));
    }
}
