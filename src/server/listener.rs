//! Listening sockets: accept plain-TCP and TLS connections, enforce `maxclients` and protected mode, and hand each
//! stream to [`super::connection::serve`].
//!
//! A TLS connection is admitted only after its handshake, which must finish within [`handshake_timeout`]: a peer
//! that never sends a ClientHello (or speaks plaintext to the TLS port) costs one short-lived task, never a client
//! slot. The TLS certificates are those of the process's one TLS port; `CONFIG SET tls-*` reloads them
//! ([`reload_tls`]) for new connections while established ones keep their session.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

use super::config::Config;
use super::Server;
use crate::tls::{ClientAuth, MaybeTlsStream, ReloadableAcceptor, ServerTlsSettings};

/// Longest a TLS handshake may take (shorter when `timeout` is set lower).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Redis's refusal of a non-loopback client in protected mode.
pub const PROTECTED_MODE_ERROR: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// The TLS acceptor of this process's TLS port, once started (one TLS port per process).
static TLS_ACCEPTOR: Mutex<Option<Arc<ReloadableAcceptor>>> = Mutex::new(None);

/// `host:port` for a `bind` entry (`-` prefix dropped, IPv6 bracketed).
fn listen_addr(bind: &str, port: u16) -> String {
    let a = bind.trim_start_matches('-');
    let host = if a.contains(':') && !a.starts_with('[') { format!("[{a}]") } else { a.to_string() };
    format!("{host}:{port}")
}

/// Binds every `bind` address on `port`. Errors name the address.
pub async fn bind_all(addrs: &[String], port: u16) -> Result<Vec<TcpListener>, String> {
    let mut out = Vec::new();
    for a in addrs {
        let addr = listen_addr(a, port);
        let l = TcpListener::bind(&addr).await.map_err(|e| format!("Could not bind {addr}: {e}"))?;
        out.push(l);
    }
    Ok(out)
}

/// The plain-TCP accept loops running now, so `CONFIG SET port` can
/// replace them.
struct PlainListeners {
    srv: Weak<Server>,
    port: u16,
    tasks: Vec<AbortHandle>,
}

static PLAIN: Mutex<Option<PlainListeners>> = Mutex::new(None);

/// Binds `port` on every `bind` address (none when 0) and starts accepting
/// there; returns the accept tasks. Errors (port in use) stop the start.
pub async fn start_plain(srv: &Arc<Server>, cfg: &Config) -> Result<Vec<JoinHandle<()>>, String> {
    let mut tasks = Vec::new();
    if cfg.port != 0 {
        for l in bind_all(&cfg.bind, cfg.port).await? {
            tasks.push(tokio::spawn(run_plain(srv.clone(), l)));
        }
    }
    *PLAIN.lock() = Some(PlainListeners {
        srv: Arc::downgrade(srv),
        port: cfg.port,
        tasks: tasks.iter().map(|t| t.abort_handle()).collect(),
    });
    Ok(tasks)
}

/// `CONFIG SET port`: binds the new port on every `bind` address first and
/// only then stops accepting on the old one (0: no plain-TCP listener), so
/// a port that cannot be bound leaves the server listening where it was,
/// with Redis's error. Established connections are not touched.
pub fn rebind_plain(srv: &Server) -> Result<(), String> {
    let (port, binds) = {
        let c = srv.config.read();
        (c.port, c.bind.clone())
    };
    let mut plain = PLAIN.lock();
    let Some(state) = plain.as_mut() else { return Ok(()) };
    if state.port == port {
        return Ok(());
    }
    let Some(arc) = state.srv.upgrade() else { return Ok(()) };
    let runtime = tokio::runtime::Handle::try_current().map_err(|e| format!("Unable to listen on this port: {e}"))?;
    let mut fresh = Vec::new();
    if port != 0 {
        for b in &binds {
            let bound = std::net::TcpListener::bind(listen_addr(b, port))
                .and_then(|l| l.set_nonblocking(true).map(|()| l))
                .and_then(|l| {
                    let _guard = runtime.enter();
                    TcpListener::from_std(l)
                })
                .map_err(|e| format!("Unable to listen on this port: {e}"))?;
            fresh.push(bound);
        }
    }
    for t in state.tasks.drain(..) {
        t.abort();
    }
    state.port = port;
    state.tasks = fresh.into_iter().map(|l| runtime.spawn(run_plain(arc.clone(), l)).abort_handle()).collect();
    Ok(())
}

/// True for 127.0.0.0/8, ::1 and their IPv4-mapped forms.
fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// The reason to refuse a new client, if any: `maxclients` reached, or protected mode (on, the default user has no
/// password, and the peer is not on the loopback interface). O(1).
pub fn refusal(srv: &Server, peer: Option<SocketAddr>) -> Option<&'static str> {
    let (max, protected) = {
        let c = srv.config.read();
        (c.maxclients, c.protected_mode)
    };
    if srv.clients.len() >= max {
        return Some("-ERR max number of clients reached\r\n");
    }
    if protected && peer.is_some_and(|p| !is_loopback(p.ip())) && srv.acl.default_nopass() {
        return Some(PROTECTED_MODE_ERROR);
    }
    None
}

/// True when the server may take one more client; otherwise the client is told why and closed, as Redis does.
async fn admit<S: AsyncWrite + Unpin>(srv: &Server, stream: &mut S, peer: Option<SocketAddr>) -> bool {
    let Some(why) = refusal(srv, peer) else { return true };
    srv.stats.rejected_connections.fetch_add(1, Ordering::Relaxed);
    let _ = stream.write_all(why.as_bytes()).await;
    let _ = stream.flush().await;
    let _ = stream.shutdown().await;
    false
}

/// Accepts the next connection; `None` once shutdown began. Accept errors (out of descriptors …) are logged and
/// retried after a pause, so the other clients keep being served.
async fn next_conn(srv: &Server, listener: &TcpListener) -> Option<(TcpStream, SocketAddr)> {
    let mut shutdown = srv.shutdown.subscribe();
    loop {
        tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => return Some(x),
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            _ = super::shutdown_started(&mut shutdown) => return None,
        }
    }
}

/// Accepts plain-TCP clients until shutdown.
pub async fn run_plain(srv: Arc<Server>, listener: TcpListener) {
    while let Some((mut stream, peer)) = next_conn(&srv, &listener).await {
        let _ = stream.set_nodelay(true);
        let srv = srv.clone();
        tokio::spawn(async move {
            if admit(&srv, &mut stream, Some(peer)).await {
                let local = stream.local_addr().ok();
                super::connection::serve(srv, stream, Some(peer), local).await;
            }
        });
    }
}

/// How long a TLS handshake may take: [`HANDSHAKE_TIMEOUT`], or `timeout` seconds if set and shorter.
pub fn handshake_timeout(cfg: &Config) -> Duration {
    match cfg.timeout {
        0 => HANDSHAKE_TIMEOUT,
        t => HANDSHAKE_TIMEOUT.min(Duration::from_secs(t)),
    }
}

/// Accepts TLS clients until shutdown. Handshakes run in their own tasks, bounded by [`handshake_timeout`]; while
/// the clients plus the handshakes in progress reach `maxclients`, new TCP connections are closed at once.
pub async fn run_tls(srv: Arc<Server>, listener: TcpListener, acceptor: Arc<ReloadableAcceptor>) {
    let pending = Arc::new(AtomicUsize::new(0));
    while let Some((stream, peer)) = next_conn(&srv, &listener).await {
        let max = srv.config.read().maxclients;
        if srv.clients.len() + pending.load(Ordering::Relaxed) >= max {
            srv.stats.rejected_connections.fetch_add(1, Ordering::Relaxed);
            continue; // dropped: the peer sees the connection closed
        }
        let _ = stream.set_nodelay(true);
        let (srv, acceptor, pending) = (srv.clone(), acceptor.clone(), pending.clone());
        pending.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let local = stream.local_addr().ok();
            let limit = handshake_timeout(&srv.config.read());
            let tls = tokio::time::timeout(limit, acceptor.accept(stream)).await;
            pending.fetch_sub(1, Ordering::Relaxed);
            let mut stream = match tls {
                Ok(Ok(s)) => MaybeTlsStream::ServerTls(Box::new(s)),
                Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
            };
            if admit(&srv, &mut stream, Some(peer)).await {
                super::connection::serve(srv, stream, Some(peer), local).await;
            }
        });
    }
}

/// The TLS settings named by the configuration (`tls-cert-file`, `tls-key-file`, `tls-ca-cert-file`,
/// `tls-auth-clients`).
pub fn tls_settings(cfg: &Config) -> Result<ServerTlsSettings, String> {
    if cfg.tls_cert_file.is_empty() || cfg.tls_key_file.is_empty() {
        return Err("TLS needs tls-cert-file and tls-key-file".into());
    }
    Ok(ServerTlsSettings {
        cert_file: cfg.tls_cert_file.clone().into(),
        key_file: cfg.tls_key_file.clone().into(),
        ca_cert_file: Some(cfg.tls_ca_cert_file.clone()).filter(|f| !f.is_empty()).map(Into::into),
        auth_clients: cfg.tls_auth_clients.parse::<ClientAuth>().map_err(|e| e.to_string())?,
    })
}

/// Loads the certificates and binds the TLS port when `tls-port` is set; returns the listener tasks (none when
/// TLS is off). Errors (bad files, port in use) stop the server from starting.
pub async fn start_tls(srv: &Arc<Server>, cfg: &Config) -> Result<Vec<JoinHandle<()>>, String> {
    if cfg.tls_port == 0 {
        return Ok(Vec::new());
    }
    let settings = tls_settings(cfg)?;
    let acceptor = Arc::new(ReloadableAcceptor::new(settings).map_err(|e| format!("Failed to configure TLS: {e}"))?);
    *TLS_ACCEPTOR.lock() = Some(acceptor.clone());
    let mut tasks = Vec::new();
    for l in bind_all(&cfg.bind, cfg.tls_port).await? {
        tasks.push(tokio::spawn(run_tls(srv.clone(), l, acceptor.clone())));
    }
    Ok(tasks)
}

/// `CONFIG SET tls-…`: re-reads the certificate, key and CA files (even if their names did not change) for new
/// connections. On error the previous certificates stay in use and the error is returned. Without a TLS port
/// there is nothing to reload.
pub fn reload_tls(srv: &Server) -> Result<(), String> {
    let Some(acceptor) = TLS_ACCEPTOR.lock().clone() else { return Ok(()) };
    let settings = tls_settings(&srv.config.read())?;
    acceptor.reload(settings).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Option<SocketAddr> {
        Some(s.parse().expect("address"))
    }

    #[test]
    fn protected_mode_refuses_only_remote_clients_without_password() {
        let srv = Server::new(Config::default());
        assert_eq!(refusal(&srv, addr("127.0.0.1:5000")), None);
        assert_eq!(refusal(&srv, addr("127.3.4.5:5000")), None);
        assert_eq!(refusal(&srv, addr("[::1]:5000")), None);
        assert_eq!(refusal(&srv, addr("[::ffff:127.0.0.1]:5000")), None);
        assert_eq!(refusal(&srv, addr("10.1.2.3:5000")), Some(PROTECTED_MODE_ERROR));
        assert_eq!(refusal(&srv, addr("[2001:db8::1]:5000")), Some(PROTECTED_MODE_ERROR));
        srv.acl.set_default_password("secret");
        assert_eq!(refusal(&srv, addr("10.1.2.3:5000")), None);
        srv.acl.set_default_password("");
        srv.config.write().protected_mode = false;
        assert_eq!(refusal(&srv, addr("10.1.2.3:5000")), None);
        srv.config.write().maxclients = 0;
        assert_eq!(refusal(&srv, addr("127.0.0.1:5000")), Some("-ERR max number of clients reached\r\n"));
    }

    #[test]
    fn handshake_timeout_follows_idle_timeout() {
        let mut cfg = Config::default();
        assert_eq!(handshake_timeout(&cfg), HANDSHAKE_TIMEOUT);
        cfg.timeout = 2;
        assert_eq!(handshake_timeout(&cfg), Duration::from_secs(2));
        cfg.timeout = 3600;
        assert_eq!(handshake_timeout(&cfg), HANDSHAKE_TIMEOUT);
    }
}
