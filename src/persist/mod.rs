//! Persistence: RDB snapshots and the append-only file, loaded at start.
//!
//! - [`rdb`]: the RDB file codec (Redis 7 compatible, both directions).
//! - [`snapshot`]: the keyspace written as an RDB image or AOF base; RDB loading.
//! - [`aof`]: the append-only log, its writer thread, rewrite and replay.
//! - [`manifest`]: the multi-part AOF directory (Redis 7): file names and
//!   the manifest listing them.
//! - [`load`]: loading at start while clients get `-LOADING`, its progress.
//! - [`jobs`]: the one background child (BGSAVE or rewrite), scheduled
//!   jobs, the save rules and automatic rewrite.
//!
//! Promises: a snapshot is written to a temporary file, synced, renamed
//! over the old one and the directory synced, so a crash leaves either the
//! old or the new file, never a torn one; the AOF directory's manifest is
//! replaced the same way, and names only complete, synced files.
//! Background saves fork: the child
//! writes the image of the instant the parent held every shard lock, while
//! the parent keeps serving. At start the AOF (if enabled and present) wins
//! over the RDB, as in Redis; a corrupt file stops the start with an error
//! naming the file and offset. The load runs while the listeners already
//! accept clients (see [`load`]).

pub mod aof;
pub mod jobs;
pub mod load;
pub mod manifest;
mod propagate;
pub mod rdb;
pub mod replay;
pub mod snapshot;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use crate::cmd::table::CommandSpec;
use crate::db::Locked;
use crate::protocol::Reply;
use crate::server::client::ClientState;
use crate::server::config::Config;
use crate::server::Server;
use aof::Aof;
pub use jobs::{bgrewriteaof_command, bgsave_command, spawn_cron, JobStart};
use jobs::{Jobs, Kind};
pub use load::{begin_loading, load_at_start, LoadProgress, LoadSource};
use propagate::{b, translate};

/// Why writes are refused (`-MISCONF`).
const MISCONF_NONE: u8 = 0;
const MISCONF_RDB: u8 = 1;
const MISCONF_AOF: u8 = 2;

/// Persistence state shared by the server, commands and background threads.
#[derive(Default)]
pub struct Persistence {
    /// The open append-only file, when `appendonly yes` (change it with
    /// [`Persistence::set_aof`]).
    pub aof: RwLock<Option<Arc<Aof>>>,
    /// `aof` is set: read without the lock by every write command, which
    /// has nothing to log when neither the AOF nor a replica wants it.
    aof_on: AtomicBool,
    /// True while data is loaded at start: nothing is logged then, and
    /// clients get `-LOADING` for commands Redis refuses while loading.
    pub loading: AtomicBool,
    /// Progress and controls of the start-up load.
    pub load: LoadProgress,
    /// The replication stream, fed here with what the AOF logs (see
    /// [`crate::replication`]); `Server::replication` shares it.
    pub repl: Arc<crate::replication::stream::Stream>,
    state: Arc<SaveState>,
}

#[derive(Default)]
struct SaveState {
    lastsave: AtomicU64,
    last_bgsave_ok: AtomicBool,
    last_bgsave_failed_at: AtomicU64,
    last_rewrite_ok: AtomicBool,
    dirty_at_save: AtomicU64,
    misconf: AtomicU8,
    saves: AtomicU64,
    rewrites: AtomicU64,
    bgsave_error: Mutex<String>,
    jobs: Jobs,
}

/// Unix seconds now.
fn unix_now() -> u64 {
    crate::db::now_ms() / 1000
}

/// Syncs the directory holding `path`, so a rename in it is durable.
pub fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

impl Persistence {
    /// Fresh state: last save "now" (as Redis reports at start), status ok.
    pub fn new() -> Persistence {
        let p = Persistence::default();
        p.state.lastsave.store(unix_now(), Ordering::Relaxed);
        p.state.last_bgsave_ok.store(true, Ordering::Relaxed);
        p.state.last_rewrite_ok.store(true, Ordering::Relaxed);
        p
    }

    /// Whether [`Persistence::write_refusal`] may refuse a write now (a failed
    /// save or AOF write is pending). One relaxed load.
    #[inline]
    pub fn may_refuse_writes(&self) -> bool {
        self.state.misconf.load(Ordering::Relaxed) != MISCONF_NONE
    }

    /// The `-MISCONF` error writes get while the last save (or AOF write) failed.
    pub fn write_refusal(&self) -> Option<Reply> {
        match self.state.misconf.load(Ordering::Relaxed) {
            MISCONF_NONE => None,
            MISCONF_AOF => Some(Reply::err(format!(
                "MISCONF Errors writing to the AOF file: {}",
                self.aof.read().as_ref().and_then(|a| a.last_error.lock().clone()).unwrap_or_default()
            ))),
            _ => Some(Reply::err("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.")),
        }
    }

    /// Whether writes are logged (the AOF is on): commands that log a
    /// rewritten form skip building it otherwise.
    pub fn logs_writes(&self) -> bool {
        self.aof_on.load(Ordering::Acquire) || self.repl.wants_writes()
    }

    /// Logs a write command that just executed (shard locks still held).
    /// Inside EXEC the commands are collected and logged as MULTI … EXEC.
    pub fn propagate(
        &self,
        ks: &mut Locked,
        client: &mut ClientState,
        spec: &CommandSpec,
        args: &[Bytes],
        reply: &Reply,
    ) {
        if self.loading.load(Ordering::Relaxed) {
            return;
        }
        if !self.aof_on.load(Ordering::Acquire) && !self.repl.wants_writes() {
            return;
        }
        let guard = self.aof.read();
        if guard.is_none() && !self.repl.wants_writes() {
            return;
        }
        let db = client.db;
        let cmds = match client.propagate_as.take() {
            Some(cmds) => cmds,
            None => translate(ks, spec, args, reply),
        };
        if cmds.is_empty() {
            return;
        }
        if client.in_exec {
            client.exec_log.extend(cmds.into_iter().map(|c| (db, c)));
            return;
        }
        let with_db: Vec<(usize, Vec<Bytes>)> = cmds.into_iter().map(|c| (db, c)).collect();
        self.feed(guard.as_deref(), client, &with_db);
    }

    /// Opens (`Some`) or closes (`None`) the append-only file as the one
    /// writes are logged to; the one it replaces is returned.
    pub fn set_aof(&self, aof: Option<Arc<Aof>>) -> Option<Arc<Aof>> {
        let mut slot = self.aof.write();
        // Set under the lock: a write that reads the flag unset ran before
        // the switch, as one that had taken the read lock first would.
        self.aof_on.store(aof.is_some(), Ordering::Release);
        std::mem::replace(&mut *slot, aof)
    }

    /// Sends logged commands to the AOF (when on) and the replication stream.
    fn feed(&self, aof: Option<&Aof>, client: &mut ClientState, cmds: &[(usize, Vec<Bytes>)]) {
        if let Some(aof) = aof {
            client.aof_offset = aof.feed(cmds);
        }
        self.repl.feed(cmds);
    }

    /// Logs the commands an EXEC ran, wrapped in MULTI/EXEC.
    pub fn propagate_exec(&self, client: &mut ClientState) {
        let cmds = std::mem::take(&mut client.exec_log);
        if cmds.is_empty() || self.loading.load(Ordering::Relaxed) {
            return;
        }
        let guard = self.aof.read();
        let db = cmds[0].0;
        let mut all = Vec::with_capacity(cmds.len() + 2);
        all.push((db, vec![Bytes::from_static(b"MULTI")]));
        all.extend(cmds);
        let last = all[all.len() - 1].0;
        all.push((last, vec![Bytes::from_static(b"EXEC")]));
        self.feed(guard.as_deref(), client, &all);
    }

    /// Logs the writes a script ran: one command as it is, several
    /// wrapped in MULTI/EXEC (as Redis 7 propagates a script's effects).
    pub fn propagate_script(&self, client: &mut ClientState) {
        if client.exec_log.len() > 1 {
            return self.propagate_exec(client);
        }
        let cmds = std::mem::take(&mut client.exec_log);
        if cmds.is_empty() || self.loading.load(Ordering::Relaxed) {
            return;
        }
        let guard = self.aof.read();
        self.feed(guard.as_deref(), client, &cmds);
    }

    /// Logs `DEL` for keys of database `db` that expired (lazily on access,
    /// or reclaimed by the active expiry cycle), as Redis propagates
    /// expirations, so a replay sees them disappear at the same point of the
    /// log. Call with the keys' shard locks still held. O(keys).
    pub fn propagate_expired(&self, db: usize, keys: &[Bytes]) {
        if keys.is_empty() || self.loading.load(Ordering::Relaxed) {
            return;
        }
        let aof = self.aof.read();
        if aof.is_none() && !self.repl.wants_writes() {
            return;
        }
        let dels: Vec<(usize, Vec<Bytes>)> = keys.iter().map(|k| (db, vec![b("DEL"), k.clone()])).collect();
        if let Some(aof) = aof.as_ref() {
            aof.feed(&dels);
        }
        self.repl.feed(&dels);
    }

    /// Makes a client's logged commands (up to AOF `offset`) as durable as
    /// the policy promises before its reply goes out: on disk under
    /// `always` (waits for the writer's sync), handed to the OS otherwise.
    pub async fn wait_durable(&self, offset: u64) {
        let aof = self.aof.read().clone();
        if let Some(aof) = aof {
            if aof.is_always() {
                let watching = crate::server::write_batch::watching();
                if watching && !aof.is_synced(offset) {
                    // Group commit: connections whose requests arrived while
                    // this batch ran are read and run first (the runtime
                    // polls for I/O before waking a yielded task), so one
                    // sync covers their writes too.
                    tokio::task::yield_now().await;
                }
                if !(watching && aof.sync_through(offset)) {
                    aof.wait_synced(offset).await;
                }
            } else {
                aof.write_through(offset);
            }
        }
    }

    /// True while a BGSAVE child runs. O(1).
    pub fn bgsave_running(&self) -> bool {
        self.state.jobs.running() == Some(Kind::Rdb)
    }

    /// Unix time of the last successful save (`LASTSAVE`).
    pub fn lastsave(&self) -> u64 {
        self.state.lastsave.load(Ordering::Relaxed)
    }
}

/// Path of the RDB file.
pub fn rdb_path(cfg: &Config) -> PathBuf {
    cfg.dir.join(&cfg.dbfilename)
}

/// Path of a single-file append-only log of Redis before 7.0 (loaded, then
/// moved into the directory as the base: see [`load`]).
pub fn aof_path(cfg: &Config) -> PathBuf {
    cfg.dir.join(&cfg.appendfilename)
}

/// The multi-part AOF directory and file names the settings give.
pub fn aof_layout(cfg: &Config) -> manifest::Layout {
    manifest::Layout::new(&cfg.dir, &cfg.appenddirname, &cfg.appendfilename)
}

/// Foreground save (SAVE, shutdown, DEBUG RELOAD): the caller holds every
/// shard lock; the file is written to a temp file, synced and renamed over
/// the dump. O(dataset); a failure leaves the old dump untouched.
pub fn save_locked(srv: &Server, locked: &mut Locked) -> Result<(), String> {
    let (path, compress) = {
        let c = srv.config.read();
        (rdb_path(&c), c.rdbcompression)
    };
    let tmp = path.with_file_name(format!("temp-{}.rdb", std::process::id()));
    let dirty = srv.keyspace.stats.dirty.load(Ordering::Relaxed);
    let r = snapshot::write_rdb(locked, &tmp, compress)
        .and_then(|_| std::fs::rename(&tmp, &path).map_err(|e| format!("rename {} failed: {e}", path.display())));
    srv.persist.state.finish_save(&r, dirty, &path, false);
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

impl SaveState {
    /// Records the outcome of a save. As in Redis, only a failed background
    /// save marks the status `err` (which can refuse writes); any success
    /// marks it `ok`.
    fn finish_save(&self, r: &Result<(), String>, dirty_at_start: u64, path: &Path, background: bool) {
        let st = self;
        match r {
            Ok(()) => {
                sync_dir(path);
                st.lastsave.store(unix_now(), Ordering::Relaxed);
                st.dirty_at_save.store(dirty_at_start, Ordering::Relaxed);
                st.last_bgsave_ok.store(true, Ordering::Relaxed);
                st.saves.fetch_add(1, Ordering::Relaxed);
                let _ = st.misconf.compare_exchange(MISCONF_RDB, MISCONF_NONE, Ordering::Relaxed, Ordering::Relaxed);
                tracing::info!("DB saved on disk");
            }
            Err(e) => {
                tracing::warn!("Failed saving the DB: {e}");
                *st.bgsave_error.lock() = e.clone();
                if background {
                    st.last_bgsave_ok.store(false, Ordering::Relaxed);
                    st.last_bgsave_failed_at.store(unix_now(), Ordering::Relaxed);
                }
            }
        }
    }
}

/// At shutdown: kill any background child, give a log switched on at run
/// time whose first rewrite has not finished its base now (in the
/// foreground, so no acknowledged write is lost; Redis refuses to exit
/// then), sync the AOF and, when save rules exist (or `save` says so),
/// write a final snapshot. O(dataset) when writing a base or saving.
pub fn on_shutdown(srv: &Server, save: Option<bool>) -> Result<(), String> {
    // A background save or rewrite still running is abandoned (as Redis does):
    // the final save below writes the newest data anyway.
    // Every shard locked: the cron cannot start another child meanwhile
    // (and will not after, seeing the shutdown flag).
    let jobs = &srv.persist.state.jobs;
    let all = srv.keyspace.lock_all();
    for (kind, what) in [(Kind::Rdb, "saving an .rdb"), (Kind::Aof, "rewriting the AOF")] {
        if jobs.running() == Some(kind) {
            tracing::warn!("There is a child {what}. Killing it!");
            jobs.kill(kind);
        }
    }
    drop(all);
    let loading = srv.persist.loading.load(Ordering::Relaxed);
    let aof = srv.persist.aof.read().clone();
    if let Some(a) = aof {
        if a.is_pending() && !loading {
            tracing::warn!("Writing the initial AOF before exiting.");
            if let Err(e) = write_first_base(srv, &a) {
                tracing::warn!("Error writing the initial AOF: {e}");
            }
        }
        a.close();
    }
    let rules = !srv.config.read().save.is_empty();
    // As Redis: never save while loading, the data is incomplete.
    if loading {
        tracing::warn!("Shutdown during loading: not saving the partial dataset.");
    } else if save.unwrap_or(rules) {
        tracing::info!("Saving the final RDB snapshot before exiting.");
        let mut l = srv.keyspace.lock_all();
        save_locked(srv, &mut l)?;
    }
    Ok(())
}

/// Writes the base of a pending log in the foreground (no child may run):
/// the whole dataset, with every shard locked. O(dataset).
fn write_first_base(srv: &Server, a: &Aof) -> Result<(), String> {
    let tmp = a.layout().file(&format!("temp-rewriteaof-{}.aof", std::process::id()));
    let (rdb, compress) = {
        let c = srv.config.read();
        (c.aof_use_rdb_preamble, c.rdbcompression)
    };
    let mut l = srv.keyspace.lock_all();
    a.abort_rewrite();
    a.begin_rewrite();
    let r = snapshot::write_base(&mut l, &tmp, rdb, compress).and_then(|_| a.finish_rewrite(&tmp, rdb));
    if r.is_err() {
        a.abort_rewrite();
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

/// Turns the AOF on or off at run time (`CONFIG SET appendonly`), as
/// Redis's startAppendOnly / stopAppendOnly. On: the log is on at once
/// (INFO `aof_enabled:1`, every write from now on is queued to it) and its
/// file is written by a background rewrite, started now, or scheduled while
/// a BGSAVE runs (a rewrite running with the AOF off is killed and started
/// again, as it keeps no copy of new writes); the file appears, holding
/// every write, when that rewrite ends (see [`Aof::pending`]). Returns
/// after the fork: O(1) plus the fork; an error (the fork failed) leaves
/// the AOF off. Off: syncs and closes the log, kills its rewrite and drops
/// a scheduled one. While loading nothing happens here: the end of the
/// load opens the log as the settings then say.
pub fn set_appendonly(srv: &Server, on: bool) -> Result<(), String> {
    if srv.persist.loading.load(Ordering::Relaxed) {
        return Ok(());
    }
    let cfg = srv.config.read().clone();
    let policy = aof::fsync_policy(&cfg.appendfsync);
    let jobs = &srv.persist.state.jobs;
    if !on {
        let taken = srv.persist.set_aof(None);
        if let Some(a) = taken {
            jobs.rewrite_scheduled.store(false, Ordering::Relaxed);
            a.close();
            jobs.kill(Kind::Aof);
        }
        return Ok(());
    }
    if let Some(a) = srv.persist.aof.read().as_ref() {
        a.set_policy(policy);
        return Ok(());
    }
    // Every shard locked: no write runs, no other switch or job starts.
    let mut l = srv.keyspace.lock_all();
    if let Some(a) = srv.persist.aof.read().as_ref() {
        a.set_policy(policy);
        return Ok(());
    }
    if jobs.running() == Some(Kind::Aof) {
        tracing::warn!("AOF was enabled but there is already an AOF rewriting in background. Stopping background AOF and starting a rewrite now.");
        jobs.kill(Kind::Aof);
    }
    let a = Aof::pending(aof_layout(&cfg), policy)?;
    srv.persist.set_aof(Some(a.clone()));
    if jobs.running().is_some() {
        jobs.rewrite_scheduled.store(true, Ordering::Relaxed);
        tracing::warn!("AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.");
        return Ok(());
    }
    if let Err(e) = jobs::start_rewrite(srv, &mut l) {
        srv.persist.set_aof(None);
        drop(l);
        a.close();
        tracing::warn!("Redis needs to enable the AOF but can't trigger a background AOF rewrite operation. Check the above logs for more info about the error.");
        return Err(e);
    }
    Ok(())
}

/// INFO's persistence section, with Redis's field names. O(1).
pub fn info(srv: &Server) -> String {
    let st = &srv.persist.state;
    let dirty =
        srv.keyspace.stats.dirty.load(Ordering::Relaxed).saturating_sub(st.dirty_at_save.load(Ordering::Relaxed));
    let aof = srv.persist.aof.read().clone();
    let ok = |b: bool| if b { "ok" } else { "err" };
    let loading = srv.persist.loading.load(Ordering::Relaxed);
    let jobs = &st.jobs;
    let scheduled = jobs.rewrite_scheduled.load(Ordering::Relaxed) as u8;
    let mut s = format!(
        "# Persistence\r\nloading:{}\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_fork_perc:0.00\r\nrdb_changes_since_last_save:{dirty}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_current_bgsave_time_sec:{}\r\nrdb_saves:{}\r\n{}aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{scheduled}\r\naof_current_rewrite_time_sec:{}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\n",
        loading as u8,
        (jobs.running() == Some(Kind::Rdb)) as u8,
        st.lastsave.load(Ordering::Relaxed),
        ok(st.last_bgsave_ok.load(Ordering::Relaxed)),
        jobs.elapsed(Kind::Rdb),
        st.saves.load(Ordering::Relaxed),
        srv.persist.load.last_load_info(),
        aof.is_some() as u8,
        (jobs.running() == Some(Kind::Aof)) as u8,
        jobs.elapsed(Kind::Aof),
        ok(st.last_rewrite_ok.load(Ordering::Relaxed)),
        st.rewrites.load(Ordering::Relaxed),
        jobs.rewrite_failures.load(Ordering::Relaxed),
        ok(aof.as_ref().is_none_or(|a| a.last_error.lock().is_none())),
    );
    if let Some(a) = aof {
        s.push_str(&format!(
            "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:{scheduled}\r\n",
            a.size(),
            a.base_size()
        ));
    }
    if loading {
        s.push_str(&srv.persist.load.loading_info());
    }
    s.push_str("\r\n");
    s
}

/// DEBUG RELOAD: save, empty the keyspace, load the file back; the caller
/// holds every shard lock. O(dataset).
pub fn debug_reload(srv: &Server, locked: &mut Locked) -> Result<(), String> {
    save_locked(srv, locked)?;
    for s in locked.shards_mut() {
        for d in s.dbs.iter_mut() {
            d.take();
        }
    }
    let path = rdb_path(&srv.config.read());
    snapshot::load_rdb_locked(locked, &path)?;
    Ok(())
}
