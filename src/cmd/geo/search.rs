//! The geo searches (Redis's `georadiusGeneric`): GEOSEARCH,
//! GEOSEARCHSTORE, GEORADIUS, GEORADIUSBYMEMBER and their `_RO` forms.
//!
//! A search visits the (at most 9) geohash cells covering its shape, each a
//! score range of the sorted set, keeping the members inside the shape; it
//! then sorts them by distance if asked (COUNT without ANY implies ASC),
//! and replies or stores the first COUNT. The cells, the order they are
//! visited in and the distance arithmetic are Redis's, so results (and
//! their order when unsorted) are the same.

use bytes::Bytes;

use super::pqsort::pqsort;
use super::{coord_reply, distance_reply, float_arg, lonlat_arg, unit_arg};
use crate::cmd::args::{self, err, fail, is};
use crate::cmd::{CmdResult, Ctx};
use crate::db::geohash::{self, Shape, ShapeKind};
use crate::db::zset::ZSetValue;
use crate::protocol::Reply;

/// Which command is searching (Redis's `RADIUS_*`/`GEOSEARCH*` flags).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// GEORADIUS key lon lat radius unit …
    Radius,
    /// GEORADIUSBYMEMBER key member radius unit …
    RadiusByMember,
    /// GEOSEARCH key FROM… BY… …
    Search,
    /// GEOSEARCHSTORE dst key FROM… BY… … [STOREDIST]
    SearchStore,
}

impl Variant {
    /// Whether the FROMMEMBER/FROMLONLAT/BYRADIUS/BYBOX syntax applies.
    fn is_search(self) -> bool {
        matches!(self, Variant::Search | Variant::SearchStore)
    }
}

/// Result order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    /// As found (cell by cell, by score within a cell).
    None,
    /// Nearest first.
    Asc,
    /// Farthest first.
    Desc,
}

/// A parsed search.
struct Request {
    /// Centre, when known (unknown only when the source key is missing).
    centre: Option<(f64, f64)>,
    /// Radius or box and its unit's meters.
    area: Option<(ShapeKind, f64)>,
    with_dist: bool,
    with_hash: bool,
    with_coord: bool,
    order: Order,
    /// COUNT (0: unlimited).
    count: u64,
    /// ANY: stop at COUNT matches instead of taking the nearest.
    any: bool,
    /// Destination key, and whether distances (not geohashes) are stored.
    store: Option<(Bytes, bool)>,
}

/// A member found inside the shape.
struct Point {
    member: Bytes,
    lon: f64,
    lat: f64,
    /// Meters from the centre.
    dist: f64,
    score: f64,
}

/// A radius and unit (Redis's `extractDistanceOrReply`).
fn radius_args(r: &[u8], unit: &[u8]) -> Result<(ShapeKind, f64), Reply> {
    let radius = float_arg(r, "ERR need numeric radius")?;
    if radius < 0.0 {
        return fail("ERR radius cannot be negative");
    }
    Ok((ShapeKind::Radius(radius), unit_arg(unit)?))
}

/// A box's width, height and unit (Redis's `extractBoxOrReply`).
fn box_args(w: &[u8], h: &[u8], unit: &[u8]) -> Result<(ShapeKind, f64), Reply> {
    let width = float_arg(w, "ERR need numeric width")?;
    let height = float_arg(h, "ERR need numeric height")?;
    if height < 0.0 || width < 0.0 {
        return fail("ERR height or width cannot be negative");
    }
    Ok((ShapeKind::Box { width, height }, unit_arg(unit)?))
}

/// The position of `member` in `z`, or Redis's error.
fn member_pos(z: &ZSetValue, member: &[u8]) -> Result<(f64, f64), Reply> {
    z.score(member)
        .and_then(geohash::score_to_lonlat)
        .ok_or_else(|| Reply::err("ERR could not decode requested zset member"))
}

/// Parses a search's arguments in Redis's order (so the same error wins);
/// `z` is the source set (a member is looked up in it while parsing).
fn parse(a: &[Bytes], v: Variant, nostore: bool, z: Option<&ZSetValue>) -> Result<Request, Reply> {
    let mut req = Request {
        centre: None,
        area: None,
        with_dist: false,
        with_hash: false,
        with_coord: false,
        order: Order::None,
        count: 0,
        any: false,
        store: None,
    };
    let base = match v {
        Variant::Radius => {
            req.centre = Some(lonlat_arg(&a[2], &a[3])?);
            req.area = Some(radius_args(&a[4], &a[5])?);
            6
        }
        Variant::RadiusByMember => {
            if let Some(z) = z {
                req.centre = Some(member_pos(z, &a[2])?);
                req.area = Some(radius_args(&a[3], &a[4])?);
            }
            5
        }
        Variant::Search => 2,
        Variant::SearchStore => {
            req.store = Some((a[1].clone(), false));
            3
        }
    };
    let (mut from_member, mut from_lonlat, mut by_radius, mut by_box) = (false, false, false, false);
    let search = v.is_search();
    let mut i = base;
    while i < a.len() {
        let left = a.len() - i - 1;
        let o = &a[i];
        if is(o, "withdist") {
            req.with_dist = true;
        } else if is(o, "withhash") {
            req.with_hash = true;
        } else if is(o, "withcoord") {
            req.with_coord = true;
        } else if is(o, "any") {
            req.any = true;
        } else if is(o, "asc") {
            req.order = Order::Asc;
        } else if is(o, "desc") {
            req.order = Order::Desc;
        } else if is(o, "count") && left >= 1 {
            let n = args::int(&a[i + 1])?;
            if n <= 0 {
                return fail("ERR COUNT must be > 0");
            }
            req.count = n as u64;
            i += 1;
        } else if (is(o, "store") || is(o, "storedist")) && left >= 1 && !nostore && !search {
            req.store = Some((a[i + 1].clone(), is(o, "storedist")));
            i += 1;
        } else if is(o, "storedist") && v == Variant::SearchStore {
            req.store = Some((a[1].clone(), true));
        } else if is(o, "frommember") && left >= 1 && search && !from_lonlat {
            if let Some(z) = z {
                req.centre = Some(member_pos(z, &a[i + 1])?);
            }
            from_member = true;
            i += 1;
        } else if is(o, "fromlonlat") && left >= 2 && search && !from_member {
            req.centre = Some(lonlat_arg(&a[i + 1], &a[i + 2])?);
            from_lonlat = true;
            i += 2;
        } else if is(o, "byradius") && left >= 2 && search && !by_box {
            req.area = Some(radius_args(&a[i + 1], &a[i + 2])?);
            by_radius = true;
            i += 2;
        } else if is(o, "bybox") && left >= 3 && search && !by_radius {
            req.area = Some(box_args(&a[i + 1], &a[i + 2], &a[i + 3])?);
            by_box = true;
            i += 3;
        } else {
            return fail(err::SYNTAX);
        }
        i += 1;
    }
    if req.store.is_some() && (req.with_dist || req.with_hash || req.with_coord) {
        let what = if v == Variant::SearchStore { "GEOSEARCHSTORE" } else { "STORE option in GEORADIUS" };
        return fail(&format!("ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"));
    }
    let name = String::from_utf8_lossy(&a[0]);
    if search && !(from_member || from_lonlat) {
        return fail(&format!("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"));
    }
    if search && !(by_radius || by_box) {
        return fail(&format!("ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"));
    }
    if req.any && req.count == 0 {
        return fail("ERR the ANY argument requires COUNT argument");
    }
    Ok(req)
}

/// The members of `z` inside `shape`, cell by cell as Redis visits them
/// (a cell equal to the last one visited is skipped), stopping at `limit`
/// matches when it is not 0. O(log n + members in the cells).
fn points_in(z: &ZSetValue, shape: &Shape, limit: usize) -> Vec<Point> {
    let mut out: Vec<Point> = Vec::new();
    let full = |out: &Vec<Point>| limit != 0 && out.len() >= limit;
    let cells = shape.cells();
    let mut last: Option<usize> = None;
    for (i, cell) in cells.iter().enumerate() {
        if cell.is_zero() || last.is_some_and(|l| cells[l] == *cell) {
            continue;
        }
        if full(&out) {
            break;
        }
        let (min, max) = cell.score_range();
        let (min, max) = (min as f64, max as f64);
        z.walk_scores_from(
            |s| s < min,
            |score, member| {
                if score >= max {
                    return false;
                }
                if let Some((lon, lat, dist)) = shape.contains(score) {
                    out.push(Point { member: Bytes::copy_from_slice(member()), lon, lat, dist, score });
                }
                !full(&out)
            },
        );
        last = Some(i);
    }
    out
}

/// The whole search: parse, visit, sort, then reply or store.
fn generic(ctx: &mut Ctx, a: &[Bytes], v: Variant, nostore: bool) -> CmdResult {
    let resp3 = ctx.client.resp >= 3;
    let src = if v == Variant::SearchStore { &a[2] } else { &a[1] };
    let z = ctx.ks.read_as::<ZSetValue>(src)?;
    let req = parse(a, v, nostore, z.as_deref())?;
    let (Some(z), Some((lon, lat)), Some((kind, conversion))) = (z, req.centre, req.area) else {
        // A missing source: the destination is deleted.
        return Ok(match &req.store {
            Some((dst, _)) => {
                ctx.ks.remove(dst);
                Reply::Int(0)
            }
            None => Reply::Array(Vec::new()),
        });
    };
    let order = if req.count != 0 && req.order == Order::None && !req.any { Order::Asc } else { req.order };
    let shape = Shape { lon, lat, kind, conversion };
    let limit = if req.any { usize::try_from(req.count).unwrap_or(usize::MAX) } else { 0 };
    let mut points = points_in(z, &shape, limit);
    let returned = match usize::try_from(req.count) {
        Ok(n) if n != 0 => n.min(points.len()),
        _ => points.len(),
    };
    // Redis's comparator: `Equal` for equal distances (and NaN, which no
    // distance is).
    let asc = |p: &Point, q: &Point| p.dist.partial_cmp(&q.dist).unwrap_or(std::cmp::Ordering::Equal);
    let desc = |p: &Point, q: &Point| asc(q, p);
    let sort = |points: &mut Vec<Point>, cmp: &dyn Fn(&Point, &Point) -> std::cmp::Ordering| {
        if returned == points.len() {
            points.sort_by(cmp);
        } else if returned > 0 {
            pqsort(points, &cmp, 0, returned - 1);
        }
    };
    match order {
        Order::Asc => sort(&mut points, &asc),
        Order::Desc => sort(&mut points, &desc),
        Order::None => {}
    }
    points.truncate(returned);
    if let Some((dst, store_dist)) = &req.store {
        let pairs = points.iter().map(|p| (&p.member[..], if *store_dist { p.dist / conversion } else { p.score }));
        let n = crate::cmd::zset::store(ctx, dst, ZSetValue::from_pairs(pairs));
        return Ok(Reply::Int(n));
    }
    let nested = req.with_dist || req.with_hash || req.with_coord;
    let out = points.into_iter().map(|p| {
        if !nested {
            return Reply::Bulk(p.member);
        }
        let mut item = vec![Reply::Bulk(p.member)];
        if req.with_dist {
            item.push(distance_reply(p.dist / conversion));
        }
        if req.with_hash {
            item.push(Reply::Int(p.score as i64));
        }
        if req.with_coord {
            item.push(Reply::Array(vec![coord_reply(p.lon, resp3), coord_reply(p.lat, resp3)]));
        }
        Reply::Array(item)
    });
    Ok(Reply::Array(out.collect()))
}

/// GEORADIUS key longitude latitude radius unit [WITH…] [COUNT n [ANY]]
/// [ASC|DESC] [STORE key|STOREDIST key].
pub(super) fn georadius(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    generic(ctx, a, Variant::Radius, false)
}

/// GEORADIUS_RO: GEORADIUS without STORE/STOREDIST.
pub(super) fn georadius_ro(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    generic(ctx, a, Variant::Radius, true)
}

/// GEORADIUSBYMEMBER key member radius unit [options as GEORADIUS].
pub(super) fn georadiusbymember(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    generic(ctx, a, Variant::RadiusByMember, false)
}

/// GEORADIUSBYMEMBER_RO: GEORADIUSBYMEMBER without STORE/STOREDIST.
pub(super) fn georadiusbymember_ro(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    generic(ctx, a, Variant::RadiusByMember, true)
}

/// GEOSEARCH key FROMMEMBER m|FROMLONLAT lon lat BYRADIUS r unit|BYBOX w h
/// unit [ASC|DESC] [COUNT n [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH].
pub(super) fn geosearch(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    generic(ctx, a, Variant::Search, true)
}

/// GEOSEARCHSTORE dst src FROM… BY… [ASC|DESC] [COUNT n [ANY]] [STOREDIST].
pub(super) fn geosearchstore(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    generic(ctx, a, Variant::SearchStore, false)
}
