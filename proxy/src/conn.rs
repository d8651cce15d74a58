//! One connection to a data server: two tasks around one socket.
//!
//! The writer takes [`Job`]s from a channel, writes as many as are queued
//! in one write, and hands them to the reader in the same order; the reader
//! matches replies to jobs in order (pipelining: any number of requests in
//! flight). When the server is silent for `timeout` while requests are in
//! flight, or the socket fails, every job in flight is answered with an
//! error naming the server and the connection is dropped. An idle
//! connection sends `PING` every `ping` (health check).
//!
//! Dropping the [`Conn`] handle closes the connection gracefully: jobs
//! already queued are still written and answered, then the socket closes.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use inmemory::protocol::frame::{Frame, FrameReader};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, Notify};

use crate::pool::Health;

/// Most bytes gathered into one write to a server.
const WRITE_BATCH: usize = 256 * 1024;

/// A byte stream to a server: plain TCP today, TLS when wired in.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

/// A server's reply: its exact bytes, and the decoded frame when asked for.
#[derive(Debug, Clone)]
pub struct Resp {
    /// The reply's bytes, to forward as they are.
    pub raw: Bytes,
    /// The decoded reply (only when the job asked for it).
    pub frame: Option<Frame>,
}

/// A job's outcome: the reply, or an error line naming the server.
pub type Answer = Result<Resp, String>;

/// One request (or a batch such as MULTI … EXEC) for a server connection.
pub struct Job {
    /// Encoded request(s).
    pub data: Bytes,
    /// How many replies the data produces; the last one is the answer.
    pub replies: u32,
    /// Decode the answer into a [`Frame`] (merges need it; forwarding does not).
    pub want_frame: bool,
    /// Where the answer goes.
    pub tx: oneshot::Sender<Answer>,
}

/// Encodes a command as a RESP multibulk, reserving its whole size first
/// (growing an empty buffer as it is written took three or four
/// reallocations per forwarded command). O(total size).
pub fn encode_command(args: &[Bytes], out: &mut BytesMut) {
    out.reserve(inmemory::protocol::reply::bulk_array_size(args));
    inmemory::protocol::reply::encode_request(out, args);
}

/// A live connection to a server: a handle to its two tasks.
pub struct Conn {
    tx: mpsc::UnboundedSender<Job>,
    alive: Arc<AtomicBool>,
}

impl Conn {
    /// False once the connection broke; the pool then opens a new one.
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Relaxed) && !self.tx.is_closed()
    }

    /// Queues a job. The answer always arrives on `job.tx` (an error if the
    /// connection is gone). O(1).
    pub fn send(&self, job: Job) {
        if let Err(mpsc::error::SendError(job)) = self.tx.send(job) {
            let _ = job.tx.send(Err("connection closed".into()));
        }
    }

    /// Queues one request and gives the receiver of its answer.
    pub fn request(&self, data: Bytes, replies: u32, want_frame: bool) -> oneshot::Receiver<Answer> {
        let (tx, rx) = oneshot::channel();
        self.send(Job { data, replies, want_frame, tx });
        rx
    }
}

/// How a connection behaves.
pub struct ConnOpts {
    /// The server's label, for logs and error lines.
    pub label: Arc<str>,
    /// Where failures are recorded.
    pub health: Arc<Health>,
    /// Longest silence allowed while requests are in flight.
    pub timeout: Option<Duration>,
    /// PING after this much idleness.
    pub ping: Option<Duration>,
}

/// A job the writer passed to the reader: replies still expected.
struct InFlight {
    remaining: u32,
    want_frame: bool,
    tx: oneshot::Sender<Answer>,
}

/// Starts the two tasks of a connection over an open (handshaken) stream. O(1).
pub fn spawn_conn<S: Stream>(stream: S, opts: ConnOpts) -> Conn {
    let (r, w) = tokio::io::split(stream);
    let (tx, rx) = mpsc::unbounded_channel();
    let (itx, irx) = mpsc::unbounded_channel();
    let alive = Arc::new(AtomicBool::new(true));
    let dead = Arc::new(Notify::new());
    let opts = Arc::new(opts);
    tokio::spawn(writer(w, rx, itx, alive.clone(), dead.clone(), opts.clone()));
    tokio::spawn(reader(r, irx, alive.clone(), dead, opts));
    Conn { tx, alive }
}

async fn writer<W: AsyncWrite + Unpin>(
    mut w: W,
    mut rx: mpsc::UnboundedReceiver<Job>,
    inflight: mpsc::UnboundedSender<InFlight>,
    alive: Arc<AtomicBool>,
    dead: Arc<Notify>,
    opts: Arc<ConnOpts>,
) {
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let every = opts.ping.unwrap_or(Duration::from_secs(86400));
    let tick = tokio::time::sleep(every);
    tokio::pin!(tick);
    let mut busy = false;
    loop {
        let job = tokio::select! {
            j = rx.recv() => match j {
                Some(j) => j,
                None => break,
            },
            _ = dead.notified() => break,
            _ = &mut tick, if opts.ping.is_some() => {
                tick.as_mut().reset(tokio::time::Instant::now() + every);
                if std::mem::take(&mut busy) {
                    continue;
                }
                let (tx, _) = oneshot::channel();
                Job { data: Bytes::from_static(b"*1\r\n$4\r\nPING\r\n"), replies: 1, want_frame: false, tx }
            }
        };
        busy = true;
        let mut next = Some(job);
        while let Some(job) = next.take() {
            buf.extend_from_slice(&job.data);
            let f = InFlight { remaining: job.replies.max(1), want_frame: job.want_frame, tx: job.tx };
            if let Err(mpsc::error::SendError(f)) = inflight.send(f) {
                let _ = f.tx.send(Err(format!("ERR proxy: server {} is unavailable: connection lost", opts.label)));
            }
            if buf.len() < WRITE_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if let Err(e) = w.write_all(&buf).await {
            tracing::debug!("server {}: write failed: {e}", opts.label);
            break;
        }
        buf.clear();
    }
    alive.store(false, Ordering::Relaxed);
    rx.close();
    while let Ok(job) = rx.try_recv() {
        let _ = job.tx.send(Err(format!("ERR proxy: server {} is unavailable: connection lost", opts.label)));
    }
    let _ = w.shutdown().await;
}

async fn reader<R: AsyncRead + Unpin>(
    mut r: R,
    mut inflight: mpsc::UnboundedReceiver<InFlight>,
    alive: Arc<AtomicBool>,
    dead: Arc<Notify>,
    opts: Arc<ConnOpts>,
) {
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut frames = FrameReader::new();
    let mut pending: VecDeque<InFlight> = VecDeque::new();
    let mut writer_done = false;
    let failure: Option<String> = 'conn: loop {
        while let Ok(j) = inflight.try_recv() {
            pending.push_back(j);
        }
        while let Some(front) = pending.front_mut() {
            let got = if front.want_frame && front.remaining == 1 {
                frames.next_raw(&mut buf).map(|o| o.map(|(f, raw)| Resp { raw, frame: Some(f) }))
            } else {
                frames.next_raw_only(&mut buf).map(|o| o.map(|raw| Resp { raw, frame: None }))
            };
            match got {
                Err(e) => break 'conn Some(format!("bad reply: {e}")),
                Ok(None) => break,
                Ok(Some(resp)) => {
                    front.remaining -= 1;
                    if front.remaining == 0 {
                        if let Some(j) = pending.pop_front() {
                            let _ = j.tx.send(Ok(resp));
                        }
                    }
                }
            }
        }
        if pending.is_empty() && !buf.is_empty() {
            break Some("unexpected data from the server".into());
        }
        if pending.is_empty() && writer_done {
            break None;
        }
        let limit = opts.timeout.filter(|_| !pending.is_empty());
        let read = async {
            match limit {
                Some(t) => tokio::time::timeout(t, r.read_buf(&mut buf)).await.unwrap_or_else(|_| {
                    Err(std::io::Error::new(std::io::ErrorKind::TimedOut, format!("no reply within {t:?}")))
                }),
                None => r.read_buf(&mut buf).await,
            }
        };
        tokio::select! {
            j = inflight.recv(), if !writer_done => match j {
                Some(j) => pending.push_back(j),
                None => writer_done = true,
            },
            n = read => match n {
                Ok(0) if pending.is_empty() => break None,
                Ok(0) => break Some("connection closed by the server".into()),
                Ok(_) => {
                    opts.health.success();
                }
                Err(e) => break Some(e.to_string()),
            }
        }
    };
    alive.store(false, Ordering::Relaxed);
    dead.notify_one();
    if let Some(e) = &failure {
        tracing::warn!("server {}: {e}", opts.label);
        opts.health.failure(e);
    }
    let msg = format!(
        "ERR proxy: server {} is unavailable: {}",
        opts.label,
        failure.as_deref().unwrap_or("connection closed")
    );
    for j in pending.drain(..) {
        let _ = j.tx.send(Err(msg.clone()));
    }
    while let Some(j) = inflight.recv().await {
        let _ = j.tx.send(Err(msg.clone()));
    }
}
