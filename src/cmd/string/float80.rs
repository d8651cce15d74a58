//! x87 80-bit extended precision ("long double" on x86-64 Linux), which is
//! what Redis computes INCRBYFLOAT and HINCRBYFLOAT in: parse a string as
//! `strtold` does, add with one correct rounding to a 64-bit significand,
//! and print as Redis's `ld2string(.., LD_STR_HUMAN)` (`"%.17Lf"`, trailing
//! zeros removed). With `f64` instead, `0.1 + 0.2` would print
//! `0.30000000000000004` where Redis prints `0.3`.
//!
//! Exact arithmetic on a small big-integer type: every result is the
//! correctly rounded one (round half to even), as glibc gives. Costs are
//! O(n²) in the number of 32-bit limbs, at most about a thousand limbs for
//! the longest input Redis accepts (5119 characters).

use std::cmp::Ordering;

/// Exponent of the least significant significand bit of the smallest
/// (subnormal) long double: 2^-16445.
const EMIN: i64 = -16445;
/// Largest exponent of the least significant bit of a finite long double:
/// the maximum is (2^64 - 1) × 2^16320.
const EMAX: i64 = 16320;
/// Redis's `MAX_LONG_DOUBLE_CHARS`: longer inputs are refused.
const MAX_CHARS: usize = 5 * 1024;

/// A finite or infinite long double: `(-1)^neg × mant × 2^exp`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct F80 {
    neg: bool,
    inf: bool,
    mant: u64,
    exp: i32,
}

/// Non-negative big integer, little-endian 32-bit limbs, no high zero limbs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(v: u64) -> Big {
        let mut b = Big(vec![v as u32, (v >> 32) as u32]);
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn bits(&self) -> i64 {
        match self.0.last() {
            None => 0,
            Some(&top) => self.0.len() as i64 * 32 - top.leading_zeros() as i64,
        }
    }

    fn bit(&self, i: i64) -> bool {
        let limb = (i / 32) as usize;
        i >= 0 && self.0.get(limb).is_some_and(|l| l >> (i % 32) & 1 == 1)
    }

    /// True if any bit below position `i` is set.
    fn any_below(&self, i: i64) -> bool {
        if i <= 0 {
            return false;
        }
        let full = (i / 32) as usize;
        if self.0.iter().take(full).any(|&l| l != 0) {
            return true;
        }
        let rem = i % 32;
        rem > 0 && self.0.get(full).is_some_and(|&l| l & ((1u32 << rem) - 1) != 0)
    }

    /// self = self × m + a.
    fn mul_add_small(&mut self, m: u32, a: u32) {
        let mut carry = a as u64;
        for l in self.0.iter_mut() {
            let v = *l as u64 * m as u64 + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
        self.trim();
    }

    /// self × 10^k.
    fn mul_pow10(&mut self, mut k: u64) {
        while k >= 9 {
            self.mul_add_small(1_000_000_000, 0);
            k -= 9;
        }
        if k > 0 {
            self.mul_add_small(10u32.pow(k as u32), 0);
        }
    }

    fn shl(&self, n: i64) -> Big {
        if self.is_zero() || n <= 0 {
            return self.clone();
        }
        let (limbs, bits) = ((n / 32) as usize, (n % 32) as u32);
        let mut v = vec![0u32; limbs];
        if bits == 0 {
            v.extend_from_slice(&self.0);
        } else {
            let mut carry = 0u32;
            for &l in &self.0 {
                v.push(l << bits | carry);
                carry = l >> (32 - bits);
            }
            v.push(carry);
        }
        let mut b = Big(v);
        b.trim();
        b
    }

    fn shr(&self, n: i64) -> Big {
        if n <= 0 {
            return self.clone();
        }
        let (limbs, bits) = ((n / 32) as usize, (n % 32) as u32);
        if limbs >= self.0.len() {
            return Big(Vec::new());
        }
        let src = &self.0[limbs..];
        let mut v = Vec::with_capacity(src.len());
        for i in 0..src.len() {
            let hi = if bits == 0 { 0 } else { src.get(i + 1).map_or(0, |&h| h << (32 - bits)) };
            v.push(src[i] >> bits | hi);
        }
        let mut b = Big(v);
        b.trim();
        b
    }

    fn cmp(&self, o: &Big) -> Ordering {
        self.0.len().cmp(&o.0.len()).then_with(|| self.0.iter().rev().cmp(o.0.iter().rev()))
    }

    fn add(&self, o: &Big) -> Big {
        let (a, b) = if self.0.len() >= o.0.len() { (self, o) } else { (o, self) };
        let mut v = Vec::with_capacity(a.0.len() + 1);
        let mut carry = 0u64;
        for i in 0..a.0.len() {
            let s = a.0[i] as u64 + b.0.get(i).copied().unwrap_or(0) as u64 + carry;
            v.push(s as u32);
            carry = s >> 32;
        }
        if carry > 0 {
            v.push(carry as u32);
        }
        Big(v)
    }

    /// self -= o; requires self >= o.
    fn sub_assign(&mut self, o: &Big) {
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let d = self.0[i] as i64 - o.0.get(i).copied().unwrap_or(0) as i64 - borrow;
            borrow = (d < 0) as i64;
            self.0[i] = (d + (borrow << 32)) as u32;
        }
        self.trim();
    }

    /// Divides in place by `d`, returning the remainder.
    fn div_small(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for l in self.0.iter_mut().rev() {
            let cur = rem << 32 | *l as u64;
            *l = (cur / d as u64) as u32;
            rem = cur % d as u64;
        }
        self.trim();
        rem as u32
    }

    fn to_decimal(&self) -> String {
        let mut chunks = Vec::new();
        let mut n = self.clone();
        while !n.is_zero() {
            chunks.push(n.div_small(1_000_000_000));
        }
        let mut s = chunks.pop().map_or_else(|| "0".to_string(), |c| c.to_string());
        for c in chunks.iter().rev() {
            s.push_str(&format!("{c:09}"));
        }
        s
    }

    fn low_u128(&self) -> u128 {
        self.0.iter().take(4).enumerate().fold(0u128, |acc, (i, &l)| acc | (l as u128) << (32 * i))
    }
}

/// `num / den` for a quotient known to be below 2^100, and the remainder.
fn div_small_quotient(mut num: Big, den: &Big) -> (u128, Big) {
    if num.cmp(den) == Ordering::Less {
        return (0, num);
    }
    let shift = num.bits() - den.bits();
    debug_assert!(shift < 100);
    let mut d = den.shl(shift);
    let mut q = 0u128;
    for _ in 0..=shift {
        q <<= 1;
        if num.cmp(&d) != Ordering::Less {
            num.sub_assign(&d);
            q |= 1;
        }
        d = d.shr(1);
    }
    (q, num)
}

/// Result of rounding an exact value to a long double.
enum Rounded {
    Zero,
    Finite(u64, i32),
    Overflow,
}

/// Rounds the exact positive value `n × 2^a / d` to the nearest long double
/// (ties to even), with subnormals below 2^-16382.
fn round(n: &Big, a: i64, d: &Big) -> Rounded {
    if n.is_zero() {
        return Rounded::Zero;
    }
    let l = n.bits() - d.bits();
    let quotient = |e: i64| {
        let (num, den) = if a >= e { (n.shl(a - e), d.clone()) } else { (n.clone(), d.shl(e - a)) };
        let (q, r) = div_small_quotient(num, &den);
        (q, r, den)
    };
    // n/d lies in (2^(l-1), 2^(l+1)): this e puts the quotient in [2^63, 2^65).
    let mut e = (l + a - 64).max(EMIN);
    let (mut q, mut r, mut den) = quotient(e);
    if q >= 1u128 << 64 {
        e += 1;
        (q, r, den) = quotient(e);
    }
    let twice_r = r.shl(1);
    let up = match twice_r.cmp(&den) {
        Ordering::Greater => true,
        Ordering::Equal => q & 1 == 1,
        Ordering::Less => false,
    };
    if up {
        q += 1;
        if q == 1u128 << 64 {
            q >>= 1;
            e += 1;
        }
    }
    if q == 0 {
        return Rounded::Zero;
    }
    if e > EMAX {
        return Rounded::Overflow;
    }
    Rounded::Finite(q as u64, e as i32)
}

fn finite(neg: bool, r: Rounded) -> Option<F80> {
    match r {
        Rounded::Zero => Some(F80 { neg, inf: false, mant: 0, exp: 0 }),
        Rounded::Finite(mant, exp) => Some(F80 { neg, inf: false, mant, exp }),
        Rounded::Overflow => None,
    }
}

/// Parses a long double exactly as Redis's `string2ld`: `strtold` syntax
/// (decimal, hexadecimal `0x1.8p3`, `inf`, `infinity`), no leading space,
/// nothing after the number, no NaN, and neither overflow nor underflow to
/// zero. `None` when Redis would answer "value is not a valid float".
pub fn parse(s: &[u8]) -> Option<F80> {
    if s.is_empty() || s.len() >= MAX_CHARS {
        return None;
    }
    let (neg, body) = match s[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    if lower == b"inf" || lower == b"infinity" {
        return Some(F80 { neg, inf: true, mant: 0, exp: 0 });
    }
    if lower.len() > 2 && lower.starts_with(b"0x") {
        return parse_hex(neg, &lower[2..]);
    }
    parse_decimal(neg, body)
}

/// Splits `digits[.digits][<marker>[+-]digits]`; returns the mantissa
/// digits (both parts), the count of fraction digits and the exponent.
fn split_number(b: &[u8], is_digit: fn(u8) -> bool, marker: u8) -> Option<(Vec<u8>, i64, i64)> {
    let mut i = 0;
    let mut digits = Vec::new();
    while i < b.len() && is_digit(b[i]) {
        digits.push(b[i]);
        i += 1;
    }
    let mut frac = 0i64;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && is_digit(b[i]) {
            digits.push(b[i]);
            frac += 1;
            i += 1;
        }
    }
    if digits.is_empty() {
        return None;
    }
    let mut exp = 0i64;
    if i < b.len() && b[i].eq_ignore_ascii_case(&marker) {
        i += 1;
        let eneg = match b.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            exp = (exp * 10 + (b[i] - b'0') as i64).min(1_000_000_000);
            i += 1;
        }
        if i == start {
            return None;
        }
        if eneg {
            exp = -exp;
        }
    }
    (i == b.len()).then_some((digits, frac, exp))
}

fn parse_decimal(neg: bool, b: &[u8]) -> Option<F80> {
    let (digits, frac, exp) = split_number(b, |c| c.is_ascii_digit(), b'e')?;
    let first = digits.iter().position(|&c| c != b'0');
    let Some(first) = first else { return Some(F80 { neg, inf: false, mant: 0, exp: 0 }) };
    let sig = &digits[first..];
    let dexp = exp - frac;
    // The value lies in [10^(magnitude-1), 10^magnitude).
    let magnitude = sig.len() as i64 + dexp;
    if magnitude > 4940 {
        return None;
    }
    if magnitude < -4960 {
        return None;
    }
    let mut n = Big(Vec::new());
    for &c in sig {
        n.mul_add_small(10, (c - b'0') as u32);
    }
    let r = if dexp >= 0 {
        n.mul_pow10(dexp as u64);
        round(&n, 0, &Big::from_u64(1))
    } else {
        let mut d = Big::from_u64(1);
        d.mul_pow10((-dexp) as u64);
        round(&n, 0, &d)
    };
    match r {
        Rounded::Zero => None,
        r => finite(neg, r),
    }
}

fn parse_hex(neg: bool, b: &[u8]) -> Option<F80> {
    let (digits, frac, exp) = split_number(b, |c| c.is_ascii_hexdigit(), b'p')?;
    let first = digits.iter().position(|&c| c != b'0');
    let Some(first) = first else { return Some(F80 { neg, inf: false, mant: 0, exp: 0 }) };
    let mut n = Big(Vec::new());
    for &c in &digits[first..] {
        n.mul_add_small(16, (c as char).to_digit(16).unwrap_or(0));
    }
    let a = exp - 4 * frac;
    let magnitude = n.bits() + a;
    if !(-16500..=16400).contains(&magnitude) {
        return None;
    }
    match round(&n, a, &Big::from_u64(1)) {
        Rounded::Zero => None,
        r => finite(neg, r),
    }
}

/// `x + y` rounded once; `None` if the sum is infinite or NaN (Redis's
/// "increment would produce NaN or Infinity").
pub fn add(x: F80, y: F80) -> Option<F80> {
    if x.inf || y.inf {
        return None;
    }
    if x.mant == 0 {
        return Some(y);
    }
    if y.mant == 0 {
        return Some(x);
    }
    let emin = x.exp.min(y.exp) as i64;
    let a = Big::from_u64(x.mant).shl(x.exp as i64 - emin);
    let b = Big::from_u64(y.mant).shl(y.exp as i64 - emin);
    let (neg, n) = if x.neg == y.neg {
        (x.neg, a.add(&b))
    } else {
        match a.cmp(&b) {
            Ordering::Greater => {
                let mut n = a;
                n.sub_assign(&b);
                (x.neg, n)
            }
            Ordering::Less => {
                let mut n = b;
                n.sub_assign(&a);
                (y.neg, n)
            }
            Ordering::Equal => return Some(F80 { neg: false, inf: false, mant: 0, exp: 0 }),
        }
    };
    finite(neg, round(&n, emin, &Big::from_u64(1)))
}

/// Redis's human format: `"%.17Lf"` with trailing zeros (and a trailing
/// dot) removed, and `-0` printed as `0`.
pub fn to_human(x: &F80) -> String {
    if x.inf {
        return if x.neg { "-inf".into() } else { "inf".into() };
    }
    let mut p = Big::from_u64(x.mant);
    p.mul_pow10(17);
    let scaled = if x.exp >= 0 {
        p.shl(x.exp as i64)
    } else {
        let k = -(x.exp as i64);
        let q = p.shr(k);
        let half = p.bit(k - 1);
        let more = p.any_below(k - 1);
        if half && (more || q.low_u128() & 1 == 1) {
            q.add(&Big::from_u64(1))
        } else {
            q
        }
    };
    let mut digits = scaled.to_decimal();
    if digits.len() < 18 {
        digits = "0".repeat(18 - digits.len()) + &digits;
    }
    let (int, frac) = digits.split_at(digits.len() - 17);
    let frac = frac.trim_end_matches('0');
    let mut s = String::with_capacity(digits.len() + 2);
    if x.neg && !(int == "0" && frac.is_empty()) {
        s.push('-');
    }
    s.push_str(int);
    if !frac.is_empty() {
        s.push('.');
        s.push_str(frac);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(a: &str, b: &str) -> Option<String> {
        Some(to_human(&add(parse(a.as_bytes())?, parse(b.as_bytes())?)?))
    }

    #[test]
    fn matches_redis_long_double_results() {
        // Expected strings are what Redis 7.0 (x86-64) answers to INCRBYFLOAT.
        assert_eq!(sum("0.1", "0.2").as_deref(), Some("0.3"));
        assert_eq!(sum("1.1", "2.2").as_deref(), Some("3.3"));
        assert_eq!(sum("10.5", "0.1").as_deref(), Some("10.6"));
        assert_eq!(sum("3.0", "0").as_deref(), Some("3"));
        assert_eq!(sum("12345678.9", "0").as_deref(), Some("12345678.8999999999996362"));
        assert_eq!(sum("123456789012.345", "0").as_deref(), Some("123456789012.3449999988079071"));
        assert_eq!(sum("123456789012.345", "0.001").as_deref(), Some("123456789012.34600000083446503"));
        assert_eq!(sum("1e-20", "0").as_deref(), Some("0"));
        assert_eq!(sum("1e20", "1").as_deref(), Some("100000000000000000000"));
        assert_eq!(sum("-0.0", "0").as_deref(), Some("0"));
        assert_eq!(sum("5", "-5").as_deref(), Some("0"));
        assert_eq!(sum("0.333333333333333333333", "0").as_deref(), Some("0.33333333333333333"));
        assert!(sum("1e400", "0").unwrap().starts_with("10000000000000000000281880683947586514586453433629"));
        assert!(sum("1e308", "1e308").unwrap().starts_with("199999999999999999993371759311691291321120199694"));
        assert_eq!(sum("inf", "1"), None);
        assert_eq!(sum("1", "-inf"), None);
    }

    #[test]
    fn parse_like_strtold() {
        for bad in ["", " 1", "1 ", "abc", "1e", "1e+", ".", "-", "nan", "1e5000", "1e-5000", "0x", "1.2.3", "1e5x"] {
            assert!(parse(bad.as_bytes()).is_none(), "{bad:?} should be refused");
        }
        for good in ["1", "+1", "-1.5", ".5", "5.", "1E3", "0x10", "0x1.8p1", "Infinity", "-inf", "0e-99999", "1e4000"]
        {
            assert!(parse(good.as_bytes()).is_some(), "{good:?} should parse");
        }
        assert_eq!(to_human(&parse(b"0x1.8p1").unwrap()), "3");
        assert_eq!(to_human(&parse(b"1e-5").unwrap()), "0.00001");
        assert_eq!(to_human(&parse(b"-2.5").unwrap()), "-2.5");
    }
}
