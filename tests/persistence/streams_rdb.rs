//! Streams in RDB files, exchanged with the real `redis-server` 7.0 both
//! ways: each side builds streams (entries with the same and other fields,
//! integers and binary data, more than a node's 100 entries, values past a
//! node's 4096 bytes, XDEL and XTRIM tombstones, XSETID, empty streams, a
//! TTL, consumer groups with pending entries from XREADGROUP and XCLAIM,
//! consumers without any, unknown `entries-read`), saves, and the other
//! side must answer XRANGE, XINFO STREAM FULL, XINFO GROUPS and XPENDING
//! alike (node counts and idle times aside). Skipped with a message when
//! `redis-server` is not installed.

use super::*;

use redis::Value;

/// Runs one command, ignoring its reply.
fn run(c: &mut Connection, args: &[&str]) {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    let _: Value = cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"));
}

/// Creates the streams (the same commands on either server; every id is
/// explicit, so both build the same streams).
fn populate_streams(c: &mut Connection) {
    for args in [
        "XADD s:basic 1-1 name alice age 30",
        "XADD s:basic 1-2 name bob age 41",
        "XADD s:basic 1-3 city paris",
        "XADD s:basic 2-0 name carol age -7 note hello",
        "XADD s:basic 5-3 name dave age 12345678901",
        "XADD s:basic 6-0 name eve age 0",
        "XDEL s:basic 1-2",
        "XGROUP CREATE s:basic g1 0",
        "XGROUP CREATE s:basic g2 $",
        "XREADGROUP GROUP g1 alice COUNT 2 STREAMS s:basic >",
        "XREADGROUP GROUP g1 bob COUNT 1 STREAMS s:basic >",
        "XGROUP CREATECONSUMER s:basic g1 idle",
        "XACK s:basic g1 1-1",
        "XADD s:empty 1-1 a b",
        "XDEL s:empty 1-1",
        "XADD s:trimmed MAXLEN 0 5-5 x y",
        "PEXPIREAT s:trimmed 4102444800000",
        "XADD s:setid 10-1 f v",
        "XSETID s:setid 99-5 ENTRIESADDED 50 MAXDELETEDID 9-9",
        "XGROUP CREATE s:setid gx 10-0 ENTRIESREAD 42",
        "XGROUP CREATE s:empty gempty $ MKSTREAM",
    ] {
        run(c, &args.split(' ').collect::<Vec<_>>());
    }
    let mut p = redis::pipe();
    for i in 1..=250u64 {
        let id = format!("{}-0", 1000 + i);
        if i.is_multiple_of(17) {
            p.cmd("XADD").arg("s:many").arg(id).arg("other").arg(i).arg("extra").arg(format!("x{i}")).ignore();
        } else {
            p.cmd("XADD").arg("s:many").arg(id).arg("field").arg(format!("v{i}")).arg("num").arg(i * 1000).ignore();
        }
    }
    for i in 1..=12usize {
        p.cmd("XADD").arg("s:big").arg(format!("{i}-0")).arg("data").arg("D".repeat(i * 500)).arg("i").arg(i).ignore();
    }
    for i in 1..=30 {
        p.cmd("XADD").arg("s:frag").arg(format!("{i}-1")).arg("k").arg(i).ignore();
    }
    p.cmd("XADD").arg("s:bin").arg("7-0").arg(&b"\x00\xff"[..]).arg(&b"\r\n"[..]).arg("").arg("empty field").ignore();
    p.cmd("XADD").arg("s:bin").arg("7-1").arg("-0").arg("007").arg("9223372036854775807").arg("-1").ignore();
    p.query::<()>(c).unwrap();
    for args in [
        "XDEL s:frag 5-1 6-1 7-1 20-1",
        "XGROUP CREATE s:frag gmid 10-1",
        "XGROUP CREATE s:frag gstart 0 ENTRIESREAD 0",
        "XREADGROUP GROUP gstart c1 COUNT 3 STREAMS s:frag >",
        "XREADGROUP GROUP gstart c2 COUNT 2 STREAMS s:frag >",
        "XCLAIM s:frag gstart c2 0 1-1",
        "XREADGROUP GROUP gstart c1 COUNT 1 STREAMS s:frag 0",
        "XTRIM s:frag MINID 3-1",
        "XGROUP CREATE s:many g 1100-0",
        "XREADGROUP GROUP g reader COUNT 120 STREAMS s:many >",
        "XDEL s:many 1101-0 1150-0",
        "XACK s:many g 1102-0 1103-0",
    ] {
        run(c, &args.split(' ').collect::<Vec<_>>());
    }
}

/// `v` without the `radix-tree-*` pairs of XINFO STREAM's reply (how many
/// nodes hold the entries is the implementation's business).
fn without_node_counts(v: Value) -> Value {
    strip_pairs(v, &[b"radix-tree-keys", b"radix-tree-nodes"])
}

/// XPENDING's extended form without the idle times (they move on).
fn without_idle(v: Value) -> Value {
    let Value::Array(items) = v else { return v };
    Value::Array(
        items
            .into_iter()
            .map(|e| match e {
                Value::Array(mut f) if f.len() == 4 => {
                    f.remove(2);
                    Value::Array(f)
                }
                other => other,
            })
            .collect(),
    )
}

fn query(c: &mut Connection, args: &[&[u8]]) -> Value {
    let mut cmd = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c).unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(args[0])))
}

/// Everything a client sees of the streams of database 0, by key.
fn read_streams(c: &mut Connection) -> BTreeMap<Vec<u8>, Vec<Value>> {
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(c).unwrap();
    let mut out = BTreeMap::new();
    for k in keys {
        let t: String = redis::cmd("TYPE").arg(&k).query(c).unwrap();
        if t != "stream" {
            continue;
        }
        let mut view = vec![
            query(c, &[b"XRANGE", &k, b"-", b"+"]),
            query(c, &[b"XLEN", &k]),
            without_node_counts(query(c, &[b"XINFO", b"STREAM", &k])),
            without_node_counts(query(c, &[b"XINFO", b"STREAM", &k, b"FULL"])),
            query(c, &[b"XINFO", b"GROUPS", &k]),
            query(c, &[b"PEXPIRETIME", &k]),
        ];
        let groups: Vec<Vec<(String, Value)>> = redis::cmd("XINFO").arg("GROUPS").arg(&k).query(c).unwrap();
        for g in groups {
            let name = g.iter().find(|(f, _)| f == "name").map(|(_, v)| v.clone()).unwrap();
            let Value::BulkString(name) = name else { panic!("{name:?}") };
            view.push(query(c, &[b"XPENDING", &k, &name]));
            view.push(without_idle(query(c, &[b"XPENDING", &k, &name, b"-", b"+", b"1000"])));
            view.push(without_consumer_idle(query(c, &[b"XINFO", b"CONSUMERS", &k, &name])));
        }
        out.insert(k, view);
    }
    out
}

/// XINFO CONSUMERS without the idle times.
fn without_consumer_idle(v: Value) -> Value {
    let Value::Array(consumers) = v else { return v };
    Value::Array(consumers.into_iter().map(|c| strip_pairs(c, &[b"idle", b"inactive"])).collect())
}

/// A flat key-value reply without the pairs named in `drop`.
fn strip_pairs(v: Value, drop: &[&[u8]]) -> Value {
    let Value::Array(items) = v else { return v };
    let mut out = Vec::new();
    let mut it = items.into_iter();
    while let (Some(k), Some(val)) = (it.next(), it.next()) {
        if !matches!(&k, Value::BulkString(b) if drop.contains(&&b[..])) {
            out.push(k);
            out.push(val);
        }
    }
    Value::Array(out)
}

/// Every difference between two servers' views, one line each.
fn assert_same_streams(ours: &BTreeMap<Vec<u8>, Vec<Value>>, theirs: &BTreeMap<Vec<u8>, Vec<Value>>) {
    assert_eq!(ours.keys().collect::<Vec<_>>(), theirs.keys().collect::<Vec<_>>());
    for (k, want) in theirs {
        let got = &ours[k];
        assert_eq!(got.len(), want.len(), "{}: number of groups", String::from_utf8_lossy(k));
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert_eq!(g, w, "{} view {i}:\n ours  {g:?}\n redis {w:?}", String::from_utf8_lossy(k));
        }
    }
}

/// The streams we expect [`populate_streams`] to leave (a sanity check of
/// the view, so an empty view cannot pass).
fn check_shape(v: &BTreeMap<Vec<u8>, Vec<Value>>) {
    let keys: Vec<&[u8]> = v.keys().map(|k| &k[..]).collect();
    assert_eq!(keys, [&b"s:basic"[..], b"s:big", b"s:bin", b"s:empty", b"s:frag", b"s:many", b"s:setid", b"s:trimmed"]);
    assert_eq!(v[&b"s:many"[..]][1], Value::Int(248));
    assert_eq!(v[&b"s:frag"[..]][1], Value::Int(24));
    assert_eq!(v[&b"s:trimmed"[..]][5], Value::Int(4_102_444_800_000));
}

/// `redis-check-rdb` accepts `file` (skipped when not installed).
fn check_rdb(file: &Path) {
    match Command::new("redis-check-rdb").arg(file).output() {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success() && text.contains("RDB looks OK"), "redis-check-rdb: {text}");
        }
        Err(_) => eprintln!("SKIPPED: redis-check-rdb is not installed"),
    }
}

#[test]
fn streams_saved_here_load_in_redis() {
    let srv = Server::start(&[]);
    let mut c = srv.conn();
    populate_streams(&mut c);
    let ours = read_streams(&mut c);
    check_shape(&ours);
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    let rdir = tempfile::tempdir().unwrap();
    let dump = rdir.path().join("dump.rdb");
    std::fs::copy(srv.dir.path().join("dump.rdb"), &dump).unwrap();
    check_rdb(&dump);
    // Stored as Redis 7.0 stores streams: type 19.
    let file = std::fs::read(&dump).unwrap();
    let pat = [&[19u8, 7][..], b"s:basic"].concat();
    assert!(file.windows(pat.len()).any(|w| w == pat), "s:basic is not stored as type 19");
    let Some(redis) = redis_server(rdir.path()) else { return };
    assert_same_streams(&ours, &read_streams(&mut redis.conn()));
}

#[test]
fn streams_saved_by_redis_load_here() {
    let rdir = tempfile::tempdir().unwrap();
    let Some(redis) = redis_server(rdir.path()) else { return };
    let mut rc = redis.conn();
    populate_streams(&mut rc);
    let theirs = read_streams(&mut rc);
    check_shape(&theirs);
    let _: () = redis::cmd("SAVE").query(&mut rc).unwrap();
    drop(redis);
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(rdir.path().join("dump.rdb"), dir.path().join("dump.rdb")).unwrap();
    let srv = Server::start_in(dir, &[]);
    let mut c = srv.conn();
    assert_same_streams(&read_streams(&mut c), &theirs);
    // Through DEBUG RELOAD (our save, then the other loader) too.
    let _: () = redis::cmd("DEBUG").arg("RELOAD").query(&mut c).unwrap();
    assert_same_streams(&read_streams(&mut c), &theirs);
    // The loaded streams go on as Redis's would: XADD * after the last id,
    // and the groups deliver what they had not.
    let id: String = redis::cmd("XADD").arg("s:setid").arg("*").arg("k").arg("v").query(&mut c).unwrap();
    assert!(id.split('-').next().unwrap().parse::<u64>().unwrap() > 99, "{id}");
    let got: Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("g2")
        .arg("late")
        .arg("STREAMS")
        .arg("s:basic")
        .arg(">")
        .query(&mut c)
        .unwrap();
    assert_eq!(got, Value::Nil, "g2 had read everything");
}

#[test]
fn bgsave_and_restart_keep_streams() {
    let srv = Server::start(&[]);
    let mut c = srv.conn();
    populate_streams(&mut c);
    let before = read_streams(&mut c);
    let _: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    wait_info_at_least(&mut c, "rdb_saves", 1);
    wait_bgsave_done(&mut c);
    assert_eq!(info(&mut c, "rdb_last_bgsave_status"), "ok");
    let srv = Server::start_in(srv.into_dir(false), &[]);
    assert_same_streams(&read_streams(&mut srv.conn()), &before);
}

/// An AOF rewrite with the RDB preamble writes streams into the base as
/// RDB (type 19), and a restart loads them back.
#[test]
fn aof_rewrite_with_rdb_preamble_keeps_streams() {
    let srv = Server::start(&["--appendonly", "yes", "--set", "aof-use-rdb-preamble=yes"]);
    let mut c = srv.conn();
    populate_streams(&mut c);
    super::multipart::rewrite_and_wait(&mut c);
    let before = read_streams(&mut c);
    let srv = Server::start_in(srv.into_dir(true), &["--appendonly", "yes"]);
    assert_same_streams(&read_streams(&mut srv.conn()), &before);
}
