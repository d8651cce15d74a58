//! Keyspace notifications against the real server: `notify-keyspace-events`
//! masks and CONFIG GET/SET, Redis's event names for every type family
//! (two-event commands, `del` after a write that empties a key, no event
//! when nothing changed), `new`, MULTI/EXEC and scripts, blocked clients
//! served by a push, expiry (lazy and active), eviction, and RESP3 push
//! frames.
//!
//! A subscriber listens on the pattern `*`; after the commands under test
//! the command connection PUBLISHes to `sentinel`, so everything before that
//! message is exactly what those commands raised (one connection's events
//! and messages reach a subscriber in order). No sleeps: expiry tests poll
//! the key or wait for the message, within a deadline.

mod common;

use std::time::{Duration, Instant};

use common::{Resp, Server};

/// `CONFIG SET notify-keyspace-events flags`.
fn set_flags(c: &mut redis::Connection, flags: &str) {
    let _: () = redis::cmd("CONFIG").arg("SET").arg("notify-keyspace-events").arg(flags).query(c).unwrap();
}

/// `CONFIG GET notify-keyspace-events`.
fn get_flags(c: &mut redis::Connection) -> String {
    let v: Vec<String> = redis::cmd("CONFIG").arg("GET").arg("notify-keyspace-events").query(c).unwrap();
    v[1].clone()
}

/// Runs one command, ignoring its reply.
fn run(c: &mut redis::Connection, args: &[&str]) {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    let _: redis::Value = cmd.query(c).unwrap_or_else(|e| panic!("{args:?}: {e}"));
}

/// A subscriber to every channel and the connection whose commands it watches.
struct Watch<'a> {
    sub: redis::PubSub<'a>,
    cmd: redis::Connection,
}

impl<'a> Watch<'a> {
    fn new(srv: &Server, sub: &'a mut redis::Connection) -> Watch<'a> {
        let mut sub = sub.as_pubsub();
        // A bound on a bug, not a synchronisation: messages come at once.
        sub.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        sub.psubscribe("*").unwrap();
        Watch { sub, cmd: srv.conn() }
    }

    /// Runs `cmds`, then returns every message they raised, as
    /// `channel payload`, in order.
    fn events(&mut self, cmds: &[&[&str]]) -> Vec<String> {
        for c in cmds {
            run(&mut self.cmd, c);
        }
        self.drain()
    }

    /// Every message up to the sentinel published now.
    fn drain(&mut self) -> Vec<String> {
        let _: i64 = redis::cmd("PUBLISH").arg("sentinel").arg("-").query(&mut self.cmd).unwrap();
        let mut out = Vec::new();
        loop {
            let m = self.sub.get_message().expect("a message before the read timeout");
            if m.get_channel_name() == "sentinel" {
                return out;
            }
            out.push(format!("{} {}", m.get_channel_name(), String::from_utf8_lossy(m.get_payload_bytes())));
        }
    }

    /// The next message (for events that come later: active expiry).
    fn next(&mut self) -> String {
        let m = self.sub.get_message().expect("a message before the read timeout");
        format!("{} {}", m.get_channel_name(), String::from_utf8_lossy(m.get_payload_bytes()))
    }
}

/// Keyevent messages `__keyevent@0__:<event> <key>` for (event, key) pairs.
fn kev(pairs: &[(&str, &str)]) -> Vec<String> {
    pairs.iter().map(|(e, k)| format!("__keyevent@0__:{e} {k}")).collect()
}

#[test]
fn config_get_set_of_the_flags() {
    let srv = Server::start(&[]);
    let mut c = srv.conn();
    assert_eq!(get_flags(&mut c), "");
    for (set, get) in [
        ("gKE", "gKE"),
        ("$lshzxeKE", "$lshzxeKE"),
        ("KA", "AK"),
        ("EA", "AE"),
        ("AKEmn", "AKEmn"),
        ("tdn", "tdn"),
        ("", ""),
    ] {
        set_flags(&mut c, set);
        assert_eq!(get_flags(&mut c), get, "after setting {set:?}");
    }
    let e = redis::cmd("CONFIG").arg("SET").arg("notify-keyspace-events").arg("KEq").query::<()>(&mut c).unwrap_err();
    assert!(e.to_string().contains("Invalid event class character"), "{e}");
    assert_eq!(get_flags(&mut c), "", "a refused value changes nothing");
}

#[test]
fn off_by_default_and_masks_select_classes_and_channels() {
    let srv = Server::start(&[]);
    let mut sub = srv.conn();
    let mut w = Watch::new(&srv, &mut sub);
    assert!(w.events(&[&["SET", "foo", "bar"], &["LPUSH", "l", "a"], &["DEL", "foo"]]).is_empty());

    set_flags(&mut w.cmd, "KA");
    assert_eq!(w.events(&[&["SET", "foo", "bar"]]), ["__keyspace@0__:foo set"]);
    set_flags(&mut w.cmd, "EA");
    assert_eq!(w.events(&[&["SET", "foo", "bar"]]), ["__keyevent@0__:set foo"]);
    set_flags(&mut w.cmd, "KEA");
    assert_eq!(w.events(&[&["SET", "foo", "bar"]]), ["__keyspace@0__:foo set", "__keyevent@0__:set foo"]);

    // Only list events: SET raises nothing, LPUSH does.
    set_flags(&mut w.cmd, "KEl");
    assert_eq!(
        w.events(&[&["SET", "foo", "bar"], &["LPUSH", "l", "b"]]),
        ["__keyspace@0__:l lpush", "__keyevent@0__:lpush l"]
    );
    // A class without K or E publishes nothing.
    set_flags(&mut w.cmd, "A");
    assert!(w.events(&[&["SET", "foo", "bar"]]).is_empty());
    // The database is in the channel.
    set_flags(&mut w.cmd, "E$");
    assert_eq!(w.events(&[&["SELECT", "3"], &["SET", "k", "v"], &["SELECT", "0"]]), ["__keyevent@3__:set k"]);
    // Generic only: EXPIRE and DEL, not the SET before them.
    set_flags(&mut w.cmd, "Eg");
    assert_eq!(
        w.events(&[&["SET", "foo", "bar"], &["EXPIRE", "foo", "100"], &["DEL", "foo"]]),
        kev(&[("expire", "foo"), ("del", "foo")])
    );
}

#[test]
fn string_events() {
    let srv = Server::start(&[]);
    let mut sub = srv.conn();
    let mut w = Watch::new(&srv, &mut sub);
    set_flags(&mut w.cmd, "EA");
    let got = w.events(&[
        &["SET", "s", "1"],
        &["SET", "s", "2", "EX", "100"],
        &["SET", "s", "3", "NX"],
        &["SETEX", "t", "100", "v"],
        &["PSETEX", "t", "100000", "v"],
        &["SETNX", "s", "x"],
        &["SETNX", "u", "x"],
        &["GETSET", "u", "y"],
        &["MSET", "a", "1", "b", "2", "a", "3"],
        &["MSETNX", "a", "1", "c", "2"],
        &["APPEND", "a", "x"],
        &["SETRANGE", "a", "0", ""],
        &["SETRANGE", "a", "5", "zz"],
        &["INCR", "n"],
        &["DECRBY", "n", "5"],
        &["INCRBYFLOAT", "n", "1.5"],
        &["GETEX", "a"],
        &["GETEX", "a", "PERSIST"],
        &["GETEX", "a", "PX", "100000"],
        &["GETEX", "a", "PERSIST"],
        &["GETDEL", "a"],
        &["GETDEL", "a"],
    ]);
    let want = kev(&[
        ("set", "s"),
        ("set", "s"),
        ("expire", "s"),
        ("set", "t"),
        ("expire", "t"),
        ("set", "t"),
        ("expire", "t"),
        ("set", "u"),
        ("set", "u"),
        ("set", "a"),
        ("set", "b"),
        ("set", "a"),
        ("append", "a"),
        ("setrange", "a"),
        ("incrby", "n"),
        ("incrby", "n"),
        ("incrbyfloat", "n"),
        ("expire", "a"),
        ("persist", "a"),
        ("del", "a"),
    ]);
    assert_eq!(got, want);
}

#[test]
fn list_events_and_del_when_emptied() {
    let srv = Server::start(&[]);
    let mut sub = srv.conn();
    let mut w = Watch::new(&srv, &mut sub);
    set_flags(&mut w.cmd, "EA");
    let got = w.events(&[
        &["RPUSH", "l", "a", "b", "c", "d"],
        &["LPUSH", "l", "z"],
        &["LPUSHX", "missing", "z"],
        &["LINSERT", "l", "BEFORE", "nope", "x"],
        &["LINSERT", "l", "AFTER", "a", "x"],
        &["LSET", "l", "0", "y"],
        &["LREM", "l", "0", "nope"],
        &["LREM", "l", "0", "x"],
        &["LTRIM", "l", "0", "-1"],
        &["LPOP", "l", "0"],
        &["RPOP", "l"],
        &["LMOVE", "l", "m", "LEFT", "RIGHT"],
        &["RPOPLPUSH", "l", "m"],
        &["LMPOP", "2", "nothing", "l", "RIGHT", "COUNT", "5"],
        &["LMOVE", "m", "m", "RIGHT", "LEFT"],
        &["LTRIM", "m", "5", "10"],
    ]);
    let want = kev(&[
        ("rpush", "l"),
        ("lpush", "l"),
        ("linsert", "l"),
        ("lset", "l"),
        ("lrem", "l"),
        ("ltrim", "l"),
        ("rpop", "l"),
        ("rpush", "m"),
        ("lpop", "l"),
        ("lpush", "m"),
        ("rpop", "l"),
        ("rpop", "l"),
        ("del", "l"),
        ("lpush", "m"),
        ("rpop", "m"),
        ("ltrim", "m"),
        ("del", "m"),
    ]);
    assert_eq!(got, want);
}

#[test]
fn a_push_that_serves_a_blocked_pop_raises_both() {
    let srv = Server::start(&[]);
    let mut sub = srv.conn();
    let mut w = Watch::new(&srv, &mut sub);
    set_flags(&mut w.cmd, "EA");
    let mut blocked = srv.raw();
    blocked.send_cmd(&["BLPOP", "q", "0"]);
    // Parked once CLIENT LIST shows it blocked.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut w.cmd).unwrap();
        if list.contains("cmd=blpop") && list.contains("flags=b") {
            break;
        }
        assert!(Instant::now() < deadline, "BLPOP never blocked: {list}");
    }
    assert_eq!(w.events(&[&["RPUSH", "q", "x"]]), kev(&[("rpush", "q"), ("lpop", "q"), ("del", "q")]));
    assert_eq!(blocked.read(), Resp::Array(Some(vec![common::bulk("q"), common::bulk("x")])));
}

#[test]
fn hash_events() {
    let srv = Server::start(&[]);
    let mut sub = srv.conn();
    let mut w = Watch::new(&srv, &mut sub);
    set_flags(&mut w.cmd, "KA");
    let got = w.events(&[
        &["HMSET", "h", "yes", "1", "no", "0"],
        &["HSET", "h", "yes", "1"],
        &["HSETNX", "h", "yes", "2"],
        &["HSETNX", "h", "maybe", "2"],
        &["HINCRBY", "h", "yes", "10"],
        &["HINCRBYFLOAT", "h", "yes", "0.5"],
        &["HDEL", "h", "nope"],
        &["HDEL", "h", "yes", "no"],
        &["HDEL", "h", "maybe"],
    ]);
    let want: Vec<String> = ["hset", "hset", "hset", "hincrby", "hincrbyfloat", "hdel", "hdel", "del"]
        .iter()
        .map(|e| format!("__keyspace@0__:h {e}"))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn set_events() {
    let srv = Server::start(&[]);
    let mut sub = srv.conn();
    let mut w = Watch::new(&srv, &mut sub);
    set_flags(&mut w.cmd, "EA");
    let got = w.events(&[
        &["SADD", "s", "a", "b", "c", "d"],
        &["SADD", "s", "a"],
        &["SREM", "s", "x"],
        &["SREM", "s", "a"],
        &["SMOVE", "s", "s", "b"],
        &["SMOVE", "s", "t", "nope"],
        &["SMOVE", "s", "t", "b"],
        &["SADD", "u", "c"],
        &["SMOVE", "s", "u", "c"],
        &["SPOP", "s", "0"],
        &["SPOP", "s", "5"],
        &["SADD", "x", "1", "2"],
        &["SADD", "y", "2", "3"],
        &["SINTERSTORE", "dst", "x", "y"],
        &["SUNIONSTORE", "dst", "x", "y"],
        &["SDIFFSTORE", "dst", "x", "x"],
        &["SDIFFSTORE", "dst", "x", "x"],
    ]);
    let want = kev(&[
        ("sadd", "s"),
        ("srem", "s"),
        ("srem", "s"),
        ("sadd", "t"),
        ("sadd", "u"),
        // c was already in u: only the source changes.
        ("srem", "s"),
        ("spop", "s"),
        ("del", "s"),
        ("sadd", "x"),
        ("sadd", "y"),
        ("sinterstore", "dst"),
        ("sunionstore", "dst"),
        ("del", "dst"),
    ]);
    assert_eq!(got, want);
}

#[test]
fn sorted_set_events() {
    let srv = Server::start(&[]);
    let mut sub = srv.conn();
    let mut w = Watch::new(&srv, &mut sub);
    set_flags(&mut w.cmd, "Ezg");
    let got = w.events(&[
        &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"],
        &["ZADD", "z", "1", "a"],
        &["ZADD", "z", "GT", "0", "a"],
        &["ZADD", "z", "5", "a"],
        &["ZADD", "z", "INCR", "1", "a"],
        &["ZINCRBY", "z", "1", "b"],
        &["ZREM", "z", "nope"],
        &["ZREM", "z", "a"],
        &["ZREMRANGEBYSCORE", "z", "100", "200"],
        &["ZREMRANGEBYSCORE", "z", "0", "3"],
        &["ZADD", "z", "1", "x", "2", "y"],
        &["ZREMRANGEBYRANK", "z", "0", "0"],
        &["ZADD", "lex", "0", "a", "0", "b", "0", "c"],
        &["ZREMRANGEBYLEX", "lex", "[a", "[b"],
        &["ZPOPMIN", "z"],
        &["ZADD", "z", "1", "m", "2", "n"],
        &["ZPOPMAX", "z", "1"],
        &["ZMPOP", "1", "z", "MIN", "COUNT", "10"],
        &["ZADD", "p", "1", "a"],
        &["ZADD", "q", "2", "b"],
        &["ZUNIONSTORE", "dst", "2", "p", "q"],
        &["ZINTERSTORE", "dst", "2", "p", "q"],
        &["ZRANGESTORE", "r", "p", "0", "-1"],
        &["ZDIFFSTORE", "r", "1", "q"],
    ]);
    let want = kev(&[
        ("zadd", "z"),
        ("zadd", "z"),
        ("zincr", "z"),
        ("zincr", "z"),
        ("zrem", "z"),
        ("zremrangebyscore", "z"),
        ("zadd", "z"),
        ("zremrangebyrank", "z"),
        ("zadd", "lex"),
        ("zremrangebylex", "lex"),
        ("zpopmin", "z"),
        ("zadd", "z"),
        ("zpopmax", "z"),
        ("zpopmin", "z"),
        ("del", "z"),
        ("zadd", "p"),
        ("zadd", "q"),
        ("zunionstore", "dst"),
        // An empty intersection deletes the destination.
        ("del", "dst"),
        ("zrangestore", "r"),
        ("zdiffstore", "r"),
    ]);
    assert_eq!(got, want);
}

#[test]
fn stream_events() {
    let srv = Server::start(&[]);
    let mut sub = srv.conn();
    let mut w = Watch::new(&srv, &mut sub);
    set_flags(&mut w.cmd, "Et");
    let got = w.events(&[
        &["XGROUP", "CREATE", "st", "g", "$", "MKSTREAM"],
        &["XGROUP", "CREATECONSUMER", "st", "g", "bob"],
        &["XGROUP", "CREATECONSUMER", "st", "g", "bob"],
        &["XADD", "st", "1-1", "f", "v"],
        &["XADD", "st", "MAXLEN", "5", "2-1", "f", "v"],
        &["XADD", "st", "MAXLEN", "1", "3-1", "f", "v"],
        &["XADD", "nostream", "NOMKSTREAM", "*", "f", "v"],
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "st", ">"],
        &["XREADGROUP", "GROUP", "g", "alice", "STREAMS", "st", ">"],
        &["XCLAIM", "st", "g", "mike", "0", "3-1"],
        &["XAUTOCLAIM", "st", "g", "bob", "0", "0"],
        &["XGROUP", "DELCONSUMER", "st", "g", "nobody"],
        &["XGROUP", "DELCONSUMER", "st", "g", "bob"],
        &["XGROUP", "SETID", "st", "g", "0"],
        &["XDEL", "st", "9-9"],
        &["XDEL", "st", "3-1"],
        &["XADD", "st", "4-1", "f", "v"],
        &["XTRIM", "st", "MAXLEN", "10"],
        &["XTRIM", "st", "MAXLEN", "0"],
        &["XSETID", "st", "10-1"],
        &["XGROUP", "DESTROY", "st", "nope"],
        &["XGROUP", "DESTROY", "st", "g"],
    ]);
    let want = kev(&[
        ("xgroup-create", "st"),
        ("xgroup-createconsumer", "st"),
        ("xadd", "st"),
        ("xadd", "st"),
        ("xadd", "st"),
        ("xtrim", "st"),
        ("xgroup-createconsumer", "st"),
        ("xgroup-createconsumer", "st"),
        ("xgroup-delconsumer", "st"),
        ("xgroup-setid", "st"),
        ("xdel", "st"),
        ("xadd", "st"),
        ("xtrim", "st"),
        ("xsetid", "st"),
        ("xgroup-destroy", "st"),
    ]);
    assert_eq!(got, want);
}

#[test]
fn generic_events() {
    let srv = Server::start(&[]);
    let mut sub = srv.conn();
    let mut w = Watch::new(&srv, &mut sub);
    set_flags(&mut w.cmd, "KEg");
    let got = w.events(&[
        &["MSET", "a", "1", "b", "2", "c", "3"],
        &["DEL", "a", "nope", "b"],
        &["UNLINK", "c"],
        &["SET", "src", "v"],
        &["RENAME", "src", "dst"],
        &["RENAME", "dst", "dst"],
        &["SET", "k", "v"],
        &["MOVE", "k", "1"],
        &["COPY", "dst", "cp", "DB", "2"],
        &["EXPIRE", "dst", "100"],
        &["EXPIRE", "nope", "100"],
        &["PERSIST", "dst"],
        &["PERSIST", "dst"],
        &["EXPIRE", "dst", "-1"],
    ]);
    let ev = |db: u8, name: &str, key: &str| {
        vec![format!("__keyspace@{db}__:{key} {name}"), format!("__keyevent@{db}__:{name} {key}")]
    };
    let want: Vec<String> = [
        ev(0, "del", "a"),
        ev(0, "del", "b"),
        ev(0, "del", "c"),
        ev(0, "rename_from", "src"),
        ev(0, "rename_to", "dst"),
        ev(0, "move_from", "k"),
        ev(1, "move_to", "k"),
        ev(2, "copy_to", "cp"),
        ev(0, "expire", "dst"),
        ev(0, "persist", "dst"),
        ev(0, "del", "dst"),
    ]
    .concat();
    assert_eq!(got, want);

    set_flags(&mut w.cmd, "El");
    let got = w.events(&[
        &["RPUSH", "list", "3", "1", "2"],
        &["SORT", "list"],
        &["SORT", "list", "STORE", "sorted"],
        &["SORT", "nothing", "STORE", "sorted"],
    ]);
    // An empty result deletes the destination: a generic event, masked here.
    assert_eq!(got, kev(&[("rpush", "list"), ("sortstore", "sorted")]));
    set_flags(&mut w.cmd, "Eg");
    assert_eq!(
        w.events(&[&["SET", "sorted", "x"], &["SORT", "nothing", "STORE", "sorted"]]),
        kev(&[("del", "sorted")])
    );
    // FLUSHDB, FLUSHALL and SWAPDB raise nothing.
    assert!(w.events(&[&["SWAPDB", "0", "1"], &["FLUSHDB"], &["FLUSHALL"]]).is_empty());
}

#[test]
fn new_key_events() {
    let srv = Server::start(&[]);
    let mut sub = srv.conn();
    let mut w = Watch::new(&srv, &mut sub);
    set_flags(&mut w.cmd, "En");
    assert_eq!(
        w.events(&[&["SET", "foo", "bar"], &["SET", "foo", "baz"], &["SET", "bar", "bar"]]),
        kev(&[("new", "foo"), ("new", "bar")])
    );
    // `new` comes before the first event of the key it announces.
    set_flags(&mut w.cmd, "EAn");
    let got = w.events(&[
        &["MSET", "m1", "1", "m2", "2"],
        &["HSET", "h", "f", "v"],
        &["HSET", "h", "g", "v"],
        &["RENAME", "h", "h2"],
        &["SADD", "s1", "x"],
        &["SMOVE", "s1", "s2", "x"],
        &["LPUSH", "l1", "a"],
        &["LMOVE", "l1", "l2", "LEFT", "LEFT"],
        &["SET", "k", "v"],
        &["MOVE", "k", "1"],
    ]);
    let mut want = kev(&[
        ("new", "m1"),
        ("set", "m1"),
        ("new", "m2"),
        ("set", "m2"),
        ("new", "h"),
        ("hset", "h"),
        ("hset", "h"),
        ("new", "h2"),
        ("rename_from", "h"),
        ("rename_to", "h2"),
        ("new", "s1"),
        ("sadd", "s1"),
        ("srem", "s1"),
        ("del", "s1"),
        ("new", "s2"),
        ("sadd", "s2"),
        ("new", "l1"),
        ("lpush", "l1"),
        ("new", "l2"),
        ("lpush", "l2"),
        ("lpop", "l1"),
        ("del", "l1"),
        ("new", "k"),
        ("set", "k"),
    ]);
    want.extend(["__keyevent@1__:new k", "__keyevent@0__:move_from k", "__keyevent@1__:move_to k"].map(String::from));
    assert_eq!(got, want);
}

#[test]
fn reads_that_miss_raise_keymiss() {
    let srv = Server::start(&[]);
    let mut sub = srv.conn();
    let mut w = Watch::new(&srv, &mut sub);
    // Not part of A.
    set_flags(&mut w.cmd, "EA");
    assert!(w.events(&[&["GET", "nope"]]).is_empty());
    set_flags(&mut w.cmd, "Em$");
    let got = w.events(&[
        &["SET", "here", "v"],
        &["GET", "here"],
        &["GET", "nope"],
        &["MGET", "here", "a", "b"],
        &["SET", "c", "v", "GET"],
    ]);
    let want = kev(&[
        ("set", "here"),
        ("keymiss", "nope"),
        ("keymiss", "a"),
        ("keymiss", "b"),
        ("keymiss", "c"),
        ("set", "c"),
    ]);
    assert_eq!(got, want);
}

#[test]
fn transactions_and_scripts_raise_events_as_their_commands_run() {
    let srv = Server::start(&[]);
    let mut sub = srv.conn();
    let mut w = Watch::new(&srv, &mut sub);
    set_flags(&mut w.cmd, "EA");
    let got = w.events(&[
        &["MULTI"],
        &["SET", "a", "1"],
        &["INCR", "a"],
        &["LPUSH", "l", "x"],
        &["DEL", "a"],
        &["EXEC"],
        &[
            "EVAL",
            "redis.call('set', KEYS[1], 'v') redis.call('expire', KEYS[1], 100) return redis.call('rpop', KEYS[2])",
            "2",
            "s",
            "l",
        ],
    ]);
    let want = kev(&[
        ("set", "a"),
        ("incrby", "a"),
        ("lpush", "l"),
        ("del", "a"),
        ("set", "s"),
        ("expire", "s"),
        ("rpop", "l"),
        ("del", "l"),
    ]);
    assert_eq!(got, want);
}

#[test]
fn lazy_expiry_raises_expired() {
    let srv = Server::start(&[]);
    let mut sub = srv.conn();
    let mut w = Watch::new(&srv, &mut sub);
    run(&mut w.cmd, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    set_flags(&mut w.cmd, "Ex");
    assert!(w.events(&[&["PSETEX", "foo", "1", "v"]]).is_empty());
    // The access that finds the key past its TTL deletes it (and raises
    // `expired`); the active cycle is off, so nothing else does.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n: i64 = redis::cmd("EXISTS").arg("foo").query(&mut w.cmd).unwrap();
        if n == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "foo never expired");
    }
    assert_eq!(w.drain(), kev(&[("expired", "foo")]));

    // A write that finds its key expired: `expired`, then `new` and the
    // write. `clock` expires no earlier than `bar`: once it has, so has bar.
    set_flags(&mut w.cmd, "EAn");
    run(&mut w.cmd, &["PSETEX", "bar", "1", "v"]);
    run(&mut w.cmd, &["PSETEX", "clock", "1", "v"]);
    w.drain();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let n: i64 = redis::cmd("EXISTS").arg("clock").query(&mut w.cmd).unwrap();
        if n == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "clock never expired");
    }
    assert_eq!(
        w.events(&[&["LPUSH", "bar", "x"]]),
        kev(&[("expired", "clock"), ("expired", "bar"), ("new", "bar"), ("lpush", "bar")])
    );
}

#[test]
fn active_expiry_raises_expired() {
    let srv = Server::start(&[]);
    let mut sub = srv.conn();
    let mut w = Watch::new(&srv, &mut sub);
    set_flags(&mut w.cmd, "KEx");
    // Nobody touches the keys: the background cycle reclaims them (SET and
    // EXPIRE events are masked: only the expiries come).
    for c in [&["PSETEX", "foo", "1", "v"][..], &["SELECT", "5"], &["PSETEX", "bar", "1", "v"]] {
        run(&mut w.cmd, c);
    }
    let mut got = vec![w.next(), w.next(), w.next(), w.next()];
    got.sort();
    assert_eq!(
        got,
        [
            "__keyevent@0__:expired foo",
            "__keyevent@5__:expired bar",
            "__keyspace@0__:foo expired",
            "__keyspace@5__:bar expired"
        ]
    );
}

#[test]
fn eviction_raises_evicted() {
    let srv = Server::start(&[]);
    let mut sub = srv.conn();
    let mut w = Watch::new(&srv, &mut sub);
    run(&mut w.cmd, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
    set_flags(&mut w.cmd, "Ee");
    assert!(w.events(&[&["SET", "foo", "bar"], &["SET", "baz", "qux"]]).is_empty());
    // CONFIG SET maxmemory evicts at once, as Redis does.
    let mut got = w.events(&[&["CONFIG", "SET", "maxmemory", "1"]]);
    got.sort();
    assert_eq!(got, kev(&[("evicted", "baz"), ("evicted", "foo")]));
    run(&mut w.cmd, &["CONFIG", "SET", "maxmemory", "0"]);

    // And before a command, while over the limit.
    assert!(w.events(&[&["SET", "k", "v"]]).is_empty());
    let got = w.events(&[&["MULTI"], &["CONFIG", "SET", "maxmemory", "1"], &["EXEC"], &["PING"]]);
    assert_eq!(got, kev(&[("evicted", "k")]));
    run(&mut w.cmd, &["CONFIG", "SET", "maxmemory", "0"]);
}

#[test]
fn resp3_subscribers_get_push_frames() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    assert!(matches!(c.call(&["HELLO", "3"]), Resp::Map(_)));
    assert_eq!(
        c.call(&["PSUBSCRIBE", "__key*__:*"]),
        Resp::Push(vec![common::bulk("psubscribe"), common::bulk("__key*__:*"), Resp::Int(1)])
    );
    let mut cmd = srv.conn();
    set_flags(&mut cmd, "KEhg");
    run(&mut cmd, &["HSET", "h", "f", "v"]);
    let pm = |chan: &str, msg: &str| {
        Resp::Push(vec![common::bulk("pmessage"), common::bulk("__key*__:*"), common::bulk(chan), common::bulk(msg)])
    };
    assert_eq!(c.read(), pm("__keyspace@0__:h", "hset"));
    assert_eq!(c.read(), pm("__keyevent@0__:hset", "h"));
    // A RESP3 client gets the events of its own commands too (queued
    // while the command runs, written after its reply).
    c.send_cmd(&["HDEL", "h", "f"]);
    let mut frames: Vec<Resp> = (0..5).map(|_| c.read()).collect();
    let reply = frames.iter().position(|f| *f == Resp::Int(1)).expect("HDEL's reply");
    frames.remove(reply);
    assert_eq!(
        frames,
        [
            pm("__keyspace@0__:h", "hdel"),
            pm("__keyevent@0__:hdel", "h"),
            pm("__keyspace@0__:h", "del"),
            pm("__keyevent@0__:del", "h")
        ]
    );
}
