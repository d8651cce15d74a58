//! Keyspace notifications (Redis's `notify.c`): which event classes
//! `notify-keyspace-events` enables, and publishing an event as
//! `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>` messages.
//!
//! Where events come from:
//!
//! - **Commands**, through one hook: after a write command, `cmd::run`
//!   hands [`after_command`] what the keyspace recorded (which keys the
//!   command changed, created or deleted, in order: [`KeyChange`]) with
//!   the command's arguments and reply; the table in [`super::events`]
//!   turns those into Redis's events for that command (`set`, `lpush`,
//!   `hdel` then `del` when the hash emptied, `rename_from`/`rename_to` …).
//!   A command whose events depend on what happened inside it in a way
//!   neither its reply nor its keys show [`raise`]s them itself (XADD's
//!   `xtrim`, a consumer created by XREADGROUP/XCLAIM/XAUTOCLAIM); they
//!   follow the table's events. `new` precedes the first event of a key
//!   the command created. Commands inside MULTI/EXEC, scripts and served
//!   blocked clients pass through the same hook as they run.
//! - **Reads that miss** (`keymiss`, class `m`): the keyspace records the
//!   keys its reads did not find while `m` is on, published first.
//! - **Expiry**: the keyspace's expired sink (lazy expiry on access and the
//!   active cycle) publishes `expired` at the moment the key goes.
//! - **Eviction**: `evicted` as each key is evicted.
//!
//! With notifications off (`flags() == 0`, the default) a write costs one
//! atomic load here, and the keyspace records no keys for it.

use std::sync::atomic::{AtomicU32, Ordering};

use bytes::{BufMut, Bytes, BytesMut};
use indexmap::IndexMap;

use crate::cmd::table::CommandSpec;
use crate::db::keyspace::{Change, Changes, KeyChange};
use crate::protocol::Reply;
use crate::server::client::ClientState;
use crate::server::Server;

use super::Kind;

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

/// One keyspace event: its class, its name, and the key it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// One of the [`class`] bits (never `KEYSPACE`/`KEYEVENT`).
    pub class: u32,
    /// Redis's event name (`set`, `lpush`, `expired` …).
    pub name: &'static str,
    /// The key's database.
    pub db: usize,
    /// The key.
    pub key: Bytes,
}

/// Publishes one event as Redis's `notifyKeyspaceEvent` does, if its class
/// is enabled: `<event>` on `__keyspace@<db>__:<key>` (with `K`) and
/// `<key>` on `__keyevent@<db>__:<event>` (with `E`). O(subscribers +
/// patterns) per message.
pub fn notify(srv: &Server, class: u32, event: &str, db: usize, key: &[u8]) {
    if listened(srv) {
        publish(srv, class, event, db, key);
    }
}

/// Whether anyone subscribes to a channel or a pattern: with no one,
/// events cost nothing more than this check. O(1).
fn listened(srv: &Server) -> bool {
    let (channels, patterns, _) = srv.pubsub.counts();
    channels + patterns > 0
}

/// [`notify`] without the listener check.
fn publish(srv: &Server, class: u32, event: &str, db: usize, key: &[u8]) {
    let f = flags();
    if f & class == 0 || f & (class::KEYSPACE | class::KEYEVENT) == 0 {
        return;
    }
    // Recursive: the caller may hold the settings for reading already.
    let limit = srv.config.read_recursive().client_output_buffer_limit.pubsub();
    let mut db_text = itoa::Buffer::new();
    let db_text = db_text.format(db).as_bytes();
    let channel = |prefix: &[u8], tail: &[u8]| {
        let mut c = BytesMut::with_capacity(prefix.len() + db_text.len() + 3 + tail.len());
        c.put_slice(prefix);
        c.put_slice(db_text);
        c.put_slice(b"__:");
        c.put_slice(tail);
        c.freeze()
    };
    if f & class::KEYSPACE != 0 {
        let ch = channel(b"__keyspace@", key);
        srv.pubsub.publish(Kind::Channel, &ch, &Bytes::copy_from_slice(event.as_bytes()), limit);
    }
    if f & class::KEYEVENT != 0 {
        let ch = channel(b"__keyevent@", event.as_bytes());
        srv.pubsub.publish(Kind::Channel, &ch, &Bytes::copy_from_slice(key), limit);
    }
}

/// Records an event the running command raises itself, published after
/// the events the table in [`super::events`] derives for it (for what
/// neither the command's reply nor its changed keys show). Free when
/// notifications are off. O(1).
pub fn raise(client: &mut ClientState, class: u32, name: &'static str, key: &Bytes) {
    if flags() & class != 0 {
        client.events.push(Event { class, name, db: client.db, key: key.clone() });
    }
}

/// A key a command changed, summarised from its [`KeyChange`]s.
#[derive(Debug, Clone)]
pub struct Touched {
    /// The key's database.
    pub db: usize,
    /// The key.
    pub key: Bytes,
    /// The command added it (it was missing): Redis's `new` event.
    pub created: bool,
    /// It is gone after the command (deleted last).
    pub gone: bool,
}

impl Touched {
    /// An event about this key.
    pub fn event(&self, class: u32, name: &'static str) -> Event {
        Event { class, name, db: self.db, key: self.key.clone() }
    }
}

/// The keys of `changes`, each once, in the order first changed.
/// O(changes).
pub fn summarise(changes: &[KeyChange]) -> Vec<Touched> {
    let mut by_key: IndexMap<(usize, &[u8]), Touched> = IndexMap::with_capacity(changes.len());
    for c in changes {
        let t = by_key.entry((c.db, &c.key[..])).or_insert_with(|| Touched {
            db: c.db,
            key: c.key.clone(),
            created: false,
            gone: false,
        });
        match c.how {
            Change::Created => {
                t.created = true;
                t.gone = false;
            }
            Change::Removed => t.gone = true,
            Change::Modified => t.gone = false,
        }
    }
    by_key.into_values().collect()
}

/// The hook every command passes through (with notifications on): derives
/// the command's events from its keys' changes, arguments and reply, adds
/// the ones it raised, and publishes them in order, each key's `new`
/// first. O(changed keys + events × subscribers).
pub fn after_command(
    srv: &Server,
    spec: &CommandSpec,
    args: &[Bytes],
    reply: &Reply,
    changes: &Changes,
    raised: Vec<Event>,
) {
    if !listened(srv) {
        return;
    }
    // Redis raises `keymiss` as the lookup misses, before anything else.
    for (db, key) in &changes.misses {
        publish(srv, class::KEY_MISS, "keymiss", *db, key);
    }
    if !spec.has(crate::cmd::table::flags::WRITE) {
        return;
    }
    let touched = summarise(&changes.keys);
    let mut events = Vec::new();
    super::events::command_events(spec.alias_of.unwrap_or(spec.name), args, reply, &touched, &mut events);
    events.extend(raised);
    let mut unannounced: Vec<&Touched> = touched.iter().filter(|t| t.created).collect();
    // A key created without an event of its own is announced first, as
    // Redis's `dbAdd` does before the command goes on.
    unannounced.retain(|t| {
        let mentioned = events.iter().any(|e| e.db == t.db && e.key == t.key);
        if !mentioned {
            publish(srv, class::NEW, "new", t.db, &t.key);
        }
        mentioned
    });
    for e in &events {
        if let Some(i) = unannounced.iter().position(|t| t.db == e.db && t.key == e.key) {
            let t = unannounced.swap_remove(i);
            if e.class != class::NEW {
                publish(srv, class::NEW, "new", t.db, &t.key);
            }
        }
        publish(srv, e.class, e.name, e.db, &e.key);
    }
}
