//! A consumer-group reader for benchmarks: CONSUMERS connections of one
//! group drain a preloaded stream with `XREADGROUP … COUNT n STREAMS key >`,
//! each acknowledging a batch (`XACK key group id…`) in the same write as its
//! next read, until the group has nothing new. Prints the entries read and
//! acknowledged per second (one line: `entries seconds rate`) and fails if
//! fewer than EXPECTED entries were read or acknowledged.
//!
//! Standard library only, so that the benchmark script builds it with
//! `rustc -O` alone; replies are parsed without allocating per element, so
//! the client costs far less than the server it measures (RESP2).
//!
//! Usage: stream-consumer HOST PORT KEY GROUP CONSUMERS COUNT EXPECTED [TIMEOUT_S]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// A RESP command as bytes.
fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

struct Conn {
    r: BufReader<TcpStream>,
    w: TcpStream,
    line: Vec<u8>,
    scratch: Vec<u8>,
}

impl Conn {
    fn open(host: &str, port: u16) -> std::io::Result<Conn> {
        let s = TcpStream::connect((host, port))?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Conn { r: BufReader::with_capacity(1 << 16, s.try_clone()?), w: s, line: Vec::new(), scratch: Vec::new() })
    }

    /// The next reply's header line: its type byte and the number after it.
    fn header(&mut self) -> Result<(u8, i64), String> {
        self.line.clear();
        self.r.read_until(b'\n', &mut self.line).map_err(|e| e.to_string())?;
        if self.line.len() < 3 {
            return Err("connection closed".into());
        }
        let kind = self.line[0];
        let text = String::from_utf8_lossy(&self.line[1..self.line.len() - 2]).into_owned();
        if kind == b'-' {
            return Err(format!("server error: {text}"));
        }
        if kind == b'+' {
            return Ok((kind, 0));
        }
        text.parse().map(|n| (kind, n)).map_err(|_| format!("bad reply line {text:?}"))
    }

    /// A bulk string's body (header already read), into `scratch`.
    fn bulk_body(&mut self, n: i64) -> Result<(), String> {
        self.scratch.resize(n as usize + 2, 0);
        self.r.read_exact(&mut self.scratch).map_err(|e| e.to_string())
    }

    /// Reads and drops one whole reply.
    fn skip(&mut self) -> Result<(), String> {
        match self.header()? {
            (b'$', n) if n >= 0 => self.bulk_body(n),
            (b'*', n) => (0..n.max(0)).try_for_each(|_| self.skip()),
            _ => Ok(()),
        }
    }

    /// An XREADGROUP reply for one stream: the ids served (appended to
    /// `ids`), or false for a nil reply (nothing new).
    fn read_entries(&mut self, ids: &mut Vec<Vec<u8>>) -> Result<bool, String> {
        match self.header()? {
            (b'*', -1) => return Ok(false),
            (b'*', 1) => {}
            other => return Err(format!("unexpected XREADGROUP reply {other:?}")),
        }
        let (b'*', 2) = self.header()? else { return Err("expected [key, entries]".into()) };
        self.skip()?; // the key
        let (b'*', n) = self.header()? else { return Err("expected entries".into()) };
        for _ in 0..n {
            let (b'*', 2) = self.header()? else { return Err("expected [id, fields]".into()) };
            let (b'$', len) = self.header()? else { return Err("expected an id".into()) };
            self.bulk_body(len)?;
            ids.push(self.scratch[..len as usize].to_vec());
            self.skip()?; // the fields and values
        }
        Ok(true)
    }
}

/// One consumer's loop; returns (entries read, entries acknowledged).
#[allow(clippy::too_many_arguments)]
fn consume(
    host: &str,
    port: u16,
    key: &[u8],
    group: &[u8],
    name: &[u8],
    count: &[u8],
    start: &Barrier,
    deadline: Instant,
) -> Result<(u64, u64), String> {
    let conn = Conn::open(host, port).map_err(|e| e.to_string());
    start.wait(); // every thread reaches it once, connected or not
    let mut c = conn?;
    let (mut read, mut acked) = (0u64, 0u64);
    let mut ids: Vec<Vec<u8>> = Vec::new();
    let mut req = Vec::new();
    loop {
        if Instant::now() > deadline {
            return Err("deadline passed".into());
        }
        req.clear();
        let had_ids = !ids.is_empty();
        if had_ids {
            let mut args: Vec<&[u8]> = vec![b"XACK", key, group];
            args.extend(ids.iter().map(|i| &i[..]));
            command(&mut req, &args);
        }
        command(&mut req, &[b"XREADGROUP", b"GROUP", group, name, b"COUNT", count, b"STREAMS", key, b">"]);
        c.w.write_all(&req).map_err(|e| e.to_string())?;
        if had_ids {
            match c.header()? {
                (b':', n) => acked += n as u64,
                other => return Err(format!("unexpected XACK reply {other:?}")),
            }
            ids.clear();
        }
        if !c.read_entries(&mut ids)? {
            return Ok((read, acked));
        }
        read += ids.len() as u64;
    }
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 8 {
        eprintln!("usage: stream-consumer HOST PORT KEY GROUP CONSUMERS COUNT EXPECTED [TIMEOUT_S]");
        std::process::exit(2);
    }
    let host = a[1].clone();
    let port: u16 = a[2].parse().expect("PORT");
    let consumers: usize = a[5].parse().expect("CONSUMERS");
    let expected: u64 = a[7].parse().expect("EXPECTED");
    let timeout: u64 = a.get(8).map_or(120, |t| t.parse().expect("TIMEOUT_S"));
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let start = Arc::new(Barrier::new(consumers + 1));
    let threads: Vec<_> = (0..consumers)
        .map(|i| {
            let (host, key, group, count, start) =
                (host.clone(), a[3].clone(), a[4].clone(), a[6].clone(), Arc::clone(&start));
            std::thread::spawn(move || {
                let name = format!("consumer-{i}");
                consume(
                    &host,
                    port,
                    key.as_bytes(),
                    group.as_bytes(),
                    name.as_bytes(),
                    count.as_bytes(),
                    &start,
                    deadline,
                )
            })
        })
        .collect();
    start.wait();
    let t0 = Instant::now();
    let (mut read, mut acked) = (0u64, 0u64);
    let mut failed = false;
    for t in threads {
        match t.join().expect("consumer thread") {
            Ok((r, k)) => {
                read += r;
                acked += k;
            }
            Err(e) => {
                eprintln!("stream-consumer: {e}");
                failed = true;
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    if failed || read < expected || acked < expected {
        eprintln!("stream-consumer: read {read}, acknowledged {acked}, expected {expected}");
        std::process::exit(1);
    }
    println!("{read} {secs:.3} {:.0}", acked as f64 / secs);
}
