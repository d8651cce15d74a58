//! The parameter table behind [`super::config::Config`]: each setting's
//! name, how it renders, how a value for it is parsed and checked (with
//! Redis's error texts), and whether `CONFIG SET` may change it; plus the
//! value parsers shared with other modules (`parse_memory`).

use std::path::PathBuf;

use super::config::Config;
use super::config_inert::{INERT_ALIASES, INERT_PARAMS};

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
