//! `inmemory-server`: the data server.
//!
//! `inmemory-server [CONFIG_FILE] [--name value ...]`: settings come from the
//! defaults, then the optional redis.conf-syntax file, then the flags, whose
//! names are redis.conf's directives. As with `redis-server`, any directive
//! is a flag and takes every following argument up to the next `--` as its
//! value (`--save 900 1 300 10`), so `redis-server` command lines start this
//! server unchanged.

use std::process::ExitCode;

use clap::Parser;
use inmemory::server::config::Config;

/// A Redis-compatible in-memory database server.
#[derive(Parser, Debug)]
#[command(name = "inmemory-server", version, about, args_override_self = true)]
struct Args {
    /// A config file in redis.conf syntax (flags override it).
    config_file: Option<String>,
    /// TCP port (0 disables the plain listener).
    #[arg(long)]
    port: Option<String>,
    /// Addresses to listen on (space separated).
    #[arg(long)]
    bind: Option<String>,
    /// The original project's listen address, host:port.
    #[arg(long)]
    addr: Option<String>,
    /// Working directory for RDB and AOF files.
    #[arg(long)]
    dir: Option<String>,
    /// RDB file name inside --dir.
    #[arg(long)]
    dbfilename: Option<String>,
    /// The original project's backup file: an RDB file loaded at start.
    #[arg(long)]
    backup: Option<String>,
    /// Number of databases.
    #[arg(long)]
    databases: Option<String>,
    /// Maximum simultaneous clients.
    #[arg(long)]
    maxclients: Option<String>,
    /// debug, verbose, notice, warning or nothing.
    #[arg(long)]
    loglevel: Option<String>,
    /// Close idle clients after this many seconds (0: never).
    #[arg(long)]
    timeout: Option<String>,
    /// Largest bulk string a client may send.
    #[arg(long = "proto-max-bulk-len")]
    proto_max_bulk_len: Option<String>,
    /// Largest query buffer per client.
    #[arg(long = "client-query-buffer-limit")]
    client_query_buffer_limit: Option<String>,
    /// Memory limit (bytes, or 100mb, 1gb …); 0: none.
    #[arg(long)]
    maxmemory: Option<String>,
    /// What to evict at the limit (noeviction, allkeys-lru …).
    #[arg(long = "maxmemory-policy")]
    maxmemory_policy: Option<String>,
    /// Keys sampled per eviction.
    #[arg(long = "maxmemory-samples")]
    maxmemory_samples: Option<String>,
    /// RDB save rules, "<seconds> <changes> ..." ("" disables).
    #[arg(long, allow_hyphen_values = true)]
    save: Option<String>,
    /// Append-only log: yes or no.
    #[arg(long)]
    appendonly: Option<String>,
    /// always, everysec or no.
    #[arg(long)]
    appendfsync: Option<String>,
    /// Password required from clients.
    #[arg(long)]
    requirepass: Option<String>,
    /// ACL users file.
    #[arg(long)]
    aclfile: Option<String>,
    /// TLS port (0: no TLS listener).
    #[arg(long = "tls-port")]
    tls_port: Option<String>,
    /// Server certificate (PEM).
    #[arg(long = "tls-cert-file", alias = "cert")]
    tls_cert_file: Option<String>,
    /// Server private key (PEM).
    #[arg(long = "tls-key-file", alias = "key")]
    tls_key_file: Option<String>,
    /// CA certificate for client certificates (PEM).
    #[arg(long = "tls-ca-cert-file")]
    tls_ca_cert_file: Option<String>,
    /// yes, no or optional: require client certificates.
    #[arg(long = "tls-auth-clients")]
    tls_auth_clients: Option<String>,
    /// Any other redis.conf directive, as `--set name=value` (repeatable).
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
}

/// Rewrites `redis-server`-style directive flags (`--name v1 v2 …`, or
/// `"--name v"` in one argument) into `--set name=v1 v2`, in order; other
/// arguments (the config file, `--addr`, `--set`, `--help` …) are left to
/// clap.
fn redis_style(argv: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut out = Vec::with_capacity(argv.len());
    let mut it = argv.into_iter().peekable();
    if let Some(program) = it.next() {
        out.push(program);
    }
    while let Some(arg) = it.next() {
        let Some(flag) = arg.to_str().and_then(|s| s.strip_prefix("--")) else {
            out.push(arg);
            continue;
        };
        let (name, inline) = match flag.split_once(' ') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (flag.to_string(), None),
        };
        if name.contains('=') || inmemory::server::config::param(&name).is_none() {
            out.push(arg);
            continue;
        }
        let mut values: Vec<String> = inline.into_iter().collect();
        while let Some(next) = it.peek() {
            if next.to_str().is_some_and(|s| s.starts_with("--")) {
                break;
            }
            values.push(it.next().map(|v| v.to_string_lossy().into_owned()).unwrap_or_default());
        }
        out.push("--set".into());
        out.push(format!("{name}={}", values.join(" ")).into());
    }
    out
}

fn build_config(args: &Args) -> Result<Config, String> {
    let mut cfg = Config::default();
    if let Some(path) = &args.config_file {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("Fatal error, can't open config file '{path}': {e}"))?;
        cfg.load_file_text(&text).map_err(|e| format!("Bad directive in config file '{path}': {e}"))?;
    }
    if let Some(addr) = &args.addr {
        let (host, port) = addr.rsplit_once(':').ok_or_else(|| format!("--addr expects host:port, got '{addr}'"))?;
        cfg.set("bind", host.trim_matches(|c| c == '[' || c == ']'))?;
        cfg.set("port", port)?;
    }
    let flags: [(&str, &Option<String>); 25] = [
        ("port", &args.port),
        ("bind", &args.bind),
        ("dir", &args.dir),
        ("dbfilename", &args.dbfilename),
        ("backup", &args.backup),
        ("databases", &args.databases),
        ("maxclients", &args.maxclients),
        ("loglevel", &args.loglevel),
        ("timeout", &args.timeout),
        ("proto-max-bulk-len", &args.proto_max_bulk_len),
        ("client-query-buffer-limit", &args.client_query_buffer_limit),
        ("maxmemory", &args.maxmemory),
        ("maxmemory-policy", &args.maxmemory_policy),
        ("maxmemory-samples", &args.maxmemory_samples),
        ("save", &args.save),
        ("appendonly", &args.appendonly),
        ("appendfsync", &args.appendfsync),
        ("requirepass", &args.requirepass),
        ("aclfile", &args.aclfile),
        ("tls-port", &args.tls_port),
        ("tls-cert-file", &args.tls_cert_file),
        ("tls-key-file", &args.tls_key_file),
        ("tls-ca-cert-file", &args.tls_ca_cert_file),
        ("tls-auth-clients", &args.tls_auth_clients),
        ("client-output-buffer-limit", &None),
    ];
    for (name, value) in flags {
        if let Some(v) = value {
            cfg.set(name, v).map_err(|e| format!("--{name}: {e}"))?;
        }
    }
    for kv in &args.set {
        let (k, v) = kv.split_once('=').ok_or_else(|| format!("--set expects NAME=VALUE, got '{kv}'"))?;
        cfg.set(k, v).map_err(|e| format!("--set {k}: {e}"))?;
    }
    Ok(cfg)
}

/// Counts allocated bytes for `used_memory` and `maxmemory`.
#[global_allocator]
static ALLOC: inmemory::memory::CountingAlloc = inmemory::memory::CountingAlloc;

fn main() -> ExitCode {
    inmemory::memory::mark_installed();
    let args = Args::parse_from(redis_style(std::env::args_os().collect()));
    let cfg = match build_config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    inmemory::server::init_logging(&cfg.loglevel);
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = cfg.worker_threads() {
        builder.worker_threads(n);
    }
    // Connections whose requests arrived together run in arrival order, as
    // in Redis's event loop: tokio's LIFO slot would run the last one woken
    // first, so a PUBLISH could overtake an UNSUBSCRIBE sent before it on
    // another connection.
    #[cfg(tokio_unstable)]
    builder.disable_lifo_slot();
    // Ready connections are served first come, first served, however many
    // there are: past 256 ready tasks tokio moves the rest to its global
    // queue, which it otherwise visits only every few dozen polls, so a
    // connection parked there waited while others ran several times. With
    // 2,000 connections, 16-deep pipelines (pinned, same run, 3 rounds):
    // p99 313-334 ms before, 81-93 ms after (Redis 68-75 ms), at 0.85-0.90
    // of the throughput (serving all of them in turn touches all of their
    // state). 50 connections: no difference.
    builder.global_queue_interval(1);
    // Replies are written once every connection with requests ready has
    // run (see `server::write_batch`).
    #[cfg(tokio_unstable)]
    builder.on_after_task_poll(|_| inmemory::server::write_batch::after_task_poll());
    // The worker watches for work a moment before it sleeps (see
    // `server::idle_spin`).
    builder.on_thread_park(inmemory::server::idle_spin::before_park);
    builder.on_thread_unpark(inmemory::server::idle_spin::after_unpark);
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    // Also what makes the one worker sync the log itself under
    // `appendfsync always` (see `persist::aof::Aof::sync_through`).
    inmemory::server::write_batch::watch(&rt);
    if inmemory::server::write_batch::watching() {
        inmemory::server::idle_spin::arm();
    }
    match rt.block_on(inmemory::server::run(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::from(1)
        }
    }
}
