//! Keyspace notifications (Redis's `notify.c`): which event classes
//! `notify-keyspace-events` enables, and publishing an event as
//! `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>` messages.

use std::sync::atomic::{AtomicU32, Ordering};

/// Event classes, as Redis's `NOTIFY_*` bits.
pub mod class {
    /// `K`: `__keyspace@<db>__:` channels.
    pub const KEYSPACE: u32 = 1 << 0;
    /// `E`: `__keyevent@<db>__:` channels.
    pub const KEYEVENT: u32 = 1 << 1;
    /// `g`: generic commands (DEL, EXPIRE, RENAME …).
    pub const GENERIC: u32 = 1 << 2;
    /// `$`: string commands.
    pub const STRING: u32 = 1 << 3;
    /// `l`: list commands.
    pub const LIST: u32 = 1 << 4;
    /// `s`: set commands.
    pub const SET: u32 = 1 << 5;
    /// `h`: hash commands.
    pub const HASH: u32 = 1 << 6;
    /// `z`: sorted-set commands.
    pub const ZSET: u32 = 1 << 7;
    /// `x`: expired events.
    pub const EXPIRED: u32 = 1 << 8;
    /// `e`: evicted events.
    pub const EVICTED: u32 = 1 << 9;
    /// `t`: stream commands.
    pub const STREAM: u32 = 1 << 10;
    /// `m`: key-miss events (not in `A`).
    pub const KEY_MISS: u32 = 1 << 11;
    /// `d`: module key type events.
    pub const MODULE: u32 = 1 << 12;
    /// `n`: new-key events (not in `A`).
    pub const NEW: u32 = 1 << 13;
    /// `A`: alias for `g$lshzxetd`.
    pub const ALL: u32 = GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

static FLAGS: AtomicU32 = AtomicU32::new(0);

/// The enabled classes (0: notifications off, the fast path).
pub fn flags() -> u32 {
    FLAGS.load(Ordering::Relaxed)
}

/// Applies a parsed `notify-keyspace-events`.
pub fn set_flags(f: u32) {
    FLAGS.store(f, Ordering::Relaxed);
}

/// Parses `notify-keyspace-events` (Redis's `keyspaceEventsStringToFlags`):
/// `None` on an unknown letter.
pub fn parse_flags(s: &str) -> Option<u32> {
    let mut f = 0;
    for c in s.chars() {
        f |= match c {
            'A' => class::ALL,
            'g' => class::GENERIC,
            '$' => class::STRING,
            'l' => class::LIST,
            's' => class::SET,
            'h' => class::HASH,
            'z' => class::ZSET,
            'x' => class::EXPIRED,
            'e' => class::EVICTED,
            'K' => class::KEYSPACE,
            'E' => class::KEYEVENT,
            't' => class::STREAM,
            'm' => class::KEY_MISS,
            'd' => class::MODULE,
            'n' => class::NEW,
            _ => return None,
        };
    }
    Some(f)
}

/// Formats flags as Redis's `keyspaceEventsFlagsToString` does.
pub fn format_flags(f: u32) -> String {
    let mut s = String::new();
    if f & class::ALL == class::ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (class::GENERIC, 'g'),
            (class::STRING, '$'),
            (class::LIST, 'l'),
            (class::SET, 's'),
            (class::HASH, 'h'),
            (class::ZSET, 'z'),
            (class::EXPIRED, 'x'),
            (class::EVICTED, 'e'),
            (class::STREAM, 't'),
            (class::MODULE, 'd'),
        ] {
            if f & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [(class::KEYSPACE, 'K'), (class::KEYEVENT, 'E'), (class::KEY_MISS, 'm'), (class::NEW, 'n')] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    s
}
