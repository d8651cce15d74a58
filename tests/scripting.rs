//! Lua scripting against the real server, compared with what Redis 7.0
//! answers: EVAL/EVALSHA through a client-side script helper (EVALSHA,
//! falling back to EVAL on NOSCRIPT), SCRIPT LOAD/EXISTS/FLUSH, reply
//! conversions both ways under RESP2 and RESP3, and the errors a script
//! can meet (unknown commands, arity, WRONGTYPE, read-only runs, shebangs,
//! compile errors, numkeys). The rest lives under `tests/scripting/`:
//! [`sandbox`] (globals, removed libraries, read-only tables),
//! [`busy`] (BUSY, SCRIPT KILL, UNKILLABLE, SHUTDOWN NOSAVE),
//! [`calls`] (how `redis.call` reads command names and arguments),
//! [`concurrency`] (a distributed lock and a rate limiter under concurrent
//! clients) and [`state`] (MULTI/EXEC, WATCH, blocking commands, SELECT,
//! the AOF).

#[path = "scripting/busy.rs"]
mod busy;
#[path = "scripting/calls.rs"]
mod calls;
mod common;
#[path = "scripting/concurrency.rs"]
mod concurrency;
#[path = "scripting/sandbox.rs"]
mod sandbox;
#[path = "scripting/state.rs"]
mod state;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::{arr, bulk, bulks, err, int, ints, nil, ok, status, Raw, Resp, Server};
use redis::{ErrorKind, FromRedisValue, RedisResult, Value};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// Lower-case hex SHA1 of a script body: the name Redis gives a script.
pub fn sha1_hex(body: &str) -> String {
    use sha1::{Digest, Sha1};
    Sha1::digest(body.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// `EVAL body numkeys keys… args…` on a raw connection.
pub fn eval(c: &mut Raw, body: &str, keys: &[&str], args: &[&str]) -> Resp {
    eval_as(c, "EVAL", body, keys, args)
}

/// `cmd body-or-sha numkeys keys… args…` (EVAL, EVAL_RO, EVALSHA, EVALSHA_RO).
pub fn eval_as(c: &mut Raw, cmd: &str, body: &str, keys: &[&str], args: &[&str]) -> Resp {
    let n = keys.len().to_string();
    let mut argv = vec![cmd, body, n.as_str()];
    argv.extend_from_slice(keys);
    argv.extend_from_slice(args);
    c.call(&argv)
}

/// Redis's error for `msg` raised at `line` of the script `body`:
/// `msg script: <sha>, on @user_script:<line>.`
pub fn script_err(msg: &str, body: &str, line: u32) -> Resp {
    err(&format!("{msg} script: {}, on @user_script:{line}.", sha1_hex(body)))
}

/// The text of an error reply (panics on anything else).
pub fn err_text(r: Resp) -> String {
    match r {
        Resp::Error(e) => e,
        other => panic!("expected an error reply, got {other:?}"),
    }
}

/// What `redis::Script` does (the crate's `script` feature is not enabled
/// for this workspace): run a script by its SHA1 with EVALSHA and, when the
/// server answers NOSCRIPT, send the body with EVAL (which also caches it).
/// Counts the fallbacks so tests can tell which path ran.
pub struct Script {
    body: String,
    sha: String,
    fallbacks: AtomicUsize,
}

impl Script {
    pub fn new(body: &str) -> Script {
        Script { body: body.to_string(), sha: sha1_hex(body), fallbacks: AtomicUsize::new(0) }
    }

    pub fn sha(&self) -> &str {
        &self.sha
    }

    /// How many invocations had to resend the body with EVAL.
    pub fn fallbacks(&self) -> usize {
        self.fallbacks.load(Ordering::Relaxed)
    }

    fn cmd(name: &str, first: &str, keys: &[&str], args: &[&str]) -> redis::Cmd {
        let mut c = redis::cmd(name);
        c.arg(first).arg(keys.len()).arg(keys).arg(args);
        c
    }

    /// EVALSHA, or EVAL after a NOSCRIPT.
    pub fn invoke<T: FromRedisValue>(&self, c: &mut redis::Connection, keys: &[&str], args: &[&str]) -> RedisResult<T> {
        match Self::cmd("EVALSHA", &self.sha, keys, args).query(c) {
            Err(e) if e.kind() == ErrorKind::NoScriptError => {
                self.fallbacks.fetch_add(1, Ordering::Relaxed);
                Self::cmd("EVAL", &self.body, keys, args).query(c)
            }
            r => r,
        }
    }

    /// [`Script::invoke`] on an async connection.
    pub async fn invoke_async<T: FromRedisValue>(
        &self,
        c: &mut redis::aio::MultiplexedConnection,
        keys: &[&str],
        args: &[&str],
    ) -> RedisResult<T> {
        match Self::cmd("EVALSHA", &self.sha, keys, args).query_async(c).await {
            Err(e) if e.kind() == ErrorKind::NoScriptError => {
                self.fallbacks.fetch_add(1, Ordering::Relaxed);
                Self::cmd("EVAL", &self.body, keys, args).query_async(c).await
            }
            r => r,
        }
    }
}

fn bulk_value(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

#[test]
fn script_helper_runs_by_sha_and_falls_back_to_eval() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    // The SHA1 Redis 7.0 gives `return 1` (SCRIPT LOAD on redis-server).
    assert_eq!(sha1_hex("return 1"), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    let loaded: String = redis::cmd("SCRIPT").arg("LOAD").arg("return 1").query(&mut c).unwrap();
    assert_eq!(loaded, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");

    // Integers: the first call is not cached (fallback), the second is.
    let add = Script::new("return tonumber(ARGV[1]) + tonumber(ARGV[2])");
    assert_eq!(add.invoke::<i64>(&mut c, &[], &["40", "2"]).unwrap(), 42);
    assert_eq!(add.fallbacks(), 1);
    assert_eq!(add.invoke::<i64>(&mut c, &[], &["1", "2"]).unwrap(), 3);
    assert_eq!(add.fallbacks(), 1, "EVAL cached the script under its SHA1");

    // Bulk strings from KEYS and ARGV.
    let join = Script::new("return KEYS[1] .. ':' .. ARGV[1] .. ':' .. #KEYS .. ':' .. #ARGV");
    assert_eq!(join.invoke::<String>(&mut c, &["k"], &["v", "w"]).unwrap(), "k:v:1:2");

    // Arrays, nested, with integers and the status reply of a write.
    let array = Script::new("return {KEYS[1], KEYS[2], ARGV[1], 42, {redis.call('SET', KEYS[1], ARGV[1])}}");
    let v: Value = array.invoke(&mut c, &["k1", "k2"], &["a1"]).unwrap();
    assert_eq!(
        v,
        Value::Array(vec![
            bulk_value("k1"),
            bulk_value("k2"),
            bulk_value("a1"),
            Value::Int(42),
            Value::Array(vec![Value::Okay]),
        ])
    );
    let got: String = redis::cmd("GET").arg("k1").query(&mut c).unwrap();
    assert_eq!(got, "a1");

    // Nil: a missing key's GET, and a script returning nothing.
    let get = Script::new("return redis.call('GET', KEYS[1])");
    assert_eq!(get.invoke::<Option<String>>(&mut c, &["missing"], &[]).unwrap(), None);
    assert_eq!(get.invoke::<Option<String>>(&mut c, &["k1"], &[]).unwrap().as_deref(), Some("a1"));
    assert_eq!(Script::new("return nil").invoke::<Value>(&mut c, &[], &[]).unwrap(), Value::Nil);

    // SCRIPT EXISTS, upper case SHA1s included; FLUSH forgets every script.
    let exists: Vec<i64> = redis::cmd("SCRIPT")
        .arg("EXISTS")
        .arg(add.sha())
        .arg("ffffffffffffffffffffffffffffffffffffffff")
        .arg(get.sha().to_uppercase())
        .query(&mut c)
        .unwrap();
    assert_eq!(exists, [1, 0, 1]);
    let () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut c).unwrap();
    let exists: Vec<i64> = redis::cmd("SCRIPT").arg("EXISTS").arg(add.sha()).arg(get.sha()).query(&mut c).unwrap();
    assert_eq!(exists, [0, 0]);
    let e = redis::cmd("EVALSHA").arg(add.sha()).arg(0).query::<Value>(&mut c).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoScriptError);
    assert_eq!(add.invoke::<i64>(&mut c, &[], &["2", "3"]).unwrap(), 5);
    assert_eq!(add.fallbacks(), 2, "after FLUSH the helper had to resend the body");
    let () = redis::cmd("SCRIPT").arg("FLUSH").arg("ASYNC").query(&mut c).unwrap();
    let exists: Vec<i64> = redis::cmd("SCRIPT").arg("EXISTS").arg(add.sha()).query(&mut c).unwrap();
    assert_eq!(exists, [0]);

    // SCRIPT LOAD makes EVALSHA (and EVALSHA_RO for a reading script) work at once.
    let loaded: String = redis::cmd("SCRIPT").arg("LOAD").arg(&get.body).query(&mut c).unwrap();
    assert_eq!(loaded, get.sha());
    let before = get.fallbacks();
    assert_eq!(get.invoke::<Option<String>>(&mut c, &["k1"], &[]).unwrap().as_deref(), Some("a1"));
    assert_eq!(get.fallbacks(), before);
    let ro: String = redis::cmd("EVALSHA_RO").arg(get.sha()).arg(1).arg("k1").query(&mut c).unwrap();
    assert_eq!(ro, "a1");
}

#[test]
fn evalsha_and_script_subcommand_replies() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";
    assert_eq!(r.call(&["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"]), err(NOSCRIPT));
    assert_eq!(r.call(&["EVALSHA", "fff", "0"]), err(NOSCRIPT));
    assert_eq!(r.call(&["EVALSHA_RO", "ffffffffffffffffffffffffffffffffffffffff", "0"]), err(NOSCRIPT));
    let sha = sha1_hex("return 1");
    assert_eq!(r.call(&["SCRIPT", "LOAD", "return 1"]), bulk(&sha));
    assert_eq!(r.call(&["EVALSHA", &sha.to_uppercase(), "0"]), int(1));
    assert_eq!(r.call(&["SCRIPT", "EXISTS", &sha, "ffffffffffffffffffffffffffffffffffffffff"]), ints(&[1, 0]));
    assert_eq!(r.call(&["SCRIPT", "FLUSH", "x"]), err("ERR SCRIPT FLUSH only support SYNC|ASYNC option"));
    assert_eq!(r.call(&["SCRIPT", "FLUSH", "SYNC"]), ok());
    assert_eq!(r.call(&["SCRIPT", "EXISTS", &sha]), ints(&[0]));
    assert_eq!(
        r.call(&["SCRIPT", "LOAD", "return +"]),
        err("ERR Error compiling script (new function): user_script:1: unexpected symbol near '+'")
    );
    assert_eq!(
        r.call(&["SCRIPT", "LOAD", "#!lua flags=bad\nreturn 1"]),
        err("ERR Unexpected flag in script shebang: bad")
    );
    assert_eq!(r.call(&["SCRIPT"]), err("ERR wrong number of arguments for 'script' command"));
    assert_eq!(r.call(&["SCRIPT", "FOO"]), err("ERR unknown subcommand 'FOO'. Try SCRIPT HELP."));
    assert_eq!(r.call(&["SCRIPT", "EXISTS"]), err("ERR wrong number of arguments for 'script|exists' command"));
    assert_eq!(r.call(&["SCRIPT", "LOAD"]), err("ERR wrong number of arguments for 'script|load' command"));
    assert_eq!(r.call(&["SCRIPT", "KILL"]), err("NOTBUSY No scripts in execution right now."));
    let help = common::strings(r.call(&["SCRIPT", "HELP"]));
    assert_eq!(help.len(), 17);
    assert_eq!(help[0], "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    for sub in ["EXISTS <sha1> [<sha1> ...]", "FLUSH [ASYNC|SYNC]", "KILL", "LOAD <script>", "HELP"] {
        assert!(help.iter().any(|l| l == sub), "SCRIPT HELP lacks {sub:?}: {help:?}");
    }
    for cmd in ["EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO"] {
        let lower = cmd.to_lowercase();
        assert_eq!(r.call(&[cmd, "x"]), err(&format!("ERR wrong number of arguments for '{lower}' command")));
    }
}

/// The script cache keeps at most 500 scripts sent only with EVAL,
/// dropping the least recently used (EVALSHA counts as a use); scripts
/// loaded with SCRIPT LOAD are never dropped. An error of an EVALSHA run
/// names the script by its lower-case SHA1, whatever case was sent.
#[test]
fn eval_scripts_past_the_bound_drop_the_least_recently_used() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let loaded = sha1_hex("return 'loaded'");
    assert_eq!(r.call(&["SCRIPT", "LOAD", "return 'loaded'"]), bulk(&loaded));
    let body = |i: usize| format!("return {i}");
    for i in 0..500 {
        assert_eq!(eval(&mut r, &body(i), &[], &[]), int(i as i64));
    }
    // Script 0 is used again; script 1 is now the least recently used.
    assert_eq!(r.call(&["EVALSHA", &sha1_hex(&body(0)), "0"]), int(0));
    for i in 500..510 {
        assert_eq!(eval(&mut r, &body(i), &[], &[]), int(i as i64));
    }
    let exists = |r: &mut Raw, i: usize| r.call(&["SCRIPT", "EXISTS", &sha1_hex(&body(i))]);
    assert_eq!(exists(&mut r, 0), ints(&[1]), "used again: kept");
    for i in 1..=10 {
        assert_eq!(exists(&mut r, i), ints(&[0]), "script {i} dropped");
    }
    assert_eq!(exists(&mut r, 11), ints(&[1]));
    assert_eq!(exists(&mut r, 509), ints(&[1]));
    assert_eq!(r.call(&["SCRIPT", "EXISTS", &loaded]), ints(&[1]), "SCRIPT LOAD'ed: kept");
    let info = common::text(r.call(&["INFO", "memory"]));
    assert!(info.contains("number_of_cached_scripts:501\r\n"), "{info}");
    let failing = "return redis.call('NOSUCH')";
    let sha = sha1_hex(failing);
    assert_eq!(r.call(&["SCRIPT", "LOAD", failing]), bulk(&sha));
    assert_eq!(
        r.call(&["EVALSHA", &sha.to_uppercase(), "0"]),
        script_err("ERR Unknown Redis command called from script", failing, 1)
    );
}

#[test]
fn lua_values_become_resp2_replies() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let cases: &[(&str, Resp)] = &[
        ("return true", int(1)),
        ("return false", nil()),
        ("return nil", nil()),
        ("return", nil()),
        ("return 3.99", int(3)),
        ("return -3.99", int(-3)),
        ("return 'a'", bulk("a")),
        ("return {}", arr(vec![])),
        ("return {1, 2, nil, 4}", ints(&[1, 2])),
        (
            "return {1, 'a', {2, {3}}, true, false}",
            arr(vec![int(1), bulk("a"), arr(vec![int(2), ints(&[3])]), int(1), nil()]),
        ),
        ("return {ok = 'FINE'}", status("FINE")),
        ("return {err = 'MYERR boom'}", err("MYERR boom")),
        ("return {err = 'boom'}", err("boom")),
        ("return {err = 'a\\r\\nb'}", err("a  b")),
        ("return redis.error_reply('MYERR boom')", err("MYERR boom")),
        ("return redis.error_reply('-MYERR boom')", err("MYERR boom")),
        ("return redis.error_reply('boom')", err("ERR boom")),
        ("return redis.status_reply('FINE')", status("FINE")),
        ("return redis.status_reply('a\\nb')", status("a b")),
        ("return {double = 1.5}", bulk("1.5")),
        ("return {double = 2}", bulk("2")),
        ("return {double = 0.1}", bulk("0.10000000000000001")),
        // RESP3 types reach a RESP2 client in their RESP2 form.
        ("redis.setresp(3) return true", int(1)),
        ("redis.setresp(3) return false", int(0)),
        ("redis.setresp(3) return {map = {a = 1}}", arr(vec![bulk("a"), int(1)])),
        ("redis.setresp(3) return {set = {a = true}}", bulks(&["a"])),
        ("redis.setresp(3) return {double = 1.5}", bulk("1.5")),
        // Replies as the script sees them (RESP2): nil is false, status a table.
        ("return tostring(redis.call('GET', 'nokey'))", bulk("false")),
        ("local t = redis.call('SET', 'k', '1') return {type(t), t.ok}", bulks(&["table", "OK"])),
        ("return redis.call('INCRBY', 'n', 5) + 0.5", int(5)),
    ];
    for (body, want) in cases {
        assert_eq!(&eval(&mut r, body, &[], &[]), want, "EVAL {body:?}");
    }
    // Numbers passed to redis.call keep their precision as %.17g.
    assert_eq!(
        eval(&mut r, "redis.call('SET', 'f', 0.1) return redis.call('GET', 'f')", &[], &[]),
        bulk("0.10000000000000001")
    );
    assert_eq!(eval(&mut r, "redis.call('SET', 'f', 3) return redis.call('GET', 'f')", &[], &[]), bulk("3"));
    // HGETALL under RESP3 is a {map = …} table inside the script.
    assert_eq!(r.call(&["HSET", "h", "f", "v"]), int(1));
    let body = "redis.setresp(3) local r = redis.call('HGETALL', KEYS[1]) return {type(r), type(r.map), r.map.f, tostring(r[1])}";
    assert_eq!(eval(&mut r, body, &["h"], &[]), bulks(&["table", "table", "v", "nil"]));
    let body = "local r = redis.call('HGETALL', KEYS[1]) return {type(r), tostring(r.map), r[1], r[2]}";
    assert_eq!(eval(&mut r, body, &["h"], &[]), bulks(&["table", "nil", "f", "v"]));
    // A RESP3 map returned by the script is flattened for this RESP2 client.
    assert_eq!(eval(&mut r, "redis.setresp(3) return redis.call('HGETALL', KEYS[1])", &["h"], &[]), bulks(&["f", "v"]));
}

#[test]
fn lua_values_become_resp3_replies() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert!(matches!(r.call(&["HELLO", "3"]), Resp::Map(_)));
    assert_eq!(r.call(&["HSET", "h", "f", "v"]), int(1));
    let cases: &[(&str, Resp)] = &[
        // Without redis.setresp(3) the script speaks RESP2: true is 1, false null.
        ("return true", int(1)),
        ("return false", Resp::Null),
        ("return nil", Resp::Null),
        ("return 3.99", int(3)),
        ("return {1, 2, nil, 4}", ints(&[1, 2])),
        ("return {ok = 'FINE'}", status("FINE")),
        ("return {err = 'MYERR boom'}", err("MYERR boom")),
        ("return redis.error_reply('boom')", err("ERR boom")),
        ("return {double = 1.5}", Resp::Double("1.5".into())),
        ("return {map = {a = 1}}", Resp::Map(vec![(bulk("a"), int(1))])),
        ("redis.setresp(3) return true", Resp::Bool(true)),
        ("redis.setresp(3) return false", Resp::Bool(false)),
        ("redis.setresp(3) return {double = 1.5}", Resp::Double("1.5".into())),
        ("redis.setresp(3) return {map = {a = 1}}", Resp::Map(vec![(bulk("a"), int(1))])),
        ("redis.setresp(3) return {set = {a = true}}", Resp::Set(vec![bulk("a")])),
        ("redis.setresp(3) return redis.call('HGETALL', 'h')", Resp::Map(vec![(bulk("f"), bulk("v"))])),
        ("redis.setresp(3) return redis.call('GET', 'nokey')", Resp::Null),
        ("return redis.call('HGETALL', 'h')", bulks(&["f", "v"])),
    ];
    for (body, want) in cases {
        assert_eq!(&eval(&mut r, body, &[], &[]), want, "EVAL {body:?} (RESP3 client)");
    }
    let body = "redis.setresp(3) local r = redis.call('HGETALL', KEYS[1]) return {type(r.map), r.map.f}";
    assert_eq!(eval(&mut r, body, &["h"], &[]), bulks(&["table", "v"]));
    assert_eq!(
        eval(&mut r, "redis.setresp(4)", &[], &[]),
        script_err("ERR RESP version must be 2 or 3.", "redis.setresp(4)", 1)
    );
}

#[test]
fn errors_raised_by_scripts() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let check = |r: &mut Raw, body: &str, keys: &[&str], msg: &str, line: u32| {
        assert_eq!(eval(r, body, keys, &[]), script_err(msg, body, line), "EVAL {body:?}");
    };
    check(&mut r, "return redis.call('nosuch')", &[], "ERR Unknown Redis command called from script", 1);
    check(
        &mut r,
        "local x = 1\nreturn redis.call('nosuch', x)",
        &[],
        "ERR Unknown Redis command called from script",
        2,
    );
    check(&mut r, "return redis.call('get')", &[], "ERR Wrong number of args calling Redis command from script", 1);
    check(&mut r, "return redis.call('incr')", &[], "ERR Wrong number of args calling Redis command from script", 1);
    check(
        &mut r,
        "return redis.call('set', 'n', {})",
        &[],
        "ERR Lua redis lib command arguments must be strings or integers",
        1,
    );
    check(&mut r, "return redis.call()", &[], "ERR Please specify at least one argument for this redis lib call", 1);
    check(&mut r, "error('boom')", &[], "ERR user_script:1: boom", 1);
    check(&mut r, "error({err = 'MY boom'})", &[], "MY boom", 1);
    check(
        &mut r,
        "return redis.call('BLPOP', KEYS[1], 0)",
        &["l"],
        "ERR This Redis command is not allowed from script",
        1,
    );
    check(&mut r, "return redis.call('SELECT', '99')", &[], "ERR DB index is out of range", 1);

    // WRONGTYPE from inside a script, with redis.call and redis.pcall.
    assert_eq!(r.call(&["SET", "str", "v"]), ok());
    check(&mut r, "return redis.call('LPUSH', KEYS[1], 'x')", &["str"], WRONGTYPE, 1);
    assert_eq!(eval(&mut r, "return redis.pcall('LPUSH', KEYS[1], 'x')", &["str"], &[]), err(WRONGTYPE));
    let body = "local t = redis.pcall('LPUSH', KEYS[1], 'x') return {type(t), t.err}";
    assert_eq!(eval(&mut r, body, &["str"], &[]), bulks(&["table", WRONGTYPE]));
    let body = "local t = redis.pcall('nosuch') return t.err";
    assert_eq!(eval(&mut r, body, &[], &[]), bulk("ERR Unknown Redis command called from script"));
    assert_eq!(
        eval(&mut r, "return redis.pcall('nosuch')", &[], &[]),
        err("ERR Unknown Redis command called from script")
    );
    // The script goes on after a pcall error.
    let body = "redis.pcall('INCR', KEYS[1]) return redis.call('GET', KEYS[1])";
    assert_eq!(eval(&mut r, body, &["str"], &[]), bulk("v"));
    assert_eq!(r.call(&["LLEN", "str"]), err(WRONGTYPE));

    // A write from EVAL_RO, EVALSHA_RO, or a `no-writes` script.
    let write = "return redis.call('SET', KEYS[1], 'x')";
    let refused = script_err("ERR Write commands are not allowed from read-only scripts.", write, 1);
    assert_eq!(eval_as(&mut r, "EVAL_RO", write, &["ro"], &[]), refused);
    let sha = sha1_hex(write);
    assert_eq!(r.call(&["SCRIPT", "LOAD", write]), bulk(&sha));
    assert_eq!(eval_as(&mut r, "EVALSHA_RO", &sha, &["ro"], &[]), refused);
    let no_writes = "#!lua flags=no-writes\nreturn redis.call('SET', KEYS[1], 'x')";
    assert_eq!(
        eval(&mut r, no_writes, &["ro"], &[]),
        script_err("ERR Write commands are not allowed from read-only scripts.", no_writes, 2)
    );
    assert_eq!(r.call(&["EXISTS", "ro"]), int(0), "no refused write happened");
    // Reads are fine in all of them; a shebang script without no-writes is refused by *_RO.
    assert_eq!(eval_as(&mut r, "EVAL_RO", "return redis.call('GET', KEYS[1])", &["str"], &[]), bulk("v"));
    let ro_read = "#!lua flags=no-writes\nreturn redis.call('GET', KEYS[1])";
    assert_eq!(eval_as(&mut r, "EVAL_RO", ro_read, &["str"], &[]), bulk("v"));
    assert_eq!(eval(&mut r, ro_read, &["str"], &[]), bulk("v"));
    assert_eq!(
        eval_as(&mut r, "EVAL_RO", "#!lua\nreturn 1", &[], &[]),
        err("ERR Can not execute a script with write flag using *_ro command.")
    );
    assert_eq!(eval(&mut r, "#!lua\nreturn redis.call('SET', KEYS[1], 'y')", &["w"], &[]), ok());
    assert_eq!(eval(&mut r, "#!lua flags=allow-oom,no-writes\nreturn 7", &[], &[]), int(7));

    // Shebang errors.
    for (body, msg) in [
        ("#!lua flags=bad\nreturn 1", "ERR Unexpected flag in script shebang: bad"),
        ("#!python\nreturn 1", "ERR Unexpected engine in script shebang: #!python"),
        ("#!lua", "ERR Invalid script shebang"),
        ("#!lua name=x\nreturn 1", "ERR Unknown lua shebang option: name=x"),
    ] {
        assert_eq!(eval(&mut r, body, &[], &[]), err(msg), "EVAL {body:?}");
    }

    // Compile errors (line numbers count the shebang line).
    assert_eq!(
        eval(&mut r, "return +", &[], &[]),
        err("ERR Error compiling script (new function): user_script:1: unexpected symbol near '+'")
    );
    assert_eq!(
        eval(&mut r, "#!lua\nreturn +", &[], &[]),
        err("ERR Error compiling script (new function): user_script:2: unexpected symbol near '+'")
    );
    assert_eq!(r.call(&["SCRIPT", "EXISTS", &sha1_hex("return +")]), ints(&[0]), "a failed compile is not cached");

    // numkeys.
    assert_eq!(r.call(&["EVAL", "return 1", "2", "a"]), err("ERR Number of keys can't be greater than number of args"));
    assert_eq!(r.call(&["EVAL", "return 1", "-1"]), err("ERR Number of keys can't be negative"));
    for bad in ["x", "1.5", ""] {
        assert_eq!(r.call(&["EVAL", "return 1", bad, "a"]), err("ERR value is not an integer or out of range"));
    }
    assert_eq!(r.call(&["EVALSHA", &sha, "3", "a"]), err("ERR Number of keys can't be greater than number of args"));
    assert_eq!(r.call(&["EVAL", "return {#KEYS, #ARGV}", "1", "a", "b", "c"]), ints(&[1, 2]));
    assert_eq!(r.call(&["EVAL", "return {#KEYS, #ARGV}", "0"]), ints(&[0, 0]));
}
