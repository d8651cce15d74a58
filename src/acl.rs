//! Access control as Redis 7 does it: ACL users ([`user::User`]), authentication (`AUTH`, `HELLO … AUTH`,
//! `requirepass` as the `default` user's password), the per-command permission check the dispatcher calls
//! ([`check`]: commands, then keys, then Pub/Sub channels), the ACL log, and the ACL file ([`file`]).
//!
//! Users live in [`Acl`], copied on write: every change bumps a version number, and a connection re-fetches its
//! user only when that number moved, so the check costs one atomic load for a client whose user may do anything.
//! A change that takes channels away from a user disconnects its clients subscribed to one of them
//! ([`kill_forbidden_subscribers`]), as Redis 7.0 does.

pub mod file;
pub mod user;

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use crate::cmd::table::{flags, CommandSpec};
use crate::protocol::Reply;
use crate::server::client::ClientState;
use crate::server::Server;
use user::{User, KEY_READ, KEY_WRITE};

/// Redis's reply to failed authentication.
pub const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
/// Entries kept in the ACL log by default (Redis's `acllog-max-len` default).
pub const LOG_MAX_DEFAULT: usize = 128;
/// Denials of the same kind within this many milliseconds are counted in one log entry.
const LOG_GROUPING_MS: u128 = 60_000;

/// `acl-pubsub-default`: whether a new user (and `reset`) starts with every channel (`allchannels`) or none
/// (`resetchannels`, Redis 7.0's default). Process-wide, as Redis's setting is; published by the configuration.
static PUBSUB_DEFAULT_ALL: AtomicBool = AtomicBool::new(false);

/// Sets `acl-pubsub-default` (true: `allchannels`). Users that exist keep their channels.
pub fn set_pubsub_default(all_channels: bool) {
    PUBSUB_DEFAULT_ALL.store(all_channels, Ordering::Relaxed);
}

/// `acl-pubsub-default` is `allchannels`.
pub fn pubsub_default_all() -> bool {
    PUBSUB_DEFAULT_ALL.load(Ordering::Relaxed)
}

/// Why an entry was written to the ACL log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// The command is not allowed.
    Command,
    /// A key is not allowed.
    Key,
    /// A Pub/Sub channel (or pattern) is not allowed.
    Channel,
    /// A wrong user name or password.
    Auth,
}

impl Denial {
    /// The `reason` field of an `ACL LOG` entry.
    pub fn log_reason(self) -> &'static str {
        match self {
            Denial::Command => "command",
            Denial::Key => "key",
            Denial::Channel => "channel",
            Denial::Auth => "auth",
        }
    }
}

/// One `ACL LOG` entry.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// Times this happened (grouped within a minute).
    pub count: u64,
    /// What was denied.
    pub reason: Denial,
    /// `toplevel` or `multi`.
    pub context: &'static str,
    /// The command name, key, or `AUTH`.
    pub object: String,
    /// The user (or the name tried, for `auth`).
    pub username: String,
    /// Last update.
    pub updated: Instant,
    /// `CLIENT INFO` line of the last client.
    pub client_info: String,
}

/// A user before and after a change.
#[derive(Debug)]
pub struct UserChange {
    /// The user as it was (`None`: it did not exist).
    pub before: Option<Arc<User>>,
    /// The user as it is now.
    pub after: Arc<User>,
}

/// The ACL users and log. One per server.
pub struct Acl {
    users: RwLock<BTreeMap<String, Arc<User>>>,
    version: AtomicU64,
    log: Mutex<VecDeque<LogEntry>>,
    log_max: AtomicUsize,
}

impl Acl {
    /// Only the `default` user, with `requirepass` as its password (`nopass` when empty).
    pub fn new(requirepass: &str) -> Acl {
        let acl = Acl {
            users: RwLock::new(BTreeMap::new()),
            version: AtomicU64::new(1),
            log: Mutex::default(),
            log_max: AtomicUsize::new(LOG_MAX_DEFAULT),
        };
        acl.users.write().insert("default".into(), Arc::new(User::new_default()));
        acl.set_default_password(requirepass);
        acl
    }

    /// Changes on every modification of any user. O(1).
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    fn bump(&self) {
        self.version.fetch_add(1, Ordering::AcqRel);
    }

    /// A user by name. O(log users).
    pub fn get(&self, name: &str) -> Option<Arc<User>> {
        self.users.read().get(name).cloned()
    }

    /// Every user, sorted by name.
    pub fn all(&self) -> Vec<Arc<User>> {
        self.users.read().values().cloned().collect()
    }

    /// True when new connections start authenticated (the default user is `on` and `nopass`).
    pub fn default_open(&self) -> bool {
        self.get("default").is_some_and(|u| u.enabled && u.nopass)
    }

    /// True when the default user needs no password (protected mode applies then).
    pub fn default_nopass(&self) -> bool {
        self.get("default").is_some_and(|u| u.nopass)
    }

    /// `requirepass`: resets the default user's passwords to this one, or to `nopass` when empty.
    pub fn set_default_password(&self, pass: &str) {
        let mut users = self.users.write();
        let mut u = users.get("default").map(|u| (**u).clone()).unwrap_or_else(User::new_default);
        let _ = u.apply(b"resetpass");
        if pass.is_empty() {
            let _ = u.apply(b"nopass");
        } else {
            let _ = u.apply(format!(">{pass}").as_bytes());
        }
        users.insert("default".into(), Arc::new(u));
        drop(users);
        self.bump();
    }

    /// `ACL SETUSER`: applies every rule to a copy of the user (a new one if absent); stores it only if all apply.
    /// Gives back the user as it was (`None` if new) and as it is now. The error is Redis's message (without the
    /// `ERR ` prefix).
    pub fn set_user(&self, name: &str, rules: &[Bytes]) -> Result<UserChange, String> {
        if name.contains(' ') || name.contains('\0') {
            return Err("Usernames can't contain spaces or null characters".into());
        }
        let mut users = self.users.write();
        let before = users.get(name).cloned();
        let mut u = before.as_deref().cloned().unwrap_or_else(|| User::new(name));
        for r in rules {
            u.apply(r).map_err(|e| format!("Error in ACL SETUSER modifier '{}': {e}", String::from_utf8_lossy(r)))?;
        }
        let after = Arc::new(u);
        users.insert(name.to_string(), after.clone());
        drop(users);
        self.bump();
        Ok(UserChange { before, after })
    }

    /// `ACL DELUSER`: removes the users that exist and returns their names. `default` cannot be removed.
    pub fn del_users(&self, names: &[String]) -> Result<Vec<String>, String> {
        if names.iter().any(|n| n == "default") {
            return Err("The 'default' user cannot be removed".into());
        }
        let mut users = self.users.write();
        let removed: Vec<String> = names.iter().filter(|n| users.remove(n.as_str()).is_some()).cloned().collect();
        drop(users);
        self.bump();
        Ok(removed)
    }

    /// Replaces every user at once (ACL LOAD); `default` is created as Redis creates it if absent. Gives back
    /// the `default` user as it was and as it is now (the only user whose clients survive a load).
    pub fn replace_all(&self, mut users: BTreeMap<String, Arc<User>>) -> UserChange {
        let after = users.entry("default".into()).or_insert_with(|| Arc::new(User::new_default())).clone();
        let before = std::mem::replace(&mut *self.users.write(), users).remove("default");
        self.bump();
        UserChange { before, after }
    }

    /// The user `name` if it exists, is on, and `pass` is one of its passwords (or it is `nopass`). The password's
    /// hash is compared in constant time with every stored hash.
    pub fn credentials_ok(&self, name: &[u8], pass: &[u8]) -> Option<Arc<User>> {
        let u = self.get(std::str::from_utf8(name).ok()?)?;
        if !u.enabled {
            return None;
        }
        if u.nopass {
            return Some(u);
        }
        let hash = user::hash_password(pass);
        let mut ok = false;
        for p in &u.passwords {
            ok |= crate::cmd::connection::secure_eq(hash.as_bytes(), p.as_bytes());
        }
        ok.then_some(u)
    }

    /// Adds a denial to the ACL log (grouped with a like entry of the last minute).
    pub fn log(&self, reason: Denial, context: &'static str, object: String, username: String, client_info: String) {
        let mut log = self.log.lock();
        let now = Instant::now();
        let same = log.iter().position(|e| {
            e.reason == reason
                && e.context == context
                && e.object == object
                && e.username == username
                && now.duration_since(e.updated).as_millis() <= LOG_GROUPING_MS
        });
        let entry = match same.and_then(|i| log.remove(i)) {
            Some(mut e) => {
                e.count += 1;
                e.updated = now;
                e.client_info = client_info;
                e
            }
            None => LogEntry { count: 1, reason, context, object, username, updated: now, client_info },
        };
        log.push_front(entry);
        log.truncate(self.log_max.load(Ordering::Relaxed));
    }

    /// `acllog-max-len`: the log keeps at most `n` entries from now on (the
    /// oldest go first, at once if there are more). O(entries dropped).
    pub fn set_log_max(&self, n: usize) {
        self.log_max.store(n, Ordering::Relaxed);
        self.log.lock().truncate(n);
    }

    /// The newest `count` log entries, newest first.
    pub fn log_entries(&self, count: usize) -> Vec<LogEntry> {
        self.log.lock().iter().take(count).cloned().collect()
    }

    /// `ACL LOG RESET`.
    pub fn log_reset(&self) {
        self.log.lock().clear();
    }
}

/// Makes `client.acl_user` the current version of the connection's user (`None` if that user was deleted).
/// O(1) unless the ACL changed since the last call.
fn refresh_user(srv: &Server, client: &mut ClientState) {
    let v = srv.acl.version();
    if !matches!(&client.acl_user, Some((ver, _)) if *ver == v) {
        let name = client.handle.user.lock().clone();
        client.acl_user = srv.acl.get(&name).map(|u| (v, u));
    }
}

/// Redis's NOPERM reply for a command: named `container|sub` for a known
/// subcommand of a container command (`client|kill`), as Redis names it.
pub fn command_denied(spec: &CommandSpec, args: &[Bytes]) -> Reply {
    Reply::err(format!(
        "NOPERM this user has no permissions to run the '{}' command",
        crate::cmd::server::subcommands::call_name(spec, args)
    ))
}

/// Redis's NOPERM reply for a key.
pub const KEY_DENIED: &str = "NOPERM this user has no permissions to access one of the keys used as arguments";
/// Redis's NOPERM reply for a Pub/Sub channel.
pub const CHANNEL_DENIED: &str = "NOPERM this user has no permissions to access one of the channels used as arguments";

/// The arguments of a command that name Pub/Sub channels the ACL checks (Redis's channel specs with the
/// publish or subscribe flag; unsubscribing is always allowed): their first position, whether they run to the
/// end of the arguments, and whether they are patterns.
fn channel_args(spec: &CommandSpec) -> Option<(usize, bool, bool)> {
    match spec.alias_of.unwrap_or(spec.name) {
        "publish" | "spublish" => Some((1, false, false)),
        "subscribe" | "ssubscribe" => Some((1, true, false)),
        "psubscribe" => Some((1, true, true)),
        _ => None,
    }
}

/// True when `user` may run `spec` whatever its arguments: it may run every command on every key, and every
/// channel or this command names none (a user made with `+@all ~*` under Redis 7.0's `resetchannels`). O(1).
fn may_skip(user: &User, spec: &CommandSpec) -> bool {
    user.unrestricted() || (user.all_commands && user.all_keys && channel_args(spec).is_none())
}

/// The first channel argument of `args` that `user` may not name. O(channels × patterns).
fn denied_channel(user: &User, spec: &CommandSpec, args: &[Bytes]) -> Option<usize> {
    let (first, to_end, is_pattern) = channel_args(spec)?;
    let last = if to_end { args.len() } else { (first + 1).min(args.len()) };
    (first..last).find(|&i| !user.can_access_channel(&args[i], is_pattern))
}

/// The permission each key of a call needs, as Redis 7.0 derives it from
/// the key's spec flags: read for `access`, write for `insert`, `delete` or
/// `update` (LMOVE's source both, its destination write only; COPY's source
/// read only; neither for metadata reads). A key without spec flags (the original project's aliases)
/// needs write in a write command, else read.
fn key_needs(spec: &CommandSpec, args: &[Bytes]) -> impl Fn(usize) -> u8 {
    let specs = crate::cmd::server::key_flags(spec.alias_of.unwrap_or(spec.name), args);
    let fallback = if spec.has(flags::WRITE) { KEY_WRITE } else { KEY_READ };
    move |i| {
        let Some(f) = crate::cmd::server::flags_at(&specs, i) else { return fallback };
        let read = if f.contains(&"access") { KEY_READ } else { 0 };
        let write = if f.iter().any(|x| matches!(*x, "insert" | "delete" | "update")) { KEY_WRITE } else { 0 };
        // Neither (OBJECT ENCODING's `RO`): any pattern naming the key will do, as in Redis.
        read | write
    }
}

/// Why a user may not run a command, as Redis checks it (the command, then its keys, then its channels): `Ok`
/// if it may, else the denial and the position of the key or channel refused.
pub fn permission(user: &User, spec: &CommandSpec, args: &[Bytes]) -> Result<(), (Denial, Option<usize>)> {
    if user.unrestricted() {
        return Ok(());
    }
    if !user.can_run(spec, args) {
        return Err((Denial::Command, None));
    }
    if !user.all_keys {
        // Keys that cannot be found (a malformed numkeys): the command refuses the call itself.
        let positions = spec.key_positions(args).unwrap_or_default();
        if !positions.is_empty() {
            let need = key_needs(spec, args);
            if let Some(i) = positions.into_iter().find(|&i| !user.can_access_key(&args[i], need(i))) {
                return Err((Denial::Key, Some(i)));
            }
        }
    }
    if !user.all_channels {
        if let Some(i) = denied_channel(user, spec, args) {
            return Err((Denial::Channel, Some(i)));
        }
    }
    Ok(())
}

/// The dispatcher's ACL check, after arity and before queueing: may this client's user run `spec` with `args`
/// on these keys? A denial is logged, marks a pending MULTI as failed, and comes back as the NOPERM reply.
/// O(1) for a user allowed everything; otherwise O(keys × patterns).
#[inline]
pub fn check(srv: &Server, client: &mut ClientState, spec: &'static CommandSpec, args: &[Bytes]) -> Result<(), Reply> {
    // The common case inline: the client's user is current and may run anything.
    if matches!(&client.acl_user, Some((v, u)) if u.unrestricted() && *v == srv.acl.version()) {
        return Ok(());
    }
    check_slow(srv, client, spec, args)
}

/// [`check`] past its fast case.
fn check_slow(srv: &Server, client: &mut ClientState, spec: &'static CommandSpec, args: &[Bytes]) -> Result<(), Reply> {
    let context = if client.multi.is_some() { "multi" } else { "toplevel" };
    match denial(srv, client, spec, args, context) {
        None => Ok(()),
        Some(reason) => {
            if client.multi.is_some() {
                client.multi_error = true;
            }
            Err(match reason {
                Denial::Key => Reply::err(KEY_DENIED),
                Denial::Channel => Reply::err(CHANNEL_DENIED),
                _ => command_denied(spec, args),
            })
        }
    }
}

/// The ACL check of a command a script calls (`redis.call`): logged with
/// the `lua` context; `Err` is Redis's text for the script's error.
pub fn check_from_script(
    srv: &Server,
    client: &mut ClientState,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> Result<(), String> {
    match denial(srv, client, spec, args, "lua") {
        None => Ok(()),
        Some(Denial::Key) => {
            Err("The user executing the script can't access at least one of the keys mentioned in the command".into())
        }
        Some(Denial::Channel) => {
            Err("The user executing the script can't publish to the channel mentioned in the command".into())
        }
        Some(_) => Err("The user executing the script can't run this command or subcommand".into()),
    }
}

/// Whether the client's user may run `args` (without logging): `redis.acl_check_cmd`.
pub fn allowed(srv: &Server, client: &mut ClientState, spec: &CommandSpec, args: &[Bytes]) -> bool {
    refresh_user(srv, client);
    match &client.acl_user {
        Some((_, u)) if may_skip(u, spec) => true,
        Some((_, u)) => permission(u, spec, args).is_ok(),
        None => spec.has(flags::NO_AUTH),
    }
}

/// Why the client's user may not run `args` (logged in the ACL log with
/// `context`), or `None` if it may.
fn denial(
    srv: &Server,
    client: &mut ClientState,
    spec: &'static CommandSpec,
    args: &[Bytes],
    context: &'static str,
) -> Option<Denial> {
    refresh_user(srv, client);
    // The common case (a user allowed everything) costs no reference-count traffic.
    let user = match &client.acl_user {
        Some((_, u)) if may_skip(u, spec) => return None,
        Some((_, u)) => u.clone(),
        None if spec.has(flags::NO_AUTH) => return None,
        None => return Some(Denial::Command),
    };
    // As Redis finds a container's subcommand before checking ACLs, an
    // unknown one gets the handler's "unknown subcommand" error, not NOPERM.
    let subs = crate::cmd::server::subcommands::of(spec.name);
    if args.len() > 1 && !subs.is_empty() && !subs.iter().any(|(s, _)| s.as_bytes().eq_ignore_ascii_case(&args[1])) {
        return None;
    }
    let Err((reason, pos)) = permission(&user, spec, args) else { return None };
    let object = match pos {
        Some(i) => String::from_utf8_lossy(&args[i]).into_owned(),
        None => crate::cmd::server::subcommands::call_name(spec, args).to_string(),
    };
    srv.acl.log(reason, context, object, user.name.clone(), client.handle.info_line());
    Some(reason)
}

/// AUTH and HELLO AUTH: checks the credentials (no user name: `default`) and on success makes the connection act
/// as that user. Errors are Redis's replies.
pub fn authenticate(srv: &Server, client: &mut ClientState, user: Option<&[u8]>, pass: &[u8]) -> Result<(), Reply> {
    let name = match user {
        Some(u) => u,
        None if srv.acl.default_nopass() => {
            return Err(Reply::err(
                "ERR AUTH <password> called without any password configured for the default user. Are you sure \
                 your configuration is correct?",
            ))
        }
        None => b"default",
    };
    match srv.acl.credentials_ok(name, pass) {
        Some(u) => {
            client.authenticated = true;
            *client.handle.user.lock() = u.name.clone();
            client.acl_user = Some((srv.acl.version(), u));
            Ok(())
        }
        None => {
            let context = if client.multi.is_some() { "multi" } else { "toplevel" };
            let who = String::from_utf8_lossy(name).into_owned();
            srv.acl.log(Denial::Auth, context, "AUTH".into(), who, client.handle.info_line());
            Err(Reply::err(WRONGPASS))
        }
    }
}

/// After `change` to a user's permissions: closes its connections subscribed to a channel, shard channel or
/// pattern it may no longer name (Redis 7.0's `ACLKillPubsubClientsIfNeeded`), except `me` (the caller closes
/// itself after its reply). Returns whether `me` was among them. O(1) when no channel was taken away, else
/// O(subscriptions of every client × the user's channel patterns).
pub fn kill_forbidden_subscribers(srv: &Server, change: &UserChange, me: u64) -> bool {
    let Some(before) = &change.before else { return false };
    let after = &change.after;
    if !before.channels_narrowed_by(after) {
        return false;
    }
    let forbidden = srv.pubsub.clients_with(|h, channel, is_pattern| {
        *h.user.lock() == after.name && !after.can_access_channel(channel, is_pattern)
    });
    let mut self_hit = false;
    for h in forbidden {
        if h.id == me {
            self_hit = true;
        } else {
            tracing::info!(id = h.id, user = %after.name, "closing a subscriber whose channel permissions were revoked");
            h.kill();
        }
    }
    self_hit
}

/// Closes every connection authenticated as one of `names`, except `me` (the caller closes itself after its
/// reply). Returns whether `me` was among them.
pub fn kill_clients_of(srv: &Server, names: &[String], me: u64) -> bool {
    let mut self_hit = false;
    for c in srv.clients.list() {
        if names.iter().any(|n| *n == *c.user.lock()) {
            if c.id == me {
                self_hit = true;
            } else {
                c.kill();
            }
        }
    }
    self_hit
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_length_is_bounded_and_adjustable() {
        let acl = Acl::new("");
        for i in 0..5 {
            acl.log(Denial::Key, "toplevel", format!("k{i}"), "u".into(), String::new());
        }
        assert_eq!(acl.log_entries(10).len(), 5);
        acl.set_log_max(2);
        let kept: Vec<String> = acl.log_entries(10).into_iter().map(|e| e.object).collect();
        assert_eq!(kept, ["k4", "k3"], "the newest stay");
        acl.log(Denial::Key, "toplevel", "k5".into(), "u".into(), String::new());
        assert_eq!(acl.log_entries(10).len(), 2);
    }
}
