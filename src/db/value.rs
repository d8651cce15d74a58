//! Stored values and the per-key metadata kept beside them.

use super::compact::CompactBytes;
pub use super::hash::HashValue;
pub use super::list::ListValue;
pub use super::set::SetValue;
pub use super::stream::StreamValue;
pub use super::zset::ZSetValue;

/// Hash state used by every map in the keyspace: fast, seeded per process
/// (so collisions cannot be precomputed by clients).
pub type Hasher = foldhash::fast::RandomState;

/// A value of one of the types this server holds.
#[derive(Debug, Clone)]
pub enum Value {
    /// A binary-safe string (also integers and floats, as text); up to 22
    /// bytes are stored inline.
    Str(CompactBytes),
    /// A list: packed while small, a deque when large (see [`ListValue`]).
    List(ListValue),
    /// A hash of field → value: packed while small, a table when large
    /// (see [`HashValue`]).
    Hash(HashValue),
    /// A set of distinct members (see [`SetValue`]).
    Set(SetValue),
    /// A sorted set: members ordered by score (see [`ZSetValue`]).
    ZSet(ZSetValue),
    /// A stream of entries with consumer groups (see [`StreamValue`];
    /// boxed to keep `Value` at 24 bytes).
    Stream(Box<StreamValue>),
}

/// Publishes the encoding limits (`hash-max-listpack-entries`,
/// `hash-max-listpack-value`, `list-max-listpack-size`) to the value
/// types; values changed from now on follow them.
pub fn set_listpack_limits(hash_entries: u64, hash_value: u64, list_size: i64) {
    super::hash::set_hash_listpack_limits(hash_entries, hash_value);
    super::list::set_list_max_listpack_size(list_size);
}

impl Value {
    /// A string value holding a copy of `b`.
    pub fn str(b: &[u8]) -> Value {
        Value::Str(CompactBytes::from_slice(b))
    }

    /// The name `TYPE` answers.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The name `OBJECT ENCODING` answers: the encoding Redis 7.0 would use
    /// for the same content (lists are always quicklists in 7.0; hashes
    /// are `listpack` while packed). O(1) (O(len) for a short string).
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
            Value::Hash(h) if h.is_packed() => "listpack",
            Value::Hash(_) => "hashtable",
            Value::Set(s) if s.is_intset() => "intset",
            Value::Set(_) => "hashtable",
            Value::ZSet(z) if z.is_packed() => "listpack",
            Value::ZSet(_) => "skiplist",
            Value::Stream(_) => "stream",
        }
    }

    /// An estimate of the heap bytes this value holds (for memory accounting).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => s.len(),
            Value::List(l) => l.heap_size(),
            Value::Hash(h) => h.heap_size(),
            Value::Set(s) => s.heap_size(),
            Value::ZSet(z) => z.heap_size(),
            Value::Stream(s) => s.heap_size(),
        }
    }
}

/// A collection type held in one [`Value`] variant: lets the keyspace hand
/// a command its key's value already typed ([`super::Locked::read_as`] and
/// friends), with one wrong-type check for every type.
pub trait Typed: Default + Sized {
    /// The value of this type in `v`, if `v` holds one.
    fn of(v: &mut Value) -> Option<&mut Self>;
    /// `self` as a stored value.
    fn into_value(self) -> Value;
}

macro_rules! typed {
    ($t:ty, $variant:ident) => {
        impl Typed for $t {
            fn of(v: &mut Value) -> Option<&mut Self> {
                match v {
                    Value::$variant(x) => Some(x),
                    _ => None,
                }
            }
            fn into_value(self) -> Value {
                Value::$variant(self)
            }
        }
    };
}
typed!(ListValue, List);
typed!(HashValue, Hash);
typed!(SetValue, Set);
typed!(ZSetValue, ZSet);

impl Typed for StreamValue {
    fn of(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::Stream(x) => Some(x),
            _ => None,
        }
    }
    fn into_value(self) -> Value {
        Value::Stream(Box::new(self))
    }
}

/// A key holds a value of another type than the command works on (the
/// command layer answers Redis's WRONGTYPE error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongType;

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

#[cfg(test)]
mod size_tests {
    /// Every key's table slot holds an `Entry` (40 bytes of its 72): a new
    /// variant or field must not grow it unnoticed. `Value` fits in 24
    /// bytes because each collection's two forms are a boxed slice or a
    /// box, leaving room for the enum tags.
    #[test]
    fn entries_stay_at_40_bytes() {
        assert_eq!(std::mem::size_of::<super::Value>(), 24);
        assert_eq!(std::mem::size_of::<super::Entry>(), 40);
        assert_eq!(crate::db::keyspace::SLOT_BYTES, 72);
    }
}
