//! Stored values and the per-key metadata kept beside them.

use std::collections::VecDeque;

use bytes::Bytes;
use indexmap::IndexMap;

/// Hash state used by every map in the keyspace: fast, seeded per process
/// (so collisions cannot be precomputed by clients).
pub type Hasher = foldhash::fast::RandomState;

/// The fields of a hash, in insertion order (as Redis's listpack keeps them
/// for small hashes).
pub type HashValue = IndexMap<Bytes, Bytes, Hasher>;

/// A value of one of the types this server holds.
#[derive(Debug, Clone)]
pub enum Value {
    /// A binary-safe string (also integers and floats, as text).
    Str(Bytes),
    /// A list: O(1) push and pop at both ends, O(n) by index.
    List(VecDeque<Bytes>),
    /// A hash of field → value.
    Hash(HashValue),
}

/// Redis's encoding thresholds, used to answer `OBJECT ENCODING` as Redis would.
const LISTPACK_MAX_ENTRIES: usize = 128;
const LISTPACK_MAX_VALUE: usize = 64;

impl Value {
    /// The name `TYPE` answers.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
        }
    }

    /// The name `OBJECT ENCODING` answers: the encoding Redis 7 would use
    /// for the same content.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => {
                if s.len() <= 20 && crate::cmd::args::parse_i64_bytes(s).is_some() {
                    "int"
                } else if s.len() <= 44 {
                    "embstr"
                } else {
                    "raw"
                }
            }
            Value::List(l) => {
                if l.len() <= LISTPACK_MAX_ENTRIES && l.iter().all(|e| e.len() <= 8192) {
                    "listpack"
                } else {
                    "quicklist"
                }
            }
            Value::Hash(h) => {
                if h.len() <= LISTPACK_MAX_ENTRIES
                    && h.iter().all(|(k, v)| k.len() <= LISTPACK_MAX_VALUE && v.len() <= LISTPACK_MAX_VALUE)
                {
                    "listpack"
                } else {
                    "hashtable"
                }
            }
        }
    }

    /// An estimate of the heap bytes this value holds (for memory accounting).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => s.len(),
            Value::List(l) => l.capacity() * 32 + l.iter().map(|e| e.len() + 16).sum::<usize>(),
            Value::Hash(h) => h.capacity() * 80 + h.iter().map(|(k, v)| k.len() + v.len() + 32).sum::<usize>(),
        }
    }
}

/// A key's value with its expiry and access metadata.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The value.
    pub value: Value,
    /// Absolute expiry in Unix milliseconds; 0 = no expiry.
    pub expire_at: u64,
    /// Last access, in seconds of the LRU clock (see [`crate::db::lru_clock`]).
    pub lru: u32,
    /// Logarithmic access counter (Redis's LFU: starts at 5).
    pub freq: u8,
}

impl Entry {
    /// A new entry without expiry, accessed now.
    pub fn new(value: Value) -> Entry {
        Entry { value, expire_at: 0, lru: super::lru_clock(), freq: LFU_INIT }
    }
}

/// Initial LFU counter of a new key (Redis's `LFU_INIT_VAL`).
pub const LFU_INIT: u8 = 5;
