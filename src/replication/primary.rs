//! The primary's side of a replica's connection: PSYNC/SYNC answered with
//! a partial resync from the backlog (`+CONTINUE`) or a full one
//! (`+FULLRESYNC`, an RDB snapshot, then the writes made since), after
//! which the connection only carries the stream one way and
//! `REPLCONF ACK` the other.
//!
//! The snapshot is sent by [`super::fullsync`] (disk-backed or diskless);
//! the replica is attached to the stream under the same shard locks the
//! snapshot's fork is taken under, so the stream it then receives starts
//! exactly where the snapshot ends. The writer counts what it has not yet
//! written, so a replica that stops reading hits its output limit
//! ([`super::stream::Sink`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};
use tokio::sync::Notify;

use super::fullsync::{self, Outcome};
use super::stream::Sink;
use super::{ReplicaPeer, KIND_REPLICA};
use crate::protocol::frame::{Frame, FrameReader};
use crate::server::client::ClientState;
use crate::server::Server;

/// What a replica asked for.
#[derive(Debug, Clone)]
pub enum SyncRequest {
    /// `SYNC` (pre-2.8 replicas): always a full sync, no `+FULLRESYNC` line.
    Sync,
    /// `PSYNC <replid> <offset>` (`? -1`: no history).
    Psync(Bytes, Bytes),
}

/// Serves a replica on a client connection until it goes away, is killed
/// or the server shuts down. `pending`: bytes it sent after its PSYNC.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    srv: &Arc<Server>,
    stream: &mut S,
    client: &ClientState,
    pending: &mut BytesMut,
    req: SyncRequest,
) {
    let handle = client.handle.clone();
    let id = handle.id;
    let r = &srv.replication;
    let conf = r.pending.lock().remove(&id).unwrap_or_default();
    let ip =
        conf.ip.unwrap_or_else(|| handle.addr.rsplit_once(':').map_or(handle.addr.clone(), |(h, _)| h.to_string()));
    handle.kind.store(KIND_REPLICA, Ordering::Relaxed);
    let peer = Arc::new(ReplicaPeer {
        handle: handle.clone(),
        port: conf.port,
        ip,
        state: Default::default(),
        ack_offset: Default::default(),
        ack_ms: crate::db::coarse_ms().into(),
    });
    r.peers.lock().insert(id, peer.clone());
    let (tx, mut rx) = unbounded_channel();
    r.stream.set_limit(srv.config.read().client_output_buffer_limit.replica());
    let wake = Arc::new(Notify::new());
    let (sink, queued) = Sink::new(handle.clone(), tx, wake.clone());
    let mut sink = Some(sink);
    let mut partial = None;
    if let SyncRequest::Psync(replid, offset) = &req {
        if &replid[..] != b"?" {
            let replid = String::from_utf8_lossy(replid);
            let from = std::str::from_utf8(offset).ok().and_then(|o| o.parse::<u64>().ok());
            if let Some(from) = from {
                partial = r.stream.try_continue(&mut sink, &replid, from);
            }
            if partial.is_none() {
                r.sync_partial_err.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let outcome = match (partial, sink) {
        (Some((replid, tail)), _) => {
            r.sync_partial_ok.fetch_add(1, Ordering::Relaxed);
            tracing::info!(replica = %handle.addr, "Partial resynchronization request accepted");
            let head = format!("+CONTINUE {replid}\r\n");
            match stream.write_all(head.as_bytes()).await.is_ok() && stream.write_all(&tail).await.is_ok() {
                true => Outcome::Sent,
                false => Outcome::Failed,
            }
        }
        (None, Some(sink)) => {
            let psync = matches!(req, SyncRequest::Psync(..));
            fullsync::run(srv, stream, &peer, sink, psync, conf.eof).await
        }
        (None, None) => Outcome::Failed,
    };
    if outcome != Outcome::Failed {
        let await_ack = outcome == Outcome::SentAwaitAck;
        if !await_ack {
            peer.state.store(2, Ordering::Relaxed);
        }
        peer.ack_ms.store(crate::db::coarse_ms(), Ordering::Relaxed);
        let feed = Feed { rx: &mut rx, wake: &wake, queued: &queued };
        stream_to(srv, stream, &peer, feed, pending, await_ack).await;
    }
    r.stream.detach(id);
    r.peers.lock().remove(&id);
    r.acked.notify_waiters();
}

/// The replica's end of the stream (see [`super::stream::Sink`]).
struct Feed<'a> {
    /// Stream bytes flushed to this replica.
    rx: &'a mut UnboundedReceiver<Bytes>,
    /// Notified when stream bytes wait to be flushed.
    wake: &'a Notify,
    /// Bytes in `rx` or being written.
    queued: &'a AtomicUsize,
}

/// Writes the stream to the replica as it comes and reads its ACKs, until
/// the link ends (closed, killed, `repl-timeout` without an ACK, shutdown).
async fn stream_to<S: AsyncRead + AsyncWrite + Unpin>(
    srv: &Server,
    stream: &mut S,
    peer: &ReplicaPeer,
    feed: Feed<'_>,
    input: &mut BytesMut,
    mut await_ack: bool,
) {
    let Feed { rx, wake, queued } = feed;
    let handle = &peer.handle;
    let mut reader = FrameReader::new();
    let mut shutdown = srv.shutdown.subscribe();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut out = BytesMut::new();
    loop {
        while let Ok(Some(frame)) = reader.next(input) {
            if on_replica_frame(srv, peer, &frame) && await_ack {
                // Redis 7's replicaPutOnline: a diskless replica is online
                // (and gets the stream) from its first ACK.
                await_ack = false;
                peer.state.store(2, Ordering::Relaxed);
            }
        }
        tokio::select! {
            _ = wake.notified() => {
                // The connections running now feed on first, so one flush
                // (and one socket write) carries all their writes.
                tokio::task::yield_now().await;
                srv.replication.stream.flush();
            }
            m = rx.recv(), if !await_ack => {
                let Some(first) = m else { return };
                out.clear();
                out.extend_from_slice(&first);
                while out.len() < 1 << 20 {
                    let Ok(more) = rx.try_recv() else { break };
                    out.extend_from_slice(&more);
                }
                // Killable while the replica does not read (output limit).
                // The clients cron's shrink requests share that notification:
                // they must not cut a write short (the replica would lose
                // the rest of it), so the write goes on in cancel-safe steps.
                let mut written = 0;
                while written < out.len() {
                    tokio::select! {
                        w = stream.write(&out[written..]) => match w {
                            Ok(n) if n > 0 => written += n,
                            _ => return,
                        },
                        _ = handle.kill_notify.notified() => if handle.killed.load(Ordering::Acquire) { return },
                    }
                }
                queued.fetch_sub(out.len(), Ordering::Relaxed);
                srv.stats.net_output_bytes.fetch_add(out.len() as u64, Ordering::Relaxed);
            }
            n = stream.read_buf(input) => {
                if !matches!(n, Ok(n) if n > 0) {
                    return;
                }
            }
            _ = tick.tick() => {
                let timeout = srv.config.read().repl_timeout.max(1) as u64 * 1000;
                if crate::db::coarse_ms().saturating_sub(peer.ack_ms.load(Ordering::Relaxed)) > timeout {
                    tracing::warn!(replica = %handle.addr, "Disconnecting timedout replica");
                    return;
                }
            }
            _ = handle.kill_notify.notified() => {
                if handle.killed.load(Ordering::Acquire) {
                    return;
                }
            }
            _ = crate::server::shutdown_started(&mut shutdown) => return,
        }
    }
}

/// `REPLCONF ACK <offset>` from a replica: recorded, WAIT woken. True
/// for an ACK.
fn on_replica_frame(srv: &Server, peer: &ReplicaPeer, frame: &Frame) -> bool {
    let Some(items) = frame.items() else { return false };
    let word = |i: usize| items.get(i).and_then(|f| f.as_bytes());
    let is = |i: usize, w: &[u8]| word(i).is_some_and(|a| a.eq_ignore_ascii_case(w));
    if is(0, b"replconf") && is(1, b"ack") {
        if let Some(off) = word(2).and_then(|o| std::str::from_utf8(o).ok()).and_then(|o| o.parse::<u64>().ok()) {
            peer.ack_offset.fetch_max(off, Ordering::Relaxed);
            peer.ack_ms.store(crate::db::coarse_ms(), Ordering::Relaxed);
            srv.replication.acked.notify_waiters();
            return true;
        }
    }
    false
}
