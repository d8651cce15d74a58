//! Live reload of `servers.json`, and the health round.
//!
//! Every 250 ms the monitor re-reads the file by its path and compares the
//! text with the last text it saw. Reading by path (rather than keeping the
//! file open or watching one inode) follows editors that save by writing a
//! new file and renaming it over the old one, and a half-written file is
//! simply refused and picked up complete on the next round. A changed file
//! that parses and validates is applied at once ([`Cluster::apply`]); one
//! that does not is refused with a log line and the previous ring stays in
//! force. The same tick runs [`Cluster::check_health`] (auto_eject, probes).
//! Cost: one read of a small file and one pass over the servers per tick.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::cluster::Cluster;
use crate::config;

/// How often the file is read and health is checked.
pub const TICK: Duration = Duration::from_millis(250);

/// Starts the monitor task. `applied` is the text of the list in force.
pub fn spawn(cluster: Arc<Cluster>, applied: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(cluster, applied))
}

async fn run(cluster: Arc<Cluster>, applied: String) {
    let mut last = applied;
    let mut unreadable = false;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        cluster.check_health();
        let text = match std::fs::read_to_string(&cluster.path) {
            Ok(t) => {
                unreadable = false;
                t
            }
            Err(e) => {
                if !unreadable {
                    tracing::warn!("cannot read {}: {e}; the current server list stays in force", cluster.path);
                    unreadable = true;
                }
                continue;
            }
        };
        if text == last {
            continue;
        }
        match config::parse(&text, cluster.tls.is_some()) {
            Ok(cfg) => {
                let n = cfg.servers.len();
                cluster.apply(cfg);
                tracing::info!("{} changed: now routing to {n} server(s)", cluster.path);
            }
            Err(e) => {
                cluster.stats.reload_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("{} rejected: {e}; the previous server list stays in force", cluster.path);
            }
        }
        last = text;
    }
}
