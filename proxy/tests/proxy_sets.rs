//! Sets, sorted sets and SORT through a real proxy in front of three real
//! data servers: every key on one server, multi-key commands routed by the
//! keys the command table finds (numkeys forms, SORT … STORE) with hash
//! tags keeping them together and `-CROSSSLOT` otherwise, blocking pops.

mod harness;

use harness::*;

fn bulks(items: &[&str]) -> Resp {
    Resp::Array(Some(items.iter().map(|i| bulk(i)).collect()))
}

fn cluster3() -> (Vec<DataServer>, Proxy) {
    let s: Vec<DataServer> = (0..3).map(|_| DataServer::start()).collect();
    let p = Proxy::start(&servers_json(&s.iter().collect::<Vec<_>>()), &[]);
    (s, p)
}

fn cross() -> Resp {
    Resp::Error("CROSSSLOT Keys in request don't hash to the same slot".into())
}

#[test]
fn set_and_sorted_set_keys_each_live_on_one_server() {
    let (s, p) = cluster3();
    let mut c = p.conn();
    for i in 0..300 {
        let _: () = redis::cmd("SADD").arg(format!("s{i}")).arg(&["a", "b", &i.to_string()]).query(&mut c).unwrap();
        let _: () = redis::cmd("ZADD").arg(format!("z{i}")).arg(i).arg("m").arg(-i).arg("n").query(&mut c).unwrap();
    }
    let sizes: Vec<i64> = s.iter().map(|d| d.dbsize()).collect();
    assert_eq!(sizes.iter().sum::<i64>(), 600);
    assert!(sizes.iter().all(|&n| n > 100), "keys spread over the servers: {sizes:?}");
    for i in (0..300).step_by(7) {
        let n: i64 = redis::cmd("SCARD").arg(format!("s{i}")).query(&mut c).unwrap();
        assert_eq!(n, 3);
        let r: Vec<(String, f64)> =
            redis::cmd("ZRANGE").arg(format!("z{i}")).arg(0).arg(-1).arg("WITHSCORES").query(&mut c).unwrap();
        let want = if i == 0 {
            vec![("m".into(), 0.0), ("n".into(), 0.0)]
        } else {
            vec![("n".into(), -i as f64), ("m".into(), i as f64)]
        };
        assert_eq!(r, want);
    }
}

#[test]
fn multi_key_set_commands_route_by_their_keys() {
    let (_s, p) = cluster3();
    let mut raw = p.raw();
    for (k, members) in [("{u}a", &["1", "2", "3"][..]), ("{u}b", &["2", "3", "4"]), ("{u}c", &["3"])] {
        let mut args = vec!["SADD", k];
        args.extend(members);
        assert_eq!(raw.call(&args), Resp::Int(members.len() as i64));
    }
    assert_eq!(raw.call(&["SINTERSTORE", "{u}d", "{u}a", "{u}b"]), Resp::Int(2));
    assert_eq!(raw.call(&["SINTERCARD", "3", "{u}a", "{u}b", "{u}c"]), Resp::Int(1));
    assert_eq!(raw.call(&["SMOVE", "{u}a", "{u}c", "1"]), Resp::Int(1));
    assert_eq!(raw.call(&["ZADD", "{u}z1", "1", "x", "2", "y"]), Resp::Int(2));
    assert_eq!(raw.call(&["ZADD", "{u}z2", "10", "y"]), Resp::Int(1));
    assert_eq!(raw.call(&["ZUNIONSTORE", "{u}out", "2", "{u}z1", "{u}z2", "WEIGHTS", "1", "2"]), Resp::Int(2));
    assert_eq!(raw.call(&["ZRANGE", "{u}out", "0", "-1", "WITHSCORES"]), bulks(&["x", "1", "y", "22"]));
    assert_eq!(raw.call(&["ZINTERCARD", "2", "{u}z1", "{u}z2"]), Resp::Int(1));
    assert_eq!(
        raw.call(&["ZMPOP", "2", "{u}nosuch", "{u}z1", "MAX"]),
        Resp::Array(Some(vec![bulk("{u}z1"), Resp::Array(Some(vec![bulks(&["y", "2"])]))]))
    );
    // SORT … BY/GET with patterns on the same server, STORE there too.
    assert_eq!(raw.call(&["RPUSH", "{u}l", "3", "1", "2"]), Resp::Int(3));
    assert_eq!(raw.call(&["MSET", "{u}w_1", "30", "{u}w_2", "20", "{u}w_3", "10"]), Resp::Simple("OK".into()));
    assert_eq!(raw.call(&["SORT", "{u}l", "BY", "{u}w_*", "STORE", "{u}sorted"]), Resp::Int(3));
    assert_eq!(raw.call(&["LRANGE", "{u}sorted", "0", "-1"]), bulks(&["3", "2", "1"]));
    assert_eq!(raw.call(&["SORT_RO", "{u}l", "LIMIT", "0", "2"]), bulks(&["1", "2"]));

    // Two keys on different servers: found by SMOVE's refusal.
    let (a, b) = (0..200)
        .map(|i| (format!("a{i}"), format!("b{i}")))
        .find(|(a, b)| {
            raw.call(&["SADD", a, "m"]);
            raw.call(&["SADD", b, "m"]);
            raw.call(&["SMOVE", a, b, "m"]) == cross()
        })
        .expect("two keys on different servers");
    for args in [
        vec!["SINTER", &a, &b],
        vec!["SUNIONSTORE", &a, &a, &b],
        vec!["SINTERCARD", "2", &a, &b],
        vec!["ZUNIONSTORE", &a, "1", &b],
        vec!["ZDIFF", "2", &a, &b],
        vec!["ZMPOP", "2", &a, &b, "MIN"],
        vec!["SORT", &a, "STORE", &b],
    ] {
        assert_eq!(raw.call(&args), cross(), "{args:?}");
    }
    // A malformed numkeys is answered by a server with its own error.
    assert_eq!(
        raw.call(&["ZUNIONSTORE", &a, "0", &b]),
        Resp::Error("ERR at least 1 input key is needed for 'zunionstore' command".into())
    );
}

#[test]
fn blocking_sorted_set_pops_through_the_proxy() {
    let (s, p) = cluster3();
    let mut waiter = p.raw();
    let mut pusher = p.raw();
    waiter.send(&encode(&["BZPOPMIN", "queue", "0"]));
    // The pop waits on the server holding `queue`, on a connection of the proxy's own.
    let mut direct: Vec<redis::Connection> = s.iter().map(|d| d.conn()).collect();
    let blocked = wait_until(10, || {
        direct.iter_mut().any(|c| {
            let info: String = redis::cmd("INFO").arg("clients").query(c).unwrap();
            info.contains("blocked_clients:1")
        })
    });
    assert!(blocked, "BZPOPMIN did not block on a data server");
    assert_eq!(pusher.call(&["ZADD", "queue", "5", "job", "7", "later"]), Resp::Int(2));
    assert_eq!(waiter.read(), bulks(&["queue", "job", "5"]));
    assert_eq!(pusher.call(&["ZCARD", "queue"]), Resp::Int(1));
    waiter.send(&encode(&["BZMPOP", "1", "1", "queue", "MAX", "COUNT", "100"]));
    assert_eq!(waiter.read(), Resp::Array(Some(vec![bulk("queue"), Resp::Array(Some(vec![bulks(&["later", "7"])]))])));
}
