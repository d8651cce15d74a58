//! Server commands: INFO, CONFIG, COMMAND, TIME, DEBUG, LATENCY, SLOWLOG, FUNCTION,
//! SHUTDOWN.

use bytes::Bytes;

use super::args::{self, fail, is};
use super::keys::help_reply;
use super::table::{flags::*, CommandSpec};
use super::{CmdResult, Ctx};
use crate::protocol::Reply;
use crate::spec;

mod command;
mod command_meta;
pub(crate) mod debug;
pub mod latency;
mod memory;
pub mod slowlog;
pub mod subcommands;
pub use command::categories;
use command::command;
pub use command_meta::{flags_at, key_flags};
use debug::debug;
use latency::latency;
pub(crate) use latency::LATENCY_SUBS;
use memory::memory;
use slowlog::slowlog;

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

/// CONFIG's subcommands with their Redis arities (the container's name counted).
pub(crate) const CONFIG_SUBS: &[(&str, i32)] =
    &[("get", -3), ("help", 2), ("resetstat", 2), ("rewrite", 2), ("set", -4)];

fn config(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    match subcommands::resolve(ctx, "config", a)? {
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

/// Parameters Redis can change at run time (or that Redis does not have)
/// but this server cannot: setting one to the value it already has is
/// accepted, as the no-op it is (so a CONFIG GET / CONFIG SET round trip
/// works as it does in Redis).
const SAME_VALUE_OK: &[&str] = &["bind", "port", "tls-port", "backup", "threads"];

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
        let unchanged = SAME_VALUE_OK.contains(&p.name) && (p.get)(&cfg) == value;
        if !p.mutable && !unchanged {
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
    for (i, name) in names.iter().enumerate() {
        if let Err(e) = crate::server::apply_config_change(ctx.srv, name) {
            restore(&mut ctx.srv.config.write());
            // As Redis, the settings applied before this one are applied
            // again with their old values (a port moved back, …).
            for applied in &names[..i] {
                if let Err(e) = crate::server::apply_config_change(ctx.srv, applied) {
                    tracing::warn!(setting = applied, error = %e, "CONFIG SET rollback could not re-apply a setting");
                }
            }
            return fail(&format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {e}"));
        }
    }
    // As Redis, a lower maxmemory evicts at once (inside MULTI this thread
    // holds every shard: the next command evicts instead).
    let loading = ctx.srv.persist.loading.load(std::sync::atomic::Ordering::Relaxed);
    if names.contains(&"maxmemory") && !ctx.ks.is_all() && !loading {
        super::free_memory(ctx.srv);
    }
    args::ok()
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. The shutdown starts at once
/// (there is no pending-shutdown phase to abort), and, as in Redis, it is
/// refused inside MULTI and makes the transaction fail.
fn shutdown(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    super::transaction::refuse_inside_multi(ctx)?;
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
    // A script that will not stop holds every shard: as Redis, only
    // SHUTDOWN NOSAVE ends the process then, at once; anything else gets
    // the -BUSY reply.
    if crate::scripting::RUN.is_running() {
        if !nosave {
            return Err(crate::scripting::RUN.busy_error());
        }
        tracing::warn!("SHUTDOWN NOSAVE while a script is busy: exiting now, without saving.");
        std::process::exit(0);
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
    // Clients look for "Redis ver." in LOLWUT's output.
    Ok(Reply::Verbatim(Bytes::from(format!(
        "inmemory ver. {} (Redis ver. {} compatible)\n",
        env!("CARGO_PKG_VERSION"),
        super::connection::REDIS_VERSION
    ))))
}

/// MONITOR: from now on the client gets a line per command the server
/// runs (see [`crate::server::monitor`]).
fn monitor(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    if ctx.client.in_exec || ctx.client.in_script {
        return Err(Reply::err("ERR MONITOR isn't allowed for DENY BLOCKING client"));
    }
    let h = ctx.client.handle.clone();
    if h.monitoring.swap(true, std::sync::atomic::Ordering::AcqRel) {
        return Ok(Reply::None);
    }
    ctx.srv.monitors.add(&h);
    args::ok()
}

/// The server family's rows of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    spec!("info", -1, LOADING, 0, 0, 0, info, "server", "Returns information and statistics about the server.", "O(1)"),
    spec!("config", -2, ADMIN | LOADING, 0, 0, 0, config, "server", "A container for server configuration commands.", "Depends on subcommand."),
    spec!("command", -1, LOADING, 0, 0, 0, command, "server", "Returns detailed information about all commands.", "O(N) where N is the total number of Redis commands"),
    spec!("time", 1, FAST | LOADING, 0, 0, 0, time, "server", "Returns the server time.", "O(1)"),
    spec!("monitor", 1, ADMIN | LOADING, 0, 0, 0, monitor, "server", "Listens for all requests received by the server in real-time.", ""),
    spec!("debug", -2, ADMIN | LOADING, 0, 0, 0, debug, "server", "A container for debugging commands.", "Depends on subcommand."),
    spec!("memory", -2, READONLY, 2, 2, 1, memory, "server", "A container for memory diagnostics commands.", "Depends on subcommand."),
    spec!("latency", -2, ADMIN | LOADING, 0, 0, 0, latency, "server", "A container for latency diagnostics commands.", "Depends on subcommand."),
    spec!("slowlog", -2, ADMIN | LOADING, 0, 0, 0, slowlog, "server", "A container for slow log commands.", "Depends on subcommand."),
    spec!("shutdown", -1, ADMIN | NO_MULTI | LOADING, 0, 0, 0, shutdown, "server", "Synchronously saves the database(s) to disk and shuts down the Redis server.", "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)"),
    spec!("lolwut", -1, READONLY | FAST, 0, 0, 0, lolwut, "server", "Displays computer art and the server version.", "O(1)"),
];
