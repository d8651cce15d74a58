//! The command table: every command's name, arity, flags, key positions,
//! handler and documentation, gathered from the family modules.
//!
//! Dispatch, arity checks, locking, `COMMAND INFO/DOCS`, ACL categories and
//! the proxy's key extraction all read this one table.

use std::collections::HashMap;
use std::sync::LazyLock;

use bytes::Bytes;

use super::{CmdResult, Ctx};

/// A command handler. `args[0]` is the command name as the client sent it.
pub type Handler = fn(&mut Ctx<'_, '_>, &[Bytes]) -> CmdResult;

/// Command flags (Redis's names, lower-cased in `COMMAND INFO`).
pub mod flags {
    /// Modifies the keyspace.
    pub const WRITE: u32 = 1;
    /// Only reads.
    pub const READONLY: u32 = 1 << 1;
    /// May grow memory: refused under OOM.
    pub const DENYOOM: u32 = 1 << 2;
    /// Administrative.
    pub const ADMIN: u32 = 1 << 3;
    /// O(1) or O(log n).
    pub const FAST: u32 = 1 << 4;
    /// May block the client.
    pub const BLOCKING: u32 = 1 << 5;
    /// Allowed before authentication.
    pub const NO_AUTH: u32 = 1 << 6;
    /// Not queued inside MULTI: executed at once (EXEC, DISCARD, WATCH …).
    pub const NO_MULTI: u32 = 1 << 7;
    /// Needs every shard locked (whole-keyspace commands).
    pub const ALL_KEYS: u32 = 1 << 8;
    /// Keys cannot be found from fixed positions (LMPOP): lock every shard.
    pub const MOVABLE_KEYS: u32 = 1 << 9;
    /// Connection-level command (no keyspace access).
    pub const CONNECTION: u32 = 1 << 10;
    /// Served while the dataset loads at start, as Redis's `loading` flag
    /// (see [`super::allowed_while_loading`]).
    pub const LOADING: u32 = 1 << 11;
    /// Dangerous (ACL category @dangerous).
    pub const DANGEROUS: u32 = 1 << 12;
}

/// Commands the dispatcher treats apart, recognised by name once, when the
/// row is built: comparing names on every call cost a `memcmp` each time
/// the lengths matched (`get` against `ttl`, `lpush` against `fcall`).
pub mod special {
    /// `TTL` (with a second argument, the original project's EXPIRE).
    pub const TTL: u8 = 1;
    /// `EXEC`.
    pub const EXEC: u8 = 1 << 1;
    /// `DEBUG` (refused unless `enable-debug-command` allows it).
    pub const DEBUG: u8 = 1 << 2;
    /// `TOUCH` (runs although CLIENT NO-TOUCH is on).
    pub const TOUCH: u8 = 1 << 3;
    /// Runs a script: the EVAL family and FCALL, `_RO` forms included.
    pub const SCRIPT: u8 = 1 << 4;

    /// The bits of the command `name`. Evaluated at compile time by [`crate::spec!`].
    pub const fn of(name: &str) -> u8 {
        const SCRIPTS: [&str; 6] = ["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"];
        let mut bits = 0;
        if eq(name, "ttl") {
            bits |= TTL;
        }
        if eq(name, "exec") {
            bits |= EXEC;
        }
        if eq(name, "debug") {
            bits |= DEBUG;
        }
        if eq(name, "touch") {
            bits |= TOUCH;
        }
        let mut i = 0;
        while i < SCRIPTS.len() {
            if eq(name, SCRIPTS[i]) {
                bits |= SCRIPT;
            }
            i += 1;
        }
        bits
    }

    const fn eq(a: &str, b: &str) -> bool {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        if a.len() != b.len() {
            return false;
        }
        let mut i = 0;
        while i < a.len() {
            if a[i] != b[i] {
                return false;
            }
            i += 1;
        }
        true
    }
}

/// One command's row in the table.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: `n` exactly n arguments (name included), `-n` at least n.
    pub arity: i32,
    /// Bits from [`flags`].
    pub flags: u32,
    /// Position of the first key (0: none).
    pub first_key: i32,
    /// Position of the last key (-1: the last argument, -2: the one before …).
    pub last_key: i32,
    /// Step between keys.
    pub step: i32,
    /// The implementation.
    pub handler: Handler,
    /// Family (`string`, `list`, `hash`, `generic`, `server`, `connection`, `transactions`).
    pub group: &'static str,
    /// One line for `COMMAND DOCS` and the README.
    pub summary: &'static str,
    /// Time complexity, as Redis documents it.
    pub complexity: &'static str,
    /// The Redis command this is an alias of (the original project's names).
    pub alias_of: Option<&'static str>,
    /// Bits from [`special`] (an alias has its command's).
    pub special: u8,
}

impl CommandSpec {
    /// True if flag bit(s) `f` are set.
    pub fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }

    /// True if this is one of the commands of [`special`] bit(s) `s`. O(1).
    #[inline]
    pub fn is(&self, s: u8) -> bool {
        self.special & s != 0
    }

    /// Whether `n` arguments (name included) satisfy the arity.
    pub fn arity_ok(&self, n: usize) -> bool {
        let n = n as i32;
        if self.arity >= 0 {
            n == self.arity
        } else {
            n >= -self.arity
        }
    }

    /// Indexes of the key arguments in `args`, from the fixed positions.
    pub fn key_indexes(&self, nargs: usize) -> impl Iterator<Item = usize> {
        let n = nargs as i32;
        let first = self.first_key;
        let last = if self.last_key < 0 { n + self.last_key } else { self.last_key };
        let step = self.step.max(1);
        let valid = first > 0 && first < n;
        let last = if valid { last.min(n - 1) } else { -1 };
        (first.max(0)..=last.max(-1)).step_by(step as usize).filter(move |_| valid).map(|i| i as usize)
    }

    /// The position of the one key of a call whose fixed key positions
    /// name a single key (GET, HSET, LPUSH …), as [`Self::key_indexes`]
    /// would yield it alone. O(1).
    #[inline]
    pub fn single_key(&self, nargs: usize) -> Option<usize> {
        (self.first_key > 0 && self.last_key == self.first_key && (self.first_key as usize) < nargs)
            .then_some(self.first_key as usize)
    }

    /// Whether [`Self::key_positions`] names every key a call of this
    /// movable-keys command touches, so locking those keys is enough:
    /// true for the `numkeys` forms and XREAD/XREADGROUP; false for
    /// scripts (they may reach undeclared keys) and SORT (BY/GET patterns).
    pub fn movable_keys_exact(&self) -> bool {
        self.has(flags::MOVABLE_KEYS)
            && !self.is(special::SCRIPT)
            && !matches!(self.alias_of.unwrap_or(self.name), "sort" | "sort_ro")
    }

    /// Positions of the key arguments of the call `args` (name first): the
    /// fixed positions, or for a movable-keys command the keys its own
    /// syntax names, as Redis's key specs find them (`numkeys` forms such as
    /// LMPOP, ZUNIONSTORE, EVAL; SORT's key and STORE destination). `None`
    /// when they cannot be found (a malformed or zero `numkeys`): the
    /// command itself will refuse the call. The dispatcher (which locks
    /// every shard for movable commands), ACL key checks, `COMMAND GETKEYS`
    /// and the proxy's routing all use this. O(arguments).
    pub fn key_positions(&self, args: &[Bytes]) -> Option<Vec<usize>> {
        if !self.has(flags::MOVABLE_KEYS) {
            return Some(self.key_indexes(args.len()).collect());
        }
        let (numkeys_at, fixed): (usize, &[usize]) = match self.alias_of.unwrap_or(self.name) {
            "sort" | "sort_ro" => return Some(super::sort::key_positions(args)),
            "georadius" | "georadiusbymember" => return Some(super::geo::key_positions(args)),
            "xread" | "xreadgroup" => return super::stream::key_positions(args),
            "migrate" => return super::dump::key_positions(args),
            "lmpop" | "zmpop" | "sintercard" | "zintercard" | "zunion" | "zinter" | "zdiff" => (1, &[]),
            "blmpop" | "bzmpop" | "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro" => (2, &[]),
            "zunionstore" | "zinterstore" | "zdiffstore" => (2, &[1]),
            _ => return None,
        };
        let n: usize = std::str::from_utf8(args.get(numkeys_at)?).ok()?.parse().ok()?;
        let end = (numkeys_at + 1).checked_add(n)?;
        if n == 0 || end > args.len() {
            return None;
        }
        Some(fixed.iter().copied().chain(numkeys_at + 1..end).collect())
    }
}

/// Builds a [`CommandSpec`] row: `spec!(name, arity, flags, first, last, step, handler, group, summary, complexity)`.
#[macro_export]
macro_rules! spec {
    ($name:expr, $arity:expr, $flags:expr, $first:expr, $last:expr, $step:expr, $handler:expr, $group:expr, $summary:expr, $cx:expr) => {
        $crate::cmd::table::CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: $first,
            last_key: $last,
            step: $step,
            handler: $handler,
            group: $group,
            summary: $summary,
            complexity: $cx,
            alias_of: None,
            special: $crate::cmd::table::special::of($name),
        }
    };
}

/// Every command family's rows.
fn families() -> [&'static [CommandSpec]; 23] {
    [
        super::string::COMMANDS,
        super::list::COMMANDS,
        super::hash::COMMANDS,
        super::set::COMMANDS,
        super::zset::COMMANDS,
        super::stream::COMMANDS,
        super::pubsub::COMMANDS,
        super::keys::COMMANDS,
        super::expire::COMMANDS,
        super::server::COMMANDS,
        super::connection::COMMANDS,
        super::transaction::COMMANDS,
        super::persistence::COMMANDS,
        super::acl::COMMANDS,
        super::sort::COMMANDS,
        super::scripting::COMMANDS,
        super::function::COMMANDS,
        super::bitmap::COMMANDS,
        super::hyperloglog::COMMANDS,
        super::geo::COMMANDS,
        super::dump::COMMANDS,
        super::cluster::COMMANDS,
        super::replication::COMMANDS,
    ]
}

/// The original project's command names and the Redis command each stands for.
pub const ALIASES: &[(&str, &str)] = &[("lget", "lindex"), ("size", "dbsize"), ("remove", "del")];

struct Table {
    by_name: HashMap<&'static [u8], Row, foldhash::fast::FixedState>,
    aliases: Vec<&'static CommandSpec>,
}

/// A command's row and what is derived from it once, when the table is
/// built (so a script's `redis.call` does not compare names per call):
/// what [`lookup_for_script`] answers.
#[derive(Clone, Copy)]
pub struct Row {
    /// The command.
    pub spec: &'static CommandSpec,
    in_scripts: InScripts,
}

impl Row {
    /// Whether Redis refuses this call (`args`, name first) from a script:
    /// its `noscript` flag ("This Redis command is not allowed from
    /// script"). O(1).
    pub fn denied_in_scripts(&self, args: &[Bytes]) -> bool {
        let sub = || args.get(1).map(|a| a.as_ref()).unwrap_or_default();
        match self.in_scripts {
            InScripts::Allowed => false,
            InScripts::Denied => true,
            InScripts::OnlyHelp => !sub().eq_ignore_ascii_case(b"help"),
            InScripts::NotReset => sub().eq_ignore_ascii_case(b"reset"),
        }
    }
}

/// Whether a script may run a command (Redis 7.0's `noscript` flag).
#[derive(Clone, Copy)]
enum InScripts {
    Allowed,
    Denied,
    /// Every subcommand but HELP is denied.
    OnlyHelp,
    /// CLUSTER: only its RESET is denied.
    NotReset,
}

impl InScripts {
    fn of(spec: &CommandSpec) -> InScripts {
        let name = spec.alias_of.unwrap_or(spec.name);
        if NO_SCRIPT.contains(&name) {
            InScripts::Denied
        } else if NO_SCRIPT_BUT_HELP.contains(&name) {
            InScripts::OnlyHelp
        } else if name == "cluster" {
            InScripts::NotReset
        } else {
            InScripts::Allowed
        }
    }
}

static TABLE: LazyLock<Table> = LazyLock::new(|| {
    let mut by_name = HashMap::with_hasher(foldhash::fast::FixedState::default());
    let row = |spec: &'static CommandSpec| Row { spec, in_scripts: InScripts::of(spec) };
    for fam in families() {
        for c in fam {
            by_name.insert(c.name.as_bytes(), row(c));
        }
    }
    let mut aliases = Vec::new();
    for (alias, target) in ALIASES {
        if let Some(t) = by_name.get(target.as_bytes()) {
            let spec: &'static CommandSpec =
                Box::leak(Box::new(CommandSpec { name: alias, alias_of: Some(t.spec.name), ..*t.spec }));
            aliases.push(spec);
        }
    }
    for a in &aliases {
        by_name.insert(a.name.as_bytes(), row(a));
    }
    Table { by_name, aliases }
});

/// Finds a command by name, case-insensitively. O(len(name)).
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    lookup_for_script(name).map(|r| r.spec)
}

/// [`lookup`] for a script's `redis.call`, with the command's rule for
/// scripts (see [`Row::denied_in_scripts`]). O(len(name)).
pub fn lookup_for_script(name: &[u8]) -> Option<Row> {
    if name.len() > 32 {
        return None;
    }
    let mut buf = [0u8; 32];
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    TABLE.by_name.get(&*lower).copied()
}

/// Every command (Redis names first, then the original project's aliases).
pub fn all() -> impl Iterator<Item = &'static CommandSpec> {
    families().into_iter().flat_map(|f| f.iter()).chain(TABLE.aliases.iter().copied())
}

/// The table's own rows, aliases included: the specs [`lookup`] hands out
/// (the same addresses every time), in no particular order.
pub fn rows() -> impl Iterator<Item = &'static CommandSpec> {
    TABLE.by_name.values().map(|r| r.spec)
}

/// Number of commands in the table (`COMMAND COUNT`).
pub fn count() -> usize {
    TABLE.by_name.len()
}

/// Container commands of which Redis 7.0 serves only `HELP` while loading.
const LOADING_HELP_ONLY: &[&str] = &["cluster", "function", "memory", "module", "object", "script", "xgroup", "xinfo"];

/// Whether Redis 7.0 runs this command while loading the dataset at start
/// (otherwise it answers `-LOADING`): the rows' `LOADING` flag (set on the
/// commands whose every subcommand Redis 7.0 flags `loading`), plus `HELP`
/// of the containers below. `args` is the whole request (name
/// first). EXEC's queue is checked by the dispatcher. O(1).
pub fn allowed_while_loading(spec: &CommandSpec, args: &[Bytes]) -> bool {
    if spec.flags & flags::LOADING != 0 {
        return true;
    }
    let name = spec.alias_of.unwrap_or(spec.name);
    LOADING_HELP_ONLY.contains(&name) && args.get(1).is_some_and(|a| a.eq_ignore_ascii_case(b"help"))
}

/// Whether Redis 7.0 flags the command `may-replicate`: it writes nothing
/// but is replicated (PUBLISH, SPUBLISH, PFCOUNT), so read-only scripts
/// refuse it and CLIENT PAUSE WRITE holds it. O(1).
pub fn may_replicate(spec: &CommandSpec) -> bool {
    matches!(spec.alias_of.unwrap_or(spec.name), "publish" | "spublish" | "pfcount")
}

/// Commands Redis 7.0 flags `noscript`: refused inside scripts.
const NO_SCRIPT: &[&str] = &[
    "auth",
    "bgrewriteaof",
    "bgsave",
    "blmove",
    "blpop",
    "brpop",
    "brpoplpush",
    "bzpopmax",
    "bzpopmin",
    "debug",
    "discard",
    "eval",
    "eval_ro",
    "evalsha",
    "evalsha_ro",
    "exec",
    "failover",
    "fcall",
    "fcall_ro",
    "hello",
    "monitor",
    "multi",
    "psubscribe",
    "psync",
    "punsubscribe",
    "quit",
    "replconf",
    "replicaof",
    "reset",
    "role",
    "save",
    "shutdown",
    "slaveof",
    "ssubscribe",
    "subscribe",
    "sunsubscribe",
    "sync",
    "unsubscribe",
    "unwatch",
    "wait",
    "watch",
];

/// Containers whose every subcommand but HELP Redis 7.0 flags `noscript`.
const NO_SCRIPT_BUT_HELP: &[&str] = &["acl", "client", "config", "function", "latency", "module", "script"];

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(args: &[&str]) -> bool {
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
        let spec = lookup(&args[0]).expect("known command");
        allowed_while_loading(spec, &args)
    }

    #[test]
    fn loading_allow_list_follows_redis() {
        for ok in [&["INFO"][..], &["config", "get", "*"], &["CLIENT", "LIST"], &["object", "HELP"], &["MULTI"]] {
            assert!(allowed(ok), "{ok:?}");
        }
        for refused in
            [&["GET", "k"][..], &["PING"], &["DBSIZE"], &["OBJECT", "ENCODING", "k"], &["SAVE"], &["lget", "k", "0"]]
        {
            assert!(!allowed(refused), "{refused:?}");
        }
    }

    /// The dispatcher locks `single_key`'s one key instead of iterating
    /// `key_indexes`: for every command and argument count they must agree.
    #[test]
    fn single_key_is_key_indexes_when_it_answers() {
        for spec in all() {
            for nargs in 0..8 {
                let indexes: Vec<usize> = spec.key_indexes(nargs).collect();
                match spec.single_key(nargs) {
                    Some(i) => assert_eq!(indexes, vec![i], "{} with {nargs} arguments", spec.name),
                    None => assert!(
                        spec.first_key <= 0 || spec.last_key != spec.first_key || indexes.is_empty(),
                        "{} with {nargs} arguments",
                        spec.name
                    ),
                }
            }
        }
        assert_eq!(lookup(b"get").and_then(|s| s.single_key(2)), Some(1));
        assert_eq!(lookup(b"mset").and_then(|s| s.single_key(5)), None);
    }
}
