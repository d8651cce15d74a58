//! Following Sentinel failovers: the named servers of a `servers.json` with
//! a `"sentinel"` setting are Sentinel masters, and the proxy routes each
//! one to the address Sentinel says its primary has now.
//!
//! One task, started with the proxy, does two things while the setting is
//! present:
//!
//! - it stays subscribed to `+switch-master` on one Sentinel (the first of
//!   `addrs` that accepts, the next one after a loss, with a backoff that
//!   doubles from 100 ms up to 5 s between rounds that reach none), and on
//!   `<name> <oldip> <oldport> <newip> <newport>` for a followed name points
//!   that server at the new address ([`Cluster::set_master_addr`]: an
//!   override over the file, so a later reload does not revert it; the ring
//!   does not move, only that server's backend is rebuilt), logging one
//!   line per switch;
//! - each time it has subscribed, and after every reload of the file, it
//!   asks a reachable Sentinel `SENTINEL GET-MASTER-ADDR-BY-NAME <name>` for
//!   every followed name (asking after subscribing means no switch can fall
//!   between the answer and the subscription).
//!
//! A silent subscription is pinged every [`PING_EVERY`]; with nothing
//! received for three pings it counts as lost. Sentinel's replies are
//! network data: anything malformed is logged and skipped, never trusted.
//! Without a `"sentinel"` setting the task only waits for a reload.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use inmemory::protocol::frame::{Frame, FrameReader};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::cluster::Cluster;
use crate::config::SentinelSpec;
use crate::pool::encode_command;

/// First wait after a round that reached no Sentinel.
const MIN_BACKOFF: Duration = Duration::from_millis(100);
/// Longest wait between rounds.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Longest wait for a Sentinel to accept a connection or answer a request.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// How often a quiet subscription is pinged.
pub const PING_EVERY: Duration = Duration::from_secs(2);
/// The channel Sentinel announces a new primary on.
const SWITCH_CHANNEL: &str = "+switch-master";

/// Starts the task (it runs for the life of the proxy).
pub fn spawn(cluster: Arc<Cluster>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(cluster))
}

/// One connection to a Sentinel, RESP2.
struct Link {
    addr: String,
    tcp: TcpStream,
    buf: BytesMut,
    frames: FrameReader,
}

impl Link {
    /// Connects to `addr` and authenticates when a password is set.
    async fn open(addr: &str, password: Option<&str>) -> Result<Link, String> {
        let tcp = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        let mut l =
            Link { addr: addr.to_string(), tcp, buf: BytesMut::with_capacity(4096), frames: FrameReader::new() };
        if let Some(pw) = password {
            if let Frame::Error(e) = l.call(&["AUTH", pw]).await? {
                return Err(format!("AUTH: {}", String::from_utf8_lossy(&e)));
            }
        }
        Ok(l)
    }

    async fn send(&mut self, args: &[&str]) -> Result<(), String> {
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
        let mut out = BytesMut::new();
        encode_command(&args, &mut out);
        tokio::time::timeout(IO_TIMEOUT, self.tcp.write_all(&out))
            .await
            .map_err(|_| "write timed out".to_string())?
            .map_err(|e| e.to_string())
    }

    /// The next frame. Cancel-safe: bytes read stay in the buffer.
    async fn read(&mut self) -> Result<Frame, String> {
        loop {
            if let Some(f) = self.frames.next(&mut self.buf).map_err(|e| e.to_string())? {
                return Ok(f);
            }
            match self.tcp.read_buf(&mut self.buf).await {
                Ok(0) => return Err("connection closed".into()),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    }

    /// Sends one request and reads its reply, within [`IO_TIMEOUT`].
    async fn call(&mut self, args: &[&str]) -> Result<Frame, String> {
        self.send(args).await?;
        tokio::time::timeout(IO_TIMEOUT, self.read()).await.map_err(|_| "no reply".to_string())?
    }
}

/// Text of a bulk or simple string frame.
fn text(f: &Frame) -> Option<&str> {
    match f {
        Frame::Bulk(Some(b)) | Frame::Simple(b) => std::str::from_utf8(b).ok(),
        _ => None,
    }
}

/// `host:port`, bracketing an IPv6 host.
fn join_addr(ip: &str, port: &str) -> Option<String> {
    let port: u16 = port.parse().ok().filter(|&p| p > 0)?;
    if ip.is_empty() || ip.chars().any(|c| c.is_whitespace() || c == '/') {
        return None;
    }
    Some(if ip.contains(':') { format!("[{ip}]:{port}") } else { format!("{ip}:{port}") })
}

/// The payload of a `+switch-master` message: `(name, old, new)`.
fn parse_switch(payload: &str) -> Option<(&str, String, String)> {
    let p: Vec<&str> = payload.split_whitespace().collect();
    let [name, oip, oport, nip, nport] = p.as_slice() else { return None };
    Some((name, join_addr(oip, oport)?, join_addr(nip, nport)?))
}

/// The `+switch-master` payload in a pub/sub frame, if it is one.
fn switch_payload(f: &Frame) -> Option<&str> {
    let items = f.items()?;
    match items {
        [kind, chan, payload] if text(kind) == Some("message") && text(chan) == Some(SWITCH_CHANNEL) => text(payload),
        _ => None,
    }
}

/// Points `name` at `addr` and logs when that changed anything.
fn switch(cluster: &Cluster, name: &str, addr: &str, why: &str) {
    if let Some(old) = cluster.set_master_addr(name, addr) {
        tracing::warn!("sentinel: master {name} moved from {old} to {addr} ({why}); routing {name} there");
    }
}

/// Asks the Sentinels, starting with `first`, for every name's address.
/// Stops at the first Sentinel that answers every name.
async fn resolve_all(cluster: &Cluster, spec: &SentinelSpec, names: &[String], first: usize) {
    let n = spec.addrs.len();
    for i in 0..n {
        let addr = &spec.addrs[(first + i) % n];
        let mut link = match Link::open(addr, spec.password.as_deref()).await {
            Ok(l) => l,
            Err(e) => {
                tracing::debug!("sentinel {addr}: {e}");
                continue;
            }
        };
        let mut complete = true;
        for name in names {
            match link.call(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", name]).await {
                Ok(f) => match f.items() {
                    Some([ip, port]) => match (text(ip), text(port)) {
                        (Some(ip), Some(port)) => match join_addr(ip, port) {
                            Some(a) => switch(cluster, name, &a, "lookup"),
                            None => tracing::warn!("sentinel {addr}: bad address for {name}: {ip} {port}"),
                        },
                        _ => tracing::warn!("sentinel {addr}: malformed address for {name}"),
                    },
                    _ if f.is_null() => tracing::warn!("sentinel {addr} does not monitor a master named {name}"),
                    _ => tracing::warn!("sentinel {addr}: unexpected reply for {name}: {f:?}"),
                },
                Err(e) => {
                    tracing::debug!("sentinel {addr}: {e}");
                    complete = false;
                    break;
                }
            }
        }
        if complete {
            return;
        }
    }
    tracing::warn!("sentinel: no Sentinel answered; the named servers keep their addresses");
}

/// Opens a subscription to `+switch-master` on `addr`.
async fn subscribe(addr: &str, password: Option<&str>) -> Result<Link, String> {
    let mut l = Link::open(addr, password).await?;
    match l.call(&["SUBSCRIBE", SWITCH_CHANNEL]).await? {
        f if f.items().and_then(|i| i.first()).and_then(text) == Some("subscribe") => Ok(l),
        f => Err(format!("SUBSCRIBE: unexpected reply {f:?}")),
    }
}

/// Sets the link INFO shows.
fn set_link(cluster: &Cluster, addr: Option<&str>) {
    if let Ok(mut l) = cluster.stats.sentinel_link.lock() {
        *l = addr.map(str::to_string);
    }
}

/// Why a subscription ended.
enum End {
    /// The file changed the Sentinel setting: start over with the new one.
    Reconfigured,
    /// The link was lost: try the next Sentinel.
    Lost(String),
    /// The proxy is going away.
    Shutdown,
}

/// Reads switches from `link` until it breaks or the setting changes.
async fn follow(cluster: &Cluster, link: &mut Link, spec: &SentinelSpec, changes: &mut watch::Receiver<u64>) -> End {
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut heard = Instant::now();
    loop {
        tokio::select! {
            f = link.read() => match f {
                Ok(f) => {
                    heard = Instant::now();
                    if let Some(p) = switch_payload(&f) {
                        match parse_switch(p) {
                            Some((name, _, new)) => switch(cluster, name, &new, "+switch-master"),
                            None => tracing::warn!("sentinel {}: malformed +switch-master: {p}", link.addr),
                        }
                    }
                }
                Err(e) => return End::Lost(e),
            },
            _ = ping.tick() => {
                if heard.elapsed() > PING_EVERY * 3 {
                    return End::Lost("no reply to PING".into());
                }
                if let Err(e) = link.send(&["PING"]).await {
                    return End::Lost(e);
                }
            }
            r = changes.changed() => {
                if r.is_err() {
                    return End::Shutdown;
                }
                match cluster.sentinel_setting() {
                    Some((s, names)) if s == *spec => resolve_all(cluster, spec, &names, 0).await,
                    _ => return End::Reconfigured,
                }
            }
        }
    }
}

async fn run(cluster: Arc<Cluster>) {
    let mut changes = cluster.file_changes();
    let mut next = 0usize;
    let mut backoff = MIN_BACKOFF;
    let mut failed_round = 0usize;
    loop {
        changes.borrow_and_update();
        let Some((spec, names)) = cluster.sentinel_setting() else {
            set_link(&cluster, None);
            if changes.changed().await.is_err() {
                return;
            }
            continue;
        };
        let addr = spec.addrs[next % spec.addrs.len()].clone();
        let end = match subscribe(&addr, spec.password.as_deref()).await {
            Ok(mut link) => {
                tracing::info!("sentinel: following {} master(s) through {addr}", names.len());
                set_link(&cluster, Some(&addr));
                backoff = MIN_BACKOFF;
                failed_round = 0;
                resolve_all(&cluster, &spec, &names, next).await;
                let end = follow(&cluster, &mut link, &spec, &mut changes).await;
                set_link(&cluster, None);
                end
            }
            Err(e) => End::Lost(e),
        };
        match end {
            End::Shutdown => return,
            End::Reconfigured => next = 0,
            End::Lost(e) => {
                tracing::warn!("sentinel {addr}: {e}; trying the next one");
                next = (next + 1) % spec.addrs.len();
                failed_round += 1;
                if failed_round >= spec.addrs.len() {
                    // Nobody to subscribe to: still try a lookup, then wait.
                    failed_round = 0;
                    resolve_all(&cluster, &spec, &names, next).await;
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        r = changes.changed() => if r.is_err() { return },
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Frame {
        Frame::Bulk(Some(Bytes::copy_from_slice(s.as_bytes())))
    }

    #[test]
    fn switch_messages() {
        let f =
            Frame::Array(Some(vec![bulk("message"), bulk("+switch-master"), bulk("mymaster 127.0.0.1 6379 ::1 6380")]));
        let p = switch_payload(&f).unwrap();
        assert_eq!(parse_switch(p), Some(("mymaster", "127.0.0.1:6379".into(), "[::1]:6380".into())));
        let other = Frame::Array(Some(vec![bulk("message"), bulk("+sdown"), bulk("x")]));
        assert_eq!(switch_payload(&other), None);
        assert_eq!(switch_payload(&Frame::Int(3)), None);
        for bad in ["", "m 1.2.3.4 1 5.6.7.8", "m 1.2.3.4 1 5.6.7.8 0", "m 1.2.3.4 1 5.6.7.8 x", "m a 1 b 2 c"] {
            assert_eq!(parse_switch(bad), None, "{bad:?}");
        }
    }
}
