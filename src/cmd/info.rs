//! INFO: the server's report, with Redis's section and field names so
//! monitoring tools and client libraries read it unchanged.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use super::connection::REDIS_VERSION;
use crate::server::Server;

pub mod stats;

/// Sections INFO prints with no argument (Redis's "default" set).
const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
];

/// Resident set size of this process in bytes, from /proc (0 where unavailable).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .map_or(0, |pages| pages * 4096)
}

/// Bytes in Redis's human format (`1.50M`).
pub fn human_bytes(n: u64) -> String {
    let f = n as f64;
    if f < 1024.0 {
        format!("{n}B")
    } else if f < 1024.0 * 1024.0 {
        format!("{:.2}K", f / 1024.0)
    } else if f < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}M", f / 1024.0 / 1024.0)
    } else {
        format!("{:.2}G", f / 1024.0 / 1024.0 / 1024.0)
    }
}

fn cpu_times() -> (f64, f64) {
    // /proc/self/stat fields 14 and 15: utime and stime in clock ticks (100 Hz).
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = s.rsplit_once(')').map_or("", |x| x.1);
    let f: Vec<&str> = after.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (get(11), get(12))
}

/// Renders the requested sections (`all`, `everything`, `default`, or names).
/// `db_sizes` gives (keys, keys with a TTL) per database; `None` reads them
/// from the keyspace, locking each shard in turn, so a caller that already
/// holds shard locks (INFO inside EXEC) must pass them. O(shards × databases).
pub fn render(srv: &Server, sections: &[String], db_sizes: Option<Vec<(usize, usize)>>) -> String {
    let want: Vec<String> = if sections.is_empty() {
        DEFAULT_SECTIONS.iter().map(|s| s.to_string()).collect()
    } else if sections.iter().any(|s| s == "all" || s == "everything") {
        let mut v: Vec<String> = DEFAULT_SECTIONS.iter().map(|s| s.to_string()).collect();
        v.extend(["commandstats", "latencystats"].map(String::from));
        v
    } else if sections.iter().any(|s| s == "default") {
        let mut v: Vec<String> = DEFAULT_SECTIONS.iter().map(|s| s.to_string()).collect();
        v.extend(sections.iter().cloned());
        v
    } else {
        sections.to_vec()
    };
    let has = |s: &str| want.iter().any(|w| w == s);
    let cfg = srv.config.read().clone();
    let ks = &srv.keyspace;
    let mut o = String::new();
    let uptime = srv.started.elapsed().as_secs();
    if has("server") {
        let _ = write!(
            o,
            "# Server\r\nredis_version:{REDIS_VERSION}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:{}\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:inmemory-server\r\nconfig_file:\r\nio_threads_active:0\r\ninmemory_version:{}\r\n\r\n",
            std::env::consts::OS,
            std::env::consts::ARCH,
            usize::BITS,
            std::process::id(),
            srv.run_id,
            cfg.port,
            crate::db::now_us(),
            uptime,
            uptime / 86400,
            cfg.hz,
            cfg.hz,
            crate::db::lru_clock(),
            env!("CARGO_PKG_VERSION"),
        );
    }
    if has("clients") {
        let _ = write!(
            o,
            "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nclient_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:{}\r\ntracking_clients:{}\r\nclients_in_timeout_table:0\r\n\r\n",
            srv.clients.len(),
            cfg.maxclients,
            srv.clients.blocked(),
            srv.tracking.stats().0,
        );
    }
    if has("memory") {
        let rss = rss_bytes();
        let used = crate::server::used_memory(srv);
        let (scripts, lua, script_bytes) = srv.scripting.memory_stats();
        let (libraries, functions) = srv.scripting.function_counts();
        let vm_functions = srv.scripting.functions_vm_memory();
        let (lazy_pending, lazy_freed) = (crate::db::lazyfree::pending(), crate::db::lazyfree::freed());
        let _ = write!(
            o,
            "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{used}\r\nused_memory_peak_human:{}\r\nused_memory_lua:{lua}\r\nused_memory_vm_eval:{lua}\r\nused_memory_lua_human:{}\r\nused_memory_scripts_eval:{script_bytes}\r\nnumber_of_cached_scripts:{scripts}\r\nnumber_of_functions:{functions}\r\nnumber_of_libraries:{libraries}\r\nused_memory_vm_functions:{vm_functions}\r\nused_memory_vm_total:{}\r\nused_memory_functions:0\r\nused_memory_scripts:{script_bytes}\r\nmaxmemory:{}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nmem_fragmentation_ratio:{:.2}\r\nmem_allocator:libc\r\nmem_not_counted_for_evict:0\r\nlazyfree_pending_objects:{lazy_pending}\r\nlazyfreed_objects:{lazy_freed}\r\n\r\n",
            human_bytes(used),
            human_bytes(rss),
            human_bytes(used),
            human_bytes(lua as u64),
            lua + vm_functions,
            cfg.maxmemory,
            human_bytes(cfg.maxmemory),
            cfg.maxmemory_policy,
            if used > 0 { rss as f64 / used as f64 } else { 1.0 },
        );
    }
    if has("persistence") {
        o.push_str(&crate::server::persistence_info(srv));
    }
    if has("stats") {
        let st = &srv.stats;
        let (ps_channels, ps_patterns, ps_shard) = srv.pubsub.counts();
        let (_, tracked_keys, tracked_items, tracked_prefixes) = srv.tracking.stats();
        let r = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let _ = write!(
            o,
            "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:0\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\nmigrate_cached_sockets:{}\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\ntotal_error_replies:{}\r\n{}\r\n",
            r(&st.connections_received),
            st.commands_processed.get(),
            r(&st.net_input_bytes),
            r(&st.net_output_bytes),
            r(&st.rejected_connections),
            r(&ks.stats.expired),
            r(&ks.stats.evicted),
            ks.stats.hits.get(),
            ks.stats.misses.get(),
            ps_channels,
            ps_patterns,
            ps_shard,
            super::dump::cached_sockets(),
            tracked_keys,
            tracked_items,
            tracked_prefixes,
            r(&st.error_replies),
            crate::replication::stats_info(srv),
        );
    }
    if has("replication") {
        o.push_str(&crate::replication::info(srv));
    }
    if has("cpu") {
        let (u, s) = cpu_times();
        let _ = write!(o, "# CPU\r\nused_cpu_sys:{s:.6}\r\nused_cpu_user:{u:.6}\r\n\r\n");
    }
    if has("modules") {
        o.push_str("# Modules\r\n\r\n");
    }
    if has("commandstats") {
        o.push_str("# Commandstats\r\n");
        stats::commandstats(&mut o);
        o.push_str("\r\n");
    }
    if has("errorstats") {
        o.push_str("# Errorstats\r\n");
        stats::errorstats(&mut o);
        o.push_str("\r\n");
    }
    if has("latencystats") {
        o.push_str("# Latencystats\r\n");
        stats::latencystats(&mut o, &cfg.latency_tracking_info_percentiles);
        o.push_str("\r\n");
    }
    if has("cluster") {
        o.push_str("# Cluster\r\ncluster_enabled:0\r\n\r\n");
    }
    if has("keyspace") {
        o.push_str("# Keyspace\r\n");
        for (i, (keys, expires)) in db_sizes.unwrap_or_else(|| ks.db_sizes()).into_iter().enumerate() {
            if keys > 0 {
                let _ = write!(o, "db{i}:keys={keys},expires={expires},avg_ttl=0\r\n");
            }
        }
        o.push_str("\r\n");
    }
    while o.ends_with("\r\n\r\n") {
        o.truncate(o.len() - 2);
    }
    o
}
