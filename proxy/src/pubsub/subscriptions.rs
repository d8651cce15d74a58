//! A client's subscriptions through the proxy, kept as one server keeps
//! them (three namespaces, each in subscription order), and where each
//! must live on the ring.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;

use crate::cluster::Topology;
use crate::pool::Backend;

/// The three namespaces of subscriptions, kept apart as Redis keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Kind {
    /// SUBSCRIBE: plain channels.
    Channel,
    /// PSUBSCRIBE: patterns.
    Pattern,
    /// SSUBSCRIBE: shard channels.
    Shard,
}

impl Kind {
    /// The kind and direction of a (un)subscribe command (canonical name).
    pub(super) fn of_command(name: &str) -> Option<(Kind, bool)> {
        Some(match name {
            "subscribe" => (Kind::Channel, true),
            "unsubscribe" => (Kind::Channel, false),
            "psubscribe" => (Kind::Pattern, true),
            "punsubscribe" => (Kind::Pattern, false),
            "ssubscribe" => (Kind::Shard, true),
            "sunsubscribe" => (Kind::Shard, false),
            _ => return None,
        })
    }

    /// The command's name, which is also the first word of its confirmations.
    pub(super) fn word(self, subscribing: bool) -> &'static str {
        match (self, subscribing) {
            (Kind::Channel, true) => "subscribe",
            (Kind::Channel, false) => "unsubscribe",
            (Kind::Pattern, true) => "psubscribe",
            (Kind::Pattern, false) => "punsubscribe",
            (Kind::Shard, true) => "ssubscribe",
            (Kind::Shard, false) => "sunsubscribe",
        }
    }
}

/// One subscription.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Sub {
    pub(super) kind: Kind,
    pub(super) name: Bytes,
}

/// A set of names that keeps their insertion order. O(log n) per operation.
#[derive(Debug, Default)]
pub(super) struct Ordered {
    next: u64,
    seq: HashMap<Bytes, u64, inmemory::db::value::Hasher>,
    names: BTreeMap<u64, Bytes>,
}

impl Ordered {
    /// False when `name` was there already.
    pub(super) fn insert(&mut self, name: Bytes) -> bool {
        if self.seq.contains_key(&name) {
            return false;
        }
        self.next += 1;
        self.seq.insert(name.clone(), self.next);
        self.names.insert(self.next, name);
        true
    }

    /// False when `name` was not there.
    pub(super) fn remove(&mut self, name: &[u8]) -> bool {
        match self.seq.remove(name) {
            Some(n) => {
                self.names.remove(&n);
                true
            }
            None => false,
        }
    }

    pub(super) fn contains(&self, name: &[u8]) -> bool {
        self.seq.contains_key(name)
    }

    fn len(&self) -> usize {
        self.seq.len()
    }

    /// In insertion order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Bytes> + '_ {
        self.names.values()
    }
}

/// What the client is subscribed to, in subscription order (UNSUBSCRIBE
/// without arguments confirms in this order, as the server does).
#[derive(Debug, Default)]
pub(super) struct Wanted {
    channels: Ordered,
    patterns: Ordered,
    shard: Ordered,
}

impl Wanted {
    pub(super) fn set(&self, kind: Kind) -> &Ordered {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard,
        }
    }

    pub(super) fn set_mut(&mut self, kind: Kind) -> &mut Ordered {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    pub(super) fn contains(&self, sub: &Sub) -> bool {
        self.set(sub.kind).contains(&sub.name)
    }

    /// The count a confirmation of `kind` carries: channels plus patterns,
    /// or shard channels (as the server counts).
    pub(super) fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.shard.len(),
            Kind::Channel | Kind::Pattern => self.channels.len() + self.patterns.len(),
        }
    }

    /// Subscriptions of every kind: the client is in subscribed mode while not 0.
    pub(super) fn total(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shard.len()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = Sub> + '_ {
        let of = |kind: Kind| self.set(kind).iter().map(move |name| Sub { kind, name: name.clone() });
        of(Kind::Channel).chain(of(Kind::Pattern)).chain(of(Kind::Shard))
    }
}

/// The servers that must hold `sub` under `topo`: its channel's server,
/// or for a pattern every server on the ring. O(log points) or O(servers).
pub(super) fn placement(topo: &Topology, sub: &Sub) -> Vec<Arc<Backend>> {
    match sub.kind {
        Kind::Pattern => topo.live().cloned().collect(),
        Kind::Channel | Kind::Shard => topo.route(&sub.name).cloned().into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_sets_keep_subscription_order() {
        let mut o = Ordered::default();
        for n in ["c", "a", "b"] {
            assert!(o.insert(Bytes::from(n)));
        }
        assert!(o.remove(b"a"));
        assert!(!o.remove(b"a"));
        assert!(o.insert(Bytes::from("a")));
        let order: Vec<&[u8]> = o.iter().map(|b| &b[..]).collect();
        assert_eq!(order, [&b"c"[..], b"b", b"a"]);
        assert_eq!(o.len(), 3);
        assert!(o.contains(b"b") && !o.contains(b"z"));
    }

    #[test]
    fn counts_follow_the_server() {
        let mut w = Wanted::default();
        assert!(w.channels.insert(Bytes::from_static(b"a")));
        assert!(!w.channels.insert(Bytes::from_static(b"a")));
        w.patterns.insert(Bytes::from_static(b"p*"));
        w.shard.insert(Bytes::from_static(b"s"));
        assert_eq!(w.count(Kind::Channel), 2);
        assert_eq!(w.count(Kind::Pattern), 2);
        assert_eq!(w.count(Kind::Shard), 1);
        assert_eq!(w.total(), 3);
        assert_eq!(w.iter().count(), 3);
    }
}
