//! Client-side caching (CLIENT TRACKING): invalidation pushes in RESP3,
//! redirection to a RESP2 `__redis__:invalidate` subscriber, BCAST with
//! prefixes and NOLOOP, OPTIN/OPTOUT with CLIENT CACHING, flush
//! invalidation, the order of a client's own invalidations after its reply,
//! the table limit, TRACKINGINFO/GETREDIR, and the `redis` crate's RESP3
//! push handling.

mod common;

use std::time::Duration;

use common::{bulk, bulks, int, ok, Raw, Resp, Server};
use redis::{PushKind, Value};

/// `>2 invalidate [keys]`.
fn invalidate(keys: &[&str]) -> Resp {
    Resp::Push(vec![bulk("invalidate"), bulks(keys)])
}

/// One INFO field.
fn stat(c: &mut Raw, name: &str) -> String {
    let info = common::text(c.call(&["INFO"]));
    common::info_field(&info, name).unwrap_or_default()
}

/// A RESP3 raw connection.
fn resp3(s: &Server) -> Raw {
    let mut c = s.raw();
    assert!(matches!(c.call(&["HELLO", "3"]), Resp::Map(_)));
    c
}

/// A RESP2 connection subscribed to `__redis__:invalidate`, and its id.
fn redirect_target(s: &Server) -> (Raw, String) {
    let mut r = s.raw();
    let Resp::Int(id) = r.call(&["CLIENT", "ID"]) else { panic!("CLIENT ID") };
    r.send_cmd(&["SUBSCRIBE", "__redis__:invalidate"]);
    assert_eq!(r.read(), Resp::Array(Some(vec![bulk("subscribe"), bulk("__redis__:invalidate"), int(1)])));
    (r, id.to_string())
}

/// The key list of a RESP2 `__redis__:invalidate` message.
fn redirected_keys(r: &mut Raw) -> Resp {
    let Resp::Array(Some(items)) = r.read() else { panic!("not a message") };
    assert_eq!(items[..2], [bulk("message"), bulk("__redis__:invalidate")]);
    items[2].clone()
}

#[test]
fn a_read_key_is_invalidated_once_when_another_client_changes_it() {
    let s = Server::start(&[]);
    let mut c = resp3(&s);
    let mut w = s.raw();
    assert_eq!(c.call(&["CLIENT", "TRACKING", "ON"]), ok());
    assert_eq!(w.call(&["SET", "k", "1"]), ok());
    assert_eq!(w.call(&["SET", "unread", "1"]), ok());
    assert_eq!(c.call(&["GET", "k"]), bulk("1"));
    assert_eq!(w.call(&["SET", "k", "2"]), ok());
    assert_eq!(w.call(&["SET", "k", "3"]), ok());
    assert_eq!(w.call(&["SET", "unread", "2"]), ok());
    // One message (the second change finds the key forgotten), then PING's
    // reply: nothing about the key never read.
    assert_eq!(c.call(&["PING"]), invalidate(&["k"]));
    assert_eq!(c.read(), Resp::Simple("PONG".into()));
    assert_eq!(c.call(&["PING"]), Resp::Simple("PONG".into()));
}

#[test]
fn own_changes_are_invalidated_after_the_reply_and_noloop_skips_them() {
    let s = Server::start(&[]);
    let mut c = resp3(&s);
    assert_eq!(c.call(&["CLIENT", "TRACKING", "ON"]), ok());
    assert_eq!(c.call(&["HSET", "h", "f", "1"]), int(1));
    assert_eq!(c.call(&["HGET", "h", "f"]), bulk("1"));
    assert_eq!(c.call(&["HDEL", "h", "f"]), int(1));
    assert_eq!(c.read(), invalidate(&["h"]));
    // A transaction's reply comes whole, its invalidations after it.
    assert_eq!(c.call(&["MSET", "a", "1", "b", "2"]), ok());
    assert_eq!(c.call(&["GET", "a"]), bulk("1"));
    assert_eq!(c.call(&["MULTI"]), ok());
    assert_eq!(c.call(&["INCR", "a"]), Resp::Simple("QUEUED".into()));
    assert_eq!(c.call(&["GET", "b"]), Resp::Simple("QUEUED".into()));
    assert_eq!(c.call(&["EXEC"]), Resp::Array(Some(vec![int(2), bulk("2")])));
    assert_eq!(c.read(), invalidate(&["a"]));

    assert_eq!(c.call(&["CLIENT", "TRACKING", "ON", "NOLOOP"]), ok());
    assert_eq!(c.call(&["GET", "a"]), bulk("2"));
    assert_eq!(c.call(&["SET", "a", "x"]), ok());
    assert_eq!(c.call(&["PING"]), Resp::Simple("PONG".into()));
}

#[test]
fn redirect_to_a_resp2_subscriber_and_broken_redirect() {
    let s = Server::start(&[]);
    let (mut target, id) = redirect_target(&s);
    let mut c = resp3(&s);
    let mut w = s.raw();
    assert_eq!(c.call(&["CLIENT", "TRACKING", "ON", "REDIRECT", &id]), ok());
    assert_eq!(c.call(&["CLIENT", "GETREDIR"]), int(id.parse().unwrap()));
    assert_eq!(c.call(&["MGET", "x", "y"]), Resp::Array(Some(vec![Resp::Null, Resp::Null])));
    assert_eq!(w.call(&["SET", "y", "1"]), ok());
    assert_eq!(redirected_keys(&mut target), bulks(&["y"]));
    // FLUSHALL: a null key list for every tracking client.
    assert_eq!(w.call(&["FLUSHALL"]), ok());
    assert_eq!(redirected_keys(&mut target), Resp::Bulk(None));
}

#[test]
fn the_redirect_client_going_away_is_reported_with_a_push() {
    let s = Server::start(&[]);
    let mut target = s.raw();
    let Resp::Int(id) = target.call(&["CLIENT", "ID"]) else { panic!("CLIENT ID") };
    let mut c = resp3(&s);
    let mut w = s.raw();
    assert_eq!(c.call(&["CLIENT", "TRACKING", "ON", "REDIRECT", &id.to_string()]), ok());
    assert_eq!(c.call(&["GET", "k"]), Resp::Null);
    assert_eq!(target.call(&["QUIT"]), ok());
    assert!(target.is_closed());
    // The server forgets the target once its connection task ends; until
    // then a change is sent to it (and lost with it), as the key is then
    // forgotten: read the key again each round.
    let mut seen = false;
    for _ in 0..2000 {
        assert_eq!(w.call(&["SET", "k", "v"]), ok());
        c.send_cmd(&["GET", "k"]);
        match c.read() {
            Resp::Push(items) => {
                assert_eq!(items, vec![bulk("tracking-redir-broken"), int(id)]);
                assert_eq!(c.read(), bulk("v"));
                seen = true;
                break;
            }
            other => assert_eq!(other, bulk("v")),
        }
    }
    assert!(seen, "no tracking-redir-broken push");
    let Resp::Map(info) = c.call(&["CLIENT", "TRACKINGINFO"]) else { panic!("map") };
    assert_eq!(info[0].1, Resp::Set(vec![bulk("on"), bulk("broken_redirect")]));
    assert_eq!(info[1].1, int(id));
}

#[test]
fn bcast_sends_one_message_per_prefix_and_noloop_filters_own_keys() {
    let s = Server::start(&[]);
    let (mut target, id) = redirect_target(&s);
    let mut c = resp3(&s);
    let mut w = s.raw();
    let on = ["CLIENT", "TRACKING", "ON", "BCAST", "REDIRECT", &id, "PREFIX", "a:", "PREFIX", "b:", "NOLOOP"];
    assert_eq!(c.call(&on), ok());
    assert_eq!(c.call(&["MULTI"]), ok());
    for k in ["a:2", "a:1", "b:1", "c:1"] {
        assert_eq!(c.call(&["INCR", k]), Resp::Simple("QUEUED".into()));
    }
    assert!(matches!(c.call(&["EXEC"]), Resp::Array(Some(_))));
    // Own changes under NOLOOP: nothing. Another client's: per prefix,
    // sorted, each key once.
    assert_eq!(w.call(&["MSET", "b:9", "1", "a:2", "1", "a:1", "1", "c:1", "1", "a:2", "2"]), ok());
    assert_eq!(redirected_keys(&mut target), bulks(&["a:1", "a:2"]));
    assert_eq!(redirected_keys(&mut target), bulks(&["b:9"]));
    // Prefix collisions are refused as Redis words them.
    let Resp::Error(e) = c.call(&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a"]) else { panic!("no error") };
    assert_eq!(
        e,
        "ERR Prefix 'a' overlaps with an existing prefix 'a:'. Prefixes for a single client must not overlap."
    );
    assert_eq!(stat(&mut c, "tracking_total_prefixes"), "2");
    assert_eq!(stat(&mut c, "tracking_clients"), "1");
    let Resp::Map(info) = c.call(&["CLIENT", "TRACKINGINFO"]) else { panic!("map") };
    assert_eq!(info[0].1, Resp::Set(vec![bulk("on"), bulk("bcast"), bulk("noloop")]));
    assert_eq!(info[2].1, bulks(&["a:", "b:"]));
    assert_eq!(c.call(&["CLIENT", "TRACKING", "OFF"]), ok());
    assert_eq!(stat(&mut c, "tracking_total_prefixes"), "0");
    assert_eq!(stat(&mut c, "tracking_clients"), "0");
}

#[test]
fn optin_and_optout_follow_client_caching() {
    let s = Server::start(&[]);
    let mut c = resp3(&s);
    let mut w = s.raw();
    assert_eq!(c.call(&["CLIENT", "TRACKING", "ON", "OPTIN"]), ok());
    assert_eq!(c.call(&["GET", "skipped"]), Resp::Null);
    assert_eq!(c.call(&["CLIENT", "CACHING", "YES"]), ok());
    assert_eq!(c.call(&["GET", "cached"]), Resp::Null);
    // CACHING lasted one command.
    assert_eq!(c.call(&["GET", "skipped2"]), Resp::Null);
    assert_eq!(w.call(&["MSET", "skipped", "1", "cached", "1", "skipped2", "1"]), ok());
    assert_eq!(c.call(&["PING"]), invalidate(&["cached"]));
    assert_eq!(c.read(), Resp::Simple("PONG".into()));

    let Resp::Error(e) = c.call(&["CLIENT", "CACHING", "NO"]) else { panic!("no error") };
    assert_eq!(e, "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
    let Resp::Error(e) = c.call(&["CLIENT", "TRACKING", "ON", "OPTOUT"]) else { panic!("no error") };
    assert!(e.starts_with("ERR You can't switch OPTIN/OPTOUT mode"), "{e}");
    assert_eq!(c.call(&["CLIENT", "TRACKING", "OFF"]), ok());
    assert_eq!(c.call(&["CLIENT", "TRACKING", "ON", "OPTOUT"]), ok());
    assert_eq!(c.call(&["CLIENT", "CACHING", "NO"]), ok());
    assert_eq!(c.call(&["GET", "skipped"]), bulk("1"));
    assert_eq!(c.call(&["GET", "cached"]), bulk("1"));
    assert_eq!(w.call(&["MSET", "skipped", "2", "cached", "2"]), ok());
    assert_eq!(c.call(&["PING"]), invalidate(&["cached"]));
    assert_eq!(c.read(), Resp::Simple("PONG".into()));
}

#[test]
fn option_errors_are_redis_s() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let cases: &[(&[&str], &str)] = &[
        (&["CLIENT", "TRACKING", "ON", "PREFIX", "x"], "ERR PREFIX option requires BCAST mode to be enabled"),
        (&["CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"], "ERR OPTIN and OPTOUT are not compatible with BCAST"),
        (&["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"], "ERR You can't specify both OPTIN mode and OPTOUT mode"),
        (&["CLIENT", "TRACKING", "ON", "REDIRECT", "99999"], "ERR The client ID you want redirect to does not exist"),
        (&["CLIENT", "TRACKING", "MAYBE"], "ERR syntax error"),
        (&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab", "PREFIX", "a"], "ERR Prefix 'ab' overlaps with another provided prefix 'a'. Prefixes for a single client must not overlap."),
        (&["CLIENT", "CACHING", "YES"], "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"),
    ];
    for (cmd, want) in cases {
        assert_eq!(c.call(cmd), Resp::Error((*want).into()), "{cmd:?}");
    }
    assert_eq!(c.call(&["CLIENT", "GETREDIR"]), int(-1));
    assert_eq!(c.call(&["CLIENT", "TRACKING", "ON"]), ok());
    assert_eq!(c.call(&["CLIENT", "GETREDIR"]), int(0));
    let Resp::Error(e) = c.call(&["CLIENT", "TRACKING", "ON", "BCAST"]) else { panic!("no error") };
    assert!(e.starts_with("ERR You can't switch BCAST mode on/off"), "{e}");
    let Resp::Simple(line) = c.call(&["CLIENT", "INFO"]).to_simple() else { panic!("info") };
    assert!(line.contains("flags=t "), "{line}");
}

/// CLIENT INFO's verbatim/bulk line as a simple string.
trait ToSimple {
    fn to_simple(self) -> Resp;
}

impl ToSimple for Resp {
    fn to_simple(self) -> Resp {
        match self {
            Resp::Bulk(Some(b)) | Resp::Verbatim(b) => Resp::Simple(String::from_utf8_lossy(&b).into_owned()),
            other => other,
        }
    }
}

#[test]
fn the_table_limit_invalidates_keys_past_it() {
    let s = Server::start(&[]);
    let mut c = resp3(&s);
    let mut admin = s.raw();
    assert_eq!(c.call(&["CLIENT", "TRACKING", "ON"]), ok());
    for i in 0..250 {
        assert_eq!(c.call(&["GET", &format!("k{i}")]), Resp::Null);
    }
    assert_eq!(stat(&mut admin, "tracking_total_keys"), "250");
    assert_eq!(stat(&mut admin, "tracking_total_items"), "250");
    assert_eq!(admin.call(&["CONFIG", "SET", "tracking-table-max-keys", "10"]), ok());
    // The next command of any client (or the once-a-second cron) trims the
    // table: exactly 240 keys are invalidated, each once.
    assert_eq!(admin.call(&["PING"]), Resp::Simple("PONG".into()));
    let mut keys = std::collections::HashSet::new();
    while keys.len() < 240 {
        let Resp::Push(items) = c.read() else { panic!("not a push") };
        let Resp::Array(Some(k)) = &items[1] else { panic!("no keys") };
        for k in k {
            assert!(keys.insert(common::text(k.clone())), "key invalidated twice");
        }
    }
    assert_eq!(c.call(&["PING"]), Resp::Simple("PONG".into()));
    assert_eq!(stat(&mut admin, "tracking_total_keys"), "10");
}

#[test]
fn a_served_blocked_client_gets_its_invalidation_after_its_reply() {
    let s = Server::start(&[]);
    let mut c = resp3(&s);
    let mut w = s.raw();
    assert_eq!(w.call(&["RPUSH", "dst", "a"]), int(1));
    assert_eq!(c.call(&["CLIENT", "TRACKING", "ON"]), ok());
    assert_eq!(c.call(&["LRANGE", "dst", "0", "-1"]), bulks(&["a"]));
    c.send_cmd(&["BLMOVE", "src", "dst", "LEFT", "LEFT", "0"]);
    common::wait_blocked(&mut w, 1);
    assert_eq!(w.call(&["RPUSH", "src", "foo"]), int(1));
    assert_eq!(c.read(), bulk("foo"));
    assert_eq!(c.read(), invalidate(&["dst"]));
}

#[test]
fn scripts_track_their_declared_keys_only_when_they_read() {
    let s = Server::start(&[]);
    let mut c = resp3(&s);
    let mut w = s.raw();
    assert_eq!(c.call(&["CLIENT", "TRACKING", "ON"]), ok());
    assert_eq!(c.call(&["EVAL", "redis.call('set', 'other', 'x')", "2", "k1", "k2"]), Resp::Null);
    assert_eq!(w.call(&["MSET", "k1", "1", "k2", "1"]), ok());
    assert_eq!(c.call(&["EVAL", "redis.call('get', 'other')", "2", "k1", "k2"]), Resp::Null);
    assert_eq!(w.call(&["MSET", "k2", "2", "k1", "2"]), ok());
    assert_eq!(c.read(), invalidate(&["k2"]));
    assert_eq!(c.read(), invalidate(&["k1"]));
}

#[test]
fn the_redis_crate_receives_invalidations_as_pushes() {
    let s = Server::start(&[]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (mut con, mut rx) = s.push_conn().await;
        let mut other = s.aconn().await;
        let _: () = redis::cmd("CLIENT").arg("TRACKING").arg("ON").query_async(&mut con).await.unwrap();
        let _: () = redis::AsyncCommands::set(&mut other, "user:1", "ann").await.unwrap();
        let v: String = redis::AsyncCommands::get(&mut con, "user:1").await.unwrap();
        assert_eq!(v, "ann");
        let _: () = redis::AsyncCommands::set(&mut other, "user:1", "bob").await.unwrap();
        let p = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
        assert_eq!(p.kind, PushKind::Invalidate);
        assert_eq!(p.data, vec![Value::Array(vec![Value::BulkString(b"user:1".to_vec())])]);
        let _: () = redis::cmd("FLUSHDB").query_async(&mut other).await.unwrap();
        // Nothing tracked any more: a flush still tells every tracking client.
        let p = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
        assert_eq!(p.kind, PushKind::Invalidate);
        assert_eq!(p.data, vec![Value::Nil]);
    });
}
