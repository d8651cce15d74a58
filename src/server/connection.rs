//! One client connection: read, parse every complete request, execute in
//! order, write all replies with one flush.
//!
//! Works on any byte stream (plain TCP or TLS). A protocol error is answered
//! and then only this connection is closed. A blocked command (BLPOP …)
//! parks the connection without holding any lock; further pipelined requests
//! wait in the read buffer, as in Redis.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::client::{ClientState, ReplyMode};
use super::output_limit::{check as output_check, Limit};
use super::querybuf::{self, Shrink};
use super::read_now::ReadNow;
use super::Server;
use crate::cmd;
use crate::cmd::blocking::Parked;
use crate::protocol::{encode, Reply, RequestParser};

/// Flush replies early when a long pipeline has produced this much output.
const OUT_FLUSH_AT: usize = 64 * 1024;

/// Why the connection loop ended.
enum Next {
    Continue,
    Close,
}

/// Serves one client until it quits, errs, is killed, or the server shuts down.
pub async fn serve<S>(
    srv: Arc<Server>,
    mut stream: S,
    peer: Option<std::net::SocketAddr>,
    local: Option<std::net::SocketAddr>,
) where
    S: AsyncRead + AsyncWrite + ReadNow + Unpin,
{
    let handle = srv.clients.register(peer, local);
    srv.stats.connections_received.fetch_add(1, Ordering::Relaxed);
    let mut client = ClientState::new(handle.clone(), !srv.requires_auth());
    let (max_bulk, qbuf_limit) = {
        let c = srv.config.read();
        (c.proto_max_bulk_len as i64, c.client_query_buffer_limit as usize)
    };
    let mut parser = RequestParser::new(max_bulk).exact_big_args();
    client.args_exact = parser.hands_out_exact_big_args();
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut out = BytesMut::with_capacity(16 * 1024);
    if *srv.shutdown.borrow() {
        // Shutdown rang the clients registered before this one.
        handle.wake.ring();
    }
    // When the pending output first passed the soft client-output-buffer-limit.
    let mut obuf_soft: Option<Instant> = None;
    // The `normal` client-output-buffer-limit, read again when each batch of requests arrives (a CONFIG SET applies
    // from the next read on); with Redis's default (`0 0 0`) the only cost per reply is testing one flag.
    let mut lim = output_limit(&srv);
    // The query buffer was released after an idle spell; the next read
    // starts small and it grows again.
    let mut released = false;
    // Last interaction (input, output, end of a blocking wait): `timeout`
    // counts from here, so waking the task for a buffer request does not
    // restart it. Unix ms by the coarse clock (Redis keeps `lastinteraction` in its cached seconds too): no system
    // call per request.
    let mut last_input = handle.interacted();
    // Pushed bytes moved to `out` and not yet written.
    let mut pushed = 0usize;
    tracing::debug!(id = handle.id, addr = %handle.addr, "client connected");

    // Requests still ahead whose keys were warmed (see `warm_keys`).
    let mut warm_left = 0usize;
    'conn: loop {
        let mut limited = lim != Limit::default();
        // Whether a request ran in this turn (see `ReadNow`).
        let mut served = false;
        // Execute every complete request already buffered.
        loop {
            if handle.killed.load(Ordering::Acquire) {
                break 'conn;
            }
            handle.qbuf.len.store(buf.len(), Ordering::Relaxed);
            if warm_left == 0 && client.authenticated && parser.is_idle() {
                warm_left = warm_keys(&srv, &client, &buf);
            }
            warm_left = warm_left.saturating_sub(1);
            match parser.parse_next(&mut buf, client.authenticated) {
                Ok(Some(args)) => {
                    served = true;
                    let mut reply = cmd::dispatch(&srv, &mut client, args);
                    while std::mem::take(&mut client.postponed) {
                        // Held by CLIENT PAUSE: write what is pending, wait
                        // for its turn, run it then.
                        if !flush(&srv, &client, &mut stream, &mut out, lim, &mut obuf_soft).await {
                            break 'conn;
                        }
                        let Some(_turn) = wait_paused(&srv, &client, args, &mut stream, &mut buf).await else {
                            break 'conn;
                        };
                        last_input = handle.interacted();
                        reply = cmd::dispatch(&srv, &mut client, args);
                    }
                    // PSYNC/SYNC make this a replica's link; WAIT waits here.
                    if let Some(req) = client.repl_request.take() {
                        if !flush(&srv, &client, &mut stream, &mut out, lim, &mut obuf_soft).await {
                            break 'conn;
                        }
                        match req {
                            crate::replication::Request::Sync(r) => {
                                crate::replication::primary::serve(&srv, &mut stream, &client, &mut buf, r).await;
                                break 'conn;
                            }
                            crate::replication::Request::Wait { replicas, timeout_ms } => {
                                reply = crate::replication::wait(&srv, replicas, timeout_ms).await;
                                last_input = handle.interacted();
                            }
                        }
                    }
                    if let Some(parked) = client.parked.take() {
                        let waited = if flush(&srv, &client, &mut stream, &mut out, lim, &mut obuf_soft).await {
                            let r = wait_blocked(&srv, &mut client, &parked, &mut stream, &mut buf).await;
                            last_input = handle.interacted();
                            r
                        } else {
                            take_back(&srv, &mut client, &parked).await;
                            None
                        };
                        match waited {
                            Some(r) => reply = r,
                            None => break 'conn,
                        }
                        // The wait may have been long: the limit in force now applies.
                        lim = output_limit(&srv);
                        limited = lim != Limit::default();
                    }
                    // Messages published before this reply (the command's
                    // own subscription confirmations included) go first,
                    // as Redis writes them.
                    pushed += handle.push.drain_into(&mut out);
                    emit(&srv, &mut client, &reply, &mut out);
                    // Invalidations of keys this command changed follow it.
                    for m in client.after_reply.drain(..) {
                        out.extend_from_slice(&m);
                    }
                    // As Redis checks after adding each reply: over the limit, the client is closed at once, its
                    // pending output and the rest of its pipeline dropped.
                    if limited && output_check(lim, out.len(), &mut obuf_soft).is_err() {
                        output_limit_reached(&client);
                        break 'conn;
                    }
                    if client.close_after_reply {
                        break;
                    }
                    // With a hard limit nothing is written before the batch ends (as Redis writes replies only
                    // between event-loop turns), so the limit bounds what one batch may produce; without one, a
                    // long pipeline's output is written as it grows.
                    if out.len() >= OUT_FLUSH_AT
                        && lim.hard == 0
                        && !drain(&srv, &client, &mut stream, &mut out, lim, &mut obuf_soft).await
                    {
                        break 'conn;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(id = handle.id, error = %e, "protocol error; closing connection");
                    emit(&srv, &mut client, &Reply::Error(e.to_string()), &mut out);
                    client.close_after_reply = true;
                    break;
                }
            }
        }
        pushed += handle.push.drain_into(&mut out);
        // Output written counts as interaction too, as in Redis's writeToClient.
        if !out.is_empty() {
            last_input = handle.interacted();
            // Let every other connection with requests ready run first and
            // write after them, as Redis writes all replies between event
            // loop turns (see `write_batch`; pinned to one core, SET/GET at
            // 16-deep pipelines: +30% throughput over writing at once).
            super::write_batch::end_of_batch().await;
        }
        if !flush(&srv, &client, &mut stream, &mut out, lim, &mut obuf_soft).await || client.close_after_reply {
            break;
        }
        handle.push.written(std::mem::take(&mut pushed));
        if buf.len() > qbuf_limit {
            tracing::warn!(id = handle.id, "closing client that exceeded client-query-buffer-limit");
            break;
        }
        // The clients cron may ask for the buffers back (see `server::querybuf`):
        // many idle connections then cost little.
        let request = handle.qbuf.take_request();
        if request == Shrink::Release && out.is_empty() {
            out = BytesMut::new();
        }
        let big_arg_room = parser.big_arg_room(buf.len());
        // A request with a big argument likely follows one of the same
        // shape: a buffer of exactly its predicted size takes its start and
        // the argument in one read, and the argument needs no copy (see
        // `RequestParser::predicted_read`). Not while the cron has the
        // buffer released: an idle client holds no buffer.
        let predicted = parser.predicted_read().filter(|_| buf.is_empty() && request == Shrink::None && !released);
        released = match (big_arg_room, predicted) {
            // A big argument is being received into a buffer of its own:
            // room for exactly its rest, so the allocation stays its size
            // (a request of the cron is dropped; it asks again on its next
            // visit if the buffer is still worth shrinking).
            (Some(room), _) => {
                buf.reserve(room);
                false
            }
            (None, Some(size)) => {
                buf = BytesMut::with_capacity(size);
                parser.arm_predicted_read();
                false
            }
            (None, None) => {
                let bulk_left = parser.needed().saturating_sub(buf.len());
                querybuf::prepare_read(&mut buf, bulk_left, request, released)
            }
        };
        handle.qbuf.len.store(buf.len(), Ordering::Relaxed);
        handle.qbuf.cap.store(buf.capacity(), Ordering::Relaxed);
        // Subscribers never time out, as in Redis.
        let idle = if client.subscribed() { 0 } else { srv.config.read().timeout };
        // How much to read: exactly the rest of a big argument, or the
        // predicted request (above); else, while big arguments come, one
        // `READ_CHUNK` at a time, as Redis reads, so the
        // next one's start arrives in a small read (copied once into its own
        // buffer) and its rest straight into that. Otherwise what the buffer
        // has room for: a 16-deep pipeline of 1 KiB SETs capped at 16 KiB
        // ran 22% slower.
        let max_read = big_arg_room.or(predicted).unwrap_or(if parser.expects_big_arg() {
            querybuf::READ_CHUNK
        } else {
            usize::MAX
        });
        // What arrived while this turn ran is read at once, before the
        // runtime looks for other ready connections (see `ReadNow`).
        let now = if served { stream.read_now(&mut buf, max_read) } else { Ok(None) };
        let read = async {
            if let Some(n) = now? {
                return Ok(n);
            }
            let deadline = (idle > 0).then(|| {
                let left = last_input.saturating_add(idle.saturating_mul(1000)).saturating_sub(crate::db::coarse_ms());
                Instant::now().checked_add(std::time::Duration::from_millis(left))
            });
            if let Some(deadline) = deadline.flatten() {
                match tokio::time::timeout_at(deadline.into(), stream.read_buf(&mut (&mut buf).limit(max_read))).await {
                    Ok(r) => r,
                    Err(_) => Ok(0),
                }
            } else {
                stream.read_buf(&mut (&mut buf).limit(max_read)).await
            }
        };
        let next = tokio::select! {
            biased;
            r = read => match r {
                Ok(0) | Err(_) => Next::Close,
                Ok(n) => {
                    last_input = handle.interacted();
                    srv.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    handle.qbuf.note_read(buf.len());
                    released = false;
                    lim = output_limit(&srv);
                    Next::Continue
                }
            },
            // A pub/sub message to write, a request to release the buffers (both served at the loop's top), a
            // kill or shutdown.
            _ = handle.wake.rung() => {
                if handle.killed.load(Ordering::Acquire) || *srv.shutdown.borrow() { Next::Close } else { Next::Continue }
            }
        };
        if let Next::Close = next {
            break;
        }
    }
    // Gone from CLIENT LIST before the peer sees the connection close, as in Redis.
    cmd::transaction::unwatch_all(&srv, &mut client);
    cmd::pubsub::leave_all(&srv, &mut client);
    srv.tracking.disable(&handle);
    if handle.monitoring.load(Ordering::Acquire) {
        srv.monitors.remove(handle.id);
    }
    srv.clients.unregister(handle.id);
    srv.replication.pending.lock().remove(&handle.id);
    let _ = stream.shutdown().await;
    tracing::debug!(id = handle.id, "client disconnected");
}

/// Requests of a pipelined batch whose keys are looked up together.
const WARM_BATCH: usize = 16;

/// Looks up together the keys (second arguments) of the next complete
/// requests in `buf`, up to [`WARM_BATCH`], so that their cache misses
/// overlap before the requests run one by one (see `Keyspace::warm`);
/// nothing for a lone request. Returns how many requests it went over.
/// Measured against the build without it (pinned, 50 connections, P16,
/// same run): GET and SET on 10M keys 1.38 and 1.35, on 100k keys
/// 1.09-1.14 and 1.07-1.12 (GET of 1 KiB values: another 1-7% from
/// reading the value's first byte too); a pipeline on one key (LPUSH, HGET) 0.98,
/// the look ahead's cost; P1 unchanged (one request per turn).
fn warm_keys(srv: &Server, client: &ClientState, buf: &[u8]) -> usize {
    let mut keys: smallvec::SmallVec<[&[u8]; WARM_BATCH]> = smallvec::SmallVec::new();
    // A key repeated back to back (a pipeline on one hot key) is looked up once.
    let n = crate::protocol::peek::second_args(buf, WARM_BATCH, |k| {
        if keys.last() != Some(&k) {
            keys.push(k)
        }
    });
    if keys.len() > 1 {
        srv.keyspace.warm(client.db, &keys);
        return n;
    }
    // A long run on one key (or on none) likely goes on: look again only
    // after several batches' worth of requests, so such a pipeline pays
    // for the look ahead once in a while rather than on every batch.
    if n >= WARM_BATCH / 2 {
        return n * 8;
    }
    n
}

/// Encodes a reply unless `CLIENT REPLY` says otherwise.
fn emit(srv: &Server, client: &mut ClientState, reply: &Reply, out: &mut BytesMut) {
    if let Reply::Error(msg) = reply {
        if !std::mem::take(&mut client.error_counted) {
            crate::cmd::info::stats::count_error_reply(srv, msg);
        }
    }
    match client.reply_mode {
        ReplyMode::On => encode(reply, client.resp, out),
        ReplyMode::Off => {}
        ReplyMode::Skip => client.reply_mode = ReplyMode::SkipThis,
        ReplyMode::SkipThis => client.reply_mode = ReplyMode::On,
    }
}

// ---- client-output-buffer-limit (normal clients) ----

/// The `normal` class of `client-output-buffer-limit` (parsed when set). O(1).
fn output_limit(srv: &Server) -> Limit {
    srv.config.read().client_output_buffer_limit.normal()
}

/// Logs, as Redis does, that a client is closed for its output; always false (the connection must close).
fn output_limit_reached(client: &ClientState) -> bool {
    tracing::warn!(id = client.id(), addr = %client.handle.addr, "closing client for overcoming of output buffer limits");
    false
}

/// Mid-pipeline output (called only without a hard limit). With no limit for normal clients (Redis's default),
/// writes it all: a client that does not read is not served further until it does. With a soft limit, writes only
/// what the socket takes now and goes on executing, checking the output held against the limit. False: close the
/// connection.
async fn drain<S: AsyncWrite + Unpin>(
    srv: &Server,
    client: &ClientState,
    stream: &mut S,
    out: &mut BytesMut,
    lim: Limit,
    soft_since: &mut Option<Instant>,
) -> bool {
    if lim == Limit::default() || client.aof_offset > 0 {
        return flush(srv, client, stream, out, lim, soft_since).await;
    }
    if output_check(lim, out.len(), soft_since).is_err() {
        return output_limit_reached(client);
    }
    let mut written = 0;
    let alive = std::future::poll_fn(|cx| loop {
        if written == out.len() {
            return Poll::Ready(true);
        }
        match Pin::new(&mut *stream).poll_write(cx, &out[written..]) {
            Poll::Ready(Ok(n)) if n > 0 => written += n,
            Poll::Ready(_) => return Poll::Ready(false),
            Poll::Pending => return Poll::Ready(true),
        }
    })
    .await;
    srv.stats.net_output_bytes.fetch_add(written as u64, Ordering::Relaxed);
    bytes::Buf::advance(out, written);
    alive && (output_check(lim, out.len(), soft_since).is_ok() || output_limit_reached(client))
}

/// Writes all pending output; false if the peer is gone, the client was killed meanwhile, or its unwritten output
/// broke `client-output-buffer-limit` (`lim`). Under `appendfsync always` it first waits until this client's writes
/// are on disk.
async fn flush<S: AsyncWrite + Unpin>(
    srv: &Server,
    client: &ClientState,
    stream: &mut S,
    out: &mut BytesMut,
    lim: Limit,
    soft_since: &mut Option<Instant>,
) -> bool {
    if out.is_empty() {
        return true;
    }
    if client.aof_offset > 0 {
        srv.persist.wait_durable(client.aof_offset).await;
    }
    let kill = &client.handle.kill_notify;
    let mut written = 0;
    let mut ok = true;
    // Biased: the write is tried first, and when the socket takes it all at
    // once (the usual case) the other waits are never polled.
    while ok && written < out.len() {
        let Ok(deadline) = output_check(lim, out.len() - written, soft_since) else {
            ok = output_limit_reached(client);
            break;
        };
        let expiry = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            r = stream.write(&out[written..]) => match r {
                Ok(n) if n > 0 => written += n,
                _ => ok = false,
            },
            _ = expiry => {}
            _ = kill.notified() => ok = !client.handle.killed.load(Ordering::Acquire),
        }
    }
    if ok {
        *soft_since = None;
        ok = loop {
            tokio::select! {
                biased;
                r = stream.flush() => break r.is_ok(),
                _ = kill.notified() => if client.handle.killed.load(Ordering::Acquire) { break false },
            }
        };
    }
    srv.stats.net_output_bytes.fetch_add(written as u64, Ordering::Relaxed);
    out.clear();
    ok
}

/// Waits while CLIENT PAUSE holds this client's command `args` (counted as
/// a blocked client meanwhile) and until the clients held before it ran;
/// `None` if the client went away. Bytes it sends meanwhile are buffered
/// for after.
async fn wait_paused<'s, S: AsyncRead + Unpin>(
    srv: &'s Server,
    client: &ClientState,
    args: &[bytes::Bytes],
    stream: &mut S,
    buf: &mut BytesMut,
) -> Option<super::pause::Turn<'s>> {
    let handle = &client.handle;
    let write_like = cmd::table::lookup(&args[0]).is_some_and(|s| cmd::pause_write_like(srv, client, s, args));
    let mut shutdown = srv.shutdown.subscribe();
    handle.set_blocked();
    let wait = srv.pause.wait(handle.id, write_like);
    tokio::pin!(wait);
    let turn = loop {
        tokio::select! {
            t = &mut wait => break Some(t),
            r = stream.read_buf(buf) => match r {
                Ok(0) | Err(_) => break None,
                Ok(_) => continue,
            },
            _ = handle.kill_notify.notified() => if handle.killed.load(Ordering::Acquire) { break None },
            _ = super::shutdown_started(&mut shutdown) => break None,
        }
    };
    handle.end_block();
    turn
}

/// Waits while this client is parked in a blocking command (see
/// `cmd/blocking.rs`): until a command serves it, `CLIENT UNBLOCK` ends the
/// wait, its timeout passes, or the client goes away (`None`). Bytes the
/// client sends meanwhile are buffered for after. Either way the client's
/// state is taken back into `client`.
async fn wait_blocked<S: AsyncRead + Unpin>(
    srv: &Server,
    client: &mut ClientState,
    parked: &Parked,
    stream: &mut S,
    buf: &mut BytesMut,
) -> Option<Reply> {
    let handle = client.handle.clone();
    let mut shutdown = srv.shutdown.subscribe();
    let sleep = async {
        match parked.deadline {
            Some(d) => tokio::time::sleep_until(d.into()).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(sleep);
    let gone = loop {
        tokio::select! {
            _ = parked.done() => break false,
            _ = &mut sleep => break false,
            r = stream.read_buf(buf) => match r {
                Ok(0) | Err(_) => break true,
                Ok(_) => continue,
            },
            _ = handle.kill_notify.notified() => if handle.killed.load(Ordering::Acquire) { break true },
            _ = super::shutdown_started(&mut shutdown) => break true,
        }
    };
    let reply = take_back(srv, client, parked).await;
    (!gone).then_some(reply)
}

/// Ends this client's wait (if nothing else has) and takes its state back
/// into `client`, with the reply the wait ended with: its timeout reply if
/// it was still waiting. A command re-running it right now answers first.
async fn take_back(srv: &Server, client: &mut ClientState, parked: &Parked) -> Reply {
    loop {
        if let Some((state, reply)) = srv.blocking.collect(parked) {
            *client = state;
            return reply;
        }
        parked.done().await;
    }
}
