//! A look ahead over buffered requests that consumes nothing: the second
//! argument (the key, for most commands) of each complete request.
//!
//! Why: the keys of a pipelined batch can be looked up back to back before
//! the batch runs (see `Keyspace::warm`), so that the CPU overlaps their
//! cache misses instead of taking them one request at a time.

/// Calls `f` with the second argument of each complete multibulk request
/// at the start of `buf`, for at most `max` requests, and returns how many
/// complete requests it went over. Stops at the first incomplete or
/// malformed request, or at an inline one (the parser reports those; this
/// only looks). O(bytes of the requests' headers).
pub fn second_args<'b>(buf: &'b [u8], max: usize, mut f: impl FnMut(&'b [u8])) -> usize {
    let mut at = 0;
    for done in 0..max {
        let Some((n, next)) = header(buf, at, b'*') else { return done };
        at = next;
        for i in 0..n {
            let Some((len, body)) = header(buf, at, b'$') else { return done };
            let Some(end) = body.checked_add(len).filter(|&e| e + 2 <= buf.len()) else { return done };
            if i == 1 {
                f(&buf[body..end]);
            }
            at = end + 2;
        }
    }
    max
}

/// Parses `<kind><digits>\r\n` at `at`: the number and where what follows
/// starts. `None` if incomplete, malformed, negative or over 18 digits.
/// One pass over the digits (this runs ahead of the parser for every
/// request of a batch, so it is kept to a few instructions a byte).
fn header(buf: &[u8], at: usize, kind: u8) -> Option<(usize, usize)> {
    let b = buf.get(at..)?;
    if *b.first()? != kind {
        return None;
    }
    let mut n = 0u64;
    for (i, &c) in b.iter().enumerate().skip(1).take(19) {
        match c {
            b'0'..=b'9' => n = n * 10 + u64::from(c - b'0'),
            b'\r' if i > 1 && b.get(i + 1) == Some(&b'\n') => return Some((usize::try_from(n).ok()?, at + i + 2)),
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(buf: &[u8], max: usize) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        second_args(buf, max, |k| v.push(k.to_vec()));
        v
    }

    #[test]
    fn counts_the_complete_requests() {
        let buf = b"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3";
        assert_eq!(second_args(buf, 16, |_| {}), 2);
        assert_eq!(second_args(buf, 1, |_| {}), 1);
    }

    #[test]
    fn finds_the_second_argument_of_each_complete_request() {
        let buf = b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$2\r\nbb\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$3\r\ncc";
        assert_eq!(keys(buf, 16), vec![b"a".to_vec(), b"bb".to_vec()]);
        assert_eq!(keys(buf, 1), vec![b"a".to_vec()]);
    }

    #[test]
    fn stops_at_what_it_does_not_understand() {
        assert!(keys(b"GET a\r\n", 16).is_empty());
        assert!(keys(b"*2\r\n$-1\r\n", 16).is_empty());
        assert!(keys(b"*2\r\n$99999999999999999999999\r\n", 16).is_empty());
        assert!(keys(b"*2\r\n$3\r\nGET\r\n$5\r\nab", 16).is_empty());
        assert!(keys(b"*2\r\n$3\r\nGET\r\n$1\r\na\r", 16).is_empty());
        assert!(keys(b"", 16).is_empty());
    }
}
