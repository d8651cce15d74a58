//! Consumer-group commands: XGROUP (CREATE, SETID, DESTROY,
//! CREATECONSUMER, DELCONSUMER, HELP), XACK, XPENDING, XCLAIM and
//! XAUTOCLAIM, with Redis 7.0's replies, errors and logged forms (claims
//! are logged as idempotent `XCLAIM … FORCE JUSTID LASTID`).

use bytes::Bytes;

use super::read::{setid_log, xclaim_log};
use super::{entry_reply, id_reply, parse_bound, parse_id, parse_strict_id, peek_stream, read_stream};
use crate::cmd::args::{self, err, fail, is};
use crate::cmd::keys::help_reply;
use crate::cmd::{CmdResult, Ctx};
use crate::db::stream::{ConsumerGroup, StreamId, StreamValue};
use crate::protocol::Reply;

/// XGROUP's subcommands with their Redis arities.
pub(crate) const XGROUP_SUBS: &[(&str, i32)] =
    &[("create", -5), ("createconsumer", 5), ("delconsumer", 5), ("destroy", 4), ("help", 2), ("setid", -5)];

const XGROUP_HELP: &[&str] = &[
    "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
    "HELP",
    "    Prints this help.",
];

/// Redis's reply to a malformed subcommand call.
fn subcommand_syntax(cmd: &str, sub: &[u8]) -> Reply {
    Reply::Error(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
        String::from_utf8_lossy(sub),
        cmd.to_ascii_uppercase()
    ))
}

fn nogroup_for_key(group: &[u8], key: &[u8]) -> Reply {
    Reply::Error(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        String::from_utf8_lossy(group),
        String::from_utf8_lossy(key)
    ))
}

fn nogroup(key: &[u8], group: &[u8]) -> Reply {
    Reply::Error(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

pub(super) fn xgroup(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let sub = crate::cmd::server::subcommands::resolve(ctx, "xgroup", a)?;
    if sub == "help" {
        return Ok(help_reply(XGROUP_HELP));
    }
    let (key, name) = (&a[2], &a[3]);
    let mut mkstream = false;
    let mut entries_read: Option<Option<u64>> = None;
    let mut i = 5;
    while i < a.len() {
        if sub == "create" && is(&a[i], "mkstream") {
            mkstream = true;
            i += 1;
        } else if (sub == "create" || sub == "setid") && is(&a[i], "entriesread") && i + 1 < a.len() {
            let n = args::int(&a[i + 1])?;
            if n < -1 {
                return fail("ERR value for ENTRIESREAD must be positive or -1");
            }
            entries_read = Some((n >= 0).then_some(n as u64));
            i += 2;
        } else {
            return Err(subcommand_syntax("xgroup", &a[1]));
        }
    }
    let exists = peek_stream(ctx, key)?.is_some();
    if !mkstream && !exists {
        return fail("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.");
    }
    if exists && matches!(sub, "setid" | "createconsumer" | "delconsumer") {
        let has = peek_stream(ctx, key)?.is_some_and(|s| s.groups.contains_key(name));
        if !has {
            return Err(nogroup_for_key(name, key));
        }
    }
    let now = crate::db::now_ms();
    match sub {
        "create" if a.len() <= 8 => {
            let last = peek_stream(ctx, key)?.map(|s| s.last_id);
            let id = if &a[4][..] == b"$" { last.unwrap_or_default() } else { parse_strict_id(&a[4], 0)? };
            let s = ctx.ks.get_or_create::<StreamValue>(key)?;
            if s.groups.contains_key(name) {
                return fail("BUSYGROUP Consumer Group name already exists");
            }
            s.groups.insert(name.clone(), ConsumerGroup::new(id, entries_read.flatten()));
            args::ok()
        }
        "setid" if a.len() == 5 || a.len() == 7 => {
            let Some(s) = peek_stream(ctx, key)? else { return fail(err::NO_KEY) };
            let id = if &a[4][..] == b"$" { s.last_id } else { parse_id(&a[4], 0)? };
            let Some(g) = s.groups.get_mut(name) else { return Err(nogroup_for_key(name, key)) };
            g.last_id = id;
            g.entries_read = entries_read.flatten();
            ctx.ks.write(key);
            // Parked XREADGROUPs may now have entries to read.
            ctx.ks.signal_ready(key);
            args::ok()
        }
        "destroy" if a.len() == 4 => {
            let Some(s) = peek_stream(ctx, key)? else { return Ok(Reply::Int(0)) };
            if s.groups.remove(name).is_none() {
                return Ok(Reply::Int(0));
            }
            ctx.ks.write(key);
            // Parked XREADGROUPs on it get -NOGROUP.
            ctx.ks.signal_ready(key);
            Ok(Reply::Int(1))
        }
        "createconsumer" if a.len() == 5 => {
            let Some(g) = peek_stream(ctx, key)?.and_then(|s| s.groups.get_mut(name)) else {
                return Err(nogroup_for_key(name, key));
            };
            let (_, created) = g.consumer(&a[4], now);
            if created {
                ctx.ks.write(key);
            }
            Ok(Reply::Int(created as i64))
        }
        "delconsumer" if a.len() == 5 => {
            let Some(g) = peek_stream(ctx, key)?.and_then(|s| s.groups.get_mut(name)) else {
                return Err(nogroup_for_key(name, key));
            };
            match g.remove_consumer(&a[4]) {
                Some(pending) => {
                    ctx.ks.write(key);
                    Ok(Reply::Int(pending as i64))
                }
                None => Ok(Reply::Int(0)),
            }
        }
        _ => Err(subcommand_syntax("xgroup", &a[1])),
    }
}

/// XACK key group id [id …]: how many were pending. O(log n) per id.
pub(super) fn xack(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if !peek_stream(ctx, &a[1])?.is_some_and(|s| s.groups.contains_key(&a[2])) {
        return Ok(Reply::Int(0));
    }
    let ids = a[3..].iter().map(|x| parse_strict_id(x, 0)).collect::<Result<Vec<_>, _>>()?;
    let Some(g) = peek_stream(ctx, &a[1])?.and_then(|s| s.groups.get_mut(&a[2])) else { return Ok(Reply::Int(0)) };
    let acked = ids.iter().filter(|id| g.ack(**id)).count();
    if acked > 0 {
        ctx.ks.write(&a[1]);
    }
    Ok(Reply::Int(acked as i64))
}

/// XPENDING key group [[IDLE ms] start end count [consumer]]: the summary,
/// or the pending entries in a range. O(log n + count) (O(scanned) with
/// IDLE).
pub(super) fn xpending(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let n = a.len();
    if n != 3 && !(6..=9).contains(&n) {
        return fail(err::SYNTAX);
    }
    let mut range = None;
    if n >= 6 {
        let mut at = 3;
        let mut min_idle = 0;
        if is(&a[3], "idle") {
            min_idle = args::int(&a[4])?;
            if n < 8 {
                return fail(err::SYNTAX);
            }
            at += 2;
        }
        let count = args::int(&a[at + 2])?.max(0) as usize;
        let start = parse_bound(&a[at], false)?;
        let end = parse_bound(&a[at + 1], true)?;
        let consumer = a.get(at + 3).cloned();
        range = Some((min_idle, start, end, count, consumer));
    }
    let Some(s) = read_stream(ctx, &a[1])? else { return Err(nogroup(&a[1], &a[2])) };
    let Some(g) = s.groups.get(&a[2]) else { return Err(nogroup(&a[1], &a[2])) };
    let Some((min_idle, start, end, count, consumer)) = range else {
        let (Some((first, _)), Some((last, _))) = (g.pel.first_key_value(), g.pel.last_key_value()) else {
            return Ok(Reply::Array(vec![Reply::Int(0), Reply::Nil, Reply::Nil, Reply::NilArray]));
        };
        let owners = g
            .consumers
            .iter()
            .filter(|(_, c)| !c.pel.is_empty())
            .map(|(name, c)| {
                Reply::Array(vec![Reply::Bulk(name.clone()), Reply::Bulk(args::int_bytes(c.pel.len() as i64))])
            })
            .collect();
        return Ok(Reply::Array(vec![
            Reply::Int(g.pel.len() as i64),
            id_reply(*first),
            id_reply(*last),
            Reply::Array(owners),
        ]));
    };
    let now = crate::db::now_ms() as i64;
    let ids: Box<dyn Iterator<Item = &StreamId>> = match &consumer {
        Some(name) => match g.consumers.get(name) {
            Some(c) => Box::new(c.pel.range(start..)),
            None => return Ok(Reply::Array(Vec::new())),
        },
        None => Box::new(g.pel.keys().filter(move |id| **id >= start)),
    };
    let mut out = Vec::new();
    if start <= end {
        for id in ids.take_while(|id| **id <= end) {
            if out.len() >= count {
                break;
            }
            let Some(nack) = g.pel.get(id) else { continue };
            let idle = now - nack.delivery_time as i64;
            if min_idle > 0 && idle < min_idle {
                continue;
            }
            out.push(Reply::Array(vec![
                id_reply(*id),
                Reply::Bulk(nack.consumer.clone()),
                Reply::Int(idle.max(0)),
                Reply::Int(nack.delivery_count as i64),
            ]));
        }
    }
    Ok(Reply::Array(out))
}

/// An integer option with Redis's custom error text.
fn int_or(arg: &[u8], msg: &str) -> Result<i64, Reply> {
    args::parse_i64_bytes(arg).ok_or_else(|| Reply::Error(format!("ERR {msg}")))
}

/// XCLAIM key group consumer min-idle id [id …] [IDLE ms] [TIME ms]
/// [RETRYCOUNT n] [FORCE] [JUSTID] [LASTID id]. O(log n) per id.
pub(super) fn xclaim(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (key, group, consumer) = (&a[1], &a[2], &a[3]);
    let Some(s) = read_stream(ctx, key)? else { return Err(nogroup(key, group)) };
    if !s.groups.contains_key(group) {
        return Err(nogroup(key, group));
    }
    let min_idle = int_or(&a[4], "Invalid min-idle-time argument for XCLAIM")?.max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < a.len() {
        match parse_strict_id(&a[j], 0) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let now = crate::db::now_ms() as i64;
    let (mut force, mut justid) = (false, false);
    let (mut time, mut retry, mut last_id): (Option<i64>, Option<i64>, StreamId) = (None, None, StreamId::MIN);
    while j < a.len() {
        let more = a.len() - 1 - j;
        let o = &a[j];
        if is(o, "force") {
            force = true;
        } else if is(o, "justid") {
            justid = true;
        } else if is(o, "idle") && more > 0 {
            j += 1;
            time = Some(now - int_or(&a[j], "Invalid IDLE option argument for XCLAIM")?);
        } else if is(o, "time") && more > 0 {
            j += 1;
            time = Some(int_or(&a[j], "Invalid TIME option argument for XCLAIM")?);
        } else if is(o, "retrycount") && more > 0 {
            j += 1;
            retry = Some(int_or(&a[j], "Invalid RETRYCOUNT option argument for XCLAIM")?);
        } else if is(o, "lastid") && more > 0 {
            j += 1;
            last_id = parse_strict_id(&a[j], 0)?;
        } else {
            return fail(&format!("ERR Unrecognized XCLAIM option '{}'", String::from_utf8_lossy(o)));
        }
        j += 1;
    }
    let time = match time {
        Some(t) if (0..=now).contains(&t) => t as u64,
        _ => now as u64,
    };
    let mut logged = super::Effects::new(ctx);
    let Some(s) = peek_stream(ctx, key)? else { return Err(nogroup(key, group)) };
    let mut out = Vec::new();
    let mut propagate_last_id = false;
    let mut consumer_created = false;
    if let Some(g) = s.groups.get_mut(group) {
        if last_id > g.last_id {
            g.last_id = last_id;
            propagate_last_id = true;
        }
    }
    for id in ids {
        let entry = claimable(s, id, justid);
        let Some(g) = s.groups.get_mut(group) else { break };
        let Some(pairs) = entry else {
            if drop_gone(g, key, group, id, &mut logged) {
                propagate_last_id = false;
            }
            continue;
        };
        let pending = g.pel.get(&id);
        if pending.is_none() && !force {
            continue;
        }
        if let Some(nack) = pending {
            if min_idle > 0 && (now - nack.delivery_time as i64) < min_idle {
                continue;
            }
        }
        let (c, created) = g.consumer(consumer, now as u64);
        c.seen_time = now as u64;
        consumer_created |= created;
        let group_last = g.last_id;
        let nack = g.assign(id, consumer);
        nack.delivery_time = time;
        match retry {
            Some(n) if n >= 0 => nack.delivery_count = n as u64,
            _ if !justid => nack.delivery_count += 1,
            _ => {}
        }
        let count = nack.delivery_count;
        out.push(if justid { id_reply(id) } else { entry_reply(id, pairs.into_iter()) });
        logged.push(|| xclaim_log(key, group, consumer, id, time, count, group_last));
        propagate_last_id = false;
    }
    if propagate_last_id {
        match s.groups.get(group) {
            Some(g) => logged.push(|| setid_log(key, group, g)),
            None => logged.touch(),
        }
    }
    if consumer_created {
        super::consumer_created(ctx.client, key);
    }
    logged.finish(ctx, std::slice::from_ref(key));
    Ok(Reply::Array(out))
}

/// The entry XCLAIM/XAUTOCLAIM would hand over: its fields (none with
/// JUSTID), `None` when it is gone from the stream.
fn claimable(s: &StreamValue, id: StreamId, justid: bool) -> Option<Vec<(Bytes, Bytes)>> {
    if justid {
        s.contains(id).then(Vec::new)
    } else {
        s.get(id).map(|e| e.1)
    }
}

/// A pending entry whose stream entry is gone leaves the PEL, logged as
/// the XCLAIM that removes it on a replay (Redis's rule). True if it was
/// pending.
fn drop_gone(g: &mut ConsumerGroup, key: &Bytes, group: &Bytes, id: StreamId, logged: &mut super::Effects) -> bool {
    let Some(nack) = g.pel.get(&id) else { return false };
    let last = g.last_id;
    logged.push(|| xclaim_log(key, group, &nack.consumer, id, nack.delivery_time, nack.delivery_count, last));
    g.ack(id)
}

/// XAUTOCLAIM key group consumer min-idle start [COUNT n] [JUSTID]:
/// `[next-cursor, claimed, deleted-ids]`. O(count × 10) scanned entries.
pub(super) fn xautoclaim(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (key, group, consumer) = (&a[1], &a[2], &a[3]);
    let min_idle = int_or(&a[4], "Invalid min-idle-time argument for XAUTOCLAIM")?.max(0);
    let start = parse_bound(&a[5], false)?;
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < a.len() {
        if is(&a[j], "count") && j + 1 < a.len() {
            let max = i64::MAX / 16;
            count = match args::parse_i64_bytes(&a[j + 1]) {
                Some(n) if (1..=max).contains(&n) => n,
                _ => return fail("ERR COUNT must be > 0"),
            };
            j += 1;
        } else if is(&a[j], "justid") {
            justid = true;
        } else {
            return fail(err::SYNTAX);
        }
        j += 1;
    }
    let mut logged = super::Effects::new(ctx);
    let Some(s) = read_stream(ctx, key)? else { return Err(nogroup(key, group)) };
    if !s.groups.contains_key(group) {
        return Err(nogroup(key, group));
    }
    let now = crate::db::now_ms();
    let mut attempts = count.saturating_mul(10);
    let mut left = count;
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut cursor = start;
    let mut next = None;
    let mut consumer_created = false;
    while let Some(id) = s.groups.get(group).and_then(|g| g.pel.range(cursor..).next().map(|(id, _)| *id)) {
        if attempts == 0 || left == 0 {
            next = Some(id);
            break;
        }
        attempts -= 1;
        cursor = match id.next() {
            Some(c) => c,
            None => StreamId::MAX,
        };
        let entry = claimable(s, id, justid);
        let Some(g) = s.groups.get_mut(group) else { break };
        let Some(pairs) = entry else {
            drop_gone(g, key, group, id, &mut logged);
            deleted.push(id_reply(id));
            left -= 1;
            if id == StreamId::MAX {
                break;
            }
            continue;
        };
        let idle = g.pel.get(&id).map_or(0, |n| now as i64 - n.delivery_time as i64);
        if min_idle > 0 && idle < min_idle {
            if id == StreamId::MAX {
                break;
            }
            continue;
        }
        let (c, created) = g.consumer(consumer, now);
        c.seen_time = now;
        consumer_created |= created;
        let group_last = g.last_id;
        let nack = g.assign(id, consumer);
        nack.delivery_time = now;
        if !justid {
            nack.delivery_count += 1;
        }
        let c = nack.delivery_count;
        claimed.push(if justid { id_reply(id) } else { entry_reply(id, pairs.into_iter()) });
        logged.push(|| xclaim_log(key, group, consumer, id, now, c, group_last));
        left -= 1;
        if id == StreamId::MAX {
            break;
        }
    }
    if consumer_created {
        super::consumer_created(ctx.client, key);
    }
    logged.finish(ctx, std::slice::from_ref(key));
    Ok(Reply::Array(vec![id_reply(next.unwrap_or(StreamId::MIN)), Reply::Array(claimed), Reply::Array(deleted)]))
}

#[cfg(test)]
mod tests {
    #[test]
    fn xgroup_subcommands_are_sorted_for_command_docs() {
        let names: Vec<&str> = super::XGROUP_SUBS.iter().map(|s| s.0).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
    }
}
