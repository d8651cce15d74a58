//! Writing sets and sorted sets as Redis 7.0 does: an intset (type 11) or
//! strings (type 2); a listpack of members and scores (type 17) or strings
//! with binary scores (type 5).

use std::cmp::Ordering;
use std::io::Write;

use super::super::elements::write_decimal;
use super::super::{intset, listpack, scores};
use super::{op, RdbError, RdbWriter, SCRATCH_KEEP};

/// Redis's sorted-set order: by score (`-0.0` equal to `0.0`), then by
/// member bytes.
pub(super) fn zset_order(a: (&[u8], f64), b: (&[u8], f64)) -> Ordering {
    a.1.partial_cmp(&b.1).unwrap_or(Ordering::Equal).then_with(|| a.0.cmp(b.0))
}

/// The error of a writer given a value that changed (or lied about its
/// size) while it was written.
fn changed(what: &str) -> RdbError {
    RdbError::Io(std::io::Error::other(format!("{what} changed while it was being written")))
}

impl<W: Write> RdbWriter<W> {
    /// Writes a set key of `len` members (the number `members` yields).
    /// `intset` (the set is intset-encoded, in Redis's terms): as type 11,
    /// one intset blob of the members sorted, in the smallest integer size
    /// that holds them — what Redis 7.0 writes for such a set; should a
    /// member not be a canonical 64-bit integer after all, the set is
    /// written as type 2 instead. Otherwise as type 2: the count, then one
    /// string per member. Members must be unique. Nothing is written when
    /// `len` is 0. `members` is walked once. Errors if it does not yield
    /// `len` members. O(total bytes), O(n log n) for an intset.
    pub fn write_set<I, M>(
        &mut self,
        key: &[u8],
        len: usize,
        members: I,
        intset: bool,
        expire_at_ms: Option<u64>,
    ) -> Result<(), RdbError>
    where
        I: IntoIterator<Item = M>,
        M: AsRef<[u8]>,
    {
        if len == 0 {
            return Ok(());
        }
        let mut members = members.into_iter();
        let mut ints = std::mem::take(&mut self.ints);
        ints.clear();
        let mut stray = None;
        if intset {
            for m in members.by_ref() {
                match listpack::string_to_i64(m.as_ref()) {
                    Some(v) => ints.push(v),
                    None => {
                        stray = Some(m);
                        break;
                    }
                }
            }
        }
        let r = if intset && stray.is_none() {
            self.intset(key, len, &mut ints, expire_at_ms)
        } else {
            self.plain_set(key, len, &ints, stray, members, expire_at_ms)
        };
        if ints.capacity() * 8 <= SCRATCH_KEEP {
            self.ints = ints;
        }
        r
    }

    /// Writes `ints` (unsorted) as an intset key.
    fn intset(&mut self, key: &[u8], len: usize, ints: &mut [i64], expire_at_ms: Option<u64>) -> Result<(), RdbError> {
        if ints.len() != len {
            return Err(changed("set"));
        }
        ints.sort_unstable();
        if ints.windows(2).any(|w| w[0] == w[1]) {
            return Err(RdbError::Io(std::io::Error::other("set has duplicate members")));
        }
        let mut blob = std::mem::take(&mut self.blob);
        let r = match intset::encode(ints, &mut blob) {
            Some(()) => self.key_header(op::TYPE_SET_INTSET, key, expire_at_ms).and_then(|()| self.string(&blob)),
            None => Err(RdbError::Io(std::io::Error::other("intset of more than 2^32 members"))),
        };
        if blob.capacity() <= SCRATCH_KEEP {
            self.blob = blob;
        }
        r
    }

    /// Writes a type-2 set: the integers `ints` already taken from the
    /// members, then `stray`, then the rest of `members`.
    fn plain_set<M: AsRef<[u8]>>(
        &mut self,
        key: &[u8],
        len: usize,
        ints: &[i64],
        stray: Option<M>,
        members: impl Iterator<Item = M>,
        expire_at_ms: Option<u64>,
    ) -> Result<(), RdbError> {
        self.key_header(op::TYPE_SET, key, expire_at_ms)?;
        self.len(len as u64)?;
        let mut written = 0usize;
        let mut text = Vec::new();
        for &v in ints {
            text.clear();
            write_decimal(&mut text, v);
            self.string(&text)?;
            written += 1;
        }
        for m in stray.into_iter().chain(members) {
            self.string(m.as_ref())?;
            written += 1;
        }
        if written != len {
            return Err(changed("set"));
        }
        Ok(())
    }

    /// Writes a sorted-set key of `len` members (the number `pairs`
    /// yields). `packed` (the sorted set is listpack-encoded, in Redis's
    /// terms): as type 17, one listpack of member, score, member, score…,
    /// each score an integer entry when it is an exact integer within
    /// ±2^62 (so `-0` is stored as 0, as Redis does), else the text of
    /// Redis's `d2string` (`inf`, `-inf`, `%.17g`), byte for byte what
    /// Redis 7.0 writes; `pairs` must then come in ascending (score,
    /// member) order, as Redis keeps a listpack. Otherwise as type 5: the
    /// count, then per member its string and its score as a little-endian
    /// binary double. Members must be unique, scores never NaN. Nothing is
    /// written when `len` is 0. `pairs` is walked once. Errors if it does
    /// not yield `len` pairs, or (packed) yields them out of order or with
    /// a NaN score. O(total bytes).
    pub fn write_zset<'a, I>(
        &mut self,
        key: &[u8],
        len: usize,
        pairs: I,
        packed: bool,
        expire_at_ms: Option<u64>,
    ) -> Result<(), RdbError>
    where
        I: IntoIterator<Item = (&'a [u8], f64)>,
    {
        if len == 0 {
            return Ok(());
        }
        if !packed {
            self.key_header(op::TYPE_ZSET_2, key, expire_at_ms)?;
            self.len(len as u64)?;
            let mut written = 0usize;
            for (m, s) in pairs {
                self.string(m)?;
                self.raw(&s.to_le_bytes())?;
                written += 1;
            }
            return if written == len { Ok(()) } else { Err(changed("sorted set")) };
        }
        let mut lp = std::mem::take(&mut self.lp);
        lp.clear();
        let (mut tmp, mut text) = (String::new(), String::new());
        let mut prev: Option<(&[u8], f64)> = None;
        let mut bad = None;
        for (m, s) in pairs {
            if s.is_nan() {
                bad = Some("a NaN score");
                break;
            }
            if prev.is_some_and(|p| zset_order(p, (m, s)) != Ordering::Less) {
                bad = Some("members out of (score, member) order");
                break;
            }
            prev = Some((m, s));
            text.clear();
            scores::listpack_text(s, &mut tmp, &mut text);
            lp.push(m);
            lp.push(text.as_bytes());
        }
        let r = if let Some(what) = bad {
            Err(RdbError::Io(std::io::Error::other(format!("packed sorted set with {what}"))))
        } else if lp.count() != 2 * len {
            Err(changed("sorted set"))
        } else {
            match lp.finish() {
                Some(blob) => {
                    self.key_header(op::TYPE_ZSET_LISTPACK, key, expire_at_ms).and_then(|()| self.string(blob))
                }
                None => Err(RdbError::Io(std::io::Error::other("sorted set listpack over 4 GiB"))),
            }
        };
        if lp.capacity() <= SCRATCH_KEEP {
            self.lp = lp;
        }
        r
    }
}
