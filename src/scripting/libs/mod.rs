//! The Lua libraries Redis 7.0 gives scripts beyond Lua's own base, table,
//! string and math: `cjson`, `cmsgpack`, `bit` and `struct`, written in
//! Rust against mlua with the behaviour (outputs and error texts) of the C
//! modules Redis embeds.

pub mod bit;
mod cfunction;
pub mod cjson;
pub mod cmsgpack;
pub mod lstruct;

use mlua::{Lua, Table};

/// Builds the four library tables (not yet installed anywhere): the caller
/// installs them as globals and makes them read-only.
pub fn open_all(lua: &Lua) -> mlua::Result<Vec<(&'static str, Table)>> {
    Ok(vec![
        ("cjson", cjson::open(lua)?),
        ("cmsgpack", cmsgpack::open(lua)?),
        ("bit", bit::open(lua)?),
        ("struct", lstruct::open(lua)?),
    ])
}
