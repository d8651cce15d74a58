//! The Lua side of scripting: one sandboxed Lua 5.1 VM (as Redis keeps one
//! for EVAL), the script cache, and running a script against a [`Host`]
//! that executes its `redis.call`s (the binding of a run to its host is
//! `host.rs`). Knows nothing about the keyspace.

use std::ffi::CStr;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use indexmap::IndexMap;
use mlua::{ffi, Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value};

use super::convert::{error_table, error_text, lua_to_reply};
use super::host::{
    call_script, describe, host_acl_check, host_set_repl, host_setresp, raise, with_host, Host, HostBinding,
};
use super::rand48::Rand48;
use super::{flags, RUN};
use crate::protocol::Reply;

/// Most scripts kept that arrived only with EVAL (SCRIPT LOAD'ed ones are
/// never dropped): past this, the least recently used of them is forgotten
/// (its EVALSHA answers NOSCRIPT, and clients resend the body with EVAL),
/// so a flood of distinct EVAL bodies cannot grow memory without bound.
/// Redis 7.0 keeps every script; 7.4 adopted the same bound.
pub const MAX_EVAL_SCRIPTS: usize = 500;

/// How many Lua instructions run between checks for a timeout or a kill.
const HOOK_INSTRUCTIONS: i32 = 100_000;

/// Whether a value is an error table already counted in the statistics.
fn counted_error(value: &Value) -> bool {
    match value {
        Value::Table(t) => {
            matches!(t.raw_get::<Value>("err"), Ok(Value::String(_)))
                && matches!(t.raw_get::<Value>("ignore_error_stats_update"), Ok(Value::Boolean(true)))
        }
        _ => false,
    }
}

/// One cached script.
pub struct Script {
    /// The source, as sent.
    pub body: Bytes,
    /// Shebang flags (see [`flags`]).
    pub flags: u32,
    /// Loaded with SCRIPT LOAD (kept until SCRIPT FLUSH).
    pub loaded: bool,
    /// The compiled body (see [`Engine::run`]).
    pub func: Function,
    /// When it was last used, on [`Engine`]'s use counter (eviction order).
    used: u64,
}

/// A function a library registered (FUNCTION LOAD).
#[derive(Clone)]
pub struct Registered {
    /// Its name (unique across libraries).
    pub name: String,
    /// `description`, if given.
    pub description: Option<String>,
    /// `flags` (see [`flags`]).
    pub flags: u32,
    /// The callback.
    pub func: Function,
}

/// What `redis.register_function` collects during one FUNCTION LOAD.
#[derive(Default)]
struct LoadCtx {
    funcs: Vec<Registered>,
}

/// When the library code running in FUNCTION LOAD must stop (ms on the
/// [`crate::stopwatch::uptime_ms`] clock).
static LOAD_DEADLINE_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Function and library names: letters, digits and `_`, at least one.
pub fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
}

/// `redis.register_function(name, callback)` or
/// `redis.register_function{function_name=…, callback=…, flags={…}, description=…}`.
fn register_function(lua: &Lua, args: MultiValue) -> mlua::Result<()> {
    if lua.app_data_ref::<LoadCtx>().is_none() {
        return raise("redis.register_function can only be called on FUNCTION LOAD command");
    }
    let string = |v: &Value| match v {
        Value::String(s) => Some(String::from_utf8_lossy(&s.as_bytes()).into_owned()),
        Value::Integer(n) => Some(n.to_string()),
        Value::Number(n) => Some(format!("{n}")),
        _ => None,
    };
    let (name, func, description, fflags) = match args.len() {
        1 => {
            let Value::Table(t) = &args[0] else {
                return raise("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
            };
            let (mut name, mut func, mut desc, mut fflags) = (None, None, None, 0);
            for pair in t.pairs::<Value, Value>() {
                let (k, v) = pair?;
                let Some(key) = string(&k) else {
                    return raise("named argument key given to redis.register_function is not a string");
                };
                match key.to_ascii_lowercase().as_str() {
                    "function_name" => match string(&v) {
                        Some(n) => name = Some(n),
                        None => {
                            return raise("function_name argument given to redis.register_function must be a string")
                        }
                    },
                    "description" => match string(&v) {
                        Some(d) => desc = Some(d),
                        None => return raise("description argument given to redis.register_function must be a string"),
                    },
                    "callback" => match v {
                        Value::Function(f) => func = Some(f),
                        _ => return raise("callback argument given to redis.register_function must be a function"),
                    },
                    "flags" => {
                        let Value::Table(list) = v else {
                            return raise(
                                "flags argument to redis.register_function must be a table representing function flags",
                            );
                        };
                        for i in 1.. {
                            match list.raw_get::<Value>(i)? {
                                Value::Nil => break,
                                f => match string(&f).and_then(|f| flags::by_name(&f.to_ascii_lowercase())) {
                                    Some(bit) => fflags |= bit,
                                    None => return raise("unknown flag given"),
                                },
                            }
                        }
                    }
                    _ => return raise("unknown argument given to redis.register_function"),
                }
            }
            let Some(name) = name else { return raise("redis.register_function must get a function name argument") };
            let Some(func) = func else { return raise("redis.register_function must get a callback argument") };
            (name, func, desc, fflags)
        }
        2 => {
            let Some(name) = string(&args[0]) else {
                return raise("first argument to redis.register_function must be a string");
            };
            let Value::Function(f) = &args[1] else {
                return raise("second argument to redis.register_function must be a function");
            };
            (name, f.clone(), None, 0)
        }
        _ => return raise("wrong number of arguments to redis.register_function"),
    };
    if !valid_name(name.as_bytes()) {
        // Redis 7.0 words this error as for library names.
        return raise(
            "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long",
        );
    }
    let Some(mut ctx) = lua.app_data_mut::<LoadCtx>() else {
        return raise("redis.register_function can only be called on FUNCTION LOAD command");
    };
    if ctx.funcs.iter().any(|f| f.name == name) {
        return raise("Function already exists in the library");
    }
    ctx.funcs.push(Registered { name, description, flags: fflags, func });
    Ok(())
}

/// The VM and its script cache.
pub struct Engine {
    lua: Lua,
    /// The real `redis` library table (scripts see a read-only view).
    redis: Table,
    /// The prelude's error handler: errors become Redis error tables
    /// carrying where the script failed.
    handler: Function,
    /// The real globals table behind the read-only view scripts see (where
    /// a run's `KEYS` and `ARGV` are set).
    real_globals: Table,
    /// [`call_script`], as a Lua function: runs script bodies, registered
    /// functions and FUNCTION LOAD's library code.
    call_script: Function,
    /// Switches the globals to FUNCTION LOAD's restricted view and back.
    set_load_mode: Function,
    scripts: IndexMap<String, Script, foldhash::fast::RandomState>,
    /// Counts uses of scripts (see [`Script`]'s `used`).
    uses: u64,
    /// Bytes of script bodies and names held (`used_memory_scripts_eval`).
    pub body_bytes: usize,
    /// The VM's bytes after the last garbage-collection step.
    gc_floor: usize,
}

/// A garbage-collection step (of [`GC_STEP`] units, as Redis's every 50
/// runs) runs once the VM has grown this much since the last one: it keeps
/// the VM small without a full collection's latency, and paces the
/// collections by the garbage scripts make, not by their count. A step
/// mostly finishes a cycle, which walks the whole VM; Redis steps every 50
/// runs, and a one-`INCR` script leaves about 50 bytes (its key's string:
/// `KEYS` and `ARGV` are refilled, see [`refill_array`]), so this collects
/// about every 300 runs for scripts like it.
const GC_SLACK: usize = 16 * 1024;
/// Units (KiB of allocation) of work per step (Redis's `LUA_GC_CYCLE_PERIOD`).
const GC_STEP: i32 = 50;

/// `redis.sha1hex`: lower-case hex SHA1.
pub fn sha1_hex(data: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    let digest = Sha1::digest(data);
    let mut out = String::with_capacity(40);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

impl Engine {
    /// A fresh VM with Redis's libraries and sandbox.
    pub fn new() -> mlua::Result<Engine> {
        // SAFETY: the debug library is loaded only for the error handler,
        // which keeps it in an upvalue; the prelude removes it from the
        // globals before any script runs.
        let lua = unsafe {
            Lua::unsafe_new_with(StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG, LuaOptions::new())
        };
        lua.set_app_data(Rand48::default());
        let host = lua.create_table()?;
        host.raw_set("describe", lua.create_function(|lua, v: Value| describe(lua, v))?)?;
        host.raw_set(
            "rand",
            lua.create_function(|lua, ()| Ok(lua.app_data_mut::<Rand48>().map_or(0.0, |mut r| r.next_unit())))?,
        )?;
        host.raw_set(
            "srand",
            lua.create_function(|lua, seed: f64| {
                if let Some(mut r) = lua.app_data_mut::<Rand48>() {
                    r.seed(seed as i64 as i32);
                }
                Ok(())
            })?,
        )?;
        host.raw_set(
            "sha1hex",
            lua.create_function(|lua, args: MultiValue| {
                if args.len() != 1 {
                    return raise("wrong number of arguments");
                }
                let data = match &args[0] {
                    Value::String(s) => s.as_bytes().to_vec(),
                    Value::Number(n) => format!("{n}").into_bytes(),
                    Value::Integer(n) => n.to_string().into_bytes(),
                    _ => Vec::new(),
                };
                lua.create_string(sha1_hex(&data))
            })?,
        )?;
        host.raw_set(
            "error_table",
            lua.create_function(|lua, e: mlua::LuaString| {
                let raw = e.as_bytes();
                let text = if raw.starts_with(b"-") { raw.to_vec() } else { [b"-".as_slice(), &raw].concat() };
                error_table(lua, &error_text(&text))
            })?,
        )?;
        host.raw_set(
            "log",
            lua.create_function(|_, (level, msg): (i64, mlua::LuaString)| {
                let msg = String::from_utf8_lossy(&msg.as_bytes()).into_owned();
                match level {
                    0 => tracing::debug!(target: "script", "{msg}"),
                    1 | 2 => tracing::info!(target: "script", "{msg}"),
                    _ => tracing::warn!(target: "script", "{msg}"),
                }
                Ok(())
            })?,
        )?;
        host.raw_set("version", crate::cmd::connection::REDIS_VERSION)?;
        host.raw_set("version_num", version_num(crate::cmd::connection::REDIS_VERSION))?;
        let libs = lua.create_table()?;
        for (name, lib) in super::libs::open_all(&lua)? {
            libs.raw_set(name, lib)?;
        }
        host.raw_set("libs", libs)?;
        host.raw_set("register_function", lua.create_function(register_function)?)?;
        let (globals, redis, set_load_mode, handler, real_globals): (Table, Table, Function, Function, Table) =
            lua.load(include_str!("prelude.lua")).set_name("=redis").call(host)?;
        lua.set_globals(globals)?;
        // SAFETY: a C function following Lua's calling convention.
        let call_script = unsafe { lua.create_c_function(call_script)? };
        let mut engine = Engine {
            lua,
            redis,
            handler,
            real_globals,
            call_script,
            set_load_mode,
            scripts: IndexMap::default(),
            uses: 0,
            body_bytes: 0,
            gc_floor: 0,
        };
        // SAFETY: both are C functions following Lua's calling convention
        // (see `super::call`).
        let (call, pcall) = unsafe {
            (
                engine.lua.create_c_function(super::call::redis_call)?,
                engine.lua.create_c_function(super::call::redis_pcall)?,
            )
        };
        let setresp = engine.lua.create_function(|_, args: MultiValue| with_host(|h| host_setresp(h, args)))?;
        let set_repl = engine.lua.create_function(|_, args: MultiValue| with_host(|h| host_set_repl(h, args)))?;
        let acl = engine.lua.create_function(|_, args: MultiValue| with_host(|h| host_acl_check(h, args)))?;
        engine.set_redis_fns([call, pcall, setresp, set_repl, acl])?;
        // The count hook stays installed: between runs it has nothing to do,
        // and installing it per run would cost more than it ever does.
        engine.set_hook(Some(count_hook), ffi::LUA_MASKCOUNT, HOOK_INSTRUCTIONS);
        engine.lua.gc_collect()?;
        engine.gc_floor = engine.lua.used_memory();
        Ok(engine)
    }

    /// The cached script with this SHA1 (any case), marking it used. O(1).
    pub fn get(&mut self, sha: &[u8]) -> Option<&Script> {
        // Clients send the digest in lower case: then no copy.
        let i = match std::str::from_utf8(sha).ok().and_then(|s| self.scripts.get_index_of(s)) {
            Some(i) => i,
            None => self.scripts.get_index_of(&String::from_utf8_lossy(sha).to_ascii_lowercase())?,
        };
        self.uses += 1;
        let script = &mut self.scripts[i];
        script.used = self.uses;
        Some(script)
    }

    /// Whether a script is cached (SCRIPT EXISTS).
    pub fn exists(&self, sha: &str) -> bool {
        self.scripts.contains_key(sha)
    }

    /// Number of cached scripts (`number_of_cached_scripts`).
    pub fn len(&self) -> usize {
        self.scripts.len()
    }

    /// Whether no script is cached.
    pub fn is_empty(&self) -> bool {
        self.scripts.is_empty()
    }

    /// Bytes the Lua VM holds (`used_memory_lua`).
    pub fn vm_memory(&self) -> usize {
        self.lua.used_memory()
    }

    /// Compiles and caches `body` (EVAL or SCRIPT LOAD); returns its SHA1,
    /// or Redis's error text (shebang errors, "Error compiling script").
    /// A cached body is not compiled again; `loaded` pins it.
    pub fn create(&mut self, body: &[u8], loaded: bool) -> Result<String, String> {
        let sha = sha1_hex(body);
        if let Some(s) = self.scripts.get_mut(&sha) {
            s.loaded |= loaded;
            return Ok(sha);
        }
        let (flags, shebang_len) = flags::from_shebang(body)?;
        let func = self
            .lua
            .load(&body[shebang_len..])
            .set_name("@user_script")
            .into_function()
            .map_err(|e| format!("Error compiling script (new function): {}", lua_error_text(&e)))?;
        self.body_bytes += body.len() + sha.len();
        self.uses += 1;
        let script = Script { body: Bytes::copy_from_slice(body), flags, loaded, func, used: self.uses };
        self.scripts.insert(sha.clone(), script);
        self.evict();
        Ok(sha)
    }

    /// Drops the least recently used EVAL-only scripts past
    /// [`MAX_EVAL_SCRIPTS`]. O(scripts), and only when a new script was
    /// compiled (which costs more).
    fn evict(&mut self) {
        let eval_only = self.scripts.values().filter(|s| !s.loaded).count();
        for _ in MAX_EVAL_SCRIPTS..eval_only {
            let oldest =
                self.scripts.iter().enumerate().filter(|(_, (_, s))| !s.loaded).min_by_key(|(_, (_, s))| s.used);
            let Some((i, _)) = oldest else { return };
            if let Some((sha, s)) = self.scripts.swap_remove_index(i) {
                self.body_bytes = self.body_bytes.saturating_sub(s.body.len() + sha.len());
            }
        }
    }

    /// Runs a script (`as_function` false: an EVAL body, given `KEYS` and
    /// `ARGV` as globals) or a registered function (`as_function` true:
    /// given the keys and arguments as its two parameters), its
    /// `redis.call`s going to `host`. The reply is its return value
    /// converted, or its error with Redis's `script: <label>, on …` suffix
    /// (the label, the SHA1 or the function's name, is only made for an
    /// error). The caller has made the run visible in [`RUN`] (timeouts,
    /// kills).
    pub fn run(
        &mut self,
        func: &Function,
        as_function: bool,
        keys: &[Bytes],
        argv: &[Bytes],
        label: impl FnOnce() -> String,
        host: &mut dyn Host,
    ) -> Reply {
        let result = {
            let _bound = HostBinding::bind(&mut *host, keys, argv);
            self.call_script.call::<(bool, Value)>((&self.handler, &self.real_globals, func, as_function))
        };
        if RUN.killed.load(Ordering::Relaxed) {
            // The kill switched the hook to every line: back to counting.
            self.set_hook(Some(count_hook), ffi::LUA_MASKCOUNT, HOOK_INSTRUCTIONS);
        }
        if self.lua.used_memory() > self.gc_floor + GC_SLACK {
            // SAFETY: one incremental GC step on the main state.
            let _ = unsafe {
                self.lua.exec_raw::<()>((), |state| {
                    ffi::lua_gc(state, ffi::LUA_GCSTEP, GC_STEP);
                })
            };
            self.gc_floor = self.lua.used_memory();
        }
        let (ok, value) = match result {
            Ok(v) => v,
            Err(_) if RUN.killed.load(Ordering::Relaxed) => {
                return Reply::err("ERR Script killed by user with SCRIPT KILL...");
            }
            Err(e) => return Reply::Error(format!("ERR Error running script {}, {}", label(), lua_error_text(&e))),
        };
        if counted_error(&value) {
            host.error_already_counted();
        }
        if ok {
            return lua_to_reply(&value, host.resp());
        }
        failure_reply(&value, &label())
    }

    /// Runs a library's code (FUNCTION LOAD) with only the load API visible
    /// (`redis.register_function`, `redis.log`), stopping it after
    /// `timeout_ms`; returns the functions it registered, or Redis's error
    /// text ("Error compiling function: …", "Error registering functions: …").
    pub fn load_library(&mut self, code: &[u8], timeout_ms: u64) -> Result<Vec<Registered>, String> {
        let func = self
            .lua
            .load(code)
            .set_name("@user_function")
            .into_function()
            .map_err(|e| format!("Error compiling function: {}", lua_error_text(&e)))?;
        self.lua.set_app_data(LoadCtx::default());
        LOAD_DEADLINE_MS.store(crate::stopwatch::uptime_ms() + timeout_ms, Ordering::Relaxed);
        self.set_hook(Some(load_hook), ffi::LUA_MASKCOUNT, HOOK_INSTRUCTIONS);
        let _ = self.set_load_mode.call::<()>(true);
        // Outside a run: the code sees empty KEYS and ARGV.
        let result = self.call_script.call::<(bool, Value)>((&self.handler, &self.real_globals, func, false));
        let _ = self.set_load_mode.call::<()>(false);
        self.set_hook(Some(count_hook), ffi::LUA_MASKCOUNT, HOOK_INSTRUCTIONS);
        let registered = self.lua.remove_app_data::<LoadCtx>().map(|c| c.funcs).unwrap_or_default();
        let (ok, value) = result.map_err(|e| format!("Error registering functions: {}", lua_error_text(&e)))?;
        if !ok {
            let msg = match value {
                Value::Table(t) => field_text(&t, "err"),
                _ => None,
            };
            return Err(format!("Error registering functions: {}", msg.as_deref().unwrap_or("unknown error")));
        }
        Ok(registered)
    }

    /// Installs `redis.call`, `pcall`, `setresp`, `set_repl` and
    /// `acl_check_cmd` (once: they find the run's host through [`HOST`]).
    fn set_redis_fns(&self, fns: [Function; 5]) -> mlua::Result<()> {
        for (name, f) in ["call", "pcall", "setresp", "set_repl", "acl_check_cmd"].into_iter().zip(fns) {
            self.redis.raw_set(name, f)?;
        }
        Ok(())
    }

    fn set_hook(&self, hook: Option<ffi::lua_Hook>, mask: i32, count: i32) {
        // SAFETY: sets or clears the count hook on the main state, which is
        // where scripts run; the hook only reads the run state.
        let _ = unsafe {
            self.lua.exec_raw::<()>((), |state| {
                ffi::lua_sethook(state, hook, mask, count);
            })
        };
    }
}

/// The error reply of a failed run: the error table's text plus where
/// the script failed, as Redis words it.
fn failure_reply(value: &Value, sha: &str) -> Reply {
    let Value::Table(t) = value else {
        let msg = match value {
            Value::String(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
            _ => "execution failure".into(),
        };
        return Reply::Error(format!("ERR Error running script {sha}, {msg}"));
    };
    let text = |k: &str| field_text(t, k);
    let mut msg = text("err").unwrap_or_else(|| "ERR unknown error".into());
    if let (Some(source), Some(line)) = (text("source"), text("line")) {
        msg.push_str(&format!(" script: {sha}, on {source}:{line}."));
    }
    Reply::Error(msg.replace(['\r', '\n'], " "))
}

/// Field `k` of an error table as text (strings, and numbers such as `line`).
fn field_text(t: &Table, k: &str) -> Option<String> {
    match t.raw_get::<Value>(k) {
        Ok(Value::String(s)) => Some(String::from_utf8_lossy(&s.as_bytes()).into_owned()),
        Ok(Value::Number(n)) => Some(format!("{n}")),
        Ok(Value::Integer(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// The message of an mlua error without mlua's own prefixes.
pub(super) fn lua_error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_error_text(cause),
        other => other.to_string(),
    }
}

/// `7.0.15` → `0x00070f` as Redis's `REDIS_VERSION_NUM`.
fn version_num(v: &str) -> i64 {
    let mut parts = v.split('.').map(|p| p.parse::<i64>().unwrap_or(0));
    let (a, b, c) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (a << 16) | (b << 8) | c
}

/// The hook of FUNCTION LOAD: past the deadline, raises Redis's error on
/// every line (the code must only register functions).
unsafe extern "C-unwind" fn load_hook(state: *mut ffi::lua_State, _ar: *mut ffi::lua_Debug) {
    if crate::stopwatch::uptime_ms() <= LOAD_DEADLINE_MS.load(Ordering::Relaxed) {
        return;
    }
    // SAFETY: as in `count_hook`.
    unsafe {
        ffi::lua_sethook(state, Some(load_hook), ffi::LUA_MASKLINE | ffi::LUA_MASKCOUNT, HOOK_INSTRUCTIONS);
        ffi::lua_createtable(state, 0, 1);
        ffi::lua_pushstring(state, c"ERR FUNCTION LOAD timeout".as_ptr());
        ffi::lua_setfield(state, -2, c"err".as_ptr());
        ffi::lua_error(state);
    }
}

/// The count hook: notes a script past `busy-reply-threshold`, and once
/// SCRIPT KILL asked, raises Redis's error on every line of the script's
/// own code (so `pcall` cannot swallow it for long).
unsafe extern "C-unwind" fn count_hook(state: *mut ffi::lua_State, ar: *mut ffi::lua_Debug) {
    if !RUN.killed.load(Ordering::Relaxed) {
        RUN.note_timeout();
        return;
    }
    // SAFETY: `ar` is the activation record Lua passed to this hook.
    let internal = unsafe {
        ffi::lua_getinfo(state, c"S".as_ptr(), ar) != 0
            && !(*ar).source.is_null()
            && CStr::from_ptr((*ar).source).to_bytes() == b"=redis"
    };
    if internal {
        return;
    }
    // SAFETY: raising an error from a hook is allowed in Lua 5.1; no Rust
    // value with a destructor is live in this frame.
    unsafe {
        ffi::lua_sethook(state, Some(count_hook), ffi::LUA_MASKLINE | ffi::LUA_MASKCOUNT, HOOK_INSTRUCTIONS);
        ffi::lua_createtable(state, 0, 1);
        ffi::lua_pushstring(state, c"ERR Script killed by user with SCRIPT KILL...".as_ptr());
        ffi::lua_setfield(state, -2, c"err".as_ptr());
        ffi::lua_error(state);
    }
}
