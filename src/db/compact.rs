//! Compact byte strings for keys and string values.
//!
//! Most keys and many values are short. Stored as `Bytes` each would cost a
//! 32-byte handle plus a heap block plus, once shared, a 24-byte header. A
//! [`CompactBytes`] is 24 bytes: up to 22 bytes inline with no allocation,
//! up to 4 KiB in one exactly sized block (copied into a reply, which costs
//! what taking a reference would: one allocation), longer contents in one
//! reference-counted block handed out to replies without copying.

use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;

/// Longest content kept inline.
pub const INLINE_MAX: usize = 22;

/// Longest content kept in a plain block; longer ones are shared, so a
/// reply takes a reference instead of a copy. A reference count would add
/// 16 bytes to every medium value (a 100-byte value: 128-byte block instead
/// of 112).
pub const BOXED_MAX: usize = 4096;

/// An immutable byte string: inline when short, shared when long. It hashes
/// and compares as its bytes, so maps keyed by it are looked up by `&[u8]`.
#[derive(Clone)]
pub enum CompactBytes {
    /// Up to [`INLINE_MAX`] bytes stored in place.
    Inline(u8, [u8; INLINE_MAX]),
    /// Up to [`BOXED_MAX`] bytes in one block of their own.
    Boxed(Box<[u8]>),
    /// Longer contents, shared (a reply takes a reference, not a copy).
    Shared(Arc<[u8]>),
    /// A big request argument kept as it was received, in an allocation of
    /// its own of exactly its size, so storing it copied nothing (see
    /// [`CompactBytes::received`]); shared with replies as `Shared` is.
    /// Boxed to keep the handle at 24 bytes.
    Received(Box<Bytes>),
}

impl CompactBytes {
    /// Copies `b` (inline if it fits). O(len).
    pub fn from_slice(b: &[u8]) -> CompactBytes {
        if b.len() <= INLINE_MAX {
            let mut buf = [0u8; INLINE_MAX];
            buf[..b.len()].copy_from_slice(b);
            CompactBytes::Inline(b.len() as u8, buf)
        } else if b.len() <= BOXED_MAX {
            CompactBytes::Boxed(Box::from(b))
        } else {
            CompactBytes::Shared(Arc::from(b))
        }
    }

    /// Keeps `b` without copying it. The caller promises that `b` spans
    /// an allocation of its own, about its size (an argument of at least
    /// `BIG_ARG` bytes from a parser made with
    /// `RequestParser::exact_big_args`): a slice of a larger buffer would
    /// keep all of that buffer alive. O(1).
    pub fn received(b: Bytes) -> CompactBytes {
        CompactBytes::Received(Box::new(b))
    }

    /// Heap bytes held beyond the 24-byte handle (what the representation
    /// costs, for MEMORY USAGE and estimates). O(1).
    pub fn heap_size(&self) -> usize {
        match self {
            CompactBytes::Inline(..) => 0,
            CompactBytes::Boxed(b) => b.len(),
            // The reference counts precede the bytes.
            CompactBytes::Shared(a) => a.len() + 16,
            // The box, the block's header and its CRLF (a value kept in a
            // predicted read's buffer also keeps the request's other bytes,
            // at most 4 KiB before it and 256 after, usually under 100:
            // not counted here; `used_memory` counts them).
            CompactBytes::Received(b) => b.len() + 32 + 32 + 2,
        }
    }

    /// The contents as `Bytes` for a reply: a copy up to [`BOXED_MAX`]
    /// bytes, a new reference to the same block beyond.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            CompactBytes::Inline(len, buf) => Bytes::copy_from_slice(&buf[..*len as usize]),
            CompactBytes::Boxed(b) => Bytes::copy_from_slice(b),
            CompactBytes::Shared(a) => Bytes::from_owner(SharedSlice(a.clone())),
            CompactBytes::Received(b) => (**b).clone(),
        }
    }
}

/// Lets `Bytes` borrow an `Arc<[u8]>` without copying it.
struct SharedSlice(Arc<[u8]>);

impl AsRef<[u8]> for SharedSlice {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Deref for CompactBytes {
    type Target = [u8];

    // Short keys are the hot case (every map probe compares one): kept
    // small enough for the table's probe loop to inline it.
    #[inline(always)]
    fn deref(&self) -> &[u8] {
        match self {
            CompactBytes::Inline(len, buf) => &buf[..*len as usize],
            _ => self.on_heap(),
        }
    }
}

impl CompactBytes {
    /// The contents of a value held on the heap.
    #[inline(never)]
    fn on_heap(&self) -> &[u8] {
        match self {
            CompactBytes::Inline(len, buf) => &buf[..*len as usize],
            CompactBytes::Boxed(b) => b,
            CompactBytes::Shared(a) => a,
            CompactBytes::Received(b) => b,
        }
    }
}

impl Borrow<[u8]> for CompactBytes {
    #[inline(always)]
    fn borrow(&self) -> &[u8] {
        self
    }
}

impl AsRef<[u8]> for CompactBytes {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl PartialEq for CompactBytes {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for CompactBytes {}

impl Hash for CompactBytes {
    // Must hash exactly as `[u8]` does, for lookups by `&[u8]`.
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

impl fmt::Debug for CompactBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

impl From<&[u8]> for CompactBytes {
    fn from(b: &[u8]) -> Self {
        CompactBytes::from_slice(b)
    }
}

impl From<&Bytes> for CompactBytes {
    fn from(b: &Bytes) -> Self {
        CompactBytes::from_slice(b)
    }
}

impl From<Bytes> for CompactBytes {
    fn from(b: Bytes) -> Self {
        CompactBytes::from_slice(&b)
    }
}

impl PartialEq<[u8]> for CompactBytes {
    fn eq(&self, other: &[u8]) -> bool {
        **self == *other
    }
}

impl PartialEq<Bytes> for CompactBytes {
    fn eq(&self, other: &Bytes) -> bool {
        **self == **other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn size_and_round_trip() {
        assert_eq!(std::mem::size_of::<CompactBytes>(), 24);
        for len in [0, 1, 22, 23, 100, 4096, 4097, 10000] {
            let v: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let c = CompactBytes::from_slice(&v);
            assert_eq!(&c[..], &v[..]);
            assert_eq!(&c.to_bytes()[..], &v[..]);
            assert_eq!(matches!(c, CompactBytes::Inline(..)), len <= INLINE_MAX);
            assert_eq!(matches!(c, CompactBytes::Boxed(..)), len > INLINE_MAX && len <= BOXED_MAX);
        }
    }

    #[test]
    fn a_received_argument_is_kept_and_shared_without_copies() {
        let arg = Bytes::from(vec![7u8; 40_000]);
        let c = CompactBytes::received(arg.clone());
        assert_eq!(std::mem::size_of_val(&c), 24);
        assert_eq!(&c[..], &arg[..]);
        assert_eq!(c.as_ptr(), arg.as_ptr());
        assert_eq!(c.to_bytes().as_ptr(), arg.as_ptr());
        assert_eq!(c, CompactBytes::from_slice(&arg));
    }

    #[test]
    fn map_lookup_by_slice() {
        let mut m: HashMap<CompactBytes, u32> = HashMap::new();
        m.insert(CompactBytes::from_slice(b"short"), 1);
        m.insert(CompactBytes::from_slice(&[7u8; 40]), 2);
        assert_eq!(m.get(&b"short"[..]), Some(&1));
        assert_eq!(m.get(&[7u8; 40][..]), Some(&2));
    }
}
