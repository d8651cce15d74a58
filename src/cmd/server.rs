//! Server commands: INFO, CONFIG, COMMAND, TIME, DEBUG, LATENCY, FUNCTION,
//! SHUTDOWN.

use bytes::Bytes;

use super::args::{self, fail, int, is};
use super::keys::{help_reply, subcommand, unknown_subcommand};
use super::table::{self, flags::*, CommandSpec};
use super::{CmdResult, Ctx};
use crate::protocol::Reply;
use crate::spec;

mod debug;
mod memory;
use debug::{debug, sub_syntax_error};
use memory::memory;

fn info(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let sections: Vec<String> = a[1..].iter().map(|s| String::from_utf8_lossy(s).to_ascii_lowercase()).collect();
    // Inside EXEC every shard is already locked by this thread: count through those locks.
    let sizes = ctx.ks.is_all().then(|| {
        (0..ctx.srv.keyspace.databases())
            .map(|db| ctx.ks.db_parts(db).fold((0, 0), |(k, e), p| (k + p.map.len(), e + p.expires.len())))
            .collect()
    });
    Ok(Reply::Verbatim(Bytes::from(super::info::render(ctx.srv, &sections, sizes))))
}

fn time(_ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let us = crate::db::now_us();
    Ok(Reply::Array(vec![Reply::bulk_str((us / 1_000_000).to_string()), Reply::bulk_str((us % 1_000_000).to_string())]))
}

const CONFIG_HELP: &[&str] = &[
    "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET <pattern>",
    "    Return parameters matching the glob-like <pattern> and their values.",
    "SET <directive> <value>",
    "    Set the configuration <directive> to <value>.",
    "RESETSTAT",
    "    Reset statistics reported by the INFO command.",
    "REWRITE",
    "    Rewrite the configuration file.",
    "HELP",
    "    Prints this help.",
];

const CONFIG_SUBS: &[(&str, i32)] = &[("get", -3), ("help", 2), ("resetstat", 2), ("rewrite", 2), ("set", -4)];

fn config(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    match subcommand("config", a, CONFIG_SUBS)? {
        "help" => Ok(help_reply(CONFIG_HELP)),
        "get" => {
            let cfg = ctx.srv.config.read();
            let mut pairs: Vec<(&'static str, String)> = Vec::new();
            for p in &a[2..] {
                for (name, value) in cfg.matching(&String::from_utf8_lossy(p)) {
                    if !pairs.iter().any(|(n, _)| *n == name) {
                        pairs.push((name, value));
                    }
                }
            }
            Ok(Reply::Map(pairs.into_iter().map(|(n, v)| (Reply::bulk_str(n), Reply::bulk_str(v))).collect()))
        }
        "set" if !a.len().is_multiple_of(2) => fail(args::err::SYNTAX),
        "set" => config_set(ctx, &a[2..]),
        "resetstat" => {
            crate::server::reset_stats(ctx.srv);
            super::info::stats::reset();
            args::ok()
        }
        _ => fail("ERR The server is running without a config file"),
    }
}

/// CONFIG SET of several parameters: all applied, or none.
fn config_set(ctx: &mut Ctx, kv: &[Bytes]) -> CmdResult {
    // Switching the AOF rewrites it, which locks every shard: inside EXEC
    // this thread holds them already and would wait for itself forever.
    if ctx.ks.is_all() {
        if let Some(p) = kv.chunks(2).find(|p| is(&p[0], "appendonly") || is(&p[0], "appendfsync")) {
            let name = String::from_utf8_lossy(&p[0]).to_ascii_lowercase();
            return fail(&format!("ERR CONFIG SET {name} is not supported inside MULTI"));
        }
    }
    let mut cfg = ctx.srv.config.write();
    let before = cfg.clone();
    let restore = |cfg: &mut crate::server::config::Config| {
        *cfg = before.clone();
        cfg.apply_encoding_limits();
    };
    let mut names = Vec::new();
    for pair in kv.chunks(2) {
        let name = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
        let value = String::from_utf8_lossy(&pair[1]).into_owned();
        let Some(p) = crate::server::config::param(&name) else {
            restore(&mut cfg);
            return fail(&format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'"));
        };
        if names.contains(&p.name) {
            restore(&mut cfg);
            return fail(&format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter"
            ));
        }
        if !p.mutable {
            restore(&mut cfg);
            return fail(&format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config"
            ));
        }
        if let Err(e) = (p.set)(&mut cfg, &value) {
            restore(&mut cfg);
            return fail(&format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {e}"));
        }
        names.push(p.name);
    }
    drop(cfg);
    for name in &names {
        if let Err(e) = crate::server::apply_config_change(ctx.srv, name) {
            restore(&mut ctx.srv.config.write());
            return fail(&format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {e}"));
        }
    }
    args::ok()
}

/// Redis's flag names for `COMMAND INFO`.
fn flag_names(c: &CommandSpec) -> Vec<Reply> {
    let mut v = Vec::new();
    let pairs = [
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (FAST, "fast"),
        (BLOCKING, "blocking"),
        (NO_AUTH, "no_auth"),
        (MOVABLE_KEYS, "movablekeys"),
        (LOADING, "loading"),
    ];
    for (f, n) in pairs {
        if c.has(f) {
            v.push(Reply::Status(n));
        }
    }
    v
}

/// ACL categories of a command, derived from its flags and group.
pub fn categories(c: &CommandSpec) -> Vec<&'static str> {
    let mut v = Vec::new();
    if c.has(WRITE) {
        v.push("@write");
    }
    if c.has(READONLY) {
        v.push("@read");
    }
    match c.group {
        "string" => v.push("@string"),
        "list" => v.push("@list"),
        "hash" => v.push("@hash"),
        "generic" | "server" => v.push("@keyspace"),
        "connection" => v.push("@connection"),
        "transactions" => v.push("@transaction"),
        _ => {}
    }
    if c.has(DANGEROUS) || c.has(ADMIN) {
        v.push("@dangerous");
    }
    if c.has(ADMIN) {
        v.push("@admin");
    }
    if c.has(BLOCKING) {
        v.push("@blocking");
    }
    v.push(if c.has(FAST) { "@fast" } else { "@slow" });
    v
}

/// Key-spec flags of a command's keys, approximated from its flags (the
/// table has no per-key access data): read-only commands `RO access`,
/// writes `RW update`.
fn key_flags(c: &CommandSpec) -> Vec<Reply> {
    let names: &[&'static str] = if c.has(WRITE) { &["RW", "update"] } else { &["RO", "access"] };
    names.iter().map(|n| Reply::Status(n)).collect()
}

/// The command's key specification in Redis 7 form, from its fixed key
/// positions (`begin_search` index, `find_keys` range). Empty without keys.
fn key_specs(c: &CommandSpec) -> Reply {
    if c.first_key <= 0 {
        return Reply::Set(vec![]);
    }
    let lastkey = if c.last_key < 0 { c.last_key } else { c.last_key - c.first_key };
    let map = |pairs: Vec<(&str, Reply)>| Reply::Map(pairs.into_iter().map(|(k, v)| (Reply::bulk_str(k), v)).collect());
    Reply::Set(vec![map(vec![
        ("flags", Reply::Set(key_flags(c))),
        (
            "begin_search",
            map(vec![
                ("type", Reply::bulk_str("index")),
                ("spec", map(vec![("index", Reply::Int(c.first_key as i64))])),
            ]),
        ),
        (
            "find_keys",
            map(vec![
                ("type", Reply::bulk_str("range")),
                (
                    "spec",
                    map(vec![
                        ("lastkey", Reply::Int(lastkey as i64)),
                        ("keystep", Reply::Int(c.step as i64)),
                        ("limit", Reply::Int(0)),
                    ]),
                ),
            ]),
        ),
    ])])
}

fn command_info(c: &CommandSpec) -> Reply {
    Reply::Array(vec![
        Reply::bulk_str(c.name),
        Reply::Int(c.arity as i64),
        Reply::Set(flag_names(c)),
        Reply::Int(c.first_key as i64),
        Reply::Int(c.last_key as i64),
        Reply::Int(c.step as i64),
        Reply::Set(categories(c).into_iter().map(Reply::Status).collect()),
        Reply::Set(vec![]),
        key_specs(c),
        Reply::Set(vec![]),
    ])
}

fn command_docs(c: &CommandSpec) -> Reply {
    let mut m = vec![
        (Reply::bulk_str("summary"), Reply::bulk_str(c.summary)),
        (Reply::bulk_str("since"), Reply::bulk_str("1.0.0")),
        (Reply::bulk_str("group"), Reply::bulk_str(c.group)),
        (Reply::bulk_str("complexity"), Reply::bulk_str(c.complexity)),
    ];
    if let Some(target) = c.alias_of {
        m.push((Reply::bulk_str("doc_flags"), Reply::Set(vec![Reply::Status("deprecated")])));
        m.push((Reply::bulk_str("replaced_by"), Reply::bulk_str(format!("`{}`", target.to_ascii_uppercase()))));
    }
    Reply::Map(m)
}

const COMMAND_SUBS: &[(&str, i32)] =
    &[("count", 2), ("docs", -2), ("getkeys", -4), ("getkeysandflags", -4), ("help", 2), ("info", -2), ("list", -2)];

const COMMAND_HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Prints this help.",
];

fn command(_ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len() == 1 {
        return Ok(Reply::Array(table::all().map(command_info).collect()));
    }
    let find = |n: &Bytes| table::lookup(n);
    match subcommand("command", a, COMMAND_SUBS)? {
        "count" => Ok(Reply::Int(table::count() as i64)),
        "list" => command_list(&a[2..]),
        "info" if a.len() == 2 => Ok(Reply::Array(table::all().map(command_info).collect())),
        "info" => Ok(Reply::Array(a[2..].iter().map(|n| find(n).map_or(Reply::Nil, command_info)).collect())),
        "docs" => {
            let list: Vec<&CommandSpec> =
                if a.len() == 2 { table::all().collect() } else { a[2..].iter().filter_map(find).collect() };
            Ok(Reply::Map(list.into_iter().map(|c| (Reply::bulk_str(c.name), command_docs(c))).collect()))
        }
        "help" => Ok(help_reply(COMMAND_HELP)),
        sub => {
            let Some(c) = find(&a[2]) else { return fail("ERR Invalid command specified") };
            if c.first_key <= 0 && !c.has(MOVABLE_KEYS) {
                return fail("ERR The command has no key arguments");
            }
            let args = &a[2..];
            if !c.arity_ok(args.len()) {
                return fail("ERR Invalid number of arguments specified for command");
            }
            let positions = crate::acl::key_positions(c, args).unwrap_or_default();
            let keys = positions.into_iter().map(|i| args[i].clone());
            if sub == "getkeys" {
                let keys: Vec<Reply> = keys.map(Reply::Bulk).collect();
                if keys.is_empty() {
                    return fail("ERR Invalid arguments specified for command");
                }
                return Ok(Reply::Array(keys));
            }
            Ok(Reply::Array(keys.map(|k| Reply::Array(vec![Reply::Bulk(k), Reply::Set(key_flags(c))])).collect()))
        }
    }
}

/// `COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN glob]`.
fn command_list(opts: &[Bytes]) -> CmdResult {
    let names = |keep: &dyn Fn(&CommandSpec) -> bool| {
        Ok(Reply::Array(table::all().filter(|c| keep(c)).map(|c| Reply::bulk_str(c.name)).collect()))
    };
    match opts {
        [] => names(&|_| true),
        [f, kind, v] if is(f, "filterby") && is(kind, "module") => {
            let _ = v;
            Ok(Reply::Array(vec![]))
        }
        [f, kind, v] if is(f, "filterby") && is(kind, "aclcat") => {
            let cat = format!("@{}", String::from_utf8_lossy(v).to_ascii_lowercase());
            names(&|c| categories(c).contains(&cat.as_str()))
        }
        [f, kind, v] if is(f, "filterby") && is(kind, "pattern") => {
            names(&|c| crate::db::glob::glob_match(v, c.name.as_bytes(), true))
        }
        _ => fail(args::err::SYNTAX),
    }
}

const LATENCY_SUBS: &[(&str, i32)] =
    &[("doctor", 2), ("graph", 3), ("help", 2), ("histogram", -2), ("history", 3), ("latest", 2), ("reset", -2)];

const LATENCY_HELP: &[&str] = &[
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Prints this help.",
];

/// LATENCY: no latency monitor runs here (threshold 0), so there are never samples.
fn latency(_ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    match subcommand("latency", a, LATENCY_SUBS)? {
        "latest" | "history" => Ok(Reply::Array(vec![])),
        "histogram" => Ok(Reply::Map(vec![])),
        "reset" => Ok(Reply::Int(0)),
        "graph" => fail(&format!("ERR No samples available for event '{}'", String::from_utf8_lossy(&a[2]))),
        "doctor" => Ok(Reply::Verbatim(Bytes::from_static(b"Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep better tonight.\n"))),
        _ => Ok(help_reply(LATENCY_HELP)),
    }
}

/// FUNCTION: there is no scripting engine, so there are never libraries;
/// FLUSH, LIST and STATS answer as an empty Redis does.
fn function(_ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let sub = &a[1];
    if is(sub, "flush") {
        return match a.len() {
            2 => args::ok(),
            3 if is(&a[2], "async") || is(&a[2], "sync") => args::ok(),
            3 => fail("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"),
            _ => Err(sub_syntax_error("function", sub)),
        };
    }
    if is(sub, "list") {
        let mut i = 2;
        while i < a.len() {
            if is(&a[i], "withcode") {
                i += 1;
            } else if is(&a[i], "libraryname") && i + 1 < a.len() {
                i += 2;
            } else {
                return fail(&format!("ERR Unknown argument {}", String::from_utf8_lossy(&a[i])));
            }
        }
        return Ok(Reply::Array(vec![]));
    }
    if is(sub, "stats") && a.len() == 2 {
        return Ok(Reply::Map(vec![
            (Reply::bulk_str("running_script"), Reply::Nil),
            (Reply::bulk_str("engines"), Reply::Map(vec![])),
        ]));
    }
    Err(unknown_subcommand("function", sub))
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. The shutdown starts at once
/// (there is no pending-shutdown phase to abort), and, as in Redis, it is
/// refused inside MULTI and makes the transaction fail.
fn shutdown(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        ctx.client.multi_error = true;
        return fail("ERR Command not allowed inside a transaction");
    }
    let (mut save, mut nosave, mut flags, mut abort) = (false, false, false, false);
    for o in &a[1..] {
        if is(o, "nosave") {
            nosave = true;
        } else if is(o, "save") {
            save = true;
        } else if is(o, "now") || is(o, "force") {
            flags = true;
        } else if is(o, "abort") {
            abort = true;
        } else {
            return fail(args::err::SYNTAX);
        }
    }
    if (abort && (save || nosave || flags)) || (save && nosave) {
        return fail(args::err::SYNTAX);
    }
    if abort {
        return fail("ERR No shutdown in progress.");
    }
    let save = if save {
        Some(true)
    } else if nosave {
        Some(false)
    } else {
        None
    };
    crate::server::request_shutdown(ctx.srv, save)?;
    ctx.client.close_after_reply = true;
    Ok(Reply::None)
}

fn lolwut(_ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    Ok(Reply::Verbatim(Bytes::from(format!("inmemory ver. {}\n", env!("CARGO_PKG_VERSION")))))
}

fn wait(_ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    int(&a[1])?;
    int(&a[2])?;
    Ok(Reply::Int(0))
}

/// The server family's rows of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    spec!("info", -1, LOADING, 0, 0, 0, info, "server", "Returns information and statistics about the server.", "O(1)"),
    spec!("config", -2, ADMIN | LOADING, 0, 0, 0, config, "server", "A container for server configuration commands.", "Depends on subcommand."),
    spec!("command", -1, LOADING, 0, 0, 0, command, "server", "Returns detailed information about all commands.", "O(N) where N is the total number of Redis commands"),
    spec!("time", 1, FAST | LOADING, 0, 0, 0, time, "server", "Returns the server time.", "O(1)"),
    spec!("debug", -2, ADMIN | LOADING, 0, 0, 0, debug, "server", "A container for debugging commands.", "Depends on subcommand."),
    spec!("memory", -2, READONLY, 2, 2, 1, memory, "server", "A container for memory diagnostics commands.", "Depends on subcommand."),
    spec!("latency", -2, ADMIN | LOADING, 0, 0, 0, latency, "server", "A container for latency diagnostics commands.", "Depends on subcommand."),
    spec!("function", -2, 0, 0, 0, 0, function, "scripting", "A container for function commands (FLUSH and LIST only: no scripting).", "Depends on subcommand."),
    spec!("shutdown", -1, ADMIN | NO_MULTI | LOADING, 0, 0, 0, shutdown, "server", "Synchronously saves the database(s) to disk and shuts down the Redis server.", "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)"),
    spec!("lolwut", -1, READONLY | FAST, 0, 0, 0, lolwut, "server", "Displays computer art and the server version.", "O(1)"),
    spec!("wait", 3, 0, 0, 0, 0, wait, "generic", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed (no replicas: answers 0).", "O(1)"),
];
