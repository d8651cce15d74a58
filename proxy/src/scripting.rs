//! Lua scripts and functions through the proxy.
//!
//! - EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, FCALL and FCALL_RO go to the server
//!   holding their keys (`cmd body-or-name numkeys key… arg…`, keys found by
//!   the command table): all keys on one server, else `-CROSSSLOT` (hash
//!   tags keep keys together). With numkeys 0 (or a malformed numkeys, which
//!   the server then refuses) they go to the first server on the ring in
//!   file order: deterministic, so keyless scripts always meet the same
//!   server (as TIME and every keyless command the proxy forwards).
//! - The bodies of EVAL, EVAL_RO and SCRIPT LOAD are kept by SHA1
//!   (`scripts.rs`, bounded LRU). An EVALSHA whose body the proxy knows is
//!   sent behind `SCRIPT LOAD body`, in one write on one connection, to a
//!   server not known to hold it (added to servers.json after the load, or
//!   reconnected since), so it finds its script and still runs in the
//!   client's order. If a server answers `-NOSCRIPT` anyway (its cache was
//!   flushed directly), the proxy loads the body there and retries the
//!   EVALSHA once; that retry runs after anything the client pipelined
//!   behind the EVALSHA to the same server, and on a pooled connection
//!   even under WATCH. Without the body, `-NOSCRIPT` reaches the client.
//! - SCRIPT LOAD goes to every server on the ring: the answer is the
//!   first server's SHA1 (all must answer the same; the first error wins).
//!   SCRIPT EXISTS asks every server and answers 1 for a script only when
//!   every server has it (the AND of their answers). SCRIPT FLUSH goes to
//!   every server (`+OK` when all said OK) and empties the proxy's bodies
//!   too, so EVALSHA answers NOSCRIPT afterwards as on one server. SCRIPT
//!   KILL goes to every server on a fresh connection of its own (a pooled
//!   one may be queued behind the running script): `+OK` when any server
//!   killed a script, else the first error other than NOTBUSY (UNKILLABLE
//!   says more), else NOTBUSY. Other subcommands (HELP) go to one server.
//! - FUNCTION LOAD, DELETE, FLUSH and RESTORE go to every server: the
//!   first server's answer, unless one answered an error (the first error
//!   wins). FUNCTION KILL is SCRIPT KILL's fan-out. LIST, DUMP, STATS and
//!   the rest go to the first server on the ring. The proxy keeps no
//!   library code: a server added later has no functions until they are
//!   loaded (or restored) again through the proxy.
//! - Inside MULTI, EVAL and EVALSHA are queued like any keyed command
//!   (`txn.rs`); SCRIPT and FUNCTION are refused there.
//!
//! Cost: EVAL hashes its body (O(body)); the rest as forwarding, fan-outs
//! asking every server in parallel.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use inmemory::cmd::table::CommandSpec;
use inmemory::protocol::frame::Frame;
use inmemory::protocol::Reply;
use tokio::sync::oneshot;

use crate::cluster::Cluster;
use crate::fanout::{all_ok, frame_of, unexpected, Waiting};
use crate::pool::{encode_command, Answer, Backend};
use crate::router::{answer, error_bytes, reply_bytes, Flow, Router};
use crate::scripts::{sha_arg, Sha};

const NO_SERVER: &str = "ERR proxy: no server is available";

/// True for a `-NOSCRIPT …` reply (or its RESP3 blob-error form). O(1).
fn is_noscript(raw: &[u8]) -> bool {
    match raw.first() {
        Some(b'-') => raw[1..].starts_with(b"NOSCRIPT"),
        Some(b'!') => raw.windows(2).position(|w| w == b"\r\n").is_some_and(|i| raw[i + 2..].starts_with(b"NOSCRIPT")),
        _ => false,
    }
}

/// True for an error reply (a script that ran may answer one too: such a
/// run notes nothing, the next EVALSHA then costs one more load). O(1).
fn is_error(raw: &[u8]) -> bool {
    matches!(raw.first(), Some(b'-' | b'!'))
}

/// `SCRIPT LOAD body` followed by the command `args`, as one write.
fn load_then(body: &Bytes, args: &[Bytes]) -> Bytes {
    let mut data = BytesMut::with_capacity(body.len() + 64);
    encode_command(&[Bytes::from_static(b"SCRIPT"), Bytes::from_static(b"LOAD"), body.clone()], &mut data);
    encode_command(args, &mut data);
    data.freeze()
}

/// An EVALSHA whose body the proxy knows, in flight: what a retry needs.
struct Known {
    cluster: Arc<Cluster>,
    backend: Arc<Backend>,
    sha: Sha,
    body: Bytes,
    args: Vec<Bytes>,
    /// SCRIPT LOAD was sent in front of it.
    loaded: bool,
    slot: usize,
    proto: u8,
    db: u32,
}

impl Known {
    /// The EVALSHA's reply; on `-NOSCRIPT` (and no load in front of it
    /// already) the body is loaded on the server and the EVALSHA sent once
    /// more, on the client's pooled connection.
    async fn reply(self, rx: oneshot::Receiver<Answer>) -> Bytes {
        let first = match answer(rx).await {
            Ok(r) => r.raw,
            Err(e) => return error_bytes(&e),
        };
        let scripts = &self.cluster.scripts;
        if !is_noscript(&first) {
            if self.loaded && !is_error(&first) {
                scripts.held_by(&self.sha, &self.backend);
            }
            return first;
        }
        if self.loaded {
            // The load in front did not take (a refused body): nothing to retry.
            return first;
        }
        scripts.not_held_by(&self.sha, &self.backend);
        let b = &self.backend;
        let conn = match b.get(self.slot, self.proto, self.db).await {
            Ok(c) => c,
            Err(e) => {
                b.stats.errors.fetch_add(1, Ordering::Relaxed);
                return error_bytes(&String::from(e));
            }
        };
        b.stats.requests.fetch_add(1, Ordering::Relaxed);
        match answer(conn.request(load_then(&self.body, &self.args), 2, false)).await {
            Ok(r) => {
                if !is_error(&r.raw) {
                    scripts.held_by(&self.sha, b);
                }
                r.raw
            }
            Err(e) => error_bytes(&e),
        }
    }
}

/// SCRIPT LOAD's answers: the first SHA1 when every server gave the same
/// one (each server that did is noted as holding it), else the first error.
async fn script_loaded(waiting: Waiting, servers: Vec<Arc<Backend>>, cluster: Arc<Cluster>, sha: Sha) -> Bytes {
    let mut first: Option<(Bytes, Bytes)> = None;
    for (rx, b) in waiting.into_iter().zip(&servers) {
        let r = match answer(rx).await {
            Ok(r) => r,
            Err(e) => return error_bytes(&e),
        };
        let v = match r.frame {
            Some(Frame::Bulk(Some(v))) => v,
            Some(Frame::Error(_)) => return r.raw,
            _ => return unexpected(),
        };
        if v[..] == sha[..] {
            cluster.scripts.held_by(&sha, b);
        }
        match &first {
            None => first = Some((r.raw, v)),
            Some((_, f)) if *f != v => return error_bytes("ERR proxy: the servers disagree on the script's SHA1"),
            Some(_) => {}
        }
    }
    first.map_or_else(unexpected, |(raw, _)| raw)
}

/// SCRIPT EXISTS: 1 for a script only where every server answered 1.
async fn all_have(waiting: Waiting, n: usize, proto: u8) -> Bytes {
    let mut have = vec![true; n];
    for rx in waiting {
        match frame_of(rx).await {
            Ok(Frame::Array(Some(items))) if items.len() == n => {
                for (h, f) in have.iter_mut().zip(items) {
                    *h &= matches!(f, Frame::Int(1));
                }
            }
            Ok(_) => return unexpected(),
            Err(e) => return e,
        }
    }
    reply_bytes(&Reply::Array(have.into_iter().map(|h| Reply::Int(i64::from(h))).collect()), proto)
}

/// The first server's answer, unless a server answered an error (the first one).
async fn first_unless_error(waiting: Waiting) -> Bytes {
    let mut first = None;
    for rx in waiting {
        let r = match answer(rx).await {
            Ok(r) => r,
            Err(e) => return error_bytes(&e),
        };
        if matches!(r.frame, Some(Frame::Error(_))) {
            return r.raw;
        }
        first.get_or_insert(r.raw);
    }
    first.unwrap_or_else(unexpected)
}

/// Sends a KILL to `b` on a connection of its own (RESP2, database 0).
async fn kill_on(b: Arc<Backend>, data: Bytes) -> Answer {
    b.not_in_backoff()?;
    let conn = b.connect(2, true, 0).await?;
    b.stats.requests.fetch_add(1, Ordering::Relaxed);
    answer(conn.request(data, 1, true)).await
}

/// SCRIPT KILL / FUNCTION KILL: `+OK` when any server answered OK, else the
/// first error other than NOTBUSY, else the first error.
async fn any_killed(tasks: Vec<tokio::task::JoinHandle<Answer>>) -> Bytes {
    let mut errors = Vec::with_capacity(tasks.len());
    for t in tasks {
        let r = match t.await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                errors.push(error_bytes(&e));
                continue;
            }
            Err(_) => {
                errors.push(error_bytes("ERR proxy: internal error"));
                continue;
            }
        };
        match r.frame {
            Some(Frame::Simple(_)) => return Bytes::from_static(b"+OK\r\n"),
            Some(Frame::Error(_)) => errors.push(r.raw),
            _ => errors.push(unexpected()),
        }
    }
    let telling = errors.iter().position(|e| !e.starts_with(b"-NOTBUSY")).unwrap_or(0);
    if telling < errors.len() {
        errors.swap_remove(telling)
    } else {
        unexpected()
    }
}

fn sub_is(a: &[u8], names: &[&str]) -> bool {
    names.iter().any(|n| a.eq_ignore_ascii_case(n.as_bytes()))
}

impl Router {
    /// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO (outside MULTI).
    pub(crate) async fn eval(&mut self, spec: &'static CommandSpec, args: &[Bytes]) -> Flow {
        let b = match self.key_server(spec, args) {
            Ok(b) => b,
            Err(e) => return self.error(&e).await,
        };
        if let Err(e) = self.settle_command(spec, args).await {
            return self.error(&e).await;
        }
        if matches!(spec.name, "eval" | "eval_ro") {
            // Not noted as held by `b`: the EVAL may yet be refused (BUSY …);
            // the next EVALSHA there pays one SCRIPT LOAD instead.
            self.cluster.scripts.remember(&args[1]);
            return self.forward(&b, args).await;
        }
        let known = sha_arg(&args[1]).and_then(|sha| Some((sha, self.cluster.scripts.body_for(&sha, &b)?)));
        let Some((sha, (body, held))) = known else { return self.forward(&b, args).await };
        let (data, replies) = if held {
            let mut data = BytesMut::new();
            encode_command(args, &mut data);
            (data.freeze(), 1)
        } else {
            (load_then(&body, args), 2)
        };
        let rx = self.send(&b, data, replies, false).await;
        let known = Known {
            cluster: self.cluster.clone(),
            backend: b,
            sha,
            body,
            args: args.to_vec(),
            loaded: !held,
            slot: self.slot(),
            proto: self.proto,
            db: self.db,
        };
        self.later(known.reply(rx)).await
    }

    /// SCRIPT: LOAD, EXISTS, FLUSH and KILL on every server, the rest on one.
    pub(crate) async fn script(&mut self, args: &[Bytes]) -> Flow {
        let servers: Vec<Arc<Backend>> = self.topo.live().cloned().collect();
        if servers.is_empty() {
            return self.error(NO_SERVER).await;
        }
        let sub = &args[1];
        if sub_is(sub, &["load"]) && args.len() == 3 {
            let sha = self.cluster.scripts.remember(&args[2]);
            let w = self.to_all(&servers, args).await;
            let c = self.cluster.clone();
            return self.later(script_loaded(w, servers, c, sha)).await;
        }
        if sub_is(sub, &["exists"]) && args.len() >= 3 {
            let w = self.to_all(&servers, args).await;
            let (n, proto) = (args.len() - 2, self.proto);
            return self.later(all_have(w, n, proto)).await;
        }
        if sub_is(sub, &["flush"]) && args.len() <= 3 {
            if args.get(2).is_none_or(|m| sub_is(m, &["async", "sync"])) {
                self.cluster.scripts.clear();
            }
            let w = self.to_all(&servers, args).await;
            return self.later(all_ok(w)).await;
        }
        if sub_is(sub, &["kill"]) && args.len() == 2 {
            return self.kill_everywhere(servers, args).await;
        }
        self.forward(&servers[0], args).await
    }

    /// FUNCTION: LOAD, DELETE, FLUSH, RESTORE and KILL on every server, the rest on one.
    pub(crate) async fn function(&mut self, args: &[Bytes]) -> Flow {
        let servers: Vec<Arc<Backend>> = self.topo.live().cloned().collect();
        if servers.is_empty() {
            return self.error(NO_SERVER).await;
        }
        let sub = &args[1];
        if sub_is(sub, &["load", "delete", "flush", "restore"]) {
            let w = self.to_all(&servers, args).await;
            return self.later(first_unless_error(w)).await;
        }
        if sub_is(sub, &["kill"]) && args.len() == 2 {
            return self.kill_everywhere(servers, args).await;
        }
        self.forward(&servers[0], args).await
    }

    /// Sends a KILL to every server at once, each on a fresh connection.
    async fn kill_everywhere(&mut self, servers: Vec<Arc<Backend>>, args: &[Bytes]) -> Flow {
        let mut data = BytesMut::new();
        encode_command(args, &mut data);
        let data = data.freeze();
        let tasks = servers.into_iter().map(|b| tokio::spawn(kill_on(b, data.clone()))).collect();
        self.later(any_killed(tasks)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noscript_replies() {
        assert!(is_noscript(b"-NOSCRIPT No matching script. Please use EVAL.\r\n"));
        assert!(is_noscript(b"!21\r\nNOSCRIPT No matching\r\n"));
        assert!(!is_noscript(b"-ERR NOSCRIPT\r\n"));
        assert!(!is_noscript(b"$8\r\nNOSCRIPT\r\n"));
        assert!(!is_noscript(b""));
    }

    #[tokio::test]
    async fn kill_answers() {
        let task = |a: Answer| tokio::spawn(async move { a });
        let resp = |raw: &'static [u8], frame: Frame| {
            Ok(crate::conn::Resp { raw: Bytes::from_static(raw), frame: Some(frame) })
        };
        let notbusy =
            || resp(b"-NOTBUSY No scripts in execution right now.\r\n", Frame::Error(Bytes::from_static(b"NOTBUSY")));
        let ok = || resp(b"+OK\r\n", Frame::Simple(Bytes::from_static(b"OK")));
        let unkillable = || resp(b"-UNKILLABLE Sorry\r\n", Frame::Error(Bytes::from_static(b"UNKILLABLE Sorry")));
        assert_eq!(&any_killed(vec![task(notbusy()), task(ok())]).await[..], b"+OK\r\n");
        assert_eq!(&any_killed(vec![task(notbusy()), task(unkillable())]).await[..], b"-UNKILLABLE Sorry\r\n");
        assert!(any_killed(vec![task(notbusy()), task(notbusy())]).await.starts_with(b"-NOTBUSY"));
        assert!(any_killed(vec![task(Err("ERR proxy: server x is unavailable".into()))])
            .await
            .starts_with(b"-ERR proxy"));
    }
}
