//! Scripts and the rest of the server's state: EVAL inside MULTI/EXEC,
//! WATCH seeing a script's writes, blocking commands that do not block
//! inside a script, SELECT inside a script, and the AOF replaying what a
//! script wrote.

use common::{blocked_clients, keyed, nil_array, text};

use super::*;

fn queued() -> Resp {
    status("QUEUED")
}

#[test]
fn eval_runs_inside_multi_exec() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let incr = "return redis.call('INCR', KEYS[1])";
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(eval(&mut r, incr, &["m"], &[]), queued());
    assert_eq!(eval(&mut r, incr, &["m"], &[]), queued());
    assert_eq!(r.call(&["GET", "m"]), queued());
    assert_eq!(eval(&mut r, "return redis.call('NOSUCH')", &[], &[]), queued());
    assert_eq!(r.call(&["EVAL", "return 1", "x"]), queued());
    assert_eq!(
        r.call(&["EXEC"]),
        arr(vec![
            int(1),
            int(2),
            bulk("2"),
            script_err("ERR Unknown Redis command called from script", "return redis.call('NOSUCH')", 1),
            err("ERR value is not an integer or out of range"),
        ])
    );
    // EVALSHA of a script loaded inside the same transaction.
    let sha = sha1_hex(incr);
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["SCRIPT", "LOAD", incr]), queued());
    assert_eq!(r.call(&["EVALSHA", &sha, "1", "m"]), queued());
    assert_eq!(r.call(&["EXEC"]), arr(vec![bulk(&sha), int(3)]));
    // A wrong EVAL arity is a queueing error that aborts EXEC.
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["EVAL", "return 1"]), err("ERR wrong number of arguments for 'eval' command"));
    assert_eq!(r.call(&["EXEC"]), err("EXECABORT Transaction discarded because of previous errors."));
    assert_eq!(r.call(&["GET", "m"]), bulk("3"));
}

#[test]
fn watch_sees_a_scripts_writes() {
    let s = Server::start(&[]);
    let (mut r, mut other) = (s.raw(), s.raw());
    let set = "return redis.call('SET', KEYS[1], ARGV[1])";
    assert_eq!(r.call(&["SET", "w", "1"]), ok());
    // Another client's script writes the watched key: EXEC fails.
    assert_eq!(r.call(&["WATCH", "w"]), ok());
    assert_eq!(eval(&mut other, set, &["w"], &["2"]), ok());
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["GET", "w"]), queued());
    assert_eq!(r.call(&["EXEC"]), nil_array());
    // The watching client's own script too.
    assert_eq!(r.call(&["WATCH", "w"]), ok());
    assert_eq!(eval(&mut r, set, &["w"], &["3"]), ok());
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["GET", "w"]), queued());
    assert_eq!(r.call(&["EXEC"]), nil_array());
    // A script that only reads does not abort it.
    assert_eq!(r.call(&["WATCH", "w"]), ok());
    assert_eq!(eval(&mut other, "return redis.call('GET', KEYS[1])", &["w"], &[]), bulk("3"));
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["GET", "w"]), queued());
    assert_eq!(r.call(&["EXEC"]), arr(vec![bulk("3")]));
    // Nor does a script writing another key.
    assert_eq!(r.call(&["WATCH", "w"]), ok());
    assert_eq!(eval(&mut other, set, &["unrelated"], &["x"]), ok());
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(r.call(&["GET", "w"]), queued());
    assert_eq!(r.call(&["EXEC"]), arr(vec![bulk("3")]));
}

#[test]
fn blocking_commands_do_not_block_inside_scripts() {
    let s = Server::start(&[]);
    let (mut r, mut watcher) = (s.raw(), s.raw());
    // On empty keys: the timeout reply at once (nil), even with timeout 0.
    assert_eq!(eval(&mut r, "return redis.call('BLMPOP', 0, 1, KEYS[1], 'LEFT')", &["bl"], &[]), nil());
    assert_eq!(eval(&mut r, "return redis.call('BZMPOP', 0, 1, KEYS[1], 'MIN')", &["bz"], &[]), nil());
    let body = "return tostring(redis.call('BLMPOP', 0, 1, KEYS[1], 'LEFT'))";
    assert_eq!(eval(&mut r, body, &["bl"], &[]), bulk("false"));
    assert_eq!(blocked_clients(&mut watcher), 0);
    // With data they pop as their non-blocking forms do.
    assert_eq!(r.call(&["RPUSH", "bl", "a", "b"]), int(2));
    assert_eq!(eval(&mut r, "return redis.call('BLMPOP', 0, 1, KEYS[1], 'LEFT')", &["bl"], &[]), keyed("bl", &["a"]));
    assert_eq!(r.call(&["ZADD", "bz", "1", "m"]), int(1));
    assert_eq!(
        eval(&mut r, "return redis.call('BZMPOP', 0, 1, KEYS[1], 'MIN')", &["bz"], &[]),
        arr(vec![bulk("bz"), arr(vec![arr(vec![bulk("m"), bulk("1")])])])
    );
    // The others are refused.
    for body in [
        "return redis.call('BLPOP', KEYS[1], 0)",
        "return redis.call('BRPOP', KEYS[1], 0)",
        "return redis.call('BRPOPLPUSH', KEYS[1], 'x', 0)",
        "return redis.call('BLMOVE', KEYS[1], 'x', 'LEFT', 'LEFT', 0)",
        "return redis.call('BZPOPMIN', KEYS[1], 0)",
        "return redis.call('BZPOPMAX', KEYS[1], 0)",
    ] {
        assert_eq!(
            eval(&mut r, body, &["empty"], &[]),
            script_err("ERR This Redis command is not allowed from script", body, 1),
            "EVAL {body:?}"
        );
    }
    // Nor are MULTI, WATCH, EVAL or SCRIPT from a script.
    for body in [
        "return redis.call('MULTI')",
        "return redis.call('WATCH', 'x')",
        "return redis.call('EVAL', 'return 1', 0)",
        "return redis.call('SCRIPT', 'LOAD', 'return 1')",
    ] {
        assert_eq!(
            eval(&mut r, body, &[], &[]),
            script_err("ERR This Redis command is not allowed from script", body, 1),
            "EVAL {body:?}"
        );
    }
    assert_eq!(blocked_clients(&mut watcher), 0);
    assert_eq!(r.call(&["PING"]), status("PONG"));
}

#[test]
fn select_inside_a_script_does_not_change_the_callers_db() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SELECT", "2"]), ok());
    assert_eq!(r.call(&["SET", "a", "db2"]), ok());
    let body =
        "redis.call('SELECT', ARGV[1]) redis.call('SET', KEYS[1], 'db' .. ARGV[1]) return redis.call('GET', KEYS[1])";
    assert_eq!(eval(&mut r, body, &["a"], &["5"]), bulk("db5"));
    assert_eq!(r.call(&["GET", "a"]), bulk("db2"));
    // Each script starts in the caller's database.
    assert_eq!(eval(&mut r, "return redis.call('GET', KEYS[1])", &["a"], &[]), bulk("db2"));
    // An error after the SELECT leaves it unchanged too.
    let failing = "redis.call('SELECT', '7') redis.call('NOSUCH')";
    assert!(matches!(eval(&mut r, failing, &[], &[]), Resp::Error(_)));
    assert_eq!(r.call(&["GET", "a"]), bulk("db2"));
    // Inside MULTI the commands queued after the script stay in the caller's db.
    assert_eq!(r.call(&["MULTI"]), ok());
    assert_eq!(eval(&mut r, body, &["b"], &["5"]), queued());
    assert_eq!(r.call(&["SET", "b", "db2"]), queued());
    assert_eq!(r.call(&["EXEC"]), arr(vec![bulk("db5"), ok()]));
    assert_eq!(r.call(&["GET", "b"]), bulk("db2"));
    assert_eq!(r.call(&["SELECT", "5"]), ok());
    assert_eq!(r.call(&["MGET", "a", "b"]), bulks(&["db5", "db5"]));
    assert_eq!(r.call(&["SELECT", "0"]), ok());
    assert_eq!(r.call(&["EXISTS", "a", "b"]), int(0));
}

#[test]
fn aof_replays_what_scripts_wrote() {
    let aof = ["--appendonly", "yes", "--appendfsync", "always"];
    let mut srv = Server::start(&aof);
    let mut r = srv.raw();
    let body = "redis.call('SET', KEYS[1], ARGV[1]) \
                redis.call('RPUSH', KEYS[2], 'a', 'b', 'c') \
                redis.call('HSET', KEYS[3], 'f1', 'v1', 'f2', 'v2') \
                redis.call('INCRBY', KEYS[4], 10) \
                redis.call('INCRBY', KEYS[4], 5) \
                redis.call('SET', KEYS[5], 'ttl', 'PX', 600000) \
                redis.call('LPOP', KEYS[2]) \
                redis.call('SELECT', 1) \
                redis.call('SET', KEYS[1], 'in-db1') \
                return redis.call('DBSIZE')";
    assert_eq!(eval(&mut r, body, &["s", "l", "h", "n", "t"], &["v"]), int(1));
    // The caller's next write lands in its own database, db 0.
    assert_eq!(r.call(&["SET", "after", "db0"]), ok());
    // A script that fails midway keeps the writes it made (no rollback).
    let failing = "redis.call('SET', KEYS[1], '1') redis.call('NOSUCH')";
    assert!(matches!(eval(&mut r, failing, &["partial"], &[]), Resp::Error(_)));
    // A read-only run and a refused write change nothing.
    assert_eq!(eval_as(&mut r, "EVAL_RO", "return redis.call('GET', KEYS[1])", &["s"], &[]), bulk("v"));
    assert!(matches!(
        eval_as(&mut r, "EVAL_RO", "return redis.call('SET', KEYS[1], 'x')", &["s"], &[]),
        Resp::Error(_)
    ));
    let sha = sha1_hex(body);
    drop(r);

    // A crash: with appendfsync always everything acknowledged is on disk.
    srv.kill9();
    let srv = Server::start_in(srv.into_dir(false), &aof);
    let mut r = srv.raw();
    assert_eq!(r.call(&["GET", "s"]), bulk("v"));
    assert_eq!(r.call(&["LRANGE", "l", "0", "-1"]), bulks(&["b", "c"]));
    assert_eq!(r.call(&["HGET", "h", "f2"]), bulk("v2"));
    assert_eq!(r.call(&["HLEN", "h"]), int(2));
    assert_eq!(r.call(&["GET", "n"]), bulk("15"));
    let pttl = match r.call(&["PTTL", "t"]) {
        Resp::Int(n) => n,
        other => panic!("PTTL: {other:?}"),
    };
    assert!(pttl > 0 && pttl <= 600_000, "PTTL {pttl}");
    assert_eq!(r.call(&["GET", "after"]), bulk("db0"));
    assert_eq!(r.call(&["GET", "partial"]), bulk("1"));
    assert_eq!(r.call(&["DBSIZE"]), int(7));
    assert_eq!(r.call(&["SELECT", "1"]), ok());
    assert_eq!(r.call(&["GET", "s"]), bulk("in-db1"));
    assert_eq!(r.call(&["DBSIZE"]), int(1));
    // The script cache itself is not persisted (as in Redis).
    assert_eq!(r.call(&["SCRIPT", "EXISTS", &sha]), ints(&[0]));
    assert_eq!(r.call(&["EVALSHA", &sha, "0"]), err("NOSCRIPT No matching script. Please use EVAL."));
}

/// The VM's garbage is collected as scripts run: after 20,000 runs that each
/// leave a few hundred bytes behind, `used_memory_lua` stays under the
/// 100 KB Redis's unit/scripting allows ("EVAL does not leak in the Lua
/// stack"), while all the runs counted.
#[test]
fn the_lua_vm_stays_small_over_many_runs() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let sha = text(r.call(&["SCRIPT", "LOAD", "return redis.call('INCR', KEYS[1])"]));
    const RUNS: usize = 20_000;
    let mut batch = Vec::new();
    for i in 0..RUNS {
        batch.extend_from_slice(&common::encode_cmd(&[
            b"EVALSHA",
            sha.as_bytes(),
            b"1",
            format!("k{}", i % 500).as_bytes(),
        ]));
    }
    r.send(&batch);
    for _ in 0..RUNS {
        assert!(matches!(r.read(), Resp::Int(_)));
    }
    let info = text(r.call(&["INFO", "memory"]));
    let lua: usize = common::info_field(&info, "used_memory_lua").expect("used_memory_lua").parse().expect("a number");
    assert!(lua < 100 * 1024, "used_memory_lua {lua}");
    assert_eq!(r.call(&["GET", "k0"]), bulk(&(RUNS / 500).to_string()));
}
