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

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use inmemory::cmd::pubsub::{allowed_in_subscribed_mode, subscribed_pong};
use inmemory::cmd::server::subcommands::call_name;
use inmemory::cmd::table::{self, CommandSpec};
use inmemory::protocol::frame::{Frame, FrameReader};
use inmemory::protocol::Reply;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::cluster::{Cluster, Topology};
use crate::fanout::{frame_of, unexpected};
use crate::message::{Incoming, Published};
use crate::pool::{encode_command, Answer, Backend, Stream, PING_IDLE};
use crate::router::{error_bytes, reply_bytes, Flow, Pending, Router};

/// Reads from subscriber connections not yet handled, per client (beyond
/// this a connection is not read: the server buffers, up to its pubsub
/// output limit). Each is the frames of one read, at most about
/// [`READ_BUFFER`] bytes.
const EVENT_QUEUE: usize = 64;
/// Most events handled in one go before the client's replies are flushed.
const EVENT_BATCH: usize = 16;
/// A subscriber connection's read buffer.
const READ_BUFFER: usize = 16 * 1024;

/// The three namespaces of subscriptions, kept apart as Redis keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// SUBSCRIBE: plain channels.
    Channel,
    /// PSUBSCRIBE: patterns.
    Pattern,
    /// SSUBSCRIBE: shard channels.
    Shard,
}

impl Kind {
    /// The kind and direction of a (un)subscribe command (canonical name).
    fn of_command(name: &str) -> Option<(Kind, bool)> {
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
    fn word(self, subscribing: bool) -> &'static str {
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
struct Sub {
    kind: Kind,
    name: Bytes,
}

/// A set of names that keeps their insertion order. O(log n) per operation.
#[derive(Debug, Default)]
struct Ordered {
    next: u64,
    seq: HashMap<Bytes, u64, inmemory::db::value::Hasher>,
    names: BTreeMap<u64, Bytes>,
}

impl Ordered {
    /// False when `name` was there already.
    fn insert(&mut self, name: Bytes) -> bool {
        if self.seq.contains_key(&name) {
            return false;
        }
        self.next += 1;
        self.seq.insert(name.clone(), self.next);
        self.names.insert(self.next, name);
        true
    }

    /// False when `name` was not there.
    fn remove(&mut self, name: &[u8]) -> bool {
        match self.seq.remove(name) {
            Some(n) => {
                self.names.remove(&n);
                true
            }
            None => false,
        }
    }

    fn contains(&self, name: &[u8]) -> bool {
        self.seq.contains_key(name)
    }

    fn len(&self) -> usize {
        self.seq.len()
    }

    /// In insertion order.
    fn iter(&self) -> impl Iterator<Item = &Bytes> + '_ {
        self.names.values()
    }
}

/// What the client is subscribed to, in subscription order (UNSUBSCRIBE
/// without arguments confirms in this order, as the server does).
#[derive(Debug, Default)]
struct Wanted {
    channels: Ordered,
    patterns: Ordered,
    shard: Ordered,
}

impl Wanted {
    fn set(&self, kind: Kind) -> &Ordered {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard,
        }
    }

    fn set_mut(&mut self, kind: Kind) -> &mut Ordered {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard,
        }
    }

    fn contains(&self, sub: &Sub) -> bool {
        self.set(sub.kind).contains(&sub.name)
    }

    /// The count a confirmation of `kind` carries: channels plus patterns,
    /// or shard channels (as the server counts).
    fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::Shard => self.shard.len(),
            Kind::Channel | Kind::Pattern => self.channels.len() + self.patterns.len(),
        }
    }

    /// Subscriptions of every kind: the client is in subscribed mode while not 0.
    fn total(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shard.len()
    }

    fn iter(&self) -> impl Iterator<Item = Sub> + '_ {
        let of = |kind: Kind| self.set(kind).iter().map(move |name| Sub { kind, name: name.clone() });
        of(Kind::Channel).chain(of(Kind::Pattern)).chain(of(Kind::Shard))
    }
}

/// The servers that must hold `sub` under `topo`: its channel's server,
/// or for a pattern every server on the ring. O(log points) or O(servers).
fn placement(topo: &Topology, sub: &Sub) -> Vec<Arc<Backend>> {
    match sub.kind {
        Kind::Pattern => topo.live().cloned().collect(),
        Kind::Channel | Kind::Shard => topo.route(&sub.name).cloned().into_iter().collect(),
    }
}

/// A confirmation push (`[word, name, count]`) for a client speaking `proto`.
fn confirmation(word: &'static str, name: Option<&Bytes>, count: usize, proto: u8) -> Bytes {
    let name = name.map_or(Reply::Nil, |n| Reply::Bulk(n.clone()));
    reply_bytes(&Reply::Push(vec![Reply::bulk_str(word), name, Reply::Int(count as i64)]), proto)
}

/// A message push read in one protocol, written in the other.
fn reencode(items: &[Frame], proto: u8) -> Bytes {
    let mut out = BytesMut::new();
    out.put_u8(if proto >= 3 { b'>' } else { b'*' });
    out.put_slice(itoa::Buffer::new().format(items.len()).as_bytes());
    out.put_slice(b"\r\n");
    for f in items {
        f.write_to(&mut out);
    }
    out.freeze()
}

/// The client's replies and pushes waiting to be written in order: a
/// subscribe confirmation waits for its servers' confirmations, and
/// everything queued after it waits with it.
#[derive(Default)]
struct Outbox {
    /// The token of `items[0]`.
    first: u64,
    items: VecDeque<Item>,
}

struct Item {
    /// Server confirmations still awaited.
    waiting: usize,
    bytes: Bytes,
    /// A server refused: `bytes` were replaced by its error.
    failed: bool,
}

impl Outbox {
    fn ready(&mut self, bytes: Bytes) {
        self.items.push_back(Item { waiting: 0, bytes, failed: false });
    }

    /// Queues `bytes` behind `waiting` server confirmations; its token.
    fn waiting(&mut self, bytes: Bytes, waiting: usize) -> u64 {
        self.items.push_back(Item { waiting, bytes, failed: false });
        self.first + self.items.len() as u64 - 1
    }

    fn item(&mut self, token: u64) -> Option<&mut Item> {
        let i = usize::try_from(token.checked_sub(self.first)?).ok()?;
        self.items.get_mut(i)
    }

    fn confirmed(&mut self, token: u64) {
        if let Some(it) = self.item(token) {
            it.waiting = it.waiting.saturating_sub(1);
        }
    }

    /// A server refused: the item becomes `error` (the first refusal's) or,
    /// for the other items of the same refused command, nothing.
    fn refused(&mut self, token: u64, error: Option<&Bytes>) {
        if let Some(it) = self.item(token) {
            if !it.failed {
                it.failed = true;
                it.bytes = error.cloned().unwrap_or_default();
            }
            it.waiting = it.waiting.saturating_sub(1);
        }
    }

    /// The items ready at the front, concatenated. O(bytes taken).
    fn take_ready(&mut self) -> Option<Bytes> {
        let n = self.items.iter().take_while(|it| it.waiting == 0).count();
        if n == 0 {
            return None;
        }
        self.first += n as u64;
        if n == 1 {
            return self.items.pop_front().map(|it| it.bytes).filter(|b| !b.is_empty());
        }
        let mut out = BytesMut::new();
        for it in self.items.drain(..n) {
            out.extend_from_slice(&it.bytes);
        }
        Some(out.freeze()).filter(|b| !b.is_empty())
    }

    fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// A confirmation expected from a server, in the order the server sends them.
struct Ack {
    sub: Sub,
    subscribing: bool,
    /// The client's confirmation waiting for it (`None`: a move, or an unsubscribe).
    token: Option<u64>,
}

/// One command sent to a server: a (un)subscribe, or the idle check's PING.
struct Sent {
    at: Instant,
    acks: VecDeque<Ack>,
    /// A PING: its answer is owed instead of confirmations.
    ping: bool,
}

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

/// The client's own connection to one server.
struct Upstream {
    id: u64,
    backend: Arc<Backend>,
    /// The protocol the connection speaks (the client's when it was opened).
    proto: u8,
    /// To the task writing to the connection.
    tx: mpsc::UnboundedSender<Bytes>,
    reader: JoinHandle<()>,
    /// Subscriptions sent to the server and not unsubscribed since; true
    /// once the server confirmed.
    held: HashMap<Sub, bool>,
    /// Commands whose confirmations are still to come, oldest first.
    sent: VecDeque<Sent>,
    /// When the server last sent anything.
    heard: Instant,
    /// Frames the reader queued for the subscriber so far.
    read: Arc<AtomicU64>,
    /// Frames the subscriber handled so far: fewer than `read` while some
    /// wait in the queue (a confirmation among them is not overdue).
    handled: u64,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        // The writer ends with its channel; once the reader ends too the
        // socket closes, and the server drops the subscriptions.
        self.reader.abort();
    }
}

/// What a subscriber waits for.
pub enum Event {
    /// The frames of one read from subscriber connection `id` (each with
    /// its bytes), in order: one event per read rather than per message.
    Frames(u64, Vec<Incoming>),
    /// Subscriber connection `id` broke.
    Lost(u64, String),
    /// The ring changed.
    Ring,
    /// A confirmation is overdue.
    Overdue,
    /// Time to check the connections that have been quiet.
    Idle,
}

/// Reads a subscriber connection's frames into the client's event queue.
async fn read_frames(mut r: ReadHalf<Box<dyn Stream>>, id: u64, tx: mpsc::Sender<Event>, read: Arc<AtomicU64>) {
    let mut buf = BytesMut::with_capacity(READ_BUFFER);
    let mut frames = FrameReader::new();
    let why = 'conn: loop {
        let mut batch = Vec::new();
        let bad = loop {
            match crate::message::next(&mut frames, &mut buf) {
                Ok(Some(f)) => batch.push(f),
                Ok(None) => break None,
                Err(e) => break Some(format!("bad reply: {e}")),
            }
        };
        if !batch.is_empty() {
            read.fetch_add(batch.len() as u64, Ordering::Release);
            if tx.send(Event::Frames(id, batch)).await.is_err() {
                return;
            }
        }
        if let Some(why) = bad {
            break 'conn why;
        }
        match r.read_buf(&mut buf).await {
            Ok(0) => break "connection closed by the server".to_string(),
            Ok(_) => {}
            Err(e) => break e.to_string(),
        }
    };
    let _ = tx.send(Event::Lost(id, why)).await;
}

/// Writes what the subscriber sends on connection `id` until the
/// subscriber lets the connection go.
async fn write_commands(
    mut w: WriteHalf<Box<dyn Stream>>,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
    id: u64,
    tx: mpsc::Sender<Event>,
) {
    while let Some(data) = rx.recv().await {
        if let Err(e) = w.write_all(&data).await {
            let _ = tx.send(Event::Lost(id, e.to_string())).await;
            return;
        }
    }
    let _ = w.shutdown().await;
}

/// Why a (un)subscribe could not be carried out.
enum Failure {
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
    outbox: Outbox,
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
    fn new(cluster: &Cluster) -> Subscriber {
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
    async fn next_event(&mut self) -> Event {
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
    async fn subscribe(&mut self, kind: Kind, names: &[Bytes], topo: &Topology, proto: u8) -> Result<(), Failure> {
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
    fn unsubscribe(&mut self, kind: Kind, names: &[Bytes], proto: u8) -> Result<(), Failure> {
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
    async fn on_events(&mut self, first: Event, cluster: &Cluster, proto: u8) -> Result<(), String> {
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
    fn close_idle(&mut self) {
        self.upstreams.retain(|u| !(u.held.is_empty() && u.sent.is_empty()));
    }

    /// Whether the client is in subscribed mode.
    fn active(&self) -> bool {
        self.wanted.total() > 0
    }
}

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
    let mut most = 0;
    for rx in waiting {
        match frame_of(rx).await {
            Ok(Frame::Int(n)) => most = most.max(n),
            Ok(_) => return unexpected(),
            Err(e) => return e,
        }
    }
    reply_bytes(&Reply::Int(most), 2)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmations_are_the_servers_bytes() {
        let ch = Bytes::from_static(b"news");
        assert_eq!(&confirmation("subscribe", Some(&ch), 2, 2)[..], b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:2\r\n");
        assert_eq!(&confirmation("subscribe", Some(&ch), 2, 3)[..], b">3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:2\r\n");
        assert_eq!(&confirmation("unsubscribe", None, 0, 2)[..], b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
        assert_eq!(&confirmation("unsubscribe", None, 0, 3)[..], b">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n");
    }

    #[test]
    fn messages_change_protocol() {
        let items = vec![
            Frame::Bulk(Some(Bytes::from_static(b"message"))),
            Frame::Bulk(Some(Bytes::from_static(b"c"))),
            Frame::Bulk(Some(Bytes::from_static(b"hi"))),
        ];
        assert_eq!(&reencode(&items, 3)[..], b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n");
        assert_eq!(&reencode(&items, 2)[..], b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n");
    }

    #[test]
    fn outbox_keeps_order_behind_a_waiting_confirmation() {
        let mut o = Outbox::default();
        o.ready(Bytes::from_static(b"a"));
        let t = o.waiting(Bytes::from_static(b"b"), 2);
        o.ready(Bytes::from_static(b"c"));
        assert_eq!(o.take_ready().as_deref(), Some(&b"a"[..]));
        assert_eq!(o.take_ready(), None);
        o.confirmed(t);
        assert_eq!(o.take_ready(), None);
        o.confirmed(t);
        assert_eq!(o.take_ready().as_deref(), Some(&b"bc"[..]));
        assert!(o.is_empty());
        let t1 = o.waiting(Bytes::from_static(b"x"), 1);
        let t2 = o.waiting(Bytes::from_static(b"y"), 1);
        let err = Bytes::from_static(b"-ERR no\r\n");
        o.refused(t1, Some(&err));
        o.refused(t2, None);
        assert_eq!(o.take_ready().as_deref(), Some(&b"-ERR no\r\n"[..]));
        assert!(o.is_empty());
    }

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
