//! Key serialization (Redis's `cluster.c` DUMP/RESTORE/MIGRATE): DUMP RESTORE MIGRATE.

use super::table::CommandSpec;

/// This family's rows in the command table.
pub const COMMANDS: &[CommandSpec] = &[];
