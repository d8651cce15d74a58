//! Streams through a real proxy in front of real data servers: every
//! stream command routed by its key (XGROUP and XINFO by the key after
//! their subcommand, their HELP with none), XREAD/XREADGROUP with BLOCK
//! waiting on a connection of the proxy's own without holding up other
//! clients, and XREAD/XREADGROUP over streams on several servers: split and
//! merged in the order asked without BLOCK, `-CROSSSLOT` with it, hash tags
//! keeping streams together.

mod harness;

use harness::*;

fn bulks(items: &[&str]) -> Resp {
    Resp::Array(Some(items.iter().map(|i| bulk(i)).collect()))
}

fn arr(items: Vec<Resp>) -> Resp {
    Resp::Array(Some(items))
}

/// One stream entry: `[id, [field, value, …]]`.
fn entry(id: &str, fields: &[&str]) -> Resp {
    arr(vec![bulk(id), bulks(fields)])
}

/// One stream of an XREAD reply in RESP2: `[name, [entries]]`.
fn stream(name: &str, entries: Vec<Resp>) -> Resp {
    arr(vec![bulk(name), arr(entries)])
}

fn cross() -> Resp {
    Resp::Error("CROSSSLOT Keys in request don't hash to the same slot".into())
}

/// The index of the data server holding `key`, checked on the servers
/// themselves (exactly one holds it).
fn holder(s: &[DataServer], key: &str) -> usize {
    let on: Vec<usize> =
        (0..s.len()).filter(|&i| redis::cmd("EXISTS").arg(key).query::<i64>(&mut s[i].conn()).unwrap() == 1).collect();
    assert_eq!(on.len(), 1, "{key} on exactly one server: {on:?}");
    on[0]
}

/// Streams `prefix0…` created through the proxy (one entry `1-1 n i`
/// each), the first of them on each of `want` different servers, in
/// server order.
fn streams_on_distinct_servers(s: &[DataServer], c: &mut Raw, prefix: &str, want: usize) -> Vec<String> {
    let mut found: Vec<(usize, String)> = Vec::new();
    for i in 0..200 {
        let k = format!("{prefix}{i}");
        assert_eq!(c.call(&["XADD", &k, "1-1", "n", &i.to_string()]), bulk("1-1"));
        let h = holder(s, &k);
        if !found.iter().any(|(f, _)| *f == h) {
            found.push((h, k));
        }
        if found.len() == want {
            found.sort();
            return found.into_iter().map(|(_, k)| k).collect();
        }
    }
    panic!("no {want} streams on distinct servers");
}

/// Whether some data server reports `n` blocked clients (INFO clients).
fn some_server_blocks(s: &[DataServer], n: usize) -> bool {
    s.iter().any(|d| {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut d.conn()).unwrap();
        info.contains(&format!("blocked_clients:{n}\r"))
    })
}

#[test]
fn stream_commands_route_by_their_key() {
    let (s, p) = cluster(3, &[]);
    let mut c = p.raw();
    for i in 0..60 {
        let id = c.call(&["XADD", &format!("st{i}"), "*", "i", &i.to_string()]);
        assert!(matches!(id, Resp::Bulk(Some(_))), "XADD answers the new ID: {id:?}");
    }
    let sizes: Vec<i64> = s.iter().map(|d| d.dbsize()).collect();
    assert_eq!(sizes.iter().sum::<i64>(), 60);
    assert!(sizes.iter().all(|&n| n > 5), "streams spread over the servers: {sizes:?}");

    for (id, item) in [("1-1", "a"), ("2-1", "b"), ("3-1", "c"), ("4-1", "d")] {
        assert_eq!(c.call(&["XADD", "orders", id, "item", item]), bulk(id));
    }
    let h = holder(&s, "orders");
    let mut direct = s[h].conn();
    assert_eq!(redis::cmd("XLEN").arg("orders").query::<i64>(&mut direct).unwrap(), 4);
    assert_eq!(c.call(&["XLEN", "orders"]), Resp::Int(4));
    assert_eq!(
        c.call(&["XRANGE", "orders", "-", "+", "COUNT", "2"]),
        arr(vec![entry("1-1", &["item", "a"]), entry("2-1", &["item", "b"])])
    );
    assert_eq!(c.call(&["XREVRANGE", "orders", "+", "-", "COUNT", "1"]), arr(vec![entry("4-1", &["item", "d"])]));
    assert_eq!(c.call(&["XDEL", "orders", "4-1"]), Resp::Int(1));
    assert_eq!(c.call(&["XTRIM", "orders", "MAXLEN", "3"]), Resp::Int(0));
    assert_eq!(c.call(&["XSETID", "orders", "5-0"]), ok());

    // Consumer groups: XGROUP's key is after its subcommand.
    assert_eq!(c.call(&["XGROUP", "CREATE", "orders", "g", "0"]), ok());
    assert_eq!(c.call(&["XGROUP", "CREATECONSUMER", "orders", "g", "idle"]), Resp::Int(1));
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "orders", ">"]),
        arr(vec![stream("orders", vec![entry("1-1", &["item", "a"]), entry("2-1", &["item", "b"])])])
    );
    assert_eq!(c.call(&["XACK", "orders", "g", "1-1"]), Resp::Int(1));
    assert_eq!(
        c.call(&["XPENDING", "orders", "g"]),
        arr(vec![Resp::Int(1), bulk("2-1"), bulk("2-1"), arr(vec![bulks(&["alice", "1"])])])
    );
    assert_eq!(c.call(&["XCLAIM", "orders", "g", "bob", "0", "2-1", "JUSTID"]), bulks(&["2-1"]));
    assert_eq!(
        c.call(&["XAUTOCLAIM", "orders", "g", "carol", "0", "0-0"]),
        arr(vec![bulk("0-0"), arr(vec![entry("2-1", &["item", "b"])]), arr(vec![])])
    );
    let Resp::Array(Some(pending)) = c.call(&["XPENDING", "orders", "g", "-", "+", "10"]) else { panic!() };
    assert_eq!(pending.len(), 1);
    let Resp::Array(Some(row)) = &pending[0] else { panic!() };
    assert_eq!(row[..2], [bulk("2-1"), bulk("carol")]);
    assert_eq!(c.call(&["XGROUP", "SETID", "orders", "g", "$"]), ok());
    assert_eq!(c.call(&["XGROUP", "DELCONSUMER", "orders", "g", "idle"]), Resp::Int(0));

    // XINFO's key is after its subcommand too.
    let Resp::Array(Some(info)) = c.call(&["XINFO", "STREAM", "orders"]) else { panic!("XINFO STREAM") };
    let field = |name: &str| info.iter().position(|f| *f == bulk(name)).map(|i| info[i + 1].clone());
    assert_eq!(field("length"), Some(Resp::Int(3)));
    assert_eq!(field("last-generated-id"), Some(bulk("5-0")));
    let Resp::Array(Some(groups)) = c.call(&["XINFO", "GROUPS", "orders"]) else { panic!("XINFO GROUPS") };
    assert_eq!(groups.len(), 1);
    let Resp::Array(Some(consumers)) = c.call(&["XINFO", "CONSUMERS", "orders", "g"]) else { panic!() };
    assert_eq!(consumers.len(), 3, "alice, bob, carol");
    assert_eq!(c.call(&["XGROUP", "DESTROY", "orders", "g"]), Resp::Int(1));
    assert_eq!(c.call(&["XINFO", "GROUPS", "orders"]), arr(vec![]));
    assert_eq!(c.call(&["XGROUP", "CREATE", "fresh", "g", "$", "MKSTREAM"]), ok());
    let _ = holder(&s, "fresh");

    // HELP has no key: any server answers it.
    for cmd in ["XINFO", "XGROUP"] {
        let Resp::Array(Some(lines)) = c.call(&[cmd, "HELP"]) else { panic!("{cmd} HELP") };
        assert!(lines.len() > 3, "{cmd} HELP: {lines:?}");
    }
    // A missing key is the server's own error, as with a direct connection.
    let Resp::Error(e) = c.call(&["XGROUP", "CREATE"]) else { panic!("XGROUP CREATE without a key") };
    assert!(e.contains("xgroup"), "{e}");
    assert_eq!(c.call(&["XINFO", "STREAM", "nosuch"]), Resp::Error("ERR no such key".into()));
}

#[test]
fn blocking_stream_reads_wait_on_their_own_connection() {
    // One pooled connection per server: a blocked read holding it would stall everyone.
    let (s, p) = cluster(2, &["--conns", "1"]);
    let mut waiter = p.raw();
    let mut other = p.raw();
    assert_eq!(other.call(&["XADD", "events", "1-1", "kind", "old"]), bulk("1-1"));
    waiter.send(&encode(&["XREAD", "BLOCK", "0", "STREAMS", "events", "$"]));
    assert!(wait_until(10, || some_server_blocks(&s, 1)), "XREAD BLOCK did not block on a data server");
    // Other clients keep being served meanwhile, on every server.
    for i in 0..50 {
        assert_eq!(other.call(&["XADD", &format!("busy{i}"), "1-1", "f", "v"]), bulk("1-1"));
        assert_eq!(other.call(&["XLEN", &format!("busy{i}")]), Resp::Int(1));
    }
    assert_eq!(other.call(&["XADD", "events", "2-1", "kind", "new"]), bulk("2-1"));
    assert_eq!(waiter.read(), arr(vec![stream("events", vec![entry("2-1", &["kind", "new"])])]));

    // A blocking read and what the client pipelined after it: answered in order.
    waiter.send(&[encode(&["XREAD", "BLOCK", "0", "STREAMS", "events", "$"]), encode(&["XLEN", "events"])].concat());
    assert!(wait_until(10, || some_server_blocks(&s, 1)));
    assert_eq!(other.call(&["XADD", "events", "3-1", "kind", "third"]), bulk("3-1"));
    assert_eq!(waiter.read(), arr(vec![stream("events", vec![entry("3-1", &["kind", "third"])])]));
    assert_eq!(waiter.read(), Resp::Int(3));

    // A timeout answers the null array.
    assert_eq!(waiter.call(&["XREAD", "BLOCK", "20", "STREAMS", "events", "$"]), Resp::Array(None));

    // XREADGROUP BLOCK over two streams kept together by a hash tag, woken by the second.
    for k in ["{job}a", "{job}b"] {
        assert_eq!(other.call(&["XGROUP", "CREATE", k, "workers", "$", "MKSTREAM"]), ok());
    }
    waiter.send(&encode(&[
        "XREADGROUP",
        "GROUP",
        "workers",
        "w1",
        "BLOCK",
        "0",
        "STREAMS",
        "{job}a",
        "{job}b",
        ">",
        ">",
    ]));
    assert!(wait_until(10, || some_server_blocks(&s, 1)), "XREADGROUP BLOCK did not block on a data server");
    assert_eq!(other.call(&["XADD", "{job}b", "7-1", "task", "resize"]), bulk("7-1"));
    assert_eq!(waiter.read(), arr(vec![stream("{job}b", vec![entry("7-1", &["task", "resize"])])]));
    assert_eq!(
        other.call(&["XPENDING", "{job}b", "workers"]),
        arr(vec![Resp::Int(1), bulk("7-1"), bulk("7-1"), arr(vec![bulks(&["w1", "1"])])])
    );
}

#[test]
fn blocking_reads_over_several_servers_answer_crossslot() {
    let (s, p) = cluster(2, &[]);
    let mut c = p.raw();
    let k = streams_on_distinct_servers(&s, &mut c, "x", 2);
    let (a, b) = (k[0].as_str(), k[1].as_str());
    assert_eq!(c.call(&["XREAD", "BLOCK", "0", "STREAMS", a, b, "$", "$"]), cross());
    assert_eq!(c.call(&["XREAD", "COUNT", "1", "BLOCK", "10", "STREAMS", a, b, "0", "0"]), cross());
    for k in [a, b] {
        assert_eq!(c.call(&["XGROUP", "CREATE", k, "g", "0"]), ok());
    }
    assert_eq!(c.call(&["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", a, b, ">", ">"]), cross());
    // Nothing was delivered by the refused read.
    assert_eq!(
        c.call(&["XPENDING", a, "g"]),
        arr(vec![Resp::Int(0), Resp::Bulk(None), Resp::Bulk(None), Resp::Array(None)])
    );
    // The client goes on normally.
    assert_eq!(c.call(&["XLEN", a]), Resp::Int(1));
}

#[test]
fn reads_over_several_servers_are_split_and_merged_in_the_order_asked() {
    let (s, p) = cluster(3, &[]);
    let mut c = p.raw();
    let k = streams_on_distinct_servers(&s, &mut c, "m", 3);
    let (a, b, d) = (k[0].as_str(), k[1].as_str(), k[2].as_str());
    for key in [a, b, d] {
        assert_eq!(c.call(&["XADD", key, "2-1", "second", key]), bulk("2-1"));
    }
    let n_of = |key: &str| key[1..].to_string();
    let (na, nb, nd) = (n_of(a), n_of(b), n_of(d));
    let first = |key: &str, n: &str| stream(key, vec![entry("1-1", &["n", n])]);

    // The client's order, not the servers': a stream without entries is left out.
    assert_eq!(
        c.call(&["XREAD", "COUNT", "1", "STREAMS", d, "nosuch", a, b, "0", "0", "0", "0"]),
        arr(vec![first(d, &nd), first(a, &na), first(b, &nb)])
    );
    assert_eq!(
        c.call(&["XREAD", "STREAMS", b, a, "1-1", "2-1"]),
        arr(vec![stream(b, vec![entry("2-1", &["second", b])])])
    );
    // A stream named twice is answered twice, each in its place.
    assert_eq!(
        c.call(&["XREAD", "COUNT", "1", "STREAMS", a, b, a, "0", "1-1", "1-1"]),
        arr(vec![
            first(a, &na),
            stream(b, vec![entry("2-1", &["second", b])]),
            stream(a, vec![entry("2-1", &["second", a])])
        ])
    );
    // Nothing anywhere: the null array, as one server answers.
    assert_eq!(c.call(&["XREAD", "STREAMS", a, b, d, "$", "$", "$"]), Resp::Array(None));
    assert_eq!(
        c.call(&["XREAD", "STREAMS", a, b, "+", "9-9"]),
        arr(vec![stream(a, vec![entry("2-1", &["second", a])])])
    );
    // An error of any part is the answer.
    assert_eq!(c.call(&["SET", "plain", "v"]), ok());
    let h = holder(&s, "plain");
    let other = [a, b, d].into_iter().find(|k| holder(&s, k) != h).unwrap();
    assert_eq!(
        c.call(&["XREAD", "STREAMS", other, "plain", "0", "0"]),
        Resp::Error("WRONGTYPE Operation against a key holding the wrong kind of value".into())
    );
    let Resp::Error(e) = c.call(&["XREAD", "STREAMS", a, b, "0", "bad-id"]) else { panic!("a bad ID is refused") };
    assert!(e.contains("Invalid stream ID"), "{e}");
    // A malformed call reaches a server whole, which answers its error.
    let Resp::Error(e) = c.call(&["XREAD", "STREAMS", a, b, "0"]) else { panic!("unbalanced XREAD") };
    assert!(e.starts_with("ERR Unbalanced"), "{e}");

    // RESP3: a map in the client's order, `_` when nothing.
    assert!(matches!(c.call(&["HELLO", "3"]), Resp::Map(_)));
    assert_eq!(
        c.call(&["XREAD", "COUNT", "1", "STREAMS", b, d, a, "0", "0", "2-1"]),
        Resp::Map(vec![
            (bulk(b), arr(vec![entry("1-1", &["n", &nb])])),
            (bulk(d), arr(vec![entry("1-1", &["n", &nd])])),
        ])
    );
    assert_eq!(c.call(&["XREAD", "STREAMS", a, b, "$", "$"]), Resp::Null);
    assert!(matches!(c.call(&["HELLO", "2"]), Resp::Array(_)));

    // XREADGROUP: each server delivers its streams' entries to the consumer.
    for key in [a, b, d] {
        assert_eq!(c.call(&["XGROUP", "CREATE", key, "g", "0"]), ok());
    }
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", b, a, d, ">", ">", ">"]),
        arr(vec![first(b, &nb), first(a, &na), first(d, &nd)])
    );
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "g", "alice", "STREAMS", a, d, "0", ">"]),
        arr(vec![first(a, &na), stream(d, vec![entry("2-1", &["second", d])])])
    );
    for (key, pending) in [(a, 1), (b, 1), (d, 2)] {
        let Resp::Array(Some(summary)) = c.call(&["XPENDING", key, "g"]) else { panic!() };
        assert_eq!(summary[0], Resp::Int(pending), "{key}");
        assert_eq!(c.call(&["XACK", key, "g", "1-1", "2-1"]), Resp::Int(pending), "{key}");
    }
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "g", "alice", "NOACK", "STREAMS", a, b, ">", ">"]),
        arr(vec![stream(a, vec![entry("2-1", &["second", a])]), stream(b, vec![entry("2-1", &["second", b])])])
    );
    assert_eq!(c.call(&["XREADGROUP", "GROUP", "g", "alice", "STREAMS", a, b, d, ">", ">", ">"]), Resp::Array(None));
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "nogroup", "alice", "STREAMS", a, b, ">", ">"]),
        Resp::Error(format!("NOGROUP No such key '{a}' or consumer group 'nogroup' in XREADGROUP with GROUP option"))
    );

    // Pipelined split reads come back in order.
    let mut pipeline = Vec::new();
    for _ in 0..20 {
        pipeline.extend(encode(&["XREAD", "COUNT", "1", "STREAMS", d, a, "0", "0"]));
        pipeline.extend(encode(&["XLEN", b]));
    }
    c.send(&pipeline);
    for _ in 0..20 {
        assert_eq!(c.read(), arr(vec![first(d, &nd), first(a, &na)]));
        assert_eq!(c.read(), Resp::Int(2));
    }
}

#[test]
fn hash_tags_keep_streams_on_one_server() {
    let (s, p) = cluster(3, &[]);
    let mut c = p.raw();
    for (k, id) in [("{feed}in", "1-1"), ("{feed}out", "1-2"), ("{feed}log", "1-3")] {
        assert_eq!(c.call(&["XADD", k, id, "k", k]), bulk(id));
    }
    let h = holder(&s, "{feed}in");
    assert_eq!(holder(&s, "{feed}out"), h);
    assert_eq!(holder(&s, "{feed}log"), h);
    assert_eq!(
        c.call(&["XREAD", "STREAMS", "{feed}log", "{feed}in", "0", "0"]),
        arr(vec![
            stream("{feed}log", vec![entry("1-3", &["k", "{feed}log"])]),
            stream("{feed}in", vec![entry("1-1", &["k", "{feed}in"])]),
        ])
    );
    // Inside MULTI, streams of one server are fine.
    assert_eq!(c.call(&["MULTI"]), ok());
    assert_eq!(c.call(&["XREAD", "STREAMS", "{feed}in", "{feed}out", "0", "0"]), Resp::Simple("QUEUED".into()));
    assert_eq!(c.call(&["XLEN", "{feed}log"]), Resp::Simple("QUEUED".into()));
    assert_eq!(
        c.call(&["EXEC"]),
        arr(vec![
            arr(vec![
                stream("{feed}in", vec![entry("1-1", &["k", "{feed}in"])]),
                stream("{feed}out", vec![entry("1-2", &["k", "{feed}out"])]),
            ]),
            Resp::Int(1),
        ])
    );
}
