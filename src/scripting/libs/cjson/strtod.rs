//! The C library's `strtod` (glibc, "C" locale), which lua-cjson uses to
//! read numbers: decimal and hexadecimal floating point, `inf`,
//! `infinity`, `nan` and `nan(chars)` in any case, with an optional sign.

/// Reads the longest number at the start of `s`: its value and the bytes
/// it took, or `None` when `s` does not start with a number.
pub(super) fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = 0;
    while matches!(at(i), b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        i += 1;
    }
    let negative = at(i) == b'-';
    if matches!(at(i), b'+' | b'-') {
        i += 1;
    }
    let sign = |v: f64| if negative { -v } else { v };
    let rest = &s[i.min(s.len())..];
    if starts_with_ignore_case(rest, b"inf") {
        let len = if starts_with_ignore_case(rest, b"infinity") { 8 } else { 3 };
        return Some((sign(f64::INFINITY), i + len));
    }
    if starts_with_ignore_case(rest, b"nan") {
        let mut end = i + 3;
        if at(end) == b'(' {
            let mut j = end + 1;
            while at(j).is_ascii_alphanumeric() || at(j) == b'_' {
                j += 1;
            }
            if at(j) == b')' {
                end = j + 1;
            }
        }
        return Some((sign(f64::NAN), end));
    }
    if at(i) == b'0' && at(i + 1) | 0x20 == b'x' {
        if let Some((value, len)) = hex(&s[i + 2..]) {
            return Some((sign(value), i + 2 + len));
        }
    }
    let (value, len) = decimal(rest)?;
    Some((sign(value), i + len))
}

fn starts_with_ignore_case(s: &[u8], word: &[u8]) -> bool {
    s.len() >= word.len() && s[..word.len()].eq_ignore_ascii_case(word)
}

/// Length of the run of bytes at the start of `s` matching `pred`.
fn run(s: &[u8], pred: impl Fn(u8) -> bool) -> usize {
    s.iter().take_while(|&&b| pred(b)).count()
}

/// Length of an exponent (`e` or `p` already matched at `s[0]`): the
/// marker, an optional sign and at least one digit, else 0.
fn exponent(s: &[u8]) -> (usize, i64) {
    let sign_len = usize::from(matches!(s.get(1), Some(b'+' | b'-')));
    let digits = run(&s[(1 + sign_len).min(s.len())..], |b| b.is_ascii_digit());
    if digits == 0 {
        return (0, 0);
    }
    let start = 1 + sign_len;
    // Saturate: anything beyond this overflows or underflows anyway.
    let value = s[start..start + digits].iter().fold(0i64, |acc, &d| (acc * 10 + i64::from(d - b'0')).min(1 << 40));
    (start + digits, if s.get(1) == Some(&b'-') { -value } else { value })
}

/// A decimal number without sign: digits, optional fraction, optional
/// exponent; at least one digit.
fn decimal(s: &[u8]) -> Option<(f64, usize)> {
    let int = run(s, |b| b.is_ascii_digit());
    let mut len = int;
    let mut frac = 0;
    if s.get(len) == Some(&b'.') {
        frac = run(&s[len + 1..], |b| b.is_ascii_digit());
        len += 1 + frac;
    }
    if int + frac == 0 {
        return None;
    }
    let mut exp = 0;
    if matches!(s.get(len), Some(b'e' | b'E')) {
        let (exp_len, value) = exponent(&s[len..]);
        len += exp_len;
        exp = value;
    }
    // Rust's parser rounds correctly, as glibc does.
    let int_digits = std::str::from_utf8(&s[..int]).ok()?;
    let frac_digits = if frac == 0 { "" } else { std::str::from_utf8(&s[int + 1..int + 1 + frac]).ok()? };
    let text =
        format!("{}.{}e{exp}", if int == 0 { "0" } else { int_digits }, if frac == 0 { "0" } else { frac_digits });
    Some((text.parse().ok()?, len))
}

/// A hexadecimal number after `0x`: hex digits, optional fraction,
/// optional binary exponent (`p`); at least one digit, else `None` (and
/// strtod takes just the `0`).
fn hex(s: &[u8]) -> Option<(f64, usize)> {
    let int = run(s, |b| b.is_ascii_hexdigit());
    let mut len = int;
    let mut frac = 0;
    if s.get(len) == Some(&b'.') {
        frac = run(&s[len + 1..], |b| b.is_ascii_hexdigit());
        len += 1 + frac;
    }
    if int + frac == 0 {
        return None;
    }
    // Keep the first 60 significant bits; later nonzero digits only
    // matter for rounding (sticky bit).
    let mut mantissa: u64 = 0;
    let mut exp2: i64 = 0;
    let mut sticky = false;
    let fraction = if frac == 0 { &[][..] } else { &s[int + 1..int + 1 + frac] };
    let digits = s[..int].iter().map(|&b| (b, false)).chain(fraction.iter().map(|&b| (b, true)));
    for (b, fractional) in digits {
        let d = u64::from((b as char).to_digit(16).unwrap_or(0));
        if mantissa < 1 << 56 {
            mantissa = mantissa * 16 + d;
            if fractional {
                exp2 -= 4;
            }
        } else {
            sticky |= d != 0;
            if !fractional {
                exp2 += 4;
            }
        }
    }
    if matches!(s.get(len), Some(b'p' | b'P')) {
        let (exp_len, value) = exponent(&s[len..]);
        len += exp_len;
        exp2 += value;
    }
    Some((scale(mantissa, sticky, exp2), len))
}

/// `mantissa * 2^exp2` rounded to nearest-even, with `sticky` standing
/// for nonzero bits below the mantissa.
fn scale(mantissa: u64, sticky: bool, exp2: i64) -> f64 {
    if mantissa == 0 {
        return 0.0;
    }
    // Normalise so the top bit is bit 63: value = m * 2^e.
    let shift = mantissa.leading_zeros();
    let m = mantissa << shift | u64::from(sticky);
    let e = exp2 - i64::from(shift);
    // Exponent of the leading bit; doubles hold 53 bits down to 2^-1074.
    let top = e + 63;
    if top > 1023 {
        return f64::INFINITY;
    }
    let lowest_kept = (top - 52).max(-1074);
    let drop = lowest_kept - e; // bits of m below the last kept bit
    let kept = if drop >= 64 {
        // Only rounding can leave something: half of the smallest step.
        u64::from(drop == 64 && m > 1 << 63)
    } else {
        let kept = m >> drop;
        let rest = m & ((1u64 << drop) - 1);
        let half = 1u64 << (drop - 1);
        if rest > half || (rest == half && kept & 1 == 1) {
            kept + 1
        } else {
            kept
        }
    };
    ldexp(kept as f64, lowest_kept)
}

/// `x * 2^exp` for an exactly representable result.
fn ldexp(mut x: f64, mut exp: i64) -> f64 {
    while exp > 0 {
        let step = exp.min(1000);
        x *= f64::from_bits(((1023 + step) as u64) << 52);
        exp -= step;
    }
    while exp < 0 {
        let step = (-exp).min(1000);
        x /= f64::from_bits(((1023 + step) as u64) << 52);
        exp += step;
    }
    x
}
