//! LRU quality: how close a server's approximated LRU eviction comes to
//! exact LRU on a skewed (Zipf-like) workload.
//!
//! Runs GET-then-SET-on-miss requests against a server at `--host:--port`
//! (which should run with `maxmemory` and `allkeys-lru`), pipelined in
//! batches, reads the hit ratio from INFO `keyspace_hits`/`keyspace_misses`,
//! then replays the same request sequence against an exact in-process LRU
//! cache (the `lru` crate) whose capacity in keys is what the server held at
//! the end (its DBSIZE), or `--capacity`.
//!
//! ```text
//! cargo run --release --example lru_quality -- --port 6379 [--keys 100000]
//!     [--requests 1000000] [--exponent 1.0] [--value-size 100] [--seed 7]
//!     [--batch 100] [--rate 0] [--capacity N] [--no-flush]
//! ```
//! `--rate` caps requests per second (0: as fast as possible), to spread a
//! run over many ticks of the servers' one-second LRU clock. Unless
//! `--no-flush`, the server is flushed and its stats reset first.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

/// Command-line settings.
struct Opts {
    host: String,
    port: u16,
    keys: usize,
    requests: usize,
    exponent: f64,
    value_size: usize,
    seed: u64,
    batch: usize,
    rate: u64,
    capacity: Option<usize>,
    flush: bool,
}

fn parse_opts() -> Result<Opts, String> {
    let mut o = Opts {
        host: "127.0.0.1".into(),
        port: 6379,
        keys: 100_000,
        requests: 1_000_000,
        exponent: 1.0,
        value_size: 100,
        seed: 7,
        batch: 100,
        rate: 0,
        capacity: None,
        flush: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--no-flush" {
            o.flush = false;
            continue;
        }
        let v = args.next().ok_or_else(|| format!("{a} needs a value"))?;
        let num = |v: &str| v.parse::<u64>().map_err(|e| format!("{a}: {e}"));
        match a.as_str() {
            "--host" => o.host = v,
            "--port" => o.port = num(&v)? as u16,
            "--keys" => o.keys = num(&v)?.max(1) as usize,
            "--requests" => o.requests = num(&v)? as usize,
            "--exponent" => o.exponent = v.parse().map_err(|e| format!("{a}: {e}"))?,
            "--value-size" => o.value_size = num(&v)? as usize,
            "--seed" => o.seed = num(&v)?,
            "--batch" => o.batch = num(&v)?.max(1) as usize,
            "--rate" => o.rate = num(&v)?,
            "--capacity" => o.capacity = Some(num(&v)? as usize),
            _ => return Err(format!("unknown option {a}")),
        }
    }
    Ok(o)
}

/// A Zipf-like distribution over ranks 0..n: P(rank k) ∝ 1 / (k+1)^s.
/// Sampling is a binary search in the cumulative table: O(log n).
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(n);
        let mut sum = 0.0;
        for k in 0..n {
            sum += 1.0 / ((k + 1) as f64).powf(s);
            cdf.push(sum);
        }
        for c in &mut cdf {
            *c /= sum;
        }
        Zipf { cdf }
    }

    fn sample(&self, rng: &mut fastrand::Rng) -> usize {
        let u = rng.f64();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

/// The request sequence: key ranks, deterministic for a seed.
fn requests(o: &Opts) -> impl Iterator<Item = usize> {
    let zipf = Zipf::new(o.keys, o.exponent);
    let mut rng = fastrand::Rng::with_seed(o.seed);
    (0..o.requests).map(move |_| zipf.sample(&mut rng))
}

/// One RESP reply, as much as this tool needs.
#[derive(Debug)]
enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

/// A connection with pipelining.
struct Conn {
    r: BufReader<TcpStream>,
    w: TcpStream,
    out: Vec<u8>,
    pending: usize,
}

impl Conn {
    fn connect(host: &str, port: u16) -> std::io::Result<Conn> {
        let s = TcpStream::connect((host, port))?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Conn { r: BufReader::new(s.try_clone()?), w: s, out: Vec::new(), pending: 0 })
    }

    /// Queues a command.
    fn queue(&mut self, args: &[&[u8]]) {
        self.out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            self.out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            self.out.extend_from_slice(a);
            self.out.extend_from_slice(b"\r\n");
        }
        self.pending += 1;
    }

    /// Sends the queued commands and reads their replies.
    fn flush(&mut self) -> std::io::Result<Vec<Reply>> {
        self.w.write_all(&self.out)?;
        self.out.clear();
        let n = std::mem::take(&mut self.pending);
        (0..n).map(|_| self.read()).collect()
    }

    fn call(&mut self, args: &[&str]) -> std::io::Result<Reply> {
        let a: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
        self.queue(&a);
        let mut r = self.flush()?;
        r.pop().ok_or_else(|| std::io::Error::other("no reply"))
    }

    fn read(&mut self) -> std::io::Result<Reply> {
        let mut line = String::new();
        if self.r.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("connection closed"));
        }
        let line = line.trim_end();
        let bad = || std::io::Error::other(format!("bad reply line {line:?}"));
        let (t, rest) = line.split_at_checked(1).ok_or_else(bad)?;
        let n = || rest.parse::<i64>().map_err(|_| bad());
        Ok(match t {
            "+" => Reply::Status(rest.into()),
            "-" => Reply::Error(rest.into()),
            ":" => Reply::Int(n()?),
            "$" if n()? < 0 => Reply::Bulk(None),
            "$" => {
                let mut b = vec![0; n()? as usize + 2];
                self.r.read_exact(&mut b)?;
                b.truncate(b.len() - 2);
                Reply::Bulk(Some(b))
            }
            "*" => Reply::Array((0..n()?.max(0)).map(|_| self.read()).collect::<Result<_, _>>()?),
            _ => return Err(bad()),
        })
    }

    /// INFO as field → value.
    fn info(&mut self) -> std::io::Result<HashMap<String, String>> {
        match self.call(&["INFO", "all"])? {
            Reply::Bulk(Some(b)) => Ok(String::from_utf8_lossy(&b)
                .lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.to_string(), v.trim().to_string()))
                .collect()),
            other => Err(std::io::Error::other(format!("INFO answered {other:?}"))),
        }
    }
}

fn field(info: &HashMap<String, String>, name: &str) -> u64 {
    info.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Hit ratio of exact LRU with `capacity` keys on the same requests:
/// (overall, second half).
fn simulate(o: &Opts, capacity: usize) -> (f64, f64) {
    let Some(cap) = NonZeroUsize::new(capacity) else { return (0.0, 0.0) };
    let mut cache = lru::LruCache::new(cap);
    let (mut hits, mut half_hits) = (0u64, 0u64);
    for (i, k) in requests(o).enumerate() {
        if cache.get(&k).is_some() {
            hits += 1;
            if i >= o.requests / 2 {
                half_hits += 1;
            }
        } else {
            cache.put(k, ());
        }
    }
    (hits as f64 / o.requests.max(1) as f64, half_hits as f64 / (o.requests - o.requests / 2).max(1) as f64)
}

fn run(o: &Opts) -> std::io::Result<()> {
    let mut c = Conn::connect(&o.host, o.port)?;
    if o.flush {
        c.call(&["FLUSHALL"])?;
    }
    match c.call(&["CONFIG", "RESETSTAT"])? {
        Reply::Status(s) if s == "OK" => {}
        other => return Err(std::io::Error::other(format!("CONFIG RESETSTAT answered {other:?}"))),
    }
    let info = c.info()?;
    println!(
        "server {}:{}  maxmemory {}  policy {}  samples {}",
        o.host,
        o.port,
        info.get("maxmemory_human").map_or("?", |s| s),
        info.get("maxmemory_policy").map_or("?", |s| s),
        match c.call(&["CONFIG", "GET", "maxmemory-samples"])? {
            Reply::Array(a) => match a.get(1) {
                Some(Reply::Bulk(Some(b))) => String::from_utf8_lossy(b).into_owned(),
                _ => "?".into(),
            },
            _ => "?".into(),
        }
    );
    println!(
        "workload: {} keys, Zipf exponent {}, {} requests (GET, SET on miss), {} B values, batch {}, seed {}",
        o.keys, o.exponent, o.requests, o.value_size, o.batch, o.seed
    );
    let value = vec![b'x'; o.value_size];
    let keys: Vec<Vec<u8>> = (0..o.keys).map(|k| format!("key:{k}").into_bytes()).collect();
    let started = Instant::now();
    let mut errors = 0u64;
    let mut first_error = None;
    let mut half = None;
    let all: Vec<usize> = requests(o).collect();
    for (b, batch) in all.chunks(o.batch).enumerate() {
        if b * o.batch >= o.requests / 2 && half.is_none() {
            let i = c.info()?;
            half = Some((field(&i, "keyspace_hits"), field(&i, "keyspace_misses")));
        }
        if o.rate > 0 {
            let due = Duration::from_secs_f64((b * o.batch) as f64 / o.rate as f64);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        for &k in batch {
            c.queue(&[b"GET", &keys[k]]);
        }
        let replies = c.flush()?;
        for (&k, r) in batch.iter().zip(&replies) {
            match r {
                Reply::Bulk(None) => c.queue(&[b"SET", &keys[k], &value]),
                Reply::Bulk(Some(_)) => {}
                other => {
                    errors += 1;
                    first_error.get_or_insert_with(|| format!("{other:?}"));
                }
            }
        }
        for r in c.flush()? {
            if let Reply::Error(e) = r {
                errors += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    let elapsed = started.elapsed();
    let info = c.info()?;
    let (hits, misses) = (field(&info, "keyspace_hits"), field(&info, "keyspace_misses"));
    let (h0, m0) = half.unwrap_or((0, 0));
    let dbsize = match c.call(&["DBSIZE"])? {
        Reply::Int(n) => n.max(0) as usize,
        other => return Err(std::io::Error::other(format!("DBSIZE answered {other:?}"))),
    };
    let ratio = |h: u64, m: u64| if h + m > 0 { h as f64 / (h + m) as f64 } else { 0.0 };
    println!(
        "server: {:.1}s, {} errors, keys held {dbsize}, used_memory {}, evicted_keys {}",
        elapsed.as_secs_f64(),
        errors,
        field(&info, "used_memory"),
        field(&info, "evicted_keys")
    );
    if let Some(e) = first_error {
        println!("first error: {e}");
    }
    println!(
        "server hit ratio: {:.4} (second half {:.4})",
        ratio(hits, misses),
        ratio(hits.saturating_sub(h0), misses.saturating_sub(m0))
    );
    let cap = o.capacity.unwrap_or(dbsize);
    let (sim, sim_half) = simulate(o, cap);
    println!("exact LRU, capacity {cap} keys: {sim:.4} (second half {sim_half:.4})");
    Ok(())
}

fn main() {
    let o = match parse_opts() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("lru_quality: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&o) {
        eprintln!("lru_quality: {e}");
        std::process::exit(1);
    }
}
