//! Loading the dataset at start, while clients are already served (as Redis 7
//! does): [`begin_loading`] marks the server loading before the listeners
//! open, [`load_at_start`] reads the AOF or RDB file (on a thread of its own)
//! and clears the mark once the data is in and the AOF is open.
//!
//! While loading, the dispatcher answers commands without Redis's `loading`
//! flag with `-LOADING`, so no client write can race with the loader; INFO
//! reports `loading:1` and the `loading_*` progress fields; the expiry cycle
//! and the save cron start only afterwards. `key-load-delay` (Redis's test
//! knob) sleeps that many microseconds per key (per command for an AOF); a
//! negative value `-n` sleeps one microsecond with probability 1/n.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::manifest::{Layout, Manifest};
use super::rdb::{read_rdb_ref, Elements, RdbEntryRef, RdbError, RdbStats, RdbValueRef};
use super::snapshot::check_db;
use super::{aof, aof_layout, aof_path, rdb_path, snapshot, unix_now, Aof};
use crate::db::keyspace::Keyspace;
use crate::db::value::{HashValue, ListValue, SetValue, ZSetValue};
use crate::db::{now_ms, Entry, Value};
use crate::protocol::Reply;
use crate::server::client::ClientState;
use crate::server::Server;

/// Progress of the start-up load (INFO's `loading_*` and
/// `rdb_last_load_keys_*` fields) and its controls. All O(1).
#[derive(Default)]
pub struct LoadProgress {
    /// Unix seconds when the load began.
    start_time: AtomicU64,
    /// Size of the file being loaded.
    total_bytes: AtomicU64,
    /// Bytes of it consumed so far.
    loaded_bytes: AtomicU64,
    /// Keys the last RDB load inserted.
    keys_loaded: AtomicU64,
    /// Keys the last RDB load skipped because their TTL had passed.
    keys_expired: AtomicU64,
    /// `key-load-delay`, microseconds per key.
    key_load_delay: AtomicI64,
    /// Set by a shutdown: the loader stops at the next key.
    abort: AtomicBool,
}

impl LoadProgress {
    /// Sets `key-load-delay` (microseconds slept per key loaded; `-n`: one
    /// microsecond with probability 1/n). Takes effect at the next key. O(1).
    pub fn set_key_load_delay(&self, micros: i64) {
        self.key_load_delay.store(micros, Ordering::Relaxed);
    }

    /// Asks a load in progress to stop at its next key (shutdown while
    /// loading). O(1).
    pub fn abort(&self) {
        self.abort.store(true, Ordering::Relaxed);
    }

    fn aborted(&self) -> bool {
        self.abort.load(Ordering::Relaxed)
    }

    fn start(&self, total: u64) {
        self.start_time.store(unix_now(), Ordering::Relaxed);
        self.total_bytes.store(total, Ordering::Relaxed);
        self.loaded_bytes.store(0, Ordering::Relaxed);
        self.keys_loaded.store(0, Ordering::Relaxed);
        self.keys_expired.store(0, Ordering::Relaxed);
    }

    /// Sleeps as `key-load-delay` says, as Redis's `debugDelay`.
    fn delay_key(&self) {
        snapshot::debug_delay(self.key_load_delay.load(Ordering::Relaxed));
    }

    /// INFO's `rdb_last_load_keys_expired` and `rdb_last_load_keys_loaded` lines.
    pub(super) fn last_load_info(&self) -> String {
        format!(
            "rdb_last_load_keys_expired:{}\r\nrdb_last_load_keys_loaded:{}\r\n",
            self.keys_expired.load(Ordering::Relaxed),
            self.keys_loaded.load(Ordering::Relaxed)
        )
    }

    /// INFO's `loading_*` lines (printed only while loading), computed as
    /// Redis does: the ETA is elapsed × remaining / loaded, 1 in the first second.
    pub(super) fn loading_info(&self) -> String {
        let total = self.total_bytes.load(Ordering::Relaxed);
        let loaded = self.loaded_bytes.load(Ordering::Relaxed).min(total);
        let start = self.start_time.load(Ordering::Relaxed);
        let (perc, remaining) =
            if total > 0 { (loaded as f64 * 100.0 / total as f64, total - loaded) } else { (0.0, 1) };
        let elapsed = unix_now().saturating_sub(start);
        let eta = if elapsed == 0 { 1 } else { elapsed.saturating_mul(remaining) / (loaded + 1) };
        format!(
            "loading_start_time:{start}\r\nloading_total_bytes:{total}\r\nloading_rdb_used_mem:0\r\nloading_loaded_bytes:{loaded}\r\nloading_loaded_perc:{perc:.2}\r\nloading_eta_seconds:{eta}\r\n"
        )
    }
}

/// The file a start-up load reads, chosen by [`begin_loading`].
pub enum LoadSource {
    /// No file: start empty.
    Nothing,
    /// Replay the multi-part AOF: the files the manifest lists, in order
    /// (the base first).
    Aof(Vec<PathBuf>),
    /// Replay a single-file AOF of Redis before 7.0, then move it into the
    /// AOF directory as the base (Redis's aofUpgradePrepare).
    LegacyAof(PathBuf),
    /// Read an RDB snapshot (the dump, or the original project's `--backup`).
    Rdb(PathBuf),
}

/// Marks the server loading (INFO `loading:1`, data commands refused with
/// `-LOADING`) and picks the files to load: the AOF if enabled and present
/// (it wins, as in Redis) — the files its manifest lists, or else a single
/// pre-7.0 `appendfilename` in `dir` — otherwise the RDB dump or `--backup`
/// file. An unreadable manifest, or one naming a missing file, is an error. Call
/// before the listeners open. O(1); an error (a `--backup` file that does
/// not exist) means the server must not start.
pub fn begin_loading(srv: &Server) -> Result<LoadSource, String> {
    let cfg = srv.config.read().clone();
    let p = &srv.persist;
    p.load.set_key_load_delay(cfg.key_load_delay);
    let aof_file = aof_path(&cfg);
    let layout = aof_layout(&cfg);
    let manifest = if cfg.appendonly { layout.load()? } else { None };
    let rdb = if cfg.backup.is_empty() { rdb_path(&cfg) } else { PathBuf::from(&cfg.backup) };
    let source = if let Some(m) = manifest.filter(|m| m.base.is_some() || !m.incrs.is_empty()) {
        LoadSource::Aof(files_to_load(&layout, &m, &aof_file)?)
    } else if cfg.appendonly && aof_file.exists() {
        LoadSource::LegacyAof(aof_file)
    } else if rdb.exists() {
        LoadSource::Rdb(rdb)
    } else if !cfg.backup.is_empty() {
        return Err(format!("Backup file {} does not exist", rdb.display()));
    } else {
        LoadSource::Nothing
    };
    let size_of = |f: &PathBuf| std::fs::metadata(f).map_or(0, |m| m.len());
    let size = match &source {
        LoadSource::LegacyAof(f) | LoadSource::Rdb(f) => size_of(f),
        LoadSource::Aof(files) => files.iter().map(size_of).sum(),
        LoadSource::Nothing => 0,
    };
    p.load.start(size);
    p.loading.store(true, Ordering::Relaxed);
    Ok(source)
}

/// Loads `source` (see [`begin_loading`]), then opens the AOF when
/// `appendonly` is on (a log not just replayed gets the loaded data as its
/// new base), and only then ends the loading state, so the first client
/// write is logged. O(file size) plus `key-load-delay` per key. An error
/// (naming the file and offset, or saying a shutdown stopped the load)
/// means the server must not serve; the loading state then stays on, so a
/// shutdown never saves the partial data.
pub fn load_at_start(srv: &Arc<Server>, source: LoadSource) -> Result<(), String> {
    load_and_open(srv, &source)?;
    srv.persist.loading.store(false, Ordering::Relaxed);
    Ok(())
}

fn load_and_open(srv: &Arc<Server>, source: &LoadSource) -> Result<(), String> {
    let p = &srv.persist;
    let started = Instant::now();
    match source {
        LoadSource::Aof(files) => {
            let truncated_ok = srv.config.read().aof_load_truncated;
            // Bytes of the files before this one (the progress is of them all).
            let mut done = 0;
            for (i, path) in files.iter().enumerate() {
                // A cut-off tail is acceptable in the last file only.
                let last = i + 1 == files.len();
                let offset = done;
                done += std::fs::metadata(path).map_or(0, |m| m.len());
                if is_rdb(path)? {
                    let st = load_rdb(srv, path, offset)?;
                    p.load.keys_loaded.store(st.keys_loaded, Ordering::Relaxed);
                    p.load.keys_expired.store(st.expired_skipped, Ordering::Relaxed);
                    continue;
                }
                load_aof(srv, path, truncated_ok && last, offset).map_err(|e| {
                    if last || !e.starts_with("Unexpected end of file") {
                        return e;
                    }
                    format!("Fatal error: the truncated file {} is not the last file of the AOF: {e}", path.display())
                })?;
            }
            tracing::info!("DB loaded from append only files: {:.3} seconds", started.elapsed().as_secs_f64());
        }
        LoadSource::LegacyAof(path) => {
            let truncated_ok = srv.config.read().aof_load_truncated;
            let n = load_aof(srv, path, truncated_ok, 0)?;
            tracing::info!(
                "DB loaded from append only file: {:.3} seconds ({n} commands)",
                started.elapsed().as_secs_f64()
            );
            let cfg = srv.config.read().clone();
            if cfg.appendonly {
                upgrade_legacy(&aof_layout(&cfg), path)?;
            }
        }
        LoadSource::Rdb(path) => {
            let st = load_rdb(srv, path, 0)?;
            p.load.keys_loaded.store(st.keys_loaded, Ordering::Relaxed);
            p.load.keys_expired.store(st.expired_skipped, Ordering::Relaxed);
            tracing::info!(
                "DB loaded from disk: {:.3} seconds ({} keys)",
                started.elapsed().as_secs_f64(),
                st.keys_loaded
            );
        }
        LoadSource::Nothing => {}
    }
    if p.load.aborted() {
        return Err("Loading stopped by a shutdown".into());
    }
    // What was loaded is on disk already: it is not a change to save.
    p.state.dirty_at_save.store(srv.keyspace.stats.dirty.load(Ordering::Relaxed), Ordering::Relaxed);
    // Read now: `CONFIG SET appendonly` during the load is honoured here.
    let cfg = srv.config.read().clone();
    if cfg.appendonly {
        let layout = aof_layout(&cfg);
        let policy = aof::fsync_policy(&cfg.appendfsync);
        let aof = if matches!(source, LoadSource::Aof(_) | LoadSource::LegacyAof(_)) {
            Aof::open(layout, policy)?
        } else {
            // A new log starts from the loaded data (Redis writes a base too).
            let aof = Aof::pending(layout.clone(), policy)?;
            let mut l = srv.keyspace.lock_all();
            let tmp = layout.file(&format!("temp-rewriteaof-{}.aof", std::process::id()));
            aof.begin_rewrite();
            let rdb = cfg.aof_use_rdb_preamble;
            let r =
                snapshot::write_base(&mut l, &tmp, rdb, cfg.rdbcompression).and_then(|_| aof.finish_rewrite(&tmp, rdb));
            drop(l);
            if let Err(e) = r {
                let _ = std::fs::remove_file(&tmp);
                aof.close();
                return Err(e);
            }
            aof
        };
        p.set_aof(Some(aof));
    }
    Ok(())
}

/// The paths of the files `m` lists, base first. A base missing from the
/// directory while the old single file is still beside it is an upgrade
/// cut short: the old file is moved in now. O(number of files); an error
/// names a missing file.
fn files_to_load(layout: &Layout, m: &Manifest, legacy: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for f in m.load_order() {
        let path = layout.file(&f.name);
        if !path.exists() {
            let is_legacy_base = m.base.as_ref() == Some(f) && f.name == layout.filename && legacy.exists();
            if !is_legacy_base {
                return Err(format!("The AOF file {} doesn't exist", path.display()));
            }
            std::fs::rename(legacy, &path).map_err(|e| format!("Can't move {} into place: {e}", legacy.display()))?;
            super::sync_dir(legacy);
            super::sync_dir(&path);
        }
        out.push(path);
    }
    Ok(out)
}

/// Moves a loaded single-file AOF into the directory as the base: the
/// manifest naming it is written first, then the file moved (a crash in
/// between is completed by [`files_to_load`]). O(1).
fn upgrade_legacy(layout: &Layout, legacy: &Path) -> Result<(), String> {
    layout.ensure_dir()?;
    let base = super::manifest::AofFile { name: layout.filename.clone(), seq: 1 };
    let m = Manifest { base: Some(base), base_seq: 1, ..Default::default() };
    layout.persist(&m)?;
    let dest = layout.file(&layout.filename);
    std::fs::rename(legacy, &dest)
        .map_err(|e| format!("Can't move {} into {}: {e}", legacy.display(), dest.display()))?;
    super::sync_dir(legacy);
    super::sync_dir(&dest);
    tracing::info!("Successfully migrated an old-style AOF into {}", layout.dir.display());
    Ok(())
}

/// True when the file starts as an RDB image (`REDIS`).
fn is_rdb(path: &Path) -> Result<bool, String> {
    let mut f = File::open(path).map_err(|e| format!("Can't open the AOF file {}: {e}", path.display()))?;
    let mut sig = [0u8; 5];
    let mut n = 0;
    while n < 5 {
        match f.read(&mut sig[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(format!("Error reading {}: {e}", path.display())),
        }
    }
    Ok(n == 5 && &sig == b"REDIS")
}

/// Bytes a command takes in the AOF (a RESP multibulk), for the progress.
fn resp_len(args: &[Bytes]) -> u64 {
    let digits = |n: usize| itoa::Buffer::new().format(n).len() as u64;
    let mut n = 3 + digits(args.len());
    for a in args {
        n += 3 + digits(a.len()) + a.len() as u64 + 2;
    }
    n
}

/// Replays an AOF through the command dispatcher as a loader client (whose
/// thread is marked loading, so the `-LOADING` refusal does not apply to it).
/// `offset`: bytes loaded before this file (the progress counts on from it).
fn load_aof(srv: &Arc<Server>, path: &Path, load_truncated: bool, offset: u64) -> Result<u64, String> {
    let handle = srv.clients.register(None, None);
    srv.clients.unregister(handle.id);
    let mut client = ClientState::new(handle, true);
    let progress = &srv.persist.load;
    let mut consumed = offset;
    let r = super::replay::replay(path, load_truncated, |args| {
        if progress.aborted() {
            return Err("loading stopped by a shutdown".into());
        }
        progress.delay_key();
        let reply = crate::db::with_loading(|| crate::cmd::dispatch(srv, &mut client, args));
        consumed += resp_len(args);
        progress.loaded_bytes.store(consumed, Ordering::Relaxed);
        match reply {
            Reply::Error(e) if e.starts_with("ERR unknown command") => Err(e),
            _ => Ok(()),
        }
    })?;
    Ok(r.commands)
}

/// A reader that publishes how many bytes were read (the load's progress)
/// and hands them over in pieces of at most [`PROGRESS_STEP`] bytes, so the
/// progress advances even while the parser's buffer is large.
struct Counting<'a, R> {
    inner: R,
    read: u64,
    progress: &'a AtomicU64,
}

/// Granularity of `loading_loaded_bytes` for RDB files.
const PROGRESS_STEP: usize = 4096;

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = buf.len().min(PROGRESS_STEP);
        let n = self.inner.read(&mut buf[..want])?;
        self.read += n as u64;
        self.progress.store(self.read, Ordering::Relaxed);
        Ok(n)
    }
}

/// Keys handed to an inserting thread at a time (at most).
const LOAD_BATCH: usize = 512;
/// Bytes of keys and values handed to an inserting thread at a time: a
/// batch is sent once it holds this much even if it has fewer keys.
const LOAD_BATCH_BYTES: usize = 1 << 20;
/// A used batch holding more than this is freed instead of reused.
const BATCH_KEEP_BYTES: usize = 4 << 20;

/// What a parsed key holds.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    List,
    Hash,
    Set,
    ZSet,
    /// Built already: the next of [`Batch::streams`].
    Stream,
}

/// A key of a [`Batch`].
struct Parsed {
    db: usize,
    kind: Kind,
    /// Elements after the key's name in [`Batch::data`] (1 for a string;
    /// for a sorted set, its members, whose scores are in
    /// [`Batch::scores`]).
    len: usize,
    expire_at: u64,
}

/// Keys parsed but not inserted yet, stored flat. The parsing thread copies
/// each key into a batch it reuses (allocating nothing per key), and the
/// inserting worker frees nothing the parser allocated per key: with
/// glibc malloc, freeing another thread's blocks contends on its arena,
/// which made the two threads slower than one.
#[derive(Default)]
struct Batch {
    /// Per key: its name, then its value (one element for a string; a
    /// hash's fields and values alternately; a sorted set's members).
    data: Elements,
    /// The scores of the sorted sets' members, in order.
    scores: Vec<f64>,
    /// Streams, built by the parsing thread (they are few, and their
    /// groups do not fit the flat form), in order.
    streams: Vec<Value>,
    /// Bytes of the streams' entries (for [`Batch::is_full`]).
    stream_bytes: usize,
    keys: Vec<Parsed>,
}

impl Batch {
    /// Adds a copy of `e`. O(size of the key).
    fn push(&mut self, e: &RdbEntryRef<'_>) {
        self.data.push(e.key);
        let (kind, len) = match e.value {
            RdbValueRef::Str(s) => {
                self.data.push(s);
                (Kind::Str, 1)
            }
            RdbValueRef::List(l) => {
                self.data.extend_from(l);
                (Kind::List, l.len())
            }
            RdbValueRef::Hash(h) => {
                self.data.extend_from(h);
                (Kind::Hash, h.len())
            }
            RdbValueRef::Set(m) => {
                self.data.extend_from(m);
                (Kind::Set, m.len())
            }
            RdbValueRef::ZSet(z) => {
                self.data.extend_from(z.members());
                self.scores.extend_from_slice(z.scores());
                (Kind::ZSet, z.len())
            }
            RdbValueRef::Stream(s) => {
                self.stream_bytes += s.entries.capacity_bytes();
                self.streams.push(snapshot::from_rdb(e.value));
                (Kind::Stream, 0)
            }
        };
        self.keys.push(Parsed { db: e.db, kind, len, expire_at: e.expire_at_ms.unwrap_or(0) });
    }

    fn is_full(&self) -> bool {
        self.keys.len() >= LOAD_BATCH || self.data.byte_len() + self.stream_bytes >= LOAD_BATCH_BYTES
    }

    /// Inserts every key (each under its shard's lock) and empties the
    /// batch. O(size of the batch).
    fn insert_all(&mut self, ks: &Keyspace) {
        let (mut i, mut s) = (0, 0);
        let mut streams = self.streams.drain(..);
        for p in &self.keys {
            let key = self.data.get(i).unwrap_or_default();
            let items = self.data.range(i + 1, i + 1 + p.len);
            i += 1 + p.len;
            let value = match p.kind {
                Kind::Str => Value::str(items.clone().next().unwrap_or_default()),
                Kind::List => Value::List(ListValue::from_items(items)),
                Kind::Hash => Value::Hash(HashValue::from_pairs(items.pairs())),
                Kind::Set => Value::Set(SetValue::from_members(items)),
                Kind::ZSet => {
                    let scores = self.scores.get(s..s + p.len).unwrap_or_default();
                    s += p.len;
                    Value::ZSet(ZSetValue::from_pairs(items.zip(scores.iter().copied())))
                }
                Kind::Stream => streams.next().unwrap_or_else(|| Value::Stream(Box::default())),
            };
            let mut entry = Entry::new(value);
            entry.expire_at = p.expire_at;
            let mut l = ks.lock_keys(p.db, [key]);
            l.insert_entry_in(p.db, Bytes::copy_from_slice(key), entry);
        }
        drop(streams);
        self.keys.clear();
        self.data.clear();
        self.scores.clear();
        self.stream_bytes = 0;
    }
}

/// Loads an RDB file into the (empty) keyspace. The calling thread parses
/// (applying `key-load-delay` per key and publishing the progress) into
/// [`Batch`]es; keys are inserted by worker threads that each own a subset
/// of the lock shards (so they never contend, and a key's shard — hence its
/// worker — is fixed, keeping file order per key), and hand the emptied
/// batches back for reuse. Each insertion locks one shard briefly, so INFO
/// and other loading-time commands are served meanwhile. O(file size).
/// Errors name the file and the byte offset. `offset`: bytes loaded before
/// this file (the progress counts on from it).
fn load_rdb(srv: &Server, path: &Path, offset: u64) -> Result<RdbStats, String> {
    let ks = &*srv.keyspace;
    let progress = &srv.persist.load;
    let f = File::open(path).map_err(|e| format!("Can't open the RDB file {}: {e}", path.display()))?;
    let reader = Counting {
        inner: std::io::BufReader::with_capacity(1 << 20, f),
        read: offset,
        progress: &progress.loaded_bytes,
    };
    let ndb = ks.databases();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(2, 9) - 1;
    std::thread::scope(|scope| {
        let (back_tx, back_rx) = std::sync::mpsc::channel::<Batch>();
        let mut txs = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(16);
            txs.push(tx);
            let back = back_tx.clone();
            scope.spawn(move || {
                for mut batch in rx {
                    batch.insert_all(ks);
                    if batch.data.capacity_bytes() + batch.scores.capacity() * 8 <= BATCH_KEEP_BYTES {
                        // The parser may be gone (an error): then just drop it.
                        let _ = back.send(batch);
                    }
                }
            });
        }
        drop(back_tx);
        let mut batches: Vec<Batch> = (0..workers).map(|_| Batch::default()).collect();
        let r = read_rdb_ref(reader, now_ms(), |e| {
            check_db(e.db, ndb)?;
            if progress.aborted() {
                return Err(RdbError::Aborted("stopped by a shutdown".into()));
            }
            progress.delay_key();
            let w = ks.shard_of(e.key) % workers;
            batches[w].push(&e);
            if batches[w].is_full() {
                let next = back_rx.try_recv().unwrap_or_default();
                let full = std::mem::replace(&mut batches[w], next);
                txs[w].send(full).map_err(|_| RdbError::Aborted("a loader thread stopped".into()))?;
            }
            Ok(())
        });
        for (tx, batch) in txs.iter().zip(batches) {
            let _ = tx.send(batch);
        }
        drop(txs);
        r
    })
    .map_err(|e| format!("Error loading the RDB file {}: {e}", path.display()))
    .and_then(|stats| {
        for code in &stats.functions {
            srv.scripting
                .load_library(code, true)
                .map_err(|e| format!("Error loading a function library from {}: {e}", path.display()))?;
        }
        Ok(stats)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp_len_matches_the_encoding() {
        let args: Vec<Bytes> = ["SET", "key", "a value that is longer than ten bytes"].map(Bytes::from).to_vec();
        let mut out = Vec::new();
        let refs: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
        aof::encode_command(&mut out, &refs);
        assert_eq!(resp_len(&args), out.len() as u64);
    }

    #[test]
    fn loading_info_before_any_progress() {
        let p = LoadProgress::default();
        p.start(1000);
        let s = p.loading_info();
        assert!(s.contains("loading_total_bytes:1000\r\n"), "{s}");
        assert!(s.contains("loading_loaded_bytes:0\r\n"), "{s}");
        assert!(s.contains("loading_loaded_perc:0.00\r\n"), "{s}");
        p.loaded_bytes.store(250, Ordering::Relaxed);
        assert!(p.loading_info().contains("loading_loaded_perc:25.00\r\n"));
    }
}
