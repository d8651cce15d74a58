//! Commands that touch several servers: multi-key commands split by server
//! and merged back in the client's order, and whole-keyspace commands sent
//! to every server on the ring and combined.
//!
//! - MGET: one MGET per server, values put back in the order asked.
//! - MSET: one MSET per server; `+OK` when all succeeded. Each server's part
//!   is atomic, the whole is not (as with any sharding proxy).
//! - DEL UNLINK EXISTS TOUCH: one per server, counts added up.
//! - XREAD/XREADGROUP without BLOCK: one per server with the same options
//!   and that server's streams and IDs; the streams with entries come back
//!   in the order asked, nil when none had any. An XREADGROUP part that
//!   fails (NOGROUP, WRONGTYPE) makes the whole answer that error, while
//!   entries other servers delivered stay pending in their groups
//!   (XPENDING/XCLAIM/XAUTOCLAIM find them), as MSET's parts stay written.
//! - KEYS: every server's keys, servers in file order. DBSIZE/SIZE: sum.
//!   FLUSHDB/FLUSHALL: `+OK` when every server flushed. RANDOMKEY: a key of
//!   a random server that has one.
//! - SCAN: the composite cursor `server_cursor × 1024 + server_index` walks
//!   the servers on the ring one after the other; a reload between calls
//!   may repeat or skip keys (SCAN's guarantees hold per server).
//! - INFO (`info.rs`): a `# Proxy` section (with the Sentinel setting, the Sentinel
//!   subscribed to and the switches applied, `read_from`), the
//!   `# Resharding` section (`reshard/`), one `shardN:` line per server
//!   (its current address, which Sentinel may have changed, drain setting,
//!   replicas and the reads they served, status, keys of every database,
//!   memory, clients, request counts) and the `# Keyspace` summed per
//!   database.
//! - CONFIG SET/RESETSTAT go to every server; other CONFIG subcommands to
//!   the first.
//!
//! Every part travels on the client's connections for its selected
//! database (`Router::send`), so these commands see that database only
//! (FLUSHALL and INFO cover all, as on a server).
//!
//! When a server cannot answer, the whole command answers the error that
//! names it. Cost: O(arguments + reply sizes), all servers asked in parallel.

use std::future::Future;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use inmemory::cmd::table::CommandSpec;
use inmemory::protocol::frame::Frame;
use inmemory::protocol::Reply;
use tokio::sync::oneshot;

use crate::pool::{encode_command, Answer, Backend};
use crate::router::{answer, error_bytes, reply_bytes, Flow, Pending, Router};

/// Servers the SCAN cursor can tell apart (must be ≥ `config::MAX_SERVERS`).
const SCAN_SERVERS: u64 = 1024;

/// The answers of a fan-out, in server order.
pub(crate) type Waiting = Vec<oneshot::Receiver<Answer>>;

/// A server's answer as a frame; `Err` holds the bytes to answer instead
/// (the server's own error reply, or the proxy's error naming it).
pub(crate) async fn frame_of(rx: oneshot::Receiver<Answer>) -> Result<Frame, Bytes> {
    match answer(rx).await {
        Err(e) => Err(error_bytes(&e)),
        Ok(r) => match r.frame {
            Some(Frame::Error(_)) => Err(r.raw),
            Some(f) => Ok(f),
            None => Err(error_bytes("ERR proxy: reply was not decoded")),
        },
    }
}

/// The error for a reply of the wrong shape.
pub(crate) fn unexpected() -> Bytes {
    error_bytes("ERR proxy: unexpected reply from a server")
}

fn put_bulk(out: &mut BytesMut, b: &[u8]) {
    out.put_u8(b'$');
    out.put_slice(itoa::Buffer::new().format(b.len()).as_bytes());
    out.put_slice(b"\r\n");
    out.put_slice(b);
    out.put_slice(b"\r\n");
}

fn put_len(out: &mut BytesMut, prefix: u8, n: usize) {
    out.put_u8(prefix);
    out.put_slice(itoa::Buffer::new().format(n).as_bytes());
    out.put_slice(b"\r\n");
}

/// Adds up integer replies.
async fn sum(waiting: Waiting) -> Bytes {
    fold_ints(waiting, i64::saturating_add).await
}

/// Folds the servers' integer replies, from 0, into one integer reply; the
/// first error (or a reply that is not an integer) is the answer instead.
pub(crate) async fn fold_ints(waiting: Waiting, f: fn(i64, i64) -> i64) -> Bytes {
    let mut acc: i64 = 0;
    for rx in waiting {
        match frame_of(rx).await {
            Ok(Frame::Int(n)) => acc = f(acc, n),
            Ok(_) => return unexpected(),
            Err(e) => return e,
        }
    }
    reply_bytes(&Reply::Int(acc), 2)
}

/// `+OK` when every server said OK, else the first error.
pub(crate) async fn all_ok(waiting: Waiting) -> Bytes {
    for rx in waiting {
        match frame_of(rx).await {
            Ok(Frame::Simple(_)) => {}
            Ok(_) => return unexpected(),
            Err(e) => return e,
        }
    }
    Bytes::from_static(b"+OK\r\n")
}

/// Concatenates array replies (KEYS).
async fn concat(waiting: Waiting) -> Bytes {
    let mut parts = Vec::with_capacity(waiting.len());
    for rx in waiting {
        match frame_of(rx).await {
            Ok(Frame::Array(Some(items))) => parts.push(items),
            Ok(_) => return unexpected(),
            Err(e) => return e,
        }
    }
    let mut out = BytesMut::new();
    put_len(&mut out, b'*', parts.iter().map(|p| p.len()).sum());
    for f in parts.iter().flatten() {
        f.write_to(&mut out);
    }
    out.freeze()
}

/// Puts MGET's per-server values back in the order of the keys.
async fn mget_merge(waiting: Vec<(Vec<usize>, oneshot::Receiver<Answer>)>, nkeys: usize) -> Bytes {
    let mut slots: Vec<Option<Frame>> = vec![None; nkeys];
    for (positions, rx) in waiting {
        match frame_of(rx).await {
            Ok(Frame::Array(Some(items))) if items.len() == positions.len() => {
                for (p, v) in positions.into_iter().zip(items) {
                    slots[p] = Some(v);
                }
            }
            Ok(_) => return unexpected(),
            Err(e) => return e,
        }
    }
    let mut out = BytesMut::new();
    put_len(&mut out, b'*', nkeys);
    for s in slots {
        match s {
            Some(f) => f.write_to(&mut out),
            None => return unexpected(),
        }
    }
    out.freeze()
}

/// One server's part of a split XREAD/XREADGROUP: the streams it was asked
/// for (their place among the client's streams, and their name) and its
/// answer.
type StreamsPart = (Vec<(usize, Bytes)>, oneshot::Receiver<Answer>);

/// Merges the parts of a split XREAD/XREADGROUP over `n` streams. Each
/// answer names the streams that had entries, in the order asked (`*-1`/`_`
/// when none had). The result is what one server holding every stream
/// would answer: the streams with entries in the client's order, an array
/// of `[name, entries]` pairs (RESP2) or a map (RESP3), or the null array
/// when none had entries.
async fn streams_merge(parts: Vec<StreamsPart>, n: usize, proto: u8) -> Bytes {
    let mut slots: Vec<Option<(Frame, Frame)>> = vec![None; n];
    for (asked, rx) in parts {
        let served = match frame_of(rx).await {
            Ok(f) if f.is_null() => continue,
            Ok(Frame::Map(pairs)) => pairs,
            Ok(Frame::Array(Some(items))) => {
                let mut pairs = Vec::with_capacity(items.len());
                for item in items {
                    let Frame::Array(Some(pair)) = item else { return unexpected() };
                    let Ok([name, entries]) = <[Frame; 2]>::try_from(pair) else { return unexpected() };
                    pairs.push((name, entries));
                }
                pairs
            }
            Ok(_) => return unexpected(),
            Err(e) => return e,
        };
        // In the order asked, so a stream named twice finds its own place.
        let mut asked = asked.into_iter();
        for (name, entries) in served {
            let Some((place, _)) = asked.by_ref().find(|(_, key)| name.as_bytes() == Some(key)) else {
                return unexpected();
            };
            slots[place] = Some((name, entries));
        }
    }
    let served: Vec<(Frame, Frame)> = slots.into_iter().flatten().collect();
    if served.is_empty() {
        return reply_bytes(&Reply::NilArray, proto);
    }
    let mut out = BytesMut::new();
    put_len(&mut out, if proto >= 3 { b'%' } else { b'*' }, served.len());
    for (name, entries) in served {
        if proto < 3 {
            out.put_slice(b"*2\r\n");
        }
        name.write_to(&mut out);
        entries.write_to(&mut out);
    }
    out.freeze()
}

/// Whether an XREAD/XREADGROUP call has the BLOCK option: among the
/// options before STREAMS, stepped over as the command reads them (GROUP
/// takes two values, BLOCK and COUNT one). O(arguments).
pub(crate) fn stream_read_blocks(args: &[Bytes]) -> bool {
    let mut i = 1;
    while i < args.len() {
        let a = &args[i];
        if a.eq_ignore_ascii_case(b"streams") {
            return false;
        }
        if a.eq_ignore_ascii_case(b"block") {
            return true;
        }
        i += if a.eq_ignore_ascii_case(b"group") {
            3
        } else if a.eq_ignore_ascii_case(b"count") {
            2
        } else {
            1
        };
    }
    false
}

/// Picks a key from a random server that returned one.
async fn random_key(waiting: Waiting, proto: u8) -> Bytes {
    let mut keys = Vec::new();
    for rx in waiting {
        match frame_of(rx).await {
            Ok(Frame::Bulk(Some(k))) => keys.push(k),
            Ok(f) if f.is_null() => {}
            Ok(_) => return unexpected(),
            Err(e) => return e,
        }
    }
    if keys.is_empty() {
        return reply_bytes(&Reply::Nil, proto);
    }
    let k = keys.swap_remove(fastrand::usize(..keys.len()));
    reply_bytes(&Reply::Bulk(k), proto)
}

/// Turns one server's SCAN page into the composite cursor's page.
async fn scan_page(rx: oneshot::Receiver<Answer>, idx: u64, servers: u64) -> Bytes {
    let f = match frame_of(rx).await {
        Ok(f) => f,
        Err(e) => return e,
    };
    let Some([cursor, keys]) = f.items() else { return unexpected() };
    let Some(next) = cursor.text().and_then(|t| std::str::from_utf8(t).ok()?.parse::<u64>().ok()) else {
        return unexpected();
    };
    let composite = if next != 0 {
        match next.checked_mul(SCAN_SERVERS).and_then(|c| c.checked_add(idx)) {
            Some(c) => c,
            None => return error_bytes("ERR proxy: server cursor too large"),
        }
    } else if idx + 1 < servers {
        idx + 1
    } else {
        0
    };
    let mut out = BytesMut::new();
    out.put_slice(b"*2\r\n");
    put_bulk(&mut out, itoa::Buffer::new().format(composite).as_bytes());
    keys.write_to(&mut out);
    out.freeze()
}

impl Router {
    fn live_servers(&self) -> Vec<Arc<Backend>> {
        self.topo.live().cloned().collect()
    }

    /// Sends `args` to every server in `servers` (answers decoded).
    pub(crate) async fn to_all(&self, servers: &[Arc<Backend>], args: &[Bytes]) -> Waiting {
        let mut data = BytesMut::new();
        encode_command(args, &mut data);
        let data = data.freeze();
        let mut waiting = Vec::with_capacity(servers.len());
        for b in servers {
            waiting.push(self.send(b, data.clone(), 1, true).await);
        }
        waiting
    }

    /// Queues a reply still being computed.
    pub(crate) async fn later(&mut self, f: impl Future<Output = Bytes> + Send + 'static) -> Flow {
        self.flow(Pending::Future(Box::pin(f))).await
    }

    /// The key arguments `args[i]` for `i` in `keys`, grouped by their
    /// server (servers in order of first appearance); `None` when no server
    /// is on the ring. O(keys × (log points + servers)).
    fn by_server(&self, args: &[Bytes], keys: impl Iterator<Item = usize>) -> Option<Vec<(Arc<Backend>, Vec<usize>)>> {
        let mut groups: Vec<(Arc<Backend>, Vec<usize>)> = Vec::new();
        for i in keys {
            let b = self.topo.route(&args[i])?;
            match groups.iter_mut().find(|(g, _)| Arc::ptr_eq(g, b)) {
                Some((_, v)) => v.push(i),
                None => groups.push((b.clone(), vec![i])),
            }
        }
        Some(groups)
    }

    /// MGET MSET DEL UNLINK EXISTS TOUCH: forwarded whole when every key
    /// lives on one server, else split by server and merged.
    pub(crate) async fn multi_key(&mut self, name: &str, args: &[Bytes]) -> Flow {
        let step = if name == "mset" { 2 } else { 1 };
        if !(args.len() - 1).is_multiple_of(step) {
            return self.error(&format!("ERR wrong number of arguments for '{name}' command")).await;
        }
        let Some(groups) = self.by_server(args, (1..args.len()).step_by(step)) else {
            return self.error("ERR proxy: no server is available").await;
        };
        if let Err(e) = self.settle_keys(args[1..].iter().step_by(step)).await {
            return self.error(&e).await;
        }
        if groups.len() == 1 {
            let b = groups[0].0.clone();
            return self.forward(&b, args).await;
        }
        let cmd = Bytes::from(name.to_ascii_uppercase());
        let mut waiting = Vec::with_capacity(groups.len());
        for (b, positions) in groups {
            let mut sub = Vec::with_capacity(1 + positions.len() * step);
            sub.push(cmd.clone());
            for &i in &positions {
                sub.extend_from_slice(&args[i..i + step]);
            }
            let mut data = BytesMut::new();
            encode_command(&sub, &mut data);
            let rx = self.send(&b, data.freeze(), 1, true).await;
            let order = positions.into_iter().map(|i| (i - 1) / step).collect::<Vec<_>>();
            waiting.push((order, rx));
        }
        match name {
            "mget" => {
                let n = args.len() - 1;
                self.later(mget_merge(waiting, n)).await
            }
            "mset" => self.later(all_ok(waiting.into_iter().map(|w| w.1).collect())).await,
            _ => self.later(sum(waiting.into_iter().map(|w| w.1).collect())).await,
        }
    }

    /// XREAD/XREADGROUP without BLOCK: forwarded whole when every stream
    /// lives on one server, else one call per server (the same options, that
    /// server's streams and their IDs) merged by [`streams_merge`]. A
    /// malformed call goes whole to a server, which answers its error.
    pub(crate) async fn read_streams(&mut self, spec: &'static CommandSpec, args: &[Bytes]) -> Flow {
        let Some(keys) = spec.key_positions(args) else {
            // Malformed: a server answers its own error.
            return match self.any_server() {
                Some(b) => self.forward(&b, args).await,
                None => self.error("ERR proxy: no server is available").await,
            };
        };
        if let Err(e) = self.settle_keys(keys.iter().map(|&i| &args[i])).await {
            return self.error(&e).await;
        }
        // The keys follow STREAMS, their IDs follow the keys.
        let (first, n) = (keys[0], keys.len());
        let Some(groups) = self.by_server(args, keys.into_iter()) else {
            return self.error("ERR proxy: no server is available").await;
        };
        if groups.len() == 1 {
            let b = groups[0].0.clone();
            return self.forward(&b, args).await;
        }
        let mut parts = Vec::with_capacity(groups.len());
        for (b, keys) in groups {
            let mut sub = Vec::with_capacity(first + 2 * keys.len());
            sub.extend_from_slice(&args[..first]);
            sub.extend(keys.iter().map(|&i| args[i].clone()));
            sub.extend(keys.iter().map(|&i| args[i + n].clone()));
            let mut data = BytesMut::new();
            encode_command(&sub, &mut data);
            let rx = self.send(&b, data.freeze(), 1, true).await;
            parts.push((keys.into_iter().map(|i| (i - first, args[i].clone())).collect(), rx));
        }
        let proto = self.proto;
        self.later(streams_merge(parts, n, proto)).await
    }

    /// KEYS DBSIZE FLUSHDB FLUSHALL SCAN RANDOMKEY INFO CONFIG.
    pub(crate) async fn fan_out(&mut self, name: &str, args: &[Bytes]) -> Flow {
        if name == "info" {
            return self.info(args).await;
        }
        let servers = self.live_servers();
        if servers.is_empty() {
            return self.error("ERR proxy: no server is available").await;
        }
        match name {
            "keys" => {
                let w = self.to_all(&servers, args).await;
                self.later(concat(w)).await
            }
            "dbsize" => {
                let w = self.to_all(&servers, &[Bytes::from_static(b"DBSIZE")]).await;
                self.later(sum(w)).await
            }
            "flushdb" | "flushall" => {
                let w = self.to_all(&servers, args).await;
                self.later(all_ok(w)).await
            }
            "randomkey" => {
                let w = self.to_all(&servers, args).await;
                let proto = self.proto;
                self.later(random_key(w, proto)).await
            }
            "scan" => {
                let Some(cursor) = std::str::from_utf8(&args[1]).ok().and_then(|s| s.parse::<u64>().ok()) else {
                    return self.error("ERR invalid cursor").await;
                };
                let (idx, server_cursor) = (cursor % SCAN_SERVERS, cursor / SCAN_SERVERS);
                let Some(b) = servers.get(idx as usize) else {
                    return self.flow(Pending::Bytes(Bytes::from_static(b"*2\r\n$1\r\n0\r\n*0\r\n"))).await;
                };
                let mut sub = args.to_vec();
                sub[1] = Bytes::from(server_cursor.to_string());
                let mut data = BytesMut::new();
                encode_command(&sub, &mut data);
                let rx = self.send(b, data.freeze(), 1, true).await;
                self.later(scan_page(rx, idx, servers.len() as u64)).await
            }
            "config" => {
                let sub = &args[1];
                if sub.eq_ignore_ascii_case(b"set") || sub.eq_ignore_ascii_case(b"resetstat") {
                    let w = self.to_all(&servers, args).await;
                    self.later(all_ok(w)).await
                } else {
                    self.forward(&servers[0], args).await
                }
            }
            _ => self.error("ERR proxy: internal routing error").await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_read_block_option() {
        let call = |s: &str| stream_read_blocks(&s.split(' ').map(|a| Bytes::from(a.to_string())).collect::<Vec<_>>());
        assert!(call("XREAD BLOCK 0 STREAMS k $"));
        assert!(call("xread count 5 block 10 streams k $"));
        assert!(call("XREADGROUP GROUP g c NOACK BLOCK 0 STREAMS k >"));
        assert!(!call("XREAD COUNT 5 STREAMS k 0"));
        assert!(!call("XREAD STREAMS block 0"), "a stream named block");
        assert!(!call("XREADGROUP GROUP block streams STREAMS k >"), "GROUP's values are not options");
    }
}
