//! The replica's side: the link to a primary, kept up by one tokio task.
//!
//! Each connection does Redis's handshake (PING, AUTH with `masteruser` /
//! `masterauth`, `REPLCONF listening-port`, `REPLCONF capa eof capa
//! psync2`, `PSYNC <replid> <offset+1>`, or `PSYNC ? -1` with no history),
//! then either loads the snapshot (disk-style `$<len>` or diskless
//! `$EOF:<mark>`, see [`super::load`]) in place of the dataset and takes
//! the primary's id and offset, or continues (`+CONTINUE`). The stream is then applied through
//! the normal dispatcher as the primary's client (exempt from the
//! read-only refusal, with keys never expiring under it, so the primary's
//! DEL decides), each command forwarded byte for byte to this server's own
//! replicas, the processed offset acknowledged every second and on
//! `REPLCONF GETACK`. A lost link is retried every second with a partial
//! resync.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::KIND_MASTER;
use crate::protocol::frame::{Frame, FrameReader};
use crate::server::client::{ClientHandle, ClientState};
use crate::server::Server;

/// `REPLICAOF host port` (Some) or `REPLICAOF NO ONE` (None). Returns
/// false when already replicating from that primary (nothing changes).
pub fn set_master(srv: &Arc<Server>, target: Option<(String, u16)>) -> bool {
    let r = &srv.replication;
    let mut m = r.master.lock();
    if m.target == target {
        return false;
    }
    if let Some(t) = m.task.take() {
        t.abort();
    }
    kill_master_clients(srv);
    let Some((host, port)) = target else {
        // Promoted: a new history starts, the old id stays valid up to here.
        m.target = None;
        m.link = "connect";
        r.stream.promote();
        crate::db::set_replica_mode(false);
        tracing::info!("MASTER MODE enabled");
        return true;
    };
    let was_primary = m.target.is_none();
    m.target = Some((host.clone(), port));
    m.link = "connect";
    m.down_since = crate::db::now_ms() / 1000;
    // A primary turning replica continues from its own history (Redis's
    // replicationCacheMasterUsingMyself); its replicas must follow anew.
    m.has_history |= was_primary;
    r.stream.set_upstream(true);
    r.stream.disconnect_replicas();
    crate::db::set_replica_mode(true);
    let task = tokio::spawn(link_loop(srv.clone(), host, port));
    m.task = Some(task.abort_handle());
    true
}

/// Closes the connection the link task uses (its task was aborted or it
/// is about to be). O(clients).
fn kill_master_clients(srv: &Server) {
    for c in srv.clients.list() {
        if c.kind.load(Ordering::Relaxed) == KIND_MASTER {
            c.kill();
        }
    }
}

/// Connects, syncs and applies the stream; reconnects a second after the
/// link is lost. Ends when aborted (REPLICAOF) or at shutdown.
async fn link_loop(srv: Arc<Server>, host: String, port: u16) {
    let mut shutdown = srv.shutdown.subscribe();
    loop {
        tokio::select! {
            r = link_once(&srv, &host, port) => {
                if let Err(e) = r {
                    tracing::warn!(master = %format!("{host}:{port}"), "Replication link: {e}");
                    super::failover::link_failed(&srv, &e);
                }
            }
            _ = crate::server::shutdown_started(&mut shutdown) => return,
        }
        {
            let mut m = srv.replication.master.lock();
            if m.link == "connected" {
                m.down_since = crate::db::now_ms() / 1000;
            }
            m.link = "connect";
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The master client: registered so CLIENT LIST/KILL see it; removed from
/// the registry when dropped (also when the task is aborted).
struct MasterClient {
    srv: Arc<Server>,
    handle: Arc<ClientHandle>,
}

impl Drop for MasterClient {
    fn drop(&mut self) {
        self.srv.clients.unregister(self.handle.id);
    }
}

fn set_link(srv: &Server, state: &'static str) {
    srv.replication.master.lock().link = state;
}

/// Reads one `\r\n`-ended line (leading bare `\n` keepalives skipped).
pub(super) async fn read_line(conn: &mut TcpStream, buf: &mut BytesMut) -> Result<String, String> {
    loop {
        while buf.first() == Some(&b'\n') {
            buf.advance(1);
        }
        if let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..p]).into_owned();
            buf.advance(p + 2);
            return Ok(line);
        }
        read_more(conn, buf).await?;
    }
}

/// Reads more bytes from the primary (60 s at most).
pub(super) async fn read_more(conn: &mut TcpStream, buf: &mut BytesMut) -> Result<(), String> {
    let timeout = Duration::from_secs(60);
    match tokio::time::timeout(timeout, conn.read_buf(buf)).await {
        Ok(Ok(0)) => Err("connection closed by the primary".into()),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timeout reading from the primary".into()),
    }
}

/// Sends a command and returns its one-line reply.
async fn call(conn: &mut TcpStream, buf: &mut BytesMut, args: &[&[u8]]) -> Result<String, String> {
    let mut out = BytesMut::new();
    crate::protocol::reply::encode_request(&mut out, args);
    conn.write_all(&out).await.map_err(|e| e.to_string())?;
    read_line(conn, buf).await
}

async fn link_once(srv: &Arc<Server>, host: &str, port: u16) -> Result<(), String> {
    set_link(srv, "connecting");
    let mut conn =
        TcpStream::connect((host, port)).await.map_err(|e| format!("Error condition on socket for SYNC: {e}"))?;
    let _ = conn.set_nodelay(true);
    let handle = srv.clients.register(conn.peer_addr().ok(), conn.local_addr().ok());
    handle.kind.store(KIND_MASTER, Ordering::Relaxed);
    let guard = MasterClient { srv: srv.clone(), handle: handle.clone() };
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let pong = call(&mut conn, &mut buf, &[b"PING"]).await?;
    if pong.starts_with('-') && !pong.starts_with("-NOAUTH") && !pong.starts_with("-NOPERM") {
        return Err(format!("Error reply to PING from master: '{pong}'"));
    }
    let (user, pass, my_port) = {
        let c = srv.config.read();
        (c.masteruser.clone(), c.masterauth.clone(), c.port)
    };
    if !pass.is_empty() {
        let r = if user.is_empty() {
            call(&mut conn, &mut buf, &[b"AUTH", pass.as_bytes()]).await?
        } else {
            call(&mut conn, &mut buf, &[b"AUTH", user.as_bytes(), pass.as_bytes()]).await?
        };
        if r.starts_with('-') {
            return Err(format!("Unable to AUTH to MASTER: {r}"));
        }
    }
    let my_port = my_port.to_string();
    call(&mut conn, &mut buf, &[b"REPLCONF", b"listening-port", my_port.as_bytes()]).await?;
    call(&mut conn, &mut buf, &[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"]).await?;
    let r = &srv.replication;
    let (replid, offset) = r.stream.with(|st| (st.replid.clone(), st.offset));
    let history = r.master.lock().has_history;
    let from = (offset + 1).to_string();
    let mut psync: Vec<&[u8]> =
        if history { vec![b"PSYNC", replid.as_bytes(), from.as_bytes()] } else { vec![b"PSYNC", b"?", b"-1"] };
    // A primary failing over asks its replica to take over (FAILOVER).
    let failing_over = super::failover::phase(srv) == super::failover::Phase::InProgress;
    if failing_over {
        psync.push(b"FAILOVER");
    }
    let reply = call(&mut conn, &mut buf, &psync).await?;
    if failing_over {
        let accepted = reply.starts_with("+FULLRESYNC") || reply.starts_with("+CONTINUE");
        super::failover::psync_answered(srv, accepted);
        if !accepted {
            return Err(format!("Failover target rejected psync request: {reply}"));
        }
    }
    if let Some(rest) = reply.strip_prefix("+FULLRESYNC ") {
        let mut parts = rest.split_whitespace();
        let id = parts.next().unwrap_or_default().to_string();
        let off: u64 = parts.next().and_then(|o| o.parse().ok()).ok_or("bad +FULLRESYNC reply")?;
        set_link(srv, "sync");
        super::load::receive_and_load(srv, &mut conn, &mut buf, &id, off).await?;
        r.master.lock().has_history = true;
        tracing::info!("MASTER <-> REPLICA sync: Finished with success");
    } else if let Some(rest) = reply.strip_prefix("+CONTINUE") {
        let id = rest.trim();
        if !id.is_empty() {
            r.stream.switch_id(id);
        }
        tracing::info!("Successful partial resynchronization with master.");
    } else {
        return Err(format!("Unexpected reply to PSYNC from master: {reply}"));
    }
    {
        let mut m = r.master.lock();
        m.link = "connected";
        m.last_io = crate::db::now_ms() / 1000;
    }
    // A diskless primary starts the stream at the first ACK (Redis 7).
    send_ack(srv, &mut conn).await?;
    apply_stream(srv, &mut conn, buf, &guard).await
}

/// `REPLCONF ACK <offset>`: the stream processed so far.
async fn send_ack(srv: &Server, conn: &mut TcpStream) -> Result<(), String> {
    let off = srv.replication.stream.with(|st| st.offset);
    send_ack_at(conn, off).await
}

async fn send_ack_at(conn: &mut TcpStream, off: u64) -> Result<(), String> {
    let off = off.to_string();
    let mut out = BytesMut::new();
    crate::protocol::reply::encode_request(&mut out, &[&b"REPLCONF"[..], b"ACK", off.as_bytes()]);
    conn.write_all(&out).await.map_err(|e| e.to_string())
}

/// The arguments of a command frame (an array of bulk strings).
fn args_of(frame: Frame) -> Option<Vec<Bytes>> {
    let Frame::Array(Some(items)) = frame else { return None };
    items
        .into_iter()
        .map(|f| match f {
            Frame::Bulk(Some(b)) | Frame::Simple(b) => Some(b),
            Frame::Int(n) => Some(Bytes::from(n.to_string())),
            _ => None,
        })
        .collect()
}

/// Applies the primary's stream until the link ends: each command through
/// the dispatcher as the master client, then forwarded to this server's
/// own replicas (which advances the offset). ACKs every second and on
/// GETACK.
async fn apply_stream(
    srv: &Arc<Server>,
    conn: &mut TcpStream,
    mut buf: BytesMut,
    guard: &MasterClient,
) -> Result<(), String> {
    let handle = &guard.handle;
    let mut client = ClientState::new(handle.clone(), true);
    let mut reader = FrameReader::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    // Offsets to acknowledge for GETACKs: each one's own bytes excluded,
    // as Redis answers it before counting it.
    let mut acks = Vec::new();
    loop {
        loop {
            let (frame, raw) = match reader.next_raw(&mut buf) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => return Err(format!("protocol error from the primary: {e}")),
            };
            let Some(args) = args_of(frame).filter(|a| !a.is_empty()) else {
                srv.replication.stream.feed_raw(raw);
                continue;
            };
            let getack = args[0].eq_ignore_ascii_case(b"replconf")
                && args.get(1).is_some_and(|a| a.eq_ignore_ascii_case(b"getack"));
            let applying = srv.replication.applying.lock();
            if getack {
                acks.push(srv.replication.stream.with(|st| st.offset));
            } else if !args[0].eq_ignore_ascii_case(b"replconf") {
                client.handle.interacted();
                crate::db::with_loading(|| crate::cmd::dispatch(srv, &mut client, &args));
            }
            srv.replication.stream.feed_raw(raw);
            drop(applying);
        }
        for off in acks.drain(..) {
            send_ack_at(conn, off).await?;
        }
        tokio::select! {
            n = conn.read_buf(&mut buf) => {
                match n {
                    Ok(0) => return Err("connection lost".into()),
                    Ok(n) => {
                        srv.stats.net_input_bytes.fetch_add(n as u64, Ordering::Relaxed);
                        srv.replication.master.lock().last_io = crate::db::now_ms() / 1000;
                    }
                    Err(e) => return Err(e.to_string()),
                }
            }
            _ = tick.tick() => {
                send_ack(srv, conn).await?;
                let timeout = srv.config.read().repl_timeout.max(1) as u64;
                let last = srv.replication.master.lock().last_io;
                if (crate::db::now_ms() / 1000).saturating_sub(last) > timeout {
                    return Err("MASTER timeout: no data nor PING received".into());
                }
            }
            _ = handle.kill_notify.notified() => {
                if handle.killed.load(Ordering::Acquire) {
                    return Err("the master client was killed".into());
                }
            }
        }
    }
}
