//! The proxy's shared state: the current server list and ring
//! ([`Topology`]), swapped whole on every change, and the counters INFO shows.
//!
//! Requests read the topology through an `Arc`: a reload or an ejection
//! builds a new one and swaps it in, so a request already routed finishes on
//! the server it was sent to while the next request sees the new ring.
//! Backends whose entry did not change (same address, name, TLS and
//! password) are carried over with their open connections; a weight change
//! only rebuilds the ring. Every swap is announced on a watch channel
//! ([`Cluster::topology_changes`]) for state that must follow the ring
//! (subscriptions, `pubsub/`).
//!
//! With a `"sentinel"` setting, the addresses Sentinel reported for named
//! servers are kept as overrides (name → address) layered over every list
//! applied, so a later reload of the file does not send a server back to a
//! dead primary's address; the ring does not move (the name is the
//! identity), only that server's backend is rebuilt (`sentinel.rs`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::config::{AutoEject, ClusterConfig, SentinelSpec, ServerSpec};
use crate::pool::Backend;
use crate::reshard::{Reshard, ReshardOptions};
use crate::ring::Ring;
use crate::scripts::ScriptCache;

/// One version of the server list and its ring.
pub struct Topology {
    /// Every configured server, in file order.
    pub servers: Vec<Arc<Backend>>,
    /// Each server's weight (same order).
    pub weights: Vec<u32>,
    /// Each server's drain setting (same order): off the ring, still reachable.
    pub drained: Vec<bool>,
    /// Indexes (into `servers`) of the servers on the ring: all but the
    /// ejected and the drained.
    pub on_ring: Vec<usize>,
    ring: Ring,
    /// Increases with every new topology.
    pub generation: u64,
}

impl Topology {
    fn build(servers: Vec<Arc<Backend>>, weights: Vec<u32>, drained: Vec<bool>, generation: u64) -> Topology {
        let on_ring: Vec<usize> =
            (0..servers.len()).filter(|&i| !servers[i].health.ejected.load(Ordering::Relaxed) && !drained[i]).collect();
        let ring = Ring::new(on_ring.iter().map(|&i| (i, servers[i].spec.id(), weights[i])));
        Topology { servers, weights, drained, on_ring, ring, generation }
    }

    /// A topology with no server (placeholders).
    pub fn empty() -> Topology {
        Topology::build(Vec::new(), Vec::new(), Vec::new(), 0)
    }

    /// The ring's membership: each on-ring server's id and weight, in file
    /// order. Two topologies with the same membership route every key alike.
    pub fn membership(&self) -> Vec<(&str, u32)> {
        self.on_ring.iter().map(|&i| (self.servers[i].spec.id(), self.weights[i])).collect()
    }

    /// The server whose ring identity is `id`. O(servers).
    pub fn by_id(&self, id: &str) -> Option<&Arc<Backend>> {
        self.servers.iter().find(|b| b.spec.id() == id)
    }

    /// The server holding `key`; `None` when no server is on the ring. O(log points).
    pub fn route(&self, key: &[u8]) -> Option<&Arc<Backend>> {
        self.ring.route(key).and_then(|i| self.servers.get(i))
    }

    /// The servers that may hold keys, in file order: all but the ejected,
    /// drained ones included (fan-outs and SCAN walk these, so a key still
    /// on a draining server is counted, listed and flushed).
    pub fn live(&self) -> impl Iterator<Item = &Arc<Backend>> + '_ {
        self.servers.iter().filter(|b| !b.health.ejected.load(Ordering::Relaxed))
    }

    /// The servers on the ring, in file order.
    pub fn ring_servers(&self) -> impl Iterator<Item = &Arc<Backend>> + '_ {
        self.on_ring.iter().filter_map(|&i| self.servers.get(i))
    }

    /// Number of points on the ring.
    pub fn points(&self) -> usize {
        self.ring.points()
    }
}

/// Counters for INFO.
#[derive(Debug, Default)]
pub struct ProxyStats {
    /// Clients connected now.
    pub clients: AtomicU64,
    /// Client connections accepted since start.
    pub connections_received: AtomicU64,
    /// Commands received.
    pub commands: AtomicU64,
    /// Server lists applied (the first load included).
    pub reloads: AtomicU64,
    /// Server lists refused.
    pub reload_failures: AtomicU64,
    /// Servers ejected by auto_eject so far.
    pub ejections: AtomicU64,
    /// Master switches applied from Sentinel (`+switch-master` or a lookup
    /// that found a new address).
    pub sentinel_switches: AtomicU64,
    /// The Sentinel the proxy is subscribed to now, if any (INFO).
    pub sentinel_link: Mutex<Option<String>>,
}

/// The proxy's settings from the command line.
pub struct ClusterOptions {
    /// Connections per server and protocol (`--conns`).
    pub conns: usize,
    /// Longest server silence while requests are in flight (`--timeout`).
    pub timeout: Duration,
    /// The servers.json path (`--servers`).
    pub path: String,
    /// `--requirepass`.
    pub requirepass: Option<String>,
    /// The port listened on.
    pub port: u16,
    /// Client configuration for `"tls": true` servers.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Pace of the background key migration.
    pub reshard: ReshardOptions,
}

/// Everything the client sessions share.
pub struct Cluster {
    topo: RwLock<Arc<Topology>>,
    generation: AtomicU64,
    /// The generation, for tasks that must act when the ring changes (subscribers, `pubsub/`).
    changes: watch::Sender<u64>,
    auto_eject: Mutex<Option<AutoEject>>,
    /// The last list read from the file, before Sentinel's overrides.
    file: Mutex<ClusterConfig>,
    /// Sentinel's addresses for named servers, layered over `file`.
    overrides: Mutex<HashMap<String, String>>,
    /// Bumped on every list applied from the file (not on Sentinel's
    /// switches): the Sentinel task re-asks for every master then.
    file_changes: watch::Sender<u64>,
    /// Connections per server and protocol (`--conns`).
    pub conns: usize,
    /// Longest server silence while requests are in flight.
    pub timeout: Duration,
    /// The servers.json path being watched.
    pub path: String,
    /// `--requirepass`, if any.
    pub requirepass: Option<String>,
    /// Counters.
    pub stats: ProxyStats,
    /// Process start.
    pub started: Instant,
    /// The TCP port listened on.
    pub port: u16,
    /// Client configuration for `"tls": true` servers (`None`: such entries are refused).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Lua script bodies seen, by SHA1 (`scripts.rs`).
    pub scripts: ScriptCache,
    /// Keys still to move after ring changes, and their previous owners (`reshard/`).
    pub reshard: Reshard,
    /// `"read_from": "replica"`: read-only commands go to a replica of their server.
    pub read_from_replica: std::sync::atomic::AtomicBool,
    next_client: AtomicU64,
}

impl Cluster {
    /// State for an initial, already validated server list.
    pub fn new(cfg: ClusterConfig, opts: ClusterOptions) -> Arc<Cluster> {
        let ClusterOptions { conns, timeout, path, requirepass, port, tls, reshard } = opts;
        let servers: Vec<Arc<Backend>> =
            cfg.servers.iter().map(|s| Arc::new(Backend::new(s.clone(), conns, timeout, tls.clone()))).collect();
        let weights = cfg.servers.iter().map(|s| s.weight).collect();
        let drained = cfg.servers.iter().map(|s| s.drained()).collect();
        let topo = Arc::new(Topology::build(servers, weights, drained, 1));
        let c = Arc::new(Cluster {
            reshard: Reshard::new(reshard, &topo),
            read_from_replica: std::sync::atomic::AtomicBool::new(cfg.read_from_replica),
            topo: RwLock::new(topo),
            generation: AtomicU64::new(1),
            changes: watch::Sender::new(1),
            auto_eject: Mutex::new(cfg.auto_eject),
            file: Mutex::new(cfg),
            overrides: Mutex::new(HashMap::new()),
            file_changes: watch::Sender::new(1),
            conns,
            timeout,
            path,
            requirepass,
            stats: ProxyStats::default(),
            started: Instant::now(),
            port,
            tls,
            scripts: ScriptCache::default(),
            next_client: AtomicU64::new(1),
        });
        c.stats.reloads.fetch_add(1, Ordering::Relaxed);
        c
    }

    /// A new client id.
    pub fn client_id(&self) -> u64 {
        self.next_client.fetch_add(1, Ordering::Relaxed)
    }

    /// The topology in force. O(1).
    pub fn topology(&self) -> Arc<Topology> {
        match self.topo.read() {
            Ok(t) => t.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The current topology's generation (cheap check before [`Cluster::topology`]).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A receiver that wakes on every new topology (reload, ejection,
    /// return to the ring). O(1).
    pub fn topology_changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn swap(&self, make: impl FnOnce(&Topology, u64) -> Topology) {
        self.swap_then(make, |_, _| {});
    }

    /// Swaps in the topology `make` builds; `before_visible` sees the old
    /// and the new one while no request can read either (resharding's
    /// plan must be in force before a request routes by the new ring).
    fn swap_then(
        &self,
        make: impl FnOnce(&Topology, u64) -> Topology,
        before_visible: impl FnOnce(&Arc<Topology>, &Topology),
    ) {
        let mut g = match self.topo.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let gen = g.generation + 1;
        let new = make(&g, gen);
        before_visible(&g, &new);
        *g = Arc::new(new);
        self.generation.store(gen, Ordering::Release);
        drop(g);
        self.changes.send_replace(gen);
    }

    /// Applies a validated server list read from the file, under the
    /// Sentinel overrides still relevant (dropped for servers no longer
    /// named in it, all dropped without `"sentinel"`): unchanged servers
    /// keep their connections, removed ones get no new requests, added ones
    /// start empty. O(servers + ring points).
    ///
    /// When the ring's membership changed, resharding starts (`reshard/`):
    /// keys whose owner changed are found on their previous owner and moved.
    pub fn apply(&self, cfg: ClusterConfig) {
        // Lock order: file, overrides, topology; held through the swap so
        // a Sentinel switch and a reload cannot install stale lists.
        let mut file = lock(&self.file);
        {
            let mut ov = lock(&self.overrides);
            if cfg.sentinel.is_none() {
                ov.clear();
            } else {
                ov.retain(|name, _| cfg.servers.iter().any(|s| s.name.as_deref() == Some(name)));
            }
            self.install(layer(&cfg, &ov), true);
        }
        *file = cfg;
        drop(file);
        self.stats.reloads.fetch_add(1, Ordering::Relaxed);
        self.file_changes.send_modify(|g| *g += 1);
    }

    /// A receiver that wakes on every list applied from the file. O(1).
    pub fn file_changes(&self) -> watch::Receiver<u64> {
        self.file_changes.subscribe()
    }

    /// The `"sentinel"` setting of the list in force, and the names of the
    /// servers it follows (file order).
    pub fn sentinel_setting(&self) -> Option<(SentinelSpec, Vec<String>)> {
        let f = lock(&self.file);
        let names = f.servers.iter().filter_map(|s| s.name.clone()).collect();
        f.sentinel.clone().map(|sn| (sn, names))
    }

    /// Points the named server at `addr` (as Sentinel reported), keeping
    /// it over later reloads. Returns the address it had when that
    /// changed, `None` when it was already there or no server has that
    /// name. O(servers + ring points) on a change, O(servers) otherwise.
    pub fn set_master_addr(&self, name: &str, addr: &str) -> Option<String> {
        let file = lock(&self.file);
        let spec = file.servers.iter().find(|s| s.name.as_deref() == Some(name))?;
        let mut ov = lock(&self.overrides);
        let old = ov.insert(name.to_string(), addr.to_string()).unwrap_or_else(|| spec.addr.clone());
        if old == addr {
            return None;
        }
        self.install(layer(&file, &ov), false);
        self.stats.sentinel_switches.fetch_add(1, Ordering::Relaxed);
        Some(old)
    }

    /// Swaps in `cfg` as it is (overrides already layered); with
    /// `reshard`, a membership change starts a migration.
    fn install(&self, cfg: ClusterConfig, reshard: bool) {
        let same = |a: &ServerSpec, b: &ServerSpec| {
            a.addr == b.addr
                && a.name == b.name
                && a.tls == b.tls
                && a.password == b.password
                && a.replicas == b.replicas
        };
        self.read_from_replica.store(cfg.read_from_replica, Ordering::Relaxed);
        if let Ok(mut a) = self.auto_eject.lock() {
            *a = cfg.auto_eject;
        }
        let (conns, timeout, tls) = (self.conns, self.timeout, &self.tls);
        let changed = |before: &Arc<Topology>, after: &Topology| {
            if reshard {
                self.reshard.ring_changed(before, after);
            }
        };
        self.swap_then(
            |old, gen| {
                let servers: Vec<Arc<Backend>> = cfg
                    .servers
                    .iter()
                    .map(|s| {
                        let reused = old.servers.iter().find(|b| same(&b.spec, s)).cloned();
                        reused.unwrap_or_else(|| Arc::new(Backend::new(s.clone(), conns, timeout, tls.clone())))
                    })
                    .collect();
                if cfg.auto_eject.is_none() {
                    for b in &servers {
                        b.health.ejected.store(false, Ordering::Relaxed);
                    }
                }
                let weights = cfg.servers.iter().map(|s| s.weight).collect();
                let drained = cfg.servers.iter().map(|s| s.drained()).collect();
                Topology::build(servers, weights, drained, gen)
            },
            changed,
        );
    }

    /// The auto_eject setting in force.
    pub fn auto_eject(&self) -> Option<AutoEject> {
        self.auto_eject.lock().ok().and_then(|a| *a)
    }

    /// One health round (the monitor calls it every 250 ms): ejects servers
    /// that reached auto_eject's failure count, puts recovered ones back,
    /// and starts a probe of each failed server whose retry time came.
    pub fn check_health(self: &Arc<Self>) {
        let ae = self.auto_eject();
        let topo = self.topology();
        let mut changed = false;
        for b in &topo.servers {
            let failures = b.health.failures();
            let ejected = b.health.ejected.load(Ordering::Relaxed);
            if let Some(ae) = ae {
                if !ejected && failures >= ae.failures {
                    tracing::warn!("server {}: {failures} failures in a row, taking it off the ring", b.label);
                    b.health.ejected.store(true, Ordering::Relaxed);
                    self.stats.ejections.fetch_add(1, Ordering::Relaxed);
                    changed = true;
                } else if ejected && failures == 0 {
                    tracing::info!("server {} answers again, putting it back on the ring", b.label);
                    b.health.ejected.store(false, Ordering::Relaxed);
                    changed = true;
                }
            }
            if failures > 0 && b.health.in_backoff().is_none() {
                let due = match (ejected, ae) {
                    (true, Some(ae)) => b.health.probe_due(Duration::from_millis(ae.retry_ms)),
                    _ => true,
                };
                if due && !b.health.probing.swap(true, Ordering::AcqRel) {
                    let b = b.clone();
                    tokio::spawn(async move {
                        b.probe().await;
                        b.health.probing.store(false, Ordering::Release);
                    });
                }
            }
        }
        if changed {
            self.swap(|old, gen| Topology::build(old.servers.clone(), old.weights.clone(), old.drained.clone(), gen));
        }
    }
}

/// Locks `m`, going on past a poisoned lock (the data is replaced whole).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// `cfg` with each named server's address replaced by its override. O(servers).
fn layer(cfg: &ClusterConfig, overrides: &HashMap<String, String>) -> ClusterConfig {
    let mut out = cfg.clone();
    for s in &mut out.servers {
        if let Some(a) = s.name.as_ref().and_then(|n| overrides.get(n)) {
            s.addr = a.clone();
        }
    }
    out
}
