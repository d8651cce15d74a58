//! Persistence: RDB snapshots and the append-only file, loaded at start.
//!
//! - [`rdb`]: the RDB file codec (Redis 7 compatible, both directions).
//! - [`snapshot`]: the keyspace written as an RDB image or AOF base; RDB loading.
//! - [`aof`]: the append-only log, its writer thread, rewrite and replay.
//! - [`load`]: loading at start while clients get `-LOADING`, its progress.
//!
//! Promises: a snapshot is written to a temporary file, synced, renamed
//! over the old one and the directory synced, so a crash leaves either the
//! old or the new file, never a torn one. Background saves fork: the child
//! writes the image of the instant the parent held every shard lock, while
//! the parent keeps serving. At start the AOF (if enabled and present) wins
//! over the RDB, as in Redis; a corrupt file stops the start with an error
//! naming the file and offset. The load runs while the listeners already
//! accept clients (see [`load`]).

pub mod aof;
pub mod load;
mod propagate;
pub mod rdb;
pub mod snapshot;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use crate::cmd::table::CommandSpec;
use crate::db::Locked;
use crate::protocol::Reply;
use crate::server::client::ClientState;
use crate::server::config::Config;
use crate::server::Server;
use aof::Aof;
pub use load::{begin_loading, load_at_start, LoadProgress, LoadSource};
use propagate::{b, translate};

/// Why writes are refused (`-MISCONF`).
const MISCONF_NONE: u8 = 0;
const MISCONF_RDB: u8 = 1;
const MISCONF_AOF: u8 = 2;

/// Persistence state shared by the server, commands and background threads.
#[derive(Default)]
pub struct Persistence {
    /// The open append-only file, when `appendonly yes`.
    pub aof: RwLock<Option<Arc<Aof>>>,
    /// True while data is loaded at start: nothing is logged then, and
    /// clients get `-LOADING` for commands Redis refuses while loading.
    pub loading: AtomicBool,
    /// Progress and controls of the start-up load.
    pub load: LoadProgress,
    state: Arc<SaveState>,
}

#[derive(Default)]
struct SaveState {
    lastsave: AtomicU64,
    last_bgsave_ok: AtomicBool,
    last_bgsave_failed_at: AtomicU64,
    bgsave_child: AtomicI32,
    rewrite_child: AtomicI32,
    last_rewrite_ok: AtomicBool,
    dirty_at_save: AtomicU64,
    misconf: AtomicU8,
    saves: AtomicU64,
    rewrites: AtomicU64,
    bgsave_error: Mutex<String>,
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
        let guard = self.aof.read();
        let Some(aof) = guard.as_ref() else { return };
        let db = client.db;
        let cmds = translate(ks, spec, args, reply);
        if cmds.is_empty() {
            return;
        }
        if client.in_exec {
            client.exec_log.extend(cmds.into_iter().map(|c| (db, c)));
            return;
        }
        let with_db: Vec<(usize, Vec<Bytes>)> = cmds.into_iter().map(|c| (db, c)).collect();
        client.aof_offset = aof.feed(&with_db);
    }

    /// Logs the commands an EXEC ran, wrapped in MULTI/EXEC.
    pub fn propagate_exec(&self, client: &mut ClientState) {
        let cmds = std::mem::take(&mut client.exec_log);
        if cmds.is_empty() || self.loading.load(Ordering::Relaxed) {
            return;
        }
        let guard = self.aof.read();
        let Some(aof) = guard.as_ref() else { return };
        let db = cmds[0].0;
        let mut all = Vec::with_capacity(cmds.len() + 2);
        all.push((db, vec![Bytes::from_static(b"MULTI")]));
        all.extend(cmds);
        let last = all[all.len() - 1].0;
        all.push((last, vec![Bytes::from_static(b"EXEC")]));
        client.aof_offset = aof.feed(&all);
    }

    /// Logs `DEL` for keys of database `db` that expired (lazily on access,
    /// or reclaimed by the active expiry cycle), as Redis propagates
    /// expirations, so a replay sees them disappear at the same point of the
    /// log. Call with the keys' shard locks still held. O(keys).
    pub fn propagate_expired(&self, db: usize, keys: &[Bytes]) {
        if keys.is_empty() || self.loading.load(Ordering::Relaxed) {
            return;
        }
        if let Some(aof) = self.aof.read().as_ref() {
            let dels: Vec<(usize, Vec<Bytes>)> = keys.iter().map(|k| (db, vec![b("DEL"), k.clone()])).collect();
            aof.feed(&dels);
        }
    }

    /// Waits until `offset` of the AOF is on disk when `appendfsync always`.
    pub async fn wait_durable(&self, offset: u64) {
        let aof = self.aof.read().clone();
        if let Some(aof) = aof {
            if aof.is_always() {
                aof.wait_synced(offset).await;
            }
        }
    }

    /// True while a BGSAVE child runs.
    pub fn bgsave_running(&self) -> bool {
        self.state.bgsave_child.load(Ordering::Relaxed) > 0
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

/// Path of the append-only file.
pub fn aof_path(cfg: &Config) -> PathBuf {
    cfg.dir.join(&cfg.appendfilename)
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

/// Forks a child that runs `work` on the locked image (with its own pid)
/// and exits with 0 on success. Returns the child's pid. The caller holds
/// every shard lock.
fn fork_child(locked: &mut Locked, work: impl FnOnce(&mut Locked, u32) -> Result<(), String>) -> Result<i32, String> {
    // SAFETY: the child only reads the keyspace it inherited (whose locks the
    // parent holds), allocates (glibc makes malloc fork-safe) and writes a
    // file, then leaves with _exit without running destructors or touching
    // the runtime. A panic is caught so it can never unwind into a copy of
    // the server.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(locked, std::process::id())));
        let code = match r {
            Ok(Ok(())) => 0,
            Ok(Err(e)) => {
                // Raw write: stderr's lock may have been held by another
                // thread at the fork.
                let msg = format!("Background child {} failed: {e}\n", std::process::id());
                unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
                1
            }
            Err(_) => 1,
        };
        unsafe { libc::_exit(code) };
    }
    if pid < 0 {
        return Err(format!("Can't fork: {}", std::io::Error::last_os_error()));
    }
    Ok(pid)
}

/// Waits for a child in a helper thread and reports whether it succeeded.
fn wait_child(pid: i32, done: impl FnOnce(bool) + Send + 'static) {
    std::thread::spawn(move || {
        let mut status = 0;
        // SAFETY: waitpid on our own child's pid with a valid status pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        done(r == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    });
}

/// The temporary file a save by process `pid` writes (Redis's name).
fn rdb_temp(path: &Path, pid: u32) -> PathBuf {
    path.with_file_name(format!("temp-{pid}.rdb"))
}

/// BGSAVE: forks a child that writes the RDB to `temp-<child pid>.rdb`; once
/// it succeeded the file is renamed over the dump. The caller holds every
/// shard lock (the image is that instant's). O(1) here plus the fork.
pub fn bgsave(srv: &Server, locked: &mut Locked) -> Result<(), String> {
    let st = srv.persist.state.clone();
    if st.bgsave_child.load(Ordering::Relaxed) > 0 {
        return Err("Background save already in progress".into());
    }
    let (path, compress, refuse_on_error) = {
        let c = srv.config.read();
        (rdb_path(&c), c.rdbcompression, c.stop_writes_on_bgsave_error && !c.save.is_empty())
    };
    let dirty = srv.keyspace.stats.dirty.load(Ordering::Relaxed);
    let child_path = path.clone();
    let pid = fork_child(locked, move |l, me| snapshot::write_rdb(l, &rdb_temp(&child_path, me), compress))?;
    let tmp = rdb_temp(&path, pid as u32);
    st.bgsave_child.store(pid, Ordering::Relaxed);
    tracing::info!("Background saving started by pid {pid}");
    wait_child(pid, move |ok| {
        let r = if ok {
            std::fs::rename(&tmp, &path).map_err(|e| format!("rename of {} failed: {e}", path.display()))
        } else {
            Err("Background saving child failed".to_string())
        };
        if r.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        if r.is_err() && refuse_on_error {
            st.misconf.store(MISCONF_RDB, Ordering::Relaxed);
        }
        st.finish_save(&r, dirty, &path, true);
        st.bgsave_child.store(0, Ordering::Relaxed);
    });
    Ok(())
}

/// BGREWRITEAOF: forks a child that writes the dataset as an AOF base while
/// the log keeps a copy of new writes; the caller holds every shard lock.
/// O(1) here plus the fork; when the child is done, the copy is appended
/// and the new file renamed over the log (no write lost or duplicated).
pub fn bgrewriteaof(srv: &Server, locked: &mut Locked) -> Result<(), String> {
    let st = srv.persist.state.clone();
    if st.rewrite_child.load(Ordering::Relaxed) > 0 {
        return Err("Background append only file rewriting already in progress".into());
    }
    let aof = srv.persist.aof.read().clone();
    let path = aof_path(&srv.config.read());
    let tmp = path.with_file_name(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
    if let Some(a) = &aof {
        a.begin_rewrite();
    }
    let child_tmp = tmp.clone();
    let pid = match fork_child(locked, move |l, _| snapshot::write_aof_base(l, &child_tmp)) {
        Ok(p) => p,
        Err(e) => {
            if let Some(a) = &aof {
                a.abort_rewrite();
            }
            return Err(e);
        }
    };
    st.rewrite_child.store(pid, Ordering::Relaxed);
    tracing::info!("Background append only file rewriting started by pid {pid}");
    wait_child(pid, move |ok| {
        let r = match (ok, &aof) {
            (true, Some(a)) => a.finish_rewrite(&tmp),
            (true, None) => std::fs::rename(&tmp, &path).map_err(|e| e.to_string()),
            (false, _) => Err("rewrite child failed".into()),
        };
        if let Err(e) = &r {
            tracing::warn!("Background AOF rewrite failed: {e}");
            if let Some(a) = &aof {
                a.abort_rewrite();
            }
            let _ = std::fs::remove_file(&tmp);
        } else {
            tracing::info!("Background AOF rewrite finished successfully");
            st.rewrites.fetch_add(1, Ordering::Relaxed);
        }
        st.last_rewrite_ok.store(r.is_ok(), Ordering::Relaxed);
        st.rewrite_child.store(0, Ordering::Relaxed);
    });
    Ok(())
}

/// The save rules and automatic AOF rewrite, checked ten times a second.
pub fn spawn_cron(srv: &Arc<Server>) {
    let weak = Arc::downgrade(srv);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        loop {
            tick.tick().await;
            let Some(srv) = weak.upgrade() else { return };
            cron_once(&srv);
        }
    });
}

fn cron_once(srv: &Server) {
    // Nothing is saved or rewritten from a partly loaded dataset.
    if srv.persist.loading.load(Ordering::Relaxed) {
        return;
    }
    let cfg = srv.config.read().clone();
    let st = &srv.persist.state;
    // AOF write errors refuse writes until the log writes again.
    let aof = srv.persist.aof.read().clone();
    let aof_err = aof.as_ref().is_some_and(|a| a.last_error.lock().is_some());
    if aof_err {
        st.misconf.store(MISCONF_AOF, Ordering::Relaxed);
    } else {
        let _ = st.misconf.compare_exchange(MISCONF_AOF, MISCONF_NONE, Ordering::Relaxed, Ordering::Relaxed);
    }
    let rdb_failed = !st.last_bgsave_ok.load(Ordering::Relaxed);
    let misconf_rdb = rdb_failed && cfg.stop_writes_on_bgsave_error && !cfg.save.is_empty();
    if misconf_rdb {
        let _ = st.misconf.compare_exchange(MISCONF_NONE, MISCONF_RDB, Ordering::Relaxed, Ordering::Relaxed);
    } else {
        let _ = st.misconf.compare_exchange(MISCONF_RDB, MISCONF_NONE, Ordering::Relaxed, Ordering::Relaxed);
    }
    let busy = st.bgsave_child.load(Ordering::Relaxed) > 0 || st.rewrite_child.load(Ordering::Relaxed) > 0;
    if busy {
        return;
    }
    let changes =
        srv.keyspace.stats.dirty.load(Ordering::Relaxed).saturating_sub(st.dirty_at_save.load(Ordering::Relaxed));
    let since = unix_now().saturating_sub(st.lastsave.load(Ordering::Relaxed));
    let retry_ok = !rdb_failed || unix_now().saturating_sub(st.last_bgsave_failed_at.load(Ordering::Relaxed)) >= 5;
    let rules: Vec<u64> = cfg.save.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    let due = rules.chunks(2).any(|r| r.len() == 2 && changes >= r[1] && since >= r[0]);
    if due && retry_ok && changes > 0 {
        let mut l = srv.keyspace.lock_all();
        if let Err(e) = bgsave(srv, &mut l) {
            tracing::warn!("Background save failed to start: {e}");
        }
        return;
    }
    if let Some(a) = aof {
        let base = a.base_size().max(1);
        let size = a.size();
        let pct = cfg.auto_aof_rewrite_percentage;
        if pct > 0 && size >= cfg.auto_aof_rewrite_min_size && (size - base.min(size)) * 100 / base >= pct {
            tracing::info!("Starting automatic rewriting of AOF on {}% growth", (size - base.min(size)) * 100 / base);
            let mut l = srv.keyspace.lock_all();
            if let Err(e) = bgrewriteaof(srv, &mut l) {
                tracing::warn!("Automatic AOF rewrite failed to start: {e}");
            }
        }
    }
}

/// At shutdown: kill any saving child, sync the AOF and, when save rules
/// exist (or `save` says so), write a final snapshot. O(dataset) when saving.
pub fn on_shutdown(srv: &Server, save: Option<bool>) -> Result<(), String> {
    // A background save or rewrite still running is abandoned (as Redis does):
    // the final save below writes the newest data anyway.
    let st = &srv.persist.state;
    let (rdb, aof) = {
        let c = srv.config.read();
        (rdb_path(&c), aof_path(&c))
    };
    for (child, what) in [(&st.bgsave_child, "saving an .rdb"), (&st.rewrite_child, "rewriting the AOF")] {
        let pid = child.load(Ordering::Relaxed);
        if pid > 0 {
            tracing::warn!("There is a child {what}. Killing it!");
            // SAFETY: signalling our own child process by its pid.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    let bg = st.bgsave_child.load(Ordering::Relaxed);
    if bg > 0 {
        let _ = std::fs::remove_file(rdb_temp(&rdb, bg as u32));
    }
    if st.rewrite_child.load(Ordering::Relaxed) > 0 {
        let _ = std::fs::remove_file(aof.with_file_name(format!("temp-rewriteaof-bg-{}.aof", std::process::id())));
    }
    if let Some(a) = srv.persist.aof.read().as_ref() {
        a.close();
    }
    let rules = !srv.config.read().save.is_empty();
    // As Redis: never save while loading, the data is incomplete.
    if srv.persist.loading.load(Ordering::Relaxed) {
        tracing::warn!("Shutdown during loading: not saving the partial dataset.");
    } else if save.unwrap_or(rules) {
        tracing::info!("Saving the final RDB snapshot before exiting.");
        let mut l = srv.keyspace.lock_all();
        save_locked(srv, &mut l)?;
    }
    Ok(())
}

/// Turns the AOF on or off at run time (`CONFIG SET appendonly`). Turning it
/// on writes the current data as the log's base with every shard locked
/// (O(dataset), clients wait meanwhile); off syncs and closes the log.
/// While loading nothing happens here: the end of the load opens the log as
/// the settings then say.
pub fn set_appendonly(srv: &Server, on: bool) -> Result<(), String> {
    if srv.persist.loading.load(Ordering::Relaxed) {
        return Ok(());
    }
    let cfg = srv.config.read().clone();
    if !on {
        if let Some(a) = srv.persist.aof.write().take() {
            a.close();
        }
        return Ok(());
    }
    if let Some(a) = srv.persist.aof.read().as_ref() {
        a.set_policy(aof::fsync_policy(&cfg.appendfsync));
        return Ok(());
    }
    let path = aof_path(&cfg);
    let tmp = cfg.dir.join(format!("temp-rewriteaof-{}.aof", std::process::id()));
    let mut l = srv.keyspace.lock_all();
    snapshot::write_aof_base(&mut l, &tmp)?;
    std::fs::rename(&tmp, &path).map_err(|e| e.to_string())?;
    sync_dir(&path);
    let aof = Aof::open(path, aof::fsync_policy(&cfg.appendfsync))?;
    *srv.persist.aof.write() = Some(aof);
    drop(l);
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
    let mut s = format!(
        "# Persistence\r\nloading:{}\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_fork_perc:0.00\r\nrdb_changes_since_last_save:{dirty}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_saves:{}\r\n{}aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:0\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_last_write_status:{}\r\n",
        loading as u8,
        (st.bgsave_child.load(Ordering::Relaxed) > 0) as u8,
        st.lastsave.load(Ordering::Relaxed),
        ok(st.last_bgsave_ok.load(Ordering::Relaxed)),
        st.saves.load(Ordering::Relaxed),
        srv.persist.load.last_load_info(),
        aof.is_some() as u8,
        (st.rewrite_child.load(Ordering::Relaxed) > 0) as u8,
        ok(st.last_rewrite_ok.load(Ordering::Relaxed)),
        st.rewrites.load(Ordering::Relaxed),
        ok(aof.as_ref().is_none_or(|a| a.last_error.lock().is_none())),
    );
    if let Some(a) = aof {
        s.push_str(&format!("aof_current_size:{}\r\naof_base_size:{}\r\n", a.size(), a.base_size()));
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
            *d = Default::default();
        }
    }
    let path = rdb_path(&srv.config.read());
    snapshot::load_rdb_locked(locked, &path)?;
    Ok(())
}
