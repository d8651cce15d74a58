//! How replies are printed: the three output modes of `inmemory-cli`.
//!
//! - [`Mode::Standard`]: what redis-cli prints on a terminal: `(integer) 1`,
//!   `(nil)`, quoted strings with `\xNN` escapes, numbered and indented
//!   aggregates (`1)` arrays, `1~` sets, `1#` maps with `key => value`),
//!   `(error) …`, `(empty array)`.
//! - [`Mode::Raw`]: redis-cli's `--raw` (its default when stdout is not a
//!   terminal): strings as their bytes, one element per line, nothing for nil.
//! - [`Mode::Json`]: one JSON value per reply. Unlike redis-cli, whose
//!   `--json` prints an error as `error:"…"`, the output is always valid
//!   JSON: an error is `{"error":"…"}`, a non-finite double a string, and
//!   bytes that are not UTF-8 become `\u00NN` escapes.
//!
//! Every function here is O(size of the reply) and allocates only the
//! output buffer.

use std::fmt::Write as _;

use crate::protocol::frame::Frame;

/// The way replies are written to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// redis-cli's human-readable form.
    Standard,
    /// redis-cli's `--raw` form.
    Raw,
    /// One JSON document per reply.
    Json,
}

/// The complete text printed for one reply in `mode`, ending in a newline.
pub fn format(reply: &Frame, mode: Mode) -> Vec<u8> {
    let mut out = Vec::new();
    match mode {
        Mode::Standard => standard(reply, "", &mut out),
        Mode::Raw => {
            raw(reply, &mut out);
            out.push(b'\n');
        }
        Mode::Json => {
            json(reply, &mut out);
            out.push(b'\n');
        }
    }
    out
}

/// The reply's raw form with no delimiter added: what redis-cli prints for
/// commands whose reply is a preformatted text (`INFO`, `CLIENT LIST` …)
/// in the standard and raw modes.
pub fn format_verbatim(reply: &Frame) -> Vec<u8> {
    let mut out = Vec::new();
    raw(reply, &mut out);
    out
}

/// Appends `b` quoted the way redis-cli quotes strings (sds `sdscatrepr`):
/// `"` and `\` escaped, `\n \r \t \a \b` named, other bytes outside
/// printable ASCII as `\xNN` (lower-case hex).
pub fn repr(b: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in b {
        match c {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', c]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[b'\\', b'x', HEX[(c >> 4) as usize], HEX[(c & 15) as usize]]);
            }
        }
    }
    out.push(b'"');
}

/// Number of decimal digits of `n` (at least 1).
fn digits(mut n: usize) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

/// Whether the standard form of `f` takes several lines (redis-cli puts a
/// multi-line map value on the line after its key).
fn multiline(f: &Frame) -> bool {
    match f {
        Frame::Array(Some(v)) | Frame::Set(v) | Frame::Push(v) => match v.len() {
            0 => false,
            1 => multiline(&v[0]),
            _ => true,
        },
        Frame::Map(m) => match m.len() {
            0 => false,
            1 => multiline(&m[0].1),
            _ => true,
        },
        _ => false,
    }
}

/// redis-cli's `cliFormatReplyTTY`: `prefix` is the indentation of the
/// lines after the first (the caller already wrote the first line's index).
fn standard(f: &Frame, prefix: &str, out: &mut Vec<u8>) {
    match f {
        Frame::Error(e) => {
            out.extend_from_slice(b"(error) ");
            out.extend_from_slice(e);
        }
        Frame::Simple(s) => out.extend_from_slice(s),
        Frame::Int(n) => out.extend_from_slice(format!("(integer) {n}").as_bytes()),
        Frame::Double(d) => {
            out.extend_from_slice(b"(double) ");
            out.extend_from_slice(d);
        }
        Frame::BigNumber(n) => {
            out.extend_from_slice(b"(big number) ");
            out.extend_from_slice(n);
        }
        Frame::Bulk(Some(b)) => repr(b, out),
        Frame::Verbatim(_) => out.extend_from_slice(f.text().unwrap_or_default()),
        Frame::Bulk(None) | Frame::Array(None) | Frame::Null => out.extend_from_slice(b"(nil)"),
        Frame::Bool(b) => out.extend_from_slice(if *b { b"(true)" } else { b"(false)" }),
        Frame::Array(Some(v)) => return sequence(v, b')', "(empty array)", prefix, out),
        Frame::Set(v) => return sequence(v, b'~', "(empty set)", prefix, out),
        Frame::Push(v) => return sequence(v, b')', "(empty push)", prefix, out),
        Frame::Map(m) => return map(m, prefix, out),
    }
    out.push(b'\n');
}

/// Writes the index of element `i` (1-based, right-aligned to `width`)
/// followed by `sep` and a space; every line but the first gets `prefix`.
fn index(i: usize, width: usize, sep: u8, prefix: &str, out: &mut Vec<u8>) {
    if i > 0 {
        out.extend_from_slice(prefix.as_bytes());
    }
    let mut s = String::new();
    let _ = write!(s, "{:>width$}", i + 1);
    out.extend_from_slice(s.as_bytes());
    out.extend_from_slice(&[sep, b' ']);
}

fn sequence(v: &[Frame], sep: u8, empty: &str, prefix: &str, out: &mut Vec<u8>) {
    if v.is_empty() {
        out.extend_from_slice(empty.as_bytes());
        out.push(b'\n');
        return;
    }
    let width = digits(v.len());
    let inner = format!("{prefix}{:1$}", "", width + 2);
    for (i, e) in v.iter().enumerate() {
        index(i, width, sep, prefix, out);
        standard(e, &inner, out);
    }
}

fn map(m: &[(Frame, Frame)], prefix: &str, out: &mut Vec<u8>) {
    if m.is_empty() {
        out.extend_from_slice(b"(empty hash)\n");
        return;
    }
    let width = digits(m.len());
    let inner = format!("{prefix}{:1$}", "", width + 2);
    for (i, (k, v)) in m.iter().enumerate() {
        index(i, width, b'#', prefix, out);
        standard(k, &inner, out);
        out.pop(); // the key's newline
        out.extend_from_slice(b" => ");
        if multiline(v) {
            out.push(b'\n');
            out.extend_from_slice(inner.as_bytes());
        }
        standard(v, &inner, out);
    }
}

/// redis-cli's `cliFormatReplyRaw`, with `\n` between elements.
fn raw(f: &Frame, out: &mut Vec<u8>) {
    match f {
        Frame::Bulk(None) | Frame::Array(None) | Frame::Null => {}
        Frame::Error(e) => {
            out.extend_from_slice(e);
            out.push(b'\n');
        }
        Frame::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Frame::Bool(b) => out.extend_from_slice(if *b { b"(true)" } else { b"(false)" }),
        Frame::Simple(_) | Frame::Bulk(Some(_)) | Frame::Verbatim(_) | Frame::Double(_) | Frame::BigNumber(_) => {
            out.extend_from_slice(f.text().unwrap_or_default())
        }
        Frame::Array(Some(v)) | Frame::Set(v) | Frame::Push(v) => {
            for (i, e) in v.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                raw(e, out);
            }
        }
        Frame::Map(m) => {
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                raw(k, out);
                out.push(b' ');
                raw(v, out);
            }
        }
    }
}

/// Appends `b` as a JSON string: escapes as redis-cli's `escapeJsonString`
/// (`\" \\ \n \f \r \t \b`, other control bytes `\u00NN`); UTF-8 passes
/// through, a byte that is not part of valid UTF-8 becomes `\u00NN`.
pub fn json_string(b: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\x0c' => out.extend_from_slice(b"\\f"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                '\x08' => out.extend_from_slice(b"\\b"),
                c if (c as u32) < 0x20 => out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes()),
                c => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        for &byte in chunk.invalid() {
            out.extend_from_slice(format!("\\u{byte:04x}").as_bytes());
        }
    }
    out.push(b'"');
}

/// True if `t` (a RESP3 double's text) is also a JSON number.
fn json_number(t: &[u8]) -> bool {
    let t = t.strip_prefix(b"-").unwrap_or(t);
    !t.is_empty()
        && t[0].is_ascii_digit()
        && t.iter().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
        && std::str::from_utf8(t).ok().and_then(|s| s.parse::<f64>().ok()).is_some_and(f64::is_finite)
}

fn json(f: &Frame, out: &mut Vec<u8>) {
    match f {
        Frame::Error(e) => {
            out.extend_from_slice(b"{\"error\":");
            json_string(e, out);
            out.push(b'}');
        }
        Frame::Simple(_) | Frame::Bulk(Some(_)) | Frame::Verbatim(_) => json_string(f.text().unwrap_or_default(), out),
        Frame::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Frame::Double(d) if json_number(d) => out.extend_from_slice(d),
        Frame::Double(d) => json_string(d, out),
        Frame::BigNumber(n) => out.extend_from_slice(n),
        Frame::Bulk(None) | Frame::Array(None) | Frame::Null => out.extend_from_slice(b"null"),
        Frame::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Frame::Array(Some(v)) | Frame::Set(v) | Frame::Push(v) => {
            out.push(b'[');
            for (i, e) in v.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json(e, out);
            }
            out.push(b']');
        }
        Frame::Map(m) => {
            out.push(b'{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match k.text() {
                    Some(t) if !matches!(k, Frame::Double(_) | Frame::BigNumber(_)) => json_string(t, out),
                    _ => {
                        // JSON keys are strings: write the key's JSON form as one.
                        let mut key = Vec::new();
                        json(k, &mut key);
                        json_string(&key, out);
                    }
                }
                out.push(b':');
                json(v, out);
            }
            out.push(b'}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn bulk(s: &str) -> Frame {
        Frame::Bulk(Some(Bytes::copy_from_slice(s.as_bytes())))
    }
    fn arr(v: Vec<Frame>) -> Frame {
        Frame::Array(Some(v))
    }
    fn ints(n: i64) -> Vec<Frame> {
        (1..=n).map(Frame::Int).collect()
    }
    fn std_(f: &Frame) -> String {
        String::from_utf8(format(f, Mode::Standard)).unwrap()
    }
    fn raw_(f: &Frame) -> String {
        String::from_utf8(format(f, Mode::Raw)).unwrap()
    }
    fn json_(f: &Frame) -> String {
        String::from_utf8(format(f, Mode::Json)).unwrap()
    }

    #[test]
    fn scalars_standard() {
        assert_eq!(std_(&Frame::Int(-3)), "(integer) -3\n");
        assert_eq!(std_(&Frame::Bulk(None)), "(nil)\n");
        assert_eq!(std_(&Frame::Null), "(nil)\n");
        assert_eq!(std_(&Frame::Array(None)), "(nil)\n");
        assert_eq!(std_(&Frame::Simple(Bytes::from_static(b"OK"))), "OK\n");
        assert_eq!(std_(&Frame::Error(Bytes::from_static(b"ERR bad"))), "(error) ERR bad\n");
        assert_eq!(std_(&Frame::Double(Bytes::from_static(b"3.141"))), "(double) 3.141\n");
        assert_eq!(std_(&Frame::Bool(true)), "(true)\n");
        assert_eq!(std_(&Frame::Bool(false)), "(false)\n");
        assert_eq!(
            std_(&Frame::BigNumber(Bytes::from_static(b"12345678901234567890"))),
            "(big number) 12345678901234567890\n"
        );
        assert_eq!(std_(&Frame::Verbatim(Bytes::from_static(b"txt:two\nlines"))), "two\nlines\n");
        // Quoting as redis-cli's sdscatrepr (checked against redis-cli 7.0).
        assert_eq!(std_(&bulk("a\tb\x01\"\\\n")), "\"a\\tb\\x01\\\"\\\\\\n\"\n");
        assert_eq!(std_(&bulk("h\u{e9}llo")), "\"h\\xc3\\xa9llo\"\n");
        assert_eq!(std_(&bulk("\x07\x08\r\x7f")), "\"\\a\\b\\r\\x7f\"\n");
    }

    #[test]
    fn nested_arrays_indent_like_redis_cli() {
        // redis-cli --no-raw eval "return {1,{2,{3,'x'}},{},'y'}" 0
        let f = arr(vec![
            Frame::Int(1),
            arr(vec![Frame::Int(2), arr(vec![Frame::Int(3), bulk("x")])]),
            arr(vec![]),
            bulk("y"),
        ]);
        let want =
            "1) (integer) 1\n2) 1) (integer) 2\n   2) 1) (integer) 3\n      2) \"x\"\n3) (empty array)\n4) \"y\"\n";
        assert_eq!(std_(&f), want);
        // Ten or more elements: indexes right-aligned, nested prefix one wider.
        let mut v = ints(10);
        v.push(arr(ints(2)));
        let got = std_(&arr(v));
        assert!(got.starts_with(" 1) (integer) 1\n 2) (integer) 2\n"), "{got}");
        assert!(got.ends_with("10) (integer) 10\n11) 1) (integer) 1\n    2) (integer) 2\n"), "{got}");
    }

    #[test]
    fn resp3_aggregates_standard() {
        assert_eq!(std_(&arr(vec![])), "(empty array)\n");
        assert_eq!(std_(&Frame::Map(vec![])), "(empty hash)\n");
        assert_eq!(std_(&Frame::Set(vec![])), "(empty set)\n");
        assert_eq!(std_(&Frame::Push(vec![])), "(empty push)\n");
        assert_eq!(std_(&Frame::Set(vec![Frame::Int(0), Frame::Int(1)])), "1~ (integer) 0\n2~ (integer) 1\n");
        let m = Frame::Map(vec![(bulk("f1"), bulk("v1")), (bulk("f2"), Frame::Bool(true))]);
        assert_eq!(std_(&m), "1# \"f1\" => \"v1\"\n2# \"f2\" => (true)\n");
        // redis-cli -3 eval "return {map={a={1,2},b={}}}" 0: a multi-line value starts on the next line.
        let m = Frame::Map(vec![(bulk("a"), arr(ints(2))), (bulk("b"), arr(vec![]))]);
        assert_eq!(std_(&m), "1# \"a\" => \n   1) (integer) 1\n   2) (integer) 2\n2# \"b\" => (empty array)\n");
        // A one-element value stays on the key's line; maps nest with `#`.
        let m = Frame::Map(vec![(bulk("k"), arr(vec![Frame::Map(vec![(bulk("x"), Frame::Int(1))])]))]);
        assert_eq!(std_(&m), "1# \"k\" => 1) 1# \"x\" => (integer) 1\n");
    }

    #[test]
    fn raw_mode() {
        assert_eq!(raw_(&Frame::Bulk(None)), "\n");
        assert_eq!(raw_(&Frame::Int(7)), "7\n");
        assert_eq!(raw_(&Frame::Error(Bytes::from_static(b"ERR x"))), "ERR x\n\n");
        assert_eq!(raw_(&arr(vec![bulk("a"), arr(vec![bulk("b"), Frame::Null]), arr(vec![])])), "a\nb\n\n\n");
        assert_eq!(raw_(&Frame::Map(vec![(bulk("f"), bulk("v")), (bulk("g"), Frame::Int(2))])), "f v\ng 2\n");
        assert_eq!(raw_(&Frame::Bool(false)), "(false)\n");
        assert_eq!(raw_(&Frame::Verbatim(Bytes::from_static(b"txt:hi"))), "hi\n");
        assert_eq!(format_verbatim(&bulk("# Server\r\n")), b"# Server\r\n");
    }

    #[test]
    fn json_mode() {
        let m = Frame::Map(vec![(bulk("f1"), bulk("v1")), (bulk("f2"), bulk("a\"b"))]);
        assert_eq!(json_(&m), "{\"f1\":\"v1\",\"f2\":\"a\\\"b\"}\n");
        assert_eq!(json_(&Frame::Bulk(None)), "null\n");
        assert_eq!(json_(&Frame::Int(1)), "1\n");
        assert_eq!(json_(&bulk("h\u{e9}llo")), "\"h\u{e9}llo\"\n");
        assert_eq!(json_(&bulk("a\tb\x01\"\\\n")), "\"a\\tb\\u0001\\\"\\\\\\n\"\n");
        assert_eq!(json_(&Frame::Bulk(Some(Bytes::from_static(b"\xff")))), "\"\\u00ff\"\n");
        assert_eq!(json_(&Frame::Error(Bytes::from_static(b"ERR x"))), "{\"error\":\"ERR x\"}\n");
        assert_eq!(json_(&arr(vec![Frame::Bool(true), Frame::Null, arr(vec![])])), "[true,null,[]]\n");
        assert_eq!(json_(&Frame::Double(Bytes::from_static(b"3.141"))), "3.141\n");
        assert_eq!(json_(&Frame::Double(Bytes::from_static(b"inf"))), "\"inf\"\n");
        assert_eq!(json_(&Frame::Map(vec![(Frame::Int(1), Frame::Set(vec![]))])), "{\"1\":[]}\n");
    }
}
