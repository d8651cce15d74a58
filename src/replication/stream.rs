//! The replication stream: the writes this server sends its replicas, as
//! RESP commands, with the replication id and offset that name every
//! position in it, and the backlog of its recent bytes.
//!
//! Fed from the same points as the AOF ([`crate::persist::Persistence`]'s
//! `propagate*`), under the shard locks of the write, so the stream's order
//! is the order in which writes to any one key happened. While this server
//! is itself a replica the stream is its primary's, forwarded byte for byte
//! ([`Stream::feed_raw`]), so chained replicas see the same ids and offsets.
//!
//! Feeding a write costs no cross-thread wakeup (as the AOF's `everysec`
//! queue, and as Redis fills replica buffers and writes them from its event
//! loop): the bytes gather in one buffer, the replicas' writers are woken
//! once when it goes from empty to not, and the first writer to run hands
//! everything gathered to every replica's channel ([`Stream::flush`]), so a
//! busy moment's writes go out in a few large socket writes rather than one
//! wakeup and one small write per command.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::Notify;

use super::backlog::Backlog;
use crate::server::client::ClientHandle;
use crate::server::output_limit::{self, Limit};

/// A replica receiving the stream: its writer's channel, the bytes
/// queued there and not yet written to its socket (checked against the
/// `replica` class of `client-output-buffer-limit` as they are queued),
/// and how its writer is told that stream bytes wait to be flushed.
pub struct Sink {
    id: u64,
    tx: UnboundedSender<Bytes>,
    pending: Arc<AtomicUsize>,
    wake: Arc<Notify>,
    handle: Arc<ClientHandle>,
    soft_since: Option<Instant>,
}

impl Sink {
    /// A sink for replica `handle`; the writer subtracts from the returned
    /// counter what it wrote, and calls [`Stream::flush`] when `wake` is
    /// notified.
    pub fn new(handle: Arc<ClientHandle>, tx: UnboundedSender<Bytes>, wake: Arc<Notify>) -> (Sink, Arc<AtomicUsize>) {
        let pending = Arc::new(AtomicUsize::new(0));
        (Sink { id: handle.id, tx, pending: pending.clone(), wake, handle, soft_since: None }, pending)
    }

    /// The replica's client id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Queues `data`; false when the replica is gone or over its output
    /// limit (then it is killed, as Redis closes it). O(1).
    fn send(&mut self, data: &Bytes, lim: Limit) -> bool {
        let pending = self.pending.fetch_add(data.len(), Ordering::Relaxed) + data.len();
        if output_limit::check(lim, pending, &mut self.soft_since).is_err() {
            tracing::warn!(
                addr = %self.handle.addr,
                "Client scheduled to be closed ASAP for overcoming of output buffer limits (replica)"
            );
            self.handle.kill();
            return false;
        }
        self.tx.send(data.clone()).is_ok()
    }
}

/// Redis's "no id" (`master_replid2` before any failover).
pub const NO_REPLID: &str = "0000000000000000000000000000000000000000";

/// A new random 40-hex-digit replication id.
pub fn new_replid() -> String {
    (0..40).map(|_| char::from(b"0123456789abcdef"[fastrand::usize(..16)])).collect()
}

/// Where a replica starts reading the stream.
pub struct Attached {
    /// The id the replica is told (`+FULLRESYNC <id> <offset>`).
    pub replid: String,
    /// The offset its snapshot corresponds to.
    pub offset: u64,
}

/// The stream's ids, offset, backlog and the replicas receiving it.
pub struct StreamState {
    /// `master_replid`.
    pub replid: String,
    /// `master_replid2`: the id this history had before a promotion.
    pub replid2: String,
    /// `second_repl_offset`: the last offset + 1 valid under `replid2` (-1: none).
    pub second_offset: i64,
    /// `master_repl_offset`: bytes of stream so far.
    pub offset: u64,
    /// Recent bytes (None until the first replica attached, as Redis).
    pub backlog: Option<Backlog>,
    /// The database the stream last selected (None: the next write selects).
    seldb: Option<usize>,
    /// Connected replicas.
    sinks: Vec<Sink>,
    /// Stream bytes not yet handed to the replicas' channels (always empty
    /// without replicas).
    unsent: BytesMut,
    /// The replicas' writers were woken for `unsent` and none flushed yet.
    woken: bool,
    /// The `replica` class of `client-output-buffer-limit` (see [`Stream::set_limit`]).
    limit: Limit,
}

/// See the module doc. All methods take one short mutex.
pub struct Stream {
    /// A backlog exists: writes must be fed (checked without the mutex).
    active: AtomicBool,
    /// This server is a replica: its own writes are not fed, the
    /// primary's bytes are ([`Stream::feed_raw`]).
    upstream: AtomicBool,
    state: Mutex<StreamState>,
}

impl Default for Stream {
    fn default() -> Self {
        Stream {
            active: AtomicBool::new(false),
            upstream: AtomicBool::new(false),
            state: Mutex::new(StreamState {
                replid: new_replid(),
                replid2: NO_REPLID.into(),
                second_offset: -1,
                offset: 0,
                backlog: None,
                seldb: None,
                sinks: Vec::new(),
                unsent: BytesMut::new(),
                woken: false,
                limit: Limit::default(),
            }),
        }
    }
}

impl Stream {
    /// Whether writes must be fed now (a backlog exists and this server is
    /// a primary). O(1), no lock.
    pub fn wants_writes(&self) -> bool {
        self.active.load(Ordering::Relaxed) && !self.upstream.load(Ordering::Relaxed)
    }

    /// Appends write commands (database, arguments), selecting each
    /// command's database when it differs from the last. O(bytes), no
    /// allocation once the buffers have grown, no wakeup unless the
    /// replicas' writers were idle.
    pub fn feed(&self, cmds: &[(usize, Vec<Bytes>)]) {
        if !self.wants_writes() {
            return;
        }
        let mut st = self.state.lock();
        let st = &mut *st;
        let start = st.unsent.len();
        let mut ib = itoa::Buffer::new();
        for (db, args) in cmds {
            if st.seldb != Some(*db) {
                crate::protocol::reply::encode_request(&mut st.unsent, &[&b"SELECT"[..], ib.format(*db).as_bytes()]);
                st.seldb = Some(*db);
            }
            crate::protocol::reply::encode_request(&mut st.unsent, args);
        }
        st.appended(start);
    }

    /// Appends bytes as they are (PING, REPLCONF GETACK, or the primary's
    /// stream on a replica). On a replica the offset always advances. O(bytes).
    pub fn feed_raw(&self, data: Bytes) {
        let mut st = self.state.lock();
        if st.backlog.is_none() && !self.upstream.load(Ordering::Relaxed) {
            return;
        }
        let start = st.unsent.len();
        st.unsent.extend_from_slice(&data);
        st.appended(start);
    }

    /// Hands the bytes gathered since the last flush to every replica's
    /// channel (what a writer does when woken; any writer serves all).
    /// O(replicas).
    pub fn flush(&self) {
        self.state.lock().flush();
    }

    /// Runs `f` on the state under its lock (INFO, ROLE, ids). Keep `f` short.
    pub fn with<R>(&self, f: impl FnOnce(&mut StreamState) -> R) -> R {
        f(&mut self.state.lock())
    }

    /// Registers a replica for a full sync: creates the backlog on the
    /// first one (with a new id, as Redis), makes the next write select its
    /// database, and returns the id and offset its snapshot stands for.
    /// Call with every shard lock held, at the instant the snapshot is taken.
    pub fn attach(&self, sink: Sink, backlog_size: u64) -> Attached {
        let mut st = self.state.lock();
        self.ensure_backlog(&mut st, backlog_size);
        st.seldb = None;
        // What was gathered is before this replica's offset.
        st.flush();
        st.sinks.push(sink);
        Attached { replid: st.replid.clone(), offset: st.offset }
    }

    /// A full sync is asked for: the backlog exists from now on (as
    /// Redis's syncCommand creates it), so writes made while the sync waits
    /// (`repl-diskless-sync-delay`) count in the offset WAIT waits for.
    pub fn prepare_full_sync(&self, backlog_size: u64) {
        let mut st = self.state.lock();
        self.ensure_backlog(&mut st, backlog_size);
    }

    /// Creates the backlog (with a new id on a primary, as Redis) if absent.
    fn ensure_backlog(&self, st: &mut StreamState, backlog_size: u64) {
        if st.backlog.is_none() {
            if !self.upstream.load(Ordering::Relaxed) {
                st.replid = new_replid();
                st.replid2 = NO_REPLID.into();
                st.second_offset = -1;
            }
            st.backlog = Some(Backlog::new(backlog_size));
            self.active.store(true, Ordering::Relaxed);
        }
    }

    /// A partial resync (`PSYNC replid offset`): when the history named by
    /// `replid` reaches `from` and the backlog still holds it, registers
    /// the replica and returns the current id and the bytes it missed.
    /// O(bytes missed).
    /// The sink is taken only when the resync is accepted.
    pub fn try_continue(&self, sink: &mut Option<Sink>, replid: &str, from: u64) -> Option<(String, Bytes)> {
        let mut st = self.state.lock();
        let same = replid.eq_ignore_ascii_case(&st.replid);
        let old = replid.eq_ignore_ascii_case(&st.replid2) && (from as i64) <= st.second_offset;
        if !same && !old {
            return None;
        }
        let backlog = st.backlog.as_ref()?;
        let first = st.offset + 1 - backlog.len() as u64;
        if from < first || from > st.offset + 1 {
            return None;
        }
        let tail = backlog.tail((from - first) as usize);
        // The tail holds what was gathered: the others get it, not this one.
        st.flush();
        st.sinks.push(sink.take()?);
        Some((st.replid.clone(), tail))
    }

    /// Stops sending to a replica.
    pub fn detach(&self, id: u64) {
        self.state.lock().sinks.retain(|s| s.id != id);
    }

    /// Closes every replica's channel (their links end; they reconnect).
    pub fn disconnect_replicas(&self) {
        self.state.lock().drop_sinks();
    }

    /// The `replica` class of `client-output-buffer-limit` in force (the
    /// replication cron and every attach refresh it).
    pub fn set_limit(&self, lim: Limit) {
        self.state.lock().limit = lim;
    }

    /// `repl-backlog-ttl` passed without replicas: the backlog is freed
    /// (a primary's next replica starts a new history, as Redis).
    pub fn free_backlog(&self) {
        let mut st = self.state.lock();
        if st.sinks.is_empty() && st.backlog.is_some() && !self.upstream.load(Ordering::Relaxed) {
            st.backlog = None;
            self.active.store(false, Ordering::Relaxed);
            // No replica may continue this history any more.
            st.replid = new_replid();
            st.replid2 = NO_REPLID.into();
            st.second_offset = -1;
        }
    }

    /// `repl-backlog-size` changed.
    pub fn resize(&self, size: u64) {
        if let Some(b) = self.state.lock().backlog.as_mut() {
            b.resize(size);
        }
    }

    /// Marks this server a replica (`true`) or a primary.
    pub fn set_upstream(&self, on: bool) {
        self.upstream.store(on, Ordering::Relaxed);
    }

    /// Whether this server forwards a primary's stream.
    pub fn upstream(&self) -> bool {
        self.upstream.load(Ordering::Relaxed)
    }

    /// A full sync from a primary: its id and offset become ours, the
    /// backlog starts empty there, the old id is forgotten and chained
    /// replicas must sync again.
    pub fn reset_to(&self, replid: &str, offset: u64, backlog_size: u64) {
        let mut st = self.state.lock();
        if st.backlog.is_none() {
            st.backlog = Some(Backlog::new(backlog_size));
            self.active.store(true, Ordering::Relaxed);
        }
        st.replid = replid.to_string();
        st.replid2 = NO_REPLID.into();
        st.second_offset = -1;
        st.offset = offset;
        if let Some(b) = st.backlog.as_mut() {
            b.clear();
        }
        st.seldb = None;
        st.drop_sinks();
    }

    /// The primary continued under a new id (it was promoted): ours
    /// follows, the old one kept as `replid2` up to the current offset.
    pub fn switch_id(&self, replid: &str) {
        let mut st = self.state.lock();
        if st.replid.eq_ignore_ascii_case(replid) {
            return;
        }
        st.replid2 = std::mem::replace(&mut st.replid, replid.to_string());
        st.second_offset = st.offset as i64 + 1;
        st.drop_sinks();
    }

    /// `REPLICAOF NO ONE`: a new history begins here; the old id stays
    /// valid as `replid2` so other replicas of the old primary continue.
    pub fn promote(&self) {
        let mut st = self.state.lock();
        st.replid2 = std::mem::replace(&mut st.replid, new_replid());
        st.second_offset = st.offset as i64 + 1;
        st.seldb = None;
        // Replicas must learn the new id: they reconnect and continue.
        st.drop_sinks();
        drop(st);
        self.upstream.store(false, Ordering::Relaxed);
    }
}

/// Gathered bytes are flushed at once past this size, whether or not a
/// writer ran: a replica that stops reading meets its output limit on
/// time, and the buffer stays small.
const FLUSH_AT: usize = 64 * 1024;

impl StreamState {
    /// Accounts for the bytes appended to `unsent` from `start` on: the
    /// offset and the backlog advance; the replicas' writers are woken if
    /// they were not already (or the bytes flushed if many gathered);
    /// without replicas nothing is kept. O(bytes).
    fn appended(&mut self, start: usize) {
        let n = self.unsent.len() - start;
        if n == 0 {
            return;
        }
        self.offset += n as u64;
        if let Some(b) = self.backlog.as_mut() {
            b.push(&self.unsent[start..]);
        }
        if self.sinks.is_empty() {
            self.unsent.clear();
        } else if self.unsent.len() >= FLUSH_AT {
            self.flush();
        } else if !self.woken {
            self.woken = true;
            for s in &self.sinks {
                s.wake.notify_one();
            }
        }
    }

    /// See [`Stream::flush`].
    fn flush(&mut self) {
        self.woken = false;
        if self.unsent.is_empty() {
            return;
        }
        let data = self.unsent.split().freeze();
        let lim = self.limit;
        self.sinks.retain_mut(|s| s.send(&data, lim));
    }

    /// Forgets every replica and what was gathered for them.
    fn drop_sinks(&mut self) {
        self.sinks.clear();
        self.unsent.clear();
        self.woken = false;
    }

    /// Replicas receiving the stream now.
    pub fn replicas(&self) -> usize {
        self.sinks.len()
    }
}
