//! HyperLogLog commands (Redis's `hyperloglog.c`): PFADD PFCOUNT PFMERGE
//! PFDEBUG PFSELFTEST.
//!
//! HLLs are plain string values in Redis's byte layout (see
//! [`crate::db::hll`]); these commands read and write them through the
//! keyspace like any string write, so TTLs, WATCH, dirty counts, the AOF and
//! keyspace notifications (`pfadd`, also for PFMERGE, as Redis) behave as
//! for other string commands. A dense sketch is updated in place; a sparse
//! one (at most `hll-sparse-max-bytes`) is rebuilt and stored back.

use std::sync::Arc;

use bytes::Bytes;

use super::args::{fail, wrongtype};
use super::table::flags::*;
use super::table::CommandSpec;
use super::{CmdResult, Ctx};
use crate::db::compact::CompactBytes;
use crate::db::hll::{self, Encoding, HDR, REGISTERS};
use crate::db::{Entry, Value};
use crate::protocol::Reply;
use crate::pubsub::notify::{self, class};
use crate::spec;

/// Redis's reply to a string that is not an HLL.
const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
/// Redis's reply to an HLL whose sparse body is malformed.
const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

fn corrupt<T>(_: hll::Corrupt) -> Result<T, Reply> {
    fail(CORRUPT)
}

/// The HLL string in `e` and its encoding: WRONGTYPE for another type or a
/// string that is not an HLL (Redis's `isHLLObjectOrReply`). O(1).
fn hll_of(e: &mut Entry) -> Result<(&mut CompactBytes, Encoding), Reply> {
    let Value::Str(s) = &mut e.value else { return wrongtype() };
    let enc = hll::validate(s).or_else(|_| fail(NOT_HLL))?;
    Ok((s, enc))
}

/// The bytes of a string value, to change in place: a value shared with a
/// reply or another key is copied first. O(1), O(len) when shared.
fn bytes_mut(s: &mut CompactBytes) -> &mut [u8] {
    match s {
        CompactBytes::Inline(len, buf) => &mut buf[..*len as usize],
        CompactBytes::Boxed(b) => b,
        CompactBytes::Shared(a) => Arc::make_mut(a),
        CompactBytes::Received(b) => {
            *s = CompactBytes::Shared(Arc::from(&b[..]));
            bytes_mut(s)
        }
    }
}

/// Stores HLL bytes rebuilt outside the value (a sparse update) in `e`.
/// Marked modified in place: Redis reports such strings as `raw`.
fn store(e: &mut Entry, s: &[u8]) {
    e.value = Value::str(s);
    e.modified_in_place = true;
}

/// PFADD key [element …]: 1 if a register changed or the key was created.
fn pfadd(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let key = &a[1];
    let eles = &a[2..];
    // One lookup finds the key or says to create it.
    let Some(entry) = ctx.ks.peek(key) else {
        let mut s = hll::new_sparse();
        for e in eles {
            hll::add(&mut s, e).or_else(corrupt)?;
        }
        hll::invalidate_cache(&mut s);
        ctx.ks.set(key, Value::str(&s));
        if let Some(e) = ctx.ks.peek(key) {
            e.modified_in_place = true;
        }
        notify::raise(ctx.client, class::STRING, "pfadd", key);
        return Ok(Reply::Int(1));
    };
    let (value, enc) = hll_of(entry)?;
    let updated = if enc == Encoding::Dense {
        let s = bytes_mut(value);
        let mut updated = false;
        for e in eles {
            updated |= hll::dense_add(&mut s[HDR..], e);
        }
        if updated {
            hll::invalidate_cache(s);
        }
        updated
    } else {
        let mut s = value.to_vec();
        let mut updated = false;
        let mut failed = false;
        for e in eles {
            match hll::add(&mut s, e) {
                Ok(changed) => updated |= changed,
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        if updated && !failed {
            hll::invalidate_cache(&mut s);
        }
        // As Redis, registers raised before a corruption was met stay
        // raised (unsignalled).
        if updated {
            store(entry, &s);
        }
        if failed {
            return fail(CORRUPT);
        }
        updated
    };
    if !updated {
        return Ok(Reply::Int(0));
    }
    ctx.ks.write(key);
    notify::raise(ctx.client, class::STRING, "pfadd", key);
    Ok(Reply::Int(1))
}

/// PFCOUNT key: the cached estimate, or a fresh one cached in the value
/// (a change Redis propagates and signals to WATCH although the command
/// is read-only). PFCOUNT key key …: the estimate of the union, not cached.
fn pfcount(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len() > 2 {
        let mut max = [0u8; REGISTERS];
        for key in &a[1..] {
            let Some(e) = ctx.ks.read(key) else { continue };
            let (s, _) = hll_of(e)?;
            hll::merge_into(&mut max, s).or_else(corrupt)?;
        }
        return Ok(Reply::Int(hll::count_raw(&max) as i64));
    }
    let key = &a[1];
    let Some(e) = ctx.ks.read(key) else { return Ok(Reply::Int(0)) };
    let (s, _) = hll_of(e)?;
    if let Some(card) = hll::cached_count(s) {
        return Ok(Reply::Int(card as i64));
    }
    let card = hll::count(s).or_else(corrupt)?;
    hll::set_cached_count(bytes_mut(s), card);
    let reply = Reply::Int(card as i64);
    cache_written(ctx, a, &reply);
    Ok(reply)
}

/// The bookkeeping of a write for PFCOUNT's cache update, which the
/// dispatcher does not do for a read-only command: WATCHers see the key
/// modified, the change counts as dirty and the AOF logs the PFCOUNT.
fn cache_written(ctx: &mut Ctx, a: &[Bytes], reply: &Reply) {
    let srv = ctx.srv;
    srv.keyspace.stats.dirty.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    srv.watches.touch(ctx.client.db, &a[1]);
    if let Some(spec) = super::table::lookup(b"pfcount") {
        srv.persist.propagate(ctx.ks, ctx.client, spec, a, reply);
    }
}

/// PFMERGE destkey [sourcekey …]: stores the union of every key given,
/// the destination included (created if missing, dense if any input is).
fn pfmerge(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut max = [0u8; REGISTERS];
    let mut dense = false;
    for key in &a[1..] {
        let Some(e) = ctx.ks.read(key) else { continue };
        let (s, enc) = hll_of(e)?;
        dense |= enc == Encoding::Dense;
        hll::merge_into(&mut max, s).or_else(corrupt)?;
    }
    let key = &a[1];
    let mut s = match ctx.ks.peek(key) {
        Some(e) => hll_of(e)?.0.to_vec(),
        None => hll::new_sparse(),
    };
    hll::store_union(&mut s, &max, dense).or_else(corrupt)?;
    match ctx.ks.write(key) {
        Some(e) => store(e, &s),
        None => {
            ctx.ks.set(key, Value::str(&s));
            if let Some(e) = ctx.ks.peek(key) {
                e.modified_in_place = true;
            }
        }
    }
    notify::raise(ctx.client, class::STRING, "pfadd", key);
    super::args::ok()
}

/// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key: Redis's debugging view of
/// a sketch. GETREG and TODENSE convert a sparse sketch to dense (a
/// change, propagated as Redis does).
fn pfdebug(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let sub = a[1].to_ascii_lowercase();
    let key = &a[2];
    let Some(e) = ctx.ks.peek(key) else { return fail("ERR The specified key does not exist") };
    let (s, enc) = hll_of(e)?;
    match sub.as_slice() {
        b"getreg" | b"todense" => {
            let converted = enc == Encoding::Sparse;
            if converted {
                let mut v = s.to_vec();
                hll::to_dense(&mut v).or_else(corrupt)?;
                if let Some(e) = ctx.ks.write(key) {
                    store(e, &v);
                }
            }
            if sub == b"todense" {
                return Ok(Reply::Int(converted as i64));
            }
            let Some(e) = ctx.ks.peek(key) else { return Ok(Reply::Array(vec![])) };
            let (s, _) = hll_of(e)?;
            let regs = &s[HDR..];
            Ok(Reply::Array((0..REGISTERS).map(|i| Reply::Int(hll::dense_get(regs, i) as i64)).collect()))
        }
        b"decode" if enc == Encoding::Sparse => Ok(Reply::Bulk(Bytes::from(hll::sparse::decode(&s[HDR..])))),
        b"decode" => fail("ERR HLL encoding is not sparse"),
        b"encoding" => Ok(Reply::Status(enc.name())),
        _ => Err(Reply::Error(format!("ERR Unknown PFDEBUG subcommand '{}'", String::from_utf8_lossy(&a[1])))),
    }
}

/// PFSELFTEST: Redis's self-test of the register code and the estimator
/// (see [`hll::selftest`]); takes seconds, holds no key.
fn pfselftest(_ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    match hll::selftest::run(hll::sparse_max_bytes()) {
        Ok(()) => super::args::ok(),
        Err(e) => Err(Reply::Error(e)),
    }
}

/// This family's rows in the command table.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    spec!("pfadd", -2, WRITE | DENYOOM | FAST, 1, 1, 1, pfadd, "hyperloglog", "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.", "O(1) to add every element."),
    spec!("pfcount", -2, READONLY, 1, -1, 1, pfcount, "hyperloglog", "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).", "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys."),
    spec!("pfmerge", -2, WRITE | DENYOOM, 1, -1, 1, pfmerge, "hyperloglog", "Merges one or more HyperLogLog values into a single key.", "O(N) to merge N HyperLogLogs, but with high constant times."),
    spec!("pfdebug", 3, WRITE | DENYOOM | ADMIN, 2, 2, 1, pfdebug, "hyperloglog", "Internal commands for debugging HyperLogLog values.", "N/A"),
    spec!("pfselftest", 1, ADMIN, 0, 0, 0, pfselftest, "hyperloglog", "An internal command for testing HyperLogLog values.", "N/A"),
];
