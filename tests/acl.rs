//! Authentication and ACLs over raw sockets: requirepass, AUTH/HELLO, ACL users with categories, commands, key
//! patterns and passwords, every denial's exact text, the ACL log, and the ACL file.

mod common;

use std::time::{Duration, Instant};

use common::{arr, bulk, err, int, nil, ok, Raw, Resp, Server};

const NOAUTH: &str = "NOAUTH Authentication required.";
const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
const KEY_DENIED: &str = "NOPERM this user has no permissions to access one of the keys used as arguments";

fn denied(cmd: &str) -> Resp {
    err(&format!("NOPERM this user has no permissions to run the '{cmd}' command"))
}

/// Field `name` of an `ACL LOG` entry (RESP2: a flat array of pairs).
fn field(e: &Resp, name: &str) -> Option<Resp> {
    match e {
        Resp::Array(Some(kv)) => kv.chunks(2).find(|p| p[0] == bulk(name)).map(|p| p[1].clone()),
        _ => None,
    }
}

/// A new connection authenticated as `user`.
fn login(s: &Server, user: &str, pass: &str) -> Raw {
    let mut c = s.raw();
    assert_eq!(c.call(&["AUTH", user, pass]), ok(), "AUTH {user}");
    c
}

fn setuser(c: &mut Raw, name: &str, rules: &[&str]) {
    let mut a = vec!["ACL", "SETUSER", name];
    a.extend_from_slice(rules);
    assert_eq!(c.call(&a), ok(), "ACL SETUSER {name} {rules:?}");
}

#[test]
fn requirepass_and_auth() {
    let s = Server::start(&["--requirepass", "s3cret"]);
    let mut c = s.raw();
    for cmd in [&["PING"][..], &["GET", "k"], &["SET", "k", "v"], &["ACL", "WHOAMI"], &["CONFIG", "GET", "port"]] {
        assert_eq!(c.call(cmd), err(NOAUTH), "{cmd:?}");
    }
    assert_eq!(c.call(&["AUTH", "wrong"]), err(WRONGPASS));
    assert_eq!(c.call(&["AUTH", "default", "wrong"]), err(WRONGPASS));
    assert_eq!(c.call(&["AUTH", "nosuchuser", "s3cret"]), err(WRONGPASS));
    assert_eq!(c.call(&["AUTH", "a", "b", "c"]), err("ERR syntax error"));
    assert_eq!(c.call(&["AUTH", "s3cret"]), ok());
    assert_eq!(c.call(&["SET", "k", "v"]), ok());
    assert_eq!(c.call(&["ACL", "WHOAMI"]), bulk("default"));

    // HELLO with AUTH authenticates and switches protocol in one step; without it HELLO is refused.
    let mut h = s.raw();
    let r = h.call(&["HELLO", "3"]);
    assert!(matches!(&r, Resp::Error(e) if e.starts_with("NOAUTH HELLO must be called")), "{r:?}");
    assert_eq!(h.call(&["HELLO", "3", "AUTH", "default", "nope"]), err(WRONGPASS));
    assert!(matches!(h.call(&["HELLO", "3", "AUTH", "default", "s3cret"]), Resp::Map(_)));
    assert_eq!(h.call(&["GET", "k"]), bulk("v"));

    // QUIT needs no authentication.
    let mut q = s.raw();
    assert_eq!(q.call(&["QUIT"]), ok());
    assert!(q.is_closed());

    // CONFIG SET requirepass changes the default user's password; live sessions stay authenticated.
    assert_eq!(c.call(&["CONFIG", "SET", "requirepass", "n3w"]), ok());
    assert_eq!(s.raw().call(&["AUTH", "s3cret"]), err(WRONGPASS));
    assert_eq!(login(&s, "default", "n3w").call(&["GET", "k"]), bulk("v"));
    assert_eq!(c.call(&["GET", "k"]), bulk("v"));
    // An empty requirepass makes the default user nopass again: new connections need no AUTH.
    assert_eq!(c.call(&["CONFIG", "SET", "requirepass", ""]), ok());
    assert_eq!(s.raw().call(&["GET", "k"]), bulk("v"));
}

#[test]
fn auth_without_password_configured() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(
        c.call(&["AUTH", "x"]),
        err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
    );
    assert_eq!(c.call(&["AUTH", "default", "anything"]), ok(), "default is nopass: any password works");
    assert_eq!(c.call(&["AUTH", "ghost", "x"]), err(WRONGPASS));
}

#[test]
fn acl_users_categories_commands_and_keys() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    setuser(&mut admin, "reader", &["on", ">rpass", "~cache:*", "+@read", "-@dangerous"]);
    setuser(&mut admin, "writer", &["on", ">wpass", "allkeys", "+@all", "-@dangerous", "-set", "+flushdb"]);
    assert_eq!(admin.call(&["SET", "cache:1", "one"]), ok());
    assert_eq!(admin.call(&["SET", "secret", "s"]), ok());

    let mut r = login(&s, "reader", "rpass");
    assert_eq!(r.call(&["ACL", "WHOAMI"]), denied("acl|whoami"), "a subcommand is denied by its full name");
    assert_eq!(r.call(&["GET", "cache:1"]), bulk("one"));
    assert_eq!(r.call(&["GET", "secret"]), err(KEY_DENIED));
    assert_eq!(r.call(&["MGET", "cache:1", "secret"]), err(KEY_DENIED));
    assert_eq!(r.call(&["SET", "cache:1", "x"]), denied("set"));
    assert_eq!(r.call(&["KEYS", "*"]), denied("keys"));
    assert_eq!(r.call(&["PING"]), denied("ping"), "@read does not include PING");

    let mut w = login(&s, "writer", "wpass");
    assert_eq!(w.call(&["SET", "a", "1"]), denied("set"));
    assert_eq!(w.call(&["INCR", "a"]), Resp::Int(1));
    assert_eq!(w.call(&["FLUSHALL"]), denied("flushall"));
    assert_eq!(w.call(&["FLUSHDB"]), ok());

    // Changes apply at once to authenticated connections.
    setuser(&mut admin, "reader", &["+ping", "resetkeys", "~other:*"]);
    assert_eq!(r.call(&["PING"]), Resp::Simple("PONG".into()));
    assert_eq!(r.call(&["GET", "cache:1"]), err(KEY_DENIED));
    setuser(&mut admin, "reader", &["allkeys"]);
    assert_eq!(r.call(&["GET", "cache:1"]), Resp::Bulk(None));

    // Read-only and write-only key patterns.
    setuser(&mut admin, "rw", &["on", "nopass", "+@all", "%R~r:*", "%W~w:*"]);
    let mut rw = login(&s, "rw", "whatever");
    assert_eq!(rw.call(&["SET", "w:1", "x"]), ok());
    assert_eq!(rw.call(&["GET", "w:1"]), err(KEY_DENIED));
    assert_eq!(rw.call(&["GET", "r:1"]), Resp::Bulk(None));
    assert_eq!(rw.call(&["SET", "r:1", "x"]), err(KEY_DENIED));

    // First-argument rules: CONFIG GET but not CONFIG SET.
    setuser(&mut admin, "ops", &["on", "nopass", "-@all", "+config|get", "+client"]);
    let mut ops = login(&s, "ops", "x");
    assert!(matches!(ops.call(&["CONFIG", "GET", "maxclients"]), Resp::Array(Some(_))));
    assert_eq!(ops.call(&["CONFIG", "SET", "maxclients", "5"]), denied("config|set"));
    assert!(matches!(ops.call(&["CLIENT", "ID"]), Resp::Int(_)));
}

#[test]
fn passwords_flags_and_user_lifecycle() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    setuser(&mut admin, "u", &["on", ">one", ">two", "+@all", "~*"]);
    assert_eq!(s.raw().call(&["AUTH", "u", "one"]), ok());
    assert_eq!(s.raw().call(&["AUTH", "u", "two"]), ok());
    setuser(&mut admin, "u", &["<one"]);
    assert_eq!(s.raw().call(&["AUTH", "u", "one"]), err(WRONGPASS));
    let r = admin.call(&["ACL", "SETUSER", "u", "<one"]);
    assert_eq!(
        r,
        err("ERR Error in ACL SETUSER modifier '<one': The password you are trying to remove from the user does not exist")
    );
    // #hash: SHA-256 of "three".
    let hash = "8b5b9db0c13db24256c829aa364aa90c6d2eba318b9232a4ab9313b954d3555f";
    setuser(&mut admin, "u", &[&format!("#{hash}")]);
    assert_eq!(s.raw().call(&["AUTH", "u", "three"]), ok());
    let got = admin.call(&["ACL", "GETUSER", "u"]);
    let Resp::Array(Some(fields)) = got else { panic!("{got:?}") };
    let pos = fields.iter().position(|f| *f == bulk("passwords")).expect("passwords field");
    assert!(matches!(&fields[pos + 1], Resp::Array(Some(p)) if p.contains(&bulk(hash)) && p.len() == 2));

    // off: no login; on again: login works. nopass: any password.
    let mut live = login(&s, "u", "two");
    setuser(&mut admin, "u", &["off"]);
    assert_eq!(s.raw().call(&["AUTH", "u", "two"]), err(WRONGPASS));
    assert_eq!(live.call(&["PING"]), Resp::Simple("PONG".into()), "existing sessions keep working");
    setuser(&mut admin, "u", &["on", "nopass"]);
    assert_eq!(s.raw().call(&["AUTH", "u", "anything"]), ok());
    // reset: back to a new user's state (off, no password, no commands).
    setuser(&mut admin, "u", &["reset"]);
    assert_eq!(
        admin.call(&["ACL", "LIST"]),
        Resp::Array(Some(vec![
            bulk("user default on nopass ~* &* +@all"),
            bulk("user u off sanitize-payload resetchannels -@all"),
        ]))
    );
    assert_eq!(admin.call(&["ACL", "USERS"]), Resp::Array(Some(vec![bulk("default"), bulk("u")])));

    // DELUSER disconnects the user's clients.
    setuser(&mut admin, "u", &["on", "nopass", "+@all"]);
    let mut victim = login(&s, "u", "x");
    assert_eq!(admin.call(&["ACL", "DELUSER", "u", "nobody"]), Resp::Int(1));
    assert!(victim.is_closed());
    assert_eq!(admin.call(&["ACL", "DELUSER", "default"]), err("ERR The 'default' user cannot be removed"));
    assert_eq!(admin.call(&["ACL", "GETUSER", "u"]), Resp::Bulk(None));
}

#[test]
fn setuser_errors_and_introspection() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let cases = [
        ("foo", "Syntax error"),
        ("+nosuchcommand", "Unknown command or category name in ACL"),
        ("+@nosuchcategory", "Unknown command or category name in ACL"),
        ("#abc", "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"),
    ];
    for (rule, why) in cases {
        let want = format!("ERR Error in ACL SETUSER modifier '{rule}': {why}");
        assert_eq!(c.call(&["ACL", "SETUSER", "x", rule]), err(&want));
    }
    // A failing rule leaves the user unchanged (here: not created at all).
    assert_eq!(c.call(&["ACL", "GETUSER", "x"]), Resp::Bulk(None));
    let r = c.call(&["ACL", "SETUSER", "x", "~*", "~y"]);
    assert!(matches!(&r, Resp::Error(e) if e.contains("Adding a pattern after the * pattern")), "{r:?}");
    assert_eq!(c.call(&["ACL", "SETUSER", "a b"]), err("ERR Usernames can't contain spaces or null characters"));

    setuser(&mut c, "alice", &["on", ">p1", "~cache:*", "%R~ro:*", "+@read", "-@dangerous", "+set", "-get"]);
    let got = c.call(&["ACL", "GETUSER", "alice"]);
    let Resp::Array(Some(f)) = got else { panic!("{got:?}") };
    assert_eq!(f[0], bulk("flags"));
    assert_eq!(f[1], Resp::Array(Some(vec![bulk("on")])));
    assert_eq!(
        f[4..10],
        [
            bulk("commands"),
            bulk("-@all +@read -@dangerous +set -get"),
            bulk("keys"),
            bulk("~cache:* %R~ro:*"),
            bulk("channels"),
            bulk(""),
        ]
    );
    let Resp::Array(Some(cats)) = c.call(&["ACL", "CAT"]) else { panic!("ACL CAT") };
    assert_eq!(cats.len(), 21);
    assert!(cats.contains(&bulk("dangerous")) && cats.contains(&bulk("read")));
    let Resp::Array(Some(read)) = c.call(&["ACL", "CAT", "read"]) else { panic!("ACL CAT read") };
    assert!(read.contains(&bulk("get")) && !read.contains(&bulk("set")));
    assert_eq!(c.call(&["ACL", "CAT", "nope"]), err("ERR Unknown category 'nope'"));
    assert_eq!(
        c.call(&["ACL", "DRYRUN", "alice", "get", "cache:1"]),
        bulk("This user has no permissions to run the 'get' command")
    );
    assert_eq!(
        c.call(&["ACL", "DRYRUN", "alice", "set", "other", "1"]),
        bulk("This user has no permissions to access the 'other' key")
    );
    assert_eq!(c.call(&["ACL", "DRYRUN", "alice", "set", "cache:1", "1"]), ok());
    assert_eq!(c.call(&["ACL", "DRYRUN", "ghost", "get", "k"]), err("ERR User 'ghost' not found"));
    let Resp::Bulk(Some(p)) = c.call(&["ACL", "GENPASS"]) else { panic!("GENPASS") };
    assert_eq!(p.len(), 64);
    assert_eq!(c.call(&["ACL", "NOSUCH"]), err("ERR unknown subcommand 'NOSUCH'. Try ACL HELP."));
    assert_eq!(c.call(&["ACL", "GETUSER"]), err("ERR wrong number of arguments for 'acl|getuser' command"));
    let r = c.call(&["ACL", "LOAD"]);
    assert!(
        matches!(&r, Resp::Error(e) if e.starts_with("ERR This Redis instance is not configured to use an ACL file"))
    );
}

#[test]
fn denials_are_logged_and_abort_transactions() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    setuser(&mut admin, "limited", &["on", "nopass", "+@all", "-flushall", "~app:*"]);
    let mut c = login(&s, "limited", "x");
    assert_eq!(c.call(&["MULTI"]), ok());
    assert_eq!(c.call(&["SET", "app:1", "x"]), Resp::Simple("QUEUED".into()));
    assert_eq!(c.call(&["FLUSHALL"]), denied("flushall"));
    assert_eq!(c.call(&["EXEC"]), err("EXECABORT Transaction discarded because of previous errors."));
    assert_eq!(c.call(&["GET", "other"]), err(KEY_DENIED));
    assert_eq!(s.raw().call(&["AUTH", "limited2", "bad"]), err(WRONGPASS));
    let Resp::Array(Some(entries)) = admin.call(&["ACL", "LOG"]) else { panic!("ACL LOG") };
    assert_eq!(entries.len(), 3);
    assert_eq!(field(&entries[0], "reason"), Some(bulk("auth")));
    assert_eq!(field(&entries[0], "username"), Some(bulk("limited2")));
    assert_eq!(field(&entries[1], "reason"), Some(bulk("key")));
    assert_eq!(field(&entries[1], "object"), Some(bulk("other")));
    assert_eq!(field(&entries[2], "reason"), Some(bulk("command")));
    assert_eq!(field(&entries[2], "context"), Some(bulk("multi")));
    assert_eq!(field(&entries[2], "object"), Some(bulk("flushall")));
    assert_eq!(admin.call(&["ACL", "LOG", "RESET"]), ok());
    assert_eq!(admin.call(&["ACL", "LOG"]), Resp::Array(Some(vec![])));
}

#[test]
fn aclfile_load_save_and_startup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("users.acl");
    std::fs::write(&file, "user default on nopass ~* &* +@all\nuser app on >apppass ~app:* +@all -@dangerous\n")
        .expect("write aclfile");
    let f = file.to_str().expect("path");
    let s = Server::start(&["--aclfile", f]);
    let mut app = login(&s, "app", "apppass");
    assert_eq!(app.call(&["SET", "app:k", "v"]), ok());
    assert_eq!(app.call(&["SET", "k", "v"]), err(KEY_DENIED));

    let mut admin = s.raw();
    setuser(&mut admin, "extra", &["on", ">xpass", "+get", "~*"]);
    assert_eq!(admin.call(&["ACL", "SAVE"]), ok());
    let saved = std::fs::read_to_string(&file).expect("read saved");
    assert!(saved.contains("user extra on #"), "{saved}");
    assert!(saved.contains("user app on #"), "{saved}");

    // A broken file is refused as a whole and changes nothing.
    std::fs::write(&file, "user x on >a ~* +@all\nbogus line\nuser y +nosuch\n").expect("write");
    let r = admin.call(&["ACL", "LOAD"]);
    let want = format!(
        "ERR {f}:2 should start with user keyword followed by the username. {f}:3: Error in applying operation \
         '+nosuch': Unknown command or category name in ACL. WARNING: ACL errors detected, no change to the \
         previously active ACL rules was performed"
    );
    assert_eq!(r, err(&want));
    assert_eq!(login(&s, "extra", "xpass").call(&["GET", "app:k"]), bulk("v"));

    // A good file replaces every user; clients of the old users are disconnected.
    std::fs::write(&file, "user newbie on >n ~* +@all\n").expect("write");
    assert_eq!(admin.call(&["ACL", "LOAD"]), ok());
    assert!(app.is_closed());
    assert_eq!(admin.call(&["ACL", "USERS"]), Resp::Array(Some(vec![bulk("default"), bulk("newbie")])));
    assert_eq!(s.raw().call(&["AUTH", "app", "apppass"]), err(WRONGPASS));

    // At start, a broken ACL file stops the server.
    std::fs::write(&file, "nonsense\n").expect("write");
    let out = std::process::Command::new(common::server_bin())
        .args(["--port", &common::free_port().to_string(), "--aclfile", f, "--save", ""])
        .args(["--dir", dir.path().to_str().expect("dir")])
        .output()
        .expect("run server");
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("should start with user keyword"), "{text}");
}

#[test]
fn aclfile_users_with_requirepass_default() {
    // A file without a default user gets Redis's default one (nopass), requirepass aside.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("users.acl");
    std::fs::write(&file, "user ro on >ro ~* +@read\n").expect("write");
    let s = Server::start(&["--aclfile", file.to_str().expect("path")]);
    let mut c = s.raw();
    assert_eq!(c.call(&["SET", "k", "v"]), ok());
    let mut ro = login(&s, "ro", "ro");
    assert_eq!(ro.call(&["GET", "k"]), bulk("v"));
    assert_eq!(ro.call(&["DEL", "k"]), denied("del"));
}

#[test]
fn wrong_passwords_take_no_longer_than_right_ones_by_much() {
    // Passwords are hashed and the hashes compared in constant time; this only checks that failures are not
    // slowed down or sped up by orders of magnitude (a smoke test: timing on a shared machine is noisy).
    let s = Server::start(&["--requirepass", "correct horse battery staple"]);
    let mut c = s.raw();
    let time = |c: &mut Raw, pass: &str| {
        let t = Instant::now();
        for _ in 0..200 {
            let _ = c.call(&["AUTH", pass]);
        }
        t.elapsed()
    };
    let wrong = time(&mut c, "x");
    let right = time(&mut c, "correct horse battery staple");
    assert!(wrong < right * 20 + Duration::from_millis(500) && right < wrong * 20 + Duration::from_millis(500));
}

/// Subcommands of container commands are ACL objects of their own, as in
/// Redis 7.0: named `container|sub` in denials, the ACL log and DRYRUN;
/// rules naming an unknown subcommand, a first argument of a subcommand, or
/// denying a plain command's first argument are refused; a rule that
/// changes nothing is not shown; ACL CAT lists subcommands.
#[test]
fn subcommand_rules_names_and_errors() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    let refused = |c: &mut Raw, rule: &str, why: &str| {
        let want = format!("ERR Error in ACL SETUSER modifier '{rule}': {why}");
        assert_eq!(c.call(&["ACL", "SETUSER", "x", rule]), err(&want), "{rule}");
    };
    refused(&mut admin, "+config|get|appendonly", "Allowing first-arg of a subcommand is not supported");
    for rule in ["+config|asdf", "-config|asdf", "+get|key1|key2", "-get|key1|key2", "-select|0"] {
        refused(&mut admin, rule, "Unknown command or category name in ACL");
    }

    setuser(&mut admin, "u", &["on", "nopass", "~*", "+@all", "-client", "+client|id", "+client|setname"]);
    let commands = |c: &mut Raw, user: &str| {
        let r = c.call(&["ACL", "GETUSER", user]);
        let Resp::Array(Some(f)) = r else { panic!("{r:?}") };
        f[5].clone()
    };
    assert_eq!(commands(&mut admin, "u"), bulk("+@all -client +client|id +client|setname"));
    let mut u = login(&s, "u", "x");
    assert!(matches!(u.call(&["CLIENT", "ID"]), Resp::Int(_)));
    assert_eq!(u.call(&["CLIENT", "SETNAME", "foo"]), ok());
    assert_eq!(u.call(&["CLIENT", "KILL", "TYPE", "master"]), denied("client|kill"));
    // As in Redis, an unknown subcommand is reported as such, not as a denial.
    assert_eq!(u.call(&["CLIENT", "NOSUCH"]), err("ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP."));

    // `+@all +client|id` changes nothing: Redis 7.0 shows just `+@all`.
    setuser(&mut admin, "bob", &["+memory|doctor"]);
    assert_eq!(commands(&mut admin, "bob"), bulk("-@all +memory|doctor"));
    setuser(&mut admin, "bob", &["+memory"]);
    assert_eq!(commands(&mut admin, "bob"), bulk("-@all +memory"));
    setuser(&mut admin, "bob", &["+@all", "+client|id"]);
    assert_eq!(commands(&mut admin, "bob"), bulk("+@all"));
    setuser(&mut admin, "alice", &["on", "nopass", "~*", "+@all", "-memory|doctor"]);
    assert_eq!(commands(&mut admin, "alice"), bulk("+@all -memory|doctor"));
    let mut alice = login(&s, "alice", "x");
    assert_eq!(alice.call(&["MEMORY", "DOCTOR"]), denied("memory|doctor"));
    assert!(matches!(alice.call(&["MEMORY", "STATS"]), Resp::Array(Some(_))));
    setuser(&mut admin, "alice", &["-memory"]);
    assert_eq!(alice.call(&["MEMORY", "STATS"]), denied("memory|stats"));

    let Resp::Array(Some(entries)) = admin.call(&["ACL", "LOG", "1"]) else { panic!("ACL LOG") };
    assert_eq!(field(&entries[0], "object"), Some(bulk("memory|stats")));
    assert_eq!(
        admin.call(&["ACL", "DRYRUN", "alice", "memory", "doctor"]),
        bulk("This user has no permissions to run the 'memory|doctor' command")
    );
    let Resp::Array(Some(scripting)) = admin.call(&["ACL", "CAT", "scripting"]) else { panic!("ACL CAT") };
    assert!(scripting.contains(&bulk("function|list")), "{scripting:?}");
    assert_eq!(
        admin.call(&["ACL", "CAT", "a", "b"]),
        err("ERR unknown subcommand or wrong number of arguments for 'CAT'. Try ACL HELP.")
    );
}

/// Key permissions follow each key's spec flags as in Redis 7.0: read for
/// an accessed key, write for an inserted, deleted or updated one, neither
/// for metadata (OBJECT ENCODING), so `%R~`/`%W~` users get what Redis
/// gives them (the answers below are redis-server 7.0.15's).
#[test]
fn key_permissions_follow_key_spec_flags() {
    let s = Server::start(&[]);
    let mut admin = s.raw();
    assert_eq!(admin.call(&["ACL", "SETUSER", "kf", "on", "nopass", "%R~src*", "%W~dst*", "~obj*", "+@all"]), ok());
    let mut c = s.raw();
    assert_eq!(c.call(&["AUTH", "kf", "x"]), ok());
    let denied = err(KEY_DENIED);
    assert_eq!(c.call(&["COPY", "src1", "dst1"]), int(0));
    assert_eq!(c.call(&["LMOVE", "src1", "dst1", "LEFT", "RIGHT"]), denied);
    assert_eq!(c.call(&["SET", "dst1", "x"]), ok());
    assert_eq!(c.call(&["GET", "dst1"]), denied);
    assert_eq!(c.call(&["SET", "dst1", "v", "GET"]), denied);
    assert_eq!(c.call(&["OBJECT", "ENCODING", "obj1"]), nil());
    assert_eq!(c.call(&["OBJECT", "ENCODING", "src1"]), nil());
    assert_eq!(c.call(&["BITFIELD", "src1", "GET", "u8", "0"]), arr(vec![int(0)]));
    assert_eq!(c.call(&["BITFIELD", "dst1", "SET", "u8", "0", "1"]), denied);
    assert_eq!(c.call(&["SORT", "src1", "STORE", "dst1"]), int(0));
}
