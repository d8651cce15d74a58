//! The replica's side of a full sync: receiving the snapshot and loading
//! it, as `repl-diskless-load` says.
//!
//! - `disabled` (Redis's default): the payload goes to a temporary file in
//!   `dir` (`temp-<unixtime>.<pid>.rdb`) as it arrives, and is loaded from
//!   it once complete, then removed.
//! - `swapdb`: loaded from the socket's bytes (kept in memory, no disk).
//! - `on-empty-db`: as `swapdb` when the dataset is empty, else `disabled`.
//!
//! In every mode the old dataset is served until the whole payload
//! arrived, and is put back if the payload cannot be loaded (what swapdb
//! promises; with `disabled` Redis would be left empty), so a failed sync
//! never leaves a half-loaded dataset.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use tokio::net::TcpStream;

use crate::server::Server;

/// Where the payload is gathered.
enum Sink {
    Memory(Vec<u8>),
    Disk(std::fs::File, PathBuf),
}

impl Sink {
    fn put(&mut self, data: &[u8]) -> Result<(), String> {
        match self {
            Sink::Memory(v) => {
                v.extend_from_slice(data);
                Ok(())
            }
            Sink::Disk(f, path) => f
                .write_all(data)
                .map_err(|e| format!("Write error writing the MASTER synchronization DB to {}: {e}", path.display())),
        }
    }
}

/// Removes the temporary file when the sync ends, however it ends.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Receives the snapshot (`$<len>\r\n` + bytes, or `$EOF:<mark>\r\n` +
/// bytes + mark; `buf` holds what was already read) and loads it in place
/// of the dataset, taking the primary's id and offset. O(size).
pub async fn receive_and_load(
    srv: &Arc<Server>,
    conn: &mut TcpStream,
    buf: &mut BytesMut,
    replid: &str,
    offset: u64,
) -> Result<(), String> {
    let (mode, dir) = {
        let c = srv.config.read();
        (c.repl_diskless_load.clone(), c.dir.clone())
    };
    let empty = || srv.keyspace.db_sizes().iter().all(|&(_, n)| n == 0);
    let to_memory = mode == "swapdb" || (mode == "on-empty-db" && empty());
    let mut temp = TempFile(None);
    let mut sink = if to_memory {
        Sink::Memory(Vec::new())
    } else {
        let now = crate::db::now_ms() / 1000;
        let path = dir.join(format!("temp-{now}.{}.rdb", std::process::id()));
        let f = std::fs::File::create(&path)
            .map_err(|e| format!("Opening the temp file needed for MASTER <-> REPLICA synchronization: {e}"))?;
        temp.0 = Some(path.clone());
        Sink::Disk(f, path)
    };
    receive(conn, buf, &mut sink).await?;
    let rdb = match sink {
        Sink::Memory(v) => v,
        Sink::Disk(f, path) => {
            drop(f);
            tokio::fs::read(&path).await.map_err(|e| format!("Failed reading {}: {e}", path.display()))?
        }
    };
    load(srv, rdb, replid, offset, to_memory).await
}

/// Reads the payload into `sink`. With an EOF mark the last 40 bytes seen
/// are held back until more arrive (they may be the mark). O(size).
async fn receive(conn: &mut TcpStream, buf: &mut BytesMut, sink: &mut Sink) -> Result<(), String> {
    let head = super::replica::read_line(conn, buf).await?;
    let Some(spec) = head.strip_prefix('$') else {
        return Err(format!("Bad protocol from MASTER, the first byte is not '$': {head}"));
    };
    if let Some(mark) = spec.strip_prefix("EOF:") {
        let mark = mark.as_bytes().to_vec();
        if mark.len() != 40 {
            return Err("bad EOF mark from MASTER".into());
        }
        loop {
            if buf.len() >= 40 && buf[buf.len() - 40..] == mark[..] {
                sink.put(&buf[..buf.len() - 40])?;
                buf.clear();
                return Ok(());
            }
            if buf.len() > 40 {
                let n = buf.len() - 40;
                sink.put(&buf[..n])?;
                buf.advance(n);
            }
            super::replica::read_more(conn, buf).await?;
        }
    }
    let mut left: usize = spec.parse().map_err(|_| format!("bad bulk length from MASTER: {head}"))?;
    loop {
        let n = left.min(buf.len());
        sink.put(&buf[..n])?;
        buf.advance(n);
        left -= n;
        if left == 0 {
            return Ok(());
        }
        super::replica::read_more(conn, buf).await?;
    }
}

/// Replaces the dataset with the snapshot (every shard locked, on a
/// blocking thread); the old one is put back if the snapshot is bad.
/// O(size).
async fn load(srv: &Arc<Server>, rdb: Vec<u8>, replid: &str, offset: u64, socket: bool) -> Result<(), String> {
    let s = srv.clone();
    let replid = replid.to_string();
    let from = if socket { "socket" } else { "disk" };
    tokio::task::spawn_blocking(move || -> Result<(), String> {
        let ks = &s.keyspace;
        let mut l = ks.lock_all();
        // Nothing can be blocked on what a snapshot creates (nor needs its
        // keys recorded): keep the inserts O(1).
        l.wake_blocked = false;
        l.changes.record_keys = false;
        let old: Vec<_> = l
            .shards_mut()
            .flat_map(|sh| sh.dbs.iter_mut().map(crate::db::keyspace::DbShard::take).collect::<Vec<_>>())
            .collect();
        let ndb = ks.databases();
        // As a replica loads: keys past their TTL are kept (now = 0); the
        // primary's DEL removes them.
        let loaded = crate::persist::rdb::read_rdb_ref(&rdb[..], 0, |e| {
            crate::persist::snapshot::check_db(e.db, ndb)?;
            let mut entry = crate::db::Entry::new(crate::persist::snapshot::from_rdb(e.value));
            entry.expire_at = e.expire_at_ms.unwrap_or(0);
            l.insert_entry_in(e.db, Bytes::copy_from_slice(e.key), entry);
            Ok(())
        });
        let stats = match loaded {
            Ok(stats) => stats,
            Err(e) => {
                let mut old = old.into_iter();
                for sh in l.shards_mut() {
                    for d in sh.dbs.iter_mut() {
                        match old.next() {
                            Some(o) => *d = o,
                            None => drop(d.take()),
                        }
                    }
                }
                return Err(format!("Failed trying to load the MASTER synchronization DB from {from}: {e}"));
            }
        };
        for code in &stats.functions {
            s.scripting.load_library(code, true).map_err(|e| format!("Error loading a function library: {e}"))?;
        }
        let backlog = s.config.read().repl_backlog_size;
        s.replication.stream.reset_to(&replid, offset, backlog);
        drop(l);
        drop(old);
        Ok(())
    })
    .await
    .map_err(|e| e.to_string())?
}
