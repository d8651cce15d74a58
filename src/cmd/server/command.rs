//! COMMAND and its subcommands (COUNT, DOCS, GETKEYS, GETKEYSANDFLAGS,
//! INFO, LIST, HELP), with the command metadata they report: Redis's flag
//! names, ACL categories and key specs derived from the command table, and
//! the subcommands of container commands (`config|get`).

use bytes::Bytes;

use super::super::args::{self, fail, is};
use super::super::keys::help_reply;
use super::super::table::{self, flags::*, CommandSpec};
use super::super::{CmdResult, Ctx};
use super::{command_meta, subcommands};
use crate::protocol::Reply;

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
        // SORT reads lists, sets and sorted sets (Redis's own categories).
        "generic" if matches!(c.name, "sort" | "sort_ro") => v.extend(["@set", "@sortedset", "@list"]),
        "string" => v.push("@string"),
        "bitmap" => v.push("@bitmap"),
        "list" => v.push("@list"),
        "hash" => v.push("@hash"),
        "set" => v.push("@set"),
        "sorted-set" => v.push("@sortedset"),
        "stream" => v.push("@stream"),
        "hyperloglog" => v.push("@hyperloglog"),
        "geo" => v.push("@geo"),
        "pubsub" => v.push("@pubsub"),
        "generic" | "server" => v.push("@keyspace"),
        "connection" => v.push("@connection"),
        "transactions" => v.push("@transaction"),
        "scripting" => v.push("@scripting"),
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

/// Key-spec flags of a command's keys when Redis's metadata has none (the
/// original project's aliases), from its flags: read-only commands
/// `RO access`, writes `RW update`.
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

/// A command's (or, with `sub`, one of its subcommands') `COMMAND INFO`
/// entry. A subcommand shares its container's flags, categories and key
/// positions; a container lists its subcommands last.
fn info_entry(c: &CommandSpec, sub: Option<(&'static str, i32)>) -> Reply {
    let (name, arity) = sub.unwrap_or((c.name, c.arity));
    let subs = match sub {
        Some(_) => Vec::new(),
        None => subcommands::full_names(c.name).map(|s| info_entry(c, Some(s))).collect(),
    };
    Reply::Array(vec![
        Reply::bulk_str(name),
        Reply::Int(arity as i64),
        Reply::Set(flag_names(c)),
        Reply::Int(c.first_key as i64),
        Reply::Int(c.last_key as i64),
        Reply::Int(c.step as i64),
        Reply::Set(categories(c).into_iter().map(Reply::Status).collect()),
        Reply::Set(vec![]),
        key_specs(c),
        Reply::Array(subs),
    ])
}

/// A command's `COMMAND INFO` entry: Redis 7.0's own, or for the original
/// project's aliases one derived from the table row.
fn command_info(c: &CommandSpec) -> Reply {
    command_meta::info(c.name).unwrap_or_else(|| info_entry(c, None))
}

/// `COMMAND INFO name`: a command, or `container|sub`; nil for anything else.
fn info_by_name(name: &[u8]) -> Reply {
    if name.contains(&b'|') {
        return match subcommands::lookup(name) {
            Some((c, full)) => {
                let arity = subcommands::full_names(c.name).find(|(n, _)| *n == full).map_or(-2, |(_, a)| a);
                command_meta::sub_info(c.name, full).unwrap_or_else(|| info_entry(c, Some((full, arity))))
            }
            None => Reply::Nil,
        };
    }
    table::lookup(name).map_or(Reply::Nil, command_info)
}

/// A command's `COMMAND DOCS` map: Redis 7.0's own, or for the original
/// project's aliases one derived from the table row.
fn command_docs(c: &CommandSpec) -> Reply {
    if let Some(docs) = command_meta::docs(c.name) {
        return docs;
    }
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

/// COMMAND's subcommands with their Redis arities (the container's name counted).
pub(crate) const COMMAND_SUBS: &[(&str, i32)] =
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

/// COMMAND's handler.
pub(super) fn command(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len() == 1 {
        return Ok(Reply::Array(table::all().map(command_info).collect()));
    }
    let find = |n: &Bytes| table::lookup(n);
    match subcommands::resolve(ctx, "command", a)? {
        "count" => Ok(Reply::Int(table::count() as i64)),
        "list" => command_list(&a[2..]),
        "info" if a.len() == 2 => Ok(Reply::Array(table::all().map(command_info).collect())),
        "info" => Ok(Reply::Array(a[2..].iter().map(|n| info_by_name(n)).collect())),
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
            let positions = c.key_positions(args).unwrap_or_default();
            if positions.is_empty() {
                // Scripts and functions may declare no keys (Redis's
                // `no_mandatory_keys` flag).
                if c.is(crate::cmd::table::special::SCRIPT) {
                    return Ok(Reply::Array(vec![]));
                }
                return fail("ERR Invalid arguments specified for command");
            }
            if sub == "getkeys" {
                return Ok(Reply::Array(positions.iter().map(|&i| Reply::Bulk(args[i].clone())).collect()));
            }
            let flags = command_meta::key_flags(c.alias_of.unwrap_or(c.name), args);
            let flags_at = |i: usize| match command_meta::flags_at(&flags, i) {
                Some(f) => Reply::Set(f.iter().map(|f| Reply::Status(f)).collect()),
                None => Reply::Set(key_flags(c)),
            };
            let keys = positions.into_iter().map(|i| Reply::Array(vec![Reply::Bulk(args[i].clone()), flags_at(i)]));
            Ok(Reply::Array(keys.collect()))
        }
    }
}

/// The ACL categories `COMMAND INFO` shows for command or subcommand
/// `name` of row `c` (without `@`): Redis 7.0's, else derived from the row.
fn listed_categories(c: &CommandSpec, name: &str) -> Vec<&'static str> {
    let meta =
        if name.contains('|') { command_meta::sub_categories(c.name, name) } else { command_meta::categories(name) };
    meta.unwrap_or_else(|| categories(c).into_iter().map(|s| s.trim_start_matches('@')).collect())
}

/// `COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN glob]`:
/// every command, each followed by its subcommands (`config|get`), as
/// Redis lists them; a subcommand is in its container's ACL categories.
fn command_list(opts: &[Bytes]) -> CmdResult {
    let names = |keep: &dyn Fn(&CommandSpec, &str) -> bool| {
        let mut out = Vec::new();
        for c in table::all() {
            let subs = subcommands::full_names(c.name).map(|(n, _)| n);
            for name in std::iter::once(c.name).chain(subs) {
                if keep(c, name) {
                    out.push(Reply::bulk_str(name));
                }
            }
        }
        Ok(Reply::Array(out))
    };
    match opts {
        [] => names(&|_, _| true),
        [f, kind, _] if is(f, "filterby") && is(kind, "module") => Ok(Reply::Array(vec![])),
        [f, kind, v] if is(f, "filterby") && is(kind, "aclcat") => {
            let cat = String::from_utf8_lossy(v).to_ascii_lowercase();
            names(&|c, name| listed_categories(c, name).contains(&cat.as_str()))
        }
        [f, kind, v] if is(f, "filterby") && is(kind, "pattern") => {
            names(&|_, name| crate::db::glob::glob_match(v, name.as_bytes(), true))
        }
        _ => fail(args::err::SYNTAX),
    }
}
