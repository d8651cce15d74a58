//! Library functions that fail, and return many values, the way Lua's C
//! libraries do. Shared by `bit`, `struct`, `cjson` and `cmsgpack`.
//!
//! A Rust callback made with `Lua::create_function` raises its errors as
//! mlua userdata, without the caller's position and the function's name,
//! so a script's `pcall` would not get the message string Redis's C
//! modules raise. [`create`] puts a small C function in front of the Rust
//! one: the Rust code only describes the outcome ([`Outcome`] or
//! [`Raise`]); the C function returns the values, or raises with
//! `luaL_error` / `luaL_argerror` / `lua_error` itself, so the text
//! (position prefix such as `user_script:1: `, function name as the caller
//! spelt it, `bad self` for method calls) is what the C library would give
//! from the same call site.
//!
//! A C function may only use `LUAI_MAXCSTACK` (8000) stack slots, and mlua
//! holds every value it hands to Rust in one shared auxiliary stack of the
//! same size, so results beyond a handful are passed back in a table
//! ([`Outcome::Spread`]) that the C function unpacks onto its own stack.

use std::ffi::{c_char, c_int};
use std::ptr;

use mlua::{ffi, Function, Lua, LuaString, MaybeSend, MultiValue, Table, Value};

/// `LUAI_MAXCSTACK` of Lua 5.1: the stack slots a C function may use.
pub(in crate::scripting::libs) const MAX_C_STACK: usize = 8000;

/// Results up to this count go back on the stack; more go in a table.
const DIRECT_RESULTS: usize = 64;

/// Stack slots, beyond the arguments and the values, that mlua may need in
/// the callback's frame to return [`Outcome::Values`] there (its marker,
/// its error slot, its own checks); with fewer left they travel in a table
/// instead.
const INLINE_SLACK: usize = 8;

/// What a library function returns.
pub(in crate::scripting::libs) enum Outcome {
    /// These values.
    Values(MultiValue),
    /// `table[1..=n]`, for results too many to pass one by one.
    Spread(Table, usize),
}

impl Outcome {
    /// One value.
    pub(in crate::scripting::libs) fn one(value: Value) -> Self {
        Outcome::Values(MultiValue::from_vec(vec![value]))
    }
}

/// Results being collected: the first few in a vector, then all in a Lua
/// table, so that many results do not hold one mlua reference each.
#[derive(Default)]
pub(in crate::scripting::libs) struct Results {
    values: Vec<Value>,
    table: Option<Table>,
    len: usize,
}

impl Results {
    /// How many results there are.
    pub(in crate::scripting::libs) fn len(&self) -> usize {
        self.len
    }

    /// Adds a result after the others.
    pub(in crate::scripting::libs) fn push(&mut self, lua: &Lua, value: Value) -> mlua::Result<()> {
        if self.table.is_none() && self.values.len() == DIRECT_RESULTS {
            let table = lua.create_table_with_capacity(DIRECT_RESULTS * 2, 0)?;
            for (i, v) in self.values.drain(..).enumerate() {
                table.raw_seti(i + 1, v)?;
            }
            self.table = Some(table);
        }
        self.len += 1;
        match &self.table {
            Some(table) => table.raw_seti(self.len, value),
            None => {
                self.values.push(value);
                Ok(())
            }
        }
    }

    /// Replaces result `i` (1-based, already pushed).
    pub(in crate::scripting::libs) fn set(&mut self, i: usize, value: Value) -> mlua::Result<()> {
        match &self.table {
            Some(table) => table.raw_seti(i, value),
            None => {
                if let Some(slot) = i.checked_sub(1).and_then(|i| self.values.get_mut(i)) {
                    *slot = value;
                }
                Ok(())
            }
        }
    }

    /// The results, to return.
    pub(in crate::scripting::libs) fn into_outcome(self) -> Outcome {
        match self.table {
            Some(table) => Outcome::Spread(table, self.len),
            None => Outcome::Values(MultiValue::from_vec(self.values)),
        }
    }
}

/// Why a library function did not return.
#[derive(Debug)]
pub(in crate::scripting::libs) enum Raise {
    /// `luaL_error(msg)`: prefixed with the calling line's position.
    Error(Vec<u8>),
    /// `luaL_argerror(narg, msg)`: `bad argument #narg to 'name' (msg)`.
    Arg(i32, Vec<u8>),
    /// `lua_error` with the message as it is (errors the Lua core raises
    /// inside a C function, such as `table index is nil`).
    Bare(Vec<u8>),
    /// An error of the Lua machinery (out of memory, ...), passed on as
    /// mlua reports it.
    Lua(mlua::Error),
}

impl Raise {
    /// `luaL_error` with `msg`.
    pub(in crate::scripting::libs) fn error(msg: impl Into<Vec<u8>>) -> Self {
        Raise::Error(msg.into())
    }

    /// `luaL_argerror` for argument `narg` (1-based) with `msg`.
    pub(in crate::scripting::libs) fn arg(narg: i32, msg: impl Into<Vec<u8>>) -> Self {
        Raise::Arg(narg, msg.into())
    }

    /// `luaL_typerror`: argument `narg` should have been `expected` but was
    /// of the Lua type named `got` (see [`type_name`]).
    pub(in crate::scripting::libs) fn type_error(narg: i32, expected: &str, got: &str) -> Self {
        Raise::arg(narg, format!("{expected} expected, got {got}"))
    }
}

impl From<mlua::Error> for Raise {
    fn from(err: mlua::Error) -> Self {
        Raise::Lua(err)
    }
}

/// A library function's result.
pub(in crate::scripting::libs) type LibResult<T> = Result<T, Raise>;

/// Argument `narg` (1-based), `None` when not passed.
pub(in crate::scripting::libs) fn arg(args: &MultiValue, narg: i32) -> Option<&Value> {
    usize::try_from(narg).ok().and_then(|n| n.checked_sub(1)).and_then(|i| args.get(i))
}

/// What `luaL_typename` says: Lua's type name, `no value` when absent.
pub(in crate::scripting::libs) fn type_name(value: Option<&Value>) -> &'static str {
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
pub(in crate::scripting::libs) fn to_number(lua: &Lua, value: &Value) -> mlua::Result<Option<f64>> {
    match value {
        Value::String(_) => lua.coerce_number(value.clone()),
        _ => Ok(number_of(value)),
    }
}

/// The Lua string a value converts to the way `lua_tolstring` converts it
/// (strings as they are, numbers formatted by Lua), or `None`.
pub(in crate::scripting::libs) fn to_string(lua: &Lua, value: &Value) -> mlua::Result<Option<LuaString>> {
    match value {
        Value::String(s) => Ok(Some(s.clone())),
        Value::Integer(_) | Value::Number(_) => lua.coerce_string(value.clone()),
        _ => Ok(None),
    }
}

/// The number a Lua number value holds.
pub(in crate::scripting::libs) fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => Some(*n),
        Value::Integer(i) => Some(*i as f64),
        _ => None,
    }
}

/// A C cast of a double to a 64-bit integer on x86-64: truncation, and
/// `INT64_MIN` for NaN and values out of range.
pub(in crate::scripting::libs) fn c_to_i64(n: f64) -> i64 {
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&n) {
        n as i64
    } else {
        i64::MIN
    }
}

/// A C cast of a double to a 32-bit `int` on x86-64: truncation, and
/// `INT_MIN` for NaN and values out of range.
pub(in crate::scripting::libs) fn c_to_i32(n: f64) -> i32 {
    if n > -2_147_483_649.0 && n < 2_147_483_648.0 {
        n as i32
    } else {
        i32::MIN
    }
}

/// `luaL_checkinteger(narg)`: numbers and numeric strings, truncated.
pub(in crate::scripting::libs) fn check_integer(lua: &Lua, args: &MultiValue, narg: i32) -> LibResult<i64> {
    let value = arg(args, narg);
    let number = match value {
        Some(v) => to_number(lua, v)?,
        None => None,
    };
    number.map(c_to_i64).ok_or_else(|| Raise::type_error(narg, "number", type_name(value)))
}

/// `luaL_optinteger(narg, default)`: `default` when absent or nil.
pub(in crate::scripting::libs) fn opt_integer(lua: &Lua, args: &MultiValue, narg: i32, default: i64) -> LibResult<i64> {
    match arg(args, narg) {
        None | Some(Value::Nil) => Ok(default),
        Some(_) => check_integer(lua, args, narg),
    }
}

/// `luaL_checklstring(narg)`: strings, and numbers as Lua formats them.
pub(in crate::scripting::libs) fn check_string(lua: &Lua, args: &MultiValue, narg: i32) -> LibResult<LuaString> {
    let value = arg(args, narg);
    let string = match value {
        Some(v) => to_string(lua, v)?,
        None => None,
    };
    string.ok_or_else(|| Raise::type_error(narg, "string", type_name(value)))
}

/// A stack of Lua tables (the containers being filled or walked) that
/// holds a bounded number of mlua references however deep it gets: the top
/// `NEAR` tables in a vector, the ones below in a Lua table. mlua keeps
/// every live reference in one auxiliary Lua stack of `MAX_C_STACK` slots
/// shared by the whole state, so one reference per nesting level would run
/// out on deep nesting.
#[derive(Default)]
pub(in crate::scripting::libs) struct TableStack {
    near: Vec<Table>,
    /// Tables `1..=far_len` of the stack, by position.
    far: Option<Table>,
    far_len: usize,
}

impl TableStack {
    const NEAR: usize = 32;

    /// The table on top.
    pub(in crate::scripting::libs) fn top(&self) -> Option<&Table> {
        self.near.last()
    }

    /// Puts `table` on top.
    pub(in crate::scripting::libs) fn push(&mut self, lua: &Lua, table: Table) -> mlua::Result<()> {
        if self.near.len() == Self::NEAR {
            let far = match &self.far {
                Some(far) => far,
                None => self.far.insert(lua.create_table()?),
            };
            // Move the lower half out, keeping the order.
            for t in self.near.drain(..Self::NEAR / 2) {
                self.far_len += 1;
                far.raw_seti(self.far_len, t)?;
            }
        }
        self.near.push(table);
        Ok(())
    }

    /// Removes and returns the top table.
    pub(in crate::scripting::libs) fn pop(&mut self) -> mlua::Result<Option<Table>> {
        let top = self.near.pop();
        if self.near.is_empty() && self.far_len > 0 {
            if let Some(far) = &self.far {
                let take = self.far_len.min(Self::NEAR / 2);
                for i in self.far_len - take + 1..=self.far_len {
                    self.near.push(far.raw_get(i)?);
                }
                self.far_len -= take;
            }
        }
        Ok(top)
    }
}

// Protocol between the Rust callback and `shim`: the first value says what
// follows.
const TAG_VALUES: i64 = 0;
const TAG_SPREAD: i64 = 1;
const TAG_ARG: i64 = 2;
const TAG_ERROR: i64 = 3;
const TAG_BARE: i64 = 4;

/// No limit on the arguments (exactly representable as a Lua number,
/// and more than a call can have).
const LIMIT_NONE: i64 = i32::MAX as i64;

/// Makes the Lua function scripts call: it calls `f` with its arguments
/// and returns `f`'s values, or raises what `f` describes exactly as a C
/// library function would (position of the calling line, name of the
/// function as the caller spelt it). [`Outcome::Values`] too many to return
/// beside the arguments in the callback's frame are passed in a table, so
/// any number of results up to what the C stack holds comes back.
///
/// With `max_args`, a call with more arguments than that raises
/// `luaL_argerror(0, message)` before `f` (and mlua) sees them, as a C
/// function that checks `lua_checkstack` for its arguments does.
pub(in crate::scripting::libs) fn create<F>(lua: &Lua, max_args: Option<(usize, &str)>, f: F) -> mlua::Result<Function>
where
    F: Fn(&Lua, MultiValue) -> LibResult<Outcome> + MaybeSend + 'static,
{
    let inner = lua.create_function(move |lua, args: MultiValue| {
        let nargs = args.len();
        let mut out = MultiValue::new();
        match f(lua, args) {
            Ok(Outcome::Values(values)) if nargs + values.len() + INLINE_SLACK <= MAX_C_STACK => {
                out = values;
                out.push_front(Value::Integer(TAG_VALUES));
            }
            Ok(Outcome::Values(values)) => {
                let n = i64::try_from(values.len()).map_err(mlua::Error::external)?;
                let table = lua.create_sequence_from(values)?;
                out.extend([Value::Integer(TAG_SPREAD), Value::Table(table), Value::Integer(n)]);
            }
            Ok(Outcome::Spread(table, n)) => {
                let n = i64::try_from(n).map_err(mlua::Error::external)?;
                out.extend([Value::Integer(TAG_SPREAD), Value::Table(table), Value::Integer(n)]);
            }
            Err(Raise::Lua(err)) => return Err(err),
            Err(Raise::Arg(narg, msg)) => {
                let msg = lua.create_string(msg)?;
                out.extend([Value::Integer(TAG_ARG), Value::Integer(narg.into()), Value::String(msg)]);
            }
            Err(Raise::Error(msg)) => out.extend([Value::Integer(TAG_ERROR), Value::String(lua.create_string(msg)?)]),
            Err(Raise::Bare(msg)) => out.extend([Value::Integer(TAG_BARE), Value::String(lua.create_string(msg)?)]),
        }
        Ok(out)
    })?;
    let (limit, message) = match max_args {
        Some((limit, message)) => {
            (i64::try_from(limit).unwrap_or(LIMIT_NONE), Value::String(lua.create_string(message)?))
        }
        None => (LIMIT_NONE, Value::Nil),
    };
    // SAFETY: `exec_raw` pushes the three values and runs the closure in a
    // protected call; `lua_pushcclosure` pops them as the upvalues of `shim`
    // and leaves the new C closure as the single result.
    unsafe {
        lua.exec_raw::<Function>((inner, Value::Integer(limit), message), |state| {
            ffi::lua_pushcclosure(state, shim, 3);
        })
    }
}

/// The C function scripts call. Upvalues: the Rust callback, the most
/// arguments accepted and the message for more.
unsafe extern "C-unwind" fn shim(state: *mut ffi::lua_State) -> c_int {
    // SAFETY: only Lua C API calls on a valid state; a C function always has
    // LUA_MINSTACK free slots, enough for the two pushes before the call;
    // the callback's first result is one of the tags, followed by what the
    // tag says. No Rust value with a destructor is alive when
    // `luaL_error` / `luaL_argerror` / `lua_error` long-jump out.
    unsafe {
        let nargs = ffi::lua_gettop(state);
        let limit = ffi::lua_tointeger(state, ffi::lua_upvalueindex(2));
        if i64::from(nargs) > limit {
            let msg = ffi::lua_tolstring(state, ffi::lua_upvalueindex(3), ptr::null_mut());
            return ffi::luaL_argerror(state, 0, msg);
        }
        ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
        ffi::lua_insert(state, 1);
        ffi::lua_call(state, nargs, ffi::LUA_MULTRET);
        let nresults = ffi::lua_gettop(state);
        match ffi::lua_tointeger(state, 1) {
            TAG_VALUES => {
                ffi::lua_remove(state, 1);
                nresults - 1
            }
            TAG_SPREAD => {
                let n = c_int::try_from(ffi::lua_tointeger(state, 3)).unwrap_or(c_int::MAX);
                ffi::lua_settop(state, 2);
                ffi::lua_remove(state, 1);
                if ffi::lua_checkstack(state, n) == 0 {
                    return ffi::luaL_error(state, c"stack overflow (too many results)".as_ptr());
                }
                for i in 1..=n {
                    ffi::lua_rawgeti(state, 1, ffi::lua_Integer::from(i));
                }
                n
            }
            TAG_ARG => {
                let narg = c_int::try_from(ffi::lua_tointeger(state, 2)).unwrap_or(c_int::MAX);
                let msg: *const c_char = ffi::lua_tolstring(state, 3, ptr::null_mut());
                ffi::luaL_argerror(state, narg, msg)
            }
            TAG_ERROR => {
                let msg: *const c_char = ffi::lua_tolstring(state, 2, ptr::null_mut());
                ffi::luaL_error(state, c"%s".as_ptr(), msg)
            }
            _ => {
                ffi::lua_settop(state, 2);
                ffi::lua_error(state)
            }
        }
    }
}

/// Helpers for the libraries' tests: Lua states with libraries installed,
/// and two ways to run Lua code as Redis would (chunk name `@user_script`)
/// and show its results and errors as text.
#[cfg(test)]
pub(in crate::scripting::libs) mod testing {
    use mlua::{Lua, Table};

    /// A Lua state with the library `open` builds installed as global `name`.
    pub(in crate::scripting::libs) fn state_with(name: &str, open: fn(&Lua) -> mlua::Result<Table>) -> Lua {
        let lua = Lua::new();
        let table = open(&lua).expect("open library");
        lua.globals().set(name, table).expect("set global");
        lua
    }

    /// A plain Lua state with `cjson` and `cmsgpack` as globals.
    pub(in crate::scripting::libs) fn state() -> Lua {
        let lua = Lua::new();
        let cjson = crate::scripting::libs::cjson::open(&lua).expect("open cjson");
        let cmsgpack = crate::scripting::libs::cmsgpack::open(&lua).expect("open cmsgpack");
        lua.globals().set("cjson", cjson).expect("set cjson");
        lua.globals().set("cmsgpack", cmsgpack).expect("set cmsgpack");
        lua
    }

    /// Values shown one by one with a `show` function, errors as
    /// `ERR:<type of the error value>:<message>` (the `bit` and `struct`
    /// tests).
    pub(in crate::scripting::libs) mod shown {
        use mlua::Lua;

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

        /// Evaluates `expr` (on line 1 of `user_script`, like the reference
        /// outputs taken from redis-server) and shows its values, or its error.
        pub(in crate::scripting::libs) fn eval(lua: &Lua, expr: &str) -> String {
            let prelude = PRELUDE.replace('\n', " ");
            let code = format!(
                "{prelude} local ok, r = pcall(function() return show({expr}) end) \
                 if ok then return r else return 'ERR:' .. type(r) .. ':' .. tostring(r) end"
            );
            lua.load(code).set_name("@user_script").eval::<String>().expect("test chunk runs")
        }

        /// Runs `code` as chunk `user_script` and returns its string result.
        pub(in crate::scripting::libs) fn run(lua: &Lua, code: &str) -> String {
            lua.load(code).set_name("@user_script").eval::<String>().expect("test chunk runs")
        }

        /// Checks each `(expression, expected output)` pair with [`eval`].
        pub(in crate::scripting::libs) fn check_all(lua: &Lua, cases: &[(&str, &str)]) {
            super::check_with(lua, cases, eval);
        }
    }

    /// `pcall`'s results joined with ` | ` (the `cjson` and `cmsgpack`
    /// tests).
    pub(in crate::scripting::libs) mod piped {
        use mlua::Lua;

        /// Evaluates `expr` on line 1 of chunk `user_script` (as Redis names
        /// scripts) inside `pcall`, and shows the results like the reference
        /// outputs taken from redis-server: `true | v1 | v2` (strings as they
        /// are, other values with `tostring`) or `false | message`. `hex(s)`
        /// is available to show binary strings.
        pub(in crate::scripting::libs) fn eval(lua: &Lua, expr: &str) -> String {
            let code = format!(
                "local function hex(s) return (string.gsub(s, '.', function(c) return string.format('%02x', string.byte(c)) end)) end \
                 local r = {{pcall(function() return {expr} end)}} local o = {{}} \
                 for i = 1, table.maxn(r) do o[#o + 1] = type(r[i]) == 'string' and r[i] or tostring(r[i]) end \
                 return table.concat(o, ' | ')"
            );
            lua.load(code)
                .set_name("@user_script")
                .eval::<mlua::LuaString>()
                .map(|s| s.to_string_lossy())
                .expect("test chunk runs")
        }

        /// Runs `code` (a chunk returning one string) as `user_script`.
        pub(in crate::scripting::libs) fn run(lua: &Lua, code: &str) -> String {
            lua.load(code)
                .set_name("@user_script")
                .eval::<mlua::LuaString>()
                .map(|s| s.to_string_lossy())
                .expect("test chunk runs")
        }

        /// Checks each `(expression, expected output)` pair with [`eval`],
        /// reporting every mismatch at once.
        pub(in crate::scripting::libs) fn check_all(lua: &Lua, cases: &[(&str, &str)]) {
            super::check_with(lua, cases, eval);
        }
    }

    /// Checks each `(expression, expected output)` pair with `eval`,
    /// reporting every mismatch at once.
    fn check_with(lua: &Lua, cases: &[(&str, &str)], eval: fn(&Lua, &str) -> String) {
        let failures: Vec<String> = cases
            .iter()
            .filter_map(|(expr, expected)| {
                let got = eval(lua, expr);
                (got != *expected).then(|| format!("{expr}\n   expected {expected}\n   got      {got}"))
            })
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}
