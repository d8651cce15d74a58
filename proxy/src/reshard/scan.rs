//! The background migration: scans every server for keys owned by
//! another server and moves them there.
//!
//! One task per proxy. For each migration (`Plan`) it first waits until
//! every request already sent on the pooled connections was answered (no
//! write routed under the previous ring is still in flight), then scans
//! every server at once: for each database with keys (`INFO keyspace`),
//! `SCAN` in batches of `--reshard-batch`, and each key whose owner on the
//! ring in force is another server is moved (`mover.rs`), at
//! `--reshard-rate` keys per second shared by all the scans. Connections
//! are the task's own (one per server and database), so clients' pooled
//! connections never queue behind a batch.
//!
//! A server that cannot be reached is logged at error level (the keys it
//! holds for other servers are unreachable meanwhile) and retried every
//! second; so is a batch that failed. A new ring change abandons the
//! migration and starts the next one. A drained server is done once it
//! holds no key at all: the log and INFO then say it can be deleted from
//! the file.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use inmemory::protocol::frame::Frame;
use tokio::sync::oneshot;

use super::{move_keys, Link, Move, Plan, Source, SourceState};
use crate::cluster::Cluster;
use crate::pool::{encode_command, Answer, Backend, Conn};
use crate::router::answer;

/// Pause before a failed scan is tried again.
const RETRY: Duration = Duration::from_secs(1);
/// Longest wait for the requests in flight when a migration starts.
const FLUSH_LIMIT: Duration = Duration::from_secs(2);

/// Starts the background migration task.
pub fn spawn(cluster: Arc<Cluster>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(cluster))
}

/// How a migration (or one server's scan) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Done,
    Retry,
    Superseded,
}

async fn run(cluster: Arc<Cluster>) {
    let mut epochs = cluster.reshard.epochs();
    loop {
        epochs.borrow_and_update();
        let plan = cluster.reshard.plan();
        if plan.finished().is_none() {
            match run_plan(&cluster, &plan).await {
                Outcome::Done => {
                    if cluster.reshard.finish(&plan) {
                        let moved: u64 = plan.sources.iter().map(|s| s.moved.load(Ordering::Relaxed)).sum();
                        tracing::info!(
                            "resharding done (migration {}): every key is on its owner; {moved} keys moved in the background in {:.1}s",
                            plan.epoch,
                            plan.started.elapsed().as_secs_f64()
                        );
                    }
                    continue;
                }
                Outcome::Superseded => continue,
                Outcome::Retry => {
                    tokio::select! {
                        _ = tokio::time::sleep(RETRY) => {}
                        r = epochs.changed() => if r.is_err() { return },
                    }
                    continue;
                }
            }
        }
        if epochs.changed().await.is_err() {
            return;
        }
    }
}

async fn run_plan(cluster: &Arc<Cluster>, plan: &Arc<Plan>) -> Outcome {
    if !*plan.ready.borrow() {
        for b in &cluster.topology().servers {
            b.flush(FLUSH_LIMIT).await;
        }
        plan.set_ready();
    }
    let mut scans = tokio::task::JoinSet::new();
    for src in plan.sources.iter().filter(|s| s.state() != SourceState::Done) {
        scans.spawn(scan_source(cluster.clone(), plan.clone(), src.clone()));
    }
    let mut outcome = Outcome::Done;
    while let Some(r) = scans.join_next().await {
        outcome = outcome.max(r.unwrap_or(Outcome::Retry));
    }
    outcome
}

/// The background task's connections, one per server for one database.
struct Conns {
    db: u32,
    open: tokio::sync::Mutex<HashMap<usize, Arc<Conn>>>,
}

impl Conns {
    fn new(db: u32) -> Conns {
        Conns { db, open: Default::default() }
    }
}

impl Link for Conns {
    // The receiver is the answer's handle: awaiting it is the caller's choice.
    #[allow(clippy::async_yields_async)]
    fn request(
        &self,
        b: &Arc<Backend>,
        data: Bytes,
        replies: u32,
    ) -> impl Future<Output = oneshot::Receiver<Answer>> + Send {
        let b = b.clone();
        async move {
            let mut open = self.open.lock().await;
            let id = Arc::as_ptr(&b) as usize;
            let conn = match open.get(&id).filter(|c| c.is_alive()) {
                Some(c) => c.clone(),
                None => match b.connect(2, true, self.db).await {
                    Ok(c) => {
                        let c = Arc::new(c);
                        open.insert(id, c.clone());
                        c
                    }
                    Err(e) => {
                        let (tx, rx) = oneshot::channel();
                        let _ = tx.send(Err(e.into()));
                        return rx;
                    }
                },
            };
            conn.request(data, replies, true)
        }
    }
}

fn command(args: &[&[u8]]) -> Bytes {
    let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
    let mut out = bytes::BytesMut::new();
    encode_command(&args, &mut out);
    out.freeze()
}

/// Keys per database on `b` (`INFO keyspace`); `Err` when it cannot answer.
async fn keyspace(b: &Arc<Backend>) -> Result<BTreeMap<u32, u64>, String> {
    let link = Conns::new(0);
    let r = answer(link.request(b, command(&[b"INFO", b"keyspace"]), 1).await).await?;
    let text = r.frame.as_ref().and_then(|f| f.text()).ok_or("unexpected reply to INFO")?;
    let text = String::from_utf8_lossy(text);
    Ok(crate::info::db_counts(&text).into_iter().map(|(db, (keys, _))| (db, keys)).filter(|(_, k)| *k > 0).collect())
}

/// Logs, at error level when it matters, that `b` left the file.
pub async fn report_removed(b: Arc<Backend>) {
    match keyspace(&b).await {
        Ok(dbs) if dbs.values().sum::<u64>() > 0 => tracing::error!(
            "server {} was deleted from the server list while holding {} keys: they are unreachable through the proxy (list it again with \"drain\": true to move them to the other servers)",
            b.label,
            dbs.values().sum::<u64>()
        ),
        Ok(_) => tracing::info!("server {} was deleted from the server list; it held no keys", b.label),
        Err(e) => tracing::error!(
            "server {} was deleted from the server list and cannot be reached ({e}): any keys it held are unreachable",
            b.label
        ),
    }
}

/// One SCAN page: the next cursor and the keys.
fn scan_page(a: Answer) -> Result<(Bytes, Vec<Bytes>), String> {
    let f = a?.frame.ok_or("reply was not decoded")?;
    if let Frame::Error(e) = &f {
        return Err(String::from_utf8_lossy(e).into_owned());
    }
    let Some([cursor, keys]) = f.items() else { return Err("unexpected reply to SCAN".into()) };
    let (Some(cursor), Some(keys)) = (cursor.as_bytes(), keys.items()) else {
        return Err("unexpected reply to SCAN".into());
    };
    Ok((cursor.clone(), keys.iter().filter_map(|k| k.as_bytes().cloned()).collect()))
}

fn unreachable(src: &Source, b: &Backend, e: &str) -> Outcome {
    if src.state() != SourceState::Unreachable {
        tracing::error!(
            "resharding: server {} cannot be reached ({e}): keys it holds for other servers are unreachable until it answers",
            b.label
        );
    }
    src.set_state(SourceState::Unreachable);
    Outcome::Retry
}

async fn scan_source(cluster: Arc<Cluster>, plan: Arc<Plan>, src: Arc<Source>) -> Outcome {
    let superseded = || cluster.reshard.plan().epoch != plan.epoch;
    let Some(b) = cluster.topology().by_id(&src.id).cloned() else { return Outcome::Superseded };
    let dbs = match keyspace(&b).await {
        Ok(d) => d,
        Err(e) => return unreachable(&src, &b, &e),
    };
    let was_retry = src.state() != SourceState::Waiting;
    src.set_state(SourceState::Scanning);
    src.keys.store(dbs.values().sum(), Ordering::Relaxed);
    src.scanned.store(0, Ordering::Relaxed);
    if !was_retry {
        tracing::info!(
            "resharding: scanning server {} ({} keys) for keys owned by other servers",
            b.label,
            src.keys.load(Ordering::Relaxed)
        );
    }
    let reshard = &cluster.reshard;
    let batch = itoa::Buffer::new().format(reshard.opts.batch.max(1)).as_bytes().to_vec();
    for &db in dbs.keys() {
        let link = Conns::new(db);
        let mut cursor = Bytes::from_static(b"0");
        loop {
            if superseded() {
                return Outcome::Superseded;
            }
            while cluster.topology().servers.iter().any(|s| s.health.ejected.load(Ordering::Relaxed)) {
                tokio::time::sleep(RETRY).await;
                if superseded() {
                    return Outcome::Superseded;
                }
            }
            reshard.pace(0, reshard.opts.batch as u64).await;
            let rx = link.request(&b, command(&[b"SCAN", &cursor, b"COUNT", &batch]), 1).await;
            let (next, keys) = match scan_page(answer(rx).await) {
                Ok(p) => p,
                Err(e) => return unreachable(&src, &b, &e),
            };
            src.scanned.fetch_add(keys.len() as u64, Ordering::Relaxed);
            let topo = cluster.topology();
            let moves: Vec<Move> = keys
                .into_iter()
                .filter_map(|key| {
                    let to = topo.route(&key)?;
                    (to.spec.id() != src.id).then(|| Move { key, from: b.clone(), to: to.clone() })
                })
                .collect();
            if !moves.is_empty() {
                reshard.pace(moves.len() as u64, 0).await;
                let locked = reshard.lock_keys(moves.iter().map(|m| &m.key[..])).await;
                let done = move_keys(&link, &moves).await;
                drop(locked);
                src.moved.fetch_add(done.moved, Ordering::Relaxed);
                reshard.moved_background.fetch_add(done.moved, Ordering::Relaxed);
                reshard.already_there.fetch_add(done.already_there, Ordering::Relaxed);
                if let Some(e) = done.error {
                    tracing::warn!("resharding: moving keys from server {}: {e}; trying again", b.label);
                    src.set_state(SourceState::Waiting);
                    return Outcome::Retry;
                }
                if plan.old.is_some() {
                    // With the previous rings known, a key has one previous owner: this one.
                    plan.mark_settled(moves.iter().map(|m| super::key_tag(db, &m.key)));
                }
            }
            if &next[..] == b"0" {
                break;
            }
            cursor = next;
        }
    }
    if src.drained {
        match keyspace(&b).await {
            Ok(d) if d.is_empty() => {}
            Ok(d) => {
                tracing::warn!(
                    "resharding: drained server {} still holds {} keys (written meanwhile?); scanning it again",
                    b.label,
                    d.values().sum::<u64>()
                );
                return Outcome::Retry;
            }
            Err(e) => return unreachable(&src, &b, &e),
        }
    }
    src.set_state(SourceState::Done);
    tracing::info!(
        "resharding: server {} done: {} keys scanned, {} moved to their owners, {:.1}s since the ring changed",
        b.label,
        src.scanned.load(Ordering::Relaxed),
        src.moved.load(Ordering::Relaxed),
        plan.started.elapsed().as_secs_f64()
    );
    if src.drained {
        tracing::info!("resharding: drained server {} holds no keys: it can be deleted from the server list", b.label);
    }
    Outcome::Done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_combine_to_the_worst() {
        assert_eq!(Outcome::Done.max(Outcome::Retry), Outcome::Retry);
        assert_eq!(Outcome::Retry.max(Outcome::Superseded), Outcome::Superseded);
    }

    #[test]
    fn scan_pages() {
        let page = Frame::Array(Some(vec![
            Frame::Bulk(Some(Bytes::from_static(b"17"))),
            Frame::Array(Some(vec![Frame::Bulk(Some(Bytes::from_static(b"k")))])),
        ]));
        let (c, k) = scan_page(Ok(crate::conn::Resp { raw: Bytes::new(), frame: Some(page) })).unwrap();
        assert_eq!(&c[..], b"17");
        assert_eq!(k, vec![Bytes::from_static(b"k")]);
    }
}
