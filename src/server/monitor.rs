//! MONITOR: clients that receive a line for every command the server runs
//! (Redis's `replicationFeedMonitors`), in the format `redis-cli monitor`
//! prints: `+<unix>.<micros> [<db> <addr>|lua] "arg" "arg" …`.
//!
//! Lines are queued on each monitor's push queue (see `push.rs`), so a
//! command never waits for a monitor's socket. With no monitor the cost
//! per command is one atomic load.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;

use super::client::ClientHandle;
use super::output_limit::Limit;

/// The connected monitors.
#[derive(Default)]
pub struct Monitors {
    list: RwLock<Vec<Arc<ClientHandle>>>,
    count: AtomicUsize,
}

impl Monitors {
    /// True when no client monitors (the fast path of every command).
    pub fn is_empty(&self) -> bool {
        self.count.load(Ordering::Acquire) == 0
    }

    /// Starts feeding `h` (no-op if it already is a monitor).
    pub fn add(&self, h: &Arc<ClientHandle>) {
        let mut l = self.list.write();
        if !l.iter().any(|x| x.id == h.id) {
            l.push(h.clone());
            self.count.store(l.len(), Ordering::Release);
        }
    }

    /// Stops feeding client `id` (disconnection, RESET).
    pub fn remove(&self, id: u64) {
        let mut l = self.list.write();
        l.retain(|x| x.id != id);
        self.count.store(l.len(), Ordering::Release);
    }

    /// Whether client `id` is a monitor.
    pub fn contains(&self, id: u64) -> bool {
        !self.is_empty() && self.list.read().iter().any(|x| x.id == id)
    }

    /// Sends every monitor the line for `args`, run in database `db` by the
    /// client at `addr` (or by a script, `None`), the arguments at
    /// `redacted` shown as `(redacted)`. O(monitors + size of args).
    pub fn feed(&self, db: usize, addr: Option<&str>, args: &[Bytes], redacted: &[usize]) {
        if self.is_empty() {
            return;
        }
        let line = format_line(db, addr, args, redacted);
        for m in self.list.read().iter() {
            m.deliver(line.as_bytes(), Limit::default());
        }
    }
}

/// One MONITOR line, the arguments at `redacted` (passwords, as SLOWLOG
/// finds them) shown as `(redacted)`.
pub fn format_line(db: usize, addr: Option<&str>, args: &[Bytes], redacted: &[usize]) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mut s = format!("+{}.{:06} [{} {}]", now.as_secs(), now.subsec_micros(), db, addr.unwrap_or("lua"));
    for (i, a) in args.iter().enumerate() {
        s.push(' ');
        if redacted.contains(&i) {
            s.push_str("\"(redacted)\"");
        } else {
            quote_into(&mut s, a);
        }
    }
    s.push_str("\r\n");
    s
}

/// Redis's `sdscatrepr`: a double-quoted string with C-style escapes.
pub fn quote_into(s: &mut String, b: &[u8]) {
    s.push('"');
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            7 => s.push_str("\\a"),
            8 => s.push_str("\\b"),
            c if c.is_ascii_graphic() || c == b' ' => s.push(c as char),
            c => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_quote_and_redact_the_given_arguments() {
        let args: Vec<Bytes> = ["set", "k\"1", "a\nb\x01"].iter().map(|s| Bytes::from(s.to_string())).collect();
        let l = format_line(3, Some("127.0.0.1:5000"), &args, &[]);
        assert!(l.starts_with('+') && l.ends_with("\r\n"));
        assert!(l.contains(r#"[3 127.0.0.1:5000] "set" "k\"1" "a\nb\x01""#), "{l}");
        let auth: Vec<Bytes> = ["AUTH", "u", "p"].iter().map(|s| Bytes::from(s.to_string())).collect();
        assert!(format_line(0, None, &auth, &[1, 2]).contains(r#"[0 lua] "AUTH" "(redacted)" "(redacted)""#));
    }
}
