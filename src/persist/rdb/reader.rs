//! Streaming RDB reader.
//!
//! Reads the file front to back through a buffered, byte-counting,
//! checksumming wrapper ([`Input`]), hands each key to a callback as soon
//! as it is decoded, and keeps nothing else. Each key is decoded into
//! buffers reused for the next one, so a load allocates nothing per key
//! unless the callback does. Every length taken from the input is treated
//! as untrusted: buffers grow only as data actually arrives, and
//! element-count preallocation is capped.

use std::io::Read;

use super::input::{corrupt, keep_scratch, Input, CHUNK};
use super::intset::DupCheck;
use super::{encodings, sets, stream_read};
use super::{op, RdbStream, ScoredElements};
use super::{
    Elements, RdbEntry, RdbEntryRef, RdbError, RdbStats, RdbValueRef, RDB_MAX_READ_VERSION, RDB_MIN_READ_VERSION,
};

/// Cap on preallocated element slots for lists/hashes/sets/quicklists.
pub(super) const MAX_PREALLOC_ELEMS: usize = 1024;

/// Shortens a key (or member) for error messages.
pub(super) fn show_key(key: &[u8]) -> String {
    let s = String::from_utf8_lossy(&key[..key.len().min(64)]).into_owned();
    if key.len() > 64 {
        format!("{s:?}...")
    } else {
        format!("{s:?}")
    }
}

/// Converts a signed on-disk expiry to the API's unsigned form: times before
/// the epoch become 0 (already expired).
fn clamp_expire(ms: i64) -> u64 {
    u64::try_from(ms).unwrap_or(0)
}

/// Reads an RDB file, calling `on_entry` once per live key, in file order,
/// with the key and value as owned data. Same promises as
/// [`read_rdb_ref`], which it wraps (copying each key once).
pub fn read_rdb<R: Read>(
    r: R,
    now_ms: u64,
    mut on_entry: impl FnMut(RdbEntry) -> Result<(), RdbError>,
) -> Result<RdbStats, RdbError> {
    read_rdb_ref(r, now_ms, |e| on_entry(e.to_owned()))
}

/// Reads an RDB file, calling `on_entry` once per live key, in file order,
/// with the key and value borrowed from buffers reused for the next key
/// (so nothing is allocated per key unless the callback copies).
///
/// Promises:
/// * Accepts RDB versions 1..=11 (Redis up to 7.2); other versions are
///   [`RdbError::Unsupported`].
/// * Loads strings, lists, hashes, sets, sorted sets and streams in every
///   encoding Redis has written for them (types 0-5, 9-21). Module values,
///   hashes with field expirations and module aux data are
///   [`RdbError::Unsupported`] naming the type (and key) and its offset.
///   Sets and sorted sets with a duplicate member, a NaN score, or a
///   malformed intset are [`RdbError::Corrupt`], and so is a stream that
///   fails the checks of `stream_read.rs` (entries out of order, counts
///   that disagree, a pending entry without exactly one consumer, ...).
///   AUX, RESIZEDB, slot-info, LRU idle and LFU frequency fields are read and
///   ignored; function libraries are read, skipped and counted.
/// * Keys whose expiry is before `now_ms` are skipped and counted in
///   [`RdbStats::expired_skipped`]; empty lists/hashes/sets/sorted sets
///   are skipped and counted, as Redis does (empty streams are loaded).
/// * For version >= 5 files the trailing CRC-64 is verified unless it is 0
///   (written with checksums disabled).
/// * Truncation, checksum mismatch, impossible lengths and malformed nested
///   encodings are [`RdbError::Corrupt`] with the byte offset. Never
///   panics on any input, and never allocates much more than the input
///   actually supplies. Keys are not retained after the callback returns
///   (buffers grown past 1 MiB by a large key are freed).
/// * An error returned by `on_entry` stops reading and is returned as is.
/// * Keys are handed over before the checksum at the end can be checked:
///   when reading returns an error, discard everything it delivered.
/// * Bytes after the checksum (or after EOF for old versions) are not read.
///
/// The reader is buffered internally; pass a plain `File`. O(file size).
pub fn read_rdb_ref<R: Read>(
    r: R,
    now_ms: u64,
    mut on_entry: impl FnMut(RdbEntryRef<'_>) -> Result<(), RdbError>,
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
    let mut slot = Slot::default();
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
                let code = inp.read_string("function library")?;
                stats.functions.push(code);
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
                let kind = read_key_value(&mut inp, t, op_off, &mut slot)?;
                let key_expire = expire.take();
                match kind {
                    None => stats.empty_keys_skipped += 1,
                    Some(_) if key_expire.is_some_and(|e| e < now_ms) => stats.expired_skipped += 1,
                    Some(kind) => {
                        let value = slot.value(kind);
                        on_entry(RdbEntryRef { db, key: &slot.key, value, expire_at_ms: key_expire })?;
                        stats.keys_loaded += 1;
                    }
                }
                slot.recycle();
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

/// Decodes one bare value as DUMP payloads carry it (a type byte, then
/// the value, no key) and hands it to `f`, borrowed. `Ok(None)`: an empty
/// list, hash, set or sorted set (Redis refuses those). Bytes after the
/// value are ignored, as Redis ignores them. Checks as much as
/// [`read_rdb_ref`] does for a key (every nested encoding decoded, sets
/// and hashes free of duplicates, streams consistent), so a hostile input
/// is an error, never a panic or an over-read. O(len).
pub fn read_value_ref<T>(data: &[u8], f: impl FnOnce(RdbValueRef<'_>) -> T) -> Result<Option<T>, RdbError> {
    let mut inp = Input::new(data);
    let t = inp.read_u8("value type")?;
    if !is_known_type(t) {
        let reason = match op::unsupported_type_name(t) {
            Some(name) => format!("value type {t} ({name}) is not supported"),
            None => format!("invalid value type byte {t:#04x}"),
        };
        return Err(RdbError::Unsupported { offset: 0, reason });
    }
    let mut slot = Slot::default();
    let Some(kind) = read_typed_value(&mut inp, t, &mut slot)? else { return Ok(None) };
    Ok(Some(f(slot.value(kind))))
}

/// What a key read into a [`Slot`] holds.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    List,
    Hash,
    Set,
    ZSet,
    Stream,
}

/// The buffers one key is read into, reused from key to key.
#[derive(Default)]
struct Slot {
    key: Vec<u8>,
    /// A string value.
    string: Vec<u8>,
    /// A list's elements, a hash's fields and values alternately, or a
    /// set's members (scratch while a sorted-set blob is decoded).
    elements: Elements,
    /// A sorted set's members and scores.
    zset: ScoredElements,
    /// A stream.
    stream: RdbStream,
    /// The duplicate check of sets and sorted sets.
    dups: DupCheck,
}

impl Slot {
    /// The value read, as `kind` says. O(1).
    fn value(&self, kind: Kind) -> RdbValueRef<'_> {
        match kind {
            Kind::Str => RdbValueRef::Str(&self.string),
            Kind::List => RdbValueRef::List(&self.elements),
            Kind::Hash => RdbValueRef::Hash(&self.elements),
            Kind::Set => RdbValueRef::Set(&self.elements),
            Kind::ZSet => RdbValueRef::ZSet(&self.zset),
            Kind::Stream => RdbValueRef::Stream(&self.stream),
        }
    }

    /// Empties the buffers for the next key, freeing any grown past
    /// [`CHUNK`] (a large key must not stay allocated). O(1).
    fn recycle(&mut self) {
        for v in [&mut self.key, &mut self.string] {
            if v.capacity() > CHUNK {
                *v = Vec::new();
            }
            v.clear();
        }
        if self.elements.capacity_bytes() > CHUNK {
            self.elements = Elements::new();
        }
        self.elements.clear();
        if self.zset.capacity_bytes() > CHUNK {
            self.zset = ScoredElements::new();
        }
        self.zset.clear();
        if self.stream.entries.capacity_bytes() > CHUNK {
            self.stream = RdbStream::new();
        }
        self.stream.clear();
        self.dups.shrink(CHUNK);
    }
}

/// Reads the key and value following value type byte `t` (at `op_off`)
/// into `slot` (whose buffers are empty). Returns `None` for an empty
/// aggregate (to be skipped).
fn read_key_value<R: Read>(inp: &mut Input<R>, t: u8, op_off: u64, slot: &mut Slot) -> Result<Option<Kind>, RdbError> {
    let known = is_known_type(t);
    let unsupported = op::unsupported_type_name(t);
    if !known && unsupported.is_none() {
        return Err(corrupt(op_off, format!("invalid opcode or value type byte {t:#04x}")));
    }
    inp.read_string_into(&mut slot.key, "key")?;
    if let Some(name) = unsupported {
        return Err(RdbError::Unsupported {
            offset: op_off,
            reason: format!("value type {t} ({name}) of key {} is not supported", show_key(&slot.key)),
        });
    }
    read_typed_value(inp, t, slot)
}

/// Whether `t` is a value type byte this reader decodes.
fn is_known_type(t: u8) -> bool {
    matches!(
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
    ) || sets::is_set_type(t)
        || sets::is_zset_type(t)
        || stream_read::is_stream_type(t)
}

/// Reads the value of known type `t` into `slot` (whose buffers are
/// empty). Returns `None` for an empty aggregate.
fn read_typed_value<R: Read>(inp: &mut Input<R>, t: u8, slot: &mut Slot) -> Result<Option<Kind>, RdbError> {
    if t == op::TYPE_STRING {
        inp.read_string_into(&mut slot.string, "string value")?;
        return Ok(Some(Kind::Str));
    }
    if sets::is_set_type(t) {
        sets::read_set(inp, t, &mut slot.elements, &mut slot.dups)?;
        return Ok((!slot.elements.is_empty()).then_some(Kind::Set));
    }
    if sets::is_zset_type(t) {
        sets::read_zset(inp, t, &mut slot.zset, &mut slot.elements, &mut slot.dups)?;
        return Ok((!slot.zset.is_empty()).then_some(Kind::ZSet));
    }
    if stream_read::is_stream_type(t) {
        // Redis keeps empty streams (their ids and groups matter).
        stream_read::read_stream(inp, t, &mut slot.stream)?;
        return Ok(Some(Kind::Stream));
    }
    let kind = read_value(inp, t, &mut slot.elements)?;
    Ok((!slot.elements.is_empty()).then_some(kind))
}

/// Reads a counted sequence of RDB strings as elements of `out`.
pub(super) fn read_string_seq<R: Read>(
    inp: &mut Input<R>,
    n: u64,
    what: &str,
    out: &mut Elements,
) -> Result<(), RdbError> {
    out.reserve(usize::try_from(n).unwrap_or(usize::MAX).min(MAX_PREALLOC_ELEMS), 0);
    for _ in 0..n {
        inp.read_element(out, what, false)?;
    }
    Ok(())
}

/// Reads one nested blob (ziplist/listpack/zipmap) into the reused blob
/// buffer and decodes it into `out` with `decode`, mapping decode failures
/// to `Corrupt` at the blob's offset. An empty blob is an error when
/// `nonempty` (a quicklist node).
pub(super) fn read_blob<R: Read>(
    inp: &mut Input<R>,
    what: &str,
    nonempty: bool,
    decode: fn(&[u8], &mut Elements) -> Result<(), String>,
    out: &mut Elements,
) -> Result<(), RdbError> {
    let off = inp.offset;
    let mut blob = std::mem::take(&mut inp.blob);
    blob.clear();
    let r = inp.read_string_into(&mut blob, what).and_then(|()| {
        if nonempty && blob.is_empty() {
            return Err(corrupt(off, format!("{what} is empty")));
        }
        decode(&blob, out).map_err(|reason| corrupt(off, format!("{what}: {reason}")))
    });
    keep_scratch(&mut inp.blob, blob);
    r
}

/// Reads a hash stored as one blob of fields and values alternately.
fn read_hash_blob<R: Read>(
    inp: &mut Input<R>,
    what: &str,
    decode: fn(&[u8], &mut Elements) -> Result<(), String>,
    out: &mut Elements,
) -> Result<Kind, RdbError> {
    let off = inp.offset;
    read_blob(inp, what, false, decode, out)?;
    encodings::check_pairs(out).map_err(|reason| corrupt(off, format!("{what}: {reason}")))?;
    Ok(Kind::Hash)
}

/// Reads a list or hash value of type `t` into `out` (empty).
fn read_value<R: Read>(inp: &mut Input<R>, t: u8, out: &mut Elements) -> Result<Kind, RdbError> {
    Ok(match t {
        op::TYPE_LIST => {
            let n = inp.read_len("list length")?;
            read_string_seq(inp, n, "list element", out)?;
            Kind::List
        }
        op::TYPE_HASH => {
            let off = inp.offset;
            let n = inp.read_len("hash length")?;
            let n2 = n.checked_mul(2).ok_or_else(|| corrupt(off, format!("hash length {n} is impossible")))?;
            read_string_seq(inp, n2, "hash field or value", out)?;
            Kind::Hash
        }
        op::TYPE_HASH_ZIPMAP => read_hash_blob(inp, "zipmap", encodings::zipmap_pairs, out)?,
        op::TYPE_LIST_ZIPLIST => {
            read_blob(inp, "ziplist", false, encodings::ziplist_entries, out)?;
            Kind::List
        }
        op::TYPE_HASH_ZIPLIST => read_hash_blob(inp, "hash ziplist", encodings::ziplist_entries, out)?,
        op::TYPE_HASH_LISTPACK => read_hash_blob(inp, "hash listpack", encodings::listpack_entries, out)?,
        op::TYPE_LIST_QUICKLIST | op::TYPE_LIST_QUICKLIST_2 => {
            read_quicklist(inp, t, out)?;
            Kind::List
        }
        _ => {
            // Unreachable: callers only pass known types. Report, don't panic.
            return Err(corrupt(inp.offset, format!("value type {t} cannot be decoded")));
        }
    })
}

/// Reads a quicklist (type 14: nodes are ziplists) or quicklist 2 (type 18:
/// nodes are listpacks or, with container PLAIN, single raw elements) into
/// `items`.
fn read_quicklist<R: Read>(inp: &mut Input<R>, t: u8, items: &mut Elements) -> Result<(), RdbError> {
    let nodes = inp.read_len("quicklist node count")?;
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
        if container == op::QL_PLAIN {
            inp.read_element(items, "quicklist node", true)?;
        } else if t == op::TYPE_LIST_QUICKLIST_2 {
            read_blob(inp, "quicklist node", true, encodings::listpack_entries, items)?;
        } else {
            read_blob(inp, "quicklist node", true, encodings::ziplist_entries, items)?;
        }
    }
    Ok(())
}

/// A quicklist node as stored: its container and its (decompressed) blob.
#[cfg(test)]
pub(super) type RawNode = (u64, Vec<u8>);

/// Test helper: the value of key `key` in `file` as stored, found by
/// searching for its type byte and name (keys under 64 bytes): the type
/// and, for a one-blob type (listpack hash 16, intset 11, sorted-set
/// listpack 17), its blob, for a quicklist 2 (18), each node's container
/// and blob, decompressed.
#[cfg(test)]
pub(super) fn raw_value(file: &[u8], key: &[u8]) -> Option<(u8, Vec<RawNode>)> {
    for t in [op::TYPE_HASH_LISTPACK, op::TYPE_LIST_QUICKLIST_2, op::TYPE_SET_INTSET, op::TYPE_ZSET_LISTPACK] {
        let mut pat = vec![t, key.len() as u8];
        pat.extend_from_slice(key);
        let Some(pos) = file.windows(pat.len()).position(|w| w == pat) else { continue };
        let mut inp = Input::new(&file[pos + pat.len()..]);
        if t != op::TYPE_LIST_QUICKLIST_2 {
            return Some((t, vec![(0, inp.read_string("blob").ok()?)]));
        }
        let n = inp.read_len("nodes").ok()?;
        let mut nodes = Vec::new();
        for _ in 0..n {
            let container = inp.read_len("container").ok()?;
            nodes.push((container, inp.read_string("node").ok()?));
        }
        return Some((t, nodes));
    }
    None
}
