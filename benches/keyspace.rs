//! Keyspace micro-benchmarks, without the network.
//!
//! The original Go project measured six operations on its database object
//! with a constant key (`BenchmarkGet` ran `db.Get("key")` in a loop, and so
//! on). The same six are measured here through the path the server takes for
//! every request: `cmd::dispatch` (table lookup, arity and auth checks, shard
//! locking, the handler, write bookkeeping). Further groups show
//!
//! - `locked`: the same GET/SET straight on a `db::Locked` view, i.e. what the
//!   dispatcher costs on top of the data structure;
//! - `request`: one whole request without sockets: RESP parsing, dispatch
//!   and reply encoding, which is what a pipelined connection repeats.
//!
//! The server binary's counting allocator is installed here too, so every
//! allocation costs what it costs in the server.
//!
//! Run: `cargo bench --bench keyspace` (add `-- --quick` for a short run).
//! Reference figures of the Go original (ns/op): Get 76.2, Set 565,
//! LPush 305, LGet (LINDEX) 93.5, HSet 105, HGet 83.6.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use inmemory::cmd::dispatch;
use inmemory::db::Value;
use inmemory::protocol::{encode, Reply, RequestParser};
use inmemory::server::client::ClientState;
use inmemory::server::config::Config;
use inmemory::server::Server;

/// The allocator `inmemory-server` runs with (counts bytes for `used_memory`).
#[global_allocator]
static ALLOC: inmemory::memory::CountingAlloc = inmemory::memory::CountingAlloc;

/// Builds a request's argument vector.
fn cmd(parts: &[&str]) -> Vec<Bytes> {
    parts.iter().map(|p| Bytes::copy_from_slice(p.as_bytes())).collect()
}

/// A fresh server with default settings and one registered client.
fn setup() -> (Arc<Server>, ClientState) {
    inmemory::memory::mark_installed();
    // A running server publishes the LRU clock every 100 ms (its active
    // expiry thread), and every key access reads that published value;
    // without it each access would compute it with a clock call.
    inmemory::db::tick_lru_clock();
    let srv = Server::new(Config::default());
    let handle = srv.clients.register(None, None);
    let client = ClientState::new(handle, true);
    (srv, client)
}

/// Runs `args` once and fails loudly if it answers an error, so a
/// benchmark never silently measures an error path.
fn run_ok(srv: &Server, client: &mut ClientState, args: &[Bytes]) {
    let reply = dispatch(srv, client, args);
    if let Reply::Error(e) = &reply {
        eprintln!("warning: {:?} answers {e}; the benchmark measures the error path", args[0]);
    }
}

/// Elements pushed between two resets of the LPUSH list (keeps memory bounded).
const LPUSH_CHUNK: u64 = 10_000;

/// The Go original's six benchmarks, through `cmd::dispatch`.
fn dispatch_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("dispatch");

    let (srv, mut client) = setup();
    run_ok(&srv, &mut client, &cmd(&["SET", "key", "value"]));
    let get = cmd(&["GET", "key"]);
    g.bench_function("GET", |b| b.iter(|| black_box(dispatch(&srv, &mut client, black_box(&get)))));

    let set = cmd(&["SET", "key", "value"]);
    run_ok(&srv, &mut client, &set);
    g.bench_function("SET", |b| b.iter(|| black_box(dispatch(&srv, &mut client, black_box(&set)))));

    // LPUSH on one key grows the list; it is deleted (untimed) every
    // LPUSH_CHUNK pushes so memory stays bounded however long criterion runs.
    let lpush = cmd(&["LPUSH", "list", "value"]);
    let del = cmd(&["DEL", "list"]);
    run_ok(&srv, &mut client, &lpush);
    g.bench_function("LPUSH", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(LPUSH_CHUNK);
                let t = Instant::now();
                for _ in 0..n {
                    black_box(dispatch(&srv, &mut client, black_box(&lpush)));
                }
                total += t.elapsed();
                dispatch(&srv, &mut client, &del);
                left -= n;
            }
            total
        })
    });

    // LINDEX of the head of a 100-element list (the Go LGet read index 0).
    let fill: Vec<Bytes> =
        cmd(&["RPUSH", "rlist"]).into_iter().chain((0..100).map(|i| Bytes::from(format!("v{i}")))).collect();
    run_ok(&srv, &mut client, &fill);
    let lindex = cmd(&["LINDEX", "rlist", "0"]);
    run_ok(&srv, &mut client, &lindex);
    g.bench_function("LINDEX", |b| b.iter(|| black_box(dispatch(&srv, &mut client, black_box(&lindex)))));

    let hset = cmd(&["HSET", "hash", "field", "value"]);
    run_ok(&srv, &mut client, &hset);
    g.bench_function("HSET", |b| b.iter(|| black_box(dispatch(&srv, &mut client, black_box(&hset)))));

    let hget = cmd(&["HGET", "hash", "field"]);
    run_ok(&srv, &mut client, &hget);
    g.bench_function("HGET", |b| b.iter(|| black_box(dispatch(&srv, &mut client, black_box(&hget)))));

    // A miss and a command that touches no key, for scale.
    let miss = cmd(&["GET", "nosuchkey"]);
    g.bench_function("GET miss", |b| b.iter(|| black_box(dispatch(&srv, &mut client, black_box(&miss)))));
    let ping = cmd(&["PING"]);
    g.bench_function("PING", |b| b.iter(|| black_box(dispatch(&srv, &mut client, black_box(&ping)))));
    g.finish();
}

/// GET and SET straight on the keyspace's locked view: the floor under the
/// dispatcher (lock one shard, hash lookup, LRU touch, stats).
fn locked_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("locked");
    let (srv, _client) = setup();
    let key = Bytes::from_static(b"key");
    let value = Bytes::from_static(b"value");
    {
        let mut l = srv.keyspace.lock_keys(0, [&key[..]]);
        l.set(&key, Value::str(&value));
    }
    g.bench_function("GET", |b| {
        b.iter(|| {
            let mut l = srv.keyspace.lock_keys(0, [black_box(&key[..])]);
            let v = match l.read(&key) {
                Some(e) => match &e.value {
                    Value::Str(s) => Some(s.clone()),
                    _ => None,
                },
                None => None,
            };
            black_box(v)
        })
    });
    g.bench_function("SET", |b| {
        b.iter(|| {
            let mut l = srv.keyspace.lock_keys(0, [black_box(&key[..])]);
            l.set(&key, Value::str(&value));
        })
    });
    g.bench_function("lock only", |b| b.iter(|| black_box(srv.keyspace.lock_keys(0, [black_box(&key[..])]))));
    g.finish();
}

/// Encodes `args` as one RESP multibulk request.
fn resp_request(args: &[&str]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    v
}

/// One request end to end without sockets: parse, dispatch, encode.
fn request_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("request");
    let (srv, mut client) = setup();
    run_ok(&srv, &mut client, &cmd(&["SET", "key", "value"]));
    for (name, parts) in [("GET", &["GET", "key"][..]), ("SET", &["SET", "key", "value"][..])] {
        let wire = resp_request(parts);
        let mut parser = RequestParser::default();
        let mut out = BytesMut::with_capacity(64 * 1024);
        g.bench_function(name, |b| {
            b.iter_batched_ref(
                || BytesMut::from(&wire[..]),
                |buf| {
                    if let Ok(Some(args)) = parser.parse(buf, true) {
                        let reply = dispatch(&srv, &mut client, &args);
                        encode(&reply, 2, &mut out);
                    }
                    if out.len() > 32 * 1024 {
                        out.clear();
                    }
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = dispatch_group, locked_group, request_group
}
criterion_main!(benches);
