//! List commands against the real server: replies, error texts and edge
//! cases as Redis 7 gives them, and RESP3 shapes. The blocking commands'
//! waiting behaviour is in `lists_blocking.rs`.

mod common;

use common::{bulk, bulks as arr, err, int, ints, keyed, nil, nil_array, ok, Raw, Resp, Server};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

#[test]
fn push_and_pop() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["LPUSH", "l", "a", "b", "c"]), int(3));
    assert_eq!(c.call(&["RPUSH", "l", "d", "e"]), int(5));
    assert_eq!(c.call(&["LRANGE", "l", "0", "-1"]), arr(&["c", "b", "a", "d", "e"]));
    assert_eq!(c.call(&["LPUSHX", "nolist", "x"]), int(0));
    assert_eq!(c.call(&["RPUSHX", "nolist", "x", "y"]), int(0));
    assert_eq!(c.call(&["EXISTS", "nolist"]), int(0));
    assert_eq!(c.call(&["LPUSHX", "l", "z"]), int(6));
    assert_eq!(c.call(&["RPUSHX", "l", "y", "w"]), int(8));
    assert_eq!(c.call(&["LPOP", "l"]), bulk("z"));
    assert_eq!(c.call(&["RPOP", "l"]), bulk("w"));
    assert_eq!(c.call(&["LPOP", "l", "2"]), arr(&["c", "b"]));
    assert_eq!(c.call(&["RPOP", "l", "2"]), arr(&["y", "e"]));
    assert_eq!(c.call(&["LPOP", "l", "0"]), Resp::Array(Some(vec![])));
    assert_eq!(c.call(&["RPOP", "l", "100"]), arr(&["d", "a"]));
    assert_eq!(c.call(&["EXISTS", "l"]), int(0), "popping the last element deletes the key");
    assert_eq!(c.call(&["LPOP", "l"]), nil());
    assert_eq!(c.call(&["LPOP", "l", "1"]), nil_array());
    assert_eq!(c.call(&["RPOP", "l", "0"]), nil_array());
    assert_eq!(c.call(&["RPUSH", "one", "x"]), int(1));
    assert_eq!(c.call(&["LPOP", "one"]), bulk("x"));
    assert_eq!(c.call(&["EXISTS", "one"]), int(0));
    // Count errors.
    c.call(&["RPUSH", "l", "a"]);
    assert_eq!(c.call(&["LPOP", "l", "-1"]), err("ERR value is out of range, must be positive"));
    assert_eq!(c.call(&["RPOP", "l", "abc"]), err("ERR value is out of range, must be positive"));
    assert_eq!(c.call(&["LPOP", "l", "1", "2"]), err("ERR wrong number of arguments for 'lpop' command"));
    assert_eq!(c.call(&["LPOP"]), err("ERR wrong number of arguments for 'lpop' command"));
    assert_eq!(c.call(&["LPUSH", "l"]), err("ERR wrong number of arguments for 'lpush' command"));
    assert_eq!(c.call(&["RPUSHX", "l"]), err("ERR wrong number of arguments for 'rpushx' command"));
}

#[test]
fn pushes_keep_the_ttl() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["RPUSH", "l", "a", "b"]);
    assert_eq!(c.call(&["EXPIRE", "l", "100"]), int(1));
    c.call(&["RPUSH", "l", "c"]);
    c.call(&["LSET", "l", "0", "x"]);
    c.call(&["LPOP", "l"]);
    c.call(&["LMOVE", "l", "l", "LEFT", "RIGHT"]);
    match c.call(&["TTL", "l"]) {
        Resp::Int(t) => assert!(t > 0 && t <= 100, "ttl {t}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.call(&["LRANGE", "l", "0", "-1"]), arr(&["c", "b"]));
}

#[test]
fn llen_lindex_lset() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["LLEN", "l"]), int(0));
    c.call(&["RPUSH", "l", "a", "b", "c"]);
    assert_eq!(c.call(&["LLEN", "l"]), int(3));
    assert_eq!(c.call(&["LINDEX", "l", "0"]), bulk("a"));
    assert_eq!(c.call(&["LINDEX", "l", "2"]), bulk("c"));
    assert_eq!(c.call(&["LINDEX", "l", "-1"]), bulk("c"));
    assert_eq!(c.call(&["LINDEX", "l", "-3"]), bulk("a"));
    assert_eq!(c.call(&["LINDEX", "l", "3"]), nil());
    assert_eq!(c.call(&["LINDEX", "l", "-4"]), nil());
    assert_eq!(c.call(&["LINDEX", "l", "x"]), err("ERR value is not an integer or out of range"));
    // Redis looks the key up first: a missing key answers nil whatever the index.
    assert_eq!(c.call(&["LINDEX", "missing", "x"]), nil());
    assert_eq!(c.call(&["LGET", "l", "1"]), bulk("b"), "the original project's alias");
    assert_eq!(c.call(&["LSET", "l", "1", "B"]), ok());
    assert_eq!(c.call(&["LSET", "l", "-1", "C"]), ok());
    assert_eq!(c.call(&["LRANGE", "l", "0", "-1"]), arr(&["a", "B", "C"]));
    assert_eq!(c.call(&["LSET", "l", "3", "x"]), err("ERR index out of range"));
    assert_eq!(c.call(&["LSET", "l", "-4", "x"]), err("ERR index out of range"));
    assert_eq!(c.call(&["LSET", "l", "x", "x"]), err("ERR value is not an integer or out of range"));
    assert_eq!(c.call(&["LSET", "missing", "0", "x"]), err("ERR no such key"));
    assert_eq!(c.call(&["LSET", "missing", "x", "x"]), err("ERR no such key"));
    assert_eq!(c.call(&["LINDEX", "l"]), err("ERR wrong number of arguments for 'lindex' command"));
    assert_eq!(c.call(&["LLEN", "l", "x"]), err("ERR wrong number of arguments for 'llen' command"));
}

#[test]
fn lrange_and_ltrim() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["RPUSH", "l", "0", "1", "2", "3", "4", "5"]);
    assert_eq!(c.call(&["LRANGE", "l", "1", "3"]), arr(&["1", "2", "3"]));
    assert_eq!(c.call(&["LRANGE", "l", "-2", "-1"]), arr(&["4", "5"]));
    assert_eq!(c.call(&["LRANGE", "l", "-100", "1"]), arr(&["0", "1"]));
    assert_eq!(c.call(&["LRANGE", "l", "4", "100"]), arr(&["4", "5"]));
    assert_eq!(c.call(&["LRANGE", "l", "3", "2"]), arr(&[]));
    assert_eq!(c.call(&["LRANGE", "l", "6", "10"]), arr(&[]));
    assert_eq!(c.call(&["LRANGE", "l", "0", "-7"]), arr(&[]));
    assert_eq!(c.call(&["LRANGE", "missing", "0", "-1"]), arr(&[]));
    assert_eq!(c.call(&["LRANGE", "l", "a", "1"]), err("ERR value is not an integer or out of range"));
    assert_eq!(c.call(&["LRANGE", "l", "0", "1.5"]), err("ERR value is not an integer or out of range"));
    assert_eq!(c.call(&["LTRIM", "l", "1", "-2"]), ok());
    assert_eq!(c.call(&["LRANGE", "l", "0", "-1"]), arr(&["1", "2", "3", "4"]));
    assert_eq!(c.call(&["LTRIM", "l", "-3", "100"]), ok());
    assert_eq!(c.call(&["LRANGE", "l", "0", "-1"]), arr(&["2", "3", "4"]));
    assert_eq!(c.call(&["LTRIM", "l", "0", "0"]), ok());
    assert_eq!(c.call(&["LRANGE", "l", "0", "-1"]), arr(&["2"]));
    assert_eq!(c.call(&["LTRIM", "l", "x", "0"]), err("ERR value is not an integer or out of range"));
    assert_eq!(c.call(&["LTRIM", "l", "1", "0"]), ok());
    assert_eq!(c.call(&["EXISTS", "l"]), int(0), "trimming everything deletes the key");
    assert_eq!(c.call(&["LTRIM", "missing", "0", "1"]), ok());
    assert_eq!(c.call(&["EXISTS", "missing"]), int(0));
    c.call(&["RPUSH", "l", "a", "b"]);
    assert_eq!(c.call(&["LTRIM", "l", "5", "10"]), ok());
    assert_eq!(c.call(&["EXISTS", "l"]), int(0));
}

#[test]
fn lrem_counts() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let fill = |c: &mut Raw| {
        c.call(&["DEL", "l"]);
        c.call(&["RPUSH", "l", "x", "a", "x", "b", "x", "c", "x"]);
    };
    fill(&mut c);
    assert_eq!(c.call(&["LREM", "l", "2", "x"]), int(2));
    assert_eq!(c.call(&["LRANGE", "l", "0", "-1"]), arr(&["a", "b", "x", "c", "x"]));
    fill(&mut c);
    assert_eq!(c.call(&["LREM", "l", "-3", "x"]), int(3));
    assert_eq!(c.call(&["LRANGE", "l", "0", "-1"]), arr(&["x", "a", "b", "c"]));
    fill(&mut c);
    assert_eq!(c.call(&["LREM", "l", "0", "x"]), int(4));
    assert_eq!(c.call(&["LRANGE", "l", "0", "-1"]), arr(&["a", "b", "c"]));
    assert_eq!(c.call(&["LREM", "l", "10", "nothere"]), int(0));
    assert_eq!(c.call(&["LREM", "l", "-10", "nothere"]), int(0));
    assert_eq!(c.call(&["LREM", "missing", "0", "x"]), int(0));
    c.call(&["RPUSH", "only", "v", "v"]);
    assert_eq!(c.call(&["LREM", "only", "0", "v"]), int(2));
    assert_eq!(c.call(&["EXISTS", "only"]), int(0), "removing every element deletes the key");
    assert_eq!(c.call(&["LREM", "l", "x", "a"]), err("ERR value is not an integer or out of range"));
    assert_eq!(
        c.call(&["LREM", "l", "-9223372036854775808", "a"]),
        err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    );
}

#[test]
fn linsert_before_and_after() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["RPUSH", "l", "a", "c", "c"]);
    assert_eq!(c.call(&["LINSERT", "l", "BEFORE", "c", "b"]), int(4));
    assert_eq!(c.call(&["LINSERT", "l", "after", "c", "d"]), int(5));
    assert_eq!(c.call(&["LRANGE", "l", "0", "-1"]), arr(&["a", "b", "c", "d", "c"]));
    assert_eq!(c.call(&["LINSERT", "l", "BEFORE", "zz", "x"]), int(-1));
    assert_eq!(c.call(&["LINSERT", "missing", "BEFORE", "a", "x"]), int(0));
    assert_eq!(c.call(&["EXISTS", "missing"]), int(0));
    assert_eq!(c.call(&["LINSERT", "l", "MIDDLE", "a", "x"]), err("ERR syntax error"));
    assert_eq!(c.call(&["LINSERT", "missing", "MIDDLE", "a", "x"]), err("ERR syntax error"));
    assert_eq!(c.call(&["LINSERT", "l", "BEFORE", "a"]), err("ERR wrong number of arguments for 'linsert' command"));
}

#[test]
fn lpos_options() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c"]);
    assert_eq!(c.call(&["LPOS", "l", "c"]), int(2));
    assert_eq!(c.call(&["LPOS", "l", "z"]), nil());
    assert_eq!(c.call(&["LPOS", "l", "c", "RANK", "2"]), int(6));
    assert_eq!(c.call(&["LPOS", "l", "c", "RANK", "4"]), nil());
    assert_eq!(c.call(&["LPOS", "l", "c", "RANK", "-1"]), int(7));
    assert_eq!(c.call(&["LPOS", "l", "c", "RANK", "-3"]), int(2));
    assert_eq!(c.call(&["LPOS", "l", "c", "COUNT", "2"]), ints(&[2, 6]));
    assert_eq!(c.call(&["LPOS", "l", "c", "COUNT", "0"]), ints(&[2, 6, 7]));
    assert_eq!(c.call(&["LPOS", "l", "c", "COUNT", "0", "RANK", "-1"]), ints(&[7, 6, 2]));
    assert_eq!(c.call(&["LPOS", "l", "c", "COUNT", "0", "RANK", "2"]), ints(&[6, 7]));
    assert_eq!(c.call(&["LPOS", "l", "z", "COUNT", "0"]), ints(&[]));
    assert_eq!(c.call(&["LPOS", "l", "c", "COUNT", "0", "MAXLEN", "7"]), ints(&[2, 6]));
    assert_eq!(c.call(&["LPOS", "l", "c", "MAXLEN", "2"]), nil());
    assert_eq!(c.call(&["LPOS", "l", "c", "RANK", "-1", "MAXLEN", "1"]), int(7));
    assert_eq!(c.call(&["LPOS", "l", "c", "RANK", "-1", "COUNT", "0", "MAXLEN", "2"]), ints(&[7, 6]));
    assert_eq!(c.call(&["LPOS", "missing", "c"]), nil());
    assert_eq!(c.call(&["LPOS", "missing", "c", "COUNT", "1"]), ints(&[]));
    assert_eq!(
        c.call(&["LPOS", "l", "c", "RANK", "0"]),
        err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
    );
    assert_eq!(c.call(&["LPOS", "l", "c", "RANK", "x"]), err("ERR value is not an integer or out of range"));
    assert_eq!(c.call(&["LPOS", "l", "c", "COUNT", "-1"]), err("ERR COUNT can't be negative"));
    assert_eq!(c.call(&["LPOS", "l", "c", "MAXLEN", "-1"]), err("ERR MAXLEN can't be negative"));
    assert_eq!(c.call(&["LPOS", "l", "c", "COUNT"]), err("ERR syntax error"));
    assert_eq!(c.call(&["LPOS", "l", "c", "FOO", "1"]), err("ERR syntax error"));
    assert_eq!(c.call(&["LPOS", "l"]), err("ERR wrong number of arguments for 'lpos' command"));
}

#[test]
fn lmove_and_rpoplpush() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["RPUSH", "src", "1", "2", "3", "4"]);
    assert_eq!(c.call(&["LMOVE", "src", "dst", "LEFT", "RIGHT"]), bulk("1"));
    assert_eq!(c.call(&["LMOVE", "src", "dst", "right", "left"]), bulk("4"));
    assert_eq!(c.call(&["LMOVE", "src", "dst", "LEFT", "LEFT"]), bulk("2"));
    assert_eq!(c.call(&["LRANGE", "dst", "0", "-1"]), arr(&["2", "4", "1"]));
    assert_eq!(c.call(&["RPOPLPUSH", "src", "dst"]), bulk("3"));
    assert_eq!(c.call(&["EXISTS", "src"]), int(0), "moving the last element deletes the source");
    assert_eq!(c.call(&["LRANGE", "dst", "0", "-1"]), arr(&["3", "2", "4", "1"]));
    assert_eq!(c.call(&["LMOVE", "dst", "dst", "RIGHT", "LEFT"]), bulk("1"), "rotation");
    assert_eq!(c.call(&["LMOVE", "dst", "dst", "LEFT", "LEFT"]), bulk("1"));
    assert_eq!(c.call(&["LRANGE", "dst", "0", "-1"]), arr(&["1", "3", "2", "4"]));
    c.call(&["RPUSH", "single", "x"]);
    assert_eq!(c.call(&["RPOPLPUSH", "single", "single"]), bulk("x"));
    assert_eq!(c.call(&["LRANGE", "single", "0", "-1"]), arr(&["x"]));
    assert_eq!(c.call(&["LMOVE", "missing", "dst", "LEFT", "RIGHT"]), nil());
    assert_eq!(c.call(&["RPOPLPUSH", "missing", "dst"]), nil());
    assert_eq!(c.call(&["EXISTS", "missing"]), int(0));
    c.call(&["SET", "str", "v"]);
    assert_eq!(c.call(&["LMOVE", "dst", "str", "LEFT", "RIGHT"]), err(WRONGTYPE));
    assert_eq!(c.call(&["LLEN", "dst"]), int(4), "nothing popped when the destination is wrong");
    assert_eq!(c.call(&["LMOVE", "str", "dst", "LEFT", "RIGHT"]), err(WRONGTYPE));
    assert_eq!(c.call(&["LMOVE", "missing", "str", "LEFT", "RIGHT"]), nil());
    assert_eq!(c.call(&["LMOVE", "dst", "x", "UP", "RIGHT"]), err("ERR syntax error"));
    assert_eq!(c.call(&["LMOVE", "dst", "x", "LEFT", "DOWN"]), err("ERR syntax error"));
    assert_eq!(c.call(&["RPOPLPUSH", "dst"]), err("ERR wrong number of arguments for 'rpoplpush' command"));
}

#[test]
fn lmpop_picks_the_first_non_empty_list() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["RPUSH", "b", "1", "2", "3"]);
    c.call(&["RPUSH", "c", "x"]);
    assert_eq!(c.call(&["LMPOP", "3", "a", "b", "c", "LEFT"]), keyed("b", &["1"]));
    assert_eq!(c.call(&["LMPOP", "2", "b", "c", "RIGHT", "COUNT", "5"]), keyed("b", &["3", "2"]));
    assert_eq!(c.call(&["EXISTS", "b"]), int(0));
    assert_eq!(c.call(&["LMPOP", "2", "b", "c", "left", "count", "2"]), keyed("c", &["x"]));
    assert_eq!(c.call(&["LMPOP", "2", "b", "c", "LEFT"]), nil_array());
    assert_eq!(c.call(&["LMPOP", "0", "a", "LEFT"]), err("ERR numkeys should be greater than 0"));
    assert_eq!(c.call(&["LMPOP", "-1", "a", "LEFT"]), err("ERR numkeys should be greater than 0"));
    assert_eq!(c.call(&["LMPOP", "x", "a", "LEFT"]), err("ERR numkeys should be greater than 0"));
    assert_eq!(c.call(&["LMPOP", "3", "a", "LEFT"]), err("ERR syntax error"));
    assert_eq!(c.call(&["LMPOP", "9223372036854775807", "a", "LEFT"]), err("ERR syntax error"));
    assert_eq!(c.call(&["LMPOP", "1", "a", "UP"]), err("ERR syntax error"));
    assert_eq!(c.call(&["LMPOP", "1", "a", "LEFT", "COUNT", "0"]), err("ERR count should be greater than 0"));
    assert_eq!(c.call(&["LMPOP", "1", "a", "LEFT", "COUNT", "x"]), err("ERR count should be greater than 0"));
    assert_eq!(c.call(&["LMPOP", "1", "a", "LEFT", "COUNT"]), err("ERR syntax error"));
    assert_eq!(c.call(&["LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "1"]), err("ERR syntax error"));
    assert_eq!(c.call(&["LMPOP", "1", "a"]), err("ERR wrong number of arguments for 'lmpop' command"));
    c.call(&["SET", "s", "v"]);
    assert_eq!(c.call(&["LMPOP", "2", "a", "s", "LEFT"]), err(WRONGTYPE));
}

#[test]
fn lmpop_marks_watchers_dirty() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let mut other = s.raw();
    c.call(&["RPUSH", "l", "a", "b"]);
    assert_eq!(c.call(&["WATCH", "l"]), ok());
    assert_eq!(other.call(&["LMPOP", "1", "l", "LEFT"]), keyed("l", &["a"]));
    assert_eq!(c.call(&["MULTI"]), ok());
    c.call(&["LLEN", "l"]);
    assert_eq!(c.call(&["EXEC"]), nil_array());
}

#[test]
fn wrong_type_against_a_string() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.call(&["SET", "s", "v"]);
    let cmds: &[&[&str]] = &[
        &["LPUSH", "s", "x"],
        &["RPUSH", "s", "x"],
        &["LPUSHX", "s", "x"],
        &["RPUSHX", "s", "x"],
        &["LPOP", "s"],
        &["RPOP", "s", "2"],
        &["LLEN", "s"],
        &["LINDEX", "s", "0"],
        &["LSET", "s", "0", "x"],
        &["LRANGE", "s", "0", "-1"],
        &["LTRIM", "s", "0", "1"],
        &["LREM", "s", "0", "x"],
        &["LINSERT", "s", "BEFORE", "a", "b"],
        &["LPOS", "s", "x"],
        &["LMOVE", "s", "d", "LEFT", "LEFT"],
        &["RPOPLPUSH", "s", "d"],
        &["LMPOP", "1", "s", "LEFT"],
        &["BLPOP", "s", "0"],
        &["BRPOP", "missing", "s", "0"],
        &["BLMOVE", "s", "d", "LEFT", "LEFT", "0"],
        &["BRPOPLPUSH", "s", "d", "0"],
        &["BLMPOP", "0", "1", "s", "LEFT"],
    ];
    for cmd in cmds {
        assert_eq!(c.call(cmd), err(WRONGTYPE), "{cmd:?}");
    }
    assert_eq!(c.call(&["GET", "s"]), bulk("v"));
    // A blocking move whose source has elements fails on a wrong-type destination.
    c.call(&["RPUSH", "l", "a"]);
    assert_eq!(c.call(&["BLMOVE", "l", "s", "LEFT", "LEFT", "0"]), err(WRONGTYPE));
    assert_eq!(c.call(&["LLEN", "l"]), int(1));
}

#[test]
fn resp3_reply_shapes() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert!(matches!(c.call(&["HELLO", "3"]), Resp::Map(_)));
    assert_eq!(c.call(&["LPOP", "missing"]), Resp::Null);
    assert_eq!(c.call(&["LPOP", "missing", "2"]), Resp::Null);
    assert_eq!(c.call(&["LINDEX", "missing", "0"]), Resp::Null);
    assert_eq!(c.call(&["LPOS", "missing", "x"]), Resp::Null);
    assert_eq!(c.call(&["LMPOP", "1", "missing", "LEFT"]), Resp::Null);
    assert_eq!(c.call(&["BLPOP", "missing", "0.01"]), Resp::Null);
    assert_eq!(c.call(&["BLMOVE", "missing", "d", "LEFT", "LEFT", "0.01"]), Resp::Null);
    c.call(&["RPUSH", "l", "a", "b", "c"]);
    assert_eq!(c.call(&["LPOP", "l", "1"]), arr(&["a"]));
    assert_eq!(c.call(&["BLPOP", "l", "0"]), arr(&["l", "b"]));
    assert_eq!(c.call(&["LMPOP", "1", "l", "RIGHT"]), keyed("l", &["c"]));

    // The same through the redis crate's RESP3 connection.
    let mut c3 = s.conn3();
    let v: redis::Value = redis::cmd("LPOP").arg("missing").arg(3).query(&mut c3).unwrap();
    assert_eq!(v, redis::Value::Nil);
    let v: redis::Value = redis::cmd("BRPOP").arg("missing").arg("0.01").query(&mut c3).unwrap();
    assert_eq!(v, redis::Value::Nil);
    let _: () = redis::cmd("RPUSH").arg("r").arg("x").arg("y").query(&mut c3).unwrap();
    let v: Vec<String> = redis::cmd("LRANGE").arg("r").arg(0).arg(-1).query(&mut c3).unwrap();
    assert_eq!(v, vec!["x", "y"]);
    let v: (String, String) = redis::cmd("BRPOP").arg("r").arg(0).query(&mut c3).unwrap();
    assert_eq!(v, ("r".to_string(), "y".to_string()));
}
