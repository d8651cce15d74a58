//! Replication commands: REPLICAOF/SLAVEOF, ROLE, WAIT, FAILOVER and the protocol
//! commands replicas send (REPLCONF, PSYNC, SYNC). The work is in
//! [`crate::replication`]; PSYNC/SYNC and WAIT hand their connection a
//! request (it owns the socket and can wait without holding locks).

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::args::{self, err, fail, int, is};
use super::table::flags::*;
use super::{CmdResult, Ctx};
use crate::protocol::Reply;
use crate::replication::primary::SyncRequest;
use crate::replication::{failover, Request, KIND_REPLICA};
use crate::spec;

/// REPLCONF: listening-port, ip-address, capa (accepted), ACK from a
/// replica (no reply), GETACK (answered on the replica's link).
fn replconf(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len().is_multiple_of(2) {
        return fail(err::SYNTAX);
    }
    let id = ctx.client.id();
    for kv in a[1..].chunks(2) {
        let v = &kv[1];
        if is(&kv[0], "listening-port") {
            let port = int(v)?;
            let port = u16::try_from(port).map_err(|_| Reply::err("ERR value is out of range"))?;
            ctx.srv.replication.pending.lock().entry(id).or_default().port = port;
        } else if is(&kv[0], "ip-address") {
            let ip = String::from_utf8_lossy(v).into_owned();
            ctx.srv.replication.pending.lock().entry(id).or_default().ip = Some(ip);
        } else if is(&kv[0], "ack") || is(&kv[0], "getack") {
            // Only meaningful on a replica link, which reads them itself.
            return Ok(Reply::None);
        } else if is(&kv[0], "capa") {
            if is(v, "eof") {
                ctx.srv.replication.pending.lock().entry(id).or_default().eof = true;
            }
        } else if is(&kv[0], "rdb-only") || is(&kv[0], "rdb-filter-only") {
        } else {
            return fail(&format!("ERR Unrecognized REPLCONF option: {}", String::from_utf8_lossy(&kv[0])));
        }
    }
    args::ok()
}

/// Checks that a SYNC/PSYNC may start on this connection.
fn sync_allowed(ctx: &Ctx) -> Result<(), Reply> {
    if ctx.client.handle.kind.load(Ordering::Relaxed) == KIND_REPLICA {
        return Ok(());
    }
    let r = &ctx.srv.replication;
    if failover::phase(ctx.srv) != failover::Phase::None {
        return fail("NOMASTERLINK Can't SYNC while failing over");
    }
    if r.is_replica() && r.master.lock().link != "connected" {
        return fail("NOMASTERLINK Can't SYNC while not connected with my master");
    }
    if ctx.client.multi.is_some() || ctx.client.in_exec {
        return fail("ERR Replica can't be in MULTI");
    }
    Ok(())
}

/// PSYNC replid offset [FAILOVER]: the connection becomes the replica's
/// link. With FAILOVER (from a primary handing over to this replica) this
/// server first becomes the primary.
fn psync(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if a.len() > 3 && is(&a[3], "failover") && ctx.client.handle.kind.load(Ordering::Relaxed) != KIND_REPLICA {
        failover::on_psync_failover(ctx.srv, &a[1])?;
    }
    sync_allowed(ctx)?;
    ctx.client.repl_request = Some(Request::Sync(SyncRequest::Psync(a[1].clone(), a[2].clone())));
    Ok(Reply::None)
}

/// SYNC: a full sync without the `+FULLRESYNC` line (old replicas).
fn sync(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    sync_allowed(ctx)?;
    ctx.client.repl_request = Some(Request::Sync(SyncRequest::Sync));
    Ok(Reply::None)
}

/// REPLICAOF host port | NO ONE (SLAVEOF is the same).
fn replicaof(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if ctx.client.handle.kind.load(Ordering::Relaxed) == KIND_REPLICA {
        return fail("ERR Command is not valid when client is a replica.");
    }
    if failover::phase(ctx.srv) != failover::Phase::None {
        return fail("ERR REPLICAOF not allowed while failing over.");
    }
    let Some(srv) = ctx.srv.replication.server() else {
        return fail(crate::cmd::LOADING_ERROR);
    };
    if is(&a[1], "no") && is(&a[2], "one") {
        crate::replication::replica::set_master(&srv, None);
        srv.config.write().replicaof = None;
        return args::ok();
    }
    let port = int(&a[2])?;
    let port = u16::try_from(port).map_err(|_| Reply::err("ERR Invalid master port"))?;
    let host = String::from_utf8_lossy(&a[1]).into_owned();
    let target = Some((host, port));
    if !crate::replication::replica::set_master(&srv, target.clone()) {
        return Ok(Reply::Status("OK Already connected to specified master"));
    }
    srv.config.write().replicaof = target;
    args::ok()
}

/// ROLE.
fn role(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    Ok(crate::replication::role(ctx.srv))
}

/// WAIT numreplicas timeout: the connection waits for the ACKs (inside
/// MULTI or a script: the count now).
fn wait(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let want = int(&a[1])?;
    let timeout =
        args::parse_i64_bytes(&a[2]).ok_or_else(|| Reply::err("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return fail("ERR timeout is negative");
    }
    let r = &ctx.srv.replication;
    if r.is_replica() {
        return fail("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
    }
    let target = r.stream.with(|st| st.offset);
    let now = r.acked_at(target);
    if ctx.client.in_exec || ctx.client.in_script || want <= now as i64 {
        return Ok(Reply::Int(now as i64));
    }
    ctx.client.repl_request = Some(Request::Wait { replicas: want as usize, timeout_ms: timeout as u64 });
    Ok(Reply::None)
}

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]: see
/// [`crate::replication::failover`].
fn failover_cmd(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let req = failover::parse(a)?;
    let Some(srv) = ctx.srv.replication.server() else {
        return fail(crate::cmd::LOADING_ERROR);
    };
    failover::start(&srv, req)?;
    args::ok()
}

/// The replication family's rows of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[super::table::CommandSpec] = &[
    spec!("replconf", -1, ADMIN | LOADING | DANGEROUS, 0, 0, 0, replconf, "server", "An internal command for configuring the replication stream.", "O(1)"),
    spec!("psync", -3, ADMIN | NO_MULTI | DANGEROUS, 0, 0, 0, psync, "server", "An internal command used in replication.", "Undefined"),
    spec!("sync", 1, ADMIN | NO_MULTI | DANGEROUS, 0, 0, 0, sync, "server", "An internal command used in replication.", "Undefined"),
    spec!("replicaof", 3, ADMIN | DANGEROUS, 0, 0, 0, replicaof, "server", "Configures a server as replica of another, or promotes it to a master.", "O(1)"),
    spec!("slaveof", 3, ADMIN | DANGEROUS, 0, 0, 0, replicaof, "server", "Sets a Redis server as a replica of another, or promotes it to being a master.", "O(1)"),
    spec!("role", 1, LOADING | FAST | DANGEROUS, 0, 0, 0, role, "server", "Returns the replication role.", "O(1)"),
    spec!("failover", -1, ADMIN | DANGEROUS, 0, 0, 0, failover_cmd, "server", "Starts a coordinated failover from a server to one of its replicas.", "O(1)"),
    spec!("wait", 3, 0, 0, 0, 0, wait, "generic", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", "O(1)"),
];
