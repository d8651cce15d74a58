//! WATCH through a real proxy in front of real data servers: the optimistic
//! lock of the data server works through the proxy's dedicated watch
//! connection, cross-server WATCH is refused, every way of ending a watch
//! releases its connection, and a ring reload makes EXEC abort.

mod harness;

use harness::*;

fn queued() -> Resp {
    Resp::Simple("QUEUED".into())
}

/// The aborted transaction's reply (RESP2 null array).
fn aborted() -> Resp {
    Resp::Array(None)
}

fn crossslot() -> Resp {
    Resp::Error("CROSSSLOT Keys in request don't hash to the same slot".into())
}

/// Index of the data server holding `key` (it must exist).
fn holder(s: &[DataServer], key: &str) -> usize {
    let found: Vec<usize> =
        (0..s.len()).filter(|&i| redis::cmd("EXISTS").arg(key).query::<i64>(&mut s[i].conn()).unwrap() == 1).collect();
    assert_eq!(found.len(), 1, "{key} is on {found:?}");
    found[0]
}

/// Two keys (set through the proxy) living on different servers.
fn keys_on_two_servers(s: &[DataServer], p: &Proxy) -> (String, String) {
    let mut c = p.conn();
    let mut first: Option<(String, usize)> = None;
    for i in 0..200 {
        let k = format!("pair{i}");
        redis::cmd("SET").arg(&k).arg(0).query::<()>(&mut c).unwrap();
        let h = holder(s, &k);
        match &first {
            None => first = Some((k, h)),
            Some((a, ha)) if *ha != h => return (a.clone(), k),
            Some(_) => {}
        }
    }
    panic!("all keys on one server");
}

#[test]
fn watch_exec_succeeds_when_untouched_and_aborts_when_modified() {
    let (s, p) = cluster(3, &[]);
    let mut raw = p.raw();
    assert_eq!(raw.call(&["SET", "w:k", "1"]), ok());
    let h = holder(&s, "w:k");

    // Untouched: the transaction runs.
    assert_eq!(raw.call(&["WATCH", "w:k"]), ok());
    assert_eq!(raw.call(&["GET", "w:k"]), bulk("1"));
    assert_eq!(raw.call(&["MULTI"]), ok());
    assert_eq!(raw.call(&["INCR", "w:k"]), queued());
    assert_eq!(raw.call(&["EXEC"]), Resp::Array(Some(vec![Resp::Int(2)])));

    // Modified by another client of the proxy: aborted.
    let mut other = p.raw();
    assert_eq!(raw.call(&["WATCH", "w:k"]), ok());
    assert_eq!(other.call(&["SET", "w:k", "100"]), ok());
    assert_eq!(raw.call(&["MULTI"]), ok());
    assert_eq!(raw.call(&["INCR", "w:k"]), queued());
    assert_eq!(raw.call(&["EXEC"]), aborted());
    assert_eq!(raw.call(&["GET", "w:k"]), bulk("100"));

    // Modified directly on the data server: aborted.
    let mut direct = s[h].conn();
    assert_eq!(raw.call(&["WATCH", "w:k", "{w:k}other"]), ok());
    redis::cmd("SET").arg("w:k").arg(7).query::<()>(&mut direct).unwrap();
    assert_eq!(raw.call(&["MULTI"]), ok());
    assert_eq!(raw.call(&["SET", "w:k", "x"]), queued());
    assert_eq!(raw.call(&["EXEC"]), aborted());
    assert_eq!(raw.call(&["GET", "w:k"]), bulk("7"));

    // The watching client's own write after WATCH dirties it too (as in Redis).
    assert_eq!(raw.call(&["WATCH", "w:k"]), ok());
    assert_eq!(raw.call(&["SET", "w:k", "8"]), ok());
    assert_eq!(raw.call(&["MULTI"]), ok());
    assert_eq!(raw.call(&["SET", "w:k", "9"]), queued());
    assert_eq!(raw.call(&["EXEC"]), aborted());

    // An empty transaction after a dirty WATCH aborts; a clean one is empty.
    assert_eq!(raw.call(&["WATCH", "w:k"]), ok());
    assert_eq!(other.call(&["SET", "w:k", "10"]), ok());
    assert_eq!(raw.call(&["MULTI"]), ok());
    assert_eq!(raw.call(&["EXEC"]), aborted());
    assert_eq!(raw.call(&["WATCH", "w:k"]), ok());
    assert_eq!(raw.call(&["MULTI"]), ok());
    assert_eq!(raw.call(&["EXEC"]), Resp::Array(Some(vec![])));

    // Pipelined: the SET before WATCH does not dirty it, reads see it in order.
    let mut batch = Vec::new();
    for c in [
        &["SET", "w:k", "5"][..],
        &["WATCH", "w:k"],
        &["GET", "w:k"],
        &["MULTI"],
        &["INCR", "w:k"],
        &["EXEC"],
        &["GET", "w:k"],
    ] {
        batch.extend(encode(c));
    }
    raw.send(&batch);
    let want = [ok(), ok(), bulk("5"), ok(), queued(), Resp::Array(Some(vec![Resp::Int(6)])), bulk("6")];
    for w in want {
        assert_eq!(raw.read(), w);
    }

    // RESP3: the aborted transaction is RESP3's null.
    let mut r3 = p.raw();
    assert!(matches!(r3.call(&["HELLO", "3"]), Resp::Map(_)));
    assert_eq!(r3.call(&["WATCH", "w:k"]), ok());
    assert_eq!(other.call(&["SET", "w:k", "11"]), ok());
    assert_eq!(r3.call(&["MULTI"]), ok());
    assert_eq!(r3.call(&["GET", "w:k"]), queued());
    assert_eq!(r3.call(&["EXEC"]), Resp::Null);
    // HELLO while watching: the watch connection follows the protocol.
    assert_eq!(r3.call(&["WATCH", "w:k"]), ok());
    assert!(matches!(r3.call(&["HELLO", "2"]), Resp::Array(_)));
    assert_eq!(r3.call(&["GET", "{w:k}nope"]), Resp::Bulk(None));
    assert_eq!(r3.call(&["MULTI"]), ok());
    assert_eq!(r3.call(&["GET", "{w:k}nope"]), queued());
    assert_eq!(r3.call(&["EXEC"]), Resp::Array(Some(vec![Resp::Bulk(None)])));
}

#[test]
fn optimistic_increments_from_many_clients_add_up() {
    let (_s, p) = cluster(3, &["--conns", "2"]);
    redis::cmd("SET").arg("counter").arg(0).query::<()>(&mut p.conn()).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let port = p.port;
            std::thread::spawn(move || {
                let mut c = connect(port, false);
                for _ in 0..50 {
                    // The redis crate's WATCH/MULTI/EXEC retry loop (bounded by the test timeout).
                    let (_v,): (i64,) = redis::transaction(&mut c, &["counter"], |con, pipe| {
                        let v: i64 = redis::cmd("GET").arg("counter").query(con)?;
                        pipe.cmd("SET").arg("counter").arg(v + 1).ignore().cmd("GET").arg("counter").query(con)
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let v: i64 = redis::cmd("GET").arg("counter").query(&mut p.conn()).unwrap();
    assert_eq!(v, 200, "a lost update means WATCH did not protect the read-modify-write");
}

#[test]
fn watch_across_servers_is_refused() {
    let (s, p) = cluster(3, &[]);
    let (a, b) = keys_on_two_servers(&s, &p);
    let mut raw = p.raw();
    assert_eq!(raw.call(&["WATCH", &a, &b]), crossslot());
    // A second WATCH must stay on the first one's server.
    assert_eq!(raw.call(&["WATCH", &a]), ok());
    assert_eq!(raw.call(&["WATCH", &b]), crossslot());
    // MULTI after WATCH is bound to the watched server.
    assert_eq!(raw.call(&["MULTI"]), ok());
    assert_eq!(raw.call(&["WATCH", &a]), Resp::Error("ERR WATCH inside MULTI is not allowed".into()));
    assert_eq!(raw.call(&["SET", &a, "1"]), queued());
    assert_eq!(raw.call(&["SET", &b, "1"]), crossslot());
    assert_eq!(raw.call(&["EXEC"]), Resp::Error("EXECABORT Transaction discarded because of previous errors.".into()));
    // EXECABORT ended the watch: the other server is fine now.
    assert_eq!(raw.call(&["WATCH", &b]), ok());
    assert_eq!(raw.call(&["MULTI"]), ok());
    assert_eq!(raw.call(&["SET", &b, "2"]), queued());
    assert_eq!(raw.call(&["EXEC"]), Resp::Array(Some(vec![ok()])));
    assert_eq!(raw.call(&["GET", &a]), bulk("0"));
    assert_eq!(raw.call(&["GET", &b]), bulk("2"));
}

#[test]
fn every_end_of_a_watch_releases_its_connection() {
    let s = DataServer::start();
    let p = Proxy::start(&servers_json(&[&s]), &["--conns", "1"]);
    let mut raw = p.raw();
    assert_eq!(raw.call(&["SET", "r:k", "1"]), ok());
    let mut d = s.conn();
    let mut other = p.raw();
    assert_eq!(other.call(&["PING"]), Resp::Simple("PONG".into()));
    // The watch connection is found by what it did (its last command is
    // WATCH, and it is newer than every connection seen before the WATCH),
    // not by counting the server's clients: under load the pool may
    // replace one of its own connections meanwhile, so counts drift.
    let watch_opened = |d: &mut redis::Connection, after: i64| -> i64 {
        let mut found = None;
        let seen = wait_until(10, || {
            found = client_ids(d).into_iter().find(|(id, cmd)| *id > after && cmd == "watch").map(|(id, _)| id);
            found.is_some()
        });
        assert!(seen, "WATCH holds a connection of its own");
        found.unwrap_or_default()
    };
    let closed = |d: &mut redis::Connection, id: i64| wait_until(10, || client_ids(d).iter().all(|(c, _)| *c != id));

    // UNWATCH: the connection closes and a later write does not abort.
    let before = newest_client(&mut d);
    assert_eq!(raw.call(&["WATCH", "r:k"]), ok());
    let w = watch_opened(&mut d, before);
    assert_eq!(raw.call(&["UNWATCH"]), ok());
    assert!(closed(&mut d, w), "UNWATCH closes the watch connection");
    assert_eq!(other.call(&["SET", "r:k", "2"]), ok());
    assert_eq!(raw.call(&["MULTI"]), ok());
    assert_eq!(raw.call(&["INCR", "r:k"]), queued());
    assert_eq!(raw.call(&["EXEC"]), Resp::Array(Some(vec![Resp::Int(3)])));

    // DISCARD.
    let before = newest_client(&mut d);
    assert_eq!(raw.call(&["WATCH", "r:k"]), ok());
    let w = watch_opened(&mut d, before);
    assert_eq!(raw.call(&["MULTI"]), ok());
    assert_eq!(raw.call(&["INCR", "r:k"]), queued());
    assert_eq!(raw.call(&["DISCARD"]), ok());
    assert!(closed(&mut d, w), "DISCARD closes the watch connection");
    assert_eq!(other.call(&["SET", "r:k", "10"]), ok());
    assert_eq!(raw.call(&["MULTI"]), ok());
    assert_eq!(raw.call(&["INCR", "r:k"]), queued());
    assert_eq!(raw.call(&["EXEC"]), Resp::Array(Some(vec![Resp::Int(11)])));

    // EXEC, run or aborted.
    let before = newest_client(&mut d);
    assert_eq!(raw.call(&["WATCH", "r:k"]), ok());
    let w = watch_opened(&mut d, before);
    assert_eq!(raw.call(&["MULTI"]), ok());
    assert_eq!(raw.call(&["EXEC"]), Resp::Array(Some(vec![])));
    assert!(closed(&mut d, w), "EXEC closes the watch connection");
    let before = newest_client(&mut d);
    assert_eq!(raw.call(&["WATCH", "r:k"]), ok());
    let w = watch_opened(&mut d, before);
    assert_eq!(other.call(&["SET", "r:k", "20"]), ok());
    assert_eq!(raw.call(&["MULTI"]), ok());
    assert_eq!(raw.call(&["EXEC"]), aborted());
    assert!(closed(&mut d, w), "an aborted EXEC closes the watch connection");

    // EXEC without MULTI and DISCARD without MULTI keep the watch.
    let before = newest_client(&mut d);
    assert_eq!(raw.call(&["WATCH", "r:k"]), ok());
    let w = watch_opened(&mut d, before);
    assert_eq!(raw.call(&["EXEC"]), Resp::Error("ERR EXEC without MULTI".into()));
    assert_eq!(raw.call(&["DISCARD"]), Resp::Error("ERR DISCARD without MULTI".into()));
    assert!(client_ids(&mut d).iter().any(|(c, _)| *c == w), "the watch is kept");
    // RESET.
    assert_eq!(raw.call(&["RESET"]), Resp::Simple("RESET".into()));
    assert!(closed(&mut d, w), "RESET closes the watch connection");
    assert_eq!(other.call(&["SET", "r:k", "30"]), ok());
    assert_eq!(raw.call(&["MULTI"]), ok());
    assert_eq!(raw.call(&["INCR", "r:k"]), queued());
    assert_eq!(raw.call(&["EXEC"]), Resp::Array(Some(vec![Resp::Int(31)])));

    // A disconnect.
    let before = newest_client(&mut d);
    let mut gone = p.raw();
    assert_eq!(gone.call(&["WATCH", "r:k"]), ok());
    let w = watch_opened(&mut d, before);
    drop(gone);
    assert!(closed(&mut d, w), "a client that leaves closes its watch connection");
}

/// The id of the server's newest client (0 if none).
fn newest_client(direct: &mut redis::Connection) -> i64 {
    client_ids(direct).into_iter().map(|(id, _)| id).max().unwrap_or(0)
}

/// The server's clients as (id, last command).
fn client_ids(direct: &mut redis::Connection) -> Vec<(i64, String)> {
    let list: String = redis::cmd("CLIENT").arg("LIST").query(direct).unwrap();
    list.lines()
        .filter_map(|l| {
            let field = |name: &str| l.split(' ').find_map(|f| f.strip_prefix(name)).map(str::to_string);
            Some((field("id=")?.parse().ok()?, field("cmd=")?))
        })
        .collect()
}

#[test]
fn ring_reload_while_watching_aborts_exec() {
    let a = DataServer::start();
    let b = DataServer::start();
    let p = Proxy::start(&servers_json(&[&a]), &[]);
    let mut raw = p.raw();
    let reload_to = |json: String, n: &str| {
        p.write_servers(&json);
        assert!(p.wait_info("config_reloads", n, 10), "reload {n} not applied");
    };

    // Reload between MULTI and EXEC.
    assert_eq!(raw.call(&["SET", "rr:k", "1"]), ok());
    assert_eq!(raw.call(&["WATCH", "rr:k"]), ok());
    assert_eq!(raw.call(&["MULTI"]), ok());
    assert_eq!(raw.call(&["SET", "rr:k", "moved"]), queued());
    reload_to(servers_json(&[&b]), "2");
    assert_eq!(raw.call(&["EXEC"]), aborted());
    assert_eq!(redis::cmd("GET").arg("rr:k").query::<String>(&mut a.conn()).unwrap(), "1");
    assert_eq!(b.dbsize(), 0);

    // Reload between WATCH and MULTI: the queued commands are accepted, EXEC aborts.
    assert_eq!(raw.call(&["SET", "rr:k", "2"]), ok());
    assert_eq!(raw.call(&["WATCH", "rr:k"]), ok());
    reload_to(servers_json(&[&a]), "3");
    assert_eq!(raw.call(&["MULTI"]), ok());
    assert_eq!(raw.call(&["SET", "rr:k", "moved"]), queued());
    assert_eq!(raw.call(&["EXEC"]), aborted());
    assert_eq!(raw.call(&["GET", "rr:k"]), bulk("1"), "a's own copy, untouched");
    assert_eq!(redis::cmd("GET").arg("rr:k").query::<String>(&mut b.conn()).unwrap(), "2");

    // A watch server that goes away: EXEC answers the error naming it.
    assert_eq!(raw.call(&["WATCH", "rr:k"]), ok());
    drop(a);
    assert_eq!(raw.call(&["MULTI"]), ok());
    assert_eq!(raw.call(&["SET", "rr:k", "3"]), queued());
    let Resp::Error(e) = raw.call(&["EXEC"]) else { panic!("EXEC on a lost watch connection must fail") };
    assert!(e.starts_with("ERR proxy: server"), "{e}");
}
