//! Scripts as clients use them under concurrency: a distributed lock
//! (SET NX PX to acquire, compare-and-delete to release) and a
//! sliding-window rate limiter, each driven by several tokio tasks with a
//! connection of their own.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;

use super::*;

/// The classic release: delete the lock only if it still holds our token.
const RELEASE: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/// Enters the critical section: fails if anyone else is in it.
const ENTER: &str = "local h = redis.call('GET', KEYS[1]) \
     if h then return redis.error_reply('TWOHOLDERS ' .. h .. ' is in, ' .. ARGV[1] .. ' entered') end \
     redis.call('SET', KEYS[1], ARGV[1]) return 1";

/// Leaves it: fails if someone else took over meanwhile.
const LEAVE: &str = "local h = redis.call('GET', KEYS[1]) \
     if h ~= ARGV[1] then return redis.error_reply('NOTHOLDER ' .. tostring(h) .. ' instead of ' .. ARGV[1]) end \
     return redis.call('DEL', KEYS[1])";

const CLIENTS: usize = 8;
const ROUNDS: usize = 100;

async fn connections(s: &Server, n: usize) -> Vec<MultiplexedConnection> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(s.aconn().await);
    }
    out
}

/// One client: `ROUNDS` times acquire the lock (retrying while another
/// holds it), check it is alone in the critical section, increment the
/// counter with a non-atomic GET then SET, and release. Returns how many
/// acquisitions succeeded and how many attempts found the lock taken.
async fn lock_worker(id: usize, mut c: MultiplexedConnection) -> (usize, usize) {
    let (enter, leave, release) = (Script::new(ENTER), Script::new(LEAVE), Script::new(RELEASE));
    let (mut acquired, mut contended) = (0, 0);
    for round in 0..ROUNDS {
        let token = format!("client{id}-round{round}");
        loop {
            let got: Option<String> = redis::cmd("SET")
                .arg("lock")
                .arg(&token)
                .arg("NX")
                .arg("PX")
                .arg(30_000)
                .query_async(&mut c)
                .await
                .unwrap();
            if got.is_some() {
                break;
            }
            contended += 1;
            tokio::task::yield_now().await;
        }
        acquired += 1;
        let entered: i64 = enter.invoke_async(&mut c, &["holder"], &[&token]).await.unwrap();
        assert_eq!(entered, 1);
        let n: Option<i64> = redis::cmd("GET").arg("counter").query_async(&mut c).await.unwrap();
        tokio::task::yield_now().await;
        let () = redis::cmd("SET").arg("counter").arg(n.unwrap_or(0) + 1).query_async(&mut c).await.unwrap();
        let left: i64 = leave.invoke_async(&mut c, &["holder"], &[&token]).await.unwrap();
        assert_eq!(left, 1);
        let released: i64 = release.invoke_async(&mut c, &["lock"], &[&token]).await.unwrap();
        assert_eq!(released, 1, "{token} still held the lock it released");
    }
    (acquired, contended)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn distributed_lock_admits_one_holder_at_a_time() {
    let s = Server::start(&[]);
    let mut c = s.aconn().await;
    // Release only deletes the holder's own lock.
    let release = Script::new(RELEASE);
    let () =
        redis::cmd("SET").arg("lock").arg("mine").arg("NX").arg("PX").arg(30_000).query_async(&mut c).await.unwrap();
    let taken: Option<String> =
        redis::cmd("SET").arg("lock").arg("yours").arg("NX").arg("PX").arg(30_000).query_async(&mut c).await.unwrap();
    assert_eq!(taken, None, "NX refuses a held lock");
    assert_eq!(release.invoke_async::<i64>(&mut c, &["lock"], &["yours"]).await.unwrap(), 0);
    let pttl: i64 = redis::cmd("PTTL").arg("lock").query_async(&mut c).await.unwrap();
    assert!(pttl > 0 && pttl <= 30_000, "PTTL {pttl}");
    assert_eq!(release.invoke_async::<i64>(&mut c, &["lock"], &["mine"]).await.unwrap(), 1);
    assert_eq!(release.invoke_async::<i64>(&mut c, &["lock"], &["mine"]).await.unwrap(), 0);

    let workers: Vec<_> = connections(&s, CLIENTS)
        .await
        .into_iter()
        .enumerate()
        .map(|(id, conn)| tokio::spawn(lock_worker(id, conn)))
        .collect();
    let all = async {
        let mut totals = (0, 0);
        for w in workers {
            let (a, k) = w.await.expect("a lock worker failed");
            totals = (totals.0 + a, totals.1 + k);
        }
        totals
    };
    let (acquired, contended) = tokio::time::timeout(Duration::from_secs(60), all).await.expect("lock workers hung");
    assert_eq!(acquired, CLIENTS * ROUNDS);
    let counter: i64 = redis::cmd("GET").arg("counter").query_async(&mut c).await.unwrap();
    assert_eq!(counter as usize, acquired, "an increment was lost: two holders at once ({contended} contended tries)");
    let left: i64 = redis::cmd("EXISTS").arg("lock").arg("holder").query_async(&mut c).await.unwrap();
    assert_eq!(left, 0, "lock and holder are gone at the end");
}

/// Allows a call at `now` (ms) if fewer than `limit` calls were allowed in
/// the `window` ms before it; remembers it under the unique id ARGV[4].
const LIMITER: &str = "local key = KEYS[1] \
     local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]) \
     redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window) \
     if redis.call('ZCARD', key) >= limit then return 0 end \
     redis.call('ZADD', key, now, ARGV[4]) \
     redis.call('PEXPIRE', key, window) \
     return 1";

const WINDOW: i64 = 60_000;
const LIMIT: usize = 50;
const CALLS: usize = 40;
// Each burst must exceed the limit by far for the test to mean anything.
const _: () = assert!(CLIENTS * CALLS > 2 * LIMIT);

/// `CLIENTS` tasks make `CALLS` calls each at times `base + j`; returns how
/// many the limiter allowed.
async fn limiter_burst(s: &Server, limiter: &Arc<Script>, phase: &str, base: i64) -> usize {
    let mut tasks = Vec::new();
    for (i, mut c) in connections(s, CLIENTS).await.into_iter().enumerate() {
        let limiter = Arc::clone(limiter);
        let phase = phase.to_string();
        tasks.push(tokio::spawn(async move {
            let mut allowed = 0;
            for j in 0..CALLS {
                let (now, window, limit) = ((base + j as i64).to_string(), WINDOW.to_string(), LIMIT.to_string());
                let id = format!("{phase}-{i}-{j}");
                let ok: i64 = limiter.invoke_async(&mut c, &["rate"], &[&now, &window, &limit, &id]).await.unwrap();
                allowed += ok as usize;
            }
            allowed
        }));
    }
    let all = async {
        let mut sum = 0;
        for t in tasks {
            sum += t.await.expect("a limiter task failed");
        }
        sum
    };
    tokio::time::timeout(Duration::from_secs(60), all).await.expect("limiter tasks hung")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sliding_window_rate_limiter_allows_exactly_the_limit() {
    let s = Server::start(&[]);
    let mut c = s.aconn().await;
    let limiter = Arc::new(Script::new(LIMITER));
    let base = 1_000_000_000i64;

    let allowed = limiter_burst(&s, &limiter, "first", base).await;
    assert_eq!(allowed, LIMIT, "allowed calls in one window");
    let card: usize = redis::cmd("ZCARD").arg("rate").query_async(&mut c).await.unwrap();
    assert_eq!(card, LIMIT, "every allowed call was recorded, no other");
    let pttl: i64 = redis::cmd("PTTL").arg("rate").query_async(&mut c).await.unwrap();
    assert!(pttl > 0 && pttl <= WINDOW, "PTTL {pttl}");

    // A window later the old calls have slid out: the limit is available again.
    let later = base + 2 * WINDOW;
    let allowed = limiter_burst(&s, &limiter, "second", later).await;
    assert_eq!(allowed, LIMIT, "allowed calls in the next window");
    let members: Vec<String> = redis::cmd("ZRANGE").arg("rate").arg(0).arg(-1).query_async(&mut c).await.unwrap();
    assert_eq!(members.len(), LIMIT);
    assert!(members.iter().all(|m| m.starts_with("second-")), "old calls were removed: {members:?}");

    // A call exactly `window` ms after the oldest calls frees their slots
    // (their scores are no longer inside the window), and only theirs.
    let oldest: Vec<(String, i64)> =
        redis::cmd("ZRANGE").arg("rate").arg(0).arg(0).arg("WITHSCORES").query_async(&mut c).await.unwrap();
    let freed: usize = redis::cmd("ZCOUNT").arg("rate").arg("-inf").arg(oldest[0].1).query_async(&mut c).await.unwrap();
    assert!(freed >= 1);
    let (edge, w, l) = ((oldest[0].1 + WINDOW).to_string(), WINDOW.to_string(), LIMIT.to_string());
    for k in 0..=freed {
        let id = format!("edge-{k}");
        let ok: i64 = limiter.invoke_async(&mut c, &["rate"], &[&edge, &w, &l, &id]).await.unwrap();
        assert_eq!(ok, i64::from(k < freed), "edge call {k} of {freed} freed slots");
    }
}
