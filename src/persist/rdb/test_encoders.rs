//! Test-only encoders building listpack, ziplist and zipmap blobs the way
//! Redis lays them out, so the decoders can be exercised on every encoding.

/// A small deterministic pseudo-random generator (xorshift64) for
/// incompressible test data and random mutations.
pub struct XorShift(pub u64);

impl XorShift {
    /// The next 64-bit value.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// `len` pseudo-random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| (self.next_u64() >> 11) as u8).collect()
    }
}

/// Parses `s` as a canonical decimal i64 (as Redis's `string2ll`).
pub fn canonical_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let v: i64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    (v.to_string().as_bytes() == s).then_some(v)
}

fn backlen(l: usize) -> Vec<u8> {
    let n = super::listpack::backlen_size(l);
    (0..n)
        .map(|i| {
            let shift = 7 * (n - 1 - i);
            let b = ((l >> shift) & 0x7f) as u8;
            if i == 0 {
                b
            } else {
                b | 0x80
            }
        })
        .collect()
}

/// Builds a listpack holding `items`, integer-encoding canonical ints.
pub fn listpack(items: &[&[u8]]) -> Vec<u8> {
    let mut body = Vec::new();
    for it in items {
        let mut e = Vec::new();
        match canonical_int(it) {
            Some(v) if (0..=127).contains(&v) => e.push(v as u8),
            Some(v) if (-4096..4096).contains(&v) => {
                let u = (v as u64) & 0x1fff;
                e.extend([0xC0 | (u >> 8) as u8, u as u8]);
            }
            Some(v) if i16::try_from(v).is_ok() => {
                e.push(0xF1);
                e.extend(&(v as i16).to_le_bytes());
            }
            Some(v) if (-(1 << 23)..(1 << 23)).contains(&v) => {
                e.push(0xF2);
                e.extend(&(v as i32).to_le_bytes()[..3]);
            }
            Some(v) if i32::try_from(v).is_ok() => {
                e.push(0xF3);
                e.extend(&(v as i32).to_le_bytes());
            }
            Some(v) => {
                e.push(0xF4);
                e.extend(&v.to_le_bytes());
            }
            None if it.len() < 64 => e.push(0x80 | it.len() as u8),
            None if it.len() < 4096 => {
                e.extend([0xE0 | (it.len() >> 8) as u8, it.len() as u8]);
            }
            None => {
                e.push(0xF0);
                e.extend(&(it.len() as u32).to_le_bytes());
            }
        }
        if canonical_int(it).is_none() {
            e.extend_from_slice(it);
        }
        let bl = backlen(e.len());
        body.extend(e);
        body.extend(bl);
    }
    let total = 6 + body.len() + 1;
    let mut lp = Vec::with_capacity(total);
    lp.extend(&(total as u32).to_le_bytes());
    lp.extend(&(items.len().min(65535) as u16).to_le_bytes());
    lp.extend(body);
    lp.push(0xFF);
    lp
}

/// Builds a ziplist holding `items`, integer-encoding canonical ints.
pub fn ziplist(items: &[&[u8]]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut prev = 0usize;
    let mut tail = 10usize;
    for it in items {
        let mut e = Vec::new();
        if prev < 254 {
            e.push(prev as u8);
        } else {
            e.push(254);
            e.extend(&(prev as u32).to_le_bytes());
        }
        match canonical_int(it) {
            Some(v) if (0..=12).contains(&v) => e.push(0xF1 + v as u8),
            Some(v) if i8::try_from(v).is_ok() => e.extend([0xFE, v as u8]),
            Some(v) if i16::try_from(v).is_ok() => {
                e.push(0xC0);
                e.extend(&(v as i16).to_le_bytes());
            }
            Some(v) if (-(1 << 23)..(1 << 23)).contains(&v) => {
                e.push(0xF0);
                e.extend(&(v as i32).to_le_bytes()[..3]);
            }
            Some(v) if i32::try_from(v).is_ok() => {
                e.push(0xD0);
                e.extend(&(v as i32).to_le_bytes());
            }
            Some(v) => {
                e.push(0xE0);
                e.extend(&v.to_le_bytes());
            }
            None if it.len() < 64 => e.push(it.len() as u8),
            None if it.len() < 16384 => {
                e.extend([0x40 | (it.len() >> 8) as u8, it.len() as u8]);
            }
            None => {
                e.push(0x80);
                e.extend(&(it.len() as u32).to_be_bytes());
            }
        }
        if canonical_int(it).is_none() {
            e.extend_from_slice(it);
        }
        tail = 10 + body.len();
        prev = e.len();
        body.extend(e);
    }
    let total = 10 + body.len() + 1;
    let mut zl = Vec::with_capacity(total);
    zl.extend(&(total as u32).to_le_bytes());
    zl.extend(&(tail as u32).to_le_bytes());
    zl.extend(&(items.len().min(65535) as u16).to_le_bytes());
    zl.extend(body);
    zl.push(0xFF);
    zl
}

fn zm_len(out: &mut Vec<u8>, l: usize) {
    if l < 254 {
        out.push(l as u8);
    } else {
        out.push(254);
        out.extend(&(l as u32).to_le_bytes());
    }
}

/// Builds a zipmap holding `pairs`, giving each value `free` spare bytes.
pub fn zipmap(pairs: &[(&[u8], &[u8])], free: u8) -> Vec<u8> {
    let mut zm = vec![pairs.len().min(254) as u8];
    for (k, v) in pairs {
        zm_len(&mut zm, k.len());
        zm.extend_from_slice(k);
        zm_len(&mut zm, v.len());
        zm.push(free);
        zm.extend_from_slice(v);
        zm.extend(std::iter::repeat_n(0u8, usize::from(free)));
    }
    zm.push(0xFF);
    zm
}
