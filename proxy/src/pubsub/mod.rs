//! Pub/Sub through the proxy: where channels live, the subscribed mode of a
//! client session, and PUBLISH/PUBSUB.
//!
//! - A channel lives on the server its name hashes to on the ring, hash
//!   tags included, for plain (`SUBSCRIBE`/`PUBLISH`) and shard
//!   (`SSUBSCRIBE`/`SPUBLISH`) channels alike: PUBLISH and SPUBLISH are
//!   forwarded there, and a subscriber is subscribed there, so the two meet
//!   on one server. PUBLISH's answer (receivers) is that server's count,
//!   which includes every pattern subscriber of the proxy. A pattern
//!   (`PSUBSCRIBE`) is subscribed on every server on the ring, since a
//!   channel matching it may live on any of them; the streams merge.
//! - Once a client subscribes, it has a [`Subscriber`]: connections of its
//!   own to the servers it needs (never pooled ones: a subscribed
//!   connection answers nothing but pushes), opened in the client's
//!   protocol, one per server whatever the number of subscriptions there.
//!   The session then also waits for these connections' frames
//!   ([`Router::pubsub_event`]); messages are forwarded byte for byte
//!   (re-encoded only if the client switched protocol since the connection
//!   was opened) and only while the client is subscribed to their channel
//!   or pattern, so nothing arrives after its unsubscribe confirmation.
//! - The client's subscriptions are kept here as a single server keeps
//!   them (channels, patterns, shard channels, in subscription order), and
//!   the confirmations (`subscribe`, `punsubscribe` …) are built here from
//!   them, with the counts one server would give (channels + patterns, or
//!   shard channels), not the per-server counts the upstream confirmations
//!   carry. A subscribe confirmation is written once every server involved
//!   confirmed (a pattern: all of them), so a message published after it
//!   reaches the client; confirmations and other replies stay in request
//!   order (a later command waits for the earlier confirmations), messages
//!   on a channel never precede its confirmation. Unsubscribe confirmations
//!   need no wait: messages of channels no longer subscribed are dropped.
//! - RESP2 subscribed mode is the server's: only (P|S)(UN)SUBSCRIBE, PING
//!   (answered `["pong", msg]`), QUIT and RESET are taken. In RESP3 every
//!   command works between the pushes. Leaving every subscription (or
//!   RESET) leaves the mode and closes the connections.
//! - When the ring changes (servers.json edited, a server ejected or back),
//!   every subscription whose server changed follows: it is subscribed on
//!   the new server first and unsubscribed from the old one once the new
//!   one confirmed (patterns: added on new servers, dropped from removed
//!   ones). The client sees nothing of it. Messages published to the new
//!   server before its confirmation are lost (publishers through the proxy
//!   switch at once); messages published to the old server until it drops
//!   the subscription still arrive, so across the switch messages of one
//!   channel may come out of publish order.
//! - A subscriber connection that breaks (server down, or the server's
//!   `client-output-buffer-limit pubsub` reached because the client does
//!   not read), or that leaves a (un)subscribe unconfirmed for `--timeout`
//!   (a quiet connection is sent PING after the shorter of 5 s and
//!   `--timeout`, and owes its answer likewise, so a server that vanished
//!   without closing is noticed too), ends the client's connection after
//!   an error line: messages were lost,
//!   and a client library reconnects and subscribes again. A server that
//!   cannot be reached at SUBSCRIBE time makes that command answer the
//!   error, with nothing changed; the same during a move ends the client.
//!
//! PUBSUB: CHANNELS and SHARDCHANNELS are the union over every server;
//! NUMSUB and SHARDNUMSUB ask each channel's own server (the subscribers a
//! PUBLISH through the proxy would reach, not counting a subscription
//! still on its old server during a move); NUMPAT is the largest count of
//! any server: each pattern subscribed through the proxy is on every
//! server, so each server counts it once and adding counts would multiply
//! them (the largest also covers a server that has not got every pattern
//! yet, and patterns subscribed directly to one server). HELP and malformed
//! calls go to one server.
//!
//! Cost: O(arguments) per (un)subscribe plus one ring lookup per channel
//! (a pattern: one message per server); O(1) per message forwarded (its
//! channel is read from its bytes, see `crate::message`, and a client gets
//! one event per read of its connection, not per message); O(subscriptions
//! × log points) per ring change.
//!
//! Layout: the subscriptions and where they live (`subscriptions`), what is
//! written to the client and in which order (`outbox`), the client's own
//! server connections (`subscriber`); this file is the session's side
//! (the subscribed mode, PUBLISH, PUBSUB) and the glue.

mod outbox;
mod subscriber;
mod subscriptions;
mod upstream;

use std::collections::HashSet;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use inmemory::cmd::pubsub::{allowed_in_subscribed_mode, subscribed_pong};
use inmemory::cmd::server::subcommands::call_name;
use inmemory::cmd::table::{self, CommandSpec};
use inmemory::protocol::frame::Frame;
use inmemory::protocol::Reply;
use tokio::sync::oneshot;

use crate::fanout::{fold_ints, frame_of, unexpected};
use crate::pool::{encode_command, Answer, Backend};
use crate::router::{error_bytes, reply_bytes, Flow, Pending, Router};

use subscriber::Failure;
pub use subscriber::{Event, Subscriber};
use subscriptions::Kind;

/// PUBSUB CHANNELS/SHARDCHANNELS: every server's channels, each once, in
/// order of first appearance (servers in file order).
async fn union(waiting: Vec<oneshot::Receiver<Answer>>, proto: u8) -> Bytes {
    let mut seen = HashSet::new();
    let mut names = Vec::new();
    for rx in waiting {
        match frame_of(rx).await {
            Ok(f) => {
                let Some(items) = f.items() else { return unexpected() };
                for it in items {
                    let Some(b) = it.as_bytes() else { return unexpected() };
                    if seen.insert(b.clone()) {
                        names.push(Reply::Bulk(b.clone()));
                    }
                }
            }
            Err(e) => return e,
        }
    }
    reply_bytes(&Reply::Array(names), proto)
}

/// PUBSUB NUMSUB/SHARDNUMSUB split by server: each part's `[name, count …]`
/// put back in the order asked.
async fn numsub_merge(parts: Vec<(Vec<usize>, oneshot::Receiver<Answer>)>, n: usize) -> Bytes {
    let mut slots: Vec<Option<(Frame, Frame)>> = vec![None; n];
    for (positions, rx) in parts {
        let f = match frame_of(rx).await {
            Ok(f) => f,
            Err(e) => return e,
        };
        let Some(items) = f.items().filter(|i| i.len() == 2 * positions.len()) else { return unexpected() };
        for (p, pair) in positions.into_iter().zip(items.chunks(2)) {
            slots[p] = Some((pair[0].clone(), pair[1].clone()));
        }
    }
    let mut out = BytesMut::new();
    out.put_u8(b'*');
    out.put_slice(itoa::Buffer::new().format(2 * n).as_bytes());
    out.put_slice(b"\r\n");
    for s in slots {
        let Some((name, count)) = s else { return unexpected() };
        name.write_to(&mut out);
        count.write_to(&mut out);
    }
    out.freeze()
}

/// PUBSUB NUMPAT: the largest count (see the module's notes).
async fn largest(waiting: Vec<oneshot::Receiver<Answer>>) -> Bytes {
    fold_ints(waiting, i64::max).await
}

/// The commands that change a client's subscriptions.
pub fn is_subscription_command(name: &str) -> bool {
    Kind::of_command(name).is_some()
}

impl Router {
    /// Whether the client has a subscriber (subscribed mode, or leaving it).
    pub fn subscribed(&self) -> bool {
        self.pubsub.is_some()
    }

    /// The next event of the client's subscriber connections; never
    /// resolves without a subscriber. Cancel-safe.
    pub async fn pubsub_event(&mut self) -> Event {
        match self.pubsub.as_mut() {
            Some(s) => s.next_event().await,
            None => std::future::pending().await,
        }
    }

    /// Handles a subscriber event (and those queued behind it): messages
    /// and confirmations go to the client, the ring is followed.
    pub async fn on_pubsub_event(&mut self, ev: Event) -> Flow {
        let Some(mut s) = self.pubsub.take() else { return Flow::Continue };
        if matches!(ev, Event::Ring) {
            self.topo = self.cluster.topology();
        }
        let r = s.on_events(ev, &self.cluster, self.proto).await;
        self.settle(s, r).await
    }

    /// Writes what the subscriber has ready, then keeps it, lets it go (no
    /// subscription left, nothing owed), or ends the client on `Err`.
    async fn settle(&mut self, mut s: Box<Subscriber>, r: Result<(), String>) -> Flow {
        if let Some(b) = s.outbox.take_ready() {
            if !self.push(Pending::Bytes(b)).await {
                return Flow::Close;
            }
        }
        if let Err(e) = r {
            tracing::warn!("client {}: {e}", self.id);
            self.push(Pending::Bytes(error_bytes(&e))).await;
            return Flow::Close;
        }
        if s.active() || !s.outbox.is_empty() {
            self.pubsub = Some(s);
        }
        Flow::Continue
    }

    /// Whether `args` is a (un)subscribe that will be carried out (its
    /// confirmations queue behind the earlier ones), rather than refused
    /// at once (arity, authentication). O(1).
    pub(crate) fn adds_to_subscriptions(&self, args: &[Bytes]) -> bool {
        self.authed
            && self.multi.is_none()
            && table::lookup(&args[0]).is_some_and(|s| Kind::of_command(s.name).is_some() && s.arity_ok(args.len()))
    }

    /// Waits until everything owed to the client before its next reply was
    /// written: the subscribe confirmations still awaiting their servers,
    /// and what is queued behind them.
    pub(crate) async fn pubsub_drain(&mut self) -> Flow {
        while self.pubsub.as_ref().is_some_and(|s| !s.outbox.is_empty()) {
            let ev = self.pubsub_event().await;
            if let Flow::Close = self.on_pubsub_event(ev).await {
                return Flow::Close;
            }
        }
        Flow::Continue
    }

    /// (P|S)SUBSCRIBE and (P|S)UNSUBSCRIBE (`name` canonical).
    pub(crate) async fn subscription(&mut self, name: &str, args: &[Bytes]) -> Flow {
        let Some((kind, subscribing)) = Kind::of_command(name) else {
            return self.error("ERR proxy: internal routing error").await;
        };
        let mut s = match self.pubsub.take() {
            Some(s) => s,
            None => Box::new(Subscriber::new(&self.cluster)),
        };
        self.topo = self.cluster.topology();
        let r = if subscribing {
            s.subscribe(kind, &args[1..], &self.topo, self.proto).await
        } else {
            s.unsubscribe(kind, &args[1..], self.proto)
        };
        let r = match r {
            Ok(()) => Ok(()),
            Err(Failure::Refused(e)) => {
                s.outbox.ready(error_bytes(&e));
                Ok(())
            }
            Err(Failure::Fatal(e)) => Err(e),
        };
        s.close_idle();
        self.settle(s, r).await
    }

    /// What a subscribed client's other commands go through (after the
    /// confirmations owed were written): the RESP2 subscribed-mode rule,
    /// and the commands that behave differently there (PING, RESET).
    /// `Some(flow)` when the command was answered.
    pub(crate) async fn while_subscribed(
        &mut self,
        spec: &'static CommandSpec,
        name: &str,
        args: &[Bytes],
    ) -> Option<Flow> {
        let active = self.pubsub.as_ref().is_some_and(|s| s.active());
        if active && self.proto == 2 && !allowed_in_subscribed_mode(name) {
            let msg = format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                call_name(spec, args)
            );
            return Some(self.error(&msg).await);
        }
        match name {
            "ping" if active && self.proto == 2 && args.len() <= 2 => Some(self.reply(subscribed_pong(args)).await),
            // RESET leaves every subscription without confirmations, as on a server.
            "reset" => {
                self.pubsub = None;
                None
            }
            _ => None,
        }
    }

    /// PUBLISH and SPUBLISH: to the channel's server.
    pub(crate) async fn publish(&mut self, args: &[Bytes]) -> Flow {
        match self.topo.route(&args[1]).cloned() {
            Some(b) => self.forward(&b, args).await,
            None => self.error("ERR proxy: no server is available").await,
        }
    }

    /// PUBSUB: CHANNELS/SHARDCHANNELS merged, NUMSUB/SHARDNUMSUB by each
    /// channel's server, NUMPAT the largest; the rest to one server.
    pub(crate) async fn pubsub_query(&mut self, args: &[Bytes]) -> Flow {
        let sub = args[1].to_ascii_lowercase();
        let servers: Vec<Arc<Backend>> = self.topo.live().cloned().collect();
        if servers.is_empty() {
            return self.error("ERR proxy: no server is available").await;
        }
        let proto = self.proto;
        match (&sub[..], args.len()) {
            (b"channels" | b"shardchannels", 2 | 3) => {
                let waiting = self.to_all(&servers, args).await;
                self.later(union(waiting, proto)).await
            }
            (b"numpat", 2) => {
                let waiting = self.to_all(&servers, args).await;
                self.later(largest(waiting)).await
            }
            (b"numsub" | b"shardnumsub", n) if n > 2 => {
                let mut groups: Vec<(Arc<Backend>, Vec<usize>)> = Vec::new();
                for (p, ch) in args[2..].iter().enumerate() {
                    let Some(b) = self.topo.route(ch) else {
                        return self.error("ERR proxy: no server is available").await;
                    };
                    match groups.iter_mut().find(|(g, _)| Arc::ptr_eq(g, b)) {
                        Some((_, v)) => v.push(p),
                        None => groups.push((b.clone(), vec![p])),
                    }
                }
                if groups.len() == 1 {
                    let b = groups[0].0.clone();
                    return self.forward(&b, args).await;
                }
                let mut parts = Vec::with_capacity(groups.len());
                for (b, positions) in groups {
                    let mut part = vec![args[0].clone(), args[1].clone()];
                    part.extend(positions.iter().map(|&p| args[p + 2].clone()));
                    let mut data = BytesMut::new();
                    encode_command(&part, &mut data);
                    parts.push((positions, self.send(&b, data.freeze(), 1, true).await));
                }
                self.later(numsub_merge(parts, n - 2)).await
            }
            _ => {
                let b = servers[0].clone();
                self.forward(&b, args).await
            }
        }
    }
}
