//! How `redis.call` reads its arguments: command names in any spelling
//! (more spellings than the server keeps), keys and values passed on from
//! `KEYS`/`ARGV` (shared with the request) or computed in the script, and
//! numbers; and values a command keeps after the call stay intact when the
//! connection's buffers are reused.

use super::*;

/// `name` with the letters whose bit is set in `mask` upper-cased.
fn spelling(name: &str, mask: u32) -> String {
    name.chars().enumerate().map(|(i, c)| if mask >> i & 1 == 1 { c.to_ascii_uppercase() } else { c }).collect()
}

#[test]
fn command_names_in_any_spelling() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    // 100 spellings of HINCRBY in one script: past the names kept, each
    // still runs.
    let body: String =
        (0..100).map(|m| format!("redis.call('{}', KEYS[1], 'f', 1) ", spelling("hincrby", m))).collect();
    assert_eq!(eval(&mut r, &format!("{body} return redis.call('HGET', KEYS[1], 'f')"), &["h"], &[]), bulk("100"));
    // The same again, alternating with another command, across runs.
    for run in 1..=3 {
        let body = "for i = 1, 50 do redis.call('incr', KEYS[1]) redis.call('INCRBY', KEYS[2], 2) end \
                    return {redis.call('Get', KEYS[1]), redis.call('gEt', KEYS[2])}";
        let want = vec![bulk(&(50 * run).to_string()), bulk(&(100 * run).to_string())];
        assert_eq!(eval(&mut r, body, &["a", "b"], &[]), arr(want), "run {run}");
    }
    let unknown = format!("return redis.call('{}')", "x".repeat(40));
    assert_eq!(
        eval(&mut r, &unknown, &[], &[]),
        script_err("ERR Unknown Redis command called from script", &unknown, 1)
    );
}

#[test]
fn keys_and_values_from_the_request_or_the_script() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let body = "redis.call('RPUSH', KEYS[1], ARGV[1], ARGV[2], 7, 1.5) \
                redis.call('RPUSH', KEYS[1] .. ':copy', ARGV[2] .. '!', KEYS[2]) \
                redis.call('RPUSH', KEYS[2], KEYS[1]) \
                redis.call('RPUSH', KEYS[1], 'last') \
                return redis.call('LLEN', KEYS[1])";
    assert_eq!(eval(&mut r, body, &["list", "other"], &["first", "second"]), int(5));
    // Other requests reuse the connection's buffer before the lists are read.
    for i in 0..20 {
        assert_eq!(r.call(&["SET", &format!("filler{i}"), &"z".repeat(100)]), ok());
    }
    assert_eq!(r.call(&["LRANGE", "list", "0", "-1"]), bulks(&["first", "second", "7", "1.5", "last"]));
    assert_eq!(r.call(&["LRANGE", "list:copy", "0", "-1"]), bulks(&["second!", "other"]));
    assert_eq!(r.call(&["LRANGE", "other", "0", "-1"]), bulks(&["list"]));
    // A key changing from call to call, and back.
    let body = "for i = 1, 6 do redis.call('INCR', KEYS[(i % 2) + 1]) end \
                return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}";
    assert_eq!(eval(&mut r, body, &["even", "odd"], &[]), arr(vec![bulk("3"), bulk("3")]));
}

/// Whatever a run did to its `KEYS` and `ARGV` tables (more entries, holes,
/// string keys, a metatable, a reference kept in a local), the next run
/// sees exactly its own keys and arguments.
#[test]
fn keys_and_argv_start_fresh_each_run() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let show = "local out = {} for k, v in pairs(KEYS) do out[#out + 1] = 'K' .. tostring(k) .. '=' .. v end \
                for k, v in pairs(ARGV) do out[#out + 1] = 'A' .. tostring(k) .. '=' .. v end \
                out[#out + 1] = tostring(getmetatable(KEYS)) .. tostring(getmetatable(ARGV)) \
                out[#out + 1] = tostring(#KEYS) .. '/' .. tostring(#ARGV) \
                return out";
    let meddlers = [
        "for i = 1, 100 do KEYS[i] = 'x' .. i end ARGV.extra = 1 return 1",
        "KEYS[1] = nil ARGV[2] = nil ARGV[70] = 'far' return 1",
        "setmetatable(KEYS, {__index = function() return 'meta' end}) setmetatable(ARGV, {}) return 1",
        "table.insert(KEYS, 'more') table.insert(ARGV, 1, 'front') KEYS[1.5] = 'half' return 1",
        "KEYS[-1] = 'neg' ARGV[0] = 'zero' return 1",
    ];
    for meddler in meddlers {
        assert_eq!(eval(&mut r, meddler, &["m1", "m2"], &["a1", "a2", "a3"]), int(1), "{meddler}");
        let want = bulks(&["K1=k1", "A1=a1", "A2=a2", "nilnil", "1/2"]);
        assert_eq!(eval(&mut r, show, &["k1"], &["a1", "a2"]), want, "after {meddler}");
        assert_eq!(eval(&mut r, show, &[], &[]), bulks(&["nilnil", "0/0"]), "after {meddler}");
    }
}
