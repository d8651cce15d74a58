//! The slow log (Redis's slowlog.c) and the SLOWLOG command.
//!
//! Every command that ran for at least `slowlog-log-slower-than`
//! microseconds (negative: the log is off; 0: every command) is remembered,
//! newest first, up to `slowlog-max-len` entries: a unique id, the Unix
//! time it finished, its duration in microseconds (the handler's run, so a
//! blocked command counts the run that served it, not the wait), its
//! arguments (at most [`MAX_ARGS`], each cut at [`MAX_ARG_BYTES`] bytes),
//! the client's address and name.
//!
//! Which commands, as Redis's `call()` decides: EXEC is not logged (the
//! commands it runs are, one entry each); a command refused before it ran
//! (arity, ACL, OOM, an unknown subcommand …) is not; a blocked command is
//! logged once, when it is served; a script's commands are logged as well
//! as the script, under Redis's script client (`?:0`, no name); nothing
//! is logged while the dataset loads. Arguments holding secrets are shown
//! as `(redacted)`, as Redis redacts them (AUTH, HELLO … AUTH, ACL SETUSER,
//! CONFIG SET of `requirepass`/`masterauth`/`masteruser`, MIGRATE … AUTH).
//!
//! Process-wide state beside the command, as the latency monitor. Cost per
//! command under the threshold: one relaxed atomic load and a compare.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

use super::super::args::{self, fail};
use super::super::keys::help_reply;
use super::super::table::CommandSpec;
use super::super::{CmdResult, Ctx};
use super::subcommands;
use crate::protocol::Reply;
use crate::server::client::ClientState;

/// Arguments kept per entry (Redis's `SLOWLOG_ENTRY_MAX_ARGC`); the last
/// kept one says how many more there were.
pub const MAX_ARGS: usize = 32;
/// Bytes kept per argument (Redis's `SLOWLOG_ENTRY_MAX_STRING`).
pub const MAX_ARG_BYTES: usize = 128;

/// What a redacted argument is logged as.
const REDACTED: &[u8] = b"(redacted)";
/// Redis's address of its script client, whose commands scripts run.
const SCRIPT_PEER: &str = "?:0";

/// `slowlog-log-slower-than` in nanoseconds; `u64::MAX`: the log is off.
/// Nanoseconds so that the hot path compares without dividing
/// (`ns >= us * 1000` exactly when `ns / 1000 >= us`).
static THRESHOLD_NS: AtomicU64 = AtomicU64::new(10_000 * 1000);

/// One logged command.
struct Entry {
    id: u64,
    /// Unix seconds.
    time: i64,
    micros: u64,
    args: Vec<Bytes>,
    peer: String,
    name: Bytes,
}

struct Log {
    /// Newest first.
    entries: VecDeque<Entry>,
    /// `slowlog-max-len`.
    max_len: usize,
    /// The next entry's id (never reset, as Redis's `slowlog_entry_id`).
    next_id: u64,
}

static LOG: Mutex<Log> = Mutex::new(Log { entries: VecDeque::new(), max_len: 128, next_id: 0 });

/// Applies `slowlog-log-slower-than` (µs; negative: off) and
/// `slowlog-max-len`. A shorter maximum drops the oldest entries at once
/// when the log is on (Redis trims after the CONFIG SET that lowered it);
/// while it is off the entries stay. O(entries dropped).
pub fn configure(slower_than_us: i64, max_len: u64) {
    let ns = if slower_than_us < 0 { u64::MAX } else { (slower_than_us as u64).saturating_mul(1000) };
    THRESHOLD_NS.store(ns, Ordering::Relaxed);
    let mut log = LOG.lock();
    log.max_len = usize::try_from(max_len).unwrap_or(usize::MAX);
    if slower_than_us >= 0 {
        let keep = log.max_len;
        log.entries.truncate(keep);
    }
}

/// Logs a finished command that ran `ns` nanoseconds, if it reached the
/// threshold and Redis would log it (`error`: its error reply, if it
/// failed). Call once per completed command, after it ran. One relaxed
/// load and a compare under the threshold; O(arguments) above it.
#[inline]
pub fn record(client: &ClientState, spec: &CommandSpec, args: &[Bytes], ns: u64, error: Option<&str>) {
    if ns >= THRESHOLD_NS.load(Ordering::Relaxed) {
        record_slow(client, spec, args, ns, error);
    }
}

#[cold]
fn record_slow(client: &ClientState, spec: &CommandSpec, args: &[Bytes], ns: u64, error: Option<&str>) {
    // EXEC is Redis's one `no-slowlog` command; the AOF replay is not logged.
    if spec.name == "exec" || crate::db::loading() {
        return;
    }
    // Refusals Redis makes before running the command (its subcommand
    // table), which this server's container handlers make themselves.
    if let Some(e) = error {
        if e.starts_with("ERR unknown subcommand '")
            || (e.starts_with("ERR wrong number of arguments") && subcommands::is_container(spec.name))
        {
            return;
        }
    }
    let (peer, name) = if client.in_script {
        (SCRIPT_PEER.to_string(), Bytes::new())
    } else {
        let addr = &client.handle.addr;
        let peer = if addr.is_empty() { SCRIPT_PEER.to_string() } else { addr.clone() };
        (peer, client.handle.name.lock().clone().unwrap_or_default())
    };
    let entry_args = logged_args(spec, args);
    let time = (crate::db::now_us() / 1_000_000) as i64;
    let mut log = LOG.lock();
    let id = log.next_id;
    log.next_id += 1;
    log.entries.push_front(Entry { id, time, micros: ns / 1000, args: entry_args, peer, name });
    let keep = log.max_len;
    log.entries.truncate(keep);
}

/// The arguments as logged: redacted where Redis redacts, at most
/// [`MAX_ARGS`] (the last saying how many more there were), each cut at
/// [`MAX_ARG_BYTES`] bytes. Copies, so that an entry never holds on to a
/// request buffer. O(arguments kept).
fn logged_args(spec: &CommandSpec, args: &[Bytes]) -> Vec<Bytes> {
    let hidden = sensitive_args(spec, args);
    let keep = args.len().min(MAX_ARGS);
    (0..keep)
        .map(|j| {
            if keep != args.len() && j == keep - 1 {
                Bytes::from(format!("... ({} more arguments)", args.len() - keep + 1))
            } else if hidden.contains(&j) {
                Bytes::from_static(REDACTED)
            } else if args[j].len() > MAX_ARG_BYTES {
                let mut s = args[j][..MAX_ARG_BYTES].to_vec();
                s.extend_from_slice(format!("... ({} more bytes)", args[j].len() - MAX_ARG_BYTES).as_bytes());
                Bytes::from(s)
            } else {
                Bytes::copy_from_slice(&args[j])
            }
        })
        .collect()
}

/// `CONFIG SET` parameters whose values Redis never shows (its
/// `SENSITIVE_CONFIG` flag).
const SENSITIVE_PARAMS: &[&str] = &["masterauth", "masteruser", "requirepass"];

/// Positions of the arguments of `args` (name first) that Redis replaces
/// with `(redacted)` in the slow log (and MONITOR): the password of AUTH
/// (and its user name in the two-argument form), HELLO's `AUTH user pass`,
/// every argument of ACL SETUSER after the subcommand, the values of
/// sensitive CONFIG SET parameters, MIGRATE's `AUTH pass` / `AUTH2 user
/// pass`. Follows where Redis's commands call `redactClientCommandArgument`
/// (which syntax errors stop first). Empty, without allocating, for every
/// other command. O(arguments).
pub fn sensitive_args(spec: &CommandSpec, args: &[Bytes]) -> Vec<usize> {
    let is = |j: usize, word: &str| args.get(j).is_some_and(|a| a.eq_ignore_ascii_case(word.as_bytes()));
    match spec.alias_of.unwrap_or(spec.name) {
        // More than two arguments: a syntax error before any redaction.
        "auth" if args.len() <= 3 => (1..args.len()).collect(),
        "hello" => {
            let mut out = Vec::new();
            if args.len() >= 2 && !args::int(&args[1]).is_ok_and(|v| (2..=3).contains(&v)) {
                return out;
            }
            let mut j = 2;
            while j < args.len() {
                let more = args.len() - 1 - j;
                if is(j, "auth") && more >= 2 {
                    out.extend([j + 1, j + 2]);
                    j += 3;
                } else if is(j, "setname") && more >= 1 {
                    j += 2;
                } else {
                    break;
                }
            }
            out
        }
        "acl" if args.len() >= 3 && is(1, "setuser") => (2..args.len()).collect(),
        "config" if is(1, "set") && args.len().is_multiple_of(2) => {
            (2..args.len()).step_by(2).filter(|&j| SENSITIVE_PARAMS.iter().any(|p| is(j, p))).map(|j| j + 1).collect()
        }
        "migrate" => {
            let mut out = Vec::new();
            let mut j = 6;
            while j < args.len() {
                let more = args.len() - 1 - j;
                if is(j, "copy") || is(j, "replace") {
                    j += 1;
                } else if is(j, "auth") && more >= 1 {
                    out.push(j + 1);
                    j += 2;
                } else if is(j, "auth2") && more >= 2 {
                    out.extend([j + 1, j + 2]);
                    j += 3;
                } else {
                    break;
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

/// SLOWLOG's subcommands with their Redis arities (the container's name counted).
pub(crate) const SLOWLOG_SUBS: &[(&str, i32)] = &[("get", -2), ("help", 2), ("len", 2), ("reset", 2)];

const SLOWLOG_HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
];

/// `SLOWLOG GET [count] | LEN | RESET | HELP`.
pub(crate) fn slowlog(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    let sub = subcommands::resolve(ctx, "slowlog", a)?;
    // Only GET takes an argument (the others' arities are checked above).
    if a.len() > 3 {
        let name: String = String::from_utf8_lossy(&a[1]).chars().take(128).collect();
        return fail(&format!("ERR unknown subcommand or wrong number of arguments for '{name}'. Try SLOWLOG HELP."));
    }
    match sub {
        "help" => Ok(help_reply(SLOWLOG_HELP)),
        "len" => Ok(Reply::Int(LOG.lock().entries.len() as i64)),
        "reset" => {
            LOG.lock().entries.clear();
            args::ok()
        }
        _ => {
            let count = match a.get(2) {
                None => 10,
                Some(c) => match args::int(c) {
                    Ok(-1) => usize::MAX,
                    Ok(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
                    _ => return fail("ERR count should be greater than or equal to -1"),
                },
            };
            let log = LOG.lock();
            Ok(Reply::Array(log.entries.iter().take(count).map(entry_reply).collect()))
        }
    }
}

/// One entry as SLOWLOG GET shows it: id, time, duration, arguments,
/// client address, client name.
fn entry_reply(e: &Entry) -> Reply {
    Reply::Array(vec![
        Reply::Int(e.id as i64),
        Reply::Int(e.time),
        Reply::Int(e.micros as i64),
        Reply::Array(e.args.iter().cloned().map(Reply::Bulk).collect()),
        Reply::bulk_str(e.peer.clone()),
        Reply::Bulk(e.name.clone()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(args: &[&str]) -> (Vec<String>, Vec<usize>) {
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a.as_bytes())).collect();
        let spec = crate::cmd::table::lookup(&args[0]).expect("a known command");
        let logged = logged_args(spec, &args).iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        (logged, sensitive_args(spec, &args))
    }

    #[test]
    fn long_calls_are_cut_as_redis_cuts_them() {
        let many: Vec<String> = (0..40).map(|i| i.to_string()).collect();
        let mut args = vec!["sadd"];
        args.extend(many.iter().map(|s| s.as_str()));
        let (logged, _) = call(&args);
        assert_eq!(logged.len(), MAX_ARGS);
        assert_eq!(logged[30], "29");
        assert_eq!(logged[31], "... (10 more arguments)");
        // Exactly 32 arguments: all kept.
        let (logged, _) = call(&args[..32]);
        assert_eq!(logged.last().map(String::as_str), Some("30"));

        let long = "A".repeat(200);
        let (logged, _) = call(&["set", "k", &long]);
        assert_eq!(logged[2], format!("{}... (72 more bytes)", "A".repeat(128)));
        let (logged, _) = call(&["set", "k", &long[..128]]);
        assert_eq!(logged[2], "A".repeat(128));
    }

    #[test]
    fn secrets_are_redacted_where_redis_redacts_them() {
        assert_eq!(call(&["auth", "pw"]).0, ["auth", "(redacted)"]);
        assert_eq!(call(&["AUTH", "user", "pw"]).0, ["AUTH", "(redacted)", "(redacted)"]);
        assert_eq!(call(&["auth", "a", "b", "c"]).1, Vec::<usize>::new(), "a syntax error first");
        assert_eq!(call(&["hello", "3", "AUTH", "u", "p", "SETNAME", "n"]).1, [3, 4]);
        assert_eq!(call(&["hello", "3", "SETNAME", "n", "auth", "u", "p"]).1, [5, 6]);
        assert_eq!(call(&["hello", "4", "AUTH", "u", "p"]).1, Vec::<usize>::new(), "protocol refused first");
        assert_eq!(call(&["hello", "3", "AUTH", "u"]).1, Vec::<usize>::new());
        assert_eq!(call(&["acl", "SETUSER", "bob", "on", ">pw"]).1, [2, 3, 4]);
        assert_eq!(call(&["acl", "getuser", "bob"]).1, Vec::<usize>::new());
        assert_eq!(
            call(&["config", "set", "requirepass", "pw", "maxmemory", "1mb", "MASTERAUTH", "x"]).0,
            ["config", "set", "requirepass", "(redacted)", "maxmemory", "1mb", "MASTERAUTH", "(redacted)"]
        );
        assert_eq!(call(&["config", "get", "requirepass"]).1, Vec::<usize>::new());
        assert_eq!(call(&["get", "auth"]).1, Vec::<usize>::new());
    }
}
