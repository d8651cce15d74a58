//! Unit tests of the RESP frame reader and writer (`super`).

use super::*;

fn one(input: &[u8]) -> Result<Option<Frame>, FrameError> {
    FrameReader::new().next(&mut BytesMut::from(input))
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

#[test]
fn every_type() {
    assert_eq!(one(b"+OK\r\n"), Ok(Some(Frame::Simple(b("OK")))));
    assert_eq!(one(b"-ERR x\r\n"), Ok(Some(Frame::Error(b("ERR x")))));
    assert_eq!(one(b":-42\r\n"), Ok(Some(Frame::Int(-42))));
    assert_eq!(one(b"$3\r\nfoo\r\n"), Ok(Some(Frame::Bulk(Some(b("foo"))))));
    assert_eq!(one(b"$0\r\n\r\n"), Ok(Some(Frame::Bulk(Some(b(""))))));
    assert_eq!(one(b"$-1\r\n"), Ok(Some(Frame::Bulk(None))));
    assert_eq!(one(b"*-1\r\n"), Ok(Some(Frame::Array(None))));
    assert_eq!(one(b"*0\r\n"), Ok(Some(Frame::Array(Some(vec![])))));
    assert_eq!(one(b"_\r\n"), Ok(Some(Frame::Null)));
    assert_eq!(one(b",1.5\r\n"), Ok(Some(Frame::Double(b("1.5")))));
    assert_eq!(one(b"#t\r\n"), Ok(Some(Frame::Bool(true))));
    assert_eq!(one(b"#f\r\n"), Ok(Some(Frame::Bool(false))));
    assert_eq!(one(b"(12345678901234567890\r\n"), Ok(Some(Frame::BigNumber(b("12345678901234567890")))));
    assert_eq!(one(b"=7\r\ntxt:abc\r\n"), Ok(Some(Frame::Verbatim(b("txt:abc")))));
    assert_eq!(one(b"!5\r\nERR x\r\n"), Ok(Some(Frame::Error(b("ERR x")))));
    assert_eq!(one(b"%1\r\n+a\r\n:1\r\n"), Ok(Some(Frame::Map(vec![(Frame::Simple(b("a")), Frame::Int(1))]))));
    assert_eq!(one(b"~2\r\n:1\r\n:2\r\n"), Ok(Some(Frame::Set(vec![Frame::Int(1), Frame::Int(2)]))));
    assert_eq!(one(b">1\r\n+x\r\n"), Ok(Some(Frame::Push(vec![Frame::Simple(b("x"))]))));
    assert_eq!(one(b"|1\r\n+k\r\n+v\r\n:7\r\n"), Ok(Some(Frame::Int(7))));
}

#[test]
fn incomplete_needs_more() {
    for input in [&b"+OK"[..], b"+OK\r", b"$3\r\nfo", b"*2\r\n:1\r\n", b"%1\r\n+a\r\n", b"|1\r\n+k\r\n+v\r\n"] {
        assert_eq!(one(input), Ok(None), "{input:?}");
    }
}

#[test]
fn nested_and_raw_bytes() {
    let input = b"*3\r\n$1\r\na\r\n*2\r\n:1\r\n_\r\n%1\r\n+k\r\n~1\r\n#t\r\n+NEXT\r\n";
    let mut buf = BytesMut::from(&input[..]);
    let mut r = FrameReader::new();
    let (f, raw) = r.next_raw(&mut buf).unwrap().unwrap();
    assert_eq!(&raw[..], &input[..input.len() - 7]);
    let mut again = BytesMut::new();
    f.write_to(&mut again);
    assert_eq!(&again[..], &raw[..]);
    assert_eq!(f.items().map(|i| i.len()), Some(3));
    assert_eq!(r.next(&mut buf), Ok(Some(Frame::Simple(b("NEXT")))));
    assert!(buf.is_empty() && r.is_idle());
}

#[test]
fn resumes_byte_by_byte_in_both_modes() {
    let input = b"*2\r\n$5\r\nhe\r\no\r\n%1\r\n$1\r\nk\r\n*1\r\n:3\r\n:9\r\n";
    for build in [true, false] {
        let mut r = FrameReader::new();
        let mut buf = BytesMut::new();
        let mut got = vec![];
        for &c in input.iter() {
            buf.extend_from_slice(&[c]);
            if build {
                while let Some((_, raw)) = r.next_raw(&mut buf).unwrap() {
                    got.push(raw);
                }
            } else {
                while let Some(raw) = r.next_raw_only(&mut buf).unwrap() {
                    got.push(raw);
                }
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].len() + got[1].len(), input.len());
        assert_eq!(&got[1][..], b":9\r\n");
    }
}

#[test]
fn linear_on_a_huge_frame_fed_in_small_pieces() {
    let n = 200_000;
    let mut input = format!("*{n}\r\n").into_bytes();
    for i in 0..n {
        input.extend_from_slice(format!("$7\r\nv{i:06}\r\n").as_bytes());
    }
    let mut r = FrameReader::new();
    let mut buf = BytesMut::new();
    let mut done = None;
    for chunk in input.chunks(7) {
        buf.extend_from_slice(chunk);
        if let Some(f) = r.next(&mut buf).unwrap() {
            done = Some(f);
        }
    }
    assert_eq!(done.and_then(|f| f.items().map(|i| i.len())), Some(n));
    assert!(r.examined < 2 * input.len(), "examined {} of {}", r.examined, input.len());
}

#[test]
fn malformed_input_is_an_error() {
    assert_eq!(one(b"?x\r\n"), Err(FrameError::BadType('?')));
    assert_eq!(one(b":12a\r\n"), Err(FrameError::BadLine("integer")));
    assert_eq!(one(b"$-2\r\n"), Err(FrameError::BadLine("bulk length")));
    assert_eq!(one(b"$3\r\nfooXX"), Err(FrameError::MissingCrlf));
    assert_eq!(one(b"+OK\n"), Err(FrameError::MissingCrlf));
    assert_eq!(one(b"#x\r\n"), Err(FrameError::BadLine("boolean")));
    assert_eq!(one(b"*?\r\n"), Err(FrameError::BadLine("aggregate length")));
    assert_eq!(one(b"=2\r\nab\r\n"), Err(FrameError::BadLine("verbatim string")));
    assert_eq!(one(b"$999999999999\r\n"), Err(FrameError::TooLong("bulk string")));
    assert_eq!(one(b":1111111111111111111111111111111111111111"), Err(FrameError::TooLong("line")));
    assert_eq!(one(b"*3000000000\r\n"), Err(FrameError::TooLong("aggregate")));
    assert_eq!(one(b":99999999999999999999\r\n"), Err(FrameError::BadLine("integer")));
}

#[test]
fn depth_is_limited() {
    let ok = "*1\r\n".repeat(MAX_DEPTH) + ":1\r\n";
    assert!(one(ok.as_bytes()).unwrap().is_some());
    let deep = "*1\r\n".repeat(MAX_DEPTH + 1) + ":1\r\n";
    assert_eq!(one(deep.as_bytes()), Err(FrameError::TooDeep));
}

#[test]
fn errors_with_newlines_reencode_as_blob_errors() {
    let mut out = BytesMut::new();
    Frame::Error(b("ERR a\nb")).write_to(&mut out);
    assert_eq!(&out[..], b"!7\r\nERR a\nb\r\n");
    assert_eq!(one(&out), Ok(Some(Frame::Error(b("ERR a\nb")))));
}

#[test]
fn accessors() {
    assert_eq!(Frame::Verbatim(b("txt:hi")).text(), Some(&b"hi"[..]));
    assert!(Frame::Bulk(None).is_null() && Frame::Null.is_null() && !Frame::Int(0).is_null());
    assert_eq!(Frame::Int(5).as_int(), Some(5));
}
