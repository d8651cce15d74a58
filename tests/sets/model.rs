//! Set commands against a `BTreeSet` model (random commands across the
//! intset limit, SDIFF with either algorithm), and what small sets cost.

use std::collections::BTreeSet;

use super::common::{self, int, ok, Raw, Resp, Server};
use super::common::{encoding, sorted_strings};
use super::{raw_members, sadd};

#[test]
fn sdiff_agrees_with_a_model_whichever_algorithm() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let mut rng = fastrand::Rng::with_seed(8);
    for round in 0..40 {
        let nsets = 1 + rng.usize(..5);
        let mut model: Vec<BTreeSet<String>> = Vec::new();
        let mut keys = Vec::new();
        for i in 0..nsets {
            let key = format!("d{i}");
            c.call(&["DEL", &key]);
            let n = [0, 3, 50, 300][rng.usize(..4)];
            let ms: BTreeSet<String> = (0..n)
                .map(|_| if rng.bool() { rng.u16(..400).to_string() } else { format!("s{}", rng.u16(..400)) })
                .collect();
            if !ms.is_empty() {
                sadd(&mut c, &key, ms.iter().cloned());
            }
            model.push(ms);
            keys.push(key);
        }
        let want: BTreeSet<String> =
            model[0].iter().filter(|m| model[1..].iter().all(|o| !o.contains(*m))).cloned().collect();
        let mut args = vec!["SDIFF".to_string()];
        args.extend(keys.iter().cloned());
        assert_eq!(sorted_strings(c.call_owned(&args)), want.into_iter().collect::<Vec<_>>(), "round {round}");
    }
}

/// One random set command, applied to the server and to a model.
fn model_step(c: &mut Raw, model: &mut [BTreeSet<String>; 3], rng: &mut fastrand::Rng) {
    let keys = ["k0", "k1", "k2"];
    let k = rng.usize(..3);
    // Integers most of the time, so the intset form is exercised too.
    let member = |rng: &mut fastrand::Rng| {
        if rng.u8(..5) == 0 {
            format!("s{}", rng.u8(..30))
        } else {
            rng.i16(-40..40).to_string()
        }
    };
    let sorted_model = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>();
    match rng.usize(..12) {
        0..=2 => {
            let ms: Vec<String> = (0..1 + rng.usize(..4)).map(|_| member(rng)).collect();
            let new = ms.iter().collect::<BTreeSet<_>>().into_iter().filter(|m| !model[k].contains(*m)).count();
            assert_eq!(sadd(c, keys[k], ms.iter().cloned()), new as i64);
            model[k].extend(ms);
        }
        3 | 4 => {
            let ms: Vec<String> = (0..1 + rng.usize(..3)).map(|_| member(rng)).collect();
            let mut args = vec!["SREM".to_string(), keys[k].to_string()];
            args.extend(ms.iter().cloned());
            let gone = ms.iter().collect::<BTreeSet<_>>().into_iter().filter(|m| model[k].remove(*m)).count();
            assert_eq!(c.call_owned(&args), int(gone as i64));
        }
        5 => {
            let m = member(rng);
            assert_eq!(c.call(&["SISMEMBER", keys[k], &m]), int(model[k].contains(&m) as i64));
            assert_eq!(c.call(&["SCARD", keys[k]]), int(model[k].len() as i64));
        }
        6 => {
            let n = rng.usize(..6);
            let popped = raw_members(c.call(&["SPOP", keys[k], &n.to_string()]));
            assert_eq!(popped.len(), n.min(model[k].len()));
            for m in popped {
                assert!(model[k].remove(&m), "popped {m} not in the model");
            }
        }
        7 => {
            let (d, m) = (rng.usize(..3), member(rng));
            let moved = model[k].contains(&m);
            assert_eq!(c.call(&["SMOVE", keys[k], keys[d], &m]), int(moved as i64));
            if moved && d != k {
                model[k].remove(&m);
                model[d].insert(m);
            }
        }
        8 => {
            let want: BTreeSet<String> = model[0].intersection(&model[1]).cloned().collect();
            assert_eq!(sorted_strings(c.call(&["SINTER", "k0", "k1"])), sorted_model(&want));
            assert_eq!(c.call(&["SINTERCARD", "2", "k0", "k1"]), int(want.len() as i64));
        }
        9 => {
            let want: BTreeSet<String> = model[1].union(&model[2]).cloned().collect();
            assert_eq!(sorted_strings(c.call(&["SUNION", "k1", "k2"])), sorted_model(&want));
        }
        10 => {
            let want: BTreeSet<String> = model[2].difference(&model[0]).cloned().collect();
            assert_eq!(sorted_strings(c.call(&["SDIFF", "k2", "k0"])), sorted_model(&want));
        }
        _ => {
            let (d, a, b) = (rng.usize(..3), rng.usize(..3), rng.usize(..3));
            let result: BTreeSet<String> = match rng.usize(..3) {
                0 => {
                    c.call(&["SINTERSTORE", keys[d], keys[a], keys[b]]);
                    model[a].intersection(&model[b]).cloned().collect()
                }
                1 => {
                    c.call(&["SUNIONSTORE", keys[d], keys[a], keys[b]]);
                    model[a].union(&model[b]).cloned().collect()
                }
                _ => {
                    c.call(&["SDIFFSTORE", keys[d], keys[a], keys[b]]);
                    model[a].difference(&model[b]).cloned().collect()
                }
            };
            model[d] = result;
        }
    }
    assert_eq!(c.call(&["EXISTS", keys[k]]), int(!model[k].is_empty() as i64), "empty sets are deleted");
}

#[test]
fn set_commands_agree_with_a_model() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    // A small intset limit so sets cross it both ways often.
    assert_eq!(c.call(&["CONFIG", "SET", "set-max-intset-entries", "16"]), ok());
    let mut rng = fastrand::Rng::with_seed(21);
    let mut model: [BTreeSet<String>; 3] = Default::default();
    let mut encodings = BTreeSet::new();
    for _ in 0..4000 {
        model_step(&mut c, &mut model, &mut rng);
        if !model[0].is_empty() {
            encodings.insert(encoding(&mut c, "k0"));
        }
    }
    assert_eq!(encodings.len(), 2, "{encodings:?}");
    for (k, m) in ["k0", "k1", "k2"].iter().zip(&model) {
        assert_eq!(sorted_strings(c.call(&["SMEMBERS", k])), m.iter().cloned().collect::<Vec<_>>());
    }
}

fn used_memory(c: &mut Raw) -> i64 {
    let info = common::text(c.call(&["INFO", "memory"]));
    common::info_field(&info, "used_memory").unwrap().parse().unwrap()
}

/// Bytes per key after creating `N` keys `set:<i>` with `cmd` (the key
/// and `members(i)` as arguments), on a fresh server.
fn cost_per_key(cmd: &str, members: impl Fn(usize) -> Vec<String>) -> i64 {
    const N: usize = 20_000;
    let s = Server::start(&[]);
    let mut c = s.raw();
    let before = used_memory(&mut c);
    let mut buf = Vec::new();
    for i in 0..N {
        let key = format!("set:{i:012}");
        let ms = members(i);
        let mut args: Vec<&[u8]> = vec![cmd.as_bytes(), key.as_bytes()];
        args.extend(ms.iter().map(|m| m.as_bytes()));
        buf.extend(common::encode_cmd(&args));
    }
    c.send(&buf);
    for _ in 0..N {
        assert!(matches!(c.read(), Resp::Int(_) | Resp::Simple(_)));
    }
    (used_memory(&mut c) - before) / N as i64
}

/// Small sets cost less than in Redis 7.0. Measured there (7.0.15,
/// jemalloc) with the same keys: 112 B per key holding a one-byte string,
/// 132-135 B per key holding a 10-member intset (a 16 B object and a 32 B
/// intset), 827 B per key holding a 10-member set of short strings (a hash
/// table). A key's own cost (table slot, entry) is the keyspace's; what a
/// set adds to it is checked against Redis's: at most one smallest block
/// (24 usable bytes) for the intset, far less than a hash table for the
/// strings.
#[test]
fn small_sets_cost_less_than_in_redis() {
    let base = cost_per_key("SET", |_| vec!["x".to_string()]);
    let ints = cost_per_key("SADD", |i| (0..10).map(|e| ((i + e) % 1000).to_string()).collect());
    let strs = cost_per_key("SADD", |i| (0..10).map(|e| format!("mem:{}", (i + e) % 1000)).collect());
    eprintln!("per key: {base} B with a string, {ints} B with an intset, {strs} B with a string set");
    // 4 B of slack: the keyspace tables grow in steps.
    assert!(ints - base <= 24 + 4, "an intset of 10 costs {} B beyond its key", ints - base);
    assert!(ints - base < 48, "Redis: 16 B object + 32 B intset");
    assert!(strs < 827 / 2, "{strs} B per 10-member string set");
}
