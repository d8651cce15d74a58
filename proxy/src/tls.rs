//! TLS at both ends of the proxy, on the library's `inmemory::tls`.
//!
//! - Clients: `--tls-port` opens a second listener whose connections go
//!   through a [`ReloadableAcceptor`] (`--tls-cert-file`, `--tls-key-file`,
//!   `--tls-ca-cert-file`, `--tls-auth-clients` as in Redis, default `yes`)
//!   and then to the same session code as plain ones.
//! - Servers: entries with `"tls": true` are reached through
//!   `inmemory::tls::connect`, verifying the server against
//!   `--tls-ca-cert-file` under the host part of its address, and
//!   presenting `--tls-client-cert-file`/`--tls-client-key-file` (falling
//!   back to `--tls-cert-file`/`--tls-key-file`, as Redis does) when set.
//!   Without a CA file such entries are refused when servers.json is read.

use std::sync::Arc;
use std::time::Duration;

use inmemory::tls::{ClientAuth, ClientTlsSettings, ReloadableAcceptor, ServerTlsSettings};
use tokio::net::TcpListener;

use crate::cluster::Cluster;

/// The TLS options from the command line.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Certificate shown to TLS clients.
    pub cert_file: Option<String>,
    /// Its key.
    pub key_file: Option<String>,
    /// CA for client certificates and for the servers' certificates.
    pub ca_cert_file: Option<String>,
    /// `yes`, `no` or `optional`.
    pub auth_clients: String,
    /// Certificate shown to TLS servers.
    pub client_cert_file: Option<String>,
    /// Its key.
    pub client_key_file: Option<String>,
}

/// The client configuration for `"tls": true` servers; `None` without a CA file.
pub fn backend_config(o: &TlsOptions) -> Result<Option<Arc<rustls::ClientConfig>>, String> {
    let Some(ca) = &o.ca_cert_file else { return Ok(None) };
    let (cert, key) = match (&o.client_cert_file, &o.client_key_file) {
        (None, None) => (o.cert_file.clone(), o.key_file.clone()),
        (c, k) => (c.clone(), k.clone()),
    };
    let s = ClientTlsSettings {
        ca_cert_file: Some(ca.into()),
        cert_file: cert.map(Into::into),
        key_file: key.map(Into::into),
        ..ClientTlsSettings::default()
    };
    inmemory::tls::client_config(&s).map(Some).map_err(|e| format!("TLS to the servers: {e}"))
}

/// The acceptor for `--tls-port`.
pub fn acceptor(o: &TlsOptions) -> Result<Arc<ReloadableAcceptor>, String> {
    let (Some(cert), Some(key)) = (&o.cert_file, &o.key_file) else {
        return Err("--tls-port needs --tls-cert-file and --tls-key-file".into());
    };
    let auth_clients = o.auth_clients.parse::<ClientAuth>().map_err(|e| e.to_string())?;
    let s = ServerTlsSettings {
        cert_file: cert.into(),
        key_file: key.into(),
        ca_cert_file: o.ca_cert_file.as_ref().map(Into::into),
        auth_clients,
    };
    ReloadableAcceptor::new(s).map(Arc::new).map_err(|e| format!("TLS for clients: {e}"))
}

/// The name a server's certificate is checked against: the host of its address.
pub fn server_name(addr: &str) -> &str {
    addr.rsplit_once(':').map_or(addr, |(h, _)| h).trim_start_matches('[').trim_end_matches(']')
}

/// Accepts TLS clients on `listener` until the process ends; a handshake
/// that fails or takes over 10 s drops that connection only.
pub async fn serve(listener: TcpListener, acceptor: Arc<ReloadableAcceptor>, cluster: Arc<Cluster>) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("TLS accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, cluster) = (acceptor.clone(), cluster.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => crate::session::serve(stream, cluster, peer.to_string()).await,
                Ok(Err(e)) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
                Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names() {
        assert_eq!(server_name("127.0.0.1:7001"), "127.0.0.1");
        assert_eq!(server_name("[::1]:7001"), "::1");
        assert_eq!(server_name("cache.local:7001"), "cache.local");
    }

    #[test]
    fn options_are_checked() {
        assert!(backend_config(&TlsOptions::default()).unwrap().is_none());
        assert!(acceptor(&TlsOptions::default()).is_err());
        let missing = TlsOptions { ca_cert_file: Some("/nonexistent/ca.crt".into()), ..TlsOptions::default() };
        assert!(backend_config(&missing).is_err());
    }
}
