//! The `lrand48` generator Redis gives `math.random` (its `rand.c`): a
//! 48-bit linear congruential generator, so scripts see the same sequence
//! for the same seed on every platform, and the same one as under Redis.

/// Generator state (48 bits used).
#[derive(Debug, Clone)]
pub struct Rand48(u64);

const A: u64 = 0x5_DEEC_E66D;
const C: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;
/// Redis's `REDIS_LRAND48_MAX` (`INT32_MAX`).
const MAX: u64 = i32::MAX as u64;

impl Default for Rand48 {
    /// The state `lrand48` starts from before any seed.
    fn default() -> Self {
        Rand48(0x1234_ABCD_330E)
    }
}

impl Rand48 {
    /// Re-seeds as `srand48(seed)`: the seed's 32 bits above `0x330E`.
    pub fn seed(&mut self, seed: i32) {
        self.0 = ((seed as u32 as u64) << 16) | 0x330E;
    }

    /// The next 31-bit value (`lrand48()`).
    pub fn next_i31(&mut self) -> u64 {
        self.0 = (A.wrapping_mul(self.0).wrapping_add(C)) & MASK;
        self.0 >> 17
    }

    /// A number in [0, 1) as Redis's `math.random()` computes it.
    pub fn next_unit(&mut self) -> f64 {
        (self.next_i31() % MAX) as f64 / MAX as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_lrand48() {
        // glibc: srand48(0); lrand48() x3
        let mut r = Rand48::default();
        r.seed(0);
        assert_eq!([r.next_i31(), r.next_i31(), r.next_i31()], [366850414, 1610402240, 206956554]);
    }
}
