//! Bit operations on strings (Redis's `bitops.c`): SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD BITFIELD_RO.

use super::table::CommandSpec;

/// This family's rows in the command table.
pub const COMMANDS: &[CommandSpec] = &[];
