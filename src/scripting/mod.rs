//! Lua scripting (Redis's `eval.c`, `script.c`, `script_lua.c`).
//!
//! - [`engine`]: the sandboxed Lua 5.1 VM, the script cache and one run.
//! - [`convert`]: replies ↔ Lua values, both protocols.
//! - [`flags`]: the `#!lua flags=…` shebang.
//! - [`libs`]: `cjson`, `cmsgpack`, `bit`, `struct`.
//!
//! Atomicity comes from the keyspace: a script runs with every shard locked
//! (as EXEC does), so no other command can interleave with it. While one
//! runs, other clients' commands wait in [`RunState::busy_reply`]; past
//! `busy-reply-threshold` they are answered `-BUSY` instead, except the
//! few Redis allows (SCRIPT KILL, SHUTDOWN NOSAVE …).

mod call;
pub mod convert;
pub mod engine;
pub mod flags;
pub mod functions;
mod host;
pub mod libs;
mod rand48;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};

pub use engine::{sha1_hex, Engine};
pub use host::Host;

use crate::protocol::Reply;

/// Redis's `-BUSY` while an EVAL script runs past the threshold.
pub const BUSY_EVAL: &str = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// Redis's `-BUSY` while a function runs past the threshold.
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// The script running now, as the rest of the server sees it (Redis's
/// `curr_run_ctx`). One per process: only one script runs at a time.
pub struct RunState {
    running: AtomicBool,
    /// When the run started: nanoseconds of [`crate::stopwatch::uptime`]
    /// plus one (0: no run).
    started: AtomicU64,
    /// `busy-reply-threshold` in ms for the current run (0: never busy).
    pub threshold_ms: AtomicU64,
    timed_out: AtomicBool,
    /// Run time in ms at the last hand-off of the worker (0: none yet).
    handed_off_ms: AtomicU64,
    /// SCRIPT KILL / FUNCTION KILL asked the script to stop.
    pub killed: AtomicBool,
    /// The script has run a write command (it can no longer be killed).
    pub wrote: AtomicBool,
    eval: AtomicBool,
    /// The function running and its call (FUNCTION STATS).
    function: Mutex<Option<(String, Vec<Bytes>)>>,
    /// `function` is set (EVAL runs leave it alone: no lock per run).
    named: AtomicBool,
    done: Mutex<()>,
    cv: Condvar,
    /// Commands waiting in [`RunState::busy_reply`]: a run that ends with
    /// none skips the lock and the wake-up.
    waiters: AtomicUsize,
}

/// The process's run state.
pub static RUN: RunState = RunState {
    running: AtomicBool::new(false),
    started: AtomicU64::new(0),
    threshold_ms: AtomicU64::new(5000),
    timed_out: AtomicBool::new(false),
    handed_off_ms: AtomicU64::new(0),
    killed: AtomicBool::new(false),
    wrote: AtomicBool::new(false),
    eval: AtomicBool::new(true),
    function: Mutex::new(None),
    named: AtomicBool::new(false),
    done: Mutex::new(()),
    cv: Condvar::new(),
    waiters: AtomicUsize::new(0),
};

impl RunState {
    /// Marks a script as started (`eval`: EVAL rather than FCALL).
    pub fn begin(&self, eval: bool, threshold_ms: u64) {
        self.started.store(crate::stopwatch::uptime().as_nanos() as u64 + 1, Ordering::Relaxed);
        self.threshold_ms.store(threshold_ms, Ordering::Relaxed);
        self.timed_out.store(false, Ordering::Relaxed);
        self.handed_off_ms.store(0, Ordering::Relaxed);
        self.killed.store(false, Ordering::Relaxed);
        self.wrote.store(false, Ordering::Relaxed);
        self.eval.store(eval, Ordering::Relaxed);
        self.running.store(true, Ordering::SeqCst);
    }

    /// Names the function about to run (FUNCTION STATS shows it).
    pub fn set_function(&self, name: &str, call: &[Bytes]) {
        *self.function.lock() = Some((name.to_string(), call.to_vec()));
        self.named.store(true, Ordering::Relaxed);
    }

    /// The running function: name, call and ms so far.
    pub fn running_function(&self) -> Option<(String, Vec<Bytes>, u128)> {
        if !self.is_running() || self.eval.load(Ordering::Relaxed) {
            return None;
        }
        let (name, call) = self.function.lock().clone()?;
        Some((name, call, self.elapsed().unwrap_or_default().as_millis()))
    }

    /// Marks the script as finished and wakes the commands waiting for it.
    pub fn end(&self) {
        if self.named.swap(false, Ordering::Relaxed) {
            *self.function.lock() = None;
        }
        self.started.store(0, Ordering::Relaxed);
        // Sequentially consistent with `busy_reply`'s count and check: either
        // a waiter sees the run over, or this sees the waiter and wakes it
        // (under the lock, so not before it waits).
        self.running.store(false, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _g = self.done.lock();
            self.cv.notify_all();
        }
    }

    /// Whether a script is running.
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    fn elapsed(&self) -> Option<Duration> {
        match self.started.load(Ordering::Relaxed) {
            0 => None,
            t => Some(crate::stopwatch::uptime().saturating_sub(Duration::from_nanos(t - 1))),
        }
    }

    /// Called from the VM's hook: once the script passes the threshold,
    /// logs it once and hands the worker off to the rest of the server, again
    /// every [`HANDOFF_RETRY`] while it runs: a hand-off can lose its race
    /// (this thread takes the worker back before the new thread starts), and
    /// with a single worker nothing else would serve the other clients.
    fn note_timeout(&self) {
        let threshold = self.threshold_ms.load(Ordering::Relaxed);
        if threshold == 0 {
            return;
        }
        let Some(ms) = self.elapsed().map(|e| e.as_millis() as u64) else { return };
        if ms < threshold {
            return;
        }
        let last = self.handed_off_ms.load(Ordering::Relaxed);
        if last != 0 && ms < last + HANDOFF_RETRY.as_millis() as u64 {
            return;
        }
        self.handed_off_ms.store(ms.max(1), Ordering::Relaxed);
        hand_off_worker();
        if !self.timed_out.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "Slow script detected: still in execution after {ms} milliseconds. You can try killing the script using the {} command.",
                if self.eval.load(Ordering::Relaxed) { "SCRIPT KILL" } else { "FUNCTION KILL" }
            );
        }
    }

    /// For a command of another client while a script may be running:
    /// waits until the script ends (`None`: go ahead), or answers `-BUSY`
    /// once it has run past the threshold. O(1) when no script runs.
    pub fn busy_reply(&self) -> Option<Reply> {
        if !self.is_running() {
            return None;
        }
        let mut g = self.done.lock();
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let reply = loop {
            if !self.is_running() {
                break None;
            }
            let threshold = Duration::from_millis(self.threshold_ms.load(Ordering::Relaxed));
            let elapsed = self.elapsed().unwrap_or_default();
            if !threshold.is_zero() && elapsed >= threshold {
                let msg = if self.eval.load(Ordering::Relaxed) { BUSY_EVAL } else { BUSY_FUNCTION };
                break Some(Reply::err(msg));
            }
            let wait = if threshold.is_zero() { Duration::from_millis(100) } else { threshold - elapsed };
            self.cv.wait_for(&mut g, wait);
        };
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        reply
    }

    /// The `-BUSY` error for the script running now (EVAL or function).
    pub fn busy_error(&self) -> Reply {
        Reply::err(if self.eval.load(Ordering::Relaxed) { BUSY_EVAL } else { BUSY_FUNCTION })
    }

    /// SCRIPT KILL (`eval`) or FUNCTION KILL: `+OK`, or Redis's error.
    pub fn kill(&self, eval: bool) -> Result<Reply, Reply> {
        if !self.is_running() {
            return Err(Reply::err("NOTBUSY No scripts in execution right now."));
        }
        if self.wrote.load(Ordering::Relaxed) {
            return Err(Reply::err("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command."));
        }
        let running_eval = self.eval.load(Ordering::Relaxed);
        if eval != running_eval {
            return Err(self.busy_error());
        }
        self.killed.store(true, Ordering::Relaxed);
        Ok(crate::protocol::reply::OK)
    }
}

/// How often a script past the threshold hands its worker off again.
const HANDOFF_RETRY: Duration = Duration::from_millis(100);

/// Lets the async runtime move this worker's other tasks (and its I/O
/// duties) to another thread: a script past the threshold keeps this
/// thread busy, and the rest of the server must go on (to answer `-BUSY`,
/// SCRIPT KILL, SHUTDOWN NOSAVE). Does nothing outside a multi-threaded
/// runtime.
fn hand_off_worker() {
    let multi = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi {
        // The pause gives the runtime's new thread time to take the worker
        // over before this call returns (else it would keep it).
        tokio::task::block_in_place(|| std::thread::sleep(Duration::from_millis(2)));
    }
}

/// The server's scripting state: the EVAL engine, created on first use.
#[derive(Default)]
pub struct Scripting {
    eval: Mutex<Option<Engine>>,
    /// The function libraries (FUNCTION, FCALL).
    pub functions: Mutex<functions::Functions>,
    /// Libraries and functions loaded, readable while a function runs
    /// (which holds [`Scripting::functions`]).
    counts: Mutex<(usize, usize)>,
}

impl Scripting {
    /// Runs `f` on the EVAL engine (created on first use), or answers the
    /// error that prevented creating it.
    pub fn with_eval<R>(&self, f: impl FnOnce(&mut Engine) -> R) -> Result<R, Reply> {
        let mut g = self.eval.lock();
        if g.is_none() {
            *g = Some(Engine::new().map_err(|e| Reply::Error(format!("ERR Lua engine failed to start: {e}")))?);
        }
        match g.as_mut() {
            Some(engine) => Ok(f(engine)),
            None => Err(Reply::err("ERR Lua engine unavailable")),
        }
    }

    /// Applies a change to the libraries, then refreshes what is read
    /// without their lock: the counts and the code snapshots save.
    fn change_libraries<R>(&self, change: impl FnOnce(&mut functions::Functions) -> R) -> R {
        let mut f = self.functions.lock();
        let r = change(&mut f);
        *self.counts.lock() = f.counts();
        f.publish();
        r
    }

    /// The flags a script or function call declares (its shebang, the
    /// cached script's, the function's); `None` when unknown (no such
    /// script or function). `name` is `eval`, `evalsha` or `fcall`.
    pub fn declared_flags(&self, name: &str, args: &[Bytes]) -> Option<u32> {
        let arg = args.get(1)?;
        match name {
            "eval" => Some(flags::from_shebang(arg).map_or(flags::EVAL_COMPAT_MODE, |(f, _)| f)),
            "evalsha" => self.with_eval(|e| e.get(arg).map(|s| s.flags)).ok().flatten(),
            "fcall" => {
                let fname = std::str::from_utf8(arg).ok()?;
                self.functions.lock().find(fname).map(|f| f.flags)
            }
            _ => None,
        }
    }

    /// FUNCTION LOAD [REPLACE]: the library's name or Redis's error text.
    pub fn load_library(&self, code: &[u8], replace: bool) -> Result<String, String> {
        self.change_libraries(|f| f.load(code, replace))
    }

    /// FUNCTION DELETE: false if there is no such library.
    pub fn delete_library(&self, name: &str) -> bool {
        self.change_libraries(|f| f.delete(name))
    }

    /// FUNCTION RESTORE (see [`functions::Functions::restore`]).
    pub fn restore_libraries(&self, payload: &[u8], policy: functions::RestorePolicy) -> Result<(), String> {
        self.change_libraries(|f| f.restore(payload, policy))
    }

    /// FUNCTION FLUSH.
    pub fn flush_functions(&self) {
        self.change_libraries(|f| f.flush())
    }

    /// `(libraries, functions)`, without waiting for a running function.
    pub fn function_counts(&self) -> (usize, usize) {
        *self.counts.lock()
    }

    /// SCRIPT FLUSH: forgets every script and starts a fresh VM, as Redis
    /// does (nothing a script left in the VM survives).
    pub fn flush_eval(&self) {
        *self.eval.lock() = None;
    }

    /// `(cached scripts, VM bytes, script bytes)` for INFO, without
    /// waiting for a running script (zeros while one runs).
    pub fn memory_stats(&self) -> (usize, usize, usize) {
        match self.eval.try_lock() {
            Some(g) => g.as_ref().map_or((0, 0, 0), |e| (e.len(), e.vm_memory(), e.body_bytes)),
            None => (0, 0, 0),
        }
    }

    /// Bytes of the functions VM (0 while a function runs).
    pub fn functions_vm_memory(&self) -> usize {
        self.functions.try_lock().map_or(0, |f| f.vm_memory())
    }
}
