//! XINFO STREAM [FULL [COUNT n]], XINFO GROUPS, XINFO CONSUMERS and HELP,
//! with Redis 7.0's fields (maps in RESP3, flat arrays in RESP2).

use bytes::Bytes;

use super::{entries_reply, id_reply, read_stream};
use crate::cmd::args::{self, err, fail, is};
use crate::cmd::keys::help_reply;
use crate::cmd::{CmdResult, Ctx};
use crate::db::stream::{ConsumerGroup, StreamId, StreamValue};
use crate::protocol::Reply;

/// XINFO's subcommands with their Redis arities.
pub(crate) const XINFO_SUBS: &[(&str, i32)] = &[("consumers", 4), ("groups", 3), ("help", 2), ("stream", -3)];

const XINFO_HELP: &[&str] = &[
    "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
    "HELP",
    "    Prints this help.",
];

fn field(name: &'static str, v: Reply) -> (Reply, Reply) {
    (Reply::bulk_str(name), v)
}

fn int(n: u64) -> Reply {
    Reply::Int(n as i64)
}

pub(super) fn xinfo(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let sub = crate::cmd::server::subcommands::resolve(ctx, "xinfo", a)?;
    if sub == "help" {
        return Ok(help_reply(XINFO_HELP));
    }
    let key = &a[2];
    let Some(s) = read_stream(ctx, key)? else { return fail(err::NO_KEY) };
    let now = crate::db::now_ms();
    match sub {
        "consumers" => {
            let Some(g) = s.groups.get(&a[3]) else {
                return Err(Reply::Error(format!(
                    "NOGROUP No such consumer group '{}' for key name '{}'",
                    String::from_utf8_lossy(&a[3]),
                    String::from_utf8_lossy(key)
                )));
            };
            let rows = g
                .consumers
                .iter()
                .map(|(name, c)| {
                    Reply::Map(vec![
                        field("name", Reply::Bulk(name.clone())),
                        field("pending", int(c.pel.len() as u64)),
                        field("idle", int(now.saturating_sub(c.seen_time))),
                    ])
                })
                .collect();
            Ok(Reply::Array(rows))
        }
        "groups" if a.len() == 3 => {
            let rows = s.groups.iter().map(|(name, g)| group_summary(s, name, g)).collect();
            Ok(Reply::Array(rows))
        }
        "stream" => stream_info(s, &a[1], &a[3..]),
        _ => Err(Reply::Error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try XINFO HELP.",
            String::from_utf8_lossy(&a[1])
        ))),
    }
}

fn read_counter(g: &ConsumerGroup) -> Reply {
    g.entries_read.map_or(Reply::Nil, int)
}

fn lag(s: &StreamValue, g: &ConsumerGroup) -> Reply {
    s.group_lag(g).map_or(Reply::Nil, Reply::Int)
}

fn group_summary(s: &StreamValue, name: &Bytes, g: &ConsumerGroup) -> Reply {
    Reply::Map(vec![
        field("name", Reply::Bulk(name.clone())),
        field("consumers", int(g.consumers.len() as u64)),
        field("pending", int(g.pel.len() as u64)),
        field("last-delivered-id", id_reply(g.last_id)),
        field("entries-read", read_counter(g)),
        field("lag", lag(s, g)),
    ])
}

/// One entry or nil (XINFO STREAM's first-entry / last-entry).
fn edge_entry(s: &StreamValue, last: bool) -> Reply {
    let id = s.edge_id(last);
    match id.and_then(|id| s.get(id)) {
        Some(e) => match entries_reply(vec![e]) {
            Reply::Array(mut v) if v.len() == 1 => v.remove(0),
            other => other,
        },
        None => Reply::Nil,
    }
}

fn stream_info(s: &StreamValue, sub: &[u8], opts: &[Bytes]) -> CmdResult {
    let syntax = || {
        Err(Reply::Error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try XINFO HELP.",
            String::from_utf8_lossy(sub)
        )))
    };
    let mut count: u64 = 10;
    let full = match opts.len() {
        0 => false,
        1 | 3 if is(&opts[0], "full") => {
            if opts.len() == 3 {
                if !is(&opts[1], "count") {
                    return syntax();
                }
                let n = args::int(&opts[2])?;
                count = if n < 0 { 10 } else { n as u64 };
            }
            true
        }
        _ => return syntax(),
    };
    let nodes = s.node_count() as u64;
    let mut m = vec![
        field("length", int(s.len())),
        field("radix-tree-keys", int(nodes)),
        field("radix-tree-nodes", int(nodes + nodes.div_ceil(2).max(1))),
        field("last-generated-id", id_reply(s.last_id)),
        field("max-deleted-entry-id", id_reply(s.max_deleted_entry_id)),
        field("entries-added", int(s.entries_added)),
        field("recorded-first-entry-id", id_reply(s.first_id)),
    ];
    if !full {
        m.push(field("groups", int(s.groups.len() as u64)));
        m.push(field("first-entry", edge_entry(s, false)));
        m.push(field("last-entry", edge_entry(s, true)));
        return Ok(Reply::Map(m));
    }
    let limit = if count == 0 { usize::MAX } else { count as usize };
    m.push(field("entries", entries_reply(s.range(StreamId::MIN, StreamId::MAX, false, count as usize))));
    let groups = s
        .groups
        .iter()
        .map(|(name, g)| {
            let pending = g
                .pel
                .iter()
                .take(limit)
                .map(|(id, n)| {
                    Reply::Array(vec![
                        id_reply(*id),
                        Reply::Bulk(n.consumer.clone()),
                        int(n.delivery_time),
                        int(n.delivery_count),
                    ])
                })
                .collect();
            let consumers = g
                .consumers
                .iter()
                .map(|(cname, c)| {
                    let pel = c
                        .pel
                        .iter()
                        .take(limit)
                        .filter_map(|id| g.pel.get(id).map(|n| (id, n)))
                        .map(|(id, n)| Reply::Array(vec![id_reply(*id), int(n.delivery_time), int(n.delivery_count)]))
                        .collect();
                    Reply::Map(vec![
                        field("name", Reply::Bulk(cname.clone())),
                        field("seen-time", int(c.seen_time)),
                        field("pel-count", int(c.pel.len() as u64)),
                        field("pending", Reply::Array(pel)),
                    ])
                })
                .collect();
            Reply::Map(vec![
                field("name", Reply::Bulk(name.clone())),
                field("last-delivered-id", id_reply(g.last_id)),
                field("entries-read", read_counter(g)),
                field("lag", lag(s, g)),
                field("pel-count", int(g.pel.len() as u64)),
                field("pending", Reply::Array(pending)),
                field("consumers", Reply::Array(consumers)),
            ])
        })
        .collect();
    m.push(field("groups", Reply::Array(groups)));
    Ok(Reply::Map(m))
}
