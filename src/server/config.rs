//! Server settings: one table of parameters, read by the command line, the
//! config file (redis.conf syntax) and `CONFIG GET/SET`, so every setting has
//! one name and one parser. The values live in [`Config`] (here); the table
//! that names, renders and parses them is `config_params.rs`.

use std::path::PathBuf;

use super::config_inert::{INERT_ALIASES, INERT_PARAMS};
pub use super::config_params::{param, parse_memory, Param, ALIASES, HIDDEN_PARAMS, PARAMS};
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
