//! Placeholder: filled in by the library's own change.

use mlua::{Lua, Table};

/// The library table.
pub fn open(lua: &Lua) -> mlua::Result<Table> {
    lua.create_table()
}
