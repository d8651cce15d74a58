//! `redis.call` and `redis.pcall` as plain Lua C functions (as Redis's
//! `luaRedisGenericCommand`): arguments are read straight off the Lua
//! stack, the reply is pushed straight onto it (see
//! [`super::convert::push_reply`]), and a failure is raised as Redis's
//! error table `{err = …}` with `lua_error`. This is the hot path of every
//! script, so it avoids mlua's per-value handles; the host (the server)
//! is reached through [`super::host::with_current_host`].

use std::cell::{Cell, RefCell};
use std::ffi::c_int;

use bytes::Bytes;
use mlua::ffi;

use super::convert::{error_text, push_error_table, push_reply};
use super::host::{run_argument, with_current_host};
use crate::protocol::reply::format_double_reply;
use crate::protocol::Reply;

/// What one call produced, before anything is pushed.
enum Outcome {
    /// The command's reply and the script's protocol.
    Reply(Reply, u8),
    /// The error table's text (already `CODE message`).
    Error(Vec<u8>),
    /// No script is running on this thread: raised even by `pcall`.
    Outside,
}

thread_local! {
    /// The argument vector of the last call, kept empty between calls so
    /// its allocation is reused.
    static ARGV: Cell<Vec<Bytes>> = const { Cell::new(Vec::new()) };
    /// Command names scripts called, as sent (see [`command_name`]).
    static NAMES: RefCell<Vec<&'static [u8]>> = const { RefCell::new(Vec::new()) };
}

/// Most command names kept by [`command_name`], and their longest length:
/// at most 2 KiB per thread that runs scripts, for the process's life.
const NAMES_MAX: usize = 64;
const NAME_LEN_MAX: usize = 32;

/// A command name as `Bytes` without an allocation: scripts call a few
/// commands, spelled a few ways, so each spelling is copied once and kept
/// (up to [`NAMES_MAX`]; past that, and for longer names, a copy per call).
fn command_name(s: &[u8]) -> Bytes {
    let kept = NAMES.with_borrow_mut(|names| {
        if let Some(i) = names.iter().position(|n| *n == s) {
            let name = names[i];
            // Most recently used first: the next call likely repeats it.
            names[..=i].rotate_right(1);
            return Some(name);
        }
        if names.len() >= NAMES_MAX || s.len() > NAME_LEN_MAX {
            return None;
        }
        let name: &'static [u8] = Box::leak(Box::from(s));
        names.insert(0, name);
        Some(name)
    });
    kept.map_or_else(|| Bytes::copy_from_slice(s), Bytes::from_static)
}

/// An argument at position `i` (0: the command name) as `Bytes`: a key or
/// argument of the run passed on as it is (`KEYS[1]`) is the request's own
/// buffer, shared; anything else is copied.
fn argument(i: usize, s: &[u8]) -> Bytes {
    if i == 0 {
        return command_name(s);
    }
    run_argument(s).unwrap_or_else(|| Bytes::copy_from_slice(s))
}

/// Reads the command line of the call into `argv`: strings as they are,
/// numbers as `%.17g`; Redis's errors for no argument or a value of
/// another type.
///
/// # Safety
/// `state` must be the running Lua state of a C function call.
unsafe fn arguments(state: *mut ffi::lua_State, argv: &mut Vec<Bytes>) -> Result<(), &'static str> {
    // SAFETY: reading the current frame's arguments (indexes 1..=top).
    unsafe {
        let n = ffi::lua_gettop(state);
        if n <= 0 {
            return Err("Please specify at least one argument for this redis lib call");
        }
        argv.reserve(n as usize);
        for i in 1..=n {
            match ffi::lua_type(state, i) {
                ffi::LUA_TNUMBER => argv.push(Bytes::from(format_double_reply(ffi::lua_tonumber(state, i)))),
                ffi::LUA_TSTRING => {
                    let mut len = 0usize;
                    let p = ffi::lua_tolstring(state, i, &mut len);
                    if p.is_null() {
                        return Err("Lua redis lib command arguments must be strings or integers");
                    }
                    argv.push(argument(i as usize - 1, std::slice::from_raw_parts(p.cast::<u8>(), len)));
                }
                _ => return Err("Lua redis lib command arguments must be strings or integers"),
            }
        }
        Ok(())
    }
}

/// Runs the call (no Lua error can be raised in here).
///
/// # Safety
/// As [`arguments`].
unsafe fn run(state: *mut ffi::lua_State) -> Outcome {
    let mut argv = ARGV.take();
    // SAFETY: forwarded.
    let outcome = match unsafe { arguments(state, &mut argv) } {
        Err(e) => Outcome::Error(error_text(e.as_bytes())),
        Ok(()) => with_current_host(|host| match host.call(&argv) {
            Err(text) => Outcome::Error(error_text(text.as_bytes())),
            Ok(Reply::Error(e)) => Outcome::Error(error_text(&[b"-".as_slice(), e.as_bytes()].concat())),
            Ok(reply) => Outcome::Reply(reply, host.resp()),
        })
        .unwrap_or(Outcome::Outside),
    };
    argv.clear();
    ARGV.set(argv);
    outcome
}

/// The body of both functions: `raise` for `redis.call`.
///
/// # Safety
/// As [`arguments`].
unsafe fn generic(state: *mut ffi::lua_State, raise: bool) -> c_int {
    // SAFETY: `run` returns before anything is pushed; every Rust value
    // with a destructor is dropped before `lua_error` jumps out.
    unsafe {
        match run(state) {
            Outcome::Reply(reply, resp) => {
                ffi::lua_settop(state, 0);
                push_reply(state, &reply, resp);
                drop(reply);
                1
            }
            Outcome::Error(text) => {
                ffi::lua_settop(state, 0);
                push_error_table(state, &text, true);
                drop(text);
                if raise {
                    ffi::lua_error(state)
                }
                1
            }
            Outcome::Outside => {
                ffi::lua_settop(state, 0);
                push_error_table(state, b"ERR redis.call/pcall can only be called inside a script invocation", false);
                ffi::lua_error(state)
            }
        }
    }
}

/// `redis.call`: the reply, or the error raised.
pub unsafe extern "C-unwind" fn redis_call(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: called by Lua as a C function.
    unsafe { generic(state, true) }
}

/// `redis.pcall`: the reply, or the error table returned.
pub unsafe extern "C-unwind" fn redis_pcall(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: called by Lua as a C function.
    unsafe { generic(state, false) }
}
