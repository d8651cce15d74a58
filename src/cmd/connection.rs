//! Connection commands: PING, ECHO, QUIT, RESET, SELECT, HELLO, AUTH, CLIENT.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::args::{self, err, fail, int, is};
use super::keys::help_reply;
use super::table::flags::*;
use super::{CmdResult, Ctx};
use crate::protocol::Reply;
use crate::server::client::{ReplyMode, Unblock};
use crate::spec;

/// The Redis version this server answers as (clients gate features on it).
pub const REDIS_VERSION: &str = "7.0.0";

fn ping(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len() <= 2 && ctx.client.resp == 2 && ctx.client.subscribed() {
        return Ok(super::pubsub::subscribed_pong(a));
    }
    match a.len() {
        1 => Ok(Reply::Status("PONG")),
        2 => Ok(Reply::Bulk(a[1].clone())),
        _ => Err(args::arity_error("ping")),
    }
}

fn echo(_ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    Ok(Reply::Bulk(a[1].clone()))
}

fn quit(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    ctx.client.close_after_reply = true;
    args::ok()
}

fn reset(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    super::transaction::discard_state(ctx.srv, ctx.client);
    super::pubsub::leave_all(ctx.srv, ctx.client);
    ctx.srv.tracking.disable(&ctx.client.handle);
    ctx.client.tracking = None;
    ctx.client.caching = false;
    if ctx.client.handle.monitoring.swap(false, Ordering::AcqRel) {
        ctx.srv.monitors.remove(ctx.client.id());
    }
    let c = &mut *ctx.client;
    c.db = 0;
    c.resp = 2;
    c.reply_mode = ReplyMode::On;
    c.no_touch = false;
    c.no_evict = false;
    c.authenticated = !ctx.srv.requires_auth();
    // Back to the default user, as Redis's RESET does.
    c.acl_user = None;
    *c.handle.user.lock() = "default".into();
    c.handle.db.store(0, Ordering::Relaxed);
    c.handle.resp.store(2, Ordering::Relaxed);
    *c.handle.name.lock() = None;
    Ok(Reply::Status("RESET"))
}

fn select(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let n = int(&a[1])?;
    if n < 0 || n as usize >= ctx.srv.keyspace.databases() {
        return fail(err::DB_INDEX);
    }
    ctx.client.db = n as usize;
    ctx.client.handle.db.store(n as usize, Ordering::Relaxed);
    args::ok()
}

/// Constant-time comparison: the time taken does not reveal how many leading
/// bytes of a guessed password were right.
pub fn secure_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u8 | (a.len() != b.len()) as u8;
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    diff == 0
}

/// Checks credentials for AUTH and HELLO AUTH.
fn check_auth(ctx: &mut Ctx, user: Option<&[u8]>, pass: &[u8]) -> Result<(), Reply> {
    crate::acl::authenticate(ctx.srv, ctx.client, user, pass)
}

fn auth(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    match a.len() {
        2 => check_auth(ctx, None, &a[1])?,
        3 => check_auth(ctx, Some(&a[1]), &a[2])?,
        _ => return fail(err::SYNTAX),
    }
    args::ok()
}

fn hello(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut proto = ctx.client.resp;
    let mut i = 1;
    if a.len() > 1 {
        let v = int(&a[1]).map_err(|_| Reply::err("ERR Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return fail("NOPROTO unsupported protocol version");
        }
        proto = v as u8;
        i = 2;
    }
    let mut setname = None;
    while i < a.len() {
        if is(&a[i], "auth") && i + 2 < a.len() {
            check_auth(ctx, Some(&a[i + 1]), &a[i + 2])?;
            i += 3;
        } else if is(&a[i], "setname") && i + 1 < a.len() {
            valid_name(&a[i + 1])?;
            setname = Some(Bytes::copy_from_slice(&a[i + 1]));
            i += 2;
        } else {
            return fail(&format!("ERR Syntax error in HELLO option '{}'", String::from_utf8_lossy(&a[i])));
        }
    }
    if !ctx.client.authenticated {
        return fail("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(n) = setname {
        *ctx.client.handle.name.lock() = Some(n).filter(|n| !n.is_empty());
    }
    ctx.client.resp = proto;
    ctx.client.handle.resp.store(proto, Ordering::Relaxed);
    Ok(Reply::Map(vec![
        (Reply::bulk_str("server"), Reply::bulk_str("redis")),
        (Reply::bulk_str("version"), Reply::bulk_str(REDIS_VERSION)),
        (Reply::bulk_str("proto"), Reply::Int(proto as i64)),
        (Reply::bulk_str("id"), Reply::Int(ctx.client.id() as i64)),
        (Reply::bulk_str("mode"), Reply::bulk_str("standalone")),
        (Reply::bulk_str("role"), Reply::bulk_str(if ctx.srv.replication.is_replica() { "replica" } else { "master" })),
        (Reply::bulk_str("modules"), Reply::Array(vec![])),
    ]))
}

fn valid_name(n: &[u8]) -> Result<(), Reply> {
    if n.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return fail("ERR Client names cannot contain spaces, newlines or special characters.");
    }
    Ok(())
}

const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CACHING (YES|NO)",
    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
    "GETREDIR",
    "    Return the client ID we are redirecting to when tracking is enabled.",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are: ID <client-id>, ADDR <ip:port>, LADDR <ip:port>, USER <username>, SKIPME (YES|NO).",
    "LIST [options ...]",
    "    Return information about client connections. Options: TYPE (NORMAL), ID <client-id> [...].",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
    "         [OPTIN] [OPTOUT] [NOLOOP]",
    "    Control server assisted client side caching.",
    "TRACKINGINFO",
    "    Report tracking status for the current connection.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "HELP",
    "    Prints this help.",
];

fn on_off(arg: &[u8]) -> Result<bool, Reply> {
    if is(arg, "on") {
        Ok(true)
    } else if is(arg, "off") {
        Ok(false)
    } else {
        fail(err::SYNTAX)
    }
}

/// CLIENT subcommands and their Redis arities (the container's name counted).
pub(crate) const CLIENT_SUBS: &[(&str, i32)] = &[
    ("caching", 3),
    ("getname", 2),
    ("getredir", 2),
    ("help", 2),
    ("id", 2),
    ("info", 2),
    ("kill", -3),
    ("list", -2),
    ("no-evict", 3),
    ("no-touch", 3),
    ("pause", -3),
    ("reply", 3),
    ("setinfo", 4),
    ("setname", 3),
    ("tracking", -3),
    ("trackinginfo", 2),
    ("unblock", -3),
    ("unpause", 2),
];

fn client(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let me = ctx.client.handle.clone();
    match super::server::subcommands::resolve(ctx, "client", a)? {
        "help" => Ok(help_reply(CLIENT_HELP)),
        "id" => Ok(Reply::Int(me.id as i64)),
        "getname" => Ok(Reply::opt_bulk(me.name.lock().clone())),
        "setname" => {
            valid_name(&a[2])?;
            // A copy: the argument shares the connection's input buffer.
            *me.name.lock() = Some(Bytes::copy_from_slice(&a[2])).filter(|n| !n.is_empty());
            args::ok()
        }
        "info" => Ok(Reply::Verbatim(Bytes::from(me.info_line() + "\n"))),
        "list" => client_list(ctx, &a[2..]),
        "setinfo" => client_setinfo(ctx, &a[2], &a[3]),
        "kill" => client_kill(ctx, &a[2..]),
        "unblock" => client_unblock(ctx, a),
        "tracking" => super::tracking::client_tracking(ctx, a),
        "caching" => super::tracking::client_caching(ctx, a),
        "getredir" => super::tracking::client_getredir(ctx),
        "trackinginfo" => super::tracking::client_trackinginfo(ctx),
        "pause" => {
            let ms = args::parse_i64_bytes(&a[2])
                .ok_or_else(|| Reply::err("ERR timeout is not an integer or out of range"))?;
            if ms < 0 {
                return fail("ERR timeout is negative");
            }
            let all = match a.get(3) {
                None => true,
                Some(m) if a.len() == 4 && is(m, "all") => true,
                Some(m) if a.len() == 4 && is(m, "write") => false,
                Some(_) => return fail(err::SYNTAX),
            };
            ctx.srv.pause.pause(std::time::Duration::from_millis(ms as u64), all);
            args::ok()
        }
        "unpause" => {
            ctx.srv.pause.unpause();
            args::ok()
        }
        "no-evict" => {
            ctx.client.no_evict = on_off(&a[2])?;
            args::ok()
        }
        "no-touch" => {
            ctx.client.no_touch = on_off(&a[2])?;
            args::ok()
        }
        _ => {
            ctx.client.reply_mode = if is(&a[2], "on") {
                ReplyMode::On
            } else if is(&a[2], "off") {
                ReplyMode::Off
            } else if is(&a[2], "skip") {
                ReplyMode::Skip
            } else {
                return fail(err::SYNTAX);
            };
            Ok(if ctx.client.reply_mode == ReplyMode::On { crate::protocol::OK } else { Reply::None })
        }
    }
}

/// `CLIENT SETINFO LIB-NAME|LIB-VER value` (Redis 7.2).
fn client_setinfo(ctx: &mut Ctx, attr: &[u8], value: &[u8]) -> CmdResult {
    let lib_name = is(attr, "lib-name");
    if !lib_name && !is(attr, "lib-ver") {
        return fail(&format!("ERR Unrecognized option '{}'", String::from_utf8_lossy(attr)));
    }
    if value.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
        return fail(&format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            String::from_utf8_lossy(attr).to_ascii_lowercase()
        ));
    }
    let v = String::from_utf8_lossy(value).into_owned();
    let mut lib = ctx.client.handle.lib.lock();
    if lib_name {
        lib.0 = v;
    } else {
        lib.1 = v;
    }
    args::ok()
}

fn client_list(ctx: &mut Ctx, opts: &[Bytes]) -> CmdResult {
    let mut ids: Option<Vec<u64>> = None;
    if !opts.is_empty() {
        if is(&opts[0], "type") && opts.len() == 2 {
            if !["normal", "master", "replica", "pubsub"].iter().any(|t| is(&opts[1], t)) {
                return fail(&format!("ERR Unknown client type '{}'", String::from_utf8_lossy(&opts[1])));
            }
            if !is(&opts[1], "normal") {
                return Ok(Reply::Verbatim(Bytes::new()));
            }
        } else if is(&opts[0], "id") && opts.len() >= 2 {
            let mut v = Vec::new();
            for o in &opts[1..] {
                let id = int(o).map_err(|_| Reply::err("ERR Invalid client ID"))?;
                if id > 0 {
                    v.push(id as u64);
                }
            }
            ids = Some(v);
        } else {
            return fail(err::SYNTAX);
        }
    }
    let mut s = String::new();
    for c in ctx.srv.clients.list() {
        if ids.as_ref().is_none_or(|ids| ids.contains(&c.id)) {
            s.push_str(&c.info_line());
            s.push('\n');
        }
    }
    Ok(Reply::Verbatim(Bytes::from(s)))
}

/// `CLIENT UNBLOCK client-id [TIMEOUT|ERROR]`: 1 if the client was parked
/// in a blocking command and now answers its timeout reply (or the
/// `UNBLOCKED` error), else 0. Checks the reason before the id, as Redis
/// does. O(log clients).
fn client_unblock(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len() > 4 {
        let sub: String = String::from_utf8_lossy(&a[1]).chars().take(128).collect();
        return fail(&format!("ERR unknown subcommand or wrong number of arguments for '{sub}'. Try CLIENT HELP."));
    }
    let how = match a.get(3) {
        None => Unblock::Timeout,
        Some(r) if is(r, "timeout") => Unblock::Timeout,
        Some(r) if is(r, "error") => Unblock::Error,
        Some(_) => return fail("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"),
    };
    let id = int(&a[2])?;
    let done = u64::try_from(id).ok().is_some_and(|id| ctx.srv.blocking.unblock(id, how));
    Ok(Reply::Int(done as i64))
}

fn client_kill(ctx: &mut Ctx, opts: &[Bytes]) -> CmdResult {
    let me = ctx.client.id();
    if opts.len() == 1 {
        // Old form: CLIENT KILL addr:port.
        let addr = String::from_utf8_lossy(&opts[0]);
        let Some(c) = ctx.srv.clients.list().into_iter().find(|c| c.addr == addr) else {
            return fail("ERR No such client");
        };
        if c.id == me {
            ctx.client.close_after_reply = true;
        } else {
            c.kill();
        }
        return args::ok();
    }
    if !opts.len().is_multiple_of(2) {
        return fail(err::SYNTAX);
    }
    let (mut id, mut addr, mut laddr, mut user, mut skipme) = (None, None, None, None, true);
    let mut kind = None;
    for kv in opts.chunks(2) {
        let v = String::from_utf8_lossy(&kv[1]).into_owned();
        if is(&kv[0], "id") {
            id = Some(
                int(&kv[1])
                    .ok()
                    .filter(|i| *i > 0)
                    .ok_or_else(|| Reply::err("ERR client-id should be greater than 0"))? as u64,
            );
        } else if is(&kv[0], "addr") {
            addr = Some(v);
        } else if is(&kv[0], "laddr") {
            laddr = Some(v);
        } else if is(&kv[0], "user") {
            if ctx.srv.acl.get(&v).is_none() {
                return fail(&format!("ERR No such user '{v}'"));
            }
            user = Some(v);
        } else if is(&kv[0], "skipme") {
            skipme = on_off(if is(&kv[1], "yes") {
                b"on"
            } else if is(&kv[1], "no") {
                b"off"
            } else {
                &kv[1]
            })?;
        } else if is(&kv[0], "type") {
            if !["normal", "master", "replica", "slave", "pubsub"].iter().any(|t| is(&kv[1], t)) {
                return fail(&format!("ERR Unknown client type '{v}'"));
            }
            kind = Some(if is(&kv[1], "master") {
                crate::replication::KIND_MASTER
            } else if is(&kv[1], "replica") || is(&kv[1], "slave") {
                crate::replication::KIND_REPLICA
            } else if is(&kv[1], "normal") {
                crate::replication::KIND_NORMAL
            } else {
                return Ok(Reply::Int(0));
            });
        } else {
            return fail(err::SYNTAX);
        }
    }
    let mut killed = 0;
    for c in ctx.srv.clients.list() {
        let m = id.is_none_or(|i| i == c.id)
            && addr.as_ref().is_none_or(|a| *a == c.addr)
            && laddr.as_ref().is_none_or(|a| *a == c.laddr)
            && user.as_ref().is_none_or(|u| *u == *c.user.lock())
            && kind.is_none_or(|k| k == c.kind.load(std::sync::atomic::Ordering::Relaxed));
        if !m || (skipme && c.id == me) {
            continue;
        }
        if c.id == me {
            ctx.client.close_after_reply = true;
        } else {
            c.kill();
        }
        killed += 1;
    }
    Ok(Reply::Int(killed))
}

/// The connection family's rows of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[super::table::CommandSpec] = &[
    spec!("ping", -1, FAST | CONNECTION, 0, 0, 0, ping, "connection", "Returns the server's liveliness response.", "O(1)"),
    spec!("echo", 2, FAST | CONNECTION | LOADING, 0, 0, 0, echo, "connection", "Returns the given string.", "O(1)"),
    spec!("quit", -1, FAST | CONNECTION | NO_AUTH | NO_MULTI | LOADING, 0, 0, 0, quit, "connection", "Closes the connection.", "O(1)"),
    spec!("reset", 1, FAST | CONNECTION | NO_AUTH | NO_MULTI | LOADING, 0, 0, 0, reset, "connection", "Resets the connection.", "O(1)"),
    spec!("select", 2, FAST | CONNECTION | LOADING, 0, 0, 0, select, "connection", "Changes the selected database.", "O(1)"),
    spec!("auth", -2, FAST | CONNECTION | NO_AUTH | LOADING, 0, 0, 0, auth, "connection", "Authenticates the connection.", "O(N) where N is the number of passwords defined for the user"),
    spec!("hello", -1, FAST | CONNECTION | NO_AUTH | LOADING, 0, 0, 0, hello, "connection", "Handshakes with the Redis server.", "O(1)"),
    spec!("client", -2, CONNECTION | LOADING, 0, 0, 0, client, "connection", "A container for client connection commands.", "Depends on subcommand."),
];
