//! MEMORY USAGE / STATS / DOCTOR / PURGE / MALLOC-STATS / HELP.

use bytes::Bytes;

use super::super::args::{self, err, fail, int, is};
use super::super::keys::help_reply;
use super::super::{CmdResult, Ctx};
use crate::protocol::Reply;

const MEMORY_HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    measured whole here, so <count> is checked and otherwise unused.",
    "HELP",
    "    Prints this help.",
];

/// MEMORY's subcommands with their Redis arities (the container's name counted).
pub(crate) const MEMORY_SUBS: &[(&str, i32)] =
    &[("doctor", 2), ("help", 2), ("malloc-stats", 2), ("purge", 2), ("stats", 2), ("usage", -3)];

/// Below this much memory in use MEMORY DOCTOR has nothing to say (as Redis).
const DOCTOR_MIN_BYTES: u64 = 5 << 20;

/// Bytes a key costs besides its value: its table slot (hash, key, entry),
/// its share of the hash index and the key's own buffer.
const PER_KEY_OVERHEAD: usize = crate::db::keyspace::SLOT_BYTES + 16 + 32;

/// MEMORY's handler (the table declares argument 2 as its key, for USAGE).
pub(super) fn memory(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    match super::subcommands::resolve(ctx, "memory", a)? {
        "usage" => {
            let mut i = 3;
            while i < a.len() {
                if is(&a[i], "samples") && i + 1 < a.len() {
                    if int(&a[i + 1])? < 0 {
                        return fail(err::SYNTAX);
                    }
                    i += 2;
                } else {
                    return fail(err::SYNTAX);
                }
            }
            let key = &a[2];
            let size = crate::db::with_no_touch(true, || ctx.ks.peek(key).map(|e| e.value.heap_size()));
            Ok(size.map_or(Reply::Nil, |s| Reply::Int((s + key.len() + PER_KEY_OVERHEAD) as i64)))
        }
        "purge" => args::ok(),
        "stats" => Ok(stats(ctx)),
        "doctor" => {
            let used = crate::server::used_memory(ctx.srv);
            let text = if used < DOCTOR_MIN_BYTES {
                "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n"
            } else {
                "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n"
            };
            Ok(Reply::Verbatim(Bytes::from_static(text.as_bytes())))
        }
        "malloc-stats" => Ok(Reply::bulk_str("Stats not supported for the current allocator")),
        _ => Ok(help_reply(MEMORY_HELP)),
    }
}

/// MEMORY STATS: Redis's fields, from what this server measures (the
/// memory in use and the keys per database); buffers and caches Redis
/// counts apart (replication, AOF, scripts) do not exist here and are 0.
/// O(databases × shards).
fn stats(ctx: &mut Ctx) -> Reply {
    let used = crate::server::used_memory(ctx.srv);
    let rss = super::super::info::rss_bytes();
    // Inside EXEC every shard is already locked by this thread: count through those locks.
    let sizes: Vec<(usize, usize)> = if ctx.ks.is_all() {
        (0..ctx.srv.keyspace.databases())
            .map(|db| ctx.ks.db_parts(db).fold((0, 0), |(k, e), p| (k + p.map.len(), e + p.expires.len())))
            .collect()
    } else {
        ctx.srv.keyspace.db_sizes()
    };
    let keys: usize = sizes.iter().map(|(k, _)| k).sum();
    let overhead = (keys * PER_KEY_OVERHEAD) as u64;
    let dataset = used.saturating_sub(overhead);
    let pct = |part: u64, whole: u64| if whole == 0 { 0.0 } else { part as f64 * 100.0 / whole as f64 };
    let int = |n: u64| Reply::Int(n.min(i64::MAX as u64) as i64);
    let mut m: Vec<(Reply, Reply)> = Vec::new();
    let mut put = |k: String, v: Reply| m.push((Reply::bulk_str(k), v));
    put("peak.allocated".into(), int(used));
    put("total.allocated".into(), int(used));
    for k in ["startup.allocated", "replication.backlog", "clients.slaves", "clients.normal", "cluster.links"] {
        put(k.into(), int(0));
    }
    for k in ["aof.buffer", "lua.caches", "functions.caches"] {
        put(k.into(), int(0));
    }
    for (db, (k, e)) in sizes.iter().enumerate().filter(|(_, (k, _))| *k > 0) {
        let per_db = vec![
            (Reply::bulk_str("overhead.hashtable.main"), int((*k * PER_KEY_OVERHEAD) as u64)),
            (Reply::bulk_str("overhead.hashtable.expires"), int((*e * 16) as u64)),
            (Reply::bulk_str("overhead.hashtable.slot-to-keys"), int(0)),
        ];
        put(format!("db.{db}"), Reply::Map(per_db));
    }
    put("overhead.total".into(), int(overhead));
    put("keys.count".into(), int(keys as u64));
    put("keys.bytes-per-key".into(), int(if keys == 0 { 0 } else { used / keys as u64 }));
    put("dataset.bytes".into(), int(dataset));
    put("dataset.percentage".into(), Reply::Double(pct(dataset, used)));
    put("peak.percentage".into(), Reply::Double(100.0));
    // No allocator statistics apart from what is allocated and resident.
    put("allocator.allocated".into(), int(used));
    put("allocator.active".into(), int(used));
    put("allocator.resident".into(), int(rss));
    put("allocator-fragmentation.ratio".into(), Reply::Double(1.0));
    put("allocator-fragmentation.bytes".into(), int(0));
    put("allocator-rss.ratio".into(), Reply::Double(if used == 0 { 1.0 } else { rss as f64 / used as f64 }));
    put("allocator-rss.bytes".into(), Reply::Int(rss as i64 - used as i64));
    put("rss-overhead.ratio".into(), Reply::Double(1.0));
    put("rss-overhead.bytes".into(), int(0));
    put("fragmentation".into(), Reply::Double(if used == 0 { 1.0 } else { rss as f64 / used as f64 }));
    put("fragmentation.bytes".into(), Reply::Int(rss as i64 - used as i64));
    Reply::Map(m)
}
