//! A subscribed client's own connections to the servers its subscriptions
//! live on: sending (un)subscribes, reading confirmations and messages,
//! following ring changes, noticing a server gone quiet.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use inmemory::protocol::frame::Frame;
use tokio::sync::{mpsc, watch};

use crate::cluster::{Cluster, Topology};
use crate::message::{Incoming, Published};
use crate::pool::{encode_command, Backend, PING_IDLE};

use super::outbox::{confirmation, reencode, Outbox};
use super::subscriptions::{placement, Kind, Sub, Wanted};
pub use super::upstream::Event;
use super::upstream::{read_frames, write_commands, Ack, Sent, Upstream};

/// Reads from subscriber connections not yet handled, per client (beyond
/// this a connection is not read: the server buffers, up to its pubsub
/// output limit). Each is the frames of one read, at most about
/// `upstream::READ_BUFFER` bytes.
const EVENT_QUEUE: usize = 64;
/// Most events handled in one go before the client's replies are flushed.
const EVENT_BATCH: usize = 16;

/// One (un)subscribe command being gathered for a connection: the names,
/// each with the client confirmation waiting for it.
struct Batch {
    upstream: usize,
    kind: Kind,
    names: Vec<(Bytes, Option<u64>)>,
}

/// Adds `name` to the batch of `upstream` and `kind` (batches in order of first use).
fn gather(batches: &mut Vec<Batch>, upstream: usize, kind: Kind, name: Bytes, token: Option<u64>) {
    match batches.iter_mut().find(|b| b.upstream == upstream && b.kind == kind) {
        Some(b) => b.names.push((name, token)),
        None => batches.push(Batch { upstream, kind, names: vec![(name, token)] }),
    }
}

/// Why a (un)subscribe could not be carried out.
pub(super) enum Failure {
    /// Nothing changed: the command answers this error.
    Refused(String),
    /// The client's subscriptions are no longer what it was told: the
    /// connection ends with this error.
    Fatal(String),
}

/// A subscribed client's state: its subscriptions, its connections to the
/// servers holding them, and the confirmations owed to it.
pub struct Subscriber {
    wanted: Wanted,
    upstreams: Vec<Upstream>,
    pub(super) outbox: Outbox,
    events: mpsc::Receiver<Event>,
    events_tx: mpsc::Sender<Event>,
    ring: watch::Receiver<u64>,
    next_id: u64,
    /// How long a server may leave a (un)subscribe unconfirmed (`--timeout`).
    timeout: Duration,
    /// A subscription stays on a server it moved away from until its new
    /// server confirms: set while one does.
    moving: bool,
    /// Ticks every `quiet` (the shorter of [`PING_IDLE`] and `timeout`): a
    /// connection quiet that long gets a PING, so a server that vanished
    /// without closing the connection is noticed within `timeout` more.
    idle: tokio::time::Interval,
    quiet: Duration,
}

impl Subscriber {
    pub(super) fn new(cluster: &Cluster) -> Subscriber {
        let (events_tx, events) = mpsc::channel(EVENT_QUEUE);
        let ring = cluster.topology_changes();
        let quiet = PING_IDLE.min(cluster.timeout);
        let mut idle = tokio::time::interval_at(tokio::time::Instant::now() + quiet, quiet);
        idle.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Subscriber {
            wanted: Wanted::default(),
            upstreams: Vec::new(),
            outbox: Outbox::default(),
            events,
            events_tx,
            ring,
            next_id: 1,
            timeout: cluster.timeout,
            moving: false,
            idle,
            quiet,
        }
    }

    /// The oldest unconfirmed command's time and connection.
    fn oldest(&self) -> Option<(Instant, u64)> {
        self.upstreams.iter().filter_map(|u| u.sent.front().map(|s| (s.at, u.id))).min()
    }

    /// A connection owing an answer for `timeout` with none of its frames
    /// waiting to be handled: the error line naming its server.
    fn overdue(&self) -> Option<String> {
        self.upstreams.iter().find_map(|u| {
            let at = u.sent.front()?.at;
            let caught_up = u.read.load(Ordering::Acquire) == u.handled;
            (caught_up && at.elapsed() >= self.timeout)
                .then(|| u.backend.unavailable(&format!("no confirmation within {:?}", self.timeout)))
        })
    }

    /// The next event. Cancel-safe (the session drops it when the client
    /// sends something first).
    pub(super) async fn next_event(&mut self) -> Event {
        let due = self.oldest().map(|(at, _)| at + self.timeout);
        tokio::select! {
            Some(ev) = self.events.recv() => ev,
            Ok(()) = self.ring.changed() => Event::Ring,
            _ = tokio::time::sleep_until(due.unwrap_or_else(Instant::now).into()), if due.is_some() => Event::Overdue,
            _ = self.idle.tick() => Event::Idle,
        }
    }

    fn find(&self, b: &Arc<Backend>) -> Option<usize> {
        self.upstreams.iter().position(|u| Arc::ptr_eq(&u.backend, b))
    }

    /// The connection to `b`, opened (in `proto`) if there is none yet.
    async fn open(&mut self, b: &Arc<Backend>, proto: u8) -> Result<usize, String> {
        if let Some(i) = self.find(b) {
            return Ok(i);
        }
        b.not_in_backoff()?;
        let stream = b.connect_stream(proto, 0).await?;
        let (r, w) = tokio::io::split(stream);
        let id = self.next_id;
        self.next_id += 1;
        let read = Arc::new(AtomicU64::new(0));
        let reader = tokio::spawn(read_frames(r, id, self.events_tx.clone(), read.clone()));
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_commands(w, rx, id, self.events_tx.clone()));
        let backend = b.clone();
        let (held, sent, heard) = (HashMap::new(), VecDeque::new(), Instant::now());
        self.upstreams.push(Upstream { id, backend, proto, tx, reader, held, sent, heard, read, handled: 0 });
        Ok(self.upstreams.len() - 1)
    }

    /// Sends a batch on its connection; the confirmations are expected in
    /// the batch's order. `Err`: the connection is gone.
    fn send(&mut self, batch: Batch, subscribing: bool) -> Result<(), String> {
        let Batch { upstream, kind, names } = batch;
        let u = &mut self.upstreams[upstream];
        let mut args = Vec::with_capacity(names.len() + 1);
        args.push(Bytes::from_static(kind.word(subscribing).as_bytes()));
        let mut acks = VecDeque::with_capacity(names.len());
        for (name, token) in names {
            args.push(name.clone());
            let sub = Sub { kind, name };
            if subscribing {
                u.held.insert(sub.clone(), false);
            } else {
                u.held.remove(&sub);
            }
            acks.push_back(Ack { sub, subscribing, token });
        }
        let mut data = BytesMut::new();
        encode_command(&args, &mut data);
        u.sent.push_back(Sent { at: Instant::now(), acks, ping: false });
        u.backend.stats.requests.fetch_add(1, Ordering::Relaxed);
        u.tx.send(data.freeze()).map_err(|_| u.backend.unavailable("connection lost"))
    }

    /// SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE of `names`: the new ones are sent
    /// to their servers (every connection needed is opened first, so a
    /// server that cannot be reached refuses the whole command), and each
    /// name gets its confirmation in order.
    pub(super) async fn subscribe(
        &mut self,
        kind: Kind,
        names: &[Bytes],
        topo: &Topology,
        proto: u8,
    ) -> Result<(), Failure> {
        let mut fresh = HashSet::new();
        let mut servers: Vec<Arc<Backend>> = Vec::new();
        for name in names {
            let sub = Sub { kind, name: name.clone() };
            if self.wanted.contains(&sub) || !fresh.insert(name) {
                continue;
            }
            let placed = placement(topo, &sub);
            if placed.is_empty() {
                return Err(Failure::Refused("ERR proxy: no server is available".into()));
            }
            for b in placed {
                if !servers.iter().any(|s| Arc::ptr_eq(s, &b)) {
                    servers.push(b);
                }
            }
        }
        for b in &servers {
            self.open(b, proto).await.map_err(Failure::Refused)?;
        }
        let mut batches = Vec::new();
        for name in names {
            let sub = Sub { kind, name: name.clone() };
            if !self.wanted.set_mut(kind).insert(name.clone()) {
                let c = confirmation(kind.word(true), Some(name), self.wanted.count(kind), proto);
                self.outbox.ready(c);
                continue;
            }
            let placed = placement(topo, &sub);
            let c = confirmation(kind.word(true), Some(name), self.wanted.count(kind), proto);
            let token = self.outbox.waiting(c, placed.len());
            for b in placed {
                let Some(i) = self.find(&b) else {
                    return Err(Failure::Fatal("ERR proxy: internal routing error".into()));
                };
                gather(&mut batches, i, kind, name.clone(), Some(token));
            }
        }
        for batch in batches {
            self.send(batch, true).map_err(Failure::Fatal)?;
        }
        Ok(())
    }

    /// UNSUBSCRIBE, PUNSUBSCRIBE, SUNSUBSCRIBE of `names` (none: all of
    /// that kind, in subscription order). Confirmed at once: messages of
    /// what was left are dropped from now on.
    pub(super) fn unsubscribe(&mut self, kind: Kind, names: &[Bytes], proto: u8) -> Result<(), Failure> {
        let names: Vec<Bytes> =
            if names.is_empty() { self.wanted.set(kind).iter().cloned().collect() } else { names.to_vec() };
        if names.is_empty() {
            self.outbox.ready(confirmation(kind.word(false), None, self.wanted.count(kind), proto));
        }
        let mut batches = Vec::new();
        for name in names {
            if self.wanted.set_mut(kind).remove(&name) {
                let sub = Sub { kind, name: name.clone() };
                for (i, u) in self.upstreams.iter().enumerate() {
                    if u.held.contains_key(&sub) {
                        gather(&mut batches, i, kind, name.clone(), None);
                    }
                }
            }
            self.outbox.ready(confirmation(kind.word(false), Some(&name), self.wanted.count(kind), proto));
        }
        for batch in batches {
            self.send(batch, false).map_err(Failure::Fatal)?;
        }
        Ok(())
    }

    /// Handles `first` and the events queued behind it (at most
    /// [`EVENT_BATCH`]). `Err`: the error line that ends the client.
    pub(super) async fn on_events(&mut self, first: Event, cluster: &Cluster, proto: u8) -> Result<(), String> {
        let mut resettle = false;
        let mut overdue = false;
        let mut next = Some(first);
        let mut handled = 0;
        while let Some(ev) = next.take() {
            match ev {
                Event::Frames(id, frames) => {
                    if let Some(u) = self.upstreams.iter_mut().find(|u| u.id == id) {
                        u.heard = Instant::now();
                    }
                    for f in frames {
                        match f {
                            Incoming::Message { kind, name, raw } => self.on_message(id, kind, name, raw, proto)?,
                            Incoming::Other(f, raw) => resettle |= self.on_frame(id, f, raw, proto)?,
                        }
                    }
                }
                Event::Lost(id, why) => {
                    if let Some(u) = self.upstreams.iter().find(|u| u.id == id) {
                        return Err(u.backend.unavailable(&format!("{why} (subscriptions there were lost)")));
                    }
                }
                Event::Ring => resettle = true,
                Event::Idle => self.check_quiet(),
                // Judged once the frames queued meanwhile were handled.
                Event::Overdue => overdue = true,
            }
            handled += 1;
            if handled < EVENT_BATCH {
                next = self.events.try_recv().ok();
            }
        }
        if let Some(e) = self.overdue().filter(|_| overdue) {
            return Err(e);
        }
        if resettle {
            self.follow_ring(&cluster.topology(), proto).await?;
        }
        self.close_idle();
        Ok(())
    }

    /// A published message from connection `id`, recognised from its bytes
    /// (see `crate::message`): forwarded while the client is subscribed to
    /// its channel or pattern, else dropped. O(size) only when re-encoded.
    fn on_message(
        &mut self,
        id: u64,
        kind: Published,
        name: Range<usize>,
        raw: Bytes,
        proto: u8,
    ) -> Result<(), String> {
        let Some(u) = self.upstreams.iter_mut().find(|u| u.id == id) else { return Ok(()) };
        u.handled += 1;
        let kind = match kind {
            Published::Message => Kind::Channel,
            Published::Pmessage => Kind::Pattern,
            Published::Smessage => Kind::Shard,
        };
        if !self.wanted.set(kind).contains(&raw[name]) {
            return Ok(());
        }
        if u.proto == proto {
            self.outbox.ready(raw);
            return Ok(());
        }
        match crate::message::decode(&raw) {
            Ok(f) => {
                self.outbox.ready(reencode(f.items().unwrap_or_default(), proto));
                Ok(())
            }
            Err(e) => Err(u.backend.unavailable(&format!("bad reply: {e}"))),
        }
    }

    /// A frame from connection `id`: a message to forward (or drop), a
    /// confirmation, or a refusal. `Ok(true)` when a moving subscription
    /// may now leave its old server.
    fn on_frame(&mut self, id: u64, f: Frame, raw: Bytes, proto: u8) -> Result<bool, String> {
        // Frames of a connection already let go are of no interest.
        let Some(u) = self.upstreams.iter_mut().find(|u| u.id == id) else { return Ok(false) };
        u.handled += 1;
        let pong = match &f {
            Frame::Simple(s) => s.eq_ignore_ascii_case(b"pong"),
            f => f.items().is_some_and(|i| i.len() == 2 && i[0].text() == Some(b"pong")),
        };
        if pong {
            return match u.sent.front() {
                Some(s) if s.ping => {
                    u.sent.pop_front();
                    Ok(false)
                }
                _ => Err(u.backend.unavailable("unexpected PONG from the server")),
            };
        }
        let items = match &f {
            Frame::Array(Some(items)) | Frame::Push(items) => items,
            Frame::Error(e) => {
                // The server refused a whole command: its subscriptions were not made.
                let Some(sent) = u.sent.pop_front().filter(|s| !s.ping) else {
                    return Err(u.backend.unavailable("unexpected error from the server"));
                };
                let mut first = Some(&raw);
                for ack in sent.acks {
                    if !ack.subscribing {
                        continue;
                    }
                    u.held.remove(&ack.sub);
                    let Some(token) = ack.token else {
                        // A move that could not be made: the client would silently miss messages.
                        return Err(String::from_utf8_lossy(e).into_owned());
                    };
                    self.wanted.set_mut(ack.sub.kind).remove(&ack.sub.name);
                    self.outbox.refused(token, first.take());
                }
                return Ok(true);
            }
            _ => return Ok(false),
        };
        let word = items.first().and_then(|w| w.text()).unwrap_or_default();
        let name = items.get(1).and_then(|n| n.as_bytes());
        let forward = match (word, items.len()) {
            (b"message", 3) => Some(Kind::Channel),
            (b"pmessage", 4) => Some(Kind::Pattern),
            (b"smessage", 3) => Some(Kind::Shard),
            _ => None,
        };
        if let Some(kind) = forward {
            if name.is_some_and(|n| self.wanted.set(kind).contains(n)) {
                let bytes = if u.proto == proto { raw } else { reencode(items, proto) };
                self.outbox.ready(bytes);
            }
            return Ok(false);
        }
        let Ok(word) = std::str::from_utf8(word) else { return Ok(false) };
        let Some((kind, subscribing)) = Kind::of_command(word).filter(|_| items.len() == 3) else {
            tracing::debug!("server {}: ignored a frame on a subscriber connection", u.backend.label);
            return Ok(false);
        };
        let Some(sent) = u.sent.front_mut().filter(|s| !s.ping) else {
            return Err(u.backend.unavailable("unexpected confirmation from the server"));
        };
        let ack = sent.acks.pop_front();
        if sent.acks.is_empty() {
            u.sent.pop_front();
        }
        let Some(ack) = ack.filter(|a| a.sub.kind == kind && a.subscribing == subscribing && name == Some(&a.sub.name))
        else {
            return Err(u.backend.unavailable("unexpected confirmation from the server"));
        };
        if !subscribing {
            return Ok(false);
        }
        if let Some(h) = u.held.get_mut(&ack.sub) {
            *h = true;
        }
        if let Some(t) = ack.token {
            self.outbox.confirmed(t);
        }
        Ok(self.moving)
    }

    /// Brings the servers in line with the ring: every subscription is
    /// subscribed where `topo` places it, and unsubscribed where it no
    /// longer belongs once all its new places confirmed (until then it
    /// stays, so messages published there meanwhile still arrive).
    /// O(subscriptions × log points).
    async fn follow_ring(&mut self, topo: &Topology, proto: u8) -> Result<(), String> {
        let wanted: Vec<(Sub, Vec<Arc<Backend>>)> = self
            .wanted
            .iter()
            .map(|sub| {
                let placed = placement(topo, &sub);
                (sub, placed)
            })
            .collect();
        let mut adds = Vec::new();
        for (sub, placed) in &wanted {
            for b in placed {
                if self.find(b).is_some_and(|i| self.upstreams[i].held.contains_key(sub)) {
                    continue;
                }
                let i = self.open(b, proto).await?;
                gather(&mut adds, i, sub.kind, sub.name.clone(), None);
            }
        }
        for batch in adds {
            tracing::debug!(
                "moving {} subscription(s) to server {}",
                batch.names.len(),
                self.upstreams[batch.upstream].backend.label
            );
            self.send(batch, true)?;
        }
        let places: HashMap<Sub, Vec<Arc<Backend>>> = wanted.into_iter().collect();
        self.moving = false;
        let mut drops = Vec::new();
        for (i, u) in self.upstreams.iter().enumerate() {
            for sub in u.held.keys() {
                let leave = match places.get(sub) {
                    // Not wanted (cannot happen: unsubscribing lets go at once).
                    None => true,
                    Some(placed) if placed.iter().any(|b| Arc::ptr_eq(b, &u.backend)) => false,
                    // Nowhere else to go (no server on the ring): stay.
                    Some(placed) if placed.is_empty() => false,
                    Some(placed) => {
                        let confirmed = placed.iter().all(|b| {
                            self.find(b).is_some_and(|j| self.upstreams[j].held.get(sub).copied().unwrap_or(false))
                        });
                        self.moving |= !confirmed;
                        confirmed
                    }
                };
                if leave {
                    gather(&mut drops, i, sub.kind, sub.name.clone(), None);
                }
            }
        }
        for batch in drops {
            self.send(batch, false)?;
        }
        Ok(())
    }

    /// Sends PING on every connection quiet for `quiet` with nothing owed:
    /// its answer is then owed within `timeout`.
    fn check_quiet(&mut self) {
        for u in &mut self.upstreams {
            if u.sent.is_empty() && u.heard.elapsed() >= self.quiet {
                u.sent.push_back(Sent { at: Instant::now(), acks: VecDeque::new(), ping: true });
                // A closed channel: the writer's end is reported as `Lost`.
                let _ = u.tx.send(Bytes::from_static(b"*1\r\n$4\r\nPING\r\n"));
            }
        }
    }

    /// Closes the connections that hold nothing and await nothing.
    pub(super) fn close_idle(&mut self) {
        self.upstreams.retain(|u| !(u.held.is_empty() && u.sent.is_empty()));
    }

    /// Whether the client is in subscribed mode.
    pub(super) fn active(&self) -> bool {
        self.wanted.total() > 0
    }
}
