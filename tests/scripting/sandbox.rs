//! The scripting sandbox: globals are read-only and reading an unknown one
//! is an error, the dangerous functions and libraries are gone, bytecode is
//! refused, the libraries cannot be changed, and no script can leave state
//! behind for the next one.

use super::*;

const READONLY: &str = "ERR user_script:1: Attempt to modify a readonly table";

#[test]
fn globals_are_read_only_and_unknown_ones_are_errors() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    // Reading a global that does not exist.
    let body = "return nosuchvar";
    let e = err_text(eval(&mut r, body, &[], &[]));
    assert!(e.starts_with("ERR "), "{e}");
    assert!(e.contains("Script attempted to access nonexistent global variable 'nosuchvar'"), "{e}");
    assert!(e.ends_with(&format!(" script: {}, on @user_script:1.", sha1_hex(body))), "{e}");
    // Writing one, directly or through _G.
    for body in ["x = 1", "_G.x = 1", "_G['KEYS'] = {}"] {
        assert_eq!(eval(&mut r, body, &[], &[]), script_err(READONLY, body, 1), "EVAL {body:?}");
    }
    // rawset and setmetatable on _G are refused too (the exact text is
    // checked in `error_texts_for_protected_tables_match_redis`).
    for body in ["rawset(_G, 'x', 1)", "setmetatable(_G, {})", "setmetatable(_G, nil)"] {
        let e = err_text(eval(&mut r, body, &[], &[]));
        assert!(e.contains("Attempt to modify a readonly table"), "EVAL {body:?}: {e}");
    }
    // Local variables are fine.
    assert_eq!(eval(&mut r, "local x = 1 x = x + 1 return x", &[], &[]), int(2));
}

#[test]
fn dangerous_functions_and_libraries_are_absent() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    for name in ["os", "io", "require", "loadfile", "dofile", "print", "module", "package", "debug", "newglobal"] {
        let body = format!("return {name}");
        let e = err_text(eval(&mut r, &body, &[], &[]));
        assert!(e.contains(&format!("Script attempted to access nonexistent global variable '{name}'")), "{name}: {e}");
        let body = format!("return type(rawget(_G, '{name}'))");
        assert_eq!(eval(&mut r, &body, &[], &[]), bulk("nil"), "{name} is not even there to rawget");
    }
    // Source code loads; precompiled bytecode does not (loadstring answers nil).
    assert_eq!(eval(&mut r, "return loadstring('return 5')()", &[], &[]), int(5));
    let body = "return loadstring(string.dump(function() return 1 end)) == nil";
    assert_eq!(eval(&mut r, body, &[], &[]), int(1));
    let body = "local f, e = loadstring(string.dump(function() return 1 end)) return {tostring(f), type(e)}";
    assert_eq!(eval(&mut r, body, &[], &[]), bulks(&["nil", "string"]));
    // What scripts are documented to have is there.
    for (body, want) in [
        ("return string.len('abc')", int(3)),
        ("return ('abc'):upper()", bulk("ABC")),
        ("return cjson.encode({1, 2})", bulk("[1,2]")),
        ("return cjson.decode('[1,2,3]')[3]", int(3)),
        ("return math.floor(2.5)", int(2)),
        ("return table.concat({'a', 'b'}, '-')", bulk("a-b")),
        ("return redis.sha1hex('')", bulk("da39a3ee5e6b4b0d3255bfef95601890afd80709")),
        ("return type(bit.band)", bulk("function")),
        ("return type(struct.pack)", bulk("function")),
        ("return type(cmsgpack.pack)", bulk("function")),
        ("return type(coroutine.create)", bulk("function")),
    ] {
        assert_eq!(eval(&mut r, body, &[], &[]), want, "EVAL {body:?}");
    }
}

#[test]
fn libraries_cannot_be_modified() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    for body in [
        "redis.call = function() return 1 end",
        "redis.newfield = 1",
        "cjson.encode = function() return 'x' end",
        "string.len = function() return 1 end",
        "math.floor = nil",
        "table.concat = nil",
        "bit.band = nil",
    ] {
        assert_eq!(eval(&mut r, body, &[], &[]), script_err(READONLY, body, 1), "EVAL {body:?}");
    }
    let body = "return tostring(select(2, pcall(table.insert, string, 1)))";
    assert_eq!(eval(&mut r, body, &[], &[]), bulk("Attempt to modify a readonly table"));
    let body = "local mt = getmetatable('') mt.__index = {} return 1";
    assert_eq!(eval(&mut r, body, &[], &[]), script_err(READONLY, body, 1));
    // Everything still works as before.
    for (body, want) in [
        ("return string.len('abc')", int(3)),
        ("return ('abc'):len()", int(3)),
        ("return cjson.encode({1})", bulk("[1]")),
        ("return redis.call('PING').ok", bulk("PONG")),
        ("return math.floor(2.5)", int(2)),
    ] {
        assert_eq!(eval(&mut r, body, &[], &[]), want, "EVAL {body:?}");
    }
}

/// Asks a global `name` without failing: its value as a string, or "absent".
fn probe(name: &str) -> String {
    format!("local ok, v = pcall(function() return {name} end) if ok then return tostring(v) end return 'absent'")
}

#[test]
fn nothing_leaks_between_scripts() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    // Every way of setting a global fails, so the next script sees none.
    let body = "pcall(function() leak = 1 end) pcall(function() _G.leak = 1 end) \
                pcall(rawset, _G, 'leak', 1) pcall(setmetatable, _G, nil) return 1";
    assert_eq!(eval(&mut r, body, &[], &[]), int(1));
    assert_eq!(eval(&mut r, &probe("leak"), &[], &[]), bulk("absent"));
    // The unknown-global check survived the setmetatable attempt.
    let e = err_text(eval(&mut r, "return stillnothing", &[], &[]));
    assert!(e.contains("nonexistent global variable 'stillnothing'"), "{e}");
    // KEYS and ARGV are the current script's only.
    assert_eq!(r.call(&["EVAL", "return #KEYS + #ARGV", "2", "a", "b", "c"]), int(3));
    assert_eq!(r.call(&["EVAL", "return {#KEYS, #ARGV}", "0"]), ints(&[0, 0]));
    // Locals and upvalues of a script do not outlive it.
    assert_eq!(eval(&mut r, "local counter = 41 return counter + 1", &[], &[]), int(42));
    assert_eq!(eval(&mut r, &probe("counter"), &[], &[]), bulk("absent"));
    // Nor does the protocol a script chose.
    assert_eq!(eval(&mut r, "redis.setresp(3) return 1", &[], &[]), int(1));
    assert_eq!(eval(&mut r, "return tostring(redis.call('GET', 'nokey'))", &[], &[]), bulk("false"));
}

/// Found while writing these tests; Redis 7.0 (and the installed 7.0.15)
/// answer as asserted.
#[test]
fn nothing_leaks_through_metatables_or_function_environments() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    // Each attack runs under pcall: whether it is refused with an error or
    // finds nothing to change, the next script must see the originals.
    let attacks = [
        "getmetatable('').__index.len = function() return 42 end",
        "getmetatable(cjson).__index.encode = function() return 'hacked' end",
        "getmetatable(_G).__index.leak = 'yes'",
        "getfenv(redis.error_reply).leak2 = 'yes'",
        "rawset(getfenv(pcall), 'leak3', 'yes')",
        "getmetatable(redis).__index.sha1hex = function() return 'hacked' end",
    ];
    for attack in attacks {
        let body = format!("pcall(function() {attack} end) return 1");
        assert_eq!(eval(&mut r, &body, &[], &[]), int(1), "{attack}");
    }
    // Every check runs, so a failure lists all the leaks at once.
    let mut leaks = Vec::new();
    let mut expect = |r: &mut Raw, body: &str, want: Resp| {
        let got = eval(r, body, &[], &[]);
        if got != want {
            leaks.push(format!("EVAL {body:?}: got {got:?}, want {want:?}"));
        }
    };
    expect(&mut r, "return string.len('abc')", int(3));
    expect(&mut r, "return ('abc'):len()", int(3));
    expect(&mut r, "return cjson.encode({1})", bulk("[1]"));
    expect(&mut r, "return redis.sha1hex('')", bulk("da39a3ee5e6b4b0d3255bfef95601890afd80709"));
    for name in ["leak", "leak2", "leak3"] {
        expect(&mut r, &probe(name), bulk("absent"));
    }
    assert!(leaks.is_empty(), "state leaked between scripts:\n{}", leaks.join("\n"));
}

/// Found while writing these tests; the texts are the installed Redis
/// 7.0.15's.
#[test]
fn error_texts_for_protected_tables_match_redis() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut diffs = Vec::new();
    let mut expect = |r: &mut Raw, body: &str, want: Resp| {
        let got = eval(r, body, &[], &[]);
        if got != want {
            diffs.push(format!("EVAL {body:?}: got {got:?}, want {want:?}"));
        }
    };
    let body = "return nosuchvar";
    let want =
        script_err("ERR user_script:1: Script attempted to access nonexistent global variable 'nosuchvar'", body, 1);
    expect(&mut r, body, want);
    for body in ["rawset(_G, 'x', 1)", "setmetatable(_G, {})", "setmetatable(_G, nil)"] {
        expect(&mut r, body, script_err("ERR Attempt to modify a readonly table", body, 1));
    }
    for lib in ["redis", "string", "cjson", "math", "table"] {
        expect(&mut r, &format!("return type(rawget(_G, '{lib}'))"), bulk("table"));
    }
    assert!(diffs.is_empty(), "replies differ from Redis 7.0:\n{}", diffs.join("\n"));
}
