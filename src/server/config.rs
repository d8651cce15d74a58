//! Server settings: one table of parameters, read by the command line, the
//! config file (redis.conf syntax) and `CONFIG GET/SET`, so every setting has
//! one name and one parser.

use std::path::PathBuf;

use super::config_inert::{INERT_ALIASES, INERT_PARAMS};
use crate::db::glob::glob_match;

/// Every setting of the data server. Defaults are usable as they are.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: Vec<String>,
    pub port: u16,
    pub dir: PathBuf,
    pub dbfilename: String,
    pub databases: usize,
    /// `threads` (this server's own setting, start only): worker threads
    /// running connections and commands; 0 (the default) picks
    /// [`Config::worker_threads`]'s count for the machine.
    pub threads: usize,
    pub maxclients: usize,
    pub loglevel: String,
    pub logfile: String,
    pub timeout: u64,
    pub tcp_keepalive: u64,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: u64,
    pub client_output_buffer_limit: super::output_limit::Limits,
    pub hz: u64,
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub maxmemory_samples: u64,
    pub lfu_log_factor: u64,
    pub lfu_decay_time: u64,
    pub appendonly: bool,
    pub appendfsync: String,
    pub appendfilename: String,
    pub appenddirname: String,
    pub auto_aof_rewrite_percentage: u64,
    pub auto_aof_rewrite_min_size: u64,
    pub aof_load_truncated: bool,
    pub aof_use_rdb_preamble: bool,
    pub save: String,
    pub stop_writes_on_bgsave_error: bool,
    pub rdbcompression: bool,
    pub rdbchecksum: bool,
    pub requirepass: String,
    pub aclfile: String,
    pub protected_mode: bool,
    pub tls_port: u16,
    pub tls_cert_file: String,
    pub tls_key_file: String,
    pub tls_ca_cert_file: String,
    pub tls_auth_clients: String,
    /// The original project's `--backup PATH`: an RDB file loaded at start.
    pub backup: String,
    /// Largest list kept packed in one block (`list-max-listpack-size`):
    /// negative -1..-5 mean 4..64 KiB, positive a count of elements.
    pub list_max_listpack_size: i64,
    /// `list-compress-depth`: our list nodes are never compressed, so this
    /// only informs `CONFIG GET`.
    pub list_compress_depth: i64,
    /// Most fields a hash may have and still be packed (`listpack`).
    pub hash_max_listpack_entries: u64,
    /// Longest field or value a packed hash may hold.
    pub hash_max_listpack_value: u64,
    /// Most members an integer set may have (`set-max-intset-entries`).
    pub set_max_intset_entries: u64,
    /// Most members a sorted set may have and still be packed.
    pub zset_max_listpack_entries: u64,
    /// Longest member a packed sorted set may hold.
    pub zset_max_listpack_value: u64,
    /// `stream-node-max-bytes`: largest stream node (0: no limit).
    pub stream_node_max_bytes: u64,
    /// `stream-node-max-entries`: most entries per stream node (0: no limit).
    pub stream_node_max_entries: u64,
    /// `tracking-table-max-keys`: most keys remembered for client-side
    /// caching (0: no limit).
    pub tracking_table_max_keys: u64,
    /// Values given to the Redis parameters this server shows but does not
    /// act on (see `super::config_inert`); absent ones show their default.
    pub inert: std::collections::BTreeMap<&'static str, String>,
    /// `latency-tracking`: keep a latency histogram per command (INFO latencystats).
    pub latency_tracking: bool,
    /// `latency-tracking-info-percentiles`: the percentiles INFO latencystats prints.
    pub latency_tracking_info_percentiles: Vec<f64>,
    /// `latency-monitor-threshold`: milliseconds from which the latency monitor records an event (0: off).
    pub latency_monitor_threshold: u64,
    /// `notify-keyspace-events`: the enabled event classes (see
    /// [`crate::pubsub::notify`]).
    pub notify_keyspace_events: u32,
    /// `slowlog-log-slower-than` in microseconds (negative: off, 0: every command).
    pub slowlog_log_slower_than: i64,
    /// `slowlog-max-len`: entries kept.
    pub slowlog_max_len: u64,
    /// `idle-spin-us` (this server's own): longest watch for new work
    /// before the worker sleeps (published to [`crate::server::idle_spin`]).
    pub idle_spin_us: u64,
    /// `key-load-delay` (hidden, for tests): microseconds to sleep per key
    /// loaded at start; `-n` sleeps one microsecond with probability 1/n.
    pub key_load_delay: i64,
    /// `rdb-key-save-delay` (hidden, for tests): microseconds to sleep per
    /// key written by a snapshot or rewrite (published to the writer, which
    /// may run in a forked child, by [`Config::apply_encoding_limits`]).
    pub rdb_key_save_delay: i64,
    /// `acllog-max-len`: entries the ACL LOG keeps.
    pub acllog_max_len: u64,
    /// `acl-pubsub-default`: the channels a new ACL user gets, `resetchannels`
    /// (none, Redis 7.0's default) or `allchannels` (published to [`crate::acl`]).
    pub acl_pubsub_default: String,
    /// `busy-reply-threshold` (alias `lua-time-limit`): ms a script runs
    /// before other clients get `-BUSY` and it may be killed (0: never).
    pub busy_reply_threshold: u64,
    /// `loading-process-events-interval-bytes` (hidden): Redis serves
    /// clients every that many bytes loaded; here clients are served
    /// throughout, so this only informs `CONFIG GET`.
    pub loading_process_events_interval_bytes: i64,
    /// `hll-sparse-max-bytes`: largest sparse HyperLogLog (published to [`crate::db::hll`]).
    pub hll_sparse_max_bytes: u64,
    /// `enable-debug-command`: who may run DEBUG, `no`, `yes` or `local`
    /// (loopback clients only). Our default is `local`, where Redis's is
    /// `no`: test suites (Redis's own, client libraries') run DEBUG from
    /// 127.0.0.1.
    pub enable_debug_command: String,
    /// `lazyfree-lazy-user-flush`: FLUSHALL/FLUSHDB without SYNC or ASYNC
    /// free in the background.
    pub lazyfree_lazy_user_flush: bool,
    /// `replicaof host port` (None: a primary); see [`crate::replication`].
    pub replicaof: Option<(String, u16)>,
    /// `masterauth`: the password a replica gives its primary.
    pub masterauth: String,
    /// `masteruser`: the ACL user a replica authenticates as.
    pub masteruser: String,
    /// `repl-backlog-size`: bytes of stream kept for partial resyncs.
    pub repl_backlog_size: u64,
    /// `repl-backlog-ttl` (seconds; shown, the backlog is kept).
    pub repl_backlog_ttl: i64,
    /// `replica-read-only`: a replica refuses clients' writes.
    pub replica_read_only: bool,
    /// `repl-ping-replica-period`: seconds between PINGs to replicas.
    pub repl_ping_replica_period: i64,
    /// `repl-timeout`: seconds without traffic before a link is dropped.
    pub repl_timeout: i64,
    /// `min-replicas-to-write`: writes need this many good replicas (0: off).
    pub min_replicas_to_write: i64,
    /// `min-replicas-max-lag`: a good replica acked within this many seconds.
    pub min_replicas_max_lag: i64,
    /// `repl-diskless-sync`: a full sync streams the snapshot to a replica
    /// that announced `capa eof` (`$EOF:` framing) instead of a file.
    pub repl_diskless_sync: bool,
    /// `repl-diskless-sync-delay`: seconds a diskless sync waits first.
    pub repl_diskless_sync_delay: i64,
    /// `repl-diskless-sync-max-replicas`: this many waiting replicas end
    /// that delay early (0: none).
    pub repl_diskless_sync_max_replicas: i64,
    /// `repl-diskless-load`: disabled, on-empty-db or swapdb.
    pub repl_diskless_load: String,
    /// `replica-serve-stale-data`: a replica without its primary still
    /// answers (yes) or refuses with -MASTERDOWN.
    pub replica_serve_stale_data: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: vec!["127.0.0.1".into()],
            port: 6379,
            dir: PathBuf::from("./data"),
            dbfilename: "dump.rdb".into(),
            databases: 16,
            threads: 0,
            maxclients: 10000,
            loglevel: "notice".into(),
            logfile: String::new(),
            timeout: 0,
            tcp_keepalive: 300,
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            client_output_buffer_limit: Default::default(),
            hz: 10,
            maxmemory: 0,
            maxmemory_policy: "noeviction".into(),
            maxmemory_samples: 5,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            appendonly: false,
            appendfsync: "everysec".into(),
            appendfilename: "appendonly.aof".into(),
            appenddirname: "appendonlydir".into(),
            auto_aof_rewrite_percentage: 100,
            auto_aof_rewrite_min_size: 64 * 1024 * 1024,
            aof_load_truncated: true,
            aof_use_rdb_preamble: true,
            save: "3600 1 300 100 60 10000".into(),
            stop_writes_on_bgsave_error: true,
            rdbcompression: true,
            rdbchecksum: true,
            requirepass: String::new(),
            aclfile: String::new(),
            protected_mode: true,
            tls_port: 0,
            tls_cert_file: String::new(),
            tls_key_file: String::new(),
            tls_ca_cert_file: String::new(),
            tls_auth_clients: "yes".into(),
            backup: String::new(),
            list_max_listpack_size: -2,
            list_compress_depth: 0,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            stream_node_max_bytes: 4096,
            stream_node_max_entries: 100,
            tracking_table_max_keys: 1_000_000,
            inert: Default::default(),
            latency_tracking: true,
            latency_tracking_info_percentiles: vec![50.0, 99.0, 99.9],
            latency_monitor_threshold: 0,
            notify_keyspace_events: 0,
            slowlog_log_slower_than: 10_000,
            slowlog_max_len: 128,
            idle_spin_us: crate::server::idle_spin::DEFAULT_US,
            key_load_delay: 0,
            rdb_key_save_delay: 0,
            acllog_max_len: 128,
            acl_pubsub_default: "resetchannels".into(),
            busy_reply_threshold: 5000,
            loading_process_events_interval_bytes: 2 * 1024 * 1024,
            hll_sparse_max_bytes: 3000,
            enable_debug_command: "local".into(),
            lazyfree_lazy_user_flush: false,
            replicaof: None,
            masterauth: String::new(),
            masteruser: String::new(),
            repl_backlog_size: 1024 * 1024,
            repl_backlog_ttl: 3600,
            replica_read_only: true,
            repl_ping_replica_period: 10,
            repl_timeout: 60,
            min_replicas_to_write: 0,
            min_replicas_max_lag: 10,
            repl_diskless_sync: true,
            repl_diskless_sync_delay: 5,
            repl_diskless_sync_max_replicas: 0,
            repl_diskless_load: "disabled".into(),
            replica_serve_stale_data: true,
        }
    }
}

/// Parses a memory size as Redis's `memtoull`: `1k`=1000, `1kb`=1024,
/// `1m`, `1mb`, `1g`, `1gb`, case-insensitive.
pub fn parse_memory(s: &str) -> Result<u64, String> {
    let l = s.trim().to_ascii_lowercase();
    let split = l.find(|c: char| !c.is_ascii_digit()).unwrap_or(l.len());
    let (num, unit) = l.split_at(split);
    let mul: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return Err("argument must be a memory value".into()),
    };
    let n: u64 = num.parse().map_err(|_| "argument must be a memory value".to_string())?;
    n.checked_mul(mul).ok_or_else(|| "argument must be a memory value".into())
}

pub(super) fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

pub(super) fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

pub(super) fn parse_num<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.trim().parse().map_err(|_| "argument couldn't be parsed into an integer".to_string())
}

pub(super) fn one_of(s: &str, options: &[&str]) -> Result<String, String> {
    let l = s.to_ascii_lowercase();
    if options.contains(&l.as_str()) {
        Ok(l)
    } else {
        Err("argument(s) must be one of the following: ".to_string() + &options.join(", "))
    }
}

/// A parameter: its name, how to read it, how to set it, whether CONFIG SET may.
pub struct Param {
    /// The redis.conf / CONFIG name.
    pub name: &'static str,
    /// Renders the current value.
    pub get: fn(&Config) -> String,
    /// Parses and stores a value; the error explains why it was refused.
    pub set: fn(&mut Config, &str) -> Result<(), String>,
    /// False for settings fixed at start (CONFIG SET refuses them).
    pub mutable: bool,
}

macro_rules! param {
    ($name:expr, $field:ident, num, $mutable:expr) => {
        Param {
            name: $name,
            get: |c| c.$field.to_string(),
            set: |c, v| {
                c.$field = parse_num(v)?;
                Ok(())
            },
            mutable: $mutable,
        }
    };
    ($name:expr, $field:ident, mem, $mutable:expr) => {
        Param {
            name: $name,
            get: |c| c.$field.to_string(),
            set: |c, v| {
                c.$field = parse_memory(v)?;
                Ok(())
            },
            mutable: $mutable,
        }
    };
    ($name:expr, $field:ident, bool, $mutable:expr) => {
        Param {
            name: $name,
            get: |c| yes_no(c.$field),
            set: |c, v| {
                c.$field = parse_bool(v)?;
                Ok(())
            },
            mutable: $mutable,
        }
    };
    ($name:expr, $field:ident, string, $mutable:expr) => {
        Param {
            name: $name,
            get: |c| c.$field.clone(),
            set: |c, v| {
                c.$field = v.to_string();
                Ok(())
            },
            mutable: $mutable,
        }
    };
    // A settable parameter that other modules read without the config
    // lock: parsed by `$parse`, then published (`apply_encoding_limits`).
    ($name:expr, $field:ident, published $parse:expr) => {
        Param {
            name: $name,
            get: |c| c.$field.to_string(),
            set: |c, v| {
                c.$field = $parse(v)?;
                c.apply_encoding_limits();
                Ok(())
            },
            mutable: true,
        }
    };
    ($name:expr, $field:ident, enum [$($opt:expr),*], $mutable:expr) => {
        Param {
            name: $name,
            get: |c| c.$field.clone(),
            set: |c, v| {
                c.$field = one_of(v, &[$($opt),*])?;
                Ok(())
            },
            mutable: $mutable,
        }
    };
}

/// Every parameter this server really has.
pub static PARAMS: &[Param] = &[
    Param {
        name: "bind",
        get: |c| c.bind.join(" "),
        set: |c, v| {
            c.bind = v.split_whitespace().map(String::from).collect();
            Ok(())
        },
        mutable: false,
    },
    param!("port", port, num, true),
    Param {
        name: "dir",
        get: |c| c.dir.display().to_string(),
        set: |c, v| {
            c.dir = PathBuf::from(v);
            Ok(())
        },
        mutable: true,
    },
    param!("dbfilename", dbfilename, string, true),
    param!("databases", databases, num, false),
    param!("threads", threads, num, false),
    param!("maxclients", maxclients, num, true),
    param!("loglevel", loglevel, enum ["debug", "verbose", "notice", "warning", "nothing"], true),
    param!("logfile", logfile, string, false),
    param!("timeout", timeout, num, true),
    param!("tcp-keepalive", tcp_keepalive, num, true),
    param!("proto-max-bulk-len", proto_max_bulk_len, published parse_memory),
    param!("client-query-buffer-limit", client_query_buffer_limit, mem, true),
    param!("acllog-max-len", acllog_max_len, num, true),
    param!("acl-pubsub-default", acl_pubsub_default, published | v | one_of(v, &["allchannels", "resetchannels"])),
    param!("busy-reply-threshold", busy_reply_threshold, num, true),
    param!("lua-time-limit", busy_reply_threshold, num, true),
    // Never daemonizes (run it under a supervisor); shown for tools that ask.
    Param {
        name: "daemonize",
        get: |_| "no".into(),
        set: |_, v| match parse_bool(v)? {
            false => Ok(()),
            true => Err("daemonize yes is not supported: run the server under a supervisor".into()),
        },
        mutable: false,
    },
    Param {
        name: "client-output-buffer-limit",
        get: |c| c.client_output_buffer_limit.to_string(),
        set: |c, v| c.client_output_buffer_limit.set(v),
        mutable: true,
    },
    param!("hz", hz, num, true),
    param!("maxmemory", maxmemory, mem, true),
    param!(
        "maxmemory-policy",
        maxmemory_policy,
        enum [
            "noeviction", "allkeys-lru", "volatile-lru", "allkeys-lfu", "volatile-lfu",
            "allkeys-random", "volatile-random", "volatile-ttl"
        ],
        true
    ),
    param!("maxmemory-samples", maxmemory_samples, num, true),
    param!("lfu-log-factor", lfu_log_factor, num, true),
    param!("lfu-decay-time", lfu_decay_time, num, true),
    param!("appendonly", appendonly, bool, true),
    param!("appendfsync", appendfsync, enum ["always", "everysec", "no"], true),
    param!("appendfilename", appendfilename, string, false),
    param!("appenddirname", appenddirname, string, false),
    param!("auto-aof-rewrite-percentage", auto_aof_rewrite_percentage, num, true),
    param!("auto-aof-rewrite-min-size", auto_aof_rewrite_min_size, mem, true),
    param!("aof-load-truncated", aof_load_truncated, bool, true),
    param!("aof-use-rdb-preamble", aof_use_rdb_preamble, bool, true),
    Param {
        name: "save",
        get: |c| c.save.clone(),
        set: |c, v| {
            let parts: Vec<&str> = v.split_whitespace().collect();
            if !parts.len().is_multiple_of(2) || parts.iter().any(|p| p.parse::<u64>().is_err()) {
                return Err("Invalid save parameters".into());
            }
            c.save = parts.join(" ");
            Ok(())
        },
        mutable: true,
    },
    param!("stop-writes-on-bgsave-error", stop_writes_on_bgsave_error, bool, true),
    param!("rdbcompression", rdbcompression, bool, true),
    Param {
        name: "replicaof",
        get: |c| c.replicaof.as_ref().map_or(String::new(), |(h, p)| format!("{h} {p}")),
        set: |c, v| {
            c.replicaof = parse_replicaof(v)?;
            Ok(())
        },
        mutable: false,
    },
    param!("masterauth", masterauth, string, true),
    param!("masteruser", masteruser, string, true),
    Param {
        name: "repl-backlog-size",
        get: |c| c.repl_backlog_size.to_string(),
        set: |c, v| {
            c.repl_backlog_size = ranged_memory(v)?.max(1);
            Ok(())
        },
        mutable: true,
    },
    Param {
        name: "repl-backlog-ttl",
        get: |c| c.repl_backlog_ttl.to_string(),
        set: |c, v| {
            c.repl_backlog_ttl = ranged(parse_num(v)?, 0, i32::MAX as i64)?;
            Ok(())
        },
        mutable: true,
    },
    param!("replica-read-only", replica_read_only, bool, true),
    param!("repl-diskless-sync", repl_diskless_sync, bool, true),
    Param {
        name: "repl-diskless-sync-delay",
        get: |c| c.repl_diskless_sync_delay.to_string(),
        set: |c, v| {
            c.repl_diskless_sync_delay = ranged(parse_num(v)?, 0, i32::MAX as i64)?;
            Ok(())
        },
        mutable: true,
    },
    Param {
        name: "repl-diskless-sync-max-replicas",
        get: |c| c.repl_diskless_sync_max_replicas.to_string(),
        set: |c, v| {
            c.repl_diskless_sync_max_replicas = ranged(parse_num(v)?, 0, i32::MAX as i64)?;
            Ok(())
        },
        mutable: true,
    },
    param!("repl-diskless-load", repl_diskless_load, enum ["disabled", "on-empty-db", "swapdb"], true),
    param!("replica-serve-stale-data", replica_serve_stale_data, bool, true),
    Param {
        name: "repl-ping-replica-period",
        get: |c| c.repl_ping_replica_period.to_string(),
        set: |c, v| {
            c.repl_ping_replica_period = ranged(parse_num(v)?, 1, i32::MAX as i64)?;
            Ok(())
        },
        mutable: true,
    },
    Param {
        name: "repl-timeout",
        get: |c| c.repl_timeout.to_string(),
        set: |c, v| {
            c.repl_timeout = ranged(parse_num(v)?, 1, i32::MAX as i64)?;
            Ok(())
        },
        mutable: true,
    },
    Param {
        name: "min-replicas-to-write",
        get: |c| c.min_replicas_to_write.to_string(),
        set: |c, v| {
            c.min_replicas_to_write = ranged(parse_num(v)?, 0, i32::MAX as i64)?;
            Ok(())
        },
        mutable: true,
    },
    Param {
        name: "min-replicas-max-lag",
        get: |c| c.min_replicas_max_lag.to_string(),
        set: |c, v| {
            c.min_replicas_max_lag = ranged(parse_num(v)?, 0, i32::MAX as i64)?;
            Ok(())
        },
        mutable: true,
    },
    param!("rdbchecksum", rdbchecksum, bool, true),
    param!("requirepass", requirepass, string, true),
    param!("aclfile", aclfile, string, false),
    param!("protected-mode", protected_mode, bool, true),
    param!("enable-debug-command", enable_debug_command, enum ["no", "yes", "local"], false),
    param!("lazyfree-lazy-user-flush", lazyfree_lazy_user_flush, bool, true),
    param!("tls-port", tls_port, num, false),
    param!("tls-cert-file", tls_cert_file, string, true),
    param!("tls-key-file", tls_key_file, string, true),
    param!("tls-ca-cert-file", tls_ca_cert_file, string, true),
    param!("tls-auth-clients", tls_auth_clients, enum ["yes", "no", "optional"], true),
    param!("backup", backup, string, false),
    param!("list-max-listpack-size", list_max_listpack_size, published int32),
    Param {
        name: "list-compress-depth",
        get: |c| c.list_compress_depth.to_string(),
        set: |c, v| {
            c.list_compress_depth = ranged(parse_num(v)?, 0, i32::MAX as i64)?;
            Ok(())
        },
        mutable: true,
    },
    param!("hash-max-listpack-entries", hash_max_listpack_entries, published count),
    param!("hash-max-listpack-value", hash_max_listpack_value, published ranged_memory),
    param!("hll-sparse-max-bytes", hll_sparse_max_bytes, published ranged_memory),
    param!("set-max-intset-entries", set_max_intset_entries, published count),
    param!("zset-max-listpack-entries", zset_max_listpack_entries, published count),
    param!("zset-max-listpack-value", zset_max_listpack_value, published ranged_memory),
    param!("stream-node-max-bytes", stream_node_max_bytes, published ranged_memory),
    param!("stream-node-max-entries", stream_node_max_entries, published count),
    param!("tracking-table-max-keys", tracking_table_max_keys, published count),
    Param {
        name: "latency-tracking",
        get: |c| yes_no(c.latency_tracking),
        set: |c, v| {
            c.latency_tracking = parse_bool(v)?;
            c.apply_encoding_limits();
            Ok(())
        },
        mutable: true,
    },
    Param {
        name: "notify-keyspace-events",
        get: |c| crate::pubsub::notify::format_flags(c.notify_keyspace_events),
        set: |c, v| {
            c.notify_keyspace_events =
                crate::pubsub::notify::parse_flags(v).ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")?;
            c.apply_encoding_limits();
            Ok(())
        },
        mutable: true,
    },
    param!("slowlog-log-slower-than", slowlog_log_slower_than, published | v | ranged(parse_num(v)?, -1, i64::MAX)),
    param!("slowlog-max-len", slowlog_max_len, published count),
    param!("idle-spin-us", idle_spin_us, published count),
    param!("latency-monitor-threshold", latency_monitor_threshold, published count),
    Param {
        name: "latency-tracking-info-percentiles",
        get: |c| {
            let names: Vec<String> = c
                .latency_tracking_info_percentiles
                .iter()
                .map(|p| crate::cmd::info::stats::percentile_name(*p))
                .collect();
            names.join(" ")
        },
        set: |c, v| {
            let mut out = Vec::new();
            for w in v.split_whitespace() {
                let p = crate::cmd::args::parse_f64_bytes(w.as_bytes())
                    .filter(|p| p.is_finite())
                    .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
                if !(0.0..=100.0).contains(&p) {
                    return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into());
                }
                out.push(p);
            }
            c.latency_tracking_info_percentiles = out;
            Ok(())
        },
        mutable: true,
    },
];

/// Redis's hidden parameters (its tests' knobs): not in [`PARAMS`] (nor the
/// README), and `CONFIG GET` shows them only when asked by their exact
/// name, never for a glob pattern, as Redis does.
pub static HIDDEN_PARAMS: &[Param] = &[
    Param {
        name: "key-load-delay",
        get: |c| c.key_load_delay.to_string(),
        set: |c, v| {
            c.key_load_delay = int32(v)?;
            Ok(())
        },
        mutable: true,
    },
    param!("rdb-key-save-delay", rdb_key_save_delay, published int32),
    Param {
        name: "loading-process-events-interval-bytes",
        get: |c| c.loading_process_events_interval_bytes.to_string(),
        set: |c, v| {
            c.loading_process_events_interval_bytes = ranged(parse_num(v)?, 1024, i32::MAX as i64)?;
            Ok(())
        },
        mutable: true,
    },
];

/// Redis's older names for parameters (`alias`, `name`): accepted wherever
/// the name is, and listed by `CONFIG GET` patterns under both.
pub static ALIASES: &[(&str, &str)] = &[
    ("list-max-ziplist-size", "list-max-listpack-size"),
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
];

/// `replicaof <host> <port>` (empty: none), as Redis checks it.
fn parse_replicaof(v: &str) -> Result<Option<(String, u16)>, String> {
    let words: Vec<&str> = v.split_whitespace().collect();
    match words[..] {
        [] => Ok(None),
        [h, p] if h.eq_ignore_ascii_case("no") && p.eq_ignore_ascii_case("one") => Ok(None),
        [h, p] => {
            let port = p.parse::<u16>().map_err(|_| "Invalid master port".to_string())?;
            Ok(Some((h.to_string(), port)))
        }
        _ => Err("wrong number of arguments".into()),
    }
}

/// A count parameter: an integer in Redis's `0..=LONG_MAX`.
fn count(v: &str) -> Result<u64, String> {
    Ok(ranged(parse_num(v)?, 0, i64::MAX)? as u64)
}

/// An integer parameter Redis keeps in a C `int`.
fn int32(v: &str) -> Result<i64, String> {
    ranged(parse_num(v)?, i32::MIN as i64, i32::MAX as i64)
}

/// Redis's range check of numeric parameters.
fn ranged(v: i64, min: i64, max: i64) -> Result<i64, String> {
    if v < min || v > max {
        return Err(format!("argument must be between {min} and {max} inclusive"));
    }
    Ok(v)
}

/// A size parameter in bytes (`64`, `1kb` …) within Redis's `0..=LONG_MAX`.
fn ranged_memory(v: &str) -> Result<u64, String> {
    let n = parse_memory(v)?;
    if n > i64::MAX as u64 {
        return Err(format!("argument must be between 0 and {} inclusive", i64::MAX));
    }
    Ok(n)
}

/// Finds a parameter (hidden ones included) by exact (case-insensitive)
/// name or alias. O(parameters).
pub fn param(name: &str) -> Option<&'static Param> {
    let name = ALIASES
        .iter()
        .chain(INERT_ALIASES)
        .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
        .map_or(name, |(_, n)| n);
    PARAMS.iter().chain(INERT_PARAMS).chain(HIDDEN_PARAMS).find(|p| p.name.eq_ignore_ascii_case(name))
}

impl Config {
    /// Sets one parameter by name (command line, config file, CONFIG SET).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let p = param(name).ok_or_else(|| format!("Bad directive or wrong number of arguments: '{name}'"))?;
        (p.set)(self, value)
    }

    /// `(name, value)` of every parameter matching a glob pattern, as
    /// Redis's `CONFIG GET`: a pattern without glob characters names one
    /// parameter (or alias, or hidden parameter), a glob matches names and
    /// aliases alike (never hidden parameters). O(parameters).
    pub fn matching(&self, pattern: &str) -> Vec<(&'static str, String)> {
        let shown = || PARAMS.iter().chain(INERT_PARAMS);
        let names = shown().map(|p| (p.name, p)).chain(
            ALIASES
                .iter()
                .chain(INERT_ALIASES)
                .filter_map(|(alias, name)| shown().find(|p| p.name == *name).map(|p| (*alias, p))),
        );
        let glob = pattern.contains(['*', '?', '[']);
        names
            .filter(|(n, _)| {
                if glob {
                    glob_match(pattern.as_bytes(), n.as_bytes(), true)
                } else {
                    n.eq_ignore_ascii_case(pattern)
                }
            })
            .map(|(n, p)| (n, (p.get)(self)))
            .chain(
                HIDDEN_PARAMS
                    .iter()
                    .filter(|p| !glob && p.name.eq_ignore_ascii_case(pattern))
                    .map(|p| (p.name, (p.get)(self))),
            )
            .collect()
    }

    /// The worker-thread count to build the runtime with: `threads` when
    /// set; otherwise `TOKIO_WORKER_THREADS` when set (None: tokio reads
    /// it); else half the CPUs this process may run on, at least one. On
    /// 2 CPUs with redis-benchmark beside the server, one worker served
    /// 1.16x the requests of two at P1 and 1.10x at P16 (geomean of 8
    /// workloads, same run, alternating), with half the P1 p99: a second
    /// worker mostly competes with the clients and the kernel's network
    /// work for the CPUs.
    pub fn worker_threads(&self) -> Option<usize> {
        if self.threads > 0 {
            return Some(self.threads);
        }
        default_worker_threads()
    }

    /// How many mutexes guard the keyspace's shards (see
    /// [`crate::db::keyspace`]): one when commands run on one worker
    /// thread, one per shard otherwise.
    pub fn keyspace_locks(&self) -> usize {
        let workers = self.worker_threads().unwrap_or_else(|| {
            let env = std::env::var("TOKIO_WORKER_THREADS").ok().and_then(|v| v.trim().parse().ok());
            env.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        });
        if workers <= 1 {
            1
        } else {
            crate::db::keyspace::SHARDS
        }
    }

    /// Publishes the settings other modules read without the config lock
    /// (the encoding thresholds, latency tracking, `rdb-key-save-delay`).
    /// Called by their
    /// setters, and again after `CONFIG SET` restores the previous settings.
    pub fn apply_encoding_limits(&self) {
        crate::db::value::set_listpack_limits(
            self.hash_max_listpack_entries,
            self.hash_max_listpack_value,
            self.list_max_listpack_size,
        );
        crate::db::set::set_max_intset_entries(self.set_max_intset_entries);
        crate::db::hll::set_sparse_max_bytes(self.hll_sparse_max_bytes);
        crate::db::zset::set_zset_listpack_limits(self.zset_max_listpack_entries, self.zset_max_listpack_value);
        crate::db::stream::set_node_limits(self.stream_node_max_bytes, self.stream_node_max_entries);
        crate::cmd::info::stats::set_latency_tracking(self.latency_tracking);
        crate::cmd::server::latency::set_threshold(self.latency_monitor_threshold);
        crate::cmd::server::slowlog::configure(self.slowlog_log_slower_than, self.slowlog_max_len);
        crate::pubsub::notify::set_flags(self.notify_keyspace_events);
        crate::server::tracking::set_max_keys(self.tracking_table_max_keys);
        crate::acl::set_pubsub_default(self.acl_pubsub_default == "allchannels");
        crate::persist::snapshot::set_rdb_key_save_delay(self.rdb_key_save_delay);
        crate::cmd::args::set_proto_max_bulk_len(self.proto_max_bulk_len);
        crate::server::idle_spin::set_limit_us(self.idle_spin_us);
    }

    /// Applies a redis.conf-syntax file's directives. Errors name the line.
    pub fn load_file_text(&mut self, text: &str) -> Result<(), String> {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let args = crate::protocol::inline::split_args(line.as_bytes())
                .ok_or_else(|| format!("line {}: unbalanced quotes", n + 1))?;
            let Some((name, rest)) = args.split_first() else { continue };
            let name = String::from_utf8_lossy(name).into_owned();
            let value = rest.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>().join(" ");
            self.set(&name, &value).map_err(|e| format!("line {} ('{}'): {}", n + 1, line, e))?;
        }
        Ok(())
    }
}

/// The worker-thread count when none is configured, for the data server
/// and the proxy alike: `None` when `TOKIO_WORKER_THREADS` is set (tokio
/// reads it), else half the CPUs this process may run on, at least one
/// (see [`Config::worker_threads`] for why half). O(1).
pub fn default_worker_threads() -> Option<usize> {
    if std::env::var_os("TOKIO_WORKER_THREADS").is_some() {
        return None;
    }
    Some(std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("100mb").unwrap(), 100 * 1024 * 1024);
        assert_eq!(parse_memory("1GB").unwrap(), 1 << 30);
        assert_eq!(parse_memory("5k").unwrap(), 5000);
        assert!(parse_memory("lots").is_err());
    }

    #[test]
    fn file_and_glob() {
        let mut c = Config::default();
        c.load_file_text("# comment\nport 7000\nmaxmemory 1mb\nsave \"\"\nmaxmemory-policy allkeys-lru\n").unwrap();
        assert_eq!(c.port, 7000);
        assert_eq!(c.maxmemory, 1 << 20);
        assert_eq!(c.save, "");
        // maxmemory, -policy, -samples, and the inert -clients, -eviction-tenacity.
        assert_eq!(c.matching("maxmemory*").len(), 5);
        assert!(c.load_file_text("nosuch 1").is_err());
        assert!(c.set("appendfsync", "sometimes").is_err());
    }

    #[test]
    fn hidden_params_need_their_exact_name() {
        let mut c = Config::default();
        c.set("key-load-delay", "-50").unwrap();
        assert_eq!(c.matching("key-load-delay"), vec![("key-load-delay", "-50".to_string())]);
        assert!(c.matching("key-load*").is_empty());
        assert!(c.matching("*").iter().all(|(n, _)| HIDDEN_PARAMS.iter().all(|p| p.name != *n)));
        assert_eq!(c.matching("KEY-LOAD-DELAY").len(), 1);
        assert!(c.set("key-load-delay", "2147483648").is_err());
        assert!(c.set("loading-process-events-interval-bytes", "100").is_err());
        c.set("loading-process-events-interval-bytes", "1024").unwrap();
    }
}
