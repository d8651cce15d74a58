//! Random sorted-set commands against the server and a `BTreeMap` model.

use std::collections::BTreeMap;

use super::common::*;

/// The model: member → score.
type Model = BTreeMap<String, f64>;

fn model_sorted(m: &Model) -> Vec<(String, f64)> {
    let mut v: Vec<(String, f64)> = m.iter().map(|(k, s)| (k.clone(), *s)).collect();
    v.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    v
}

fn fmt(s: f64) -> String {
    if s == s.trunc() && s.abs() < 1e15 {
        format!("{}", s as i64)
    } else {
        format!("{s}")
    }
}

#[test]
fn random_commands_match_a_model() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    for round in 0..2 {
        let mut m = Model::new();
        let key = format!("k{round}");
        let universe = if round == 0 { 60 } else { 400 };
        for _ in 0..4000 {
            let member = format!("m{}", fastrand::u32(..universe));
            let score = fastrand::i32(-50..50) as f64 / 4.0;
            match fastrand::u8(..10) {
                0..=3 => {
                    let new = !m.contains_key(&member);
                    m.insert(member.clone(), score);
                    assert_eq!(c.call(&["ZADD", &key, &fmt(score), &member]), int(new as i64));
                }
                4 => {
                    let had = m.remove(&member).is_some();
                    assert_eq!(c.call(&["ZREM", &key, &member]), int(had as i64));
                }
                5 => {
                    let want = m.get(&member).map(|s| s + score);
                    if let Some(w) = want {
                        m.insert(member.clone(), w);
                    }
                    let r = c.call(&["ZADD", &key, "XX", "INCR", &fmt(score), &member]);
                    assert_eq!(r, want.map_or(nil(), |w| bulk(&fmt(w))));
                }
                6 => {
                    let sorted = model_sorted(&m);
                    let rank = sorted.iter().position(|(k, _)| *k == member);
                    assert_eq!(c.call(&["ZRANK", &key, &member]), rank.map_or(nil(), |r| int(r as i64)));
                }
                7 => {
                    let (lo, hi) = (score.min(score + 5.0), score + 5.0);
                    let want: Vec<String> = model_sorted(&m)
                        .into_iter()
                        .filter(|(_, s)| *s > lo && *s <= hi)
                        .flat_map(|(k, s)| [k, fmt(s)])
                        .collect();
                    let r = c.call(&["ZRANGEBYSCORE", &key, &format!("({}", fmt(lo)), &fmt(hi), "WITHSCORES"]);
                    assert_eq!(strings(r), want);
                    let cnt = c.call(&["ZCOUNT", &key, &format!("({}", fmt(lo)), &fmt(hi)]);
                    assert_eq!(cnt, int((want.len() / 2) as i64));
                }
                8 => {
                    let sorted = model_sorted(&m);
                    let (a, b) = (fastrand::i64(-10..10), fastrand::i64(-10..10));
                    let r = c.call(&["ZREVRANGE", &key, &a.to_string(), &b.to_string()]);
                    let len = sorted.len() as i64;
                    let norm = |i: i64| if i < 0 { len + i } else { i };
                    let (s0, e0) = (norm(a).max(0), norm(b).min(len - 1));
                    let mut rev: Vec<String> = sorted.iter().rev().map(|(k, _)| k.clone()).collect();
                    rev = if s0 > e0 || s0 >= len { vec![] } else { rev[s0 as usize..=e0 as usize].to_vec() };
                    assert_eq!(strings(r), rev, "ZREVRANGE {a} {b} of {sorted:?}");
                }
                _ => {
                    let n = fastrand::usize(1..4);
                    let sorted = model_sorted(&m);
                    let popped: Vec<String> = sorted.iter().take(n).flat_map(|(k, s)| [k.clone(), fmt(*s)]).collect();
                    for p in popped.chunks(2) {
                        m.remove(&p[0]);
                    }
                    assert_eq!(strings(c.call(&["ZPOPMIN", &key, &n.to_string()])), popped);
                }
            }
            assert_eq!(c.call(&["ZCARD", &key]), int(m.len() as i64));
        }
        let all: Vec<String> = model_sorted(&m).into_iter().flat_map(|(k, s)| [k, fmt(s)]).collect();
        assert_eq!(strings(c.call(&["ZRANGE", &key, "0", "-1", "WITHSCORES"])), all);
    }
}
