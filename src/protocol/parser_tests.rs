//! The request parser's tests: multibulk and inline requests, resuming,
//! Redis's errors and limits, big arguments and predicted reads.

use super::*;

fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
    let mut p = RequestParser::default();
    let mut buf = BytesMut::from(input);
    let mut out = vec![];
    while let Some(args) = p.parse(&mut buf, true)? {
        out.push(args.iter().map(|b| b.to_vec()).collect());
    }
    Ok(out)
}

#[test]
fn parse_next_lends_each_request_and_reuses_its_vector() {
    let mut p = RequestParser::default();
    let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1"[..]);
    let first: Vec<Vec<u8>> = p.parse_next(&mut buf, true).unwrap().unwrap().iter().map(|b| b.to_vec()).collect();
    assert_eq!(first, vec![b"GET".to_vec(), b"k".to_vec()]);
    let second: Vec<Vec<u8>> = p.parse_next(&mut buf, true).unwrap().unwrap().iter().map(|b| b.to_vec()).collect();
    assert_eq!(second, vec![b"PING".to_vec()]);
    // A partial request is not handed out; the rest completes it.
    assert!(p.parse_next(&mut buf, true).unwrap().is_none());
    buf.extend_from_slice(b"\r\nb\r\n");
    let third = p.parse_next(&mut buf, true).unwrap().unwrap();
    assert_eq!(third, &[Bytes::from_static(b"SET"), Bytes::from_static(b"a"), Bytes::from_static(b"b")][..]);
    assert!(p.parse_next(&mut buf, true).unwrap().is_none());
    assert!(p.is_idle());
}

#[test]
fn multibulk_and_inline() {
    let r = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\nset a \"b c\"\n").unwrap();
    assert_eq!(r.len(), 3);
    assert_eq!(r[0], vec![b"GET".to_vec(), b"k".to_vec()]);
    assert_eq!(r[1], vec![b"PING".to_vec()]);
    assert_eq!(r[2], vec![b"set".to_vec(), b"a".to_vec(), b"b c".to_vec()]);
}

#[test]
fn resumes_byte_by_byte() {
    let input = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n";
    let mut p = RequestParser::default();
    let mut buf = BytesMut::new();
    let mut got = None;
    for &c in input.iter() {
        buf.extend_from_slice(&[c]);
        if let Some(a) = p.parse(&mut buf, true).unwrap() {
            got = Some(a);
        }
    }
    let got = got.unwrap();
    assert_eq!(&got[2][..], b"va\r\nl");
    assert!(buf.is_empty());
}

#[test]
fn errors_match_redis() {
    assert_eq!(parse_all(b"*2\r\n+x\r\n"), Err(ProtocolError::ExpectedDollar('+')));
    assert_eq!(parse_all(b"*abc\r\n"), Err(ProtocolError::InvalidMultibulkLength));
    assert_eq!(parse_all(b"*1\r\n$-5\r\n"), Err(ProtocolError::InvalidBulkLength));
    assert_eq!(parse_all(b"*1\r\n$600000000\r\n"), Err(ProtocolError::InvalidBulkLength));
    assert_eq!(parse_all(b"set \"a\n"), Err(ProtocolError::UnbalancedQuotes));
    let big = vec![b'a'; MAX_INLINE_SIZE + 1];
    assert_eq!(parse_all(&big), Err(ProtocolError::TooBigInline));
    assert_eq!(ProtocolError::ExpectedDollar('x').to_string(), "ERR Protocol error: expected '$', got 'x'");
}

#[test]
fn empty_requests_are_skipped() {
    assert_eq!(parse_all(b"*0\r\n\r\n*-1\r\nPING\r\n").unwrap().len(), 1);
}

#[test]
fn unauthenticated_limits() {
    let mut p = RequestParser::default();
    let mut buf = BytesMut::from(&b"*100\r\n"[..]);
    assert_eq!(p.parse(&mut buf, false), Err(ProtocolError::UnauthenticatedMultibulkLength));
}

/// The allocation under `b` when nothing else shares it: its size from
/// `b`'s first byte.
fn own_capacity(b: Bytes) -> usize {
    b.try_into_mut().expect("not shared").capacity()
}

const BIG: usize = BIG_ARG + 7232;

fn big_header() -> Vec<u8> {
    format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${BIG}\r\n").into_bytes()
}

fn value() -> Vec<u8> {
    (0..BIG).map(|i| (i % 251) as u8).collect()
}

#[test]
fn a_big_argument_in_pieces_gets_an_exact_buffer_of_its_own() {
    let mut p = RequestParser::default().exact_big_args();
    let v = value();
    let mut buf = BytesMut::with_capacity(16 * 1024);
    buf.extend_from_slice(&big_header());
    buf.extend_from_slice(&v[..1000]);
    assert!(p.parse(&mut buf, true).unwrap().is_none());
    assert_eq!(p.big_arg_room(buf.len()), Some(BIG + 2 - 1000));
    assert_eq!(buf.capacity(), BIG + 2);
    // Reads fill it without growing it.
    buf.extend_from_slice(&v[1000..20_000]);
    assert!(p.parse(&mut buf, true).unwrap().is_none());
    buf.extend_from_slice(&v[20_000..]);
    buf.extend_from_slice(b"\r\n");
    assert_eq!(buf.capacity(), BIG + 2);
    let mut args = p.parse(&mut buf, true).unwrap().unwrap();
    assert_eq!(&args[2][..], &v[..]);
    assert!(p.big_arg_room(buf.len()).is_none());
    // The general buffer is back, empty, with room for another as big
    // (as Redis sizes it), and serves what follows; small reads are
    // asked for until a request without a big argument.
    assert!(buf.is_empty() && buf.capacity() >= BIG + 2);
    assert!(p.expects_big_arg());
    buf.extend_from_slice(b"PING\r\n");
    assert_eq!(p.parse(&mut buf, true).unwrap().unwrap(), vec![Bytes::from_static(b"PING")]);
    assert!(!p.expects_big_arg());
    assert_eq!(own_capacity(args.pop().unwrap()), BIG + 2);
}

#[test]
fn a_big_argument_is_copied_out_when_it_shares_a_buffer() {
    // Whole in one read, with a request behind it.
    let mut p = RequestParser::default().exact_big_args();
    let v = value();
    let mut input = big_header();
    input.extend_from_slice(&v);
    input.extend_from_slice(b"\r\nPING\r\n");
    let mut buf = BytesMut::from(&input[..]);
    let mut args = p.parse(&mut buf, true).unwrap().unwrap();
    assert_eq!(&args[2][..], &v[..]);
    assert_eq!(own_capacity(args.pop().unwrap()), BIG);
    assert_eq!(p.parse(&mut buf, true).unwrap().unwrap(), vec![Bytes::from_static(b"PING")]);

    // Its own buffer grown by a caller past its end: copied out, and the
    // bytes behind it kept.
    let mut buf = BytesMut::from(&big_header()[..]);
    buf.extend_from_slice(&v[..10]);
    assert!(p.parse(&mut buf, true).unwrap().is_none());
    buf.extend_from_slice(&v[10..]);
    buf.extend_from_slice(b"\r\n*1\r\n$4\r\nPING\r\n");
    let mut args = p.parse(&mut buf, true).unwrap().unwrap();
    assert_eq!(&args[2][..], &v[..]);
    assert_eq!(own_capacity(args.pop().unwrap()), BIG);
    assert_eq!(p.parse(&mut buf, true).unwrap().unwrap(), vec![Bytes::from_static(b"PING")]);
    assert!(buf.is_empty());
}

/// A request with a big argument, then what `predicted_read` asks for
/// the next one: its length up to the argument's end.
fn primed() -> (RequestParser, usize) {
    let mut p = RequestParser::default().exact_big_args();
    let mut buf = BytesMut::from(&big_header()[..]);
    buf.extend_from_slice(&value());
    buf.extend_from_slice(b"\r\n");
    assert!(p.predicted_read().is_none());
    p.parse(&mut buf, true).unwrap().unwrap();
    let n = p.predicted_read().expect("a prediction");
    assert_eq!(n, big_header().len() + BIG + 2);
    (p, n)
}

/// The allocation under `b`, from `b`'s first byte to its end.
fn shared_room(b: &Bytes, buf_end: usize) -> usize {
    buf_end - b.as_ptr() as usize
}

#[test]
fn a_predicted_read_hands_its_big_argument_out_in_place() {
    let (mut p, n) = primed();
    let v = value();
    // Whole in one read.
    let mut buf = BytesMut::with_capacity(n);
    let end = buf.as_ptr() as usize + n;
    p.arm_predicted_read();
    buf.extend_from_slice(&big_header());
    buf.extend_from_slice(&v);
    buf.extend_from_slice(b"\r\n");
    let args = p.parse(&mut buf, true).unwrap().unwrap();
    assert_eq!(&args[2][..], &v[..]);
    assert_eq!(shared_room(&args[2], end), BIG + 2, "not copied");
    assert!(buf.is_empty() && buf.capacity() == 0);
    // In two reads: the rest goes into the same buffer.
    let mut buf = BytesMut::with_capacity(n);
    let end = buf.as_ptr() as usize + n;
    p.arm_predicted_read();
    buf.extend_from_slice(&big_header());
    buf.extend_from_slice(&v[..100]);
    assert!(p.parse(&mut buf, true).unwrap().is_none());
    assert_eq!(p.big_arg_room(buf.len()), Some(BIG + 2 - 100));
    buf.extend_from_slice(&v[100..]);
    buf.extend_from_slice(b"\r\n");
    let args = p.parse(&mut buf, true).unwrap().unwrap();
    assert_eq!(&args[2][..], &v[..]);
    assert_eq!(shared_room(&args[2], end), BIG + 2, "not copied");
    // A request without a big argument ends the predictions.
    buf.extend_from_slice(b"PING\r\n");
    p.parse(&mut buf, true).unwrap().unwrap();
    assert!(p.predicted_read().is_none());
}

#[test]
fn a_wrong_prediction_copies_the_argument_once_and_keeps_what_follows() {
    let v = value();
    // A longer key: the buffer ends before the argument does.
    let (mut p, n) = primed();
    let mut buf = BytesMut::with_capacity(n);
    p.arm_predicted_read();
    let header = format!("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n${BIG}\r\n").into_bytes();
    buf.extend_from_slice(&header);
    buf.extend_from_slice(&v[..n - header.len()]);
    assert!(p.parse(&mut buf, true).unwrap().is_none());
    buf.reserve(p.big_arg_room(buf.len()).unwrap());
    buf.extend_from_slice(&v[n - header.len()..]);
    buf.extend_from_slice(b"\r\n");
    let mut args = p.parse(&mut buf, true).unwrap().unwrap();
    assert_eq!(&args[2][..], &v[..]);
    assert_eq!(own_capacity(args.pop().unwrap()), BIG + 2);
    assert_eq!(p.predicted_read(), Some(header.len() + BIG + 2));
    // A shorter request: the read takes the next one's start too.
    let (mut p, n) = primed();
    let mut buf = BytesMut::with_capacity(n);
    p.arm_predicted_read();
    let header = format!("*3\r\n$3\r\nSET\r\n$0\r\n\r\n${BIG}\r\n").into_bytes();
    buf.extend_from_slice(&header);
    buf.extend_from_slice(&v);
    buf.extend_from_slice(b"\r\nPI");
    let mut args = p.parse(&mut buf, true).unwrap().unwrap();
    assert_eq!(own_capacity(args.pop().unwrap()), BIG);
    buf.extend_from_slice(b"NG\r\n");
    assert_eq!(p.parse(&mut buf, true).unwrap().unwrap(), vec![Bytes::from_static(b"PING")]);
}

#[test]
fn a_prediction_takes_a_short_rest_of_the_request_too() {
    let v = value();
    let request = |key: &str, ex: &str| {
        let mut r = format!("*5\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${BIG}\r\n", key.len()).into_bytes();
        r.extend_from_slice(&v);
        r.extend_from_slice(format!("\r\n$2\r\nEX\r\n${}\r\n{ex}\r\n", ex.len()).as_bytes());
        r
    };
    let mut p = RequestParser::default().exact_big_args();
    let mut buf = BytesMut::from(&request("k", "60")[..]);
    p.parse(&mut buf, true).unwrap().unwrap();
    let n = p.predicted_read().unwrap();
    assert_eq!(n, request("k", "60").len(), "the whole request");
    // The same shape: one read, the value in place.
    let mut buf = BytesMut::with_capacity(n);
    let end = buf.as_ptr() as usize + n;
    p.arm_predicted_read();
    buf.extend_from_slice(&request("k", "60"));
    let args = p.parse(&mut buf, true).unwrap().unwrap();
    assert_eq!(&args[2][..], &v[..]);
    assert_eq!(&args[4][..], b"60");
    assert_eq!(shared_room(&args[2], end), BIG + 2 + 16, "not copied");
    // In two reads, the second taking the argument's rest and the
    // request's end.
    let mut buf = BytesMut::with_capacity(n);
    let end = buf.as_ptr() as usize + n;
    p.arm_predicted_read();
    let r = request("k", "60");
    buf.extend_from_slice(&r[..1000]);
    assert!(p.parse(&mut buf, true).unwrap().is_none());
    assert_eq!(p.big_arg_room(buf.len()), Some(n - 1000));
    buf.extend_from_slice(&r[1000..]);
    let args = p.parse(&mut buf, true).unwrap().unwrap();
    assert_eq!(&args[2][..], &v[..]);
    assert_eq!(&args[4][..], b"60");
    assert_eq!(shared_room(&args[2], end), BIG + 2 + 16, "not copied");
    // A key two bytes longer still fits (the rest is read after), and
    // so does a longer expiry: each value is right.
    for (key, ex) in [("key", "60"), ("k", "6000")] {
        let n = p.predicted_read().unwrap();
        let mut buf = BytesMut::with_capacity(n);
        p.arm_predicted_read();
        let r = request(key, ex);
        buf.extend_from_slice(&r[..n.min(r.len())]);
        let got = match p.parse(&mut buf, true).unwrap() {
            Some(args) => args,
            None => {
                buf.reserve(r.len() - n);
                buf.extend_from_slice(&r[n..]);
                p.parse(&mut buf, true).unwrap().unwrap()
            }
        };
        assert_eq!(&got[1][..], key.as_bytes());
        assert_eq!(&got[2][..], &v[..]);
        assert_eq!(&got[4][..], ex.as_bytes());
    }
    // More than MAX_PREDICTED_SUFFIX after the argument: predicted up to
    // its end only.
    let long = "9".repeat(MAX_PREDICTED_SUFFIX);
    let mut buf = BytesMut::from(&request("k", &long)[..]);
    p.parse(&mut buf, true).unwrap().unwrap();
    assert_eq!(p.predicted_read(), Some(request("k", "").len() - 14));
}

#[test]
fn a_small_argument_never_shares_a_predicted_buffer() {
    let (mut p, _) = primed();
    // A predicted buffer that happens to end where a small bulk ends.
    let req = b"*2\r\n$3\r\nGET\r\n$5\r\nhello\r\n";
    let mut buf = BytesMut::with_capacity(req.len());
    p.arm_predicted_read();
    buf.extend_from_slice(req);
    let args = p.parse(&mut buf, true).unwrap().unwrap();
    assert_eq!(&args[1][..], b"hello");
    assert!(p.predicted_read().is_none());
    // A predicted buffer filled by a request whose big argument comes
    // after more than MAX_PREDICTED_PREFIX bytes: the argument is copied
    // out, not kept with that prefix.
    let (mut p, n) = primed();
    let key = vec![b'k'; MAX_PREDICTED_PREFIX + 100];
    let mut req = format!("*3\r\n$3\r\nSET\r\n${}\r\n", key.len()).into_bytes();
    req.extend_from_slice(&key);
    let len = n - req.len() - format!("\r\n${}\r\n", 12345).len() - 2;
    assert!(len >= BIG_ARG);
    req.extend_from_slice(format!("\r\n${len}\r\n").as_bytes());
    req.extend_from_slice(&vec![b'v'; len]);
    req.extend_from_slice(b"\r\n");
    assert_eq!(req.len(), n);
    let mut buf = BytesMut::with_capacity(n);
    p.arm_predicted_read();
    buf.extend_from_slice(&req);
    let mut args = p.parse(&mut buf, true).unwrap().unwrap();
    assert_eq!(own_capacity(args.pop().unwrap()), len);
    // A prefix longer than MAX_PREDICTED_PREFIX is not predicted.
    let mut p = RequestParser::default().exact_big_args();
    let long_key = vec![b'k'; MAX_PREDICTED_PREFIX];
    let mut buf = BytesMut::new();
    buf.extend_from_slice(format!("*3\r\n$3\r\nSET\r\n${}\r\n", long_key.len()).as_bytes());
    buf.extend_from_slice(&long_key);
    buf.extend_from_slice(format!("\r\n${BIG}\r\n").as_bytes());
    buf.extend_from_slice(&value());
    buf.extend_from_slice(b"\r\n");
    p.parse(&mut buf, true).unwrap().unwrap();
    assert!(p.predicted_read().is_none());
}

#[test]
fn without_exact_big_args_a_big_argument_shares_the_buffer() {
    let mut p = RequestParser::default();
    let mut buf = BytesMut::from(&big_header()[..]);
    assert!(p.parse(&mut buf, true).unwrap().is_none());
    assert!(p.big_arg_room(buf.len()).is_none());
    assert_eq!(p.needed(), BIG + 2);
    // Smaller arguments are never copied, with or without it.
    let mut p = RequestParser::default().exact_big_args();
    let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$5\r\nhello\r\n"[..]);
    let base = buf.as_ptr() as usize;
    let args = p.parse(&mut buf, true).unwrap().unwrap();
    assert_eq!(args[1].as_ptr() as usize, base + 17);
}

/// Requests of many shapes, well formed and not (a big argument, too many
/// arguments, a length spelt `03`, a header ended by a bare `\n`): what the one-pass path
/// takes and what it leaves to the general path parse alike, whole or fed
/// in pieces of every size, and the malformed one fails the same way.
#[test]
fn whole_requests_parse_as_the_general_path_does() {
    let mut wire = Vec::new();
    let mut expected: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut put = |args: Vec<Vec<u8>>| {
        wire.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in &args {
            wire.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            wire.extend_from_slice(a);
            wire.extend_from_slice(b"\r\n");
        }
        expected.push(args);
    };
    put(vec![b"GET".to_vec(), b"k".to_vec()]);
    put(vec![b"SET".to_vec(), b"".to_vec(), b"a\r\nb".to_vec()]);
    put((0..WHOLE_MAX_ARGS).map(|i| format!("a{i}").into_bytes()).collect());
    put((0..WHOLE_MAX_ARGS + 1).map(|i| format!("b{i}").into_bytes()).collect());
    put(vec![b"SET".to_vec(), b"big".to_vec(), vec![b'v'; BIG_ARG]]);
    put(vec![b"SET".to_vec(), b"k".to_vec(), vec![b'w'; BIG_ARG - 1]]);
    wire.extend_from_slice(b"*2\r\n$03\r\nGET\r\n$1\nk\r\n");
    expected.push(vec![b"GET".to_vec(), b"k".to_vec()]);
    wire.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
    expected.push(vec![b"PING".to_vec()]);
    assert_eq!(parse_all(&wire).unwrap(), expected);
    for piece in [1, 2, 3, 7, 64, 4096] {
        let mut p = RequestParser::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for chunk in wire.chunks(piece) {
            buf.extend_from_slice(chunk);
            while let Some(args) = p.parse_next(&mut buf, true).unwrap() {
                got.push(args.iter().map(|b| b.to_vec()).collect::<Vec<_>>());
            }
        }
        assert_eq!(got, expected, "fed in pieces of {piece}");
        assert!(p.is_idle() && buf.is_empty());
    }
    let bad = b"*2\r\n$3\r\nGET\r\n:1\r\n";
    assert_eq!(parse_all(bad), Err(ProtocolError::ExpectedDollar(':')));
    // Lengths too long for the one-pass path's digits (found by tests/fuzz.rs).
    assert_eq!(parse_all(b"*1\r\n$99999999999999999999\r\nx\r\n"), Err(ProtocolError::InvalidBulkLength));
    assert_eq!(parse_all(b"*99999999999999999999\r\n"), Err(ProtocolError::InvalidMultibulkLength));
}
