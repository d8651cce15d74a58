//! The subcommands of the container commands (CONFIG GET, CLIENT LIST …)
//! and their full names as Redis reports them (`config|get`): used by
//! COMMAND LIST/INFO, ACL rules and errors on `container|sub`, the `cmd=`
//! field of CLIENT LIST and LATENCY HISTOGRAM.

use std::sync::LazyLock;

use bytes::Bytes;

use super::super::table::CommandSpec;
use super::super::Ctx;
use crate::protocol::Reply;

/// One container: its name and its `(subcommand, arity)` rows (the arity
/// counts the container's name, as Redis's does).
type Container = (&'static str, &'static [(&'static str, i32)]);

/// Every container command of the table with the subcommands it answers.
const CONTAINERS: &[Container] = &[
    ("acl", super::super::acl::ACL_SUBS),
    ("client", super::super::connection::CLIENT_SUBS),
    ("cluster", super::super::cluster::CLUSTER_SUBS),
    ("command", super::command::COMMAND_SUBS),
    ("config", super::CONFIG_SUBS),
    ("function", super::super::function::FUNCTION_SUBS),
    ("latency", super::LATENCY_SUBS),
    ("memory", super::memory::MEMORY_SUBS),
    ("object", super::super::keys::OBJECT_SUBS),
    ("pubsub", super::super::pubsub::PUBSUB_SUBS),
    ("script", super::super::scripting::SCRIPT_SUBS),
    ("slowlog", super::slowlog::SLOWLOG_SUBS),
    ("xgroup", super::super::stream::XGROUP_SUBS),
    ("xinfo", super::super::stream::XINFO_SUBS),
];

/// `container|sub` for every row of [`CONTAINERS`], in the same order.
static FULL_NAMES: LazyLock<Vec<Vec<String>>> = LazyLock::new(|| {
    CONTAINERS.iter().map(|(c, subs)| subs.iter().map(|(s, _)| format!("{c}|{s}")).collect()).collect()
});

fn container_index(name: &str) -> Option<usize> {
    CONTAINERS.iter().position(|(c, _)| *c == name)
}

/// True if `name` (lower case) is a container command. O(containers).
pub fn is_container(name: &str) -> bool {
    container_index(name).is_some()
}

/// The subcommands of container `name` with their arities, in table
/// order; empty for any other command. O(containers).
pub fn of(name: &str) -> &'static [(&'static str, i32)] {
    container_index(name).map_or(&[], |i| CONTAINERS[i].1)
}

/// The full names (`container|sub`) of container `name`'s subcommands,
/// in table order, each with its arity. O(containers).
pub fn full_names(name: &str) -> impl Iterator<Item = (&'static str, i32)> {
    let i = container_index(name);
    let names: &'static [String] = i.map_or(&[], |i| FULL_NAMES[i].as_slice());
    names.iter().zip(of(name)).map(|(n, (_, arity))| (n.as_str(), *arity))
}

/// The full name of subcommand `sub` (any case) of container `name`, if
/// it has one. O(subcommands).
pub fn full_name(name: &str, sub: &[u8]) -> Option<&'static str> {
    let i = container_index(name)?;
    let j = CONTAINERS[i].1.iter().position(|(s, _)| s.as_bytes().eq_ignore_ascii_case(sub))?;
    Some(FULL_NAMES[i][j].as_str())
}

/// The name Redis gives a call: `container|sub` for a known subcommand of
/// a container command, else the command's name. O(subcommands).
pub fn call_name(spec: &CommandSpec, args: &[Bytes]) -> &'static str {
    match args.get(1) {
        Some(sub) if spec.alias_of.is_none() => full_name(spec.name, sub).unwrap_or(spec.name),
        _ => spec.name,
    }
}

/// Parses `container|sub` (any case) into the container's table row and
/// the subcommand's full name; `None` unless both exist. O(subcommands).
pub fn lookup(full: &[u8]) -> Option<(&'static CommandSpec, &'static str)> {
    let bar = full.iter().position(|&c| c == b'|')?;
    let spec = super::super::table::lookup(&full[..bar])?;
    Some((spec, full_name(spec.name, &full[bar + 1..])?))
}

/// Checks a container's subcommand and its arity (as
/// [`super::super::keys::subcommand`]) and records the call's full name as
/// the client's last command (`cmd=` of CLIENT LIST).
pub fn resolve(ctx: &mut Ctx, cmd: &str, a: &[Bytes]) -> Result<&'static str, Reply> {
    let sub = super::super::keys::subcommand(cmd, a, of(cmd))?;
    if let Some(full) = full_name(cmd, sub.as_bytes()) {
        *ctx.client.handle.last_cmd.lock() = full;
        ctx.client.last_spec = None;
    }
    Ok(sub)
}
