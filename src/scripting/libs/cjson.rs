//! The `cjson` library: lua-cjson 2.1.0 as Redis 7.0 embeds it.
//!
//! `cjson.encode(value)` writes JSON (tables with only integer keys >= 1 as
//! arrays, holes as `null`; other tables as objects; numbers with
//! `%.14g`; `/` escaped as `\/`), `cjson.decode(text)` reads it (JSON
//! `null` becomes `cjson.null`, a NULL lightuserdata), and the
//! configuration functions (`encode_sparse_array`, `encode_max_depth`,
//! `decode_max_depth`, `encode_number_precision`, `encode_keep_buffer`,
//! `encode_invalid_numbers`, `decode_invalid_numbers`) set and return the
//! settings of their table; `cjson.new()` returns a fresh table with its
//! own settings. Results and error messages are lua-cjson's, including
//! its nesting limits (1000 levels by default, and the 8000 stack slots a
//! C function has).

mod decode;
mod encode;
mod strtod;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use mlua::{Lua, MultiValue, Table, Value};
use parking_lot::Mutex;

use super::cfunction::{arg, check_integer, check_string, create, LibResult, Outcome, Raise};

/// The settings of one `cjson` table, with lua-cjson's defaults.
#[derive(Clone, Copy, Debug)]
struct Config {
    encode_sparse_convert: i32,
    encode_sparse_ratio: i32,
    encode_sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0 refuse NaN and infinities, 1 write them, 2 write them as `null`.
    encode_invalid_numbers: i32,
    decode_invalid_numbers: i32,
    encode_keep_buffer: i32,
    encode_number_precision: i32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            encode_sparse_convert: 0,
            encode_sparse_ratio: 2,
            encode_sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            decode_invalid_numbers: 1,
            encode_keep_buffer: 1,
            encode_number_precision: 14,
        }
    }
}

type Shared = Arc<Mutex<Config>>;

/// The `cjson` table: functions sharing one set of default settings,
/// `null`, `_NAME` ("cjson") and `_VERSION` ("2.1.0"); fields are set in
/// lua-cjson's order, so `pairs` visits them in the same order as in Redis.
pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let cfg: Shared = Arc::new(Mutex::new(Config::default()));
    let module = lua.create_table()?;
    type Func = fn(&Lua, &Shared, MultiValue) -> LibResult<Outcome>;
    let functions: [(&str, Func); 9] = [
        ("encode", json_encode),
        ("decode", json_decode),
        ("encode_sparse_array", cfg_encode_sparse_array),
        ("encode_max_depth", cfg_encode_max_depth),
        ("decode_max_depth", cfg_decode_max_depth),
        ("encode_number_precision", cfg_encode_number_precision),
        ("encode_keep_buffer", cfg_encode_keep_buffer),
        ("encode_invalid_numbers", cfg_encode_invalid_numbers),
        ("decode_invalid_numbers", cfg_decode_invalid_numbers),
    ];
    for (name, f) in functions {
        let cfg = Arc::clone(&cfg);
        module.raw_set(name, create(lua, None, move |lua, args| f(lua, &cfg, args))?)?;
    }
    module.raw_set("new", lua.create_function(|lua, _: MultiValue| open(lua))?)?;
    module.raw_set("null", Value::NULL)?;
    module.raw_set("_NAME", "cjson")?;
    module.raw_set("_VERSION", "2.1.0")?;
    Ok(module)
}

/// `luaL_argcheck(lua_gettop(l) == 1, 1, "expected 1 argument")`.
fn exactly_one_arg(args: &MultiValue) -> LibResult<()> {
    if args.len() != 1 {
        return Err(Raise::arg(1, "expected 1 argument"));
    }
    Ok(())
}

fn json_encode(lua: &Lua, cfg: &Shared, args: MultiValue) -> LibResult<Outcome> {
    exactly_one_arg(&args)?;
    let cfg = *cfg.lock();
    let value = args.into_iter().next().unwrap_or(Value::Nil);
    let json = encode::encode(lua, &cfg, value)?;
    Ok(Outcome::one(Value::String(lua.create_string(json)?)))
}

fn json_decode(lua: &Lua, cfg: &Shared, args: MultiValue) -> LibResult<Outcome> {
    exactly_one_arg(&args)?;
    let cfg = *cfg.lock();
    let text = check_string(lua, &args, 1)?;
    Ok(Outcome::one(decode::decode(lua, &cfg, &text.as_bytes())?))
}

/// A configuration function's arguments: at most `max`.
fn config_args(args: &MultiValue, max: i32) -> LibResult<()> {
    if args.len() > max as usize {
        return Err(Raise::arg(max + 1, "found too many arguments"));
    }
    Ok(())
}

/// An integer setting: argument `narg`, if given, must be within
/// `min..=max` (lua-cjson reports a range error against argument 1
/// whichever argument it is). Returns the setting.
fn integer_option(lua: &Lua, args: &MultiValue, narg: i32, setting: &mut i32, min: i32, max: i32) -> LibResult<Value> {
    if !matches!(arg(args, narg), None | Some(Value::Nil)) {
        // A C int assigned from lua_Integer: wraps.
        let value = check_integer(lua, args, narg)? as i32;
        if !(min <= value && value <= max) {
            return Err(Raise::arg(1, format!("expected integer between {min} and {max}")));
        }
        *setting = value;
    }
    Ok(Value::Integer((*setting).into()))
}

/// An enumerated setting: `true`/`false` or one of `options` by name
/// (the first two being "off" and "on"). Returns the setting as a boolean
/// when it is off or on, else by name.
fn enum_option(lua: &Lua, args: &MultiValue, narg: i32, setting: &mut i32, options: &[&str]) -> LibResult<Value> {
    match arg(args, narg) {
        None | Some(Value::Nil) => {}
        Some(Value::Boolean(b)) => *setting = i32::from(*b),
        Some(_) => {
            let name = check_string(lua, args, narg)?;
            let name = name.as_bytes();
            // C compares the string up to its first NUL.
            let name = name.split(|&b| b == 0).next().unwrap_or_default();
            match options.iter().position(|o| o.as_bytes() == name) {
                Some(i) => *setting = i as i32,
                None => {
                    let mut msg = b"invalid option '".to_vec();
                    msg.extend_from_slice(name);
                    msg.push(b'\'');
                    return Err(Raise::arg(narg, msg));
                }
            }
        }
    }
    Ok(match *setting {
        0 | 1 => Value::Boolean(*setting == 1),
        n => Value::String(lua.create_string(options.get(n as usize).copied().unwrap_or_default())?),
    })
}

const OFF_ON: &[&str] = &["off", "on"];

fn cfg_encode_sparse_array(lua: &Lua, cfg: &Shared, args: MultiValue) -> LibResult<Outcome> {
    config_args(&args, 3)?;
    let mut cfg = cfg.lock();
    let convert = enum_option(lua, &args, 1, &mut cfg.encode_sparse_convert, OFF_ON)?;
    let ratio = integer_option(lua, &args, 2, &mut cfg.encode_sparse_ratio, 0, i32::MAX)?;
    let safe = integer_option(lua, &args, 3, &mut cfg.encode_sparse_safe, 0, i32::MAX)?;
    Ok(Outcome::Values(MultiValue::from_vec(vec![convert, ratio, safe])))
}

fn cfg_encode_max_depth(lua: &Lua, cfg: &Shared, args: MultiValue) -> LibResult<Outcome> {
    config_args(&args, 1)?;
    Ok(Outcome::one(integer_option(lua, &args, 1, &mut cfg.lock().encode_max_depth, 1, i32::MAX)?))
}

fn cfg_decode_max_depth(lua: &Lua, cfg: &Shared, args: MultiValue) -> LibResult<Outcome> {
    config_args(&args, 1)?;
    Ok(Outcome::one(integer_option(lua, &args, 1, &mut cfg.lock().decode_max_depth, 1, i32::MAX)?))
}

fn cfg_encode_number_precision(lua: &Lua, cfg: &Shared, args: MultiValue) -> LibResult<Outcome> {
    config_args(&args, 1)?;
    Ok(Outcome::one(integer_option(lua, &args, 1, &mut cfg.lock().encode_number_precision, 1, 14)?))
}

/// Only reported: buffer reuse is an allocation detail of the C library.
fn cfg_encode_keep_buffer(lua: &Lua, cfg: &Shared, args: MultiValue) -> LibResult<Outcome> {
    config_args(&args, 1)?;
    Ok(Outcome::one(enum_option(lua, &args, 1, &mut cfg.lock().encode_keep_buffer, OFF_ON)?))
}

fn cfg_encode_invalid_numbers(lua: &Lua, cfg: &Shared, args: MultiValue) -> LibResult<Outcome> {
    config_args(&args, 1)?;
    Ok(Outcome::one(enum_option(lua, &args, 1, &mut cfg.lock().encode_invalid_numbers, &["off", "on", "null"])?))
}

fn cfg_decode_invalid_numbers(lua: &Lua, cfg: &Shared, args: MultiValue) -> LibResult<Outcome> {
    config_args(&args, 1)?;
    Ok(Outcome::one(enum_option(lua, &args, 1, &mut cfg.lock().decode_invalid_numbers, OFF_ON)?))
}
