//! Listening sockets: accept connections, enforce `maxclients`, and hand each
//! stream to [`super::connection::serve`].

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use super::Server;

/// Binds every `bind` address on `port`. Errors name the address.
pub async fn bind_all(addrs: &[String], port: u16) -> Result<Vec<TcpListener>, String> {
    let mut out = Vec::new();
    for a in addrs {
        let a = a.trim_start_matches('-');
        let host = if a.contains(':') && !a.starts_with('[') { format!("[{a}]") } else { a.to_string() };
        let addr = format!("{host}:{port}");
        let l = TcpListener::bind(&addr).await.map_err(|e| format!("Could not bind {addr}: {e}"))?;
        out.push(l);
    }
    Ok(out)
}

/// True when the server may take one more client; otherwise the client is
/// told why and closed, as Redis does.
async fn admit(srv: &Server, stream: &mut TcpStream) -> bool {
    let max = srv.config.read().maxclients;
    if srv.clients.len() >= max {
        srv.stats.rejected_connections.fetch_add(1, Ordering::Relaxed);
        let _ = stream.write_all(b"-ERR max number of clients reached\r\n").await;
        let _ = stream.shutdown().await;
        return false;
    }
    true
}

/// Accepts plain-TCP clients until shutdown.
pub async fn run_plain(srv: Arc<Server>, listener: TcpListener) {
    let mut shutdown = srv.shutdown.subscribe();
    loop {
        let (mut stream, peer): (TcpStream, SocketAddr) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: keep serving the others.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = super::shutdown_started(&mut shutdown) => return,
        };
        let _ = stream.set_nodelay(true);
        let srv = srv.clone();
        tokio::spawn(async move {
            if admit(&srv, &mut stream).await {
                let local = stream.local_addr().ok();
                super::connection::serve(srv, stream, Some(peer), local).await;
            }
        });
    }
}
