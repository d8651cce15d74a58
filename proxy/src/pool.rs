//! Connections to the data servers.
//!
//! Each [`Backend`] (one data server) has pools of `--conns N` slots, one
//! per protocol and database: RESP2 clients' requests travel on RESP2
//! connections, RESP3 clients' on connections that said `HELLO 3`, so
//! replies are forwarded byte for byte; and requests of a client that
//! selected database `n` travel on connections that said `SELECT n` in
//! their handshake, so a shared connection never changes database and a
//! request can never run in another client's database. The database 0
//! pools always exist; the pool of another database is added the first
//! time the server accepts a connection to it (a refused database number
//! leaves nothing behind). This is simpler than tracking which database
//! each shared connection is in and sending `SELECT n` in front of a
//! request when it differs: no per-request state, and no way for a request
//! pipelined behind a SELECT the server refused to run in the database the
//! connection was in before; the cost is a few more connections (per
//! database in use). A slot's connection is opened on first use, and
//! replaced on the next use after it breaks. A client is pinned to one slot
//! (its id modulo N), so its requests to one server and database stay in
//! order on one connection, while many clients share each connection.
//!
//! The connection itself (pipelining, timeouts, idle pings) is
//! [`crate::conn`].
//!
//! Failures feed the backend's [`Health`]: after one, connecting waits for
//! an exponential backoff (50 ms doubling to 2 s) and requests fail at once
//! meanwhile; a success resets it. A server refusing a database number
//! (`SELECT n` answered an error) is healthy: that is [`ConnError::Refused`],
//! and the client gets the server's own error line.
//!
//! TLS: [`open_stream`] wraps the `TcpStream` with `inmemory::tls::connect`
//! when the entry says `"tls": true`; everything after it is generic over
//! [`Stream`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use inmemory::protocol::frame::{Frame, FrameReader};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::ServerSpec;
pub use crate::conn::{encode_command, Answer, Conn, Stream};
use crate::conn::{spawn_conn, ConnOpts};

/// How long a connect plus handshake may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// An idle pooled connection sends PING this often.
pub const PING_IDLE: Duration = Duration::from_secs(5);
const BACKOFF_MIN_MS: u64 = 50;
const BACKOFF_MAX_MS: u64 = 2000;

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

struct Slot {
    conn: Mutex<Option<Arc<Conn>>>,
    connecting: tokio::sync::Mutex<()>,
}

/// The `--conns` slots of one protocol and database.
type Pool = Arc<[Slot]>;

fn new_pool(conns: usize) -> Pool {
    (0..conns.max(1)).map(|_| Slot { conn: Mutex::new(None), connecting: Default::default() }).collect()
}

/// Why no connection to a server could be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnError {
    /// The server cannot be reached, or is in backoff: an error line naming it.
    Unavailable(String),
    /// The server refused the database (`SELECT n` failed): its own error line.
    Refused(String),
}

impl From<ConnError> for String {
    fn from(e: ConnError) -> String {
        match e {
            ConnError::Unavailable(s) | ConnError::Refused(s) => s,
        }
    }
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
    /// Database 0, per protocol.
    pools: [Pool; 2],
    /// Other databases, by (protocol index, database).
    db_pools: Mutex<HashMap<(usize, u32), Pool>>,
    conns: usize,
    /// Failures, backoff, ejection.
    pub health: Arc<Health>,
    /// Counters.
    pub stats: BackendStats,
    timeout: Duration,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// Pooled connections opened so far (see [`Backend::epoch`]).
    epoch: AtomicU64,
    /// The entry's replicas (`"replicas"`), for reads with `"read_from": "replica"`.
    pub replicas: Vec<Arc<Backend>>,
}

impl Backend {
    /// A backend with `conns` lazily opened connections per protocol and
    /// database; `tls` is the client configuration for `"tls": true` entries.
    pub fn new(spec: ServerSpec, conns: usize, timeout: Duration, tls: Option<Arc<rustls::ClientConfig>>) -> Backend {
        let replicas = spec
            .replicas
            .iter()
            .map(|r| Arc::new(Backend::new(spec.replica(r), conns, timeout, tls.clone())))
            .collect();
        Backend {
            label: Arc::from(spec.label()),
            replicas,
            spec,
            pools: [new_pool(conns), new_pool(conns)],
            db_pools: Mutex::new(HashMap::new()),
            conns,
            health: Arc::new(Health::default()),
            stats: BackendStats::default(),
            timeout,
            tls,
            epoch: AtomicU64::new(0),
        }
    }

    /// How many pooled connections were opened to this server so far.
    /// Whatever the proxy noted about the server's state (which scripts it
    /// holds, `scripts.rs`) is stale once this moves: the server may have
    /// restarted since. Moves only while the pools fill and after a pooled
    /// connection broke. O(1).
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Moves the epoch as a new pooled connection would.
    #[cfg(test)]
    pub fn bump_epoch_for_test(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// A replica for the client of pool slot `slot` (each client keeps to
    /// one), skipping replicas in backoff; `None` without a usable one. O(replicas).
    pub fn replica_for(&self, slot: usize) -> Option<&Arc<Backend>> {
        let n = self.replicas.len();
        (0..n).map(|i| &self.replicas[(slot + i) % n]).find(|r| r.health.in_backoff().is_none())
    }

    /// The error line a client gets when this server cannot answer.
    pub fn unavailable(&self, reason: &str) -> String {
        format!("ERR proxy: server {} is unavailable: {reason}", self.label)
    }

    /// Pooled connections currently open (every protocol and database).
    /// O(slots).
    pub fn open_conns(&self) -> usize {
        let open = |p: &Pool| {
            p.iter().filter(|s| s.conn.lock().ok().is_some_and(|c| c.as_ref().is_some_and(|c| c.is_alive()))).count()
        };
        let others: usize = self.db_pools.lock().map(|m| m.values().map(open).sum()).unwrap_or(0);
        self.pools.iter().map(open).sum::<usize>() + others
    }

    /// Waits until every request already queued on the open pooled
    /// connections (every protocol and database) was answered: one PING
    /// on each, each answered after what was sent before it (FIFO per
    /// connection), or `limit` passed. Resharding calls it after a ring
    /// change so that no write routed under the previous ring is still in
    /// flight when keys start moving. O(open connections).
    pub async fn flush(&self, limit: Duration) {
        let conns = |p: &Pool| -> Vec<Arc<Conn>> { p.iter().filter_map(|s| self.cached(s)).collect() };
        let mut open: Vec<Arc<Conn>> = self.pools.iter().flat_map(conns).collect();
        if let Ok(m) = self.db_pools.lock() {
            open.extend(m.values().flat_map(conns));
        }
        let waiting: Vec<_> =
            open.iter().map(|c| c.request(Bytes::from_static(b"*1\r\n$4\r\nPING\r\n"), 1, false)).collect();
        let _ = tokio::time::timeout(limit, async {
            for rx in waiting {
                let _ = rx.await;
            }
        })
        .await;
    }

    /// The pooled connection of slot `slot` for protocol `proto` and
    /// database `db`, opening it if absent or broken. Fails at once during
    /// a backoff. O(1) when open.
    pub async fn get(&self, slot: usize, proto: u8, db: u32) -> Result<Arc<Conn>, ConnError> {
        let p = usize::from(proto >= 3);
        if db == 0 {
            return self.get_in(&self.pools[p], slot, proto, 0).await;
        }
        let pool = self.db_pools.lock().ok().and_then(|m| m.get(&(p, db)).cloned());
        if let Some(pool) = pool {
            return self.get_in(&pool, slot, proto, db).await;
        }
        // First use of `db` here: the pool is added once the server accepted it.
        self.not_in_backoff()?;
        let conn = Arc::new(self.connect(proto, true, db).await?);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let Ok(mut m) = self.db_pools.lock() else { return Ok(conn) };
        let pool = m.entry((p, db)).or_insert_with(|| new_pool(self.conns)).clone();
        drop(m);
        let s = &pool[slot % pool.len()];
        let Ok(mut g) = s.conn.lock() else { return Ok(conn) };
        match g.as_ref().filter(|c| c.is_alive()) {
            // Opened meanwhile for another client of this slot: ours closes.
            Some(c) => Ok(c.clone()),
            None => {
                *g = Some(conn.clone());
                Ok(conn)
            }
        }
    }

    async fn get_in(&self, pool: &[Slot], slot: usize, proto: u8, db: u32) -> Result<Arc<Conn>, ConnError> {
        let s = &pool[slot % pool.len()];
        if let Some(c) = self.cached(s) {
            return Ok(c);
        }
        self.not_in_backoff()?;
        let _one_at_a_time = s.connecting.lock().await;
        if let Some(c) = self.cached(s) {
            return Ok(c);
        }
        self.not_in_backoff()?;
        let conn = Arc::new(self.connect(proto, true, db).await?);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut g) = s.conn.lock() {
            *g = Some(conn.clone());
        }
        Ok(conn)
    }

    /// `Err` naming the server while its backoff lasts (no connect is tried then). O(1).
    pub fn not_in_backoff(&self) -> Result<(), ConnError> {
        match self.health.in_backoff() {
            Some(e) => Err(ConnError::Unavailable(self.unavailable(&e))),
            None => Ok(()),
        }
    }

    fn cached(&self, s: &Slot) -> Option<Arc<Conn>> {
        let g = s.conn.lock().ok()?;
        g.as_ref().filter(|c| c.is_alive()).cloned()
    }

    /// Opens a new connection in database `db` (pooled: with read timeout
    /// and idle pings; for blocking commands: neither). Authenticated like
    /// every connection. Records reachability in the backend's health; a
    /// refused database is [`ConnError::Refused`] and not a failure.
    pub async fn connect(&self, proto: u8, pooled: bool, db: u32) -> Result<Conn, ConnError> {
        let stream = self.connect_stream(proto, db).await?;
        let opts = ConnOpts {
            label: self.label.clone(),
            health: self.health.clone(),
            timeout: pooled.then_some(self.timeout),
            ping: pooled.then_some(PING_IDLE),
        };
        Ok(spawn_conn(stream, opts))
    }

    /// Opens a byte stream to the server, authenticated, in protocol
    /// `proto` and database `db`, with no tasks around it: for connections
    /// that do not follow request/reply (the subscriber connections of
    /// `pubsub/`). Health and errors as [`Backend::connect`].
    pub async fn connect_stream(&self, proto: u8, db: u32) -> Result<Box<dyn Stream>, ConnError> {
        let r = tokio::time::timeout(CONNECT_TIMEOUT, async {
            let mut stream = open_stream(&self.spec, self.tls.as_ref()).await.map_err(Handshake::Failed)?;
            handshake(&mut stream, &self.spec, proto, db).await?;
            Ok::<_, Handshake>(stream)
        })
        .await
        .unwrap_or_else(|_| Err(Handshake::Failed("connect timed out".into())));
        match r {
            Ok(stream) => {
                self.health.success();
                self.stats.connects.fetch_add(1, Ordering::Relaxed);
                Ok(stream)
            }
            Err(Handshake::DbRefused(e)) => {
                self.health.success();
                Err(ConnError::Refused(e))
            }
            Err(Handshake::Failed(e)) => {
                tracing::warn!("server {}: {e}", self.label);
                self.health.failure(&e);
                Err(ConnError::Unavailable(self.unavailable(&e)))
            }
        }
    }

    /// Connects and PINGs once (the monitor's probe of a failed server).
    pub async fn probe(&self) -> bool {
        let Ok(c) = self.connect(2, false, 0).await else { return false };
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

/// How a handshake failed.
enum Handshake {
    /// The server is unreachable or refused AUTH/HELLO.
    Failed(String),
    /// The server refused `SELECT db`: its error line.
    DbRefused(String),
}

impl From<std::io::Error> for Handshake {
    fn from(e: std::io::Error) -> Handshake {
        Handshake::Failed(e.to_string())
    }
}

/// Authenticates, switches protocol and selects `db` on a fresh connection.
async fn handshake(stream: &mut Box<dyn Stream>, spec: &ServerSpec, proto: u8, db: u32) -> Result<(), Handshake> {
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
    if db != 0 {
        let n = Bytes::copy_from_slice(itoa::Buffer::new().format(db).as_bytes());
        encode_command(&[Bytes::from_static(b"SELECT"), n], &mut out);
        expect += 1;
    }
    if expect == 0 {
        return Ok(());
    }
    stream.write_all(&out).await?;
    let mut buf = BytesMut::with_capacity(1024);
    let mut reader = FrameReader::new();
    while expect > 0 {
        match reader.next(&mut buf).map_err(|e| Handshake::Failed(e.to_string()))? {
            // SELECT is sent last: an error as the last reply is its refusal.
            Some(Frame::Error(e)) if expect == 1 && db != 0 => {
                return Err(Handshake::DbRefused(String::from_utf8_lossy(&e).into_owned()))
            }
            Some(Frame::Error(e)) => {
                return Err(Handshake::Failed(format!("handshake refused: {}", String::from_utf8_lossy(&e))))
            }
            Some(_) => expect -= 1,
            None => {
                if stream.read_buf(&mut buf).await? == 0 {
                    return Err(Handshake::Failed("connection closed during handshake".into()));
                }
            }
        }
    }
    Ok(())
}
