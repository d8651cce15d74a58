//! RDB writer producing version-10 files (the Redis 7.0 format).

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use super::op;
use super::{crc64, lzf, RdbError, RdbValue, RDB_WRITE_VERSION};

/// Size at which the internal output buffer is flushed to the sink.
const WRITE_BUF: usize = 64 * 1024;
/// Strings longer than this are tried with LZF (as Redis's rdbcompression).
const COMPRESS_MIN_LEN: usize = 20;

/// Knobs for [`RdbWriter::with_options`]. `Default` matches
/// [`RdbWriter::new`].
#[derive(Debug, Clone)]
pub struct RdbWriterOptions {
    /// LZF-compress strings longer than 20 bytes when that saves at least
    /// 4 bytes (Redis's `rdbcompression yes`). Default: true.
    pub compression: bool,
    /// Value of the `ctime` AUX field (Unix seconds); `None` = now.
    pub ctime_secs: Option<u64>,
    /// Value of the `used-mem` AUX field in bytes. Default: 0.
    pub used_mem: u64,
}

impl Default for RdbWriterOptions {
    fn default() -> Self {
        RdbWriterOptions { compression: true, ctime_secs: None, used_mem: 0 }
    }
}

/// Writes an RDB file loadable by Redis 7.0+ (and by [`super::read_rdb`]).
///
/// Usage: [`new`](Self::new), then for each database
/// [`select_db`](Self::select_db) followed by its
/// [`write_entry`](Self::write_entry) calls, then [`finish`](Self::finish).
/// Output is buffered internally; the sink needs no extra buffering. After
/// any error the writer's output is incomplete and must be discarded.
pub struct RdbWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    crc: u64,
    compression: bool,
    lzf_table: Vec<usize>,
    lzf_out: Vec<u8>,
}

/// If `s` is the canonical decimal form of an integer fitting in 32 bits,
/// returns it (Redis stores such strings as INT8/16/32).
fn int_encodable(s: &[u8]) -> Option<i32> {
    if s.is_empty() || s.len() > 11 {
        return None;
    }
    let v: i64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    let v = i32::try_from(v).ok()?;
    // Rejects "+1", "007", "-0" and the like, which must stay strings.
    (v.to_string().as_bytes() == s).then_some(v)
}

impl<W: Write> RdbWriter<W> {
    /// Starts a file: writes the `REDIS0010` header and the AUX fields
    /// `redis-ver` = "7.0.0", `redis-bits`, `ctime` (now), `used-mem` = 0
    /// and `aof-base` = 0, with LZF compression enabled.
    pub fn new(w: W) -> Result<Self, RdbError> {
        Self::with_options(w, RdbWriterOptions::default())
    }

    /// Like [`new`](Self::new) but with explicit [`RdbWriterOptions`].
    pub fn with_options(w: W, opts: RdbWriterOptions) -> Result<Self, RdbError> {
        let mut wr = RdbWriter {
            out: w,
            buf: Vec::with_capacity(WRITE_BUF),
            crc: 0,
            compression: opts.compression,
            lzf_table: Vec::new(),
            lzf_out: Vec::new(),
        };
        wr.raw(format!("REDIS{RDB_WRITE_VERSION:04}").as_bytes())?;
        let ctime = opts
            .ctime_secs
            .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0));
        wr.aux(b"redis-ver", b"7.0.0")?;
        wr.aux(b"redis-bits", usize::BITS.to_string().as_bytes())?;
        wr.aux(b"ctime", ctime.to_string().as_bytes())?;
        wr.aux(b"used-mem", opts.used_mem.to_string().as_bytes())?;
        wr.aux(b"aof-base", b"0")?;
        Ok(wr)
    }

    fn aux(&mut self, k: &[u8], v: &[u8]) -> Result<(), RdbError> {
        self.raw(&[op::AUX])?;
        self.string(k)?;
        self.string(v)
    }

    /// Starts database `db`: writes SELECTDB and a RESIZEDB hint with the
    /// number of keys and of keys with a TTL (hints only; they need not be
    /// exact). Databases should be written in increasing order, each once.
    pub fn select_db(&mut self, db: usize, db_size: u64, expires_size: u64) -> Result<(), RdbError> {
        self.raw(&[op::SELECTDB])?;
        self.len(db as u64)?;
        self.raw(&[op::RESIZEDB])?;
        self.len(db_size)?;
        self.len(expires_size)
    }

    /// Writes one key in the current database.
    ///
    /// `expire_at_ms` is an absolute Unix time in milliseconds, written as
    /// an EXPIRETIME_MS opcode (values above `i64::MAX` are clamped to it).
    /// Strings are written as type 0, lists as type 1 (plain list) and
    /// hashes as type 4 (plain hash); Redis re-encodes them compactly on
    /// load. Hash field names must be unique (Redis rejects duplicates).
    /// Empty lists and hashes are not written at all, because Redis has no
    /// empty aggregates (it would skip them on load).
    pub fn write_entry(&mut self, key: &[u8], value: &RdbValue, expire_at_ms: Option<u64>) -> Result<(), RdbError> {
        match value {
            RdbValue::List(l) if l.is_empty() => return Ok(()),
            RdbValue::Hash(h) if h.is_empty() => return Ok(()),
            _ => {}
        }
        if let Some(ms) = expire_at_ms {
            let ms = i64::try_from(ms).unwrap_or(i64::MAX);
            self.raw(&[op::EXPIRETIME_MS])?;
            self.raw(&ms.to_le_bytes())?;
        }
        match value {
            RdbValue::Str(s) => {
                self.raw(&[op::TYPE_STRING])?;
                self.string(key)?;
                self.string(s)
            }
            RdbValue::List(items) => {
                self.raw(&[op::TYPE_LIST])?;
                self.string(key)?;
                self.len(items.len() as u64)?;
                items.iter().try_for_each(|it| self.string(it))
            }
            RdbValue::Hash(pairs) => {
                self.raw(&[op::TYPE_HASH])?;
                self.string(key)?;
                self.len(pairs.len() as u64)?;
                pairs.iter().try_for_each(|(f, v)| {
                    self.string(f)?;
                    self.string(v)
                })
            }
        }
    }

    /// Ends the file: writes the EOF opcode and the little-endian CRC-64 of
    /// every preceding byte, flushes, and returns the sink.
    pub fn finish(mut self) -> Result<W, RdbError> {
        self.raw(&[op::EOF])?;
        self.flush_buf()?;
        let sum = self.crc.to_le_bytes();
        self.out.write_all(&sum)?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn flush_buf(&mut self) -> Result<(), RdbError> {
        if !self.buf.is_empty() {
            self.crc = crc64(self.crc, &self.buf);
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Appends bytes to the output (checksummed).
    fn raw(&mut self, data: &[u8]) -> Result<(), RdbError> {
        if self.buf.len() + data.len() > WRITE_BUF {
            self.flush_buf()?;
        }
        if data.len() >= WRITE_BUF {
            self.crc = crc64(self.crc, data);
            self.out.write_all(data)?;
        } else {
            self.buf.extend_from_slice(data);
        }
        Ok(())
    }

    /// Writes an RDB length in the shortest form (6, 14, 32 or 64 bits).
    fn len(&mut self, n: u64) -> Result<(), RdbError> {
        if n < 1 << 6 {
            self.raw(&[n as u8])
        } else if n < 1 << 14 {
            self.raw(&[0x40 | (n >> 8) as u8, n as u8])
        } else if let Ok(n32) = u32::try_from(n) {
            self.raw(&[op::LEN_32BIT])?;
            self.raw(&n32.to_be_bytes())
        } else {
            self.raw(&[op::LEN_64BIT])?;
            self.raw(&n.to_be_bytes())
        }
    }

    /// Writes a string: integer-encoded when it is a canonical 32-bit
    /// integer, LZF-compressed when enabled and worthwhile, else raw.
    fn string(&mut self, s: &[u8]) -> Result<(), RdbError> {
        if let Some(v) = int_encodable(s) {
            let enc = 0xC0;
            return if let Ok(b) = i8::try_from(v) {
                self.raw(&[enc | op::ENC_INT8, b as u8])
            } else if let Ok(h) = i16::try_from(v) {
                self.raw(&[enc | op::ENC_INT16])?;
                self.raw(&h.to_le_bytes())
            } else {
                self.raw(&[enc | op::ENC_INT32])?;
                self.raw(&v.to_le_bytes())
            };
        }
        if self.compression && s.len() > COMPRESS_MIN_LEN {
            if self.lzf_table.is_empty() {
                self.lzf_table = vec![0; lzf::HASH_SIZE];
            }
            let mut packed = std::mem::take(&mut self.lzf_out);
            let ok = lzf::compress_with(s, &mut packed, s.len() - 4, &mut self.lzf_table);
            let res = if ok {
                self.raw(&[0xC0 | op::ENC_LZF])
                    .and_then(|()| self.len(packed.len() as u64))
                    .and_then(|()| self.len(s.len() as u64))
                    .and_then(|()| self.raw(&packed))
            } else {
                Ok(())
            };
            // Keep the scratch buffer, but not a huge one.
            if packed.capacity() <= 1 << 20 {
                self.lzf_out = packed;
            }
            if ok {
                return res;
            }
        }
        self.len(s.len() as u64)?;
        self.raw(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_encoding_is_canonical_only() {
        assert_eq!(int_encodable(b"0"), Some(0));
        assert_eq!(int_encodable(b"-128"), Some(-128));
        assert_eq!(int_encodable(b"2147483647"), Some(i32::MAX));
        assert_eq!(int_encodable(b"-2147483648"), Some(i32::MIN));
        for s in [&b""[..], b"2147483648", b"-0", b"+1", b"01", b" 1", b"1 ", b"1.0", b"abc"] {
            assert_eq!(int_encodable(s), None, "{s:?}");
        }
    }

    #[test]
    fn header_and_empty_file_layout() {
        let opts = RdbWriterOptions { compression: true, ctime_secs: Some(1_700_000_000), used_mem: 123_456 };
        let out = RdbWriter::with_options(Vec::new(), opts).unwrap().finish().unwrap();
        assert!(out.starts_with(b"REDIS0010\xfa\x09redis-ver\x057.0.0"));
        let body = &out[..out.len() - 8];
        assert_eq!(body.last(), Some(&0xFF));
        let sum = u64::from_le_bytes(out[out.len() - 8..].try_into().unwrap());
        assert_eq!(sum, crc64(0, body));
    }

    #[test]
    fn length_forms() {
        let mut w = RdbWriter::with_options(Vec::new(), RdbWriterOptions::default()).unwrap();
        let start = w.buf.len();
        for n in [0u64, 63, 64, 16383, 16384, u32::MAX as u64, u32::MAX as u64 + 1] {
            w.len(n).unwrap();
        }
        let b = &w.buf[start..];
        let expect: Vec<u8> = [
            &[0x00][..],
            &[0x3f],
            &[0x40, 0x40],
            &[0x7f, 0xff],
            &[0x80, 0x00, 0x00, 0x40, 0x00],
            &[0x80, 0xff, 0xff, 0xff, 0xff],
            &[0x81, 0, 0, 0, 1, 0, 0, 0, 0],
        ]
        .concat();
        assert_eq!(b, &expect[..]);
    }
}
