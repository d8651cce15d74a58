//! Streaming RDB reader.
//!
//! Reads the file front to back through a buffered, byte-counting,
//! checksumming wrapper, hands each key to a callback as soon as it is
//! decoded, and keeps nothing else. Every length taken from the input is
//! treated as untrusted: buffers grow only as data actually arrives, and
//! element-count preallocation is capped.

use std::io::{self, BufRead, BufReader, Read};

use bytes::Bytes;

use super::op;
use super::{
    crc64, encodings, lzf, RdbEntry, RdbError, RdbStats, RdbValue, RDB_MAX_READ_VERSION, RDB_MIN_READ_VERSION,
};

/// Buffer size of the internal `BufReader`.
const READ_BUF: usize = 64 * 1024;
/// Strings longer than this are read in steps of this size, so a bogus huge
/// length in a truncated file fails at end of input instead of allocating.
const CHUNK: usize = 1 << 20;
/// Cap on preallocated element slots for lists/hashes/quicklists.
const MAX_PREALLOC_ELEMS: usize = 1024;

/// A length field: either a plain length or the "special encoding" marker
/// with its 6-bit kind.
enum Len {
    Plain(u64),
    Encoded(u8),
}

/// Buffered input that tracks the byte offset and the running CRC-64.
struct Input<R: Read> {
    inner: BufReader<R>,
    offset: u64,
    crc: u64,
}

fn corrupt(offset: u64, reason: impl Into<String>) -> RdbError {
    RdbError::Corrupt { offset, reason: reason.into() }
}

fn io_error(offset: u64, e: io::Error) -> RdbError {
    RdbError::Io(io::Error::new(e.kind(), format!("at byte offset {offset}: {e}")))
}

/// Shortens a key for error messages.
fn show_key(key: &[u8]) -> String {
    let s = String::from_utf8_lossy(&key[..key.len().min(64)]).into_owned();
    if key.len() > 64 {
        format!("{s:?}...")
    } else {
        format!("{s:?}")
    }
}

impl<R: Read> Input<R> {
    fn new(r: R) -> Self {
        Input { inner: BufReader::with_capacity(READ_BUF, r), offset: 0, crc: 0 }
    }

    /// Fills `buf` completely or reports where the input ended.
    fn read_exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), RdbError> {
        self.fill(buf, what, self.offset, buf.len() as u64)
    }

    /// Fills `buf`, which is part of an item of `total` bytes starting at
    /// `start` (used in the end-of-file message).
    fn fill(&mut self, buf: &mut [u8], what: &str, start: u64, total: u64) -> Result<(), RdbError> {
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

    fn read_u8(&mut self, what: &str) -> Result<u8, RdbError> {
        let mut b = [0u8; 1];
        self.read_exact(&mut b, what)?;
        Ok(b[0])
    }

    fn read_array<const N: usize>(&mut self, what: &str) -> Result<[u8; N], RdbError> {
        let mut b = [0u8; N];
        self.read_exact(&mut b, what)?;
        Ok(b)
    }

    /// Reads `len` bytes into a new vector, growing it only as data arrives.
    fn read_vec(&mut self, len: u64, what: &str) -> Result<Vec<u8>, RdbError> {
        let start = self.offset;
        let len =
            usize::try_from(len).map_err(|_| corrupt(start, format!("{what}: length {len} does not fit in memory")))?;
        if len <= CHUNK {
            let mut v = vec![0u8; len];
            self.read_exact(&mut v, what)?;
            return Ok(v);
        }
        let mut v: Vec<u8> = Vec::with_capacity(CHUNK);
        while v.len() < len {
            let old = v.len();
            let n = CHUNK.min(len - old);
            v.resize(old + n, 0);
            self.fill(&mut v[old..], what, start, len as u64)?;
        }
        Ok(v)
    }

    fn read_len_raw(&mut self, what: &str) -> Result<Len, RdbError> {
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
    fn read_len(&mut self, what: &str) -> Result<u64, RdbError> {
        let start = self.offset;
        match self.read_len_raw(what)? {
            Len::Plain(n) => Ok(n),
            Len::Encoded(k) => {
                Err(corrupt(start, format!("{what}: expected a length, found string encoding marker {k}")))
            }
        }
    }

    /// Reads an RDB string in any of its encodings (raw, int, LZF).
    fn read_string(&mut self, what: &str) -> Result<Vec<u8>, RdbError> {
        let start = self.offset;
        match self.read_len_raw(what)? {
            Len::Plain(n) => self.read_vec(n, what),
            Len::Encoded(op::ENC_INT8) => {
                let [b] = self.read_array::<1>(what)?;
                Ok((b as i8).to_string().into_bytes())
            }
            Len::Encoded(op::ENC_INT16) => Ok(i16::from_le_bytes(self.read_array(what)?).to_string().into_bytes()),
            Len::Encoded(op::ENC_INT32) => Ok(i32::from_le_bytes(self.read_array(what)?).to_string().into_bytes()),
            Len::Encoded(op::ENC_LZF) => {
                let clen = self.read_len(what)?;
                let ulen = self.read_len(what)?;
                let ulen = usize::try_from(ulen)
                    .map_err(|_| corrupt(start, format!("{what}: LZF length {ulen} does not fit in memory")))?;
                let packed = self.read_vec(clen, what)?;
                lzf::decompress(&packed, ulen).map_err(|reason| corrupt(start, format!("{what}: {reason}")))
            }
            Len::Encoded(k) => Err(corrupt(start, format!("{what}: unknown string encoding {k}"))),
        }
    }

    fn read_bytes(&mut self, what: &str) -> Result<Bytes, RdbError> {
        self.read_string(what).map(Bytes::from)
    }
}

/// Converts a signed on-disk expiry to the API's unsigned form: times before
/// the epoch become 0 (already expired).
fn clamp_expire(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0)
}

/// Reads an RDB file, calling `on_entry` once per live key, in file order.
///
/// Promises:
/// * Accepts RDB versions 1..=11 (Redis up to 7.2); other versions are
///   [`RdbError::Unsupported`].
/// * Loads strings, lists and hashes in every encoding Redis has written
///   for them (types 0, 1, 4, 9, 10, 13, 14, 16, 18). Sets, sorted sets,
///   streams, module values and module aux data are
///   [`RdbError::Unsupported`] naming the type (and key) and its offset.
///   AUX, RESIZEDB, slot-info, LRU idle and LFU frequency fields are read and
///   ignored; function libraries are read, skipped and counted.
/// * Keys whose expiry is before `now_ms` are skipped and counted in
///   [`RdbStats::expired_skipped`]; empty lists/hashes are skipped and
///   counted, as Redis does.
/// * For version >= 5 files the trailing CRC-64 is verified unless it is 0
///   (written with checksums disabled).
/// * Truncation, checksum mismatch, impossible lengths and malformed nested
///   encodings are [`RdbError::Corrupt`] with the byte offset. Never
///   panics on any input, and never allocates much more than the input
///   actually supplies. Keys are not retained after the callback returns.
/// * An error returned by `on_entry` stops reading and is returned as is.
/// * Keys are handed over before the checksum at the end can be checked:
///   when `read_rdb` returns an error, discard everything it delivered.
/// * Bytes after the checksum (or after EOF for old versions) are not read.
///
/// The reader is buffered internally; pass a plain `File`.
pub fn read_rdb<R: Read>(
    r: R,
    now_ms: u64,
    mut on_entry: impl FnMut(RdbEntry) -> Result<(), RdbError>,
) -> Result<RdbStats, RdbError> {
    let mut inp = Input::new(r);
    let header: [u8; 9] = inp.read_array("file header")?;
    if &header[..5] != b"REDIS" {
        return Err(corrupt(0, "missing \"REDIS\" signature"));
    }
    let digits = &header[5..];
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(corrupt(5, "RDB version is not four ASCII digits"));
    }
    let version = digits.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    if !(RDB_MIN_READ_VERSION..=RDB_MAX_READ_VERSION).contains(&version) {
        return Err(RdbError::Unsupported {
            offset: 5,
            reason: format!("RDB version {version} (supported: {RDB_MIN_READ_VERSION}..={RDB_MAX_READ_VERSION})"),
        });
    }

    let mut stats = RdbStats { rdb_version: version, ..RdbStats::default() };
    let mut db = 0usize;
    let mut expire: Option<u64> = None;
    loop {
        let op_off = inp.offset;
        let t = inp.read_u8("opcode or value type")?;
        match t {
            op::EXPIRETIME_MS => {
                expire = Some(clamp_expire(i64::from_le_bytes(inp.read_array("expire time")?)));
            }
            op::EXPIRETIME => {
                let secs = i32::from_le_bytes(inp.read_array("expire time")?);
                expire = Some(clamp_expire(i64::from(secs) * 1000));
            }
            op::FREQ => {
                inp.read_u8("LFU frequency")?;
            }
            op::IDLE => {
                inp.read_len("LRU idle time")?;
            }
            op::SELECTDB => {
                let n = inp.read_len("database number")?;
                db = usize::try_from(n).map_err(|_| corrupt(op_off, format!("database number {n} is too large")))?;
            }
            op::RESIZEDB => {
                inp.read_len("RESIZEDB size")?;
                inp.read_len("RESIZEDB expires size")?;
            }
            op::SLOT_INFO => {
                for _ in 0..3 {
                    inp.read_len("slot info")?;
                }
            }
            op::AUX => {
                inp.read_string("AUX field name")?;
                inp.read_string("AUX field value")?;
            }
            op::FUNCTION2 => {
                inp.read_string("function library")?;
                stats.functions_skipped += 1;
            }
            op::MODULE_AUX => {
                return Err(RdbError::Unsupported {
                    offset: op_off,
                    reason: "module auxiliary data (opcode 0xF7): modules are not supported".into(),
                })
            }
            op::FUNCTION_PRE_GA => {
                return Err(RdbError::Unsupported {
                    offset: op_off,
                    reason: "pre-release function library format (opcode 0xF6)".into(),
                })
            }
            op::EOF => break,
            _ => {
                let value = read_key_value(&mut inp, t, op_off)?;
                let key_expire = expire.take();
                match value {
                    None => stats.empty_keys_skipped += 1,
                    Some(_) if key_expire.is_some_and(|e| e < now_ms) => stats.expired_skipped += 1,
                    Some((key, value)) => {
                        on_entry(RdbEntry { db, key, value, expire_at_ms: key_expire })?;
                        stats.keys_loaded += 1;
                    }
                }
            }
        }
    }

    if version >= 5 {
        let expected = inp.crc;
        let sum_off = inp.offset;
        let stored = u64::from_le_bytes(inp.read_array("CRC-64 checksum")?);
        if stored != 0 && stored != expected {
            return Err(corrupt(
                sum_off,
                format!("checksum mismatch: file has {stored:#018x}, content hashes to {expected:#018x}"),
            ));
        }
    }
    Ok(stats)
}

/// Reads the key and value following value type byte `t` (at `op_off`).
/// Returns `None` for an empty aggregate (to be skipped).
fn read_key_value<R: Read>(inp: &mut Input<R>, t: u8, op_off: u64) -> Result<Option<(Bytes, RdbValue)>, RdbError> {
    let known = matches!(
        t,
        op::TYPE_STRING
            | op::TYPE_LIST
            | op::TYPE_HASH
            | op::TYPE_HASH_ZIPMAP
            | op::TYPE_LIST_ZIPLIST
            | op::TYPE_HASH_ZIPLIST
            | op::TYPE_LIST_QUICKLIST
            | op::TYPE_HASH_LISTPACK
            | op::TYPE_LIST_QUICKLIST_2
    );
    let unsupported = op::unsupported_type_name(t);
    if !known && unsupported.is_none() {
        return Err(corrupt(op_off, format!("invalid opcode or value type byte {t:#04x}")));
    }
    let key = inp.read_bytes("key")?;
    if let Some(name) = unsupported {
        return Err(RdbError::Unsupported {
            offset: op_off,
            reason: format!("value type {t} ({name}) of key {} is not supported", show_key(&key)),
        });
    }
    let value = read_value(inp, t)?;
    let empty = match &value {
        RdbValue::Str(_) => false,
        RdbValue::List(l) => l.is_empty(),
        RdbValue::Hash(h) => h.is_empty(),
    };
    Ok((!empty).then_some((key, value)))
}

/// Reads a counted sequence of RDB strings.
fn read_string_seq<R: Read>(inp: &mut Input<R>, n: u64, what: &str) -> Result<Vec<Bytes>, RdbError> {
    let cap = usize::try_from(n).unwrap_or(usize::MAX).min(MAX_PREALLOC_ELEMS);
    let mut v = Vec::with_capacity(cap);
    for _ in 0..n {
        v.push(inp.read_bytes(what)?);
    }
    Ok(v)
}

/// Reads one nested blob (ziplist/listpack/zipmap) and decodes it with
/// `decode`, mapping decode failures to `Corrupt` at the blob's offset.
fn read_blob<R: Read, T>(
    inp: &mut Input<R>,
    what: &str,
    decode: impl FnOnce(&[u8]) -> Result<T, String>,
) -> Result<T, RdbError> {
    let off = inp.offset;
    let blob = inp.read_string(what)?;
    decode(&blob).map_err(|reason| corrupt(off, format!("{what}: {reason}")))
}

fn read_value<R: Read>(inp: &mut Input<R>, t: u8) -> Result<RdbValue, RdbError> {
    Ok(match t {
        op::TYPE_STRING => RdbValue::Str(inp.read_bytes("string value")?),
        op::TYPE_LIST => {
            let n = inp.read_len("list length")?;
            RdbValue::List(read_string_seq(inp, n, "list element")?)
        }
        op::TYPE_HASH => {
            let off = inp.offset;
            let n = inp.read_len("hash length")?;
            let n2 = n.checked_mul(2).ok_or_else(|| corrupt(off, format!("hash length {n} is impossible")))?;
            let flat = read_string_seq(inp, n2, "hash field or value")?;
            RdbValue::Hash(encodings::into_pairs(flat).map_err(|r| corrupt(off, r))?)
        }
        op::TYPE_HASH_ZIPMAP => RdbValue::Hash(read_blob(inp, "zipmap", |b| {
            let mut pairs = Vec::new();
            encodings::zipmap_pairs(b, &mut pairs).map(|()| pairs)
        })?),
        op::TYPE_LIST_ZIPLIST => RdbValue::List(read_blob(inp, "ziplist", |b| {
            let mut v = Vec::new();
            encodings::ziplist_entries(b, &mut v).map(|()| v)
        })?),
        op::TYPE_HASH_ZIPLIST => RdbValue::Hash(read_blob(inp, "hash ziplist", |b| {
            let mut v = Vec::new();
            encodings::ziplist_entries(b, &mut v)?;
            encodings::into_pairs(v)
        })?),
        op::TYPE_HASH_LISTPACK => RdbValue::Hash(read_blob(inp, "hash listpack", |b| {
            let mut v = Vec::new();
            encodings::listpack_entries(b, &mut v)?;
            encodings::into_pairs(v)
        })?),
        op::TYPE_LIST_QUICKLIST | op::TYPE_LIST_QUICKLIST_2 => read_quicklist(inp, t)?,
        _ => {
            // Unreachable: callers only pass known types. Report, don't panic.
            return Err(corrupt(inp.offset, format!("value type {t} cannot be decoded")));
        }
    })
}

/// Reads a quicklist (type 14: nodes are ziplists) or quicklist 2 (type 18:
/// nodes are listpacks or, with container PLAIN, single raw elements).
fn read_quicklist<R: Read>(inp: &mut Input<R>, t: u8) -> Result<RdbValue, RdbError> {
    let nodes = inp.read_len("quicklist node count")?;
    let mut items: Vec<Bytes> = Vec::new();
    for _ in 0..nodes {
        let mut container = op::QL_PACKED;
        if t == op::TYPE_LIST_QUICKLIST_2 {
            let off = inp.offset;
            container = inp.read_len("quicklist node container")?;
            if container != op::QL_PACKED && container != op::QL_PLAIN {
                return Err(corrupt(
                    off,
                    format!("quicklist node container {container} is neither 1 (plain) nor 2 (packed)"),
                ));
            }
        }
        let off = inp.offset;
        let data = inp.read_string("quicklist node")?;
        if data.is_empty() {
            return Err(corrupt(off, "quicklist node is empty"));
        }
        let decoded = if container == op::QL_PLAIN {
            items.push(Bytes::from(data));
            continue;
        } else if t == op::TYPE_LIST_QUICKLIST_2 {
            encodings::listpack_entries(&data, &mut items)
        } else {
            encodings::ziplist_entries(&data, &mut items)
        };
        decoded.map_err(|reason| corrupt(off, format!("quicklist node: {reason}")))?;
    }
    Ok(RdbValue::List(items))
}
