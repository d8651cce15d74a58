//! Moving keys from a previous owner to the new one, in one pipelined batch.
//!
//! Per key: `MULTI DUMP key PTTL key EXEC` on the previous owner (value and
//! remaining TTL read atomically), `RESTORE key ttl payload` on the new
//! owner without REPLACE, then `DEL key` on the previous owner when RESTORE
//! answered OK or BUSYKEY. BUSYKEY means the new owner already holds the
//! key (moved by another mover, or written since the ring changed): its
//! value is the newer one and stays. A key absent from the previous owner
//! (moved already, deleted, expired) costs the one round trip.
//!
//! Each phase is sent for every key of the batch before any answer is
//! awaited, so a batch costs three round trips whatever its size. The TTL
//! travels relative (PTTL, then RESTORE's ttl): no clock is compared
//! between servers, and the key lives at most the transfer time longer.

use std::future::Future;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use inmemory::protocol::frame::Frame;
use tokio::sync::oneshot;

use crate::pool::{encode_command, Answer, Backend};
use crate::router::answer;

/// How requests reach the servers: a client's connections (on-demand
/// moves, ordered after the client's earlier requests) or the background
/// scan's own.
pub trait Link: Sync {
    /// Sends `data` (`replies` replies; the last one decoded) to `b`; the
    /// receiver always gets an answer (an error naming the server if it is down).
    fn request(
        &self,
        b: &Arc<Backend>,
        data: Bytes,
        replies: u32,
    ) -> impl Future<Output = oneshot::Receiver<Answer>> + Send;
}

/// One key to move.
pub struct Move {
    /// The key.
    pub key: Bytes,
    /// The previous owner that may hold it.
    pub from: Arc<Backend>,
    /// Its owner on the ring in force.
    pub to: Arc<Backend>,
}

/// What a batch did.
#[derive(Debug, Default)]
pub struct Moved {
    /// Keys restored on their new owner.
    pub moved: u64,
    /// Keys the new owner already had (the previous copy was dropped).
    pub already_there: u64,
    /// The first failure (a server down, a refused RESTORE); the keys it
    /// concerns stay where they were.
    pub error: Option<String>,
}

fn encode(args: &[&[u8]]) -> Bytes {
    let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
    let mut out = BytesMut::new();
    encode_command(&args, &mut out);
    out.freeze()
}

fn read_dump(mut data: BytesMut, key: &[u8]) -> Bytes {
    data.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n");
    data.extend_from_slice(&encode(&[b"DUMP", key]));
    data.extend_from_slice(&encode(&[b"PTTL", key]));
    data.extend_from_slice(b"*1\r\n$4\r\nEXEC\r\n");
    data.freeze()
}

/// The value and TTL (ms, 0: none) in `EXEC`'s answer; `Ok(None)` when
/// the key is absent; `Err` with the error line.
fn dumped(a: Answer) -> Result<Option<(Bytes, i64)>, String> {
    let f = a?.frame.ok_or("ERR proxy: reply was not decoded")?;
    if let Frame::Error(e) = &f {
        return Err(String::from_utf8_lossy(e).into_owned());
    }
    let Some([payload, ttl]) = f.items() else { return Err("ERR proxy: unexpected reply to DUMP".into()) };
    if payload.is_null() {
        return Ok(None);
    }
    let (Some(p), Some(ttl)) = (payload.as_bytes(), ttl.as_int()) else {
        return Err(format!(
            "ERR proxy: cannot move a key: {}",
            String::from_utf8_lossy(payload.text().unwrap_or(b""))
        ));
    };
    match ttl {
        -2 => Ok(None),
        -1 => Ok(Some((p.clone(), 0))),
        // 0 would mean "no TTL" to RESTORE: the key expires now.
        t => Ok(Some((p.clone(), t.max(1)))),
    }
}

/// Moves each of `moves` from its previous owner to its new one (see the
/// module doc). Keys listed twice with different previous owners: the
/// first listed that still holds it wins, the others' copies are dropped.
/// O(batch) requests in three pipelined rounds.
pub async fn move_keys<L: Link>(link: &L, moves: &[Move]) -> Moved {
    let mut out = Moved::default();
    let mut reads = Vec::with_capacity(moves.len());
    for m in moves {
        reads.push(link.request(&m.from, read_dump(BytesMut::new(), &m.key), 4).await);
    }
    let mut restores = Vec::new();
    for (m, rx) in moves.iter().zip(reads) {
        match dumped(answer(rx).await) {
            Ok(None) => {}
            Ok(Some((payload, ttl))) => {
                let ttl = itoa::Buffer::new().format(ttl).as_bytes().to_vec();
                let data = encode(&[b"RESTORE", &m.key, &ttl, &payload]);
                restores.push((m, link.request(&m.to, data, 1).await));
            }
            Err(e) => {
                out.error.get_or_insert(e);
            }
        }
    }
    let mut dels = Vec::new();
    for (m, rx) in restores {
        let a = answer(rx).await.and_then(|r| match r.frame {
            Some(Frame::Error(e)) => Err(String::from_utf8_lossy(&e).into_owned()),
            _ => Ok(()),
        });
        match a {
            Ok(()) => out.moved += 1,
            Err(e) if e.starts_with("BUSYKEY") => out.already_there += 1,
            Err(e) => {
                out.error.get_or_insert(e);
                continue;
            }
        }
        dels.push(link.request(&m.from, encode(&[b"DEL", &m.key]), 1).await);
    }
    for rx in dels {
        if let Err(e) = answer(rx).await {
            out.error.get_or_insert(e);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::Answer;

    fn exec(items: Vec<Frame>) -> Answer {
        Ok(crate::conn::Resp { raw: Bytes::new(), frame: Some(Frame::Array(Some(items))) })
    }

    #[test]
    fn dump_answers() {
        let p = Bytes::from_static(b"payload");
        assert_eq!(dumped(exec(vec![Frame::Bulk(Some(p.clone())), Frame::Int(-1)])).unwrap(), Some((p.clone(), 0)));
        assert_eq!(
            dumped(exec(vec![Frame::Bulk(Some(p.clone())), Frame::Int(1500)])).unwrap(),
            Some((p.clone(), 1500))
        );
        assert_eq!(dumped(exec(vec![Frame::Bulk(Some(p.clone())), Frame::Int(0)])).unwrap(), Some((p, 1)));
        assert_eq!(dumped(exec(vec![Frame::Bulk(None), Frame::Int(-2)])).unwrap(), None);
        assert_eq!(dumped(exec(vec![Frame::Null, Frame::Int(-2)])).unwrap(), None);
        assert!(dumped(Err("ERR down".into())).is_err());
        assert!(dumped(exec(vec![Frame::Int(1)])).is_err());
    }
}
