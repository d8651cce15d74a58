//! The sparse HLL encoding: the registers as a run-length sequence of
//! opcodes, in register order, covering all 16384 registers.
//!
//! - ZERO `00xxxxxx`: 1..=64 registers at 0;
//! - XZERO `01xxxxxx yyyyyyyy`: 1..=16384 registers at 0 (14-bit length);
//! - VAL `1vvvvvxx`: 1..=4 registers at value 1..=32.
//!
//! Updates follow Redis's `hllSparseSet` step for step (split the opcode
//! covering the register, then merge equal neighbouring VALs within five
//! opcodes), since the bytes must come out identical. The body is
//! untrusted: opcodes may claim more or fewer registers than exist, and an
//! XZERO may be cut short by the end of the string (its missing byte reads
//! as 0, as the NUL terminator Redis's strings carry).

use super::{dense_raise, dense_set, invalidate_cache, Corrupt, DENSE_SIZE, HDR, REGISTERS};

const XZERO_BIT: u8 = 0x40;
const VAL_BIT: u8 = 0x80;
/// Largest value a VAL opcode holds.
pub const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;
const XZERO_MAX_LEN: usize = 16384;

/// One decoded opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// Registers at zero (ZERO or XZERO), and the opcode's size in bytes.
    Zeros(usize, usize),
    /// `len` registers at `value`.
    Val(u8, usize),
}

impl Op {
    /// Registers the opcode covers.
    fn span(self) -> usize {
        match self {
            Op::Zeros(n, _) | Op::Val(_, n) => n,
        }
    }

    /// Bytes the opcode takes.
    fn size(self) -> usize {
        match self {
            Op::Zeros(_, size) => size,
            Op::Val(..) => 1,
        }
    }
}

fn is_xzero(b: u8) -> bool {
    b & 0xc0 == XZERO_BIT
}

fn is_val(b: u8) -> bool {
    b & VAL_BIT != 0
}

/// The opcode at `body[p]` (`p` in bounds).
fn op_at(body: &[u8], p: usize) -> Op {
    let b = body[p];
    if is_val(b) {
        Op::Val(((b >> 2) & 0x1f) + 1, (b & 3) as usize + 1)
    } else if is_xzero(b) {
        let low = body.get(p + 1).copied().unwrap_or(0) as usize;
        Op::Zeros((((b & 0x3f) as usize) << 8 | low) + 1, 2)
    } else {
        Op::Zeros((b & 0x3f) as usize + 1, 1)
    }
}

/// Iterates the opcodes of a sparse body.
fn ops(body: &[u8]) -> impl Iterator<Item = Op> + '_ {
    let mut p = 0;
    std::iter::from_fn(move || {
        (p < body.len()).then(|| {
            let op = op_at(body, p);
            p += op.size();
            op
        })
    })
}

fn val_byte(value: u8, len: usize) -> u8 {
    ((value - 1) << 2 | (len - 1) as u8) | VAL_BIT
}

/// Appends the opcode for `len` zero registers (1..=16384): ZERO up to 64,
/// XZERO beyond, as Redis chooses.
fn push_zero_run(out: &mut Vec<u8>, len: usize) {
    if len > ZERO_MAX_LEN {
        let l = len - 1;
        out.push((l >> 8) as u8 | XZERO_BIT);
        out.push((l & 0xff) as u8);
    } else {
        out.push((len - 1) as u8);
    }
}

/// Appends XZERO opcodes for `n` zero registers (a new HLL's body).
pub fn push_zeros(out: &mut Vec<u8>, mut n: usize) {
    while n > 0 {
        let run = n.min(XZERO_MAX_LEN);
        let l = run - 1;
        out.push((l >> 8) as u8 | XZERO_BIT);
        out.push((l & 0xff) as u8);
        n -= run;
    }
}

/// Calls `f(first, len, value)` for each VAL run that fits in the
/// registers, and answers whether the body covers exactly all of them (a
/// run that would overflow stops the walk, as in Redis).
fn walk_vals(body: &[u8], mut f: impl FnMut(usize, usize, u8)) -> Result<(), Corrupt> {
    let mut idx = 0usize;
    for op in ops(body) {
        match op {
            Op::Zeros(n, _) => idx += n,
            Op::Val(v, n) => {
                if idx + n > REGISTERS {
                    break;
                }
                f(idx, n, v);
                idx += n;
            }
        }
    }
    if idx == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// The dense form of sparse HLL string `s` (header and cached cardinality
/// copied, encoding set to dense). O(size + registers).
pub fn to_dense(s: &[u8]) -> Result<Vec<u8>, Corrupt> {
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR].copy_from_slice(s.get(..HDR).ok_or(Corrupt)?);
    dense[4] = 0;
    let regs = &mut dense[HDR..];
    walk_vals(&s[HDR..], |first, n, v| {
        for i in first..first + n {
            dense_set(regs, i, v);
        }
    })?;
    Ok(dense)
}

/// Raises each of `max`'s registers to the sparse body's. O(size + registers).
pub fn merge_into(max: &mut [u8; REGISTERS], body: &[u8]) -> Result<(), Corrupt> {
    walk_vals(body, |first, n, v| {
        for m in &mut max[first..first + n] {
            *m = (*m).max(v);
        }
    })
}

/// Adds the sparse body's register values to histogram `h`; [`Corrupt`]
/// unless the opcodes cover exactly the 16384 registers. O(size).
pub fn histogram(body: &[u8], h: &mut [u32; 64]) -> Result<(), Corrupt> {
    let mut idx = 0usize;
    for op in ops(body) {
        let (v, n) = match op {
            Op::Zeros(n, _) => (0, n),
            Op::Val(v, n) => (v, n),
        };
        idx += n;
        h[v as usize] = h[v as usize].saturating_add(n as u32);
    }
    if idx == REGISTERS {
        Ok(())
    } else {
        Err(Corrupt)
    }
}

/// The opcodes as `PFDEBUG DECODE` prints them: `z:len` (ZERO), `Z:len`
/// (XZERO), `v:value,len` (VAL), space separated. O(size).
pub fn decode(body: &[u8]) -> String {
    let mut out = Vec::new();
    let mut p = 0;
    while p < body.len() {
        let op = op_at(body, p);
        out.push(match op {
            Op::Zeros(n, 1) => format!("z:{n}"),
            Op::Zeros(n, _) => format!("Z:{n}"),
            Op::Val(v, n) => format!("v:{v},{n}"),
        });
        p += op.size();
    }
    out.join(" ")
}

/// Raises register `index` to `count` in sparse HLL string `s` (Redis's
/// `hllSparseSet`): true if it changed (the cache is then marked stale).
/// Promotes `s` to dense when `count` exceeds 32 or the update would make
/// `s` longer than `max_bytes`. O(size).
pub fn raise(s: &mut Vec<u8>, index: usize, count: u8, max_bytes: usize) -> Result<bool, Corrupt> {
    if count > VAL_MAX_VALUE {
        return promote(s, index, count);
    }
    // Step 1: find the opcode covering the register.
    let end = s.len();
    let (mut p, mut first, mut span) = (HDR, 0usize, 0usize);
    let mut prev = None;
    let mut op = Op::Zeros(0, 1);
    while p < end {
        op = op_at(s, p);
        span = op.span();
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += op.size();
        first += span;
    }
    if span == 0 || p >= end {
        return Err(Corrupt);
    }
    // Step 2: the trivial cases, updated in place.
    match op {
        Op::Val(old, _) if old >= count => return Ok(false),
        Op::Val(_, 1) | Op::Zeros(1, 1) => {
            s[p] = val_byte(count, 1);
            merge_neighbours(s, prev.unwrap_or(HDR));
            return Ok(true);
        }
        _ => {}
    }
    // The general case: split the opcode around the register.
    let last = first + span - 1;
    let mut seq = Vec::with_capacity(5);
    match op {
        Op::Zeros(..) => {
            if index != first {
                push_zero_run(&mut seq, index - first);
            }
            seq.push(val_byte(count, 1));
            if index != last {
                push_zero_run(&mut seq, last - index);
            }
        }
        Op::Val(cur, _) => {
            if index != first {
                seq.push(val_byte(cur, index - first));
            }
            seq.push(val_byte(count, 1));
            if index != last {
                seq.push(val_byte(cur, last - index));
            }
        }
    }
    // Step 3: put the new sequence in place of the old opcode.
    let old_len = op.size();
    let new_total = (end + seq.len()).checked_sub(old_len).ok_or(Corrupt)?;
    if new_total > end && new_total > max_bytes {
        return promote(s, index, count);
    }
    let next = p + old_len;
    let tail = if next < end { s[next..].to_vec() } else { Vec::new() };
    s.truncate(p);
    s.extend_from_slice(&seq);
    s.extend_from_slice(&tail);
    // An XZERO cut short by the end of the string lost a byte Redis counts.
    s.truncate(new_total);
    merge_neighbours(s, prev.unwrap_or(HDR));
    Ok(true)
}

/// Step 4 of an update: merges adjacent VALs of equal value (while their
/// total length fits one opcode) among the five opcodes from `p`, then
/// marks the cached cardinality stale.
fn merge_neighbours(s: &mut Vec<u8>, mut p: usize) {
    let mut scan = 5;
    while p < s.len() && scan > 0 {
        scan -= 1;
        let b = s[p];
        if is_xzero(b) {
            p += 2;
            continue;
        }
        if !is_val(b) {
            p += 1;
            continue;
        }
        if let Some(&nb) = s.get(p + 1) {
            if let (Op::Val(v1, l1), Op::Val(v2, l2)) = (op_at(s, p), op_at(s, p + 1)) {
                if is_val(nb) && v1 == v2 && l1 + l2 <= VAL_MAX_LEN {
                    s[p + 1] = val_byte(v1, l1 + l2);
                    s.remove(p);
                    continue;
                }
            }
        }
        p += 1;
    }
    invalidate_cache(s);
}

/// Converts `s` to dense and raises the register there (Redis promotes
/// only when the register needs raising, so this always changes it).
fn promote(s: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    *s = to_dense(s)?;
    dense_raise(&mut s[HDR..], index, count);
    Ok(true)
}
