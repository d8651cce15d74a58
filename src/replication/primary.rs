//! The primary's side of a replica's connection: PSYNC/SYNC answered with
//! a partial resync from the backlog (`+CONTINUE`) or a full one
//! (`+FULLRESYNC`, an RDB snapshot, then the writes made since), after
//! which the connection only carries the stream one way and
//! `REPLCONF ACK` the other.
//!
//! The snapshot is written by a forked child (as BGSAVE) to a temporary
//! file in `dir` and sent disk-style (`$<len>\r\n<rdb>`), which every
//! replica understands; the replica is attached to the stream under the
//! same shard locks the fork is taken under, so the stream it then
//! receives starts exactly where the snapshot ends.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

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
    let mut partial = None;
    if let SyncRequest::Psync(replid, offset) = &req {
        if &replid[..] != b"?" {
            let replid = String::from_utf8_lossy(replid);
            let from = std::str::from_utf8(offset).ok().and_then(|o| o.parse::<u64>().ok());
            partial = from.and_then(|from| r.stream.try_continue(id, &tx, &replid, from));
            if partial.is_none() {
                r.sync_partial_err.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    let synced = match partial {
        Some((replid, tail)) => {
            r.sync_partial_ok.fetch_add(1, Ordering::Relaxed);
            tracing::info!(replica = %handle.addr, "Partial resynchronization request accepted");
            let head = format!("+CONTINUE {replid}\r\n");
            stream.write_all(head.as_bytes()).await.is_ok() && stream.write_all(&tail).await.is_ok()
        }
        None => full_sync(srv, stream, &peer, tx, matches!(req, SyncRequest::Psync(..))).await,
    };
    if synced {
        peer.state.store(2, Ordering::Relaxed);
        peer.ack_ms.store(crate::db::coarse_ms(), Ordering::Relaxed);
        stream_to(srv, stream, &peer, &mut rx, pending).await;
    }
    r.stream.detach(id);
    r.peers.lock().remove(&id);
    r.acked.notify_waiters();
}

/// The snapshot a full sync sends: a forked child writing it, and where.
struct Snapshot {
    pid: i32,
    path: PathBuf,
    /// The child was waited for (its pid may be reused: never signal it).
    reaped: bool,
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: signalling our own child, not yet reaped (its waiter
            // thread, still running, reaps it).
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Attaches the replica to the stream and forks the snapshot's writer,
/// both under every shard lock (the same instant). O(1) plus the fork.
fn start_snapshot(
    srv: &Server,
    id: u64,
    tx: tokio::sync::mpsc::UnboundedSender<Bytes>,
) -> Result<(super::stream::Attached, Snapshot), String> {
    let (dir, compress, backlog) = {
        let c = srv.config.read();
        (c.dir.clone(), c.rdbcompression, c.repl_backlog_size)
    };
    let path = dir.join(format!("temp-repl-{}-{id}.rdb", std::process::id()));
    let child_path = path.clone();
    let _applying = srv.replication.applying.lock();
    let mut l = srv.keyspace.lock_all();
    let attached = srv.replication.stream.attach(id, tx, backlog);
    match crate::persist::jobs::fork_child(&mut l, move |l, _| {
        crate::persist::snapshot::write_rdb(l, &child_path, compress)
    }) {
        Ok(pid) => Ok((attached, Snapshot { pid, path, reaped: false })),
        Err(e) => {
            drop(l);
            srv.replication.stream.detach(id);
            Err(e)
        }
    }
}

/// Waits for the child to exit (on a blocking thread); true when it
/// wrote the snapshot.
async fn child_done(pid: i32) -> bool {
    tokio::task::spawn_blocking(move || {
        let mut status = 0;
        loop {
            // SAFETY: waiting for our own child with a valid status pointer.
            let r = unsafe { libc::waitpid(pid, &mut status, 0) };
            if r == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return r == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
        }
    })
    .await
    .unwrap_or(false)
}

/// A full sync: `+FULLRESYNC` (for PSYNC), newlines while the child
/// writes (Redis's keepalive), then `$<len>\r\n` and the file. False when
/// the replica went away or the snapshot failed.
async fn full_sync<S: AsyncRead + AsyncWrite + Unpin>(
    srv: &Server,
    stream: &mut S,
    peer: &ReplicaPeer,
    tx: tokio::sync::mpsc::UnboundedSender<Bytes>,
    psync: bool,
) -> bool {
    let r = &srv.replication;
    let (attached, mut snap) = match start_snapshot(srv, peer.handle.id, tx) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("Can't start the replication snapshot: {e}");
            return false;
        }
    };
    r.sync_full.fetch_add(1, Ordering::Relaxed);
    tracing::info!(replica = %peer.handle.addr, offset = attached.offset, "Starting a full resynchronization");
    if psync {
        let head = format!("+FULLRESYNC {} {}\r\n", attached.replid, attached.offset);
        if stream.write_all(head.as_bytes()).await.is_err() {
            return false;
        }
    }
    let mut done = std::pin::pin!(child_done(snap.pid));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let ok = loop {
        tokio::select! {
            ok = &mut done => {
                snap.reaped = true;
                break ok;
            }
            _ = tick.tick() => {
                if stream.write_all(b"\n").await.is_err() {
                    return false;
                }
            }
            _ = peer.handle.kill_notify.notified() => {
                if peer.handle.killed.load(Ordering::Acquire) {
                    return false;
                }
            }
        }
    };
    if !ok {
        tracing::warn!("The replication snapshot child failed");
        return false;
    }
    peer.state.store(1, Ordering::Relaxed);
    let Ok(mut file) = tokio::fs::File::open(&snap.path).await else { return false };
    let Ok(meta) = file.metadata().await else { return false };
    let head = format!("${}\r\n", meta.len());
    if stream.write_all(head.as_bytes()).await.is_err() {
        return false;
    }
    let sent = tokio::io::copy(&mut file, stream).await;
    drop(snap);
    sent.is_ok_and(|n| n == meta.len())
}

/// Writes the stream to the replica as it comes and reads its ACKs, until
/// the link ends (closed, killed, `repl-timeout` without an ACK, shutdown).
async fn stream_to<S: AsyncRead + AsyncWrite + Unpin>(
    srv: &Server,
    stream: &mut S,
    peer: &ReplicaPeer,
    rx: &mut UnboundedReceiver<Bytes>,
    input: &mut BytesMut,
) {
    let handle = &peer.handle;
    let mut reader = FrameReader::new();
    let mut shutdown = srv.shutdown.subscribe();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut out = BytesMut::new();
    loop {
        while let Ok(Some(frame)) = reader.next(input) {
            on_replica_frame(srv, peer, &frame);
        }
        tokio::select! {
            m = rx.recv() => {
                let Some(first) = m else { return };
                out.clear();
                out.extend_from_slice(&first);
                while out.len() < 1 << 20 {
                    let Ok(more) = rx.try_recv() else { break };
                    out.extend_from_slice(&more);
                }
                if stream.write_all(&out).await.is_err() {
                    return;
                }
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

/// `REPLCONF ACK <offset>` from a replica: recorded, WAIT woken.
fn on_replica_frame(srv: &Server, peer: &ReplicaPeer, frame: &Frame) {
    let Some(items) = frame.items() else { return };
    let word = |i: usize| items.get(i).and_then(|f| f.as_bytes());
    let is = |i: usize, w: &[u8]| word(i).is_some_and(|a| a.eq_ignore_ascii_case(w));
    if is(0, b"replconf") && is(1, b"ack") {
        if let Some(off) = word(2).and_then(|o| std::str::from_utf8(o).ok()).and_then(|o| o.parse::<u64>().ok()) {
            peer.ack_offset.fetch_max(off, Ordering::Relaxed);
            peer.ack_ms.store(crate::db::coarse_ms(), Ordering::Relaxed);
            srv.replication.acked.notify_waiters();
        }
    }
}
