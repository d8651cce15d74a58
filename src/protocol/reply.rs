//! Replies and their RESP2/RESP3 encoding.
//!
//! A [`Reply`] is what a command produces; it is encoded once, at the
//! connection, in the protocol version the client negotiated with `HELLO`.
//! RESP3-only types degrade the way Redis degrades them on RESP2: maps become
//! flat arrays, sets become arrays, doubles become bulk strings, booleans
//! become integers and the single null becomes `$-1` or `*-1`.

use bytes::{BufMut, Bytes, BytesMut};

/// One reply frame. Encoding is O(size of the reply); nothing is cloned.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK` style status, from a static string (the common case).
    Status(&'static str),
    /// A status built at run time (`+PONG` variants, `TYPE` answers).
    StatusOwned(String),
    /// An error line; the text must start with the error code (`ERR`, `WRONGTYPE` …).
    Error(String),
    /// `:n`
    Int(i64),
    /// A binary-safe bulk string.
    Bulk(Bytes),
    /// A bulk string of at most [`SHORT_BULK_MAX`] bytes held in the reply
    /// itself: a GET or HGET of a short value replies without allocating
    /// (a copied `Bytes` was a `malloc` and a `free` per reply, 10% of an
    /// in-process GET). Encoded as [`Reply::Bulk`] is.
    ShortBulk(ShortBulk),
    /// The null bulk string (`$-1` on RESP2, `_` on RESP3).
    Nil,
    /// The null array (`*-1` on RESP2, `_` on RESP3), e.g. a timed-out `BLPOP`.
    NilArray,
    /// An array of replies.
    Array(Vec<Reply>),
    /// A RESP3 map; on RESP2 a flat array of alternating keys and values.
    Map(Vec<(Reply, Reply)>),
    /// A RESP3 set; on RESP2 an array.
    Set(Vec<Reply>),
    /// A RESP3 double; on RESP2 a bulk string in Redis's human format.
    Double(f64),
    /// A RESP3 boolean; on RESP2 the integers 1 and 0.
    Bool(bool),
    /// A RESP3 verbatim string (`=len\r\ntxt:...`); on RESP2 a bulk string.
    Verbatim(Bytes),
    /// A RESP3 push frame; on RESP2 an array.
    Push(Vec<Reply>),
    /// A RESP3 big number (`(digits`); on RESP2 a bulk string (scripts
    /// return them with `{big_number=…}`).
    BigNumber(Bytes),
    /// Already-encoded bytes, written as they are (the proxy forwards
    /// backend replies this way; long arrays of bulk strings are built so,
    /// see [`Reply::bulk_array_encoded`]).
    Raw(Bytes),
    /// Nothing is written: the command replies later (blocking) or never (`CLIENT REPLY OFF`).
    None,
}

/// Longest bulk string a [`Reply::ShortBulk`] holds: what fits beside the
/// tag in the 40 bytes every `Reply` takes anyway.
pub const SHORT_BULK_MAX: usize = 38;

/// The bytes of a [`Reply::ShortBulk`]. Dereferences to them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ShortBulk {
    len: u8,
    buf: [u8; SHORT_BULK_MAX],
}

impl ShortBulk {
    /// A copy of `b`, if it is at most [`SHORT_BULK_MAX`] bytes. O(len).
    #[inline]
    pub fn new(b: &[u8]) -> Option<ShortBulk> {
        let mut buf = [0u8; SHORT_BULK_MAX];
        buf.get_mut(..b.len())?.copy_from_slice(b);
        Some(ShortBulk { len: b.len() as u8, buf })
    }
}

impl std::ops::Deref for ShortBulk {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

impl std::fmt::Debug for ShortBulk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&Bytes::copy_from_slice(self), f)
    }
}

/// The `+OK` reply.
pub const OK: Reply = Reply::Status("OK");

impl Reply {
    /// Builds an error reply from an error line (`"ERR something"`).
    pub fn err(msg: impl Into<String>) -> Reply {
        Reply::Error(msg.into())
    }

    /// A bulk reply copied from a byte slice: held in place when short
    /// ([`Reply::ShortBulk`]), else in an allocation of its own.
    #[inline]
    pub fn bulk_from(b: &[u8]) -> Reply {
        Reply::bulk_short_or(b, || Bytes::copy_from_slice(b))
    }

    /// A bulk reply of `b`: held in place when short ([`Reply::ShortBulk`]),
    /// else the `Bytes` that `long` hands out (a copy, or a reference to a
    /// stored value).
    #[inline]
    pub fn bulk_short_or(b: &[u8], long: impl FnOnce() -> Bytes) -> Reply {
        match ShortBulk::new(b) {
            Some(s) => Reply::ShortBulk(s),
            None => Reply::Bulk(long()),
        }
    }

    /// The contents of a bulk string reply of either kind.
    pub fn as_bulk(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(b) => Some(b),
            Reply::ShortBulk(b) => Some(b),
            _ => None,
        }
    }

    /// [`Reply::as_bulk`] as `Bytes`: a new reference for a `Bulk`, a copy
    /// of a `ShortBulk`.
    pub fn to_bulk_bytes(&self) -> Option<Bytes> {
        match self {
            Reply::Bulk(b) => Some(b.clone()),
            Reply::ShortBulk(b) => Some(Bytes::copy_from_slice(b)),
            _ => None,
        }
    }

    /// A bulk reply holding a string.
    pub fn bulk_str(s: impl Into<String>) -> Reply {
        Reply::Bulk(Bytes::from(s.into()))
    }

    /// `Some(bytes)` as a bulk string, `None` as the null bulk.
    pub fn opt_bulk(b: Option<Bytes>) -> Reply {
        match b {
            Some(b) => Reply::Bulk(b),
            None => Reply::Nil,
        }
    }

    /// An array of bulk strings.
    pub fn bulk_array<I: IntoIterator<Item = Bytes>>(items: I) -> Reply {
        Reply::Array(items.into_iter().map(Reply::Bulk).collect())
    }

    /// An array of bulk strings, encoded at once: one buffer for the whole
    /// reply instead of an allocation per element (RESP2 and RESP3 spell
    /// such an array the same way). For replies of many elements copied
    /// out of a value (LRANGE, HKEYS). O(total size).
    pub fn bulk_array_encoded<'a>(items: impl Iterator<Item = &'a [u8]> + Clone) -> Reply {
        let (n, bytes) = items.clone().fold((0, 0), |(n, b), it| (n + 1, b + it.len()));
        let mut out = BytesMut::with_capacity(16 + bytes + 16 * n);
        put_bulk_array(&mut out, b'*', n, items);
        Reply::Raw(out.freeze())
    }

    /// True for error replies (used by MULTI/EXEC bookkeeping and stats).
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }
}

/// Formats a double the way Redis prints human-readable floats
/// (`INCRBYFLOAT`, RESP2 doubles): shortest round-trip digits, no exponent,
/// `inf`/`-inf` spelled out.
pub fn format_double(f: f64) -> String {
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f.is_nan() {
        return "nan".into();
    }
    if f == 0.0 {
        return "0".into();
    }
    format!("{f}")
}

/// Formats a double as Redis 7.0 replies with one (`addReplyDouble`:
/// `%.17g`, so 17 significant digits, trailing zeros dropped, an exponent
/// past 1e17 or below 1e-4; `inf`/`-inf`): sorted-set scores, and every
/// [`Reply::Double`]. O(1).
pub fn format_double_reply(f: f64) -> String {
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f.is_nan() {
        return "nan".into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    if f.fract() == 0.0 && f.abs() < 1e17 {
        // Integral below 1e17: all its digits fit in 17, so %.17g prints it whole.
        return itoa::Buffer::new().format(f as i64).to_string();
    }
    // Redis formats with the C library's printf, and so does this: Rust's
    // exact formatting of 17 digits falls back to bignum arithmetic, ten
    // times slower, which dominated range replies.
    let mut buf = [0u8; 32];
    // SAFETY: `buf` is 32 bytes and that size is passed, so at most 31
    // bytes and a NUL are written (`%.17g` of a double needs at most 24);
    // the format is NUL-terminated and takes exactly the one double passed.
    let n = unsafe { libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), c"%.17g".as_ptr(), f) };
    let n = usize::try_from(n).unwrap_or(0).min(buf.len() - 1);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// An array reply encoded as it is built: nested arrays of bulk strings
/// (spelled the same in RESP2 and RESP3) written straight into one buffer,
/// the outer length put in front at the end. For replies copied out of a
/// value element by element (XRANGE's entries), without an allocation per
/// element. O(total size).
#[derive(Default)]
pub struct EncodedArray {
    body: BytesMut,
    len: usize,
}

impl EncodedArray {
    /// Starts one element of the outer array.
    pub fn next_element(&mut self) {
        self.len += 1;
    }

    /// Elements started so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True before the first element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes the header of a nested array of `n` elements.
    pub fn array(&mut self, n: usize) {
        put_len_line(&mut self.body, b'*', n as i64);
    }

    /// Writes a bulk string.
    pub fn bulk(&mut self, b: &[u8]) {
        put_bulk(&mut self.body, b);
    }

    /// The whole reply.
    pub fn finish(self) -> Reply {
        let mut out = BytesMut::with_capacity(self.body.len() + 16);
        put_len_line(&mut out, b'*', self.len as i64);
        out.put_slice(&self.body);
        Reply::Raw(out.freeze())
    }
}

fn put_len_line(buf: &mut BytesMut, prefix: u8, n: i64) {
    let mut ib = itoa::Buffer::new();
    buf.put_u8(prefix);
    buf.put_slice(ib.format(n).as_bytes());
    buf.put_slice(b"\r\n");
}

fn put_bulk(buf: &mut BytesMut, b: &[u8]) {
    put_len_line(buf, b'$', b.len() as i64);
    buf.put_slice(b);
    buf.put_slice(b"\r\n");
}

fn put_line(buf: &mut BytesMut, prefix: u8, s: &str) {
    buf.put_u8(prefix);
    // A status or error line must not contain CR/LF; Redis replaces them with spaces.
    if s.bytes().any(|c| c == b'\r' || c == b'\n') {
        for c in s.bytes() {
            buf.put_u8(if c == b'\r' || c == b'\n' { b' ' } else { c });
        }
    } else {
        buf.put_slice(s.as_bytes());
    }
    buf.put_slice(b"\r\n");
}

/// Encodes a request (or an AOF entry): a RESP array of bulk strings. The
/// one request encoder, used by the AOF, the proxy and the client.
/// O(total size).
pub fn encode_request<B: BufMut, A: AsRef<[u8]>>(out: &mut B, args: &[A]) {
    put_bulk_array(out, b'*', args.len(), args.iter().map(|a| a.as_ref()));
}

/// An upper bound of the bytes [`encode_request`] or [`put_push`] writes
/// for `items`, to reserve a buffer once instead of growing it as it is
/// written. O(items).
pub fn bulk_array_size<A: AsRef<[u8]>>(items: &[A]) -> usize {
    // `*` or `>`, up to 20 digits, CRLF; per item `$`, digits, CRLF, the
    // bytes, CRLF.
    24 + items.iter().map(|a| a.as_ref().len() + 25).sum::<usize>()
}

/// Appends a pub/sub message (`message`, `pmessage`… and its bulk strings)
/// to `out` as a RESP3 push, or for RESP2 an array, without a reply tree:
/// PUBLISH encodes each message once per protocol. O(total size).
pub fn put_push<B: BufMut>(out: &mut B, proto: u8, parts: &[&[u8]]) {
    put_bulk_array(out, if proto >= 3 { b'>' } else { b'*' }, parts.len(), parts.iter().copied());
}

/// Writes `<kind>n` (`*` array, `>` push) and the `n` bulk strings of
/// `items`. O(total size).
fn put_bulk_array<'a, B: BufMut>(out: &mut B, kind: u8, n: usize, items: impl Iterator<Item = &'a [u8]>) {
    let mut ib = itoa::Buffer::new();
    out.put_u8(kind);
    out.put_slice(ib.format(n).as_bytes());
    out.put_slice(b"\r\n");
    for a in items {
        out.put_u8(b'$');
        out.put_slice(ib.format(a.len()).as_bytes());
        out.put_slice(b"\r\n");
        out.put_slice(a);
        out.put_slice(b"\r\n");
    }
}

/// Encodes `reply` for a client speaking protocol version `proto` (2 or 3).
pub fn encode(reply: &Reply, proto: u8, buf: &mut BytesMut) {
    let resp3 = proto >= 3;
    match reply {
        Reply::Status(s) => put_line(buf, b'+', s),
        Reply::StatusOwned(s) => put_line(buf, b'+', s),
        Reply::Error(s) => put_line(buf, b'-', s),
        Reply::Int(n) => put_len_line(buf, b':', *n),
        Reply::Bulk(b) => put_bulk(buf, b),
        Reply::ShortBulk(b) => put_bulk(buf, b),
        Reply::Nil if resp3 => buf.put_slice(b"_\r\n"),
        Reply::Nil => buf.put_slice(b"$-1\r\n"),
        Reply::NilArray if resp3 => buf.put_slice(b"_\r\n"),
        Reply::NilArray => buf.put_slice(b"*-1\r\n"),
        Reply::Array(items) => {
            put_len_line(buf, b'*', items.len() as i64);
            for r in items {
                encode(r, proto, buf);
            }
        }
        Reply::Push(items) => {
            put_len_line(buf, if resp3 { b'>' } else { b'*' }, items.len() as i64);
            for r in items {
                encode(r, proto, buf);
            }
        }
        Reply::Set(items) => {
            put_len_line(buf, if resp3 { b'~' } else { b'*' }, items.len() as i64);
            for r in items {
                encode(r, proto, buf);
            }
        }
        Reply::Map(pairs) => {
            if resp3 {
                put_len_line(buf, b'%', pairs.len() as i64);
            } else {
                put_len_line(buf, b'*', 2 * pairs.len() as i64);
            }
            for (k, v) in pairs {
                encode(k, proto, buf);
                encode(v, proto, buf);
            }
        }
        Reply::Double(f) => {
            let s = format_double_reply(*f);
            if resp3 {
                put_line(buf, b',', &s);
            } else {
                put_bulk(buf, s.as_bytes());
            }
        }
        Reply::Bool(b) => {
            if resp3 {
                buf.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" });
            } else {
                buf.put_slice(if *b { b":1\r\n" } else { b":0\r\n" });
            }
        }
        Reply::Verbatim(b) => {
            if resp3 {
                put_len_line(buf, b'=', b.len() as i64 + 4);
                buf.put_slice(b"txt:");
                buf.put_slice(b);
                buf.put_slice(b"\r\n");
            } else {
                put_bulk(buf, b);
            }
        }
        Reply::BigNumber(b) => {
            if resp3 {
                buf.put_u8(b'(');
                buf.put_slice(b);
                buf.put_slice(b"\r\n");
            } else {
                put_bulk(buf, b);
            }
        }
        Reply::Raw(b) => buf.put_slice(b),
        Reply::None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_bulk_takes_no_more_room_and_encodes_as_a_bulk() {
        assert_eq!(std::mem::size_of::<Reply>(), std::mem::size_of::<Option<Reply>>());
        assert!(std::mem::size_of::<Reply>() <= 40);
        for len in [0, 1, SHORT_BULK_MAX, SHORT_BULK_MAX + 1] {
            let v = vec![b'x'; len];
            let r = Reply::bulk_from(&v);
            assert_eq!(matches!(r, Reply::ShortBulk(_)), len <= SHORT_BULK_MAX);
            assert_eq!(r.as_bulk(), Some(&v[..]));
            assert_eq!(r.to_bulk_bytes().as_deref(), Some(&v[..]));
            for proto in [2, 3] {
                let (mut a, mut b) = (BytesMut::new(), BytesMut::new());
                encode(&r, proto, &mut a);
                encode(&Reply::Bulk(Bytes::from(v.clone())), proto, &mut b);
                assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn a_push_message_is_an_array_in_resp2_and_a_push_in_resp3() {
        let parts: [&[u8]; 3] = [b"message", b"ch", b"hello"];
        let push = |proto| {
            let mut out = Vec::new();
            put_push(&mut out, proto, &parts);
            out
        };
        assert_eq!(push(2), b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n");
        assert_eq!(push(3), b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n");
        // The same bytes as the reply tree it replaces.
        let tree = Reply::Push(parts.iter().map(|p| Reply::Bulk(Bytes::copy_from_slice(p))).collect());
        for proto in [2, 3] {
            let mut b = BytesMut::new();
            encode(&tree, proto, &mut b);
            assert_eq!(push(proto), b);
            assert!(b.len() <= bulk_array_size(&parts), "the size bound holds");
        }
    }

    #[test]
    fn scores_print_as_redis_7_0() {
        let cases = [
            (0.1, "0.10000000000000001"),
            (1.5, "1.5"),
            (-0.0, "-0"),
            (3.0, "3"),
            (1e300, "1.0000000000000001e+300"),
            (1.5e-7, "1.4999999999999999e-07"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (1e16, "10000000000000000"),
            (0.0001, "0.0001"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (f, want) in cases {
            assert_eq!(format_double_reply(f), want);
        }
        for _ in 0..10_000 {
            let f = f64::from_bits(fastrand::u64(..));
            if f.is_finite() {
                assert_eq!(format_double_reply(f).parse::<f64>().ok(), Some(f), "{f:e}");
            }
        }
    }

    fn enc(r: &Reply, proto: u8) -> String {
        let mut b = BytesMut::new();
        encode(r, proto, &mut b);
        String::from_utf8_lossy(&b).into_owned()
    }

    #[test]
    fn resp2_and_resp3_nulls_differ() {
        assert_eq!(enc(&Reply::Nil, 2), "$-1\r\n");
        assert_eq!(enc(&Reply::NilArray, 2), "*-1\r\n");
        assert_eq!(enc(&Reply::Nil, 3), "_\r\n");
    }

    #[test]
    fn maps_flatten_on_resp2() {
        let m = Reply::Map(vec![(Reply::bulk_str("a"), Reply::Int(1))]);
        assert_eq!(enc(&m, 2), "*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&m, 3), "%1\r\n$1\r\na\r\n:1\r\n");
    }

    #[test]
    fn doubles_are_human() {
        assert_eq!(format_double(10.6), "10.6");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(1e20), "100000000000000000000");
        assert_eq!(enc(&Reply::Double(1.5), 3), ",1.5\r\n");
        assert_eq!(enc(&Reply::Double(1.5), 2), "$3\r\n1.5\r\n");
    }

    #[test]
    fn error_lines_lose_newlines() {
        assert_eq!(enc(&Reply::err("ERR a\r\nb"), 2), "-ERR a  b\r\n");
    }
}
