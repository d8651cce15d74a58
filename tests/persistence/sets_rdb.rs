//! Sets and sorted sets in RDB files, exchanged with the real
//! `redis-server` 7.0 both ways: each side creates intsets (small, 64-bit,
//! past 512 members), string sets, packed and skiplist sorted sets (past
//! 128 members, long members, infinite and 17-digit scores), saves, and the
//! other side must read the same members, scores (compared by their bits)
//! and `OBJECT ENCODING`, and TTLs. Skipped with a message when
//! `redis-server` is not installed.

use super::*;

/// One set or sorted set as read through commands: its encoding and its
/// content (members sorted; sorted-set pairs in ZRANGE order with the
/// scores' bits), and its PEXPIRETIME.
#[derive(Debug, PartialEq, Eq)]
enum Agg {
    Set(String, Vec<Vec<u8>>, i64),
    ZSet(String, Vec<(Vec<u8>, u64)>, i64),
}

/// Every set and sorted set of database 0, by key.
fn read_aggs(c: &mut Connection) -> BTreeMap<Vec<u8>, Agg> {
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(c).unwrap();
    let mut out = BTreeMap::new();
    for k in keys {
        let t: String = redis::cmd("TYPE").arg(&k).query(c).unwrap();
        let enc: String = redis::cmd("OBJECT").arg("ENCODING").arg(&k).query(c).unwrap();
        let ttl: i64 = redis::cmd("PEXPIRETIME").arg(&k).query(c).unwrap();
        let v = match t.as_str() {
            "set" => {
                let mut m: Vec<Vec<u8>> = redis::cmd("SMEMBERS").arg(&k).query(c).unwrap();
                m.sort();
                Agg::Set(enc, m, ttl)
            }
            "zset" => {
                let flat: Vec<Vec<u8>> =
                    redis::cmd("ZRANGE").arg(&k).arg(0).arg(-1).arg("WITHSCORES").query(c).unwrap();
                let pairs = flat
                    .chunks(2)
                    .map(|p| {
                        let s: f64 = std::str::from_utf8(&p[1]).unwrap().parse().unwrap();
                        (p[0].clone(), s.to_bits())
                    })
                    .collect();
                Agg::ZSet(enc, pairs, ttl)
            }
            _ => continue,
        };
        out.insert(k, v);
    }
    out
}

/// Scores with 17 significant digits, that 15 or 16 would not keep.
const DIGITS17: [&str; 6] = [
    "0.30000000000000004",
    "1.2345678901234567e-5",
    "123456789.12345679",
    "-2.7182818284590451",
    "9007199254740993",
    "4.6116860184273879e+18",
];

/// Creates the sets and sorted sets (the same commands on either server).
fn populate_sets(c: &mut Connection) {
    let mut p = redis::pipe();
    p.cmd("SADD").arg("set:int16").arg(&[1, 2, 3, -5, 32767][..]).ignore();
    p.cmd("SADD").arg("set:int64").arg(&[i64::MIN, 0, i64::MAX, -70000][..]).ignore();
    let many: Vec<i64> = (0..600).map(|i| i * 37 - 5000).collect();
    p.cmd("SADD").arg("set:ints600").arg(&many[..]).ignore();
    p.cmd("SADD").arg("set:ints512").arg(&many[..512]).ignore();
    p.cmd("SADD").arg("set:strs").arg(&["a", "b", "", "007", "-0", "x y"][..]).ignore();
    p.cmd("SADD").arg("set:bin").arg(&b"\x00\xff\r\n"[..]).arg("12").ignore();
    p.cmd("SADD").arg("set:mixed").arg(&["1", "2", "three"][..]).ignore();
    let strs: Vec<String> = (0..1000).map(|i| format!("member:{i}:{}", "s".repeat(i % 40))).collect();
    p.cmd("SADD").arg("set:big").arg(&strs[..]).ignore();
    p.cmd("SADD").arg("set:ttl").arg(&[10, 20][..]).cmd("PEXPIREAT").arg("set:ttl").arg(4_102_444_800_000u64).ignore();
    let mut small = redis::cmd("ZADD");
    small.arg("zset:small");
    for (s, m) in [("1", "a"), ("2.5", "b"), ("-inf", "c"), ("inf", "d"), ("0.1", "e"), ("1e20", "g"), ("3", "h")] {
        small.arg(s).arg(m);
    }
    for (i, s) in DIGITS17.iter().enumerate() {
        small.arg(*s).arg(format!("d17:{i}"));
    }
    p.add_command(small).ignore();
    let mut big = redis::cmd("ZADD");
    big.arg("zset:big");
    for i in 0..200 {
        big.arg(format!("{}", i as f64 / 3.0 - 20.0)).arg(format!("m{i}"));
    }
    big.arg("inf").arg("top").arg("-inf").arg("bottom").arg(DIGITS17[0]).arg("d17");
    p.add_command(big).ignore();
    let mut edge = redis::cmd("ZADD");
    edge.arg("zset:128");
    for i in 0..128 {
        edge.arg(i * 1000).arg(format!("{i:064}"));
    }
    p.add_command(edge).ignore();
    p.cmd("ZADD").arg("zset:long").arg(1).arg("l".repeat(65)).arg(2).arg("short").ignore();
    p.cmd("ZADD").arg("zset:inf").arg("inf").arg("up").arg("-inf").arg("down").ignore();
    p.cmd("ZADD").arg("zset:ttl").arg(1.5).arg("m").cmd("PEXPIREAT").arg("zset:ttl").arg(4_102_444_800_123u64).ignore();
    p.query::<()>(c).unwrap();
}

/// The encodings Redis 7.0 gives the values of [`populate_sets`].
fn expected_encodings() -> Vec<(&'static str, &'static str)> {
    vec![
        ("set:int16", "intset"),
        ("set:int64", "intset"),
        ("set:ints600", "hashtable"),
        ("set:ints512", "intset"),
        ("set:strs", "hashtable"),
        ("set:bin", "hashtable"),
        ("set:mixed", "hashtable"),
        ("set:big", "hashtable"),
        ("set:ttl", "intset"),
        ("zset:small", "listpack"),
        ("zset:big", "skiplist"),
        ("zset:128", "listpack"),
        ("zset:long", "skiplist"),
        ("zset:inf", "listpack"),
        ("zset:ttl", "listpack"),
    ]
}

fn check_encodings(aggs: &BTreeMap<Vec<u8>, Agg>, who: &str) {
    assert_eq!(aggs.len(), expected_encodings().len(), "{who}: {:?}", aggs.keys().collect::<Vec<_>>());
    for (k, want) in expected_encodings() {
        let enc = match &aggs[k.as_bytes()] {
            Agg::Set(e, ..) | Agg::ZSet(e, ..) => e,
        };
        assert_eq!(enc, want, "{who}: OBJECT ENCODING {k}");
    }
}

/// Every difference between two servers' views, one line each.
fn assert_same_aggs(ours: &BTreeMap<Vec<u8>, Agg>, theirs: &BTreeMap<Vec<u8>, Agg>) {
    let diffs: Vec<String> = theirs
        .iter()
        .filter(|(k, v)| ours.get(*k) != Some(*v))
        .map(|(k, v)| format!("{}: redis {v:?}\n  ours {:?}", String::from_utf8_lossy(k), ours.get(k)))
        .collect();
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    assert_eq!(ours.len(), theirs.len());
}

/// `redis-check-rdb` accepts `file` (skipped when not installed).
fn redis_check_rdb(file: &Path) {
    match Command::new("redis-check-rdb").arg(file).output() {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success() && text.contains("RDB looks OK"), "redis-check-rdb: {text}");
        }
        Err(_) => eprintln!("SKIPPED: redis-check-rdb is not installed"),
    }
}

#[test]
fn sets_and_sorted_sets_saved_here_load_in_redis() {
    let srv = Server::start(&[]);
    let mut c = srv.conn();
    populate_sets(&mut c);
    let ours = read_aggs(&mut c);
    check_encodings(&ours, "ours");
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    let rdir = tempfile::tempdir().unwrap();
    let dump = rdir.path().join("dump.rdb");
    std::fs::copy(srv.dir.path().join("dump.rdb"), &dump).unwrap();
    redis_check_rdb(&dump);
    // Stored as Redis 7.0 stores them: intsets (11), string sets (2),
    // listpacks (17), binary scores (5).
    let file = std::fs::read(&dump).unwrap();
    for (key, t) in [("set:int16", 11), ("set:ints600", 2), ("set:strs", 2), ("zset:small", 17), ("zset:big", 5)] {
        let mut pat = vec![t, key.len() as u8];
        pat.extend_from_slice(key.as_bytes());
        assert!(file.windows(pat.len()).any(|w| w == pat), "{key} is not stored as type {t}");
    }
    let Some(redis) = redis_server(rdir.path()) else { return };
    let theirs = read_aggs(&mut redis.conn());
    check_encodings(&theirs, "redis");
    assert_same_aggs(&ours, &theirs);
}

#[test]
fn sets_and_sorted_sets_saved_by_redis_load_here() {
    let rdir = tempfile::tempdir().unwrap();
    let Some(redis) = redis_server(rdir.path()) else { return };
    let mut rc = redis.conn();
    populate_sets(&mut rc);
    let theirs = read_aggs(&mut rc);
    check_encodings(&theirs, "redis");
    let _: () = redis::cmd("SAVE").query(&mut rc).unwrap();
    drop(redis);
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(rdir.path().join("dump.rdb"), dir.path().join("dump.rdb")).unwrap();
    let srv = Server::start_in(dir, &[]);
    let mut c = srv.conn();
    assert_same_aggs(&read_aggs(&mut c), &theirs);
    // Through DEBUG RELOAD (our save, then the other loader) too.
    let _: () = redis::cmd("DEBUG").arg("RELOAD").query(&mut c).unwrap();
    assert_same_aggs(&read_aggs(&mut c), &theirs);
}

#[test]
fn bgsave_and_restart_keep_sets_and_sorted_sets() {
    let srv = Server::start(&[]);
    let mut c = srv.conn();
    populate_sets(&mut c);
    let before = read_aggs(&mut c);
    let _: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    wait_info_at_least(&mut c, "rdb_saves", 1);
    wait_bgsave_done(&mut c);
    assert_eq!(info(&mut c, "rdb_last_bgsave_status"), "ok");
    let srv = Server::start_in(srv.into_dir(false), &[]);
    assert_same_aggs(&read_aggs(&mut srv.conn()), &before);
}

/// An AOF rewrite without the RDB preamble writes sets and sorted sets as
/// SADD/ZADD commands (scores that parse back to the same bits), and a
/// restart replays them into the same members, scores, TTLs and encodings.
#[test]
fn aof_rewrite_as_commands_keeps_sets_and_sorted_sets() {
    let srv = Server::start(&["--appendonly", "yes", "--set", "aof-use-rdb-preamble=no"]);
    let mut c = srv.conn();
    populate_sets(&mut c);
    super::multipart::rewrite_and_wait(&mut c);
    let before = read_aggs(&mut c);
    let srv = Server::start_in(srv.into_dir(true), &["--appendonly", "yes"]);
    let after = read_aggs(&mut srv.conn());
    check_encodings(&after, "replayed AOF");
    assert_same_aggs(&after, &before);
}

/// Many small sets and sorted sets, as in a cache: Redis stores each as
/// one blob (an intset, a listpack), and so must we.
#[test]
fn small_sets_dump_as_compactly_as_in_redis() {
    let Some((theirs, ours)) = dump_sizes(|p| {
        for i in 0..2000 {
            let ints: Vec<i64> = (0..10).map(|j| i * 100 + j * 7).collect();
            p.cmd("SADD").arg(format!("set:{i:06}")).arg(&ints[..]).ignore();
            let mut z = redis::cmd("ZADD");
            z.arg(format!("zset:{i:06}"));
            for j in 0..10 {
                z.arg(if j % 2 == 0 { format!("{}", i + j) } else { format!("{}.25", i + j) }).arg(format!("m:{j:03}"));
            }
            p.add_command(z).ignore();
        }
    }) else {
        return;
    };
    assert!(ours <= theirs + theirs / 50, "our dump is {ours} bytes, Redis's {theirs}");
}
