//! `SORT` and `SORT_RO` (Redis's `sort.c`).

/// The sort commands' table rows.
#[rustfmt::skip]
pub const COMMANDS: &[super::table::CommandSpec] = &[];
