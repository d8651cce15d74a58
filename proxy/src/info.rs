//! The proxy's INFO: its own `# Proxy` section, the `# Resharding`
//! section (`reshard/`), one `shardN:` line per server (its current
//! address, drain setting, replicas, status, keys, memory, clients,
//! request counts) from that server's own INFO, and the `# Keyspace`
//! summed per database. Every server is asked in parallel; one that cannot
//! answer shows as `status=down` or `ejected` with its last error.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use inmemory::protocol::Reply;
use tokio::sync::oneshot;

use crate::fanout::frame_of;
use crate::router::{reply_bytes, Flow, Router};

/// The value of `field:` in an INFO text.
fn info_field<'a>(text: &'a str, field: &str) -> Option<&'a str> {
    text.lines().find_map(|l| l.strip_prefix(field)?.strip_prefix(':')).map(|v| v.trim())
}

/// `keys=` and `expires=` of every `dbN:` line of an INFO text, by database.
pub(crate) fn db_counts(text: &str) -> BTreeMap<u32, (u64, u64)> {
    let mut out = BTreeMap::new();
    for l in text.lines() {
        let Some((db, line)) = l.strip_prefix("db").and_then(|r| r.split_once(':')) else { continue };
        let Ok(db) = db.parse::<u32>() else { continue };
        let get = |name: &str| {
            line.split(',').find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.trim().parse::<u64>().ok())
        };
        out.insert(db, (get("keys").unwrap_or(0), get("expires").unwrap_or(0)));
    }
    out
}

impl Router {
    /// INFO: the proxy's own section, per-shard summaries, summed keyspace.
    pub(crate) async fn info(&mut self, args: &[Bytes]) -> Flow {
        let want: Vec<String> = args[1..].iter().map(|s| String::from_utf8_lossy(s).to_ascii_lowercase()).collect();
        let all = want.is_empty() || want.iter().any(|s| matches!(s.as_str(), "all" | "everything" | "default"));
        let has = |s: &str| all || want.iter().any(|w| w == s);
        let proxy = has("proxy") || has("server");
        let (shards, keyspace, reshard) = (has("shards"), has("keyspace"), has("resharding"));
        let topo = self.topo.clone();
        let mut waiting = Vec::new();
        if shards || keyspace {
            for b in &topo.servers {
                let rx = if b.health.ejected.load(Ordering::Relaxed) {
                    let (tx, rx) = oneshot::channel();
                    let _ = tx.send(Err(format!("ERR server {} is ejected", b.label)));
                    rx
                } else {
                    let data = Bytes::from_static(b"*1\r\n$4\r\nINFO\r\n");
                    self.send(b, data, 1, true).await
                };
                waiting.push(rx);
            }
        }
        let c = self.cluster.clone();
        let mut head = String::new();
        if proxy {
            let st = &c.stats;
            let r = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
            let ae = c
                .auto_eject()
                .map_or("off".to_string(), |a| format!("failures={},retry_ms={}", a.failures, a.retry_ms));
            let sentinel = c.sentinel_setting().map_or("off".to_string(), |(s, _)| s.addrs.join(","));
            let link = st.sentinel_link.lock().ok().and_then(|l| l.clone()).unwrap_or_else(|| "none".into());
            let _ = write!(
                head,
                "# Proxy\r\nproxy_version:{}\r\nredis_version:{}\r\nredis_mode:standalone\r\nprocess_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{}\r\nconnected_clients:{}\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\nconfig_file:{}\r\nconfig_reloads:{}\r\nconfig_reload_failures:{}\r\nservers:{}\r\nservers_on_ring:{}\r\nring_points:{}\r\nconns_per_server:{}\r\nauto_eject:{ae}\r\nejections:{}\r\nsentinel:{sentinel}\r\nsentinel_link:{link}\r\nsentinel_switches:{}\r\nread_from:{}\r\n\r\n",
                env!("CARGO_PKG_VERSION"),
                inmemory::cmd::connection::REDIS_VERSION,
                std::process::id(),
                c.port,
                c.started.elapsed().as_secs(),
                r(&st.clients),
                r(&st.connections_received),
                r(&st.commands),
                c.path,
                r(&st.reloads),
                r(&st.reload_failures),
                topo.servers.len(),
                topo.on_ring.len(),
                topo.points(),
                c.conns,
                r(&st.ejections),
                r(&st.sentinel_switches),
                if c.read_from_replica.load(Ordering::Relaxed) { "replica" } else { "primary" },
            );
        }
        let proto = self.proto;
        self.later(async move {
            let mut shard_text = String::from("# Shards\r\n");
            let mut dbs: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
            for (i, rx) in waiting.into_iter().enumerate() {
                let b = &topo.servers[i];
                let _ = write!(
                    shard_text,
                    "shard{i}:id={},addr={},weight={},drain={},replicas={},replica_reads={},requests={},errors={},open_conns={},",
                    b.spec.id(),
                    b.spec.addr,
                    topo.weights[i],
                    u8::from(topo.drained[i]),
                    b.spec.replicas.join("|"),
                    b.replicas.iter().map(|r| r.stats.requests.load(Ordering::Relaxed)).sum::<u64>(),
                    b.stats.requests.load(Ordering::Relaxed),
                    b.stats.errors.load(Ordering::Relaxed),
                    b.open_conns(),
                );
                match frame_of(rx).await.map(|f| f.text().map(|t| String::from_utf8_lossy(t).into_owned())) {
                    Ok(Some(t)) => {
                        let (mut k, mut e) = (0, 0);
                        for (db, (dk, de)) in db_counts(&t) {
                            let sum = dbs.entry(db).or_default();
                            sum.0 += dk;
                            sum.1 += de;
                            k += dk;
                            e += de;
                        }
                        let f = |n| info_field(&t, n).unwrap_or("?").to_string();
                        let _ = write!(
                            shard_text,
                            "status=up,keys={k},expires={e},used_memory={},connected_clients={},uptime_in_seconds={}\r\n",
                            f("used_memory"),
                            f("connected_clients"),
                            f("uptime_in_seconds")
                        );
                    }
                    Ok(None) | Err(_) => {
                        let status = if b.health.ejected.load(Ordering::Relaxed) { "ejected" } else { "down" };
                        let err = b.health.last_error().replace([',', '\r', '\n'], " ");
                        let _ = write!(shard_text, "status={status},last_error={err}\r\n");
                    }
                }
            }
            let mut text = head;
            if reshard {
                text.push_str(&c.reshard.info());
            }
            if shards {
                text.push_str(&shard_text);
                text.push_str("\r\n");
            }
            if keyspace {
                text.push_str("# Keyspace\r\n");
                for (db, (keys, expires)) in dbs.into_iter().filter(|(_, (k, _))| *k > 0) {
                    let _ = write!(text, "db{db}:keys={keys},expires={expires},avg_ttl=0\r\n");
                }
                text.push_str("\r\n");
            }
            let text = text.trim_end_matches("\r\n").to_string() + "\r\n";
            reply_bytes(&Reply::Verbatim(Bytes::from(text)), proto)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_parsing() {
        let t = "# Server\r\nredis_version:7.0.0\r\n# Keyspace\r\ndb0:keys=12,expires=3,avg_ttl=0\r\ndb1:keys=1,expires=0,avg_ttl=0\r\n";
        assert_eq!(info_field(t, "redis_version"), Some("7.0.0"));
        let dbs = db_counts(t);
        assert_eq!(dbs.get(&0), Some(&(12, 3)));
        assert_eq!(dbs.get(&1), Some(&(1, 0)));
        assert_eq!(dbs.len(), 2);
        assert!(db_counts("# Keyspace\r\n").is_empty());
    }
}
