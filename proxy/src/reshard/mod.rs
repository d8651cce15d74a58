//! Online resharding: no key becomes unreachable when the ring changes.
//!
//! When a reload changes the ring's membership (a server added, removed,
//! drained or reweighted), the keys whose owner changed still sit on their
//! previous owner. From the moment the new ring is in force:
//!
//! - **On demand** (`settle.rs`): before any command on a key is forwarded
//!   to its new owner, the key is moved there from each previous owner that
//!   may still hold it (reads, writes, multi-key commands, MULTI/EXEC and
//!   WATCH alike: every key of the command is moved first). So a read sees
//!   the last acknowledged value, a write lands on the new owner with the
//!   old copy gone, and nothing can resurface later. A read of one key is
//!   answered by the previous owner while the key is still there, atomically
//!   with a check that it is (no move on the read path).
//! - **In the background** (`scan.rs`): every server is scanned (every
//!   database with keys) and each key whose ring owner is another server is
//!   moved there, in pipelined batches, at `--reshard-rate` keys per second.
//!   When every server was scanned, the previous rings are forgotten and the
//!   on-demand check costs nothing again.
//!
//! A move (`mover.rs`) is `MULTI DUMP PTTL EXEC` on the previous owner,
//! `RESTORE key ttl payload` (without REPLACE) on the new one, then `DEL`
//! on the previous one once RESTORE succeeded or answered BUSYKEY (the new
//! owner already has the key: moved by someone else, or written since;
//! its value wins). A key is only ever copied from where it still is, so
//! several movers (this proxy's background task and its clients, or
//! several proxies) never lose a value by moving it twice. Within one
//! proxy, moves of a key are serialised (striped locks over the key hash).
//!
//! Which previous owners may hold a key: the owners under every ring in
//! force since the last migration completed, among the servers not scanned
//! yet. A proxy that starts does not know the previous rings (no side file
//! is kept): its first scan checks every server of the file, and until a
//! server's scan is done, a key may be on it (every server not yet scanned
//! is a previous owner for every key).
//!
//! Auto-ejection is not a membership change: no keys move when a failing
//! server leaves the ring or comes back, and the background scan pauses
//! while a server is ejected.

mod mover;
mod scan;
mod settle;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::cluster::Topology;
use crate::pool::Backend;

pub use mover::{move_keys, Link, Move};
pub use scan::spawn;

/// Default pace of the background migration, keys moved per second.
pub const DEFAULT_RATE: u64 = 20_000;
/// Default number of keys per SCAN call and per pipelined move.
pub const DEFAULT_BATCH: usize = 200;
/// Most previous rings remembered; beyond, every unscanned server is a
/// previous owner of every key (as after a start).
const MAX_OLD_RINGS: usize = 16;
/// Stripes of the per-key move locks.
const STRIPES: usize = 4096;
/// Shards of a migration's set of settled keys.
const SETTLED_SHARDS: usize = 64;
/// Most keys a migration remembers as settled (about 16 bytes each);
/// beyond, keys are checked on their previous owners every time.
const MAX_SETTLED: usize = 4_000_000;

/// A key's identity in a migration's settled set: a 64-bit hash of its
/// database and name (a collision would skip one key's check: about one
/// chance in 10^7 for millions of keys). O(key length).
pub fn key_tag(db: u32, key: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = crate::ring::StableHasher::default();
    h.write(&db.to_le_bytes());
    h.write(key);
    h.finish()
}

/// How fast the background migration goes (`--reshard-rate`, `--reshard-batch`).
#[derive(Debug, Clone, Copy)]
pub struct ReshardOptions {
    /// Keys moved per second at most (0: no limit). Scanning counts too,
    /// at a sixteenth of a key per key scanned.
    pub rate: u64,
    /// Keys per SCAN call and per pipelined batch of moves.
    pub batch: usize,
}

impl Default for ReshardOptions {
    fn default() -> Self {
        ReshardOptions { rate: DEFAULT_RATE, batch: DEFAULT_BATCH }
    }
}

/// Where one server's scan stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SourceState {
    /// Not scanned yet.
    Waiting = 0,
    /// Being scanned.
    Scanning = 1,
    /// Scanned: it holds no key of another server.
    Done = 2,
    /// Could not be reached: keys it holds for other servers are unreachable.
    Unreachable = 3,
}

/// One server's scan in a migration: progress counters for INFO.
pub struct Source {
    /// The server's ring identity.
    pub id: String,
    /// Drained: every key on it moves.
    pub drained: bool,
    state: AtomicU8,
    /// Keys it held when its scan started (every database).
    pub keys: AtomicU64,
    /// Keys scanned so far.
    pub scanned: AtomicU64,
    /// Keys moved from it so far.
    pub moved: AtomicU64,
}

impl Source {
    /// The scan's state.
    pub fn state(&self) -> SourceState {
        match self.state.load(Ordering::Acquire) {
            0 => SourceState::Waiting,
            1 => SourceState::Scanning,
            2 => SourceState::Done,
            _ => SourceState::Unreachable,
        }
    }

    /// Sets the scan's state.
    pub fn set_state(&self, s: SourceState) {
        self.state.store(s as u8, Ordering::Release);
    }

    /// Keys still to move, estimated from the share moved so far.
    fn left_estimate(&self) -> u64 {
        if self.state() == SourceState::Done {
            return 0;
        }
        let (keys, scanned, moved) = (
            self.keys.load(Ordering::Relaxed),
            self.scanned.load(Ordering::Relaxed),
            self.moved.load(Ordering::Relaxed),
        );
        let left = keys.saturating_sub(scanned);
        if self.drained || scanned < 1000 {
            left
        } else {
            (left as u128 * moved as u128 / scanned as u128) as u64
        }
    }
}

/// One migration: started by a ring change (or the proxy's start).
pub struct Plan {
    /// Increases with every ring change.
    pub epoch: u64,
    /// The topologies in force before, newest first, whose keys may not
    /// have moved yet; `None`: unknown (the first scan after a start).
    old: Option<Vec<Arc<Topology>>>,
    /// Every server to scan.
    pub sources: Vec<Arc<Source>>,
    /// Set once writes routed under the previous ring were flushed.
    ready: watch::Sender<bool>,
    /// When the migration started.
    pub started: Instant,
    /// How long it took, once every server was scanned.
    finished: Mutex<Option<Duration>>,
    /// Keys (hashes of database and name) this proxy moved or found absent
    /// from every previous owner during this migration: no previous owner
    /// holds them any more (nothing writes there), so they are not checked
    /// again. Lost with the migration: a new ring starts afresh.
    settled: Box<[Mutex<std::collections::HashSet<u64>>]>,
    settled_len: std::sync::atomic::AtomicUsize,
}

impl Plan {
    fn new(epoch: u64, old: Option<Vec<Arc<Topology>>>, topo: &Topology) -> Plan {
        let sources = topo
            .servers
            .iter()
            .enumerate()
            .map(|(i, b)| {
                Arc::new(Source {
                    id: b.spec.id().to_string(),
                    drained: topo.drained[i],
                    state: AtomicU8::new(SourceState::Waiting as u8),
                    keys: AtomicU64::new(0),
                    scanned: AtomicU64::new(0),
                    moved: AtomicU64::new(0),
                })
            })
            .collect();
        Plan {
            epoch,
            old,
            sources,
            ready: watch::Sender::new(false),
            started: Instant::now(),
            finished: Mutex::new(None),
            settled: (0..SETTLED_SHARDS).map(|_| Mutex::default()).collect(),
            settled_len: Default::default(),
        }
    }

    /// Whether `tag` ([`key_tag`]) was settled in this migration. O(1).
    pub fn is_settled(&self, tag: u64) -> bool {
        let shard = &self.settled[(tag % SETTLED_SHARDS as u64) as usize];
        shard.lock().map(|s| s.contains(&tag)).unwrap_or(false)
    }

    /// Notes keys as settled: moved to, or found absent from, every
    /// previous owner. O(keys); nothing once `MAX_SETTLED` were noted.
    pub fn mark_settled(&self, tags: impl Iterator<Item = u64>) {
        for tag in tags {
            if self.settled_len.load(Ordering::Relaxed) >= MAX_SETTLED {
                return;
            }
            let shard = &self.settled[(tag % SETTLED_SHARDS as u64) as usize];
            if shard.lock().map(|mut s| s.insert(tag)).unwrap_or(false) {
                self.settled_len.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Whether `id` may still hold keys of other servers. O(servers).
    fn pending(&self, id: &str) -> bool {
        self.sources.iter().any(|s| s.id == id && s.state() != SourceState::Done)
    }

    /// Whether `b` is worth asking: not ejected, not in backoff, and its
    /// scan did not find it unreachable. O(servers).
    fn reachable(&self, b: &Backend) -> bool {
        !b.health.ejected.load(Ordering::Relaxed)
            && b.health.in_backoff().is_none()
            && !self.sources.iter().any(|s| s.id == b.spec.id() && s.state() == SourceState::Unreachable)
    }

    /// Whether every server was scanned.
    pub fn complete(&self) -> bool {
        self.sources.iter().all(|s| s.state() == SourceState::Done)
    }

    /// Whether the migration finished (its previous rings are forgotten).
    pub fn finished(&self) -> Option<Duration> {
        self.finished.lock().ok().and_then(|f| *f)
    }

    /// Waits until writes routed under the previous ring were answered. O(1) once ready.
    pub async fn wait_ready(&self) {
        let mut rx = self.ready.subscribe();
        let _ = rx.wait_for(|r| *r).await;
    }

    /// Marks the flush done (moves may start).
    pub fn set_ready(&self) {
        self.ready.send_replace(true);
    }
}

/// The proxy's resharding state: the migration in force, the move locks,
/// the counters INFO shows.
pub struct Reshard {
    plan: RwLock<Arc<Plan>>,
    /// A migration is running (the on-demand check is skipped otherwise).
    active: AtomicBool,
    epochs: watch::Sender<u64>,
    locks: Box<[tokio::sync::Mutex<()>]>,
    /// The pace of the background migration.
    pub opts: ReshardOptions,
    pace: Mutex<Instant>,
    /// Keys moved by the background scan.
    pub moved_background: AtomicU64,
    /// Keys moved before a client's command on them.
    pub moved_on_demand: AtomicU64,
    /// Moves that found the key already on its new owner (BUSYKEY: kept there).
    pub already_there: AtomicU64,
    /// Reads answered by a key's previous owner (the key not moved yet).
    pub read_through: AtomicU64,
}

impl Reshard {
    /// The state at start: a first scan of every server of `topo`.
    pub fn new(opts: ReshardOptions, topo: &Topology) -> Reshard {
        Reshard {
            plan: RwLock::new(Arc::new(Plan::new(1, None, topo))),
            active: AtomicBool::new(true),
            epochs: watch::Sender::new(1),
            locks: (0..STRIPES).map(|_| tokio::sync::Mutex::new(())).collect(),
            opts,
            pace: Mutex::new(Instant::now()),
            moved_background: AtomicU64::new(0),
            moved_on_demand: AtomicU64::new(0),
            already_there: AtomicU64::new(0),
            read_through: AtomicU64::new(0),
        }
    }

    /// Whether a migration is running. O(1).
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// The migration in force. O(1).
    pub fn plan(&self) -> Arc<Plan> {
        match self.plan.read() {
            Ok(p) => p.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// A receiver woken on every new migration.
    pub fn epochs(&self) -> watch::Receiver<u64> {
        self.epochs.subscribe()
    }

    /// After a reload: when the membership changed, a new migration starts
    /// (remembering `before`'s ring among the previous ones); servers
    /// deleted from the file are reported. O(servers).
    pub fn ring_changed(&self, before: &Arc<Topology>, after: &Topology) {
        for b in &before.servers {
            if after.by_id(b.spec.id()).is_none() {
                tokio::spawn(scan::report_removed(b.clone()));
            }
        }
        let ids = |t: &Topology| -> Vec<(String, bool)> {
            t.servers.iter().enumerate().map(|(i, b)| (b.spec.id().to_string(), t.drained[i])).collect()
        };
        if before.membership() == after.membership() && ids(before) == ids(after) {
            return;
        }
        let mut g = match self.plan.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let old = if g.finished().is_some() {
            Some(vec![before.clone()])
        } else {
            g.old.as_ref().and_then(|v| {
                let mut v = v.clone();
                v.insert(0, before.clone());
                (v.len() <= MAX_OLD_RINGS).then_some(v)
            })
        };
        let epoch = g.epoch + 1;
        *g = Arc::new(Plan::new(epoch, old, after));
        drop(g);
        self.active.store(true, Ordering::Release);
        self.epochs.send_replace(epoch);
        tracing::info!(
            "ring changed: resharding starts (migration {epoch}): keys whose owner changed move to their new owner"
        );
    }

    /// Ends the migration `plan` once every server was scanned: the
    /// previous rings are forgotten. False when a newer one replaced it.
    pub fn finish(&self, plan: &Arc<Plan>) -> bool {
        let mut g = match self.plan.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        if !Arc::ptr_eq(&g, plan) || !plan.complete() {
            return false;
        }
        let mut done = Plan::new(plan.epoch, Some(Vec::new()), &Topology::empty());
        done.sources = plan.sources.clone();
        done.ready.send_replace(true);
        done.started = plan.started;
        done.finished = Mutex::new(Some(plan.started.elapsed()));
        *g = Arc::new(done);
        self.active.store(false, Ordering::Release);
        true
    }

    /// The servers other than `owner` that may still hold `key` (of
    /// database `db`) under `plan`, newest previous owner first. O(previous
    /// rings × log points).
    pub fn fallbacks(
        &self,
        plan: &Plan,
        topo: &Topology,
        db: u32,
        key: &[u8],
        owner: &Arc<Backend>,
    ) -> Vec<Arc<Backend>> {
        let mut out: Vec<Arc<Backend>> = Vec::new();
        if plan.is_settled(key_tag(db, key)) {
            return out;
        }
        let mut add = |b: &Arc<Backend>| {
            let id = b.spec.id();
            if id != owner.spec.id() && plan.pending(id) && !out.iter().any(|o| o.spec.id() == id) {
                if let Some(cur) = topo.by_id(id) {
                    out.push(cur.clone());
                }
            }
        };
        match &plan.old {
            // Any server may hold any key: one that cannot answer is skipped
            // (else every key would fail while it is down; its scan reports it).
            None => topo.servers.iter().filter(|b| plan.reachable(b)).for_each(&mut add),
            Some(olds) => olds.iter().filter_map(|t| t.route(key)).for_each(add),
        }
        out
    }

    /// Locks every key of `keys` against other moves by this proxy, in one
    /// global order (no deadlock between batches). O(keys log keys).
    pub async fn lock_keys<'a>(&'a self, keys: impl Iterator<Item = &'a [u8]>) -> Vec<tokio::sync::MutexGuard<'a, ()>> {
        let mut stripes: Vec<usize> = keys
            .map(|k| {
                use std::hash::Hasher;
                let mut h = crate::ring::StableHasher::default();
                h.write(k);
                (h.finish() % STRIPES as u64) as usize
            })
            .collect();
        stripes.sort_unstable();
        stripes.dedup();
        let mut guards = Vec::with_capacity(stripes.len());
        for s in stripes {
            guards.push(self.locks[s].lock().await);
        }
        guards
    }

    /// Waits as long as `moved` moves and `scanned` scanned keys take at the
    /// configured rate (shared by every scan of the proxy).
    pub async fn pace(&self, moved: u64, scanned: u64) {
        if self.opts.rate == 0 {
            return;
        }
        let units = moved * 16 + scanned;
        let cost = Duration::from_secs_f64(units as f64 / (self.opts.rate * 16) as f64);
        let wait = {
            let Ok(mut next) = self.pace.lock() else { return };
            let now = Instant::now();
            let start = (*next).max(now);
            *next = start + cost;
            start - now
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// The `# Resharding` section of INFO.
    pub fn info(&self) -> String {
        use std::fmt::Write as _;
        let plan = self.plan();
        let state = match (plan.finished(), &plan.old) {
            (Some(_), _) => "idle",
            (None, None) => "first_scan",
            (None, Some(_)) => "migrating",
        };
        let (bg, od) = (self.moved_background.load(Ordering::Relaxed), self.moved_on_demand.load(Ordering::Relaxed));
        let mut s = String::from("# Resharding\r\n");
        let _ = write!(
            s,
            "reshard_state:{state}\r\nreshard_migration:{}\r\nreshard_rate_limit:{}\r\nreshard_batch:{}\r\nreshard_keys_moved:{}\r\nreshard_keys_moved_on_demand:{od}\r\nreshard_keys_already_there:{}\r\nreshard_reads_from_previous_owner:{}\r\nreshard_keys_left_estimate:{}\r\nreshard_elapsed_ms:{}\r\n",
            plan.epoch,
            self.opts.rate,
            self.opts.batch,
            bg + od,
            self.already_there.load(Ordering::Relaxed),
            self.read_through.load(Ordering::Relaxed),
            plan.sources.iter().map(|s| s.left_estimate()).sum::<u64>(),
            plan.finished().unwrap_or_else(|| plan.started.elapsed()).as_millis(),
        );
        for (i, src) in plan.sources.iter().enumerate() {
            let st = match src.state() {
                SourceState::Done if src.drained => "drained_empty",
                SourceState::Done => "done",
                SourceState::Waiting => "waiting",
                SourceState::Scanning => "scanning",
                SourceState::Unreachable => "unreachable",
            };
            let _ = write!(
                s,
                "reshard{i}:id={},state={st},drain={},keys={},scanned={},moved={},left_estimate={}\r\n",
                src.id,
                u8::from(src.drained),
                src.keys.load(Ordering::Relaxed),
                src.scanned.load(Ordering::Relaxed),
                src.moved.load(Ordering::Relaxed),
                src.left_estimate(),
            );
        }
        s.push_str("\r\n");
        s
    }
}
