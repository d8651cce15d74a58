//! MIGRATE (Redis's `migrateCommand`): DUMP the keys, send them to the
//! target as RESTORE commands over one connection, and delete those the
//! target acknowledged (unless COPY).
//!
//! The handler runs synchronously under the keys' shard locks and talks to
//! the target with a blocking socket, every connect, write and read bounded
//! by the command's timeout (Redis blocks the same way), so it never hangs
//! for longer. Connections are cached per `host:port` for 10 seconds after
//! their last use (at most 64, as Redis's `migrate_cached_sockets`),
//! remembering the database last selected so SELECT is sent only when it
//! changes. A connection that failed is closed; one that failed before the
//! target processed anything is reopened and the transfer retried once,
//! unless the failure was a timeout.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{LazyLock, Once};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

use super::super::args::{err, fail, int, is};
use super::super::{CmdResult, Ctx};
use super::payload_of;
use crate::db::now_ms;
use crate::persist::aof::encode_command;
use crate::protocol::Reply;

/// Most connections kept (Redis's `MIGRATE_SOCKET_CACHE_ITEMS`).
const CACHE_ITEMS: usize = 64;
/// A cached connection unused for longer than this is closed.
const CACHE_TTL: Duration = Duration::from_secs(10);
/// Bytes written per write call (Redis writes 64 KiB at a time).
const WRITE_CHUNK: usize = 64 * 1024;
/// Longest reply line accepted from the target.
const MAX_LINE: usize = 64 * 1024;

/// A connection to a target, with the database last selected on it.
struct Cached {
    stream: TcpStream,
    /// `None`: unknown (new, or the target answered an error).
    last_db: Option<i64>,
    last_use: Instant,
}

/// The cache, by `host:port` as the client wrote them. A connection in use
/// is taken out (so two MIGRATEs never share one) and put back after.
static SOCKETS: LazyLock<Mutex<HashMap<String, Cached>>> = LazyLock::new(|| Mutex::new(HashMap::new()));
static SWEEPER: Once = Once::new();

/// INFO's `migrate_cached_sockets`: connections cached now. O(1).
pub fn cached_sockets() -> usize {
    SOCKETS.lock().len()
}

/// Closes the connections idle for more than [`CACHE_TTL`], once a second
/// (Redis's `migrateCloseTimedoutSockets` in its cron), from a thread
/// started with the first cached connection.
fn start_sweeper() {
    SWEEPER.call_once(|| {
        let _ = std::thread::Builder::new().name("migrate-sockets".into()).spawn(|| loop {
            std::thread::sleep(Duration::from_secs(1));
            SOCKETS.lock().retain(|_, c| c.last_use.elapsed() <= CACHE_TTL);
        });
    });
}

/// The cached connection to `host:port`, or a new one (IOERR if it cannot
/// be opened within `timeout`). Its timeouts are set to `timeout`.
fn take_socket(name: &str, host: &[u8], port: &[u8], timeout: Duration) -> Result<Cached, Reply> {
    let cached = SOCKETS.lock().remove(name);
    let mut c = match cached {
        Some(c) => c,
        None => Cached { stream: connect(host, port, timeout)?, last_db: None, last_use: Instant::now() },
    };
    c.last_use = Instant::now();
    let set = c.stream.set_read_timeout(Some(timeout)).and_then(|()| c.stream.set_write_timeout(Some(timeout)));
    set.map_err(|_| Reply::err("IOERR error or timeout connecting to the client"))?;
    Ok(c)
}

fn connect(host: &[u8], port: &[u8], timeout: Duration) -> Result<TcpStream, Reply> {
    let refused = || Reply::err("IOERR error or timeout connecting to the client");
    let host = std::str::from_utf8(host).map_err(|_| refused())?;
    let port: u16 = std::str::from_utf8(port).ok().and_then(|p| p.parse().ok()).ok_or_else(refused)?;
    let deadline = Instant::now() + timeout;
    for addr in (host, port).to_socket_addrs().map_err(|_| refused())? {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        if let Ok(s) = TcpStream::connect_timeout(&addr, left) {
            let _ = s.set_nodelay(true);
            return Ok(s);
        }
    }
    Err(refused())
}

/// Puts a connection (still good) back in the cache, dropping a random one
/// when it is full.
fn put_back(name: String, c: Cached) {
    let mut cache = SOCKETS.lock();
    if cache.len() >= CACHE_ITEMS {
        if let Some(victim) = cache.keys().nth(fastrand::usize(..cache.len())).cloned() {
            cache.remove(&victim);
        }
    }
    cache.insert(name, c);
    drop(cache);
    start_sweeper();
}

/// MIGRATE's parsed arguments.
struct MigrateArgs {
    copy: bool,
    replace: bool,
    /// AUTH password, or AUTH2 user and password.
    auth: Option<(Option<Bytes>, Bytes)>,
    /// Argument positions of the keys.
    first_key: usize,
    num_keys: usize,
    /// Destination database.
    db: i64,
    /// Bound on connecting, and on each write and reply line.
    timeout: Duration,
}

fn parse(a: &[Bytes]) -> Result<MigrateArgs, Reply> {
    let timeout = Duration::ZERO;
    let mut m = MigrateArgs { copy: false, replace: false, auth: None, first_key: 3, num_keys: 1, db: 0, timeout };
    let mut j = 6;
    while j < a.len() {
        let more = a.len() - 1 - j;
        if is(&a[j], "copy") {
            m.copy = true;
        } else if is(&a[j], "replace") {
            m.replace = true;
        } else if is(&a[j], "auth") {
            if more == 0 {
                return fail(err::SYNTAX);
            }
            m.auth = Some((None, a[j + 1].clone()));
            j += 1;
        } else if is(&a[j], "auth2") {
            if more < 2 {
                return fail(err::SYNTAX);
            }
            m.auth = Some((Some(a[j + 1].clone()), a[j + 2].clone()));
            j += 2;
        } else if is(&a[j], "keys") {
            if !a[3].is_empty() {
                return fail("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string");
            }
            m.first_key = j + 1;
            m.num_keys = a.len() - j - 1;
            break;
        } else {
            return fail(err::SYNTAX);
        }
        j += 1;
    }
    // Checked after the options, timeout first, as Redis does.
    let timeout = int(&a[5])?;
    m.db = int(&a[4])?;
    m.timeout = Duration::from_millis(if timeout <= 0 { 1000 } else { timeout as u64 });
    Ok(m)
}

/// Positions of MIGRATE's keys, as Redis's `migrateGetKeys` finds them:
/// the arguments after `KEYS` when the key argument is empty (none when it
/// is not: the call is refused), else the key argument. O(arguments).
pub fn key_positions(args: &[Bytes]) -> Option<Vec<usize>> {
    if args.len() < 6 {
        return None;
    }
    let mut i = 6;
    while i < args.len() {
        if is(&args[i], "keys") {
            // KEYS needs the single-key argument empty: no keys otherwise.
            return args[3].is_empty().then(|| (i + 1..args.len()).collect());
        }
        // AUTH and AUTH2 take one and two arguments (a password "keys" is no option).
        i += 1 + usize::from(is(&args[i], "auth")) + 2 * usize::from(is(&args[i], "auth2"));
    }
    Some(vec![3])
}

/// How talking to the target failed.
#[derive(Clone, Copy)]
struct IoFail {
    writing: bool,
    timed_out: bool,
}

impl IoFail {
    fn of(e: &std::io::Error, writing: bool) -> IoFail {
        IoFail { writing, timed_out: matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) }
    }
}

/// Reads reply lines (without CRLF) from the target, each within
/// `timeout` in all (a target trickling bytes does not stretch it).
struct Lines<'s> {
    stream: &'s mut TcpStream,
    buf: Vec<u8>,
    timeout: Duration,
}

impl Lines<'_> {
    fn next(&mut self) -> Result<Vec<u8>, IoFail> {
        let closed = IoFail { writing: false, timed_out: false };
        let late = IoFail { writing: false, timed_out: true };
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line = self.buf[..p].to_vec();
                self.buf.drain(..p + 2);
                return Ok(line);
            }
            if self.buf.len() > MAX_LINE {
                return Err(closed);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.stream.set_read_timeout(Some(left)).is_err() {
                return Err(late);
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(closed),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(IoFail::of(&e, false)),
            }
        }
    }
}

fn write_all(stream: &mut TcpStream, buf: &[u8]) -> Result<(), IoFail> {
    for chunk in buf.chunks(WRITE_CHUNK) {
        stream.write_all(chunk).map_err(|e| IoFail::of(&e, true))?;
    }
    Ok(())
}

/// One key to send: its name, TTL in milliseconds (0: none) and payload.
struct Item {
    key: Bytes,
    ttl: i64,
    payload: Vec<u8>,
}

/// The commands sent for one attempt: AUTH, SELECT when `select`, then a
/// RESTORE per item.
fn request(m: &MigrateArgs, select: bool, items: &[Item]) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some((user, pass)) = &m.auth {
        match user {
            Some(u) => encode_command(&mut out, &[b"AUTH", u, pass]),
            None => encode_command(&mut out, &[b"AUTH", pass]),
        }
    }
    if select {
        encode_command(&mut out, &[b"SELECT", itoa::Buffer::new().format(m.db).as_bytes()]);
    }
    let mut ib = itoa::Buffer::new();
    for it in items {
        let ttl = ib.format(it.ttl).as_bytes().to_vec();
        if m.replace {
            encode_command(&mut out, &[b"RESTORE", &it.key, &ttl, &it.payload, b"REPLACE"]);
        } else {
            encode_command(&mut out, &[b"RESTORE", &it.key, &ttl, &it.payload]);
        }
    }
    out
}

/// What one attempt came to.
enum Outcome {
    /// Every reply was read (`error`: the target's first error, if any).
    Done { error: Option<Reply> },
    /// The connection failed after `acked` RESTOREs were answered.
    Failed { fail: IoFail, acked: usize },
}

/// Sends the request and reads the replies, deleting each key the target
/// restored (unless COPY) as its reply arrives; the deleted keys are added
/// to `deleted`.
fn attempt(
    ctx: &mut Ctx,
    stream: &mut TcpStream,
    m: &MigrateArgs,
    select: bool,
    items: &[Item],
    deleted: &mut Vec<Bytes>,
) -> Outcome {
    if let Err(fail) = write_all(stream, &request(m, select, items)) {
        return Outcome::Failed { fail, acked: 0 };
    }
    let mut lines = Lines { stream, buf: Vec::new(), timeout: m.timeout };
    // An AUTH or SELECT error fails every key; a RESTORE error its own.
    let mut first_error: Option<Vec<u8>> = None;
    for _ in [m.auth.is_some(), select].iter().filter(|x| **x) {
        match lines.next() {
            Ok(l) if l.first() == Some(&b'-') => {
                first_error.get_or_insert(l);
            }
            Ok(_) => {}
            Err(fail) => return Outcome::Failed { fail, acked: 0 },
        }
    }
    let setup_failed = first_error.is_some();
    for (j, it) in items.iter().enumerate() {
        let line = match lines.next() {
            Ok(l) => l,
            Err(fail) => return Outcome::Failed { fail, acked: j },
        };
        if setup_failed || line.first() == Some(&b'-') {
            first_error.get_or_insert(line);
        } else if !m.copy {
            ctx.ks.remove(&it.key);
            deleted.push(it.key.clone());
        }
    }
    let error = first_error.map(|e| {
        let text = String::from_utf8_lossy(&e[1..]).into_owned();
        Reply::Error(format!("ERR Target instance replied with error: {text}"))
    });
    Outcome::Done { error }
}

/// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE]
/// [AUTH password | AUTH2 username password] [KEYS key …]: `NOKEY` when
/// none of the keys exists, `OK` once the target restored them all, the
/// target's first error as `ERR Target instance replied with error: …`,
/// or `IOERR …` when the target cannot be reached or answers too late.
/// Logged (AOF) as a DEL of the keys the target acknowledged.
/// O(size of the keys) plus the round trip.
pub(super) fn migrate(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let m = parse(a)?;
    let compression = ctx.srv.config.read().rdbcompression;
    let mut items = Vec::new();
    for key in &a[m.first_key..m.first_key + m.num_keys] {
        let Some(e) = ctx.ks.read(key) else { continue };
        let mut ttl = 0;
        if e.expire_at != 0 {
            ttl = e.expire_at as i64 - now_ms() as i64;
            if ttl < 0 {
                continue;
            }
            ttl = ttl.max(1);
        }
        items.push(Item { key: key.clone(), ttl, payload: payload_of(&e.value, compression)? });
    }
    if items.is_empty() {
        return Ok(Reply::Status("NOKEY"));
    }
    let name = format!("{}:{}", String::from_utf8_lossy(&a[1]), String::from_utf8_lossy(&a[2]));
    let mut deleted = Vec::new();
    let mut may_retry = true;
    let result = loop {
        let mut cs = take_socket(&name, &a[1], &a[2], m.timeout)?;
        let select = cs.last_db != Some(m.db);
        match attempt(ctx, &mut cs.stream, &m, select, &items, &mut deleted) {
            Outcome::Done { error: None } => {
                cs.last_db = Some(m.db);
                put_back(name, cs);
                break Ok(Reply::Status("OK"));
            }
            Outcome::Done { error: Some(e) } => {
                cs.last_db = None;
                put_back(name, cs);
                break Err(e);
            }
            Outcome::Failed { fail, acked } => {
                // The connection is dropped here (closed).
                if acked == 0 && may_retry && !fail.timed_out {
                    may_retry = false;
                    continue;
                }
                let how = if fail.writing { "writing" } else { "reading" };
                break Err(Reply::Error(format!("IOERR error or timeout {how} to target instance")));
            }
        }
    };
    if deleted.is_empty() {
        return result;
    }
    let mut del = Vec::with_capacity(deleted.len() + 1);
    del.push(Bytes::from_static(b"DEL"));
    del.extend(deleted);
    ctx.client.propagate_as = Some(vec![del]);
    // Keys were deleted even if an error followed: answered as a reply
    // (not a failure), so the deletions are logged, counted and notified.
    Ok(result.unwrap_or_else(|e| e))
}
