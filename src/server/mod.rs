//! The data server process: shared state ([`Server`]), settings, clients,
//! listeners and the per-connection loop.
//!
//! ```text
//!  listener ──accept──▶ connection task (one per client, on tokio's pool)
//!                         │ RequestParser → cmd::dispatch → Reply → encode
//!                         ▼
//!                       Server { keyspace (64 lock shards), config, clients,
//!                                blocking + watch registries, stats }
//!                         ▲
//!  background: active expiry cycle (db::expire), save cron (persist) —
//!              both started once the start-up load (persist::load, on its
//!              own thread; clients get -LOADING meanwhile) has finished
//! ```

pub mod client;
pub mod config;
pub mod config_inert;
pub mod config_params;
pub mod connection;
pub mod doorbell;
pub mod idle_spin;
pub mod listener;
pub mod monitor;
pub mod output_limit;
pub mod pause;
pub mod push;
pub mod querybuf;
pub mod read_now;
pub mod tracking;
pub mod write_batch;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::RwLock;

use crate::db::watch::WatchRegistry;
use crate::db::Keyspace;
use client::ClientRegistry;
use config::Config;

/// Counters reported by INFO stats.
#[derive(Default)]
pub struct ServerStats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    /// Bumped by every command: per-thread slots (see [`crate::counter`]).
    pub commands_processed: crate::counter::Counter,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub error_replies: AtomicU64,
}

/// Everything the connections share. One per process, behind an `Arc`.
pub struct Server {
    /// All databases.
    pub keyspace: Arc<Keyspace>,
    /// Clients blocked on list keys.
    pub blocking: crate::cmd::blocking::BlockedClients,
    /// Keys under WATCH.
    pub watches: WatchRegistry,
    /// Current settings (CONFIG SET changes them at run time).
    pub config: RwLock<Config>,
    /// Connected clients.
    pub clients: ClientRegistry,
    /// INFO counters.
    pub stats: ServerStats,
    /// Process start, for uptime.
    pub started: Instant,
    /// A random 40-hex-digit id of this run (`run_id`).
    pub run_id: String,
    /// Set to true to begin a graceful shutdown.
    pub shutdown: tokio::sync::watch::Sender<bool>,
    /// RDB/AOF state.
    pub persist: crate::persist::Persistence,
    /// maxmemory settings and the eviction candidate pool.
    pub evictor: crate::db::evict::Evictor,
    /// SHUTDOWN's SAVE/NOSAVE choice (None: as configured).
    pub shutdown_save: parking_lot::Mutex<Option<bool>>,
    /// ACL users and log.
    pub acl: crate::acl::Acl,
    /// Lua scripting: the EVAL engine and its script cache.
    pub scripting: crate::scripting::Scripting,
    /// Pub/sub subscriptions.
    pub pubsub: crate::pubsub::PubSub,
    /// Clients in MONITOR mode.
    pub monitors: monitor::Monitors,
    /// CLIENT PAUSE.
    pub pause: pause::Pause,
    /// Client-side caching (CLIENT TRACKING).
    pub tracking: tracking::Tracking,
    /// Replication: the stream to replicas, the link to a primary.
    pub replication: crate::replication::Replication,
}

impl Server {
    /// A server with the given settings and an empty keyspace.
    pub fn new(config: Config) -> Arc<Server> {
        let run_id: String = (0..40)
            .map(|_| fastrand::alphanumeric().to_ascii_lowercase())
            .map(|c| if c.is_ascii_hexdigit() { c } else { char::from(b"0123456789abcdef"[fastrand::usize(..16)]) })
            .collect();
        let (shutdown, _) = tokio::sync::watch::channel(false);
        let acl = crate::acl::Acl::new(&config.requirepass);
        acl.set_log_max(usize::try_from(config.acllog_max_len).unwrap_or(usize::MAX));
        let persist = crate::persist::Persistence::new();
        let replication = crate::replication::Replication::new(persist.repl.clone());
        Arc::new(Server {
            keyspace: Arc::new(Keyspace::with_locks(config.databases.max(1), config.keyspace_locks())),
            blocking: Default::default(),
            watches: WatchRegistry::default(),
            config: RwLock::new(config),
            clients: ClientRegistry::default(),
            stats: ServerStats::default(),
            started: Instant::now(),
            run_id,
            shutdown,
            persist,
            evictor: crate::db::evict::Evictor::default(),
            shutdown_save: parking_lot::Mutex::new(None),
            acl,
            scripting: Default::default(),
            pubsub: Default::default(),
            monitors: Default::default(),
            pause: Default::default(),
            tracking: Default::default(),
            replication,
        })
    }

    /// Asks every listener and connection to finish (SIGTERM, SHUTDOWN).
    pub fn begin_shutdown(&self) {
        self.shutdown.send_replace(true);
        // A connection registered after this listing sees the flag when it
        // starts (see `connection::serve`).
        for c in self.clients.list() {
            c.wake.ring();
        }
    }

    /// Whether a password is required before other commands.
    pub fn requires_auth(&self) -> bool {
        !self.acl.default_open()
    }

    /// `key` in `db` changed (Redis's `signalModifiedKey`): its WATCHers
    /// are dirtied and clients caching it are told (by client `by`; None
    /// for expiry and eviction). Cheap when nobody watches or tracks.
    pub fn signal_modified_key(&self, db: usize, key: &[u8], by: Option<u64>) {
        self.watches.touch(db, key);
        self.tracking.invalidate(&self.clients, key, by);
    }

    /// True when writes must record the keys they change (for WATCH or
    /// client-side caching).
    pub fn records_changed_keys(&self) -> bool {
        !self.watches.is_empty() || self.tracking.in_use()
    }
}

/// Bytes the process has allocated (the counting allocator's figure; the
/// RSS where that allocator is not installed), as INFO's `used_memory`
/// reports it and eviction compares with `maxmemory`.
pub fn used_memory(_srv: &Server) -> u64 {
    crate::memory::allocated().unwrap_or_else(crate::cmd::info::rss_bytes)
}

/// Applies the eviction and LFU settings from the configuration.
pub fn configure_eviction(srv: &Server) {
    let c = srv.config.read();
    srv.evictor.configure(c.maxmemory, &c.maxmemory_policy, c.maxmemory_samples);
    crate::db::set_lfu_params(c.lfu_log_factor, c.lfu_decay_time);
}

/// INFO's persistence section.
pub fn persistence_info(srv: &Server) -> String {
    crate::persist::info(srv)
}

/// CONFIG RESETSTAT.
pub fn reset_stats(srv: &Server) {
    use std::sync::atomic::Ordering::Relaxed;
    let s = &srv.stats;
    for c in
        [&s.connections_received, &s.rejected_connections, &s.net_input_bytes, &s.net_output_bytes, &s.error_replies]
    {
        c.store(0, Relaxed);
    }
    crate::db::lazyfree::reset_stats();
    let k = &srv.keyspace.stats;
    k.hits.reset();
    k.misses.reset();
    s.commands_processed.reset();
    for c in [&k.expired, &k.evicted] {
        c.store(0, Relaxed);
    }
}

/// Side effects of a CONFIG SET (the new value is already stored); an error
/// makes CONFIG SET restore the previous settings.
pub fn apply_config_change(srv: &Server, name: &str) -> Result<(), String> {
    match name {
        "maxmemory" | "maxmemory-policy" | "maxmemory-samples" | "lfu-log-factor" | "lfu-decay-time" => {
            configure_eviction(srv);
            Ok(())
        }
        "appendonly" | "appendfsync" => {
            let on = srv.config.read().appendonly;
            crate::persist::set_appendonly(srv, on)
        }
        "acllog-max-len" => {
            let n = srv.config.read().acllog_max_len;
            srv.acl.set_log_max(usize::try_from(n).unwrap_or(usize::MAX));
            Ok(())
        }
        "requirepass" => {
            let pass = srv.config.read().requirepass.clone();
            srv.acl.set_default_password(&pass);
            Ok(())
        }
        "tls-cert-file" | "tls-key-file" | "tls-ca-cert-file" | "tls-auth-clients" => listener::reload_tls(srv),
        "repl-backlog-size" => {
            srv.replication.stream.resize(srv.config.read().repl_backlog_size);
            Ok(())
        }
        "port" => listener::rebind_plain(srv),
        "min-replicas-to-write" => {
            srv.replication.set_write_quorum(srv.config.read().min_replicas_to_write);
            Ok(())
        }
        "key-load-delay" => {
            srv.persist.load.set_key_load_delay(srv.config.read().key_load_delay);
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Period of the clients cron (Redis's default `hz`, 10).
const CLIENTS_CRON_PERIOD: std::time::Duration = std::time::Duration::from_millis(100);

/// Every 100 ms, visits every client to size its query buffer (see
/// [`querybuf::cron_visit`]: idle buffers released, oversized ones trimmed),
/// and once a second brings client-side caching's table back under its
/// limit. O(clients) per visit, a few atomic loads each; a busy connection
/// is woken only when its buffer is to be resized.
fn spawn_clients_cron(srv: &Arc<Server>) {
    let srv = srv.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CLIENTS_CRON_PERIOD);
        let mut shutdown = srv.shutdown.subscribe();
        for n in 0u64.. {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown_started(&mut shutdown) => return,
            }
            if n % 10 == 0 {
                // Even when no command arrives (Redis's serverCron does the same).
                srv.tracking.limit(&srv.clients);
            }
            for c in srv.clients.list() {
                querybuf::cron_visit(&c);
            }
        }
    });
}

/// DEBUG subcommands owned by other modules (RELOAD by persistence).
/// RELOAD is refused with `-LOADING` while the dataset loads at start (it
/// would save the partial data over the file being loaded).
pub fn debug_extension(srv: &Server, args: &[bytes::Bytes]) -> Option<crate::cmd::CmdResult> {
    if args.len() >= 2 && args[1].eq_ignore_ascii_case(b"reload") {
        if srv.persist.loading.load(std::sync::atomic::Ordering::Relaxed) {
            return Some(Err(crate::protocol::Reply::err(crate::cmd::LOADING_ERROR)));
        }
        let mut l = srv.keyspace.lock_all();
        let r = crate::persist::debug_reload(srv, &mut l);
        return Some(match r {
            Ok(()) => Ok(crate::protocol::OK),
            Err(e) => Err(crate::protocol::Reply::err(format!("ERR Error trying to load the RDB dump: {e}"))),
        });
    }
    None
}

/// SHUTDOWN: remembers whether to save, then stops the server. A save that
/// is impossible is reported by the shutdown itself (logged).
pub fn request_shutdown(srv: &Server, save: Option<bool>) -> Result<(), crate::protocol::Reply> {
    *srv.shutdown_save.lock() = save;
    srv.begin_shutdown();
    Ok(())
}

/// Sets up tracing output at a Redis log level (`RUST_LOG` overrides).
pub fn init_logging(level: &str) {
    let lvl = match level {
        "debug" => "debug",
        "verbose" => "info",
        "warning" => "warn",
        "nothing" => "off",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(lvl));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(ansi).try_init();
}

/// Runs the data server until SIGTERM/SIGINT or SHUTDOWN: binds, serves
/// (answering `-LOADING` to data commands while the dataset loads, as
/// Redis), then stops accepting, lets connections finish their replies, and
/// returns. "Ready to accept connections" is logged once the data is loaded;
/// "Server initialized" once the listeners accept (loading may go on).
pub async fn run(cfg: Config) -> Result<(), String> {
    if let Err(e) = std::fs::create_dir_all(&cfg.dir) {
        return Err(format!("Can't create data directory '{}': {e}", cfg.dir.display()));
    }
    let mut signals = Signals::install();
    let srv = Server::new(cfg.clone());
    configure_eviction(&srv);
    srv.replication.set_write_quorum(srv.config.read().min_replicas_to_write);
    let weak = Arc::downgrade(&srv);
    srv.keyspace.set_expired_sink(Box::new(move |db, key| {
        if let Some(srv) = weak.upgrade() {
            srv.signal_modified_key(db, key, None);
            srv.persist.propagate_expired(db, &[bytes::Bytes::copy_from_slice(key)]);
            crate::pubsub::notify::notify(&srv, crate::pubsub::notify::class::EXPIRED, "expired", db, key);
        }
    }));
    // Loading from here on: clients that connect get -LOADING for data
    // commands until the file is read (and the AOF open).
    let source = crate::persist::begin_loading(&srv)?;
    if !cfg.aclfile.is_empty() {
        crate::acl::file::load(&srv.acl, std::path::Path::new(&cfg.aclfile))?;
    }
    let mut tasks = listener::start_plain(&srv, &cfg).await?;
    tasks.extend(listener::start_tls(&srv, &cfg).await?);
    if tasks.is_empty() {
        return Err("No listener configured: set --port or --tls-port".into());
    }
    tracing::info!(port = cfg.port, tls_port = cfg.tls_port, pid = std::process::id(), "Server initialized");
    let mut loaded = spawn_loader(&srv, source)?;
    let mut shutdown = srv.shutdown.subscribe();
    let stopped_while_loading = tokio::select! {
        r = &mut loaded => {
            r.unwrap_or_else(|_| Err("the loading thread stopped".into()))?;
            false
        }
        _ = signals.wait() => {
            tracing::info!("Received signal during loading, shutting down without saving...");
            true
        }
        _ = shutdown_started(&mut shutdown) => {
            tracing::info!("SHUTDOWN requested during loading");
            true
        }
    };
    if stopped_while_loading {
        // The loader stops at its next key; the data it read is dropped.
        srv.persist.load.abort();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), loaded).await;
    } else {
        crate::db::expire::spawn_active_expiry(&srv.keyspace);
        crate::persist::spawn_cron(&srv);
        spawn_clients_cron(&srv);
        crate::replication::start(&srv);
        tracing::info!(
            port = cfg.port,
            tls_port = cfg.tls_port,
            pid = std::process::id(),
            "Ready to accept connections tcp"
        );
        tokio::select! {
            _ = signals.wait() => tracing::info!("Received signal, scheduling shutdown..."),
            _ = shutdown_started(&mut shutdown) => tracing::info!("SHUTDOWN requested"),
        }
    }
    srv.begin_shutdown();
    for t in tasks {
        let _ = t.await;
    }
    // Connections see the shutdown flag and close after their current replies.
    let deadline = Instant::now() + std::time::Duration::from_secs(5);
    while !srv.clients.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let save = *srv.shutdown_save.lock();
    let srv2 = srv.clone();
    let saved = tokio::task::spawn_blocking(move || crate::persist::on_shutdown(&srv2, save)).await;
    if let Ok(Err(e)) = saved {
        tracing::warn!("Error saving on shutdown: {e}");
    }
    tracing::info!("inmemory is now ready to exit, bye bye...");
    Ok(())
}

/// Runs the start-up load on a thread of its own (not tokio's blocking pool,
/// which the runtime would wait for at exit); the receiver gets its result.
fn spawn_loader(
    srv: &Arc<Server>,
    source: crate::persist::LoadSource,
) -> Result<tokio::sync::oneshot::Receiver<Result<(), String>>, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let srv = srv.clone();
    std::thread::Builder::new()
        .name("loader".into())
        .spawn(move || {
            let _ = tx.send(crate::persist::load_at_start(&srv, source));
        })
        .map_err(|e| format!("Can't start the loading thread: {e}"))?;
    Ok(rx)
}

/// SIGTERM and SIGINT streams, created before the server says it is ready
/// so a signal that arrives right after start is a graceful shutdown too.
struct Signals {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    fn install() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let streams = match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
                (Ok(t), Ok(i)) => Some((t, i)),
                _ => None,
            };
            Signals { streams }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    async fn wait(&mut self) {
        #[cfg(unix)]
        if let Some((t, i)) = self.streams.as_mut() {
            tokio::select! {
                _ = t.recv() => {}
                _ = i.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Resolves once a shutdown has begun.
pub async fn shutdown_started(rx: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await.is_ok();
}
