//! The request parser: RESP multibulk and inline commands, resumable.
//!
//! The parser keeps its position between calls, so a request that arrives
//! in many TCP segments is scanned once in total (O(n) in its size, never
//! re-parsed from its first byte). Arguments share the read buffer (a
//! reference count, no copy), except big ones in a parser made with
//! [`RequestParser::exact_big_args`]: those are each handed out in an
//! allocation of their own, exactly their size, so a command may keep one
//! as a stored value without copying it and without pinning a network
//! buffer (Redis's `PROTO_MBULK_BIG_ARG` path). Limits and error texts are
//! those of Redis 7 (`networking.c`): after any [`ProtocolError`] the
//! connection is closed once the error reply has been written.

use bytes::{Buf, Bytes, BytesMut};

use super::inline::split_args;

/// Longest inline request or multibulk/bulk header line Redis accepts (64 KiB).
pub const MAX_INLINE_SIZE: usize = 64 * 1024;
/// Largest multibulk count accepted (Redis: `INT_MAX`).
pub const MAX_MULTIBULK_LEN: i64 = i32::MAX as i64;
/// Count/length limits before a client authenticated (Redis 7 values).
const UNAUTH_MAX_MULTIBULK: i64 = 10;
const UNAUTH_MAX_BULK: i64 = 16384;
/// Bulks at least this long are big arguments (Redis's `PROTO_MBULK_BIG_ARG`):
/// see [`RequestParser::exact_big_args`].
pub const BIG_ARG: usize = 32 * 1024;

/// A malformed request. `Display` gives the exact Redis error line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("ERR Protocol error: too big inline request")]
    TooBigInline,
    #[error("ERR Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    #[error("ERR Protocol error: too big mbulk count string")]
    TooBigMultibulkCount,
    #[error("ERR Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    #[error("ERR Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    #[error("ERR Protocol error: too big bulk count string")]
    TooBigBulkCount,
    #[error("ERR Protocol error: expected '$', got '{0}'")]
    ExpectedDollar(char),
    #[error("ERR Protocol error: invalid bulk length")]
    InvalidBulkLength,
    #[error("ERR Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulkLength,
}

#[derive(Debug)]
enum State {
    /// Waiting for the first byte of a request.
    Start,
    /// Inside a multibulk: `remaining` arguments still to read.
    Args { remaining: usize },
    /// Reading the body of a bulk of `len` bytes (plus CRLF); `own`: into
    /// a buffer of its own (the general one set aside meanwhile, or a
    /// predicted read's buffer, which ends `slack` bytes after the bulk's
    /// CRLF: room for the rest of the request).
    Body { remaining: usize, len: usize, own: bool, slack: usize },
}

/// Resumable parser for client requests. One per connection.
#[derive(Debug)]
pub struct RequestParser {
    state: State,
    args: Vec<Bytes>,
    /// `args` holds a request handed out by [`RequestParser::parse_next`]:
    /// cleared (capacity kept) when the next one starts.
    handed_out: bool,
    /// How far into the buffer a line search already looked (avoids re-scanning).
    scanned: usize,
    max_bulk_len: i64,
    /// Hand out big arguments exactly sized (see [`RequestParser::exact_big_args`]).
    exact_big: bool,
    /// The request being parsed, or else the last one, has a big argument.
    big_seen: bool,
    /// The general read buffer, emptied and set aside while a big argument
    /// is received into its own (reused after it).
    set_aside: Option<BytesMut>,
    /// Bytes of the request being parsed consumed so far.
    req_consumed: usize,
    /// Where the first big argument of the request being parsed ends
    /// (its CRLF included), counted from the request's first byte.
    first_big_end: Option<usize>,
    /// What a read sized for the next request should take (see
    /// [`RequestParser::predicted_read`]).
    predicted: Option<usize>,
    /// The buffer was made for a predicted read: a big argument that ends
    /// at most [`MAX_PREDICTED_SUFFIX`] bytes before its end is handed out
    /// in place.
    armed: bool,
}

/// Longest request prefix before a big argument for which reads are
/// predicted (see [`RequestParser::predicted_read`]): the prefix stays
/// allocated with the argument.
pub const MAX_PREDICTED_PREFIX: usize = 4 * 1024;
/// Longest rest of a request after its big argument (`EX 60`, `KEEPTTL`)
/// that a predicted read includes; it too stays allocated with the
/// argument. A request with more after its big argument is predicted up
/// to the argument's end.
pub const MAX_PREDICTED_SUFFIX: usize = 256;

impl Default for RequestParser {
    fn default() -> Self {
        Self::new(512 * 1024 * 1024)
    }
}

impl RequestParser {
    /// A parser accepting bulks up to `max_bulk_len` bytes (`proto-max-bulk-len`).
    pub fn new(max_bulk_len: i64) -> Self {
        RequestParser {
            state: State::Start,
            args: Vec::new(),
            handed_out: false,
            scanned: 0,
            max_bulk_len,
            exact_big: false,
            big_seen: false,
            set_aside: None,
            req_consumed: 0,
            first_big_end: None,
            predicted: None,
            armed: false,
        }
    }

    /// Makes every argument of at least [`BIG_ARG`] bytes span an allocation
    /// of its own, of exactly its size: what the caller may store as a value
    /// without copying it (see [`RequestParser::big_arg_room`]). A big bulk
    /// not yet complete when its header is read is received, as Redis does,
    /// into a buffer of its own: what had arrived of it is copied there
    /// once (at most one read's worth: see [`RequestParser::expects_big_arg`]),
    /// the rest is read into it directly; after it the general buffer has
    /// room for another as big, as Redis sizes its query buffer. One that
    /// arrived whole inside a larger read is copied out. Costs nothing for
    /// smaller arguments.
    pub fn exact_big_args(mut self) -> Self {
        self.exact_big = true;
        self
    }

    /// Whether [`RequestParser::exact_big_args`] applies. O(1).
    pub fn hands_out_exact_big_args(&self) -> bool {
        self.exact_big
    }

    /// Whether the next read should be a small one (at most 16 KiB, as
    /// Redis reads): when big arguments are being sent, a large read would
    /// take in much of the next one's start, all of which is then copied.
    /// Guessed from the request being parsed or the last one (as Redis
    /// guesses that a big argument is followed by others). O(1).
    pub fn expects_big_arg(&self) -> bool {
        self.exact_big && self.big_seen
    }

    /// When the parser is receiving a big argument into its own buffer:
    /// how many bytes of it are still to come (`buffered` bytes are in the
    /// buffer). The next read must make room for exactly that many, so it
    /// stops at the argument's end and the allocation stays exact.
    pub fn big_arg_room(&self, buffered: usize) -> Option<usize> {
        match self.state {
            State::Body { len, own: true, slack, .. } => Some((len + 2 + slack).saturating_sub(buffered)),
            _ => None,
        }
    }

    /// How many bytes the next read should take when it starts a request
    /// (nothing buffered), when the last request had a big argument after
    /// a prefix of at most [`MAX_PREDICTED_PREFIX`] bytes: that request's
    /// length, or its length up to the argument's end if more than
    /// [`MAX_PREDICTED_SUFFIX`] bytes followed it. Clients that send big
    /// values send them in requests of one shape (`SET key value`, `SET key
    /// value EX 60`), so a buffer of exactly that size, made ready with
    /// [`RequestParser::arm_predicted_read`], usually receives the next
    /// request, or its start and its big argument, in one read: the
    /// argument is then handed out in place, without a copy, the bytes
    /// around it in the buffer staying allocated with it. Where the guess
    /// is wrong the argument is copied once, as without a guess. O(1).
    pub fn predicted_read(&self) -> Option<usize> {
        self.predicted.filter(|_| self.exact_big && self.is_idle())
    }

    /// Tells the parser that the (empty) buffer it is given next was made
    /// with exactly [`RequestParser::predicted_read`] bytes of room, for one
    /// read (or more, if that one brings less). Lasts until the request it
    /// starts is complete. O(1).
    pub fn arm_predicted_read(&mut self) {
        self.armed = true;
    }

    /// When the bulk of `len` bytes starting at the front of `buf`, after
    /// `prefix` bytes of its request, may be kept in place in a predicted
    /// read's buffer: how many bytes that buffer has room for after the
    /// bulk's CRLF. Only for a big bulk in a buffer made for a predicted
    /// read, at most [`MAX_PREDICTED_PREFIX`] bytes into its request and
    /// with at most [`MAX_PREDICTED_SUFFIX`] bytes of room after it, so a
    /// kept value holds little else. O(1).
    fn predicted_slack(&self, buf: &BytesMut, len: usize, prefix: usize) -> Option<usize> {
        if !self.armed || len < BIG_ARG || prefix > MAX_PREDICTED_PREFIX {
            return None;
        }
        buf.capacity().checked_sub(len + 2).filter(|&s| s <= MAX_PREDICTED_SUFFIX)
    }

    /// Changes the bulk limit (CONFIG SET proto-max-bulk-len).
    pub fn set_max_bulk_len(&mut self, n: i64) {
        self.max_bulk_len = n;
    }

    /// How many more bytes the current request needs at least, when the
    /// parser knows (inside a large bulk); lets the reader reserve once.
    pub fn needed(&self) -> usize {
        match self.state {
            State::Body { len, .. } => len + 2,
            _ => 0,
        }
    }

    /// True when no request is partly parsed.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Start)
    }

    /// Finds `\n` in `buf` starting where the last search stopped.
    fn find_newline(&mut self, buf: &BytesMut) -> Option<usize> {
        let from = self.scanned.min(buf.len());
        match buf[from..].iter().position(|&c| c == b'\n') {
            Some(p) => {
                self.scanned = 0;
                Some(from + p)
            }
            None => {
                self.scanned = buf.len();
                None
            }
        }
    }

    /// Parses the next complete request from `buf`, consuming its bytes.
    ///
    /// Returns `Ok(None)` when more input is needed, `Ok(Some(args))` for a
    /// request (never empty), or an error after which the connection must be
    /// closed. `authenticated` applies Redis's tighter limits to clients that
    /// have not authenticated yet.
    pub fn parse(&mut self, buf: &mut BytesMut, authenticated: bool) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        self.release();
        Ok(self.step(buf, authenticated)?.then(|| std::mem::take(&mut self.args)))
    }

    /// As [`RequestParser::parse`], lending the request instead of giving
    /// it away: its argument vector is reused by the next request (no
    /// allocation per request on a connection). The vector itself is lent,
    /// not a slice of it: a slice is returned as its pointer and length,
    /// reloaded at once from where they were just stored separately, a
    /// store-forwarding stall (`parse/pipeline_1000_set_lent`: 67-69 µs a
    /// thousand SETs before, 60-62 after, alternating, pinned).
    pub fn parse_next(
        &mut self,
        buf: &mut BytesMut,
        authenticated: bool,
    ) -> Result<Option<&Vec<Bytes>>, ProtocolError> {
        self.release();
        if self.step(buf, authenticated)? {
            self.handed_out = true;
            return Ok(Some(&self.args));
        }
        Ok(None)
    }

    /// Drops the arguments of a request handed out before (keeping the
    /// vector unless a huge request grew it).
    fn release(&mut self) {
        if std::mem::take(&mut self.handed_out) {
            if self.args.capacity() > 1024 {
                self.args = Vec::new();
            } else {
                self.args.clear();
            }
        }
    }

    /// Parses until a request is complete in `self.args` (true) or more
    /// input is needed (false).
    fn step(&mut self, buf: &mut BytesMut, authenticated: bool) -> Result<bool, ProtocolError> {
        loop {
            match self.state {
                State::Start => {
                    if buf.is_empty() {
                        return Ok(false);
                    }
                    self.big_seen = false;
                    if authenticated && self.take_whole(buf) {
                        self.predicted = None;
                        self.armed = false;
                        return Ok(true);
                    }
                    if buf[0] == b'*' {
                        let Some(nl) = self.find_newline(buf) else {
                            if buf.len() > MAX_INLINE_SIZE {
                                return Err(ProtocolError::TooBigMultibulkCount);
                            }
                            return Ok(false);
                        };
                        let n = parse_header_int(&buf[1..nl])
                            .filter(|n| *n <= MAX_MULTIBULK_LEN)
                            .ok_or(ProtocolError::InvalidMultibulkLength)?;
                        if !authenticated && n > UNAUTH_MAX_MULTIBULK {
                            return Err(ProtocolError::UnauthenticatedMultibulkLength);
                        }
                        buf.advance(nl + 1);
                        if n <= 0 {
                            // `*0` and `*-1` are empty requests: skipped silently.
                            continue;
                        }
                        self.req_consumed = nl + 1;
                        self.first_big_end = None;
                        self.args.clear();
                        self.args.reserve((n as usize).min(1024));
                        self.state = State::Args { remaining: n as usize };
                    } else {
                        let Some(nl) = self.find_newline(buf) else {
                            if buf.len() > MAX_INLINE_SIZE {
                                return Err(ProtocolError::TooBigInline);
                            }
                            return Ok(false);
                        };
                        let line = buf.split_to(nl + 1);
                        let mut line = &line[..nl];
                        if line.last() == Some(&b'\r') {
                            line = &line[..line.len() - 1];
                        }
                        let args = split_args(line).ok_or(ProtocolError::UnbalancedQuotes)?;
                        if args.is_empty() {
                            continue;
                        }
                        self.predicted = None;
                        self.args = args;
                        return Ok(true);
                    }
                }
                State::Args { remaining } => {
                    if remaining == 0 {
                        self.state = State::Start;
                        self.armed = false;
                        let whole = self.req_consumed;
                        self.predicted =
                            self.first_big_end.map(|end| if whole - end <= MAX_PREDICTED_SUFFIX { whole } else { end });
                        return Ok(true);
                    }
                    if buf.is_empty() {
                        return Ok(false);
                    }
                    if buf[0] != b'$' {
                        return Err(ProtocolError::ExpectedDollar(buf[0] as char));
                    }
                    let Some(nl) = self.find_newline(buf) else {
                        if buf.len() > MAX_INLINE_SIZE {
                            return Err(ProtocolError::TooBigBulkCount);
                        }
                        return Ok(false);
                    };
                    let len = parse_header_int(&buf[1..nl])
                        .filter(|n| *n >= 0 && *n <= self.max_bulk_len)
                        .ok_or(ProtocolError::InvalidBulkLength)?;
                    if !authenticated && len > UNAUTH_MAX_BULK {
                        return Err(ProtocolError::UnauthenticatedBulkLength);
                    }
                    buf.advance(nl + 1);
                    self.req_consumed += nl + 1;
                    let len = len as usize;
                    self.big_seen |= len >= BIG_ARG;
                    if len >= BIG_ARG && self.first_big_end.is_none() && self.req_consumed <= MAX_PREDICTED_PREFIX {
                        self.first_big_end = Some(self.req_consumed + len + 2);
                    }
                    let own = self.exact_big && len >= BIG_ARG && buf.len() < len + 2;
                    // A predicted read's buffer ending shortly after this
                    // bulk, which starts early in it, is already its own:
                    // the rest is read into it.
                    let slack = if own { self.predicted_slack(buf, len, self.req_consumed) } else { None };
                    let in_place = slack.is_some();
                    if own && !in_place {
                        // Everything buffered belongs to this bulk.
                        let mut exact = BytesMut::with_capacity(len + 2);
                        exact.extend_from_slice(buf);
                        let mut general = std::mem::replace(buf, exact);
                        general.clear();
                        self.set_aside = Some(general);
                    }
                    self.state = State::Body { remaining, len, own, slack: slack.unwrap_or(0) };
                }
                State::Body { remaining, len, own, slack } => {
                    if buf.len() < len + 2 {
                        return Ok(false);
                    }
                    // Redis does not check the trailing CRLF's content, only skips it.
                    let prefix = self.req_consumed;
                    self.req_consumed += len + 2;
                    let arg = if own {
                        let mut general = self.set_aside.take().unwrap_or_default();
                        // Room for another argument this big, as Redis sizes the
                        // query buffer after one (reads into it stay one
                        // `READ_CHUNK` each; the clients cron trims it),
                        // unless the next read is a predicted one.
                        if !self.armed {
                            general.reserve(len + 2);
                        }
                        let mut whole = std::mem::replace(buf, general);
                        // Exactly sized (with its predicted slack) unless the
                        // caller grew the buffer: then copied out.
                        let arg = if whole.capacity() == len + 2 + slack {
                            whole.split_to(len).freeze()
                        } else {
                            let arg = Bytes::copy_from_slice(&whole[..len]);
                            whole.advance(len);
                            arg
                        };
                        // Left: the CRLF, then whatever followed it.
                        buf.extend_from_slice(&whole[2..]);
                        arg
                    } else if self.predicted_slack(buf, len, prefix).is_some() {
                        // A predicted read that ends with or shortly after
                        // this bulk.
                        let arg = buf.split_to(len).freeze();
                        buf.advance(2);
                        arg
                    } else if self.exact_big && len >= BIG_ARG {
                        let arg = Bytes::copy_from_slice(&buf[..len]);
                        buf.advance(len + 2);
                        arg
                    } else {
                        // Shares the input buffer (a reference count, no
                        // allocation or copy); the buffer's memory is reused
                        // once every argument of the batch is dropped.
                        let arg = buf.split_to(len).freeze();
                        buf.advance(2);
                        arg
                    };
                    self.args.push(arg);
                    self.state = State::Args { remaining: remaining - 1 };
                }
            }
        }
    }
}

/// Most arguments a request may have for [`RequestParser::take_whole`].
const WHOLE_MAX_ARGS: usize = 32;

/// Reads the decimal digits of a header at `b[at..]` up to its `\r\n`:
/// `(value, index after the \n)`. `None` for anything but 1 to 9 plain
/// digits followed by CRLF (the general path parses those).
#[inline]
fn header_at(b: &[u8], mut at: usize) -> Option<(usize, usize)> {
    let start = at;
    let mut v = 0usize;
    while let Some(&c) = b.get(at) {
        if !c.is_ascii_digit() || at - start == 9 {
            break;
        }
        v = v * 10 + (c - b'0') as usize;
        at += 1;
    }
    if at == start || b.get(at..at + 2) != Some(b"\r\n") {
        return None;
    }
    Some((v, at + 2))
}

impl RequestParser {
    /// The fast path for what pipelining clients send: a multibulk request
    /// that is whole in `buf`, with at most [`WHOLE_MAX_ARGS`] arguments
    /// shorter than [`BIG_ARG`] and well-formed headers, is checked in one
    /// pass and then cut into its arguments with one split each (the
    /// general path's separate steps for each header and CRLF, each a call
    /// into `bytes`, were about a third of parsing a SET). Anything else,
    /// including every malformed request, is left to the general path:
    /// false, nothing consumed. O(request size).
    fn take_whole(&mut self, buf: &mut BytesMut) -> bool {
        let b = &buf[..];
        if b.first() != Some(&b'*') {
            return false;
        }
        let Some((n, mut at)) = header_at(b, 1) else { return false };
        if n == 0 || n > WHOLE_MAX_ARGS {
            return false;
        }
        // (bytes before the argument, its length), from its header's start.
        let mut spans = [(0u32, 0u32); WHOLE_MAX_ARGS];
        let mut from = 0;
        for span in &mut spans[..n] {
            if b.get(at) != Some(&b'$') {
                return false;
            }
            let Some((len, body)) = header_at(b, at + 1) else { return false };
            if len >= BIG_ARG || len as i64 > self.max_bulk_len || b.len() < body + len + 2 {
                return false;
            }
            *span = ((body - from) as u32, len as u32);
            at = body + len + 2;
            from = at;
        }
        self.args.clear();
        self.args.reserve(n);
        let req = buf.split_to(at).freeze();
        let mut pos = 0;
        for &(skip, len) in &spans[..n] {
            let start = pos + skip as usize;
            pos = start + len as usize + 2;
            self.args.push(req.slice(start..pos - 2));
        }
        self.scanned = 0;
        true
    }
}

/// Parses the integer of a `*n\r` / `$n\r` header line (the `\n` excluded).
fn parse_header_int(line: &[u8]) -> Option<i64> {
    super::parse_decimal(line.strip_suffix(b"\r").unwrap_or(line))
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
