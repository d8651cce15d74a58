//! The append-only file: every write command, as RESP, in execution order.
//!
//! Durability, by `appendfsync`:
//! - `always`: a client's reply is sent only after the commands it caused
//!   are written and `fdatasync`ed. One writer thread syncs whatever all
//!   clients queued since its last sync (group commit), so an acknowledged
//!   write survives `kill -9` and power loss.
//! - `everysec`: a client's commands are written (handed to the OS) before
//!   its reply is sent, by the connection itself with everything queued so
//!   far ([`Aof::write_through`], Redis's write in `beforeSleep`), and the
//!   writer thread syncs once a second: an acknowledged write survives
//!   `kill -9` of the process; a power loss loses about the last second.
//! - `no`: as `everysec`, synced when the OS decides.
//!
//! Commands are queued while the shard locks of their keys are held, so the
//! log's order of writes to any key is the order they executed in.
//! Relative expiries are logged as absolute `PEXPIREAT`s.
//!
//! Files (Redis 7's multi-part AOF, see [`super::manifest`]): the log is a
//! base (the dataset as an RDB image, or as commands with
//! `aof-use-rdb-preamble no`) plus incremental files of commands, listed by
//! a manifest in `dir`/`appenddirname`; new commands go to the last
//! incremental file.
//!
//! Rewrite (`BGREWRITEAOF`): a forked child writes the dataset as a new
//! base to a temporary file while the parent keeps a copy of everything
//! queued since the fork; the copy becomes a new incremental file (synced),
//! the base is renamed into place, the manifest replaced atomically, the
//! writer switched to the new file and the old files deleted. No write is
//! lost and clients are not blocked for longer than the fork.
//!
//! A log turned on at run time (`CONFIG SET appendonly yes`) starts
//! *pending* ([`Aof::pending`]): it has no file until its first rewrite
//! completes. Commands queued meanwhile are either in that rewrite's base
//! (queued before its fork) or in its copy (after), so the writer drops
//! them; under `always` their replies wait until the rewritten file holding
//! them is synced.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};

use super::manifest::{Layout, Manifest};

/// `appendfsync` policies.
pub const FSYNC_ALWAYS: u8 = 0;
/// Sync once per second.
pub const FSYNC_EVERYSEC: u8 = 1;
/// Never sync explicitly.
pub const FSYNC_NO: u8 = 2;

/// Parses an `appendfsync` value.
pub fn fsync_policy(s: &str) -> u8 {
    match s {
        "always" => FSYNC_ALWAYS,
        "no" => FSYNC_NO,
        _ => FSYNC_EVERYSEC,
    }
}

/// Appends one command as a RESP array (typed for literal argument lists).
pub fn encode_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    crate::protocol::reply::encode_request(out, args);
}

/// Encodes commands, logging a SELECT before each change of database.
fn append_cmds(out: &mut Vec<u8>, cur_db: &mut Option<usize>, cmds: &[(usize, Vec<Bytes>)]) {
    for (db, c) in cmds {
        if *cur_db != Some(*db) {
            encode_command(out, &[b"SELECT", itoa::Buffer::new().format(*db).as_bytes()]);
            *cur_db = Some(*db);
        }
        let parts: Vec<&[u8]> = c.iter().map(|b| &b[..]).collect();
        encode_command(out, &parts);
    }
}

struct Queue {
    /// Commands not yet handed to the writer.
    buf: Vec<u8>,
    /// Database the log is positioned in (a SELECT is logged on change).
    db: Option<usize>,
    /// Total bytes ever queued.
    fed: u64,
    /// While a rewrite runs: everything queued since its fork, and its db.
    rewrite: Option<(Vec<u8>, Option<usize>)>,
}

impl Queue {
    /// Hands over the queued commands and the feed offset they reach. The
    /// caller holds the file's lock and writes them before anyone takes
    /// later ones (see [`Aof::write_taken`]).
    fn take(&mut self) -> (Vec<u8>, u64) {
        (std::mem::take(&mut self.buf), self.fed)
    }
}

/// The open log and its writer thread's shared state.
pub struct Aof {
    layout: Layout,
    /// The files of the log as the manifest on disk lists them.
    manifest: Mutex<Manifest>,
    queue: Mutex<Queue>,
    wake: Condvar,
    file: Mutex<Option<File>>,
    policy: AtomicU8,
    /// Bytes of the log known to be on disk (synced, for `always`).
    synced: tokio::sync::watch::Sender<u64>,
    /// Size of the file (for auto-rewrite and INFO).
    size: AtomicU64,
    /// Log bytes (counted as [`Queue::fed`]) handed to the OS or dropped
    /// because a rewrite's file holds them.
    written: AtomicU64,
    /// Written by [`Aof::write_through`] and not yet synced.
    unsynced: AtomicBool,
    /// Size right after the last rewrite (auto-aof-rewrite-percentage base).
    base_size: AtomicU64,
    /// Last write error, if the last write failed.
    pub last_error: Mutex<Option<String>>,
    stop: AtomicBool,
    /// A rewrite is running.
    pub rewriting: AtomicBool,
    /// No file yet: waiting for the first rewrite (see [`Aof::pending`]).
    pending: AtomicBool,
}

impl Aof {
    /// Opens the log whose manifest is in `layout` (creating the directory
    /// and an empty manifest if missing) and starts its writer. Commands are
    /// appended to the last incremental file; with none, a new one is
    /// created and the manifest replaced (Redis's
    /// aofOpenIfNeededOnServerStart). O(number of files).
    pub fn open(layout: Layout, policy: u8) -> Result<Arc<Aof>, String> {
        layout.ensure_dir()?;
        let mut m = layout.load()?.unwrap_or_default();
        let had_history = m.delete_history(&layout);
        let created = m.incrs.is_empty();
        if created {
            m.new_incr(&layout.filename);
        }
        let last = m.incrs.last().map(|f| layout.file(&f.name)).unwrap_or_default();
        // The file exists before a manifest names it.
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&last)
            .map_err(|e| format!("Can't open the append-only file {}: {e}", last.display()))?;
        if created || had_history {
            layout.persist(&m)?;
        }
        let base = m.base.as_ref().map_or(0, |b| layout.size_of(b));
        let total = base + m.incrs.iter().map(|f| layout.size_of(f)).sum::<u64>();
        let aof = Aof::start(layout, policy, Some(file), m)?;
        aof.size.store(total, Ordering::Relaxed);
        aof.base_size.store(base, Ordering::Relaxed);
        Ok(aof)
    }

    /// A log without a file yet, for `CONFIG SET appendonly yes`: it accepts
    /// commands at once, and becomes the file at `path` when the first
    /// rewrite (begun with [`Aof::begin_rewrite`] at its fork) completes
    /// ([`Aof::finish_rewrite`]). Until then the writer drops what is queued
    /// (the rewrite's base or copy holds it) and [`Aof::wait_synced`] waits.
    /// Any file already at `path` is left as it is until then. O(1).
    pub fn pending(layout: Layout, policy: u8) -> Result<Arc<Aof>, String> {
        layout.ensure_dir()?;
        let m = layout.load().ok().flatten().unwrap_or_default();
        Aof::start(layout, policy, None, m)
    }

    fn start(layout: Layout, policy: u8, file: Option<File>, manifest: Manifest) -> Result<Arc<Aof>, String> {
        let pending = file.is_none();
        let size = file.as_ref().and_then(|f| f.metadata().ok()).map_or(0, |m| m.len());
        let (synced, _) = tokio::sync::watch::channel(0);
        let aof = Arc::new(Aof {
            layout,
            manifest: Mutex::new(manifest),
            queue: Mutex::new(Queue { buf: Vec::new(), db: None, fed: 0, rewrite: None }),
            wake: Condvar::new(),
            file: Mutex::new(file),
            policy: AtomicU8::new(policy),
            synced,
            size: AtomicU64::new(size),
            written: AtomicU64::new(0),
            unsynced: AtomicBool::new(false),
            base_size: AtomicU64::new(size),
            last_error: Mutex::new(None),
            stop: AtomicBool::new(false),
            rewriting: AtomicBool::new(false),
            pending: AtomicBool::new(pending),
        });
        let w = aof.clone();
        std::thread::Builder::new()
            .name("aof-writer".into())
            .spawn(move || w.writer_loop())
            .map_err(|e| format!("Can't start the AOF writer: {e}"))?;
        Ok(aof)
    }

    /// Where the log's files are.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// True while the log waits for its first rewrite (no file yet). O(1).
    pub fn is_pending(&self) -> bool {
        self.pending.load(Ordering::Relaxed)
    }

    /// True once [`Aof::close`] was called. O(1).
    pub fn is_closed(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Changes the fsync policy at run time.
    pub fn set_policy(&self, p: u8) {
        self.policy.store(p, Ordering::Relaxed);
    }

    /// True when replies must wait for [`Aof::wait_synced`].
    pub fn is_always(&self) -> bool {
        self.policy.load(Ordering::Relaxed) == FSYNC_ALWAYS
    }

    /// Current file size in bytes.
    pub fn size(&self) -> u64 {
        self.size.load(Ordering::Relaxed)
    }

    /// Size after the last rewrite.
    pub fn base_size(&self) -> u64 {
        self.base_size.load(Ordering::Relaxed)
    }

    /// Queues commands, each with the database it ran against (a SELECT is
    /// logged when that changes); returns the log offset a client must wait
    /// for under `always`. O(size of the commands).
    pub fn feed(&self, cmds: &[(usize, Vec<Bytes>)]) -> u64 {
        let mut q = self.queue.lock();
        let q = &mut *q;
        let start = q.buf.len();
        append_cmds(&mut q.buf, &mut q.db, cmds);
        q.fed += (q.buf.len() - start) as u64;
        if let Some((rw, rw_db)) = q.rewrite.as_mut() {
            append_cmds(rw, rw_db, cmds);
        }
        let fed = q.fed;
        // Under `always` the writer syncs at once (group commit); otherwise
        // the connections write before replying and the writer only picks
        // up what nobody waits for (expirations, CLIENT REPLY OFF) on its
        // periodic turn, so feeding costs no cross-thread wakeup.
        // With one worker the connection syncs before its reply instead
        // (see [`Aof::sync_through`]) and the writer is not woken.
        if self.is_always() && !crate::server::write_batch::watching() {
            self.wake.notify_one();
        }
        fed
    }

    /// Hands everything queued to the OS unless the log is already written
    /// up to `offset` (a value [`Aof::feed`] returned): what a connection
    /// calls before sending a reply under `everysec`/`no`, so the first
    /// connection of a busy moment writes for all of them in one `write`.
    /// A failed write leaves the data queued for the writer thread, which
    /// retries and reports it. O(bytes queued).
    pub fn write_through(&self, offset: u64) {
        if self.written.load(Ordering::Acquire) >= offset {
            return;
        }
        let mut file = self.file.lock();
        let Some(f) = file.as_mut() else { return };
        let (data, fed) = {
            let mut q = self.queue.lock();
            if q.buf.is_empty() || self.written.load(Ordering::Acquire) >= offset {
                return;
            }
            q.take()
        };
        if self.write_taken(f, data, fed) {
            self.unsynced.store(true, Ordering::Relaxed);
        } else {
            self.wake.notify_one();
        }
    }

    /// Writes `data`, just taken from the queue (which held everything
    /// fed up to `fed`), to `f`, whose lock the caller holds from before
    /// it took the data until now (so nobody wrote later commands first).
    /// On a failed write: logs it, cuts the partial write off so the log
    /// stays parseable, puts the commands back in front of the queue and
    /// returns false. O(bytes).
    fn write_taken(&self, f: &mut File, data: Vec<u8>, fed: u64) -> bool {
        if data.is_empty() {
            return true;
        }
        let before = self.size.load(Ordering::Relaxed);
        let write = crate::cmd::server::latency::Monitor::start();
        let res = f.write_all(&data);
        write.end("aof-write");
        if let Err(e) = res {
            tracing::warn!("Error writing to the AOF file: {e}");
            *self.last_error.lock() = Some(e.to_string());
            let _ = f.set_len(before);
            let mut q = self.queue.lock();
            let mut rest = data;
            rest.extend_from_slice(&q.buf);
            q.buf = rest;
            return false;
        }
        self.size.fetch_add(data.len() as u64, Ordering::Relaxed);
        self.written.fetch_max(fed, Ordering::Release);
        true
    }

    /// Whether the log is on disk up to `offset`. O(1).
    pub fn is_synced(&self, offset: u64) -> bool {
        *self.synced.borrow() >= offset
    }

    /// Under `always`, on a server whose connections run on one worker
    /// thread: writes and `fdatasync`s everything queued, on the calling
    /// thread, unless the log is already synced up to `offset` — Redis's
    /// write and sync in `beforeSleep`. Connections call it once their
    /// batch of requests has run (see `server::write_batch`), so the first
    /// one syncs for all of them; the others find their offset synced. It
    /// blocks that worker for the sync, as Redis blocks its event loop.
    /// False when it could not (no file yet, a write or sync error): the
    /// writer thread, woken, takes over and retries, and the caller waits
    /// for it with [`Aof::wait_synced`]. O(bytes queued) plus one sync.
    pub fn sync_through(&self, offset: u64) -> bool {
        if self.is_synced(offset) {
            return true;
        }
        let mut file = self.file.lock();
        if *self.synced.borrow() >= offset {
            return true;
        }
        let Some(f) = file.as_mut() else { return false };
        let (data, fed) = self.queue.lock().take();
        if !self.write_taken(f, data, fed) {
            self.wake.notify_one();
            return false;
        }
        if !self.sync_file(f, true) {
            self.unsynced.store(true, Ordering::Relaxed);
            self.wake.notify_one();
            return false;
        }
        self.publish_synced(fed);
        true
    }

    /// `fdatasync`s the log, timing it as `aof-fsync-always` under that
    /// policy, and records the outcome as the last error (or its end).
    /// False if it failed.
    fn sync_file(&self, f: &File, always: bool) -> bool {
        let fsync = crate::cmd::server::latency::Monitor::start();
        let synced = f.sync_data();
        if always {
            fsync.end("aof-fsync-always");
        }
        match synced {
            Ok(()) => {
                *self.last_error.lock() = None;
                true
            }
            Err(e) => {
                tracing::warn!("Error syncing the AOF file: {e}");
                *self.last_error.lock() = Some(e.to_string());
                false
            }
        }
    }

    /// Announces that everything fed up to `fed` is on disk, waking the
    /// clients waiting for it (never moves the mark back).
    fn publish_synced(&self, fed: u64) {
        self.synced.send_if_modified(|s| {
            let grow = fed > *s;
            if grow {
                *s = fed;
            }
            grow
        });
    }

    /// Waits until the log is synced up to `offset` (for `always`).
    pub async fn wait_synced(&self, offset: u64) {
        let mut rx = self.synced.subscribe();
        let _ = rx.wait_for(|s| *s >= offset || self.stop.load(Ordering::Relaxed)).await.is_ok();
    }

    fn writer_loop(self: Arc<Self>) {
        let mut last_sync = Instant::now();
        let mut unsynced = false;
        loop {
            {
                let mut q = self.queue.lock();
                if self.is_always() {
                    while q.buf.is_empty() && !self.stop.load(Ordering::Relaxed) {
                        let r = self.wake.wait_for(&mut q, Duration::from_millis(100));
                        if r.timed_out() && unsynced {
                            break;
                        }
                    }
                } else if !self.stop.load(Ordering::Relaxed) {
                    // Connections write what they wait for themselves
                    // (see `write_through`): this is the periodic turn.
                    self.wake.wait_for(&mut q, Duration::from_millis(100));
                }
            }
            // The file's lock is taken before the queue is emptied, as
            // write_through and sync_through take them: whoever takes
            // commands from the queue writes them before anyone takes
            // later ones, so the log keeps their order.
            let mut file = self.file.lock();
            // (A rewrite completes under the file's lock too, so what is
            // taken here is never already in a rewritten file.)
            let (data, fed) = {
                let mut q = self.queue.lock();
                unsynced |= self.unsynced.swap(false, Ordering::Relaxed);
                q.take()
            };
            if file.is_none() {
                // Pending: the first rewrite's base or copy holds these
                // commands; nothing is on disk to acknowledge yet.
                drop(file);
                if self.stop.load(Ordering::Relaxed) {
                    self.synced.send_replace(u64::MAX);
                    return;
                }
                continue;
            }
            let wrote = !data.is_empty();
            if wrote {
                let Some(f) = file.as_mut() else { continue };
                if !self.write_taken(f, data, fed) {
                    // Retried after a pause.
                    drop(file);
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
                unsynced = true;
            }
            let policy = self.policy.load(Ordering::Relaxed);
            let stopping = self.stop.load(Ordering::Relaxed);
            let due =
                policy == FSYNC_ALWAYS || (policy == FSYNC_EVERYSEC && last_sync.elapsed() >= Duration::from_secs(1));
            let mut sync_failed = false;
            if unsynced && (due || stopping) {
                if let Some(f) = file.as_ref() {
                    sync_failed = !self.sync_file(f, policy == FSYNC_ALWAYS);
                }
                last_sync = Instant::now();
                // Under `always` a failed sync is retried: nothing is
                // acknowledged until it is on disk.
                unsynced = sync_failed && policy == FSYNC_ALWAYS;
            } else if wrote {
                *self.last_error.lock() = None;
            }
            drop(file);
            if policy != FSYNC_ALWAYS || !unsynced {
                // Everything fed up to `fed` is now in the file (written
                // earlier or just now); a rewrite may have announced more.
                self.publish_synced(fed);
            }
            if sync_failed {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            if stopping && self.queue.lock().buf.is_empty() && !unsynced {
                self.synced.send_replace(u64::MAX);
                return;
            }
        }
    }

    /// Flushes and syncs everything queued, then stops the writer (shutdown,
    /// `CONFIG SET appendonly no`).
    pub fn close(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.wake.notify_one();
        let mut rx = self.synced.subscribe();
        let deadline = Instant::now() + Duration::from_secs(10);
        while *rx.borrow_and_update() != u64::MAX && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Begins capturing commands for a rewrite. Call with every shard locked,
    /// right before forking, so the capture starts exactly at the image.
    pub fn begin_rewrite(&self) {
        self.queue.lock().rewrite = Some((Vec::new(), None));
        self.rewriting.store(true, Ordering::Relaxed);
    }

    /// Abandons a failed rewrite.
    pub fn abort_rewrite(&self) {
        self.queue.lock().rewrite = None;
        self.rewriting.store(false, Ordering::Relaxed);
    }

    /// Completes a rewrite whose child wrote the base `tmp` (an RDB image
    /// when `rdb`): writes what was queued meanwhile to a new incremental
    /// file and syncs it, renames the base into the directory, replaces
    /// the manifest (the old files' contents are all in the new ones, so a
    /// crash at any point leaves a complete log), switches the writer to
    /// the new file and deletes the old ones (Redis's
    /// backgroundRewriteDoneHandler). O(size of the queued copy).
    pub fn finish_rewrite(&self, tmp: &Path, rdb: bool) -> Result<(), String> {
        let mut file = self.file.lock();
        let mut q = self.queue.lock();
        let Some((rw, rw_db)) = q.rewrite.take() else { return Err("no rewrite in progress".into()) };
        self.rewriting.store(false, Ordering::Relaxed);
        let layout = &self.layout;
        let mut m = self.manifest.lock().clone();
        let base_name = m.new_base(&layout.filename, rdb);
        m.incrs_to_history();
        let incr_name = m.new_incr(&layout.filename);
        let incr_path = layout.file(&incr_name);
        let base_path = layout.file(&base_name);
        let created = (|| {
            let mut f = OpenOptions::new().create(true).write(true).truncate(true).open(&incr_path)?;
            f.write_all(&rw)?;
            f.sync_all()?;
            std::fs::rename(tmp, &base_path)?;
            Ok::<File, std::io::Error>(f)
        })();
        let f = match created.map_err(|e| e.to_string()).and_then(|f| {
            let history = std::mem::take(&mut m.history);
            layout.persist(&m)?;
            m.history = history;
            Ok(f)
        }) {
            Ok(f) => f,
            Err(e) => {
                let _ = std::fs::remove_file(&incr_path);
                let _ = std::fs::remove_file(&base_path);
                return Err(e);
            }
        };
        m.delete_history(layout);
        let base_size = std::fs::metadata(&base_path).map_or(0, |m| m.len());
        let size = base_size + rw.len() as u64;
        *self.manifest.lock() = m;
        self.pending.store(false, Ordering::Relaxed);
        // Everything queued since the fork is in the new file already.
        q.buf.clear();
        q.db = rw_db;
        let fed = q.fed;
        self.written.fetch_max(fed, Ordering::Release);
        *file = Some(f);
        self.size.store(size, Ordering::Relaxed);
        // As Redis: the growth of the next automatic rewrite counts from the
        // whole log as this rewrite left it (at start: from the base alone).
        self.base_size.store(size, Ordering::Relaxed);
        drop(q);
        drop(file);
        self.publish_synced(fed);
        Ok(())
    }
}
