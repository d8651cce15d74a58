//! Lua scripts and functions through a real proxy in front of real data
//! servers: EVAL and FCALL routed by their keys (CROSSSLOT across servers,
//! hash tags keep keys together), `redis::Script`, SCRIPT and FUNCTION
//! fanned out, EVALSHA on a server added after the SCRIPT LOAD (and on one
//! whose cache was flushed behind the proxy's back), SCRIPT KILL reaching
//! the busy server, scripts inside MULTI.

mod harness;

use harness::*;

const CROSS: &str = "CROSSSLOT Keys in request don't hash to the same slot";
const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";
const NOTBUSY: &str = "NOTBUSY No scripts in execution right now.";

fn err(e: &str) -> Resp {
    Resp::Error(e.into())
}

fn ints(v: &[i64]) -> Resp {
    Resp::Array(Some(v.iter().map(|&i| Resp::Int(i)).collect()))
}

fn text(r: Resp) -> String {
    match r {
        Resp::Bulk(Some(b)) => String::from_utf8(b).expect("utf-8"),
        other => panic!("expected a bulk string, got {other:?}"),
    }
}

fn is_error(r: &Resp) -> bool {
    matches!(r, Resp::Error(_))
}

/// A raw connection straight to each data server.
fn direct(s: &[DataServer]) -> Vec<Raw> {
    s.iter().map(|d| Raw::connect(d.port)).collect()
}

/// Which data server holds `key`, found by writing it through the proxy.
fn owner(p: &mut Raw, direct: &mut [Raw], key: &str) -> usize {
    assert_eq!(p.call(&["SET", key, "probe"]), ok());
    let holders: Vec<usize> = (0..direct.len()).filter(|&i| direct[i].call(&["EXISTS", key]) == Resp::Int(1)).collect();
    assert_eq!(holders.len(), 1, "{key} on exactly one server");
    assert_eq!(p.call(&["DEL", key]), Resp::Int(1));
    holders[0]
}

/// Two keys (with `prefix`) that live on different servers.
fn spread_pair(p: &mut Raw, direct: &mut [Raw], prefix: &str) -> (String, String) {
    let first = format!("{prefix}0");
    let home = owner(p, direct, &first);
    let other = (1..200)
        .map(|i| format!("{prefix}{i}"))
        .find(|k| owner(p, direct, k) != home)
        .expect("a key on another server");
    (first, other)
}

#[test]
fn eval_goes_to_the_server_of_its_keys() {
    let (s, p) = cluster(3, &[]);
    let mut raw = p.raw();
    let mut d = direct(&s);
    // A script reading its key finds it: it ran where the key lives.
    let mut homes = [0; 3];
    for i in 0..30 {
        let k = format!("k{i}");
        assert_eq!(raw.call(&["SET", &k, &format!("v{i}")]), ok());
        homes[owner_of_existing(&mut d, &k)] += 1;
        for cmd in ["EVAL", "EVAL_RO"] {
            assert_eq!(raw.call(&[cmd, "return redis.call('GET', KEYS[1])", "1", &k]), bulk(&format!("v{i}")));
        }
    }
    assert!(homes.iter().all(|&n| n > 0), "keys on every server: {homes:?}");
    // A script's write lands on the key's server only.
    assert_eq!(raw.call(&["EVAL", "return redis.call('SET', KEYS[1], ARGV[1])", "1", "w", "x"]), ok());
    assert_eq!(d.iter_mut().map(|c| c.call(&["GET", "w"])).filter(|r| *r == bulk("x")).count(), 1);
    assert_eq!(raw.call(&["GET", "w"]), bulk("x"));

    // Keys on two servers: CROSSSLOT, whatever the command.
    let (a, b) = spread_pair(&mut raw, &mut d, "pair");
    let sha = text(raw.call(&["SCRIPT", "LOAD", "return 1"]));
    for (cmd, body) in [("EVAL", "return 1"), ("EVAL_RO", "return 1"), ("EVALSHA", &sha), ("EVALSHA_RO", &sha)] {
        assert_eq!(raw.call(&[cmd, body, "2", &a, &b, "arg"]), err(CROSS), "{cmd}");
        assert_eq!(raw.call(&[cmd, body, "1", &a, &b]), Resp::Int(1), "{cmd}: one key, one argument");
    }
    // A hash tag keeps them together.
    let both = "redis.call('SET', KEYS[1], ARGV[1]) redis.call('SET', KEYS[2], ARGV[2]) \
                return redis.call('MGET', KEYS[1], KEYS[2])";
    assert_eq!(raw.call(&["EVAL", both, "2", "{t}a", "{t}b", "1", "2"]), Resp::Array(Some(vec![bulk("1"), bulk("2")])));
    assert_eq!(d.iter_mut().map(|c| c.call(&["EXISTS", "{t}a", "{t}b"])).filter(|r| *r == Resp::Int(2)).count(), 1);

    // numkeys 0: the first server in file order, every time.
    for i in 0..5 {
        let n = i.to_string();
        assert_eq!(raw.call(&["EVAL", "return redis.call('SET', 'keyless', ARGV[1])", "0", &n]), ok());
        assert_eq!(d[0].call(&["GET", "keyless"]), bulk(&n));
    }
    // A malformed numkeys is the server's to refuse.
    assert_eq!(
        raw.call(&["EVAL", "return 1", "5", "a"]),
        err("ERR Number of keys can't be greater than number of args")
    );
    assert!(is_error(&raw.call(&["EVAL", "return 1", "many"])));
    assert!(is_error(&raw.call(&["EVAL_RO", "return redis.call('SET', KEYS[1], 1)", "1", "w"])));
}

/// The index of the one server holding `key` (written beforehand).
fn owner_of_existing(direct: &mut [Raw], key: &str) -> usize {
    let holders: Vec<usize> = (0..direct.len()).filter(|&i| direct[i].call(&["EXISTS", key]) == Resp::Int(1)).collect();
    assert_eq!(holders.len(), 1, "{key} on exactly one server");
    holders[0]
}

#[test]
fn redis_script_objects_work_through_the_proxy() {
    let (_s, p) = cluster(3, &[]);
    let incr = redis::Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    let mut c = p.conn();
    for i in 0..20 {
        let k = format!("counter{i}");
        let n: i64 = incr.key(&k).arg(5).invoke(&mut c).unwrap();
        assert_eq!(n, 5);
        let n: i64 = incr.key(&k).arg(2).invoke(&mut c).unwrap();
        assert_eq!(n, 7);
    }
    let mut c3 = p.conn3();
    let pair = redis::Script::new("return {KEYS[1], tonumber(redis.call('GET', KEYS[1]))}");
    for i in 0..20 {
        let k = format!("counter{i}");
        let r: (String, i64) = pair.key(&k).invoke(&mut c3).unwrap();
        assert_eq!(r, (k, 7));
    }
}

#[test]
fn script_subcommands_fan_out() {
    let (s, p) = cluster(3, &[]);
    let mut raw = p.raw();
    let mut d = direct(&s);
    let sha = text(raw.call(&["SCRIPT", "LOAD", "return 'loaded'"]));
    assert_eq!(sha.len(), 40);
    for c in d.iter_mut() {
        assert_eq!(c.call(&["SCRIPT", "EXISTS", &sha]), ints(&[1]), "loaded on every server");
    }
    let unknown = "ffffffffffffffffffffffffffffffffffffffff";
    assert_eq!(raw.call(&["SCRIPT", "EXISTS", &sha, unknown]), ints(&[1, 0]));
    assert_eq!(raw.call(&["SCRIPT", "EXISTS", &sha.to_uppercase()]), ints(&[1]));
    // EXISTS is the AND of the servers' answers.
    assert_eq!(d[1].call(&["SCRIPT", "FLUSH"]), ok());
    assert_eq!(raw.call(&["SCRIPT", "EXISTS", &sha, unknown]), ints(&[0, 0]));
    // The proxy still knows the body: EVALSHA works on every server.
    for i in 0..30 {
        assert_eq!(raw.call(&["EVALSHA", &sha, "1", &format!("k{i}")]), bulk("loaded"));
    }
    assert_eq!(d[1].call(&["SCRIPT", "EXISTS", &sha]), ints(&[1]));

    assert!(is_error(&raw.call(&["SCRIPT", "LOAD", "return ("])));
    assert_eq!(raw.call(&["SCRIPT", "KILL"]), err(NOTBUSY));
    assert!(matches!(raw.call(&["SCRIPT", "HELP"]), Resp::Array(Some(lines)) if lines.len() > 5));
    assert_eq!(raw.call(&["SCRIPT", "FLUSH", "SOMETIMES"]), err("ERR SCRIPT FLUSH only support SYNC|ASYNC option"));
    assert_eq!(raw.call(&["SCRIPT", "EXISTS", &sha]), ints(&[1]), "a refused FLUSH flushed nothing");

    // FLUSH empties every server and the proxy's memory: EVALSHA fails as on one server.
    assert_eq!(raw.call(&["SCRIPT", "FLUSH", "ASYNC"]), ok());
    for c in d.iter_mut() {
        assert_eq!(c.call(&["SCRIPT", "EXISTS", &sha]), ints(&[0]));
    }
    for i in 0..5 {
        assert_eq!(raw.call(&["EVALSHA", &sha, "1", &format!("k{i}")]), err(NOSCRIPT));
    }
    // EVAL through the proxy is remembered like a load.
    assert_eq!(raw.call(&["EVAL", "return 'loaded'", "1", "k0"]), bulk("loaded"));
    for i in 0..30 {
        assert_eq!(raw.call(&["EVALSHA_RO", &sha, "1", &format!("k{i}")]), bulk("loaded"));
    }
}

#[test]
fn evalsha_runs_on_a_server_added_after_script_load() {
    let a = DataServer::start();
    let p = Proxy::start(&servers_json(&[&a]), &[]);
    let mut raw = p.raw();
    let body = "return {KEYS[1], redis.call('INCRBY', KEYS[1], ARGV[1])}";
    let sha = text(raw.call(&["SCRIPT", "LOAD", body]));
    // A body the proxy saw only through EVAL.
    let get = "return redis.call('GET', KEYS[1]) or 'none'";
    assert_eq!(raw.call(&["EVAL", get, "1", "x"]), bulk("none"));
    let get_sha = text(raw.call(&["SCRIPT", "LOAD", get]));

    let b = DataServer::start();
    p.write_servers(&servers_json(&[&a, &b]));
    assert!(p.wait_info("servers", "2", 10), "addition not applied");
    let servers = [a, b];
    let mut d = direct(&servers);
    assert_eq!(d[1].call(&["SCRIPT", "EXISTS", &sha, &get_sha]), ints(&[0, 0]));
    let on_b: Vec<String> =
        (0..500).map(|i| format!("n{i}")).filter(|k| owner(&mut raw, &mut d, k) == 1).take(5).collect();
    assert_eq!(on_b.len(), 5, "keys on the new server");

    // The first EVALSHA on the new server, pipelined with reads of its key:
    // every reply right and in order (no NOSCRIPT, no read overtaking it).
    let k = &on_b[0];
    let mut pipeline = encode(&["EVALSHA", &sha, "1", k, "3"]);
    pipeline.extend(encode(&["GET", k]));
    pipeline.extend(encode(&["EVALSHA", &sha, "1", k, "4"]));
    pipeline.extend(encode(&["GET", k]));
    raw.send(&pipeline);
    let pair = |n: i64| Resp::Array(Some(vec![bulk(k), Resp::Int(n)]));
    assert_eq!(raw.read(), pair(3));
    assert_eq!(raw.read(), bulk("3"));
    assert_eq!(raw.read(), pair(7));
    assert_eq!(raw.read(), bulk("7"));
    for k in &on_b[1..] {
        assert_eq!(raw.call(&["EVALSHA", &sha, "1", k, "2"]), Resp::Array(Some(vec![bulk(k), Resp::Int(2)])));
    }
    assert_eq!(raw.call(&["EVALSHA", &get_sha, "1", k]), bulk("7"));
    assert_eq!(d[1].call(&["SCRIPT", "EXISTS", &sha, &get_sha]), ints(&[1, 1]));
    // A script the proxy never saw: NOSCRIPT passes through.
    let never = "0000000000000000000000000000000000000000";
    assert_eq!(raw.call(&["EVALSHA", never, "1", k]), err(NOSCRIPT));
}

#[test]
fn noscript_after_a_flush_behind_the_proxy_is_retried() {
    // One pooled connection per server: nothing else reconnects, so the
    // proxy still believes the servers hold the script when it is gone.
    let (s, p) = cluster(2, &["--conns", "1"]);
    let mut raw = p.raw();
    let mut d = direct(&s);
    let sha = text(raw.call(&["SCRIPT", "LOAD", "return redis.call('INCR', KEYS[1])"]));
    let (a, b) = spread_pair(&mut raw, &mut d, "r");
    for k in [&a, &b] {
        assert_eq!(raw.call(&["EVALSHA", &sha, "1", k]), Resp::Int(1));
    }
    for c in d.iter_mut() {
        assert_eq!(c.call(&["SCRIPT", "FLUSH"]), ok());
    }
    for k in [&a, &b] {
        assert_eq!(raw.call(&["EVALSHA", &sha, "1", k]), Resp::Int(2));
    }
    // Each server did answer NOSCRIPT once; the client never saw it.
    for c in d.iter_mut() {
        let stats = text_of(c.call(&["INFO", "errorstats"]));
        assert!(stats.contains("errorstat_NOSCRIPT:count=1"), "{stats}");
        assert_eq!(c.call(&["SCRIPT", "EXISTS", &sha]), ints(&[1]));
    }
}

/// The text of a bulk or verbatim reply.
fn text_of(r: Resp) -> String {
    match r {
        Resp::Bulk(Some(b)) | Resp::Verbatim(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("expected text, got {other:?}"),
    }
}

#[test]
fn script_kill_reaches_the_busy_server() {
    // With one pooled connection per server, a KILL sent on it would wait
    // behind the running script: the proxy must use a connection of its own.
    let (mut s, p) = cluster(2, &["--conns", "1"]);
    let (mut runner, mut other) = (p.raw(), p.raw());
    assert_eq!(other.call(&["CONFIG", "SET", "lua-time-limit", "50"]), ok());
    runner.send_cmd(&["EVAL", "while true do end", "0"]);
    assert!(wait_until(10, || other.call(&["SCRIPT", "KILL"]) == ok()), "SCRIPT KILL never answered OK");
    match runner.read() {
        Resp::Error(e) => assert!(e.contains("killed by user"), "{e}"),
        r => panic!("the killed script answered {r:?}"),
    }
    assert_eq!(other.call(&["SCRIPT", "KILL"]), err(NOTBUSY));
    assert_eq!(runner.call(&["EVAL", "return 'alive'", "0"]), bulk("alive"));

    // A script that wrote cannot be killed: that server's UNKILLABLE is the
    // answer, not the idle server's NOTBUSY.
    runner.send_cmd(&["EVAL", "redis.call('SET', 'w', 1) while true do end", "0"]);
    let unkillable =
        wait_until(10, || matches!(other.call(&["SCRIPT", "KILL"]), Resp::Error(e) if e.starts_with("UNKILLABLE")));
    assert!(unkillable, "SCRIPT KILL never answered UNKILLABLE");
    s[0].proc.kill9();
    assert!(is_error(&runner.read()), "the script's server went away");
}

#[test]
fn scripts_inside_transactions() {
    let (s, p) = cluster(3, &[]);
    let mut raw = p.raw();
    let mut d = direct(&s);
    let incr = "return redis.call('INCR', KEYS[1])";
    let queued = Resp::Simple("QUEUED".into());
    assert_eq!(raw.call(&["MULTI"]), ok());
    assert_eq!(raw.call(&["EVAL", incr, "1", "{m}a"]), queued);
    assert_eq!(raw.call(&["EVAL", incr, "1", "{m}b"]), queued);
    assert_eq!(raw.call(&["EVAL", "return 'keyless'", "0"]), queued);
    assert_eq!(raw.call(&["EXEC"]), Resp::Array(Some(vec![Resp::Int(1), Resp::Int(1), bulk("keyless")])));
    // Keys on two servers: refused when queued, the transaction aborts.
    let (a, b) = spread_pair(&mut raw, &mut d, "t");
    assert_eq!(raw.call(&["MULTI"]), ok());
    assert_eq!(raw.call(&["EVAL", incr, "1", &a]), queued);
    assert_eq!(raw.call(&["EVAL", incr, "1", &b]), err(CROSS));
    assert_eq!(raw.call(&["EXEC"]), err("EXECABORT Transaction discarded because of previous errors."));
    // SCRIPT is refused inside MULTI, as before.
    assert_eq!(raw.call(&["MULTI"]), ok());
    assert_eq!(raw.call(&["SCRIPT", "LOAD", "return 1"]), err("ERR proxy: 'script' cannot be used inside MULTI"));
    assert_eq!(raw.call(&["DISCARD"]), ok());
    // WATCH, then a script in the transaction, on the watched server.
    assert_eq!(raw.call(&["WATCH", "{m}a"]), ok());
    assert_eq!(raw.call(&["MULTI"]), ok());
    assert_eq!(raw.call(&["EVAL", incr, "1", "{m}a"]), queued);
    assert_eq!(raw.call(&["EXEC"]), Resp::Array(Some(vec![Resp::Int(2)])));
    // A body queued in MULTI serves later EVALSHAs on every server.
    let body = "return 'from multi'";
    assert_eq!(raw.call(&["MULTI"]), ok());
    assert_eq!(raw.call(&["EVAL", body, "1", &a]), queued);
    assert_eq!(raw.call(&["EXEC"]), Resp::Array(Some(vec![bulk("from multi")])));
    let sha = text(d[0].call(&["SCRIPT", "LOAD", body]));
    assert_eq!(d[0].call(&["SCRIPT", "FLUSH"]), ok());
    for k in [&a, &b] {
        assert_eq!(raw.call(&["EVALSHA", &sha, "1", k]), bulk("from multi"));
    }
}

#[test]
fn functions_through_the_proxy() {
    let (s, p) = cluster(3, &[]);
    let mut raw = p.raw();
    let mut d = direct(&s);
    let lib = "#!lua name=plib\n\
               redis.register_function('pset', function(keys, args) return redis.call('SET', keys[1], args[1]) end)\n\
               redis.register_function{function_name='pget', flags={'no-writes'}, \
                   callback=function(keys, args) return redis.call('GET', keys[1]) end}";
    assert_eq!(raw.call(&["FUNCTION", "LOAD", lib]), bulk("plib"));
    let listed = |c: &mut Raw| match c.call(&["FUNCTION", "LIST", "LIBRARYNAME", "plib"]) {
        Resp::Array(Some(libs)) => libs.len(),
        r => panic!("FUNCTION LIST answered {r:?}"),
    };
    assert!(d.iter_mut().all(|c| listed(c) == 1), "loaded on every server");
    for i in 0..20 {
        let (k, v) = (format!("f{i}"), format!("v{i}"));
        assert_eq!(raw.call(&["FCALL", "pset", "1", &k, &v]), ok());
        assert_eq!(raw.call(&["FCALL_RO", "pget", "1", &k]), bulk(&v));
        assert_eq!(raw.call(&["GET", &k]), bulk(&v));
    }
    let (a, b) = spread_pair(&mut raw, &mut d, "fp");
    assert_eq!(raw.call(&["FCALL", "pget", "2", &a, &b]), err(CROSS));
    assert!(is_error(&raw.call(&["FUNCTION", "LOAD", lib])), "already exists");
    assert_eq!(raw.call(&["FUNCTION", "KILL"]), err(NOTBUSY));
    assert!(matches!(raw.call(&["FUNCTION", "STATS"]), Resp::Array(Some(_))));

    let dump = match raw.call(&["FUNCTION", "DUMP"]) {
        Resp::Bulk(Some(payload)) => payload,
        r => panic!("FUNCTION DUMP answered {r:?}"),
    };
    assert_eq!(raw.call(&["FUNCTION", "FLUSH"]), ok());
    assert!(d.iter_mut().all(|c| listed(c) == 0), "flushed on every server");
    raw.cmd(&[b"FUNCTION", b"RESTORE", &dump]);
    assert_eq!(raw.read(), ok());
    assert!(d.iter_mut().all(|c| listed(c) == 1), "restored on every server");
    // One server without the library: DELETE answers its error.
    assert_eq!(d[2].call(&["FUNCTION", "DELETE", "plib"]), ok());
    assert_eq!(raw.call(&["FUNCTION", "DELETE", "plib"]), err("ERR Library not found"));
    assert!(d.iter_mut().all(|c| listed(c) == 0), "deleted where it was");
}
