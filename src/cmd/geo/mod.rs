//! Geo commands on sorted sets (Redis's `geo.c`): GEOADD, GEODIST,
//! GEOHASH, GEOPOS here; the searches (GEOSEARCH, GEOSEARCHSTORE and the
//! GEORADIUS family) in `search.rs`, with Redis's partial sort for their
//! COUNT (`pqsort.rs`).
//!
//! A position is a sorted set member whose score is its 52-bit geohash
//! ([`crate::db::geohash`]), so any sorted set command works on a geo set
//! and RDB files are Redis's. GEOADD is ZADD with computed scores (it calls
//! the sorted set family's ZADD, so it raises `zadd` events as Redis does).

mod pqsort;
mod search;

use bytes::Bytes;

use super::args::{err, fail, is};
use super::table::flags::*;
use super::zset::parse_score;
use super::{CmdResult, Ctx};
use crate::db::geohash::{self, LAT_MAX, LAT_MIN, LONG_MAX, LONG_MIN};
use crate::db::zset::ZSetValue;
use crate::protocol::Reply;
use crate::spec;

/// Redis's error for a unit other than m, km, ft and mi.
const ERR_UNIT: &str = "ERR unsupported unit provided. please use M, KM, FT, MI";

/// Meters per `unit` (`m`, `km`, `ft`, `mi`, any case), or Redis's error.
fn unit_arg(unit: &[u8]) -> Result<f64, Reply> {
    const UNITS: [(&str, f64); 4] = [("m", 1.0), ("km", 1000.0), ("ft", 0.3048), ("mi", 1609.34)];
    UNITS.iter().find(|(name, _)| is(unit, name)).map(|&(_, f)| f).ok_or_else(|| Reply::err(ERR_UNIT))
}

/// A float argument as Redis's `getDoubleFromObjectOrReply`, with `msg`
/// (or `value is not a valid float`) when it is not one.
fn float_arg(arg: &[u8], msg: &str) -> Result<f64, Reply> {
    parse_score(arg).ok_or_else(|| Reply::err(msg))
}

/// A longitude and latitude argument pair within the indexable limits
/// (Redis's `extractLongLatOrReply`).
fn lonlat_arg(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), Reply> {
    let (lon, lat) = (float_arg(lon, err::NOT_FLOAT)?, float_arg(lat, err::NOT_FLOAT)?);
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return fail(&format!("ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"));
    }
    Ok((lon, lat))
}

/// A distance as Redis replies it (`fixedpoint_d2string` with 4 digits):
/// rounded half to even at the 4th decimal, always 4 decimals.
fn distance_text(d: f64) -> String {
    if d == 0.0 {
        return "0.0000".into();
    }
    let v = (d * 10000.0).round_ties_even() as i64;
    let (sign, v) = if v < 0 { ("-", v.unsigned_abs()) } else { ("", v as u64) };
    format!("{sign}{}.{:04}", v / 10000, v % 10000)
}

/// A distance reply (a bulk string in both protocols, as Redis).
fn distance_reply(d: f64) -> Reply {
    Reply::Bulk(Bytes::from(distance_text(d)))
}

/// A coordinate as Redis's `addReplyHumanLongDouble`: `%.17Lf` without
/// trailing zeros; a bulk string in RESP2, a double in RESP3.
fn coord_reply(v: f64, resp3: bool) -> Reply {
    let mut s = format!("{v:.17}");
    let trimmed = s.trim_end_matches('0').trim_end_matches('.').len();
    s.truncate(trimmed);
    if s == "-0" {
        s = "0".into();
    }
    if resp3 {
        Reply::Raw(Bytes::from(format!(",{s}\r\n")))
    } else {
        Reply::Bulk(Bytes::from(s))
    }
}

/// `[longitude, latitude]` of a position.
fn position_reply(lon: f64, lat: f64, resp3: bool) -> Reply {
    Reply::Array(vec![coord_reply(lon, resp3), coord_reply(lat, resp3)])
}

/// GEOADD key [NX|XX] [CH] longitude latitude member …: checks the options
/// and coordinates as Redis does, then runs ZADD with the members'
/// geohashes as scores. O(log n) per member.
fn geoadd(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let mut at = 2;
    let (mut nx, mut xx) = (false, false);
    while at < a.len() {
        match () {
            _ if is(&a[at], "nx") => nx = true,
            _ if is(&a[at], "xx") => xx = true,
            _ if is(&a[at], "ch") => {}
            _ => break,
        }
        at += 1;
    }
    if !(a.len() - at).is_multiple_of(3) || (nx && xx) {
        return fail(err::SYNTAX);
    }
    let mut zadd_args: Vec<Bytes> = Vec::with_capacity(at + (a.len() - at) / 3 * 2);
    zadd_args.push(Bytes::from_static(b"zadd"));
    zadd_args.extend(a[1..at].iter().cloned());
    for t in a[at..].chunks_exact(3) {
        let (lon, lat) = lonlat_arg(&t[0], &t[1])?;
        let Some(score) = geohash::lonlat_to_score(lon, lat) else { return fail(err::SYNTAX) };
        zadd_args.push(Bytes::from(itoa::Buffer::new().format(score).to_owned()));
        zadd_args.push(t[2].clone());
    }
    super::zset::zadd(ctx, &zadd_args)
}

/// GEODIST key member1 member2 [unit]: nil if either is missing. O(1)
/// (O(n) packed).
fn geodist(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let to_meters = match a.len() {
        4 => 1.0,
        5 => unit_arg(&a[4])?,
        _ => return fail(err::SYNTAX),
    };
    let Some(z) = ctx.ks.read_as::<ZSetValue>(&a[1])? else { return Ok(Reply::Nil) };
    let pos = |m: &[u8]| z.score(m).and_then(geohash::score_to_lonlat);
    match (pos(&a[2]), pos(&a[3])) {
        (Some((lon1, lat1)), Some((lon2, lat2))) => {
            Ok(distance_reply(geohash::distance(lon1, lat1, lon2, lat2) / to_meters))
        }
        _ => Ok(Reply::Nil),
    }
}

/// GEOHASH key member …: each member's standard 11-character geohash, or
/// nil. O(1) per member (O(n) packed).
fn geohash_cmd(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let z = ctx.ks.read_as::<ZSetValue>(&a[1])?;
    let out = a[2..].iter().map(|m| {
        let hash = z.as_ref().and_then(|z| z.score(m)).and_then(geohash::standard_geohash);
        hash.map_or(Reply::Nil, |h| Reply::bulk_from(&h))
    });
    Ok(Reply::Array(out.collect()))
}

/// GEOPOS key member …: each member's `[longitude, latitude]`, or a null
/// array. O(1) per member (O(n) packed).
fn geopos(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let resp3 = ctx.client.resp >= 3;
    let z = ctx.ks.read_as::<ZSetValue>(&a[1])?;
    let out = a[2..].iter().map(|m| {
        let pos = z.as_ref().and_then(|z| z.score(m)).and_then(geohash::score_to_lonlat);
        pos.map_or(Reply::NilArray, |(lon, lat)| position_reply(lon, lat, resp3))
    });
    Ok(Reply::Array(out.collect()))
}

/// Key positions of a GEORADIUS/GEORADIUSBYMEMBER call, as Redis's
/// `georadiusGetKeys` finds them: the source, and the argument of the last
/// `STORE` or `STOREDIST` from position 5 on. O(arguments).
pub fn key_positions(args: &[Bytes]) -> Vec<usize> {
    let mut keys = vec![1];
    let mut stored = None;
    let mut i = 5;
    while i < args.len() {
        if (is(&args[i], "store") || is(&args[i], "storedist")) && i + 1 < args.len() {
            stored = Some(i + 1);
            i += 1;
        }
        i += 1;
    }
    keys.extend(stored);
    keys
}

/// The geo commands' table rows.
#[rustfmt::skip]
pub const COMMANDS: &[super::table::CommandSpec] = &[
    spec!("geoadd", -5, WRITE | DENYOOM, 1, 1, 1, geoadd, "geo", "Adds one or more members to a geospatial index. The key is created if it doesn't exist.", "O(log(N)) for each item added, where N is the number of elements in the sorted set."),
    spec!("geodist", -4, READONLY, 1, 1, 1, geodist, "geo", "Returns the distance between two members of a geospatial index.", "O(log(N))"),
    spec!("geohash", -2, READONLY, 1, 1, 1, geohash_cmd, "geo", "Returns members from a geospatial index as geohash strings.", "O(log(N)) for each member requested, where N is the number of elements in the sorted set."),
    spec!("geopos", -2, READONLY, 1, 1, 1, geopos, "geo", "Returns the longitude and latitude of members from a geospatial index.", "O(N) where N is the number of members requested."),
    spec!("georadius", -6, WRITE | DENYOOM | MOVABLE_KEYS, 1, 1, 1, search::georadius, "geo", "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index."),
    spec!("georadius_ro", -6, READONLY, 1, 1, 1, search::georadius_ro, "geo", "Returns members from a geospatial index that are within a distance from a coordinate.", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index."),
    spec!("georadiusbymember", -5, WRITE | DENYOOM | MOVABLE_KEYS, 1, 1, 1, search::georadiusbymember, "geo", "Queries a geospatial index for members within a distance from a member, optionally stores the result.", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index."),
    spec!("georadiusbymember_ro", -5, READONLY, 1, 1, 1, search::georadiusbymember_ro, "geo", "Returns members from a geospatial index that are within a distance from a member.", "O(N+log(M)) where N is the number of elements inside the bounding box of the circular area delimited by center and radius and M is the number of items inside the index."),
    spec!("geosearch", -7, READONLY, 1, 1, 1, search::geosearch, "geo", "Queries a geospatial index for members inside an area of a box or a circle.", "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape"),
    spec!("geosearchstore", -8, WRITE | DENYOOM, 1, 2, 1, search::geosearchstore, "geo", "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.", "O(N+log(M)) where N is the number of elements in the grid-aligned bounding box area around the shape provided as the filter and M is the number of items inside the shape"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_print_as_redis() {
        assert_eq!(distance_text(0.0), "0.0000");
        assert_eq!(distance_text(166274.15156960033), "166274.1516");
        assert_eq!(distance_text(0.00004), "0.0000");
        assert_eq!(distance_text(0.5), "0.5000");
        assert_eq!(distance_text(56.4413), "56.4413");
    }

    #[test]
    fn coordinates_print_as_redis() {
        let text =
            |v| coord_reply(v, false).as_bulk().map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default();
        assert_eq!(text(13.361389338970184), "13.36138933897018433");
        assert_eq!(text(-0.0), "0");
        assert_eq!(text(1.5), "1.5");
        assert_eq!(text(180.0), "180");
    }

    #[test]
    fn georadius_keys_follow_redis() {
        let args = |v: &[&str]| v.iter().map(|s| Bytes::from(s.to_string())).collect::<Vec<_>>();
        assert_eq!(key_positions(&args(&["georadius", "k", "1", "2", "3", "km"])), [1]);
        assert_eq!(key_positions(&args(&["georadius", "k", "1", "2", "3", "km", "store", "d"])), [1, 7]);
        assert_eq!(
            key_positions(&args(&["georadius", "k", "1", "2", "3", "km", "store", "d", "storedist", "e"])),
            [1, 9]
        );
        assert_eq!(key_positions(&args(&["georadiusbymember", "k", "m", "3", "km", "store"])), [1]);
    }
}
