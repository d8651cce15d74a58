//! Sorted set commands (Redis's `t_zset.c`).

/// The sorted set commands' table rows.
#[rustfmt::skip]
pub const COMMANDS: &[super::table::CommandSpec] = &[];
