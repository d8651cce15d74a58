//! Reading stream values: types 15 (Redis 5.0–6.2), 19 (7.0) and 21
//! (7.2) into an [`RdbStream`], checked as Redis's deep sanitization
//! checks them (and a little more), so a corrupt file is refused with
//! [`RdbError::Corrupt`] instead of loading a stream the server could not
//! serve.
//!
//! Checked: each node key is 16 bytes; each node's listpack is well formed
//! (see [`ListpackIter`]) and holds a master entry (live count, deleted
//! count, fields, 0) and exactly that many entries, each with known flags,
//! an id at or above the master id and above the previous entry's (across
//! nodes too), and a trailing element count that matches; the stream's
//! length is its live entries and its last id is not below any of them;
//! group names are unique, and in each group pending ids and consumer names
//! are unique and each pending id belongs to exactly one consumer.

use std::io::Read;

use bytes::Bytes;

use super::encodings::{ListpackIter, LpItem};
use super::input::{corrupt, keep_scratch, Input};
use super::reader::{show_key, MAX_PREALLOC_ELEMS};
use super::stream::{
    RdbConsumer, RdbPending, RdbStream, RdbStreamEntries, RdbStreamGroup, RdbStreamId, FLAG_DELETED, FLAG_SAME_FIELDS,
    MAX_STREAM_ID,
};
use super::{op, Elements, RdbError};

/// Whether `t` is a stream type this reader loads.
pub(super) fn is_stream_type(t: u8) -> bool {
    matches!(t, op::TYPE_STREAM_LISTPACKS | op::TYPE_STREAM_LISTPACKS_2 | op::TYPE_STREAM_LISTPACKS_3)
}

/// A 128-bit id stored as 16 big-endian bytes (node keys, pending ids).
pub(super) fn decode_id(raw: &[u8; 16]) -> RdbStreamId {
    let mut ms = [0u8; 8];
    let mut seq = [0u8; 8];
    ms.copy_from_slice(&raw[..8]);
    seq.copy_from_slice(&raw[8..]);
    (u64::from_be_bytes(ms), u64::from_be_bytes(seq))
}

fn show_id(id: RdbStreamId) -> String {
    format!("{}-{}", id.0, id.1)
}

/// Reads an id stored as two lengths (ms, seq).
fn read_id<R: Read>(inp: &mut Input<R>, what: &str) -> Result<RdbStreamId, RdbError> {
    Ok((inp.read_len(what)?, inp.read_len(what)?))
}

/// Reads a millisecond time (8 bytes, little-endian, signed); a time before
/// the epoch reads as 0.
fn read_ms<R: Read>(inp: &mut Input<R>, what: &str) -> Result<u64, RdbError> {
    Ok(u64::try_from(i64::from_le_bytes(inp.read_array(what)?)).unwrap_or(0))
}

/// Preallocation for a count read from the file: never more than
/// [`MAX_PREALLOC_ELEMS`], so a lying count cannot make us allocate.
fn prealloc(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX).min(MAX_PREALLOC_ELEMS)
}

/// Reads a stream value of type `t` (15, 19 or 21) into `out`, which is
/// empty. O(size of the value).
pub(super) fn read_stream<R: Read>(inp: &mut Input<R>, t: u8, out: &mut RdbStream) -> Result<(), RdbError> {
    read_nodes(inp, &mut out.entries)?;

    let len_off = inp.offset;
    let length = inp.read_len("stream length")?;
    if length != out.entries.len() as u64 {
        return Err(corrupt(
            len_off,
            format!("stream length is {length} but its nodes hold {} live entries", out.entries.len()),
        ));
    }
    let last_off = inp.offset;
    out.meta.last_id = read_id(inp, "stream last id")?;
    if let Some(top) = out.entries.last_id() {
        if top > out.meta.last_id {
            return Err(corrupt(
                last_off,
                format!("stream last id {} is below its entry {}", show_id(out.meta.last_id), show_id(top)),
            ));
        }
    }
    if t == op::TYPE_STREAM_LISTPACKS {
        // What Redis 7 derives for a stream written before it kept these.
        out.meta.first_id = out.entries.first_id().unwrap_or(MAX_STREAM_ID);
        out.meta.max_deleted_entry_id = (0, 0);
        out.meta.entries_added = length;
    } else {
        out.meta.first_id = read_id(inp, "stream first id")?;
        out.meta.max_deleted_entry_id = read_id(inp, "stream largest deleted id")?;
        out.meta.entries_added = inp.read_len("stream entries added")?;
    }

    let ngroups = inp.read_len("stream group count")?;
    out.groups.reserve(prealloc(ngroups));
    let mut names: Vec<(Bytes, u64)> = Vec::with_capacity(prealloc(ngroups));
    for _ in 0..ngroups {
        let name_off = inp.offset;
        let group = read_group(inp, t, out)?;
        names.push((group.name.clone(), name_off));
        out.groups.push(group);
    }
    if let Some((name, off)) = first_duplicate(&mut names) {
        return Err(corrupt(off, format!("stream has two consumer groups named {}", show_key(&name))));
    }
    Ok(())
}

/// After sorting `names`, the second of the first two equal names with
/// its offset.
fn first_duplicate(names: &mut [(Bytes, u64)]) -> Option<(Bytes, u64)> {
    names.sort_unstable();
    names.windows(2).find(|w| w[0].0 == w[1].0).map(|w| w[1].clone())
}

/// Reads the node count and the nodes into `entries`.
fn read_nodes<R: Read>(inp: &mut Input<R>, entries: &mut RdbStreamEntries) -> Result<(), RdbError> {
    let nodes = inp.read_len("stream node count")?;
    // Master fields of the node being read, reused from node to node.
    let mut fields = Elements::new();
    let mut key = Vec::with_capacity(16);
    let mut prev: Option<RdbStreamId> = None;
    for _ in 0..nodes {
        let key_off = inp.offset;
        key.clear();
        inp.read_string_into(&mut key, "stream node key")?;
        let raw: [u8; 16] = key
            .as_slice()
            .try_into()
            .map_err(|_| corrupt(key_off, format!("stream node key is {} bytes, not a 16-byte id", key.len())))?;
        let master = decode_id(&raw);
        let off = inp.offset;
        let mut blob = std::mem::take(&mut inp.blob);
        blob.clear();
        let r = inp.read_string_into(&mut blob, "stream node").and_then(|()| {
            read_node(&blob, master, &mut prev, &mut fields, entries)
                .map_err(|reason| corrupt(off, format!("stream node {}: {reason}", show_id(master))))
        });
        keep_scratch(&mut inp.blob, blob);
        r?;
    }
    Ok(())
}

/// The next element of a node, which must be there.
fn next_item<'a>(it: &mut ListpackIter<'a>, what: &str) -> Result<LpItem<'a>, String> {
    let pos = it.position();
    it.next_item()?.ok_or_else(|| format!("listpack ends at position {pos}, where the {what} should be"))
}

/// The next element of a node, which must be an integer.
fn next_int(it: &mut ListpackIter<'_>, what: &str) -> Result<i64, String> {
    let pos = it.position();
    next_item(it, what)?.as_int().ok_or_else(|| format!("the {what} at position {pos} is not an integer"))
}

/// The next element of a node, which must be a count (not negative).
fn next_count(it: &mut ListpackIter<'_>, what: &str) -> Result<u64, String> {
    let pos = it.position();
    let v = next_int(it, what)?;
    u64::try_from(v).map_err(|_| format!("the {what} at position {pos} is negative ({v})"))
}

/// Decodes one node's listpack (master id `master`), appending its live
/// entries to `entries`; `prev` is the id of the entry before it (deleted
/// or not) and is advanced. `fields` is scratch for the master fields.
fn read_node(
    lp: &[u8],
    master: RdbStreamId,
    prev: &mut Option<RdbStreamId>,
    fields: &mut Elements,
    entries: &mut RdbStreamEntries,
) -> Result<(), String> {
    let mut it = ListpackIter::new(lp)?;
    let live = next_count(&mut it, "master entry count")?;
    let deleted = next_count(&mut it, "master deleted count")?;
    let nfields = next_count(&mut it, "master field count")?;
    fields.clear();
    for _ in 0..nfields {
        next_item(&mut it, "master field")?.push_to(fields);
    }
    let pos = it.position();
    if next_int(&mut it, "master entry terminator")? != 0 {
        return Err(format!("the master entry terminator at position {pos} is not 0"));
    }
    let total = live.checked_add(deleted).ok_or("master entry counts overflow")?;
    entries.reserve(prealloc(live));
    let (mut seen_live, mut seen_deleted) = (0u64, 0u64);
    for _ in 0..total {
        let at = it.position();
        let flags = next_int(&mut it, "entry flags")?;
        if flags & !(FLAG_DELETED | FLAG_SAME_FIELDS) != 0 {
            return Err(format!("entry at position {at} has unknown flags {flags}"));
        }
        let ms = master.0.wrapping_add(next_int(&mut it, "entry ms delta")? as u64);
        let seq = master.1.wrapping_add(next_int(&mut it, "entry seq delta")? as u64);
        let id = (ms, seq);
        if id < master {
            return Err(format!("entry {} at position {at} is below the node's master id", show_id(id)));
        }
        if let Some(p) = *prev {
            if id <= p {
                return Err(format!("entry {} at position {at} does not follow entry {}", show_id(id), show_id(p)));
            }
        }
        *prev = Some(id);
        let is_deleted = flags & FLAG_DELETED != 0;
        let same = flags & FLAG_SAME_FIELDS != 0;
        let n = if same { nfields } else { next_count(&mut it, "entry field count")? };
        let items = entries.items_mut();
        for j in 0..n {
            if !same {
                let f = next_item(&mut it, "entry field")?;
                if !is_deleted {
                    f.push_to(items);
                }
            } else if !is_deleted {
                // j < nfields: the master fields were all read above.
                items.push(usize::try_from(j).ok().and_then(|j| fields.get(j)).unwrap_or_default());
            }
            let v = next_item(&mut it, "entry value")?;
            if !is_deleted {
                v.push_to(items);
            }
        }
        let count_at = it.position();
        let lp_count = next_int(&mut it, "entry element count")?;
        // n is bounded by the listpack's size here: every element was read.
        let want = n.saturating_add(3).saturating_add(if same { 0 } else { n.saturating_add(1) });
        if u64::try_from(lp_count) != Ok(want) {
            return Err(format!("entry element count at position {count_at} is {lp_count}, expected {want}"));
        }
        if is_deleted {
            seen_deleted += 1;
        } else {
            seen_live += 1;
            entries.end_entry(id);
        }
    }
    let pos = it.position();
    if it.next_item()?.is_some() {
        return Err(format!("data after the last entry, at position {pos}"));
    }
    if (seen_live, seen_deleted) != (live, deleted) {
        return Err(format!(
            "master entry counts {live} live and {deleted} deleted entries, the node has {seen_live} and {seen_deleted}"
        ));
    }
    Ok(())
}

/// Reads one consumer group of a stream of type `t` whose entries and
/// bookkeeping are read (`stream`).
fn read_group<R: Read>(inp: &mut Input<R>, t: u8, stream: &RdbStream) -> Result<RdbStreamGroup, RdbError> {
    let name = Bytes::from(inp.read_string("stream group name")?);
    let last_id = read_id(inp, "stream group last id")?;
    let entries_read = if t == op::TYPE_STREAM_LISTPACKS {
        stream.estimate_entries_read(last_id)
    } else {
        // Redis writes its -1 ("unknown") as a 64-bit length.
        let v = inp.read_len("stream group entries read")?;
        i64::try_from(v).is_ok().then_some(v)
    };
    let pel_off = inp.offset;
    let npel = inp.read_len("stream group pending count")?;
    let mut pending = Vec::with_capacity(prealloc(npel));
    for _ in 0..npel {
        let id = decode_id(&inp.read_array("stream pending id")?);
        let delivery_time = read_ms(inp, "stream pending delivery time")?;
        let delivery_count = inp.read_len("stream pending delivery count")?;
        pending.push(RdbPending { id, delivery_time, delivery_count });
    }
    // Pending ids sorted, with their index, to find each consumer's.
    let mut index: Vec<(RdbStreamId, usize)> = pending.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
    index.sort_unstable();
    if let Some(w) = index.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(corrupt(
            pel_off,
            format!("group {} lists pending entry {} twice", show_key(&name), show_id(w[0].0)),
        ));
    }
    let mut owned = vec![false; pending.len()];
    let ncons = inp.read_len("stream consumer count")?;
    let mut consumers = Vec::with_capacity(prealloc(ncons));
    let mut names: Vec<(Bytes, u64)> = Vec::with_capacity(prealloc(ncons));
    for _ in 0..ncons {
        let cons_off = inp.offset;
        let cname = Bytes::from(inp.read_string("stream consumer name")?);
        let seen_time = read_ms(inp, "stream consumer seen time")?;
        if t == op::TYPE_STREAM_LISTPACKS_3 {
            read_ms(inp, "stream consumer active time")?;
        }
        let n = inp.read_len("stream consumer pending count")?;
        let mut ids = Vec::with_capacity(prealloc(n));
        for _ in 0..n {
            let id_off = inp.offset;
            let id = decode_id(&inp.read_array("stream consumer pending id")?);
            let slot = index.binary_search_by(|(x, _)| x.cmp(&id)).ok().and_then(|k| index.get(k)).map(|(_, i)| *i);
            let Some(taken) = slot.and_then(|i| owned.get_mut(i)) else {
                return Err(corrupt(
                    id_off,
                    format!(
                        "consumer {} of group {} owns entry {}, which is not pending in the group",
                        show_key(&cname),
                        show_key(&name),
                        show_id(id)
                    ),
                ));
            };
            if *taken {
                return Err(corrupt(
                    id_off,
                    format!("pending entry {} of group {} has two owners", show_id(id), show_key(&name)),
                ));
            }
            *taken = true;
            ids.push(id);
        }
        names.push((cname.clone(), cons_off));
        consumers.push(RdbConsumer { name: cname, seen_time, pending: ids });
    }
    if let Some((cname, off)) = first_duplicate(&mut names) {
        return Err(corrupt(off, format!("group {} has two consumers named {}", show_key(&name), show_key(&cname))));
    }
    if let Some(p) = owned.iter().position(|o| !o).and_then(|i| pending.get(i)) {
        return Err(corrupt(
            pel_off,
            format!("pending entry {} of group {} has no consumer", show_id(p.id), show_key(&name)),
        ));
    }
    Ok(RdbStreamGroup { name, last_id, entries_read, pending, consumers })
}
