//! A full sync's snapshot, as the primary sends it.
//!
//! A forked child (as BGSAVE) writes the RDB image of the instant the
//! replica was attached to the stream (both under every shard lock), either
//! - disk-backed: to a temporary file in `dir`, sent once complete as
//!   `$<len>\r\n<rdb>` (what every replica understands), or
//! - diskless (`repl-diskless-sync yes`, replicas announcing `capa eof`):
//!   into a pipe the primary relays as it comes, framed
//!   `$EOF:<40 random bytes>\r\n<rdb><the same 40 bytes>`, after waiting
//!   `repl-diskless-sync-delay` seconds (less once
//!   `repl-diskless-sync-max-replicas` replicas wait), as Redis does to let
//!   replicas arrive together. Each replica gets its own child here.
//!
//! Newlines keep the link alive while the replica waits (Redis's
//! keepalive before the payload).

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::stream::{Attached, Sink};
use super::ReplicaPeer;
use crate::server::Server;

/// Where the child writes the snapshot.
enum Target {
    /// A temporary file (removed when the sync ends).
    Disk(PathBuf),
    /// The read end of a pipe.
    Pipe(OwnedFd),
}

/// The forked child writing a snapshot.
struct Child {
    pid: i32,
    /// It was waited for (its pid may be reused: never signal it then).
    reaped: bool,
    target: Target,
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: signalling our own child, not yet reaped (its waiter
            // thread, still running, reaps it).
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
        if let Target::Disk(path) = &self.target {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A pipe (read end, write end), both close-on-exec.
fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 with a valid two-int array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("Can't create the diskless sync pipe: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: both descriptors were just created and are owned here only.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Attaches the replica to the stream and forks the snapshot's writer,
/// both under every shard lock (the same instant). The pipe's write end is
/// closed before the locks are released, so no later fork inherits it
/// (its reader sees the end when this child exits). O(1) plus the fork.
fn start(srv: &Server, sink: Sink, diskless: bool) -> Result<(Attached, Child), String> {
    let (dir, compress, backlog) = {
        let c = srv.config.read();
        (c.dir.clone(), c.rdbcompression, c.repl_backlog_size)
    };
    let _applying = srv.replication.applying.lock();
    let mut l = srv.keyspace.lock_all();
    let id = sink.id();
    if diskless {
        let (rd, wr) = pipe()?;
        let (rfd, wfd) = (rd.as_raw_fd(), wr.as_raw_fd());
        let attached = srv.replication.stream.attach(sink, backlog);
        let forked = crate::persist::jobs::fork_child(&mut l, move |l, _| {
            // SAFETY: in the child: the read end is not ours to keep, the
            // write end becomes this file (closed at exit).
            unsafe { libc::close(rfd) };
            let out = unsafe { File::from_raw_fd(wfd) };
            crate::persist::snapshot::write_rdb_to(l, out, compress).map(drop)
        });
        drop(wr);
        return match forked {
            Ok(pid) => Ok((attached, Child { pid, reaped: false, target: Target::Pipe(rd) })),
            Err(e) => {
                drop(l);
                srv.replication.stream.detach(id);
                Err(e)
            }
        };
    }
    let path = dir.join(format!("temp-repl-{}-{id}.rdb", std::process::id()));
    let child_path = path.clone();
    let attached = srv.replication.stream.attach(sink, backlog);
    match crate::persist::jobs::fork_child(&mut l, move |l, _| {
        crate::persist::snapshot::write_rdb(l, &child_path, compress)
    }) {
        Ok(pid) => Ok((attached, Child { pid, reaped: false, target: Target::Disk(path) })),
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

/// How a full sync ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The replica went away or the snapshot failed.
    Failed,
    /// Sent; the stream follows at once.
    Sent,
    /// Sent diskless: the stream follows the replica's first ACK (Redis 7:
    /// a replica reading up to the EOF mark may read past it).
    SentAwaitAck,
}

/// A full sync on the replica's connection: `+FULLRESYNC` (for PSYNC),
/// then the snapshot, disk-backed or diskless (see the module doc).
pub async fn run<S: AsyncWrite + Unpin>(
    srv: &Server,
    stream: &mut S,
    peer: &ReplicaPeer,
    sink: Sink,
    psync: bool,
    eof_capable: bool,
) -> Outcome {
    let (diskless, delay, max_waiting, backlog) = {
        let c = srv.config.read();
        let diskless = c.repl_diskless_sync && eof_capable && psync;
        (diskless, c.repl_diskless_sync_delay, c.repl_diskless_sync_max_replicas, c.repl_backlog_size)
    };
    srv.replication.stream.prepare_full_sync(backlog);
    if diskless && !wait_delay(srv, stream, peer, delay, max_waiting).await {
        return Outcome::Failed;
    }
    let (attached, mut child) = match start(srv, sink, diskless) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("Can't start the replication snapshot: {e}");
            return Outcome::Failed;
        }
    };
    let r = &srv.replication;
    r.sync_full.fetch_add(1, Ordering::Relaxed);
    tracing::info!(replica = %peer.handle.addr, offset = attached.offset, diskless, "Starting a full resynchronization");
    if psync {
        let head = format!("+FULLRESYNC {} {}\r\n", attached.replid, attached.offset);
        if stream.write_all(head.as_bytes()).await.is_err() {
            return Outcome::Failed;
        }
    }
    let sent = match &child.target {
        Target::Disk(_) => send_file(stream, peer, &mut child).await,
        Target::Pipe(_) => send_pipe(stream, peer, &mut child).await,
    };
    match sent {
        false => Outcome::Failed,
        true if diskless => Outcome::SentAwaitAck,
        true => Outcome::Sent,
    }
}

/// The diskless delay: up to `delay` seconds, less once `max_waiting`
/// replicas (0: no such bound) wait for a full sync; newlines meanwhile.
/// False when the replica went away.
async fn wait_delay<S: AsyncWrite + Unpin>(
    srv: &Server,
    stream: &mut S,
    peer: &ReplicaPeer,
    delay: i64,
    max_waiting: i64,
) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(delay.max(0) as u64);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut ticks = 0u32;
    loop {
        let waiting = srv.replication.peers.lock().values().filter(|p| p.state.load(Ordering::Relaxed) == 0).count();
        if tokio::time::Instant::now() >= deadline || (max_waiting > 0 && waiting as i64 >= max_waiting) {
            return true;
        }
        tokio::select! {
            _ = tick.tick() => {
                ticks += 1;
                if ticks.is_multiple_of(10) && stream.write_all(b"\n").await.is_err() {
                    return false;
                }
            }
            _ = peer.handle.kill_notify.notified() => {
                if peer.handle.killed.load(Ordering::Acquire) {
                    return false;
                }
            }
        }
    }
}

/// Disk-backed: newlines while the child writes, then `$<len>\r\n` and
/// the file. False when the replica went away or the child failed.
async fn send_file<S: AsyncWrite + Unpin>(stream: &mut S, peer: &ReplicaPeer, child: &mut Child) -> bool {
    let mut done = std::pin::pin!(child_done(child.pid));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let ok = loop {
        tokio::select! {
            ok = &mut done => {
                child.reaped = true;
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
    let Target::Disk(path) = &child.target else { return false };
    if !ok {
        tracing::warn!("The replication snapshot child failed");
        return false;
    }
    peer.state.store(1, Ordering::Relaxed);
    let Ok(mut file) = tokio::fs::File::open(path).await else { return false };
    let Ok(meta) = file.metadata().await else { return false };
    let head = format!("${}\r\n", meta.len());
    if stream.write_all(head.as_bytes()).await.is_err() {
        return false;
    }
    tokio::io::copy(&mut file, stream).await.is_ok_and(|n| n == meta.len())
}

/// Diskless: `$EOF:<mark>\r\n`, the pipe's bytes as the child writes them
/// (read on a blocking thread), then the mark once the child exited well.
/// False when the replica went away or the child failed (the mark is then
/// never sent, so the replica discards what it read).
async fn send_pipe<S: AsyncWrite + Unpin>(stream: &mut S, peer: &ReplicaPeer, child: &mut Child) -> bool {
    let Target::Pipe(fd) = &child.target else { return false };
    let Ok(fd) = fd.try_clone() else { return false };
    // Reaped even if this sync ends early (the child is then killed).
    let done = tokio::spawn(child_done(child.pid));
    let mark: String = (0..40).map(|_| char::from(b"0123456789abcdef"[fastrand::usize(..16)])).collect();
    peer.state.store(1, Ordering::Relaxed);
    if stream.write_all(format!("$EOF:{mark}\r\n").as_bytes()).await.is_err() {
        return false;
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    let reader = tokio::task::spawn_blocking(move || {
        let mut file = File::from(fd);
        loop {
            let mut chunk = vec![0u8; 256 * 1024];
            match file.read(&mut chunk) {
                Ok(0) => return true,
                Ok(n) => {
                    chunk.truncate(n);
                    if tx.blocking_send(Bytes::from(chunk)).is_err() {
                        return false;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
    });
    loop {
        tokio::select! {
            chunk = rx.recv() => {
                let Some(chunk) = chunk else { break };
                if stream.write_all(&chunk).await.is_err() {
                    return false;
                }
            }
            _ = peer.handle.kill_notify.notified() => {
                if peer.handle.killed.load(Ordering::Acquire) {
                    return false;
                }
            }
        }
    }
    let read_all = reader.await.unwrap_or(false);
    let ok = done.await.unwrap_or(false);
    child.reaped = true;
    if !(read_all && ok) {
        tracing::warn!("The diskless replication snapshot child failed");
        return false;
    }
    stream.write_all(mark.as_bytes()).await.is_ok()
}
