//! Eviction under `maxmemory` against the real server: every policy keeps
//! `used_memory` at the limit, the volatile policies spare keys without a
//! TTL, volatile-ttl takes the nearest expiry first, LRU/LFU keep the keys
//! that are used, noeviction answers `-OOM`, CONFIG SET applies at run time,
//! OBJECT IDLETIME/FREQ and the INFO fields, and a bounded multi-client load
//! test that watches used_memory and RSS.

mod common;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{bulk, encode_cmd, ok, Raw, Resp, Server};

const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
const MB: u64 = 1024 * 1024;

/// INFO `section` as field → value.
fn info(c: &mut Raw, section: &str) -> HashMap<String, String> {
    let text = match c.call(&["INFO", section]) {
        Resp::Bulk(Some(b)) | Resp::Verbatim(b) => String::from_utf8(b).unwrap(),
        other => panic!("INFO answered {other:?}"),
    };
    text.lines().filter_map(|l| l.split_once(':')).map(|(k, v)| (k.to_string(), v.trim().to_string())).collect()
}

/// One numeric INFO field.
fn info_u64(c: &mut Raw, section: &str, field: &str) -> u64 {
    let m = info(c, section);
    m.get(field).unwrap_or_else(|| panic!("INFO {section} has no {field}")).parse().unwrap()
}

fn used(c: &mut Raw) -> u64 {
    info_u64(c, "memory", "used_memory")
}

fn evicted(c: &mut Raw) -> u64 {
    info_u64(c, "stats", "evicted_keys")
}

/// DBSIZE plus `evicted_keys`, read in one MULTI/EXEC: a command between
/// two separate reads may evict a key (the INFO reply itself allocates).
fn keys_plus_evicted(c: &mut Raw) -> i64 {
    assert_eq!(c.call(&["MULTI"]), Resp::Simple("OK".into()));
    c.call(&["DBSIZE"]);
    c.call(&["INFO", "stats"]);
    let Resp::Array(Some(r)) = c.call(&["EXEC"]) else { panic!("EXEC") };
    let text = match &r[1] {
        Resp::Bulk(Some(b)) | Resp::Verbatim(b) => String::from_utf8_lossy(b).to_string(),
        other => panic!("INFO answered {other:?}"),
    };
    let evicted = common::info_field(&text, "evicted_keys").and_then(|v| v.parse::<i64>().ok()).expect("evicted_keys");
    int(r[0].clone()) + evicted
}

fn int(r: Resp) -> i64 {
    match r {
        Resp::Int(n) => n,
        other => panic!("not an integer: {other:?}"),
    }
}

/// Sends `cmds` pipelined in batches of 64 and returns every reply in order.
fn pipeline(c: &mut Raw, cmds: impl IntoIterator<Item = Vec<Vec<u8>>>) -> Vec<Resp> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut pending = 0;
    for cmd in cmds {
        let args: Vec<&[u8]> = cmd.iter().map(|a| &a[..]).collect();
        buf.extend_from_slice(&encode_cmd(&args));
        pending += 1;
        if pending == 64 {
            c.send(&buf);
            buf.clear();
            out.extend((0..pending).map(|_| c.read()));
            pending = 0;
        }
    }
    c.send(&buf);
    out.extend((0..pending).map(|_| c.read()));
    out
}

/// `SET {prefix}{i} <size bytes> [EX ttl(i)]` for every `i` in `range`.
/// Returns the replies.
fn fill(
    c: &mut Raw,
    prefix: &str,
    range: std::ops::Range<usize>,
    size: usize,
    ttl: impl Fn(usize) -> Option<u64>,
) -> Vec<Resp> {
    let value = vec![b'v'; size];
    pipeline(
        c,
        range.map(|i| {
            let mut cmd = vec![b"SET".to_vec(), format!("{prefix}{i}").into_bytes(), value.clone()];
            if let Some(t) = ttl(i) {
                cmd.push(b"EX".to_vec());
                cmd.push(t.to_string().into_bytes());
            }
            cmd
        }),
    )
}

/// Asserts every reply of a fill was +OK.
#[track_caller]
fn all_ok(replies: &[Resp]) {
    if let Some(i) = replies.iter().position(|r| *r != ok()) {
        panic!("write {i} of {} failed: {:?}", replies.len(), replies[i]);
    }
}

/// How many of `{prefix}{i}`, `i` in `range`, exist (EXISTS doesn't touch stats).
fn alive(c: &mut Raw, prefix: &str, range: std::ops::Range<usize>) -> usize {
    let replies = pipeline(c, range.map(|i| vec![b"EXISTS".to_vec(), format!("{prefix}{i}").into_bytes()]));
    replies.into_iter().map(int).sum::<i64>() as usize
}

/// Asserts `used_memory` is at most 5% over `limit` (the INFO reply itself
/// allocates after the eviction check that preceded it).
fn assert_near_limit(c: &mut Raw, limit: u64, what: &str) {
    let u = used(c);
    assert!(u <= limit + limit / 20, "{what}: used_memory {u} over maxmemory {limit}");
}

/// An empty server must sit well below the limits these tests use, or they
/// test nothing.
fn assert_baseline_below(c: &mut Raw, limit: u64) {
    let u = used(c);
    assert!(u < limit / 2, "empty server already uses {u} bytes (limit {limit})");
}

#[test]
fn allkeys_policies_evict_down_to_the_limit() {
    for policy in ["allkeys-lru", "allkeys-lfu", "allkeys-random"] {
        let srv = Server::start(&["--maxmemory", "4mb", "--maxmemory-policy", policy]);
        let mut c = srv.raw();
        assert_baseline_below(&mut c, 4 * MB);
        all_ok(&fill(&mut c, "k:", 0..8000, 1000, |_| None));
        assert_near_limit(&mut c, 4 * MB, policy);
        assert!(evicted(&mut c) > 0, "{policy}: nothing evicted");
        let n = int(c.call(&["DBSIZE"]));
        assert!(n > 500 && n < 8000, "{policy}: {n} keys left");
        assert_eq!(keys_plus_evicted(&mut c), 8000, "{policy}: keys lost otherwise");
    }
}

/// Keys whose value lives inside the entry (short strings) free no
/// allocation when removed: their table slot must still leave the count,
/// or eviction would empty the database chasing the limit.
#[test]
fn keys_without_heap_values_leave_used_memory_when_removed_or_evicted() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    all_ok(&fill(&mut c, "s:", 0..20_000, 8, |_| None));
    let full = used(&mut c);
    let dels = pipeline(&mut c, (0..10_000).map(|i| vec![b"DEL".to_vec(), format!("s:{i}").into_bytes()]));
    assert!(dels.iter().all(|r| *r == Resp::Int(1)));
    let half = used(&mut c);
    assert!(full - half >= 10_000 * 64, "10,000 DELs lowered used_memory by {} bytes only", full - half);

    let srv = Server::start(&["--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru"]);
    let mut c = srv.raw();
    assert_baseline_below(&mut c, 4 * MB);
    all_ok(&fill(&mut c, "s:", 0..60_000, 8, |_| None));
    assert_near_limit(&mut c, 4 * MB, "short values");
    assert!(evicted(&mut c) > 0, "60,000 keys fit in 4 MB?");
    let n = int(c.call(&["DBSIZE"]));
    assert!(n > 15_000, "eviction left {n} keys of 60,000 (the limit holds about 30,000)");
    assert_eq!(keys_plus_evicted(&mut c), 60_000);
}

#[test]
fn volatile_policies_never_evict_keys_without_ttl() {
    for policy in ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"] {
        let srv = Server::start(&["--maxmemory", "4mb", "--maxmemory-policy", policy]);
        let mut c = srv.raw();
        assert_baseline_below(&mut c, 4 * MB);
        all_ok(&fill(&mut c, "keep:", 0..500, 1000, |_| None));
        // A near and a far expiry, interleaved in time.
        let value = vec![b'v'; 1000];
        let cmds = (0..3000).flat_map(|i| {
            [("near", "1000"), ("far", "100000")].map(|(p, ttl)| {
                let key = format!("{p}:{i}").into_bytes();
                vec![b"SET".to_vec(), key, value.clone(), b"EX".to_vec(), ttl.as_bytes().to_vec()]
            })
        });
        all_ok(&pipeline(&mut c, cmds));
        assert_near_limit(&mut c, 4 * MB, policy);
        assert!(evicted(&mut c) > 0, "{policy}: nothing evicted");
        assert_eq!(alive(&mut c, "keep:", 0..500), 500, "{policy} evicted a key without TTL");
        if policy == "volatile-ttl" {
            let near = alive(&mut c, "near:", 0..3000);
            let far = alive(&mut c, "far:", 0..3000);
            assert!(far > 3 * near.max(10), "volatile-ttl kept {near} near-expiry keys and {far} far ones");
        }
    }
}

#[test]
fn noeviction_answers_oom_to_writes_but_serves_reads() {
    let srv = Server::start(&["--maxmemory", "3mb"]);
    let mut c = srv.raw();
    assert_baseline_below(&mut c, 3 * MB);
    assert_eq!(info(&mut c, "memory")["maxmemory_policy"], "noeviction");
    assert_eq!(c.call(&["SET", "first", "hello"]), ok());
    let replies = fill(&mut c, "k:", 0..6000, 1000, |_| None);
    let oom = Resp::Error(OOM.into());
    let accepted = replies.iter().filter(|r| **r == ok()).count();
    let refused = replies.iter().filter(|r| **r == oom).count();
    assert_eq!(accepted + refused, replies.len(), "unexpected replies: {:?}", replies.iter().find(|r| **r != ok()));
    assert!(refused > 1000 && accepted > 100, "{accepted} SETs accepted, {refused} refused");
    // (A small write may pass again once the pipelined input is consumed:
    // client buffers count too, as in Redis. A value of 4 KB does not.)
    let big = "x".repeat(4096);
    let replies = pipeline(
        &mut c,
        (0..64).map(|i| vec![b"SET".to_vec(), format!("big:{i}").into_bytes(), big.clone().into_bytes()]),
    );
    assert!(replies.contains(&oom), "64 × 4 KB accepted at the limit");
    assert_eq!(c.call(&["GET", "first"]), bulk("hello"));
    assert_eq!(c.call(&["GET", "k:0"]), bulk(&"v".repeat(1000)));
    assert_eq!(c.call(&["EXISTS", "k:5999"]), Resp::Int(0));
    assert_eq!(evicted(&mut c), 0);
    let stored = replies.iter().filter(|r| **r == ok()).count();
    assert_eq!(int(c.call(&["DBSIZE"])), (accepted + stored + 1) as i64);
    // Deleting is always allowed, and makes room again.
    let dels = pipeline(&mut c, (0..1000).map(|i| vec![b"DEL".to_vec(), format!("k:{i}").into_bytes()]));
    assert!(dels.iter().all(|r| *r == Resp::Int(1)));
    assert_eq!(c.call(&["SET", "x", "y"]), ok());
}

#[test]
fn volatile_policy_without_volatile_keys_answers_oom() {
    let srv = Server::start(&["--maxmemory", "3mb", "--maxmemory-policy", "volatile-lru"]);
    let mut c = srv.raw();
    let replies = fill(&mut c, "k:", 0..6000, 1000, |_| None);
    assert!(replies.contains(&Resp::Error(OOM.into())), "no OOM: {:?}", replies.last());
    assert_eq!(evicted(&mut c), 0);
    assert_eq!(c.call(&["GET", "k:0"]), bulk(&"v".repeat(1000)));
}

#[test]
fn config_set_applies_limit_and_policy_at_run_time() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    all_ok(&fill(&mut c, "k:", 0..4000, 1000, |_| None));
    assert!(used(&mut c) > 4 * MB);
    assert_eq!(c.call(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"]), ok());
    assert_eq!(c.call(&["CONFIG", "SET", "maxmemory", "2mb"]), ok());
    let got = c.call(&["CONFIG", "GET", "maxmemory"]);
    assert_eq!(got, Resp::Array(Some(vec![bulk("maxmemory"), bulk("2097152")])));
    // The next command (any command) brings memory under the new limit.
    assert_eq!(c.call(&["PING"]), Resp::Simple("PONG".into()));
    assert_near_limit(&mut c, 2 * MB, "after CONFIG SET maxmemory 2mb");
    assert!(evicted(&mut c) > 1000);
    let m = info(&mut c, "memory");
    assert_eq!(m["maxmemory"], "2097152");
    assert_eq!(m["maxmemory_policy"], "allkeys-random");
    // Switching to noeviction at the limit refuses writes ...
    assert_eq!(c.call(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]), ok());
    let replies = fill(&mut c, "more:", 0..2000, 1000, |_| None);
    assert!(replies.contains(&Resp::Error(OOM.into())));
    // ... and lifting the limit accepts them again.
    assert_eq!(c.call(&["CONFIG", "SET", "maxmemory", "0"]), ok());
    all_ok(&fill(&mut c, "more:", 0..2000, 1000, |_| None));
}

/// Writes `hot` and `cold` keys, waits until the LRU clock has ticked past
/// the cold ones, reads the hot ones (`reads` times each), then lowers the
/// limit to what is used plus ~0.5 MB and writes 1000 new keys. Returns the
/// surviving fractions of hot and cold keys.
fn hot_cold_survival(policy: &str, reads: usize) -> (f64, f64) {
    const HOT: usize = 200;
    const COLD: usize = 1500;
    let srv = Server::start(&["--maxmemory-policy", policy]);
    let mut c = srv.raw();
    all_ok(&fill(&mut c, "hot:", 0..HOT, 1000, |_| None));
    all_ok(&fill(&mut c, "cold:", 0..COLD, 1000, |_| None));
    if policy.contains("lru") {
        // Poll (no-touch introspection) until the newest cold key is idle.
        let deadline = Instant::now() + Duration::from_secs(5);
        while int(c.call(&["OBJECT", "IDLETIME", &format!("cold:{}", COLD - 1)])) < 1 {
            assert!(Instant::now() < deadline, "LRU clock did not advance");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    for _ in 0..reads {
        let r = pipeline(&mut c, (0..HOT).map(|i| vec![b"GET".to_vec(), format!("hot:{i}").into_bytes()]));
        assert!(r.iter().all(|r| matches!(r, Resp::Bulk(Some(_)))));
    }
    let limit = used(&mut c) + MB / 2;
    assert_eq!(c.call(&["CONFIG", "SET", "maxmemory", &limit.to_string()]), ok());
    all_ok(&fill(&mut c, "new:", 0..1000, 1000, |_| None));
    assert_near_limit(&mut c, limit, policy);
    assert!(evicted(&mut c) > 200, "{policy}: too little evicted to judge");
    let hot = alive(&mut c, "hot:", 0..HOT) as f64 / HOT as f64;
    let cold = alive(&mut c, "cold:", 0..COLD) as f64 / COLD as f64;
    eprintln!("{policy}: hot {hot:.2} cold {cold:.2}");
    (hot, cold)
}

#[test]
fn allkeys_lru_keeps_recently_read_keys() {
    let (hot, cold) = hot_cold_survival("allkeys-lru", 1);
    assert!(hot >= 0.95 && cold < 0.85, "LRU kept {hot:.2} of the hot keys and {cold:.2} of the cold");
}

#[test]
fn allkeys_lfu_keeps_frequently_read_keys() {
    let (hot, cold) = hot_cold_survival("allkeys-lfu", 50);
    assert!(hot >= 0.95 && cold < 0.85, "LFU kept {hot:.2} of the hot keys and {cold:.2} of the cold");
}

#[test]
fn object_idletime_grows_resets_on_read_and_respects_no_touch() {
    let srv = Server::start(&["--maxmemory-policy", "allkeys-lru"]);
    let mut c = srv.raw();
    let mut quiet = srv.raw();
    assert_eq!(quiet.call(&["CLIENT", "NO-TOUCH", "on"]), ok());
    assert_eq!(c.call(&["SET", "a", "1"]), ok());
    assert_eq!(c.call(&["SET", "b", "1"]), ok());
    let idle = |c: &mut Raw, k: &str| int(c.call(&["OBJECT", "IDLETIME", k]));
    let first = idle(&mut c, "a");
    assert!((0..=1).contains(&first), "fresh key idle for {first}s");
    let deadline = Instant::now() + Duration::from_secs(6);
    while idle(&mut c, "a") < 2 {
        // The no-touch client's reads must not reset the idle time.
        assert_eq!(quiet.call(&["GET", "a"]), bulk("1"));
        assert!(Instant::now() < deadline, "OBJECT IDLETIME did not grow");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(idle(&mut c, "b") >= 2);
    assert_eq!(quiet.call(&["GET", "a"]), bulk("1"));
    assert!(idle(&mut c, "a") >= 2, "a read under NO-TOUCH touched the key");
    assert!(idle(&mut quiet, "a") >= 2);
    // A normal read resets it; TOUCH does even under NO-TOUCH.
    assert_eq!(c.call(&["GET", "a"]), bulk("1"));
    assert!(idle(&mut c, "a") <= 1);
    assert_eq!(int(quiet.call(&["TOUCH", "b"])), 1);
    assert!(idle(&mut c, "b") <= 1);
    assert_eq!(c.call(&["OBJECT", "IDLETIME", "missing"]), Resp::Bulk(None));
    let freq = c.call(&["OBJECT", "FREQ", "a"]);
    assert_eq!(
        freq,
        Resp::Error(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when \
             switching between policies at runtime LRU and LFU data will take some time to adjust."
                .into()
        )
    );
}

#[test]
fn object_freq_grows_with_accesses_under_lfu() {
    let srv = Server::start(&["--maxmemory-policy", "allkeys-lfu"]);
    let mut c = srv.raw();
    assert_eq!(c.call(&["SET", "k", "v"]), ok());
    assert_eq!(int(c.call(&["OBJECT", "FREQ", "k"])), 5);
    // OBJECT itself does not count as an access.
    assert_eq!(int(c.call(&["OBJECT", "FREQ", "k"])), 5);
    let mut last = 5;
    for round in 0..3 {
        let r = pipeline(&mut c, (0..100).map(|_| vec![b"GET".to_vec(), b"k".to_vec()]));
        assert!(r.iter().all(|r| *r == bulk("v")));
        let f = int(c.call(&["OBJECT", "FREQ", "k"]));
        assert!(f >= last && f <= 255, "round {round}: freq {f} after {last}");
        last = f;
    }
    assert!(last >= 7, "300 reads only brought the counter to {last}");
    assert_eq!(
        c.call(&["OBJECT", "IDLETIME", "k"]),
        Resp::Error(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching \
             between policies at runtime LRU and LFU data will take some time to adjust."
                .into()
        )
    );
    // Switching policy at run time switches what OBJECT reports.
    assert_eq!(c.call(&["CONFIG", "SET", "maxmemory-policy", "volatile-lru"]), ok());
    assert!(matches!(c.call(&["OBJECT", "FREQ", "k"]), Resp::Error(_)));
    assert!(int(c.call(&["OBJECT", "IDLETIME", "k"])) >= 0);
}

#[test]
fn info_reports_memory_and_keyspace_statistics() {
    let srv = Server::start(&["--maxmemory", "3mb", "--maxmemory-policy", "allkeys-lru"]);
    let mut c = srv.raw();
    let m = info(&mut c, "memory");
    let used: u64 = m["used_memory"].parse().unwrap();
    assert!(used > 0);
    let human = &m["used_memory_human"];
    let (num, unit) = human.split_at(human.len() - 1);
    assert!(["B", "K", "M", "G"].contains(&unit), "used_memory_human {human}");
    assert!(num.parse::<f64>().is_ok(), "used_memory_human {human}");
    assert_eq!(m["maxmemory"], (3 * MB).to_string());
    assert_eq!(m["maxmemory_human"], "3.00M");
    assert_eq!(m["maxmemory_policy"], "allkeys-lru");
    let stats = |c: &mut Raw| {
        let s = info(c, "stats");
        let f = |k: &str| s[k].parse::<u64>().unwrap();
        (f("keyspace_hits"), f("keyspace_misses"), f("expired_keys"), f("evicted_keys"))
    };
    let (h0, m0, x0, e0) = stats(&mut c);
    assert_eq!((x0, e0), (0, 0));
    // No limit while hits, misses and expiry are counted: a server near
    // 3 MB could evict the short-lived key before it expires.
    assert_eq!(c.call(&["CONFIG", "SET", "maxmemory", "0"]), ok());
    assert_eq!(c.call(&["SET", "k", "v"]), ok());
    assert_eq!(c.call(&["GET", "k"]), bulk("v"));
    assert_eq!(c.call(&["GET", "nokey"]), Resp::Bulk(None));
    assert_eq!(c.call(&["GET", "nokey2"]), Resp::Bulk(None));
    let (h1, m1, _, _) = stats(&mut c);
    assert_eq!((h1 - h0, m1 - m0), (1, 2));
    // An expired key counts in expired_keys once it is reclaimed (PX 50,
    // not 1: a SET whose time has already passed deletes the key at once,
    // which counts nothing).
    assert_eq!(c.call(&["SET", "short", "v", "PX", "50"]), ok());
    let deadline = Instant::now() + Duration::from_secs(5);
    while int(c.call(&["EXISTS", "short"])) == 1 {
        assert!(Instant::now() < deadline, "key with PX 50 did not expire");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(stats(&mut c).2, 1);
    assert_eq!(c.call(&["CONFIG", "SET", "maxmemory", "3mb"]), ok());
    all_ok(&fill(&mut c, "k:", 0..5000, 1000, |_| None));
    let (_, _, _, e) = stats(&mut c);
    assert!(e > 0);
    let human = info(&mut c, "memory")["used_memory_human"].clone();
    assert!(human.ends_with('M'), "used_memory_human {human} near a 3 MB limit");
}

/// Resident set size of a process, from /proc (bytes).
fn rss_of(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap_or_default();
    s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()).unwrap_or(0) * 4096
}

#[test]
fn load_with_four_writers_stays_within_the_limit() {
    const LIMIT: u64 = 8 * MB;
    const PER_THREAD: usize = 12_000;
    let srv = Server::start(&["--maxmemory", "8mb", "--maxmemory-policy", "allkeys-lru"]);
    let mut c = srv.raw();
    let rss_start = rss_of(srv.pid());
    let writers: Vec<_> = (0..4u64)
        .map(|t| {
            let mut w = srv.raw();
            std::thread::spawn(move || {
                let mut rng = fastrand::Rng::with_seed(t);
                let deadline = Instant::now() + Duration::from_secs(2);
                let mut sent = 0;
                while sent < PER_THREAD && Instant::now() < deadline {
                    let batch = (0..32).map(|_| {
                        let key = format!("load:{}", rng.u32(..200_000));
                        let val: Vec<u8> = (0..1024).map(|_| rng.alphanumeric() as u8).collect();
                        vec![b"SET".to_vec(), key.into_bytes(), val]
                    });
                    let replies = pipeline(&mut w, batch);
                    if let Some(bad) = replies.iter().find(|r| **r != ok()) {
                        panic!("writer {t}: {bad:?}");
                    }
                    sent += 32;
                }
                sent
            })
        })
        .collect();
    let mut max_used = 0;
    let mut rss_at_limit = None;
    let mut samples = 0;
    while !writers.iter().all(|w| w.is_finished()) {
        let u = used(&mut c);
        max_used = max_used.max(u);
        assert!(u <= LIMIT + LIMIT / 4, "used_memory {u} above 125% of the limit");
        if rss_at_limit.is_none() && evicted(&mut c) > 0 {
            rss_at_limit = Some(rss_of(srv.pid()));
        }
        samples += 1;
        std::thread::sleep(Duration::from_millis(25));
    }
    let sent: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
    let rss_end = rss_of(srv.pid());
    assert!(samples > 3, "only {samples} samples");
    assert!(evicted(&mut c) > 0, "{sent} writes of 1 KB evicted nothing");
    assert_near_limit(&mut c, LIMIT, "after the load");
    let rss_at_limit = rss_at_limit.unwrap_or(rss_end);
    eprintln!("load: {sent} writes, max used {max_used}, rss start {rss_start} at limit {rss_at_limit} end {rss_end}");
    // The allocator keeps some slack, but RSS must not keep growing once
    // the data stopped growing.
    assert!(rss_end <= rss_at_limit + 4 * LIMIT, "RSS grew from {rss_at_limit} to {rss_end}");
    assert!(rss_end <= rss_start + 6 * LIMIT, "RSS {rss_end} far above start {rss_start} + 6 × limit");
}
