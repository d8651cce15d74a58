//! The running script's link to its host (the server): which [`Host`]
//! and which keys and arguments the script on this thread runs with, how
//! they reach Lua (`KEYS`/`ARGV`, reused between runs), and the
//! `redis.setresp`/`set_repl`/`acl_check_cmd` functions and error
//! raising that go through it. `redis.call` itself is `call.rs`.

use bytes::Bytes;
use mlua::{ffi, Lua, MultiValue, Value};

use super::convert::{error_table, error_text};
use super::engine::lua_error_text;
use crate::protocol::reply::format_double_reply;
use crate::protocol::Reply;

/// What a script's `redis.*` calls need from the server.
pub trait Host {
    /// Runs one command for `redis.call`/`redis.pcall`: its reply (an
    /// error reply is `Ok`), or `Err` with the text of a refusal before it
    /// ran (unknown command, arity, ACL, a write in a read-only script …).
    fn call(&mut self, args: &[Bytes]) -> Result<Reply, String>;
    /// The protocol the script speaks (2 unless `redis.setresp(3)`).
    fn resp(&self) -> u8;
    /// `redis.setresp`.
    fn set_resp(&mut self, resp: u8);
    /// `redis.set_repl` (flags already checked).
    fn set_repl(&mut self, flags: i64);
    /// `redis.acl_check_cmd`: whether the user may run `args`; `None` if
    /// the command does not exist.
    fn acl_check(&mut self, args: &[Bytes]) -> Option<bool>;
    /// The script's error reply repeats an error already counted in the
    /// error statistics (a command's error it passed on): do not count it
    /// again, as Redis's `ignore_error_stats_update`.
    fn error_already_counted(&mut self) {}
}

thread_local! {
    /// The host of the script running on this thread (set by
    /// [`HostBinding`] for the duration of one run): `redis.call` and
    /// friends are created once and find their host here, instead of being
    /// created for every run.
    static HOST: std::cell::Cell<Option<*mut (dyn Host + 'static)>> = const { std::cell::Cell::new(None) };
    /// The keys and arguments of that run (see [`call_script`]).
    static ARGS: std::cell::Cell<Option<(*const [Bytes], *const [Bytes])>> = const { std::cell::Cell::new(None) };
}

/// How many of a run's keys, and of its arguments, [`run_argument`] compares.
pub(super) const RUN_ARGUMENTS_SHARED: usize = 4;

/// One of the first keys or arguments of the run on this thread equal to
/// `s`, shared with the request rather than copied. O(len(s)).
pub(crate) fn run_argument(s: &[u8]) -> Option<Bytes> {
    let (keys, argv) = ARGS.with(|a| a.get())?;
    // SAFETY: the slices of the live HostBinding on this thread (see there).
    let (keys, argv) = unsafe { (&*keys, &*argv) };
    let mut candidates = keys.iter().take(RUN_ARGUMENTS_SHARED).chain(argv.iter().take(RUN_ARGUMENTS_SHARED));
    candidates.find(|b| b[..] == *s).cloned()
}

/// Pushes `items` as a new Lua array (one string per item).
///
/// # Safety
/// `state` must be a Lua state with room for two more values; a memory
/// error raises a Lua error.
pub(super) unsafe fn push_array(state: *mut ffi::lua_State, items: &[Bytes]) {
    // SAFETY: as the function's contract.
    unsafe {
        ffi::lua_createtable(state, items.len().min(i32::MAX as usize) as i32, 0);
        fill_array(state, items);
    }
}

/// Sets `items` at 1, 2, … of the table on top of the stack.
///
/// # Safety
/// `state` must have a table on top and room for one more value.
pub(super) unsafe fn fill_array(state: *mut ffi::lua_State, items: &[Bytes]) {
    // SAFETY: each string is pushed and stored at once.
    unsafe {
        for (i, item) in items.iter().enumerate() {
            ffi::lua_pushlstring(state, item.as_ptr().cast(), item.len());
            ffi::lua_rawseti(state, -2, (i + 1) as _);
        }
    }
}

/// Most entries of a `KEYS`/`ARGV` table of the last run that are cleared
/// for reuse; a bigger one is replaced.
pub(super) const REUSE_MAX: usize = 64;

/// Refills the table on top of the stack with `items` if it is still a
/// plain array (no metatable, only keys 1..=[`REUSE_MAX`]): the last run's
/// `KEYS` or `ARGV`, whose contents the script may have changed but which
/// nothing can reach once the run is over (globals cannot be created, and
/// the tables scripts can write are the run's own), so it is cleared and
/// reused instead of left to the collector. False, untouched, otherwise.
/// Runs of one-key scripts make a quarter of the garbage they made.
///
/// # Safety
/// `state` must have a value on top and room for three more.
pub(super) unsafe fn refill_array(state: *mut ffi::lua_State, items: &[Bytes]) -> bool {
    // SAFETY: reads and writes the table on top, keeping the stack balanced.
    unsafe {
        if ffi::lua_type(state, -1) != ffi::LUA_TTABLE || items.len() > REUSE_MAX {
            return false;
        }
        if ffi::lua_getmetatable(state, -1) != 0 {
            ffi::lua_pop(state, 1);
            return false;
        }
        let mut last = 0;
        ffi::lua_pushnil(state);
        while ffi::lua_next(state, -2) != 0 {
            ffi::lua_pop(state, 1);
            let key = if ffi::lua_type(state, -1) == ffi::LUA_TNUMBER { ffi::lua_tonumber(state, -1) } else { 0.0 };
            if key < 1.0 || key > REUSE_MAX as f64 || key.fract() != 0.0 {
                ffi::lua_pop(state, 1);
                return false;
            }
            last = last.max(key as usize);
        }
        fill_array(state, items);
        for i in items.len() + 1..=last {
            ffi::lua_pushnil(state);
            ffi::lua_rawseti(state, -2, i as _);
        }
        true
    }
}

/// One run, as Redis's `luaCallFunction`: called with the error handler,
/// the real globals, the compiled function and whether it is a registered
/// function, it gives the function the run's keys and arguments (see
/// [`HostBinding`]; empty outside a run, as for FUNCTION LOAD's code):
/// `KEYS`/`ARGV` globals for an EVAL body, two parameters for a
/// registered function; calls it under the handler, and returns
/// `ok, value` (the first result, or the error the handler made). A C
/// function, so a run costs no Lua-side wrapper.
pub(super) unsafe extern "C-unwind" fn call_script(state: *mut ffi::lua_State) -> std::ffi::c_int {
    let (keys, argv) = ARGS.with(|a| a.get()).unwrap_or((&[] as &[Bytes], &[] as &[Bytes]));
    // SAFETY: called by Lua with the four arguments above (see
    // `Engine::run`); the slices are those of the live HostBinding on this
    // thread. Only a memory error can raise here, and no Rust value with a
    // destructor is held.
    unsafe {
        let as_function = ffi::lua_toboolean(state, 4) != 0;
        ffi::lua_settop(state, 3);
        ffi::lua_checkstack(state, 4);
        let (keys, argv) = (&*keys, &*argv);
        let nargs = if as_function {
            push_array(state, keys);
            push_array(state, argv);
            2
        } else {
            for (name, items) in [(c"KEYS", keys), (c"ARGV", argv)] {
                ffi::lua_pushstring(state, name.as_ptr());
                ffi::lua_pushvalue(state, -1);
                ffi::lua_rawget(state, 2);
                if !refill_array(state, items) {
                    ffi::lua_pop(state, 1);
                    push_array(state, items);
                    ffi::lua_rawset(state, 2);
                } else {
                    ffi::lua_pop(state, 2);
                }
            }
            0
        };
        let status = ffi::lua_pcall(state, nargs, 1, 1);
        ffi::lua_pushboolean(state, (status == 0) as std::ffi::c_int);
        ffi::lua_insert(state, -2);
    }
    2
}

/// Makes a host current on this thread while it lives.
pub(super) struct HostBinding;

impl HostBinding {
    pub(super) fn bind(host: &mut dyn Host, keys: &[Bytes], argv: &[Bytes]) -> HostBinding {
        let ptr: *mut (dyn Host + '_) = host;
        // SAFETY: only the lifetime is erased; the pointers are cleared when
        // the binding drops, before the borrows they came from end, and they
        // are only dereferenced on this thread while the binding lives.
        let ptr: *mut (dyn Host + 'static) = unsafe { std::mem::transmute(ptr) };
        HOST.with(|h| h.set(Some(ptr)));
        ARGS.with(|a| a.set(Some((keys as *const [Bytes], argv as *const [Bytes]))));
        HostBinding
    }
}

impl Drop for HostBinding {
    fn drop(&mut self) {
        HOST.with(|h| h.set(None));
        ARGS.with(|a| a.set(None));
    }
}

/// Runs `f` with the current host, or raises Redis's error outside a run.
pub(super) fn with_host<R>(f: impl FnOnce(&mut dyn Host) -> mlua::Result<R>) -> mlua::Result<R> {
    match with_current_host(f) {
        Some(r) => r,
        None => raise("redis.call/pcall can only be called inside a script invocation"),
    }
}

/// Runs `f` with the host of the script running on this thread; `None`
/// outside a run.
pub(crate) fn with_current_host<R>(f: impl FnOnce(&mut dyn Host) -> R) -> Option<R> {
    match HOST.with(|h| h.take()) {
        None => None,
        Some(ptr) => {
            // Taken out while in use, so a nested call cannot alias it.
            struct Restore(*mut (dyn Host + 'static));
            impl Drop for Restore {
                fn drop(&mut self) {
                    HOST.with(|h| h.set(Some(self.0)));
                }
            }
            let _restore = Restore(ptr);
            // SAFETY: set by a live HostBinding on this thread (see there).
            Some(f(unsafe { &mut *ptr }))
        }
    }
}

/// An error raised from Rust as a Redis error table: the prelude's error
/// handler and `pcall` turn it back into `{err = text}` (mlua raises Rust
/// errors as userdata, and Rust functions keep the caller's frame, so the
/// error's position is the script's line as in Redis).
#[derive(Debug, Clone)]
pub struct ScriptError {
    /// The error text, code first (`ERR …`, `WRONGTYPE …`).
    pub text: Vec<u8>,
    /// The command already counted this error in the statistics.
    pub counted: bool,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.text))
    }
}

impl std::error::Error for ScriptError {}

/// Raises Redis's error for a refusal or failure text.
pub(super) fn raise<T>(text: &str) -> mlua::Result<T> {
    Err(mlua::Error::external(ScriptError { text: error_text(text.as_bytes()), counted: true }))
}

/// What a raised Rust error means to a script: a [`ScriptError`] becomes
/// its error table, any other error its message.
pub(super) fn describe(lua: &Lua, v: Value) -> mlua::Result<Value> {
    let Value::Error(e) = v else { return Ok(v) };
    let mut cause: &mlua::Error = &e;
    while let mlua::Error::CallbackError { cause: c, .. } = cause {
        cause = c;
    }
    if let mlua::Error::ExternalError(inner) = cause {
        if let Some(se) = inner.downcast_ref::<ScriptError>() {
            let t = error_table(lua, &se.text)?;
            if se.counted {
                t.raw_set("ignore_error_stats_update", true)?;
            }
            return Ok(Value::Table(t));
        }
    }
    Ok(Value::String(lua.create_string(lua_error_text(cause))?))
}

/// A script's arguments to a command: strings as they are, numbers as
/// `%.17g` (Lua's own conversion loses precision), anything else refused.
pub(super) fn command_args(values: impl Iterator<Item = Value>) -> Result<Vec<Bytes>, &'static str> {
    let args: Vec<Bytes> = values
        .map(|v| match v {
            Value::String(s) => Ok(Bytes::copy_from_slice(&s.as_bytes())),
            Value::Integer(n) => Ok(Bytes::from(n.to_string())),
            Value::Number(n) => Ok(Bytes::from(format_double_reply(n))),
            _ => Err("Lua redis lib command arguments must be strings or integers"),
        })
        .collect::<Result<_, _>>()?;
    if args.is_empty() {
        return Err("Please specify at least one argument for this redis lib call");
    }
    Ok(args)
}

/// `redis.setresp(n)`.
pub(super) fn host_setresp(host: &mut dyn Host, args: MultiValue) -> mlua::Result<()> {
    if args.len() != 1 {
        return raise("redis.setresp() requires one argument.");
    }
    match number(&args[0]) {
        Some(v) if v == 2.0 || v == 3.0 => {
            host.set_resp(v as u8);
            Ok(())
        }
        _ => raise("RESP version must be 2 or 3."),
    }
}

/// `redis.set_repl(flags)`.
pub(super) fn host_set_repl(host: &mut dyn Host, args: MultiValue) -> mlua::Result<()> {
    if args.len() != 1 {
        return raise("redis.set_repl() requires two arguments.");
    }
    let flags = number(&args[0]).unwrap_or(0.0) as i64;
    if flags & !3 != 0 {
        return raise("Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
    }
    host.set_repl(flags);
    Ok(())
}

/// `redis.acl_check_cmd(cmd, args…)`.
pub(super) fn host_acl_check(host: &mut dyn Host, args: MultiValue) -> mlua::Result<bool> {
    let argv = match command_args(args.into_iter()) {
        Ok(a) => a,
        Err(e) => return raise(e),
    };
    match host.acl_check(&argv) {
        Some(allowed) => Ok(allowed),
        None => raise("Invalid command passed to redis.acl_check_cmd()"),
    }
}

pub(super) fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => Some(*n),
        Value::Integer(n) => Some(*n as f64),
        Value::String(s) => s.to_str().ok()?.trim().parse().ok(),
        _ => None,
    }
}
