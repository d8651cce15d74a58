//! HyperLogLog commands (Redis's `hyperloglog.c`): PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST.

use super::table::CommandSpec;

/// This family's rows in the command table.
pub const COMMANDS: &[CommandSpec] = &[];
