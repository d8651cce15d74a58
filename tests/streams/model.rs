//! Random stream commands against the server and a `BTreeMap` model:
//! XADD (explicit, `ms-*` and `*` ids, with exact trimming), XDEL, XTRIM
//! (exact, and `~` checked against its bounds), XRANGE/XREVRANGE with
//! every bound form and COUNT, XLEN, and XINFO STREAM's counters. Fixed
//! seeds; three node layouts (tiny nodes, default nodes, byte-limited
//! nodes) so entries cross node boundaries.

use std::collections::BTreeMap;

use super::common::{arr, bulk, bulks, err, int, ok, text, Raw, Resp, Server};
use super::{field, ERR_ID_SMALL};

type Id = (u64, u64);
type Fields = Vec<(String, String)>;

const MIN: Id = (0, 0);
const MAX: Id = (u64::MAX, u64::MAX);

/// The model of one stream.
#[derive(Default)]
struct Model {
    entries: BTreeMap<Id, Fields>,
    last: Id,
    added: u64,
    max_deleted: Id,
}

impl Model {
    fn add(&mut self, id: Id, fields: Fields) {
        assert!(id > self.last);
        self.entries.insert(id, fields);
        self.last = id;
        self.added += 1;
    }

    /// Removes the first `n` entries (trimming never moves max-deleted).
    fn drop_front(&mut self, n: usize) {
        for _ in 0..n {
            self.entries.pop_first();
        }
    }

    /// How many entries an exact MAXLEN / MINID trim removes.
    fn exact_trim_count(&self, how: &Trim) -> usize {
        match how {
            Trim::MaxLen(n) => self.entries.len().saturating_sub(*n),
            Trim::MinId(min) => self.entries.range(..*min).count(),
        }
    }

    fn range(&self, start: Id, end: Id, rev: bool, count: Option<usize>) -> Vec<(Id, Fields)> {
        if start > end {
            return Vec::new();
        }
        let it = self.entries.range(start..=end).map(|(k, v)| (*k, v.clone()));
        let all: Vec<(Id, Fields)> = if rev { it.rev().collect() } else { it.collect() };
        all.into_iter().take(count.unwrap_or(usize::MAX)).collect()
    }
}

enum Trim {
    MaxLen(usize),
    MinId(Id),
}

fn fmt(id: Id) -> String {
    format!("{}-{}", id.0, id.1)
}

fn parse(s: &str) -> Id {
    let (ms, seq) = s.split_once('-').expect("ms-seq");
    (ms.parse().unwrap(), seq.parse().unwrap())
}

fn next(id: Id) -> Id {
    if id.1 == u64::MAX {
        (id.0 + 1, 0)
    } else {
        (id.0, id.1 + 1)
    }
}

fn prev(id: Id) -> Id {
    if id.1 == 0 {
        (id.0 - 1, u64::MAX)
    } else {
        (id.0, id.1 - 1)
    }
}

fn entries_reply(entries: &[(Id, Fields)]) -> Resp {
    arr(entries
        .iter()
        .map(|(id, f)| {
            let flat: Vec<&str> = f.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]).collect();
            arr(vec![bulk(&fmt(*id)), bulks(&flat)])
        })
        .collect())
}

/// Random fields: often the same names (the node's master fields), values
/// numbers (integer-encoded) or strings, sometimes empty.
fn random_fields(rng: &mut fastrand::Rng) -> Fields {
    let n = rng.usize(1..4);
    let same = rng.u8(..3) > 0;
    (0..n)
        .map(|i| {
            let name = if same { format!("f{i}") } else { format!("x{}", rng.u8(..6)) };
            let value = match rng.u8(..4) {
                0 => rng.i64(-1_000_000..1_000_000).to_string(),
                1 => String::new(),
                2 => "v".repeat(rng.usize(1..40)),
                _ => format!("s{}", rng.u32(..1000)),
            };
            (name, value)
        })
        .collect()
}

/// An id near the stream's content: an existing id, or one around them.
fn near_id(rng: &mut fastrand::Rng, m: &Model) -> Id {
    if !m.entries.is_empty() && rng.bool() {
        let i = rng.usize(..m.entries.len());
        return *m.entries.keys().nth(i).unwrap();
    }
    let lo = m.entries.keys().next().map_or(1, |id| id.0.max(2) - 1);
    let hi = m.last.0.max(lo) + 1;
    (rng.u64(lo..=hi), rng.u64(0..4))
}

/// A range bound as typed (`-`, `+`, `ms`, `ms-seq`, `(ms-seq`, `(ms`)
/// and the inclusive id it means.
fn bound(rng: &mut fastrand::Rng, m: &Model, end: bool) -> (String, Id) {
    let id = near_id(rng, m);
    match rng.u8(..8) {
        0 if end => ("+".into(), MAX),
        0 => ("-".into(), MIN),
        1 if end => (id.0.to_string(), (id.0, u64::MAX)),
        1 => (id.0.to_string(), (id.0, 0)),
        2 if end => (format!("({}", id.0), prev((id.0, u64::MAX))),
        2 => (format!("({}", id.0), next((id.0, 0))),
        3 | 4 if end && id != MIN => (format!("({}", fmt(id)), prev(id)),
        3 | 4 if !end => (format!("({}", fmt(id)), next(id)),
        _ => (fmt(id), id),
    }
}

fn xadd_args<'a>(key: &'a str, trim: &'a [String], id: &'a str, fields: &'a Fields) -> Vec<&'a str> {
    let mut a = vec!["XADD", key];
    a.extend(trim.iter().map(String::as_str));
    a.push(id);
    a.extend(fields.iter().flat_map(|(k, v)| [k.as_str(), v.as_str()]));
    a
}

/// Compares everything XRANGE and XINFO STREAM tell with the model.
fn check_all(c: &mut Raw, key: &str, m: &Model, step: usize) {
    let all: Vec<(Id, Fields)> = m.entries.iter().map(|(k, v)| (*k, v.clone())).collect();
    assert_eq!(c.call(&["XRANGE", key, "-", "+"]), entries_reply(&all), "step {step}");
    let info = c.call(&["XINFO", "STREAM", key]);
    assert_eq!(field(&info, "length"), int(m.entries.len() as i64), "step {step}");
    assert_eq!(field(&info, "last-generated-id"), bulk(&fmt(m.last)), "step {step}");
    assert_eq!(field(&info, "entries-added"), int(m.added as i64), "step {step}");
    assert_eq!(field(&info, "max-deleted-entry-id"), bulk(&fmt(m.max_deleted)), "step {step}");
    let first = m.entries.keys().next().copied().unwrap_or(MIN);
    assert_eq!(field(&info, "recorded-first-entry-id"), bulk(&fmt(first)), "step {step}");
    let edge = |e: Option<(&Id, &Fields)>| match e {
        Some((id, f)) => match entries_reply(&[(*id, f.clone())]) {
            Resp::Array(Some(mut v)) => v.remove(0),
            _ => unreachable!(),
        },
        None => Resp::Bulk(None),
    };
    assert_eq!(field(&info, "first-entry"), edge(m.entries.first_key_value()), "step {step}");
    assert_eq!(field(&info, "last-entry"), edge(m.entries.last_key_value()), "step {step}");
}

fn run(c: &mut Raw, key: &str, seed: u64, steps: usize) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut m = Model::default();
    for step in 0..steps {
        match rng.u8(..20) {
            // XADD with an explicit id above the last.
            0..=5 => {
                let ms = if m.last.0 == 0 { rng.u64(1..3) } else { m.last.0 + rng.u64(0..3) };
                let seq = if ms == m.last.0 { m.last.1 + rng.u64(1..4) } else { rng.u64(0..4) };
                let fields = random_fields(&mut rng);
                let (arg, id) = if rng.u8(..4) == 0 {
                    let seq = if ms == m.last.0 { m.last.1 + 1 } else { 0 };
                    (format!("{ms}-*"), (ms, seq))
                } else {
                    (fmt((ms, seq)), (ms, seq))
                };
                assert_eq!(c.call(&xadd_args(key, &[], &arg, &fields)), bulk(&fmt(id)), "step {step}");
                m.add(id, fields);
            }
            // XADD with an id not above the last.
            6 if m.last != MIN => {
                let id = near_id(&mut rng, &m).min(m.last);
                let fields = random_fields(&mut rng);
                let want = if id == MIN {
                    err("ERR The ID specified in XADD must be greater than 0-0")
                } else {
                    err(ERR_ID_SMALL)
                };
                assert_eq!(c.call(&xadd_args(key, &[], &fmt(id), &fields)), want, "step {step}");
            }
            // XADD `*`.
            7 => {
                let fields = random_fields(&mut rng);
                let id = parse(&text(c.call(&xadd_args(key, &[], "*", &fields))));
                assert!(id > m.last, "step {step}: auto id {id:?} after {:?}", m.last);
                m.add(id, fields);
            }
            // XADD with an exact trim.
            8 => {
                let fields = random_fields(&mut rng);
                let id = next(m.last.max((1, 0)));
                let how = if rng.bool() {
                    Trim::MaxLen(rng.usize(0..m.entries.len() + 3))
                } else {
                    Trim::MinId(near_id(&mut rng, &m))
                };
                let trim = match &how {
                    Trim::MaxLen(n) => vec!["MAXLEN".to_string(), "=".into(), n.to_string()],
                    Trim::MinId(min) => vec!["MINID".to_string(), fmt(*min)],
                };
                assert_eq!(c.call(&xadd_args(key, &trim, &fmt(id), &fields)), bulk(&fmt(id)), "step {step}");
                m.add(id, fields);
                let n = m.exact_trim_count(&how);
                m.drop_front(n);
            }
            // XDEL of existing and missing ids.
            9..=11 => {
                let ids: Vec<Id> = (0..rng.usize(1..4)).map(|_| near_id(&mut rng, &m)).collect();
                let mut uniq = ids.clone();
                uniq.sort();
                uniq.dedup();
                let mut deleted = 0;
                for id in uniq {
                    if m.entries.remove(&id).is_some() {
                        deleted += 1;
                        m.max_deleted = m.max_deleted.max(id);
                    }
                }
                let args: Vec<String> = ids.iter().map(|id| fmt(*id)).collect();
                let mut a = vec!["XDEL", key];
                a.extend(args.iter().map(String::as_str));
                assert_eq!(c.call(&a), int(deleted), "step {step}");
            }
            // XTRIM, exact or approximate.
            12 | 13 => {
                let how = if rng.bool() {
                    Trim::MaxLen(rng.usize(0..m.entries.len() + 3))
                } else {
                    Trim::MinId(near_id(&mut rng, &m))
                };
                let approx = rng.u8(..3) == 0;
                let mut a = vec!["XTRIM".to_string(), key.to_string()];
                match &how {
                    Trim::MaxLen(n) => a.extend(["MAXLEN".to_string(), n.to_string()]),
                    Trim::MinId(min) => a.extend(["MINID".to_string(), fmt(*min)]),
                }
                if approx {
                    a.insert(3, "~".into());
                } else if rng.bool() {
                    a.insert(3, "=".into());
                }
                let exact = m.exact_trim_count(&how);
                if m.entries.is_empty() && m.last == MIN {
                    // No key yet.
                    assert_eq!(c.call_owned(&a), int(0), "step {step}");
                    continue;
                }
                let Resp::Int(removed) = c.call_owned(&a) else { panic!("step {step}: {a:?}") };
                if approx {
                    assert!(removed as usize <= exact, "step {step}: {a:?} removed {removed} > {exact}");
                } else {
                    assert_eq!(removed as usize, exact, "step {step}: {a:?}");
                }
                m.drop_front(removed as usize);
            }
            // XRANGE / XREVRANGE.
            _ => {
                let (s_arg, start) = bound(&mut rng, &m, false);
                let (e_arg, end) = bound(&mut rng, &m, true);
                let count = (rng.u8(..3) == 0).then(|| rng.usize(1..6));
                let rev = rng.bool();
                let mut a = if rev {
                    vec!["XREVRANGE".to_string(), key.into(), e_arg.clone(), s_arg.clone()]
                } else {
                    vec!["XRANGE".to_string(), key.into(), s_arg.clone(), e_arg.clone()]
                };
                if let Some(n) = count {
                    a.extend(["COUNT".to_string(), n.to_string()]);
                }
                let want = entries_reply(&m.range(start, end, rev, count));
                assert_eq!(c.call_owned(&a), want, "step {step}: {a:?}");
            }
        }
        assert_eq!(c.call(&["XLEN", key]), int(m.entries.len() as i64), "step {step}");
        if step % 50 == 49 && m.last != MIN {
            check_all(c, key, &m, step);
        }
    }
    check_all(c, key, &m, steps);
}

#[test]
fn random_commands_match_a_model() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    for (round, (max_entries, max_bytes)) in [("4", "4096"), ("100", "4096"), ("0", "300")].into_iter().enumerate() {
        assert_eq!(c.call(&["CONFIG", "SET", "stream-node-max-entries", max_entries]), ok());
        assert_eq!(c.call(&["CONFIG", "SET", "stream-node-max-bytes", max_bytes]), ok());
        run(&mut c, &format!("s{round}"), 7 + round as u64, 1500);
    }
}
