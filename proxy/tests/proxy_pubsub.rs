//! Pub/Sub through a real proxy in front of real data servers: channels
//! (plain and shard) live on the server their name hashes to, where
//! publishers and subscribers meet; patterns are subscribed on every server
//! and their streams merged; confirmations carry the client's own counts, in
//! RESP2 (subscribed mode) and RESP3 (push frames); PUBSUB fans out; a
//! servers.json change moves subscriptions without the client noticing;
//! MONITOR and CLIENT TRACKING are refused.
//!
//! Where a subscription is in place is read from the data servers
//! themselves (PUBSUB NUMSUB / SHARDNUMSUB / NUMPAT), polled when it
//! changes in the background.

mod harness;

use std::collections::HashSet;

use harness::*;

fn arr(items: Vec<Resp>) -> Resp {
    Resp::Array(Some(items))
}

/// A pub/sub frame of bulk strings: a RESP2 array, or a RESP3 push.
fn frame(resp3: bool, items: &[&str]) -> Resp {
    let items = items.iter().map(|i| bulk(i)).collect();
    if resp3 {
        Resp::Push(items)
    } else {
        Resp::Array(Some(items))
    }
}

/// A (un)subscribe confirmation: `[word, name, count]` (RESP2).
fn confirm(word: &str, name: &str, count: i64) -> Resp {
    arr(vec![bulk(word), bulk(name), Resp::Int(count)])
}

/// A (un)subscribe confirmation as a RESP3 push.
fn confirm3(word: &str, name: &str, count: i64) -> Resp {
    Resp::Push(vec![bulk(word), bulk(name), Resp::Int(count)])
}

/// The confirmation of an unsubscribe with nothing to leave (RESP2).
fn confirm_none(word: &str, count: i64) -> Resp {
    arr(vec![bulk(word), Resp::Bulk(None), Resp::Int(count)])
}

fn message(ch: &str, msg: &str) -> Resp {
    frame(false, &["message", ch, msg])
}

fn not_in_this_context(cmd: &str) -> Resp {
    Resp::Error(format!(
        "ERR Can't execute '{cmd}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
    ))
}

/// Sends `cmd names…` and checks one confirmation per name, counts from `first`.
fn subscribe(c: &mut Raw, cmd: &str, names: &[String], first: i64) {
    let mut args = vec![cmd];
    args.extend(names.iter().map(|n| n.as_str()));
    c.send_cmd(&args);
    let word = cmd.to_ascii_lowercase();
    for (i, n) in names.iter().enumerate() {
        assert_eq!(c.read(), confirm(&word, n, first + i as i64), "{cmd} {n}");
    }
}

/// The strings of an array reply.
fn strings(r: Resp) -> Vec<String> {
    let Resp::Array(Some(items)) = r else { panic!("not an array: {r:?}") };
    items
        .into_iter()
        .map(|i| match i {
            Resp::Bulk(Some(b)) => String::from_utf8(b).unwrap(),
            other => panic!("not a bulk string: {other:?}"),
        })
        .collect()
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// `PUBSUB <sub> <channel>`'s count on a data server (NUMSUB, SHARDNUMSUB).
fn numsub(c: &mut redis::Connection, sub: &str, ch: &str) -> i64 {
    let (_, n): (String, i64) = redis::cmd("PUBSUB").arg(sub).arg(ch).query(c).expect("PUBSUB NUMSUB");
    n
}

fn numpat(c: &mut redis::Connection) -> i64 {
    redis::cmd("PUBSUB").arg("NUMPAT").query(c).expect("PUBSUB NUMPAT")
}

fn publish(c: &mut redis::Connection, cmd: &str, ch: &str, msg: &str) -> i64 {
    redis::cmd(cmd).arg(ch).arg(msg).query(c).expect("PUBLISH")
}

/// The index of the server (of `direct`) whose `sub` count for `ch` is 1;
/// each channel must be subscribed on exactly one.
fn subscribed_on(direct: &mut [redis::Connection], sub: &str, ch: &str) -> usize {
    let on: Vec<usize> = (0..direct.len()).filter(|&i| numsub(&mut direct[i], sub, ch) == 1).collect();
    assert_eq!(on.len(), 1, "{ch} subscribed on exactly one server: {on:?}");
    on[0]
}

/// Reads `n` frames and compares them with `want` as multisets: messages
/// from different servers travel on different connections, so only the
/// order within one channel is kept.
fn read_unordered(c: &mut Raw, mut want: Vec<Resp>) {
    let mut got: Vec<Resp> = (0..want.len()).map(|_| c.read()).collect();
    let key = |r: &Resp| format!("{r:?}");
    got.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(got, want);
}

/// Where the proxy routes `name` now: the server (of `servers`) that holds
/// the key of that name after a SET through the proxy (channels hash as keys).
fn owner(p: &Proxy, servers: &[&DataServer], name: &str) -> usize {
    let _: () = redis::cmd("SET").arg(name).arg(1).query(&mut p.conn()).expect("SET");
    let on: Vec<usize> = (0..servers.len())
        .filter(|&i| redis::cmd("EXISTS").arg(name).query::<i64>(&mut servers[i].conn()).unwrap() == 1)
        .collect();
    assert_eq!(on.len(), 1, "{name} on exactly one server: {on:?}");
    on[0]
}

#[test]
fn channels_live_on_their_server_where_publishers_meet_subscribers() {
    let (s, p) = cluster(3, &[]);
    let mut direct: Vec<redis::Connection> = s.iter().map(|d| d.conn()).collect();
    let mut sub = p.raw();
    let chans = names("chan:", 12);
    subscribe(&mut sub, "SUBSCRIBE", &chans, 1);

    // Confirmed means in place: each channel on exactly one server, spread.
    let used: HashSet<usize> = chans.iter().map(|c| subscribed_on(&mut direct, "NUMSUB", c)).collect();
    assert!(used.len() >= 2, "12 channels on one server");

    // Publishing through the proxy meets the subscriber on the channel's server.
    let mut pubc = p.conn();
    for ch in &chans {
        assert_eq!(publish(&mut pubc, "PUBLISH", ch, &format!("hi {ch}")), 1);
    }
    read_unordered(&mut sub, chans.iter().map(|c| message(c, &format!("hi {c}"))).collect());
    // Order within a channel is kept.
    for i in 0..5 {
        publish(&mut pubc, "PUBLISH", "chan:3", &i.to_string());
    }
    for i in 0..5 {
        assert_eq!(sub.read(), message("chan:3", &i.to_string()));
    }

    // Hash tags keep channels together; a channel subscribed twice counts once.
    let tagged = vec!["{room}a".to_string(), "{room}b".to_string()];
    subscribe(&mut sub, "SUBSCRIBE", &tagged, 13);
    assert_eq!(subscribed_on(&mut direct, "NUMSUB", "{room}a"), subscribed_on(&mut direct, "NUMSUB", "{room}b"));
    subscribe(&mut sub, "SUBSCRIBE", &["chan:0".to_string()], 14);

    // RESP2 subscribed mode, as on a server.
    assert_eq!(sub.call(&["PING"]), frame(false, &["pong", ""]));
    assert_eq!(sub.call(&["PING", "hi"]), frame(false, &["pong", "hi"]));
    assert_eq!(sub.call(&["GET", "k"]), not_in_this_context("get"));
    assert_eq!(sub.call(&["CONFIG", "GET", "x"]), not_in_this_context("config|get"));

    // Unsubscribing: confirmed at once, nothing of the channel arrives after.
    sub.send_cmd(&["UNSUBSCRIBE", "chan:0", "nope"]);
    assert_eq!(sub.read(), confirm("unsubscribe", "chan:0", 13));
    assert_eq!(sub.read(), confirm("unsubscribe", "nope", 13));
    publish(&mut pubc, "PUBLISH", "chan:0", "late");
    publish(&mut pubc, "PUBLISH", "chan:1", "on time");
    assert_eq!(sub.read(), message("chan:1", "on time"));

    // UNSUBSCRIBE without channels: all of them, in subscription order.
    sub.send_cmd(&["UNSUBSCRIBE"]);
    let rest: Vec<&String> = chans[1..].iter().chain(&tagged).collect();
    for (i, ch) in rest.iter().enumerate() {
        assert_eq!(sub.read(), confirm("unsubscribe", ch, (rest.len() - 1 - i) as i64));
    }
    // Out of subscribed mode: any command again.
    assert_eq!(sub.call(&["SET", "k", "v"]), ok());
    assert_eq!(sub.call(&["GET", "k"]), bulk("v"));
    // The servers let go of the subscriptions.
    assert!(
        wait_until(10, || chans.iter().chain(&tagged).all(|c| direct.iter_mut().all(|d| numsub(d, "NUMSUB", c) == 0))),
        "subscriptions left on the servers"
    );
}

#[test]
fn shard_channels_and_publish_in_a_transaction() {
    let (s, p) = cluster(3, &[]);
    let mut direct: Vec<redis::Connection> = s.iter().map(|d| d.conn()).collect();
    let mut sub = p.raw();
    let shard: Vec<String> = ["{t}x", "{t}y", "other"].iter().map(|s| s.to_string()).collect();
    subscribe(&mut sub, "SSUBSCRIBE", &shard, 1);
    // Shard channels count apart from channels and patterns.
    subscribe(&mut sub, "SUBSCRIBE", &["plain".to_string()], 1);
    assert_eq!(subscribed_on(&mut direct, "SHARDNUMSUB", "{t}x"), subscribed_on(&mut direct, "SHARDNUMSUB", "{t}y"));
    subscribed_on(&mut direct, "SHARDNUMSUB", "other");

    let mut pubc = p.conn();
    assert_eq!(publish(&mut pubc, "SPUBLISH", "{t}x", "m1"), 1);
    assert_eq!(sub.read(), frame(false, &["smessage", "{t}x", "m1"]));
    // Plain and shard channels of one name are different channels.
    assert_eq!(publish(&mut pubc, "PUBLISH", "{t}x", "m"), 0);

    // PUBLISH inside MULTI is routed by its channel like a key.
    let mut tx = p.raw();
    assert_eq!(tx.call(&["MULTI"]), ok());
    assert_eq!(tx.call(&["SPUBLISH", "{t}x", "a"]), Resp::Simple("QUEUED".into()));
    assert_eq!(tx.call(&["SPUBLISH", "{t}y", "b"]), Resp::Simple("QUEUED".into()));
    assert_eq!(tx.call(&["EXEC"]), arr(vec![Resp::Int(1), Resp::Int(1)]));
    assert_eq!(sub.read(), frame(false, &["smessage", "{t}x", "a"]));
    assert_eq!(sub.read(), frame(false, &["smessage", "{t}y", "b"]));
    assert_eq!(tx.call(&["MULTI"]), ok());
    assert_eq!(tx.call(&["PUBLISH", "plain", "c"]), Resp::Simple("QUEUED".into()));
    assert_eq!(tx.call(&["EXEC"]), arr(vec![Resp::Int(1)]));
    assert_eq!(sub.read(), message("plain", "c"));
    // Subscribing inside MULTI is refused (a transaction runs on a shared connection).
    assert_eq!(tx.call(&["MULTI"]), ok());
    assert!(matches!(tx.call(&["SUBSCRIBE", "x"]), Resp::Error(e) if e.contains("cannot be used inside MULTI")));
    assert_eq!(tx.call(&["DISCARD"]), ok());

    sub.send_cmd(&["SUNSUBSCRIBE"]);
    assert_eq!(sub.read(), confirm("sunsubscribe", "{t}x", 2));
    assert_eq!(sub.read(), confirm("sunsubscribe", "{t}y", 1));
    assert_eq!(sub.read(), confirm("sunsubscribe", "other", 0));
    assert_eq!(sub.call(&["GET", "k"]), not_in_this_context("get"), "still subscribed to 'plain'");
}

#[test]
fn patterns_are_subscribed_on_every_server_and_merged() {
    let (s, p) = cluster(3, &[]);
    let mut direct: Vec<redis::Connection> = s.iter().map(|d| d.conn()).collect();
    let mut sub = p.raw();
    assert_eq!(sub.call(&["PSUBSCRIBE", "news.*"]), confirm("psubscribe", "news.*", 1));
    for d in direct.iter_mut() {
        assert_eq!(numpat(d), 1, "the pattern is on every server once confirmed");
    }
    assert_eq!(sub.call(&["SUBSCRIBE", "plain"]), confirm("subscribe", "plain", 2));
    // One server's count: the pattern is on all three.
    assert_eq!(p.raw().call(&["PUBSUB", "NUMPAT"]), Resp::Int(1));

    // Channels on every server reach the pattern subscriber.
    let mut pubc = p.conn();
    let chans = names("news.", 12);
    for ch in &chans {
        assert_eq!(publish(&mut pubc, "PUBLISH", ch, "x"), 1);
    }
    read_unordered(&mut sub, chans.iter().map(|c| frame(false, &["pmessage", "news.*", c, "x"])).collect());
    // So does a message published straight to any data server.
    for (i, d) in direct.iter_mut().enumerate() {
        assert_eq!(publish(d, "PUBLISH", "news.direct", &i.to_string()), 1);
        assert_eq!(sub.read(), frame(false, &["pmessage", "news.*", "news.direct", &i.to_string()]));
    }
    assert_eq!(publish(&mut pubc, "PUBLISH", "plain", "p"), 1);
    assert_eq!(sub.read(), message("plain", "p"));

    assert_eq!(sub.call(&["PUNSUBSCRIBE"]), confirm("punsubscribe", "news.*", 1));
    assert!(wait_until(10, || direct.iter_mut().all(|d| numpat(d) == 0)), "pattern left on a server");
    assert_eq!(sub.call(&["UNSUBSCRIBE", "plain"]), confirm("unsubscribe", "plain", 0));
}

#[test]
fn resp3_clients_get_push_frames() {
    let (_s, p) = cluster(2, &[]);
    let mut sub = p.raw();
    assert!(matches!(sub.call(&["HELLO", "3"]), Resp::Map(_)));
    // Pipelined: confirmations and replies in request order.
    let mut batch = Vec::new();
    for c in [&["SUBSCRIBE", "a", "b"][..], &["GET", "nokey"], &["PSUBSCRIBE", "*"], &["PING"]] {
        batch.extend(encode(c));
    }
    sub.send(&batch);
    assert_eq!(sub.read(), confirm3("subscribe", "a", 1));
    assert_eq!(sub.read(), confirm3("subscribe", "b", 2));
    assert_eq!(sub.read(), Resp::Null, "RESP3 subscribers may run any command");
    assert_eq!(sub.read(), confirm3("psubscribe", "*", 3));
    assert_eq!(sub.read(), Resp::Simple("PONG".into()));

    let mut pubc = p.conn();
    // The channel's subscriber and the pattern's: both on a's server.
    assert_eq!(publish(&mut pubc, "PUBLISH", "a", "hi"), 2);
    assert_eq!(sub.read(), frame(true, &["message", "a", "hi"]));
    assert_eq!(sub.read(), frame(true, &["pmessage", "*", "a", "hi"]));

    // A protocol switch while subscribed: later messages come in RESP2.
    let Resp::Array(Some(_)) = sub.call(&["HELLO", "2"]) else { panic!("HELLO 2 answers an array") };
    assert_eq!(publish(&mut pubc, "PUBLISH", "b", "two"), 2);
    assert_eq!(sub.read(), message("b", "two"));
    assert_eq!(sub.read(), frame(false, &["pmessage", "*", "b", "two"]));
    assert_eq!(sub.call(&["GET", "k"]), not_in_this_context("get"));
    assert!(matches!(sub.call(&["HELLO", "3"]), Resp::Error(_)), "HELLO is not allowed in RESP2 subscribed mode");
    sub.send_cmd(&["UNSUBSCRIBE"]);
    assert_eq!(sub.read(), confirm("unsubscribe", "a", 2));
    assert_eq!(sub.read(), confirm("unsubscribe", "b", 1));

    // A second RESP3 client: push confirmations down to none.
    let mut c3 = p.raw();
    assert!(matches!(c3.call(&["HELLO", "3"]), Resp::Map(_)));
    assert_eq!(c3.call(&["SSUBSCRIBE", "s"]), confirm3("ssubscribe", "s", 1));
    assert_eq!(publish(&mut pubc, "SPUBLISH", "s", "m"), 1);
    assert_eq!(c3.read(), frame(true, &["smessage", "s", "m"]));
    assert_eq!(c3.call(&["SUNSUBSCRIBE", "s"]), confirm3("sunsubscribe", "s", 0));
    assert_eq!(c3.call(&["UNSUBSCRIBE"]), Resp::Push(vec![bulk("unsubscribe"), Resp::Null, Resp::Int(0)]));
}

#[test]
fn unsubscribing_from_everything_leaves_subscribed_mode() {
    let (s, p) = cluster(2, &[]);
    let mut direct: Vec<redis::Connection> = s.iter().map(|d| d.conn()).collect();
    let mut c = p.raw();
    // Not subscribed: the confirmations of nothing.
    assert_eq!(c.call(&["UNSUBSCRIBE"]), confirm_none("unsubscribe", 0));
    assert_eq!(c.call(&["PUNSUBSCRIBE"]), confirm_none("punsubscribe", 0));
    assert_eq!(c.call(&["SUNSUBSCRIBE"]), confirm_none("sunsubscribe", 0));
    assert_eq!(c.call(&["UNSUBSCRIBE", "x"]), confirm("unsubscribe", "x", 0));
    assert_eq!(c.call(&["GET", "k"]), Resp::Bulk(None));

    let chans = names("u", 3);
    subscribe(&mut c, "SUBSCRIBE", &chans, 1);
    assert_eq!(c.call(&["PSUBSCRIBE", "p*"]), confirm("psubscribe", "p*", 4));
    assert_eq!(c.call(&["SSUBSCRIBE", "s1"]), confirm("ssubscribe", "s1", 1));
    c.send_cmd(&["UNSUBSCRIBE"]);
    for (i, ch) in chans.iter().enumerate() {
        assert_eq!(c.read(), confirm("unsubscribe", ch, 3 - i as i64));
    }
    assert_eq!(c.call(&["GET", "k"]), not_in_this_context("get"), "the pattern remains");
    assert_eq!(c.call(&["PUNSUBSCRIBE"]), confirm("punsubscribe", "p*", 0));
    assert_eq!(c.call(&["GET", "k"]), not_in_this_context("get"), "the shard channel remains");
    assert_eq!(c.call(&["SUNSUBSCRIBE"]), confirm("sunsubscribe", "s1", 0));
    assert_eq!(c.call(&["GET", "k"]), Resp::Bulk(None));
    let gone = |direct: &mut [redis::Connection]| {
        direct.iter_mut().all(|d| {
            numpat(d) == 0
                && numsub(d, "SHARDNUMSUB", "s1") == 0
                && ["u0", "u1", "u2"].iter().all(|ch| numsub(d, "NUMSUB", ch) == 0)
        })
    };
    assert!(wait_until(10, || gone(&mut direct)), "subscriptions left on the servers");

    // RESET leaves subscribed mode without confirmations.
    assert_eq!(c.call(&["SUBSCRIBE", "u0"]), confirm("subscribe", "u0", 1));
    assert_eq!(c.call(&["RESET"]), Resp::Simple("RESET".into()));
    assert_eq!(c.call(&["GET", "k"]), Resp::Bulk(None));
    assert!(wait_until(10, || gone(&mut direct)), "RESET left a subscription");

    // A subscriber that disconnects leaves nothing behind.
    let mut d = p.raw();
    assert_eq!(d.call(&["SUBSCRIBE", "u1"]), confirm("subscribe", "u1", 1));
    assert_eq!(d.call(&["PSUBSCRIBE", "p*"]), confirm("psubscribe", "p*", 2));
    drop(d);
    assert!(wait_until(10, || gone(&mut direct)), "a gone subscriber left a subscription");
}

#[test]
fn pubsub_introspection_fans_out() {
    let (s, p) = cluster(3, &[]);
    let mut a = p.raw();
    subscribe(&mut a, "SUBSCRIBE", &names("ch", 8), 1);
    let mut b = p.raw();
    subscribe(&mut b, "SUBSCRIBE", &names("ch", 2), 1);
    let mut c = p.raw();
    subscribe(&mut c, "PSUBSCRIBE", &["x*".to_string(), "y*".to_string()], 1);
    let mut d = p.raw();
    subscribe(&mut d, "SSUBSCRIBE", &names("sh", 4), 1);

    let mut q = p.raw();
    let mut all = strings(q.call(&["PUBSUB", "CHANNELS"]));
    all.sort();
    assert_eq!(all, names("ch", 8));
    let mut some = strings(q.call(&["PUBSUB", "CHANNELS", "ch[0-2]"]));
    some.sort();
    assert_eq!(some, names("ch", 3));
    let counts = arr(vec![
        bulk("ch0"),
        Resp::Int(2),
        bulk("ch5"),
        Resp::Int(1),
        bulk("none"),
        Resp::Int(0),
        bulk("ch1"),
        Resp::Int(2),
    ]);
    assert_eq!(q.call(&["PUBSUB", "NUMSUB", "ch0", "ch5", "none", "ch1"]), counts);
    assert_eq!(q.call(&["PUBSUB", "NUMSUB"]), arr(vec![]));
    // Each server holds both patterns: the proxy reports 2, not 6.
    for srv in &s {
        assert_eq!(numpat(&mut srv.conn()), 2);
    }
    assert_eq!(q.call(&["PUBSUB", "NUMPAT"]), Resp::Int(2));
    let mut shard = strings(q.call(&["PUBSUB", "SHARDCHANNELS"]));
    shard.sort();
    assert_eq!(shard, names("sh", 4));
    let want = arr(vec![bulk("sh3"), Resp::Int(1), bulk("zz"), Resp::Int(0), bulk("sh0"), Resp::Int(1)]);
    assert_eq!(q.call(&["PUBSUB", "SHARDNUMSUB", "sh3", "zz", "sh0"]), want);
    assert!(matches!(q.call(&["PUBSUB", "HELP"]), Resp::Array(Some(l)) if l.len() > 4));
    assert!(matches!(q.call(&["PUBSUB", "NOPE"]), Resp::Error(e) if e.starts_with("ERR unknown subcommand")));

    // RESP3 clients get the same merged shapes.
    assert!(matches!(q.call(&["HELLO", "3"]), Resp::Map(_)));
    assert_eq!(
        q.call(&["PUBSUB", "NUMSUB", "ch0", "ch7"]),
        arr(vec![bulk("ch0"), Resp::Int(2), bulk("ch7"), Resp::Int(1)])
    );
    assert_eq!(strings(q.call(&["PUBSUB", "CHANNELS", "ch7"])), vec!["ch7".to_string()]);
}

#[test]
fn subscribers_follow_channels_moved_by_a_reload() {
    let (a, b) = (DataServer::start(), DataServer::start());
    let p = Proxy::start(&servers_json(&[&a]), &[]);
    let both = [&a, &b];
    let mut direct = [a.conn(), b.conn()];
    let mut sub = p.raw();
    let chans = names("mv", 16);
    let shard = names("smv", 8);
    subscribe(&mut sub, "SUBSCRIBE", &chans, 1);
    assert_eq!(sub.call(&["PSUBSCRIBE", "mv*"]), confirm("psubscribe", "mv*", 17));
    subscribe(&mut sub, "SSUBSCRIBE", &shard, 1);
    let mut pubc = p.conn();

    // Published after the move: received through the new owner (and the
    // pattern, wherever the channel now lives).
    let check_delivery = |sub: &mut Raw, pubc: &mut redis::Connection, round: &str| {
        let mut want = Vec::new();
        for ch in &chans {
            assert_eq!(publish(pubc, "PUBLISH", ch, round), 2, "{ch}: channel and pattern subscriber");
            want.push(message(ch, round));
            want.push(frame(false, &["pmessage", "mv*", ch, round]));
        }
        for ch in &shard {
            assert_eq!(publish(pubc, "SPUBLISH", ch, round), 1, "{ch}");
            want.push(frame(false, &["smessage", ch, round]));
        }
        read_unordered(sub, want);
    };
    check_delivery(&mut sub, &mut pubc, "before");

    // Add b: the channels whose ring position now falls on b move there.
    p.write_servers(&servers_json(&both));
    assert!(p.wait_info("servers", "2", 10), "addition not applied");
    let place: Vec<usize> = chans.iter().map(|c| owner(&p, &both, c)).collect();
    let shard_place: Vec<usize> = shard.iter().map(|c| owner(&p, &both, c)).collect();
    assert!(place.contains(&1), "no channel moved to the new server");
    let settled = |direct: &mut [redis::Connection], place: &[usize], shard_place: &[usize]| {
        (0..2).all(|i| {
            numpat(&mut direct[i]) == 1
                && chans.iter().zip(place).all(|(c, &o)| numsub(&mut direct[i], "NUMSUB", c) == i64::from(o == i))
                && shard
                    .iter()
                    .zip(shard_place)
                    .all(|(c, &o)| numsub(&mut direct[i], "SHARDNUMSUB", c) == i64::from(o == i))
        })
    };
    assert!(wait_until(10, || settled(&mut direct, &place, &shard_place)), "subscriptions did not follow the ring");
    check_delivery(&mut sub, &mut pubc, "after adding b");

    // Remove a: everything moves to b; a keeps nothing.
    p.write_servers(&servers_json(&[&b]));
    assert!(p.wait_info("servers", "1", 10), "removal not applied");
    let gone_from_a = |direct: &mut [redis::Connection]| {
        numpat(&mut direct[0]) == 0
            && numpat(&mut direct[1]) == 1
            && chans
                .iter()
                .all(|c| numsub(&mut direct[0], "NUMSUB", c) == 0 && numsub(&mut direct[1], "NUMSUB", c) == 1)
            && shard
                .iter()
                .all(|c| numsub(&mut direct[0], "SHARDNUMSUB", c) == 0 && numsub(&mut direct[1], "SHARDNUMSUB", c) == 1)
    };
    assert!(wait_until(10, || gone_from_a(&mut direct)), "subscriptions did not leave the removed server");
    check_delivery(&mut sub, &mut pubc, "after removing a");

    // The client saw nothing of it: the next frame answers its next command,
    // and its counts are a single server's.
    assert_eq!(sub.call(&["PING"]), frame(false, &["pong", ""]));
    assert_eq!(sub.call(&["UNSUBSCRIBE", "mv0"]), confirm("unsubscribe", "mv0", 16));
}

#[test]
fn a_subscriber_whose_server_dies_is_disconnected() {
    let (mut s, p) = cluster(2, &[]);
    let mut direct: Vec<redis::Connection> = s.iter().map(|d| d.conn()).collect();
    let mut sub = p.raw();
    assert_eq!(sub.call(&["SUBSCRIBE", "doomed"]), confirm("subscribe", "doomed", 1));
    let i = subscribed_on(&mut direct, "NUMSUB", "doomed");
    s[i].proc.kill9();
    // Messages may have been lost: the client is told and disconnected.
    match sub.read() {
        Resp::Error(e) => assert!(e.starts_with("ERR proxy: server") && e.contains("unavailable"), "{e}"),
        other => panic!("expected an error, got {other:?}"),
    }
    assert!(sub.is_closed());
}

#[test]
fn a_subscriber_whose_server_stops_answering_is_disconnected() {
    let (s, p) = cluster(2, &["--timeout", "300"]);
    let mut direct: Vec<redis::Connection> = s.iter().map(|d| d.conn()).collect();
    let mut sub = p.raw();
    assert_eq!(sub.call(&["SUBSCRIBE", "frozen"]), confirm("subscribe", "frozen", 1));
    let i = subscribed_on(&mut direct, "NUMSUB", "frozen");
    let pid = s[i].proc.pid() as libc::pid_t;
    // SAFETY: signals a child process this test started and still owns.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    // The connection stays open but the idle check's PING goes unanswered.
    let got = sub.read();
    // SAFETY: as above; the process is killed when its handle drops.
    unsafe { libc::kill(pid, libc::SIGCONT) };
    match got {
        Resp::Error(e) => assert!(e.contains("unavailable: no confirmation within"), "{e}"),
        other => panic!("expected an error, got {other:?}"),
    }
    assert!(sub.is_closed());
}

#[test]
fn monitor_and_client_tracking_are_refused() {
    let (_s, p) = cluster(2, &[]);
    let mut c = p.raw();
    assert_eq!(
        c.call(&["MONITOR"]),
        Resp::Error("ERR MONITOR is not supported through the proxy; connect to a data server".into())
    );
    assert_eq!(
        c.call(&["CLIENT", "TRACKING", "on"]),
        Resp::Error("ERR CLIENT TRACKING is not supported through the proxy; connect to a data server".into())
    );
    assert_eq!(c.call(&["PING"]), Resp::Simple("PONG".into()));
}
