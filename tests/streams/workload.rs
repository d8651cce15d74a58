//! A consumer-group workload with the `redis` crate's stream API: one
//! producer and three consumers of one group, each on its own connection
//! and thread. Consumers randomly "crash" (drop their connection with part
//! of a batch unacknowledged) and restart under a new name; XAUTOCLAIM
//! with a min-idle time hands the abandoned entries to the living.
//!
//! Checked: every produced entry is processed at least once and ends up
//! acknowledged; each entry is delivered by `>` exactly once; an entry is
//! never claimed after its acknowledgement. The last one is decided in the
//! server's own order: every XACK batch and every XAUTOCLAIM runs in a
//! MULTI with `INCR clock`, so each carries a serial stamp.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::streams::{StreamAutoClaimOptions, StreamAutoClaimReply, StreamReadOptions, StreamReadReply};
use redis::Commands;

use super::common::Server;

const ENTRIES: usize = 2000;
const CONSUMERS: u64 = 3;
const KEY: &str = "jobs";
const GROUP: &str = "workers";
/// XAUTOCLAIM's min-idle: an entry this long unacknowledged is taken over.
const MIN_IDLE_MS: usize = 30;
/// Percent of batches after which a consumer crashes.
const CRASH_PERCENT: u8 = 4;

#[derive(Default)]
struct Log {
    /// `>` deliveries per id.
    new_deliveries: HashMap<String, usize>,
    /// Every id some consumer processed.
    processed: HashSet<String>,
    /// The clock stamp of the XACK that acknowledged each id.
    acked_at: HashMap<String, i64>,
    /// Each XAUTOCLAIM delivery: id and clock stamp.
    claimed: Vec<(String, i64)>,
    crashes: usize,
}

/// Acknowledges `ids` one XACK each in a MULTI with `INCR clock`; records
/// the ids whose XACK counted.
fn ack(con: &mut redis::Connection, log: &Mutex<Log>, ids: &[String]) {
    if ids.is_empty() {
        return;
    }
    let mut p = redis::pipe();
    p.atomic();
    for id in ids {
        p.xack(KEY, GROUP, &[id]);
    }
    p.incr("clock", 1);
    let replies: Vec<i64> = p.query(con).expect("XACK transaction");
    let stamp = replies[ids.len()];
    let mut log = log.lock().unwrap();
    for (id, n) in ids.iter().zip(&replies) {
        if *n == 1 {
            let again = log.acked_at.insert(id.clone(), stamp);
            assert!(again.is_none(), "{id} acknowledged twice: it was pending again after its XACK");
        }
    }
}

/// A connection to `url`.
fn connect(url: &str) -> redis::Connection {
    redis::Client::open(url).expect("client").get_connection().expect("connect")
}

fn consumer(url: &str, k: u64, log: &Mutex<Log>, done: &AtomicBool) {
    let mut rng = fastrand::Rng::with_seed(100 + k);
    let deadline = Instant::now() + Duration::from_secs(60);
    for incarnation in 0.. {
        let name = format!("c{k}.{incarnation}");
        let mut con = connect(url);
        loop {
            if done.load(Ordering::Relaxed) {
                return;
            }
            assert!(Instant::now() < deadline, "workload did not finish");
            // Take over what was abandoned, stamped in the server's order.
            let mut p = redis::pipe();
            p.atomic()
                .xautoclaim_options(KEY, GROUP, &name, MIN_IDLE_MS, "0-0", StreamAutoClaimOptions::default().count(20))
                .incr("clock", 1);
            let (claim, stamp): (StreamAutoClaimReply, i64) = p.query(&mut con).expect("XAUTOCLAIM transaction");
            let mut batch: Vec<String> = claim.claimed.into_iter().map(|e| e.id).collect();
            {
                let mut log = log.lock().unwrap();
                log.claimed.extend(batch.iter().map(|id| (id.clone(), stamp)));
            }
            if batch.is_empty() {
                let opts = StreamReadOptions::default().group(GROUP, &name).count(10).block(20);
                let read: Option<StreamReadReply> = con.xread_options(&[KEY], &[">"], &opts).expect("XREADGROUP");
                let mut log = log.lock().unwrap();
                for key in read.map(|r| r.keys).unwrap_or_default() {
                    for e in key.ids {
                        *log.new_deliveries.entry(e.id.clone()).or_default() += 1;
                        batch.push(e.id);
                    }
                }
            }
            if batch.is_empty() {
                continue;
            }
            log.lock().unwrap().processed.extend(batch.iter().cloned());
            if rng.u8(..100) < CRASH_PERCENT {
                // Crash part way: some acknowledged, the rest abandoned.
                let keep = rng.usize(..batch.len());
                ack(&mut con, log, &batch[..keep]);
                log.lock().unwrap().crashes += 1;
                break;
            }
            ack(&mut con, log, &batch);
            if log.lock().unwrap().acked_at.len() == ENTRIES {
                done.store(true, Ordering::Relaxed);
            }
        }
    }
}

#[test]
fn consumers_that_crash_lose_nothing_and_acked_entries_stay_acked() {
    let srv = Server::start(&[]);
    let url = srv.url();
    let mut con = srv.conn();
    let _: () = con.xgroup_create_mkstream(KEY, GROUP, "$").unwrap();
    let log = Arc::new(Mutex::new(Log::default()));
    let done = Arc::new(AtomicBool::new(false));
    let producer = {
        let url = url.clone();
        std::thread::spawn(move || {
            let mut con = connect(&url);
            let mut ids = Vec::with_capacity(ENTRIES);
            for chunk in (0..ENTRIES).collect::<Vec<_>>().chunks(50) {
                let mut p = redis::pipe();
                for i in chunk {
                    p.xadd(KEY, "*", &[("n", i.to_string())]);
                }
                let got: Vec<String> = p.query(&mut con).expect("XADD");
                ids.extend(got);
            }
            ids
        })
    };
    let workers: Vec<_> = (0..CONSUMERS)
        .map(|k| {
            let (url, log, done) = (url.clone(), log.clone(), done.clone());
            std::thread::spawn(move || consumer(&url, k, &log, &done))
        })
        .collect();
    let produced = producer.join().expect("producer");
    for w in workers {
        w.join().expect("consumer");
    }
    let log = log.lock().unwrap();
    assert_eq!(produced.len(), ENTRIES);
    for id in &produced {
        assert!(log.processed.contains(id), "{id} never processed");
        assert!(log.acked_at.contains_key(id), "{id} never acknowledged");
        assert_eq!(log.new_deliveries.get(id), Some(&1), "{id}: `>` deliveries");
    }
    assert_eq!(log.new_deliveries.len(), ENTRIES);
    for (id, stamp) in &log.claimed {
        let acked = log.acked_at[id];
        assert!(*stamp < acked, "{id} claimed (clock {stamp}) after its XACK (clock {acked})");
    }
    assert!(log.crashes > 0, "no consumer crashed");
    assert!(!log.claimed.is_empty(), "XAUTOCLAIM redelivered nothing");
    // The group ends with nothing pending and nothing left to read.
    let pending: redis::streams::StreamPendingReply = con.xpending(KEY, GROUP).unwrap();
    assert_eq!(pending.count(), 0);
    let groups: redis::streams::StreamInfoGroupsReply = con.xinfo_groups(KEY).unwrap();
    assert_eq!(groups.groups.len(), 1);
    let g = &groups.groups[0];
    assert_eq!(g.last_delivered_id, produced[ENTRIES - 1]);
    assert_eq!(g.pending, 0);
    assert_eq!(g.entries_read, Some(ENTRIES));
    assert_eq!(g.lag, Some(0));
    // One consumer per incarnation that got to run a command.
    assert!((CONSUMERS as usize..=CONSUMERS as usize + log.crashes).contains(&g.consumers), "{}", g.consumers);
    let len: usize = con.xlen(KEY).unwrap();
    assert_eq!(len, ENTRIES);
}
