//! A resumable RESP2 + RESP3 reply reader: what the proxy uses to read its
//! backends' replies and the command-line client uses to read the server's.
//!
//! [`FrameReader`] keeps its position between calls: the bytes of a frame
//! are examined once in total however many reads it arrives in (a stack of
//! partly read aggregates and the offset reached are kept; at most the
//! header line of a bulk whose body is still missing is looked at again).
//! The buffer is left untouched until a whole top-level frame is there; then
//! its bytes are split off in one piece, so [`FrameReader::next_raw`] hands
//! back the exact bytes (to forward without re-encoding) and the frame's
//! strings share that one allocation (no copy).
//!
//! RESP3 attributes (`|`) are read and dropped (their bytes stay in the raw
//! form); streamed aggregates (`*?`, `$?`) are refused.

use bytes::{BufMut, Bytes, BytesMut};

/// Deepest nesting of aggregates accepted.
pub const MAX_DEPTH: usize = 128;
/// Largest bulk string accepted (Redis's `proto-max-bulk-len` default).
pub const MAX_BULK_LEN: usize = 512 * 1024 * 1024;
/// Largest aggregate length accepted.
pub const MAX_AGGREGATE_LEN: usize = i32::MAX as usize;
/// Longest line (simple string, error, double, big number) accepted.
pub const MAX_LINE_LEN: usize = 1024 * 1024;
/// Longest length/integer header line accepted (`:-9223372036854775808\r\n` fits).
const MAX_HEADER_LEN: usize = 32;

/// One RESP reply. Strings share the buffer the frame was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// `+text`
    Simple(Bytes),
    /// `-text` or RESP3 blob error `!len`; the text starts with the error code.
    Error(Bytes),
    /// `:n`
    Int(i64),
    /// `$len` bulk string; `None` is RESP2's `$-1`.
    Bulk(Option<Bytes>),
    /// `*n`; `None` is RESP2's `*-1`.
    Array(Option<Vec<Frame>>),
    /// RESP3 `%n` map, in wire order.
    Map(Vec<(Frame, Frame)>),
    /// RESP3 `~n` set.
    Set(Vec<Frame>),
    /// RESP3 `>n` push (out-of-band data).
    Push(Vec<Frame>),
    /// RESP3 `_` null.
    Null,
    /// RESP3 `,` double, as the text sent (`1.5`, `inf`, `nan`).
    Double(Bytes),
    /// RESP3 `#t` / `#f`.
    Bool(bool),
    /// RESP3 `=len` verbatim string: the payload including its `txt:` format prefix.
    Verbatim(Bytes),
    /// RESP3 `(` big number, as its decimal text.
    BigNumber(Bytes),
}

/// Malformed input. The stream cannot be resynchronised: close the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The first byte of a frame is not a RESP type byte.
    #[error("Protocol error: unknown reply type byte {0:?}")]
    BadType(char),
    /// A length, integer, boolean or header line is not well formed.
    #[error("Protocol error: invalid {0} line")]
    BadLine(&'static str),
    /// A line does not end in CRLF, or a bulk body is not followed by CRLF.
    #[error("Protocol error: missing CRLF")]
    MissingCrlf,
    /// A length above the limits.
    #[error("Protocol error: {0} too long")]
    TooLong(&'static str),
    /// Aggregates nested deeper than [`MAX_DEPTH`].
    #[error("Protocol error: frames nested too deep")]
    TooDeep,
}

/// A string-like frame's kind, with its bytes as a range of the frame's raw bytes.
#[derive(Debug, Clone, Copy)]
enum StrKind {
    Simple,
    Error,
    Double,
    Verbatim,
    BigNumber,
}

/// A frame while it is being read: strings are ranges of the raw bytes.
#[derive(Debug)]
enum Partial {
    Str(StrKind, usize, usize),
    Int(i64),
    Bulk(Option<(usize, usize)>),
    NullArray,
    Null,
    Bool(bool),
    Agg(AggKind, Vec<Partial>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AggKind {
    Array,
    Map,
    Set,
    Push,
    Attribute,
}

/// An aggregate whose elements are still being read.
#[derive(Debug)]
struct Level {
    kind: AggKind,
    remaining: usize,
    items: Vec<Partial>,
}

/// Resumable reader of RESP2/RESP3 frames. One per connection.
///
/// Between calls the caller may only append to the buffer; the bytes of an
/// incomplete frame must stay where they are (use [`FrameReader::reset`] after
/// throwing a buffer away).
#[derive(Debug, Default)]
pub struct FrameReader {
    /// Offset in the buffer where the next token of the current frame starts.
    pos: usize,
    /// How far a line search already looked (never re-scanned).
    scanned: usize,
    /// Open aggregates, outermost first.
    stack: Vec<Level>,
    /// Whether the frame in progress is being built (vs only validated).
    building: bool,
    /// Bytes looked at by line searches so far (tests check the reader is linear).
    #[cfg_attr(not(test), allow(dead_code))]
    examined: usize,
}

impl FrameReader {
    /// A reader with nothing read.
    pub fn new() -> FrameReader {
        FrameReader::default()
    }

    /// Forgets a partly read frame (after the caller dropped its buffer).
    pub fn reset(&mut self) {
        self.pos = 0;
        self.scanned = 0;
        self.stack.clear();
    }

    /// True when no frame is partly read.
    pub fn is_idle(&self) -> bool {
        self.pos == 0 && self.stack.is_empty()
    }

    /// The next complete frame, its bytes removed from `buf`; `Ok(None)` when
    /// more input is needed. O(bytes newly arrived) per call.
    pub fn next(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        Ok(self.next_raw(buf)?.map(|(f, _)| f))
    }

    /// Like [`FrameReader::next`], also giving the frame's exact bytes (the
    /// frame's strings are slices of them: no copy).
    pub fn next_raw(&mut self, buf: &mut BytesMut) -> Result<Option<(Frame, Bytes)>, FrameError> {
        let Some(p) = self.advance(buf, true)? else { return Ok(None) };
        let raw = self.take(buf);
        let frame = finish(p, &raw);
        Ok(Some((frame, raw)))
    }

    /// The next complete frame's bytes only, validated but not decoded (no
    /// allocation per element): the proxy's forwarding path.
    pub fn next_raw_only(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        match self.advance(buf, false)? {
            Some(_) => Ok(Some(self.take(buf))),
            None => Ok(None),
        }
    }

    fn take(&mut self, buf: &mut BytesMut) -> Bytes {
        let raw = buf.split_to(self.pos).freeze();
        self.pos = 0;
        self.scanned = 0;
        raw
    }

    /// Finds the end of the line starting at `self.pos`: the index of its `\r`.
    fn line(&mut self, buf: &[u8], limit: usize) -> Result<Option<usize>, FrameError> {
        let from = self.scanned.max(self.pos + 1).min(buf.len());
        let found = buf[from..].iter().position(|&c| c == b'\n');
        self.examined += found.map_or(buf.len() - from, |p| p + 1);
        let end = found.map_or(buf.len(), |p| from + p);
        if end - self.pos > limit + 2 {
            return Err(FrameError::TooLong("line"));
        }
        let Some(p) = found else {
            self.scanned = buf.len();
            return Ok(None);
        };
        self.scanned = 0;
        if buf[from + p - 1] != b'\r' {
            return Err(FrameError::MissingCrlf);
        }
        Ok(Some(from + p - 1))
    }

    /// Reads tokens until a top-level frame is complete (`Some`, with
    /// `self.pos` at its end) or the input runs out (`None`).
    fn advance(&mut self, buf: &[u8], build: bool) -> Result<Option<Partial>, FrameError> {
        if self.pos == 0 && self.stack.is_empty() {
            self.building = build;
        } else if self.building != build {
            // Switching modes mid-frame: start this frame over (correct, rare).
            self.reset();
            self.building = build;
        }
        while self.pos < buf.len() {
            let start = self.pos;
            let t = buf[start];
            let limit = if matches!(t, b'+' | b'-' | b',' | b'(') { MAX_LINE_LEN } else { MAX_HEADER_LEN };
            let Some(cr) = self.line(buf, limit)? else { return Ok(None) };
            let body = &buf[start + 1..cr];
            let next = cr + 2;
            let value = match t {
                b'+' => Some(Partial::Str(StrKind::Simple, start + 1, cr)),
                b'-' => Some(Partial::Str(StrKind::Error, start + 1, cr)),
                b',' => Some(Partial::Str(StrKind::Double, start + 1, cr)),
                b'(' => Some(Partial::Str(StrKind::BigNumber, start + 1, cr)),
                b':' => Some(Partial::Int(parse_int(body).ok_or(FrameError::BadLine("integer"))?)),
                b'_' if body.is_empty() => Some(Partial::Null),
                b'_' => return Err(FrameError::BadLine("null")),
                b'#' if body == b"t" || body == b"f" => Some(Partial::Bool(body == b"t")),
                b'#' => return Err(FrameError::BadLine("boolean")),
                b'$' | b'!' | b'=' => match parse_int(body).ok_or(FrameError::BadLine("bulk length"))? {
                    -1 if t == b'$' => Some(Partial::Bulk(None)),
                    n if n < 0 => return Err(FrameError::BadLine("bulk length")),
                    n if n as usize > MAX_BULK_LEN => return Err(FrameError::TooLong("bulk string")),
                    n => {
                        let (s, e) = (next, next + n as usize);
                        if buf.len() < e + 2 {
                            // Body incomplete: only this short header is read again next time.
                            self.scanned = 0;
                            return Ok(None);
                        }
                        if &buf[e..e + 2] != b"\r\n" {
                            return Err(FrameError::MissingCrlf);
                        }
                        if t == b'=' && (e - s < 4 || buf[s + 3] != b':') {
                            return Err(FrameError::BadLine("verbatim string"));
                        }
                        self.pos = e + 2;
                        Some(match t {
                            b'$' => Partial::Bulk(Some((s, e))),
                            b'!' => Partial::Str(StrKind::Error, s, e),
                            _ => Partial::Str(StrKind::Verbatim, s, e),
                        })
                    }
                },
                b'*' | b'%' | b'~' | b'>' | b'|' => match parse_int(body)
                    .ok_or(FrameError::BadLine("aggregate length"))?
                {
                    -1 if t == b'*' => Some(Partial::NullArray),
                    n if n < 0 => return Err(FrameError::BadLine("aggregate length")),
                    n if n as usize > MAX_AGGREGATE_LEN => return Err(FrameError::TooLong("aggregate")),
                    _ if self.stack.len() >= MAX_DEPTH => return Err(FrameError::TooDeep),
                    n => {
                        let n = n as usize;
                        let (kind, count) = match t {
                            b'*' => (AggKind::Array, n),
                            b'%' => (AggKind::Map, n * 2),
                            b'~' => (AggKind::Set, n),
                            b'>' => (AggKind::Push, n),
                            _ => (AggKind::Attribute, n * 2),
                        };
                        if count == 0 {
                            (kind != AggKind::Attribute).then(|| Partial::Agg(kind, Vec::new()))
                        } else {
                            let items = if self.building { Vec::with_capacity(count.min(1024)) } else { Vec::new() };
                            self.stack.push(Level { kind, remaining: count, items });
                            None
                        }
                    }
                },
                other => return Err(FrameError::BadType(other as char)),
            };
            if self.pos == start {
                self.pos = next;
            }
            if let Some(done) = value.and_then(|v| self.push(v)) {
                return Ok(Some(done));
            }
        }
        Ok(None)
    }

    /// Adds a finished value to the innermost open aggregate, closing every
    /// aggregate it completes. `Some` when the top-level frame is complete.
    fn push(&mut self, mut value: Partial) -> Option<Partial> {
        loop {
            let Some(top) = self.stack.last_mut() else { return Some(value) };
            if self.building {
                top.items.push(value);
            }
            top.remaining -= 1;
            if top.remaining > 0 {
                return None;
            }
            let level = self.stack.pop()?;
            if level.kind == AggKind::Attribute {
                // An attribute decorates the value after it: nothing to add.
                return None;
            }
            value = Partial::Agg(level.kind, level.items);
        }
    }
}

/// Parses a header's decimal integer (`-12`, `+3` refused like Redis does).
fn parse_int(b: &[u8]) -> Option<i64> {
    super::parse_decimal(b)
}

/// Turns a read frame into a [`Frame`] whose strings are slices of `raw`.
fn finish(p: Partial, raw: &Bytes) -> Frame {
    match p {
        Partial::Str(k, s, e) => {
            let b = raw.slice(s..e);
            match k {
                StrKind::Simple => Frame::Simple(b),
                StrKind::Error => Frame::Error(b),
                StrKind::Double => Frame::Double(b),
                StrKind::Verbatim => Frame::Verbatim(b),
                StrKind::BigNumber => Frame::BigNumber(b),
            }
        }
        Partial::Int(n) => Frame::Int(n),
        Partial::Bulk(r) => Frame::Bulk(r.map(|(s, e)| raw.slice(s..e))),
        Partial::NullArray => Frame::Array(None),
        Partial::Null => Frame::Null,
        Partial::Bool(b) => Frame::Bool(b),
        Partial::Agg(kind, items) => {
            let items: Vec<Frame> = items.into_iter().map(|i| finish(i, raw)).collect();
            match kind {
                AggKind::Map | AggKind::Attribute => {
                    let mut pairs = Vec::with_capacity(items.len() / 2);
                    let mut it = items.into_iter();
                    while let (Some(k), Some(v)) = (it.next(), it.next()) {
                        pairs.push((k, v));
                    }
                    Frame::Map(pairs)
                }
                AggKind::Array => Frame::Array(Some(items)),
                AggKind::Set => Frame::Set(items),
                AggKind::Push => Frame::Push(items),
            }
        }
    }
}

fn put_len(out: &mut BytesMut, prefix: u8, n: usize) {
    out.put_u8(prefix);
    out.put_slice(itoa::Buffer::new().format(n).as_bytes());
    out.put_slice(b"\r\n");
}

fn put_line(out: &mut BytesMut, prefix: u8, b: &[u8]) {
    out.put_u8(prefix);
    out.put_slice(b);
    out.put_slice(b"\r\n");
}

fn put_blob(out: &mut BytesMut, prefix: u8, b: &[u8]) {
    put_len(out, prefix, b.len());
    out.put_slice(b);
    out.put_slice(b"\r\n");
}

impl Frame {
    /// Writes the frame in RESP, byte for byte as it was read (an error
    /// holding CR or LF is written as a RESP3 blob error). O(size).
    pub fn write_to(&self, out: &mut BytesMut) {
        match self {
            Frame::Simple(b) => put_line(out, b'+', b),
            Frame::Error(b) if b.iter().any(|&c| c == b'\r' || c == b'\n') => put_blob(out, b'!', b),
            Frame::Error(b) => put_line(out, b'-', b),
            Frame::Int(n) => put_line(out, b':', itoa::Buffer::new().format(*n).as_bytes()),
            Frame::Bulk(None) => out.put_slice(b"$-1\r\n"),
            Frame::Bulk(Some(b)) => put_blob(out, b'$', b),
            Frame::Array(None) => out.put_slice(b"*-1\r\n"),
            Frame::Array(Some(items)) => write_items(out, b'*', items),
            Frame::Set(items) => write_items(out, b'~', items),
            Frame::Push(items) => write_items(out, b'>', items),
            Frame::Map(pairs) => {
                put_len(out, b'%', pairs.len());
                for (k, v) in pairs {
                    k.write_to(out);
                    v.write_to(out);
                }
            }
            Frame::Null => out.put_slice(b"_\r\n"),
            Frame::Double(b) => put_line(out, b',', b),
            Frame::Bool(b) => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Frame::Verbatim(b) => put_blob(out, b'=', b),
            Frame::BigNumber(b) => put_line(out, b'(', b),
        }
    }

    /// True for `-` and `!` errors.
    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_))
    }

    /// True for the nulls of both protocols (`$-1`, `*-1`, `_`).
    pub fn is_null(&self) -> bool {
        matches!(self, Frame::Null | Frame::Bulk(None) | Frame::Array(None))
    }

    /// The integer of an `Int` frame.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Frame::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The bytes of a string-like frame (simple, error, bulk, double, big
    /// number, verbatim with its format prefix).
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            Frame::Simple(b) | Frame::Error(b) | Frame::Double(b) | Frame::BigNumber(b) | Frame::Verbatim(b) => Some(b),
            Frame::Bulk(Some(b)) => Some(b),
            _ => None,
        }
    }

    /// The text of a string-like frame; a verbatim string loses its `txt:` prefix.
    pub fn text(&self) -> Option<&[u8]> {
        match self {
            Frame::Verbatim(b) if b.len() >= 4 => Some(&b[4..]),
            other => other.as_bytes().map(|b| &b[..]),
        }
    }

    /// The elements of an array, set or push frame.
    pub fn items(&self) -> Option<&[Frame]> {
        match self {
            Frame::Array(Some(v)) | Frame::Set(v) | Frame::Push(v) => Some(v),
            _ => None,
        }
    }
}

fn write_items(out: &mut BytesMut, prefix: u8, items: &[Frame]) {
    put_len(out, prefix, items.len());
    for i in items {
        i.write_to(out);
    }
}

#[cfg(test)]
mod tests;
