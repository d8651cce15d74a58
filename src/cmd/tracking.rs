//! Client-side caching commands — `CLIENT TRACKING`, `CLIENT CACHING`,
//! `CLIENT GETREDIR`, `CLIENT TRACKINGINFO` — and the dispatcher's two hooks:
//! [`scope`] around each command (so invalidations of the caller's own
//! keys follow its reply) and [`remember_reads`] after each command (the
//! keys a tracking client read). The registry itself is
//! [`crate::server::tracking`].

use bytes::Bytes;

use super::args::{self, err, fail, int, is};
use super::table::{flags, CommandSpec};
use super::{CmdResult, Ctx};
use crate::protocol::Reply;
use crate::server::client::ClientState;
use crate::server::tracking::{overlaps, Options};
use crate::server::Server;

/// Runs `f` (one top-level command of `client`) in a tracking scope when
/// client-side caching is in use: first invalidates keys past
/// `tracking-table-max-keys` (before the reply, as Redis does before each
/// command), then gathers the command's invalidations, sends BCAST messages
/// at its end and leaves the client's own in `client.after_reply`.
pub fn scope<R>(srv: &Server, client: &mut ClientState, f: impl FnOnce(&mut ClientState) -> R) -> R {
    if !srv.tracking.in_use() {
        return f(client);
    }
    srv.tracking.limit(&srv.clients);
    let outer = srv.tracking.enter(client.id());
    let r = f(client);
    srv.tracking.leave(&srv.clients, outer, client);
    r
}

/// After a command ran: a read-only command of a tracking client (default
/// mode, subject to OPTIN/OPTOUT and CLIENT CACHING) has its keys
/// remembered. A read inside a script marks the script, whose declared keys
/// are remembered when it ends (Redis 7.0's rule); the `_RO` script
/// commands themselves do not count as reads.
pub fn remember_reads(ctx: &mut Ctx, spec: &CommandSpec, args: &[Bytes]) {
    let c = &mut *ctx.client;
    let Some(opts) = &c.tracking else {
        c.script_read = false;
        return;
    };
    let script = spec.is(crate::cmd::table::special::SCRIPT);
    let read = if script {
        std::mem::take(&mut c.script_read)
    } else if spec.has(flags::READONLY) {
        if c.in_script {
            c.script_read = true;
            return;
        }
        true
    } else {
        false
    };
    if !read || opts.bcast || (opts.optin && !c.caching) || (opts.optout && c.caching) {
        return;
    }
    // Shard channels are keys to COMMAND, not to the cache.
    if spec.group == "pubsub" {
        return;
    }
    let Some(positions) = spec.key_positions(args) else { return };
    if !positions.is_empty() {
        ctx.srv.tracking.remember(c.id(), positions.iter().map(|&i| &args[i][..]));
    }
}

/// `CLIENT TRACKING ON|OFF [REDIRECT id] [PREFIX p …] [BCAST] [OPTIN]
/// [OPTOUT] [NOLOOP]`, with Redis's checks in Redis's order.
pub fn client_tracking(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut opts = Options::default();
    let mut prefixes: Vec<Bytes> = Vec::new();
    let mut j = 3;
    while j < a.len() {
        let more = j + 1 < a.len();
        let o = &a[j];
        if is(o, "redirect") && more {
            j += 1;
            if opts.redirect != 0 {
                return fail("ERR A client can only redirect to a single other client");
            }
            let id = int(&a[j])?;
            if id <= 0 || ctx.srv.clients.get(id as u64).is_none() {
                return fail("ERR The client ID you want redirect to does not exist");
            }
            opts.redirect = id as u64;
        } else if is(o, "bcast") {
            opts.bcast = true;
        } else if is(o, "optin") {
            opts.optin = true;
        } else if is(o, "optout") {
            opts.optout = true;
        } else if is(o, "noloop") {
            opts.noloop = true;
        } else if is(o, "prefix") && more {
            j += 1;
            prefixes.push(Bytes::copy_from_slice(&a[j]));
        } else {
            return fail(err::SYNTAX);
        }
        j += 1;
    }
    if is(&a[2], "off") {
        ctx.srv.tracking.disable(&ctx.client.handle);
        ctx.client.tracking = None;
        ctx.client.caching = false;
        return args::ok();
    }
    if !is(&a[2], "on") {
        return fail(err::SYNTAX);
    }
    if !opts.bcast && !prefixes.is_empty() {
        return fail("ERR PREFIX option requires BCAST mode to be enabled");
    }
    if let Some(old) = &ctx.client.tracking {
        if old.bcast != opts.bcast {
            return fail("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.");
        }
    }
    if opts.bcast && (opts.optin || opts.optout) {
        return fail("ERR OPTIN and OPTOUT are not compatible with BCAST");
    }
    if opts.optin && opts.optout {
        return fail("ERR You can't specify both OPTIN mode and OPTOUT mode");
    }
    if let Some(old) = &ctx.client.tracking {
        if (opts.optin && old.optout) || (opts.optout && old.optin) {
            return fail("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.");
        }
    }
    if opts.bcast {
        check_prefixes(ctx, &prefixes)?;
    }
    ctx.srv.tracking.enable(&ctx.client.handle, opts.clone(), &prefixes);
    ctx.client.tracking = Some(opts);
    args::ok()
}

/// Redis's prefix collision checks: a new prefix may not overlap one the
/// client has, nor another new one.
fn check_prefixes(ctx: &Ctx, prefixes: &[Bytes]) -> Result<(), Reply> {
    let show = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    for (i, p) in prefixes.iter().enumerate() {
        if let Some(q) = ctx.srv.tracking.overlapping_prefix(ctx.client.id(), p) {
            return fail(&format!(
                "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                show(p),
                show(&q)
            ));
        }
        if let Some(q) = prefixes[i + 1..].iter().find(|q| overlaps(p, q)) {
            return fail(&format!(
                "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                show(p),
                show(q)
            ));
        }
    }
    Ok(())
}

/// `CLIENT CACHING YES|NO`: applies to the next command (or transaction).
pub fn client_caching(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let Some(opts) = &ctx.client.tracking else {
        return fail("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
    };
    if is(&a[2], "yes") {
        if !opts.optin {
            return fail("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.");
        }
    } else if is(&a[2], "no") {
        if !opts.optout {
            return fail("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
        }
    } else {
        return fail(err::SYNTAX);
    }
    ctx.client.caching = true;
    args::ok()
}

/// `CLIENT GETREDIR`: -1 when not tracking, 0 without a redirect.
pub fn client_getredir(ctx: &mut Ctx) -> CmdResult {
    Ok(Reply::Int(ctx.client.tracking.as_ref().map_or(-1, |o| o.redirect as i64)))
}

/// `CLIENT TRACKINGINFO`: flags, redirect and prefixes, as Redis's map.
pub fn client_trackinginfo(ctx: &mut Ctx) -> CmdResult {
    let c = &*ctx.client;
    let mut fl = vec![if c.tracking.is_some() { "on" } else { "off" }];
    let mut redirect = -1;
    let mut prefixes = Vec::new();
    if let Some(o) = &c.tracking {
        if o.bcast {
            fl.push("bcast");
        }
        if o.optin {
            fl.push("optin");
            if c.caching {
                fl.push("caching-yes");
            }
        }
        if o.optout {
            fl.push("optout");
            if c.caching {
                fl.push("caching-no");
            }
        }
        if o.noloop {
            fl.push("noloop");
        }
        let bits = c.handle.tracking.load(std::sync::atomic::Ordering::Relaxed);
        if bits & crate::server::tracking::handle_flags::BROKEN != 0 {
            fl.push("broken_redirect");
        }
        redirect = o.redirect as i64;
        if let Some((_, p)) = ctx.srv.tracking.options(c.id()) {
            prefixes = p;
        }
    }
    Ok(Reply::Map(vec![
        (Reply::bulk_str("flags"), Reply::Set(fl.into_iter().map(Reply::bulk_str).collect())),
        (Reply::bulk_str("redirect"), Reply::Int(redirect)),
        (Reply::bulk_str("prefixes"), Reply::bulk_array(prefixes)),
    ]))
}
