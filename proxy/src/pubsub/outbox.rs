//! What the proxy writes to a subscribed client: confirmations built as
//! one server would build them, kept in request order behind those still
//! waiting for a server.

use std::collections::VecDeque;

use bytes::{BufMut, Bytes, BytesMut};
use inmemory::protocol::frame::Frame;
use inmemory::protocol::Reply;

use crate::router::reply_bytes;

/// A confirmation push (`[word, name, count]`) for a client speaking `proto`.
pub(super) fn confirmation(word: &'static str, name: Option<&Bytes>, count: usize, proto: u8) -> Bytes {
    let name = name.map_or(Reply::Nil, |n| Reply::Bulk(n.clone()));
    reply_bytes(&Reply::Push(vec![Reply::bulk_str(word), name, Reply::Int(count as i64)]), proto)
}

/// A message push read in one protocol, written in the other.
pub(super) fn reencode(items: &[Frame], proto: u8) -> Bytes {
    let mut out = BytesMut::new();
    out.put_u8(if proto >= 3 { b'>' } else { b'*' });
    out.put_slice(itoa::Buffer::new().format(items.len()).as_bytes());
    out.put_slice(b"\r\n");
    for f in items {
        f.write_to(&mut out);
    }
    out.freeze()
}

/// The client's replies and pushes waiting to be written in order: a
/// subscribe confirmation waits for its servers' confirmations, and
/// everything queued after it waits with it.
#[derive(Default)]
pub(super) struct Outbox {
    /// The token of `items[0]`.
    first: u64,
    items: VecDeque<Item>,
}

struct Item {
    /// Server confirmations still awaited.
    waiting: usize,
    bytes: Bytes,
    /// A server refused: `bytes` were replaced by its error.
    failed: bool,
}

impl Outbox {
    pub(super) fn ready(&mut self, bytes: Bytes) {
        self.items.push_back(Item { waiting: 0, bytes, failed: false });
    }

    /// Queues `bytes` behind `waiting` server confirmations; its token.
    pub(super) fn waiting(&mut self, bytes: Bytes, waiting: usize) -> u64 {
        self.items.push_back(Item { waiting, bytes, failed: false });
        self.first + self.items.len() as u64 - 1
    }

    fn item(&mut self, token: u64) -> Option<&mut Item> {
        let i = usize::try_from(token.checked_sub(self.first)?).ok()?;
        self.items.get_mut(i)
    }

    pub(super) fn confirmed(&mut self, token: u64) {
        if let Some(it) = self.item(token) {
            it.waiting = it.waiting.saturating_sub(1);
        }
    }

    /// A server refused: the item becomes `error` (the first refusal's) or,
    /// for the other items of the same refused command, nothing.
    pub(super) fn refused(&mut self, token: u64, error: Option<&Bytes>) {
        if let Some(it) = self.item(token) {
            if !it.failed {
                it.failed = true;
                it.bytes = error.cloned().unwrap_or_default();
            }
            it.waiting = it.waiting.saturating_sub(1);
        }
    }

    /// The items ready at the front, concatenated. O(bytes taken).
    pub(super) fn take_ready(&mut self) -> Option<Bytes> {
        let n = self.items.iter().take_while(|it| it.waiting == 0).count();
        if n == 0 {
            return None;
        }
        self.first += n as u64;
        if n == 1 {
            return self.items.pop_front().map(|it| it.bytes).filter(|b| !b.is_empty());
        }
        let mut out = BytesMut::new();
        for it in self.items.drain(..n) {
            out.extend_from_slice(&it.bytes);
        }
        Some(out.freeze()).filter(|b| !b.is_empty())
    }

    pub(super) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmations_are_the_servers_bytes() {
        let ch = Bytes::from_static(b"news");
        assert_eq!(&confirmation("subscribe", Some(&ch), 2, 2)[..], b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:2\r\n");
        assert_eq!(&confirmation("subscribe", Some(&ch), 2, 3)[..], b">3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:2\r\n");
        assert_eq!(&confirmation("unsubscribe", None, 0, 2)[..], b"*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n");
        assert_eq!(&confirmation("unsubscribe", None, 0, 3)[..], b">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n");
    }

    #[test]
    fn messages_change_protocol() {
        let items = vec![
            Frame::Bulk(Some(Bytes::from_static(b"message"))),
            Frame::Bulk(Some(Bytes::from_static(b"c"))),
            Frame::Bulk(Some(Bytes::from_static(b"hi"))),
        ];
        assert_eq!(&reencode(&items, 3)[..], b">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n");
        assert_eq!(&reencode(&items, 2)[..], b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$2\r\nhi\r\n");
    }

    #[test]
    fn outbox_keeps_order_behind_a_waiting_confirmation() {
        let mut o = Outbox::default();
        o.ready(Bytes::from_static(b"a"));
        let t = o.waiting(Bytes::from_static(b"b"), 2);
        o.ready(Bytes::from_static(b"c"));
        assert_eq!(o.take_ready().as_deref(), Some(&b"a"[..]));
        assert_eq!(o.take_ready(), None);
        o.confirmed(t);
        assert_eq!(o.take_ready(), None);
        o.confirmed(t);
        assert_eq!(o.take_ready().as_deref(), Some(&b"bc"[..]));
        assert!(o.is_empty());
        let t1 = o.waiting(Bytes::from_static(b"x"), 1);
        let t2 = o.waiting(Bytes::from_static(b"y"), 1);
        let err = Bytes::from_static(b"-ERR no\r\n");
        o.refused(t1, Some(&err));
        o.refused(t2, None);
        assert_eq!(o.take_ready().as_deref(), Some(&b"-ERR no\r\n"[..]));
        assert!(o.is_empty());
    }
}
