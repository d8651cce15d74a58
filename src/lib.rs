//! inmemory: a Redis-compatible in-memory database.
//!
//! Module map:
//! - [`protocol`]: RESP request parser (resumable, inline + multibulk) and
//!   reply encoder (RESP2/RESP3). Shared by server, proxy and client.
//! - [`db`]: the keyspace (databases split into lock shards), stored values,
//!   their encodings (small hashes and lists packed in one block), lazy and
//!   active expiry, glob matching, blocking and WATCH registries.
//! - [`cmd`]: the command table and one module per command family
//!   (`string`, `list`, `hash`, `set`, `zset`, `stream`, `pubsub`, `keys`,
//!   `server`, `connection`, `transaction` …), with shared argument parsing
//!   in `cmd::args`.
//! - [`pubsub`]: Pub/Sub subscriptions and message delivery (to each
//!   subscriber's push queue, written by its connection).
//! - [`memory`]: the counting allocator behind `used_memory` and `maxmemory`.
//! - [`stopwatch`]: the cheap per-command timer behind commandstats and
//!   latency percentiles.
//! - [`persist`]: RDB snapshots (Redis-compatible codec), the append-only
//!   file with its fsync policies and rewrite, loading at start.
//! - [`replication`]: Redis 7.0 replication (PSYNC2): the stream and
//!   backlog, the primary's side of a replica link, the replica's link.
//! - [`acl`]: ACL users, authentication, the per-command permission check,
//!   the ACL log and the ACL file.
//! - [`tls`]: rustls configs from PEM files, reloadable acceptor, one
//!   stream type for plain and TLS connections.
//! - [`server`]: the data server process: settings, clients, listeners and
//!   the per-connection loop. Knows nothing about data types.
//! - [`cli`]: the `inmemory-cli` client: flags, REPL, reply formatting.

pub mod acl;
pub mod cli;
pub mod cmd;
pub mod counter;
pub mod db;
pub mod memory;
pub mod persist;
pub mod protocol;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod stopwatch;
pub mod tls;
