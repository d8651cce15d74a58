//! MEMORY USAGE / PURGE / MALLOC-STATS / HELP.

use bytes::Bytes;

use super::super::args::{self, err, fail, int, is};
use super::super::keys::{help_reply, subcommand};
use super::super::{CmdResult, Ctx};
use crate::protocol::Reply;

const MEMORY_HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    measured whole here, so <count> is checked and otherwise unused.",
    "HELP",
    "    Prints this help.",
];

const MEMORY_SUBS: &[(&str, i32)] = &[("help", 2), ("malloc-stats", 2), ("purge", 2), ("usage", -3)];

/// Bytes a key costs besides its value: the table slot, the boxed entry
/// and the key's own buffer.
const PER_KEY_OVERHEAD: usize = 48 + std::mem::size_of::<crate::db::Entry>() + 32;

/// MEMORY's handler (the table declares argument 2 as its key, for USAGE).
pub(super) fn memory(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    match subcommand("memory", a, MEMORY_SUBS)? {
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
        "malloc-stats" => Ok(Reply::bulk_str("Stats not supported for the current allocator")),
        _ => Ok(help_reply(MEMORY_HELP)),
    }
}
