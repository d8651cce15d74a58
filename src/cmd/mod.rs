//! Commands: the table, argument helpers, dispatch, and one module per
//! command family (`string`, `list`, `hash`, `set`, `zset`, `stream`, `keys`, `server`,
//! `connection`, `transaction`).
//!
//! Dispatch order follows Redis's `processCommand`: look the name up, check
//! arity, check authentication and ACLs, refuse (`-MISCONF`, `-OOM`,
//! `-LOADING` while the dataset loads), queue inside MULTI, then lock the shards of
//! the command's keys and run its handler; clients blocked on keys it made
//! ready are served before the locks are released (see [`blocking`]).

pub mod acl;
pub mod args;
pub mod bitmap;
pub mod blocking;
pub mod cluster;
pub mod connection;
pub mod dump;
pub mod expire;
pub mod function;
pub mod geo;
pub mod hash;
pub mod hyperloglog;
pub mod info;
pub mod keys;
pub mod list;
pub mod persistence;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod set;
pub mod sort;
pub mod stream;
pub mod string;
pub mod table;
pub mod tracking;
pub mod transaction;
pub mod zset;

use std::sync::atomic::Ordering;

use bytes::Bytes;

use crate::db::{with_no_touch, Locked};
use crate::protocol::Reply;
use crate::server::client::ClientState;
use crate::server::Server;
use table::{flags, special, CommandSpec};

/// A handler's result: `Err` carries an error reply, so `?` works on the
/// argument helpers.
pub type CmdResult = Result<Reply, Reply>;

/// What a handler sees: the server, the calling client, and the locked keys.
pub struct Ctx<'a, 'l> {
    /// Shared server state.
    pub srv: &'a Server,
    /// The calling connection's state.
    pub client: &'a mut ClientState,
    /// The shards holding the command's keys, locked for its duration
    /// (borrowed: moving a `Locked` into place cost a 184-byte copy per
    /// command, 3% of a pipelined GET).
    pub ks: &'a mut Locked<'l>,
}

/// Redis's refusal of a command while the dataset loads at start.
pub const LOADING_ERROR: &str = "LOADING Redis is loading the dataset in memory";

/// Redis's reply to an unknown command name.
fn unknown_command(args: &[Bytes]) -> Reply {
    let mut list = String::new();
    for a in &args[1..] {
        if list.len() >= 128 {
            break;
        }
        let room = 128 - list.len();
        let s = String::from_utf8_lossy(a);
        let s: String = s.chars().take(room).collect();
        list.push_str(&format!("'{s}' "));
    }
    let name: String = String::from_utf8_lossy(&args[0]).chars().take(128).collect();
    Reply::Error(format!("ERR unknown command '{name}', with args beginning with: {list}"))
}

/// Executes one request from a client (or queues it inside MULTI).
pub fn dispatch(srv: &Server, client: &mut ClientState, args: &[Bytes]) -> Reply {
    // Returned as it comes: work after the call would copy the reply
    // through the stack (a store-forwarding stall, 4% of a GET).
    if client.caching {
        return dispatch_caching(srv, client, args);
    }
    dispatch_one(srv, client, args)
}

/// [`dispatch`] after CLIENT CACHING, which applies to the next command
/// only (or transaction).
#[cold]
fn dispatch_caching(srv: &Server, client: &mut ClientState, args: &[Bytes]) -> Reply {
    let reply = dispatch_one(srv, client, args);
    if client.multi.is_none() && !args[0].eq_ignore_ascii_case(b"client") {
        client.caching = false;
    }
    reply
}

fn dispatch_one(srv: &Server, client: &mut ClientState, args: &[Bytes]) -> Reply {
    srv.stats.commands_processed.add(1);
    let cached = client.last_spec.and_then(|l| l.matches(&args[0]));
    let Some(mut spec) = cached.or_else(|| table::lookup(&args[0])) else {
        if client.multi.is_some() {
            client.multi_error = true;
        }
        return unknown_command(args);
    };
    if cached.is_none() {
        *client.handle.last_cmd.lock() = spec.name;
        client.last_spec = crate::server::client::LastCommand::new(spec, &args[0]);
    }
    if !client.authenticated && !spec.has(flags::NO_AUTH) {
        info::stats::record_rejected(spec, args);
        return Reply::err("NOAUTH Authentication required.");
    }
    // The original project's `TTL key seconds` is EXPIRE.
    if spec.is(special::TTL) && args.len() == 3 {
        spec = table::lookup(b"expire").unwrap_or(spec);
    }
    if !spec.arity_ok(args.len()) {
        if client.multi.is_some() {
            client.multi_error = true;
        }
        info::stats::record_rejected(spec, args);
        return args::arity_error(spec.name);
    }
    if let Some(e) = server::debug::protected_refusal(srv, client, spec) {
        client.multi_error |= client.multi.is_some();
        info::stats::record_rejected(spec, args);
        return e;
    }
    if let Err(e) = crate::acl::check(srv, client, spec, args) {
        info::stats::record_rejected(spec, args);
        return e;
    }
    // Refusals (MISCONF, READONLY, NOREPLICAS, OOM, MASTERDOWN, LOADING)
    // are looked for only when one may apply: the common case costs a few
    // relaxed loads and builds no `Option<Reply>`.
    if may_refuse(srv) {
        if let Some(refused) = refusal(srv, client, spec, args) {
            return refused;
        }
    } else {
        // `may_refuse` repeats the conditions `refusal` checks: tests catch
        // a refusal added to one and not the other.
        debug_assert!(refusal(srv, client, spec, args).is_none(), "a refusal may_refuse does not cover");
    }
    // RESP2 pub/sub mode takes only the (un)subscribe commands, PING, QUIT
    // and RESET (Redis's processCommand).
    if client.resp == 2 && client.subscribed() && !pubsub::allowed_in_subscribed_mode(spec.name) {
        info::stats::record_rejected(spec, args);
        return Reply::Error(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            server::subcommands::call_name(spec, args)
        ));
    }
    // A script of another client is running: wait for it, or past
    // busy-reply-threshold answer -BUSY (Redis's processCommand).
    if crate::scripting::RUN.is_running() && !scripting::allowed_while_busy(spec, args) {
        if let Some(busy) = crate::scripting::RUN.busy_reply() {
            return reject(srv, client, spec, args, busy);
        }
    }
    // CLIENT PAUSE: the connection holds the command until the pause ends
    // and dispatches it again.
    if srv.pause.maybe_on()
        && !client.in_script
        && !crate::db::loading()
        && srv.pause.holds(pause_write_like(srv, client, spec, args))
    {
        client.postponed = true;
        return Reply::None;
    }
    if let Some(queue) = client.multi.as_mut() {
        if !spec.has(flags::NO_MULTI) {
            queue.push(args.to_vec());
            return Reply::Status("QUEUED");
        }
    }
    execute(srv, client, spec, args)
}

/// Whether any refusal of [`refusal`] may apply now: persistence errors,
/// a replica, a write quorum, `maxmemory`, or loading. O(1), relaxed
/// loads only; false means [`refusal`] would answer `None`.
#[inline]
fn may_refuse(srv: &Server) -> bool {
    srv.persist.may_refuse_writes()
        || crate::replication::may_refuse(srv)
        || srv.evictor.maxmemory() > 0
        || srv.persist.loading.load(Ordering::Relaxed)
}

/// The refusal of a command before it runs or is queued, as Redis's
/// processCommand orders them: MISCONF, READONLY / NOREPLICAS, OOM,
/// MASTERDOWN, LOADING. A refused EXEC aborts its transaction; any other
/// refused command inside MULTI dooms it. O(queued commands).
#[cold]
fn refusal(srv: &Server, client: &mut ClientState, spec: &'static CommandSpec, args: &[Bytes]) -> Option<Reply> {
    // As Redis's processCommand: EXEC counts as a write / a command that
    // may grow memory when its queue holds one, and a command refused here
    // inside MULTI makes the transaction fail (EXEC itself aborts it).
    let queued = match client.multi.as_ref() {
        Some(q) if spec.is(special::EXEC) => {
            q.iter().filter_map(|a| table::lookup(&a[0]).map(|s| (s, &a[..]))).collect()
        }
        _ => Vec::new(),
    };
    let (mut is_write, mut is_denyoom, mut may_run_script) =
        (spec.has(flags::WRITE), spec.has(flags::DENYOOM), spec.is(special::SCRIPT));
    for (s, _) in &queued {
        is_write |= s.has(flags::WRITE);
        is_denyoom |= s.has(flags::DENYOOM);
        may_run_script |= s.is(special::SCRIPT);
    }
    let mut refusal = None;
    if is_write || may_run_script {
        refusal = srv.persist.write_refusal().or_else(|| crate::replication::write_refusal(srv, &client.handle));
        // A script is a write only if it declares so: its flags are looked
        // up (a cache or library lock) only when a write would be refused.
        if !is_write
            && refusal.is_some()
            && !script_declares_writes(srv, spec, args)
            && !queued.iter().any(|&(s, a)| script_declares_writes(srv, s, a))
        {
            refusal = None;
        }
    }
    if refusal.is_none()
        && srv.evictor.maxmemory() > 0
        && !srv.persist.loading.load(Ordering::Relaxed)
        && !free_memory(srv)
        && is_denyoom
    {
        refusal = Some(Reply::err("OOM command not allowed when used memory > 'maxmemory'."));
    }
    if refusal.is_none() {
        refusal = crate::replication::stale::refusal(srv, client, spec, args);
    }
    // Loading at start: only Redis's `loading` commands run (EXEC only if
    // its whole queue may), so clients never race the loader, which itself
    // replays an AOF through here on a thread marked loading.
    if refusal.is_none()
        && srv.persist.loading.load(Ordering::Relaxed)
        && !crate::db::loading()
        && !loading_ok(client, spec, args)
    {
        refusal = Some(Reply::err(LOADING_ERROR));
    }
    Some(reject(srv, client, spec, args, refusal?))
}

/// A command refused before it runs or is queued, as Redis's
/// rejectCommand: counted as rejected; a refused EXEC aborts the
/// transaction (its reply becomes EXECABORT); any other refused command
/// inside MULTI dooms it. O(1) plus discarding the queue.
fn reject(srv: &Server, client: &mut ClientState, spec: &'static CommandSpec, args: &[Bytes], reply: Reply) -> Reply {
    info::stats::record_rejected(spec, args);
    if spec.is(special::EXEC) && client.multi.is_some() {
        transaction::discard_state(srv, client);
        let Reply::Error(msg) = &reply else { return reply };
        return Reply::Error(format!("EXECABORT Transaction discarded because of: {msg}"));
    }
    if client.multi.is_some() {
        client.multi_error = true;
    }
    reply
}

/// Evicts keys while memory is over `maxmemory` (see
/// [`crate::db::evict`]); false when it stays over. Each evicted key
/// dirties its WATCHers, is logged as a DEL and raises `evicted`. Takes
/// shard locks: never call it while holding any.
pub fn free_memory(srv: &Server) -> bool {
    srv.evictor.free_memory_with(
        &srv.keyspace,
        || crate::server::used_memory(srv),
        |l, key| {
            srv.signal_modified_key(l.db, key, None);
            srv.persist.propagate_expired(l.db, std::slice::from_ref(key));
            crate::pubsub::notify::notify(srv, crate::pubsub::notify::class::EVICTED, "evicted", l.db, key);
        },
    )
}

/// Whether CLIENT PAUSE WRITE holds a command: writes, commands that
/// Redis replicates although they write nothing (PUBLISH, PFCOUNT …),
/// scripts and functions not declared `no-writes`, and EXEC of a queue
/// holding any of those.
pub fn pause_write_like(srv: &Server, client: &ClientState, spec: &CommandSpec, args: &[Bytes]) -> bool {
    let one = |spec: &CommandSpec, args: &[Bytes]| -> bool {
        if spec.has(flags::WRITE) {
            return true;
        }
        if table::may_replicate(spec) {
            return true;
        }
        match spec.alias_of.unwrap_or(spec.name) {
            "eval" | "evalsha" | "fcall" => srv
                .scripting
                .declared_flags(spec.name, args)
                .is_none_or(|f| f & crate::scripting::flags::NO_WRITES == 0),
            _ => false,
        }
    };
    if spec.is(special::EXEC) {
        let queued = client.multi.as_deref().unwrap_or_default();
        return queued.iter().any(|a| table::lookup(&a[0]).is_some_and(|s| one(s, a)));
    }
    one(spec, args)
}

/// The EVAL-family or FCALL command `spec` runs a script of, as
/// [`crate::scripting::Scripting::declared_flags`] names it.
fn script_family(spec: &CommandSpec) -> Option<&'static str> {
    match spec.name {
        "eval" | "eval_ro" => Some("eval"),
        "evalsha" | "evalsha_ro" => Some("evalsha"),
        "fcall" | "fcall_ro" => Some("fcall"),
        _ => None,
    }
}

/// Redis's `scriptFlagsToCmdFlags`: an EVAL-family call of a script with
/// a shebang, or an FCALL of a function, that does not declare
/// `no-writes` is a write for the checks before it runs (`-READONLY` on a
/// replica, `-NOREPLICAS`, `-MISCONF`), so inside MULTI it is refused when
/// queued and EXEC aborts.
fn script_declares_writes(srv: &Server, spec: &CommandSpec, args: &[Bytes]) -> bool {
    use crate::scripting::flags::{EVAL_COMPAT_MODE, NO_WRITES};
    script_family(spec)
        .and_then(|base| srv.scripting.declared_flags(base, args))
        .is_some_and(|f| f & (EVAL_COMPAT_MODE | NO_WRITES) == 0)
}

/// Whether a command may run while the dataset loads: see
/// [`table::allowed_while_loading`]; EXEC when every queued command may.
fn loading_ok(client: &ClientState, spec: &CommandSpec, args: &[Bytes]) -> bool {
    if !table::allowed_while_loading(spec, args) {
        return false;
    }
    let queued_ok = |a: &Vec<Bytes>| table::lookup(&a[0]).is_some_and(|s| table::allowed_while_loading(s, a));
    !spec.is(special::EXEC) || client.multi.as_ref().is_none_or(|q| q.iter().all(queued_ok))
}

/// Locks what `spec` needs, runs it, serves the clients blocked on the keys
/// it made ready (see [`blocking`]), parks the caller if it blocked, then
/// releases the locks.
pub fn execute(srv: &Server, client: &mut ClientState, spec: &'static CommandSpec, args: &[Bytes]) -> Reply {
    tracking::scope(srv, client, |client| execute_locked(srv, client, spec, args))
}

fn execute_locked(srv: &Server, client: &mut ClientState, spec: &'static CommandSpec, args: &[Bytes]) -> Reply {
    let ks = &srv.keyspace;
    let db = client.db;
    // A movable-keys command whose keys its syntax names locks just those
    // (a malformed call, whose keys cannot be found, locks everything).
    let movable = if spec.movable_keys_exact() { spec.key_positions(args) } else { None };
    let movable_keys = || movable.iter().flatten().map(|&i| &args[i][..]);
    let fixed_keys = || spec.key_indexes(args.len()).map(|i| &args[i][..]);
    let mut locked = match &movable {
        Some(_) => ks.lock_keys(db, movable_keys()),
        None if spec.has(flags::ALL_KEYS | flags::MOVABLE_KEYS) => ks.lock_all(),
        None if spec.first_key > 0 => match spec.single_key(args.len()) {
            Some(i) => ks.lock_key(db, &args[i]),
            None => ks.lock_keys(db, fixed_keys()),
        },
        None => ks.lock_none(),
    };
    let mut ctx = Ctx { ks: &mut locked, srv, client };
    // A write to a key clients are parked on locks every shard, since
    // serving them may touch any (BLMOVE's destination), as Redis runs one
    // command at a time. Checked under the keys' locks: a client parks only
    // under them.
    let has_keys = movable.is_some() || spec.first_key > 0;
    if spec.has(flags::WRITE) && has_keys && !ctx.ks.is_all() && !srv.blocking.is_empty() {
        let parked = match &movable {
            Some(_) => srv.blocking.waits_on(movable_keys()),
            None => srv.blocking.waits_on(fixed_keys()),
        };
        if parked {
            ctx.ks.relock_all();
        }
    }
    ctx.ks.db = db;
    ctx.ks.changes.record_keys = srv.records_changed_keys();
    ctx.ks.wake_blocked = !srv.blocking.is_empty();
    let reply = run(&mut ctx, spec, args);
    if !ctx.ks.ready.is_empty() {
        blocking::serve_ready(&mut ctx);
    }
    // Tested before taking: taking moves the whole (large) option.
    if ctx.client.block.is_some() {
        park(&mut ctx, args);
    }
    // The locks are released as `locked` goes out of scope, in place: an
    // explicit `drop(locked)` moved the 184-byte value first (a `memcpy`,
    // 1.9% of a pipelined HGET).
    reply
}

/// Parks the client whose command blocked, under its keys' locks, so the
/// next write to them serves it.
#[cold]
fn park(ctx: &mut Ctx, args: &[Bytes]) {
    let Some(mut block) = ctx.client.block.take() else { return };
    let idle = ClientState::new(ctx.client.handle.clone(), ctx.client.authenticated);
    let state = std::mem::replace(ctx.client, idle);
    let rerun = block.rerun_args.take().unwrap_or_else(|| args.to_vec());
    ctx.client.parked = Some(ctx.srv.blocking.park(state, rerun, block));
}

/// Shows a command to the MONITOR clients (a script's commands as `lua`),
/// its secrets redacted as SLOWLOG redacts them.
fn feed_monitors(ctx: &Ctx, spec: &CommandSpec, args: &[Bytes]) {
    let addr = (!ctx.client.in_script).then_some(ctx.client.handle.addr.as_str());
    let redacted = server::slowlog::sensitive_args(spec, args);
    ctx.srv.monitors.feed(ctx.client.db, addr, args, &redacted);
}

/// Runs a handler with its locks already held (also used by EXEC), then
/// does the bookkeeping every write needs while still holding them.
pub fn run(ctx: &mut Ctx<'_, '_>, spec: &'static CommandSpec, args: &[Bytes]) -> Reply {
    ctx.ks.db = ctx.client.db;
    // Keyspace notifications are derived from the keys a command changed
    // (and the keys its reads missed, for `keymiss`).
    let notify_flags = crate::pubsub::notify::flags();
    let notifying = notify_flags != 0;
    if notifying {
        ctx.ks.changes.record_keys = true;
        ctx.ks.changes.record_misses = notify_flags & crate::pubsub::notify::class::KEY_MISS != 0;
    }
    let no_touch = ctx.client.no_touch && !spec.is(special::TOUCH);
    // MONITOR sees scripts before the commands they run, others once run.
    let monitored = !ctx.srv.monitors.is_empty() && !spec.has(flags::ADMIN) && !ctx.client.handle.is_blocked();
    let script = monitored && spec.is(special::SCRIPT);
    if script {
        feed_monitors(ctx, spec, args);
    }
    let started = crate::stopwatch::Stopwatch::start();
    let result = with_no_touch(no_touch, || (spec.handler)(ctx, args));
    if monitored && !script {
        feed_monitors(ctx, spec, args);
    }
    if ctx.client.tracking.is_some() {
        tracking::remember_reads(ctx, spec, args);
    }
    if ctx.client.block.is_none() {
        let error = match &result {
            Err(Reply::Error(m)) => Some(m.as_str()),
            _ => None,
        };
        let ns = started.elapsed_ns();
        info::stats::record_call(spec, args, ns, error);
        server::latency::record_command(spec, ns);
        server::slowlog::record(ctx.client, spec, args, ns, error);
    }
    let reply = match result {
        Ok(r) => r,
        Err(e) => {
            ctx.client.events.clear();
            return e;
        }
    };
    // A read that changed nothing, with no notifications to raise, has no
    // bookkeeping: its change record is not even moved.
    if spec.has(flags::WRITE) || notifying || !ctx.ks.changes.is_empty() {
        after_changes(ctx, spec, args, &reply, notifying);
    }
    ctx.client.events.clear();
    // What the command asked to be logged as is for this call only.
    ctx.client.propagate_as = None;
    if spec.is(special::EXEC) {
        ctx.srv.persist.propagate_exec(ctx.client);
    }
    reply
}

/// What a command's changes call for, locks still held: a write that
/// changed something is counted, signalled to WATCHers and propagated to
/// the AOF and replicas (whole-keyspace writes always count); keyspace
/// notifications are raised. Leaves an empty change record, its recording
/// switches as they were. O(changed keys).
fn after_changes(ctx: &mut Ctx<'_, '_>, spec: &'static CommandSpec, args: &[Bytes], reply: &Reply, notifying: bool) {
    // A write is counted, propagated to the AOF and signalled to WATCHers
    // only if it changed something (whole-keyspace writes always do).
    let changed = std::mem::take(&mut ctx.ks.changes);
    let wrote = changed.count > 0 || spec.has(flags::ALL_KEYS);
    if spec.has(flags::WRITE) && ctx.client.block.is_none() && wrote {
        ctx.srv.keyspace.stats.dirty.fetch_add(changed.count.max(1), Ordering::Relaxed);
        let by = Some(ctx.client.id());
        for c in &changed.keys {
            ctx.srv.signal_modified_key(c.db, &c.key, by);
        }
        ctx.srv.persist.propagate(ctx.ks, ctx.client, spec, args, reply);
    }
    // The one hook of keyspace notifications (see crate::pubsub::notify).
    if notifying && ctx.client.block.is_none() && (spec.has(flags::WRITE) || !changed.misses.is_empty()) {
        let raised = std::mem::take(&mut ctx.client.events);
        crate::pubsub::notify::after_command(ctx.srv, spec, args, reply, &changed, raised);
    }
    ctx.ks.changes.record_keys = changed.record_keys;
    ctx.ks.changes.record_misses = changed.record_misses;
}
