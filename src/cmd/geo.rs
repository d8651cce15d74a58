//! Geo commands on sorted sets (Redis's `geo.c`): GEOADD GEODIST GEOHASH GEOPOS GEOSEARCH GEOSEARCHSTORE GEORADIUS…

use super::table::CommandSpec;

/// This family's rows in the command table.
pub const COMMANDS: &[CommandSpec] = &[];
