//! Lua scripting (Redis's `eval.c`, `script_lua.c`, `function_lua.c`).

pub mod libs;
