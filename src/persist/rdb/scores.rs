//! Sorted-set scores as Redis writes them inside listpacks and reads them
//! back: an integer entry when the score is an exact integer (Redis's
//! `double2ll`), else the text of `d2string` (`inf`, `-inf`, or C's
//! `%.17g`); and the parsing of score text (`strtod`).

use std::fmt::Write as _;

/// The score as an i64 when Redis stores it as an integer entry: an exact
/// integer within ±2^62 (Redis's `double2ll`; `-0.0` counts as 0). O(1).
pub fn as_integer(d: f64) -> Option<i64> {
    const LIMIT: f64 = 4_611_686_018_427_387_904.0; // (double)(LLONG_MAX / 2) = 2^62
    if !(-LIMIT..=LIMIT).contains(&d) {
        return None; // also NaN
    }
    let v = d as i64;
    (v as f64 == d).then_some(v)
}

/// Appends `v` formatted as C's `printf("%.17g", v)` (finite `v`; glibc's
/// correctly rounded digits, round-half-even on exact ties, as Rust's
/// exact formatting). `tmp` is scratch. O(1).
pub fn format_g17(v: f64, tmp: &mut String, out: &mut String) {
    tmp.clear();
    // 17 significant digits: "d.dddddddddddddddde<exp>" (with '-' if negative).
    let _ = write!(tmp, "{v:.16e}");
    let (mantissa, exp) = tmp.split_once('e').unwrap_or((tmp.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    if neg {
        out.push('-');
    }
    // The 17 digits, without the point.
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if !(-4..17).contains(&exp) {
        // Scientific: trailing zeros of the fraction dropped, and the point
        // with them when nothing is left; exponent of at least two digits.
        let frac = digits[1..].trim_end_matches('0');
        out.push_str(&digits[..1]);
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
        let _ = write!(out, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.unsigned_abs());
        return;
    }
    let (int_part, frac) = if exp >= 0 {
        let point = exp as usize + 1;
        (digits[..point].to_string(), digits[point..].to_string())
    } else {
        ("0".to_string(), "0".repeat(exp.unsigned_abs() as usize - 1) + &digits)
    };
    out.push_str(&int_part);
    let frac = frac.trim_end_matches('0');
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
}

/// Appends the text Redis stores for score `v` in a listpack: the decimal
/// integer when [`as_integer`] holds (the listpack then integer-encodes
/// it), `inf`/`-inf`/`nan`, else `%.17g`. `tmp` is scratch. O(1).
pub fn listpack_text(v: f64, tmp: &mut String, out: &mut String) {
    if let Some(i) = as_integer(v) {
        let _ = write!(out, "{i}");
    } else if v.is_nan() {
        out.push_str("nan");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "inf" } else { "-inf" });
    } else {
        format_g17(v, tmp, out);
    }
}

/// Parses score text as Redis's `strtod` reads what Redis writes: decimal
/// and exponent forms, `inf`/`-inf`/`infinity` (any case). NaN and text
/// that is not a number are errors. O(len).
pub fn parse(s: &[u8]) -> Result<f64, String> {
    let v = std::str::from_utf8(s)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .ok_or_else(|| format!("score {:?} is not a number", String::from_utf8_lossy(&s[..s.len().min(40)])))?;
    if v.is_nan() {
        return Err("score is NaN".into());
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::super::test_encoders::XorShift;
    use super::*;

    /// C's `snprintf("%.17g")`.
    fn c_g17(v: f64) -> String {
        let mut buf = [0u8; 64];
        // SAFETY: the buffer is 64 bytes and its size is passed; the format
        // takes one double.
        let n = unsafe { libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), c"%.17g".as_ptr(), v) };
        String::from_utf8_lossy(&buf[..n as usize]).into_owned()
    }

    fn g17(v: f64) -> String {
        let (mut tmp, mut out) = (String::new(), String::new());
        format_g17(v, &mut tmp, &mut out);
        out
    }

    #[test]
    fn g17_matches_printf() {
        let fixed = [
            0.1,
            -0.1,
            1.5,
            1e-4,
            1e-5,
            1.25e-5,
            123.456,
            1e16,
            1e17,
            -1e17,
            9.999_999_999_999_999e16,
            1_234_567_890_123_456.0 + 0.25,
            1_234_567_890_123_456.0 + 0.75,
            1.5e300,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            std::f64::consts::PI,
            0.000123,
            3.0e-5,
        ];
        for v in fixed {
            assert_eq!(g17(v), c_g17(v), "{v:e}");
        }
        let mut rng = XorShift(0x1234_5678_9abc_def1);
        for i in 0..200_000 {
            let v = if i % 2 == 0 {
                f64::from_bits(rng.next_u64())
            } else {
                // Values of ordinary magnitudes, with few digits.
                let m = (rng.next_u64() % 2_000_000) as f64 - 1_000_000.0;
                m / [1.0, 10.0, 100.0, 1e3, 1e6, 1e-3, 3.0][(rng.next_u64() % 7) as usize]
            };
            if v.is_finite() {
                assert_eq!(g17(v), c_g17(v), "{:#x}", v.to_bits());
                assert_eq!(g17(v).parse::<f64>().unwrap().to_bits(), v.to_bits(), "17 digits round-trip");
            }
        }
    }

    #[test]
    fn integer_scores_as_redis() {
        assert_eq!(as_integer(3.0), Some(3));
        assert_eq!(as_integer(-0.0), Some(0));
        assert_eq!(as_integer(4_611_686_018_427_387_904.0), Some(1 << 62));
        assert_eq!(as_integer(-4_611_686_018_427_387_904.0), Some(-(1 << 62)));
        assert_eq!(as_integer(9_223_372_036_854_775_807.0), None);
        assert_eq!(as_integer(1.5), None);
        assert_eq!(as_integer(f64::NAN), None);
        assert_eq!(as_integer(f64::INFINITY), None);
        let text = |v: f64| {
            let (mut t, mut o) = (String::new(), String::new());
            listpack_text(v, &mut t, &mut o);
            o
        };
        assert_eq!(text(-0.0), "0");
        assert_eq!(text(12.0), "12");
        assert_eq!(text(f64::INFINITY), "inf");
        assert_eq!(text(f64::NEG_INFINITY), "-inf");
        assert_eq!(text(0.1), "0.10000000000000001");
        assert_eq!(text(1e19), "1e+19");
    }

    #[test]
    fn parsing() {
        assert_eq!(parse(b"1.5"), Ok(1.5));
        assert_eq!(parse(b"-inf"), Ok(f64::NEG_INFINITY));
        assert_eq!(parse(b"inf"), Ok(f64::INFINITY));
        assert_eq!(parse(b"1e+19"), Ok(1e19));
        assert_eq!(parse(b"-9223372036854775808"), Ok(-9.223_372_036_854_776e18));
        assert!(parse(b"nan").is_err());
        assert!(parse(b"").is_err());
        assert!(parse(b"abc").is_err());
        assert!(parse(b"\xff").is_err());
    }
}
