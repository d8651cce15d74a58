//! `SORT` and `SORT_RO` (Redis's `sort.c`): the elements of a list, set or
//! sorted set, ordered numerically or by bytes (`ALPHA`), by themselves or
//! by the values of other keys (`BY pattern`), windowed (`LIMIT`), mapped
//! through other keys (`GET pattern`), and returned or stored as a list.
//!
//! `BY` and `GET` name arbitrary keys, so both commands lock every shard
//! (`MOVABLE_KEYS`). Elements are copied out of the sorted value before any
//! pattern lookup, as Redis copies them into its sort vector.

use std::borrow::Cow;
use std::cmp::Ordering;

use bytes::Bytes;

use super::args::{self, err, fail, is, wrongtype};
use super::table::flags::*;
use super::{CmdResult, Ctx};
use crate::db::value::ListValue;
use crate::db::Value;
use crate::protocol::Reply;
use crate::spec;

/// The parsed options of one `SORT`/`SORT_RO` call.
#[derive(Default)]
struct Options {
    desc: bool,
    alpha: bool,
    limit_start: i64,
    limit_count: i64,
    /// Destination of `STORE` (the last one given).
    store: Option<Bytes>,
    /// The `BY` pattern (the last one given).
    by: Option<Bytes>,
    /// A `BY` without `*` was given: keep the container's order. As in
    /// Redis, a later `BY` with `*` does not clear it.
    dontsort: bool,
    /// The `GET` patterns, in order.
    gets: Vec<Bytes>,
}

/// One element of the sort vector: the element and what it sorts by.
struct Item {
    elem: Vec<u8>,
    score: f64,
    /// The `BY` value under `ALPHA` (`None`: the key is missing).
    cmp: Option<Vec<u8>>,
}

/// Whether the calling user may read every key, which `BY pattern` and
/// `GET` need (Redis's `ACLUserCheckCmdWithUnrestrictedKeyAccess`: `~*`,
/// `allkeys` or a `%R~*` pattern). O(key patterns).
fn full_key_access(ctx: &Ctx<'_, '_>) -> bool {
    match &ctx.client.acl_user {
        None => true,
        Some((_, u)) => u.all_keys || u.keys.iter().any(|(p, f)| p == "*" && f & crate::acl::user::KEY_READ != 0),
    }
}

/// Parses the options after the key, in Redis's order of checks.
fn parse(ctx: &Ctx<'_, '_>, a: &[Bytes], readonly: bool) -> Result<Options, Reply> {
    let mut o = Options { limit_count: -1, ..Options::default() };
    let full_access = full_key_access(ctx);
    let mut j = 2;
    while j < a.len() {
        let left = a.len() - j - 1;
        let w = &a[j];
        if is(w, "asc") {
            o.desc = false;
        } else if is(w, "desc") {
            o.desc = true;
        } else if is(w, "alpha") {
            o.alpha = true;
        } else if is(w, "limit") && left >= 2 {
            o.limit_start = args::int(&a[j + 1])?;
            o.limit_count = args::int(&a[j + 2])?;
            j += 2;
        } else if !readonly && is(w, "store") && left >= 1 {
            o.store = Some(a[j + 1].clone());
            j += 1;
        } else if is(w, "by") && left >= 1 {
            let pat = &a[j + 1];
            if !c_str(pat).contains(&b'*') {
                o.dontsort = true;
            } else if !full_access {
                return fail("ERR BY option of SORT denied due to insufficient ACL permissions.");
            }
            o.by = Some(pat.clone());
            j += 1;
        } else if is(w, "get") && left >= 1 {
            if !full_access {
                return fail("ERR GET option of SORT denied due to insufficient ACL permissions.");
            }
            o.gets.push(a[j + 1].clone());
            j += 1;
        } else {
            return fail(err::SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// The part of `b` before its first NUL byte: what C string functions see.
fn c_str(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |n| &b[..n])
}

/// Redis's `lookupKeyByPattern`: `#` is the element itself; otherwise the
/// first `*` is replaced by `subst` and the string at that key is
/// returned, or with `key->field` that hash's field. `None` if the pattern
/// has no `*`, the key is missing or holds another type. Counts a
/// keyspace hit or miss, as Redis's `lookupKeyRead`. O(pattern + element).
fn lookup_pattern<'e>(ctx: &mut Ctx<'_, '_>, pattern: &[u8], subst: &'e [u8]) -> Option<Cow<'e, [u8]>> {
    let visible = c_str(pattern);
    if visible == b"#" {
        return Some(Cow::Borrowed(subst));
    }
    let star = visible.iter().position(|&c| c == b'*')?;
    // `key->field` when an arrow follows the `*` with a field after it.
    let arrow = visible[star + 1..].windows(2).position(|w| w == b"->").map(|p| star + 1 + p);
    let (postfix, field) = match arrow {
        Some(f) if f + 2 < visible.len() => (&pattern[star + 1..f], Some(&pattern[f + 2..])),
        _ => (&pattern[star + 1..], None),
    };
    let mut key = Vec::with_capacity(pattern.len() + subst.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(subst);
    key.extend_from_slice(postfix);
    let entry = ctx.ks.read(&key)?;
    match (&entry.value, field) {
        (Value::Hash(h), Some(f)) => h.get(f).map(|v| Cow::Owned(v.to_vec())),
        (Value::Str(s), None) => Some(Cow::Owned(s.to_vec())),
        _ => None,
    }
}

/// C's `strtod` as Redis's SORT uses it: the value and whether the whole
/// C string was consumed without range error (an empty string reads as 0
/// without error, as in Redis). NaN counts as an error. O(len).
fn strtod(b: &[u8]) -> Option<f64> {
    let s = c_str(b);
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        i += 1;
    }
    let start = i;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        i += 1;
    }
    let neg = i > start && s[start] == b'-';
    let rest = &s[i..];
    let lower = |n: usize| rest.get(..n).map(|p| p.to_ascii_lowercase());
    let (value, used) = if lower(8).as_deref() == Some(b"infinity") {
        (f64::INFINITY, 8)
    } else if lower(3).as_deref() == Some(b"inf") {
        (f64::INFINITY, 3)
    } else if lower(3).as_deref() == Some(b"nan") {
        return None;
    } else if lower(2).as_deref() == Some(b"0x") {
        parse_hex(&rest[2..]).map(|(v, n)| (v, n + 2)).unwrap_or((0.0, 1))
    } else {
        parse_decimal(rest)?
    };
    if s.is_empty() {
        return Some(0.0);
    }
    if i + used != s.len() || used == 0 {
        return None;
    }
    Some(if neg { -value } else { value })
}

/// A decimal `strtod` body (no sign): the value and bytes consumed, `None`
/// on overflow or underflow (`ERANGE`); 0 bytes if nothing converts.
fn parse_decimal(s: &[u8]) -> Option<(f64, usize)> {
    let digits = |mut i: usize| {
        while i < s.len() && s[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let int_end = digits(0);
    let mut end = int_end;
    if end < s.len() && s[end] == b'.' {
        end = digits(end + 1);
    }
    if end == 0 || (end == 1 && int_end == 0) {
        return Some((0.0, 0));
    }
    let mantissa_end = end;
    if end < s.len() && (s[end] == b'e' || s[end] == b'E') {
        let mut k = end + 1;
        if k < s.len() && (s[k] == b'+' || s[k] == b'-') {
            k += 1;
        }
        let exp_end = digits(k);
        if exp_end > k {
            end = exp_end;
        }
    }
    let text = std::str::from_utf8(&s[..end]).ok()?;
    let v: f64 = text.parse().ok()?;
    let nonzero = s[..mantissa_end].iter().any(|&c| (b'1'..=b'9').contains(&c));
    if v.is_infinite() || (nonzero && (v == 0.0 || v.is_subnormal())) {
        return None;
    }
    Some((v, end))
}

/// A hexadecimal `strtod` body after `0x`: `None` when no digit follows
/// (then only the `0` converts). Out-of-range values are errors.
fn parse_hex(s: &[u8]) -> Option<(f64, usize)> {
    let mut v = 0.0f64;
    let mut i = 0;
    let mut any = false;
    let mut scale = 0i32;
    let mut frac = false;
    while i < s.len() {
        let c = s[i];
        if c == b'.' && !frac {
            frac = true;
        } else if let Some(d) = (c as char).to_digit(16) {
            v = v * 16.0 + d as f64;
            any = true;
            if frac {
                scale -= 4;
            }
        } else {
            break;
        }
        i += 1;
    }
    if !any {
        return None;
    }
    if i < s.len() && (s[i] == b'p' || s[i] == b'P') {
        let mut k = i + 1;
        let neg = k < s.len() && s[k] == b'-';
        if k < s.len() && (s[k] == b'+' || s[k] == b'-') {
            k += 1;
        }
        let d0 = k;
        let mut e: i32 = 0;
        while k < s.len() && s[k].is_ascii_digit() {
            e = e.saturating_mul(10).saturating_add((s[k] - b'0') as i32);
            k += 1;
        }
        if k > d0 {
            scale = scale.saturating_add(if neg { -e } else { e });
            i = k;
        }
    }
    Some((v * 2f64.powi(scale), i))
}

/// Byte order of two strings (`memcmp`, then length): Redis's
/// `compareStringObjects`.
fn binary_cmp(a: &[u8], b: &[u8]) -> Ordering {
    a.cmp(b)
}

/// `strcoll` in the C locale: byte order up to the first NUL.
fn coll_cmp(a: &[u8], b: &[u8]) -> Ordering {
    c_str(a).cmp(c_str(b))
}

/// Redis's `sortCompare` for the given options.
fn compare(x: &Item, y: &Item, o: &Options) -> Ordering {
    let storing = o.store.is_some();
    let ord = if !o.alpha {
        x.score.partial_cmp(&y.score).unwrap_or(Ordering::Equal).then_with(|| binary_cmp(&x.elem, &y.elem))
    } else if o.by.is_some() {
        match (&x.cmp, &y.cmp) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(a), Some(b)) if storing => binary_cmp(a, b),
            (Some(a), Some(b)) => coll_cmp(a, b),
        }
    } else if storing {
        binary_cmp(&x.elem, &y.elem)
    } else {
        coll_cmp(&x.elem, &y.elem)
    };
    if o.desc {
        ord.reverse()
    } else {
        ord
    }
}

fn item(elem: &[u8]) -> Item {
    Item { elem: elem.to_vec(), score: 0.0, cmp: None }
}

/// Copies the elements of the value at `key` (missing: empty list) into the
/// sort vector, applying `LIMIT` directly where Redis does (lists and
/// sorted sets when nothing is sorted). Returns the vector and the output
/// window `start..=end` within it (empty when `end < start`).
fn load(ctx: &mut Ctx<'_, '_>, key: &[u8], o: &mut Options) -> Result<(Vec<Item>, i64, i64), Reply> {
    let entry = ctx.ks.read(key);
    let value = match entry.as_ref().map(|e| &e.value) {
        None => None,
        Some(v @ (Value::List(_) | Value::Set(_) | Value::ZSet(_))) => Some(v),
        Some(_) => return wrongtype(),
    };
    // An unsorted set would give an order that depends on its layout: a
    // stored result, or one a script sees, is sorted by bytes instead
    // (Redis does the same, so replicas and AOF replays agree).
    if o.dontsort && matches!(value, Some(Value::Set(_))) && (o.store.is_some() || ctx.client.in_script) {
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }
    let len = match value {
        Some(Value::List(l)) => l.len(),
        Some(Value::Set(s)) => s.len(),
        Some(Value::ZSet(z)) => z.len(),
        _ => 0,
    } as i64;
    let mut start = o.limit_start.max(0).min(len);
    let count = o.limit_count.max(-1).min(len);
    let mut end = if count < 0 { len - 1 } else { start + count - 1 };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    end = end.min(len - 1);
    let direct = o.dontsort && (start != 0 || end != len - 1);
    let vector: Vec<Item> = match value {
        Some(Value::List(l)) if o.dontsort => {
            if end < start {
                Vec::new()
            } else {
                let (from, to) = if o.desc { (len - 1 - end, len - 1 - start) } else { (start, end) };
                let mut v: Vec<Item> = l.range(from as usize, to as usize).map(item).collect();
                if o.desc {
                    v.reverse();
                }
                (end, start) = (end - start, 0);
                v
            }
        }
        Some(Value::ZSet(z)) if o.dontsort => {
            let n = (end - start + 1).max(0) as usize;
            let v: Vec<Item> = if o.desc {
                let skip = (len - 1 - end).max(0) as usize;
                let mut v: Vec<Item> = z.iter().skip(skip).take(n).map(|(m, _)| item(m)).collect();
                v.reverse();
                v
            } else {
                z.iter().skip(start.max(0) as usize).take(n).map(|(m, _)| item(m)).collect()
            };
            (end, start) = (end - start, 0);
            v
        }
        Some(Value::List(l)) => l.iter().map(item).collect(),
        Some(Value::Set(s)) => s.iter().map(|m| item(&m)).collect(),
        Some(Value::ZSet(z)) => z.iter().map(|(m, _)| item(m)).collect(),
        _ => Vec::new(),
    };
    debug_assert!(!direct || vector.len() as i64 == end - start + 1);
    Ok((vector, start, end))
}

/// SORT and SORT_RO: see the module documentation. O(N + M log M) for N
/// elements of which M are sorted, plus one key lookup per element and
/// `BY`/`GET` pattern.
fn sort_generic(ctx: &mut Ctx<'_, '_>, a: &[Bytes], readonly: bool) -> CmdResult {
    let mut o = parse(ctx, a, readonly)?;
    let (mut vector, start, end) = load(ctx, &a[1], &mut o)?;
    let mut conversion_error = false;
    if !o.dontsort {
        for it in vector.iter_mut() {
            let by = match &o.by {
                Some(p) => match lookup_pattern(ctx, p, &it.elem) {
                    Some(v) => v.into_owned(),
                    None => continue,
                },
                None => Vec::new(),
            };
            let by_value: &[u8] = if o.by.is_some() { &by } else { &it.elem };
            if o.alpha {
                if o.by.is_some() {
                    it.cmp = Some(by);
                }
            } else {
                match strtod(by_value) {
                    Some(s) => it.score = s,
                    None => conversion_error = true,
                }
            }
        }
        if !conversion_error {
            vector.sort_by(|x, y| compare(x, y, &o));
        }
    }
    if conversion_error {
        return fail("ERR One or more scores can't be converted into double");
    }
    let window = if end < start { &vector[..0] } else { &vector[start as usize..=end as usize] };
    let Some(dst) = o.store.clone() else {
        let mut out = Vec::with_capacity(window.len() * o.gets.len().max(1));
        for it in window {
            if o.gets.is_empty() {
                out.push(Reply::Bulk(Bytes::copy_from_slice(&it.elem)));
            }
            for g in &o.gets {
                out.push(match lookup_pattern(ctx, g, &it.elem) {
                    Some(v) => Reply::Bulk(Bytes::copy_from_slice(&v)),
                    None => Reply::Nil,
                });
            }
        }
        return Ok(Reply::Array(out));
    };
    let mut items: Vec<Vec<u8>> = Vec::with_capacity(window.len() * o.gets.len().max(1));
    for it in window {
        if o.gets.is_empty() {
            items.push(it.elem.clone());
        }
        for g in &o.gets {
            items.push(lookup_pattern(ctx, g, &it.elem).map(Cow::into_owned).unwrap_or_default());
        }
    }
    if items.is_empty() {
        ctx.ks.remove(&dst);
    } else {
        ctx.ks.set(&dst, Value::List(ListValue::from_items(items.iter().map(Vec::as_slice))));
    }
    Ok(Reply::Int(items.len() as i64))
}

fn sort(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    sort_generic(ctx, a, false)
}

fn sort_ro(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    sort_generic(ctx, a, true)
}

/// Key positions of a `SORT`/`SORT_RO` call, as Redis's `sortGetKeys` /
/// `sortROGetKeys` find them: the sorted key, and for SORT the argument of
/// the last `STORE` (options are skipped with their arguments). For
/// `COMMAND GETKEYS` and ACL key checks. O(arguments).
pub fn key_positions(args: &[Bytes]) -> Vec<usize> {
    let mut keys = vec![1];
    if args.first().is_some_and(|n| is(n, "sort_ro")) {
        return keys;
    }
    let mut store = None;
    let mut i = 2;
    while i < args.len() {
        if is(&args[i], "limit") {
            i += 2;
        } else if is(&args[i], "get") || is(&args[i], "by") {
            i += 1;
        } else if is(&args[i], "store") && i + 1 < args.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    keys.extend(store);
    keys
}

/// The sort commands' table rows.
#[rustfmt::skip]
pub const COMMANDS: &[super::table::CommandSpec] = &[
    spec!("sort", -2, WRITE | DENYOOM | MOVABLE_KEYS | DANGEROUS, 1, 1, 1, sort, "generic", "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.", "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N)."),
    spec!("sort_ro", -2, READONLY | MOVABLE_KEYS | DANGEROUS, 1, 1, 1, sort_ro, "generic", "Returns the sorted elements of a list, a set, or a sorted set.", "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N)."),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<Bytes> {
        a.iter().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect()
    }

    #[test]
    fn key_positions_follow_sort_get_keys() {
        assert_eq!(key_positions(&args(&["sort", "abc", "store", "def"])), [1, 3]);
        assert_eq!(key_positions(&args(&["SORT_RO", "abc", "store", "def"])), [1]);
        assert_eq!(
            key_positions(&args(&["sort", "abc", "store", "invalid", "store", "stillbad", "store", "def"])),
            [1, 7]
        );
        // Option arguments are skipped: a GET pattern named "store" is no STORE.
        assert_eq!(
            key_positions(&args(&["sort", "abc", "get", "store", "by", "store", "limit", "store", "store"])),
            [1]
        );
        assert_eq!(key_positions(&args(&["sort", "abc", "store"])), [1]);
    }

    #[test]
    fn strtod_as_c() {
        assert_eq!(strtod(b""), Some(0.0));
        assert_eq!(strtod(b"  -1.5e2"), Some(-150.0));
        assert_eq!(strtod(b"0x10"), Some(16.0));
        assert_eq!(strtod(b"0x1.8p1"), Some(3.0));
        assert_eq!(strtod(b"-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(strtod(b"12\0junk"), Some(12.0));
        for bad in [&b"1e400"[..], b"1e-400", b"nan", b"-nan", b"1x", b" ", b".", b"e5", b"0x", b"1e"] {
            assert_eq!(strtod(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
