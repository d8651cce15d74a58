//! Pub/Sub against the real server: subscription confirmations and their
//! counts, messages, pattern and shard messages, RESP2 subscribed mode
//! (its error text, PING) and RESP3 pushes between ordinary replies,
//! UNSUBSCRIBE/RESET/QUIT leaving every subscription, PUBSUB, INFO and
//! CLIENT LIST, over raw sockets here; the `redis` crate's pub/sub API
//! (RESP2 and RESP3) in [`client`]; message order under concurrent
//! publishers and the slow-subscriber output limit in [`delivery`]; ACL
//! channel permissions and the disconnection of subscribers whose
//! channels are revoked in [`acl`].

#[path = "pubsub/acl.rs"]
mod acl;
#[path = "pubsub/client.rs"]
mod client;
mod common;
#[path = "pubsub/delivery.rs"]
mod delivery;

use common::{arr, bulk, bulks, err, int, nil, ok, status, text, Raw, Resp, Server};

/// A RESP2 pub/sub frame: `[kind, name, count]` for confirmations.
fn confirm(kind: &str, name: &str, count: i64) -> Resp {
    arr(vec![bulk(kind), bulk(name), int(count)])
}

/// `[message, channel, payload]` (RESP2).
fn message(channel: &str, payload: &str) -> Resp {
    bulks(&["message", channel, payload])
}

/// `[pmessage, pattern, channel, payload]` (RESP2).
fn pmessage(pattern: &str, channel: &str, payload: &str) -> Resp {
    bulks(&["pmessage", pattern, channel, payload])
}

/// The same frame as a RESP3 push.
fn push(frame: Resp) -> Resp {
    match frame {
        Resp::Array(Some(items)) => Resp::Push(items),
        other => panic!("not an array: {other:?}"),
    }
}

/// The error a RESP2 subscriber gets for any other command.
fn subscribed_mode_error(cmd: &str) -> Resp {
    err(&format!(
        "ERR Can't execute '{cmd}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
    ))
}

/// One `name:value` field of `INFO section`.
fn info(c: &mut Raw, section: &str, name: &str) -> String {
    common::info_field(&text(c.call(&["INFO", section])), name).unwrap_or_else(|| panic!("no {name} in INFO"))
}

/// The `CLIENT LIST` line of the client named `name`.
fn client_line(c: &mut Raw, name: &str) -> String {
    let list = text(c.call(&["CLIENT", "LIST"]));
    let needle = format!(" name={name} ");
    list.lines().find(|l| l.contains(&needle)).unwrap_or_else(|| panic!("no client {name} in {list}")).to_string()
}

/// A field of a `CLIENT LIST` line.
fn client_field(line: &str, field: &str) -> String {
    let prefix = format!("{field}=");
    line.split(' ').find_map(|kv| kv.strip_prefix(&prefix)).unwrap_or_else(|| panic!("no {field} in {line}")).into()
}

/// Reads until the server closes the connection (what it sent before is
/// dropped); fails if the connection stays open for 10 s.
fn assert_closed(c: &mut Raw, what: &str) {
    use std::io::Read;
    c.w.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 64 * 1024];
    loop {
        match c.r.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("{what}: the connection stayed open ({e})"),
        }
    }
}

#[test]
fn resp2_confirmations_counts_messages_and_subscribed_mode() {
    let s = Server::start(&[]);
    let mut sub = s.raw();
    let mut publ = s.raw();
    sub.send_cmd(&["SUBSCRIBE", "a", "b"]);
    assert_eq!(sub.read(), confirm("subscribe", "a", 1));
    assert_eq!(sub.read(), confirm("subscribe", "b", 2));
    sub.send_cmd(&["PSUBSCRIBE", "p*"]);
    assert_eq!(sub.read(), confirm("psubscribe", "p*", 3));
    // Subscribing again to the same channel changes no count.
    sub.send_cmd(&["SUBSCRIBE", "a"]);
    assert_eq!(sub.read(), confirm("subscribe", "a", 3));
    // Shard channels are counted apart.
    sub.send_cmd(&["SSUBSCRIBE", "s"]);
    assert_eq!(sub.read(), confirm("ssubscribe", "s", 1));

    // PING answers [pong, message]; other commands are refused.
    assert_eq!(sub.call(&["PING"]), bulks(&["pong", ""]));
    assert_eq!(sub.call(&["PING", "hi"]), bulks(&["pong", "hi"]));
    assert_eq!(sub.call(&["GET", "k"]), subscribed_mode_error("get"));
    assert_eq!(sub.call(&["CLIENT", "ID"]), subscribed_mode_error("client|id"));

    // PUBLISH answers how many received it: channel and pattern subscribers.
    assert_eq!(publ.call(&["PUBLISH", "a", "one"]), int(1));
    assert_eq!(sub.read(), message("a", "one"));
    assert_eq!(publ.call(&["PUBLISH", "pq", "two"]), int(1));
    assert_eq!(sub.read(), pmessage("p*", "pq", "two"));
    assert_eq!(publ.call(&["PUBLISH", "nobody", "x"]), int(0));
    // A shard channel is not a plain channel: PUBLISH s reaches no one.
    assert_eq!(publ.call(&["PUBLISH", "s", "x"]), int(0));
    assert_eq!(publ.call(&["SPUBLISH", "s", "three"]), int(1));
    assert_eq!(sub.read(), bulks(&["smessage", "s", "three"]));
    // Binary-safe payloads.
    publ.cmd(&[b"PUBLISH", b"a", b"\x00\r\n\xff"]);
    assert_eq!(publ.read(), int(1));
    assert_eq!(sub.read(), arr(vec![bulk("message"), bulk("a"), Resp::Bulk(Some(b"\x00\r\n\xff".to_vec()))]));

    // UNSUBSCRIBE without arguments leaves every channel (one reply each,
    // the count going down), but not the patterns or shard channels.
    sub.send_cmd(&["UNSUBSCRIBE"]);
    let mut left = Vec::new();
    for expected_count in [2, 1] {
        let Resp::Array(Some(r)) = sub.read() else { panic!("not an array") };
        assert_eq!((&r[0], &r[2]), (&bulk("unsubscribe"), &int(expected_count)));
        left.push(text(r[1].clone()));
    }
    left.sort();
    assert_eq!(left, ["a", "b"]);
    sub.send_cmd(&["PUNSUBSCRIBE"]);
    assert_eq!(sub.read(), confirm("punsubscribe", "p*", 0));
    // Still subscribed to a shard channel: still in subscribed mode.
    assert_eq!(sub.call(&["GET", "k"]), subscribed_mode_error("get"));
    sub.send_cmd(&["SUNSUBSCRIBE", "s", "never"]);
    assert_eq!(sub.read(), confirm("sunsubscribe", "s", 0));
    assert_eq!(sub.read(), confirm("sunsubscribe", "never", 0));
    // Out of subscribed mode.
    assert_eq!(sub.call(&["GET", "k"]), nil());
    assert_eq!(sub.call(&["PING"]), status("PONG"));
    // With nothing to leave, one reply with a null name.
    sub.send_cmd(&["UNSUBSCRIBE"]);
    assert_eq!(sub.read(), arr(vec![bulk("unsubscribe"), nil(), int(0)]));
    sub.send_cmd(&["PUNSUBSCRIBE"]);
    assert_eq!(sub.read(), arr(vec![bulk("punsubscribe"), nil(), int(0)]));
    assert_eq!(publ.call(&["PUBLISH", "a", "gone"]), int(0));
}

#[test]
fn resp3_pushes_between_ordinary_replies() {
    let s = Server::start(&[]);
    let mut sub = s.raw();
    let mut publ = s.raw();
    assert!(matches!(sub.call(&["HELLO", "3"]), Resp::Map(_)));
    sub.send_cmd(&["SUBSCRIBE", "a"]);
    assert_eq!(sub.read(), push(confirm("subscribe", "a", 1)));
    // Any command runs while subscribed, with its ordinary RESP3 reply.
    assert_eq!(sub.call(&["SET", "k", "v"]), ok());
    assert_eq!(sub.call(&["GET", "k"]), bulk("v"));
    assert_eq!(sub.call(&["GET", "missing"]), Resp::Null);
    assert_eq!(sub.call(&["PING"]), status("PONG"));
    assert_eq!(publ.call(&["PUBLISH", "a", "m1"]), int(1));
    assert_eq!(sub.read(), push(message("a", "m1")));
    sub.send_cmd(&["PSUBSCRIBE", "a*"]);
    assert_eq!(sub.read(), push(confirm("psubscribe", "a*", 2)));
    assert_eq!(publ.call(&["PUBLISH", "a", "m2"]), int(2));
    assert_eq!(sub.read(), push(message("a", "m2")));
    assert_eq!(sub.read(), push(pmessage("a*", "a", "m2")));
    // A RESP2 subscriber of the same channel gets arrays, the same message.
    let mut sub2 = s.raw();
    sub2.send_cmd(&["SUBSCRIBE", "a"]);
    assert_eq!(sub2.read(), confirm("subscribe", "a", 1));
    assert_eq!(publ.call(&["PUBLISH", "a", "m4"]), int(3));
    assert_eq!(sub2.read(), message("a", "m4"));
    assert_eq!(sub.read(), push(message("a", "m4")));
    assert_eq!(sub.read(), push(pmessage("a*", "a", "m4")));
    sub.send_cmd(&["UNSUBSCRIBE", "a"]);
    assert_eq!(sub.read(), push(confirm("unsubscribe", "a", 1)));
}

/// Redis adds a message to the subscriber's output when it is published,
/// so it precedes the reply to any command the subscriber sends after the
/// PUBLISH was answered, and a client publishing to itself gets the
/// message before the PUBLISH reply.
#[test]
fn resp3_messages_already_published_precede_the_next_reply() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let mut publ = s.raw();
    assert!(matches!(c.call(&["HELLO", "3"]), Resp::Map(_)));
    c.send_cmd(&["SUBSCRIBE", "a"]);
    assert_eq!(c.read(), push(confirm("subscribe", "a", 1)));
    c.send_cmd(&["PUBLISH", "a", "self"]);
    assert_eq!(c.read(), push(message("a", "self")));
    assert_eq!(c.read(), int(1));
    // Many times over, as the connection may or may not be awake when the
    // message is queued.
    for i in 0..200 {
        let m = format!("m{i}");
        assert_eq!(publ.call(&["PUBLISH", "a", &m]), int(1));
        assert_eq!(c.call(&["ECHO", "after"]), push(message("a", &m)), "round {i}");
        assert_eq!(c.read(), bulk("after"));
    }
}

#[test]
fn reset_and_quit_leave_every_subscription() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    let mut sub = s.raw();
    assert!(matches!(sub.call(&["HELLO", "3"]), Resp::Map(_)));
    sub.send_cmd(&["SUBSCRIBE", "c1", "c2"]);
    sub.send_cmd(&["PSUBSCRIBE", "p*"]);
    sub.send_cmd(&["SSUBSCRIBE", "s1"]);
    for _ in 0..4 {
        assert!(matches!(sub.read(), Resp::Push(_)));
    }
    assert_eq!(admin.call(&["PUBSUB", "NUMSUB", "c1", "c2"]), arr(vec![bulk("c1"), int(1), bulk("c2"), int(1)]));
    assert_eq!(admin.call(&["PUBSUB", "NUMPAT"]), int(1));
    // RESET leaves everything and goes back to RESP2.
    assert_eq!(sub.call(&["RESET"]), status("RESET"));
    assert_eq!(admin.call(&["PUBSUB", "NUMSUB", "c1", "c2"]), arr(vec![bulk("c1"), int(0), bulk("c2"), int(0)]));
    assert_eq!(admin.call(&["PUBSUB", "NUMPAT"]), int(0));
    assert_eq!(admin.call(&["PUBSUB", "SHARDNUMSUB", "s1"]), arr(vec![bulk("s1"), int(0)]));
    assert_eq!(admin.call(&["PUBLISH", "c1", "x"]), int(0));
    assert_eq!(sub.call(&["GET", "missing"]), nil(), "RESP2 again, and out of subscribed mode");

    // A RESP2 subscriber may RESET in subscribed mode too.
    sub.send_cmd(&["SUBSCRIBE", "c1"]);
    assert_eq!(sub.read(), confirm("subscribe", "c1", 1));
    assert_eq!(sub.call(&["RESET"]), status("RESET"));
    assert_eq!(sub.call(&["GET", "missing"]), nil());

    // QUIT in subscribed mode: +OK, the connection closes, nothing is left.
    sub.send_cmd(&["PSUBSCRIBE", "q*"]);
    assert_eq!(sub.read(), confirm("psubscribe", "q*", 1));
    assert_eq!(sub.call(&["QUIT"]), ok());
    assert_closed(&mut sub, "QUIT");
    assert_eq!(admin.call(&["PUBSUB", "NUMPAT"]), int(0));
    // A subscriber that simply disconnects is gone too, once its socket is.
    let mut gone = s.raw();
    gone.send_cmd(&["SUBSCRIBE", "c9"]);
    assert_eq!(gone.read(), confirm("subscribe", "c9", 1));
    drop(gone);
    common::wait_for(10, "the closed subscriber to leave c9", || {
        admin.call(&["PUBSUB", "NUMSUB", "c9"]) == arr(vec![bulk("c9"), int(0)])
    });
    assert_eq!(info(&mut admin, "stats", "pubsub_channels"), "0");
}

#[test]
fn pubsub_subcommands_info_and_client_list() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    let mut a = s.raw();
    let mut b = s.raw();
    assert_eq!(a.call(&["CLIENT", "SETNAME", "suba"]), ok());
    assert_eq!(b.call(&["CLIENT", "SETNAME", "subb"]), ok());
    a.send_cmd(&["SUBSCRIBE", "news.eu", "news.us", "sport"]);
    a.send_cmd(&["PSUBSCRIBE", "news.*", "x?"]);
    a.send_cmd(&["SSUBSCRIBE", "shard1", "shard2"]);
    for _ in 0..7 {
        a.read();
    }
    b.send_cmd(&["SUBSCRIBE", "news.eu"]);
    b.send_cmd(&["PSUBSCRIBE", "news.*"]);
    b.send_cmd(&["SSUBSCRIBE", "shard1"]);
    for _ in 0..3 {
        b.read();
    }

    let sorted = |r: Resp| common::sorted_strings(r);
    assert_eq!(sorted(admin.call(&["PUBSUB", "CHANNELS"])), ["news.eu", "news.us", "sport"]);
    assert_eq!(sorted(admin.call(&["PUBSUB", "CHANNELS", "news.*"])), ["news.eu", "news.us"]);
    assert_eq!(admin.call(&["PUBSUB", "CHANNELS", "nomatch*"]), arr(vec![]));
    assert_eq!(
        admin.call(&["PUBSUB", "NUMSUB", "news.eu", "sport", "none"]),
        arr(vec![bulk("news.eu"), int(2), bulk("sport"), int(1), bulk("none"), int(0)])
    );
    assert_eq!(admin.call(&["PUBSUB", "NUMSUB"]), arr(vec![]));
    // Distinct patterns, whoever subscribed.
    assert_eq!(admin.call(&["PUBSUB", "NUMPAT"]), int(2));
    assert_eq!(sorted(admin.call(&["PUBSUB", "SHARDCHANNELS"])), ["shard1", "shard2"]);
    assert_eq!(sorted(admin.call(&["PUBSUB", "SHARDCHANNELS", "*2"])), ["shard2"]);
    assert_eq!(
        admin.call(&["PUBSUB", "SHARDNUMSUB", "shard1", "shard2", "x"]),
        arr(vec![bulk("shard1"), int(2), bulk("shard2"), int(1), bulk("x"), int(0)])
    );
    // Shard channels are not plain channels and the other way round.
    assert_eq!(admin.call(&["PUBSUB", "NUMSUB", "shard1"]), arr(vec![bulk("shard1"), int(0)]));
    assert_eq!(admin.call(&["PUBSUB", "FOO"]), err("ERR unknown subcommand 'FOO'. Try PUBSUB HELP."));
    assert_eq!(
        admin.call(&["PUBSUB", "CHANNELS", "a", "b"]),
        err("ERR unknown subcommand or wrong number of arguments for 'CHANNELS'. Try PUBSUB HELP.")
    );
    let help = common::strings(admin.call(&["PUBSUB", "HELP"]));
    assert!(help[0].starts_with("PUBSUB <subcommand>"), "{help:?}");

    assert_eq!(info(&mut admin, "stats", "pubsub_channels"), "3");
    assert_eq!(info(&mut admin, "stats", "pubsub_patterns"), "2");
    assert_eq!(info(&mut admin, "stats", "pubsubshard_channels"), "2");

    let line = client_line(&mut admin, "suba");
    assert_eq!(
        ["sub", "psub", "ssub", "flags"].map(|f| client_field(&line, f)),
        ["3", "2", "2", "P"].map(String::from),
        "{line}"
    );
    let line = client_line(&mut admin, "subb");
    assert_eq!(["sub", "psub", "ssub"].map(|f| client_field(&line, f)), ["1", "1", "1"].map(String::from));
    let line = client_line(&mut admin, "");
    assert_eq!(client_field(&line, "sub"), "0");

    // Leaving updates every view at once.
    b.send_cmd(&["UNSUBSCRIBE"]);
    b.send_cmd(&["PUNSUBSCRIBE"]);
    b.send_cmd(&["SUNSUBSCRIBE"]);
    for _ in 0..3 {
        b.read();
    }
    let line = client_line(&mut admin, "subb");
    assert_eq!(
        ["sub", "psub", "ssub", "flags"].map(|f| client_field(&line, f)),
        ["0", "0", "0", "N"].map(String::from)
    );
    assert_eq!(admin.call(&["PUBSUB", "NUMSUB", "news.eu"]), arr(vec![bulk("news.eu"), int(1)]));
    assert_eq!(admin.call(&["PUBSUB", "NUMPAT"]), int(2), "a still holds both patterns");
    a.send_cmd(&["PUNSUBSCRIBE", "x?"]);
    assert_eq!(a.read(), confirm("punsubscribe", "x?", 4));
    assert_eq!(info(&mut admin, "stats", "pubsub_patterns"), "1");
}
