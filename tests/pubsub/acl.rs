//! ACL channel permissions (Redis 7.0): `&pattern`, `allchannels`,
//! `resetchannels` and `acl-pubsub-default`; PUBLISH/SPUBLISH and
//! (S)SUBSCRIBE channels matched as globs, PSUBSCRIBE patterns literally;
//! the NOPERM text, ACL LOG, DRYRUN, MULTI and scripts; and subscribers
//! disconnected when ACL SETUSER or ACL LOAD takes their channels away.

use super::common::{arr, bulk, err, int, ok, Raw, Resp, Server};
use super::{assert_closed, confirm};

const CHANNEL_DENIED: &str = "NOPERM this user has no permissions to access one of the channels used as arguments";

fn setuser(c: &mut Raw, name: &str, rules: &[&str]) {
    let mut a = vec!["ACL", "SETUSER", name];
    a.extend_from_slice(rules);
    assert_eq!(c.call(&a), ok(), "ACL SETUSER {name} {rules:?}");
}

fn login(s: &Server, user: &str) -> Raw {
    let mut c = s.raw();
    assert_eq!(c.call(&["AUTH", user, "pw"]), ok(), "AUTH {user}");
    c
}

/// A field of `ACL GETUSER` (RESP2: a flat array of pairs).
fn getuser(c: &mut Raw, user: &str, field: &str) -> Resp {
    let Resp::Array(Some(kv)) = c.call(&["ACL", "GETUSER", user]) else { panic!("ACL GETUSER {user}") };
    kv.chunks(2).find(|p| p[0] == bulk(field)).map(|p| p[1].clone()).expect("field")
}

/// The `ACL LIST` line of `user`.
fn acl_list_line(c: &mut Raw, user: &str) -> String {
    let lines = super::common::strings(c.call(&["ACL", "LIST"]));
    lines.into_iter().find(|l| l.starts_with(&format!("user {user} "))).expect("user in ACL LIST")
}

/// A field of an `ACL LOG` entry.
fn log_field(e: &Resp, name: &str) -> Resp {
    let Resp::Array(Some(kv)) = e else { panic!("{e:?}") };
    kv.chunks(2).find(|p| p[0] == bulk(name)).map(|p| p[1].clone()).expect("log field")
}

/// Whether `c` still answers (a subscriber's PING).
fn alive(c: &mut Raw) -> bool {
    c.call(&["PING", "alive"]) == arr(vec![bulk("pong"), bulk("alive")])
}

#[test]
fn new_users_have_no_channels_and_the_default_user_all() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    assert_eq!(
        admin.call(&["CONFIG", "GET", "acl-pubsub-default"]),
        arr(vec![bulk("acl-pubsub-default"), bulk("resetchannels")])
    );
    setuser(&mut admin, "u", &["on", ">pw", "+@all", "~*"]);
    assert_eq!(getuser(&mut admin, "u", "channels"), bulk(""));
    assert_eq!(getuser(&mut admin, "default", "channels"), bulk("&*"));
    assert!(acl_list_line(&mut admin, "u").ends_with(" ~* resetchannels +@all"));
    assert_eq!(acl_list_line(&mut admin, "default"), "user default on nopass ~* &* +@all");

    let mut u = login(&s, "u");
    assert_eq!(u.call(&["SET", "k", "v"]), ok(), "other commands are not affected");
    assert_eq!(u.call(&["PUBLISH", "foo", "bar"]), err(CHANNEL_DENIED));
    assert_eq!(u.call(&["SPUBLISH", "foo", "bar"]), err(CHANNEL_DENIED));
    assert_eq!(u.call(&["SUBSCRIBE", "foo"]), err(CHANNEL_DENIED));
    assert_eq!(u.call(&["SSUBSCRIBE", "foo"]), err(CHANNEL_DENIED));
    assert_eq!(u.call(&["PSUBSCRIBE", "foo*"]), err(CHANNEL_DENIED));
    // Leaving and looking are always allowed.
    u.send_cmd(&["UNSUBSCRIBE", "foo"]);
    assert_eq!(u.read(), confirm("unsubscribe", "foo", 0));
    assert_eq!(u.call(&["PUBSUB", "NUMSUB", "foo"]), arr(vec![bulk("foo"), int(0)]));
    assert_eq!(admin.call(&["PUBLISH", "foo", "bar"]), int(0));
}

#[test]
fn channel_patterns_globs_and_literal_psubscribe() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    setuser(&mut admin, "ps", &["on", ">pw", "+@all", "~*", "resetchannels", "&foo:1", "&bar:*"]);
    assert_eq!(getuser(&mut admin, "ps", "channels"), bulk("&foo:1 &bar:*"));
    assert!(acl_list_line(&mut admin, "ps").ends_with(" ~* resetchannels &foo:1 &bar:* +@all"));
    let mut c = login(&s, "ps");
    assert_eq!(c.call(&["PUBLISH", "foo:1", "m"]), int(0));
    assert_eq!(c.call(&["PUBLISH", "bar:2", "m"]), int(0));
    assert_eq!(c.call(&["SPUBLISH", "bar:2", "m"]), int(0));
    assert_eq!(c.call(&["PUBLISH", "zap:3", "m"]), err(CHANNEL_DENIED));
    assert_eq!(c.call(&["PUBLISH", "foo:10", "m"]), err(CHANNEL_DENIED));
    assert_eq!(c.call(&["SPUBLISH", "zap:3", "m"]), err(CHANNEL_DENIED));

    // One forbidden channel refuses the whole command: nothing subscribed.
    assert_eq!(c.call(&["SUBSCRIBE", "foo:1", "zap:3"]), err(CHANNEL_DENIED));
    assert_eq!(admin.call(&["PUBSUB", "NUMSUB", "foo:1"]), arr(vec![bulk("foo:1"), int(0)]));
    c.send_cmd(&["SUBSCRIBE", "foo:1", "bar:2"]);
    assert_eq!(c.read(), confirm("subscribe", "foo:1", 1));
    assert_eq!(c.read(), confirm("subscribe", "bar:2", 2));
    c.send_cmd(&["SSUBSCRIBE", "bar:x"]);
    assert_eq!(c.read(), confirm("ssubscribe", "bar:x", 1));
    // A pattern must be one of the user's patterns, character for character.
    c.send_cmd(&["PSUBSCRIBE", "bar:*"]);
    assert_eq!(c.read(), confirm("psubscribe", "bar:*", 3));
    for p in ["bar:baz", "bar:1*", "*", "foo:*"] {
        assert_eq!(c.call(&["PSUBSCRIBE", p]), err(CHANNEL_DENIED), "PSUBSCRIBE {p}");
    }
    c.send_cmd(&["PSUBSCRIBE", "foo:1"]);
    assert_eq!(c.read(), confirm("psubscribe", "foo:1", 4));
    assert_eq!(admin.call(&["PUBLISH", "bar:2", "hello"]), int(2));
    assert_eq!(c.read(), super::message("bar:2", "hello"));
    assert_eq!(c.read(), super::pmessage("bar:*", "bar:2", "hello"));
}

#[test]
fn denials_are_logged_dry_run_transactions_and_scripts() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    setuser(&mut admin, "ps", &["on", ">pw", "+@all", "~*", "&allowed"]);
    let mut c = login(&s, "ps");
    assert_eq!(c.call(&["PUBLISH", "secret", "m"]), err(CHANNEL_DENIED));
    assert_eq!(c.call(&["PSUBSCRIBE", "sec*"]), err(CHANNEL_DENIED));
    assert_eq!(c.call(&["MULTI"]), ok());
    assert_eq!(c.call(&["PUBLISH", "allowed", "m"]), Resp::Simple("QUEUED".into()));
    assert_eq!(c.call(&["SUBSCRIBE", "allowed", "other"]), err(CHANNEL_DENIED));
    assert_eq!(c.call(&["EXEC"]), err("EXECABORT Transaction discarded because of previous errors."));
    let r = c.call(&["EVAL", "return redis.call('publish', 'secret', 'm')", "0"]);
    let Resp::Error(e) = &r else { panic!("{r:?}") };
    assert!(e.contains("The user executing the script can't publish to the channel mentioned in the command"), "{e}");

    let Resp::Array(Some(entries)) = admin.call(&["ACL", "LOG"]) else { panic!("ACL LOG") };
    let summary: Vec<[Resp; 3]> =
        entries.iter().map(|e| ["reason", "context", "object"].map(|f| log_field(e, f))).collect();
    assert_eq!(
        summary,
        [
            [bulk("channel"), bulk("lua"), bulk("secret")],
            [bulk("channel"), bulk("multi"), bulk("other")],
            [bulk("channel"), bulk("toplevel"), bulk("sec*")],
            [bulk("channel"), bulk("toplevel"), bulk("secret")],
        ]
    );
    assert_eq!(log_field(&entries[0], "username"), bulk("ps"));

    assert_eq!(
        admin.call(&["ACL", "DRYRUN", "ps", "PUBLISH", "secret", "m"]),
        bulk("This user has no permissions to access the 'secret' channel")
    );
    assert_eq!(
        admin.call(&["ACL", "DRYRUN", "ps", "SUBSCRIBE", "allowed", "x"]),
        bulk("This user has no permissions to access the 'x' channel")
    );
    assert_eq!(admin.call(&["ACL", "DRYRUN", "ps", "SUBSCRIBE", "allowed"]), ok());
    assert_eq!(admin.call(&["ACL", "DRYRUN", "ps", "PUNSUBSCRIBE", "anything"]), ok());
    assert_eq!(admin.call(&["ACL", "DRYRUN", "default", "PSUBSCRIBE", "*"]), ok());
}

#[test]
fn acl_pubsub_default_applies_to_new_users_and_reset() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.acl");
    // A hand-written line without channel rules: the setting decides.
    std::fs::write(&file, "user filed on >pw ~* +@all\n").unwrap();
    let s = Server::start(&["--aclfile", file.to_str().unwrap(), "--set", "acl-pubsub-default=allchannels"]);
    let mut admin = s.raw();
    assert_eq!(getuser(&mut admin, "filed", "channels"), bulk("&*"));
    assert_eq!(login(&s, "filed").call(&["PUBLISH", "any", "m"]), int(0));
    setuser(&mut admin, "fresh", &["on", ">pw", "+@all", "~*"]);
    assert_eq!(getuser(&mut admin, "fresh", "channels"), bulk("&*"));
    let r = admin.call(&["ACL", "SETUSER", "other", "&test"]);
    assert_eq!(
        r,
        err("ERR Error in ACL SETUSER modifier '&test': Adding a pattern after the * pattern (or the 'allchannels' \
             flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of \
             channels")
    );
    setuser(&mut admin, "resetme", &["resetchannels", "&x", "reset"]);
    assert_eq!(getuser(&mut admin, "resetme", "channels"), bulk("&*"), "reset gives the default's channels");

    assert_eq!(admin.call(&["CONFIG", "SET", "acl-pubsub-default", "resetchannels"]), ok());
    assert_eq!(getuser(&mut admin, "fresh", "channels"), bulk("&*"), "existing users keep theirs");
    setuser(&mut admin, "later", &["on", ">pw", "+@all", "~*"]);
    assert_eq!(getuser(&mut admin, "later", "channels"), bulk(""));
    assert_eq!(login(&s, "later").call(&["PUBLISH", "any", "m"]), err(CHANNEL_DENIED));
    setuser(&mut admin, "resetme", &["reset"]);
    assert_eq!(getuser(&mut admin, "resetme", "channels"), bulk(""));
    // The default user resets like any other.
    setuser(&mut admin, "default", &["reset", "on", "nopass", "~*", "+@all"]);
    assert_eq!(admin.call(&["SUBSCRIBE", "foo"]), err(CHANNEL_DENIED));
    assert_eq!(admin.call(&["PUBLISH", "foo", "m"]), err(CHANNEL_DENIED));
    setuser(&mut admin, "default", &["allchannels"]);
    assert_eq!(admin.call(&["PUBLISH", "foo", "m"]), int(0));

    let r = admin.call(&["CONFIG", "SET", "acl-pubsub-default", "some"]);
    assert!(matches!(&r, Resp::Error(e) if e.contains("acl-pubsub-default")), "{r:?}");
    assert_eq!(
        admin.call(&["CONFIG", "GET", "acl-pubsub-default"]),
        arr(vec![bulk("acl-pubsub-default"), bulk("resetchannels")])
    );
}

#[test]
fn subscribers_are_disconnected_when_their_channels_are_revoked() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    setuser(&mut admin, "ps", &["on", ">pw", "+@all", "~*", "resetchannels", "&foo:1", "&bar:*", "&orders"]);
    setuser(&mut admin, "bystander", &["on", ">pw", "+@all", "~*", "&foo:1"]);

    let subscribed = |args: &[&str]| {
        let mut c = login(&s, "ps");
        c.send_cmd(args);
        assert!(matches!(c.read(), Resp::Array(Some(_))), "{args:?}");
        c
    };
    let mut channel = subscribed(&["SUBSCRIBE", "foo:1"]);
    let mut shard = subscribed(&["SSUBSCRIBE", "orders"]);
    let mut pattern = subscribed(&["PSUBSCRIBE", "bar:*"]);
    let mut globbed = subscribed(&["SUBSCRIBE", "bar:7"]);
    let mut idle = login(&s, "ps");
    let mut other = login(&s, "bystander");
    other.send_cmd(&["SUBSCRIBE", "foo:1"]);
    assert_eq!(other.read(), confirm("subscribe", "foo:1", 1));

    // Keeping every pattern (and adding some) disconnects no one.
    setuser(&mut admin, "ps", &["resetchannels", "&foo:1", "&bar:*", "&orders", "&baz:qaz", "&zoo:*"]);
    for c in [&mut channel, &mut shard, &mut pattern, &mut globbed] {
        assert!(alive(c));
    }
    // `bar:*` becomes `bar:?`: the pattern subscriber is closed (a pattern
    // must match literally); `bar:7` still matches as a channel.
    setuser(&mut admin, "ps", &["resetchannels", "&foo:1", "&bar:?", "&orders"]);
    assert_closed(&mut pattern, "PSUBSCRIBE bar:* after &bar:* was removed");
    assert!(alive(&mut globbed) && alive(&mut channel) && alive(&mut shard));
    // Shard channels count too.
    setuser(&mut admin, "ps", &["resetchannels", "&foo:1", "&bar:?"]);
    assert_closed(&mut shard, "SSUBSCRIBE orders after &orders was removed");
    // Everything goes: the remaining subscribers are closed; the client of
    // the same user without subscriptions, and other users', stay.
    setuser(&mut admin, "ps", &["resetchannels"]);
    assert_closed(&mut channel, "SUBSCRIBE foo:1 after resetchannels");
    assert_closed(&mut globbed, "SUBSCRIBE bar:7 after resetchannels");
    assert_eq!(idle.call(&["PUBLISH", "foo:1", "m"]), err(CHANNEL_DENIED));
    assert!(alive(&mut other));
    assert_eq!(
        admin.call(&["PUBSUB", "NUMSUB", "foo:1", "bar:7"]),
        arr(vec![bulk("foo:1"), int(1), bulk("bar:7"), int(0)])
    );
    assert_eq!(admin.call(&["PUBSUB", "NUMPAT"]), int(0));

    // From allchannels to a list: any subscription outside it is closed.
    setuser(&mut admin, "ps", &["allchannels"]);
    let mut anywhere = subscribed(&["PSUBSCRIBE", "foo"]);
    let mut kept = subscribed(&["SUBSCRIBE", "keep"]);
    setuser(&mut admin, "ps", &["resetchannels", "&keep"]);
    assert_closed(&mut anywhere, "PSUBSCRIBE foo after allchannels was revoked");
    assert!(alive(&mut kept));
    // Gaining allchannels never disconnects.
    setuser(&mut admin, "ps", &["allchannels"]);
    assert!(alive(&mut kept));

    // A RESP3 subscriber revoking its own channels gets its +OK, then is closed.
    let mut me = login(&s, "ps");
    assert!(matches!(me.call(&["HELLO", "3"]), Resp::Map(_)));
    me.send_cmd(&["SUBSCRIBE", "mine"]);
    assert!(matches!(me.read(), Resp::Push(_)));
    assert_eq!(me.call(&["ACL", "SETUSER", "ps", "resetchannels"]), ok());
    assert_closed(&mut me, "the client that revoked its own channel");
    assert_closed(&mut kept, "SUBSCRIBE keep after resetchannels");

    // ACL DELUSER closes every client of the user.
    assert_eq!(admin.call(&["ACL", "DELUSER", "bystander"]), int(1));
    assert_closed(&mut other, "a subscriber of a deleted user");
    assert_eq!(idle.call(&["PING"]), Resp::Simple("PONG".into()));
}

#[test]
fn acl_load_disconnects_default_subscribers_of_revoked_channels() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.acl");
    std::fs::write(&file, "user default on nopass ~* &* +@all\n").unwrap();
    let s = Server::start(&["--aclfile", file.to_str().unwrap()]);
    let mut admin = s.raw();
    let mut news = s.raw();
    news.send_cmd(&["SUBSCRIBE", "news"]);
    assert_eq!(news.read(), confirm("subscribe", "news", 1));
    let mut pattern = s.raw();
    pattern.send_cmd(&["PSUBSCRIBE", "n*"]);
    assert_eq!(pattern.read(), confirm("psubscribe", "n*", 1));

    std::fs::write(&file, "user default on nopass ~* resetchannels &news +@all\n").unwrap();
    assert_eq!(admin.call(&["ACL", "LOAD"]), ok());
    assert_closed(&mut pattern, "PSUBSCRIBE n* once the file allows only &news");
    assert!(alive(&mut news));
    assert_eq!(admin.call(&["PUBLISH", "news", "m"]), int(1));
    assert_eq!(news.read(), super::message("news", "m"));
    assert_eq!(admin.call(&["PUBLISH", "other", "m"]), err(CHANNEL_DENIED));
}
