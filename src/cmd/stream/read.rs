//! XREAD and XREADGROUP, blocking on the shared mechanism of
//! [`crate::cmd::blocking`].
//!
//! A call that finds nothing to serve and has BLOCK parks the client on
//! its keys with the command rewritten so that a re-run means the same
//! thing: `$` becomes the stream's last id at the time of the call. Every
//! XADD signals its key, and the parked clients re-run in the order they
//! blocked, before the XADD's locks are released; a re-run that still
//! finds nothing keeps its place. Deleting or replacing a stream key, and
//! XGROUP DESTROY/SETID, signal the key too, so a blocked XREADGROUP then
//! fails as Redis 7.0's does (`-UNBLOCKED the stream key no longer exists`,
//! `-NOGROUP …`).

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{entry_reply, id_reply, parse_strict_id, range_reply};
use crate::cmd::args::{self, err, fail, is};
use crate::cmd::{CmdResult, Ctx};
use crate::db::stream::{StreamId, StreamValue};
use crate::protocol::Reply;
use crate::server::client::BlockSpec;

/// How many entries a woken blocked read serves when it gave no COUNT
/// (Redis's `XREAD_BLOCKED_DEFAULT_COUNT`).
const BLOCKED_DEFAULT_COUNT: usize = 1000;

/// What each stream is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum From {
    /// Entries after this id.
    After(StreamId),
    /// XREADGROUP `>`: entries never delivered to the group.
    New,
    /// XREAD `+`: the last entry.
    Last,
}

/// Parsed options of XREAD/XREADGROUP.
struct ReadArgs {
    /// `None`: no BLOCK; `Some(None)`: block forever.
    block: Option<Option<Duration>>,
    /// 0: no limit.
    count: usize,
    streams_at: usize,
    n: usize,
    group: Option<(Bytes, Bytes)>,
    noack: bool,
}

/// Positions of the keys of an XREAD/XREADGROUP call: the first half of
/// what follows STREAMS. `None` when the call is malformed (the command
/// itself reports it). O(arguments).
pub fn key_positions(a: &[Bytes]) -> Option<Vec<usize>> {
    let mut i = 1;
    while i < a.len() {
        if is(&a[i], "streams") {
            let rest = a.len() - i - 1;
            if rest == 0 || !rest.is_multiple_of(2) {
                return None;
            }
            return Some((i + 1..i + 1 + rest / 2).collect());
        }
        i += if is(&a[i], "group") {
            3
        } else if is(&a[i], "block") || is(&a[i], "count") {
            2
        } else {
            1
        };
    }
    None
}

fn parse(a: &[Bytes], xreadgroup: bool) -> Result<ReadArgs, Reply> {
    let mut r = ReadArgs { block: None, count: 0, streams_at: 0, n: 0, group: None, noack: false };
    let mut i = 1;
    while i < a.len() {
        let more = a.len() - i - 1;
        let o = &a[i];
        if is(o, "block") && more > 0 {
            i += 1;
            let ms = args::parse_i64_bytes(&a[i])
                .ok_or_else(|| Reply::err("ERR timeout is not an integer or out of range"))?;
            if ms < 0 {
                return fail(err::TIMEOUT_NEG);
            }
            r.block = Some((ms > 0).then(|| Duration::from_millis(ms as u64)));
        } else if is(o, "count") && more > 0 {
            i += 1;
            r.count = args::int(&a[i])?.max(0) as usize;
        } else if is(o, "streams") && more > 0 {
            r.streams_at = i + 1;
            let rest = a.len() - r.streams_at;
            if !rest.is_multiple_of(2) {
                return fail(
                    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.",
                );
            }
            r.n = rest / 2;
            break;
        } else if is(o, "group") && more >= 2 {
            if !xreadgroup {
                return fail("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.");
            }
            r.group = Some((a[i + 1].clone(), a[i + 2].clone()));
            i += 2;
        } else if is(o, "noack") {
            if !xreadgroup {
                return fail("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.");
            }
            r.noack = true;
        } else {
            return fail(err::SYNTAX);
        }
        i += 1;
    }
    if r.streams_at == 0 {
        return fail(err::SYNTAX);
    }
    if xreadgroup && r.group.is_none() {
        return fail("ERR Missing GROUP option for XREADGROUP");
    }
    Ok(r)
}

pub(super) fn xread(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    read_generic(ctx, a, false)
}

pub(super) fn xreadgroup(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    read_generic(ctx, a, true)
}

/// The NOGROUP error of XREADGROUP.
fn no_group(key: &[u8], group: &[u8]) -> Reply {
    Reply::Error(format!(
        "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

fn read_generic(ctx: &mut Ctx, a: &[Bytes], xreadgroup: bool) -> CmdResult {
    let r = parse(a, xreadgroup)?;
    if r.block.is_some() && ctx.client.in_script {
        return fail(&format!(
            "ERR {} command is not allowed with BLOCK option from scripts",
            String::from_utf8_lossy(&a[0])
        ));
    }
    let rerun = ctx.client.handle.is_blocked();
    let keys = &a[r.streams_at..r.streams_at + r.n];
    let id_args = &a[r.streams_at + r.n..];
    let mut from = Vec::with_capacity(r.n);
    let mut rewritten: Option<Vec<Bytes>> = None;
    for (i, (key, arg)) in keys.iter().zip(id_args).enumerate() {
        let s = match ctx.ks.read_as::<StreamValue>(key) {
            Ok(s) => s,
            Err(_) if rerun && xreadgroup => return fail("UNBLOCKED the stream key no longer exists"),
            Err(_) if rerun => None,
            Err(_) => return fail(err::WRONGTYPE),
        };
        if let Some((group, _)) = &r.group {
            match &s {
                None if rerun => return fail("UNBLOCKED the stream key no longer exists"),
                Some(s) if !s.groups.contains_key(group) && rerun => {
                    return fail("NOGROUP the consumer group this client was blocked on no longer exists")
                }
                Some(s) if s.groups.contains_key(group) => {}
                _ => return Err(no_group(key, group)),
            }
        }
        let f = match &arg[..] {
            b"$" if xreadgroup => {
                return fail("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.")
            }
            b"$" => {
                let last = s.map_or(StreamId::MIN, |s| s.last_id);
                rewritten.get_or_insert_with(|| a.to_vec())[r.streams_at + r.n + i] = last.to_bytes();
                From::After(last)
            }
            b">" if !xreadgroup => {
                return fail("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")
            }
            b">" => From::New,
            b"+" if !xreadgroup => From::Last,
            _ => From::After(parse_strict_id(arg, 0)?),
        };
        from.push(f);
    }
    let count = if rerun && r.count == 0 { BLOCKED_DEFAULT_COUNT } else { r.count };
    let mut served = Vec::new();
    let mut logged = super::Effects::new(ctx);
    for (key, f) in keys.iter().zip(&from) {
        let served_one = match &r.group {
            Some((group, consumer)) => serve_group(ctx, key, group, consumer, *f, count, r.noack, &mut logged),
            None => serve_plain(ctx, key, *f, count),
        };
        if let Some(entries) = served_one {
            served.push((Reply::Bulk(key.clone()), entries));
        }
    }
    logged.finish(ctx, keys);
    if !served.is_empty() {
        return Ok(if ctx.client.resp >= 3 {
            Reply::Map(served)
        } else {
            Reply::Array(served.into_iter().map(|(k, v)| Reply::Array(vec![k, v])).collect())
        });
    }
    let Some(timeout) = r.block else { return Ok(Reply::NilArray) };
    if ctx.client.in_exec {
        return Ok(Reply::NilArray);
    }
    let db = ctx.ks.db;
    let mut waited: Vec<(usize, Bytes)> = Vec::with_capacity(keys.len());
    for k in keys {
        if !waited.iter().any(|(_, w)| w == k) {
            waited.push((db, k.clone()));
        }
    }
    let deadline = timeout.and_then(|d| Instant::now().checked_add(d));
    ctx.client.block =
        Some(BlockSpec { keys: waited, deadline, timeout_reply: Reply::NilArray, rerun_args: rewritten });
    Ok(Reply::None)
}

/// XREAD of one stream: the entries after `f`, if any. O(log n + count).
fn serve_plain(ctx: &mut Ctx, key: &[u8], f: From, count: usize) -> Option<Reply> {
    let s = ctx.ks.peek_as::<StreamValue>(key).ok().flatten()?;
    let top = s.edge_id(true)?;
    let entries = match f {
        From::Last => range_reply(s, top, top, false, 1, |_| ()),
        From::After(id) if top > id => range_reply(s, id.next()?, StreamId::MAX, false, count, |_| ()),
        _ => return None,
    };
    Some(entries.finish())
}

/// XREADGROUP of one stream: new entries for `>` (recording deliveries,
/// logged as XCLAIMs unless NOACK, then the group's new position as XGROUP
/// SETID … ENTRIESREAD), or the consumer's own pending entries after an id
/// (their new delivery counts logged as XCLAIMs). `None` when nothing is
/// served (a `>` read with nothing new). O(log n + count).
#[allow(clippy::too_many_arguments)]
fn serve_group(
    ctx: &mut Ctx,
    key: &Bytes,
    group: &Bytes,
    consumer: &Bytes,
    f: From,
    count: usize,
    noack: bool,
    logged: &mut super::Effects,
) -> Option<Reply> {
    let now = crate::db::now_ms();
    let s = ctx.ks.peek_as::<StreamValue>(key).ok().flatten()?;
    let start = match f {
        From::New => s.groups.get(group)?.last_id.next()?,
        From::After(id) => {
            let g = s.groups.get_mut(group)?;
            let (c, created) = g.consumer(consumer, now);
            c.seen_time = now;
            let b = |t: &'static str| Bytes::from_static(t.as_bytes());
            if created {
                super::consumer_created(ctx.client, key);
                logged.push(|| vec![b("XGROUP"), b("CREATECONSUMER"), key.clone(), group.clone(), consumer.clone()]);
            }
            let ids: Vec<StreamId> = match id.next() {
                Some(start) => {
                    c.pel.range(start..).take(if count == 0 { usize::MAX } else { count }).copied().collect()
                }
                None => Vec::new(),
            };
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                match s.get(id) {
                    Some((id, pairs)) => {
                        if let Some(g) = s.groups.get_mut(group) {
                            let last = g.last_id;
                            if let Some(n) = g.pel.get_mut(&id) {
                                n.delivery_time = now;
                                n.delivery_count += 1;
                                // Logged so a replay has the same counts.
                                let c = n.delivery_count;
                                logged.push(|| xclaim_log(key, group, consumer, id, now, c, last));
                            }
                        }
                        out.push(entry_reply(id, pairs.into_iter()));
                    }
                    None => out.push(Reply::Array(vec![id_reply(id), Reply::NilArray])),
                }
            }
            return Some(Reply::Array(out));
        }
        From::Last => return None,
    };
    let mut ids = Vec::new();
    let entries = range_reply(s, start, StreamId::MAX, false, count, |id| ids.push(id));
    if ids.is_empty() {
        return None;
    }
    let g = s.groups.get_mut(group)?;
    let (c, created) = g.consumer(consumer, now);
    c.seen_time = now;
    if created {
        super::consumer_created(ctx.client, key);
    }
    let b = |t: &'static str| Bytes::from_static(t.as_bytes());
    if created && noack {
        logged.push(|| vec![b("XGROUP"), b("CREATECONSUMER"), key.clone(), group.clone(), consumer.clone()]);
    }
    for id in &ids {
        s.advance_group(group, *id);
        let Some(g) = s.groups.get_mut(group) else { break };
        if noack {
            continue;
        }
        g.deliver(*id, consumer, now);
        let count = g.pel.get(id).map_or(1, |n| n.delivery_count);
        let last = g.last_id;
        logged.push(|| xclaim_log(key, group, consumer, *id, now, count, last));
    }
    // The group's position and read counter, so a replay rebuilds
    // entries-read and lag too (Redis 7.2 logs this; 7.0 only with NOACK).
    if !ids.is_empty() {
        if let Some(g) = s.groups.get(group) {
            logged.push(|| setid_log(key, group, g));
        }
    }
    Some(entries.finish())
}

/// What a delivery is logged as: an idempotent XCLAIM (Redis's
/// `streamPropagateXCLAIM`).
pub(super) fn xclaim_log(
    key: &Bytes,
    group: &Bytes,
    consumer: &Bytes,
    id: StreamId,
    time: u64,
    count: u64,
    last_id: StreamId,
) -> Vec<Bytes> {
    let b = |t: &'static str| Bytes::from_static(t.as_bytes());
    let n = |v: u64| Bytes::copy_from_slice(itoa::Buffer::new().format(v).as_bytes());
    vec![
        b("XCLAIM"),
        key.clone(),
        group.clone(),
        consumer.clone(),
        b("0"),
        id.to_bytes(),
        b("TIME"),
        n(time),
        b("RETRYCOUNT"),
        n(count),
        b("FORCE"),
        b("JUSTID"),
        b("LASTID"),
        last_id.to_bytes(),
    ]
}

/// What a group's new position is logged as: XGROUP SETID with its read
/// counter (Redis's `streamPropagateGroupID`).
pub(super) fn setid_log(key: &Bytes, group: &Bytes, g: &crate::db::stream::ConsumerGroup) -> Vec<Bytes> {
    let read = match g.entries_read {
        Some(n) => Bytes::copy_from_slice(itoa::Buffer::new().format(n).as_bytes()),
        None => Bytes::from_static(b"-1"),
    };
    vec![
        Bytes::from_static(b"XGROUP"),
        Bytes::from_static(b"SETID"),
        key.clone(),
        group.clone(),
        g.last_id.to_bytes(),
        Bytes::from_static(b"ENTRIESREAD"),
        read,
    ]
}
