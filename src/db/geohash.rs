//! Geohash arithmetic for the geo commands, as Redis's `geohash.c` and
//! `geohash_helper.c` compute it (same operations in the same order, so
//! scores, distances and the boxes a search visits are bit-for-bit Redis's).
//!
//! A position is stored as the score of a sorted set member: longitude and
//! latitude each scaled to 26 bits over `[-180, 180]` and
//! `[-85.05112878, 85.05112878]` (the Web Mercator limits) and interleaved,
//! latitude in the even bits: a 52-bit integer, exact as a double.
//!
//! A search covers its shape with 9 cells of one geohash precision (the
//! centre's cell and its 8 neighbours, the useless ones dropped); each cell
//! is a contiguous score range of the sorted set.

/// Bits per coordinate of a stored position (26 × 2 = 52 bits).
pub const STEP_MAX: u8 = 26;
/// Lowest latitude that can be indexed (EPSG:900913).
pub const LAT_MIN: f64 = -85.05112878;
/// Highest latitude that can be indexed.
pub const LAT_MAX: f64 = 85.05112878;
/// Lowest longitude.
pub const LONG_MIN: f64 = -180.0;
/// Highest longitude.
pub const LONG_MAX: f64 = 180.0;
/// Earth's quadratic mean radius for WGS-84, in meters (Redis's constant).
pub const EARTH_RADIUS_M: f64 = 6372797.560856;
/// Half the Mercator projection's width, for the step estimate.
const MERCATOR_MAX: f64 = 20037726.37;
/// Degrees to radians, as Redis's `D_R`.
const D_R: f64 = std::f64::consts::PI / 180.0;

/// Degrees to radians (Redis's `deg_rad`).
fn deg_rad(ang: f64) -> f64 {
    ang * D_R
}

/// Radians to degrees (Redis's `rad_deg`: a division, not a product).
fn rad_deg(ang: f64) -> f64 {
    ang / D_R
}

/// A geohash cell: `step` bits per coordinate, interleaved in `bits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HashBits {
    /// Interleaved bits (latitude in the even positions).
    pub bits: u64,
    /// Bits per coordinate (1..=32); 0 with `bits == 0` marks "no cell".
    pub step: u8,
}

impl HashBits {
    /// Whether this is the "no cell" marker of a dropped neighbour.
    pub fn is_zero(&self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// The cell's lowest score at 52 bits (Redis's `geohashAlign52Bits`).
    pub fn align52(&self) -> u64 {
        self.bits << (52 - u32::from(self.step) * 2)
    }

    /// The sorted set scores `[min, max)` of every position inside the
    /// cell (Redis's `scoresOfGeoHashBox`).
    pub fn score_range(&self) -> (u64, u64) {
        let next = HashBits { bits: self.bits.wrapping_add(1), step: self.step };
        (self.align52(), next.align52())
    }
}

/// A closed interval of one coordinate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// Lower bound.
    pub min: f64,
    /// Upper bound.
    pub max: f64,
}

/// The indexable longitude range.
pub const LONG_RANGE: Range = Range { min: LONG_MIN, max: LONG_MAX };
/// The indexable latitude range (Redis's internal one, not the standard ±90).
pub const LAT_RANGE: Range = Range { min: LAT_MIN, max: LAT_MAX };
/// The standard geohash latitude range (GEOHASH's output).
pub const STD_LAT_RANGE: Range = Range { min: -90.0, max: 90.0 };

/// A decoded cell: the coordinates it spans.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Area {
    /// Longitudes covered.
    pub lon: Range,
    /// Latitudes covered.
    pub lat: Range,
}

/// Spreads the bits of `x` to the even positions and those of `y` to the
/// odd ones.
fn interleave64(x: u32, y: u32) -> u64 {
    fn spread(v: u32) -> u64 {
        let mut v = u64::from(v);
        v = (v | (v << 16)) & 0x0000_FFFF_0000_FFFF;
        v = (v | (v << 8)) & 0x00FF_00FF_00FF_00FF;
        v = (v | (v << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
        v = (v | (v << 2)) & 0x3333_3333_3333_3333;
        (v | (v << 1)) & 0x5555_5555_5555_5555
    }
    spread(x) | (spread(y) << 1)
}

/// The inverse of [`interleave64`]: even bits in the low 32, odd bits in
/// the high 32.
fn deinterleave64(v: u64) -> u64 {
    fn squash(mut v: u64) -> u64 {
        v &= 0x5555_5555_5555_5555;
        v = (v | (v >> 1)) & 0x3333_3333_3333_3333;
        v = (v | (v >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
        v = (v | (v >> 4)) & 0x00FF_00FF_00FF_00FF;
        v = (v | (v >> 8)) & 0x0000_FFFF_0000_FFFF;
        (v | (v >> 16)) & 0x0000_0000_FFFF_FFFF
    }
    squash(v) | (squash(v >> 1) << 32)
}

/// The cell of `step` bits holding (`lon`, `lat`) over the given ranges,
/// or `None` outside them or the indexable limits. O(1).
pub fn encode(lon_range: Range, lat_range: Range, lon: f64, lat: f64, step: u8) -> Option<HashBits> {
    if step == 0 || step > 32 || !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return None;
    }
    if lat < lat_range.min || lat > lat_range.max || lon < lon_range.min || lon > lon_range.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_offset = (lat - lat_range.min) / (lat_range.max - lat_range.min) * scale;
    let lon_offset = (lon - lon_range.min) / (lon_range.max - lon_range.min) * scale;
    // Truncation toward zero, as C's conversion to uint32_t.
    Some(HashBits { bits: interleave64(lat_offset as u32, lon_offset as u32), step })
}

/// [`encode`] over the indexable ranges.
pub fn encode_wgs84(lon: f64, lat: f64, step: u8) -> Option<HashBits> {
    encode(LONG_RANGE, LAT_RANGE, lon, lat, step)
}

/// The coordinates a cell spans (`None` for the "no cell" marker). O(1).
pub fn decode(lon_range: Range, lat_range: Range, hash: HashBits) -> Option<Area> {
    if hash.is_zero() {
        return None;
    }
    let sep = deinterleave64(hash.bits);
    let (ilat, ilon) = (sep as u32, (sep >> 32) as u32);
    let div = (1u64 << hash.step) as f64;
    let (lat_scale, lon_scale) = (lat_range.max - lat_range.min, lon_range.max - lon_range.min);
    let at = |r: Range, i: u32, scale: f64| r.min + (f64::from(i) * 1.0 / div) * scale;
    Some(Area {
        lat: Range { min: at(lat_range, ilat, lat_scale), max: at(lat_range, ilat.wrapping_add(1), lat_scale) },
        lon: Range { min: at(lon_range, ilon, lon_scale), max: at(lon_range, ilon.wrapping_add(1), lon_scale) },
    })
}

/// A score as C's `(uint64_t)` conversion gives it on x86-64 (what Redis
/// decodes): truncated, a negative one wrapping (`-1` is all ones), one
/// beyond the range giving the "integer indefinite" value, so
/// members with scores no GEOADD wrote decode where Redis's do.
fn score_bits(score: f64) -> u64 {
    const TWO_63: f64 = (1u64 << 63) as f64;
    // cvttsd2si: i64::MIN when out of range or NaN.
    let cvtt = |x: f64| if (-TWO_63..TWO_63).contains(&x) { x as i64 } else { i64::MIN };
    if score < TWO_63 {
        cvtt(score) as u64
    } else {
        (cvtt(score - TWO_63) as u64) ^ (1 << 63)
    }
}

/// The position a stored score stands for: the centre of its 52-bit cell,
/// clamped to the indexable limits (Redis's `decodeGeohash`). O(1).
pub fn score_to_lonlat(score: f64) -> Option<(f64, f64)> {
    let area = decode(LONG_RANGE, LAT_RANGE, HashBits { bits: score_bits(score), step: STEP_MAX })?;
    let lon = ((area.lon.min + area.lon.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((area.lat.min + area.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    Some((lon, lat))
}

/// The score GEOADD stores for (`lon`, `lat`), or `None` outside the
/// indexable limits. O(1).
pub fn lonlat_to_score(lon: f64, lat: f64) -> Option<u64> {
    encode_wgs84(lon, lat, STEP_MAX).map(|h| h.align52())
}

/// The standard 11-character base32 geohash of a stored score (re-encoded
/// over latitudes ±90; the 11th character is always `0` as only 52 bits
/// exist), as GEOHASH replies.
pub fn standard_geohash(score: f64) -> Option<[u8; 11]> {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = score_to_lonlat(score)?;
    let hash = encode(LONG_RANGE, STD_LAT_RANGE, lon, lat, STEP_MAX)?;
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().take(10).enumerate() {
        *c = ALPHABET[((hash.bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
    }
    Some(out)
}

/// Longitude bits of an interleaved hash (latitude bits are the others).
const X_BITS: u64 = 0xaaaa_aaaa_aaaa_aaaa;

/// Moves a cell one step along the axis whose bits are `axis` (`X_BITS`:
/// east for `d > 0`, west otherwise; `!X_BITS`: north or south), wrapping:
/// the other axis's bits are filled in so the carry crosses them.
fn move_along(hash: &mut HashBits, d: i8, axis: u64) {
    let shift = 64 - u32::from(hash.step) * 2;
    let mut v = hash.bits & axis;
    let rest = hash.bits & !axis;
    let zz = !axis >> shift;
    if d > 0 {
        v = v.wrapping_add(zz + 1);
    } else {
        v = (v | zz).wrapping_sub(zz + 1);
    }
    v &= axis >> shift;
    hash.bits = v | rest;
}

/// A cell moved by (`dx`, `dy`) steps in {-1, 0, 1}.
fn moved(hash: HashBits, dx: i8, dy: i8) -> HashBits {
    let mut h = hash;
    if dx != 0 {
        move_along(&mut h, dx, X_BITS);
    }
    if dy != 0 {
        move_along(&mut h, dy, !X_BITS);
    }
    h
}

/// The precision (bits per coordinate) of the 9 cells a search of radius
/// `range_m` meters around latitude `lat` uses (Redis's
/// `geohashEstimateStepsByRadius`). O(1).
pub fn estimate_steps(range_m: f64, lat: f64) -> u8 {
    if range_m == 0.0 {
        return 26;
    }
    let mut range = range_m;
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// The area a search covers, in the unit of its request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ShapeKind {
    /// Points within `radius` of the centre.
    Radius(f64),
    /// Points within an axis-aligned box `width` × `height` centred there.
    Box {
        /// East-west extent.
        width: f64,
        /// North-south extent.
        height: f64,
    },
}

/// A search: its centre, its area and the meters per unit of the request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    /// Centre longitude.
    pub lon: f64,
    /// Centre latitude.
    pub lat: f64,
    /// Radius or box, in the request's unit.
    pub kind: ShapeKind,
    /// Meters per unit (1, 1000, 0.3048 or 1609.34).
    pub conversion: f64,
}

/// The 9 cells of a search, in the order Redis visits them: centre, north,
/// south, east, west, north-east, north-west, south-east, south-west (a
/// dropped one is [`HashBits::is_zero`]).
pub type Cells = [HashBits; 9];

impl Shape {
    /// The bounding box `[min lon, min lat, max lon, max lat]` (Redis's
    /// `geohashBoundingBox`; longitudes may pass ±180).
    pub fn bounding_box(&self) -> [f64; 4] {
        let (half_w, half_h) = match self.kind {
            ShapeKind::Radius(r) => (r, r),
            ShapeKind::Box { width, height } => (width / 2.0, height / 2.0),
        };
        let (height, width) = (self.conversion * half_h, self.conversion * half_w);
        let lat_delta = rad_deg(height / EARTH_RADIUS_M);
        let lon_delta_top = rad_deg(width / EARTH_RADIUS_M / deg_rad(self.lat + lat_delta).cos());
        let lon_delta_bottom = rad_deg(width / EARTH_RADIUS_M / deg_rad(self.lat - lat_delta).cos());
        let lon_delta = if self.lat < 0.0 { lon_delta_bottom } else { lon_delta_top };
        [self.lon - lon_delta, self.lat - lat_delta, self.lon + lon_delta, self.lat + lat_delta]
    }

    /// The cells covering the search (Redis's
    /// `geohashCalculateAreasByShapeWGS84`): a precision from the radius
    /// (a box's half diagonal), one step coarser if a side neighbour does
    /// not reach the bounding box, then the neighbours beyond the box's
    /// sides dropped. O(1).
    pub fn cells(&self) -> Cells {
        let [min_lon, min_lat, max_lon, max_lat] = self.bounding_box();
        let radius = match self.kind {
            ShapeKind::Radius(r) => r,
            ShapeKind::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        } * self.conversion;
        let mut steps = estimate_steps(radius, self.lat);
        let centre = |steps| encode_wgs84(self.lon, self.lat, steps).unwrap_or_default();
        let area_of = |h: HashBits| decode(LONG_RANGE, LAT_RANGE, h);
        let mut hash = centre(steps);
        let too_fine = {
            let (n, s) = (area_of(moved(hash, 0, 1)), area_of(moved(hash, 0, -1)));
            let (e, w) = (area_of(moved(hash, 1, 0)), area_of(moved(hash, -1, 0)));
            n.is_some_and(|a| a.lat.max < max_lat)
                || s.is_some_and(|a| a.lat.min > min_lat)
                || e.is_some_and(|a| a.lon.max < max_lon)
                || w.is_some_and(|a| a.lon.min > min_lon)
        };
        if steps > 1 && too_fine {
            steps -= 1;
            hash = centre(steps);
        }
        // centre, N, S, E, W, NE, NW, SE, SW.
        const DIRS: [(i8, i8); 9] = [(0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1)];
        let mut cells = DIRS.map(|(dx, dy)| moved(hash, dx, dy));
        if steps >= 2 {
            if let Some(area) = area_of(hash) {
                let mut drop = |keep: &dyn Fn(i8, i8) -> bool| {
                    for (c, &(dx, dy)) in cells.iter_mut().zip(DIRS.iter()) {
                        if !keep(dx, dy) {
                            *c = HashBits::default();
                        }
                    }
                };
                if area.lat.min < min_lat {
                    drop(&|_, dy| dy >= 0);
                }
                if area.lat.max > max_lat {
                    drop(&|_, dy| dy <= 0);
                }
                if area.lon.min < min_lon {
                    drop(&|dx, _| dx >= 0);
                }
                if area.lon.max > max_lon {
                    drop(&|dx, _| dx <= 0);
                }
            }
        }
        cells
    }

    /// The position of a stored score and its distance in meters from the
    /// centre, if it lies inside the shape (Redis's `geoWithinShape`). O(1).
    pub fn contains(&self, score: f64) -> Option<(f64, f64, f64)> {
        let (lon, lat) = score_to_lonlat(score)?;
        let dist = match self.kind {
            ShapeKind::Radius(r) => {
                let d = distance(self.lon, self.lat, lon, lat);
                if d > r * self.conversion {
                    return None;
                }
                d
            }
            ShapeKind::Box { width, height } => {
                let (width_m, height_m) = (width * self.conversion, height * self.conversion);
                if lat_distance(lat, self.lat) > height_m / 2.0 || distance(lon, lat, self.lon, lat) > width_m / 2.0 {
                    return None;
                }
                distance(self.lon, self.lat, lon, lat)
            }
        };
        Some((lon, lat, dist))
    }
}

/// The distance in meters between two latitudes on one meridian.
pub fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// The great-circle (haversine) distance in meters between two positions
/// in degrees (Redis's `geohashGetDistance`). O(1).
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let v = ((deg_rad(lon2) - deg_rad(lon1)) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (deg_rad(lat1), deg_rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_round_trips() {
        for &(x, y) in &[(0u32, 0u32), (1, 0), (0, 1), (0x3ff_ffff, 0x155_5555), (u32::MAX, 7)] {
            let sep = deinterleave64(interleave64(x, y));
            assert_eq!((sep as u32, (sep >> 32) as u32), (x, y));
        }
        assert_eq!(interleave64(1, 0), 1);
        assert_eq!(interleave64(0, 1), 2);
    }

    /// Scores, positions and hashes as Redis 7.0.15 gives them.
    #[test]
    fn matches_redis_scores_and_positions() {
        assert_eq!(lonlat_to_score(13.361389, 38.115556), Some(3479099956230698));
        assert_eq!(lonlat_to_score(15.087269, 37.502669), Some(3479447370796909));
        let (lon, lat) = score_to_lonlat(3479099956230698.0).unwrap_or_default();
        assert_eq!(format!("{lon:.17}"), "13.36138933897018433");
        assert_eq!(format!("{lat:.17}"), "38.11555639549629859");
        assert_eq!(standard_geohash(3479099956230698.0), Some(*b"sqc8b49rny0"));
        assert_eq!(lonlat_to_score(200.0, 10.0), None);
        assert_eq!(lonlat_to_score(10.0, 85.06), None);
    }

    /// Scores GEOADD never writes decode as Redis decodes them on x86-64.
    #[test]
    fn foreign_scores_convert_as_c() {
        assert_eq!(score_bits(-1.0), u64::MAX);
        assert_eq!(score_bits(0.5), 0);
        assert_eq!(score_bits(1e300), 0);
        assert_eq!(score_bits(1.5e19), 15_000_000_000_000_000_000);
        let pos = |s: f64| score_to_lonlat(s).map(|(lon, lat)| (format!("{lon:.17}"), format!("{lat:.17}")));
        assert_eq!(pos(-1.0), Some(("180.00000000000000000".into(), "85.05112877999999910".into())));
    }

    #[test]
    fn distance_matches_redis() {
        let (a, b) = (score_to_lonlat(3479099956230698.0), score_to_lonlat(3479447370796909.0));
        let ((lon1, lat1), (lon2, lat2)) = (a.unwrap_or_default(), b.unwrap_or_default());
        // GEODIST Sicily Palermo Catania: 166274.1516 m.
        assert_eq!(format!("{:.4}", distance(lon1, lat1, lon2, lat2)), "166274.1516");
        assert_eq!(distance(1.0, 2.0, 1.0, 2.0), 0.0);
        assert_eq!(lat_distance(0.0, 1.0), EARTH_RADIUS_M * D_R);
    }

    #[test]
    fn step_estimates() {
        assert_eq!(estimate_steps(0.0, 0.0), 26);
        assert_eq!(estimate_steps(1.0, 0.0), 24);
        assert_eq!(estimate_steps(1000.0, 0.0), 14);
        assert_eq!(estimate_steps(1000.0, 70.0), 13);
        assert_eq!(estimate_steps(1000.0, -85.0), 12);
        assert_eq!(estimate_steps(5e7, 0.0), 1);
    }

    #[test]
    fn neighbours_are_adjacent_cells() {
        let h = encode_wgs84(10.0, 20.0, 10).unwrap_or_default();
        let a = decode(LONG_RANGE, LAT_RANGE, h).unwrap_or(Area { lon: LONG_RANGE, lat: LAT_RANGE });
        let east = decode(LONG_RANGE, LAT_RANGE, moved(h, 1, 0)).unwrap_or(a);
        let north = decode(LONG_RANGE, LAT_RANGE, moved(h, 0, 1)).unwrap_or(a);
        let sw = decode(LONG_RANGE, LAT_RANGE, moved(h, -1, -1)).unwrap_or(a);
        assert_eq!(east.lon.min, a.lon.max);
        assert_eq!(east.lat, a.lat);
        assert_eq!(north.lat.min, a.lat.max);
        assert_eq!(north.lon, a.lon);
        assert_eq!(sw.lon.max, a.lon.min);
        assert_eq!(sw.lat.max, a.lat.min);
    }

    #[test]
    fn cells_cover_the_centre_and_drop_far_sides() {
        let shape = Shape { lon: 13.36, lat: 38.11, kind: ShapeKind::Radius(200.0), conversion: 1000.0 };
        let cells = shape.cells();
        let score = lonlat_to_score(13.36, 38.11).unwrap_or(0);
        let (min, max) = cells[0].score_range();
        assert!(min <= score && score < max);
        assert!(cells.iter().filter(|c| !c.is_zero()).count() >= 1);
        assert!(shape.contains(score as f64).is_some());
        let far = lonlat_to_score(20.0, 38.11).unwrap_or(0) as f64;
        assert!(shape.contains(far).is_none());
    }

    #[test]
    fn box_contains_by_side_distances() {
        let shape =
            Shape { lon: 0.0, lat: 0.0, kind: ShapeKind::Box { width: 200.0, height: 100.0 }, conversion: 1000.0 };
        let inside = lonlat_to_score(0.8, 0.4).unwrap_or(0) as f64;
        let too_far_north = lonlat_to_score(0.0, 0.5).unwrap_or(0) as f64;
        assert!(shape.contains(inside).is_some());
        assert!(shape.contains(too_far_north).is_none());
    }
}
