//! placeholder
/// rows
pub const COMMANDS: &[super::table::CommandSpec] = &[];
