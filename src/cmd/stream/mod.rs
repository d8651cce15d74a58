//! Stream commands (Redis's `t_stream.c`): XADD, ranges, XLEN, XDEL,
//! XTRIM and XSETID here; XREAD and XREADGROUP (blocking) in `read.rs`;
//! consumer groups (XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM) in
//! `group.rs`; XINFO in `info.rs`.
//!
//! Storage is [`crate::db::stream::StreamValue`]. Unlike the other
//! collections, a stream key may exist empty (XADD MAXLEN 0, XDEL of every
//! entry, XGROUP CREATE … MKSTREAM), as in Redis. Commands whose effect
//! depends on the moment they ran (XADD `*`, `~` trimming, XREADGROUP,
//! XAUTOCLAIM) are logged as their deterministic result through
//! [`crate::server::client::ClientState::propagate_as`], as Redis rewrites
//! them.

mod group;
mod info;
mod read;

use bytes::Bytes;

pub(crate) use group::XGROUP_SUBS;
pub(crate) use info::XINFO_SUBS;
pub use read::key_positions;

use super::args::{self, err, fail, is};
use super::table::flags::*;
use super::{CmdResult, Ctx};
use crate::db::stream::{StreamId, StreamValue, Trim, MAX_ENTRY_BYTES};
use crate::protocol::reply::EncodedArray;
use crate::protocol::Reply;
use crate::spec;

/// Redis's error for an unparsable id.
const ERR_INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
/// XADD/XSETID with an id not above the stream's last.
const ERR_ID_SMALL: &str = "ERR The ID specified in XADD is equal or smaller than the target stream top item";

/// Parses a decimal u64 as Redis's `string2ull` (digits only).
fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// An id as clients write it: `ms-seq`, `ms` (the sequence then is
/// `missing_seq`), and unless `strict`, `-` and `+`. With `star_seq`,
/// `ms-*` is accepted and reported as `seq_given = false`.
/// Returns the id and whether the sequence was given. O(len).
fn parse_id_full(arg: &[u8], missing_seq: u64, strict: bool, star_seq: bool) -> Result<(StreamId, bool), Reply> {
    if arg.len() > 127 {
        return fail(ERR_INVALID_ID);
    }
    match arg {
        b"-" if !strict => return Ok((StreamId::MIN, true)),
        b"+" if !strict => return Ok((StreamId::MAX, true)),
        _ => {}
    }
    let (ms, seq) = match arg.iter().position(|&c| c == b'-') {
        Some(d) => (&arg[..d], Some(&arg[d + 1..])),
        None => (arg, None),
    };
    let ms = parse_u64(ms).ok_or_else(|| Reply::err(ERR_INVALID_ID))?;
    match seq {
        Some(b"*") if star_seq => Ok((StreamId::new(ms, 0), false)),
        Some(s) => Ok((StreamId::new(ms, parse_u64(s).ok_or_else(|| Reply::err(ERR_INVALID_ID))?), true)),
        None => Ok((StreamId::new(ms, missing_seq), true)),
    }
}

/// An id where `-` and `+` are allowed (ranges).
fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, Reply> {
    parse_id_full(arg, missing_seq, false, false).map(|(id, _)| id)
}

/// An id where `-` and `+` are not allowed.
fn parse_strict_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, Reply> {
    parse_id_full(arg, missing_seq, true, false).map(|(id, _)| id)
}

/// A range bound: an id, `-`/`+`, or an exclusive `(id`. Returns the
/// inclusive bound, or the error Redis gives when an exclusive bound has
/// no neighbour.
fn parse_bound(arg: &[u8], end: bool) -> Result<StreamId, Reply> {
    let missing = if end { u64::MAX } else { 0 };
    if arg.len() > 1 && arg[0] == b'(' {
        let id = parse_strict_id(&arg[1..], missing)?;
        let moved = if end { id.prev() } else { id.next() };
        return moved.ok_or_else(|| {
            Reply::err(if end {
                "ERR invalid end ID for the interval"
            } else {
                "ERR invalid start ID for the interval"
            })
        });
    }
    parse_id(arg, missing)
}

/// An id as a bulk string.
fn id_reply(id: StreamId) -> Reply {
    Reply::Bulk(id.to_bytes())
}

/// One entry as Redis replies it: `[id, [field, value, …]]`.
fn entry_reply(id: StreamId, pairs: impl Iterator<Item = (Bytes, Bytes)>) -> Reply {
    let mut flat = Vec::new();
    for (f, v) in pairs {
        flat.push(Reply::Bulk(f));
        flat.push(Reply::Bulk(v));
    }
    Reply::Array(vec![id_reply(id), Reply::Array(flat)])
}

/// `ms-seq` written into `buf`, returned as the slice written.
fn id_text(id: StreamId, buf: &mut [u8; 48]) -> &[u8] {
    let mut ib = itoa::Buffer::new();
    let ms = ib.format(id.ms).as_bytes();
    let n = ms.len();
    buf[..n].copy_from_slice(ms);
    buf[n] = b'-';
    let seq = ib.format(id.seq).as_bytes();
    buf[n + 1..n + 1 + seq.len()].copy_from_slice(seq);
    &buf[..n + 1 + seq.len()]
}

/// The live entries in `start..=end` (at most `count`, 0: all) encoded as
/// Redis replies them, straight from the stream's nodes into one buffer;
/// `seen` is called with each id served. O(log n + size of the reply).
fn range_reply(
    s: &StreamValue,
    start: StreamId,
    end: StreamId,
    rev: bool,
    count: usize,
    mut seen: impl FnMut(StreamId),
) -> EncodedArray {
    let mut out = EncodedArray::default();
    let mut buf = [0u8; 48];
    s.scan(start, end, rev, |e| {
        out.next_element();
        out.array(2);
        out.bulk(id_text(e.id, &mut buf));
        out.array(2 * e.len());
        for (f, v) in e.pairs() {
            out.bulk(f);
            out.bulk(v);
        }
        seen(e.id);
        count == 0 || out.len() < count
    });
    out
}

/// Entries as Redis replies them.
fn entries_reply(entries: Vec<crate::db::stream::Entry>) -> Reply {
    Reply::Array(entries.into_iter().map(|(id, pairs)| entry_reply(id, pairs.into_iter())).collect())
}

/// The stream at `key` for a read (counts a hit or miss).
fn read_stream<'c>(ctx: &'c mut Ctx<'_, '_>, key: &[u8]) -> Result<Option<&'c mut StreamValue>, Reply> {
    Ok(ctx.ks.read_as(key)?)
}

/// The stream at `key` before a change that may not happen.
fn peek_stream<'c>(ctx: &'c mut Ctx<'_, '_>, key: &[u8]) -> Result<Option<&'c mut StreamValue>, Reply> {
    Ok(ctx.ks.peek_as(key)?)
}

/// What a stream command changed and, when the server logs writes, the
/// commands it is logged as (built only then).
pub(super) struct Effects {
    log: bool,
    cmds: Vec<Vec<Bytes>>,
    changed: bool,
}

impl Effects {
    pub(super) fn new(ctx: &Ctx) -> Effects {
        Effects { log: ctx.srv.persist.logs_writes(), cmds: Vec::new(), changed: false }
    }

    /// Records a change, logged as `cmd()`.
    pub(super) fn push(&mut self, cmd: impl FnOnce() -> Vec<Bytes>) {
        self.changed = true;
        if self.log {
            self.cmds.push(cmd());
        }
    }

    /// Records a change that needs no log entry of its own.
    pub(super) fn touch(&mut self) {
        self.changed = true;
    }

    /// Counts the change on `keys` and hands the log to the dispatcher.
    pub(super) fn finish(self, ctx: &mut Ctx, keys: &[Bytes]) {
        if !self.changed {
            return;
        }
        for k in keys {
            ctx.ks.write(k);
        }
        if self.log {
            ctx.client.propagate_as = Some(self.cmds);
        }
    }
}

/// XADD's and XTRIM's trimming options.
#[derive(Default)]
struct TrimArgs {
    how: Option<Trim>,
    approx: bool,
    /// 0: no limit.
    limit: u64,
    /// Position of the MAXLEN/MINID value (for the logged form).
    arg_at: usize,
}

/// XADD's options besides trimming.
struct AddArgs {
    trim: TrimArgs,
    nomkstream: bool,
    /// The id and whether its sequence was given; `None` for `*`.
    id: Option<(StreamId, bool)>,
    /// Position of the id argument.
    id_at: usize,
}

/// Parses `[NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT n]]` and, for
/// XADD, the id, as Redis's `streamParseAddOrTrimArgsOrReply`.
fn parse_add_or_trim(a: &[Bytes], xadd: bool) -> Result<AddArgs, Reply> {
    let mut t = TrimArgs::default();
    let mut nomkstream = false;
    let mut id = None;
    let mut limit_given = false;
    let mut i = 2;
    while i < a.len() {
        let more = a.len() - 1 - i;
        let o = &a[i][..];
        if xadd && o == b"*" {
            break;
        } else if (is(o, "maxlen") || is(o, "minid")) && more > 0 {
            if t.how.is_some() {
                return fail("ERR syntax error, MAXLEN and MINID options at the same time are not compatible");
            }
            t.approx = false;
            let next = &a[i + 1][..];
            if more >= 2 && (next == b"~" || next == b"=") {
                t.approx = next == b"~";
                i += 1;
            }
            let v = &a[i + 1];
            if is(o, "maxlen") {
                let n = args::int(v)?;
                if n < 0 {
                    return fail("ERR The MAXLEN argument must be >= 0.");
                }
                t.how = Some(Trim::MaxLen(n as u64));
            } else {
                t.how = Some(Trim::MinId(parse_strict_id(v, 0)?));
            }
            i += 1;
            t.arg_at = i;
        } else if is(o, "limit") && more > 0 {
            let n = args::int(&a[i + 1])?;
            if n < 0 {
                return fail("ERR The LIMIT argument must be >= 0.");
            }
            t.limit = n as u64;
            limit_given = true;
            i += 1;
        } else if xadd && is(o, "nomkstream") {
            nomkstream = true;
        } else if xadd {
            id = Some(parse_id_full(o, 0, true, true)?);
            break;
        } else {
            return fail(err::SYNTAX);
        }
        i += 1;
    }
    if t.limit != 0 && t.how.is_none() {
        return fail("ERR syntax error, LIMIT cannot be used without specifying a trimming strategy");
    }
    if !xadd && t.how.is_none() {
        return fail("ERR syntax error, XTRIM must be called with a trimming strategy");
    }
    if crate::db::loading() {
        // Replaying the log: the logged trim is exact, never limited.
        t.limit = 0;
    } else if limit_given {
        if !t.approx {
            return fail("ERR syntax error, LIMIT cannot be used without the special ~ option");
        }
    } else if t.approx {
        t.limit = (100 * crate::db::stream::node_max_entries() as u64).clamp(1, 1_000_000);
        if crate::db::stream::node_max_entries() == 0 {
            t.limit = 10_000;
        }
    }
    Ok(AddArgs { trim: t, nomkstream, id, id_at: i })
}

/// Applies a parsed trim to `s`; returns the entries removed. When the
/// trim was approximate, rewrites `logged` to the exact trim that leaves
/// the same stream (`=` and the resulting length or first id), so a
/// replay does the same.
fn apply_trim(s: &mut StreamValue, t: &TrimArgs, logged: Option<&mut Vec<Bytes>>) -> u64 {
    let Some(how) = t.how else { return 0 };
    let removed = s.trim(how, t.approx, t.limit);
    if let Some(logged) = logged.filter(|_| t.approx) {
        logged[t.arg_at - 1] = Bytes::from_static(b"=");
        logged[t.arg_at] = match how {
            Trim::MaxLen(_) => args::int_bytes(s.len() as i64),
            Trim::MinId(_) => s.edge_id(false).unwrap_or(StreamId::MAX).to_bytes(),
        };
    }
    removed
}

/// Raises `xgroup-createconsumer` on `key`: XREADGROUP, XCLAIM and
/// XAUTOCLAIM create the consumer they name as they go.
fn consumer_created(client: &mut crate::server::client::ClientState, key: &Bytes) {
    crate::pubsub::notify::raise(client, crate::pubsub::notify::class::STREAM, "xgroup-createconsumer", key);
}

/// XADD key [NOMKSTREAM] [trim] id|* field value [field value …].
/// Amortised O(1) plus the trimming.
fn xadd(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let p = parse_add_or_trim(a, true)?;
    let fields_at = p.id_at + 1;
    if a.len() < fields_at + 2 || (a.len() - fields_at) % 2 == 1 {
        return Err(args::arity_error("xadd"));
    }
    if let Some((id, true)) = p.id {
        if id.is_zero() {
            return fail("ERR The ID specified in XADD must be greater than 0-0");
        }
    }
    if p.nomkstream && peek_stream(ctx, &a[1])?.is_none() {
        return Ok(Reply::Nil);
    }
    let size: usize = a[fields_at..].iter().map(|x| x.len()).sum();
    let s = ctx.ks.get_or_create::<StreamValue>(&a[1])?;
    if s.last_id == StreamId::MAX {
        return fail("ERR The stream has exhausted the last possible ID, unable to add more items");
    }
    let id = match p.id {
        None => s.next_auto_id(crate::db::now_ms()),
        Some((id, true)) => Some(id),
        Some((id, false)) if id.ms == s.last_id.ms => s.last_id.seq.checked_add(1).map(|seq| StreamId::new(id.ms, seq)),
        Some((id, false)) => Some(id),
    };
    let Some(id) = id.filter(|id| *id > s.last_id) else { return fail(ERR_ID_SMALL) };
    if size > MAX_ENTRY_BYTES {
        return fail("ERR Elements are too large to be stored");
    }
    let pairs: Vec<(&[u8], &[u8])> = a[fields_at..].chunks_exact(2).map(|c| (&c[0][..], &c[1][..])).collect();
    s.append(id, &pairs);
    let id_bytes = id.to_bytes();
    let mut logged = ctx.srv.persist.logs_writes().then(|| a.to_vec());
    if let Some(l) = logged.as_mut() {
        l[p.id_at] = id_bytes.clone();
    }
    if apply_trim(s, &p.trim, logged.as_mut()) > 0 {
        crate::pubsub::notify::raise(ctx.client, crate::pubsub::notify::class::STREAM, "xtrim", &a[1]);
    }
    ctx.ks.signal_ready(&a[1]);
    ctx.client.propagate_as = logged.map(|l| vec![l]);
    Ok(Reply::Bulk(id_bytes))
}

/// XRANGE/XREVRANGE key start end [COUNT n]. O(log n + count).
fn xrange_generic(ctx: &mut Ctx, a: &[Bytes], rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev { (&a[3], &a[2]) } else { (&a[2], &a[3]) };
    let start = parse_bound(start_arg, false)?;
    let end = parse_bound(end_arg, true)?;
    let mut count: i64 = -1;
    let mut i = 4;
    while i < a.len() {
        if is(&a[i], "count") && i + 1 < a.len() {
            count = args::int(&a[i + 1])?.max(0);
            i += 2;
        } else {
            return fail(err::SYNTAX);
        }
    }
    let Some(s) = read_stream(ctx, &a[1])? else { return Ok(Reply::Array(Vec::new())) };
    if count == 0 {
        return Ok(Reply::NilArray);
    }
    Ok(range_reply(s, start, end, rev, count.max(0) as usize, |_| ()).finish())
}

fn xrange(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    xrange_generic(ctx, a, false)
}

fn xrevrange(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    xrange_generic(ctx, a, true)
}

/// XLEN key. O(1).
fn xlen(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(read_stream(ctx, &a[1])?.map_or(0, |s| s.len() as i64)))
}

/// XDEL key id [id …]: how many were deleted. O(log n) per id.
fn xdel(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let ids = a[2..].iter().map(|x| parse_strict_id(x, 0)).collect::<Result<Vec<_>, _>>()?;
    let Some(s) = peek_stream(ctx, &a[1])? else { return Ok(Reply::Int(0)) };
    let deleted = ids.iter().filter(|id| s.delete(**id)).count();
    if deleted > 0 {
        ctx.ks.write(&a[1]);
    }
    Ok(Reply::Int(deleted as i64))
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT n]. O(removed).
fn xtrim(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let p = parse_add_or_trim(a, false)?;
    let mut logged = ctx.srv.persist.logs_writes().then(|| a.to_vec());
    let Some(s) = peek_stream(ctx, &a[1])? else { return Ok(Reply::Int(0)) };
    let removed = apply_trim(s, &p.trim, logged.as_mut());
    if removed > 0 {
        ctx.ks.write(&a[1]);
        ctx.client.propagate_as = logged.map(|l| vec![l]);
    }
    Ok(Reply::Int(removed as i64))
}

/// XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id]. O(1).
fn xsetid(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let id = parse_strict_id(&a[2], 0)?;
    let (mut added, mut max_deleted) = (None, None);
    let mut i = 3;
    while i < a.len() {
        if is(&a[i], "entriesadded") && i + 1 < a.len() {
            let n = args::int(&a[i + 1])?;
            if n < 0 {
                return fail("ERR entries_added must be positive");
            }
            added = Some(n as u64);
        } else if is(&a[i], "maxdeletedid") && i + 1 < a.len() {
            let m = parse_strict_id(&a[i + 1], 0)?;
            if id < m {
                return fail("ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id");
            }
            max_deleted = Some(m);
        } else {
            return fail(err::SYNTAX);
        }
        i += 2;
    }
    let Some(s) = peek_stream(ctx, &a[1])? else { return fail(err::NO_KEY) };
    if !s.is_empty() {
        if s.edge_id(true).is_some_and(|top| id < top) {
            return fail("ERR The ID specified in XSETID is smaller than the target stream top item");
        }
        if added.is_some_and(|n| n < s.len()) {
            return fail("ERR The entries_added specified in XSETID is smaller than the target stream length");
        }
    }
    s.last_id = id;
    if let Some(n) = added {
        s.entries_added = n;
    }
    if let Some(m) = max_deleted.filter(|m| !m.is_zero()) {
        s.max_deleted_entry_id = m;
    }
    ctx.ks.write(&a[1]);
    args::ok()
}

/// The stream family's rows in the command table.
pub const COMMANDS: &[super::table::CommandSpec] = &[
    spec!("xadd", -5, WRITE | DENYOOM | FAST, 1, 1, 1, xadd, "stream", "Appends a new message to a stream. Creates the key if it doesn't exist.", "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted."),
    spec!("xrange", -4, READONLY, 1, 1, 1, xrange, "stream", "Returns the messages from a stream within a range of IDs.", "O(N) with N being the number of elements being returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1)."),
    spec!("xrevrange", -4, READONLY, 1, 1, 1, xrevrange, "stream", "Returns the messages from a stream within a range of IDs in reverse order.", "O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1)."),
    spec!("xlen", 2, READONLY | FAST, 1, 1, 1, xlen, "stream", "Return the number of messages in a stream.", "O(1)"),
    spec!("xdel", -3, WRITE | FAST, 1, 1, 1, xdel, "stream", "Returns the number of messages after removing them from a stream.", "O(1) for each single item to delete in the stream, regardless of the stream size."),
    spec!("xtrim", -4, WRITE, 1, 1, 1, xtrim, "stream", "Deletes messages from the beginning of a stream.", "O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation."),
    spec!("xsetid", -3, WRITE | DENYOOM | FAST, 1, 1, 1, xsetid, "stream", "An internal command for replicating stream values.", "O(1)"),
    spec!("xread", -4, READONLY | BLOCKING | MOVABLE_KEYS, 0, 0, 0, read::xread, "stream", "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.", "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREAD blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data."),
    spec!("xreadgroup", -7, WRITE | BLOCKING | MOVABLE_KEYS, 0, 0, 0, read::xreadgroup, "stream", "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.", "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data."),
    spec!("xgroup", -2, WRITE, 2, 2, 1, group::xgroup, "stream", "A container for consumer groups commands.", "Depends on subcommand."),
    spec!("xack", -4, WRITE | FAST, 1, 1, 1, group::xack, "stream", "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.", "O(1) for each message ID processed."),
    spec!("xpending", -3, READONLY, 1, 1, 1, group::xpending, "stream", "Returns the information and entries from a stream consumer group's pending entries list.", "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer."),
    spec!("xclaim", -6, WRITE | FAST, 1, 1, 1, group::xclaim, "stream", "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.", "O(log N) with N being the number of messages in the PEL of the consumer group."),
    spec!("xautoclaim", -6, WRITE | FAST, 1, 1, 1, group::xautoclaim, "stream", "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.", "O(1) if COUNT is small."),
    spec!("xinfo", -2, READONLY, 2, 2, 1, info::xinfo, "stream", "A container for stream introspection commands.", "Depends on subcommand."),
];
