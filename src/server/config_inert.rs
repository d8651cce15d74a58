//! Redis 7.0 parameters this server accepts, validates and shows, but does
//! not act on (threads, defragmentation, cluster, the replication knobs not
//! implemented, process and OS knobs). Clients and tools read them with `CONFIG
//! GET` (`redis-cli --stat`, client libraries probing `cluster-enabled`,
//! test suites saving and restoring every value), and redis.conf files and
//! `redis-server` command lines name them; refusing them would break those
//! for nothing. Setting one changes only what `CONFIG GET` shows; the README
//! lists them all, so nothing is silently given another meaning.

use super::config::Config;
use super::config_params::{one_of, parse_bool, parse_memory, parse_num, yes_no, Param};

/// How a value is checked and stored (normalized as Redis shows it).
#[derive(Clone, Copy)]
pub enum Kind {
    /// `yes` / `no`.
    Bool,
    /// A signed integer.
    Int,
    /// A byte count with Redis's units (`1mb`), shown in bytes.
    Memory,
    /// Free text.
    Text,
    /// One of the listed words.
    Enum(&'static [&'static str]),
    /// A byte count or a percentage of `maxmemory` up to 100%.
    MemoryOrPercent,
}

/// Checks `v` as `kind` and returns the value to show.
pub fn check(kind: Kind, v: &str) -> Result<String, String> {
    match kind {
        Kind::Bool => parse_bool(v).map(yes_no),
        Kind::Int => parse_num::<i64>(v).map(|n| n.to_string()),
        Kind::Memory => parse_memory(v).map(|n| n.to_string()),
        Kind::Text => Ok(v.to_string()),
        Kind::Enum(opts) => one_of(v, opts),
        Kind::MemoryOrPercent => match v.strip_suffix('%') {
            Some(p) => {
                let n: u64 = p.parse().map_err(|_| "argument must be a memory or percent value".to_string())?;
                if n > 100 {
                    return Err("percentage argument must be less or equal to 100".into());
                }
                Ok(v.to_string())
            }
            None => parse_memory(v).map(|n| n.to_string()),
        },
    }
}

/// One inert parameter's row: name, default, kind, settable at run time.
macro_rules! inert {
    ($name:expr, $default:expr, $kind:expr, $mutable:expr) => {
        Param {
            name: $name,
            get: |c: &Config| c.inert.get($name).cloned().unwrap_or_else(|| $default.to_string()),
            set: |c: &mut Config, v: &str| {
                let shown = check($kind, v)?;
                c.inert.insert($name, shown);
                Ok(())
            },
            mutable: $mutable,
        }
    };
}

use Kind::*;

const SHUTDOWN_SIGNAL: Kind = Enum(&["default", "save", "nosave", "now", "force"]);

/// Every inert parameter, with Redis 7.0.15's default.
pub static INERT_PARAMS: &[Param] = &[
    inert!("active-defrag-cycle-max", "25", Int, true),
    inert!("active-defrag-cycle-min", "1", Int, true),
    inert!("active-defrag-ignore-bytes", "104857600", Memory, true),
    inert!("active-defrag-max-scan-fields", "1000", Int, true),
    inert!("active-defrag-threshold-lower", "10", Int, true),
    inert!("active-defrag-threshold-upper", "100", Int, true),
    inert!("active-expire-effort", "1", Int, true),
    inert!("activedefrag", "no", Bool, true),
    inert!("activerehashing", "yes", Bool, true),
    inert!("always-show-logo", "no", Bool, false),
    inert!("aof-disable-auto-gc", "no", Bool, true),
    inert!("aof-rewrite-incremental-fsync", "yes", Bool, true),
    inert!("aof-timestamp-enabled", "no", Bool, true),
    inert!("aof_rewrite_cpulist", "", Text, false),
    inert!("bgsave_cpulist", "", Text, false),
    inert!("bind-source-addr", "", Text, true),
    inert!("bio_cpulist", "", Text, false),
    inert!("cluster-allow-pubsubshard-when-down", "yes", Bool, true),
    inert!("cluster-allow-reads-when-down", "no", Bool, true),
    inert!("cluster-allow-replica-migration", "yes", Bool, true),
    inert!("cluster-announce-bus-port", "0", Int, true),
    inert!("cluster-announce-hostname", "", Text, true),
    inert!("cluster-announce-ip", "", Text, true),
    inert!("cluster-announce-port", "0", Int, true),
    inert!("cluster-announce-tls-port", "0", Int, true),
    inert!("cluster-config-file", "nodes.conf", Text, false),
    inert!("cluster-enabled", "no", Bool, false),
    inert!("cluster-link-sendbuf-limit", "0", Memory, true),
    inert!("cluster-migration-barrier", "1", Int, true),
    inert!("cluster-node-timeout", "15000", Int, true),
    inert!("cluster-port", "0", Int, false),
    inert!("cluster-preferred-endpoint-type", "ip", Enum(&["ip", "hostname", "unknown-endpoint"]), true),
    inert!("cluster-replica-no-failover", "no", Bool, true),
    inert!("cluster-replica-validity-factor", "10", Int, true),
    inert!("cluster-require-full-coverage", "yes", Bool, true),
    inert!("crash-log-enabled", "yes", Bool, true),
    inert!("crash-memcheck-enabled", "yes", Bool, true),
    inert!("disable-thp", "yes", Bool, false),
    inert!("dynamic-hz", "yes", Bool, true),
    inert!("enable-module-command", "no", Enum(&["no", "yes", "local"]), false),
    inert!("enable-protected-configs", "no", Enum(&["no", "yes", "local"]), false),
    inert!("ignore-warnings", "", Text, true),
    inert!("io-threads", "1", Int, false),
    inert!("io-threads-do-reads", "no", Bool, false),
    inert!("jemalloc-bg-thread", "yes", Bool, true),
    inert!("lazyfree-lazy-eviction", "no", Bool, true),
    inert!("lazyfree-lazy-expire", "no", Bool, true),
    inert!("lazyfree-lazy-server-del", "no", Bool, true),
    inert!("lazyfree-lazy-user-del", "no", Bool, true),
    inert!("maxmemory-clients", "0", MemoryOrPercent, true),
    inert!("maxmemory-eviction-tenacity", "10", Int, true),
    inert!("no-appendfsync-on-rewrite", "no", Bool, true),
    inert!("oom-score-adj", "no", Enum(&["no", "yes", "relative", "absolute"]), true),
    inert!("oom-score-adj-values", "0 200 800", Text, true),
    inert!("pidfile", "", Text, false),
    inert!("proc-title-template", "{title} {listen-addr} {server-mode}", Text, true),
    inert!("propagation-error-behavior", "ignore", Enum(&["ignore", "panic", "panic-on-replicas"]), true),
    inert!("rdb-del-sync-files", "no", Bool, true),
    inert!("rdb-save-incremental-fsync", "yes", Bool, true),
    inert!("repl-disable-tcp-nodelay", "no", Bool, true),
    inert!("replica-announce-ip", "", Text, true),
    inert!("replica-announce-port", "0", Int, true),
    inert!("replica-announced", "yes", Bool, true),
    inert!("replica-ignore-disk-write-errors", "no", Bool, true),
    inert!("replica-ignore-maxmemory", "yes", Bool, true),
    inert!("replica-lazy-flush", "no", Bool, true),
    inert!("replica-priority", "100", Int, true),
    inert!("sanitize-dump-payload", "no", Enum(&["no", "yes", "clients"]), true),
    inert!("server_cpulist", "", Text, false),
    inert!("set-proc-title", "yes", Bool, false),
    inert!("shutdown-on-sigint", "default", SHUTDOWN_SIGNAL, true),
    inert!("shutdown-on-sigterm", "default", SHUTDOWN_SIGNAL, true),
    inert!("shutdown-timeout", "10", Int, true),
    inert!("socket-mark-id", "0", Int, true),
    inert!("supervised", "no", Enum(&["upstart", "systemd", "auto", "no"]), false),
    inert!("syslog-enabled", "no", Bool, false),
    inert!("syslog-facility", "local0", Text, false),
    inert!("syslog-ident", "redis", Text, false),
    inert!("tcp-backlog", "511", Int, false),
    inert!("tls-ca-cert-dir", "", Text, true),
    inert!("tls-ciphers", "", Text, true),
    inert!("tls-ciphersuites", "", Text, true),
    inert!("tls-client-cert-file", "", Text, true),
    inert!("tls-client-key-file", "", Text, true),
    inert!("tls-client-key-file-pass", "", Text, true),
    inert!("tls-cluster", "no", Bool, true),
    inert!("tls-dh-params-file", "", Text, true),
    inert!("tls-key-file-pass", "", Text, true),
    inert!("tls-prefer-server-ciphers", "no", Bool, true),
    inert!("tls-protocols", "", Text, true),
    inert!("tls-replication", "no", Bool, true),
    inert!("tls-session-cache-size", "20480", Int, true),
    inert!("tls-session-cache-timeout", "300", Int, true),
    inert!("tls-session-caching", "yes", Bool, true),
    inert!("unixsocket", "", Text, false),
    inert!("unixsocketperm", "0", Int, false),
];

/// Redis's older names of inert parameters (`alias`, `name`).
pub static INERT_ALIASES: &[(&str, &str)] = &[
    ("cluster-slave-no-failover", "cluster-replica-no-failover"),
    ("cluster-slave-validity-factor", "cluster-replica-validity-factor"),
    ("min-slaves-max-lag", "min-replicas-max-lag"),
    ("min-slaves-to-write", "min-replicas-to-write"),
    ("repl-ping-slave-period", "repl-ping-replica-period"),
    ("slave-announce-ip", "replica-announce-ip"),
    ("slave-announce-port", "replica-announce-port"),
    ("slave-ignore-maxmemory", "replica-ignore-maxmemory"),
    ("slave-lazy-flush", "replica-lazy-flush"),
    ("slave-priority", "replica-priority"),
    ("slave-read-only", "replica-read-only"),
    ("slave-serve-stale-data", "replica-serve-stale-data"),
    ("slaveof", "replicaof"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_and_normalized_as_redis_shows_them() {
        assert_eq!(check(Kind::Bool, "YES").as_deref(), Ok("yes"));
        assert!(check(Kind::Bool, "maybe").is_err());
        assert_eq!(check(Kind::Memory, "1mb").as_deref(), Ok("1048576"));
        assert!(check(Kind::Int, "x").is_err());
        assert_eq!(
            check(Kind::MemoryOrPercent, "200%"),
            Err("percentage argument must be less or equal to 100".to_string())
        );
        assert_eq!(check(Kind::MemoryOrPercent, "50%").as_deref(), Ok("50%"));
    }

    #[test]
    fn every_inert_parameter_shows_its_default_and_takes_it_back() {
        let mut c = Config::default();
        for p in INERT_PARAMS {
            let v = (p.get)(&c);
            (p.set)(&mut c, &v).unwrap_or_else(|e| panic!("{}: {e}", p.name));
            assert_eq!((p.get)(&c), v, "{}", p.name);
        }
    }
}
