//! Routing through a real proxy in front of three real data servers:
//! distribution, multi-key split/merge, fan-out, hash tags, transactions,
//! local commands, RESP3 and pipelining.

mod harness;

use harness::*;
use redis::Value;

fn cluster3(extra: &[&str]) -> (Vec<DataServer>, Proxy) {
    let s: Vec<DataServer> = (0..3).map(|_| DataServer::start()).collect();
    let p = Proxy::start(&servers_json(&s.iter().collect::<Vec<_>>()), extra);
    (s, p)
}

fn load_keys(c: &mut redis::Connection, prefix: &str, n: usize) {
    for start in (0..n).step_by(1000) {
        let mut pipe = redis::pipe();
        for i in start..(start + 1000).min(n) {
            pipe.cmd("SET").arg(format!("{prefix}{i}")).arg(i).ignore();
        }
        pipe.query::<()>(c).expect("pipelined SETs");
    }
}

#[test]
fn keys_spread_evenly_and_each_lives_on_one_server() {
    let (s, p) = cluster3(&[]);
    let mut c = p.conn();
    let n = 60_000;
    load_keys(&mut c, "key:", n);
    let sizes: Vec<i64> = s.iter().map(|d| d.dbsize()).collect();
    assert_eq!(sizes.iter().sum::<i64>(), n as i64, "every key stored exactly once: {sizes:?}");
    for sz in &sizes {
        let share = *sz as f64 / n as f64;
        assert!((share - 1.0 / 3.0).abs() < 0.05 / 3.0, "unbalanced: {sizes:?}");
    }
    let total: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(total, n as i64);
    let size: i64 = redis::cmd("SIZE").query(&mut c).unwrap();
    assert_eq!(size, n as i64);
    // Every key reads back through the proxy, and is on exactly one server.
    let sample: Vec<String> = (0..n).step_by(97).map(|i| format!("key:{i}")).collect();
    let got: Vec<Option<i64>> = redis::cmd("MGET").arg(&sample).query(&mut c).unwrap();
    assert_eq!(got, (0..n).step_by(97).map(|i| Some(i as i64)).collect::<Vec<_>>());
    let mut direct: Vec<redis::Connection> = s.iter().map(|d| d.conn()).collect();
    for k in sample.iter().take(200) {
        let holders = direct.iter_mut().map(|c| redis::cmd("EXISTS").arg(k).query::<i64>(c).unwrap()).sum::<i64>();
        assert_eq!(holders, 1, "{k}");
    }
}

#[test]
fn multi_key_commands_split_and_merge_in_order() {
    let (s, p) = cluster3(&[]);
    let mut c = p.conn();
    let keys: Vec<String> = (0..60).map(|i| format!("mk{i}")).collect();
    let mut mset = redis::cmd("MSET");
    for (i, k) in keys.iter().enumerate() {
        mset.arg(k).arg(format!("v{i}"));
    }
    assert_eq!(mset.query::<String>(&mut c).unwrap(), "OK");
    assert!(s.iter().all(|d| d.dbsize() > 0), "the keys should span all servers");
    assert_eq!(s.iter().map(|d| d.dbsize()).sum::<i64>(), 60);

    // MGET: client order, missing keys and duplicates kept.
    let ask = ["mk59", "nope1", "mk0", "mk30", "mk0", "nope2", "mk7"];
    let got: Vec<Option<String>> = redis::cmd("MGET").arg(&ask).query(&mut c).unwrap();
    let want: Vec<Option<String>> = ask.iter().map(|k| k.strip_prefix("mk").map(|i| format!("v{i}"))).collect();
    assert_eq!(got, want);

    let n: i64 = redis::cmd("EXISTS").arg(&["mk1", "mk1", "mk2", "nope", "mk40"]).query(&mut c).unwrap();
    assert_eq!(n, 4);
    let n: i64 = redis::cmd("TOUCH").arg(&["mk1", "mk2", "nope", "mk40", "mk50"]).query(&mut c).unwrap();
    assert_eq!(n, 4);
    let n: i64 = redis::cmd("DEL").arg(&keys[..20]).arg("nope").query(&mut c).unwrap();
    assert_eq!(n, 20);
    let n: i64 = redis::cmd("UNLINK").arg(&keys[20..40]).query(&mut c).unwrap();
    assert_eq!(n, 20);
    let n: i64 = redis::cmd("REMOVE").arg(&keys[40..]).arg(&keys[0]).query(&mut c).unwrap();
    assert_eq!(n, 20);
    assert!(s.iter().all(|d| d.dbsize() == 0));

    let mut raw = p.raw();
    assert_eq!(
        raw.call(&["MSET", "a", "1", "b"]),
        Resp::Error("ERR wrong number of arguments for 'mset' command".into())
    );
    assert_eq!(raw.call(&["MGET"]), Resp::Error("ERR wrong number of arguments for 'mget' command".into()));
    // RESP3: nulls of a merged MGET are RESP3 nulls.
    raw.call(&["HELLO", "3"]);
    raw.call(&["MSET", "mk1", "x", "mk2", "y", "mk3", "z"]);
    let r = raw.call(&["MGET", "mk1", "nope", "mk2", "mk3", "nope2"]);
    assert_eq!(r, Resp::Array(Some(vec![bulk("x"), Resp::Null, bulk("y"), bulk("z"), Resp::Null])));
}

#[test]
fn fan_out_commands_cover_every_server() {
    let (s, p) = cluster3(&[]);
    let mut c = p.conn();
    load_keys(&mut c, "f:", 500);
    redis::cmd("SET").arg("other").arg(1).query::<()>(&mut c).unwrap();

    let mut keys: Vec<String> = redis::cmd("KEYS").arg("f:*").query(&mut c).unwrap();
    keys.sort();
    let mut want: Vec<String> = (0..500).map(|i| format!("f:{i}")).collect();
    want.sort();
    assert_eq!(keys, want);

    // SCAN: the composite cursor walks every server; each key exactly once.
    let mut seen = Vec::new();
    let mut cursor = 0u64;
    let mut calls = 0;
    loop {
        let (next, page): (u64, Vec<String>) =
            redis::cmd("SCAN").arg(cursor).arg("MATCH").arg("f:*").arg("COUNT").arg(37).query(&mut c).unwrap();
        seen.extend(page);
        calls += 1;
        assert!(calls < 1000, "SCAN does not end");
        if next == 0 {
            break;
        }
        cursor = next;
    }
    seen.sort();
    assert_eq!(seen, want);
    let e = redis::cmd("SCAN").arg("abc").query::<Value>(&mut c).unwrap_err();
    assert!(e.to_string().contains("invalid cursor"), "{e}");

    let k: String = redis::cmd("RANDOMKEY").query(&mut c).unwrap();
    assert!(k == "other" || k.starts_with("f:"));

    let info: String = redis::cmd("INFO").query(&mut c).unwrap();
    assert!(info.contains("# Proxy") && info.contains("servers:3"), "{info}");
    for (i, d) in s.iter().enumerate() {
        assert!(info.contains(&format!("shard{i}:id={}", d.addr())), "{info}");
    }
    assert!(info.contains("db0:keys=501,"), "{info}");
    let only: String = redis::cmd("INFO").arg("keyspace").query(&mut c).unwrap();
    assert!(!only.contains("# Proxy") && only.contains("db0:keys=501,"), "{only}");

    assert_eq!(redis::cmd("FLUSHDB").query::<String>(&mut c).unwrap(), "OK");
    assert_eq!(redis::cmd("DBSIZE").query::<i64>(&mut c).unwrap(), 0);
    assert_eq!(redis::cmd("RANDOMKEY").query::<Option<String>>(&mut c).unwrap(), None);
    load_keys(&mut c, "g:", 50);
    assert_eq!(redis::cmd("FLUSHALL").query::<String>(&mut c).unwrap(), "OK");
    assert!(s.iter().all(|d| d.dbsize() == 0));
}

#[test]
fn hash_tags_crossslot_and_transactions() {
    let (s, p) = cluster3(&[]);
    let mut c = p.conn();
    for u in 0..30 {
        redis::cmd("MSET")
            .arg(format!("{{user{u}}}.name"))
            .arg("n")
            .arg(format!("{{user{u}}}.mail"))
            .arg("m")
            .query::<()>(&mut c)
            .unwrap();
    }
    // Both keys of a user are on the same server.
    for d in &s {
        let mut dc = d.conn();
        for u in 0..30 {
            let n: i64 = redis::cmd("EXISTS")
                .arg(format!("{{user{u}}}.name"))
                .arg(format!("{{user{u}}}.mail"))
                .query(&mut dc)
                .unwrap();
            assert!(n == 0 || n == 2, "user{u} split across servers");
        }
    }
    let mut raw = p.raw();
    // Find two keys on different servers.
    let (a, b) = (0..100)
        .map(|i| format!("x{i}"))
        .flat_map(|a| (0..100).map(move |j| (a.clone(), format!("y{j}"))))
        .find(|(a, b)| {
            raw.call(&["SET", a, "1"]);
            matches!(raw.call(&["RENAME", a, b]), Resp::Error(_))
        })
        .expect("two keys on different servers");
    let cross = Resp::Error("CROSSSLOT Keys in request don't hash to the same slot".into());
    assert_eq!(raw.call(&["RENAME", &a, &b]), cross);
    assert_eq!(raw.call(&["MSETNX", &a, "1", &b, "2"]), cross);
    assert_eq!(raw.call(&["SET", "{t}src", "v"]), Resp::Simple("OK".into()));
    assert_eq!(raw.call(&["RENAME", "{t}src", "{t}dst"]), Resp::Simple("OK".into()));
    assert_eq!(raw.call(&["GET", "{t}dst"]), bulk("v"));

    // MULTI/EXEC on one server is forwarded.
    assert_eq!(raw.call(&["MULTI"]), Resp::Simple("OK".into()));
    assert_eq!(raw.call(&["SET", "{t}n", "10"]), Resp::Simple("QUEUED".into()));
    assert_eq!(raw.call(&["INCR", "{t}n"]), Resp::Simple("QUEUED".into()));
    assert_eq!(raw.call(&["PING"]), Resp::Simple("QUEUED".into()));
    assert_eq!(
        raw.call(&["EXEC"]),
        Resp::Array(Some(vec![Resp::Simple("OK".into()), Resp::Int(11), Resp::Simple("PONG".into())]))
    );
    // Spread keys: refused when queued, the transaction aborts.
    raw.call(&["MULTI"]);
    assert_eq!(raw.call(&["SET", &a, "1"]), Resp::Simple("QUEUED".into()));
    assert_eq!(raw.call(&["SET", &b, "1"]), cross);
    assert_eq!(raw.call(&["EXEC"]), Resp::Error("EXECABORT Transaction discarded because of previous errors.".into()));
    assert_eq!(raw.call(&["EXEC"]), Resp::Error("ERR EXEC without MULTI".into()));
    raw.call(&["MULTI"]);
    assert_eq!(raw.call(&["MULTI"]), Resp::Error("ERR MULTI calls can not be nested".into()));
    assert_eq!(raw.call(&["DISCARD"]), Resp::Simple("OK".into()));
    assert_eq!(raw.call(&["DISCARD"]), Resp::Error("ERR DISCARD without MULTI".into()));
    assert_eq!(raw.call(&["MULTI"]), Resp::Simple("OK".into()));
    assert_eq!(raw.call(&["EXEC"]), Resp::Array(Some(vec![])));
}

#[test]
fn local_commands_and_resp3() {
    let (_s, p) = cluster3(&[]);
    let mut raw = p.raw();
    assert_eq!(raw.call(&["PING"]), Resp::Simple("PONG".into()));
    assert_eq!(raw.call(&["PING", "hi"]), bulk("hi"));
    assert_eq!(raw.call(&["ECHO", "e"]), bulk("e"));
    assert_eq!(raw.call(&["SELECT", "0"]), Resp::Simple("OK".into()));
    assert_eq!(raw.call(&["SELECT", "1"]), Resp::Simple("OK".into()));
    assert_eq!(raw.call(&["SELECT", "99"]), Resp::Error("ERR DB index is out of range".into()));
    assert_eq!(raw.call(&["SELECT", "0"]), Resp::Simple("OK".into()));
    assert_eq!(raw.call(&["CLIENT", "SETNAME", "me"]), Resp::Simple("OK".into()));
    assert_eq!(raw.call(&["CLIENT", "GETNAME"]), bulk("me"));
    assert_eq!(raw.call(&["CLIENT", "SETINFO", "LIB-NAME", "x"]), Resp::Simple("OK".into()));
    assert!(matches!(raw.call(&["COMMAND", "COUNT"]), Resp::Int(n) if n > 50));
    assert!(matches!(raw.call(&["COMMAND", "INFO", "get"]), Resp::Array(Some(_))));
    assert_eq!(
        raw.call(&["NOSUCH", "a"]),
        Resp::Error("ERR unknown command 'NOSUCH', with args beginning with: 'a' ".into())
    );
    assert_eq!(raw.call(&["GET"]), Resp::Error("ERR wrong number of arguments for 'get' command".into()));
    assert_eq!(raw.call(&["HELLO", "4"]), Resp::Error("NOPROTO unsupported protocol version".into()));
    let Resp::Map(hello) = raw.call(&["HELLO", "3"]) else { panic!("HELLO 3 is a map") };
    assert!(hello.contains(&(bulk("proto"), Resp::Int(3))));
    // RESP3 end to end: a server's map reply and nulls come through as RESP3.
    assert_eq!(raw.call(&["GET", "missing"]), Resp::Null);
    assert!(matches!(raw.call(&["CONFIG", "GET", "maxmemory"]), Resp::Map(m) if m.len() == 1));
    assert!(matches!(raw.call(&["INFO", "proxy"]), Resp::Verbatim(_)));
    assert_eq!(raw.call(&["SET", "k", "v"]), Resp::Simple("OK".into()));
    // HELLO 2 answers RESP2's flat array for the map.
    let Resp::Array(Some(flat)) = raw.call(&["HELLO", "2"]) else { panic!("HELLO 2 is an array") };
    assert_eq!(flat.len(), 14);
    assert_eq!(flat[4..6], [bulk("proto"), Resp::Int(2)]);
    assert_eq!(raw.call(&["GET", "missing"]), Resp::Bulk(None));
    assert_eq!(raw.call(&["GET", "k"]), bulk("v"));
    assert_eq!(raw.call(&["QUIT"]), Resp::Simple("OK".into()));
    assert!(raw.is_closed());

    // The redis crate in RESP3 mode works through the proxy.
    let mut c3 = p.conn3();
    redis::cmd("SET").arg("r3").arg("v").query::<()>(&mut c3).unwrap();
    let v: Vec<Option<String>> = redis::cmd("MGET").arg(&["r3", "nope", "k"]).query(&mut c3).unwrap();
    assert_eq!(v, vec![Some("v".into()), None, Some("v".into())]);
}

#[test]
fn requirepass_at_the_proxy() {
    let s = DataServer::start();
    let p = Proxy::start(&servers_json(&[&s]), &["--requirepass", "secret"]);
    let mut raw = p.raw();
    assert_eq!(raw.call(&["GET", "k"]), Resp::Error("NOAUTH Authentication required.".into()));
    assert_eq!(
        raw.call(&["AUTH", "wrong"]),
        Resp::Error("WRONGPASS invalid username-password pair or user is disabled.".into())
    );
    assert_eq!(raw.call(&["AUTH", "secret"]), Resp::Simple("OK".into()));
    assert_eq!(raw.call(&["SET", "k", "v"]), Resp::Simple("OK".into()));
    let mut r2 = p.raw();
    assert!(matches!(r2.call(&["HELLO", "3", "AUTH", "default", "secret"]), Resp::Map(_)));
    assert_eq!(r2.call(&["GET", "k"]), bulk("v"));
}

#[test]
fn backend_passwords_are_sent() {
    let d = DataServer::start();
    let mut dc = d.conn();
    redis::cmd("CONFIG").arg("SET").arg("requirepass").arg("pw").query::<()>(&mut dc).unwrap();
    let json = format!("[{{\"addr\": \"{}\", \"password\": \"pw\"}}]", d.addr());
    let p = Proxy::start(&json, &[]);
    let mut c = p.conn();
    redis::cmd("SET").arg("k").arg("v").query::<()>(&mut c).unwrap();
    assert_eq!(redis::cmd("GET").arg("k").query::<String>(&mut c).unwrap(), "v");
}

#[test]
fn pipelines_keep_order_per_client() {
    let (_s, p) = cluster3(&["--conns", "2"]);
    check_pipeline_order(&p);
}

/// The same on both schedulers, whatever the machine's CPU count picks by
/// default: one thread, and several workers (tasks of one client on
/// different threads).
#[test]
fn pipelines_keep_order_with_one_thread_and_with_several() {
    for threads in ["1", "2"] {
        let (_s, p) = cluster3(&["--conns", "2", "--threads", threads]);
        check_pipeline_order(&p);
    }
}

fn check_pipeline_order(p: &Proxy) {
    // One client, one write holding 3000 commands over all servers.
    let mut raw = p.raw();
    let mut batch = Vec::new();
    for i in 0..1000 {
        let k = format!("p{i}");
        batch.extend(encode(&["SET", &k, &i.to_string()]));
        batch.extend(encode(&["INCR", &k]));
        batch.extend(encode(&["GET", &k]));
    }
    raw.send(&batch);
    for i in 0..1000 {
        assert_eq!(raw.read(), Resp::Simple("OK".into()));
        assert_eq!(raw.read(), Resp::Int(i + 1));
        assert_eq!(raw.read(), bulk(&(i + 1).to_string()));
    }
    // Many clients at once, sharing two connections per server.
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let port = p.port;
            std::thread::spawn(move || {
                let mut c = connect(port, false);
                for round in 0..20 {
                    let mut pipe = redis::pipe();
                    for i in 0..50 {
                        pipe.cmd("SET").arg(format!("t{t}:{i}")).arg(round * 100 + i).ignore();
                        pipe.cmd("GET").arg(format!("t{t}:{i}"));
                    }
                    let got: Vec<i64> = pipe.query(&mut c).unwrap();
                    assert_eq!(got, (0..50).map(|i| round * 100 + i).collect::<Vec<_>>());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn blocking_commands_do_not_hold_up_other_clients() {
    let (s, p) = cluster3(&["--conns", "1"]);
    let mut probe = s[0].conn();
    let known: Value = redis::cmd("COMMAND").arg("INFO").arg("blpop").query(&mut probe).unwrap();
    if matches!(&known, Value::Array(v) if matches!(v.first(), None | Some(Value::Nil))) {
        eprintln!("skipped: the data server has no BLPOP yet");
        return;
    }
    let port = p.port;
    let waiter = std::thread::spawn(move || {
        let mut c = connect(port, false);
        redis::cmd("BLPOP").arg("queue").arg(10).query::<Option<(String, String)>>(&mut c).unwrap()
    });
    // Other clients keep being served while BLPOP waits (one shared connection per server).
    let mut c = p.conn();
    assert!(wait_until(10, || {
        let blocked = s.iter().any(|d| {
            let info: String = redis::cmd("INFO").arg("clients").query(&mut d.conn()).unwrap();
            info.contains("blocked_clients:1")
        });
        redis::cmd("SET").arg("x").arg(1).query::<()>(&mut c).unwrap();
        blocked
    }));
    for i in 0..50 {
        redis::cmd("SET").arg(format!("b{i}")).arg(i).query::<()>(&mut c).unwrap();
    }
    redis::cmd("RPUSH").arg("queue").arg("job").query::<()>(&mut c).unwrap();
    assert_eq!(waiter.join().unwrap(), Some(("queue".into(), "job".into())));
}
