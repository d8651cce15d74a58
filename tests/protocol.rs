//! Wire-level behaviour over raw sockets: inline commands, pipelining,
//! protocol errors closing only the offending connection.

mod common;
use common::{bulk, err, Resp, Server};

#[test]
fn inline_commands_and_quoting() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    c.send(b"PING\r\n");
    assert_eq!(c.read(), Resp::Simple("PONG".into()));
    c.send(b"set k \"hello world\"\n");
    assert_eq!(c.read(), Resp::Simple("OK".into()));
    c.send(b"get k\r\n");
    assert_eq!(c.read(), bulk("hello world"));
}

#[test]
fn pipeline_of_10k_commands_answers_in_order() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let mut buf = Vec::new();
    for i in 0..10_000 {
        let k = format!("k{i}");
        let v = format!("v{i}");
        buf.extend(common::encode_cmd(&[b"SET", k.as_bytes(), v.as_bytes()]));
        buf.extend(common::encode_cmd(&[b"GET", k.as_bytes()]));
    }
    c.send(&buf);
    for i in 0..10_000 {
        assert_eq!(c.read(), Resp::Simple("OK".into()));
        assert_eq!(c.read(), bulk(&format!("v{i}")));
    }
}

#[test]
fn protocol_errors_close_only_that_connection() {
    let s = Server::start(&[]);
    let mut good = s.raw();
    assert_eq!(good.call(&["SET", "a", "1"]), Resp::Simple("OK".into()));
    for (input, expected) in [
        (&b"*2\r\n+x\r\n"[..], "ERR Protocol error: expected '$', got '+'"),
        (&b"*abc\r\n"[..], "ERR Protocol error: invalid multibulk length"),
        (&b"*1\r\n$999999999999\r\n"[..], "ERR Protocol error: invalid bulk length"),
        (&b"set \"a\r\n"[..], "ERR Protocol error: unbalanced quotes in request"),
    ] {
        let mut bad = s.raw();
        bad.send(input);
        assert_eq!(bad.read(), err(expected));
        assert!(bad.is_closed(), "connection should close after {expected}");
    }
    let mut bad = s.raw();
    bad.send(&vec![b'a'; 70 * 1024]);
    assert_eq!(bad.read(), err("ERR Protocol error: too big inline request"));
    assert_eq!(good.call(&["GET", "a"]), bulk("1"));
}

#[test]
fn unknown_command_and_arity_errors() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["NOSUCH", "s", "x"]), err("ERR unknown command 'NOSUCH', with args beginning with: 's' 'x' "));
    assert_eq!(c.call(&["GET"]), err("ERR wrong number of arguments for 'get' command"));
    assert_eq!(c.call(&["PING"]), Resp::Simple("PONG".into()));
}

/// Replies are held until every connection with requests ready has run
/// (server::write_batch); none may be left waiting, whatever else runs in
/// the batch: a DEBUG SLEEP that hands the worker to another thread, a
/// blocked client woken by one of the writes, a one-worker or two-worker
/// server, with the worker watching for work before it sleeps
/// (server::idle_spin: off, default, and far longer than the test) or not.
#[test]
fn requests_sent_together_on_many_connections_are_all_answered() {
    for (threads, spin) in [("1", "0"), ("1", "200"), ("1", "60000000"), ("2", "200")] {
        let s = Server::start(&["--threads", threads, "--idle-spin-us", spin]);
        let mut blocked = s.raw();
        blocked.cmd(&[b"BLPOP", b"queue", b"0"]);
        let mut conns: Vec<_> = (0..100).map(|_| s.raw()).collect();
        let mut counters = vec![0i64; conns.len()];
        for round in 0..3 {
            let mut wants = Vec::new();
            for (i, c) in conns.iter_mut().enumerate() {
                let want = match (round, i) {
                    (1, 7) => {
                        c.cmd(&[b"DEBUG", b"SLEEP", b"0.05"]);
                        Resp::Simple("OK".into())
                    }
                    (2, 50) => {
                        c.cmd(&[b"LPUSH", b"queue", b"job"]);
                        Resp::Int(1)
                    }
                    _ => {
                        c.cmd(&[b"INCR", format!("k{i}").as_bytes()]);
                        counters[i] += 1;
                        Resp::Int(counters[i])
                    }
                };
                wants.push(want);
            }
            for (i, (c, want)) in conns.iter_mut().zip(wants).enumerate() {
                assert_eq!(c.read(), want, "threads {threads}, spin {spin}, round {round}, connection {i}");
            }
        }
        assert_eq!(blocked.read(), Resp::Array(Some(vec![bulk("queue"), bulk("job")])));
    }
}

/// A value of `len` bytes that differs per `seed`.
fn big_value(seed: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + ((i * 7 + seed) % 26) as u8).collect()
}

/// Big values arrive in requests of changing shapes (the server sizes its
/// reads after the last request with a big argument): a repeated shape, a
/// longer and a shorter key, a big argument followed by others (the same
/// shape repeated, then a longer one), two in one request, a small request
/// between; all in one pipeline, then again cut
/// into pieces. Every value reads back whole, and each stored value holds
/// about its own size in memory, not a network buffer.
#[test]
fn big_values_in_requests_of_changing_shapes() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let sizes = [40_000usize, 40_000, 40_000, 65_536, 65_536, 100_000];
    let mut requests: Vec<(String, Vec<u8>)> = Vec::new();
    let mut wire = Vec::new();
    let mut replies = 0;
    for (i, &len) in sizes.iter().enumerate() {
        for key in [format!("k{i}"), format!("k{i}"), format!("longer-key-{i}"), format!("{i}")] {
            let v = big_value(requests.len(), len);
            wire.extend(common::encode_cmd(&[b"SET", key.as_bytes(), &v]));
            requests.push((key, v));
            replies += 1;
        }
        for ex in ["1000", "1000", "100000"] {
            let v = big_value(requests.len(), len);
            let key = format!("ex{i}");
            wire.extend(common::encode_cmd(&[b"SET", key.as_bytes(), &v, b"EX", ex.as_bytes()]));
            requests.push((key, v));
            replies += 1;
        }
        let (a, b) = (big_value(requests.len(), len), big_value(requests.len() + 1, len));
        wire.extend(common::encode_cmd(&[b"MSET", b"ma", &a, b"mb", &b]));
        requests.push(("ma".into(), a));
        requests.push(("mb".into(), b));
        wire.extend(common::encode_cmd(&[b"PING"]));
        replies += 2;
    }
    // What each key holds once the pipeline ran (the last value written).
    let latest: std::collections::HashMap<&String, &Vec<u8>> = requests.iter().map(|(k, v)| (k, v)).collect();
    let check = |c: &mut common::Raw, wire: &[u8], chunk: usize| {
        for piece in wire.chunks(chunk) {
            c.send(piece);
        }
        for _ in 0..replies {
            assert!(matches!(c.read(), Resp::Simple(s) if s == "OK" || s == "PONG"));
        }
        for (k, &v) in &latest {
            assert_eq!(c.call_bytes(&[b"GET", k.as_bytes()]), Resp::Bulk(Some(v.clone())), "{k}");
        }
    };
    check(&mut c, &wire, wire.len());
    assert_eq!(c.call(&["FLUSHALL"]), common::ok());
    check(&mut c, &wire, 7_001);

    // Twenty values of 64 KiB stored by requests of one shape, with and
    // without a rest after the value.
    for rest in [&[][..], &[&b"EX"[..], b"1000"][..]] {
        assert_eq!(c.call(&["FLUSHALL"]), common::ok());
        let before = common::used_memory(&mut c);
        let mut wire = Vec::new();
        for i in 0..20 {
            let (key, v) = (format!("key:{i:04}"), big_value(i, 65_536));
            let mut args: Vec<&[u8]> = vec![b"SET", key.as_bytes(), &v];
            args.extend_from_slice(rest);
            wire.extend(common::encode_cmd(&args));
        }
        c.send(&wire);
        for _ in 0..20 {
            assert_eq!(c.read(), common::ok());
        }
        let per_key = (common::used_memory(&mut c) - before) / 20;
        assert!(per_key < 70_000, "{per_key} bytes per 64 KiB value");
    }
}
