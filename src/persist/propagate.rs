//! What a write command is logged as in the append-only file.
//!
//! Most commands are logged as they were sent. Those whose effect depends
//! on when or how they ran are logged as their deterministic result:
//! relative expiries become absolute `PXAT`/`PEXPIREAT` times (so a replay
//! later does not extend a TTL), blocking pops their non-blocking forms,
//! float increments the value they produced, SPOP the SREM of what it
//! popped.

use bytes::Bytes;

use crate::cmd::table::CommandSpec;
use crate::db::Locked;
use crate::protocol::Reply;

/// A static argument.
pub(super) fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

/// A number as an argument.
fn num(n: u64) -> Bytes {
    Bytes::copy_from_slice(itoa::Buffer::new().format(n).as_bytes())
}

/// What to log for a command: relative expiries become absolute times,
/// blocking pops their non-blocking form, float increments their result.
/// O(1) except for commands logged as the resulting string value (O(value)).
pub(super) fn translate(ks: &mut Locked, spec: &CommandSpec, args: &[Bytes], reply: &Reply) -> Vec<Vec<Bytes>> {
    let key = || args[1].clone();
    // The state of a string key after the command (SET with options, GETEX …).
    let string_state = |ks: &mut Locked| -> Vec<Vec<Bytes>> {
        match ks.peek(&args[1]).map(|e| (e.value.clone(), e.expire_at)) {
            Some((crate::db::Value::Str(v), 0)) => vec![vec![b("SET"), key(), v.to_bytes()]],
            Some((crate::db::Value::Str(v), at)) => vec![vec![b("SET"), key(), v.to_bytes(), b("PXAT"), num(at)]],
            Some((_, 0)) => vec![vec![b("PERSIST"), key()]],
            Some((_, at)) => vec![vec![b("PEXPIREAT"), key(), num(at)]],
            None => vec![vec![b("DEL"), key()]],
        }
    };
    match spec.name {
        "set" if args.len() > 3 => string_state(ks),
        "setex" | "psetex" | "getex" | "incrbyfloat" => string_state(ks),
        "expire" | "pexpire" | "expireat" | "pexpireat" => {
            if *reply == Reply::Int(0) {
                return vec![];
            }
            string_state(ks)
        }
        "blpop" | "brpop" => match reply {
            Reply::Array(kv) if kv.len() == 2 => match &kv[0] {
                Reply::Bulk(k) => vec![vec![b(if spec.name == "blpop" { "LPOP" } else { "RPOP" }), k.clone()]],
                _ => vec![],
            },
            _ => vec![],
        },
        "lmpop" | "blmpop" => match reply {
            Reply::Array(kv) if kv.len() == 2 => {
                let (Reply::Bulk(k), Reply::Array(items)) = (&kv[0], &kv[1]) else { return vec![] };
                // The direction follows the keys: LMPOP numkeys k.. dir, BLMPOP timeout numkeys k.. dir.
                let nk_at = if spec.name == "lmpop" { 1 } else { 2 };
                let nk = std::str::from_utf8(&args[nk_at]).ok().and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
                let left = args.get(nk_at + 1 + nk).is_some_and(|a| a.eq_ignore_ascii_case(b"left"));
                vec![vec![b(if left { "LPOP" } else { "RPOP" }), k.clone(), num(items.len() as u64)]]
            }
            _ => vec![],
        },
        "blmove" if args.len() == 6 => {
            if matches!(reply, Reply::Nil) {
                return vec![];
            }
            vec![vec![b("LMOVE"), args[1].clone(), args[2].clone(), args[3].clone(), args[4].clone()]]
        }
        "brpoplpush" => {
            if matches!(reply, Reply::Nil) {
                return vec![];
            }
            vec![vec![b("RPOPLPUSH"), args[1].clone(), args[2].clone()]]
        }
        // A random pop is logged as the removal of what it popped.
        "spop" => {
            let popped: Vec<Bytes> = match reply {
                Reply::Array(items) | Reply::Set(items) => items.iter().filter_map(Reply::to_bulk_bytes).collect(),
                r => r.to_bulk_bytes().into_iter().collect(),
            };
            if popped.is_empty() {
                return vec![];
            }
            let mut srem = vec![b("SREM"), key()];
            srem.extend(popped);
            vec![srem]
        }
        "bzpopmin" | "bzpopmax" => match reply {
            Reply::Array(kv) if kv.len() == 3 => match &kv[0] {
                Reply::Bulk(k) => vec![vec![b(if spec.name == "bzpopmin" { "ZPOPMIN" } else { "ZPOPMAX" }), k.clone()]],
                _ => vec![],
            },
            _ => vec![],
        },
        "bzmpop" => match reply {
            Reply::Array(kv) if kv.len() == 2 => {
                let (Reply::Bulk(k), Reply::Array(items)) = (&kv[0], &kv[1]) else { return vec![] };
                // BZMPOP timeout numkeys key.. MIN|MAX [COUNT n].
                let nk = std::str::from_utf8(&args[2]).ok().and_then(|n| n.parse::<usize>().ok()).unwrap_or(0);
                let min = args.get(3 + nk).is_some_and(|a| a.eq_ignore_ascii_case(b"min"));
                vec![vec![b(if min { "ZPOPMIN" } else { "ZPOPMAX" }), k.clone(), num(items.len() as u64)]]
            }
            _ => vec![],
        },
        "hincrbyfloat" => match reply.to_bulk_bytes() {
            Some(v) => vec![vec![b("HSET"), key(), args[2].clone(), v]],
            None => vec![],
        },
        _ => vec![args.to_vec()],
    }
}
