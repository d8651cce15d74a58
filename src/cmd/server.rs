//! Server commands: INFO, CONFIG, COMMAND, TIME, DEBUG, LATENCY, FUNCTION,
//! SHUTDOWN.

use bytes::Bytes;

use super::args::{self, fail, int, is};
use super::keys::{help_reply, unknown_subcommand};
use super::table::{self, flags::*, CommandSpec};
use super::{CmdResult, Ctx};
use crate::protocol::Reply;
use crate::spec;

fn info(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let sections: Vec<String> = a[1..].iter().map(|s| String::from_utf8_lossy(s).to_ascii_lowercase()).collect();
    Ok(Reply::Verbatim(Bytes::from(super::info::render(ctx.srv, &sections))))
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
    "    Print this help.",
];

fn config(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let sub = &a[1];
    if is(sub, "help") && a.len() == 2 {
        return Ok(help_reply(CONFIG_HELP));
    }
    if is(sub, "get") && a.len() >= 3 {
        let cfg = ctx.srv.config.read();
        let mut pairs: Vec<(&'static str, String)> = Vec::new();
        for p in &a[2..] {
            for (name, value) in cfg.matching(&String::from_utf8_lossy(p)) {
                if !pairs.iter().any(|(n, _)| *n == name) {
                    pairs.push((name, value));
                }
            }
        }
        return Ok(Reply::Map(pairs.into_iter().map(|(n, v)| (Reply::bulk_str(n), Reply::bulk_str(v))).collect()));
    }
    if is(sub, "set") && a.len() >= 4 && a.len().is_multiple_of(2) {
        return config_set(ctx, &a[2..]);
    }
    if is(sub, "resetstat") && a.len() == 2 {
        crate::server::reset_stats(ctx.srv);
        return args::ok();
    }
    if is(sub, "rewrite") && a.len() == 2 {
        return fail("ERR The server is running without a config file");
    }
    if ["get", "set", "resetstat", "rewrite"].iter().any(|s| is(sub, s)) {
        return Err(args::arity_error(&format!("config|{}", String::from_utf8_lossy(sub).to_ascii_lowercase())));
    }
    Err(unknown_subcommand("config", sub))
}

/// CONFIG SET of several parameters: all applied, or none.
fn config_set(ctx: &mut Ctx, kv: &[Bytes]) -> CmdResult {
    let mut cfg = ctx.srv.config.write();
    let before = cfg.clone();
    let mut names = Vec::new();
    for pair in kv.chunks(2) {
        let name = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
        let value = String::from_utf8_lossy(&pair[1]).into_owned();
        let Some(p) = crate::server::config::param(&name) else {
            *cfg = before;
            return fail(&format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'"));
        };
        if names.contains(&p.name) {
            *cfg = before;
            return fail(&format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter"
            ));
        }
        if !p.mutable {
            *cfg = before;
            return fail(&format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config"
            ));
        }
        if let Err(e) = (p.set)(&mut cfg, &value) {
            *cfg = before;
            return fail(&format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {e}"));
        }
        names.push(p.name);
    }
    drop(cfg);
    for name in &names {
        if let Err(e) = crate::server::apply_config_change(ctx.srv, name) {
            *ctx.srv.config.write() = before;
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

fn command_info(c: &CommandSpec) -> Reply {
    Reply::Array(vec![
        Reply::bulk_str(c.name),
        Reply::Int(c.arity as i64),
        Reply::Set(flag_names(c)),
        Reply::Int(c.first_key as i64),
        Reply::Int(c.last_key as i64),
        Reply::Int(c.step as i64),
        Reply::Set(categories(c).into_iter().map(Reply::Status).collect()),
        Reply::Array(vec![]),
        Reply::Array(vec![]),
        Reply::Array(vec![]),
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

fn command(_ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len() == 1 {
        return Ok(Reply::Array(table::all().map(command_info).collect()));
    }
    let sub = &a[1];
    let find = |n: &Bytes| table::lookup(n);
    if is(sub, "count") && a.len() == 2 {
        return Ok(Reply::Int(table::count() as i64));
    }
    if is(sub, "list") {
        return Ok(Reply::Array(table::all().map(|c| Reply::bulk_str(c.name)).collect()));
    }
    if is(sub, "info") {
        if a.len() == 2 {
            return Ok(Reply::Array(table::all().map(command_info).collect()));
        }
        return Ok(Reply::Array(a[2..].iter().map(|n| find(n).map_or(Reply::NilArray, command_info)).collect()));
    }
    if is(sub, "docs") {
        let list: Vec<&CommandSpec> =
            if a.len() == 2 { table::all().collect() } else { a[2..].iter().filter_map(find).collect() };
        return Ok(Reply::Map(list.into_iter().map(|c| (Reply::bulk_str(c.name), command_docs(c))).collect()));
    }
    if is(sub, "getkeys") && a.len() >= 3 {
        let Some(c) = find(&a[2]) else { return fail("ERR Invalid command specified") };
        let args = &a[2..];
        if !c.arity_ok(args.len()) {
            return fail("ERR Invalid number of arguments specified for command");
        }
        let keys: Vec<Reply> = c.key_indexes(args.len()).map(|i| Reply::Bulk(args[i].clone())).collect();
        if keys.is_empty() {
            return fail("ERR The command has no key arguments");
        }
        return Ok(Reply::Array(keys));
    }
    if is(sub, "help") {
        return Ok(help_reply(&[
            "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
        ]));
    }
    Err(unknown_subcommand("command", sub))
}

fn debug(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let sub = &a[1];
    if is(sub, "sleep") && a.len() == 3 {
        let secs = args::float(&a[2])?.max(0.0);
        std::thread::sleep(std::time::Duration::from_secs_f64(secs.min(3600.0)));
        return args::ok();
    }
    if is(sub, "object") && a.len() == 3 {
        let db = ctx.client.db;
        let ks = ctx.srv.keyspace.clone();
        let mut l = ks.lock_keys(db, [&a[2][..]]);
        l.db = db;
        let Some(e) = crate::db::with_no_touch(true, || l.peek(&a[2]).cloned()) else { return fail("ERR no such key") };
        return Ok(Reply::StatusOwned(format!(
            "Value at:0x0 refcount:1 encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
            e.value.encoding(),
            e.value.heap_size(),
            e.lru,
            crate::db::idle_seconds(e.lru)
        )));
    }
    if is(sub, "help") {
        return Ok(help_reply(&[
            "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "OBJECT <key>",
            "    Show low level info about the key and associated value.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
            "RELOAD",
            "    Save the RDB on disk and reload it back to memory.",
        ]));
    }
    if let Some(r) = crate::server::debug_extension(ctx.srv, a) {
        return r;
    }
    Err(unknown_subcommand("debug", sub))
}

fn latency(_ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let sub = &a[1];
    if is(sub, "latest") || is(sub, "history") || is(sub, "histogram") {
        return Ok(Reply::Array(vec![]));
    }
    if is(sub, "reset") {
        return Ok(Reply::Int(0));
    }
    if is(sub, "doctor") {
        return Ok(Reply::Verbatim(Bytes::from_static(b"Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep better tonight.\n")));
    }
    if is(sub, "help") {
        return Ok(help_reply(&[
            "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "LATEST",
            "RESET",
            "DOCTOR",
            "HISTORY <event>",
            "HELP",
        ]));
    }
    Err(unknown_subcommand("latency", sub))
}

fn function(_ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let sub = &a[1];
    if is(sub, "flush") && a.len() <= 3 {
        return args::ok();
    }
    if is(sub, "list") {
        return Ok(Reply::Array(vec![]));
    }
    Err(unknown_subcommand("function", sub))
}

fn shutdown(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut save = None;
    for o in &a[1..] {
        if is(o, "nosave") {
            save = Some(false);
        } else if is(o, "save") {
            save = Some(true);
        } else if !(is(o, "now") || is(o, "force") || is(o, "abort")) {
            return fail(args::err::SYNTAX);
        }
    }
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
pub const COMMANDS: &[CommandSpec] = &[
    spec!("info", -1, LOADING, 0, 0, 0, info, "server", "Returns information and statistics about the server.", "O(1)"),
    spec!("config", -2, ADMIN | LOADING, 0, 0, 0, config, "server", "A container for server configuration commands.", "Depends on subcommand."),
    spec!("command", -1, LOADING, 0, 0, 0, command, "server", "Returns detailed information about all commands.", "O(N) where N is the total number of Redis commands"),
    spec!("time", 1, FAST | LOADING, 0, 0, 0, time, "server", "Returns the server time.", "O(1)"),
    spec!("debug", -2, ADMIN, 0, 0, 0, debug, "server", "A container for debugging commands.", "Depends on subcommand."),
    spec!("latency", -2, ADMIN, 0, 0, 0, latency, "server", "A container for latency diagnostics commands.", "Depends on subcommand."),
    spec!("function", -2, 0, 0, 0, 0, function, "scripting", "A container for function commands (FLUSH and LIST only: no scripting).", "Depends on subcommand."),
    spec!("shutdown", -1, ADMIN | NO_MULTI, 0, 0, 0, shutdown, "server", "Synchronously saves the database(s) to disk and shuts down the Redis server.", "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)"),
    spec!("lolwut", -1, READONLY | FAST, 0, 0, 0, lolwut, "server", "Displays computer art and the server version.", "O(1)"),
    spec!("wait", 3, 0, 0, 0, 0, wait, "generic", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed (no replicas: answers 0).", "O(1)"),
];
