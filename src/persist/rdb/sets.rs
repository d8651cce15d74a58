//! Reading set and sorted-set values in every encoding Redis has written:
//! sets as strings (type 2), intsets (11) and listpacks (20, Redis 7.2);
//! sorted sets with text scores (3), binary scores (5), as ziplists (12)
//! and listpacks (17). Duplicate members, NaN scores and malformed blobs
//! are [`RdbError::Corrupt`].

use std::io::Read;

use super::input::{corrupt, Input};
use super::intset::{self, DupCheck};
use super::reader::{read_blob, read_string_seq, show_key, MAX_PREALLOC_ELEMS};
use super::{encodings, op, scores, Elements, RdbError, ScoredElements};

/// A blob decoder of [`encodings`].
type Decoder = fn(&[u8], &mut Elements) -> Result<(), String>;

/// Whether `t` is a set type byte this module reads.
pub fn is_set_type(t: u8) -> bool {
    matches!(t, op::TYPE_SET | op::TYPE_SET_INTSET | op::TYPE_SET_LISTPACK)
}

/// Whether `t` is a sorted-set type byte this module reads.
pub fn is_zset_type(t: u8) -> bool {
    matches!(t, op::TYPE_ZSET | op::TYPE_ZSET_2 | op::TYPE_ZSET_ZIPLIST | op::TYPE_ZSET_LISTPACK)
}

/// Reports the first duplicate among `members` (value starting at `off`).
fn check_dups(members: &Elements, dups: &mut DupCheck, off: u64, what: &str) -> Result<(), RdbError> {
    match dups.first_dup(members) {
        Some(i) => {
            let m = members.get(i).unwrap_or_default();
            Err(corrupt(off, format!("{what} has a duplicate member {}", show_key(m))))
        }
        None => Ok(()),
    }
}

/// Reads a set value of type `t` into `out` (empty): its members in file
/// order (an intset's ascending).
pub(super) fn read_set<R: Read>(
    inp: &mut Input<R>,
    t: u8,
    out: &mut Elements,
    dups: &mut DupCheck,
) -> Result<(), RdbError> {
    let off = inp.offset;
    match t {
        op::TYPE_SET => {
            let n = inp.read_len("set size")?;
            read_string_seq(inp, n, "set member", out)?;
        }
        // Strictly ascending, so free of duplicates: checked by the decoder.
        op::TYPE_SET_INTSET => return read_blob(inp, "intset", false, intset::decode, out),
        op::TYPE_SET_LISTPACK => read_blob(inp, "set listpack", false, encodings::listpack_entries, out)?,
        _ => return Err(corrupt(off, format!("value type {t} is not a set"))),
    }
    check_dups(out, dups, off, "set")
}

/// Reads a type-3 score: a length byte (253/254/255 for NaN/+inf/-inf)
/// and that many bytes of text.
fn read_text_score<R: Read>(inp: &mut Input<R>) -> Result<f64, RdbError> {
    let off = inp.offset;
    Ok(match inp.read_u8("score length")? {
        op::SCORE_NAN => f64::NAN,
        op::SCORE_POS_INF => f64::INFINITY,
        op::SCORE_NEG_INF => f64::NEG_INFINITY,
        len => {
            let mut buf = [0u8; 252];
            let text = &mut buf[..usize::from(len)];
            inp.read_exact(text, "score")?;
            // NaN text is reported by the caller, as the NaN length byte.
            if text.eq_ignore_ascii_case(b"nan") || text.eq_ignore_ascii_case(b"-nan") {
                return Ok(f64::NAN);
            }
            scores::parse(text).map_err(|reason| corrupt(off, reason))?
        }
    })
}

/// Reads a sorted-set value of type `t` into `out` (empty), members and
/// scores in file order. `scratch` (empty) receives a blob's elements and
/// is left cleared.
pub(super) fn read_zset<R: Read>(
    inp: &mut Input<R>,
    t: u8,
    out: &mut ScoredElements,
    scratch: &mut Elements,
    dups: &mut DupCheck,
) -> Result<(), RdbError> {
    let off = inp.offset;
    match t {
        op::TYPE_ZSET | op::TYPE_ZSET_2 => {
            let n = inp.read_len("sorted set size")?;
            out.reserve(usize::try_from(n).unwrap_or(usize::MAX).min(MAX_PREALLOC_ELEMS), 0);
            for _ in 0..n {
                inp.read_element(out.members_mut(), "sorted set member", false)?;
                let score_off = inp.offset;
                let score = if t == op::TYPE_ZSET_2 {
                    f64::from_le_bytes(inp.read_array("score")?)
                } else {
                    read_text_score(inp)?
                };
                if score.is_nan() {
                    return Err(corrupt(score_off, "sorted set score is NaN"));
                }
                out.push_score(score);
            }
        }
        op::TYPE_ZSET_ZIPLIST | op::TYPE_ZSET_LISTPACK => {
            let (what, decode): (&str, Decoder) = if t == op::TYPE_ZSET_ZIPLIST {
                ("sorted set ziplist", encodings::ziplist_entries)
            } else {
                ("sorted set listpack", encodings::listpack_entries)
            };
            read_blob(inp, what, false, decode, scratch)?;
            if !scratch.len().is_multiple_of(2) {
                return Err(corrupt(off, format!("{what} has an odd number of elements ({})", scratch.len())));
            }
            out.reserve(scratch.len() / 2, scratch.byte_len());
            for (m, s) in scratch.pairs() {
                let score = scores::parse(s).map_err(|reason| corrupt(off, format!("{what}: {reason}")))?;
                out.push(m, score);
            }
            scratch.clear();
        }
        _ => return Err(corrupt(off, format!("value type {t} is not a sorted set"))),
    }
    check_dups(out.members(), dups, off, "sorted set")
}
