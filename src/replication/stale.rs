//! `replica-serve-stale-data no`: while a replica's link to its primary is
//! not up (connecting, syncing, lost), commands other than Redis 7.0's
//! `stale`-flagged ones are refused with -MASTERDOWN, so clients never read
//! data that may be arbitrarily old.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use crate::cmd::server::subcommands;
use crate::cmd::table::{self, CommandSpec};
use crate::protocol::Reply;
use crate::server::client::ClientState;
use crate::server::Server;

/// Redis's reply (`shared.masterdownerr`).
const MASTERDOWN: &str = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";

/// Commands (and `container|sub` subcommands) Redis 7.0 flags `stale`:
/// served whatever the link's state. Containers every subcommand of which
/// is stale are named alone.
const STALE: &[&str] = &[
    "acl",
    "auth",
    "client",
    "cluster",
    "command",
    "config",
    "debug",
    "discard",
    "echo",
    "eval",
    "eval_ro",
    "evalsha",
    "evalsha_ro",
    "exec",
    "failover",
    "fcall",
    "fcall_ro",
    "function|help",
    "hello",
    "info",
    "lastsave",
    "latency",
    "memory|help",
    "module|help",
    "monitor",
    "multi",
    "object|help",
    "psubscribe",
    "publish",
    "pubsub",
    "punsubscribe",
    "quit",
    "readonly",
    "readwrite",
    "replconf",
    "replicaof",
    "reset",
    "role",
    "script|help",
    "script|load",
    "select",
    "sentinel",
    "shutdown",
    "slaveof",
    "slowlog",
    "spublish",
    "ssubscribe",
    "subscribe",
    "sunsubscribe",
    "time",
    "unsubscribe",
    "unwatch",
    "watch",
    "xgroup|help",
    "xinfo|help",
];

/// Whether the request `args` (name first) is served while stale. O(1)-ish.
fn serves_stale(spec: &CommandSpec, args: &[Bytes]) -> bool {
    let name = spec.alias_of.unwrap_or(spec.name);
    if STALE.contains(&name) {
        return true;
    }
    let full = args.get(1).and_then(|sub| subcommands::full_name(name, sub));
    full.is_some_and(|f| STALE.contains(&f))
}

/// -MASTERDOWN when this replica's link is down, `replica-serve-stale-data`
/// is `no` and the command (EXEC: any queued command) is not a stale one.
/// The primary's own link is never refused. O(queued commands).
pub fn refusal(srv: &Server, client: &ClientState, spec: &CommandSpec, args: &[Bytes]) -> Option<Reply> {
    let r = &srv.replication;
    if !r.is_replica() || client.handle.kind.load(Ordering::Relaxed) == super::KIND_MASTER {
        return None;
    }
    if srv.config.read().replica_serve_stale_data || r.master.lock().link == "connected" {
        return None;
    }
    let denied = if spec.is(table::special::EXEC) {
        client
            .multi
            .as_ref()
            .is_some_and(|q| q.iter().any(|a| table::lookup(&a[0]).is_some_and(|s| !serves_stale(s, a))))
    } else {
        !serves_stale(spec, args)
    };
    denied.then(|| Reply::err(MASTERDOWN))
}
