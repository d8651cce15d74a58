//! Functions (Redis 7.0's `functions.c` commands): FUNCTION
//! LOAD|DELETE|FLUSH|LIST|STATS|KILL|HELP and FCALL, FCALL_RO. A function
//! runs as an EVAL script does (see [`super::scripting::run_script`]); its
//! flags come from `redis.register_function`.

use bytes::Bytes;

use super::args::{self, fail, is};
use super::scripting::{keys_and_args, over_maxmemory, run_script};
use super::server::debug::sub_syntax_error;
use super::server::subcommands;
use super::table::{self, flags::*, CommandSpec};
use super::{CmdResult, Ctx};
use crate::protocol::Reply;
use crate::scripting::functions::RestorePolicy;
use crate::scripting::{flags as sflags, RUN};
use crate::spec;

/// FUNCTION's subcommands with their arities (name included).
pub(crate) const FUNCTION_SUBS: &[(&str, i32)] = &[
    ("delete", 3),
    ("dump", 2),
    ("flush", -2),
    ("help", 2),
    ("kill", 2),
    ("list", -2),
    ("load", -3),
    ("restore", -3),
    ("stats", 2),
];

const FUNCTION_HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "HELP",
    "    Prints this help.",
];

/// Records a change of the libraries: counted as a write and logged to
/// the AOF as the command itself (FUNCTION LOAD/DELETE/FLUSH), so a
/// restart from the AOF rebuilds them.
fn propagate(ctx: &mut Ctx, a: &[Bytes], reply: &Reply) {
    ctx.srv.keyspace.stats.dirty.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if let Some(spec) = table::lookup(b"function") {
        ctx.srv.persist.propagate(ctx.ks, ctx.client, spec, a, reply);
    }
}

fn function(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let srv = ctx.srv;
    let sub = subcommands::resolve(ctx, "function", a)?;
    // Changes to the libraries hold every shard, so a snapshot never sees
    // half of one (see `scripting::functions::library_codes`).
    let _all = matches!(sub, "load" | "delete" | "flush" | "restore").then(|| srv.keyspace.lock_all());
    // LOAD and RESTORE may grow memory: refused above maxmemory (Redis's
    // deny-oom flag on those subcommands).
    if matches!(sub, "load" | "restore") && over_maxmemory(ctx) {
        return fail("OOM command not allowed when used memory > 'maxmemory'.");
    }
    match sub {
        "help" => Ok(Reply::Array(FUNCTION_HELP.iter().map(|l| Reply::StatusOwned((*l).into())).collect())),
        "load" => {
            let mut replace = false;
            for opt in &a[2..a.len() - 1] {
                if !is(opt, "replace") {
                    return fail(&format!("ERR Unknown option given: {}", String::from_utf8_lossy(opt)));
                }
                replace = true;
            }
            let code = &a[a.len() - 1];
            let name = srv.scripting.load_library(code, replace).map_err(|e| Reply::Error(format!("ERR {e}")))?;
            let reply = Reply::bulk_str(name);
            propagate(ctx, a, &reply);
            Ok(reply)
        }
        "delete" => {
            if !srv.scripting.delete_library(&String::from_utf8_lossy(&a[2])) {
                return fail("ERR Library not found");
            }
            propagate(ctx, a, &crate::protocol::reply::OK);
            args::ok()
        }
        "flush" => {
            match a.len() {
                2 => {}
                3 if is(&a[2], "async") || is(&a[2], "sync") => {}
                3 => return fail("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"),
                _ => return Err(sub_syntax_error("function", &a[1])),
            }
            srv.scripting.flush_functions();
            propagate(ctx, a, &crate::protocol::reply::OK);
            args::ok()
        }
        "kill" => RUN.kill(false),
        "list" => list(ctx, a),
        "stats" => {
            let (libs, funcs) = srv.scripting.function_counts();
            let running = match RUN.running_function() {
                Some((name, command, ms)) => Reply::Map(vec![
                    (Reply::bulk_str("name"), Reply::bulk_str(name)),
                    (Reply::bulk_str("command"), Reply::Array(command.into_iter().map(Reply::Bulk).collect())),
                    (Reply::bulk_str("duration_ms"), Reply::Int(ms as i64)),
                ]),
                None => Reply::Nil,
            };
            let engine = Reply::Map(vec![
                (Reply::bulk_str("libraries_count"), Reply::Int(libs as i64)),
                (Reply::bulk_str("functions_count"), Reply::Int(funcs as i64)),
            ]);
            Ok(Reply::Map(vec![
                (Reply::bulk_str("running_script"), running),
                (Reply::bulk_str("engines"), Reply::Map(vec![(Reply::bulk_str("LUA"), engine)])),
            ]))
        }
        "restore" if a.len() > 4 => Err(sub_syntax_error("function", &a[1])),
        "restore" => {
            let policy = match a.get(3) {
                None => RestorePolicy::Append,
                Some(p) if is(p, "append") => RestorePolicy::Append,
                Some(p) if is(p, "replace") => RestorePolicy::Replace,
                Some(p) if is(p, "flush") => RestorePolicy::Flush,
                Some(_) => {
                    return fail("ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.")
                }
            };
            srv.scripting.restore_libraries(&a[2], policy).map_err(|e| Reply::Error(format!("ERR {e}")))?;
            propagate(ctx, a, &crate::protocol::reply::OK);
            args::ok()
        }
        "dump" => Ok(Reply::Bulk(Bytes::from(srv.scripting.functions.lock().dump()))),
        _ => fail("ERR unknown subcommand"),
    }
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE].
fn list(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let (mut with_code, mut pattern) = (false, None);
    let mut i = 2;
    while i < a.len() {
        if !with_code && is(&a[i], "withcode") {
            with_code = true;
        } else if pattern.is_none() && is(&a[i], "libraryname") {
            if i + 1 >= a.len() {
                return fail("ERR library name argument was not given");
            }
            i += 1;
            pattern = Some(a[i].clone());
        } else {
            return fail(&format!("ERR Unknown argument {}", String::from_utf8_lossy(&a[i])));
        }
        i += 1;
    }
    let functions = ctx.srv.scripting.functions.lock();
    let libs = functions
        .libraries()
        .filter(|l| pattern.as_ref().is_none_or(|p| crate::db::glob::glob_match(p, l.name.as_bytes(), true)))
        .map(|l| {
            let funcs = l
                .functions
                .iter()
                .map(|f| {
                    let flags = sflags::NAMES
                        .iter()
                        .filter(|(_, b)| f.flags & b != 0)
                        .map(|(n, _)| Reply::bulk_str(*n))
                        .collect();
                    Reply::Map(vec![
                        (Reply::bulk_str("name"), Reply::bulk_str(f.name.clone())),
                        (Reply::bulk_str("description"), f.description.clone().map_or(Reply::Nil, Reply::bulk_str)),
                        (Reply::bulk_str("flags"), Reply::Set(flags)),
                    ])
                })
                .collect();
            let mut fields = vec![
                (Reply::bulk_str("library_name"), Reply::bulk_str(l.name.clone())),
                (Reply::bulk_str("engine"), Reply::bulk_str("LUA")),
                (Reply::bulk_str("functions"), Reply::Array(funcs)),
            ];
            if with_code {
                fields.push((Reply::bulk_str("library_code"), Reply::Bulk(l.code.clone())));
            }
            Reply::Map(fields)
        })
        .collect();
    Ok(Reply::Array(libs))
}

/// FCALL and FCALL_RO.
fn fcall_generic(ctx: &mut Ctx, a: &[Bytes], ro: bool) -> CmdResult {
    if args::parse_i64_bytes(&a[2]).is_none() {
        return fail("ERR Bad number of keys provided");
    }
    let (keys, argv) = keys_and_args(a)?;
    let name = String::from_utf8_lossy(&a[1]).into_owned();
    let srv = ctx.srv;
    let mut functions = srv.scripting.functions.lock();
    let Some(func) = functions.find(&name).cloned() else {
        return fail("ERR Function not found");
    };
    RUN.set_function(&func.name, a);
    run_script(ctx, false, func.flags, ro, |host| functions.call(&func, keys, argv, host))
}

fn fcall(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    fcall_generic(ctx, a, false)
}

fn fcall_ro(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    fcall_generic(ctx, a, true)
}

/// The function family's rows of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    spec!("function", -2, 0, 0, 0, 0, function, "scripting", "A container for function commands.", "Depends on subcommand."),
    spec!("fcall", -3, MOVABLE_KEYS, 0, 0, 0, fcall, "scripting", "Invokes a function.", "Depends on the function that is executed."),
    spec!("fcall_ro", -3, MOVABLE_KEYS | READONLY, 0, 0, 0, fcall_ro, "scripting", "Invokes a read-only function.", "Depends on the function that is executed."),
];
