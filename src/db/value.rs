//! Stored values and the per-key metadata kept beside them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;

use super::compact::CompactBytes;
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
    /// A binary-safe string (also integers and floats, as text); up to 22
    /// bytes are stored inline.
    Str(CompactBytes),
    /// A list: O(1) push and pop at both ends, O(n) by index. Boxed so a
    /// string entry does not pay for the collection types' size.
    List(Box<VecDeque<Bytes>>),
    /// A hash of field → value (boxed, as lists).
    Hash(Box<HashValue>),
}

/// `hash-max-listpack-entries` (Redis 7.0's default: 512).
static HASH_MAX_LISTPACK_ENTRIES: AtomicUsize = AtomicUsize::new(512);
/// `hash-max-listpack-value` (default 64 bytes).
static HASH_MAX_LISTPACK_VALUE: AtomicUsize = AtomicUsize::new(64);

/// Sets the thresholds under which a hash reports the `listpack` encoding
/// (and keeps listpack behaviour: order-keeping deletes, whole HSCAN replies).
pub fn set_hash_listpack_limits(max_entries: u64, max_value: u64) {
    let clamp = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    HASH_MAX_LISTPACK_ENTRIES.store(clamp(max_entries), Ordering::Relaxed);
    HASH_MAX_LISTPACK_VALUE.store(clamp(max_value), Ordering::Relaxed);
}

/// The current `hash-max-listpack-entries`. O(1).
pub fn hash_max_listpack_entries() -> usize {
    HASH_MAX_LISTPACK_ENTRIES.load(Ordering::Relaxed)
}

/// Whether Redis would keep this hash as a listpack: at most
/// `hash-max-listpack-entries` fields, none of whose names or values is
/// longer than `hash-max-listpack-value`. O(1) for a hash over the entry
/// limit, O(n) otherwise.
pub fn hash_is_listpack(h: &HashValue) -> bool {
    let max_value = HASH_MAX_LISTPACK_VALUE.load(Ordering::Relaxed);
    h.len() <= hash_max_listpack_entries() && h.iter().all(|(k, v)| k.len() <= max_value && v.len() <= max_value)
}

impl Value {
    /// A string value holding a copy of `b`.
    pub fn str(b: &[u8]) -> Value {
        Value::Str(CompactBytes::from_slice(b))
    }

    /// A list value.
    pub fn list(l: VecDeque<Bytes>) -> Value {
        Value::List(Box::new(l))
    }

    /// A hash value.
    pub fn hash(h: HashValue) -> Value {
        Value::Hash(Box::new(h))
    }

    /// The name `TYPE` answers.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
        }
    }

    /// The name `OBJECT ENCODING` answers: the encoding Redis 7.0 would use
    /// for the same content (lists are always quicklists in 7.0; hashes
    /// follow [`hash_is_listpack`]). O(1) except for hashes (see there).
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
            Value::List(_) => "quicklist",
            Value::Hash(h) => {
                if hash_is_listpack(h) {
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
    /// The string was modified in place (APPEND, SETRANGE): Redis then
    /// reports the `raw` encoding whatever the content. Cleared whenever
    /// the value is replaced (every new entry starts without it).
    pub modified_in_place: bool,
}

impl Entry {
    /// A new entry without expiry, accessed now.
    pub fn new(value: Value) -> Entry {
        Entry { value, expire_at: 0, lru: super::lru_clock(), freq: LFU_INIT, modified_in_place: false }
    }

    /// The name `OBJECT ENCODING` answers for this entry: `raw` for a
    /// string modified in place, else [`Value::encoding`].
    pub fn encoding(&self) -> &'static str {
        match self.value {
            Value::Str(_) if self.modified_in_place => "raw",
            _ => self.value.encoding(),
        }
    }
}

/// Initial LFU counter of a new key (Redis's `LFU_INIT_VAL`).
pub const LFU_INIT: u8 = 5;
