//! `inmemory-proxy`: a sharding proxy in front of inmemory (or Redis) data
//! servers, speaking RESP2 and RESP3 to its clients.
//!
//! ```text
//! clients ──▶ session (per client: parse → Router → ordered replies)
//!                │ ring lookup (hash tags), split/merge, fan-out
//!                ▼
//!             Cluster { Topology (servers + ring), stats } ◀── watch: servers.json, health
//!                │
//!                ▼
//!             Backend pools (per server, --conns per protocol, pipelined)
//! ```
//!
//! A subscribed client's session has connections of its own besides: to
//! the servers of its channels, and to every server for its patterns
//! (`pubsub/`), re-subscribed elsewhere when the ring changes.
//!
//! When the ring changes, `reshard/` moves the keys whose owner changed,
//! on demand before a client's command on them and in the background.
//!
//! With a `"sentinel"` setting in servers.json, `sentinel.rs` follows
//! Sentinel's failovers: named servers move to their new primary's address.
//!
//! `inmemory-proxy --servers cluster/servers.json --addr 127.0.0.1 --port 7000 --conns 10`.
//! It prints `Ready to accept connections` once listening.

mod cluster;
mod config;
mod conn;
mod fanout;
mod info;
mod local;
mod message;
mod pool;
mod pubsub;
mod reshard;
mod ring;
mod router;
mod scripting;
mod scripts;
mod sentinel;
mod session;
mod tls;
mod txn;
mod watch;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// A sharding proxy for inmemory data servers.
#[derive(Parser, Debug)]
#[command(name = "inmemory-proxy", version, about)]
struct Args {
    /// Address to listen on: a host, or host:port.
    #[arg(long, default_value = "127.0.0.1")]
    addr: String,
    /// Port to listen on (overrides a port given in --addr).
    #[arg(long)]
    port: Option<u16>,
    /// The server list (watched: edits apply without a restart).
    #[arg(long, default_value = "cluster/servers.json")]
    servers: String,
    /// Connections per data server (and per protocol), opened on demand.
    #[arg(long, default_value_t = 10)]
    conns: usize,
    /// Password clients must give with AUTH.
    #[arg(long)]
    requirepass: Option<String>,
    /// Milliseconds a server may stay silent with requests in flight before
    /// its connection is dropped and the requests fail.
    #[arg(long, default_value_t = 10_000)]
    timeout: u64,
    /// debug, verbose, notice, warning or nothing.
    #[arg(long, default_value = "notice")]
    loglevel: String,
    /// Also accept TLS clients on this port.
    #[arg(long = "tls-port")]
    tls_port: Option<u16>,
    /// Certificate (PEM) shown to TLS clients.
    #[arg(long = "tls-cert-file")]
    tls_cert_file: Option<String>,
    /// Private key (PEM) of --tls-cert-file.
    #[arg(long = "tls-key-file")]
    tls_key_file: Option<String>,
    /// CA (PEM) for client certificates and for the certificates of "tls" servers.
    #[arg(long = "tls-ca-cert-file")]
    tls_ca_cert_file: Option<String>,
    /// yes, no or optional: whether TLS clients must show a certificate.
    #[arg(long = "tls-auth-clients", default_value = "yes")]
    tls_auth_clients: String,
    /// Keys per second the background resharding moves at most (0: no limit).
    #[arg(long = "reshard-rate", default_value_t = reshard::DEFAULT_RATE)]
    reshard_rate: u64,
    /// Keys per SCAN call and per pipelined batch of moves while resharding.
    #[arg(long = "reshard-batch", default_value_t = reshard::DEFAULT_BATCH)]
    reshard_batch: usize,
    /// Certificate (PEM) shown to "tls" servers (default: --tls-cert-file).
    #[arg(long = "tls-client-cert-file")]
    tls_client_cert_file: Option<String>,
    /// Private key (PEM) of --tls-client-cert-file.
    #[arg(long = "tls-client-key-file")]
    tls_client_key_file: Option<String>,
    /// Threads serving clients and servers (0: half the CPUs, at least one; 1: a single-threaded scheduler).
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

impl Args {
    fn tls(&self) -> tls::TlsOptions {
        tls::TlsOptions {
            cert_file: self.tls_cert_file.clone(),
            key_file: self.tls_key_file.clone(),
            ca_cert_file: self.tls_ca_cert_file.clone(),
            auth_clients: self.tls_auth_clients.clone(),
            client_cert_file: self.tls_client_cert_file.clone(),
            client_key_file: self.tls_client_key_file.clone(),
        }
    }
}

/// The default listening port.
const DEFAULT_PORT: u16 = 7000;

fn listen_addr(args: &Args) -> Result<(String, u16), String> {
    let (host, port) = match args.addr.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && !p.contains(']') => {
            let p = p.parse::<u16>().map_err(|_| format!("--addr: bad port in '{}'", args.addr))?;
            (h.trim_start_matches('[').trim_end_matches(']').to_string(), p)
        }
        _ => (args.addr.clone(), DEFAULT_PORT),
    };
    Ok((host, args.port.unwrap_or(port)))
}

async fn run(args: Args) -> Result<(), String> {
    let text = std::fs::read_to_string(&args.servers).map_err(|e| format!("cannot read {}: {e}", args.servers))?;
    let tls_opts = args.tls();
    let backend_tls = tls::backend_config(&tls_opts)?;
    let cfg = config::parse(&text, backend_tls.is_some()).map_err(|e| format!("{}: {e}", args.servers))?;
    let (host, port) = listen_addr(&args)?;
    let listener = tokio::net::TcpListener::bind((host.as_str(), port))
        .await
        .map_err(|e| format!("cannot listen on {host}:{port}: {e}"))?;
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(port);
    let tls_listener = match args.tls_port {
        Some(tls_port) => {
            let acceptor = tls::acceptor(&tls_opts)?;
            let l = tokio::net::TcpListener::bind((host.as_str(), tls_port))
                .await
                .map_err(|e| format!("cannot listen on {host}:{tls_port}: {e}"))?;
            Some((l, acceptor))
        }
        None => None,
    };
    let n = cfg.servers.len();
    let cluster = cluster::Cluster::new(
        cfg,
        cluster::ClusterOptions {
            conns: args.conns.max(1),
            timeout: Duration::from_millis(args.timeout.max(1)),
            path: args.servers.clone(),
            requirepass: args.requirepass.clone().filter(|p| !p.is_empty()),
            port,
            tls: backend_tls,
            reshard: reshard::ReshardOptions { rate: args.reshard_rate, batch: args.reshard_batch.clamp(1, 10_000) },
        },
    );
    let _monitor = watch::spawn(cluster.clone(), text);
    let _sentinel = sentinel::spawn(cluster.clone());
    let _reshard = reshard::spawn(cluster.clone());
    if let Some((l, acceptor)) = tls_listener {
        tokio::spawn(tls::serve(l, acceptor, cluster.clone()));
    }
    tracing::info!(
        port,
        tls_port = args.tls_port,
        servers = n,
        pid = std::process::id(),
        "Ready to accept connections tcp"
    );
    let accept = async {
        loop {
            match listener.accept().await {
                Ok((tcp, peer)) => {
                    let _ = tcp.set_nodelay(true);
                    tokio::spawn(session::serve(tcp, cluster.clone(), peer.to_string()));
                }
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    };
    tokio::select! {
        _ = accept => {}
        _ = wait_for_signal() => tracing::info!("Received signal, shutting down"),
    }
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! {
                _ = t.recv() => {}
                _ = i.recv() => {}
            }
        }
        _ => std::future::pending::<()>().await,
    }
}

/// The runtime for `--threads n`: 1 is the current-thread scheduler (no
/// work stealing, no cross-thread wake-ups), `n` > 1 that many workers, and
/// 0 chooses: half the CPUs, at least one (the data server's rule), or
/// tokio's default when `TOKIO_WORKER_THREADS` is set.
///
/// Why half: the proxy usually shares its machine with clients or data
/// servers, and every extra worker adds wake-ups between threads. On the
/// 2-CPU machine (`scripts/bench-proxy-vs-twemproxy.sh` and redis-benchmark
/// SET, 50 connections, unpinned, alternating runs) one thread forwarded
/// 69-72 k requests/s at pipeline depth 1 against 58-62 k with two workers,
/// at 10.6-11.4 µs of CPU per request against 13.1-14.5; at depth 16
/// 400-471 k against 410-420 k; with a busy loop on the machine as well,
/// 38-42 k against 35-37 k (depth 1) and 282-291 k against 230-254 k
/// (depth 16).
fn runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    let threads = match threads {
        0 => inmemory::server::config::default_worker_threads().unwrap_or(0),
        n => n,
    };
    match threads {
        0 => tokio::runtime::Builder::new_multi_thread().enable_all().build(),
        1 => tokio::runtime::Builder::new_current_thread().enable_all().build(),
        n => tokio::runtime::Builder::new_multi_thread().worker_threads(n).enable_all().build(),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    inmemory::server::init_logging(&args.loglevel);
    let rt = match runtime(args.threads) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(a: &str, port: Option<u16>) -> Result<(String, u16), String> {
        let args = Args::parse_from(["p", "--addr", a]);
        listen_addr(&Args { port, ..args })
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(addr("127.0.0.1", None), Ok(("127.0.0.1".into(), DEFAULT_PORT)));
        assert_eq!(addr("127.0.0.1:7100", None), Ok(("127.0.0.1".into(), 7100)));
        assert_eq!(addr("127.0.0.1:7100", Some(7200)), Ok(("127.0.0.1".into(), 7200)));
        assert_eq!(addr("[::1]:7100", None), Ok(("::1".into(), 7100)));
        assert!(addr("h:x", None).is_err());
    }
}
