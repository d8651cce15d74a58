//! Transactions through the proxy: MULTI … EXEC, DISCARD, WATCH, UNWATCH.
//!
//! MULTI … EXEC is queued here and sent at EXEC as one batch
//! (`MULTI`, the commands, `EXEC`) to the one server all its keys live on
//! (looked up again at EXEC, so a servers.json reload in between sends it
//! where the keys live now); a queued command whose keys are elsewhere is
//! refused with CROSSSLOT and the transaction aborts at EXEC.
//!
//! WATCH works as in twemproxy- or envoy-style proxies that support it:
//!
//! - Its keys must all live on one server (else CROSSSLOT, like a
//!   cross-server MULTI); a later WATCH must name keys of the same server.
//! - The first WATCH waits for every earlier reply of the client (so its
//!   earlier writes cannot dirty the watch), then opens a connection of its
//!   own to that server ([`Watching`]: authenticated and in the client's
//!   protocol and database like pool connections, never shared) and sends
//!   WATCH on it. While the watch lasts, every request of the client for
//!   that server travels on this connection, in order: reads between WATCH
//!   and MULTI, the MULTI … EXEC batch, fan-out parts. The server's own
//!   optimistic lock therefore applies unchanged; SELECT and HELLO are
//!   repeated on it so it follows the client.
//! - A MULTI after WATCH is bound to the watched server: a queued command
//!   with a key elsewhere fails with CROSSSLOT and EXEC answers EXECABORT.
//! - EXEC (run, aborted or refused), DISCARD, UNWATCH, RESET and a
//!   disconnect end the watch: the proxy waits for every earlier reply (so
//!   nothing still travelling on the watch connection can be overtaken by
//!   the client's next request on a pool connection), then closes the
//!   connection, which also drops the server's watch state.
//! - When the ring changed since WATCH so that a watched or queued key now
//!   lives on another server, EXEC is not sent: it answers the null array
//!   of an aborted transaction, as a dirty WATCH would (commands queued
//!   after such a change are accepted unchecked: they will not run). When
//!   the watch connection broke, the watch is void: other requests go back
//!   to the pool and EXEC answers the error naming the server.
//!
//! Cost: queueing O(arguments) per command; WATCH costs one connect and
//! one wait for the client's earlier replies; ending a watch costs one wait.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use inmemory::cmd::table::{flags, CommandSpec};
use inmemory::protocol::Reply;
use tokio::sync::oneshot;

use crate::pool::{encode_command, Answer, Backend, Conn};
use crate::router::{Flow, Pending, Router, CROSSSLOT};

/// A transaction being queued.
pub(crate) struct Multi {
    /// The queued commands, encoded.
    pub cmds: BytesMut,
    /// How many commands are queued.
    pub count: u32,
    /// The server every queued key lives on (the watched one after WATCH).
    pub server: Option<Arc<Backend>>,
    /// Every queued key, to look their server up again at EXEC.
    pub keys: Vec<Bytes>,
    /// A command failed to queue: EXEC answers EXECABORT.
    pub error: bool,
}

/// A WATCH in force: the client's own connection to the watched server.
pub(crate) struct Watching {
    /// The server holding every watched key.
    pub backend: Arc<Backend>,
    /// Opened for this watch, used by this client only.
    pub conn: Conn,
    /// Every key watched so far.
    pub keys: Vec<Bytes>,
}

impl Watching {
    /// Sends on the watch connection; an error naming the server when it broke. O(1).
    pub fn request(&self, data: Bytes, replies: u32, frame: bool) -> oneshot::Receiver<Answer> {
        if self.conn.is_alive() {
            return self.conn.request(data, replies, frame);
        }
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(Err(self.backend.unavailable("connection lost (the WATCH is void)")));
        rx
    }
}

fn command(args: &[&[u8]]) -> Bytes {
    let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
    let mut data = BytesMut::new();
    encode_command(&args, &mut data);
    data.freeze()
}

impl Router {
    /// MULTI: starts queueing (bound to the watched server after WATCH). O(1).
    pub(crate) async fn multi_cmd(&mut self) -> Flow {
        if self.multi.is_some() {
            return self.error("ERR MULTI calls can not be nested").await;
        }
        let server = self.watching.as_ref().map(|w| w.backend.clone());
        self.multi = Some(Multi { cmds: BytesMut::new(), count: 0, server, keys: Vec::new(), error: false });
        self.reply(Reply::Status("OK")).await
    }

    /// True when the ring moved a key off `b` since it was routed there. O(keys × log points).
    fn moved<'k>(&self, b: &Arc<Backend>, keys: impl IntoIterator<Item = &'k Bytes>) -> bool {
        keys.into_iter().any(|k| !self.topo.route(k).is_some_and(|r| Arc::ptr_eq(r, b)))
    }

    /// Queues a command inside MULTI after checking where its keys live.
    pub(crate) async fn queue(&mut self, spec: &'static CommandSpec, args: &[Bytes]) -> Flow {
        if self.watching.as_ref().is_some_and(|w| self.moved(&w.backend, &w.keys)) {
            // The watch is void: EXEC will answer the aborted transaction's null.
            if let Some(m) = self.multi.as_mut() {
                m.count += 1;
            }
            return self.reply(Reply::Status("QUEUED")).await;
        }
        let name = spec.alias_of.unwrap_or(spec.name);
        if matches!(name, "eval" | "eval_ro") {
            // Its body serves later EVALSHAs (scripting.rs); no server is noted as holding it yet.
            self.cluster.scripts.remember(&args[1]);
        }
        let keyless_ok = matches!(name, "ping" | "echo" | "time" | "unwatch");
        let mut keys = Vec::new();
        let target = if spec.first_key > 0 || spec.has(flags::MOVABLE_KEYS) {
            match spec.key_positions(args) {
                Some(pos) => {
                    keys.extend(pos.iter().map(|&i| args[i].clone()));
                    self.server_of(&keys)
                }
                None => Ok(None),
            }
        } else if matches!(name, "publish" | "spublish") {
            // Routed by channel, as outside MULTI (`pubsub/`).
            keys.push(args[1].clone());
            self.server_of(&keys)
        } else if keyless_ok {
            Ok(None)
        } else {
            Err(format!("ERR proxy: '{name}' cannot be used inside MULTI"))
        };
        let Some(m) = self.multi.as_mut() else { return Flow::Continue };
        let target = target.and_then(|t| match (t, &m.server) {
            (Some(t), Some(s)) if !Arc::ptr_eq(&t, s) => Err(CROSSSLOT.to_string()),
            (t, _) => Ok(t),
        });
        match target {
            Ok(t) => {
                if m.server.is_none() {
                    m.server = t;
                }
                encode_command(args, &mut m.cmds);
                m.count += 1;
                m.keys.append(&mut keys);
                self.reply(Reply::Status("QUEUED")).await
            }
            Err(e) => {
                m.error = true;
                self.error(&e).await
            }
        }
    }

    /// EXEC: sends the queued batch to the server of its keys (on the
    /// watch connection after WATCH, then ends the watch). O(queued bytes).
    pub(crate) async fn exec(&mut self) -> Flow {
        let Some(m) = self.multi.take() else { return self.error("ERR EXEC without MULTI").await };
        if m.error {
            let flow = self.error("EXECABORT Transaction discarded because of previous errors.").await;
            self.release_watch().await;
            return flow;
        }
        if self.watching.is_some() {
            return self.exec_watched(m).await;
        }
        if m.count == 0 {
            return self.reply(Reply::Array(vec![])).await;
        }
        let b = match self.server_of(&m.keys) {
            Ok(Some(b)) => b,
            Ok(None) => match self.any_server() {
                Some(b) => b,
                None => return self.error("ERR proxy: no server is available").await,
            },
            Err(e) => return self.error(&e).await,
        };
        if let Err(e) = self.settle_keys(&m.keys).await {
            return self.error(&e).await;
        }
        let rx = self.send(&b, batch(&m), m.count + 2, false).await;
        self.flow(Pending::Backend(rx)).await
    }

    /// EXEC on the watch connection, unless the ring moved a key meanwhile.
    async fn exec_watched(&mut self, m: Multi) -> Flow {
        let Some(w) = self.watching.as_ref() else { return Flow::Continue };
        let flow = if self.moved(&w.backend, w.keys.iter().chain(&m.keys)) {
            self.reply(Reply::NilArray).await
        } else if let Err(e) = self.settle_keys(&m.keys).await {
            self.error(&e).await
        } else {
            w.backend.stats.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let rx = w.request(batch(&m), m.count + 2, false);
            self.flow(Pending::Backend(rx)).await
        };
        self.release_watch().await;
        flow
    }

    /// DISCARD: drops the queued commands and ends the watch. O(1).
    pub(crate) async fn discard(&mut self) -> Flow {
        if self.multi.take().is_none() {
            return self.error("ERR DISCARD without MULTI").await;
        }
        let flow = self.reply(Reply::Status("OK")).await;
        self.release_watch().await;
        flow
    }

    /// UNWATCH: ends the watch, if any. O(1).
    pub(crate) async fn unwatch(&mut self) -> Flow {
        let flow = self.reply(Reply::Status("OK")).await;
        self.release_watch().await;
        flow
    }

    /// WATCH: opens the watch connection (first WATCH) and sends WATCH on it.
    pub(crate) async fn watch(&mut self, args: &[Bytes]) -> Flow {
        if self.multi.is_some() {
            return self.error("ERR WATCH inside MULTI is not allowed").await;
        }
        let b = match self.server_of(&args[1..]) {
            Ok(Some(b)) => b,
            Ok(None) => return self.error("ERR proxy: no server is available").await,
            Err(e) => return self.error(&e).await,
        };
        // A watched key still on a previous owner moves before the watch starts.
        if let Err(e) = self.settle_keys(&args[1..]).await {
            return self.error(&e).await;
        }
        match &self.watching {
            Some(w) if !Arc::ptr_eq(&w.backend, &b) => return self.error(CROSSSLOT).await,
            Some(_) => {}
            None => {
                // The client's earlier requests run before the watch starts.
                self.barrier().await;
                let conn = match b.not_in_backoff() {
                    Ok(()) => b.connect(self.proto, true, self.db).await,
                    Err(e) => Err(e),
                };
                match conn {
                    Ok(conn) => self.watching = Some(Watching { backend: b.clone(), conn, keys: Vec::new() }),
                    Err(e) => return self.error(&String::from(e)).await,
                }
            }
        }
        let Some(w) = self.watching.as_mut() else { return Flow::Continue };
        w.keys.extend(args[1..].iter().cloned());
        let mut data = BytesMut::new();
        encode_command(args, &mut data);
        b.stats.requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let rx = w.request(data.freeze(), 1, false);
        self.flow(Pending::Backend(rx)).await
    }

    /// Ends the watch, if any: waits for every earlier reply (the watch
    /// connection then has nothing in flight), then closes the connection.
    pub(crate) async fn release_watch(&mut self) {
        if self.watching.is_some() {
            self.barrier().await;
            self.watching = None;
        }
    }

    /// Repeats a protocol switch on the watch connection (its replies must
    /// stay in the client's protocol). Fire and forget: ordered before
    /// anything sent on it later.
    pub(crate) fn watch_follow_proto(&self, proto: u8) {
        if let Some(w) = &self.watching {
            let p = if proto >= 3 { b"3" } else { b"2" };
            drop(w.request(command(&[b"HELLO", p]), 1, false));
        }
    }

    /// Repeats SELECT on the watch connection; `Err` with the server's
    /// error line when it refused.
    pub(crate) async fn watch_follow_db(&self, db: u32) -> Result<(), String> {
        let Some(w) = &self.watching else { return Ok(()) };
        let n = itoa::Buffer::new().format(db).as_bytes().to_vec();
        let rx = w.request(command(&[b"SELECT", &n]), 1, true);
        match crate::router::answer(rx).await {
            Ok(r) => match r.frame {
                Some(inmemory::protocol::frame::Frame::Error(e)) => Err(String::from_utf8_lossy(&e).into_owned()),
                _ => Ok(()),
            },
            Err(e) => Err(e),
        }
    }
}

/// `MULTI`, the queued commands, `EXEC`.
fn batch(m: &Multi) -> Bytes {
    let mut data = BytesMut::with_capacity(m.cmds.len() + 32);
    data.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n");
    data.extend_from_slice(&m.cmds);
    data.extend_from_slice(b"*1\r\n$4\r\nEXEC\r\n");
    data.freeze()
}
