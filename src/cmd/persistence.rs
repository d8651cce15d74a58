//! Persistence commands: SAVE, BGSAVE, LASTSAVE, BGREWRITEAOF.
//!
//! One background child at a time (see `persist::jobs`): BGREWRITEAOF
//! during a BGSAVE is scheduled, BGSAVE during a rewrite is refused unless
//! `SCHEDULE` is given; inside EXEC both are scheduled, as in Redis.

use bytes::Bytes;

use super::args::{self, fail, is};
use super::table::flags::*;
use super::{CmdResult, Ctx};
use crate::persist::{self, JobStart};
use crate::protocol::Reply;
use crate::spec;

/// SAVE: refused inside MULTI, as in Redis (a foreground save would stall
/// the transaction's atomic run).
fn save(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    super::transaction::refuse_inside_multi(ctx)?;
    if ctx.srv.persist.bgsave_running() {
        return fail("ERR Background save already in progress");
    }
    match persist::save_locked(ctx.srv, ctx.ks) {
        Ok(()) => args::ok(),
        Err(e) => fail(&format!("ERR {e}")),
    }
}

fn bgsave(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len() > 2 || (a.len() == 2 && !is(&a[1], "schedule")) {
        return fail(args::err::SYNTAX);
    }
    let in_exec = ctx.client.in_exec;
    match persist::bgsave_command(ctx.srv, ctx.ks, a.len() == 2, in_exec) {
        Ok(JobStart::Started) => Ok(Reply::Status("Background saving started")),
        Ok(JobStart::Scheduled) => Ok(Reply::Status("Background saving scheduled")),
        Err(e) => fail(&format!("ERR {e}")),
    }
}

fn lastsave(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(ctx.srv.persist.lastsave() as i64))
}

fn bgrewriteaof(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let in_exec = ctx.client.in_exec;
    match persist::bgrewriteaof_command(ctx.srv, ctx.ks, in_exec) {
        Ok(JobStart::Started) => Ok(Reply::Status("Background append only file rewriting started")),
        Ok(JobStart::Scheduled) => Ok(Reply::Status("Background append only file rewriting scheduled")),
        Err(e) => fail(&format!("ERR {e}")),
    }
}

/// The persistence family's rows of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[super::table::CommandSpec] = &[
    spec!("save", 1, ADMIN | ALL_KEYS | NO_MULTI, 0, 0, 0, save, "server", "Synchronously saves the database(s) to disk.", "O(N) where N is the total number of keys in all databases"),
    spec!("bgsave", -1, ADMIN | ALL_KEYS, 0, 0, 0, bgsave, "server", "Asynchronously saves the database(s) to disk.", "O(1) in the server (the forked child does O(N))"),
    spec!("lastsave", 1, FAST | LOADING, 0, 0, 0, lastsave, "server", "Returns the Unix timestamp of the last successful save to disk.", "O(1)"),
    spec!("bgrewriteaof", 1, ADMIN | ALL_KEYS, 0, 0, 0, bgrewriteaof, "server", "Asynchronously rewrites the append-only file to disk.", "O(1) in the server (the forked child does O(N))"),
];
