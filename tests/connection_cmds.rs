//! Connection commands against the real binary: PING/ECHO, SELECT,
//! HELLO/RESP3, CLIENT (ID, names, LIST/INFO, KILL, REPLY, NO-TOUCH,
//! SETINFO), TIME, AUTH without a password, QUIT/RESET. Server-wide
//! commands are in `server_cmds.rs`.

mod common;

use common::{arr, bulk, err, int, ok, status, strings, text, wait_for, Raw, Resp, Server};

#[test]
fn ping_echo() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["PING"]), status("PONG"));
    assert_eq!(r.call(&["PING", "hello world"]), bulk("hello world"));
    assert_eq!(r.call(&["PING", "a", "b"]), err("ERR wrong number of arguments for 'ping' command"));
    assert_eq!(r.call(&["ECHO", "x\r\ny"]), bulk("x\r\ny"));
    assert_eq!(r.call(&["ECHO"]), err("ERR wrong number of arguments for 'echo' command"));
    let mut c = s.conn();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn select_isolates_sixteen_databases() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    for db in 0..16 {
        assert_eq!(r.call(&["SELECT", &db.to_string()]), ok());
        assert_eq!(r.call(&["SET", "k", &format!("v{db}")]), ok());
        assert_eq!(r.call(&["SET", &format!("only{db}"), "1"]), ok());
    }
    for db in 0..16 {
        assert_eq!(r.call(&["SELECT", &db.to_string()]), ok());
        assert_eq!(r.call(&["GET", "k"]), bulk(&format!("v{db}")));
        assert_eq!(r.call(&["DBSIZE"]), int(2));
        assert_eq!(r.call(&["EXISTS", &format!("only{}", (db + 1) % 16)]), int(0));
    }
    assert_eq!(r.call(&["SELECT", "16"]), err("ERR DB index is out of range"));
    assert_eq!(r.call(&["SELECT", "-1"]), err("ERR DB index is out of range"));
    assert_eq!(r.call(&["SELECT", "abc"]), err("ERR value is not an integer or out of range"));
    assert_eq!(r.call(&["GET", "k"]), bulk("v15"), "a failed SELECT keeps the database");
    // Another connection starts in db 0.
    assert_eq!(s.raw().call(&["GET", "k"]), bulk("v0"));
    let info = text(r.call(&["INFO", "keyspace"]));
    for db in 0..16 {
        assert!(info.contains(&format!("db{db}:keys=2,expires=0")), "{info}");
    }
}

#[test]
fn hello_negotiates_resp3() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let Resp::Int(id) = r.call(&["CLIENT", "ID"]) else { panic!() };
    // HELLO without a version answers in the current protocol (RESP2: a flat array).
    let Resp::Array(Some(hello2)) = r.call(&["HELLO"]) else { panic!("HELLO on RESP2 is a flat array") };
    assert_eq!(hello2.len(), 14);
    assert_eq!((&hello2[0], &hello2[1]), (&bulk("server"), &bulk("redis")));
    assert_eq!((&hello2[4], &hello2[5]), (&bulk("proto"), &int(2)));
    let Resp::Map(m) = r.call(&["HELLO", "3"]) else { panic!("HELLO 3 answers a map") };
    let keys: Vec<String> = m.iter().map(|(k, _)| text(k.clone())).collect();
    assert_eq!(keys, ["server", "version", "proto", "id", "mode", "role", "modules"]);
    assert_eq!(m[0].1, bulk("redis"));
    assert!(text(m[1].1.clone()).starts_with("7."));
    assert_eq!(m[2].1, int(3));
    assert_eq!(m[3].1, int(id));
    assert_eq!(m[4].1, bulk("standalone"));
    assert_eq!(m[5].1, bulk("master"));
    assert_eq!(m[6].1, arr(vec![]));
    // RESP3 types from now on.
    assert_eq!(r.call(&["GET", "nokey"]), Resp::Null);
    assert!(matches!(r.call(&["CONFIG", "GET", "hz"]), Resp::Map(_)));
    assert!(matches!(r.call(&["INFO", "server"]), Resp::Verbatim(_)));
    assert_eq!(r.call(&["HELLO", "4"]), err("NOPROTO unsupported protocol version"));
    assert_eq!(r.call(&["HELLO", "1"]), err("NOPROTO unsupported protocol version"));
    assert_eq!(r.call(&["HELLO", "abc"]), err("ERR Protocol version is not an integer or out of range"));
    assert_eq!(r.call(&["HELLO", "3", "FOO"]), err("ERR Syntax error in HELLO option 'FOO'"));
    assert_eq!(r.call(&["GET", "nokey"]), Resp::Null, "a failed HELLO keeps the protocol");
    let Resp::Map(_) = r.call(&["HELLO", "3", "SETNAME", "myname"]) else { panic!() };
    assert_eq!(r.call(&["CLIENT", "GETNAME"]), bulk("myname"));
    // Back to RESP2.
    assert!(matches!(r.call(&["HELLO", "2"]), Resp::Array(Some(_))));
    assert_eq!(r.call(&["GET", "nokey"]), Resp::Bulk(None));
    // The redis crate's RESP3 connection.
    let mut c3 = s.conn3();
    let v: redis::Value = redis::cmd("GET").arg("nokey").query(&mut c3).unwrap();
    assert_eq!(v, redis::Value::Nil);
    let v: redis::Value = redis::cmd("CONFIG").arg("GET").arg("hz").query(&mut c3).unwrap();
    assert!(matches!(v, redis::Value::Map(_)), "{v:?}");
}

#[test]
fn client_id_name_list_info() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    let Resp::Int(ida) = a.call(&["CLIENT", "ID"]) else { panic!() };
    let mut b = s.raw();
    let Resp::Int(idb) = b.call(&["CLIENT", "ID"]) else { panic!() };
    assert!(idb > ida, "ids increase");
    assert_eq!(a.call(&["CLIENT", "GETNAME"]), Resp::Bulk(None));
    assert_eq!(a.call(&["CLIENT", "SETNAME", "alpha"]), ok());
    assert_eq!(a.call(&["CLIENT", "GETNAME"]), bulk("alpha"));
    assert_eq!(
        a.call(&["CLIENT", "SETNAME", "a b"]),
        err("ERR Client names cannot contain spaces, newlines or special characters.")
    );
    assert_eq!(a.call(&["CLIENT", "GETNAME"]), bulk("alpha"));
    let info = text(a.call(&["CLIENT", "INFO"]));
    assert!(info.starts_with(&format!("id={ida} addr=127.0.0.1:")), "{info}");
    assert!(info.contains(" name=alpha ") && info.contains(" db=0 ") && info.ends_with('\n'));
    assert_eq!(b.call(&["SELECT", "3"]), ok());
    let list = text(b.call(&["CLIENT", "LIST"]));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines[0].starts_with(&format!("id={ida} ")) && lines[0].contains(" name=alpha "));
    assert!(lines[1].starts_with(&format!("id={idb} ")) && lines[1].contains(" db=3 "));
    // `cmd=` names a container's subcommand in full, as Redis does.
    assert!(lines[0].contains(" cmd=client|info ") && lines[1].contains(" cmd=client|list "), "{list}");
    assert!(text(a.call(&["CLIENT", "INFO"])).contains(" cmd=client|info "));
    assert!(matches!(b.call(&["CONFIG", "GET", "port"]), Resp::Array(_)));
    assert!(text(a.call(&["CLIENT", "LIST", "ID", &idb.to_string()])).contains(" cmd=config|get "));
    let only_b = text(a.call(&["CLIENT", "LIST", "ID", &idb.to_string(), "0", "99999"]));
    assert_eq!(only_b.lines().count(), 1);
    assert!(only_b.starts_with(&format!("id={idb} ")));
    assert_eq!(a.call(&["CLIENT", "LIST", "ID", "abc"]), err("ERR Invalid client ID"));
    assert_eq!(text(a.call(&["CLIENT", "LIST", "TYPE", "normal"])).lines().count(), 2);
    assert_eq!(text(a.call(&["CLIENT", "LIST", "TYPE", "pubsub"])), "");
    assert_eq!(a.call(&["CLIENT", "LIST", "TYPE", "foo"]), err("ERR Unknown client type 'foo'"));
    // Clearing the name.
    assert_eq!(a.call(&["CLIENT", "SETNAME", ""]), ok());
    assert_eq!(a.call(&["CLIENT", "GETNAME"]), Resp::Bulk(None));
    // SETINFO shows in CLIENT INFO.
    assert_eq!(a.call(&["CLIENT", "SETINFO", "LIB-NAME", "mylib"]), ok());
    assert_eq!(a.call(&["CLIENT", "SETINFO", "lib-ver", "1.2.3"]), ok());
    let info = text(a.call(&["CLIENT", "INFO"]));
    assert!(info.contains("lib-name=mylib") && info.contains("lib-ver=1.2.3"), "{info}");
    assert_eq!(
        a.call(&["CLIENT", "SETINFO", "lib-name", "a b"]),
        err("ERR lib-name cannot contain spaces, newlines or special characters.")
    );
    assert_eq!(a.call(&["CLIENT", "SETINFO", "lib-foo", "x"]), err("ERR Unrecognized option 'lib-foo'"));
}

#[test]
fn client_subcommand_errors() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let cases: &[(&[&str], &str)] = &[
        (&["CLIENT", "FOO"], "ERR unknown subcommand 'FOO'. Try CLIENT HELP."),
        (&["CLIENT", "ID", "x"], "ERR wrong number of arguments for 'client|id' command"),
        (&["CLIENT", "GETNAME", "x"], "ERR wrong number of arguments for 'client|getname' command"),
        (&["CLIENT", "INFO", "x"], "ERR wrong number of arguments for 'client|info' command"),
        (&["CLIENT", "KILL"], "ERR wrong number of arguments for 'client|kill' command"),
        (&["CLIENT", "SETNAME"], "ERR wrong number of arguments for 'client|setname' command"),
        (&["CLIENT", "REPLY", "FOO"], "ERR syntax error"),
        (&["CLIENT", "NO-TOUCH", "maybe"], "ERR syntax error"),
        (&["CLIENT", "KILL", "1.2.3.4:5"], "ERR No such client"),
        (&["CLIENT", "KILL", "ID"], "ERR No such client"),
        (&["CLIENT", "KILL", "ID", "1", "ADDR"], "ERR syntax error"),
        (&["CLIENT", "KILL", "FOO", "bar"], "ERR syntax error"),
        (&["CLIENT", "KILL", "TYPE", "foo"], "ERR Unknown client type 'foo'"),
        (&["CLIENT", "KILL", "USER", "nosuchuser"], "ERR No such user 'nosuchuser'"),
        (&["CLIENT"], "ERR wrong number of arguments for 'client' command"),
    ];
    for (cmd, e) in cases {
        assert_eq!(r.call(cmd), err(e), "{cmd:?}");
    }
    let help = strings(r.call(&["CLIENT", "HELP"]));
    assert!(help[0].starts_with("CLIENT <subcommand>"));
}

#[test]
fn client_kill_by_id_and_addr() {
    let s = Server::start(&[]);
    let mut me = s.raw();
    let mut victim = s.raw();
    let Resp::Int(vid) = victim.call(&["CLIENT", "ID"]) else { panic!() };
    assert_eq!(me.call(&["CLIENT", "KILL", "ID", "99999"]), int(0));
    assert_eq!(me.call(&["CLIENT", "KILL", "ID", &vid.to_string()]), int(1));
    assert!(victim.is_closed(), "the killed client's connection is closed");
    let mut v2 = s.raw();
    let info = text(v2.call(&["CLIENT", "INFO"]));
    let addr = info.split(' ').find_map(|f| f.strip_prefix("addr=")).unwrap().to_string();
    assert_eq!(me.call(&["CLIENT", "KILL", &addr]), ok());
    assert!(v2.is_closed());
    let mut v3 = s.raw();
    assert_eq!(v3.call(&["PING"]), status("PONG"));
    let clients = |r: &mut Raw| text(r.call(&["CLIENT", "LIST"])).lines().count();
    wait_for(5, "the killed clients to leave CLIENT LIST", || clients(&mut me) == 2);
    // SKIPME yes (default) spares the caller; TYPE normal selects everyone else.
    assert_eq!(me.call(&["CLIENT", "KILL", "TYPE", "normal"]), int(1));
    assert!(v3.is_closed());
    assert_eq!(me.call(&["PING"]), status("PONG"));
    // (The clients killed above may still be listed while they close.)
    assert!(matches!(me.call(&["CLIENT", "KILL", "USER", "default", "SKIPME", "no"]), Resp::Int(n) if n >= 1));
    assert!(me.is_closed(), "SKIPME no kills the caller too, after its reply");
}

#[test]
fn client_reply_off_and_skip() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.cmd(&[b"CLIENT", b"REPLY", b"OFF"]);
    r.cmd(&[b"SET", b"a", b"1"]);
    r.cmd(&[b"GET", b"a"]);
    r.cmd(&[b"CLIENT", b"REPLY", b"ON"]);
    assert_eq!(r.read(), ok(), "the first reply after OFF is ON's OK");
    assert_eq!(r.call(&["GET", "a"]), bulk("1"), "the SET ran");
    r.cmd(&[b"CLIENT", b"REPLY", b"SKIP"]);
    r.cmd(&[b"SET", b"b", b"2"]);
    r.cmd(&[b"GET", b"b"]);
    assert_eq!(r.read(), bulk("2"), "only the command after SKIP is silent");
    assert_eq!(r.call(&["PING"]), status("PONG"));
}

#[test]
fn client_no_touch_keeps_access_data() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "k", "v"]), ok());
    wait_for(5, "k to be idle for a second", || r.call(&["OBJECT", "IDLETIME", "k"]) != int(0));
    // Metadata reads never touch, as in Redis (LOOKUP_NOTOUCH).
    for cmd in [&["TYPE", "k"][..], &["TTL", "k"], &["EXISTS", "k"], &["OBJECT", "ENCODING", "k"], &["PTTL", "k"]] {
        r.call(cmd);
    }
    assert_ne!(r.call(&["OBJECT", "IDLETIME", "k"]), int(0));
    assert_eq!(r.call(&["CLIENT", "NO-TOUCH", "ON"]), ok());
    assert_eq!(r.call(&["GET", "k"]), bulk("v"));
    assert_ne!(r.call(&["OBJECT", "IDLETIME", "k"]), int(0), "GET under NO-TOUCH leaves the idle time");
    // TOUCH still touches.
    assert_eq!(r.call(&["TOUCH", "k"]), int(1));
    assert_eq!(r.call(&["OBJECT", "IDLETIME", "k"]), int(0));
    wait_for(5, "k to be idle again", || r.call(&["OBJECT", "IDLETIME", "k"]) != int(0));
    assert_eq!(r.call(&["CLIENT", "NO-TOUCH", "OFF"]), ok());
    assert_eq!(r.call(&["GET", "k"]), bulk("v"));
    assert_eq!(r.call(&["OBJECT", "IDLETIME", "k"]), int(0));
    // With LFU, the access counter: the first access always counts.
    assert_eq!(r.call(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]), ok());
    assert_eq!(r.call(&["SET", "f", "v"]), ok());
    let Resp::Int(f0) = r.call(&["OBJECT", "FREQ", "f"]) else { panic!() };
    assert_eq!(r.call(&["CLIENT", "NO-TOUCH", "ON"]), ok());
    for _ in 0..20 {
        assert_eq!(r.call(&["GET", "f"]), bulk("v"));
    }
    assert_eq!(r.call(&["OBJECT", "FREQ", "f"]), int(f0));
    assert_eq!(r.call(&["CLIENT", "NO-TOUCH", "OFF"]), ok());
    assert_eq!(r.call(&["GET", "f"]), bulk("v"));
    let Resp::Int(f1) = r.call(&["OBJECT", "FREQ", "f"]) else { panic!() };
    assert!(f1 > f0, "{f1} > {f0}");
}

#[test]
fn time_auth_quit_reset() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let t = strings(r.call(&["TIME"]));
    let secs: u64 = t[0].parse().unwrap();
    let micros: u64 = t[1].parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert!(secs.abs_diff(now) <= 2 && micros < 1_000_000);
    assert_eq!(
        r.call(&["AUTH", "secret"]),
        err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
    );
    assert_eq!(
        r.call(&["AUTH", "nouser", "secret"]),
        err("WRONGPASS invalid username-password pair or user is disabled.")
    );
    assert_eq!(r.call(&["PING"]), status("PONG"));
    // RESET: database, name, MULTI, protocol and reply mode all go back to defaults.
    assert_eq!(r.call(&["SELECT", "2"]), ok());
    assert_eq!(r.call(&["CLIENT", "SETNAME", "n"]), ok());
    assert!(matches!(r.call(&["HELLO", "3"]), Resp::Map(_)));
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["RESET"]), status("RESET"));
    assert_eq!(r.call(&["EXEC"]), err("ERR EXEC without MULTI"));
    assert_eq!(r.call(&["CLIENT", "GETNAME"]), Resp::Bulk(None));
    assert_eq!(r.call(&["GET", "nokey"]), Resp::Bulk(None), "RESP2 again");
    assert!(text(r.call(&["CLIENT", "INFO"])).contains(" db=0 "));
    // QUIT answers OK and closes.
    assert_eq!(r.call(&["QUIT"]), ok());
    assert!(r.is_closed());
    // Pipelined commands after QUIT are not run.
    let mut p = s.raw();
    let mut buf = common::encode_cmd(&[b"QUIT"]);
    buf.extend(common::encode_cmd(&[b"SET", b"after", b"quit"]));
    p.send(&buf);
    assert_eq!(p.read(), ok());
    assert!(p.is_closed());
    assert_eq!(s.raw().call(&["EXISTS", "after"]), int(0));
}

/// Bytes of `args` as a RESP request.
fn encode_len(args: &[&str]) -> usize {
    common::encode_cmd(&args.iter().map(|a| a.as_bytes()).collect::<Vec<_>>()).len()
}

/// The `qbuf=`/`qbuf-free=`/`rbs=` fields of CLIENT LIST for client `id`.
fn qbuf_fields(c: &mut Raw, id: i64) -> (u64, u64, u64) {
    let line = text(c.call(&["CLIENT", "LIST", "ID", &id.to_string()]));
    let field = |name: &str| -> u64 {
        let rest = line.split(&format!(" {name}=")).nth(1).unwrap_or_else(|| panic!("{name} in {line}"));
        rest.split(' ').next().unwrap().parse().unwrap()
    };
    (field("qbuf"), field("qbuf-free"), field("rbs"))
}

/// As Redis: `qbuf` counts the unexecuted input (the running command
/// included, as Redis counts it), and a client idle for two
/// seconds gives its buffers back, keeps working, and grows them again.
#[test]
fn query_buffer_is_reported_and_released_when_idle() {
    let s = Server::start(&[]);
    // A client blocked meanwhile (connected first, so the cron asks it
    // first) is asked too, and must stay blocked and be served after.
    let mut blocked = s.raw();
    blocked.cmd(&[b"BLPOP", b"queue", b"0"]);
    let mut c = s.raw();
    let Resp::Int(id) = c.call(&["CLIENT", "ID"]) else { panic!() };
    let line = text(c.call(&["CLIENT", "LIST", "ID", &id.to_string()]));
    let request_len = encode_len(&["CLIENT", "LIST", "ID", &id.to_string()]);
    assert!(line.contains(&format!(" qbuf={request_len} ")) && !line.contains(" watch="), "{line}");
    let (_, free, rbs) = qbuf_fields(&mut c, id);
    assert!(rbs >= 15 * 1024 && free > 0, "rbs={rbs} free={free}");
    let mut watcher = s.raw();
    wait_for(10, "an idle client's buffers to be released", || qbuf_fields(&mut watcher, id) == (0, 0, 0));
    assert_eq!(c.call(&["RPUSH", "queue", "job"]), int(1));
    assert_eq!(blocked.read(), Resp::Array(Some(vec![bulk("queue"), bulk("job")])));
    assert_eq!(c.call(&["SET", "k", "v"]), ok());
    assert_eq!(c.call(&["GET", "k"]), bulk("v"));
    assert!(qbuf_fields(&mut c, id).2 >= 15 * 1024, "the buffer grows again once used");
}
