//! Redis 7.0's own command metadata, replayed by `COMMAND INFO` and
//! `COMMAND DOCS`: flags, ACL categories, tips, key specs, subcommands,
//! summaries, history and argument trees exactly as `redis-server` 7.0
//! reports them, so client libraries that read `COMMAND` (to find keys, to
//! route, to build help) see what they would see against Redis.
//!
//! The data is `redis-commands.json`, captured from a running
//! `redis-server` 7.0 by `examples/capture_command_meta.rs`. It keeps the
//! RESP3 types of the replies: a string is a bulk string, or a status when
//! it starts with `+`; a number an integer; an array an array; an object a
//! map, or a set when its only key is `~`. A command of the table without
//! an entry (the original project's aliases) is described from its table
//! row instead (see `command.rs`). The table and the data are checked
//! against each other by the tests below (arity, flags, key positions).
//!
//! Parsed once, at the first use (≈220 KB, a few milliseconds).

use std::collections::HashMap;
use std::sync::LazyLock;

use bytes::Bytes;
use serde_json::Value;

use super::subcommands;
use crate::protocol::Reply;

/// Per command name: its `COMMAND INFO` entry and its `COMMAND DOCS` map.
static META: LazyLock<HashMap<String, (Value, Value)>> = LazyLock::new(|| {
    let all: HashMap<String, (Value, Value)> =
        serde_json::from_str(include_str!("redis-commands.json")).unwrap_or_default();
    all
});

/// The typed JSON as a reply (see the module doc for the encoding).
fn reply(v: &'static Value) -> Reply {
    match v {
        Value::String(s) => match s.strip_prefix('+') {
            Some(status) => Reply::Status(status),
            None => Reply::Bulk(Bytes::from_static(s.as_bytes())),
        },
        Value::Number(n) => Reply::Int(n.as_i64().unwrap_or(0)),
        Value::Array(items) => Reply::Array(items.iter().map(reply).collect()),
        Value::Object(m) => match m.get("~") {
            Some(Value::Array(items)) if m.len() == 1 => Reply::Set(items.iter().map(reply).collect()),
            _ => Reply::Map(m.iter().map(|(k, v)| (Reply::Bulk(Bytes::from_static(k.as_bytes())), reply(v))).collect()),
        },
        Value::Bool(b) => Reply::Bool(*b),
        Value::Null => Reply::Nil,
    }
}

/// Whether the server answers subcommand `full` (`config|get`).
fn have_sub(full: &str) -> bool {
    subcommands::lookup(full.as_bytes()).is_some()
}

/// The name of a `COMMAND INFO` entry.
fn entry_name(entry: &Value) -> &str {
    entry.get(0).and_then(Value::as_str).unwrap_or("")
}

/// `COMMAND INFO` entry of command `name`, its subcommands limited to
/// those this server answers; `None` for a command Redis 7.0 lacks. O(size).
pub fn info(name: &str) -> Option<Reply> {
    let (info, _) = META.get(name)?;
    let Reply::Array(mut fields) = reply(info) else { return None };
    if let (Some(Value::Array(subs)), Some(slot)) = (info.get(9), fields.get_mut(9)) {
        *slot = Reply::Array(subs.iter().filter(|s| have_sub(entry_name(s))).map(reply).collect());
    }
    Some(Reply::Array(fields))
}

/// `COMMAND INFO` entry of subcommand `full` (`config|get`). O(subcommands).
pub fn sub_info(container: &str, full: &str) -> Option<Reply> {
    sub_entry(container, full).map(reply)
}

/// The `COMMAND INFO` entry of subcommand `full` of `container` in the
/// data. O(subcommands).
fn sub_entry(container: &str, full: &str) -> Option<&'static Value> {
    let (info, _) = META.get(container)?;
    info.get(9)?.as_array()?.iter().find(|s| entry_name(s) == full)
}

/// `COMMAND DOCS` map of command `name`, its `subcommands` limited to those
/// this server answers; `None` for a command Redis 7.0 lacks. O(size).
pub fn docs(name: &str) -> Option<Reply> {
    let (_, docs) = META.get(name)?;
    let Value::Object(m) = docs else { return None };
    let fields = m
        .iter()
        .map(|(k, v)| {
            let value = match (k.as_str(), v) {
                ("subcommands", Value::Object(subs)) => Reply::Map(
                    subs.iter()
                        .filter(|(full, _)| have_sub(full))
                        .map(|(full, d)| (Reply::Bulk(Bytes::from_static(full.as_bytes())), reply(d)))
                        .collect(),
                ),
                _ => reply(v),
            };
            (Reply::Bulk(Bytes::from_static(k.as_bytes())), value)
        })
        .collect();
    Some(Reply::Map(fields))
}

/// The ACL categories Redis 7.0 gives command `name` (`read`, …, without
/// `@`), if it knows the command. O(categories).
pub fn categories(name: &str) -> Option<Vec<&'static str>> {
    let (info, _) = META.get(name)?;
    let set = info.get(6)?.get("~")?.as_array()?;
    Some(set.iter().filter_map(Value::as_str).map(|s| s.trim_start_matches("+@")).collect())
}

/// The ACL categories Redis 7.0 gives subcommand `full` of `container`.
pub fn sub_categories(container: &str, full: &str) -> Option<Vec<&'static str>> {
    let set = sub_entry(container, full)?.get(6)?.get("~")?.as_array()?;
    Some(set.iter().filter_map(Value::as_str).map(|s| s.trim_start_matches("+@")).collect())
}

/// One key spec's flags (`RW`, `access`, …) as Redis names them.
fn spec_flags(spec: &'static Value) -> Vec<&'static str> {
    let set = spec.get("flags").and_then(|f| f.get("~")).and_then(Value::as_array);
    set.map_or_else(Vec::new, |s| s.iter().filter_map(Value::as_str).map(|f| f.trim_start_matches('+')).collect())
}

fn int_at(v: &Value, path: &[&str]) -> Option<i64> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_i64()
}

/// Where a key spec's keys start in `args` (name first), by its
/// `begin_search`: a fixed index, or just after a keyword searched from
/// `startfrom` (backwards when negative). `None` when not found.
fn begin(spec: &Value, args: &[Bytes]) -> Option<usize> {
    let search = spec.get("begin_search")?;
    let argc = args.len() as i64;
    match search.get("type")?.as_str()? {
        "index" => Some(int_at(search, &["spec", "index"])? as usize),
        "keyword" => {
            let word = search.get("spec")?.get("keyword")?.as_str()?.as_bytes();
            let from = int_at(search, &["spec", "startfrom"])?;
            let found = |i: &i64| args[*i as usize].eq_ignore_ascii_case(word);
            let at = if from >= 0 { (from..argc).find(found) } else { (1..argc + from + 1).rev().find(found) };
            at.map(|i| i as usize + 1)
        }
        _ => None,
    }
}

/// The positions one key spec finds in `args`, by its `find_keys`: a range
/// (`lastkey` relative to the start, or from the end when negative, split
/// by `limit`), or a count read from the arguments (`keynum`).
fn find(spec: &Value, args: &[Bytes], first: usize) -> Vec<usize> {
    let Some(fk) = spec.get("find_keys") else { return vec![] };
    let argc = args.len() as i64;
    let first = first as i64;
    let (start, last, step) = match fk.get("type").and_then(Value::as_str) {
        Some("range") => {
            let (Some(lastkey), Some(step), Some(limit)) =
                (int_at(fk, &["spec", "lastkey"]), int_at(fk, &["spec", "keystep"]), int_at(fk, &["spec", "limit"]))
            else {
                return vec![];
            };
            let last = if lastkey >= 0 {
                first + lastkey
            } else if limit <= 1 {
                argc + lastkey
            } else {
                first + ((argc - first) / limit + lastkey)
            };
            (first, last, step)
        }
        Some("keynum") => {
            let (Some(idx), Some(firstkey), Some(step)) = (
                int_at(fk, &["spec", "keynumidx"]),
                int_at(fk, &["spec", "firstkey"]),
                int_at(fk, &["spec", "keystep"]),
            ) else {
                return vec![];
            };
            let Some(n) =
                args.get((first + idx) as usize).and_then(|a| std::str::from_utf8(a).ok()?.parse::<i64>().ok())
            else {
                return vec![];
            };
            let start = first + firstkey;
            (start, start + (n - 1) * step, step)
        }
        _ => return vec![],
    };
    if step <= 0 || start < 1 || last >= argc {
        return vec![];
    }
    (start..=last).step_by(step as usize).map(|i| i as usize).collect()
}

/// The key-spec flags Redis reports for each key position of the call
/// `args` of command `name` (`COMMAND GETKEYSANDFLAGS`), found by walking
/// the command's key specs as Redis does. Commands whose flags depend on
/// the arguments (Redis's `variable_flags`: SET … GET, BITFIELD with
/// writes) and those whose keys Redis finds by a procedure of their own
/// (SORT's STORE, MIGRATE's KEYS) are resolved as those procedures do;
/// position `usize::MAX` then stands for every key not listed. O(args).
pub fn key_flags(name: &str, args: &[Bytes]) -> Vec<(usize, Vec<&'static str>)> {
    match name {
        "set" => {
            let get = args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
            return vec![(1, if get { vec!["RW", "access", "update"] } else { vec!["OW", "update"] })];
        }
        "bitfield" => {
            return vec![(1, if bitfield_writes(args) { vec!["RW", "access", "update"] } else { vec!["RO", "access"] })]
        }
        // Keys Redis finds by the command's own rule (no walkable spec).
        "sort" | "sort_ro" => return vec![(1, vec!["RO", "access"]), (usize::MAX, vec!["OW", "update"])],
        "migrate" => return vec![(usize::MAX, vec!["RW", "access", "delete"])],
        _ => {}
    }
    let Some((info, _)) = META.get(name) else { return vec![] };
    // A container's keys are described by the subcommand's entry.
    let sub = args.get(1).and_then(|s| sub_entry(name, subcommands::full_name(name, s)?));
    let entry = sub.unwrap_or(info);
    let Some(specs) = entry.get(8).and_then(|s| s.get("~")).and_then(Value::as_array) else { return vec![] };
    let mut out = Vec::new();
    for spec in specs {
        if let Some(first) = begin(spec, args) {
            let flags = spec_flags(spec);
            out.extend(find(spec, args, first).into_iter().map(|i| (i, flags.clone())));
        }
    }
    out
}

/// The flags [`key_flags`] gives key position `i`: its own, else those
/// for every key not listed (`usize::MAX`); `None` without either. O(keys).
pub fn flags_at<'a>(flags: &'a [(usize, Vec<&'static str>)], i: usize) -> Option<&'a [&'static str]> {
    let found = flags.iter().find(|(at, _)| *at == i).or_else(|| flags.iter().find(|(at, _)| *at == usize::MAX));
    found.map(|(_, f)| f.as_slice())
}

/// Whether a BITFIELD call may write, as Redis decides it for its key
/// flags: a SET or INCRBY, or anything it cannot parse as GET/OVERFLOW.
fn bitfield_writes(args: &[Bytes]) -> bool {
    let mut i = 2;
    while i < args.len() {
        let rest = args.len() - i - 1;
        match &args[i] {
            a if a.eq_ignore_ascii_case(b"get") && rest >= 2 => i += 3,
            a if a.eq_ignore_ascii_case(b"overflow") && rest >= 1 => i += 2,
            _ => return true,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::super::super::table::{self, flags::*};
    use super::*;

    fn args(s: &str) -> Vec<Bytes> {
        s.split(' ').map(|a| Bytes::copy_from_slice(a.as_bytes())).collect()
    }

    /// Every command of the table that Redis 7.0 has agrees with Redis's
    /// metadata on arity, key positions and the flags dispatch relies on,
    /// and every subcommand on its arity. Known, deliberate differences:
    /// `TTL key seconds` (the original project's form) widens TTL's arity;
    /// a container row (OBJECT, MEMORY, XINFO, XGROUP) carries the key
    /// position and read/write flag its subcommands share, for locking;
    /// shard channels are not keys here (Redis marks them `not_key` only for
    /// cluster slot routing).
    #[test]
    fn table_matches_redis_metadata() {
        let mut checked = 0;
        let mut wrong = Vec::new();
        for c in table::all().filter(|c| c.alias_of.is_none()) {
            let Some((info, _)) = META.get(c.name) else { continue };
            checked += 1;
            let int = |i: usize| info.get(i).and_then(Value::as_i64).unwrap_or(-99) as i32;
            for (full, arity) in subcommands::full_names(c.name) {
                let sub = info[9].as_array().into_iter().flatten().find(|s| entry_name(s) == full);
                match sub.and_then(|s| s.get(1)).and_then(Value::as_i64) {
                    // Later Redis's subcommands (CLIENT SETINFO, NO-TOUCH) are not in 7.0's data.
                    Some(a) if a as i32 != arity => wrong.push(format!("{full}: arity {arity} (Redis {a})")),
                    _ => {}
                }
            }
            if subcommands::is_container(c.name) {
                continue;
            }
            if c.arity != int(1) && c.name != "ttl" {
                wrong.push(format!("{}: arity {} (Redis {})", c.name, c.arity, int(1)));
            }
            let ours = (c.first_key, c.last_key, c.step);
            if ours != (int(3), int(4), int(5)) && !matches!(c.name, "ssubscribe" | "sunsubscribe" | "spublish") {
                wrong.push(format!("{}: keys {ours:?} (Redis {:?})", c.name, (int(3), int(4), int(5))));
            }
            let flags: Vec<&str> = info[2]["~"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            for (bit, name) in [(WRITE, "+write"), (READONLY, "+readonly"), (MOVABLE_KEYS, "+movablekeys")] {
                if c.has(bit) != flags.contains(&name) {
                    wrong.push(format!("{}: {name} {}", c.name, c.has(bit)));
                }
            }
        }
        assert!(wrong.is_empty(), "table rows differing from Redis 7.0:\n{}", wrong.join("\n"));
        assert!(checked > 200, "only {checked} commands found in the metadata");
    }

    #[test]
    fn key_spec_walk_finds_keys_and_flags() {
        assert_eq!(
            key_flags("lmove", &args("lmove a b left right")),
            vec![(1, vec!["RW", "access", "delete"]), (2, vec!["RW", "insert"])]
        );
        assert_eq!(
            key_flags("mset", &args("mset a 1 b 2")),
            vec![(1, vec!["OW", "update"]), (3, vec!["OW", "update"])]
        );
        let x = key_flags("xreadgroup", &args("xreadgroup GROUP g c STREAMS s1 s2 0 0"));
        assert_eq!(x.iter().map(|k| k.0).collect::<Vec<_>>(), vec![5, 6]);
        let z = key_flags("zunionstore", &args("zunionstore d 2 a b"));
        assert_eq!(z.iter().map(|k| k.0).collect::<Vec<_>>(), vec![1, 3, 4]);
        assert_eq!(key_flags("set", &args("set k v get"))[0].1, vec!["RW", "access", "update"]);
    }
}
