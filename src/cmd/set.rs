//! Set commands (Redis's `t_set.c`).

/// The set commands' table rows.
#[rustfmt::skip]
pub const COMMANDS: &[super::table::CommandSpec] = &[];
