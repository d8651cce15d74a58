//! Introspection details clients and Redis's own suite rely on: the query
//! buffer as `CLIENT LIST` reports it (`qbuf`, `qbuf-free`), the
//! `enable-debug-command` gate, FLUSHALL/FLUSHDB ASYNC counted by lazyfree,
//! and the reply shapes of MEMORY, OBJECT, LATENCY and INFO sections as
//! Redis 7.0.15 gives them.

mod common;

use std::io::BufReader;

use redis::Commands;
use std::time::Duration;

use common::*;

/// `qbuf` + `qbuf-free` (the buffer's whole size) of the client named `name`.
fn query_buffer(c: &mut Raw, name: &str) -> usize {
    let list = text(c.call(&["CLIENT", "LIST"]));
    let line = list.lines().find(|l| l.contains(&format!(" name={name} "))).expect("client in CLIENT LIST");
    let field = |f: &str| -> usize {
        line.split(' ')
            .find_map(|kv| kv.strip_prefix(&format!("{f}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{f} in {line}"))
    };
    field("qbuf") + field("qbuf-free")
}

#[test]
fn query_buffer_grows_for_a_big_argument_and_shrinks_after() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    let mut c = s.raw();
    assert_eq!(c.call(&["CLIENT", "SETNAME", "big"]), ok());
    // A fresh client reads into 16 KiB, reported whole after a command.
    let fresh = query_buffer(&mut admin, "big");
    assert!((16384..32768).contains(&fresh), "fresh buffer {fresh}");

    let value = "A".repeat(400_000);
    assert_eq!(c.call(&["SET", "x", &value]), ok());
    let grown = query_buffer(&mut admin, "big");
    assert!(grown > 32768, "after a 400 KB argument {grown}");

    // Busy with small commands, it is trimmed back by the clients cron, but not to nothing.
    wait_for(10, "the buffer to shrink", || {
        assert_eq!(c.call(&["SET", "x", "small"]), ok());
        let now = query_buffer(&mut admin, "big");
        now > 0 && now < grown
    });
    assert_eq!(c.call(&["STRLEN", "x"]), int(5));
}

#[test]
fn idle_client_gives_its_query_buffer_back() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    let mut c = s.raw();
    assert_eq!(c.call(&["CLIENT", "SETNAME", "idler"]), ok());
    assert!(query_buffer(&mut admin, "idler") >= 16384);
    // Released after more than 2 s idle, as Redis's clientsCron does.
    wait_for(15, "the idle buffer to be released", || query_buffer(&mut admin, "idler") == 0);
    // And usable again at once.
    assert_eq!(c.call(&["PING"]), status("PONG"));
    assert!(query_buffer(&mut admin, "idler") >= 16384);
}

#[test]
fn a_bulk_split_over_many_writes_still_parses() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let value = vec![b'z'; 100_000];
    let req = encode_cmd(&[b"SET", b"k", &value]);
    for chunk in req.chunks(7_001) {
        c.send(chunk);
    }
    assert_eq!(c.read(), ok());
    assert_eq!(c.call(&["STRLEN", "k"]), int(100_000));
}

// ---- enable-debug-command ----

const DEBUG_REFUSED: &str =
    "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you \
     can run it from a local connection, otherwise you need to set this option in the configuration file, and then \
     restart the server.";

/// A raw connection to `port` on 127.0.0.1 whose source address is
/// 127.0.0.2: loopback, but not `127.0.0.1`, so not local for Redis.
fn connect_from_127_0_0_2(port: u16) -> Raw {
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build().expect("runtime");
    let stream = rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4().expect("socket");
        sock.bind("127.0.0.2:0".parse().expect("addr")).expect("bind 127.0.0.2");
        sock.connect(([127, 0, 0, 1], port).into()).await.expect("connect")
    });
    let s = stream.into_std().expect("std stream");
    s.set_nonblocking(false).expect("blocking");
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    Raw { r: BufReader::new(s.try_clone().expect("clone")), w: s }
}

#[test]
fn debug_is_local_only_by_default() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["CONFIG", "GET", "enable-debug-command"]), bulks(&["enable-debug-command", "local"]));
    assert_eq!(c.call(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]), ok());
    let mut remote = connect_from_127_0_0_2(s.port);
    assert_eq!(remote.call(&["PING"]), status("PONG"));
    assert_eq!(remote.call(&["DEBUG", "HELP"]), err(DEBUG_REFUSED));
    // Refused before running, as Redis's processCommand: a transaction fails.
    assert_eq!(remote.call(&["MULTI"]), ok());
    assert_eq!(remote.call(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]), err(DEBUG_REFUSED));
    assert_eq!(remote.call(&["EXEC"]), err("EXECABORT Transaction discarded because of previous errors."));
    // Fixed at start, as in Redis.
    assert_eq!(
        c.call(&["CONFIG", "SET", "enable-debug-command", "yes"]),
        err("ERR CONFIG SET failed (possibly related to argument 'enable-debug-command') - can't set immutable config")
    );
    let stats = text(c.call(&["INFO", "commandstats"]));
    assert!(stats.contains("cmdstat_debug:calls=1,"), "{stats}");
    assert!(stats.contains("rejected_calls=2,"), "{stats}");
}

#[test]
fn debug_no_and_yes() {
    let s = Server::start(&["--enable-debug-command", "no"]);
    let mut c = s.raw();
    assert_eq!(c.call(&["DEBUG", "HELP"]), err(DEBUG_REFUSED));
    // Arity is checked first.
    assert_eq!(c.call(&["DEBUG"]), err("ERR wrong number of arguments for 'debug' command"));
    drop(s);

    let s = Server::start(&["--enable-debug-command", "yes"]);
    let mut remote = connect_from_127_0_0_2(s.port);
    assert_eq!(remote.call(&["DEBUG", "SET-ACTIVE-EXPIRE", "1"]), ok());
}

#[test]
fn bad_enable_debug_command_value_stops_the_start() {
    let port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = server_command(port, dir.path(), &["--enable-debug-command", "maybe"]).output().expect("run server");
    assert!(!out.status.success());
    let all = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(all.contains("argument(s) must be one of the following: no, yes, local"), "{all}");
}

#[test]
fn debug_stringmatch_test_is_redis_s_name() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["DEBUG", "STRINGMATCH-TEST"]), status("Apparently Redis did not crash: test passed"));
}

// ---- FLUSHALL / FLUSHDB and lazyfree ----

fn memory_field(c: &mut Raw, name: &str) -> u64 {
    let info = text(c.call(&["INFO", "memory"]));
    info_field(&info, name).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{name} in INFO memory"))
}

fn fill(c: &mut Raw, db: &str, n: usize) {
    assert_eq!(c.call(&["SELECT", db]), ok());
    for i in 0..n {
        assert_eq!(c.call(&["SET", &format!("k{i}"), "v"]), ok());
    }
}

fn lazyfreed_after_pending(c: &mut Raw) -> u64 {
    wait_for(10, "lazyfree to finish", || memory_field(c, "lazyfree_pending_objects") == 0);
    memory_field(c, "lazyfreed_objects")
}

#[test]
fn flush_async_counts_each_key_as_a_lazyfreed_object() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    // In INFO memory, not stats, as Redis 7.0.
    assert!(!text(c.call(&["INFO", "stats"])).contains("lazyfreed_objects"));
    fill(&mut c, "1", 30);
    fill(&mut c, "0", 70);
    assert_eq!(c.call(&["FLUSHALL", "ASYNC"]), ok());
    assert_eq!(c.call(&["DBSIZE"]), int(0));
    assert_eq!(lazyfreed_after_pending(&mut c), 100);

    fill(&mut c, "0", 10);
    assert_eq!(c.call(&["FLUSHDB", "SYNC"]), ok());
    assert_eq!(lazyfreed_after_pending(&mut c), 100);
    fill(&mut c, "0", 10);
    assert_eq!(c.call(&["FLUSHDB", "async"]), ok());
    assert_eq!(lazyfreed_after_pending(&mut c), 110);

    // Without an option, lazyfree-lazy-user-flush decides.
    fill(&mut c, "0", 5);
    assert_eq!(c.call(&["FLUSHDB"]), ok());
    assert_eq!(lazyfreed_after_pending(&mut c), 110);
    assert_eq!(c.call(&["CONFIG", "SET", "lazyfree-lazy-user-flush", "yes"]), ok());
    fill(&mut c, "0", 5);
    assert_eq!(c.call(&["FLUSHALL"]), ok());
    assert_eq!(lazyfreed_after_pending(&mut c), 115);
    assert_eq!(c.call(&["CONFIG", "RESETSTAT"]), ok());
    assert_eq!(memory_field(&mut c, "lazyfreed_objects"), 0);

    assert_eq!(c.call(&["FLUSHALL", "NOW"]), err("ERR syntax error"));
    assert_eq!(c.call(&["FLUSHDB", "SYNC", "ASYNC"]), err("ERR syntax error"));
}

// ---- MEMORY, OBJECT, LATENCY, INFO reply shapes ----

fn map_keys(r: Resp) -> Vec<String> {
    let Resp::Array(Some(items)) = r else { panic!("array: {r:?}") };
    items.chunks(2).map(|kv| text(kv[0].clone())).collect()
}

#[test]
fn memory_subcommands_answer_as_redis() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["SET", "s", "hello"]), ok());
    let Resp::Int(usage) = c.call(&["MEMORY", "USAGE", "s"]) else { panic!("usage") };
    assert!(usage > 5);
    // SAMPLES 0 means every element in Redis; here values are always measured whole.
    assert_eq!(c.call(&["MEMORY", "USAGE", "s", "SAMPLES", "0"]), int(usage));
    assert_eq!(c.call(&["MEMORY", "USAGE", "s", "samples", "5", "SAMPLES", "0"]), int(usage));
    assert_eq!(c.call(&["MEMORY", "USAGE", "s", "SAMPLES", "-1"]), err("ERR syntax error"));
    assert_eq!(c.call(&["MEMORY", "USAGE", "s", "SAMPLES"]), err("ERR syntax error"));
    assert_eq!(c.call(&["MEMORY", "USAGE", "s", "SAMPLES", "x"]), err("ERR value is not an integer or out of range"));
    assert_eq!(c.call(&["MEMORY", "USAGE", "nokey"]), nil());
    assert_eq!(c.call(&["MEMORY", "PURGE"]), ok());
    assert!(matches!(c.call(&["MEMORY", "MALLOC-STATS"]), Resp::Bulk(Some(_))));
    assert_eq!(c.call(&["MEMORY", "PURGE", "x"]), err("ERR wrong number of arguments for 'memory|purge' command"));
    let Resp::Bulk(Some(doctor)) = c.call(&["MEMORY", "DOCTOR"]) else { panic!("doctor") };
    assert!(doctor.starts_with(b"Hi Sam, ") && doctor.ends_with(b".\n"));
    let keys = map_keys(c.call(&["MEMORY", "STATS"]));
    let expected = [
        "peak.allocated",
        "total.allocated",
        "startup.allocated",
        "replication.backlog",
        "clients.slaves",
        "clients.normal",
        "cluster.links",
        "aof.buffer",
        "lua.caches",
        "functions.caches",
        "db.0",
        "overhead.total",
        "keys.count",
        "keys.bytes-per-key",
        "dataset.bytes",
        "dataset.percentage",
        "peak.percentage",
        "allocator.allocated",
        "allocator.active",
        "allocator.resident",
        "allocator-fragmentation.ratio",
        "allocator-fragmentation.bytes",
        "allocator-rss.ratio",
        "allocator-rss.bytes",
        "rss-overhead.ratio",
        "rss-overhead.bytes",
        "fragmentation",
        "fragmentation.bytes",
    ];
    assert_eq!(keys, expected);
    let Resp::Array(Some(stats)) = c.call(&["MEMORY", "STATS"]) else { panic!() };
    assert_eq!(
        map_keys(stats[21].clone()),
        ["overhead.hashtable.main", "overhead.hashtable.expires", "overhead.hashtable.slot-to-keys"]
    );
}

#[test]
fn object_and_latency_help_and_errors() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let help = strings(c.call(&["OBJECT", "HELP"]));
    assert_eq!(help[0], "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    assert_eq!(help.len(), 15);
    assert_eq!(help[14], "    Prints this help.");
    assert_eq!(c.call(&["SET", "s", "v"]), ok());
    assert_eq!(
        c.call(&["OBJECT", "FREQ", "s"]),
        err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
    );
    assert_eq!(c.call(&["OBJECT", "ENCODING", "nokey"]), nil());
    assert_eq!(c.call(&["OBJECT", "NOSUCH"]), err("ERR unknown subcommand 'NOSUCH'. Try OBJECT HELP."));

    let help = strings(c.call(&["LATENCY", "HELP"]));
    assert!(help[0].starts_with("LATENCY <subcommand>"));
    assert_eq!(c.call(&["LATENCY", "LATEST"]), arr(vec![]));
    assert_eq!(c.call(&["LATENCY", "HISTORY", "command"]), arr(vec![]));
    assert_eq!(c.call(&["LATENCY", "RESET"]), int(0));
    assert_eq!(c.call(&["LATENCY", "GRAPH", "command"]), err("ERR No samples available for event 'command'"));
    let Resp::Bulk(Some(doctor)) = c.call(&["LATENCY", "DOCTOR"]) else { panic!("doctor") };
    assert!(doctor.starts_with(b"I'm sorry, Dave, I can't do that. Latency monitoring is disabled"));
    assert_eq!(c.call(&["LATENCY", "LATEST", "x"]), err("ERR wrong number of arguments for 'latency|latest' command"));
    let Resp::Array(Some(h)) = c.call(&["LATENCY", "HISTOGRAM", "set", "nosuch"]) else { panic!() };
    assert_eq!(text(h[0].clone()), "set");
}

#[test]
fn info_sections_use_redis_field_names() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(text(c.call(&["INFO", "modules"])), "# Modules\r\n");
    assert_eq!(c.call(&["SET", "a", "b"]), ok());
    assert_eq!(c.call(&["INCR", "a"]), err("ERR value is not an integer or out of range"));
    assert_eq!(c.call(&["GET", "a", "b"]), err("ERR wrong number of arguments for 'get' command"));
    assert_eq!(text(c.call(&["INFO", "errorstats"])), "# Errorstats\r\nerrorstat_ERR:count=2\r\n");
    let stats = text(c.call(&["INFO", "commandstats"]));
    let incr = stats.lines().find(|l| l.starts_with("cmdstat_incr:")).expect("incr row");
    let fields: Vec<&str> =
        incr["cmdstat_incr:".len()..].split(',').map(|f| f.split('=').next().unwrap_or("")).collect();
    assert_eq!(fields, ["calls", "usec", "usec_per_call", "rejected_calls", "failed_calls"]);
    assert!(incr.ends_with("rejected_calls=0,failed_calls=1"), "{incr}");
    assert!(stats.contains("cmdstat_get:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0"), "{stats}");
}

/// DEBUG POPULATE: Redis's key and value names, sizes, existing keys kept.
#[test]
fn debug_populate_creates_keys_as_redis() {
    let srv = Server::start(&[]);
    let mut c = srv.conn();
    let _: () = c.set("key:1", "mine").unwrap();
    let _: () = redis::cmd("DEBUG").arg("POPULATE").arg(3).query(&mut c).unwrap();
    assert_eq!(c.get::<_, String>("key:0").unwrap(), "value:0");
    assert_eq!(c.get::<_, String>("key:1").unwrap(), "mine");
    assert_eq!(c.get::<_, String>("key:2").unwrap(), "value:2");
    let _: () = redis::cmd("DEBUG").arg("POPULATE").arg(2).arg("p").arg(10).query(&mut c).unwrap();
    assert_eq!(c.get::<_, Vec<u8>>("p:1").unwrap(), b"value:1\0\0\0".to_vec());
    let _: () = redis::cmd("DEBUG").arg("POPULATE").arg(1).arg("q").arg(3).query(&mut c).unwrap();
    assert_eq!(c.get::<_, String>("q:0").unwrap(), "val");
    let n: u64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 6);
    let e = redis::cmd("DEBUG").arg("POPULATE").arg(-1).query::<()>(&mut c).unwrap_err();
    assert!(e.to_string().contains("must be positive"), "{e}");
    let e = redis::cmd("DEBUG").arg("POPULATE").arg("x").query::<()>(&mut c).unwrap_err();
    assert!(e.to_string().contains("not an integer"), "{e}");
}
