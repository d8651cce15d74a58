//! The consistent-hash ring: which server holds a key.
//!
//! Ketama-like: each server is placed on the ring
//! at `POINTS_PER_WEIGHT × weight` points (10,000 points for the default
//! weight 500, i.e. 160 points per 8 units of weight), each point the hash
//! of `"<id>-<n>"` where `id` is the server's name or address. A key belongs
//! to the first point at or after its hash. With that many points three
//! equal servers each hold a third of the keys to within about 1% (standard
//! deviation), and adding or removing a server moves only the keys of the
//! arcs it gains or loses.
//!
//! Hashing is [`StableHasher`]: FNV-1a over the bytes followed by the
//! MurmurHash3 64-bit finaliser, written here so its output is the same on
//! every build, platform and run (std's `DefaultHasher` promises none of
//! that). Only raw bytes are fed to it (no length prefixes, no `usize`).
//!
//! Redis hash tags apply: when a key holds `{...}` with at least one byte
//! between the first `{` and the next `}`, only those bytes are hashed, so
//! `{user1}.name` and `{user1}.mail` live on the same server.

use std::hash::Hasher;

/// Ring points per unit of weight.
pub const POINTS_PER_WEIGHT: u64 = 20;
/// Upper bound on the ring's size; larger configurations are scaled down evenly.
pub const MAX_POINTS: u64 = 4_000_000;

/// FNV-1a 64 with a MurmurHash3 `fmix64` finaliser: stable across builds and
/// platforms, well mixed in every output bit. O(bytes hashed).
#[derive(Debug, Clone, Copy)]
pub struct StableHasher(u64);

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl Default for StableHasher {
    fn default() -> Self {
        StableHasher(FNV_OFFSET)
    }
}

impl Hasher for StableHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(FNV_PRIME);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        let mut k = self.0;
        k ^= k >> 33;
        k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
        k ^= k >> 33;
        k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        k ^= k >> 33;
        k
    }
}

/// The part of a key that is hashed: the hash tag when there is one. O(len).
pub fn hash_slot_bytes(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&c| c == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&c| c == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

/// The hash of a server's `replica`-th point: `"<id>-<replica>"`, the
/// same bytes and hasher as the `hashring`-based ring of earlier versions,
/// so no key moves on an upgrade. O(id length).
fn point_hash(id: &str, replica: u64) -> u64 {
    let mut h = StableHasher::default();
    h.write(id.as_bytes());
    h.write(b"-");
    h.write(itoa::Buffer::new().format(replica).as_bytes());
    h.finish()
}

/// The ring over a list of servers. Immutable: a new one is built on change.
///
/// Laid out for lookups: the points' hashes sorted in one dense array (8
/// bytes a point, so the default 10,000 points per server stay in cache),
/// their owners in another, and a bucket index over the hashes' top bits
/// that narrows each lookup to the few points of one bucket. A key belongs
/// to the first point at or after its hash, wrapping to the first point.
pub struct Ring {
    /// Point hashes, ascending (ties keep server-then-replica order).
    hashes: Vec<u64>,
    /// The server index of each point.
    owners: Vec<u32>,
    /// `index[b]`: the first point whose hash's top `bits` bits are `>= b`; `2^bits + 1` entries.
    index: Vec<u32>,
    /// Bits of the bucket index (0 for an empty ring).
    bits: u32,
}

impl Ring {
    /// Builds the ring from `(index, id, weight)` of each server on it.
    /// O(P log P) for P points in total.
    pub fn new<'a>(servers: impl IntoIterator<Item = (usize, &'a str, u32)>) -> Ring {
        let servers: Vec<(usize, &str, u32)> = servers.into_iter().collect();
        let total: u64 = servers.iter().map(|s| s.2 as u64 * POINTS_PER_WEIGHT).sum();
        let mut points: Vec<(u64, u32)> = Vec::with_capacity(total.min(MAX_POINTS) as usize);
        for (server, id, weight) in servers {
            let mut n = weight as u64 * POINTS_PER_WEIGHT;
            if total > MAX_POINTS {
                n = (n * MAX_POINTS / total).max(1);
            }
            points.extend((0..n).map(|replica| (point_hash(id, replica), server as u32)));
        }
        // Stable: equal hashes keep their insertion order.
        points.sort_by_key(|p| p.0);
        let (hashes, owners): (Vec<u64>, Vec<u32>) = points.into_iter().unzip();
        // About one point per bucket, at most 2^20 buckets (4 MiB of index).
        let bits = if hashes.is_empty() { 0 } else { (usize::BITS - hashes.len().leading_zeros()).clamp(1, 20) };
        let mut index = Vec::with_capacity((1usize << bits) + 1);
        let mut i = 0usize;
        for b in 0..=(1u64 << bits) {
            while i < hashes.len() && Self::bucket(hashes[i], bits) < b {
                i += 1;
            }
            index.push(i as u32);
        }
        Ring { hashes, owners, index, bits }
    }

    fn bucket(hash: u64, bits: u32) -> u64 {
        hash >> (64 - bits)
    }

    /// The index of the server holding `key` (after hash-tag extraction);
    /// `None` when the ring is empty. O(points in the key's bucket), about O(1).
    pub fn route(&self, key: &[u8]) -> Option<usize> {
        if self.hashes.is_empty() {
            return None;
        }
        let mut h = StableHasher::default();
        h.write(hash_slot_bytes(key));
        let k = h.finish();
        let b = Self::bucket(k, self.bits) as usize;
        let (lo, hi) = (self.index[b] as usize, self.index[b + 1] as usize);
        let pos = lo + self.hashes[lo..hi].partition_point(|&p| p < k);
        let owner = self.owners.get(pos).or_else(|| self.owners.first())?;
        Some(*owner as usize)
    }

    /// Number of points on the ring.
    pub fn points(&self) -> usize {
        self.hashes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stable_hash(b: &[u8]) -> u64 {
        let mut h = StableHasher::default();
        h.write(b);
        h.finish()
    }

    /// `stable_hash(b"key:1")`, computed independently of this code.
    const FIXED_KEY1: u64 = 0x38df_317a_c31d_6270;

    #[test]
    fn hash_is_stable() {
        // Fixed values: a change here moves every key of every deployment.
        assert_eq!(stable_hash(b"key:1"), FIXED_KEY1);
        let a = stable_hash(b"key:1");
        assert_eq!(a, stable_hash(b"key:1"));
        assert_ne!(a, stable_hash(b"key:2"));
        let mut h = StableHasher::default();
        h.write(b"ke");
        h.write(b"y:1");
        assert_eq!(h.finish(), a);
    }

    #[test]
    fn hash_tags() {
        assert_eq!(hash_slot_bytes(b"{user1}.name"), b"user1");
        assert_eq!(hash_slot_bytes(b"foo{bar}{zap}"), b"bar");
        assert_eq!(hash_slot_bytes(b"foo{}{bar}"), b"foo{}{bar}");
        assert_eq!(hash_slot_bytes(b"foo{{bar}}"), b"{bar");
        assert_eq!(hash_slot_bytes(b"foo{bar"), b"foo{bar");
        let r = Ring::new([(0, "a", 500), (1, "b", 500), (2, "c", 500)]);
        for i in 0..100 {
            let k1 = format!("{{user{i}}}.name");
            let k2 = format!("x{{user{i}}}.mail");
            assert_eq!(r.route(k1.as_bytes()), r.route(k2.as_bytes()));
            assert_eq!(r.route(k1.as_bytes()), r.route(format!("user{i}").as_bytes()));
        }
    }

    fn shares(r: &Ring, n: usize, keys: usize) -> Vec<f64> {
        let mut counts = vec![0usize; n];
        for i in 0..keys {
            counts[r.route(format!("key:{i}").as_bytes()).unwrap()] += 1;
        }
        counts.into_iter().map(|c| c as f64 / keys as f64).collect()
    }

    #[test]
    fn equal_weights_balance_within_five_percent() {
        // The README's cluster (1M keys), then other ports (fewer keys).
        for (base, keys) in [(7001u16, 1_000_000), (40123, 200_000), (55555, 200_000)] {
            let ids: Vec<String> = (0..3).map(|i| format!("127.0.0.1:{}", base + i)).collect();
            let r = Ring::new(ids.iter().enumerate().map(|(i, id)| (i, id.as_str(), 500)));
            assert_eq!(r.points(), 30_000);
            let s = shares(&r, 3, keys);
            eprintln!("shares for {base}..: {s:?}");
            for s in s {
                assert!((s - 1.0 / 3.0).abs() < 0.05 / 3.0, "share {s} for base {base}");
            }
        }
    }

    #[test]
    fn weights_scale_shares_and_changes_move_few_keys() {
        let r = Ring::new([(0, "a", 500), (1, "b", 1000)]);
        let s = shares(&r, 2, 100_000);
        assert!((s[1] - 2.0 / 3.0).abs() < 0.03, "{s:?}");
        let before = Ring::new([(0, "a", 500), (1, "b", 500), (2, "c", 500)]);
        let after = Ring::new([(0, "a", 500), (1, "b", 500)]);
        for i in 0..20_000 {
            let k = format!("k{i}");
            let was = before.route(k.as_bytes()).unwrap();
            if was != 2 {
                assert_eq!(after.route(k.as_bytes()), Some(was), "key {k} moved");
            }
        }
    }

    /// The ring of earlier versions, on the `hashring` crate: the layout
    /// above must place every key where it did.
    #[test]
    fn routes_as_the_hashring_ring_did() {
        use std::hash::Hash;
        struct Point(usize, u64, String);
        impl Hash for Point {
            fn hash<H: Hasher>(&self, state: &mut H) {
                state.write(self.2.as_bytes());
                state.write(b"-");
                state.write(itoa::Buffer::new().format(self.1).as_bytes());
            }
        }
        #[derive(Clone, Copy)]
        struct StableBuild;
        impl std::hash::BuildHasher for StableBuild {
            type Hasher = StableHasher;
            fn build_hasher(&self) -> StableHasher {
                StableHasher::default()
            }
        }
        struct Raw<'a>(&'a [u8]);
        impl Hash for Raw<'_> {
            fn hash<H: Hasher>(&self, state: &mut H) {
                state.write(self.0);
            }
        }
        for servers in [vec![("127.0.0.1:7001", 500), ("127.0.0.1:7002", 500)], vec![("a", 1), ("b", 700), ("c", 3)]] {
            let mut old = hashring::HashRing::with_hasher(StableBuild);
            for (i, (id, w)) in servers.iter().enumerate() {
                old.batch_add((0..*w as u64 * POINTS_PER_WEIGHT).map(|n| Point(i, n, id.to_string())).collect());
            }
            let new = Ring::new(servers.iter().enumerate().map(|(i, (id, w))| (i, *id, *w)));
            for i in 0..200_000 {
                let k = format!("key:{i:012}");
                assert_eq!(new.route(k.as_bytes()), old.get(&Raw(k.as_bytes())).map(|p| p.0), "{k}");
            }
        }
    }

    #[test]
    fn empty_ring_routes_nowhere() {
        assert_eq!(Ring::new(std::iter::empty()).route(b"k"), None);
    }
}
