//! Background jobs: the forked child that saves the RDB (BGSAVE) or writes
//! an AOF base (BGREWRITEAOF), the jobs scheduled to start when it ends, and
//! the cron that starts saves and rewrites by the rules.
//!
//! Promises, as in Redis 7: at most one child runs at a time. BGREWRITEAOF
//! while a BGSAVE runs (or inside EXEC) is scheduled and starts when no
//! child runs; BGSAVE while a rewrite runs is refused unless `SCHEDULE` is
//! given (or inside EXEC). The save rules and the automatic rewrite wait
//! while a child runs. After three consecutive failed rewrites, scheduled
//! and automatic ones back off (1 minute, doubling up to an hour). Starting
//! a job is O(1) plus the fork; the caller holds every shard lock, so the
//! child's image is that instant's.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::manifest::Layout;
use super::{aof_layout, rdb_path, snapshot, unix_now, SaveState, MISCONF_AOF, MISCONF_NONE, MISCONF_RDB};
use crate::db::Locked;
use crate::server::Server;

/// What a forked child does.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Kind {
    /// Writes the RDB dump (BGSAVE, save rules).
    Rdb,
    /// Writes an AOF base (BGREWRITEAOF, automatic rewrite, AOF switched on).
    Aof,
}

/// How a child ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Outcome {
    /// Exited with status 0: its file is complete and synced.
    Done,
    /// Exited otherwise, or died by a signal nobody here sent.
    Failed,
    /// Killed on purpose ([`Jobs::kill`]): not an error.
    Killed,
}

/// What a BGSAVE or BGREWRITEAOF request did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum JobStart {
    /// A child was forked.
    Started,
    /// The job starts when the running child ends (checked ten times a second).
    Scheduled,
}

struct Running {
    pid: i32,
    kind: Kind,
    started: u64,
    killed: bool,
}

/// Back-off of rewrites after consecutive failures (Redis's `aofRewriteLimited`).
#[derive(Default)]
struct Limiter {
    delay_minutes: u64,
    next_at: u64,
}

/// Failed rewrites in a row after which scheduled and automatic ones back off.
const REWRITE_FAILURES_BEFORE_LIMIT: u64 = 3;
/// Longest back-off, in minutes.
const REWRITE_LIMIT_MAX_MINUTES: u64 = 60;
/// Seconds before a failed BGSAVE is retried by the rules or a schedule.
const BGSAVE_RETRY_DELAY: u64 = 5;

/// The running child and the scheduled jobs. All methods O(1).
#[derive(Default)]
pub(super) struct Jobs {
    child: Mutex<Option<Running>>,
    ended: Condvar,
    /// A rewrite waits for the running child to end (INFO `aof_rewrite_scheduled`).
    pub(super) rewrite_scheduled: AtomicBool,
    /// A BGSAVE waits for the running child to end (`BGSAVE SCHEDULE`).
    pub(super) bgsave_scheduled: AtomicBool,
    /// Failed rewrites in a row (INFO `aof_rewrites_consecutive_failures`).
    pub(super) rewrite_failures: AtomicU64,
    limiter: Mutex<Limiter>,
}

impl Jobs {
    /// The kind of the running child, if any.
    pub(super) fn running(&self) -> Option<Kind> {
        self.child.lock().as_ref().map(|r| r.kind)
    }

    /// Seconds the running child of `kind` has been running; -1 if none.
    pub(super) fn elapsed(&self, kind: Kind) -> i64 {
        match self.child.lock().as_ref() {
            Some(r) if r.kind == kind => unix_now().saturating_sub(r.started) as i64,
            _ => -1,
        }
    }

    fn begin(&self, pid: i32, kind: Kind) {
        *self.child.lock() = Some(Running { pid, kind, started: unix_now(), killed: false });
    }

    fn was_killed(&self, pid: i32) -> bool {
        self.child.lock().as_ref().is_some_and(|r| r.pid == pid && r.killed)
    }

    fn end(&self, pid: i32) {
        let mut c = self.child.lock();
        if c.as_ref().is_some_and(|r| r.pid == pid) {
            *c = None;
        }
        self.ended.notify_all();
    }

    /// Kills the running child of `kind` (if any) and waits, up to ten
    /// seconds, until it is reaped and its temporary file removed. Its end
    /// is not recorded as a failure. Returns whether a child was killed.
    pub(super) fn kill(&self, kind: Kind) -> bool {
        let mut c = self.child.lock();
        let Some(r) = c.as_mut().filter(|r| r.kind == kind) else { return false };
        let pid = r.pid;
        r.killed = true;
        tracing::info!("Killing running {kind:?} child: {pid}");
        // SAFETY: signalling our own child, which is not reaped yet (its
        // waiter clears `child` only after waitpid returned).
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while c.as_ref().is_some_and(|r| r.pid == pid) {
            if self.ended.wait_until(&mut c, deadline).timed_out() {
                tracing::warn!("Child {pid} did not end after SIGKILL");
                break;
            }
        }
        true
    }

    /// True while rewrites back off after consecutive failures; each call
    /// past a back-off period allows one attempt and doubles the next delay.
    fn rewrite_limited(&self) -> bool {
        let mut l = self.limiter.lock();
        if self.rewrite_failures.load(Ordering::Relaxed) < REWRITE_FAILURES_BEFORE_LIMIT {
            *l = Limiter::default();
            return false;
        }
        let now = unix_now();
        if l.next_at != 0 {
            if now < l.next_at {
                return true;
            }
            l.next_at = 0;
            return false;
        }
        l.delay_minutes = if l.delay_minutes == 0 { 1 } else { (l.delay_minutes * 2).min(REWRITE_LIMIT_MAX_MINUTES) };
        l.next_at = now + l.delay_minutes * 60;
        tracing::warn!(
            "Background AOF rewrite has repeatedly failed and triggered the limit, will retry in {} minutes",
            l.delay_minutes
        );
        true
    }
}

/// Forks a child that runs `work` on the locked image (with its own pid)
/// and exits with 0 on success. Returns the child's pid. The caller holds
/// every shard lock.
pub(crate) fn fork_child(
    locked: &mut Locked,
    work: impl FnOnce(&mut Locked, u32) -> Result<(), String>,
) -> Result<i32, String> {
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

/// Records `pid` as the running child and reaps it in a helper thread,
/// which runs `done` with how it ended and only then clears the record (so
/// the next job starts after `done` finished its renames).
fn watch_child(st: &Arc<SaveState>, pid: i32, kind: Kind, done: impl FnOnce(Outcome) + Send + 'static) {
    st.jobs.begin(pid, kind);
    let st = st.clone();
    let reap = move || {
        let mut status = 0;
        let r = loop {
            // SAFETY: waitpid on our own child's pid with a valid status pointer.
            let r = unsafe { libc::waitpid(pid, &mut status, 0) };
            if r == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break r;
        };
        let outcome = if r == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
            Outcome::Done
        } else if st.jobs.was_killed(pid) {
            Outcome::Killed
        } else {
            Outcome::Failed
        };
        done(outcome);
        st.jobs.end(pid);
    };
    let reap = Arc::new(Mutex::new(Some(reap)));
    let in_thread = reap.clone();
    let spawned = std::thread::Builder::new().name("child-waiter".into()).spawn(move || {
        if let Some(f) = in_thread.lock().take() {
            f();
        }
    });
    if let Err(e) = spawned {
        // Without a waiter the child could never be reaped: stop it now.
        tracing::warn!("Can't start a thread to wait for child {pid}: {e}; killing it");
        kill_now(pid);
        if let Some(f) = reap.lock().take() {
            f();
        }
    }
}

fn kill_now(pid: i32) {
    // SAFETY: signalling our own, not yet reaped, child.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

/// The temporary file a save by process `pid` writes (Redis's name).
fn rdb_temp(path: &Path, pid: u32) -> PathBuf {
    path.with_file_name(format!("temp-{pid}.rdb"))
}

/// The temporary AOF base a rewrite child `pid` writes (Redis's name), in
/// the AOF directory (so renaming it into place is atomic).
fn rewrite_temp(dir: &Path, pid: u32) -> PathBuf {
    dir.join(format!("temp-rewriteaof-bg-{pid}.aof"))
}

/// Forks a child that writes the RDB to `temp-<child pid>.rdb`; once it
/// succeeded the file is renamed over the dump. Refused while any child
/// runs. The caller holds every shard lock. O(1) here plus the fork.
pub(super) fn start_bgsave(srv: &Server, locked: &mut Locked) -> Result<(), String> {
    let st = srv.persist.state.clone();
    if st.jobs.running().is_some() {
        return Err("a background child is already running".into());
    }
    let (path, compress, refuse_on_error) = {
        let c = srv.config.read();
        (rdb_path(&c), c.rdbcompression, c.stop_writes_on_bgsave_error && !c.save.is_empty())
    };
    let dirty = srv.keyspace.stats.dirty.load(Ordering::Relaxed);
    let child_path = path.clone();
    let pid = match fork_child(locked, move |l, me| snapshot::write_rdb(l, &rdb_temp(&child_path, me), compress)) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("Can't save in background: {e}");
            st.last_bgsave_ok.store(false, Ordering::Relaxed);
            st.last_bgsave_failed_at.store(unix_now(), Ordering::Relaxed);
            return Err(e);
        }
    };
    let tmp = rdb_temp(&path, pid as u32);
    tracing::info!("Background saving started by pid {pid}");
    let state = st.clone();
    watch_child(&st, pid, Kind::Rdb, move |outcome| {
        let st = state;
        let r = match outcome {
            Outcome::Done => {
                std::fs::rename(&tmp, &path).map_err(|e| format!("rename of {} failed: {e}", path.display()))
            }
            Outcome::Failed => Err("Background saving child failed".to_string()),
            Outcome::Killed => Err(String::new()),
        };
        if r.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        if outcome == Outcome::Killed {
            tracing::info!("Background saving child {pid} killed");
            return;
        }
        if r.is_err() && refuse_on_error {
            st.misconf.store(MISCONF_RDB, Ordering::Relaxed);
        }
        st.finish_save(&r, dirty, &path, true);
    });
    Ok(())
}

/// Forks a child that writes the dataset as an AOF base while the log (if
/// on) keeps a copy of new writes; when the child is done, the copy is
/// appended and the new file renamed over the log (no write lost or
/// duplicated); with the AOF off the base alone becomes the file. A failed
/// rewrite of a log still waiting for its first one is scheduled again.
/// Refused while any child runs. The caller holds every shard lock. O(1)
/// here plus the fork.
pub(super) fn start_rewrite(srv: &Server, locked: &mut Locked) -> Result<(), String> {
    let st = srv.persist.state.clone();
    if st.jobs.running().is_some() {
        return Err("a background child is already running".into());
    }
    let aof = srv.persist.aof.read().clone();
    let (layout, rdb, compress) = {
        let c = srv.config.read();
        (aof.as_ref().map_or_else(|| aof_layout(&c), |a| a.layout().clone()), c.aof_use_rdb_preamble, c.rdbcompression)
    };
    layout.ensure_dir()?;
    if let Some(a) = &aof {
        a.begin_rewrite();
    }
    let child_dir = layout.dir.clone();
    let pid =
        match fork_child(locked, move |l, me| snapshot::write_base(l, &rewrite_temp(&child_dir, me), rdb, compress)) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("Can't rewrite append only file in background: {e}");
                if let Some(a) = &aof {
                    a.abort_rewrite();
                }
                st.last_rewrite_ok.store(false, Ordering::Relaxed);
                return Err(e);
            }
        };
    st.jobs.rewrite_scheduled.store(false, Ordering::Relaxed);
    let tmp = rewrite_temp(&layout.dir, pid as u32);
    tracing::info!("Background append only file rewriting started by pid {pid}");
    let state = st.clone();
    watch_child(&st, pid, Kind::Aof, move |outcome| {
        let st = state;
        let r = match (outcome, &aof) {
            (Outcome::Done, Some(a)) => a.finish_rewrite(&tmp, rdb),
            (Outcome::Done, None) => install_base_only(&layout, &tmp, rdb),
            (Outcome::Failed, _) => Err("the rewrite child failed".into()),
            (Outcome::Killed, _) => Err("the rewrite child was killed".into()),
        };
        match r {
            Ok(()) => {
                tracing::info!("Background AOF rewrite finished successfully");
                st.rewrites.fetch_add(1, Ordering::Relaxed);
                st.jobs.rewrite_failures.store(0, Ordering::Relaxed);
                st.last_rewrite_ok.store(true, Ordering::Relaxed);
            }
            Err(e) => {
                if let Some(a) = &aof {
                    a.abort_rewrite();
                }
                let _ = std::fs::remove_file(&tmp);
                if outcome == Outcome::Killed {
                    tracing::info!("Background AOF rewrite child {pid} killed");
                    return;
                }
                tracing::warn!("Background AOF rewrite failed: {e}");
                st.last_rewrite_ok.store(false, Ordering::Relaxed);
                st.jobs.rewrite_failures.fetch_add(1, Ordering::Relaxed);
                // A log switched on at run time has no file until a rewrite
                // succeeds: try again (Redis's AOF_WAIT_REWRITE).
                if aof.as_ref().is_some_and(|a| a.is_pending() && !a.is_closed()) {
                    st.jobs.rewrite_scheduled.store(true, Ordering::Relaxed);
                }
            }
        }
    });
    Ok(())
}

/// A rewrite with the AOF off: the new base becomes the log's only file
/// (the manifest replaced, the old files deleted), as Redis 7 does.
/// O(number of files).
fn install_base_only(layout: &Layout, tmp: &Path, rdb: bool) -> Result<(), String> {
    let mut m = layout.load()?.unwrap_or_default();
    let name = m.new_base(&layout.filename, rdb);
    m.incrs_to_history();
    std::fs::rename(tmp, layout.file(&name)).map_err(|e| format!("rename failed: {e}"))?;
    let history = std::mem::take(&mut m.history);
    if let Err(e) = layout.persist(&m) {
        let _ = std::fs::remove_file(layout.file(&name));
        return Err(e);
    }
    m.history = history;
    m.delete_history(layout);
    Ok(())
}

/// BGSAVE [SCHEDULE]: starts a save now, or schedules it while an AOF
/// rewrite runs (with `schedule`) or inside EXEC (a fork there would save
/// half a transaction). The error texts are Redis's (without `ERR `). The
/// caller holds every shard lock. O(1) plus the fork.
pub fn bgsave_command(srv: &Server, locked: &mut Locked, schedule: bool, in_exec: bool) -> Result<JobStart, String> {
    let jobs = &srv.persist.state.jobs;
    let running = jobs.running();
    if running == Some(Kind::Rdb) {
        return Err("Background save already in progress".into());
    }
    if running.is_some() || in_exec {
        if !(schedule || in_exec) {
            return Err("Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.".into());
        }
        jobs.bgsave_scheduled.store(true, Ordering::Relaxed);
        return Ok(JobStart::Scheduled);
    }
    start_bgsave(srv, locked).map(|_| JobStart::Started)
}

/// BGREWRITEAOF: starts a rewrite now, or schedules it while a BGSAVE runs
/// or inside EXEC (resetting the failure back-off, as Redis does). The
/// error texts are Redis's (without `ERR `). The caller holds every shard
/// lock. O(1) plus the fork.
pub fn bgrewriteaof_command(srv: &Server, locked: &mut Locked, in_exec: bool) -> Result<JobStart, String> {
    let jobs = &srv.persist.state.jobs;
    let running = jobs.running();
    if running == Some(Kind::Aof) {
        return Err("Background append only file rewriting already in progress".into());
    }
    if running.is_some() || in_exec {
        jobs.rewrite_scheduled.store(true, Ordering::Relaxed);
        jobs.rewrite_failures.store(0, Ordering::Relaxed);
        return Ok(JobStart::Scheduled);
    }
    match start_rewrite(srv, locked) {
        Ok(()) => Ok(JobStart::Started),
        Err(_) => {
            Err("Can't execute an AOF background rewriting. Please check the server logs for more information.".into())
        }
    }
}

/// The save rules, the automatic AOF rewrite and the scheduled jobs,
/// checked ten times a second once the start-up load is done.
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

/// Locks every shard and runs `start` if still no child runs and no
/// shutdown began (the shutdown kills children with every shard locked, so
/// none is left running after it).
fn start_when_idle(srv: &Server, what: &str, start: fn(&Server, &mut Locked) -> Result<(), String>) -> bool {
    let mut l = srv.keyspace.lock_all();
    if srv.persist.state.jobs.running().is_some() || *srv.shutdown.borrow() {
        return false;
    }
    match start(srv, &mut l) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("{what} failed to start: {e}");
            false
        }
    }
}

fn cron_once(srv: &Server) {
    // Nothing is saved or rewritten from a partly loaded dataset, nor once
    // the shutdown began.
    if srv.persist.loading.load(Ordering::Relaxed) || *srv.shutdown.borrow() {
        return;
    }
    let cfg = srv.config.read().clone();
    let st = &srv.persist.state;
    let jobs = &st.jobs;
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
    // A rewrite scheduled while another child ran (or to switch the AOF on).
    if jobs.running().is_none() && jobs.rewrite_scheduled.load(Ordering::Relaxed) && !jobs.rewrite_limited() {
        start_when_idle(srv, "Scheduled AOF rewrite", start_rewrite);
    }
    if jobs.running().is_some() {
        return;
    }
    let retry_ok =
        !rdb_failed || unix_now().saturating_sub(st.last_bgsave_failed_at.load(Ordering::Relaxed)) > BGSAVE_RETRY_DELAY;
    let changes =
        srv.keyspace.stats.dirty.load(Ordering::Relaxed).saturating_sub(st.dirty_at_save.load(Ordering::Relaxed));
    let since = unix_now().saturating_sub(st.lastsave.load(Ordering::Relaxed));
    let rules: Vec<u64> = cfg.save.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    let due = rules.chunks(2).any(|r| r.len() == 2 && changes >= r[1] && since >= r[0]);
    if due && retry_ok && changes > 0 {
        tracing::info!("{changes} changes in {since} seconds. Saving...");
        start_when_idle(srv, "Background save", start_bgsave);
        return;
    }
    if let Some(a) = aof.filter(|a| !a.is_pending()) {
        let base = a.base_size().max(1);
        let size = a.size();
        let pct = cfg.auto_aof_rewrite_percentage;
        let growth = size.saturating_sub(base) * 100 / base;
        if pct > 0 && size >= cfg.auto_aof_rewrite_min_size && growth >= pct && !jobs.rewrite_limited() {
            tracing::info!("Starting automatic rewriting of AOF on {growth}% growth");
            start_when_idle(srv, "Automatic AOF rewrite", start_rewrite);
            return;
        }
    }
    if jobs.bgsave_scheduled.load(Ordering::Relaxed)
        && retry_ok
        && start_when_idle(srv, "Scheduled background save", start_bgsave)
    {
        jobs.bgsave_scheduled.store(false, Ordering::Relaxed);
    }
}
