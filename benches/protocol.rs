//! Wire-protocol benchmarks: the request parser and the reply encoder.
//!
//! - `parse/pipeline_1000_set`: one buffer holding 1000 pipelined SET
//!   requests, parsed to the end (what a `redis-benchmark -P` read looks like).
//! - `parse/bulk_*_in_64k_chunks`: one large bulk (1, 10 and 40 MB) arriving
//!   in 64 KB reads, the parser called after each read. The parser resumes
//!   where it stopped and copies the body once, so its work is linear; a
//!   parser that rescans from the start would be quadratic. Time per byte
//!   still grows with size for reasons outside the parser: 1 MB stays in
//!   cache, 10 MB does not, and 40 MB is above glibc's largest mmap
//!   threshold (32 MB), so each iteration maps fresh pages and most of its
//!   time is page faults (read buffer + copied argument).
//! - `encode/array_100`: a 100-element array of bulk strings, RESP2 and RESP3.
//!
//! Run: `cargo bench --bench protocol` (add `-- --quick` for a short run).

use std::hint::black_box;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion, Throughput};
use inmemory::protocol::{encode, Reply, RequestParser};

/// Encodes `args` as one RESP multibulk request.
fn resp_request(args: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        v.extend_from_slice(a);
        v.extend_from_slice(b"\r\n");
    }
    v
}

/// Size of one simulated socket read.
const CHUNK: usize = 64 * 1024;

/// Feeds `wire` to a fresh parser in 64 KB reads, reserving before each read
/// what the parser says it needs, as `server/connection.rs` does. Returns the request.
fn parse_chunked(wire: &[u8]) -> Vec<Bytes> {
    let mut p = RequestParser::default();
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let mut got = None;
    for chunk in wire.chunks(CHUNK) {
        let want = p.needed().max(16 * 1024);
        buf.reserve(want.saturating_sub(buf.capacity() - buf.len()));
        buf.extend_from_slice(chunk);
        if let Ok(Some(args)) = p.parse(&mut buf, true) {
            got = Some(args);
        }
    }
    let args = got.unwrap_or_default();
    assert_eq!(args.len(), 3);
    args
}

/// Parses the 1000 SETs of `pipeline` with `next` (one request's argument
/// count per call, `None` at the end).
fn bench_pipeline(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    pipeline: &[u8],
    next: impl Fn(&mut RequestParser, &mut BytesMut) -> Option<usize>,
) {
    g.bench_function(name, |b| {
        b.iter_batched_ref(
            || BytesMut::from(pipeline),
            |buf| {
                let mut p = RequestParser::default();
                let mut n = 0usize;
                while let Some(k) = next(&mut p, buf) {
                    n += k;
                }
                assert_eq!(n, 3000);
            },
            BatchSize::SmallInput,
        )
    });
}

fn parse_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");

    let mut pipeline = Vec::new();
    for i in 0..1000 {
        let key = format!("key:{i:06}");
        pipeline.extend_from_slice(&resp_request(&[b"SET", key.as_bytes(), b"xxx"]));
    }
    g.throughput(Throughput::Elements(1000));
    // Owned: each request's arguments in a vector of their own (`parse`).
    bench_pipeline(&mut g, "pipeline_1000_set", &pipeline, |p, buf| {
        p.parse(buf, true).ok().flatten().map(|a| black_box(a).len())
    });
    // Lent, as the server parses: the vector reused (`parse_next`), the
    // arguments dropped before the next request is parsed.
    bench_pipeline(&mut g, "pipeline_1000_set_lent", &pipeline, |p, buf| {
        p.parse_next(buf, true).ok().flatten().map(|a| black_box(a).len())
    });

    for mb in [1usize, 10, 40] {
        let value = vec![b'x'; mb * 1024 * 1024];
        let wire = resp_request(&[b"SET", b"big", &value]);
        g.throughput(Throughput::Bytes(wire.len() as u64));
        g.sample_size(20);
        g.bench_function(format!("bulk_{mb}mb_in_64k_chunks"), |b| b.iter(|| black_box(parse_chunked(&wire))));
    }
    g.finish();
}

fn encode_group(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    let items: Vec<Bytes> = (0..100).map(|i| Bytes::from(format!("element:{i:04}"))).collect();
    let reply = Reply::bulk_array(items);
    g.throughput(Throughput::Elements(100));
    for proto in [2u8, 3] {
        let mut out = BytesMut::with_capacity(64 * 1024);
        g.bench_function(format!("array_100_resp{proto}"), |b| {
            b.iter(|| {
                out.clear();
                encode(black_box(&reply), proto, &mut out);
                black_box(out.len())
            })
        });
    }
    // Building the reply is part of every LRANGE: include it once.
    let src: Vec<Bytes> = (0..100).map(|i| Bytes::from(format!("element:{i:04}"))).collect();
    let mut out = BytesMut::with_capacity(64 * 1024);
    g.bench_function("array_100_build_and_encode", |b| {
        b.iter(|| {
            out.clear();
            let r = Reply::bulk_array(src.iter().cloned());
            encode(&r, 2, &mut out);
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = parse_group, encode_group
}
criterion_main!(benches);
