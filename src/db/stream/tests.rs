//! The stream structure against a plain ordered map of the same entries,
//! across node boundaries, deletions and both trimming strategies.

use std::collections::BTreeMap;

use super::*;

type Model = BTreeMap<StreamId, Vec<(Vec<u8>, Vec<u8>)>>;

fn entry(i: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
    if i.is_multiple_of(7) {
        vec![(b"other".to_vec(), i.to_string().into_bytes())]
    } else {
        vec![(b"a".to_vec(), i.to_string().into_bytes()), (b"b".to_vec(), vec![b'x'; (i % 5) as usize])]
    }
}

fn add(s: &mut StreamValue, m: &mut Model, id: StreamId, e: Vec<(Vec<u8>, Vec<u8>)>) {
    let pairs: Vec<(&[u8], &[u8])> = e.iter().map(|(f, v)| (&f[..], &v[..])).collect();
    s.append(id, &pairs);
    m.insert(id, e);
}

fn check(s: &StreamValue, m: &Model) {
    assert_eq!(s.len() as usize, m.len());
    let got: Vec<_> = s
        .range(StreamId::MIN, StreamId::MAX, false, 0)
        .into_iter()
        .map(|(id, p)| (id, p.into_iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect::<Vec<_>>()))
        .collect();
    let want: Vec<_> = m.iter().map(|(k, v)| (*k, v.clone())).collect();
    assert_eq!(got, want);
    let rev: Vec<StreamId> = s.range(StreamId::MIN, StreamId::MAX, true, 0).into_iter().map(|e| e.0).collect();
    let want_rev: Vec<StreamId> = m.keys().rev().copied().collect();
    assert_eq!(rev, want_rev);
    assert_eq!(s.first_id, m.keys().next().copied().unwrap_or_default());
}

#[test]
fn append_range_delete_follow_a_model() {
    let mut s = StreamValue::default();
    let mut m = Model::new();
    for i in 1..=1000u64 {
        add(&mut s, &mut m, StreamId::new(i / 3, i % 3), entry(i));
    }
    check(&s, &m);
    assert!(s.node_count() >= 10);
    for i in (1..=1000u64).filter(|i| i.is_multiple_of(3) || i.is_multiple_of(11)) {
        let id = StreamId::new(i / 3, i % 3);
        assert!(s.delete(id));
        assert!(!s.delete(id));
        m.remove(&id);
    }
    check(&s, &m);
    let (a, b) = (StreamId::new(40, 1), StreamId::new(90, 0));
    let got: Vec<StreamId> = s.range(a, b, false, 5).into_iter().map(|e| e.0).collect();
    let want: Vec<StreamId> = m.range(a..=b).take(5).map(|(k, _)| *k).collect();
    assert_eq!(got, want);
    let got: Vec<StreamId> = s.range(a, b, true, 5).into_iter().map(|e| e.0).collect();
    let want: Vec<StreamId> = m.range(a..=b).rev().take(5).map(|(k, _)| *k).collect();
    assert_eq!(got, want);
}

#[test]
fn trimming_exact_and_approximate() {
    let mut s = StreamValue::default();
    let mut m = Model::new();
    for i in 1..=1000u64 {
        add(&mut s, &mut m, StreamId::new(i, 0), entry(i));
    }
    // ~ keeps whole nodes: 100 entries each by default.
    assert_eq!(s.trim(Trim::MaxLen(555), true, 0), 400);
    assert_eq!(s.len(), 600);
    assert_eq!(s.trim(Trim::MaxLen(555), false, 0), 45);
    while m.len() > 555 {
        m.pop_first();
    }
    check(&s, &m);
    s.trim(Trim::MinId(StreamId::new(700, 0)), false, 0);
    m.retain(|k, _| *k >= StreamId::new(700, 0));
    check(&s, &m);
    s.trim(Trim::MaxLen(0), false, 0);
    m.clear();
    check(&s, &m);
    assert_eq!(s.last_id, StreamId::new(1000, 0));
}

#[test]
fn group_deliveries_and_acks_keep_both_pels_in_step() {
    let mut g = ConsumerGroup::new(StreamId::MIN, Some(0));
    let (alice, bob) = (Bytes::from_static(b"alice"), Bytes::from_static(b"bob"));
    g.consumer(&alice, 1);
    g.consumer(&bob, 1);
    g.deliver(StreamId::new(1, 0), &alice, 5);
    g.deliver(StreamId::new(2, 0), &alice, 5);
    g.assign(StreamId::new(1, 0), &bob).delivery_count += 1;
    assert_eq!(g.pel[&StreamId::new(1, 0)].delivery_count, 2);
    assert_eq!(g.consumers[&alice].pel.len(), 1);
    assert_eq!(g.consumers[&bob].pel.len(), 1);
    assert!(g.ack(StreamId::new(1, 0)));
    assert!(!g.ack(StreamId::new(1, 0)));
    assert!(g.consumers[&bob].pel.is_empty());
    assert_eq!(g.remove_consumer(b"alice"), Some(1));
    assert!(g.pel.is_empty());
}
