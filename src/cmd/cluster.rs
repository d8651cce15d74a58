//! Redis Cluster's commands, as a Redis 7.0 server without cluster mode
//! answers them: `CLUSTER` (every subcommand), `READONLY`, `READWRITE` and
//! `ASKING` refuse with "cluster support disabled". They exist so that
//! cluster-aware clients probing a server get Redis's answer rather than an
//! unknown command, and `COMMAND LIST` and ACL rules know them. This server
//! shards through its proxy instead (see the README).

use bytes::Bytes;

use super::args::fail;
use super::table::{flags::*, CommandSpec};
use super::{CmdResult, Ctx};
use crate::spec;

const DISABLED: &str = "ERR This instance has cluster support disabled";

/// CLUSTER's subcommands in Redis 7.0 with their arities (the container's
/// name counted).
pub(crate) const CLUSTER_SUBS: &[(&str, i32)] = &[
    ("addslots", -3),
    ("addslotsrange", -4),
    ("bumpepoch", 2),
    ("count-failure-reports", 3),
    ("countkeysinslot", 3),
    ("delslots", -3),
    ("delslotsrange", -4),
    ("failover", -2),
    ("flushslots", 2),
    ("forget", 3),
    ("getkeysinslot", 4),
    ("help", 2),
    ("info", 2),
    ("keyslot", 3),
    ("links", 2),
    ("meet", -4),
    ("myid", 2),
    ("nodes", 2),
    ("replicas", 3),
    ("replicate", 3),
    ("reset", -2),
    ("saveconfig", 2),
    ("set-config-epoch", 3),
    ("setslot", -4),
    ("shards", 2),
    ("slaves", 3),
    ("slots", 2),
];

/// CLUSTER: an unknown subcommand or a wrong arity gets Redis's usual
/// error; every known one the cluster-disabled error (HELP included, as
/// Redis 7.0 without cluster mode).
fn cluster(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    super::server::subcommands::resolve(ctx, "cluster", a)?;
    fail(DISABLED)
}

/// READONLY, READWRITE, ASKING: the cluster-disabled error.
fn disabled(_ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    fail(DISABLED)
}

/// The command table rows of this module.
pub const COMMANDS: &[CommandSpec] = &[
    spec!(
        "cluster",
        -2,
        CONNECTION,
        0,
        0,
        0,
        cluster,
        "cluster",
        "A container for Redis Cluster commands (cluster mode is not supported: every subcommand is refused).",
        "Depends on subcommand."
    ),
    spec!(
        "readonly",
        1,
        CONNECTION | LOADING | FAST,
        0,
        0,
        0,
        disabled,
        "cluster",
        "Enables read queries for a connection to a Redis Cluster replica node (refused: no cluster mode).",
        "O(1)"
    ),
    spec!(
        "readwrite",
        1,
        CONNECTION | LOADING | FAST,
        0,
        0,
        0,
        disabled,
        "cluster",
        "Disables read queries for a connection to a Redis Cluster replica node (refused: no cluster mode).",
        "O(1)"
    ),
    spec!(
        "asking",
        1,
        CONNECTION | FAST,
        0,
        0,
        0,
        disabled,
        "cluster",
        "Sent by Redis Cluster clients after an -ASK redirect (refused: no cluster mode).",
        "O(1)"
    ),
];
