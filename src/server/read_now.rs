//! A read that does not wait for the runtime to report the socket readable.
//!
//! Why: when a client sends a request on one connection and, without
//! waiting for its reply, another request on a second connection, Redis
//! runs them in that order, and applications rely on it (a subscriber's
//! UNSUBSCRIBE before a PUBLISH sent after it, a lock released on one
//! connection before it is taken on another). The kernel does not promise
//! it to an edge-triggered server: a request that arrives while the server
//! is inside a `send` on the same socket (writing the previous reply) is
//! held in the socket's backlog until that `send` returns, so the socket is
//! reported ready after a second socket whose request arrived meanwhile.
//! Traced on this VM (`sched`, `syscalls` and `irq` events, a C client
//! pinned to the other CPU): 37 such reorders in 200,000 rounds of
//! SUBSCRIBE/UNSUBSCRIBE/PUBLISH, each one a reply `send` that took 40 µs
//! or more while the client answered it. Redis, level-triggered, keeps a
//! socket it just read at the tail of epoll's ready list, ahead of sockets
//! that became ready after; it ran the same rounds without one.
//!
//! So a connection that ran requests in its turn reads once more, right
//! after writing their replies and before the runtime polls for other
//! connections, as a level-triggered server would find it ready again.
//!
//! Cost: one `poll` that usually finds nothing per turn that ran requests
//! (a pipelined batch counts once), about 0.5 µs on this VM. Against the
//! build without it, same run, pinned, 3 rounds: P1 geomean 1.01, P16 0.95
//! (GET 0.96, SET 0.95, LPUSH 1.00, HGET 0.96). One `poll` over every
//! connection written in a batch would be cheaper but is not the same: it
//! would run what arrived between one connection's write and the batch's
//! end in the order the connections were written, not as it arrived.

use std::io;

use bytes::BytesMut;
use tokio::net::TcpStream;

use crate::tls::MaybeTlsStream;

/// Room made when the read buffer is full.
const MIN_READ: usize = 4096;

/// A stream that can be read without waiting for readiness.
pub trait ReadNow {
    /// Appends what the socket holds now to `buf`, at most `max` bytes: `Ok(Some(n))` with
    /// `n > 0` for bytes read, `Ok(Some(0))` when the peer closed,
    /// `Ok(None)` when nothing is there (or the stream cannot say without
    /// waiting, as TLS). Never blocks. O(bytes read).
    fn read_now(&mut self, buf: &mut BytesMut, max: usize) -> io::Result<Option<usize>>;
}

impl ReadNow for TcpStream {
    fn read_now(&mut self, buf: &mut BytesMut, max: usize) -> io::Result<Option<usize>> {
        use std::os::fd::AsRawFd;
        let fd = self.as_raw_fd();
        // Asked first with `poll`, which does not lock the socket: a `recv`
        // that finds nothing holds the lock meanwhile, and a request arriving
        // then would wait in the backlog, as described above.
        let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        // SAFETY: one initialised pollfd that outlives the call; a zero
        // timeout never blocks.
        if unsafe { libc::poll(&mut p, 1, 0) } <= 0 || p.revents == 0 {
            return Ok(None);
        }
        // Room made before is used as it is: a big argument's own buffer
        // (see `RequestParser::exact_big_args`) must not grow.
        if buf.capacity() == buf.len() {
            buf.reserve(MIN_READ);
        }
        let spare = buf.spare_capacity_mut();
        let room = max.min(spare.len());
        let spare = &mut spare[..room];
        // SAFETY: `spare` is writable memory of `spare.len()` bytes owned by
        // `buf`; `recv` writes at most that many and reports how many, and
        // only those are marked initialised below. MSG_DONTWAIT never blocks.
        let n = unsafe { libc::recv(fd, spare.as_mut_ptr().cast(), spare.len(), libc::MSG_DONTWAIT) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        let n = n as usize;
        // SAFETY: `recv` initialised the first `n` bytes of the spare capacity.
        unsafe { buf.set_len(buf.len() + n) };
        Ok(Some(n))
    }
}

impl ReadNow for MaybeTlsStream {
    fn read_now(&mut self, buf: &mut BytesMut, max: usize) -> io::Result<Option<usize>> {
        match self {
            Self::Plain(s) => s.read_now(buf, max),
            // Bytes on the socket may be a partial TLS record; the TLS layer
            // reads them when the runtime reports the socket.
            Self::ServerTls(_) | Self::ClientTls(_) => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncWriteExt, Interest};

    async fn pair() -> (TcpStream, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (client, server)
    }

    /// Waits until the runtime reports `s` readable, then reads now; a
    /// report that found nothing is cleared and waited for again.
    async fn when_ready(s: &mut TcpStream, buf: &mut BytesMut) -> usize {
        loop {
            s.readable().await.unwrap();
            if let Some(n) = s.read_now(buf, 1 << 20).unwrap() {
                return n;
            }
            let _ = s.try_io(Interest::READABLE, || Err::<(), _>(io::ErrorKind::WouldBlock.into()));
        }
    }

    #[tokio::test]
    async fn reads_what_is_there_without_waiting_and_tells_nothing_from_a_close() {
        let (mut client, mut server) = pair().await;
        let mut buf = BytesMut::new();
        assert_eq!(server.read_now(&mut buf, 1 << 20).unwrap(), None);
        client.write_all(b"PING\r\n").await.unwrap();
        assert_eq!(when_ready(&mut server, &mut buf).await, 6);
        assert_eq!(&buf[..], b"PING\r\n");
        assert_eq!(server.read_now(&mut buf, 1 << 20).unwrap(), None);
        drop(client);
        assert_eq!(when_ready(&mut server, &mut buf).await, 0);
        assert_eq!(&buf[..], b"PING\r\n");
    }

    #[tokio::test]
    async fn appends_after_what_the_buffer_holds() {
        let (mut client, mut server) = pair().await;
        let mut buf = BytesMut::from(&b"*1\r\n"[..]);
        client.write_all(b"$4\r\nPING\r\n").await.unwrap();
        assert_eq!(when_ready(&mut server, &mut buf).await, 10);
        assert_eq!(&buf[..], b"*1\r\n$4\r\nPING\r\n");
    }

    #[tokio::test]
    async fn reads_at_most_what_it_is_asked_and_into_the_room_made() {
        let (mut client, mut server) = pair().await;
        client.write_all(&[b'x'; 100]).await.unwrap();
        let mut buf = BytesMut::with_capacity(64);
        server.readable().await.unwrap();
        while buf.is_empty() {
            server.read_now(&mut buf, 30).unwrap();
        }
        assert_eq!(buf.len(), 30);
        // A buffer with room is not grown: 34 bytes fit, 34 are read.
        assert_eq!(server.read_now(&mut buf, 1000).unwrap(), Some(34));
        assert_eq!(buf.len(), 64);
        assert_eq!(buf.capacity(), 64);
    }
}
