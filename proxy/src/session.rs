//! One client connection: a reader that parses requests and routes them,
//! and a writer that sends the replies back in request order.
//!
//! The reader never waits for a reply before parsing the next request
//! (except around a blocking command, a protocol or database switch, and
//! the start and end of a WATCH), so a client's
//! pipeline reaches the servers as a pipeline. The writer resolves the
//! queued [`Pending`] replies in order and writes them in batches: it
//! flushes whenever the next reply is not ready yet, so nothing waits
//! behind a slow reply that could already be on the wire. The queue is
//! bounded (backpressure on a client that does not read its replies).
//!
//! A subscribed client's reader also waits for its subscriber connections
//! and queues their pushes between replies (`pubsub/`).
//!
//! Generic over the stream: TLS connections (via `inmemory::tls`) go
//! through [`serve`] unchanged.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;

use bytes::{Bytes, BytesMut};
use inmemory::protocol::RequestParser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::cluster::Cluster;
use crate::pool::Stream;
use crate::router::{answer, error_bytes, Flow, Pending, Router};

/// Most replies queued per client before its reader waits.
const QUEUE: usize = 1024;
/// Write once this much is buffered, even if more replies are ready.
const FLUSH_AT: usize = 64 * 1024;

/// Serves one client until it quits or disconnects.
pub async fn serve<S: Stream>(stream: S, cluster: Arc<Cluster>, peer: String) {
    cluster.stats.clients.fetch_add(1, Ordering::Relaxed);
    cluster.stats.connections_received.fetch_add(1, Ordering::Relaxed);
    let (mut r, w) = tokio::io::split(stream);
    let (tx, rx) = mpsc::channel(QUEUE);
    let writer = tokio::spawn(write_loop(w, rx));
    let mut router = Router::new(cluster.clone(), tx, peer);
    let mut parser = RequestParser::default();
    let mut buf = BytesMut::with_capacity(16 * 1024);
    'client: loop {
        loop {
            match parser.parse(&mut buf, router.authed) {
                Ok(Some(args)) => match router.handle(args).await {
                    Flow::Continue => {}
                    Flow::Close => break 'client,
                    Flow::Wait(mut done) => loop {
                        // Keep reading meanwhile, to notice a client that leaves.
                        tokio::select! {
                            _ = &mut done => break,
                            n = r.read_buf(&mut buf) => if matches!(n, Ok(0) | Err(_)) { break 'client },
                        }
                    },
                },
                Ok(None) => break,
                Err(e) => {
                    router.push(Pending::Bytes(error_bytes(&e.to_string()))).await;
                    break 'client;
                }
            }
        }
        buf.reserve(parser.needed().max(4096));
        // A subscribed client also waits for its subscriber connections (`pubsub/`).
        let read = tokio::select! {
            n = r.read_buf(&mut buf) => n,
            ev = router.pubsub_event(), if router.subscribed() => match router.on_pubsub_event(ev).await {
                Flow::Close => break,
                _ => continue,
            },
        };
        if matches!(read, Ok(0) | Err(_)) {
            break;
        }
    }
    drop(router);
    let _ = writer.await;
    cluster.stats.clients.fetch_sub(1, Ordering::Relaxed);
}

/// Polls a future once: `Ready(output)` or `Pending` (its waker is registered).
async fn poll_once<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *f).poll(cx))).await
}

async fn write_loop<W: tokio::io::AsyncWrite + Unpin>(mut w: W, mut rx: mpsc::Receiver<Pending>) {
    let mut out = BytesMut::with_capacity(16 * 1024);
    loop {
        let p = if out.is_empty() {
            match rx.recv().await {
                Some(p) => p,
                None => break,
            }
        } else {
            match rx.try_recv() {
                Ok(p) => p,
                Err(mpsc::error::TryRecvError::Empty) => {
                    if w.write_all(&out).await.is_err() {
                        return;
                    }
                    out.clear();
                    continue;
                }
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            }
        };
        let bytes: Bytes = match p {
            Pending::Bytes(b) => b,
            Pending::Barrier(tx) => {
                let _ = tx.send(());
                continue;
            }
            Pending::Backend(mut rx) => {
                let a = match poll_once(&mut rx).await {
                    Poll::Ready(a) => a.unwrap_or_else(|_| Err("ERR proxy: connection to the server lost".into())),
                    Poll::Pending => {
                        if !out.is_empty() && w.write_all(&out).await.is_err() {
                            return;
                        }
                        out.clear();
                        answer(rx).await
                    }
                };
                match a {
                    Ok(r) => r.raw,
                    Err(e) => error_bytes(&e),
                }
            }
            Pending::Future(mut f) => match poll_once(&mut f).await {
                Poll::Ready(b) => b,
                Poll::Pending => {
                    if !out.is_empty() && w.write_all(&out).await.is_err() {
                        return;
                    }
                    out.clear();
                    f.await
                }
            },
        };
        if bytes.len() >= FLUSH_AT {
            // A large reply goes out as it is, without a copy.
            if (!out.is_empty() && w.write_all(&out).await.is_err()) || w.write_all(&bytes).await.is_err() {
                return;
            }
            out.clear();
            continue;
        }
        out.extend_from_slice(&bytes);
        if out.len() >= FLUSH_AT {
            if w.write_all(&out).await.is_err() {
                return;
            }
            out.clear();
        }
    }
    if !out.is_empty() {
        let _ = w.write_all(&out).await;
    }
    let _ = w.shutdown().await;
}
