//! One ACL user and Redis's `ACL SETUSER` rule language: flags, SHA-256 password hashes, command permissions (a
//! bitmap over the command table plus first-argument exceptions such as `+config|get`), key patterns (`~`, `%R~`,
//! `%W~`) and channel patterns. Rules are applied one at a time; [`User::describe`] gives them back in the form
//! `ACL LIST` and the ACL file use.

use std::collections::HashMap;
use std::fmt;
use std::sync::LazyLock;

use sha2::{Digest, Sha256};

use crate::cmd::server::subcommands;
use crate::cmd::table::{self, flags, CommandSpec};
use crate::db::glob::glob_match;

/// A key pattern may be used to read keys.
pub const KEY_READ: u8 = 1;
/// A key pattern may be used to write keys.
pub const KEY_WRITE: u8 = 2;

/// Redis 7.0 commands (and subcommands) this server does not have —
/// modules — which ACL rules may still name.
const REDIS_ONLY_COMMANDS: &[&str] =
    &["module", "module|help", "module|list", "module|load", "module|loadex", "module|unload"];

/// Redis's ACL categories, in the order `ACL CAT` lists them.
pub const CATEGORIES: &[&str] = &[
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// The command table's Redis rows (aliases excluded), numbered for the permission bitmaps.
struct CommandIndex {
    specs: Vec<&'static CommandSpec>,
    by_name: HashMap<&'static str, usize>,
}

static INDEX: LazyLock<CommandIndex> = LazyLock::new(|| {
    let specs: Vec<&'static CommandSpec> = table::all().filter(|c| c.alias_of.is_none()).collect();
    let by_name = specs.iter().enumerate().map(|(i, c)| (c.name, i)).collect();
    CommandIndex { specs, by_name }
});

/// The bitmap position of a command (an alias shares its target's). O(1).
pub fn command_id(spec: &CommandSpec) -> Option<usize> {
    INDEX.by_name.get(spec.alias_of.unwrap_or(spec.name)).copied()
}

/// Every Redis command of the table (aliases excluded), in table order.
pub fn commands() -> &'static [&'static CommandSpec] {
    &INDEX.specs
}

/// True if `spec` is in ACL category `cat` (a name from [`CATEGORIES`], without `@`).
pub fn in_category(spec: &CommandSpec, cat: &str) -> bool {
    crate::cmd::server::categories(spec).iter().any(|c| c.strip_prefix('@') == Some(cat))
}

/// Lower-case hex SHA-256 of a password, as Redis stores it. O(len).
pub fn hash_password(pass: &[u8]) -> String {
    let digest = Sha256::digest(pass);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push(char::from(b"0123456789abcdef"[(b >> 4) as usize]));
        s.push(char::from(b"0123456789abcdef"[(b & 15) as usize]));
    }
    s
}

/// Why a rule was refused; `Display` gives Redis's explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleError {
    /// `+nosuch`, `+@nosuch`.
    UnknownName,
    /// A rule that means nothing, or a pattern with a space in it.
    Syntax,
    /// A key pattern after `~*` / `allkeys`.
    KeyAfterAll,
    /// A channel pattern after `&*` / `allchannels`.
    ChannelAfterAll,
    /// `<pass` or `!hash` naming a password the user does not have.
    NoSuchPassword,
    /// `#hash` / `!hash` that is not 64 lower-case hex digits.
    BadHash,
    /// `+config|get|x`: a first-argument rule on a subcommand.
    SubcommandFirstArg,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RuleError::UnknownName => "Unknown command or category name in ACL",
            RuleError::Syntax => "Syntax error",
            RuleError::KeyAfterAll => {
                "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any \
                 effect. Try 'resetkeys' to start with an empty list of patterns"
            }
            RuleError::ChannelAfterAll => {
                "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any \
                 effect. Try 'resetchannels' to start with an empty list of channels"
            }
            RuleError::NoSuchPassword => "The password you are trying to remove from the user does not exist",
            RuleError::BadHash => {
                "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
            }
            RuleError::SubcommandFirstArg => "Allowing first-arg of a subcommand is not supported",
        })
    }
}

/// First arguments (subcommands) allowed or denied apart, by command bitmap position.
type FirstArgs = HashMap<usize, Vec<String>>;

/// An ACL user. Cloned (copy-on-write) by every `ACL SETUSER`; connections hold an `Arc` of the version they use.
#[derive(Debug, Clone)]
pub struct User {
    /// The user name (no spaces).
    pub name: String,
    /// `on`: the user may authenticate.
    pub enabled: bool,
    /// `nopass`: any password is accepted.
    pub nopass: bool,
    /// `sanitize-payload` (Some(true)) / `skip-sanitize-payload` (Some(false)); shown only once set.
    pub sanitize: Option<bool>,
    /// SHA-256 hashes of the passwords, lower-case hex, in the order added.
    pub passwords: Vec<String>,
    /// Every command is allowed, with no exception (fast path).
    pub all_commands: bool,
    /// The rules started from `+@all`: commands added to the table later are allowed too.
    future_commands: bool,
    allowed: Vec<bool>,
    first_allowed: FirstArgs,
    first_denied: FirstArgs,
    /// Command rules after the `+@all`/`-@all` base, in the order they matter.
    rules: Vec<String>,
    /// `~*` / `allkeys`.
    pub all_keys: bool,
    /// Key patterns with their [`KEY_READ`]/[`KEY_WRITE`] bits.
    pub keys: Vec<(String, u8)>,
    /// `&*` / `allchannels`.
    pub all_channels: bool,
    /// Channel patterns.
    pub channels: Vec<String>,
}

impl User {
    /// A new user as `ACL SETUSER name` creates it: off, no password, no commands, no keys, and no channels
    /// or every channel as `acl-pubsub-default` says ([`super::pubsub_default_all`]).
    pub fn new(name: &str) -> User {
        User::with_channels(name, super::pubsub_default_all())
    }

    /// [`User::new`] with `all_channels` given instead of read from `acl-pubsub-default`.
    pub fn with_channels(name: &str, all_channels: bool) -> User {
        User {
            name: name.to_string(),
            enabled: false,
            nopass: false,
            sanitize: None,
            passwords: Vec::new(),
            all_commands: false,
            future_commands: false,
            allowed: vec![false; INDEX.specs.len()],
            first_allowed: HashMap::new(),
            first_denied: HashMap::new(),
            rules: Vec::new(),
            all_keys: false,
            keys: Vec::new(),
            all_channels,
            channels: Vec::new(),
        }
    }

    /// The `default` user as Redis creates it: `on nopass ~* &* +@all`.
    pub fn new_default() -> User {
        let mut u = User::new("default");
        for r in ["+@all", "~*", "&*", "on", "nopass"] {
            let _ = u.apply(r.as_bytes());
        }
        u
    }

    /// True when the user can run anything on any key and channel (the check can be skipped).
    #[inline]
    pub fn unrestricted(&self) -> bool {
        self.all_commands && self.all_keys && self.all_channels
    }

    /// Applies one `ACL SETUSER` rule. On error the user may be partly changed: apply rules to a copy.
    /// O(number of commands) for category and `±@all` rules, O(patterns or passwords) otherwise.
    pub fn apply(&mut self, op: &[u8]) -> Result<(), RuleError> {
        if op.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(op);
        let lower = text.to_ascii_lowercase();
        match lower.as_str() {
            "on" => self.enabled = true,
            "off" => self.enabled = false,
            "skip-sanitize-payload" => self.sanitize = Some(false),
            "sanitize-payload" => self.sanitize = Some(true),
            "nopass" => {
                self.nopass = true;
                self.passwords.clear();
            }
            "resetpass" => {
                self.nopass = false;
                self.passwords.clear();
            }
            "reset" => {
                for r in ["resetpass", "resetkeys", "resetchannels", "off", "sanitize-payload", "-@all"] {
                    self.apply(r.as_bytes())?;
                }
                // As Redis: `reset` leaves the channels `acl-pubsub-default` gives a new user.
                self.all_channels = super::pubsub_default_all();
            }
            "clearselectors" => {}
            "allkeys" | "~*" => {
                self.all_keys = true;
                self.keys.clear();
            }
            "resetkeys" => {
                self.all_keys = false;
                self.keys.clear();
            }
            "allchannels" | "&*" => {
                self.all_channels = true;
                self.channels.clear();
            }
            "resetchannels" => {
                self.all_channels = false;
                self.channels.clear();
            }
            "allcommands" | "+@all" => self.set_all(true),
            "nocommands" | "-@all" => self.set_all(false),
            _ => return self.apply_prefixed(op, &text),
        }
        Ok(())
    }

    /// Rules recognised by their first character: passwords, patterns, commands, categories.
    fn apply_prefixed(&mut self, op: &[u8], text: &str) -> Result<(), RuleError> {
        let body = &op[1..];
        match op[0] {
            b'>' | b'#' => {
                let hash = if op[0] == b'>' { hash_password(body) } else { valid_hash(body)? };
                if !self.passwords.contains(&hash) {
                    self.passwords.push(hash);
                }
                self.nopass = false;
            }
            b'<' | b'!' => {
                let hash = if op[0] == b'<' { hash_password(body) } else { valid_hash(body)? };
                let pos = self.passwords.iter().position(|p| *p == hash).ok_or(RuleError::NoSuchPassword)?;
                self.passwords.remove(pos);
            }
            b'~' | b'%' => self.add_key_pattern(text)?,
            b'&' => {
                if self.all_channels {
                    return Err(RuleError::ChannelAfterAll);
                }
                let pat = &text[1..];
                if pat.contains(' ') || pat.contains('\0') {
                    return Err(RuleError::Syntax);
                }
                if !self.channels.iter().any(|c| c == pat) {
                    self.channels.push(pat.to_string());
                }
            }
            b'+' | b'-' => {
                let allow = op[0] == b'+';
                let name = text[1..].to_ascii_lowercase();
                let before = (self.allowed.clone(), self.first_allowed.clone(), self.first_denied.clone());
                let rules_before = self.rules.clone();
                let category = name.starts_with('@');
                match name.strip_prefix('@') {
                    Some(cat) => self.set_category(cat, allow)?,
                    None => self.set_command(&name, allow)?,
                }
                self.simplify(category, before, rules_before);
            }
            b'(' => return Err(RuleError::Syntax), // selectors are not supported
            _ => return Err(RuleError::Syntax),
        }
        Ok(())
    }

    fn add_key_pattern(&mut self, text: &str) -> Result<(), RuleError> {
        if self.all_keys {
            return Err(RuleError::KeyAfterAll);
        }
        let (perm, pat) = if let Some(rest) = text.strip_prefix('%') {
            let (flags, pat) = rest.split_once('~').ok_or(RuleError::Syntax)?;
            let mut perm = 0;
            for c in flags.chars() {
                let bit = match c.to_ascii_uppercase() {
                    'R' => KEY_READ,
                    'W' => KEY_WRITE,
                    _ => return Err(RuleError::Syntax),
                };
                if perm & bit != 0 {
                    return Err(RuleError::Syntax);
                }
                perm |= bit;
            }
            if perm == 0 {
                return Err(RuleError::Syntax);
            }
            (perm, pat)
        } else {
            (KEY_READ | KEY_WRITE, &text[1..])
        };
        if pat.contains(' ') || pat.contains('\0') {
            return Err(RuleError::Syntax);
        }
        match self.keys.iter_mut().find(|(p, _)| p == pat) {
            Some((_, f)) => *f |= perm,
            None => self.keys.push((pat.to_string(), perm)),
        }
        Ok(())
    }

    fn set_all(&mut self, allow: bool) {
        self.allowed.iter_mut().for_each(|b| *b = allow);
        self.all_commands = allow;
        self.future_commands = allow;
        self.rules.clear();
        self.first_allowed.clear();
        self.first_denied.clear();
    }

    fn set_bit(&mut self, id: usize, allow: bool) {
        self.allowed[id] = allow;
        self.first_allowed.remove(&id);
        self.first_denied.remove(&id);
        if !allow {
            self.all_commands = false;
        }
    }

    fn set_category(&mut self, cat: &str, allow: bool) -> Result<(), RuleError> {
        if !CATEGORIES.contains(&cat) {
            return Err(RuleError::UnknownName);
        }
        for (id, spec) in INDEX.specs.iter().enumerate() {
            if in_category(spec, cat) {
                self.set_bit(id, allow);
            }
        }
        self.push_rule(&format!("@{cat}"), allow);
        Ok(())
    }

    /// As Redis 7.0 describes a user from its permission bitmap, a command
    /// rule that changed nothing leaves no trace (`+@all +client|id` is
    /// shown `+@all`). Category rules stay: a category may have no command
    /// in this server's table, yet `-@set` is what the user asked for.
    fn simplify(&mut self, category: bool, before: (Vec<bool>, FirstArgs, FirstArgs), rules_before: Vec<String>) {
        self.first_allowed.retain(|_, v| !v.is_empty());
        self.first_denied.retain(|_, v| !v.is_empty());
        let unchanged = before.0 == self.allowed && before.1 == self.first_allowed && before.2 == self.first_denied;
        if unchanged && !category {
            self.rules = rules_before;
        }
        self.all_commands = self.allowed.iter().all(|&b| b) && self.first_denied.is_empty();
    }

    /// `±name`, `±container|sub` and `+name|first-arg` rules, checked as
    /// Redis 7.0 checks them: a container's subcommand must exist, a plain
    /// command's first argument can only be allowed, and a subcommand's
    /// first argument not at all.
    fn set_command(&mut self, name: &str, allow: bool) -> Result<(), RuleError> {
        let (cmd, sub) = match name.split_once('|') {
            Some((c, s)) => (c, Some(s)),
            None => (name, None),
        };
        let Some(spec) = table::lookup(cmd.as_bytes()) else {
            // A Redis 7.0 command this server refuses: the rule is kept (and
            // shown) but grants nothing, so ACL files written for Redis load.
            let lower = name.to_ascii_lowercase();
            if REDIS_ONLY_COMMANDS.contains(&lower.as_str()) {
                self.push_rule(&lower, allow);
                return Ok(());
            }
            return Err(RuleError::UnknownName);
        };
        let id = command_id(spec).ok_or(RuleError::UnknownName)?;
        let canonical = spec.alias_of.unwrap_or(spec.name);
        let Some(sub) = sub else {
            self.set_bit(id, allow);
            self.push_rule(canonical, allow);
            return Ok(());
        };
        let container = subcommands::is_container(canonical);
        if let Some((first, _)) = sub.split_once('|') {
            if allow && container && subcommands::full_name(canonical, first.as_bytes()).is_some() {
                return Err(RuleError::SubcommandFirstArg);
            }
            return Err(RuleError::UnknownName);
        }
        if container {
            if subcommands::full_name(canonical, sub.as_bytes()).is_none() {
                return Err(RuleError::UnknownName);
            }
        } else if !allow {
            return Err(RuleError::UnknownName);
        } else if sub.is_empty() {
            return Err(RuleError::Syntax);
        }
        let (add, remove) = if self.allowed[id] == allow {
            (None, if allow { Some(&mut self.first_denied) } else { Some(&mut self.first_allowed) })
        } else if allow {
            (Some(&mut self.first_allowed), None)
        } else {
            (Some(&mut self.first_denied), None)
        };
        if let Some(map) = remove {
            if let Some(v) = map.get_mut(&id) {
                v.retain(|s| s != sub);
            }
        }
        if let Some(map) = add {
            let v = map.entry(id).or_default();
            if !v.iter().any(|s| s == sub) {
                v.push(sub.to_string());
            }
        }
        if !allow {
            self.all_commands = false;
        }
        self.push_rule(&format!("{canonical}|{sub}"), allow);
        Ok(())
    }

    /// Records a command rule, dropping earlier rules it overrides (the same name, or its `name|sub` rules).
    fn push_rule(&mut self, rule: &str, allow: bool) {
        self.rules.retain(|r| {
            let r = &r[1..];
            !(r == rule || r.strip_prefix(rule).is_some_and(|rest| rest.starts_with('|')))
        });
        self.rules.push(format!("{}{rule}", if allow { '+' } else { '-' }));
    }

    /// Whether the user may run `spec` with `args` (first-argument rules look at `args[1]`). Commands that need no
    /// authentication (AUTH, HELLO …) are always allowed. O(1) plus the first-argument exceptions of the command.
    pub fn can_run(&self, spec: &CommandSpec, args: &[bytes::Bytes]) -> bool {
        if self.all_commands || spec.has(flags::NO_AUTH) {
            return true;
        }
        let Some(id) = command_id(spec) else { return false };
        let first_in = |list: Option<&Vec<String>>| {
            list.is_some_and(|l| args.len() > 1 && l.iter().any(|s| s.as_bytes().eq_ignore_ascii_case(&args[1])))
        };
        if self.allowed[id] {
            !first_in(self.first_denied.get(&id))
        } else {
            first_in(self.first_allowed.get(&id))
        }
    }

    /// Whether a pattern grants `need` ([`KEY_READ`] | [`KEY_WRITE`]) on `key`. O(patterns × key length).
    pub fn can_access_key(&self, key: &[u8], need: u8) -> bool {
        self.all_keys || self.keys.iter().any(|(p, f)| f & need == need && glob_match(p.as_bytes(), key, false))
    }

    /// Whether the user may name `channel` in a Pub/Sub command. A channel (PUBLISH, SUBSCRIBE) is matched
    /// against the channel patterns as a glob; a pattern (PSUBSCRIBE) must equal one of them literally, as in
    /// Redis, so `&news.*` allows `PSUBSCRIBE news.*` but not `PSUBSCRIBE news.sport.*` or `PSUBSCRIBE *`.
    /// O(patterns × channel length).
    pub fn can_access_channel(&self, channel: &[u8], is_pattern: bool) -> bool {
        self.all_channels
            || self.channels.iter().any(|p| {
                if is_pattern {
                    p.as_bytes() == channel
                } else {
                    glob_match(p.as_bytes(), channel, false)
                }
            })
    }

    /// Whether a subscription allowed under `self` may be forbidden under `new` (Redis's shortcut before it
    /// looks at any client: not if `new` allows every channel or keeps every pattern `self` had). O(patterns²).
    pub fn channels_narrowed_by(&self, new: &User) -> bool {
        if new.all_channels {
            return false;
        }
        self.all_channels || self.channels.iter().any(|c| !new.channels.contains(c))
    }

    /// The command rules as `ACL GETUSER` shows them: `+@all`/`-@all` followed by the later rules.
    pub fn command_rules(&self) -> String {
        let mut s = String::from(if self.future_commands { "+@all" } else { "-@all" });
        for r in &self.rules {
            s.push(' ');
            s.push_str(r);
        }
        s
    }

    /// The key patterns as `ACL GETUSER` shows them (`~*`, or `~a* %R~b*` …).
    pub fn keys_string(&self) -> String {
        if self.all_keys {
            return "~*".into();
        }
        let pats: Vec<String> = self
            .keys
            .iter()
            .map(|(p, f)| match *f {
                KEY_READ => format!("%R~{p}"),
                KEY_WRITE => format!("%W~{p}"),
                _ => format!("~{p}"),
            })
            .collect();
        pats.join(" ")
    }

    /// The channel patterns as `ACL GETUSER` shows them.
    pub fn channels_string(&self) -> String {
        if self.all_channels {
            return "&*".into();
        }
        self.channels.iter().map(|c| format!("&{c}")).collect::<Vec<_>>().join(" ")
    }

    /// The flags `ACL GETUSER` lists.
    pub fn flag_names(&self) -> Vec<&'static str> {
        let mut v = vec![if self.enabled { "on" } else { "off" }];
        if self.nopass {
            v.push("nopass");
        }
        match self.sanitize {
            Some(false) => v.push("skip-sanitize-payload"),
            Some(true) => v.push("sanitize-payload"),
            None => {}
        }
        v
    }

    /// The whole user as rules, the way `ACL LIST` and the ACL file show it (without `user <name>`); applying them
    /// to [`User::new`] rebuilds the same permissions.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self.flag_names().into_iter().map(String::from).collect();
        parts.extend(self.passwords.iter().map(|p| format!("#{p}")));
        let keys = self.keys_string();
        if !keys.is_empty() {
            parts.push(keys);
        }
        if !self.all_channels {
            parts.push("resetchannels".into());
        }
        let channels = self.channels_string();
        if !channels.is_empty() {
            parts.push(channels);
        }
        parts.push(self.command_rules());
        parts.join(" ")
    }
}

/// A `#hash` argument: exactly 64 lower-case hex digits.
fn valid_hash(h: &[u8]) -> Result<String, RuleError> {
    if h.len() != 64 || !h.iter().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c)) {
        return Err(RuleError::BadHash);
    }
    Ok(String::from_utf8_lossy(h).into_owned())
}

#[cfg(test)]
mod tests;
