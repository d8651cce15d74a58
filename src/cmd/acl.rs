//! The ACL command: SETUSER, GETUSER, DELUSER, LIST, USERS, WHOAMI, CAT, LOAD, SAVE, GENPASS, LOG, DRYRUN, HELP.
//! The users themselves live in [`crate::acl`].

use bytes::Bytes;

use super::args::{self, fail, int, is};
use super::keys::help_reply;
use super::table::{self, flags::*};
use super::{CmdResult, Ctx};
use crate::acl::{self as acls, user, Denial};
use crate::protocol::Reply;
use crate::spec;

/// Its subcommands with their Redis arities (the container's name counted).
pub(crate) const ACL_SUBS: &[(&str, i32)] = &[
    ("cat", -2),
    ("deluser", -3),
    ("dryrun", -4),
    ("genpass", -2),
    ("getuser", 3),
    ("help", 2),
    ("list", 2),
    ("load", 2),
    ("log", -2),
    ("save", 2),
    ("setuser", -3),
    ("users", 2),
    ("whoami", 2),
];

const ACL_HELP: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
];

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A bulk string reply.
fn s(x: impl Into<String>) -> Reply {
    Reply::bulk_str(x)
}

/// Redis's reply to bad arguments of a subcommand, naming it as typed.
fn syntax(sub: &[u8]) -> Reply {
    let sub: String = String::from_utf8_lossy(sub).chars().take(128).collect();
    Reply::err(format!("ERR unknown subcommand or wrong number of arguments for '{sub}'. Try ACL HELP."))
}

fn acl(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let sub = super::server::subcommands::resolve(ctx, "acl", a)?;
    let srv = ctx.srv;
    match sub {
        "help" => Ok(help_reply(ACL_HELP)),
        "setuser" => {
            let change = srv.acl.set_user(&text(&a[2]), &a[3..]).map_err(|e| Reply::err(format!("ERR {e}")))?;
            if acls::kill_forbidden_subscribers(srv, &change, ctx.client.id()) {
                ctx.client.close_after_reply = true;
            }
            args::ok()
        }
        "deluser" => {
            let names: Vec<String> = a[2..].iter().map(|n| text(n)).collect();
            let removed = srv.acl.del_users(&names).map_err(|e| Reply::err(format!("ERR {e}")))?;
            if acls::kill_clients_of(srv, &removed, ctx.client.id()) {
                ctx.client.close_after_reply = true;
            }
            Ok(Reply::Int(removed.len() as i64))
        }
        "getuser" => Ok(getuser(ctx, &a[2])),
        "list" => Ok(Reply::Array(
            srv.acl.all().iter().map(|u| Reply::bulk_str(format!("user {} {}", u.name, u.describe()))).collect(),
        )),
        "users" => Ok(Reply::Array(srv.acl.all().iter().map(|u| Reply::bulk_str(u.name.clone())).collect())),
        "whoami" => Ok(Reply::bulk_str(ctx.client.handle.user.lock().clone())),
        "cat" => cat(a),
        "load" | "save" => load_save(ctx, sub),
        "genpass" => genpass(a),
        "log" => log(ctx, a),
        "dryrun" => dryrun(ctx, a),
        _ => Err(syntax(&a[1])),
    }
}

fn getuser(ctx: &mut Ctx, name: &[u8]) -> Reply {
    let Some(u) = ctx.srv.acl.get(&text(name)) else { return Reply::Nil };
    Reply::Map(vec![
        (s("flags"), Reply::Set(u.flag_names().into_iter().map(s).collect())),
        (s("passwords"), Reply::Array(u.passwords.iter().map(|p| s(p.clone())).collect())),
        (s("commands"), s(u.command_rules())),
        (s("keys"), s(u.keys_string())),
        (s("channels"), s(u.channels_string())),
        (s("selectors"), Reply::Array(vec![])),
    ])
}

fn cat(a: &[Bytes]) -> CmdResult {
    match a.len() {
        2 => Ok(Reply::Array(user::CATEGORIES.iter().map(|c| Reply::bulk_str(*c)).collect())),
        3 => {
            let want = text(&a[2]).to_ascii_lowercase();
            if !user::CATEGORIES.contains(&want.as_str()) {
                let shown: String = text(&a[2]).chars().take(128).collect();
                return fail(&format!("ERR Unknown category '{shown}'"));
            }
            // Each command, then its subcommands (which share its categories).
            let names = user::commands().iter().filter(|c| user::in_category(c, &want)).flat_map(|c| {
                std::iter::once(c.name).chain(super::server::subcommands::full_names(c.name).map(|(n, _)| n))
            });
            Ok(Reply::Array(names.map(Reply::bulk_str).collect()))
        }
        _ => Err(syntax(&a[1])),
    }
}

fn load_save(ctx: &mut Ctx, sub: &str) -> CmdResult {
    let path = ctx.srv.config.read().aclfile.clone();
    if path.is_empty() {
        return fail("ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.");
    }
    let path = std::path::Path::new(&path);
    if sub == "save" {
        return match acls::file::save(&ctx.srv.acl, path) {
            Ok(()) => args::ok(),
            Err(e) => {
                tracing::warn!("ACL SAVE to {}: {e}", path.display());
                fail(
                    "ERR There was an error trying to save the ACLs. Please check the server logs for more information",
                )
            }
        };
    }
    let before: Vec<String> = ctx.srv.acl.all().iter().map(|u| u.name.clone()).collect();
    let default = acls::file::load(&ctx.srv.acl, path).map_err(|e| Reply::err(format!("ERR {e}")))?;
    // As Redis frees the old users: clients of any user but `default` are disconnected. Those of `default`
    // stay unless subscribed to a channel it lost (Redis 7.0 keeps even those; 7.2 closes them).
    let gone: Vec<String> = before.into_iter().filter(|n| n != "default").collect();
    let me = ctx.client.id();
    if acls::kill_clients_of(ctx.srv, &gone, me) | acls::kill_forbidden_subscribers(ctx.srv, &default, me) {
        ctx.client.close_after_reply = true;
    }
    args::ok()
}

fn genpass(a: &[Bytes]) -> CmdResult {
    if a.len() > 3 {
        return Err(syntax(&a[1]));
    }
    let bits = if a.len() == 3 { int(&a[2])? } else { 256 };
    if bits <= 0 || bits > 4096 {
        return fail(
            "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
        );
    }
    let chars = ((bits + 3) / 4) as usize;
    let mut seed = [0u8; 32];
    if getrandom(&mut seed).is_err() {
        seed.iter_mut().for_each(|b| *b = fastrand::u8(..));
    }
    // Hex of SHA-256 over (OS randomness, counter): 64 hex digits per block.
    let mut out = String::with_capacity(chars + 64);
    let mut block = 0u64;
    while out.len() < chars {
        let mut input = seed.to_vec();
        input.extend_from_slice(&block.to_le_bytes());
        out.push_str(&user::hash_password(&input));
        block += 1;
    }
    out.truncate(chars);
    Ok(Reply::bulk_str(out))
}

/// Fills `buf` from the operating system's random source.
fn getrandom(buf: &mut [u8]) -> std::io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

fn log(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len() > 3 {
        return Err(syntax(&a[1]));
    }
    let mut count = 10;
    if a.len() == 3 {
        if is(&a[2], "reset") {
            ctx.srv.acl.log_reset();
            return args::ok();
        }
        count = int(&a[2])?.max(0) as usize;
    }
    let entries = ctx.srv.acl.log_entries(count).into_iter().map(|e| {
        let reason = e.reason.log_reason();
        Reply::Map(vec![
            (s("count"), Reply::Int(e.count as i64)),
            (s("reason"), s(reason)),
            (s("context"), s(e.context)),
            (s("object"), s(e.object)),
            (s("username"), s(e.username)),
            (s("age-seconds"), Reply::Double(e.updated.elapsed().as_secs_f64())),
            (s("client-info"), s(e.client_info)),
        ])
    });
    Ok(Reply::Array(entries.collect()))
}

fn dryrun(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let Some(u) = ctx.srv.acl.get(&text(&a[2])) else {
        return fail(&format!("ERR User '{}' not found", text(&a[2])));
    };
    let Some(spec) = table::lookup(&a[3]) else {
        return fail(&format!("ERR Command '{}' not found", text(&a[3])));
    };
    let cmd = &a[3..];
    if !spec.arity_ok(cmd.len()) {
        return fail(&format!("ERR wrong number of arguments for '{}' command", spec.name));
    }
    Ok(match acls::permission(&u, spec, cmd) {
        Ok(()) => crate::protocol::OK,
        Err((Denial::Key, Some(i))) => {
            Reply::bulk_str(format!("This user has no permissions to access the '{}' key", text(&cmd[i])))
        }
        Err((Denial::Channel, Some(i))) => {
            Reply::bulk_str(format!("This user has no permissions to access the '{}' channel", text(&cmd[i])))
        }
        Err(_) => Reply::bulk_str(format!(
            "This user has no permissions to run the '{}' command",
            super::server::subcommands::call_name(spec, cmd)
        )),
    })
}

/// The ACL family's rows of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[super::table::CommandSpec] = &[
    spec!("acl", -2, ADMIN | LOADING, 0, 0, 0, acl, "server", "A container for Access List Control commands.", "Depends on subcommand."),
];
