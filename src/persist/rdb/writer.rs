//! RDB writer producing version-10 files (the Redis 7.0 format).

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use super::listpack::{self, Encoder};
use super::op;
use super::{crc64, lzf, RdbError, RdbValue, RDB_WRITE_VERSION};

/// Size at which the internal output buffer is flushed to the sink.
const WRITE_BUF: usize = 64 * 1024;
/// Strings longer than this are tried with LZF (as Redis's rdbcompression).
const COMPRESS_MIN_LEN: usize = 20;
/// Scratch buffers larger than this are freed after use.
const SCRATCH_KEEP: usize = 1 << 20;
/// Size limit of a quicklist node: Redis's default `list-max-listpack-size`
/// (-2, 8 KiB). A node always takes at least one element.
const NODE_BYTES: usize = 8 * 1024;
/// What Redis adds to an element's length when it estimates whether the
/// element still fits in a node (`SIZE_ESTIMATE_OVERHEAD`).
const NODE_ESTIMATE_OVERHEAD: usize = 8;
/// Elements at least this long get a plain node of their own, as Redis
/// does past its `packed_threshold` (1 GiB).
const PLAIN_MIN: usize = 1 << 30;
/// Redis 7.0's default `hash-max-listpack-entries` and
/// `hash-max-listpack-value`: an owned [`RdbValue::Hash`] within both is
/// written as a listpack.
const HASH_PACK_ENTRIES: usize = 512;
const HASH_PACK_VALUE: usize = 64;
/// Redis 7.0's default `set-max-intset-entries`: an owned
/// [`RdbValue::Set`] of at most this many integers is written as an intset.
const SET_INTSET_ENTRIES: usize = 512;
/// Redis 7.0's default `zset-max-listpack-entries` and
/// `zset-max-listpack-value`: an owned [`RdbValue::ZSet`] within both is
/// written as a listpack.
const ZSET_PACK_ENTRIES: usize = 128;
const ZSET_PACK_VALUE: usize = 64;

/// Where the next element of a list goes.
#[derive(PartialEq, Eq)]
enum Place {
    /// Into the open node.
    Same,
    /// Into a new packed node.
    NewNode,
    /// Into a plain node of its own.
    Plain,
}

/// Cuts a list into quicklist nodes where Redis 7.0 cuts a list built by
/// RPUSH (`_quicklistNodeAllowInsert` with the default fill): an element
/// joins the open node if the node's listpack size plus the element's
/// length plus [`NODE_ESTIMATE_OVERHEAD`] is within [`NODE_BYTES`]; an
/// element of `plain_min` bytes or more gets a plain node of its own.
/// Deterministic, so counting the nodes and writing them cut the list the
/// same way.
struct Nodes {
    /// Encoded bytes of the open node (0: no node is open).
    open: usize,
    plain_min: usize,
}

impl Nodes {
    fn new(plain_min: usize) -> Nodes {
        Nodes { open: 0, plain_min }
    }

    fn place(&mut self, item: &[u8]) -> Place {
        if item.len() >= self.plain_min {
            self.open = 0;
            return Place::Plain;
        }
        let size = listpack::entry_size(item);
        if self.open != 0 && self.open + item.len() + NODE_ESTIMATE_OVERHEAD <= NODE_BYTES {
            self.open += size;
            Place::Same
        } else {
            self.open = listpack::HEADER + 1 + size;
            Place::NewNode
        }
    }
}

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
/// [`write_entry`](Self::write_entry) calls (or, for data borrowed from
/// elsewhere, [`write_string`](Self::write_string),
/// [`write_list`](Self::write_list), [`write_hash`](Self::write_hash),
/// [`write_set`](Self::write_set), [`write_zset`](Self::write_zset) and
/// [`write_stream_parts`](Self::write_stream_parts)),
/// then [`finish`](Self::finish).
/// Output is buffered internally; the sink needs no extra buffering. After
/// any error the writer's output is incomplete and must be discarded.
pub struct RdbWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    crc: u64,
    compression: bool,
    lzf_table: Vec<usize>,
    lzf_out: Vec<u8>,
    /// Scratch for the listpacks of hashes, sorted sets and quicklist nodes.
    lp: Encoder,
    /// Scratch for the integers and the blob of an intset.
    ints: Vec<i64>,
    blob: Vec<u8>,
    /// List elements this long get a plain node ([`PLAIN_MIN`]; lowered
    /// by tests).
    plain_min: usize,
    /// The LZF table holds positions from a string compressed since the
    /// last [`take_value`](RdbWriter::take_value).
    lzf_used: bool,
    /// Writing one bare value (a DUMP payload body, see
    /// [`value_only`](RdbWriter::value_only)): no header, and a key is
    /// written as its type byte alone.
    bare: bool,
}

/// If `s` is the canonical decimal form of an integer fitting in 32 bits,
/// returns it (Redis stores such strings as INT8/16/32; "+1", "007", "-0"
/// and the like stay strings).
fn int_encodable(s: &[u8]) -> Option<i32> {
    if s.len() > 11 {
        return None;
    }
    listpack::string_to_i64(s).and_then(|v| i32::try_from(v).ok())
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
        let mut wr = Self::value_only(w, opts.compression);
        wr.bare = false;
        wr.buf.reserve(WRITE_BUF);
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

    /// A writer for one bare value, as Redis's DUMP serializes it: no file
    /// header, and each `write_*` call writes only the value's type byte
    /// and the value (its `key` and `expire_at_ms` are ignored). Strings
    /// are LZF-compressed when `compression` says so. Finish with
    /// [`into_value`](Self::into_value). Used by [`super::payload`].
    pub fn value_only(w: W, compression: bool) -> Self {
        RdbWriter {
            out: w,
            buf: Vec::new(),
            crc: 0,
            compression,
            lzf_table: Vec::new(),
            lzf_used: false,
            lzf_out: Vec::new(),
            lp: Encoder::default(),
            ints: Vec::new(),
            blob: Vec::new(),
            plain_min: PLAIN_MIN,
            bare: true,
        }
    }

    /// Flushes what a [`value_only`](Self::value_only) writer wrote (no
    /// EOF, no checksum) and returns the sink.
    pub fn into_value(mut self) -> Result<W, RdbError> {
        self.flush_buf()?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn aux(&mut self, k: &[u8], v: &[u8]) -> Result<(), RdbError> {
        self.raw(&[op::AUX])?;
        self.string(k)?;
        self.string(v)
    }

    /// Writes one function library (opcode 0xF5 and its code, header
    /// included), as Redis 7.0 does before the databases.
    pub fn write_function(&mut self, code: &[u8]) -> Result<(), RdbError> {
        self.raw(&[op::FUNCTION2])?;
        self.string(code)
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
    /// Strings are written as type 0 and lists as type 18 (see
    /// [`write_list`](Self::write_list)); a hash within Redis 7.0's default
    /// listpack limits (512 fields, none longer than 64 bytes) is written
    /// as type 16 and a larger one as type 4 (see
    /// [`write_hash`](Self::write_hash)). A set of at most 512 members,
    /// all canonical 64-bit integers, is written as an intset (type 11),
    /// another as type 2 (see [`write_set`](Self::write_set)); a sorted set
    /// within Redis 7.0's listpack limits (128 members, none longer than
    /// 64 bytes) as a listpack sorted by score (type 17), a larger one as
    /// type 5 (see [`write_zset`](Self::write_zset)); a stream as type 19
    /// (see [`write_stream`](Self::write_stream)). Hash field names and
    /// members must be unique (Redis rejects duplicates). Empty lists,
    /// hashes, sets and sorted sets are not written at all, because Redis
    /// has none (it would skip them on load); empty streams are. O(size of the value), O(n log n) for an
    /// intset or a packed sorted set.
    pub fn write_entry(&mut self, key: &[u8], value: &RdbValue, expire_at_ms: Option<u64>) -> Result<(), RdbError> {
        match value {
            RdbValue::Str(s) => self.write_string(key, s, expire_at_ms),
            RdbValue::List(items) => self.write_list(key, items.iter(), expire_at_ms),
            RdbValue::Hash(flat) => {
                let packed = flat.len() / 2 <= HASH_PACK_ENTRIES && flat.iter().all(|b| b.len() <= HASH_PACK_VALUE);
                self.write_hash(key, flat.pairs(), packed, expire_at_ms)
            }
            RdbValue::Set(members) => {
                let intset =
                    members.len() <= SET_INTSET_ENTRIES && members.iter().all(|m| listpack::string_to_i64(m).is_some());
                self.write_set(key, members.len(), members.iter(), intset, expire_at_ms)
            }
            RdbValue::ZSet(z) => {
                let packed = z.len() <= ZSET_PACK_ENTRIES && z.members().iter().all(|m| m.len() <= ZSET_PACK_VALUE);
                if !packed {
                    return self.write_zset(key, z.len(), z.iter(), false, expire_at_ms);
                }
                // A listpack is in (score, member) order.
                let mut order: Vec<(&[u8], f64)> = z.iter().collect();
                order.sort_by(|a, b| sets::zset_order(*a, *b));
                self.write_zset(key, z.len(), order, true, expire_at_ms)
            }
            RdbValue::Stream(s) => self.write_stream(key, s, expire_at_ms),
        }
    }

    /// Writes a string key (type 0; see [`write_entry`](Self::write_entry)
    /// for `expire_at_ms`). O(len).
    pub fn write_string(&mut self, key: &[u8], value: &[u8], expire_at_ms: Option<u64>) -> Result<(), RdbError> {
        self.key_header(op::TYPE_STRING, key, expire_at_ms)?;
        self.string(value)
    }

    /// Writes a list key as Redis 7.0 does: type 18 (quicklist 2), the list
    /// cut into nodes of about 8 KiB where Redis cuts a list built by RPUSH
    /// (a larger element gets a node of its own), each node one listpack
    /// with integer-looking elements integer-encoded, LZF-compressed like
    /// any string. An element of 1 GiB or more gets a plain node of its
    /// own. Nothing is written for an empty list. `items` is walked twice
    /// (to count the nodes, then to write them) and must yield the same
    /// elements both times. O(total bytes); memory: one node.
    pub fn write_list<'a, I>(&mut self, key: &[u8], items: I, expire_at_ms: Option<u64>) -> Result<(), RdbError>
    where
        I: IntoIterator<Item = &'a [u8]>,
        I::IntoIter: Clone,
    {
        let items = items.into_iter();
        let mut nodes = Nodes::new(self.plain_min);
        let count = items.clone().filter(|it| nodes.place(it) != Place::Same).count() as u64;
        if count == 0 {
            return Ok(());
        }
        self.key_header(op::TYPE_LIST_QUICKLIST_2, key, expire_at_ms)?;
        self.len(count)?;
        let mut lp = std::mem::take(&mut self.lp);
        let r = self.list_nodes(&mut lp, items, count);
        if lp.capacity() <= SCRATCH_KEEP {
            self.lp = lp;
        }
        r
    }

    /// The nodes of [`write_list`](Self::write_list), built in `lp`.
    fn list_nodes<'a>(
        &mut self,
        lp: &mut Encoder,
        items: impl Iterator<Item = &'a [u8]>,
        count: u64,
    ) -> Result<(), RdbError> {
        let mut nodes = Nodes::new(self.plain_min);
        let mut written = 0u64;
        lp.clear();
        for it in items {
            let place = nodes.place(it);
            if place != Place::Same && lp.count() > 0 {
                self.packed_node(lp)?;
                written += 1;
            }
            if place == Place::Plain {
                self.len(op::QL_PLAIN)?;
                self.string(it)?;
                written += 1;
            } else {
                lp.push(it);
            }
        }
        if lp.count() > 0 {
            self.packed_node(lp)?;
            written += 1;
        }
        if written != count {
            // Only if `items` yielded different elements the second time.
            return Err(RdbError::Io(std::io::Error::other("list changed while it was being written")));
        }
        Ok(())
    }

    /// Writes the node built in `lp` as a PACKED quicklist node, then
    /// clears `lp`.
    fn packed_node(&mut self, lp: &mut Encoder) -> Result<(), RdbError> {
        self.len(op::QL_PACKED)?;
        // A node is within 8 KiB or holds one element under 1 GiB.
        let blob = lp.finish().ok_or_else(|| RdbError::Io(std::io::Error::other("quicklist node over 4 GiB")))?;
        self.string(blob)?;
        lp.clear();
        Ok(())
    }

    /// Writes a hash key. `packed` (the hash is listpack-encoded, in
    /// Redis's terms): as type 16, one listpack string holding fields and
    /// values alternately, integer-looking ones integer-encoded, the blob
    /// LZF-compressed like any string — what Redis 7.0 writes for such a
    /// hash. Otherwise (or for a pack too large for a listpack) as type 4,
    /// one string per field and value. Field names must be unique. Nothing
    /// is written for an empty hash. `pairs` is walked up to three times
    /// and must yield the same pairs each time. O(total bytes).
    pub fn write_hash<'a, I>(
        &mut self,
        key: &[u8],
        pairs: I,
        packed: bool,
        expire_at_ms: Option<u64>,
    ) -> Result<(), RdbError>
    where
        I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
        I::IntoIter: Clone,
    {
        let pairs = pairs.into_iter();
        if pairs.clone().next().is_none() {
            return Ok(());
        }
        if packed {
            let mut lp = std::mem::take(&mut self.lp);
            lp.clear();
            for (f, v) in pairs.clone() {
                lp.push(f);
                lp.push(v);
            }
            let r = lp.finish().map(|blob| {
                self.key_header(op::TYPE_HASH_LISTPACK, key, expire_at_ms).and_then(|()| self.string(blob))
            });
            if lp.capacity() <= SCRATCH_KEEP {
                self.lp = lp;
            }
            if let Some(r) = r {
                return r;
            }
        }
        let n = pairs.clone().count();
        self.key_header(op::TYPE_HASH, key, expire_at_ms)?;
        self.len(n as u64)?;
        for (f, v) in pairs {
            self.string(f)?;
            self.string(v)?;
        }
        Ok(())
    }

    /// Writes the expiry (if any), the type byte and the key name (the type
    /// byte alone for a bare value).
    fn key_header(&mut self, t: u8, key: &[u8], expire_at_ms: Option<u64>) -> Result<(), RdbError> {
        if self.bare {
            return self.raw(&[t]);
        }
        if let Some(ms) = expire_at_ms {
            let ms = i64::try_from(ms).unwrap_or(i64::MAX);
            self.raw(&[op::EXPIRETIME_MS])?;
            self.raw(&ms.to_le_bytes())?;
        }
        self.raw(&[t])?;
        self.string(key)
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
            self.lzf_used = true;
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
            if packed.capacity() <= SCRATCH_KEEP {
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

impl RdbWriter<Vec<u8>> {
    /// Takes what a [`value_only`](Self::value_only) writer wrote so far and
    /// readies it for the next value, keeping its scratch buffers (DUMP and
    /// MIGRATE encode value after value with one writer, without a
    /// compressor table to allocate each time). The compressor's history is
    /// forgotten, so equal values always encode to equal bytes. O(output),
    /// plus clearing the 128 KiB LZF table when the value used it.
    pub fn take_value(&mut self, compression: bool) -> Result<Vec<u8>, RdbError> {
        self.flush_buf()?;
        if self.lzf_used {
            self.lzf_table.fill(0);
            self.lzf_used = false;
        }
        self.compression = compression;
        Ok(std::mem::take(&mut self.out))
    }
}

#[path = "writer_sets.rs"]
mod sets;

#[path = "writer_streams.rs"]
mod streams;

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
