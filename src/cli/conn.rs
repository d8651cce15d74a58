//! The client's connection: TCP or TLS, the AUTH / SELECT / HELLO 3
//! handshake redis-cli performs, sending commands and reading replies with
//! [`FrameReader`]. Blocking calls on a current-thread tokio runtime (the
//! TLS layer is tokio-based).
//!
//! Any failure drops the connection; the next call reconnects (as
//! redis-cli does), so a REPL survives a server restart.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;

use crate::protocol::frame::{Frame, FrameError, FrameReader};
use crate::tls::{self, ClientTlsSettings, MaybeTlsStream, TlsError};

/// Where to connect and what to do once connected.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// TLS files and policy; `None` for plain TCP.
    pub tls: Option<ClientTlsSettings>,
    /// ACL user for `AUTH user password`.
    pub user: Option<Bytes>,
    /// Password for AUTH; none: no AUTH.
    pub password: Option<Bytes>,
    /// Database to SELECT when not 0.
    pub db: i64,
    /// Send `HELLO 3` after connecting.
    pub resp3: bool,
    /// Limit for the TCP connect and, separately, the TLS handshake.
    pub connect_timeout: Duration,
    /// Limit for each reply; `None`: wait forever.
    pub reply_timeout: Option<Duration>,
}

impl ConnectOptions {
    /// `host:port`, with brackets around an IPv6 address (as redis-cli's prompt).
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Why a command could not be carried out. Each message is one line, ready
/// for stderr.
#[derive(Debug)]
pub enum ClientError {
    /// The TCP connection failed (refused, unreachable, unknown host …).
    Connect(String, io::Error),
    /// The TCP connection did not complete in time.
    ConnectTimeout(String, Duration),
    /// The TLS files could not be used.
    TlsConfig(TlsError),
    /// The TLS handshake failed or timed out (the reason as text).
    TlsHandshake(String, String),
    /// No reply within the reply timeout.
    ReplyTimeout(String, Duration),
    /// The server closed the connection.
    Closed(String),
    /// Reading or writing the socket failed.
    Io(String, io::Error),
    /// The server sent something that is not RESP.
    Protocol(String, FrameError),
    /// AUTH, SELECT or HELLO after connecting was refused (the message says which and why).
    Setup(String),
}

/// An `io::Error` without Rust's ` (os error N)` suffix, as C tools print it.
fn reason(e: &io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s,
    }
}

/// A hint for the TLS failures people run into most.
fn tls_hint(reason: &str) -> &'static str {
    if reason.contains("CertificateRequired") {
        " (the server wants a client certificate: give --cert and --key)"
    } else if reason.contains("UnknownIssuer") {
        " (is --cacert the CA that signed the server's certificate?)"
    } else if reason.contains("NotValidForName") {
        " (the certificate does not name this host: connect by a name it has, or give --sni)"
    } else {
        ""
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect(a, e) => write!(f, "Could not connect to {a}: {}", reason(e)),
            Self::ConnectTimeout(a, d) => write!(f, "Could not connect to {a}: timed out after {d:?}"),
            Self::TlsConfig(e) => write!(f, "TLS configuration error: {e}"),
            Self::TlsHandshake(a, r) => write!(f, "Could not negotiate a TLS connection with {a}: {r}{}", tls_hint(r)),
            Self::ReplyTimeout(a, d) => write!(f, "Timed out after {d:?} waiting for a reply from {a}"),
            Self::Closed(a) => write!(f, "Error: {a} closed the connection"),
            Self::Io(a, e) => {
                let r = reason(e);
                write!(f, "Error: I/O error talking to {a}: {r}{}", tls_hint(&r))
            }
            Self::Protocol(a, e) => write!(f, "Error: bad reply from {a}: {e}"),
            Self::Setup(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ClientError {}

/// An open connection.
struct Conn {
    stream: MaybeTlsStream,
    buf: BytesMut,
    reader: FrameReader,
}

/// A client that connects on demand. Not thread-safe; one per process.
pub struct Client {
    rt: Runtime,
    opts: ConnectOptions,
    tls: Option<Arc<rustls::ClientConfig>>,
    conn: Option<Conn>,
}

/// Encodes a command as a RESP array of bulk strings. O(total length).
pub fn encode_command(args: &[Bytes]) -> BytesMut {
    let mut out = BytesMut::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
    crate::protocol::reply::encode_request(&mut out, args);
    out
}

impl Client {
    /// A client for `opts`, not connected yet. Fails only if the runtime
    /// cannot be created.
    pub fn new(opts: ConnectOptions) -> io::Result<Client> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
        Ok(Client { rt, opts, tls: None, conn: None })
    }

    /// The current options (the REPL updates the db and address).
    pub fn options(&self) -> &ConnectOptions {
        &self.opts
    }

    /// Mutable options; take effect at the next connection.
    pub fn options_mut(&mut self) -> &mut ConnectOptions {
        &mut self.opts
    }

    /// True while a connection is open.
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// Closes the connection, if any.
    pub fn disconnect(&mut self) {
        self.conn = None;
    }

    /// Connects if not connected: TCP, TLS, then AUTH, SELECT and HELLO 3
    /// as configured. Each step is bounded by the timeouts.
    pub fn ensure_connected(&mut self) -> Result<(), ClientError> {
        if self.conn.is_some() {
            return Ok(());
        }
        let stream = self.open()?;
        self.conn = Some(Conn { stream, buf: BytesMut::with_capacity(16 * 1024), reader: FrameReader::new() });
        if let Err(e) = self.handshake() {
            self.conn = None;
            return Err(e);
        }
        Ok(())
    }

    fn open(&mut self) -> Result<MaybeTlsStream, ClientError> {
        let addr = self.opts.addr();
        if let (Some(s), None) = (&self.opts.tls, &self.tls) {
            self.tls = Some(tls::client_config(s).map_err(ClientError::TlsConfig)?);
        }
        let (host, port, limit) = (self.opts.host.clone(), self.opts.port, self.opts.connect_timeout);
        let server_name = self.opts.tls.as_ref().and_then(|s| s.server_name.clone()).unwrap_or_else(|| host.clone());
        let tls = self.tls.clone().filter(|_| self.opts.tls.is_some());
        self.rt.block_on(async move {
            let tcp = match tokio::time::timeout(limit, TcpStream::connect((host.as_str(), port))).await {
                Err(_) => return Err(ClientError::ConnectTimeout(addr, limit)),
                Ok(Err(e)) => return Err(ClientError::Connect(addr, e)),
                Ok(Ok(s)) => s,
            };
            let _ = tcp.set_nodelay(true);
            let Some(cfg) = tls else { return Ok(MaybeTlsStream::Plain(tcp)) };
            match tokio::time::timeout(limit, tls::connect(cfg, &server_name, tcp)).await {
                Err(_) => Err(ClientError::TlsHandshake(addr, format!("timed out after {limit:?}"))),
                Ok(Err(e)) => Err(ClientError::TlsHandshake(addr, reason(&e))),
                Ok(Ok(s)) => Ok(MaybeTlsStream::ClientTls(Box::new(s))),
            }
        })
    }

    /// redis-cli's order: AUTH, SELECT, HELLO 3. An error reply is a
    /// [`ClientError::Setup`] naming the step.
    fn handshake(&mut self) -> Result<(), ClientError> {
        let mut steps: Vec<(String, Vec<Bytes>)> = Vec::new();
        if let Some(pw) = self.opts.password.clone() {
            let mut auth = vec![Bytes::from_static(b"AUTH")];
            auth.extend(self.opts.user.clone());
            auth.push(pw);
            steps.push(("AUTH failed".into(), auth));
        }
        if self.opts.db != 0 {
            let db = self.opts.db.to_string();
            steps.push((format!("SELECT {db} failed"), vec![Bytes::from_static(b"SELECT"), Bytes::from(db)]));
        }
        if self.opts.resp3 {
            steps.push(("HELLO 3 failed".into(), vec![Bytes::from_static(b"HELLO"), Bytes::from_static(b"3")]));
        }
        for (what, cmd) in steps {
            let reply = self.call(&cmd)?;
            if let Frame::Error(e) = reply {
                return Err(ClientError::Setup(format!("{what}: {}", String::from_utf8_lossy(&e))));
            }
        }
        Ok(())
    }

    /// Sends one command (connecting first if needed).
    pub fn send(&mut self, args: &[Bytes]) -> Result<(), ClientError> {
        self.ensure_connected()?;
        let addr = self.opts.addr();
        let limit = self.opts.reply_timeout;
        let Some(conn) = self.conn.as_mut() else { return Err(ClientError::Closed(addr)) };
        let bytes = encode_command(args);
        let res = self.rt.block_on(async {
            let write = async {
                conn.stream.write_all(&bytes).await?;
                conn.stream.flush().await
            };
            match limit {
                Some(d) => tokio::time::timeout(d, write).await.unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into())),
                None => write.await,
            }
        });
        res.map_err(|e| {
            self.conn = None;
            match e.kind() {
                io::ErrorKind::TimedOut => ClientError::ReplyTimeout(addr.clone(), limit.unwrap_or_default()),
                io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => ClientError::Closed(addr.clone()),
                _ => ClientError::Io(addr.clone(), e),
            }
        })
    }

    /// Reads the next reply (or push message) on the open connection.
    pub fn read(&mut self) -> Result<Frame, ClientError> {
        let addr = self.opts.addr();
        let limit = self.opts.reply_timeout;
        let Some(conn) = self.conn.as_mut() else { return Err(ClientError::Closed(addr)) };
        let res = self.rt.block_on(async {
            loop {
                match conn.reader.next(&mut conn.buf) {
                    Ok(Some(f)) => return Ok(f),
                    Ok(None) => {}
                    Err(e) => return Err(ClientError::Protocol(addr.clone(), e)),
                }
                let read = conn.stream.read_buf(&mut conn.buf);
                let n = match limit {
                    Some(d) => match tokio::time::timeout(d, read).await {
                        Ok(r) => r,
                        Err(_) => return Err(ClientError::ReplyTimeout(addr.clone(), d)),
                    },
                    None => read.await,
                };
                match n {
                    Ok(0) => return Err(ClientError::Closed(addr.clone())),
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                        return Err(ClientError::Closed(addr.clone()))
                    }
                    Err(e) => return Err(ClientError::Io(addr.clone(), e)),
                }
            }
        });
        if res.is_err() {
            self.conn = None;
        }
        res
    }

    /// Sends a command and reads the next frame (a push message arriving
    /// first is returned as is: see `cli::execute`).
    pub fn call(&mut self, args: &[Bytes]) -> Result<Frame, ClientError> {
        self.send(args)?;
        self.read()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_multibulk_and_formats_addresses() {
        let cmd = encode_command(&[Bytes::from_static(b"SET"), Bytes::from_static(b"k"), Bytes::new()]);
        assert_eq!(&cmd[..], b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
        let mut o = ConnectOptions {
            host: "::1".into(),
            port: 7,
            tls: None,
            user: None,
            password: None,
            db: 0,
            resp3: false,
            connect_timeout: Duration::from_secs(1),
            reply_timeout: None,
        };
        assert_eq!(o.addr(), "[::1]:7");
        o.host = "localhost".into();
        assert_eq!(o.addr(), "localhost:7");
        let refused = ClientError::Connect(o.addr(), io::Error::from_raw_os_error(libc::ECONNREFUSED));
        assert_eq!(refused.to_string(), "Could not connect to localhost:7: Connection refused");
    }
}
