//! The buffered, byte-counting, checksumming input the RDB reader reads
//! through, with the RDB primitives: lengths, strings in every encoding
//! (raw, integer, LZF) and elements. Every length taken from the input is
//! treated as untrusted: buffers grow only as data actually arrives.

use std::io::{self, BufRead, BufReader, Read};

use super::elements::write_decimal;
use super::op;
use super::{crc64, lzf, Elements, RdbError};

/// Buffer size of the internal `BufReader`.
const READ_BUF: usize = 64 * 1024;
/// Strings longer than this are read in steps of this size, so a bogus huge
/// length in a truncated file fails at end of input instead of allocating;
/// reused buffers grown past it are freed.
pub(super) const CHUNK: usize = 1 << 20;

/// A length field: either a plain length or the "special encoding" marker
/// with its 6-bit kind.
pub(super) enum Len {
    Plain(u64),
    Encoded(u8),
}

/// Buffered input that tracks the byte offset and the running CRC-64.
pub(super) struct Input<R: Read> {
    inner: BufReader<R>,
    /// Bytes consumed so far.
    pub(super) offset: u64,
    /// CRC-64 of the bytes consumed so far.
    pub(super) crc: u64,
    /// Reused for the compressed bytes of LZF strings.
    lzf_in: Vec<u8>,
    /// Reused for nested blobs (listpacks, ziplists, zipmaps).
    pub(super) blob: Vec<u8>,
}

pub(super) fn corrupt(offset: u64, reason: impl Into<String>) -> RdbError {
    RdbError::Corrupt { offset, reason: reason.into() }
}

fn io_error(offset: u64, e: io::Error) -> RdbError {
    RdbError::Io(io::Error::new(e.kind(), format!("at byte offset {offset}: {e}")))
}

impl<R: Read> Input<R> {
    pub(super) fn new(r: R) -> Self {
        Input { inner: BufReader::with_capacity(READ_BUF, r), offset: 0, crc: 0, lzf_in: Vec::new(), blob: Vec::new() }
    }

    /// Fills `buf` completely or reports where the input ended.
    pub(super) fn read_exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), RdbError> {
        self.fill(buf, what, self.offset, buf.len() as u64)
    }

    /// Fills `buf`, which is part of an item of `total` bytes starting at
    /// `start` (used in the end-of-file message).
    pub(super) fn fill(&mut self, buf: &mut [u8], what: &str, start: u64, total: u64) -> Result<(), RdbError> {
        let mut filled = 0usize;
        while filled < buf.len() {
            let avail = match self.inner.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(self.offset, e)),
            };
            if avail.is_empty() {
                return Err(corrupt(
                    self.offset,
                    format!("unexpected end of file: {what} of {total} bytes starting at offset {start} is cut short"),
                ));
            }
            let n = avail.len().min(buf.len() - filled);
            let dst = &mut buf[filled..filled + n];
            dst.copy_from_slice(&avail[..n]);
            self.crc = crc64(self.crc, dst);
            self.inner.consume(n);
            self.offset += n as u64;
            filled += n;
        }
        Ok(())
    }

    pub(super) fn read_u8(&mut self, what: &str) -> Result<u8, RdbError> {
        let mut b = [0u8; 1];
        self.read_exact(&mut b, what)?;
        Ok(b[0])
    }

    pub(super) fn read_array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], RdbError> {
        let mut b = [0u8; N];
        self.read_exact(&mut b, what)?;
        Ok(b)
    }

    /// Appends `len` bytes to `v` (sized exactly when it was empty),
    /// growing it only as data arrives.
    pub(super) fn read_append(&mut self, v: &mut Vec<u8>, len: u64, what: &str) -> Result<(), RdbError> {
        let start = self.offset;
        let len =
            usize::try_from(len).map_err(|_| corrupt(start, format!("{what}: length {len} does not fit in memory")))?;
        let base = v.len();
        if len <= CHUNK {
            if v.is_empty() {
                v.reserve_exact(len);
            }
            v.resize(base + len, 0);
            return self.read_exact(&mut v[base..], what);
        }
        while v.len() - base < len {
            let old = v.len();
            let n = CHUNK.min(len - (old - base));
            v.resize(old + n, 0);
            self.fill(&mut v[old..], what, start, len as u64)?;
        }
        Ok(())
    }

    pub(super) fn read_len_raw(&mut self, what: &str) -> Result<Len, RdbError> {
        let start = self.offset;
        let b = self.read_u8(what)?;
        Ok(match b >> 6 {
            0 => Len::Plain(u64::from(b & 0x3f)),
            1 => {
                let lo = self.read_u8(what)?;
                Len::Plain((u64::from(b & 0x3f) << 8) | u64::from(lo))
            }
            2 => match b {
                op::LEN_32BIT => Len::Plain(u64::from(u32::from_be_bytes(self.read_array(what)?))),
                op::LEN_64BIT => Len::Plain(u64::from_be_bytes(self.read_array(what)?)),
                _ => return Err(corrupt(start, format!("{what}: invalid length encoding byte {b:#04x}"))),
            },
            _ => Len::Encoded(b & 0x3f),
        })
    }

    /// Reads a plain length (an encoded-value marker here is corruption).
    pub(super) fn read_len(&mut self, what: &str) -> Result<u64, RdbError> {
        let start = self.offset;
        match self.read_len_raw(what)? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(k) => {
                Err(corrupt(start, format!("{what}: expected a length, found string encoding marker {k}")))
            }
        }
    }

    /// Reads an RDB string in any of its encodings (raw, int, LZF),
    /// appending it to `out` (sized exactly when it was empty).
    pub(super) fn read_string_into(&mut self, out: &mut Vec<u8>, what: &str) -> Result<(), RdbError> {
        let start = self.offset;
        match self.read_len_raw(what)? {
            Len::Plain(n) => self.read_append(out, n, what),
            Len::Encoded(op::ENC_INT8) => {
                let [b] = self.read_array::<1>(what)?;
                write_decimal(out, i64::from(b as i8));
                Ok(())
            }
            Len::Encoded(op::ENC_INT16) => {
                write_decimal(out, i64::from(i16::from_le_bytes(self.read_array(what)?)));
                Ok(())
            }
            Len::Encoded(op::ENC_INT32) => {
                write_decimal(out, i64::from(i32::from_le_bytes(self.read_array(what)?)));
                Ok(())
            }
            Len::Encoded(op::ENC_LZF) => {
                let clen = self.read_len(what)?;
                let ulen = self.read_len(what)?;
                let ulen = usize::try_from(ulen)
                    .map_err(|_| corrupt(start, format!("{what}: LZF length {ulen} does not fit in memory")))?;
                let mut packed = std::mem::take(&mut self.lzf_in);
                packed.clear();
                let read = self.read_append(&mut packed, clen, what);
                let r = read.and_then(|()| {
                    lzf::decompress_into(&packed, ulen, out)
                        .map_err(|reason| corrupt(start, format!("{what}: {reason}")))
                });
                keep_scratch(&mut self.lzf_in, packed);
                r
            }
            Len::Encoded(k) => Err(corrupt(start, format!("{what}: unknown string encoding {k}"))),
        }
    }

    /// Reads an RDB string into a new vector.
    pub(super) fn read_string(&mut self, what: &str) -> Result<Vec<u8>, RdbError> {
        let mut v = Vec::new();
        self.read_string_into(&mut v, what)?;
        Ok(v)
    }

    /// Reads one string as a new element of `out`. An empty string is an
    /// error when `nonempty` (a quicklist node).
    pub(super) fn read_element(&mut self, out: &mut Elements, what: &str, nonempty: bool) -> Result<(), RdbError> {
        let off = self.offset;
        let before = out.open_buffer().len();
        self.read_string_into(out.open_buffer(), what)?;
        if nonempty && out.open_buffer().len() == before {
            return Err(corrupt(off, format!("{what} is empty")));
        }
        out.end_element();
        Ok(())
    }
}

/// Puts a scratch buffer back for reuse, unless it grew huge.
pub(super) fn keep_scratch(slot: &mut Vec<u8>, buf: Vec<u8>) {
    if buf.capacity() <= CHUNK {
        *slot = buf;
    }
}
