//! Small-collection encodings: hashes and lists are packed while small and
//! switch to per-element structures past Redis's limits. These tests check
//! the switch points Redis reports (`OBJECT ENCODING`), that every command
//! gives the same answers on both sides of a switch (random operations
//! against a model, with tiny limits so lists convert back and forth), and
//! the memory a small collection costs.

mod common;

use common::Server;
use redis::{Commands, Connection};

fn encoding(c: &mut Connection, key: &str) -> String {
    redis::cmd("OBJECT").arg("ENCODING").arg(key).query(c).unwrap()
}

fn config_set(c: &mut Connection, name: &str, value: &str) {
    let () = redis::cmd("CONFIG").arg("SET").arg(name).arg(value).query(c).unwrap();
}

#[test]
fn hashes_switch_to_hashtable_where_redis_does_and_stay_there() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    config_set(&mut c, "hash-max-listpack-entries", "4");
    for i in 0..4 {
        let _: i64 = c.hset("h", format!("f{i}"), i).unwrap();
    }
    assert_eq!(encoding(&mut c, "h"), "listpack");
    let _: i64 = c.hset("h", "f4", 4).unwrap();
    assert_eq!(encoding(&mut c, "h"), "hashtable");
    let _: i64 = c.hdel("h", &["f0", "f1", "f2"]).unwrap();
    assert_eq!(encoding(&mut c, "h"), "hashtable", "Redis never converts back on delete");
    // A reload rebuilds the hash from scratch: packed again, as in Redis.
    let () = redis::cmd("DEBUG").arg("RELOAD").query(&mut c).unwrap();
    assert_eq!(encoding(&mut c, "h"), "listpack");
    let mut v: Vec<(String, String)> = c.hgetall("h").unwrap();
    v.sort();
    assert_eq!(v, vec![("f3".to_string(), "3".to_string()), ("f4".to_string(), "4".to_string())]);

    // A value longer than hash-max-listpack-value converts, whatever the count.
    let _: i64 = c.hset("long", "f", "x".repeat(64)).unwrap();
    assert_eq!(encoding(&mut c, "long"), "listpack");
    let _: i64 = c.hset("long", "g", "x".repeat(65)).unwrap();
    assert_eq!(encoding(&mut c, "long"), "hashtable");
    // So does a long field name, also through HINCRBY and HSETNX.
    let _: i64 = c.hincr("name", "n".repeat(65), 1).unwrap();
    assert_eq!(encoding(&mut c, "name"), "hashtable");
    let _: bool = c.hset_nx("nx", "a", "b").unwrap();
    assert_eq!(encoding(&mut c, "nx"), "listpack");
    // Limit 0: every hash is a table.
    config_set(&mut c, "hash-max-listpack-entries", "0");
    let _: i64 = c.hset("zero", "a", "b").unwrap();
    assert_eq!(encoding(&mut c, "zero"), "hashtable");
}

/// Lists report `quicklist` (Redis 7.0) whatever their storage; their
/// contents must not depend on it.
#[test]
fn lists_report_quicklist_in_both_storages() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    config_set(&mut c, "list-max-listpack-size", "3");
    let _: i64 = c.rpush("l", &["a", "b"]).unwrap();
    assert_eq!(encoding(&mut c, "l"), "quicklist");
    let _: i64 = c.rpush("l", &["c", "d", "e"]).unwrap();
    assert_eq!(encoding(&mut c, "l"), "quicklist");
    let v: Vec<String> = c.lrange("l", 0, -1).unwrap();
    assert_eq!(v, ["a", "b", "c", "d", "e"]);
}

/// One random list command, applied to the server and to a `Vec` model;
/// the replies must agree.
/// `long` is the size of the long elements (one in four).
fn list_step(c: &mut Connection, model: &mut Vec<String>, rng: &mut fastrand::Rng, long: usize) {
    let val = |rng: &mut fastrand::Rng| match rng.usize(..4) {
        0 => String::new(),
        1 => format!("{}", rng.u8(..6)),
        2 => "x".repeat(rng.usize(long..long + 2)),
        _ => format!("e{}", rng.u8(..6)),
    };
    let len = model.len() as isize;
    let idx = |rng: &mut fastrand::Rng| rng.isize(-len - 2..=len + 1);
    let norm = |i: isize| if i < 0 { len + i } else { i };
    match rng.usize(..12) {
        0 => {
            let v = val(rng);
            let n: usize = c.lpush("l", &v).unwrap();
            model.insert(0, v);
            assert_eq!(n, model.len());
        }
        1 => {
            let vs: Vec<String> = (0..rng.usize(1..4)).map(|_| val(rng)).collect();
            let n: usize = c.rpush("l", &vs).unwrap();
            model.extend(vs);
            assert_eq!(n, model.len());
        }
        2 => {
            let got: Option<String> = c.lpop("l", None).unwrap();
            assert_eq!(got, (!model.is_empty()).then(|| model.remove(0)));
        }
        3 => {
            let got: Option<String> = c.rpop("l", None).unwrap();
            assert_eq!(got, model.pop());
        }
        4 => {
            let i = idx(rng);
            let got: Option<String> = c.lindex("l", i).unwrap();
            let n = norm(i);
            assert_eq!(got, (0..len).contains(&n).then(|| model[n as usize].clone()));
        }
        5 => {
            let (i, v) = (idx(rng), val(rng));
            let got: redis::RedisResult<()> = c.lset("l", i, &v);
            let n = norm(i);
            if (0..len).contains(&n) {
                got.unwrap();
                model[n as usize] = v;
            } else {
                assert!(got.is_err());
            }
        }
        6 => {
            let (a, b) = (idx(rng), idx(rng));
            let got: Vec<String> = c.lrange("l", a, b).unwrap();
            let (s, e) = (norm(a).max(0), norm(b).min(len - 1));
            let want = if s > e || s >= len { Vec::new() } else { model[s as usize..=e as usize].to_vec() };
            assert_eq!(got, want);
        }
        7 => {
            let (a, b) = (idx(rng), idx(rng));
            let () = c.ltrim("l", a, b).unwrap();
            let (s, e) = (norm(a).max(0), norm(b).min(len - 1));
            *model = if s > e || s >= len { Vec::new() } else { model[s as usize..=e as usize].to_vec() };
        }
        8 => {
            let (count, v) = (rng.isize(-2..=2), val(rng));
            let n: usize = c.lrem("l", count, &v).unwrap();
            let hits: Vec<usize> = (0..model.len()).filter(|&i| model[i] == v).collect();
            let gone: Vec<usize> = match count {
                0 => hits,
                k if k > 0 => hits.into_iter().take(k as usize).collect(),
                k => hits.into_iter().rev().take((-k) as usize).collect(),
            };
            assert_eq!(n, gone.len());
            let mut i = 0;
            model.retain(|_| {
                i += 1;
                !gone.contains(&(i - 1))
            });
        }
        9 => {
            let (pivot, v, after) = (val(rng), val(rng), rng.bool());
            let got: i64 = redis::cmd("LINSERT")
                .arg("l")
                .arg(if after { "AFTER" } else { "BEFORE" })
                .arg(&pivot)
                .arg(&v)
                .query(c)
                .unwrap();
            match model.iter().position(|x| *x == pivot) {
                Some(p) if !model.is_empty() => {
                    model.insert(if after { p + 1 } else { p }, v);
                    assert_eq!(got, model.len() as i64);
                }
                _ => assert_eq!(got, if model.is_empty() { 0 } else { -1 }),
            }
        }
        10 => {
            let (v, rank) = (val(rng), [1i64, 2, -1, -2][rng.usize(..4)]);
            let got: Vec<usize> =
                redis::cmd("LPOS").arg("l").arg(&v).arg("RANK").arg(rank).arg("COUNT").arg(0).query(c).unwrap();
            let mut hits: Vec<usize> = (0..model.len()).filter(|&i| model[i] == v).collect();
            if rank < 0 {
                hits.reverse();
            }
            let want: Vec<usize> = hits.into_iter().skip(rank.unsigned_abs() as usize - 1).collect();
            assert_eq!(got, want);
        }
        _ => {
            let n: usize = c.llen("l").unwrap();
            assert_eq!(n, model.len());
        }
    }
}

#[test]
fn list_commands_agree_with_a_model_across_conversions() {
    // Tiny limits: a count of 4, then 4 KiB (the smallest byte limit) with
    // long elements of 1.5 KiB. Either way the list crosses the limit often.
    for (limit, long) in [("4", 30), ("-1", 1500)] {
        let s = Server::start(&[]);
        let mut c = s.conn();
        config_set(&mut c, "list-max-listpack-size", limit);
        let mut rng = fastrand::Rng::with_seed(42);
        let mut model = Vec::new();
        let (mut crossings, mut was_big) = (0, false);
        for _ in 0..3000 {
            list_step(&mut c, &mut model, &mut rng, long);
            let bytes: usize = model.iter().map(|e| e.len() + 1).sum();
            let big = if limit == "4" { model.len() > 4 } else { bytes > 4096 };
            crossings += (big != was_big) as usize;
            was_big = big;
        }
        assert!(crossings > 20, "limit {limit}: only {crossings} crossings");
        let got: Vec<String> = c.lrange("l", 0, -1).unwrap();
        assert_eq!(got, model, "limit {limit}");
    }
}

#[test]
fn hash_commands_agree_with_a_model_across_conversion() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    config_set(&mut c, "hash-max-listpack-entries", "8");
    let mut rng = fastrand::Rng::with_seed(9);
    for round in 0..4 {
        let key = format!("h{round}");
        let mut model: Vec<(String, String)> = Vec::new();
        for _ in 0..400 {
            let f = format!("f{}", rng.u8(..12));
            match rng.usize(..5) {
                0 | 1 => {
                    let v = format!("v{}", rng.u16(..));
                    let new: i64 = c.hset(&key, &f, &v).unwrap();
                    match model.iter_mut().find(|(x, _)| *x == f) {
                        Some(slot) => {
                            assert_eq!(new, 0);
                            slot.1 = v;
                        }
                        None => {
                            assert_eq!(new, 1);
                            model.push((f, v));
                        }
                    }
                }
                2 => {
                    let n: i64 = c.hdel(&key, &f).unwrap();
                    let before = model.len();
                    model.retain(|(x, _)| *x != f);
                    assert_eq!(n as usize, before - model.len());
                }
                3 => {
                    let got: Option<String> = c.hget(&key, &f).unwrap();
                    assert_eq!(got, model.iter().find(|(x, _)| *x == f).map(|(_, v)| v.clone()));
                }
                _ => {
                    let n: usize = c.hlen(&key).unwrap();
                    assert_eq!(n, model.len());
                }
            }
        }
        let mut got: Vec<(String, String)> = c.hgetall(&key).unwrap();
        let mut want = model.clone();
        got.sort();
        want.sort();
        assert_eq!(got, want);
        // A full HSCAN sees every field once.
        let mut cursor = 0u64;
        let mut seen = Vec::new();
        loop {
            let (next, items): (u64, Vec<String>) =
                redis::cmd("HSCAN").arg(&key).arg(cursor).arg("COUNT").arg(3).query(&mut c).unwrap();
            seen.extend(items.chunks(2).map(|p| p[0].clone()));
            if next == 0 {
                break;
            }
            cursor = next;
        }
        seen.sort();
        assert_eq!(seen, want.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>());
    }
}

fn used_memory(c: &mut Connection) -> i64 {
    let info: String = redis::cmd("INFO").arg("memory").query(c).unwrap();
    info.lines().find_map(|l| l.strip_prefix("used_memory:")).unwrap().trim().parse().unwrap()
}

/// Issue 4's goal: a small collection costs no more than in Redis 7.0
/// (~416 B per 10-field hash, ~385 B per 10-element list, key included).
#[test]
fn small_hashes_and_lists_cost_less_than_in_redis() {
    const N: usize = 20_000;
    let s = Server::start(&[]);
    let mut c = s.conn();
    let before = used_memory(&mut c);
    let mut p = redis::pipe();
    for i in 0..N {
        let fields: Vec<(String, String)> =
            (0..10).map(|f| (format!("fld:{f:04}"), format!("val:{:04}", (i + f) % 10000))).collect();
        p.hset_multiple(format!("hsh:{i:012}"), &fields).ignore();
    }
    let () = p.query(&mut c).unwrap();
    let per_hash = (used_memory(&mut c) - before) / N as i64;
    eprintln!("{per_hash} bytes per 10-field hash");
    assert!(per_hash < 416, "{per_hash} bytes per 10-field hash");

    // A fresh server: the keyspace's tables keep their capacity after a flush.
    let s = Server::start(&[]);
    let mut c = s.conn();
    let before = used_memory(&mut c);
    let mut p = redis::pipe();
    for i in 0..N {
        let items: Vec<String> = (0..10).map(|e| format!("elem:{:03}", (i + e) % 1000)).collect();
        p.rpush(format!("lst:{i:012}"), &items).ignore();
    }
    let () = p.query(&mut c).unwrap();
    let per_list = (used_memory(&mut c) - before) / N as i64;
    eprintln!("{per_list} bytes per 10-element list");
    assert!(per_list < 385, "{per_list} bytes per 10-element list");
}
