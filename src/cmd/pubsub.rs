//! Pub/Sub commands (Redis's `pubsub.c`): SUBSCRIBE, UNSUBSCRIBE,
//! PSUBSCRIBE, PUNSUBSCRIBE, SSUBSCRIBE, SUNSUBSCRIBE, PUBLISH, SPUBLISH
//! and PUBSUB.
//!
//! The (un)subscribe commands answer with one push per channel, as Redis
//! does: they queue those on the client's own push queue (written right
//! after the command, before the next reply) and return no reply of their
//! own. A client's subscriptions live in its state ([`Subscriptions`]) and
//! in the server's registry ([`crate::pubsub::PubSub`]); this module keeps
//! the two in step.

use bytes::{Bytes, BytesMut};

use super::keys::help_reply;
use super::table::flags::*;
use super::{CmdResult, Ctx};
use crate::protocol::{encode, Reply};
use crate::pubsub::{Kind, Subscriptions};
use crate::server::output_limit::Limit;
use crate::spec;

/// Queues a subscription push (`subscribe`, `unsubscribe` …) for the
/// calling client.
fn confirm(ctx: &mut Ctx, word: &'static str, name: Option<&Bytes>, count: usize) {
    let reply = Reply::Push(vec![
        Reply::bulk_str(word),
        name.map_or(Reply::Nil, |n| Reply::Bulk(n.clone())),
        Reply::Int(count as i64),
    ]);
    let mut b = BytesMut::new();
    encode(&reply, ctx.client.resp, &mut b);
    ctx.client.handle.deliver(&b, Limit::default());
}

/// The client's subscriptions, created on first use.
fn subs<'c>(ctx: &'c mut Ctx<'_, '_>) -> &'c mut Subscriptions {
    ctx.client.subs.get_or_insert_with(Default::default)
}

/// Publishes the client's subscription counts for `CLIENT LIST`.
fn publish_counts(ctx: &mut Ctx) {
    let s = ctx.client.subs.as_deref().cloned().unwrap_or_default();
    let c = &ctx.client.handle.sub_counts;
    for (slot, n) in c.iter().zip([s.channels.len(), s.patterns.len(), s.shard.len()]) {
        slot.store(n, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The count a (un)subscribe push carries: channels plus patterns, or
/// shard channels.
fn count(ctx: &mut Ctx, kind: Kind) -> usize {
    let s = subs(ctx);
    match kind {
        Kind::Channel => s.count(),
        Kind::Shard => s.shard.len(),
    }
}

/// What a subscribing command needs.
fn refuse_subscribe(ctx: &Ctx, name: &str) -> Result<(), Reply> {
    if ctx.client.in_script {
        return Err(Reply::Error(format!("ERR {name} isn't allowed for a DENY BLOCKING client")));
    }
    Ok(())
}

fn subscribe_generic(ctx: &mut Ctx, a: &[Bytes], kind: Kind) -> CmdResult {
    refuse_subscribe(ctx, if kind == Kind::Shard { "SSUBSCRIBE" } else { "SUBSCRIBE" })?;
    let h = ctx.client.handle.clone();
    for ch in &a[1..] {
        // The confirmation is queued before the subscription takes effect,
        // so no message can overtake it.
        let s = subs(ctx);
        let set = if kind == Kind::Shard { &mut s.shard } else { &mut s.channels };
        let new = set.insert(ch.clone());
        let n = count(ctx, kind);
        confirm(ctx, if kind == Kind::Shard { "ssubscribe" } else { "subscribe" }, Some(ch), n);
        if new {
            ctx.srv.pubsub.subscribe(kind, ch, &h);
        }
    }
    publish_counts(ctx);
    Ok(Reply::None)
}

fn unsubscribe_generic(ctx: &mut Ctx, a: &[Bytes], kind: Kind) -> CmdResult {
    let word = if kind == Kind::Shard { "sunsubscribe" } else { "unsubscribe" };
    let id = ctx.client.id();
    let names: Vec<Bytes> = if a.len() > 1 {
        a[1..].to_vec()
    } else {
        let s = subs(ctx);
        let set = if kind == Kind::Shard { &s.shard } else { &s.channels };
        set.iter().cloned().collect()
    };
    if names.is_empty() {
        let n = count(ctx, kind);
        confirm(ctx, word, None, n);
    }
    for ch in &names {
        let s = subs(ctx);
        let set = if kind == Kind::Shard { &mut s.shard } else { &mut s.channels };
        if set.shift_remove(ch) {
            ctx.srv.pubsub.unsubscribe(kind, ch, id);
        }
        let n = count(ctx, kind);
        confirm(ctx, word, Some(ch), n);
    }
    publish_counts(ctx);
    Ok(Reply::None)
}

fn subscribe(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    subscribe_generic(ctx, a, Kind::Channel)
}

fn ssubscribe(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    subscribe_generic(ctx, a, Kind::Shard)
}

fn unsubscribe(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    unsubscribe_generic(ctx, a, Kind::Channel)
}

fn sunsubscribe(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    unsubscribe_generic(ctx, a, Kind::Shard)
}

fn psubscribe(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    refuse_subscribe(ctx, "PSUBSCRIBE")?;
    let h = ctx.client.handle.clone();
    for p in &a[1..] {
        let new = subs(ctx).patterns.insert(p.clone());
        let n = count(ctx, Kind::Channel);
        confirm(ctx, "psubscribe", Some(p), n);
        if new {
            ctx.srv.pubsub.psubscribe(p, &h);
        }
    }
    publish_counts(ctx);
    Ok(Reply::None)
}

fn punsubscribe(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let id = ctx.client.id();
    let names: Vec<Bytes> = if a.len() > 1 { a[1..].to_vec() } else { subs(ctx).patterns.iter().cloned().collect() };
    if names.is_empty() {
        let n = count(ctx, Kind::Channel);
        confirm(ctx, "punsubscribe", None, n);
    }
    for p in &names {
        if subs(ctx).patterns.shift_remove(p) {
            ctx.srv.pubsub.punsubscribe(p, id);
        }
        let n = count(ctx, Kind::Channel);
        confirm(ctx, "punsubscribe", Some(p), n);
    }
    publish_counts(ctx);
    Ok(Reply::None)
}

/// Leaves every subscription (RESET, disconnection). O(subscriptions).
pub fn leave_all(srv: &crate::server::Server, client: &mut crate::server::client::ClientState) {
    if let Some(s) = client.subs.take() {
        srv.pubsub.remove_client(&s, client.id());
        for c in &client.handle.sub_counts {
            c.store(0, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

fn publish_generic(ctx: &mut Ctx, a: &[Bytes], kind: Kind) -> CmdResult {
    let limit = ctx.srv.config.read().client_output_buffer_limit.pubsub();
    // Replicas deliver it to their own subscribers, as Redis propagates it.
    if ctx.srv.persist.repl.wants_writes() {
        ctx.srv.persist.repl.feed(&[(ctx.client.db, a.to_vec())]);
    }
    Ok(Reply::Int(ctx.srv.pubsub.publish(kind, &a[1], &a[2], limit) as i64))
}

fn publish(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    publish_generic(ctx, a, Kind::Channel)
}

fn spublish(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    publish_generic(ctx, a, Kind::Shard)
}

/// PUBSUB's subcommands with their Redis arities.
pub(crate) const PUBSUB_SUBS: &[(&str, i32)] =
    &[("channels", -2), ("help", 2), ("numpat", 2), ("numsub", -2), ("shardchannels", -2), ("shardnumsub", -2)];

const PUBSUB_HELP: &[&str] = &[
    "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
    "HELP",
    "    Prints this help.",
];

fn pubsub(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let sub = super::server::subcommands::resolve(ctx, "pubsub", a)?;
    let ps = &ctx.srv.pubsub;
    let names = |kind| {
        let found = ps.channel_names(kind, a.get(2).map(|p| &p[..]));
        Reply::Array(found.into_iter().map(Reply::Bulk).collect())
    };
    let numsub = |kind| {
        let mut v = Vec::with_capacity(2 * (a.len() - 2));
        for ch in &a[2..] {
            v.push(Reply::Bulk(ch.clone()));
            v.push(Reply::Int(ps.numsub(kind, ch) as i64));
        }
        Reply::Array(v)
    };
    match sub {
        "help" => Ok(help_reply(PUBSUB_HELP)),
        "channels" if a.len() <= 3 => Ok(names(Kind::Channel)),
        "shardchannels" if a.len() <= 3 => Ok(names(Kind::Shard)),
        "numsub" => Ok(numsub(Kind::Channel)),
        "shardnumsub" => Ok(numsub(Kind::Shard)),
        "numpat" => Ok(Reply::Int(ps.numpat() as i64)),
        _ => Err(Reply::Error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(&a[1])
        ))),
    }
}

/// Whether a RESP2 client in pub/sub mode may run `name` (Redis's
/// `processCommand` rule).
pub fn allowed_in_subscribed_mode(name: &str) -> bool {
    matches!(
        name,
        "ping"
            | "subscribe"
            | "ssubscribe"
            | "unsubscribe"
            | "sunsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "quit"
            | "reset"
    )
}

/// PING's reply in RESP2 pub/sub mode: `["pong", message]`.
pub fn subscribed_pong(a: &[Bytes]) -> Reply {
    Reply::Array(vec![Reply::bulk_str("pong"), Reply::Bulk(a.get(1).cloned().unwrap_or_default())])
}

/// The pub/sub family's rows in the command table.
pub const COMMANDS: &[super::table::CommandSpec] = &[
    spec!("subscribe", -2, LOADING, 0, 0, 0, subscribe, "pubsub", "Listens for messages published to channels.", "O(N) where N is the number of channels to subscribe to."),
    spec!("unsubscribe", -1, LOADING, 0, 0, 0, unsubscribe, "pubsub", "Stops listening to messages posted to channels.", "O(N) where N is the number of clients already subscribed to a channel."),
    spec!("psubscribe", -2, LOADING, 0, 0, 0, psubscribe, "pubsub", "Listens for messages published to channels that match one or more patterns.", "O(N) where N is the number of patterns to subscribe to."),
    spec!("punsubscribe", -1, LOADING, 0, 0, 0, punsubscribe, "pubsub", "Stops listening to messages published to channels that match one or more patterns.", "O(N) where N is the number of patterns to unsubscribe."),
    spec!("ssubscribe", -2, 0, 0, 0, 0, ssubscribe, "pubsub", "Listens for messages published to shard channels.", "O(N) where N is the number of shard channels to subscribe to."),
    spec!("sunsubscribe", -1, 0, 0, 0, 0, sunsubscribe, "pubsub", "Stops listening to messages posted to shard channels.", "O(N) where N is the number of clients already subscribed to a shard channel."),
    spec!("publish", 3, LOADING | FAST, 0, 0, 0, publish, "pubsub", "Posts a message to a channel.", "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client)."),
    spec!("spublish", 3, LOADING | FAST, 0, 0, 0, spublish, "pubsub", "Post a message to a shard channel", "O(N) where N is the number of clients subscribed to the receiving shard channel."),
    spec!("pubsub", -2, LOADING, 0, 0, 0, pubsub, "pubsub", "A container for Pub/Sub commands.", "Depends on subcommand."),
];
