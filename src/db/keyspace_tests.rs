//! Shard and lock-group layout of the keyspace.

use super::*;

fn key(i: usize) -> Vec<u8> {
    format!("key:{i}").into_bytes()
}

#[test]
fn every_lock_layout_finds_the_same_keys() {
    for (asked, locks) in [(1, 1), (3, 2), (4, 4), (64, 64), (1000, 64)] {
        let ks = Keyspace::with_locks(2, asked);
        assert_eq!(ks.locks(), locks);
        for i in 0..300 {
            let k = key(i);
            let mut l = ks.lock_keys(i % 2, [&k[..]]);
            l.set(&k, Value::str(b"v"));
        }
        // Several keys under one lock set: each is found in its shard.
        let (a, b, c, d) = (key(0), key(2), key(4), key(1));
        let mut l = ks.lock_keys(0, [&a[..], &b[..], &c[..], &d[..]]);
        for k in [&a, &b, &c] {
            assert!(l.read(k).is_some(), "{locks} locks: {:?}", String::from_utf8_lossy(k));
        }
        assert!(l.read(&d).is_none(), "key 1 lives in database 1");
        // Relocked in place, every shard is reachable.
        l.relock_all();
        assert!(l.is_all());
        for i in (0..300).step_by(2) {
            assert!(l.read(&key(i)).is_some(), "{locks} locks after relock_all: key {i}");
        }
        drop(l);
        let mut all = ks.lock_all();
        assert_eq!(all.db_len(0), 150);
        assert_eq!(all.db_len(1), 150);
        assert_eq!(all.shards_mut().count(), SHARDS);
        drop(all);
        assert_eq!(ks.db_sizes(), vec![(150, 0), (150, 0)]);
        // A background sweep reaches a key through its shard number.
        let k = key(7);
        let s = ks.lock_shard(ks.shard_of(&k));
        assert!(s.dbs[1].map.contains_key(&k[..]));
    }
}

#[test]
fn warming_keys_changes_nothing() {
    for locks in [1, 64] {
        let ks = Keyspace::with_locks(2, locks);
        let (live, gone) = (key(1), key(2));
        {
            let mut l = ks.lock_keys(0, [&live[..], &gone[..]]);
            l.set(&live, Value::str(b"v"));
            // Expired already: only a command's lookup may remove it.
            l.set_with_expiry(&gone, Value::str(b"v"), 1);
        }
        let lru_before = ks.lock_shard(ks.shard_of(&live)).dbs[0].map.get(&live[..]).map(|e| e.lru);
        let absent = key(3);
        ks.warm(0, &[&live[..], &gone[..], &absent[..]]);
        ks.warm(1, &[&live[..]]);
        ks.warm(9, &[&live[..]]);
        let s = ks.lock_shard(ks.shard_of(&gone));
        assert!(s.dbs[0].map.contains_key(&gone[..]), "{locks} locks: the expired key was removed");
        drop(s);
        let s = ks.lock_shard(ks.shard_of(&live));
        assert_eq!(s.dbs[0].map.get(&live[..]).map(|e| e.lru), lru_before);
        drop(s);
        assert_eq!(ks.db_sizes(), vec![(2, 1), (0, 0)]);
    }
}

#[test]
fn parts_grow_at_different_moments_and_keep_their_step_when_emptied() {
    let ks = Keyspace::with_locks(1, 64);
    let fill = |ks: &Keyspace| {
        for i in 0..64 * 3000 {
            let k = key(i);
            ks.lock_keys(0, [&k[..]]).set(&k, Value::str(b"v"));
        }
        (0..SHARDS).map(|s| ks.lock_shard(s).dbs[0].map.capacity()).collect::<Vec<_>>()
    };
    let caps = fill(&ks);
    let distinct: std::collections::HashSet<_> = caps.iter().collect();
    // With one growth step for all, parts of about equal length would
    // share a handful of capacities, and all grow at once.
    assert!(distinct.len() >= 32, "only {} distinct capacities: {caps:?}", distinct.len());
    for s in 0..SHARDS {
        drop(ks.lock_shard(s).dbs[0].take());
    }
    assert_eq!(ks.db_sizes(), vec![(0, 0)]);
    assert_eq!(fill(&ks), caps, "emptying a part changed how it grows");
}
