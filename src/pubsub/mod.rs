//! Pub/Sub (Redis's `pubsub.c`): who listens to which channel, pattern or
//! shard channel, and delivery of published messages.
//!
//! The registry maps each channel (and each pattern) to its subscribers'
//! handles, in the order they subscribed; a client's own list of what it
//! subscribed to is [`Subscriptions`] in its state, so a subscription is
//! in both or in neither (the commands in `cmd/pubsub.rs` keep them in
//! step). Publishing encodes the message once per protocol and queues the
//! bytes on each receiver's [`crate::server::push::PushQueue`]: a publisher
//! never waits for a subscriber's socket, messages from one publisher reach
//! each subscriber in the order published, and a subscriber past the
//! `pubsub` class of `client-output-buffer-limit` is disconnected.

pub mod events;
pub mod notify;

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use indexmap::{IndexMap, IndexSet};
use parking_lot::RwLock;

use crate::db::glob::glob_match;
use crate::db::value::Hasher;
use crate::server::client::ClientHandle;
use crate::server::output_limit::Limit;
use crate::server::push::Pushed;

/// Plain channels (SUBSCRIBE/PUBLISH) or shard channels
/// (SSUBSCRIBE/SPUBLISH), which Redis keeps apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// SUBSCRIBE, PUBLISH.
    Channel,
    /// SSUBSCRIBE, SPUBLISH.
    Shard,
}

type Subscribers = Vec<Arc<ClientHandle>>;

/// Every subscription of every client.
#[derive(Default)]
pub struct PubSub {
    channels: RwLock<HashMap<Bytes, Subscribers, Hasher>>,
    shard: RwLock<HashMap<Bytes, Subscribers, Hasher>>,
    patterns: RwLock<IndexMap<Bytes, Subscribers, Hasher>>,
}

/// What one client is subscribed to, in subscription order.
#[derive(Debug, Default, Clone)]
pub struct Subscriptions {
    /// SUBSCRIBE channels.
    pub channels: IndexSet<Bytes, Hasher>,
    /// PSUBSCRIBE patterns.
    pub patterns: IndexSet<Bytes, Hasher>,
    /// SSUBSCRIBE shard channels.
    pub shard: IndexSet<Bytes, Hasher>,
}

impl Subscriptions {
    /// Channels plus patterns (what SUBSCRIBE's replies count).
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Every subscription of any kind.
    pub fn total(&self) -> usize {
        self.count() + self.shard.len()
    }
}

impl PubSub {
    fn map(&self, kind: Kind) -> &RwLock<HashMap<Bytes, Subscribers, Hasher>> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Shard => &self.shard,
        }
    }

    /// Adds `h` to `channel`'s subscribers (the caller checked it was not
    /// one). O(1).
    pub fn subscribe(&self, kind: Kind, channel: &Bytes, h: &Arc<ClientHandle>) {
        self.map(kind).write().entry(channel.clone()).or_default().push(h.clone());
    }

    /// Removes client `id` from `channel`'s subscribers. O(subscribers).
    pub fn unsubscribe(&self, kind: Kind, channel: &[u8], id: u64) {
        let mut m = self.map(kind).write();
        if let Some(subs) = m.get_mut(channel) {
            subs.retain(|h| h.id != id);
            if subs.is_empty() {
                m.remove(channel);
            }
        }
    }

    /// Adds `h` to `pattern`'s subscribers. O(1).
    pub fn psubscribe(&self, pattern: &Bytes, h: &Arc<ClientHandle>) {
        self.patterns.write().entry(pattern.clone()).or_default().push(h.clone());
    }

    /// Removes client `id` from `pattern`'s subscribers. O(subscribers).
    pub fn punsubscribe(&self, pattern: &[u8], id: u64) {
        let mut m = self.patterns.write();
        if let Some(subs) = m.get_mut(pattern) {
            subs.retain(|h| h.id != id);
            if subs.is_empty() {
                m.shift_remove(pattern);
            }
        }
    }

    /// Removes every subscription of a client that is going away (or
    /// RESET). O(its subscriptions × their subscribers).
    pub fn remove_client(&self, subs: &Subscriptions, id: u64) {
        for c in &subs.channels {
            self.unsubscribe(Kind::Channel, c, id);
        }
        for c in &subs.shard {
            self.unsubscribe(Kind::Shard, c, id);
        }
        for p in &subs.patterns {
            self.punsubscribe(p, id);
        }
    }

    /// Delivers `msg` on `channel` to its subscribers (and, for a plain
    /// channel, to the subscribers of every matching pattern); returns how
    /// many received it. Subscribers over `limit` are disconnected.
    /// O(subscribers + patterns).
    pub fn publish(&self, kind: Kind, channel: &Bytes, msg: &Bytes, limit: Limit) -> usize {
        let mut receivers = 0;
        let word = match kind {
            Kind::Channel => "message",
            Kind::Shard => "smessage",
        };
        let parts: [&[u8]; 3] = [word.as_bytes(), channel, msg];
        let mut frames = Frames::new(&parts);
        if let Some(subs) = self.map(kind).read().get(channel) {
            for h in subs {
                deliver(h, frames.for_client(h), limit);
                receivers += 1;
            }
        }
        if kind == Kind::Channel {
            let patterns = self.patterns.read();
            for (pattern, subs) in patterns.iter() {
                if !glob_match(pattern, channel, false) {
                    continue;
                }
                let parts: [&[u8]; 4] = [b"pmessage", pattern, channel, msg];
                let mut frames = Frames::new(&parts);
                for h in subs {
                    deliver(h, frames.for_client(h), limit);
                    receivers += 1;
                }
            }
        }
        receivers
    }

    /// Channels with subscribers, optionally only those matching `pattern`
    /// (PUBSUB CHANNELS / SHARDCHANNELS). O(channels).
    pub fn channel_names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        let m = self.map(kind).read();
        m.keys().filter(|c| pattern.is_none_or(|p| glob_match(p, c, false))).cloned().collect()
    }

    /// Subscribers of `channel` (PUBSUB NUMSUB / SHARDNUMSUB). O(1).
    pub fn numsub(&self, kind: Kind, channel: &[u8]) -> usize {
        self.map(kind).read().get(channel).map_or(0, |s| s.len())
    }

    /// Patterns with subscribers (PUBSUB NUMPAT). O(1).
    pub fn numpat(&self) -> usize {
        self.patterns.read().len()
    }

    /// Channels, patterns and shard channels with subscribers (INFO). O(1).
    pub fn counts(&self) -> (usize, usize, usize) {
        (self.channels.read().len(), self.patterns.read().len(), self.shard.read().len())
    }

    /// The clients with a subscription `forbidden` refuses, each once; `forbidden` sees the client, the
    /// channel, shard channel or pattern, and whether it is a pattern (ACL revocation). O(subscriptions).
    pub fn clients_with(
        &self,
        mut forbidden: impl FnMut(&ClientHandle, &[u8], bool) -> bool,
    ) -> Vec<Arc<ClientHandle>> {
        let mut found: HashMap<u64, Arc<ClientHandle>> = HashMap::new();
        let mut visit = |name: &[u8], subs: &Subscribers, is_pattern: bool| {
            for h in subs {
                if !found.contains_key(&h.id) && forbidden(h, name, is_pattern) {
                    found.insert(h.id, h.clone());
                }
            }
        };
        for map in [&self.channels, &self.shard] {
            for (c, subs) in map.read().iter() {
                visit(c, subs, false);
            }
        }
        for (p, subs) in self.patterns.read().iter() {
            visit(p, subs, true);
        }
        found.into_values().collect()
    }
}

/// One message (its kind word and bulk strings), encoded at most once per
/// protocol version, when a subscriber speaking it is found.
struct Frames<'a> {
    parts: &'a [&'a [u8]],
    /// The message encoded for RESP2 and for RESP3, each once it is needed.
    resp2: Vec<u8>,
    resp3: Vec<u8>,
}

impl<'a> Frames<'a> {
    fn new(parts: &'a [&'a [u8]]) -> Frames<'a> {
        Frames { parts, resp2: Vec::new(), resp3: Vec::new() }
    }

    /// The message for `h`'s protocol, encoded on first use.
    fn for_client(&mut self, h: &ClientHandle) -> &[u8] {
        let proto = h.resp.load(std::sync::atomic::Ordering::Relaxed);
        let frame = if proto >= 3 { &mut self.resp3 } else { &mut self.resp2 };
        if frame.is_empty() {
            frame.reserve_exact(crate::protocol::reply::bulk_array_size(self.parts));
            crate::protocol::reply::put_push(frame, proto, self.parts);
        }
        frame
    }
}

/// Queues a message for `h`, disconnecting it past its output limit.
fn deliver(h: &ClientHandle, frame: &[u8], limit: Limit) {
    if h.deliver(frame, limit) == Pushed::OverLimit && !h.killed.load(std::sync::atomic::Ordering::Acquire) {
        tracing::warn!(id = h.id, addr = %h.addr, "client scheduled to be closed ASAP for overcoming of output buffer limits");
        h.kill();
    }
}
