//! Which keyspace events each write command raises, as Redis 7.0's
//! commands call `notifyKeyspaceEvent`: derived after the command from the
//! keys it changed ([`Touched`]: created, changed, or gone), its arguments
//! and its reply.
//!
//! Most commands raise their own name (or a shared one: `incrby` for INCR,
//! DECR, INCRBY and DECRBY; `hset` for HSET, HMSET and HSETNX; `zincr` for
//! ZINCRBY and ZADD INCR) for each key they changed, and `del` after it
//! when the change emptied a collection. The exceptions, as in Redis:
//!
//! - nothing when nothing changed (SADD of members already there, LREM or
//!   HDEL that found nothing, LINSERT without its pivot, a pop with count 0);
//!   LTRIM and HSET raise their event even when the values stay the same;
//! - two events: SET with EX/PX/EXAT/PXAT and SETEX/PSETEX (`set`, `expire`),
//!   LMOVE and friends (the push on the destination, then the pop on the
//!   source, then `del` if the source emptied), SMOVE (`srem`, `del`?,
//!   `sadd`), RENAME (`rename_from`, `rename_to`), MOVE (`move_from` in the
//!   source database, `move_to` in the target);
//! - the *STORE commands raise their name (`sinterstore`, `zrangestore`,
//!   `sortstore` …) when they store something, else `del` if they deleted
//!   the destination;
//! - EXPIRE and GETEX with a time already past raise `del`, not `expire`;
//!   GETDEL raises `del`; RESTORE raises `restore`, or `del` when its TTL
//!   had already passed and REPLACE deleted the old key; MIGRATE raises
//!   `del` for each key the target took (none with COPY);
//! - FLUSHDB, FLUSHALL and SWAPDB raise nothing.

use bytes::Bytes;

use super::notify::class::*;
use super::notify::{Event, Touched};
use crate::protocol::Reply;

/// The reply of a command that did something: a number above 0, or
/// anything but a null or an empty collection.
fn did(reply: &Reply) -> bool {
    match reply {
        Reply::Int(n) => *n > 0,
        Reply::Nil | Reply::NilArray | Reply::None | Reply::Error(_) => false,
        Reply::Array(v) | Reply::Set(v) => !v.is_empty(),
        _ => true,
    }
}

/// Whether any argument from `from` on is one of `words` (option names).
fn has_option(a: &[Bytes], from: usize, words: &[&str]) -> bool {
    a.iter().skip(from).any(|x| words.iter().any(|w| x.eq_ignore_ascii_case(w.as_bytes())))
}

/// `left`/`right` at `a[i]`: true for left.
fn is_left(a: &[Bytes], i: usize) -> bool {
    a.get(i).is_some_and(|x| x.eq_ignore_ascii_case(b"left"))
}

/// The end word of an LMPOP/BLMPOP or ZMPOP/BZMPOP call: the argument
/// after the `numkeys` keys.
fn mpop_end(a: &[Bytes], numkeys_at: usize) -> Option<&Bytes> {
    let n: usize = std::str::from_utf8(a.get(numkeys_at)?).ok()?.parse().ok()?;
    a.get(numkeys_at.checked_add(n)?.checked_add(1)?)
}

/// Appends the events of command `name` (its Redis name, lower case).
/// O(touched keys).
pub fn command_events(name: &'static str, a: &[Bytes], reply: &Reply, touched: &[Touched], out: &mut Vec<Event>) {
    // `event` for each changed key, and `del` after it for each it emptied.
    let each = |class: u32, event: &'static str, out: &mut Vec<Event>| {
        for t in touched {
            out.push(t.event(class, event));
            if t.gone {
                out.push(t.event(GENERIC, "del"));
            }
        }
    };
    let find = |key: &[u8]| touched.iter().find(|t| t.key == key);
    match name {
        // Strings.
        "set" => {
            let expiry = has_option(a, 3, &["ex", "px", "exat", "pxat"]);
            for t in touched {
                out.push(t.event(STRING, "set"));
                if expiry {
                    out.push(t.event(GENERIC, "expire"));
                }
            }
        }
        "setex" | "psetex" => {
            for t in touched {
                out.push(t.event(STRING, "set"));
                out.push(t.event(GENERIC, "expire"));
            }
        }
        "setnx" | "getset" => each(STRING, "set", out),
        // One `set` per pair, a key named twice included.
        "mset" | "msetnx" => {
            for k in a.iter().skip(1).step_by(2) {
                if let Some(t) = find(k) {
                    out.push(t.event(STRING, "set"));
                }
            }
        }
        "append" | "setrange" | "incrbyfloat" => each(STRING, name, out),
        "incr" | "decr" | "incrby" | "decrby" => each(STRING, "incrby", out),
        "getdel" => out.extend(touched.iter().filter(|t| t.gone).map(|t| t.event(GENERIC, "del"))),
        "getex" => {
            let persist = has_option(a, 2, &["persist"]);
            for t in touched {
                out.push(match (t.gone, persist) {
                    (true, _) => t.event(GENERIC, "del"),
                    (false, true) => t.event(GENERIC, "persist"),
                    (false, false) => t.event(GENERIC, "expire"),
                });
            }
        }

        // Lists.
        "lpush" | "lpushx" => each(LIST, "lpush", out),
        "rpush" | "rpushx" => each(LIST, "rpush", out),
        "linsert" | "lrem" if did(reply) => each(LIST, name, out),
        "lset" | "ltrim" => each(LIST, name, out),
        "lpop" | "blpop" if did(reply) => each(LIST, "lpop", out),
        "rpop" | "brpop" if did(reply) => each(LIST, "rpop", out),
        "lmpop" | "blmpop" if did(reply) => {
            let at = if name == "lmpop" { 1 } else { 2 };
            let left = mpop_end(a, at).is_some_and(|w| w.eq_ignore_ascii_case(b"left"));
            each(LIST, if left { "lpop" } else { "rpop" }, out)
        }
        "lmove" | "blmove" | "rpoplpush" | "brpoplpush" if reply.as_bulk().is_some() => {
            let (from_left, to_left) =
                if name.ends_with("rpoplpush") { (false, true) } else { (is_left(a, 3), is_left(a, 4)) };
            if let Some(dst) = find(&a[2]) {
                out.push(dst.event(LIST, if to_left { "lpush" } else { "rpush" }));
            }
            if let Some(src) = find(&a[1]) {
                out.push(src.event(LIST, if from_left { "lpop" } else { "rpop" }));
                if src.gone {
                    out.push(src.event(GENERIC, "del"));
                }
            }
        }

        // Hashes.
        "hset" | "hmset" => each(HASH, "hset", out),
        "hsetnx" if did(reply) => each(HASH, "hset", out),
        "hdel" if did(reply) => each(HASH, "hdel", out),
        "hincrby" | "hincrbyfloat" => each(HASH, name, out),

        // Sets.
        "sadd" | "srem" | "spop" if did(reply) => each(SET, name, out),
        "smove" if did(reply) => {
            if let Some(src) = find(&a[1]) {
                out.push(src.event(SET, "srem"));
                if src.gone {
                    out.push(src.event(GENERIC, "del"));
                }
            }
            // The destination changed only if the member was new there.
            if let Some(dst) = find(&a[2]) {
                out.push(dst.event(SET, "sadd"));
            }
        }
        "sinterstore" | "sunionstore" | "sdiffstore" => store(SET, name, reply, touched, out),

        // Sorted sets.
        "zadd" => {
            // ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member …
            let flags = a.iter().skip(2).take_while(|x| {
                ["nx", "xx", "gt", "lt", "ch", "incr"].iter().any(|w| x.eq_ignore_ascii_case(w.as_bytes()))
            });
            let incr = flags.clone().any(|x| x.eq_ignore_ascii_case(b"incr"));
            each(ZSET, if incr { "zincr" } else { "zadd" }, out)
        }
        "zincrby" => each(ZSET, "zincr", out),
        "zrem" | "zremrangebyrank" | "zremrangebyscore" | "zremrangebylex" if did(reply) => each(ZSET, name, out),
        "zpopmin" | "bzpopmin" if did(reply) => each(ZSET, "zpopmin", out),
        "zpopmax" | "bzpopmax" if did(reply) => each(ZSET, "zpopmax", out),
        "zmpop" | "bzmpop" if did(reply) => {
            let at = if name == "zmpop" { 1 } else { 2 };
            let min = mpop_end(a, at).is_some_and(|w| w.eq_ignore_ascii_case(b"min"));
            each(ZSET, if min { "zpopmin" } else { "zpopmax" }, out)
        }
        "zunionstore" | "zinterstore" | "zdiffstore" | "zrangestore" => store(ZSET, name, reply, touched, out),
        // GEOADD runs ZADD (`zadd`); the geo *STORE forms name their family.
        "geoadd" => each(ZSET, "zadd", out),
        "georadius" | "georadiusbymember" => store(ZSET, "georadiusstore", reply, touched, out),
        "geosearchstore" => store(ZSET, name, reply, touched, out),

        // Streams (consumers created by XREADGROUP, XCLAIM and XAUTOCLAIM,
        // and XADD's trimming, are raised by the commands themselves).
        "xadd" if reply.as_bulk().is_some() => each(STREAM, "xadd", out),
        "xdel" | "xtrim" if did(reply) => each(STREAM, name, out),
        "xsetid" => each(STREAM, "xsetid", out),
        "xgroup" => {
            const SUBS: &[(&str, &str)] = &[
                ("create", "xgroup-create"),
                ("setid", "xgroup-setid"),
                ("destroy", "xgroup-destroy"),
                ("createconsumer", "xgroup-createconsumer"),
                ("delconsumer", "xgroup-delconsumer"),
            ];
            let sub = a.get(1).and_then(|s| SUBS.iter().find(|(n, _)| s.eq_ignore_ascii_case(n.as_bytes())));
            let Some(&(_, event)) = sub else { return };
            // Each subcommand changes its key only when it did something
            // (a consumer created or deleted, a group destroyed).
            if let Some(t) = a.get(2).and_then(|k| find(k)) {
                out.push(t.event(STREAM, event));
            }
        }

        // Keys.
        "del" | "unlink" => out.extend(touched.iter().filter(|t| t.gone).map(|t| t.event(GENERIC, "del"))),
        "rename" | "renamenx" if did(reply) && a[1] != a[2] => {
            let dst = find(&a[2]);
            if let Some(dst) = dst.filter(|d| d.created) {
                out.push(dst.event(NEW, "new"));
            }
            if let Some(src) = find(&a[1]) {
                out.push(src.event(GENERIC, "rename_from"));
            }
            if let Some(dst) = dst {
                out.push(dst.event(GENERIC, "rename_to"));
            }
        }
        "move" if did(reply) => {
            let (from, to): (Vec<&Touched>, Vec<&Touched>) = touched.iter().partition(|t| t.gone);
            for t in to.iter().filter(|t| t.created) {
                out.push(t.event(NEW, "new"));
            }
            out.extend(from.iter().map(|t| t.event(GENERIC, "move_from")));
            out.extend(to.iter().map(|t| t.event(GENERIC, "move_to")));
        }
        "copy" if did(reply) => out.extend(touched.iter().map(|t| t.event(GENERIC, "copy_to"))),
        "expire" | "pexpire" | "expireat" | "pexpireat" if did(reply) => {
            out.extend(touched.iter().map(|t| t.event(GENERIC, if t.gone { "del" } else { "expire" })))
        }
        "persist" if did(reply) => each(GENERIC, "persist", out),
        "restore" | "restore-asking" => {
            out.extend(touched.iter().map(|t| t.event(GENERIC, if t.gone { "del" } else { "restore" })))
        }
        "migrate" => out.extend(touched.iter().filter(|t| t.gone).map(|t| t.event(GENERIC, "del"))),
        "sort" => store(LIST, "sortstore", reply, touched, out),
        _ => {}
    }
}

/// A *STORE command: `event` on the destination when it stored a
/// non-empty result, else `del` if it deleted the destination.
fn store(class: u32, event: &'static str, reply: &Reply, touched: &[Touched], out: &mut Vec<Event>) {
    for t in touched {
        if t.gone {
            out.push(t.event(GENERIC, "del"));
        } else if did(reply) {
            out.push(t.event(class, event));
        }
    }
}
