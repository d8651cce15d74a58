//! Redis RDB file codec: a writer producing dumps Redis 7.0+ can load, and a
//! streaming reader for dumps written by Redis 1.x–7.2 (RDB versions 1..=11).
//!
//! The module is self-contained: it depends only on `bytes`, `thiserror`
//! and std, and knows nothing about the rest of the server. The data model
//! covers the value kinds the server holds — strings, lists, hashes, sets,
//! sorted sets and streams — in every on-disk encoding Redis has used for
//! them (plain, ziplist, zipmap, listpack, quicklist, quicklist 2, intset,
//! text and binary scores, stream listpacks 1–3). Other Redis types
//! (module values, hashes with field expirations) are reported as
//! [`RdbError::Unsupported`] rather than silently dropped.
//!
//! Layout written by [`RdbWriter`]:
//!
//! ```text
//! "REDIS0010" AUX* (SELECTDB RESIZEDB (EXPIRETIME_MS? TYPE KEY VALUE)*)* EOF CRC64
//! ```
//!
//! Values are written as Redis 7.0 writes them: a small hash as one
//! listpack (type 16), a list as quicklist nodes of listpacks (type 18),
//! an integer set as an intset (type 11), other sets as strings (type 2),
//! a small sorted set as one listpack (type 17), a larger one with binary
//! scores (type 5), a stream as listpack nodes with its groups (type 19),
//! so files are as small as Redis's. Lists, hashes and sets are held as
//! [`Elements`] (all elements in one buffer), sorted sets as
//! [`ScoredElements`] (members in one buffer, scores beside them), streams
//! as [`RdbStream`] (entries packed likewise, groups beside them), and
//! [`read_rdb_ref`] lends each key from buffers reused for the next, so
//! reading allocates nothing per element (nor, with `read_rdb_ref`, per
//! key; a stream's groups and consumers excepted).
//!
//! One value alone, as DUMP/RESTORE/MIGRATE carry it, is written by
//! [`RdbWriter::value_only`], read by [`read_value_ref`] and framed with
//! its version and checksum by [`payload`].

mod crc64;
mod elements;
mod encodings;
mod functions;
mod input;
mod intset;
mod listpack;
mod lzf;
pub mod payload;
mod reader;
mod scored;
mod scores;
mod sets;
mod stream;
mod stream_read;
mod writer;

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod set_tests;
#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod test_encoders;
#[cfg(test)]
mod tests;

pub use crc64::crc64;
pub use elements::Elements;
pub use functions::{decode_function_payload, encode_function_payload};
pub use reader::{read_rdb, read_rdb_ref, read_value_ref};
pub use scored::{ScoredElements, ScoredIter};
pub use stream::{
    RdbConsumer, RdbPending, RdbStream, RdbStreamEntries, RdbStreamGroup, RdbStreamId, RdbStreamMeta, MAX_STREAM_ID,
};
pub use writer::{RdbWriter, RdbWriterOptions};

use bytes::Bytes;

/// RDB format version written by [`RdbWriter`] (the one Redis 7.0 writes;
/// loadable by Redis 7.0 and newer).
pub const RDB_WRITE_VERSION: u32 = 10;
/// Oldest RDB format version [`read_rdb`] accepts.
pub const RDB_MIN_READ_VERSION: u32 = 1;
/// Newest RDB format version [`read_rdb`] accepts (written by Redis 7.2).
pub const RDB_MAX_READ_VERSION: u32 = 11;

/// One value as stored in an RDB file, in the shapes the server holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RdbValue {
    /// A string value (binary safe).
    Str(Bytes),
    /// A list value, elements in order from head to tail.
    List(Elements),
    /// A hash value: its fields and values alternately (an even number of
    /// elements; see [`Elements::pairs`]), in the order they were stored.
    /// Field names are expected to be unique.
    Hash(Elements),
    /// A set value: its members, unique, in no particular order (as read:
    /// the file's order; an intset's integers ascending, as decimal text).
    Set(Elements),
    /// A sorted set value: its members, unique, each with its score (never
    /// NaN), in no particular order (as read: the file's order). Scores
    /// keep their exact bits.
    ZSet(ScoredElements),
    /// A stream: its live entries, bookkeeping and consumer groups (boxed:
    /// it is much larger than the other variants). May be empty.
    Stream(Box<RdbStream>),
}

/// A value as [`read_rdb_ref`] hands it over: borrowed from the reader's
/// buffers, valid during the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RdbValueRef<'a> {
    /// A string value.
    Str(&'a [u8]),
    /// A list value, elements in order from head to tail.
    List(&'a Elements),
    /// A hash value: fields and values alternately (see [`RdbValue::Hash`]).
    Hash(&'a Elements),
    /// A set value: its members (see [`RdbValue::Set`]).
    Set(&'a Elements),
    /// A sorted set value: members and scores (see [`RdbValue::ZSet`]).
    ZSet(&'a ScoredElements),
    /// A stream value (see [`RdbValue::Stream`]).
    Stream(&'a RdbStream),
}

impl RdbValueRef<'_> {
    /// An owned copy. O(size).
    pub fn to_owned(&self) -> RdbValue {
        match *self {
            RdbValueRef::Str(s) => RdbValue::Str(Bytes::copy_from_slice(s)),
            RdbValueRef::List(l) => RdbValue::List(l.clone()),
            RdbValueRef::Hash(h) => RdbValue::Hash(h.clone()),
            RdbValueRef::Set(m) => RdbValue::Set(m.clone()),
            RdbValueRef::ZSet(z) => RdbValue::ZSet(z.clone()),
            RdbValueRef::Stream(s) => RdbValue::Stream(Box::new(s.clone())),
        }
    }
}

/// A key as [`read_rdb_ref`] hands it over (see [`RdbEntry`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RdbEntryRef<'a> {
    /// Database index given by the most recent SELECTDB opcode (0 if none).
    pub db: usize,
    /// The key name.
    pub key: &'a [u8],
    /// The value.
    pub value: RdbValueRef<'a>,
    /// Absolute expiry time in Unix milliseconds, if the key has a TTL.
    pub expire_at_ms: Option<u64>,
}

impl RdbEntryRef<'_> {
    /// An owned copy. O(size).
    pub fn to_owned(&self) -> RdbEntry {
        RdbEntry {
            db: self.db,
            key: Bytes::copy_from_slice(self.key),
            value: self.value.to_owned(),
            expire_at_ms: self.expire_at_ms,
        }
    }
}

/// One key loaded from (or destined for) an RDB file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdbEntry {
    /// Database index given by the most recent SELECTDB opcode (0 if none).
    pub db: usize,
    /// The key name (binary safe).
    pub key: Bytes,
    /// The value.
    pub value: RdbValue,
    /// Absolute expiry time in Unix milliseconds, if the key has a TTL.
    pub expire_at_ms: Option<u64>,
}

/// Counters returned by [`read_rdb`] after a successful load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RdbStats {
    /// Keys handed to the `on_entry` callback.
    pub keys_loaded: u64,
    /// Keys not handed over because their expiry was before `now_ms`.
    pub expired_skipped: u64,
    /// The RDB format version from the file header.
    pub rdb_version: u32,
    /// Lists/hashes/sets/sorted sets with no elements, skipped as Redis
    /// itself does.
    pub empty_keys_skipped: u64,
    /// Function libraries (opcode 0xF5, Redis 7 `FUNCTION`s) read; their
    /// code is in [`RdbStats::functions`] for the caller to load.
    pub functions_skipped: u64,
    /// The code of each function library, in file order.
    pub functions: Vec<Vec<u8>>,
}

/// Everything that can go wrong reading or writing an RDB file.
///
/// Reader errors other than plain I/O failures carry the byte offset in the
/// input where the problem was found, and their `Display` names it.
#[derive(Debug, thiserror::Error)]
pub enum RdbError {
    /// The underlying reader or writer failed. Reader-side I/O errors have
    /// the byte offset added to their message.
    #[error("RDB I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The input is not a valid RDB file: bad magic, truncation, checksum
    /// mismatch, impossible lengths, malformed nested encodings, ...
    #[error("corrupt RDB at byte offset {offset}: {reason}")]
    Corrupt {
        /// Byte offset in the input where the problem was detected.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// The input is valid but holds something this codec does not handle:
    /// an RDB version outside 1..=11, a module value, a hash with field
    /// expirations, module auxiliary data, ...
    #[error("unsupported RDB content at byte offset {offset}: {reason}")]
    Unsupported {
        /// Byte offset of the opcode or type byte that is not supported.
        offset: u64,
        /// What is not supported (names the type or opcode).
        reason: String,
    },
    /// Returned by an `on_entry` callback to stop loading; [`read_rdb`]
    /// passes any callback error through unchanged.
    #[error("RDB load aborted: {0}")]
    Aborted(String),
}

impl RdbError {
    /// Byte offset carried by the error, if any.
    pub fn offset(&self) -> Option<u64> {
        match self {
            RdbError::Corrupt { offset, .. } | RdbError::Unsupported { offset, .. } => Some(*offset),
            RdbError::Io(_) | RdbError::Aborted(_) => None,
        }
    }
}

/// Opcodes and type bytes of the RDB format.
pub(crate) mod op {
    pub const SLOT_INFO: u8 = 0xF4;
    pub const FUNCTION2: u8 = 0xF5;
    pub const FUNCTION_PRE_GA: u8 = 0xF6;
    pub const MODULE_AUX: u8 = 0xF7;
    pub const IDLE: u8 = 0xF8;
    pub const FREQ: u8 = 0xF9;
    pub const AUX: u8 = 0xFA;
    pub const RESIZEDB: u8 = 0xFB;
    pub const EXPIRETIME_MS: u8 = 0xFC;
    pub const EXPIRETIME: u8 = 0xFD;
    pub const SELECTDB: u8 = 0xFE;
    pub const EOF: u8 = 0xFF;

    pub const TYPE_STRING: u8 = 0;
    pub const TYPE_LIST: u8 = 1;
    pub const TYPE_SET: u8 = 2;
    pub const TYPE_ZSET: u8 = 3;
    pub const TYPE_HASH: u8 = 4;
    pub const TYPE_ZSET_2: u8 = 5;
    pub const TYPE_HASH_ZIPMAP: u8 = 9;
    pub const TYPE_LIST_ZIPLIST: u8 = 10;
    pub const TYPE_SET_INTSET: u8 = 11;
    pub const TYPE_ZSET_ZIPLIST: u8 = 12;
    pub const TYPE_HASH_ZIPLIST: u8 = 13;
    pub const TYPE_LIST_QUICKLIST: u8 = 14;
    pub const TYPE_STREAM_LISTPACKS: u8 = 15;
    pub const TYPE_HASH_LISTPACK: u8 = 16;
    pub const TYPE_ZSET_LISTPACK: u8 = 17;
    pub const TYPE_LIST_QUICKLIST_2: u8 = 18;
    pub const TYPE_STREAM_LISTPACKS_2: u8 = 19;
    pub const TYPE_SET_LISTPACK: u8 = 20;
    pub const TYPE_STREAM_LISTPACKS_3: u8 = 21;

    /// Type-3 score lengths standing for NaN, +inf and -inf.
    pub const SCORE_NAN: u8 = 253;
    pub const SCORE_POS_INF: u8 = 254;
    pub const SCORE_NEG_INF: u8 = 255;

    /// First byte of a length: 2 high bits select the form.
    pub const LEN_32BIT: u8 = 0x80;
    pub const LEN_64BIT: u8 = 0x81;
    pub const ENC_INT8: u8 = 0;
    pub const ENC_INT16: u8 = 1;
    pub const ENC_INT32: u8 = 2;
    pub const ENC_LZF: u8 = 3;

    /// Quicklist 2 node containers.
    pub const QL_PLAIN: u64 = 1;
    pub const QL_PACKED: u64 = 2;

    /// Human name of a value type byte Redis defines but this codec does
    /// not load (or `None` for types it loads / does not know).
    pub fn unsupported_type_name(t: u8) -> Option<&'static str> {
        Some(match t {
            6 => "module value (pre-GA)",
            7 => "module value",
            22 | 24 => "hash with field expirations",
            23 | 25 => "hash with field expirations (listpack)",
            _ => return None,
        })
    }
}
