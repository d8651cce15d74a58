//! Transactions (Redis's `multi.c`): MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! EXEC runs with every shard locked, so no other client's command can
//! interleave with the queued ones; WATCHed keys are checked under the same
//! locks, so a change that EXEC does not see cannot happen.

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::args::{self, fail};
use super::table::{flags::*, lookup};
use super::{run, CmdResult, Ctx};
use crate::protocol::Reply;
use crate::server::client::ClientState;
use crate::server::Server;
use crate::spec;

/// Drops every WATCH of a client (EXEC, DISCARD, UNWATCH, RESET, disconnect).
pub fn unwatch_all(srv: &Server, client: &mut ClientState) {
    if !client.watched.is_empty() {
        srv.watches.unwatch(client.id(), &client.watched);
        client.watched.clear();
    }
    client.watch_dirty.store(false, Ordering::Release);
}

fn multi(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return fail("ERR MULTI calls can not be nested");
    }
    ctx.client.multi = Some(Vec::new());
    ctx.client.multi_error = false;
    ctx.client.handle.in_multi.store(true, Ordering::Relaxed);
    args::ok()
}

/// Leaves MULTI state without running anything.
pub fn discard_state(srv: &Server, client: &mut ClientState) {
    client.multi = None;
    client.multi_error = false;
    client.handle.in_multi.store(false, Ordering::Relaxed);
    unwatch_all(srv, client);
}

fn discard(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_none() {
        return fail("ERR DISCARD without MULTI");
    }
    discard_state(ctx.srv, ctx.client);
    args::ok()
}

/// Redis's `isWatchedKeyExpired`: true if a watched key is still stored
/// but its TTL has passed. WATCH lazily deletes keys already expired when
/// it is called, so such a key expired after WATCH: a logical change the
/// transaction must not miss. Requires every shard locked (EXEC).
/// O(watched keys).
fn watched_key_expired(ctx: &mut Ctx) -> bool {
    let now = crate::db::now_ms();
    let ks = ctx.ks.keyspace();
    let watched = std::mem::take(&mut ctx.client.watched);
    let expired = watched.iter().any(|(db, key)| {
        let shard = ks.shard_of(key);
        ctx.ks
            .db_parts(*db)
            .nth(shard)
            .and_then(|p| p.map.get(&key[..]))
            .is_some_and(|e| e.expire_at != 0 && e.expire_at <= now)
    });
    ctx.client.watched = watched;
    expired
}

fn exec(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    let Some(queue) = ctx.client.multi.take() else { return fail("ERR EXEC without MULTI") };
    let aborted = ctx.client.multi_error;
    let dirty = ctx.client.watch_dirty.load(Ordering::Acquire) || (!aborted && watched_key_expired(ctx));
    discard_state(ctx.srv, ctx.client);
    if aborted {
        return fail("EXECABORT Transaction discarded because of previous errors.");
    }
    if dirty {
        return Ok(Reply::NilArray);
    }
    ctx.client.in_exec = true;
    let mut replies = Vec::with_capacity(queue.len());
    for args in &queue {
        let r = match lookup(&args[0]) {
            Some(spec) => run(ctx, spec, args),
            None => Reply::err("ERR unknown command"),
        };
        // Errors inside EXEC's reply count as error replies (INFO stats and
        // errorstats), as in Redis; the connection counts only top-level ones.
        if let Reply::Error(msg) = &r {
            super::info::stats::count_error_reply(ctx.srv, msg);
        }
        replies.push(r);
    }
    ctx.client.in_exec = false;
    Ok(Reply::Array(replies))
}

/// Refuses a command Redis flags `no-multi` (SAVE, SHUTDOWN) issued inside
/// MULTI (such rows carry `NO_MULTI`, so they reach their handler instead
/// of the queue): Redis's error, and the transaction will fail. O(1).
pub(crate) fn refuse_inside_multi(ctx: &mut Ctx) -> Result<(), Reply> {
    if ctx.client.multi.is_some() {
        ctx.client.multi_error = true;
        return fail("ERR Command not allowed inside a transaction");
    }
    Ok(())
}

fn watch(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return fail("ERR WATCH inside MULTI is not allowed");
    }
    let db = ctx.client.db;
    for k in &a[1..] {
        // A key already expired is deleted now, as a lookup would: it does
        // not exist for this transaction (see `watched_key_expired`).
        ctx.ks.peek(k);
        if !ctx.client.watched.iter().any(|(d, w)| *d == db && w == k) {
            // A copy: an argument shares the connection's input buffer,
            // which a watch can outlive by far.
            let k = Bytes::copy_from_slice(k);
            ctx.srv.watches.watch(ctx.client.id(), db, k.clone(), &ctx.client.watch_dirty);
            ctx.client.watched.push((db, k));
        }
    }
    args::ok()
}

fn unwatch(ctx: &mut Ctx, _a: &[Bytes]) -> CmdResult {
    unwatch_all(ctx.srv, ctx.client);
    args::ok()
}

/// The transaction family's rows of the command table.
#[rustfmt::skip]
pub const COMMANDS: &[super::table::CommandSpec] = &[
    spec!("multi", 1, NO_MULTI | FAST | LOADING, 0, 0, 0, multi, "transactions", "Starts a transaction.", "O(1)"),
    spec!("exec", 1, NO_MULTI | ALL_KEYS | LOADING, 0, 0, 0, exec, "transactions", "Executes all commands in a transaction.", "Depends on commands in the transaction"),
    spec!("discard", 1, NO_MULTI | FAST | LOADING, 0, 0, 0, discard, "transactions", "Discards a transaction.", "O(N), when N is the number of queued commands"),
    spec!("watch", -2, NO_MULTI | FAST | LOADING, 1, -1, 1, watch, "transactions", "Monitors changes to keys to determine the execution of a transaction.", "O(1) for every key."),
    spec!("unwatch", 1, FAST | LOADING, 0, 0, 0, unwatch, "transactions", "Forgets about watched keys of a transaction.", "O(1)"),
];
