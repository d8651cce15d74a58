//! TLS for client connections, replication links and tools: rustls with the `ring` provider, configured like Redis's
//! `tls-cert-file`, `tls-key-file`, `tls-ca-cert-file` and `tls-auth-clients`. Nothing here panics on bad files or
//! bad peers: configuration faults come back as [`TlsError`] naming the file, failed handshakes as `io::Error`.

use std::io::{self, IoSlice};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::{fmt, net::SocketAddr, path::Path, path::PathBuf, pin::Pin, str::FromStr};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Whether the server asks clients for a certificate (Redis `tls-auth-clients`). Every mode but [`ClientAuth::No`]
/// needs a CA file to verify client certificates with. Parses (case-insensitively) from and displays as the Redis
/// spellings `yes`, `no` and `optional`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// `no`: no client certificate is requested.
    No,
    /// `optional`: a client certificate is requested; if one is sent it must verify.
    Optional,
    /// `yes` (the Redis default): a client certificate that verifies is required.
    #[default]
    Required,
}

impl FromStr for ClientAuth {
    type Err = TlsError;
    fn from_str(s: &str) -> Result<Self, TlsError> {
        match s.to_ascii_lowercase().as_str() {
            "yes" => Ok(Self::Required),
            "no" => Ok(Self::No),
            "optional" => Ok(Self::Optional),
            _ => Err(TlsError::InvalidClientAuth(s.to_owned())),
        }
    }
}

impl fmt::Display for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::No => "no",
            Self::Optional => "optional",
            Self::Required => "yes",
        })
    }
}

/// Files and policy for the server's TLS port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTlsSettings {
    /// PEM certificate chain, end-entity certificate first (`tls-cert-file`).
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) matching the certificate (`tls-key-file`).
    pub key_file: PathBuf,
    /// PEM CA certificates that client certificates must chain to (`tls-ca-cert-file`).
    pub ca_cert_file: Option<PathBuf>,
    /// Client-certificate policy (`tls-auth-clients`).
    pub auth_clients: ClientAuth,
}

/// Files and policy for outgoing TLS connections (replicas, the command-line client, tests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTlsSettings {
    /// PEM CA certificates to trust; required unless `insecure_skip_verify`.
    pub ca_cert_file: Option<PathBuf>,
    /// PEM client certificate chain to present; must come with `key_file`.
    pub cert_file: Option<PathBuf>,
    /// PEM private key for `cert_file`.
    pub key_file: Option<PathBuf>,
    /// Name to verify the server certificate against (and send as SNI), to be passed to [`connect`] instead of the
    /// host connected to.
    pub server_name: Option<String>,
    /// Accept any server certificate (handshake signatures are still checked). For tests and debugging only: it gives
    /// no protection against a man in the middle.
    pub insecure_skip_verify: bool,
}

/// Why a TLS configuration could not be built. Messages name the file and what is wrong with it; a `&'static str`
/// field says which file it is ("certificate", "key", ...).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file could not be opened or read (missing, unreadable, a directory...).
    #[error("{0} file {p}: cannot read it: {2}", p = .1.display())]
    Read(&'static str, PathBuf, #[source] io::Error),
    /// The file has a broken PEM section.
    #[error("{0} file {p}: malformed PEM: {2}", p = .1.display())]
    Pem(&'static str, PathBuf, String),
    /// The file has no `CERTIFICATE` PEM section.
    #[error("{0} file {p}: no certificate in it (expected a PEM CERTIFICATE block)", p = .1.display())]
    NoCertificate(&'static str, PathBuf),
    /// The key file has no private key PEM section.
    #[error("key file {p}: no private key in it (expected a PEM PRIVATE KEY block)", p = .0.display())]
    NoPrivateKey(PathBuf),
    /// The private key (first path) is not the one the certificate (second) was issued for.
    #[error("key file {p} does not match the certificate in {q}", p = .0.display(), q = .1.display())]
    KeyMismatch(PathBuf, PathBuf),
    /// A certificate in the CA file cannot be used as a trust anchor.
    #[error("CA certificate file {p}: unusable CA certificate: {1}", p = .0.display())]
    BadCa(PathBuf, String),
    /// Client certificates are requested but no CA file was given to verify them with.
    #[error("tls-auth-clients is {0} but no CA certificate file (tls-ca-cert-file) is set to verify clients with")]
    CaRequired(ClientAuth),
    /// A client that verifies the server was given no CA file to verify it with.
    #[error("no CA certificate file given to verify the server with (or skip verification)")]
    NoTrustAnchors,
    /// Only one of the client certificate and client key was given.
    #[error("a client certificate and its key must be given together")]
    IncompleteClientIdentity,
    /// A `tls-auth-clients` value other than yes, no or optional.
    #[error("invalid tls-auth-clients value {0:?}: expected yes, no or optional")]
    InvalidClientAuth(String),
    /// rustls refused the assembled configuration (e.g. a key type it cannot use).
    #[error("TLS configuration rejected: {0}")]
    Config(#[from] rustls::Error),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn pem_error(what: &'static str, path: &Path, e: pem::Error) -> TlsError {
    match e {
        pem::Error::Io(source) => TlsError::Read(what, path.into(), source),
        e => TlsError::Pem(what, path.into(), e.to_string()),
    }
}

/// Reads every certificate in a PEM file; an error if there is none.
fn load_certs(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| pem_error(what, path, e))?;
    certs.first().ok_or_else(|| TlsError::NoCertificate(what, path.into()))?;
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::NoPrivateKey(path.into()),
        e => pem_error("key", path, e),
    })
}

fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs("CA certificate", path)? {
        roots.add(cert).map_err(|e| TlsError::BadCa(path.into(), e.to_string()))?;
    }
    Ok(roots)
}

/// Maps a rustls error from installing a certificate and key onto the files involved.
fn identity_error(e: rustls::Error, cert: &Path, key: &Path) -> TlsError {
    match e {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            TlsError::KeyMismatch(key.into(), cert.into())
        }
        e => TlsError::Config(e),
    }
}

/// Builds a server configuration from the files in `s`, read afresh from disk.
///
/// Promises: the key matches the certificate; with `auth_clients` `yes` or `optional` a CA file is required and
/// client certificates are verified against it alone; TLS 1.2 and 1.3 with rustls's safe defaults; no ALPN. A CA file
/// given with `no` is still checked.
pub fn server_config(s: &ServerTlsSettings) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = load_certs("certificate", &s.cert_file)?;
    let key = load_key(&s.key_file)?;
    let ca = s.ca_cert_file.as_ref();
    let roots = ca.map(|ca| load_roots(ca).map(|r| (ca, r))).transpose()?;
    let verifier = match (s.auth_clients, roots) {
        (ClientAuth::No, _) => WebPkiClientVerifier::no_client_auth(),
        (mode, None) => return Err(TlsError::CaRequired(mode)),
        (mode, Some((ca, roots))) => {
            let mut b = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
            if mode == ClientAuth::Optional {
                b = b.allow_unauthenticated();
            }
            b.build().map_err(|e| TlsError::BadCa(ca.clone(), e.to_string()))?
        }
    };
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| identity_error(e, &s.cert_file, &s.key_file))?;
    Ok(Arc::new(config))
}

/// Builds a client configuration from the files in `s`.
///
/// Promises: unless `insecure_skip_verify` is set, the server certificate must chain to a certificate in
/// `ca_cert_file`, which is then required; a client certificate is presented when `cert_file` and `key_file` are both
/// set.
pub fn client_config(s: &ClientTlsSettings) -> Result<Arc<ClientConfig>, TlsError> {
    let b = ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let b = if s.insecure_skip_verify {
        let verifier = Arc::new(NoServerVerification(provider()));
        b.dangerous().with_custom_certificate_verifier(verifier)
    } else {
        let ca = s.ca_cert_file.as_deref().ok_or(TlsError::NoTrustAnchors)?;
        b.with_root_certificates(load_roots(ca)?)
    };
    let config = match (&s.cert_file, &s.key_file) {
        (None, None) => b.with_no_client_auth(),
        (Some(cert), Some(key)) => b
            .with_client_auth_cert(load_certs("client certificate", cert)?, load_key(key)?)
            .map_err(|e| identity_error(e, cert, key))?,
        _ => return Err(TlsError::IncompleteClientIdentity),
    };
    Ok(Arc::new(config))
}

/// Accepts any server certificate but still checks the handshake signatures.
#[derive(Debug)]
struct NoServerVerification(Arc<CryptoProvider>);

type Der<'a> = CertificateDer<'a>;
type SigResult = Result<HandshakeSignatureValid, rustls::Error>;
type Verified = Result<ServerCertVerified, rustls::Error>;

impl ServerCertVerifier for NoServerVerification {
    fn verify_server_cert(&self, _: &Der<'_>, _: &[Der<'_>], _: &ServerName<'_>, _: &[u8], _: UnixTime) -> Verified {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(&self, m: &[u8], c: &Der<'_>, d: &DigitallySignedStruct) -> SigResult {
        verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(&self, m: &[u8], c: &Der<'_>, d: &DigitallySignedStruct) -> SigResult {
        verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A TLS connection accepted by [`ReloadableAcceptor::accept`].
pub type ServerTlsStream = tokio_rustls::server::TlsStream<TcpStream>;
/// A TLS connection made by [`connect`].
pub type ClientTlsStream = tokio_rustls::client::TlsStream<TcpStream>;

/// A TLS acceptor whose certificates can be replaced while the server runs, as Redis does on `CONFIG SET
/// tls-cert-file ...`. Share it as `Arc<ReloadableAcceptor>`.
///
/// Promises: each [`accept`](Self::accept) uses the configuration current when it starts; connections already
/// established keep their session; a failed [`reload`](Self::reload) leaves the previous configuration in place.
#[derive(Debug)]
pub struct ReloadableAcceptor {
    current: RwLock<(ServerTlsSettings, Arc<ServerConfig>)>,
}

impl ReloadableAcceptor {
    /// Loads `settings` (see [`server_config`]); fails if they do not give a usable config.
    pub fn new(settings: ServerTlsSettings) -> Result<Self, TlsError> {
        let config = server_config(&settings)?;
        Ok(Self { current: RwLock::new((settings, config)) })
    }
    /// Re-reads the files named in `settings` and, only if that succeeds, uses them for new connections from now on.
    /// On error nothing changes.
    pub fn reload(&self, settings: ServerTlsSettings) -> Result<(), TlsError> {
        let config = server_config(&settings)?;
        tracing::info!(cert = %settings.cert_file.display(), "TLS certificates reloaded");
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = (settings, config);
        Ok(())
    }
    /// The settings in force: those of the last successful `new` or `reload`.
    pub fn settings(&self) -> ServerTlsSettings {
        self.current.read().unwrap_or_else(|p| p.into_inner()).0.clone()
    }
    /// Runs the server side of a TLS handshake on `tcp`. A peer that speaks plaintext, presents an untrusted
    /// certificate, omits a required one or hangs up gives an `io::Error`. There is no timeout here: wrap the call in
    /// `tokio::time::timeout`.
    pub async fn accept(&self, tcp: TcpStream) -> io::Result<ServerTlsStream> {
        let config = self.current.read().unwrap_or_else(|p| p.into_inner()).1.clone();
        let accepted = tokio_rustls::TlsAcceptor::from(config).accept(tcp).await;
        accepted.inspect_err(|e| tracing::debug!(error = %e, "TLS handshake failed"))
    }
}

/// Runs the client side of a TLS handshake on `tcp`, verifying the server as `server_name`, a DNS name or an IP
/// address (matched against the certificate's IP SANs). An invalid name gives `InvalidInput`; a failed handshake
/// gives the rustls error.
pub async fn connect(cfg: Arc<ClientConfig>, server_name: &str, tcp: TcpStream) -> io::Result<ClientTlsStream> {
    let invalid =
        |e| io::Error::new(io::ErrorKind::InvalidInput, format!("invalid TLS server name {server_name:?}: {e}"));
    let name = ServerName::try_from(server_name.to_owned()).map_err(invalid)?;
    tokio_rustls::TlsConnector::from(cfg).connect(name, tcp).await
}

/// One stream type for plain and TLS connections, on either side, so the network layer is written once. Reads,
/// writes, flushes and shutdowns go straight to the wrapped stream (for TLS, shutdown sends close_notify first).
#[derive(Debug)]
pub enum MaybeTlsStream {
    /// An unencrypted TCP connection.
    Plain(TcpStream),
    /// A connection accepted on the TLS port.
    ServerTls(Box<ServerTlsStream>),
    /// A connection made to a TLS server (replication, tools).
    ClientTls(Box<ClientTlsStream>),
}

impl MaybeTlsStream {
    /// The TCP socket underneath (for `set_nodelay`, `local_addr` and the like).
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(s) => s,
            Self::ServerTls(s) => s.get_ref().0,
            Self::ClientTls(s) => s.get_ref().0,
        }
    }
    /// The remote address of the TCP connection.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.tcp().peer_addr()
    }
    /// True for both TLS variants.
    pub fn is_tls(&self) -> bool {
        !matches!(self, Self::Plain(_))
    }
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            MaybeTlsStream::Plain($s) => $e,
            MaybeTlsStream::ServerTls($s) => $e,
            MaybeTlsStream::ClientTls($s) => $e,
        }
    };
}

impl AsyncRead for MaybeTlsStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for MaybeTlsStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write(cx, buf))
    }
    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write_vectored(cx, b))
    }
    fn is_write_vectored(&self) -> bool {
        true // as for TcpStream and both TlsStreams
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_flush(cx))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

/// Certificates for tests and local development, made with rcgen. Needs the `test-certs` cargo feature (the crate
/// turns it on for its own tests through a dev-dependency on itself).
#[cfg(feature = "test-certs")]
pub mod testcerts {
    use super::{ClientAuth, ClientTlsSettings, ServerTlsSettings};
    use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose as Eku};
    use rcgen::{IsCa, Issuer, KeyPair, KeyUsagePurpose as Ku};
    use std::{io, path::Path, path::PathBuf};

    /// Paths of the PEM files [`generate`] wrote, named as `certs/gen-certs.sh` names them.
    #[derive(Debug, Clone)]
    pub struct TestCerts {
        /// The directory holding the files.
        pub dir: PathBuf,
        /// `ca.crt`: self-signed CA that signed both leaf certificates.
        pub ca_cert: PathBuf,
        /// `ca.key`: the CA's private key.
        pub ca_key: PathBuf,
        /// `server.crt`: valid for localhost, 127.0.0.1 and ::1.
        pub server_cert: PathBuf,
        /// `server.key`.
        pub server_key: PathBuf,
        /// `client.crt`: a client certificate for mutual TLS.
        pub client_cert: PathBuf,
        /// `client.key`.
        pub client_key: PathBuf,
    }

    impl TestCerts {
        /// Server settings using the server certificate, trusting the CA for clients.
        pub fn server_settings(&self, auth_clients: ClientAuth) -> ServerTlsSettings {
            ServerTlsSettings {
                cert_file: self.server_cert.clone(),
                key_file: self.server_key.clone(),
                ca_cert_file: Some(self.ca_cert.clone()),
                auth_clients,
            }
        }
        /// Client settings trusting the CA, presenting the client certificate if `with_cert`.
        pub fn client_settings(&self, with_cert: bool) -> ClientTlsSettings {
            ClientTlsSettings {
                ca_cert_file: Some(self.ca_cert.clone()),
                cert_file: with_cert.then(|| self.client_cert.clone()),
                key_file: with_cert.then(|| self.client_key.clone()),
                ..ClientTlsSettings::default()
            }
        }
    }

    type Issued = (CertificateParams, KeyPair);

    /// Writes `name`.crt and `name`.key into `dir`: a self-signed CA if `ca` is `None`, otherwise a leaf signed by
    /// the CA for the given extended key usage.
    fn issue(dir: &Path, name: &str, sans: &[&str], ca: Option<(&Issuer<'_, KeyPair>, Eku)>) -> io::Result<Issued> {
        let key = KeyPair::generate().map_err(io::Error::other)?;
        let mut p =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).map_err(io::Error::other)?;
        p.distinguished_name.push(DnType::CommonName, format!("inmemory test {name}"));
        let cert = if let Some((issuer, eku)) = ca {
            p.key_usages = vec![Ku::DigitalSignature];
            p.extended_key_usages = vec![eku];
            p.signed_by(&key, issuer)
        } else {
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.key_usages = vec![Ku::KeyCertSign, Ku::CrlSign, Ku::DigitalSignature];
            p.self_signed(&key)
        };
        std::fs::write(dir.join(format!("{name}.crt")), cert.map_err(io::Error::other)?.pem())?;
        std::fs::write(dir.join(format!("{name}.key")), key.serialize_pem())?;
        Ok((p, key))
    }

    /// Creates `dir` if needed and writes a fresh CA plus a server and a client certificate signed by it (all ECDSA
    /// P-256), overwriting files of the same names.
    pub fn generate(dir: &Path) -> io::Result<TestCerts> {
        std::fs::create_dir_all(dir)?;
        let (params, key) = issue(dir, "ca", &[], None)?;
        let ca = Issuer::new(params, key);
        issue(dir, "server", &["localhost", "127.0.0.1", "::1"], Some((&ca, Eku::ServerAuth)))?;
        issue(dir, "client", &[], Some((&ca, Eku::ClientAuth)))?;
        let [ca_cert, ca_key, server_cert, server_key, client_cert, client_key] =
            ["ca.crt", "ca.key", "server.crt", "server.key", "client.crt", "client.key"].map(|f| dir.join(f));
        Ok(TestCerts { dir: dir.to_path_buf(), ca_cert, ca_key, server_cert, server_key, client_cert, client_key })
    }
}

#[cfg(test)]
mod tests {
    use super::testcerts::{generate, TestCerts};
    use super::*;
    use std::future::Future;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use ClientAuth::{No, Optional, Required};

    type Outcome = (io::Result<()>, io::Result<()>);
    const IP: &str = "127.0.0.1";

    /// Fresh certificates in a temporary directory, removed when the guard drops.
    fn certs() -> (TestCerts, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        (generate(dir.path()).expect("generate certs"), dir)
    }
    fn acceptor(s: ServerTlsSettings) -> Arc<ReloadableAcceptor> {
        Arc::new(ReloadableAcceptor::new(s).expect("acceptor"))
    }
    async fn within<F: Future>(f: F) -> F::Output {
        tokio::time::timeout(std::time::Duration::from_secs(10), f).await.expect("timed out")
    }
    /// A connected (client, server) pair of TCP sockets through `l`.
    async fn tcp_pair(l: &TcpListener) -> (TcpStream, TcpStream) {
        let (c, s) = tokio::join!(TcpStream::connect(l.local_addr().expect("local addr")), l.accept());
        (c.expect("connect"), s.expect("accept").0)
    }
    /// Asserts that both ends succeeded (`ok`) or both failed.
    fn expect(ok: bool, o: Outcome, case: &str) {
        assert_eq!((o.0.is_ok(), o.1.is_ok()), (ok, ok), "{case}: {o:?}");
    }

    /// One connection on which the server echoes 4 bytes: (server result, client result).
    async fn exchange(acc: &Arc<ReloadableAcceptor>, c: &ClientTlsSettings, name: &str) -> Outcome {
        let (cfg, acc) = (client_config(c).expect("client config"), acc.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let (tcp, srv) = tcp_pair(&listener).await;
        let server = tokio::spawn(async move {
            let mut s = MaybeTlsStream::ServerTls(Box::new(acc.accept(srv).await?));
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await?;
            s.write_all(&buf).await?;
            s.shutdown().await
        });
        let client = async {
            let mut s = MaybeTlsStream::ClientTls(Box::new(connect(cfg, name, tcp).await?));
            assert!(s.is_tls() && s.peer_addr()? == listener.local_addr()?);
            s.write_all(b"ping").await?;
            let mut buf = [0u8; 4];
            s.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"ping");
            Ok(())
        };
        let client = within(client).await;
        (within(server).await.expect("server task panicked"), client)
    }

    #[tokio::test]
    async fn handshakes_follow_verification_and_client_auth_policy() {
        let ((c, _d1), (other, _d2)) = (certs(), certs());
        let (with, without) = (c.client_settings(true), c.client_settings(false));
        let foreign_cert = ClientTlsSettings { ca_cert_file: Some(c.ca_cert.clone()), ..other.client_settings(true) };
        let insecure = ClientTlsSettings { insecure_skip_verify: true, ..ClientTlsSettings::default() };
        let cases = [
            (No, &without, IP, true),
            (No, &without, "localhost", true),
            (No, &without, "elsewhere.example", false),
            (No, &other.client_settings(false), IP, false),
            (No, &insecure, IP, true),
            (Required, &with, IP, true),
            (Required, &without, IP, false),
            (Required, &foreign_cert, IP, false),
            (Optional, &with, IP, true),
            (Optional, &without, IP, true),
            (Optional, &foreign_cert, IP, false),
        ];
        for (i, (auth, client, name, ok)) in cases.into_iter().enumerate() {
            let acc = acceptor(c.server_settings(auth));
            expect(ok, exchange(&acc, client, name).await, &format!("case {i}: {auth} {name}"));
        }
        // Plaintext, HTTP and an immediate hang-up on the TLS port fail without a panic.
        let acc = acceptor(c.server_settings(Required));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        for bytes in [&b"*1\r\n$4\r\nPING\r\n"[..], b"GET / HTTP/1.1\r\n\r\n", b""] {
            let (mut raw, tcp) = tcp_pair(&listener).await;
            raw.write_all(bytes).await.expect("write");
            raw.shutdown().await.expect("shutdown");
            assert!(within(acc.accept(tcp)).await.is_err(), "{bytes:?}");
        }
    }

    #[tokio::test]
    async fn reload_swaps_certificate_and_keeps_old_on_error() {
        let ((a, _d1), (b, _d2)) = (certs(), certs());
        let acc = acceptor(a.server_settings(No));
        // A connection opened under A keeps working after the switch to B.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let (tcp, srv) = tcp_pair(&listener).await;
        let cfg_a = client_config(&a.client_settings(false)).expect("client config");
        let (srv, cl) = tokio::join!(acc.accept(srv), connect(cfg_a, "localhost", tcp));
        let (mut srv, mut cl) = (srv.expect("server side"), cl.expect("client side"));

        acc.reload(b.server_settings(No)).expect("reload to B");
        assert_eq!(acc.settings(), b.server_settings(No));
        let (only_a, only_b) = (a.client_settings(false), b.client_settings(false));
        expect(true, exchange(&acc, &only_b, IP).await, "B after reload");
        expect(false, exchange(&acc, &only_a, IP).await, "A after reload");
        cl.write_all(b"old!").await.expect("write on old session");
        let mut buf = [0u8; 4];
        srv.read_exact(&mut buf).await.expect("read on old session");
        assert_eq!(&buf, b"old!");

        let bad = ServerTlsSettings { cert_file: b.dir.join("gone.crt"), ..a.server_settings(No) };
        assert!(matches!(acc.reload(bad), Err(TlsError::Read(..))));
        assert_eq!(acc.settings(), b.server_settings(No));
        expect(true, exchange(&acc, &only_b, IP).await, "B kept");
    }

    /// Asserts that a server config from `[cert, key, ca]` in `c.dir` ("" = no CA) fails, saying `want`.
    fn fails(c: &TestCerts, files: [&str; 3], auth: ClientAuth, want: &str) {
        let mut s = c.server_settings(auth);
        (s.cert_file, s.key_file) = (c.dir.join(files[0]), c.dir.join(files[1]));
        s.ca_cert_file = Some(c.dir.join(files[2])).filter(|_| !files[2].is_empty());
        let msg = server_config(&s).err().map(|e| e.to_string());
        assert!(msg.as_deref().is_some_and(|m| m.contains(want)), "{msg:?}");
    }

    #[test]
    fn errors_name_the_file_and_the_fault() {
        let (c, _d) = certs();
        std::fs::write(c.dir.join("junk.crt"), "not a certificate\n").expect("write");
        let (crt, key, ca) = ("server.crt", "server.key", "ca.crt");
        fails(&c, ["gone.crt", key, ca], No, "gone.crt: cannot read");
        fails(&c, ["junk.crt", key, ca], No, "junk.crt: no certificate");
        fails(&c, [crt, key, "junk.crt"], No, "CA certificate file");
        fails(&c, [crt, crt, ca], Required, "server.crt: no private key");
        fails(&c, [crt, "client.key", ca], No, "client.key does not match");
        fails(&c, [crt, key, ""], Optional, "is optional but no CA");
        assert!(server_config(&c.server_settings(No)).is_ok());
        let half = ClientTlsSettings { key_file: None, ..c.client_settings(true) };
        assert!(matches!(client_config(&half), Err(TlsError::IncompleteClientIdentity)));
        assert!(matches!(client_config(&ClientTlsSettings::default()), Err(TlsError::NoTrustAnchors)));
        for (s, v) in [("yes", Required), ("NO", No), ("Optional", Optional)] {
            assert_eq!(s.parse::<ClientAuth>().ok(), Some(v));
            assert_eq!(v.to_string().parse::<ClientAuth>().ok(), Some(v));
        }
        assert!(matches!("maybe".parse::<ClientAuth>(), Err(TlsError::InvalidClientAuth(_))));
    }
}
