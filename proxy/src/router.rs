//! Per-client command routing: where each request goes and how its reply
//! comes back.
//!
//! A [`Router`] belongs to one client connection. For each request it
//! pushes one [`Pending`] reply on the client's reply queue, in request
//! order; the session's writer resolves them in that order, so replies are
//! in order per client while the requests themselves travel pipelined.
//!
//! - Commands with keys go to the server of their keys (looked up in the
//!   command table, hash tags honoured). When the keys live on different
//!   servers, MGET MSET DEL UNLINK EXISTS TOUCH, and XREAD/XREADGROUP
//!   without BLOCK, are split and merged (`fanout.rs`); every other command
//!   answers `-CROSSSLOT Keys in request don't hash to the same slot`.
//! - KEYS, DBSIZE/SIZE, FLUSHDB, FLUSHALL, SCAN, RANDOMKEY, INFO and CONFIG
//!   fan out to every server on the ring (`fanout.rs`).
//! - PING, ECHO, HELLO, AUTH, CLIENT, SELECT, QUIT, RESET and COMMAND are
//!   answered by the proxy (`local.rs`).
//! - EVAL, EVALSHA (their `_RO` forms) and FCALL go to the server of their
//!   keys like any keyed command; SCRIPT and FUNCTION fan out where they
//!   must (`scripting.rs`: also the proxy's memory of script bodies, which
//!   spares clients NOSCRIPT on a server new to a script).
//! - MULTI … EXEC, WATCH, UNWATCH and DISCARD: `txn.rs` (MULTI is sent as
//!   one batch to the server of its keys; WATCH holds a connection of the
//!   client's own to the watched server until EXEC).
//! - SELECT n: the client's database. Requests travel on the pool
//!   connections of that database (`pool.rs`: one pool per protocol and
//!   database, each connection selected its database once in its
//!   handshake), so fan-outs and transactions honour it too. SELECT is
//!   checked against every server on the ring (the server's own error,
//!   e.g. `ERR DB index is out of range`, when one refuses) and waits for
//!   the client's earlier replies, so requests on the old database's
//!   connections cannot be overtaken by later ones on the new.
//! - Pub/Sub (`pubsub/`): PUBLISH and SPUBLISH go to their channel's
//!   server, as a key would; (P|S)SUBSCRIBE and their UNSUBSCRIBEs give the
//!   client a subscriber (connections of its own, subscribed mode) that the
//!   session then also listens to; PUBSUB fans out. MONITOR is refused.
//! - Blocking commands (BLPOP …, XREAD/XREADGROUP with BLOCK) travel on a
//!   connection of their own, so they never hold up the shared ones; the
//!   client waits for the reply before its next request is read, as with a
//!   direct connection. Their keys must live on one server: a wait cannot
//!   be split (the first server to answer would have to cancel the others').
//!
//! - While a ring change is being resharded (`reshard/`), a command's keys
//!   that may still be on their previous owner are moved to their owner
//!   first (a read of one key is answered by the previous owner while the
//!   key is there).
//! - With `"read_from": "replica"`, read-only commands go to a replica of
//!   their server when it lists one (never under WATCH or inside MULTI).
//!
//! Cost: O(arguments) per request plus one ring lookup (O(log points)) per key.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use inmemory::cmd::table::{self, flags, CommandSpec};
use inmemory::protocol::{encode, Reply};
use tokio::sync::{mpsc, oneshot};

use crate::cluster::{Cluster, Topology};
use crate::pool::{encode_command, Answer, Backend, Conn};
use crate::pubsub::Subscriber;
use crate::txn::{Multi, Watching};

/// The error for keys of one request living on different servers.
pub const CROSSSLOT: &str = "CROSSSLOT Keys in request don't hash to the same slot";

/// MONITOR's answer: the proxy has no single command stream to show.
const MONITOR_REFUSED: &str = "ERR MONITOR is not supported through the proxy; connect to a data server";

/// A reply on its way to the client.
pub enum Pending {
    /// Ready bytes.
    Bytes(Bytes),
    /// A server's reply, forwarded as it is.
    Backend(oneshot::Receiver<Answer>),
    /// A merged reply being computed.
    Future(Pin<Box<dyn Future<Output = Bytes> + Send>>),
    /// Signalled once every earlier reply was resolved.
    Barrier(oneshot::Sender<()>),
}

/// What the session does after a request.
pub enum Flow {
    /// Read the next request.
    Continue,
    /// Write what is queued, then close (QUIT, protocol error).
    Close,
    /// Read no request until this fires (a blocking command is waiting).
    Wait(oneshot::Receiver<()>),
}

/// One client's routing state.
pub struct Router {
    pub(crate) cluster: Arc<Cluster>,
    pub(crate) topo: Arc<Topology>,
    out: mpsc::Sender<Pending>,
    /// The client id (CLIENT ID, HELLO).
    pub id: u64,
    /// RESP version negotiated with HELLO.
    pub proto: u8,
    /// Passed AUTH (or no --requirepass).
    pub authed: bool,
    /// CLIENT SETNAME.
    pub name: Option<Bytes>,
    /// `ip:port` of the client.
    pub peer: String,
    /// The selected database (SELECT).
    pub db: u32,
    pub(crate) multi: Option<Multi>,
    /// The WATCH in force and its connection.
    pub(crate) watching: Option<Watching>,
    /// Connections for blocking commands, by server, protocol and database.
    dedicated: Vec<(Arc<Backend>, u8, u32, Conn)>,
    /// Subscriptions and their connections, once the client subscribed (`pubsub/`).
    pub(crate) pubsub: Option<Box<Subscriber>>,
}

/// Encodes a reply for a client speaking `proto`.
pub fn reply_bytes(r: &Reply, proto: u8) -> Bytes {
    let mut b = BytesMut::new();
    encode(r, proto, &mut b);
    b.freeze()
}

/// An error line as RESP bytes.
pub fn error_bytes(msg: &str) -> Bytes {
    reply_bytes(&Reply::err(msg), 2)
}

/// Awaits a server's answer (a lost task becomes an error line).
pub async fn answer(rx: oneshot::Receiver<Answer>) -> Answer {
    rx.await.unwrap_or_else(|_| Err("ERR proxy: connection to the server lost".into()))
}

/// Redis's reply to an unknown command.
fn unknown_command(args: &[Bytes]) -> String {
    let mut list = String::new();
    for a in &args[1..] {
        if list.len() >= 128 {
            break;
        }
        let s: String = String::from_utf8_lossy(a).chars().take(128 - list.len()).collect();
        list.push_str(&format!("'{s}' "));
    }
    let name: String = String::from_utf8_lossy(&args[0]).chars().take(128).collect();
    format!("ERR unknown command '{name}', with args beginning with: {list}")
}

impl Router {
    /// A router for a new client whose replies go to `out`.
    pub fn new(cluster: Arc<Cluster>, out: mpsc::Sender<Pending>, peer: String) -> Router {
        let authed = cluster.requirepass.is_none();
        Router {
            id: cluster.client_id(),
            topo: cluster.topology(),
            cluster,
            out,
            proto: 2,
            authed,
            name: None,
            peer,
            db: 0,
            multi: None,
            watching: None,
            dedicated: Vec::new(),
            pubsub: None,
        }
    }

    /// The client's pool slot on every server.
    pub(crate) fn slot(&self) -> usize {
        self.id as usize
    }

    /// Queues a reply; false when the client is gone.
    pub(crate) async fn push(&mut self, p: Pending) -> bool {
        self.out.send(p).await.is_ok()
    }

    /// Queues a locally built reply.
    pub(crate) async fn reply(&mut self, r: Reply) -> Flow {
        let b = reply_bytes(&r, self.proto);
        self.flow(Pending::Bytes(b)).await
    }

    /// Queues an error reply.
    pub(crate) async fn error(&mut self, msg: &str) -> Flow {
        self.flow(Pending::Bytes(error_bytes(msg))).await
    }

    pub(crate) async fn flow(&mut self, p: Pending) -> Flow {
        if self.push(p).await {
            Flow::Continue
        } else {
            Flow::Close
        }
    }

    /// Waits until every reply queued so far was resolved.
    pub(crate) async fn barrier(&mut self) {
        let (tx, rx) = oneshot::channel();
        if self.push(Pending::Barrier(tx)).await {
            let _ = rx.await;
        }
    }

    /// Sends one request to `b` on this client's pooled connection for its
    /// protocol and database (on the watch connection while `b` holds the
    /// client's WATCH and it is up); the receiver always gets an answer (an
    /// error naming the server if it is down).
    pub(crate) async fn send(
        &self,
        b: &Arc<Backend>,
        data: Bytes,
        replies: u32,
        frame: bool,
    ) -> oneshot::Receiver<Answer> {
        b.stats.requests.fetch_add(1, Ordering::Relaxed);
        // A broken watch connection leaves the watch void (EXEC fails): other requests use the pool.
        if let Some(w) = self.watching.as_ref().filter(|w| Arc::ptr_eq(&w.backend, b) && w.conn.is_alive()) {
            return w.request(data, replies, frame);
        }
        match b.get(self.slot(), self.proto, self.db).await {
            Ok(c) => c.request(data, replies, frame),
            Err(e) => {
                b.stats.errors.fetch_add(1, Ordering::Relaxed);
                let (tx, rx) = oneshot::channel();
                let _ = tx.send(Err(e.into()));
                rx
            }
        }
    }

    /// Forwards `args` to `b`; its reply goes to the client unchanged.
    pub(crate) async fn forward(&mut self, b: &Arc<Backend>, args: &[Bytes]) -> Flow {
        let mut data = BytesMut::new();
        encode_command(args, &mut data);
        let rx = self.send(b, data.freeze(), 1, false).await;
        self.flow(Pending::Backend(rx)).await
    }

    /// The first server on the ring (for keyless commands any server can answer).
    pub(crate) fn any_server(&self) -> Option<Arc<Backend>> {
        self.topo.ring_servers().next().cloned()
    }

    /// The server all `keys` live on: `Ok(None)` without keys, `Err` with
    /// the error line when they are spread or no server is on the ring.
    pub(crate) fn server_of<'k>(
        &self,
        keys: impl IntoIterator<Item = &'k Bytes>,
    ) -> Result<Option<Arc<Backend>>, String> {
        let mut found: Option<&Arc<Backend>> = None;
        for k in keys {
            let Some(b) = self.topo.route(k) else { return Err("ERR proxy: no server is available".into()) };
            match found {
                Some(f) if !Arc::ptr_eq(f, b) => return Err(CROSSSLOT.into()),
                _ => found = Some(b),
            }
        }
        Ok(found.cloned())
    }

    /// The server for a command with keys: the one holding all of them, or
    /// without keys the first server on the ring; `Err` with the error line
    /// (CROSSSLOT, no server). O(keys × log points).
    pub(crate) fn key_server(&self, spec: &'static CommandSpec, args: &[Bytes]) -> Result<Arc<Backend>, String> {
        let target = match spec.key_positions(args) {
            Some(pos) => self.server_of(pos.iter().map(|&i| &args[i]))?,
            None => None,
        };
        target.or_else(|| self.any_server()).ok_or_else(|| "ERR proxy: no server is available".to_string())
    }

    /// Moves the keys of a command that may still be on a previous owner
    /// (resharding, `reshard/settle.rs`). O(1) without a migration.
    pub(crate) async fn settle_command(&self, spec: &'static CommandSpec, args: &[Bytes]) -> Result<(), String> {
        if !self.cluster.reshard.active() {
            return Ok(());
        }
        match spec.key_positions(args) {
            Some(pos) => self.settle_keys(pos.iter().map(|&i| &args[i])).await,
            None => Ok(()),
        }
    }

    /// Handles one request.
    pub async fn handle(&mut self, args: Vec<Bytes>) -> Flow {
        self.cluster.stats.commands.fetch_add(1, Ordering::Relaxed);
        if self.topo.generation != self.cluster.generation() {
            self.topo = self.cluster.topology();
        }
        if self.pubsub.is_some() && !self.adds_to_subscriptions(&args) {
            // Replies must not overtake the subscribe confirmations still owed.
            if let Flow::Close = self.pubsub_drain().await {
                return Flow::Close;
            }
        }
        let Some(spec) = table::lookup(&args[0]) else {
            if let Some(m) = self.multi.as_mut() {
                m.error = true;
            }
            return self.error(&unknown_command(&args)).await;
        };
        let name = spec.alias_of.unwrap_or(spec.name);
        if !self.authed && !spec.has(flags::NO_AUTH) {
            return self.error("NOAUTH Authentication required.").await;
        }
        if !spec.arity_ok(args.len()) {
            if let Some(m) = self.multi.as_mut() {
                m.error = true;
            }
            return self.error(&format!("ERR wrong number of arguments for '{}' command", spec.name)).await;
        }
        if self.multi.is_some() && !matches!(name, "exec" | "discard" | "multi" | "watch" | "quit" | "reset") {
            return self.queue(spec, &args).await;
        }
        if self.pubsub.is_some() && !crate::pubsub::is_subscription_command(name) {
            if let Some(flow) = self.while_subscribed(spec, name, &args).await {
                return flow;
            }
        }
        match name {
            "ping" | "echo" | "hello" | "auth" | "client" | "select" | "quit" | "reset" | "command" => {
                self.local(name, &args).await
            }
            "multi" => self.multi_cmd().await,
            "exec" => self.exec().await,
            "discard" => self.discard().await,
            "watch" => self.watch(&args).await,
            "unwatch" => self.unwatch().await,
            "mget" | "mset" | "del" | "unlink" | "exists" | "touch" => self.multi_key(name, &args).await,
            "keys" | "dbsize" | "flushdb" | "flushall" | "scan" | "randomkey" | "info" | "config" => {
                self.fan_out(name, &args).await
            }
            "time" | "lolwut" => match self.any_server() {
                Some(b) => self.forward(&b, &args).await,
                None => self.error("ERR proxy: no server is available").await,
            },
            "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "ssubscribe" | "sunsubscribe" => {
                self.subscription(name, &args).await
            }
            "publish" | "spublish" => self.publish(&args).await,
            "monitor" => self.error(MONITOR_REFUSED).await,
            "pubsub" => self.pubsub_query(&args).await,
            "eval" | "evalsha" | "eval_ro" | "evalsha_ro" => self.eval(spec, &args).await,
            "script" => self.script(&args).await,
            "function" => self.function(&args).await,
            "move" | "swapdb" | "shutdown" | "debug" | "latency" | "wait" => {
                self.error(&format!("ERR proxy: '{name}' is not supported by the proxy")).await
            }
            "xread" | "xreadgroup" if !crate::fanout::stream_read_blocks(&args) => self.read_streams(spec, &args).await,
            _ if spec.first_key > 0 || spec.has(flags::MOVABLE_KEYS) => self.keyed(spec, &args).await,
            _ => self.error(&format!("ERR proxy: '{name}' is not supported by the proxy")).await,
        }
    }

    /// A command whose keys must all live on one server.
    async fn keyed(&mut self, spec: &'static CommandSpec, args: &[Bytes]) -> Flow {
        let b = match self.key_server(spec, args) {
            Ok(b) => b,
            Err(e) => return self.error(&e).await,
        };
        if let Some(r) = self.replica_read(spec, args, &b) {
            // A replica that cannot be connected to leaves the read to the primary.
            if r.get(self.slot(), self.proto, self.db).await.is_ok() {
                return self.forward(&r, args).await;
            }
        }
        if let Some(flow) = self.read_through(spec, args, &b).await {
            return flow;
        }
        if let Err(e) = self.settle_command(spec, args).await {
            return self.error(&e).await;
        }
        if spec.has(flags::BLOCKING) {
            return self.blocking(&b, args).await;
        }
        self.forward(&b, args).await
    }

    /// With `"read_from": "replica"`, the replica of `b` a read-only
    /// command goes to: never inside a WATCH (the watch is on the primary),
    /// for blocking commands, or for a key that may still be on a previous
    /// owner (resharding); `None` when `b` has no usable replica. Replicas
    /// lag: a client may not see its own write at once. O(replicas).
    fn replica_read(&self, spec: &'static CommandSpec, args: &[Bytes], b: &Arc<Backend>) -> Option<Arc<Backend>> {
        if b.replicas.is_empty()
            || !self.cluster.read_from_replica.load(Ordering::Relaxed)
            || !spec.has(flags::READONLY)
            || spec.has(flags::BLOCKING)
            || self.watching.is_some()
        {
            return None;
        }
        if self.cluster.reshard.active() {
            let pos = spec.key_positions(args)?;
            let plan = self.cluster.reshard.plan();
            if pos.iter().any(|&i| !self.cluster.reshard.fallbacks(&plan, &self.topo, self.db, &args[i], b).is_empty())
            {
                return None;
            }
        }
        b.replica_for(self.slot()).cloned()
    }

    /// A blocking command: on this client's dedicated connection to `b`,
    /// after every earlier reply, and nothing else is read until it answers.
    async fn blocking(&mut self, b: &Arc<Backend>, args: &[Bytes]) -> Flow {
        self.barrier().await;
        let (proto, db) = (self.proto, self.db);
        self.dedicated.retain(|(.., c)| c.is_alive());
        let idx = self.dedicated.iter().position(|(d, p, n, _)| Arc::ptr_eq(d, b) && *p == proto && *n == db);
        let idx = match idx {
            Some(i) => i,
            None => match b.connect(proto, false, db).await {
                Ok(c) => {
                    self.dedicated.push((b.clone(), proto, db, c));
                    self.dedicated.len() - 1
                }
                Err(e) => return self.error(&String::from(e)).await,
            },
        };
        let mut data = BytesMut::new();
        encode_command(args, &mut data);
        b.stats.requests.fetch_add(1, Ordering::Relaxed);
        let rx = self.dedicated[idx].3.request(data.freeze(), 1, false);
        if !self.push(Pending::Backend(rx)).await {
            return Flow::Close;
        }
        let (tx, rx) = oneshot::channel();
        if !self.push(Pending::Barrier(tx)).await {
            return Flow::Close;
        }
        Flow::Wait(rx)
    }
}
