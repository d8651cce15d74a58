//! Bitmap commands against the real binary: SETBIT GETBIT BITCOUNT BITPOS
//! BITOP BITFIELD BITFIELD_RO, with Redis 7.0's replies and error texts,
//! integer-looking strings read as their text, the write bookkeeping
//! (dirty counter, WATCH, keyspace events, TTL kept) and a model-based
//! run of random operations against a plain byte vector.

mod common;

use std::time::Duration;

use common::{arr, bulk, err, int, items, nil, ok, Resp, Server};
use redis::Commands;

const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";
const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BAD_BIT: &str = "ERR bit is not an integer or out of range";
const BAD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// `rdb_changes_since_last_save` from INFO.
fn dirty(c: &mut redis::Connection) -> i64 {
    let info: String = redis::cmd("INFO").arg("persistence").query(c).unwrap();
    common::info_field(&info, "rdb_changes_since_last_save").unwrap().parse().unwrap()
}

#[test]
fn setbit_getbit_over_raw_resp() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SETBIT", "k", "7", "1"]), int(0));
    assert_eq!(r.call(&["SETBIT", "k", "7", "1"]), int(1));
    assert_eq!(r.call(&["GET", "k"]), bulk("\x01"));
    assert_eq!(r.call(&["GETBIT", "k", "7"]), int(1));
    assert_eq!(r.call(&["GETBIT", "k", "6"]), int(0));
    // Reads past the end are zeros; writes grow the string with zeros.
    assert_eq!(r.call(&["GETBIT", "k", "1000"]), int(0));
    assert_eq!(r.call(&["GETBIT", "missing", "0"]), int(0));
    assert_eq!(r.call(&["SETBIT", "k", "17", "1"]), int(0));
    assert_eq!(r.call(&["GET", "k"]), bulk("\x01\x00\x40"));
    assert_eq!(r.call(&["SETBIT", "k", "7", "0"]), int(1));
    assert_eq!(r.call(&["STRLEN", "k"]), int(3));
    // Errors, checked before the key.
    for bad in ["-1", "abc", "4294967296", "#1"] {
        assert_eq!(r.call(&["SETBIT", "k", bad, "1"]), err(BAD_OFFSET), "{bad}");
        assert_eq!(r.call(&["GETBIT", "k", bad]), err(BAD_OFFSET), "{bad}");
    }
    for bad in ["2", "-1", "x", ""] {
        assert_eq!(r.call(&["SETBIT", "k", "0", bad]), err(BAD_BIT), "{bad}");
    }
    assert_eq!(r.call(&["LPUSH", "l", "a"]), int(1));
    assert_eq!(r.call(&["SETBIT", "l", "0", "1"]), err(WRONGTYPE));
    assert_eq!(r.call(&["GETBIT", "l", "0"]), err(WRONGTYPE));
    assert_eq!(r.call(&["SETBIT", "k", "0"]), err("ERR wrong number of arguments for 'setbit' command"));
    // The largest offset proto-max-bulk-len allows, and one past it.
    assert_eq!(r.call(&["CONFIG", "SET", "proto-max-bulk-len", "1048576"]), ok());
    assert_eq!(r.call(&["SETBIT", "big", "8388607", "1"]), int(0));
    assert_eq!(r.call(&["STRLEN", "big"]), int(1 << 20));
    assert_eq!(r.call(&["SETBIT", "big", "8388608", "1"]), err(BAD_OFFSET));
    assert_eq!(r.call(&["BITCOUNT", "big"]), int(1));
}

#[test]
fn integer_strings_read_as_their_text() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let _: () = c.set("n", 255).unwrap();
    let text_bits: i64 = b"255".iter().map(|b| b.count_ones() as i64).sum();
    assert_eq!(c.bitcount::<_, i64>("n").unwrap(), text_bits);
    assert_eq!(c.getbit::<_, i64>("n", 2).unwrap(), 1); // '2' = 0x32 = 0011 0010
    assert_eq!(c.getbit::<_, i64>("n", 0).unwrap(), 0);
    let pos: i64 = redis::cmd("BITPOS").arg("n").arg(1).query(&mut c).unwrap();
    assert_eq!(pos, 2);
    let f: Vec<i64> = redis::cmd("BITFIELD").arg("n").arg("GET").arg("u8").arg("#1").query(&mut c).unwrap();
    assert_eq!(f, vec![b'5' as i64]);
    // Changing one: '2' (0x32) with bit 7 set is '3' (0x33).
    assert_eq!(c.setbit::<_, i64>("n", 7, true).unwrap(), 0);
    assert_eq!(c.get::<_, String>("n").unwrap(), "355");
    let enc: String = redis::cmd("OBJECT").arg("ENCODING").arg("n").query(&mut c).unwrap();
    assert_eq!(enc, "raw");
    let n: i64 = redis::cmd("BITOP").arg("NOT").arg("d").arg("n").query(&mut c).unwrap();
    assert_eq!(n, 3);
    assert_eq!(c.get::<_, Vec<u8>>("d").unwrap(), vec![!b'3', !b'5', !b'5']);
}

#[test]
fn bitcount_ranges_in_bytes_and_bits() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "s", "foobar"]), ok());
    assert_eq!(r.call(&["BITCOUNT", "s"]), int(26));
    assert_eq!(r.call(&["BITCOUNT", "s", "0", "0"]), int(4));
    assert_eq!(r.call(&["BITCOUNT", "s", "1", "1"]), int(6));
    assert_eq!(r.call(&["BITCOUNT", "s", "1", "1", "BYTE"]), int(6));
    assert_eq!(r.call(&["BITCOUNT", "s", "5", "30", "bit"]), int(17));
    assert_eq!(r.call(&["BITCOUNT", "s", "-2", "-1"]), int(7));
    assert_eq!(r.call(&["BITCOUNT", "s", "0", "1000"]), int(26));
    assert_eq!(r.call(&["BITCOUNT", "s", "-1", "-2"]), int(0));
    // A range that ends before it starts answers 0 before the unit is read.
    assert_eq!(r.call(&["BITCOUNT", "s", "-1", "-2", "nonsense"]), int(0));
    assert_eq!(r.call(&["BITCOUNT", "s", "0"]), err(SYNTAX));
    assert_eq!(r.call(&["BITCOUNT", "s", "0", "1", "words"]), err(SYNTAX));
    assert_eq!(r.call(&["BITCOUNT", "s", "0", "1", "bit", "x"]), err(SYNTAX));
    assert_eq!(r.call(&["BITCOUNT", "s", "a", "1"]), err(NOT_INT));
    // A missing key counts 0 whatever follows it.
    assert_eq!(r.call(&["BITCOUNT", "missing", "0"]), int(0));
    assert_eq!(r.call(&["SET", "empty", ""]), ok());
    assert_eq!(r.call(&["BITCOUNT", "empty", "0", "-1", "BIT"]), int(0));
}

#[test]
fn bitpos_finds_set_and_clear_bits() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "k", "\u{7f}"]), ok()); // 0111 1111
    assert_eq!(r.call(&["BITPOS", "k", "0"]), int(0));
    assert_eq!(r.call(&["BITPOS", "k", "1"]), int(1));
    let mut c = s.conn();
    let _: () = c.set("f", vec![0xffu8, 0xf0, 0x00]).unwrap();
    assert_eq!(r.call(&["BITPOS", "f", "0"]), int(12));
    assert_eq!(r.call(&["BITPOS", "f", "1", "2"]), int(-1));
    assert_eq!(r.call(&["BITPOS", "f", "1", "1", "-1"]), int(8));
    assert_eq!(r.call(&["BITPOS", "f", "1", "9", "-1", "BIT"]), int(9));
    assert_eq!(r.call(&["BITPOS", "f", "0", "0", "11", "BIT"]), int(-1));
    assert_eq!(r.call(&["BITPOS", "f", "0", "0", "12", "bit"]), int(12));
    // All ones: with no end given the string reads as followed by zeros.
    let _: () = c.set("all", vec![0xffu8; 20]).unwrap();
    assert_eq!(r.call(&["BITPOS", "all", "0"]), int(160));
    assert_eq!(r.call(&["BITPOS", "all", "0", "3"]), int(160));
    assert_eq!(r.call(&["BITPOS", "all", "0", "3", "-1"]), int(-1));
    assert_eq!(r.call(&["BITPOS", "all", "0", "30"]), int(-1));
    // Missing key: endless zeros.
    assert_eq!(r.call(&["BITPOS", "missing", "0"]), int(0));
    assert_eq!(r.call(&["BITPOS", "missing", "1"]), int(-1));
    assert_eq!(r.call(&["BITPOS", "k", "2"]), err("ERR The bit argument must be 1 or 0."));
    assert_eq!(r.call(&["BITPOS", "k", "x"]), err(NOT_INT));
    assert_eq!(r.call(&["BITPOS", "k", "1", "0", "-1", "bit", "x"]), err(SYNTAX));
    assert_eq!(r.call(&["BITPOS", "k", "1", "0", "-1", "nibble"]), err(SYNTAX));
    assert_eq!(r.call(&["LPUSH", "l", "a"]), int(1));
    assert_eq!(r.call(&["BITPOS", "l", "1"]), err(WRONGTYPE));
}

#[test]
fn bitop_operations_and_destination() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let mut r = s.raw();
    let _: () = c.set("a", vec![0xffu8, 0x0f, 0xaa]).unwrap();
    let _: () = c.set("b", vec![0x0fu8]).unwrap();
    let op = |c: &mut redis::Connection, args: &[&str]| -> i64 { redis::cmd("BITOP").arg(args).query(c).unwrap() };
    assert_eq!(op(&mut c, &["AND", "d", "a", "b"]), 3);
    assert_eq!(c.get::<_, Vec<u8>>("d").unwrap(), vec![0x0f, 0, 0]);
    assert_eq!(op(&mut c, &["or", "d", "a", "b", "missing"]), 3);
    assert_eq!(c.get::<_, Vec<u8>>("d").unwrap(), vec![0xff, 0x0f, 0xaa]);
    assert_eq!(op(&mut c, &["Xor", "d", "a", "b"]), 3);
    assert_eq!(c.get::<_, Vec<u8>>("d").unwrap(), vec![0xf0, 0x0f, 0xaa]);
    assert_eq!(op(&mut c, &["NOT", "d", "a"]), 3);
    assert_eq!(c.get::<_, Vec<u8>>("d").unwrap(), vec![0x00, 0xf0, 0x55]);
    // In place: the destination is one of the sources.
    assert_eq!(op(&mut c, &["NOT", "a", "a"]), 3);
    assert_eq!(c.get::<_, Vec<u8>>("a").unwrap(), vec![0x00, 0xf0, 0x55]);
    // The destination is replaced whatever it held, and loses its TTL.
    assert_eq!(r.call(&["SET", "d", "v", "EX", "100"]), ok());
    assert_eq!(op(&mut c, &["OR", "d", "b"]), 1);
    assert_eq!(r.call(&["TTL", "d"]), int(-1));
    assert_eq!(r.call(&["DEL", "d"]), int(1));
    assert_eq!(r.call(&["RPUSH", "d", "x"]), int(1));
    assert_eq!(op(&mut c, &["AND", "d", "b"]), 1);
    assert_eq!(r.call(&["TYPE", "d"]), Resp::Simple("string".into()));
    // An empty result deletes the destination.
    assert_eq!(op(&mut c, &["OR", "d", "missing", "missing2"]), 0);
    assert_eq!(r.call(&["EXISTS", "d"]), int(0));
    assert_eq!(r.call(&["SET", "e", ""]), ok());
    assert_eq!(r.call(&["SET", "d", "x"]), ok());
    assert_eq!(op(&mut c, &["XOR", "d", "e"]), 0);
    assert_eq!(r.call(&["EXISTS", "d"]), int(0));
    // Errors.
    assert_eq!(r.call(&["BITOP", "NOT", "d", "a", "b"]), err("ERR BITOP NOT must be called with a single source key."));
    assert_eq!(r.call(&["BITOP", "NAND", "d", "a", "b"]), err(SYNTAX));
    assert_eq!(r.call(&["BITOP", "AND", "d"]), err("ERR wrong number of arguments for 'bitop' command"));
    assert_eq!(r.call(&["RPUSH", "l", "x"]), int(1));
    assert_eq!(r.call(&["BITOP", "AND", "d", "a", "l"]), err(WRONGTYPE));
    // A list destination is fine (only sources must be strings).
    assert_eq!(r.call(&["BITOP", "AND", "l", "a"]), int(3));
    assert_eq!(r.call(&["TYPE", "l"]), Resp::Simple("string".into()));
    // Long sources (shared buffers) take the same path.
    let long: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
    let _: () = c.set("long", &long[..]).unwrap();
    assert_eq!(op(&mut c, &["XOR", "x", "long", "long"]), 10_000);
    assert_eq!(c.bitcount::<_, i64>("x").unwrap(), 0);
}

#[test]
fn bitfield_get_set_incrby_overflow() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let bf = |r: &mut common::Raw, args: &[&str]| {
        let mut all = vec!["BITFIELD"];
        all.extend_from_slice(args);
        r.call(&all)
    };
    assert_eq!(
        bf(&mut r, &["b", "SET", "i8", "0", "-100", "GET", "i8", "0", "GET", "u8", "0"]),
        arr(vec![int(0), int(-100), int(156)])
    );
    assert_eq!(
        bf(&mut r, &["b", "INCRBY", "u2", "100", "1", "OVERFLOW", "SAT", "INCRBY", "u2", "102", "5"]),
        arr(vec![int(1), int(3)])
    );
    assert_eq!(bf(&mut r, &["b"]), arr(vec![]));
    assert_eq!(
        bf(
            &mut r,
            &["c", "OVERFLOW", "FAIL", "SET", "i8", "0", "128", "SET", "i8", "0", "127", "INCRBY", "i8", "0", "1"]
        ),
        arr(vec![nil(), int(0), nil()])
    );
    assert_eq!(bf(&mut r, &["c", "OVERFLOW", "WRAP", "INCRBY", "i8", "0", "1"]), arr(vec![int(-128)]));
    assert_eq!(bf(&mut r, &["c", "OVERFLOW", "SAT", "INCRBY", "i8", "0", "-1000"]), arr(vec![int(-128)]));
    // 64-bit signed fields wrap in two's complement; u63 is the widest unsigned.
    assert_eq!(
        bf(&mut r, &["w", "SET", "i64", "3", "9223372036854775807", "INCRBY", "i64", "3", "1"]),
        arr(vec![int(0), int(i64::MIN)])
    );
    assert_eq!(
        bf(&mut r, &["w2", "OVERFLOW", "SAT", "SET", "u63", "0", "-1", "GET", "u63", "0"]),
        arr(vec![int(0), int(i64::MAX)])
    );
    // #N offsets count fields.
    assert_eq!(
        bf(&mut r, &["abc", "SET", "u8", "#0", "65", "SET", "u8", "#1", "66", "SET", "u8", "#2", "67"]),
        arr(vec![int(0), int(0), int(0)])
    );
    assert_eq!(r.call(&["GET", "abc"]), bulk("ABC"));
    assert_eq!(r.call(&["BITFIELD_RO", "abc", "GET", "u8", "#1", "GET", "i4", "4"]), arr(vec![int(66), int(1)]));
    assert_eq!(r.call(&["BITFIELD_RO", "missing", "GET", "u8", "0"]), arr(vec![int(0)]));
    // Reads past the end are zero-padded.
    assert_eq!(bf(&mut r, &["abc", "GET", "u16", "16"]), arr(vec![int(67 << 8)]));
    // Errors, all found before anything runs.
    assert_eq!(bf(&mut r, &["abc", "SET", "u64", "0", "1"]), err(BAD_TYPE));
    assert_eq!(bf(&mut r, &["abc", "GET", "i65", "0"]), err(BAD_TYPE));
    assert_eq!(bf(&mut r, &["abc", "GET", "I8", "0"]), err(BAD_TYPE));
    assert_eq!(bf(&mut r, &["abc", "GET", "u0", "0"]), err(BAD_TYPE));
    assert_eq!(bf(&mut r, &["abc", "GET", "u8", "-1"]), err(BAD_OFFSET));
    assert_eq!(bf(&mut r, &["abc", "GET", "u8", "#-1"]), err(BAD_OFFSET));
    assert_eq!(bf(&mut r, &["abc", "SET", "u8", "0", "x"]), err(NOT_INT));
    assert_eq!(bf(&mut r, &["abc", "SET", "u8", "0"]), err(SYNTAX));
    assert_eq!(bf(&mut r, &["abc", "FOO", "u8", "0"]), err(SYNTAX));
    assert_eq!(bf(&mut r, &["abc", "OVERFLOW", "MAYBE"]), err("ERR Invalid OVERFLOW type specified"));
    assert_eq!(bf(&mut r, &["abc", "SET", "u8", "0", "1", "GET", "u8", "x"]), err(BAD_OFFSET));
    assert_eq!(r.call(&["GET", "abc"]), bulk("ABC"));
    assert_eq!(
        r.call(&["BITFIELD_RO", "abc", "GET", "u8", "0", "SET", "u8", "0", "1"]),
        err("ERR BITFIELD_RO only supports the GET subcommand")
    );
    assert_eq!(r.call(&["LPUSH", "l", "a"]), int(1));
    assert_eq!(bf(&mut r, &["l", "GET", "u8", "0"]), err(WRONGTYPE));
    assert_eq!(bf(&mut r, &["l", "SET", "u8", "0", "1"]), err(WRONGTYPE));
}

#[test]
fn writes_count_only_real_changes() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let mut w = s.conn();
    let d0 = dirty(&mut c);
    let _: i64 = c.setbit("k", 3, false).unwrap(); // creates: a change
    assert_eq!(dirty(&mut c), d0 + 1);
    let _: i64 = c.setbit("k", 3, false).unwrap(); // same bit: none
    assert_eq!(dirty(&mut c), d0 + 1);
    let _: redis::Value = redis::cmd("BITFIELD").arg("k").arg("SET").arg("u4").arg("0").arg("0").query(&mut c).unwrap();
    assert_eq!(dirty(&mut c), d0 + 1);
    // Two fields changed by one call: two changes, as Redis counts.
    let _: redis::Value = redis::cmd("BITFIELD")
        .arg("k")
        .arg("SET")
        .arg("u4")
        .arg("0")
        .arg("1")
        .arg("INCRBY")
        .arg("u2")
        .arg("4")
        .arg("1")
        .query(&mut c)
        .unwrap();
    assert_eq!(dirty(&mut c), d0 + 3);
    // Growing the string changes it even when the bit written is 0.
    let _: i64 = c.setbit("k", 100, false).unwrap();
    assert_eq!(dirty(&mut c), d0 + 4);

    // WATCH: a no-op SETBIT leaves the transaction alone, a real one aborts it.
    let _: () = redis::cmd("WATCH").arg("k").query(&mut w).unwrap();
    let _: i64 = c.setbit("k", 100, false).unwrap();
    let res: Option<(i64,)> = redis::pipe().atomic().getbit("k", 0).query(&mut w).unwrap();
    assert_eq!(res, Some((0,)));
    let _: () = redis::cmd("WATCH").arg("k").query(&mut w).unwrap();
    let _: i64 = c.setbit("k", 100, true).unwrap();
    let res: Option<(i64,)> = redis::pipe().atomic().getbit("k", 0).query(&mut w).unwrap();
    assert_eq!(res, None);

    // The TTL survives a write.
    let _: () = redis::cmd("EXPIRE").arg("k").arg(1000).query(&mut c).unwrap();
    let _: i64 = c.setbit("k", 5, true).unwrap();
    let _: redis::Value =
        redis::cmd("BITFIELD").arg("k").arg("SET").arg("u8").arg("#40").arg("7").query(&mut c).unwrap();
    let ttl: i64 = c.ttl("k").unwrap();
    assert!(ttl > 900, "ttl {ttl}");
}

#[test]
fn keyspace_events() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let _: () = redis::cmd("CONFIG").arg("SET").arg("notify-keyspace-events").arg("KEA").query(&mut c).unwrap();
    let mut sub_conn = s.conn();
    let mut sub = sub_conn.as_pubsub();
    sub.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    sub.psubscribe(&["__keyevent@0__:*", "sentinel"]).unwrap();
    let run = |c: &mut redis::Connection, args: &[&str]| {
        let _: redis::Value = redis::cmd(args[0]).arg(&args[1..]).query(c).unwrap();
    };
    run(&mut c, &["SETBIT", "k", "1", "1"]);
    run(&mut c, &["SETBIT", "k", "1", "1"]); // no change: no event
    run(&mut c, &["BITFIELD", "k", "SET", "u1", "1", "1", "GET", "u8", "0"]); // no change
    run(&mut c, &["BITFIELD", "k", "INCRBY", "u8", "0", "1"]);
    run(&mut c, &["BITFIELD_RO", "k", "GET", "u8", "0"]);
    run(&mut c, &["BITOP", "NOT", "d", "k"]);
    run(&mut c, &["BITOP", "AND", "d", "missing"]);
    run(&mut c, &["PUBLISH", "sentinel", "-"]);
    let mut got = Vec::new();
    loop {
        let m = sub.get_message().expect("an event");
        let ch = m.get_channel_name().to_string();
        if ch == "sentinel" {
            break;
        }
        got.push(format!(
            "{} {}",
            ch.trim_start_matches("__keyevent@0__:"),
            String::from_utf8_lossy(m.get_payload_bytes())
        ));
    }
    assert_eq!(got, ["setbit k", "setbit k", "set d", "del d"]);
}

#[test]
fn command_info_and_acl_category() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let info = items(r.call(&["COMMAND", "INFO", "setbit", "getbit", "bitop", "bitfield_ro"]));
    let head = |i: usize| items(info[i].clone()).into_iter().take(6).collect::<Vec<_>>();
    let flags = |v: &[&str]| arr(v.iter().map(|f| Resp::Simple(f.to_string())).collect());
    assert_eq!(head(0), vec![bulk("setbit"), int(4), flags(&["write", "denyoom"]), int(1), int(1), int(1)]);
    assert_eq!(head(1), vec![bulk("getbit"), int(3), flags(&["readonly", "fast"]), int(1), int(1), int(1)]);
    assert_eq!(head(2), vec![bulk("bitop"), int(-4), flags(&["write", "denyoom"]), int(2), int(-1), int(1)]);
    assert_eq!(head(3), vec![bulk("bitfield_ro"), int(-2), flags(&["readonly", "fast"]), int(1), int(1), int(1)]);
    let mut cat = common::strings(r.call(&["ACL", "CAT", "bitmap"]));
    cat.sort();
    assert_eq!(cat, ["bitcount", "bitfield", "bitfield_ro", "bitop", "bitpos", "getbit", "setbit"]);
    assert_eq!(r.call(&["ACL", "SETUSER", "u", "on", "nopass", "+@all", "-@bitmap", "~*"]), ok());
    assert_eq!(r.call(&["AUTH", "u", "x"]), ok());
    match r.call(&["GETBIT", "k", "0"]) {
        Resp::Error(e) => assert!(e.starts_with("NOPERM"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(r.call(&["GET", "k"]), nil());
}

/// A small deterministic generator (xorshift), so a failure replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn model_bit(m: &[u8], i: u64) -> bool {
    m.get((i / 8) as usize).is_some_and(|b| b >> (7 - i % 8) & 1 == 1)
}

#[test]
fn random_operations_match_a_byte_vector() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut model: Vec<u8> = Vec::new();
    for step in 0..3000 {
        let bits = (model.len() as u64 * 8).max(8);
        match rng.below(6) {
            0 | 1 => {
                let off = rng.below(bits + 64);
                let on = rng.below(2) == 1;
                let old: i64 = c.setbit("m", off as usize, on).unwrap();
                assert_eq!(old == 1, model_bit(&model, off), "step {step}");
                let byte = (off / 8) as usize;
                if model.len() <= byte {
                    model.resize(byte + 1, 0);
                }
                let mask = 1u8 << (7 - off % 8);
                model[byte] = if on { model[byte] | mask } else { model[byte] & !mask };
            }
            2 => {
                let (a, b) = (rng.below(bits) as i64, rng.below(bits) as i64);
                let (a, b) = (a.min(b), a.max(b));
                let n: i64 = redis::cmd("BITCOUNT").arg("m").arg(a).arg(b).arg("BIT").query(&mut c).unwrap();
                let want = (a..=b).filter(|&i| model_bit(&model, i as u64)).count() as i64;
                assert_eq!(n, if model.is_empty() { 0 } else { want }, "step {step}");
            }
            3 => {
                let bit = rng.below(2) == 1;
                let a = rng.below(bits) as i64;
                let p: i64 =
                    redis::cmd("BITPOS").arg("m").arg(bit as i64).arg(a).arg(-1).arg("BIT").query(&mut c).unwrap();
                let len = model.len() as i64 * 8;
                let want = (a..len).find(|&i| model_bit(&model, i as u64) == bit).unwrap_or(-1);
                assert_eq!(
                    p,
                    if model.is_empty() {
                        if bit {
                            -1
                        } else {
                            0
                        }
                    } else {
                        want
                    },
                    "step {step}"
                );
            }
            4 => {
                let width = 1 + rng.below(63);
                let off = rng.below(bits + 64);
                let val = rng.below(1 << width.min(62)) as i64;
                let r: Vec<i64> = redis::cmd("BITFIELD")
                    .arg("m")
                    .arg("SET")
                    .arg(format!("u{width}"))
                    .arg(off)
                    .arg(val)
                    .arg("GET")
                    .arg(format!("u{width}"))
                    .arg(off)
                    .query(&mut c)
                    .unwrap();
                assert_eq!(r[1], val, "step {step}");
                let end = (off + width).div_ceil(8) as usize;
                if model.len() < end {
                    model.resize(end, 0);
                }
                for i in 0..width {
                    let bit = val >> (width - 1 - i) & 1 == 1;
                    let pos = off + i;
                    let mask = 1u8 << (7 - pos % 8);
                    let byte = (pos / 8) as usize;
                    model[byte] = if bit { model[byte] | mask } else { model[byte] & !mask };
                }
            }
            _ => {
                let got: Vec<u8> = c.get("m").unwrap();
                assert_eq!(got, model, "step {step}");
            }
        }
    }
    let got: Vec<u8> = c.get("m").unwrap();
    assert_eq!(got, model);
}

#[test]
fn writes_replay_from_the_aof() {
    let srv = Server::start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = srv.conn();
    let _: i64 = c.setbit("a", 100, true).unwrap();
    let _: i64 = c.setbit("a", 3, true).unwrap();
    let _: i64 = c.setbit("a", 3, true).unwrap(); // no change: not logged, nothing lost
    let _: redis::Value =
        redis::cmd("BITFIELD").arg("a").arg("INCRBY").arg("i5").arg("#3").arg("7").query(&mut c).unwrap();
    let _: redis::Value = redis::cmd("BITFIELD")
        .arg("a")
        .arg("OVERFLOW")
        .arg("SAT")
        .arg("INCRBY")
        .arg("i5")
        .arg("#3")
        .arg("100")
        .query(&mut c)
        .unwrap();
    let _: i64 = redis::cmd("BITOP").arg("NOT").arg("b").arg("a").query(&mut c).unwrap();
    let _: () = c.set("gone", "x").unwrap();
    let _: i64 = redis::cmd("BITOP").arg("AND").arg("gone").arg("missing").query(&mut c).unwrap();
    let a: Vec<u8> = c.get("a").unwrap();
    let b: Vec<u8> = c.get("b").unwrap();
    let srv = Server::start_in(srv.into_dir(false), &["--appendonly", "yes"]);
    let mut c = srv.conn();
    assert_eq!(c.get::<_, Vec<u8>>("a").unwrap(), a);
    assert_eq!(c.get::<_, Vec<u8>>("b").unwrap(), b);
    assert!(!c.exists::<_, bool>("gone").unwrap());
    let f: Vec<i64> = redis::cmd("BITFIELD_RO").arg("a").arg("GET").arg("i5").arg("#3").query(&mut c).unwrap();
    assert_eq!(f, vec![15]);
}

#[test]
fn a_pending_reply_keeps_the_value_it_read() {
    // A long string is handed to a GET reply without a copy; a SETBIT
    // pipelined behind that GET must not change what the GET answers.
    let s = Server::start(&[]);
    let mut r = s.raw();
    let big = "\u{1}".repeat(100_000);
    assert_eq!(r.call(&["SET", "big", &big]), ok());
    let mut pipeline = Vec::new();
    for _ in 0..20 {
        pipeline.extend(common::encode_cmd(&[b"GET", b"big"]));
        pipeline.extend(common::encode_cmd(&[b"SETBIT", b"big", b"7", b"0"]));
        pipeline.extend(common::encode_cmd(&[b"SETBIT", b"big", b"7", b"1"]));
    }
    r.send(&pipeline);
    for _ in 0..20 {
        assert_eq!(r.read(), bulk(&big));
        assert_eq!(r.read(), int(1));
        assert_eq!(r.read(), int(0));
    }
    assert_eq!(r.call(&["BITCOUNT", "big"]), int(100_000));
}
