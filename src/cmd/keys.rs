//! Generic key commands (Redis's `db.c` commands): DEL, EXISTS, TYPE,
//! KEYS, SCAN, RENAME, COPY, MOVE, SWAPDB, FLUSHDB, DBSIZE and OBJECT. The
//! EXPIRE family is `expire.rs`.

use bytes::Bytes;

use super::args::{self, err, fail, int, is};
use super::table::flags::*;
use super::{CmdResult, Ctx};
use crate::db::glob::glob_match;
use crate::db::keyspace::{DbShard, SHARDS};
use crate::db::{idle_seconds, now_ms, Entry};
use crate::protocol::Reply;
use crate::spec;

fn del(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let n = a[1..].iter().filter(|k| ctx.ks.remove(k).is_some()).count();
    Ok(Reply::Int(n as i64))
}

/// UNLINK: as DEL, but large values are freed in the background.
fn unlink(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut n = 0;
    for k in &a[1..] {
        if let Some(e) = ctx.ks.remove(k) {
            crate::db::lazyfree::free(e.value);
            n += 1;
        }
    }
    Ok(Reply::Int(n))
}

/// Looks a key up as Redis's `LOOKUP_NOTOUCH` reads (TYPE, TTL, EXISTS,
/// OBJECT …) do: lazy expiry and a keyspace hit or miss, but the key's
/// access time and LFU counter are left alone. O(1).
pub(super) fn read_notouch<R>(ctx: &mut Ctx, key: &[u8], f: impl FnOnce(&Entry) -> R) -> Option<R> {
    crate::db::with_no_touch(true, || ctx.ks.read(key).map(|e| f(e)))
}

fn exists(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let n = a[1..].iter().filter(|k| read_notouch(ctx, k, |_| ()).is_some()).count();
    Ok(Reply::Int(n as i64))
}

fn touch(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let n = a[1..].iter().filter(|k| ctx.ks.read(k).is_some()).count();
    Ok(Reply::Int(n as i64))
}

fn type_cmd(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Status(read_notouch(ctx, &a[1], |e| e.value.type_name()).unwrap_or("none")))
}

fn keys(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let pat = &a[1];
    let all = pat[..] == b"*"[..];
    let now = now_ms();
    let db = ctx.client.db;
    let mut out = Vec::new();
    for part in ctx.ks.db_parts(db) {
        for (k, e) in part.map.iter() {
            if (e.expire_at == 0 || e.expire_at > now) && (all || glob_match(pat, k, false)) {
                out.push(Reply::Bulk(k.to_bytes()));
            }
        }
    }
    Ok(Reply::Array(out))
}

/// SCAN's cursor: a shard and how many positions of it remain to visit.
/// Positions are visited from the highest down; since deletion moves the
/// last key into the hole, a key present for the whole scan is never missed.
const FRESH: u64 = 0xFFFF_FFFF;

fn decode_cursor(c: u64) -> (usize, u64) {
    let c = c ^ FRESH;
    ((c >> 32) as usize, c & FRESH)
}

fn encode_cursor(shard: usize, remaining: u64) -> u64 {
    ((shard as u64) << 32 | remaining) ^ FRESH
}

/// One HSCAN/SSCAN/ZSCAN step over a collection kept in a table of `len`
/// positions whose entries only ever move to lower positions: visits up to
/// `count` positions downwards from `cursor` (0, or one past the end:
/// from the top) and returns the next cursor (0 when done). So an entry
/// present for the whole scan is visited at least once. O(count).
pub fn scan_positions(len: usize, cursor: u64, count: usize, mut visit: impl FnMut(usize)) -> u64 {
    let mut remaining = if cursor == 0 || cursor > len as u64 { len } else { cursor as usize };
    let mut work = 0;
    while remaining > 0 && work < count {
        remaining -= 1;
        work += 1;
        visit(remaining);
    }
    remaining as u64
}

/// A SCAN-family reply: the next cursor and the items found.
pub fn scan_reply(cursor: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::bulk_str(cursor.to_string()), Reply::Array(items)])
}

/// Parses a SCAN-family cursor as Redis does with `strtoul`: an optional
/// sign (a negative number wraps around), decimal digits, nothing else;
/// the empty string is cursor 0. `ERR invalid cursor` otherwise.
pub fn parse_cursor(a: &[u8]) -> Result<u64, Reply> {
    let invalid = || Reply::err("ERR invalid cursor");
    if a.is_empty() {
        return Ok(0);
    }
    let (neg, digits) = match a[0] {
        b'-' => (true, &a[1..]),
        b'+' => (false, &a[1..]),
        _ => (false, a),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let mut v: u64 = 0;
    for &c in digits {
        v = v.checked_mul(10).and_then(|v| v.checked_add((c - b'0') as u64)).ok_or_else(invalid)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// MATCH/COUNT (and, for SCAN, TYPE) options of the SCAN family.
pub struct ScanOpts {
    /// Glob to filter names by.
    pub pattern: Option<Bytes>,
    /// Amount of work per call.
    pub count: usize,
    /// Type to filter by (SCAN only).
    pub type_name: Option<String>,
}

/// Parses SCAN options from `a` (the arguments after the cursor).
pub fn parse_scan_opts(a: &[Bytes], allow_type: bool) -> Result<ScanOpts, Reply> {
    let mut o = ScanOpts { pattern: None, count: 10, type_name: None };
    let mut i = 0;
    while i < a.len() {
        if i + 1 >= a.len() {
            return fail(err::SYNTAX);
        }
        if is(&a[i], "match") {
            o.pattern = Some(a[i + 1].clone()).filter(|p| &p[..] != b"*");
        } else if is(&a[i], "count") {
            let n = int(&a[i + 1])?;
            if n < 1 {
                return fail(err::SYNTAX);
            }
            o.count = n as usize;
        } else if allow_type && is(&a[i], "type") {
            o.type_name = Some(String::from_utf8_lossy(&a[i + 1]).to_ascii_lowercase());
        } else {
            return fail(err::SYNTAX);
        }
        i += 2;
    }
    Ok(o)
}

fn scan(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let cursor = parse_cursor(&a[1])?;
    let o = parse_scan_opts(&a[2..], true)?;
    let (mut shard, mut remaining) = decode_cursor(cursor);
    let db = ctx.client.db;
    let now = now_ms();
    let mut out = Vec::new();
    let mut work = 0;
    let parts: Vec<_> = ctx.ks.db_parts(db).collect();
    while shard < SHARDS && work < o.count {
        let part = &parts[shard];
        let len = part.map.len() as u64;
        if remaining == FRESH || remaining > len {
            remaining = len;
        }
        while remaining > 0 && work < o.count {
            remaining -= 1;
            work += 1;
            if let Some((k, e)) = part.map.get_index(remaining as usize) {
                let live = e.expire_at == 0 || e.expire_at > now;
                let m = o.pattern.as_ref().is_none_or(|p| glob_match(p, k, false));
                let t = o.type_name.as_ref().is_none_or(|t| t == e.value.type_name());
                if live && m && t {
                    out.push(Reply::Bulk(k.to_bytes()));
                }
            }
        }
        if remaining == 0 {
            shard += 1;
            remaining = FRESH;
        }
    }
    let next = if shard >= SHARDS { 0 } else { encode_cursor(shard, remaining) };
    Ok(scan_reply(next, out))
}

fn randomkey(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let db = ctx.client.db;
    let now = now_ms();
    for _ in 0..100 {
        let mut candidates: Vec<(usize, usize)> = Vec::new();
        for (i, part) in ctx.ks.db_parts(db).enumerate() {
            if !part.map.is_empty() {
                candidates.push((i, part.map.len()));
            }
        }
        let total: usize = candidates.iter().map(|c| c.1).sum();
        if total == 0 {
            return Ok(Reply::Nil);
        }
        let mut pick = fastrand::usize(..total);
        for (i, n) in candidates {
            if pick < n {
                let key = ctx.ks.db_parts(db).nth(i).and_then(|p| {
                    p.map.get_index(pick).map(|(k, e)| (k.clone(), e.expire_at != 0 && e.expire_at <= now))
                });
                match key {
                    Some((k, false)) => return Ok(Reply::Bulk(k.to_bytes())),
                    Some((k, true)) => {
                        ctx.ks.remove(&k);
                    }
                    None => {}
                }
                break;
            }
            pick -= n;
        }
    }
    Ok(Reply::Nil)
}

fn rename_generic(ctx: &mut Ctx, a: &[Bytes], nx: bool) -> CmdResult {
    let (src, dst) = (&a[1], &a[2]);
    if ctx.ks.peek(src).is_none() {
        return fail(err::NO_KEY);
    }
    if src == dst {
        return Ok(if nx { Reply::Int(0) } else { args::ok()? });
    }
    if nx && ctx.ks.peek(dst).is_some() {
        return Ok(Reply::Int(0));
    }
    let Some(entry) = ctx.ks.remove(src) else { return fail(err::NO_KEY) };
    ctx.ks.remove(dst);
    ctx.ks.insert_entry_in(ctx.client.db, dst.clone(), entry);
    Ok(if nx { Reply::Int(1) } else { args::ok()? })
}

fn rename(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    rename_generic(ctx, a, false)
}

fn renamenx(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    rename_generic(ctx, a, true)
}

/// Parses a database index argument against the configured count.
fn db_index(ctx: &Ctx, arg: &[u8]) -> Result<usize, Reply> {
    let n = int(arg).map_err(|_| Reply::err("ERR value is not an integer or out of range"))?;
    if n < 0 || n as usize >= ctx.ks.keyspace().databases() {
        return fail(err::DB_INDEX);
    }
    Ok(n as usize)
}

fn copy(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (src, dst) = (&a[1], &a[2]);
    let mut dst_db = ctx.client.db;
    let mut replace = false;
    let mut i = 3;
    while i < a.len() {
        if is(&a[i], "replace") {
            replace = true;
        } else if is(&a[i], "db") && i + 1 < a.len() {
            dst_db = db_index(ctx, &a[i + 1])?;
            i += 1;
        } else {
            return fail(err::SYNTAX);
        }
        i += 1;
    }
    if src == dst && dst_db == ctx.client.db {
        return fail("ERR source and destination objects are the same");
    }
    let Some(entry) = ctx.ks.read(src).cloned() else { return Ok(Reply::Int(0)) };
    if ctx.ks.exists_in(dst_db, dst) {
        if !replace {
            return Ok(Reply::Int(0));
        }
        ctx.ks.remove_in(dst_db, dst);
    }
    ctx.ks.insert_entry_in(dst_db, dst.clone(), entry);
    ctx.srv.signal_modified_key(dst_db, dst, Some(ctx.client.id()));
    Ok(Reply::Int(1))
}

fn move_cmd(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let db = db_index(ctx, &a[2])?;
    if db == ctx.client.db {
        return fail("ERR source and destination objects are the same");
    }
    let key = &a[1];
    if ctx.ks.peek(key).is_none() || ctx.ks.exists_in(db, key) {
        return Ok(Reply::Int(0));
    }
    let Some(entry) = ctx.ks.remove(key) else { return Ok(Reply::Int(0)) };
    ctx.ks.insert_entry_in(db, key.clone(), entry);
    ctx.srv.signal_modified_key(db, key, Some(ctx.client.id()));
    ctx.ks.ready.push((db, key.clone()));
    Ok(Reply::Int(1))
}

fn swapdb(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let x = int(&a[1]).map_err(|_| Reply::err("ERR invalid first DB index"))?;
    let y = int(&a[2]).map_err(|_| Reply::err("ERR invalid second DB index"))?;
    let n = ctx.ks.keyspace().databases() as i64;
    if x < 0 || x >= n || y < 0 || y >= n {
        return fail(err::DB_INDEX);
    }
    let (x, y) = (x as usize, y as usize);
    // A watched key changes if it exists on either side of the swap. Keys
    // already expired count as missing (a stale key swapped for nothing, or
    // for another stale key, is no change): the watched ones are expired
    // first, outside the WATCH registry's lock, since expiring notifies it.
    let mut watched: Vec<Bytes> = Vec::new();
    for db in [x, y] {
        ctx.srv.watches.touch_db(Some(db), |_, k| {
            watched.push(Bytes::copy_from_slice(k));
            false
        });
    }
    for k in &watched {
        ctx.ks.exists_in(x, k);
        ctx.ks.exists_in(y, k);
    }
    let ks = &mut ctx.ks;
    for db in [x, y] {
        ctx.srv.watches.touch_db(Some(db), |_, k| stored(ks, x, k) || stored(ks, y, k));
    }
    for s in ctx.ks.shards_mut() {
        s.dbs.swap(x, y);
    }
    // What clients wait on changed wholesale: serve any now ready.
    let waited = ctx.srv.blocking.waited_keys();
    ctx.ks.ready.extend(waited);
    args::ok()
}

/// Whether `key` is stored in database `db`, expired or not, without
/// applying expiry (so without notifying anyone: safe while the WATCH
/// registry is locked). Requires every shard locked. O(1).
fn stored(ks: &mut crate::db::Locked, db: usize, key: &[u8]) -> bool {
    let shard = ks.keyspace().shard_of(key);
    ks.db_parts(db).nth(shard).is_some_and(|p| p.map.contains_key(key))
}

/// Whether FLUSHALL/FLUSHDB frees in the background: ASYNC, SYNC, or
/// `lazyfree-lazy-user-flush` when neither is given.
fn flush_async(ctx: &Ctx, a: &[Bytes]) -> Result<bool, Reply> {
    match a.len() {
        1 => Ok(ctx.srv.config.read().lazyfree_lazy_user_flush),
        2 if is(&a[1], "async") => Ok(true),
        2 if is(&a[1], "sync") => Ok(false),
        _ => fail(err::SYNTAX),
    }
}

/// Frees flushed database parts: here (O(keys)), or, `lazy`, on the
/// lazyfree thread, counted one object per key as Redis counts them (O(1)).
fn release(parts: Vec<crate::db::keyspace::DbShard>, lazy: bool) {
    if lazy {
        let keys = parts.iter().map(|p| p.map.len() as u64).sum();
        crate::db::lazyfree::free_many(parts, keys);
    }
}

fn flushdb(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let lazy = flush_async(ctx, a)?;
    let db = ctx.client.db;
    let ks = &mut ctx.ks;
    // Watched keys stored there change, even those that expired since
    // WATCH (keys already expired at WATCH were deleted by it).
    ctx.srv.watches.touch_db(Some(db), |d, k| stored(ks, d, k));
    ctx.srv.tracking.flush(&ctx.srv.clients);
    release(ctx.ks.db_parts(db).map(DbShard::take).collect(), lazy);
    // Clients blocked on streams there learn the keys are gone.
    let waited = ctx.srv.blocking.waited_keys();
    ctx.ks.ready.extend(waited.into_iter().filter(|(d, _)| *d == db));
    args::ok()
}

fn flushall(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let lazy = flush_async(ctx, a)?;
    let ks = &mut ctx.ks;
    ctx.srv.watches.touch_db(None, |d, k| stored(ks, d, k));
    ctx.srv.tracking.flush(&ctx.srv.clients);
    release(ctx.ks.shards_mut().flat_map(|s| s.dbs.iter_mut().map(DbShard::take)).collect(), lazy);
    let waited = ctx.srv.blocking.waited_keys();
    ctx.ks.ready.extend(waited);
    args::ok()
}

fn dbsize(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let db = ctx.client.db;
    Ok(Reply::Int(ctx.ks.db_len(db) as i64))
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

/// Replies for `X HELP` subcommands: an array of status lines.
pub fn help_reply(lines: &[&'static str]) -> Reply {
    Reply::Array(lines.iter().map(|l| Reply::Status(l)).collect())
}

/// Redis's reply to an unknown subcommand of `cmd`.
pub fn unknown_subcommand(cmd: &str, sub: &[u8]) -> Reply {
    let sub: String = String::from_utf8_lossy(sub).chars().take(128).collect();
    Reply::Error(format!("ERR unknown subcommand '{sub}'. Try {} HELP.", cmd.to_ascii_uppercase()))
}

/// Finds the subcommand `a[1]` of container command `cmd` among `subs`
/// (lower-case name, Redis arity counting the container's name) and checks
/// its arity: `ERR unknown subcommand` or `ERR wrong number of arguments for
/// 'cmd|sub' command` as Redis answers them. O(number of subcommands).
pub fn subcommand(cmd: &str, a: &[Bytes], subs: &[(&'static str, i32)]) -> Result<&'static str, Reply> {
    let Some(&(name, arity)) = subs.iter().find(|(n, _)| is(&a[1], n)) else {
        return Err(unknown_subcommand(cmd, &a[1]));
    };
    let n = a.len() as i32;
    if (arity >= 0 && n != arity) || (arity < 0 && n < -arity) {
        return Err(args::arity_error(&format!("{cmd}|{name}")));
    }
    Ok(name)
}

/// Redis shares the objects of the integers 0..10000 (refcount `INT_MAX`)
/// unless an LRU/LFU policy with a memory limit needs per-key access data.
fn refcount(ctx: &Ctx, small_int: bool) -> i64 {
    let cfg = ctx.srv.config.read();
    let lru_lfu = cfg.maxmemory_policy.contains("lru") || cfg.maxmemory_policy.contains("lfu");
    if small_int && (cfg.maxmemory == 0 || !lru_lfu) {
        i32::MAX as i64
    } else {
        1
    }
}

/// OBJECT's subcommands with their Redis arities (the container's name counted).
pub(crate) const OBJECT_SUBS: &[(&str, i32)] =
    &[("encoding", 3), ("freq", 3), ("help", 2), ("idletime", 3), ("refcount", 3)];

fn object(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let sub = super::server::subcommands::resolve(ctx, "object", a)?;
    if sub == "help" {
        return Ok(help_reply(OBJECT_HELP));
    }
    let policy = ctx.srv.config.read().maxmemory_policy.clone();
    let lfu = policy.contains("lfu");
    let small_int = |v: &crate::db::Value| match v {
        crate::db::Value::Str(s) => args::parse_i64_bytes(s).is_some_and(|n| (0..10_000).contains(&n)),
        _ => false,
    };
    let found = read_notouch(ctx, &a[2], |e| (e.encoding(), small_int(&e.value), e.freq, e.lru));
    let Some((encoding, small_int, freq, lru)) = found else { return Ok(Reply::Nil) };
    match sub {
        "encoding" => Ok(Reply::bulk_str(encoding)),
        "refcount" => Ok(Reply::Int(refcount(ctx, small_int))),
        "freq" if !lfu => fail("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."),
        "freq" => Ok(Reply::Int(crate::db::lfu_decayed(freq, lru) as i64)),
        _ if lfu => fail("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust."),
        _ => Ok(Reply::Int(idle_seconds(lru) as i64)),
    }
}

/// The generic keyspace family's rows of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[super::table::CommandSpec] = &[
    spec!("del", -2, WRITE, 1, -1, 1, del, "generic", "Deletes one or more keys.", "O(N) where N is the number of keys that will be removed."),
    spec!("unlink", -2, WRITE | FAST, 1, -1, 1, unlink, "generic", "Asynchronously deletes one or more keys.", "O(1) for each key removed regardless of its size."),
    spec!("exists", -2, READONLY | FAST, 1, -1, 1, exists, "generic", "Determines whether one or more keys exist.", "O(N) where N is the number of keys to check."),
    spec!("touch", -2, READONLY | FAST, 1, -1, 1, touch, "generic", "Returns the number of existing keys out of those specified after updating the time they were last accessed.", "O(N) where N is the number of keys that will be touched."),
    spec!("type", 2, READONLY | FAST, 1, 1, 1, type_cmd, "generic", "Determines the type of value stored at a key.", "O(1)"),
    spec!("keys", 2, READONLY | ALL_KEYS | DANGEROUS, 0, 0, 0, keys, "generic", "Returns all key names that match a pattern.", "O(N) with N being the number of keys in the database"),
    spec!("scan", -2, READONLY | ALL_KEYS, 0, 0, 0, scan, "generic", "Iterates over the key names in the database.", "O(1) for every call. O(N) for a complete iteration."),
    spec!("randomkey", 1, READONLY | ALL_KEYS, 0, 0, 0, randomkey, "generic", "Returns a random key name from the database.", "O(1)"),
    spec!("rename", 3, WRITE, 1, 2, 1, rename, "generic", "Renames a key and overwrites the destination.", "O(1)"),
    spec!("renamenx", 3, WRITE | FAST, 1, 2, 1, renamenx, "generic", "Renames a key only when the target key name doesn't exist.", "O(1)"),
    spec!("copy", -3, WRITE | DENYOOM, 1, 2, 1, copy, "generic", "Copies the value of a key to a new key.", "O(N) worst case for collections, where N is the number of nested items."),
    spec!("move", 3, WRITE | FAST, 1, 1, 1, move_cmd, "generic", "Moves a key to another database.", "O(1)"),
    spec!("swapdb", 3, WRITE | FAST | ALL_KEYS | DANGEROUS, 0, 0, 0, swapdb, "server", "Swaps two Redis databases.", "O(N) where N is the count of clients watching or blocking on keys from both databases."),
    spec!("flushdb", -1, WRITE | ALL_KEYS | DANGEROUS, 0, 0, 0, flushdb, "server", "Remove all keys from the current database.", "O(N) where N is the number of keys in the selected database"),
    spec!("flushall", -1, WRITE | ALL_KEYS | DANGEROUS, 0, 0, 0, flushall, "server", "Removes all keys from all databases.", "O(N) where N is the total number of keys in all databases"),
    spec!("dbsize", 1, READONLY | FAST | ALL_KEYS, 0, 0, 0, dbsize, "server", "Returns the number of keys in the database.", "O(1)"),
    spec!("object", -2, READONLY, 2, 2, 1, object, "generic", "A container for object introspection commands.", "O(1)"),
];
