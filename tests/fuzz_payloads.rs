//! A bounded, deterministic stand-in for the cargo-fuzz targets in `fuzz/`
//! (which need nightly): valid DUMP payloads of every type and encoding and
//! valid sparse and dense HyperLogLogs are mutated by a seeded xorshift —
//! bit flips, truncations, length fields set to extremes, bytes inserted
//! and removed — and each mutant goes through the same drivers
//! (`fuzz/drivers.rs`): RESTORE's decoder must answer a value or Redis's
//! error, the HLL code a count or `INVALIDOBJ`, never panic.
//! `FUZZ_SEED` and `FUZZ_ROUNDS` run another or a longer campaign.

mod common;

#[path = "../fuzz/drivers.rs"]
mod drivers;

use common::*;
use inmemory::db::hll::{self, Encoding};

/// xorshift64*: reproducible without a dependency's version in the way.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One to three mutations of `input`, the first `keep` bytes spared.
fn mutate(rng: &mut Rng, input: &[u8], keep: usize) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..=rng.below(3) {
        let len = v.len();
        if len <= keep {
            v.push(rng.next() as u8);
            continue;
        }
        let at = keep + rng.below(len - keep);
        match rng.below(6) {
            // A bit flipped.
            0 | 1 => v[at] ^= 1 << rng.below(8),
            // Cut short.
            2 => v.truncate(at),
            // A length or count field (or anything) set to an extreme.
            3 => {
                let extremes: [&[u8]; 6] = [b"\xff", b"\x00", b"\x7f", b"\x80", b"\xff\xff\xff\xff", b"\xc0"];
                let e = extremes[rng.below(extremes.len())];
                for (i, b) in e.iter().enumerate() {
                    if let Some(x) = v.get_mut(at + i) {
                        *x = *b;
                    }
                }
            }
            // A byte inserted.
            4 => v.insert(at, rng.next() as u8),
            // A run removed.
            _ => {
                let n = 1 + rng.below(8);
                v.drain(at..(at + n).min(len));
            }
        }
    }
    v
}

/// DUMP payloads of every type, in every encoding this server writes.
fn valid_payloads() -> Vec<Vec<u8>> {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let mut run = |args: &[String]| {
        let r = c.call_owned(args);
        assert!(!matches!(r, Resp::Error(_)), "{args:?}: {r:?}");
    };
    let cmd = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    let many = |head: &str, n: usize, item: &dyn Fn(usize) -> String| {
        let mut v = cmd(head);
        v.extend((0..n).map(item));
        v
    };
    run(&cmd("SET str hello"));
    run(&cmd("SET int 12345"));
    run(&cmd("SET neg -9000000000"));
    run(&["SET".into(), "long".into(), "abc".repeat(200)]);
    run(&many("RPUSH list", 10, &|i| format!("e{i}")));
    run(&many("RPUSH biglist", 600, &|i| format!("element number {i}")));
    run(&many("HSET hash", 8, &|i| format!("f{}", i / 2 * 2 + i % 2)));
    run(&many("HSET bighash", 400, &|i| format!("field-{i}")));
    run(&many("SADD intset", 20, &|i| (i * 7).to_string()));
    run(&many("SADD lpset", 20, &|i| format!("m{i}")));
    run(&many("SADD bigset", 300, &|i| format!("member-{i}")));
    run(&many("ZADD zset", 10, &|i| if i % 2 == 0 { format!("{}.5", i) } else { format!("z{i}") }));
    run(&many("ZADD bigzset", 400, &|i| if i % 2 == 0 { i.to_string() } else { format!("member-{i}") }));
    for i in 0..30 {
        run(&cmd(&format!("XADD stream * f{} v{i}", i % 3)));
    }
    run(&cmd("XGROUP CREATE stream g1 0"));
    run(&cmd("XGROUP CREATE stream g2 $"));
    run(&cmd("XREADGROUP GROUP g1 alice COUNT 5 STREAMS stream >"));
    run(&cmd("XREADGROUP GROUP g1 bob COUNT 3 STREAMS stream >"));
    run(&cmd("XADD emptystream MAXLEN 0 * a b"));
    let keys = [
        "str",
        "int",
        "neg",
        "long",
        "list",
        "biglist",
        "hash",
        "bighash",
        "intset",
        "lpset",
        "bigset",
        "zset",
        "bigzset",
        "stream",
        "emptystream",
    ];
    keys.iter()
        .map(|k| match c.call(&["DUMP", k]) {
            Resp::Bulk(Some(p)) => p,
            r => panic!("DUMP {k}: {r:?}"),
        })
        .collect()
}

#[test]
fn mutated_restore_payloads_never_panic() {
    let seeds = valid_payloads();
    for p in &seeds {
        assert!(drivers::restore_payload(p), "a valid payload was refused");
    }
    let mut rng = Rng(env("FUZZ_SEED", 0x5eed_1e55) | 1);
    let (mut restored, mut refused) = (0, 0);
    for _ in 0..env("FUZZ_ROUNDS", 20_000) {
        let seed = &seeds[rng.below(seeds.len())];
        // Mostly the value is mutated and the footer made right again, so
        // the decoder (not the checksum) sees the damage.
        let body = &seed[..seed.len() - 10];
        let mutant = match rng.below(4) {
            0 => mutate(&mut rng, seed, 0),
            _ => drivers::with_footer(&mutate(&mut rng, body, 0)),
        };
        if drivers::restore_payload(&mutant) {
            restored += 1;
        } else {
            refused += 1;
        }
    }
    // The mutations reach past the checksum and the type byte.
    assert!(restored > 0 && refused > 0, "restored {restored}, refused {refused}");
}

/// Valid HLL strings: empty, sparse of several sizes, dense.
fn valid_hlls() -> Vec<Vec<u8>> {
    let mut out = vec![hll::new_sparse()];
    for n in [3usize, 40, 300] {
        let mut s = hll::new_sparse();
        for i in 0..n {
            hll::add(&mut s, format!("el-{i}").as_bytes()).expect("add");
        }
        assert_eq!(hll::validate(&s), Ok(Encoding::Sparse));
        out.push(s);
    }
    let mut d = out[3].clone();
    hll::to_dense(&mut d).expect("to dense");
    for i in 0..5000 {
        hll::add(&mut d, format!("more-{i}").as_bytes()).expect("add");
    }
    out.push(d);
    out
}

#[test]
fn mutated_hll_strings_never_panic() {
    let seeds = valid_hlls();
    for s in &seeds {
        assert!(drivers::hll_string(s).is_some());
        assert!(hll::count(s).is_ok());
    }
    let mut rng = Rng(env("FUZZ_SEED", 0x0411_cafe) | 1);
    let (mut valid, mut corrupt) = (0, 0);
    for _ in 0..env("FUZZ_ROUNDS", 20_000) {
        let seed = &seeds[rng.below(seeds.len())];
        // The header is mostly spared so the register walkers see the damage.
        let keep = if rng.below(8) == 0 { 0 } else { hll::HDR };
        let mutant = if rng.below(8) == 0 {
            // Random opcodes behind a valid sparse header.
            let body: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
            drivers::behind_sparse_header(&body)
        } else {
            mutate(&mut rng, seed, keep)
        };
        if drivers::hll_string(&mutant).is_some() {
            match hll::count(&mutant) {
                Ok(_) => valid += 1,
                Err(_) => corrupt += 1,
            }
        }
    }
    assert!(valid > 0 && corrupt > 0, "valid {valid}, corrupt {corrupt}");
}

/// The same mutants through a real server: the replies are Redis's texts.
#[test]
fn server_answers_mutants_with_redis_errors() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let mut rng = Rng(env("FUZZ_SEED", 0x00c0_ffee) | 1);
    let hlls = valid_hlls();
    for _ in 0..300 {
        let seed = &hlls[rng.below(hlls.len())];
        let m = mutate(&mut rng, seed, hll::HDR);
        c.cmd(&[b"SET", b"h", &m]);
        assert_eq!(c.read(), ok());
        for args in
            [&["PFCOUNT", "h"][..], &["PFADD", "h", "x", "y"], &["PFMERGE", "d", "h"], &["PFDEBUG", "GETREG", "h"]]
        {
            if let Resp::Error(e) = c.call(args) {
                assert!(
                    e == "INVALIDOBJ Corrupted HLL object detected"
                        || e == "WRONGTYPE Key is not a valid HyperLogLog string value.",
                    "{args:?}: {e}"
                );
            }
        }
        c.call(&["DEL", "d"]);
    }
    let payload = match c.call(&["DUMP", "h"]) {
        Resp::Bulk(Some(p)) => p,
        r => panic!("DUMP: {r:?}"),
    };
    for _ in 0..300 {
        let m = mutate(&mut rng, &payload, 0);
        c.cmd(&[b"RESTORE", b"r", b"0", &m, b"REPLACE"]);
        match c.read() {
            Resp::Simple(s) => assert_eq!(s, "OK"),
            Resp::Error(e) => assert!(drivers::RESTORE_ERRORS.contains(&e.as_str()), "RESTORE: {e}"),
            r => panic!("RESTORE: {r:?}"),
        }
    }
    assert_eq!(c.call(&["PING"]), status("PONG"));
}
