//! Scripting commands (Redis's `eval.c`): EVAL, EVALSHA, EVAL_RO,
//! EVALSHA_RO and SCRIPT; and the host side of `redis.call`.
//!
//! A script runs with every shard locked (these rows carry
//! `MOVABLE_KEYS`, so the dispatcher locks them all), so it is atomic as
//! EXEC is; its commands run through [`super::run`] as EXEC's do, which
//! keeps WATCH, keyspace statistics and blocked clients right. Its writes
//! reach the AOF as the commands it ran, wrapped in MULTI/EXEC when more
//! than one.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::args::{self, fail};
use super::server::subcommands;
use super::table::{self, flags::*, CommandSpec};
use super::{run, CmdResult, Ctx};
use crate::protocol::Reply;
use crate::scripting::{flags as sflags, Host, RUN};
use crate::spec;

/// What a script's `redis.call` may do, fixed when it starts (Redis's
/// `scriptRunCtx` flags).
struct ScriptHost<'c, 'a, 'l> {
    ctx: &'c mut Ctx<'a, 'l>,
    /// EVAL_RO, or a `no-writes` script.
    read_only: bool,
    /// A script with the `allow-oom` flag.
    allow_oom: bool,
    /// Memory was above `maxmemory` when the script started.
    oom_at_start: bool,
    /// The protocol of the script's calls.
    resp: u8,
    /// The script's error reply is one already counted (see [`Host::error_already_counted`]).
    error_counted: bool,
    /// The last command called, by its name as sent (scripts repeat a few
    /// commands: a name compare instead of a table lookup).
    last: Option<(Bytes, table::Row)>,
}

impl ScriptHost<'_, '_, '_> {
    /// A refusal before the command ran: counted as rejected, and as an
    /// error under the code the script will see (Redis counts errors of
    /// commands run from scripts, and then not the script's).
    fn reject(&self, spec: &'static CommandSpec, argv: &[Bytes], text: String) -> Result<Reply, String> {
        super::info::stats::record_rejected(spec, argv);
        let seen = crate::scripting::convert::error_text(text.as_bytes());
        super::info::stats::count_error_reply(self.ctx.srv, &String::from_utf8_lossy(&seen));
        Err(text)
    }
}

impl Host for ScriptHost<'_, '_, '_> {
    fn call(&mut self, argv: &[Bytes]) -> Result<Reply, String> {
        let row = match &self.last {
            Some((name, row)) if name[..] == argv[0][..] => *row,
            _ => {
                let Some(row) = table::lookup_for_script(&argv[0]) else {
                    return Err("Unknown Redis command called from script".into());
                };
                self.last = Some((argv[0].clone(), row));
                row
            }
        };
        let spec = row.spec;
        if !spec.arity_ok(argv.len()) {
            return self.reject(spec, argv, "Wrong number of args calling Redis command from script".into());
        }
        if row.denied_in_scripts(argv) {
            return self.reject(spec, argv, "This Redis command is not allowed from script".into());
        }
        if let Err(e) = crate::acl::check_from_script(self.ctx.srv, self.ctx.client, spec, argv) {
            return self.reject(spec, argv, e);
        }
        let wrote = RUN.wrote.load(Ordering::Relaxed);
        if self.read_only && table::may_replicate(spec) && !spec.has(WRITE) {
            return self.reject(spec, argv, "Write commands are not allowed from read-only scripts.".into());
        }
        if spec.has(WRITE) {
            if self.read_only {
                return self.reject(spec, argv, "Write commands are not allowed from read-only scripts.".into());
            }
            // Until its first write (after which failing would leave it half
            // done), a read-only replica, a failed save and too few good
            // replicas refuse a script's writes as they refuse a client's,
            // in Redis's order (`scriptVerifyWriteCommandAllow`); the
            // primary's link is never refused.
            if !wrote {
                let refusal = match crate::replication::write_refusal(self.ctx.srv, &self.ctx.client.handle) {
                    Some(Reply::Error(e)) if e.starts_with("READONLY") => Some(e),
                    other => match self.ctx.srv.persist.write_refusal().or(other) {
                        Some(Reply::Error(e)) => Some(e),
                        _ => None,
                    },
                };
                if let Some(e) = refusal {
                    return self.reject(spec, argv, format!("-{e}"));
                }
            }
        }
        if !self.allow_oom && !wrote && self.oom_at_start && spec.has(DENYOOM) {
            return self.reject(spec, argv, "-OOM command not allowed when used memory > 'maxmemory'.".into());
        }
        let ctx = &mut *self.ctx;
        if spec.has(WRITE) {
            RUN.wrote.store(true, Ordering::Relaxed);
        }
        ctx.client.resp = self.resp;
        let reply = run(ctx, spec, argv);
        // A blocking command does not block inside a script: in_exec makes
        // it answer as on timeout; a park request is dropped all the same.
        if let Some(block) = ctx.client.block.take() {
            return Ok(block.timeout_reply);
        }
        if let Reply::Error(msg) = &reply {
            super::info::stats::count_error_reply(ctx.srv, msg);
        }
        Ok(reply)
    }

    fn error_already_counted(&mut self) {
        self.error_counted = true;
    }

    fn resp(&self) -> u8 {
        self.resp
    }

    fn set_resp(&mut self, resp: u8) {
        self.resp = resp;
    }

    fn set_repl(&mut self, _flags: i64) {
        // Scripts replicate their effects (Redis 7's only mode); REPL_NONE
        // etc. are accepted. The AOF still gets every write.
    }

    fn acl_check(&mut self, argv: &[Bytes]) -> Option<bool> {
        let spec = table::lookup(&argv[0])?;
        Some(crate::acl::allowed(self.ctx.srv, self.ctx.client, spec, argv))
    }
}

/// Splits `numkeys key… arg…` (from `a[2]` on), with Redis's errors.
pub(crate) fn keys_and_args(a: &[Bytes]) -> Result<(&[Bytes], &[Bytes]), Reply> {
    let n = args::int(&a[2])?;
    if n > (a.len() - 3) as i64 {
        return Err(Reply::err("ERR Number of keys can't be greater than number of args"));
    }
    if n < 0 {
        return Err(Reply::err("ERR Number of keys can't be negative"));
    }
    let n = n as usize;
    Ok((&a[3..3 + n], &a[3 + n..]))
}

/// The refusals Redis gives a script with a shebang (or a function) before
/// it starts; `None` when it may run. One not declared `no-writes` counts
/// as a write command (Redis's `scriptFlagsToCmdFlags`), so a read-only
/// replica and too few good replicas refuse it exactly as they refuse a
/// client's SET: `-READONLY You can't write against a read only replica.`,
/// `-NOREPLICAS …` (Redis's `processCommand` answers those before
/// `scriptPrepareForRun`'s own texts are reached); the primary's link is
/// never refused.
fn refuse_before_start(ctx: &Ctx, script_flags: u32, ro: bool, oom: bool) -> Option<Reply> {
    if script_flags & sflags::EVAL_COMPAT_MODE != 0 {
        return None;
    }
    if script_flags & sflags::NO_WRITES == 0 {
        if let Some(refusal) = crate::replication::write_refusal(ctx.srv, &ctx.client.handle) {
            return Some(refusal);
        }
        if ctx.srv.persist.write_refusal().is_some() {
            return Some(Reply::err("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts."));
        }
        if ro {
            return Some(Reply::err("ERR Can not execute a script with write flag using *_ro command."));
        }
    }
    if oom && script_flags & (sflags::ALLOW_OOM | sflags::NO_WRITES) == 0 {
        return Some(Reply::err(
            "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'",
        ));
    }
    None
}

/// Whether memory is above `maxmemory` now (Redis's `pre_command_oom_state`).
pub(crate) fn over_maxmemory(ctx: &Ctx) -> bool {
    let max = ctx.srv.evictor.maxmemory();
    max > 0 && crate::server::used_memory(ctx.srv) > max
}

/// Runs a script or function body `f` for the caller in `ctx` (EVAL's and
/// FCALL's common part): the refusals before it starts, the script's own
/// client state (database, protocol, no blocking) restored afterwards,
/// [`RUN`] kept up to date, and its writes propagated. `eval` tells EVAL
/// from FCALL (for `-BUSY` and kill texts).
pub(crate) fn run_script(
    ctx: &mut Ctx,
    eval: bool,
    script_flags: u32,
    ro: bool,
    f: impl FnOnce(&mut dyn Host) -> Reply,
) -> CmdResult {
    let oom = over_maxmemory(ctx);
    if let Some(refusal) = refuse_before_start(ctx, script_flags, ro, oom) {
        return Err(refusal);
    }
    let threshold = ctx.srv.config.read().busy_reply_threshold;
    let compat = script_flags & sflags::EVAL_COMPAT_MODE != 0;
    let (saved_db, saved_resp, was_in_exec) = (ctx.client.db, ctx.client.resp, ctx.client.in_exec);
    ctx.client.in_exec = true;
    ctx.client.in_script = true;
    let mut host = ScriptHost {
        ctx: &mut *ctx,
        read_only: ro || (!compat && script_flags & sflags::NO_WRITES != 0),
        allow_oom: !compat && script_flags & sflags::ALLOW_OOM != 0,
        oom_at_start: oom,
        resp: 2,
        error_counted: false,
        last: None,
    };
    RUN.begin(eval, threshold);
    let reply = f(&mut host);
    RUN.end();
    let error_counted = host.error_counted;
    ctx.client.db = saved_db;
    ctx.ks.db = saved_db;
    ctx.client.resp = saved_resp;
    ctx.client.in_exec = was_in_exec;
    ctx.client.in_script = false;
    if !was_in_exec {
        ctx.srv.persist.propagate_script(ctx.client);
    }
    match reply {
        Reply::Error(_) => {
            ctx.client.error_counted = error_counted;
            Err(reply)
        }
        r => Ok(r),
    }
}

/// EVAL, EVALSHA and their `_RO` forms.
fn eval_generic(ctx: &mut Ctx, a: &[Bytes], by_sha: bool, ro: bool) -> CmdResult {
    let (keys, argv) = keys_and_args(a)?;
    let srv = ctx.srv;
    srv.scripting.with_eval(|engine| {
        let created;
        let sha = if by_sha {
            &a[1][..]
        } else {
            created = engine.create(&a[1], false).map_err(|e| Reply::Error(format!("ERR {e}")))?;
            created.as_bytes()
        };
        let Some(script) = engine.get(sha) else {
            return fail("NOSCRIPT No matching script. Please use EVAL.");
        };
        let (script_flags, func) = (script.flags, script.func.clone());
        let label = || String::from_utf8_lossy(sha).to_ascii_lowercase();
        run_script(ctx, true, script_flags, ro, |host| engine.run(&func, false, keys, argv, label, host))
    })?
}

fn eval(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    eval_generic(ctx, a, false, false)
}

fn eval_ro(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    eval_generic(ctx, a, false, true)
}

fn evalsha(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    eval_generic(ctx, a, true, false)
}

fn evalsha_ro(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    eval_generic(ctx, a, true, true)
}

/// SCRIPT's subcommands with their arities (name included).
pub(crate) const SCRIPT_SUBS: &[(&str, i32)] =
    &[("debug", 3), ("exists", -3), ("flush", -2), ("help", 2), ("kill", 2), ("load", 3)];

const SCRIPT_HELP: &[&str] = &[
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
];

fn script(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let srv = ctx.srv;
    match subcommands::resolve(ctx, "script", a)? {
        "help" => Ok(Reply::Array(SCRIPT_HELP.iter().map(|l| Reply::StatusOwned((*l).into())).collect())),
        "kill" => RUN.kill(true),
        "load" => {
            let sha =
                srv.scripting.with_eval(|e| e.create(&a[2], true))?.map_err(|e| Reply::Error(format!("ERR {e}")))?;
            Ok(Reply::bulk_str(sha))
        }
        "exists" => {
            let found = srv.scripting.with_eval(|e| {
                a[2..]
                    .iter()
                    .map(|s| Reply::Int(e.exists(&String::from_utf8_lossy(s).to_ascii_lowercase()) as i64))
                    .collect()
            })?;
            Ok(Reply::Array(found))
        }
        "flush" => {
            match a.len() {
                2 => {}
                3 if a[2].eq_ignore_ascii_case(b"async") || a[2].eq_ignore_ascii_case(b"sync") => {}
                _ => return fail("ERR SCRIPT FLUSH only support SYNC|ASYNC option"),
            }
            srv.scripting.flush_eval();
            args::ok()
        }
        "debug" => fail("ERR SCRIPT DEBUG is not supported by this server"),
        _ => fail("ERR unknown subcommand"),
    }
}

/// Whether a command may run while a script is busy (Redis's `allow-busy`
/// flag): the few that let a user regain control. O(1).
pub fn allowed_while_busy(spec: &CommandSpec, a: &[Bytes]) -> bool {
    let sub = |name: &str| a.get(1).is_some_and(|s| s.eq_ignore_ascii_case(name.as_bytes()));
    match spec.alias_of.unwrap_or(spec.name) {
        "auth" | "discard" | "hello" | "multi" | "quit" | "replconf" | "reset" | "shutdown" | "unwatch" | "watch" => {
            true
        }
        "script" => sub("kill"),
        "function" => sub("kill") || sub("stats"),
        _ => false,
    }
}

/// The scripting family's rows of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    spec!("eval", -3, MOVABLE_KEYS, 0, 0, 0, eval, "scripting", "Executes a server-side Lua script.", "Depends on the script that is executed."),
    spec!("evalsha", -3, MOVABLE_KEYS, 0, 0, 0, evalsha, "scripting", "Executes a server-side Lua script by SHA1 digest.", "Depends on the script that is executed."),
    spec!("eval_ro", -3, MOVABLE_KEYS | READONLY, 0, 0, 0, eval_ro, "scripting", "Executes a read-only server-side Lua script.", "Depends on the script that is executed."),
    spec!("evalsha_ro", -3, MOVABLE_KEYS | READONLY, 0, 0, 0, evalsha_ro, "scripting", "Executes a read-only server-side Lua script by SHA1 digest.", "Depends on the script that is executed."),
    spec!("script", -2, 0, 0, 0, 0, script, "scripting", "A container for Lua scripts management commands.", "Depends on subcommand."),
];
