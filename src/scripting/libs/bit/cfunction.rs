//! Library functions that fail the way Lua's C libraries do.
//!
//! A Rust callback made with `Lua::create_function` reports its errors as
//! mlua userdata, so a script's `pcall` would see a userdata instead of the
//! message string Redis's C libraries raise, and the message would lack the
//! caller's position (`user_script:1: `) and the function's name. [`create`]
//! puts a tiny C function in front of the Rust one: the Rust code describes
//! the failure ([`LibError`]) and the C function raises it with
//! `luaL_error` / `luaL_argerror`, so the text is exactly what the C library
//! would raise from the same call site.

use std::ffi::c_int;
use std::ptr;

use mlua::{ffi, Function, Lua, LuaString, MaybeSend, MultiValue, Value};

/// How many values a C function may have on its Lua stack
/// (`LUAI_MAXCSTACK`), its arguments included.
pub(crate) const MAX_C_STACK: usize = 8000;

/// Stack slots, beyond the arguments and the values, that mlua may need in
/// the callback's frame to return the values there (its marker, its error
/// slot, its own checks); with fewer left they travel in a table instead.
const INLINE_SLACK: usize = 8;

/// Why a library function did not return values.
#[derive(Debug)]
pub(crate) enum LibError {
    /// Raised like `luaL_error`: the message prefixed with the calling
    /// Lua line's position (`user_script:1: `), if the caller is Lua code.
    Error(Vec<u8>),
    /// Raised like `luaL_argerror(narg, msg)`: `bad argument #narg to
    /// 'name' (msg)` (or `calling 'name' on bad self (msg)` for a method
    /// call's self), prefixed with the caller's position.
    Arg(usize, Vec<u8>),
    /// An error of the Lua machinery itself (e.g. out of memory), passed on
    /// as mlua reports it.
    Lua(mlua::Error),
}

impl LibError {
    /// `luaL_error` with `msg`.
    pub(crate) fn error(msg: impl Into<Vec<u8>>) -> Self {
        LibError::Error(msg.into())
    }

    /// `luaL_argerror` for argument `narg` (1-based) with `msg`.
    pub(crate) fn arg(narg: usize, msg: impl Into<Vec<u8>>) -> Self {
        LibError::Arg(narg, msg.into())
    }

    /// `luaL_typerror`: argument `narg` should have been `expected` but was
    /// of the Lua type named `got` (see [`type_name`]).
    pub(crate) fn type_error(narg: usize, expected: &str, got: &str) -> Self {
        LibError::arg(narg, format!("{expected} expected, got {got}"))
    }
}

impl From<mlua::Error> for LibError {
    fn from(err: mlua::Error) -> Self {
        LibError::Lua(err)
    }
}

/// What a library function returns: its results, or why it failed.
pub(crate) type LibResult<T> = Result<T, LibError>;

/// The name Lua's `type()` gives a value, `"no value"` for an argument
/// that was not passed (as `luaL_typename` says for a missing argument).
pub(crate) fn type_name(value: Option<&Value>) -> &'static str {
    match value {
        None => "no value",
        Some(Value::Nil) => "nil",
        Some(Value::Boolean(_)) => "boolean",
        Some(Value::Integer(_) | Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Table(_)) => "table",
        Some(Value::Function(_)) => "function",
        Some(Value::Thread(_)) => "thread",
        Some(_) => "userdata",
    }
}

/// The number a value converts to the way `lua_tonumber` converts it
/// (numbers as they are, numeric strings parsed by Lua), or `None`.
pub(crate) fn to_number(lua: &Lua, value: &Value) -> mlua::Result<Option<f64>> {
    match value {
        Value::Number(n) => Ok(Some(*n)),
        Value::Integer(i) => Ok(Some(*i as f64)),
        Value::String(_) => lua.coerce_number(value.clone()),
        _ => Ok(None),
    }
}

/// The Lua string a value converts to the way `lua_tolstring` converts it
/// (strings as they are, numbers formatted by Lua), or `None`.
pub(crate) fn to_string(lua: &Lua, value: &Value) -> mlua::Result<Option<LuaString>> {
    match value {
        Value::String(s) => Ok(Some(s.clone())),
        Value::Integer(_) | Value::Number(_) => lua.coerce_string(value.clone()),
        _ => Ok(None),
    }
}

/// Makes a Lua function that calls `f` with its arguments and returns `f`'s
/// values; when `f` fails with [`LibError::Error`] or [`LibError::Arg`], the
/// function raises the message as a Lua string, exactly as a C library
/// function raising it with `luaL_error` / `luaL_argerror` would (position
/// of the calling line, name of the function as the caller spelt it).
pub(crate) fn create<F>(lua: &Lua, f: F) -> mlua::Result<Function>
where
    F: Fn(&Lua, MultiValue) -> LibResult<MultiValue> + MaybeSend + 'static,
{
    // Protocol with `raise_shim`: `true, values...` on success, or
    // `table, n` for results too many to return beside the callback's own
    // arguments, or `false, narg, message` (narg 0 for a plain error).
    let inner = lua.create_function(move |lua, args: MultiValue| {
        let nargs = args.len();
        match f(lua, args) {
            Ok(mut values) if nargs + values.len() + INLINE_SLACK <= MAX_C_STACK => {
                values.push_front(Value::Boolean(true));
                Ok(values)
            }
            Ok(values) => {
                let n = i64::try_from(values.len()).unwrap_or(i64::MAX);
                let table = lua.create_sequence_from(values)?;
                Ok(MultiValue::from_vec(vec![Value::Table(table), Value::Integer(n)]))
            }
            Err(LibError::Lua(err)) => Err(err),
            Err(LibError::Error(msg)) => failure(lua, 0, &msg),
            Err(LibError::Arg(narg, msg)) => failure(lua, narg, &msg),
        }
    })?;
    // SAFETY: `exec_raw` runs the closure in a protected call with `inner`
    // pushed on the stack; `lua_pushcclosure` pops it as the upvalue of
    // `raise_shim` and leaves the new closure as the single result.
    unsafe {
        lua.exec_raw::<Function>(inner, |state| {
            ffi::lua_pushcclosure(state, raise_shim, 1);
        })
    }
}

fn failure(lua: &Lua, narg: usize, msg: &[u8]) -> mlua::Result<MultiValue> {
    let narg = i64::try_from(narg).unwrap_or(i64::MAX);
    Ok(MultiValue::from_vec(vec![Value::Boolean(false), Value::Integer(narg), Value::String(lua.create_string(msg)?)]))
}

/// The C function scripts call: calls its upvalue (the Rust callback made
/// by [`create`]) with all arguments and either returns the callback's
/// values or raises the failure it described.
unsafe extern "C-unwind" fn raise_shim(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: Lua guarantees LUA_MINSTACK free slots to a C function, so
    // pushing the callback is fine; the callback returns one of the three
    // shapes `create` documents, and more stack is requested before the
    // values of a table are pushed. No Rust value with a destructor is alive
    // when `luaL_error` / `luaL_argerror` long-jump out.
    unsafe {
        let nargs = ffi::lua_gettop(state);
        ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
        ffi::lua_insert(state, 1);
        ffi::lua_call(state, nargs, ffi::LUA_MULTRET);
        let nresults = ffi::lua_gettop(state);
        if ffi::lua_type(state, 1) == ffi::LUA_TTABLE {
            let n = c_int::try_from(ffi::lua_tointeger(state, 2)).unwrap_or(c_int::MAX);
            // What `luaL_checkstack` does in Lua 5.1 (mlua-sys's version
            // asks for LUA_MINSTACK more).
            if ffi::lua_checkstack(state, n) == 0 {
                ffi::luaL_error(state, c"stack overflow (%s)".as_ptr(), c"too many results".as_ptr());
            }
            for i in 1..=n {
                ffi::lua_rawgeti(state, 1, ffi::lua_Integer::from(i));
            }
            return n;
        }
        if ffi::lua_toboolean(state, 1) != 0 {
            ffi::lua_remove(state, 1);
            return nresults - 1;
        }
        let narg = c_int::try_from(ffi::lua_tointeger(state, 2)).unwrap_or(c_int::MAX);
        let msg = ffi::lua_tolstring(state, 3, ptr::null_mut());
        if narg > 0 {
            ffi::luaL_argerror(state, narg, msg)
        } else {
            ffi::luaL_error(state, c"%s".as_ptr(), msg)
        }
    }
}

/// Helpers for the libraries' tests: run Lua code as Redis would (chunk
/// name `@user_script`) and show results and errors as text.
#[cfg(test)]
pub(crate) mod testing {
    use mlua::{Lua, Table};

    /// Formats values: numbers with `%.17g`, printable strings in double
    /// quotes, other strings as `x` and hex, others with `tostring`;
    /// errors as `ERR:<type of the error value>:<message>`.
    const PRELUDE: &str = r#"
local function show(...)
  local t = {}
  for i = 1, select('#', ...) do
    local v = select(i, ...)
    if type(v) == 'string' then
      if v:find('^[ -~]*$') then
        t[#t+1] = '"' .. v .. '"'
      else
        t[#t+1] = 'x' .. (v:gsub('.', function(c) return string.format('%02x', c:byte()) end))
      end
    elseif type(v) == 'number' then
      t[#t+1] = string.format('%.17g', v)
    else
      t[#t+1] = tostring(v)
    end
  end
  return table.concat(t, ',')
end
"#;

    /// A Lua state with the library `table` installed as global `name`.
    pub(crate) fn state_with(name: &str, open: fn(&Lua) -> mlua::Result<Table>) -> Lua {
        let lua = Lua::new();
        let table = open(&lua).expect("open library");
        lua.globals().set(name, table).expect("set global");
        lua
    }

    /// Evaluates `expr` (on line 1 of `user_script`, like the reference
    /// outputs taken from redis-server) and shows its values, or its error.
    pub(crate) fn eval(lua: &Lua, expr: &str) -> String {
        let prelude = PRELUDE.replace('\n', " ");
        let code = format!(
            "{prelude} local ok, r = pcall(function() return show({expr}) end) \
             if ok then return r else return 'ERR:' .. type(r) .. ':' .. tostring(r) end"
        );
        lua.load(code).set_name("@user_script").eval::<String>().expect("test chunk runs")
    }

    /// Runs `code` as chunk `user_script` and returns its string result.
    pub(crate) fn run(lua: &Lua, code: &str) -> String {
        lua.load(code).set_name("@user_script").eval::<String>().expect("test chunk runs")
    }

    /// Checks each `(expression, expected output)` pair with [`eval`].
    pub(crate) fn check_all(lua: &Lua, cases: &[(&str, &str)]) {
        let mut failures = Vec::new();
        for (expr, expected) in cases {
            let got = eval(lua, expr);
            if got != *expected {
                failures.push(format!("{expr}\n   expected {expected}\n   got      {got}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
