//! Connections to the data servers.
//!
//! Each [`Backend`] (one data server) has two pools of `--conns N` slots,
//! one per protocol (RESP2 clients' requests travel on RESP2 connections,
//! RESP3 clients' on connections that said `HELLO 3`, so replies are
//! forwarded byte for byte). A slot's connection is opened on first use,
//! and replaced on the next use after it breaks. A client is pinned to one
//! slot (its id modulo N), so its requests to one server stay in order on
//! one connection, while many clients share each connection.
//!
//! A [`Conn`] is two tasks around one socket: the writer takes jobs from a
//! channel, writes as many as are queued in one write, and hands them to the
//! reader in the same order; the reader matches replies to jobs in order
//! (pipelining: any number of requests in flight). When the server is
//! silent for `timeout` while requests are in flight, or the socket fails,
//! every job in flight is answered with an error naming the server and the
//! connection is dropped. An idle connection sends `PING` every
//! `PING_IDLE` (health check).
//!
//! Failures feed the backend's [`Health`]: after one, connecting waits for
//! an exponential backoff (50 ms doubling to 2 s) and requests fail at once
//! meanwhile; a success resets it.
//!
//! TLS: [`open_stream`] wraps the `TcpStream` with `inmemory::tls::connect`
//! when the entry says `"tls": true`; everything after it is generic over
//! [`Stream`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use inmemory::protocol::frame::{Frame, FrameReader};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, Notify};

use crate::config::ServerSpec;

/// How long a connect plus handshake may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// An idle pooled connection sends PING this often.
pub const PING_IDLE: Duration = Duration::from_secs(5);
/// Most bytes gathered into one write to a server.
const WRITE_BATCH: usize = 256 * 1024;
const BACKOFF_MIN_MS: u64 = 50;
const BACKOFF_MAX_MS: u64 = 2000;

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

/// Encodes a command as a RESP multibulk. O(total size).
pub fn encode_command(args: &[Bytes], out: &mut BytesMut) {
    inmemory::protocol::reply::encode_request(out, args);
}

/// A server's failure record: consecutive failures, backoff, ejection.
#[derive(Debug, Default)]
pub struct Health {
    failures: AtomicU32,
    retry_at: Mutex<Option<Instant>>,
    last_error: Mutex<String>,
    /// Taken off the ring by auto_eject.
    pub ejected: AtomicBool,
    /// A probe is running (the monitor starts at most one).
    pub probing: AtomicBool,
    last_probe: Mutex<Option<Instant>>,
}

impl Health {
    /// Records a success: failures and backoff are cleared. O(1), lock-free when healthy.
    pub fn success(&self) {
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
            if let Ok(mut r) = self.retry_at.lock() {
                *r = None;
            }
        }
    }

    /// Records a failure and starts (or lengthens) the backoff. O(1).
    pub fn failure(&self, err: &str) {
        let n = self.failures.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        let ms = (BACKOFF_MIN_MS << (n - 1).min(6)).min(BACKOFF_MAX_MS);
        if let Ok(mut r) = self.retry_at.lock() {
            *r = Some(Instant::now() + Duration::from_millis(ms));
        }
        if let Ok(mut e) = self.last_error.lock() {
            e.clear();
            e.push_str(err);
        }
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures.load(Ordering::Relaxed)
    }

    /// The last error while the backoff lasts; `None` when a connect may be tried.
    pub fn in_backoff(&self) -> Option<String> {
        if self.failures.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let until = self.retry_at.lock().ok().and_then(|r| *r)?;
        if Instant::now() < until {
            Some(self.last_error())
        } else {
            None
        }
    }

    /// True (and the time noted) when no probe started within `every`. O(1).
    pub fn probe_due(&self, every: Duration) -> bool {
        let Ok(mut last) = self.last_probe.lock() else { return false };
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < every) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// The last failure's text.
    pub fn last_error(&self) -> String {
        self.last_error.lock().map(|e| e.clone()).unwrap_or_default()
    }
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

struct Slot {
    conn: Mutex<Option<Arc<Conn>>>,
    connecting: tokio::sync::Mutex<()>,
}

/// Per-server counters for INFO.
#[derive(Debug, Default)]
pub struct BackendStats {
    /// Requests sent.
    pub requests: AtomicU64,
    /// Requests answered with a proxy error (server unavailable).
    pub errors: AtomicU64,
    /// Connections opened.
    pub connects: AtomicU64,
}

/// One data server: its settings, pools and health.
pub struct Backend {
    /// The servers.json entry.
    pub spec: ServerSpec,
    /// `name (addr)` or `addr`, for logs and errors.
    pub label: Arc<str>,
    pools: [Vec<Slot>; 2],
    /// Failures, backoff, ejection.
    pub health: Arc<Health>,
    /// Counters.
    pub stats: BackendStats,
    timeout: Duration,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Backend {
    /// A backend with `conns` lazily opened connections per protocol;
    /// `tls` is the client configuration for `"tls": true` entries.
    pub fn new(spec: ServerSpec, conns: usize, timeout: Duration, tls: Option<Arc<rustls::ClientConfig>>) -> Backend {
        let slots = || (0..conns.max(1)).map(|_| Slot { conn: Mutex::new(None), connecting: Default::default() });
        Backend {
            label: Arc::from(spec.label()),
            spec,
            pools: [slots().collect(), slots().collect()],
            health: Arc::new(Health::default()),
            stats: BackendStats::default(),
            timeout,
            tls,
        }
    }

    /// The error line a client gets when this server cannot answer.
    pub fn unavailable(&self, reason: &str) -> String {
        format!("ERR proxy: server {} is unavailable: {reason}", self.label)
    }

    /// Connections currently open (both protocols).
    pub fn open_conns(&self) -> usize {
        self.pools
            .iter()
            .flatten()
            .filter(|s| s.conn.lock().ok().is_some_and(|c| c.as_ref().is_some_and(|c| c.is_alive())))
            .count()
    }

    /// The pooled connection of slot `slot` for protocol `proto`, opening
    /// it if absent or broken. Fails at once during a backoff. O(1) when open.
    pub async fn get(&self, slot: usize, proto: u8) -> Result<Arc<Conn>, String> {
        let pool = &self.pools[usize::from(proto >= 3)];
        let s = &pool[slot % pool.len()];
        if let Some(c) = self.cached(s) {
            return Ok(c);
        }
        if let Some(e) = self.health.in_backoff() {
            return Err(self.unavailable(&e));
        }
        let _one_at_a_time = s.connecting.lock().await;
        if let Some(c) = self.cached(s) {
            return Ok(c);
        }
        if let Some(e) = self.health.in_backoff() {
            return Err(self.unavailable(&e));
        }
        let conn = Arc::new(self.connect(proto, true).await?);
        if let Ok(mut g) = s.conn.lock() {
            *g = Some(conn.clone());
        }
        Ok(conn)
    }

    fn cached(&self, s: &Slot) -> Option<Arc<Conn>> {
        let g = s.conn.lock().ok()?;
        g.as_ref().filter(|c| c.is_alive()).cloned()
    }

    /// Opens a new connection (pooled: with read timeout and idle pings;
    /// dedicated: for blocking commands, neither). Records the outcome in
    /// the backend's health.
    pub async fn connect(&self, proto: u8, pooled: bool) -> Result<Conn, String> {
        let r = tokio::time::timeout(CONNECT_TIMEOUT, async {
            let mut stream = open_stream(&self.spec, self.tls.as_ref()).await?;
            handshake(&mut stream, &self.spec, proto).await?;
            Ok::<_, String>(stream)
        })
        .await
        .unwrap_or_else(|_| Err("connect timed out".into()));
        match r {
            Ok(stream) => {
                self.health.success();
                self.stats.connects.fetch_add(1, Ordering::Relaxed);
                let opts = ConnOpts {
                    label: self.label.clone(),
                    health: self.health.clone(),
                    timeout: pooled.then_some(self.timeout),
                    ping: pooled.then_some(PING_IDLE),
                };
                Ok(spawn_conn(stream, opts))
            }
            Err(e) => {
                tracing::warn!("server {}: {e}", self.label);
                self.health.failure(&e);
                Err(self.unavailable(&e))
            }
        }
    }

    /// Connects and PINGs once (the monitor's probe of a failed server).
    pub async fn probe(&self) -> bool {
        let Ok(c) = self.connect(2, false).await else { return false };
        let rx = c.request(Bytes::from_static(b"*1\r\n$4\r\nPING\r\n"), 1, false);
        match tokio::time::timeout(CONNECT_TIMEOUT, rx).await {
            Ok(Ok(Ok(_))) => true,
            _ => {
                self.health.failure("no answer to PING");
                false
            }
        }
    }
}

/// Opens the byte stream to a server: TCP, with a TLS handshake on top for
/// `"tls": true` entries (the certificate checked against the address's host).
pub async fn open_stream(
    spec: &ServerSpec,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<Box<dyn Stream>, String> {
    let tcp = tokio::net::TcpStream::connect(&spec.addr).await.map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    if !spec.tls {
        return Ok(Box::new(tcp));
    }
    let cfg = tls.ok_or("no TLS client configuration (--tls-ca-cert-file)")?;
    let host = crate::tls::server_name(&spec.addr);
    let stream = inmemory::tls::connect(cfg.clone(), host, tcp).await.map_err(|e| format!("TLS handshake: {e}"))?;
    Ok(Box::new(stream))
}

/// Authenticates and switches protocol on a fresh connection.
async fn handshake(stream: &mut Box<dyn Stream>, spec: &ServerSpec, proto: u8) -> Result<(), String> {
    let mut out = BytesMut::new();
    let mut expect = 0;
    if let Some(pw) = &spec.password {
        encode_command(&[Bytes::from_static(b"AUTH"), Bytes::copy_from_slice(pw.as_bytes())], &mut out);
        expect += 1;
    }
    if proto >= 3 {
        encode_command(&[Bytes::from_static(b"HELLO"), Bytes::from_static(b"3")], &mut out);
        expect += 1;
    }
    if expect == 0 {
        return Ok(());
    }
    stream.write_all(&out).await.map_err(|e| e.to_string())?;
    let mut buf = BytesMut::with_capacity(1024);
    let mut reader = FrameReader::new();
    while expect > 0 {
        match reader.next(&mut buf).map_err(|e| e.to_string())? {
            Some(Frame::Error(e)) => return Err(format!("handshake refused: {}", String::from_utf8_lossy(&e))),
            Some(_) => expect -= 1,
            None => {
                if stream.read_buf(&mut buf).await.map_err(|e| e.to_string())? == 0 {
                    return Err("connection closed during handshake".into());
                }
            }
        }
    }
    Ok(())
}

struct ConnOpts {
    label: Arc<str>,
    health: Arc<Health>,
    /// Longest silence allowed while requests are in flight.
    timeout: Option<Duration>,
    /// PING after this much idleness.
    ping: Option<Duration>,
}

/// A job the writer passed to the reader: replies still expected.
struct InFlight {
    remaining: u32,
    want_frame: bool,
    tx: oneshot::Sender<Answer>,
}

fn spawn_conn<S: Stream>(stream: S, opts: ConnOpts) -> Conn {
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
