//! Reading a subscriber connection: a published message is recognised
//! from its bytes, without decoding it into a [`Frame`].
//!
//! Why: a subscribed client's traffic is almost all `message` pushes, each
//! forwarded as it came. Decoding one into a `Frame` (a vector of
//! reference-counted slices) to read its channel cost most of the proxy's
//! time per message (`perf record` of the fan-out benchmark: the frame
//! reader, the slices' reference counts and the allocations, about 40%).
//! Frames are still validated by the shared [`FrameReader`]; only the
//! decoding is skipped.

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use inmemory::protocol::frame::{Frame, FrameError, FrameReader};

/// The three kinds of published message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Published {
    /// `message channel payload`.
    Message,
    /// `pmessage pattern channel payload`.
    Pmessage,
    /// `smessage channel payload`.
    Smessage,
}

/// One frame read from a subscriber connection.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// A published message: `name` is where its channel (for `pmessage`,
    /// its pattern) lies in `raw`.
    Message { kind: Published, name: Range<usize>, raw: Bytes },
    /// Anything else (a confirmation, a PONG, an error), decoded.
    Other(Frame, Bytes),
}

#[cfg(test)]
impl Incoming {
    /// The frame's bytes as the server sent them.
    pub(crate) fn raw(&self) -> &Bytes {
        match self {
            Incoming::Message { raw, .. } | Incoming::Other(_, raw) => raw,
        }
    }
}

/// The next complete frame in `buf`, if there is one. O(frame size); a
/// message costs no allocation.
pub(crate) fn next(reader: &mut FrameReader, buf: &mut BytesMut) -> Result<Option<Incoming>, FrameError> {
    let Some(raw) = reader.next_raw_only(buf)? else { return Ok(None) };
    if let Some((kind, name)) = message_of(&raw) {
        return Ok(Some(Incoming::Message { kind, name, raw }));
    }
    Ok(Some(Incoming::Other(decode(&raw)?, raw)))
}

/// Decodes one complete, validated frame.
pub(crate) fn decode(raw: &[u8]) -> Result<Frame, FrameError> {
    let mut buf = BytesMut::from(raw);
    // Never `None`: the reader has already found the whole frame in `raw`.
    FrameReader::new().next(&mut buf)?.ok_or(FrameError::MissingCrlf)
}

/// Whether `raw`, one validated frame, is a published message: an array
/// (RESP2) or push (RESP3) of bulk strings `message`/`smessage` and two
/// more, or `pmessage` and three more; and if so where its second element
/// lies.
fn message_of(raw: &[u8]) -> Option<(Published, Range<usize>)> {
    if !matches!(raw.first(), Some(b'*' | b'>')) {
        return None;
    }
    let (count, at) = line(raw, 1)?;
    let (word, at) = bulk(raw, at)?;
    let published = match (word, count) {
        (b"message", b"3") => Published::Message,
        (b"smessage", b"3") => Published::Smessage,
        (b"pmessage", b"4") => Published::Pmessage,
        _ => return None,
    };
    let name = bulk_range(raw, at)?.0;
    Some((published, name))
}

/// The line starting at `at` (without its CRLF) and where the next one
/// starts.
fn line(raw: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let rel = raw.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
    Some((&raw[at..at + rel], at + rel + 2))
}

/// The bulk string starting at `at`: its content's range and where the
/// next element starts.
fn bulk_range(raw: &[u8], at: usize) -> Option<(Range<usize>, usize)> {
    if raw.get(at) != Some(&b'$') {
        return None;
    }
    let (len, start) = line(raw, at + 1)?;
    let len: usize = std::str::from_utf8(len).ok()?.parse().ok()?;
    let end = start.checked_add(len)?;
    (raw.get(end..end + 2)? == b"\r\n").then_some((start..end, end + 2))
}

/// The bulk string starting at `at` and where the next element starts.
fn bulk(raw: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let (r, next) = bulk_range(raw, at)?;
    Some((&raw[r], next))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8]) -> Vec<Incoming> {
        let mut buf = BytesMut::from(bytes);
        let mut reader = FrameReader::new();
        let mut out = Vec::new();
        while let Some(f) = next(&mut reader, &mut buf).expect("valid frames") {
            out.push(f);
        }
        assert!(buf.is_empty());
        out
    }

    #[test]
    fn messages_are_recognised_in_both_protocols_and_the_rest_decoded() {
        let stream = b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n\
            >4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$0\r\n\r\n\
            >3\r\n$8\r\nsmessage\r\n$3\r\n{a}\r\n$1\r\nx\r\n\
            *3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n\
            *3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$-1\r\n\
            *2\r\n$7\r\nmessage\r\n$4\r\nnews\r\n\
            +PONG\r\n";
        let got = read_all(stream);
        assert_eq!(got.len(), 7);
        let name = |i: usize| match &got[i] {
            Incoming::Message { kind, name, raw } => Some((*kind, raw[name.clone()].to_vec())),
            Incoming::Other(..) => None,
        };
        assert_eq!(name(0), Some((Published::Message, b"news".to_vec())));
        assert_eq!(name(1), Some((Published::Pmessage, b"n*".to_vec())));
        assert_eq!(name(2), Some((Published::Smessage, b"{a}".to_vec())));
        // Only the first two elements are looked at: the payload is
        // forwarded as it came, whatever it is.
        assert_eq!(name(4), Some((Published::Message, b"news".to_vec())));
        // A confirmation, a message of the wrong length and a PONG are
        // decoded instead.
        for i in [3, 5, 6] {
            assert_eq!(name(i), None, "frame {i}");
        }
        // Every frame keeps its bytes, in order.
        let joined: Vec<u8> = got.iter().flat_map(|f| f.raw().to_vec()).collect();
        assert_eq!(joined, stream);
    }

    #[test]
    fn a_message_split_across_reads_is_read_once_whole() {
        let msg = b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n";
        let mut reader = FrameReader::new();
        let mut buf = BytesMut::new();
        for (i, b) in msg.iter().enumerate() {
            buf.extend_from_slice(&[*b]);
            let got = next(&mut reader, &mut buf).expect("valid so far");
            assert_eq!(got.is_some(), i + 1 == msg.len(), "after {} bytes", i + 1);
        }
    }
}
