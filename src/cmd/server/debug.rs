//! DEBUG: the subcommands that make sense for this server — SLEEP, OBJECT,
//! RELOAD, DIGEST, DIGEST-VALUE, PROTOCOL, SET-ACTIVE-EXPIRE and
//! QUICKLIST-PACKED-THRESHOLD.

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::super::args::{self, fail, is};
use super::super::keys::help_reply;
use super::super::{CmdResult, Ctx};
use crate::db::{Entry, Locked, Value};
use crate::protocol::reply::format_double;
use crate::protocol::Reply;

const DEBUG_HELP: &[&str] = &[
    "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANGE-REPL-ID",
    "    Accepted (no replication id to change yet).",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "LISTPACK <key>",
    "    Answers as Redis when the key is a listpack (nothing is printed here).",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas. Cluster slots are not respected so keys not belonging to the",
    "    current node can be created in cluster mode.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes.",
    "    Lists here keep every element unpacked, so this only checks <size>.",
    "RELOAD",
    "    Save the RDB on disk and reload it back to memory.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "STRINGMATCH-TEST",
    "    Run a fuzz tester against the glob matcher (also as STRINGMATCH-LEN).",
    "STRUCTSIZE",
    "    Return the sizes of the main internal structures.",
    "HELP",
    "    Prints this help.",
];

/// Redis's reply to a DEBUG/FUNCTION subcommand it does not know or whose
/// argument count is wrong.
pub(crate) fn sub_syntax_error(cmd: &str, sub: &[u8]) -> Reply {
    let sub: String = String::from_utf8_lossy(sub).chars().take(128).collect();
    Reply::Error(format!(
        "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try {} HELP.",
        cmd.to_ascii_uppercase()
    ))
}

/// Redis's refusal of DEBUG when `enable-debug-command` does not allow it.
pub const DEBUG_NOT_ALLOWED: &str =
    "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", \
     you can run it from a local connection, otherwise you need to set this option in the configuration file, and then \
     restart the server.";

/// The refusal of `spec` for this client under `enable-debug-command`
/// (`no`: nobody; `local`: loopback clients only; `yes`: everybody), as
/// Redis checks it before running the command. `None` for every other
/// command. O(1).
pub(crate) fn protected_refusal(
    srv: &crate::server::Server,
    client: &crate::server::client::ClientState,
    spec: &crate::cmd::table::CommandSpec,
) -> Option<Reply> {
    if !spec.is(crate::cmd::table::special::DEBUG) {
        return None;
    }
    let allowed = match srv.config.read().enable_debug_command.as_str() {
        "yes" => true,
        "local" => client.handle.local,
        _ => false,
    };
    (!allowed).then(|| Reply::err(DEBUG_NOT_ALLOWED))
}

/// DEBUG's handler.
pub(super) fn debug(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let sub = &a[1];
    let n = a.len();
    if is(sub, "sleep") && n == 3 {
        // Redis reads the time with strtod and no check: junk sleeps 0 s.
        let secs = args::parse_f64_bytes(&a[2]).filter(|f| f.is_finite()).unwrap_or(0.0).max(0.0);
        // Off the async worker (as the expire cycle does): the connections queued on this worker go on being
        // served by the others, in the order their requests arrive, instead of waiting for the sleep to end.
        let pause = std::time::Duration::from_secs_f64(secs.min(3600.0));
        tokio::task::block_in_place(|| std::thread::sleep(pause));
        return args::ok();
    }
    if is(sub, "object") && n == 3 {
        return object(ctx, &a[2]);
    }
    if is(sub, "listpack") && n == 3 {
        return listpack(ctx, &a[2]);
    }
    if is(sub, "structsize") && n == 2 {
        let sizes = format!(
            "bits:{} entry:{} value:{} client:{}\n",
            usize::BITS,
            std::mem::size_of::<crate::db::Entry>(),
            std::mem::size_of::<crate::db::Value>(),
            std::mem::size_of::<crate::server::client::ClientState>()
        );
        return Ok(Reply::Bulk(Bytes::from(sizes)));
    }
    if is(sub, "change-repl-id") && n == 2 {
        // No replication yet: there is no id to change.
        return args::ok();
    }
    // Redis 7.0 names it STRINGMATCH-TEST; STRINGMATCH-LEN is kept for
    // scripts that used this server's first name for it.
    if (is(sub, "stringmatch-test") || is(sub, "stringmatch-len")) && n == 2 {
        // Redis fuzzes its glob matcher for stack overflows; this one is
        // iterative, so a long random pattern must simply come back.
        const PAT: &[u8] = b"*?[]\\ab^-";
        const STR: &[u8] = b"ab*?[]";
        for _ in 0..1000 {
            let pat: Vec<u8> = (0..fastrand::usize(..256)).map(|_| PAT[fastrand::usize(..PAT.len())]).collect();
            let s: Vec<u8> = (0..fastrand::usize(..256)).map(|_| STR[fastrand::usize(..STR.len())]).collect();
            let _ = crate::db::glob::glob_match(&pat, &s, false);
        }
        return Ok(Reply::Status("Apparently Redis did not crash: test passed"));
    }
    if is(sub, "help") && n == 2 {
        return Ok(help_reply(DEBUG_HELP));
    }
    if is(sub, "populate") && (3..=5).contains(&n) {
        return populate(ctx, a);
    }
    if is(sub, "digest") && n == 2 {
        let d = with_all_locked(ctx, |l, _| dataset_digest(l));
        return Ok(Reply::StatusOwned(hex(&d)));
    }
    if is(sub, "digest-value") {
        let db = ctx.client.db;
        let keys = &a[2..];
        let digests =
            with_all_locked(ctx, |l, _| keys.iter().map(|k| stored_value_digest(l, db, k)).collect::<Vec<_>>());
        return Ok(Reply::Array(digests.iter().map(|d| Reply::StatusOwned(hex(d))).collect()));
    }
    if is(sub, "protocol") && n == 3 {
        return protocol(ctx.client.resp, &a[2]);
    }
    if is(sub, "set-active-expire") && n == 3 {
        // Redis takes atoi() of the argument: anything but a non-zero number is 0.
        let on = std::str::from_utf8(&a[2]).ok().and_then(atoi).is_some_and(|v| v != 0);
        crate::db::expire::set_active_expire(on);
        return args::ok();
    }
    if is(sub, "quicklist-packed-threshold") && n == 3 {
        let size = crate::server::config::parse_memory(&String::from_utf8_lossy(&a[2])).ok();
        // Redis's quicklist accepts up to 4 GiB minus 1 MiB (0 restores the default).
        if size.is_none_or(|s| s > (1u64 << 32) - (1 << 20)) {
            return fail("ERR argument must be a memory value bigger than 1 and smaller than 4gb");
        }
        return args::ok();
    }
    if ctx.ks.is_all() && is(sub, "reload") {
        // debug_extension locks every shard itself, which EXEC already holds.
        return fail("ERR DEBUG RELOAD is not supported inside MULTI");
    }
    if let Some(r) = crate::server::debug_extension(ctx.srv, a) {
        return r;
    }
    Err(sub_syntax_error("debug", sub))
}

/// DEBUG POPULATE count [prefix] [size]: keys `prefix:0` … (prefix `key`)
/// holding `value:N`, cut or zero-padded to `size` bytes when given; keys
/// that exist are left alone, as Redis does (a quick way to load a big
/// dataset). Not propagated. O(count), every shard locked meanwhile.
fn populate(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let positive = |b: &Bytes| match std::str::from_utf8(b).ok().and_then(|s| s.parse::<i64>().ok()) {
        None => fail("ERR value is not an integer or out of range"),
        Some(v) if v < 0 => fail("ERR value is out of range, must be positive"),
        Some(v) => Ok(v as u64),
    };
    let count = positive(&a[2])?;
    let size = if a.len() == 5 { positive(&a[4])? as usize } else { 0 };
    let prefix: &[u8] = if a.len() >= 4 { &a[3] } else { b"key" };
    with_all_locked(ctx, |l, _| {
        let mut key = Vec::with_capacity(prefix.len() + 21);
        let mut value = Vec::new();
        for j in 0..count {
            let num = itoa::Buffer::new().format(j).to_owned();
            key.clear();
            key.extend_from_slice(prefix);
            key.push(b':');
            key.extend_from_slice(num.as_bytes());
            if l.peek(&key).is_some() {
                continue;
            }
            value.clear();
            value.extend_from_slice(b"value:");
            value.extend_from_slice(num.as_bytes());
            if size > 0 {
                value.resize(size, 0);
            }
            l.set(&key, crate::db::Value::str(&value));
        }
    });
    args::ok()
}

/// C's `atoi`: optional spaces and sign, then the leading digits.
fn atoi(s: &str) -> Option<i64> {
    let t = s.trim_start();
    let (neg, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).take(18).collect();
    let v: i64 = digits.parse().ok()?;
    Some(if neg { -v } else { v })
}

/// Runs `f` with every shard locked: through the command's own locks
/// inside EXEC (which holds them all), else by locking them here (DEBUG
/// holds no shard of its own).
fn with_all_locked<R>(ctx: &mut Ctx, f: impl FnOnce(&mut Locked, usize) -> R) -> R {
    let db = ctx.client.db;
    if ctx.ks.is_all() {
        return f(ctx.ks, db);
    }
    let ks = ctx.srv.keyspace.clone();
    let mut l = ks.lock_all();
    l.db = db;
    // Nobody serves this lock's ready keys (the dispatcher serves its own
    // lock's only): not collecting them keeps DEBUG POPULATE O(keys)
    // instead of one duplicate scan of the list per key set.
    l.wake_blocked = false;
    f(&mut l, db)
}

/// The digest of a key's value as stored, logically expired or not (DEBUG
/// looks at the data without applying expiry); zeros for a missing key.
/// Requires every shard locked. O(size of the value).
fn stored_value_digest(l: &mut Locked, db: usize, key: &[u8]) -> [u8; 20] {
    let shard = l.keyspace().shard_of(key);
    l.db_parts(db).nth(shard).and_then(|p| p.map.get(key).map(value_digest)).unwrap_or([0; 20])
}

fn object(ctx: &mut Ctx, key: &Bytes) -> CmdResult {
    let Some(e) = peek(ctx, key) else { return fail("ERR no such key") };
    Ok(Reply::StatusOwned(format!(
        "Value at:0x0 refcount:1 encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
        e.encoding(),
        e.value.heap_size(),
        e.lru,
        crate::db::idle_seconds(e.lru)
    )))
}

/// `DEBUG LISTPACK key`: Redis prints the listpack on its stdout; this
/// server has nothing to print but answers as Redis does.
fn listpack(ctx: &mut Ctx, key: &Bytes) -> CmdResult {
    let Some(e) = peek(ctx, key) else { return fail("ERR no such key") };
    if e.encoding() != "listpack" {
        return fail("ERR The value stored at the specified key is not represented using an listpack");
    }
    Ok(Reply::Status("Listpack structure printed on stdout"))
}

/// A copy of `key`'s entry, read without touching its LRU.
fn peek(ctx: &mut Ctx, key: &Bytes) -> Option<crate::db::Entry> {
    if ctx.ks.is_all() {
        // Inside EXEC: the shard is already locked by this thread.
        crate::db::with_no_touch(true, || ctx.ks.peek(key).cloned())
    } else {
        let db = ctx.client.db;
        let ks = ctx.srv.keyspace.clone();
        let mut l = ks.lock_keys(db, [&key[..]]);
        l.db = db;
        crate::db::with_no_touch(true, || l.peek(key).cloned())
    }
}

/// 40 lower-case hex digits.
fn hex(d: &[u8; 20]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The first 20 bytes of SHA-256 of `data`.
fn hash20(data: &[u8]) -> [u8; 20] {
    let full = Sha256::digest(data);
    let mut out = [0u8; 20];
    out.copy_from_slice(&full[..20]);
    out
}

/// Adds `data` to `d` without order: XOR of its hash (commutative).
fn xor_in(d: &mut [u8; 20], data: &[u8]) {
    for (x, y) in d.iter_mut().zip(hash20(data)) {
        *x ^= y;
    }
}

/// Adds `data` to `d` in order: `d = H(d xor H(data))`, so a different
/// order (or split) of the same bytes gives a different digest.
fn mix_in(d: &mut [u8; 20], data: &[u8]) {
    xor_in(d, data);
    *d = hash20(&d[..]);
}

/// The digest of a value with its type and whether it has a TTL, as
/// DEBUG DIGEST-VALUE reports it: list elements in order, hash fields in
/// any order. O(size of the value).
fn value_digest(e: &Entry) -> [u8; 20] {
    let mut d = [0u8; 20];
    mix_in(&mut d, e.value.type_name().as_bytes());
    match &e.value {
        Value::Str(s) => mix_in(&mut d, s),
        Value::List(l) => {
            for item in l.iter() {
                mix_in(&mut d, item);
            }
        }
        Value::Hash(h) => unordered_pairs(&mut d, h.iter()),
        Value::Set(s) => {
            let mut acc = [0u8; 20];
            for m in s.iter() {
                xor_in(&mut acc, &hash20(&m));
            }
            mix_in(&mut d, &acc);
        }
        Value::ZSet(z) => {
            let scored: Vec<(&[u8], String)> = z.iter().map(|(m, s)| (m, format_double(s))).collect();
            unordered_pairs(&mut d, scored.iter().map(|(m, s)| (*m, s.as_bytes())));
        }
        Value::Stream(st) => {
            // Entries in order with their ids, then the metadata and the
            // groups (names, positions, pending entries and consumers).
            st.scan(Default::default(), crate::db::stream::StreamId::MAX, false, |e| {
                mix_in(&mut d, &e.id.to_bytes());
                for (f, v) in e.pairs() {
                    mix_in(&mut d, f);
                    mix_in(&mut d, v);
                }
                true
            });
            let meta = format!("{} {} {}", st.last_id, st.entries_added, st.max_deleted_entry_id);
            mix_in(&mut d, meta.as_bytes());
            for (name, g) in &st.groups {
                mix_in(&mut d, name);
                mix_in(&mut d, format!("{} {:?}", g.last_id, g.entries_read).as_bytes());
                for (id, n) in &g.pel {
                    mix_in(&mut d, format!("{id} {} {}", n.delivery_count, n.delivery_time).as_bytes());
                    mix_in(&mut d, &n.consumer);
                }
                for cname in g.consumers.keys() {
                    mix_in(&mut d, cname);
                }
            }
        }
    }
    if e.expire_at != 0 {
        xor_in(&mut d, b"!!expire!!");
    }
    d
}

/// Mixes pairs (hash fields and values, sorted-set members and scores) into
/// `d` without regard to their order. O(pairs).
fn unordered_pairs<'a>(d: &mut [u8; 20], pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>) {
    let mut acc = [0u8; 20];
    for (f, v) in pairs {
        let mut pair = [0u8; 20];
        mix_in(&mut pair, f);
        mix_in(&mut pair, v);
        xor_in(&mut acc, &pair);
    }
    mix_in(d, &acc);
}

/// The digest of every database: per key, the key mixed with its value's
/// digest; keys combined without order; each non-empty database mixed in
/// with its number. All zeros for an empty dataset. Requires every shard
/// locked. O(keys + values).
fn dataset_digest(l: &mut Locked) -> [u8; 20] {
    let mut out = [0u8; 20];
    for db in 0..l.keyspace().databases() {
        let mut db_digest = [0u8; 20];
        let mut any = false;
        for part in l.db_parts(db) {
            for (k, e) in part.map.iter() {
                any = true;
                let mut kd = [0u8; 20];
                mix_in(&mut kd, k);
                mix_in(&mut kd, &value_digest(e));
                for (x, y) in db_digest.iter_mut().zip(kd) {
                    *x ^= y;
                }
            }
        }
        if any {
            mix_in(&mut out, &(db as u32).to_be_bytes());
            for (x, y) in out.iter_mut().zip(db_digest) {
                *x ^= y;
            }
        }
    }
    out
}

/// DEBUG PROTOCOL: one sample reply of each RESP type, encoded here for
/// the types `Reply` has no variant for (big numbers, attributes).
#[allow(clippy::approx_constant)] // 3.141 is the sample Redis sends, not π.
fn protocol(resp: u8, kind: &[u8]) -> CmdResult {
    let resp3 = resp >= 3;
    let k = String::from_utf8_lossy(kind).to_ascii_lowercase();
    Ok(match k.as_str() {
        "string" => Reply::bulk_str("Hello World"),
        "integer" => Reply::Int(12345),
        "double" => Reply::Double(3.141),
        "bignum" if resp3 => Reply::Raw(Bytes::from_static(b"(1234567999999999999999999999999999999\r\n")),
        "bignum" => Reply::bulk_str("1234567999999999999999999999999999999"),
        "null" => Reply::Nil,
        "array" => Reply::Array((0..3).map(Reply::Int).collect()),
        "set" => Reply::Set((0..3).map(Reply::Int).collect()),
        "map" => Reply::Map((0..3).map(|j| (Reply::Int(j), Reply::Bool(j == 1))).collect()),
        "attrib" if resp3 => Reply::Raw(Bytes::from_static(
            b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n$39\r\nSome real reply following the attribute\r\n",
        )),
        "attrib" => Reply::bulk_str("Some real reply following the attribute"),
        "push" if !resp3 => return fail("ERR RESP2 is not supported by this command"),
        "push" => Reply::Raw(Bytes::from_static(
            b">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n$40\r\nSome real reply following the push reply\r\n",
        )),
        "true" => Reply::Bool(true),
        "false" => Reply::Bool(false),
        "verbatim" => Reply::Verbatim(Bytes::from_static(b"This is a verbatim\nstring")),
        _ => return fail(
            "ERR Wrong protocol type name. Please use one of the following: \
             string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixing_keeps_order_xor_does_not() {
        let (mut a, mut b) = ([0u8; 20], [0u8; 20]);
        mix_in(&mut a, b"x");
        mix_in(&mut a, b"y");
        mix_in(&mut b, b"y");
        mix_in(&mut b, b"x");
        assert_ne!(a, b);
        let (mut c, mut d) = ([0u8; 20], [0u8; 20]);
        xor_in(&mut c, b"x");
        xor_in(&mut c, b"y");
        xor_in(&mut d, b"y");
        xor_in(&mut d, b"x");
        assert_eq!(c, d);
    }

    #[test]
    fn atoi_like_c() {
        assert_eq!(atoi("1"), Some(1));
        assert_eq!(atoi(" 0x"), Some(0));
        assert_eq!(atoi("abc"), None);
        assert_eq!(atoi("-3z"), Some(-3));
    }
}
