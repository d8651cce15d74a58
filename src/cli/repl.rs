//! The interactive mode. On a terminal: a rustyline prompt
//! (`127.0.0.1:6379[db](TX)> `, `not connected> `) with history in
//! `~/.inmemorycli_history` (or `$INMEMORY_CLI_HISTFILE`; `/dev/null`
//! turns it off; secrets such as AUTH are never written), TAB completion of
//! command names and hints from `COMMAND DOCS`. When stdin is not a
//! terminal, commands are read line by line with no prompt, as redis-cli
//! does.
//!
//! Lines are split with Redis's quoting rules (`args::split_line`); a
//! leading number repeats the command (`3 incr n`); `quit`/`exit` leave,
//! `help [command|@group]`, `connect host port` and `clear` are handled
//! locally. A failed connection is reported and retried at the next command.

use std::borrow::Cow;
use std::io::{self, BufRead, IsTerminal};
use std::path::PathBuf;
use std::time::Instant;

use bytes::Bytes;
use rustyline::completion::Completer;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::{DefaultHistory, History};
use rustyline::validate::Validator;
use rustyline::{Config, Context, Editor, Helper};

use super::args::{is_sensitive, split_line};
use super::conn::Client;
use super::docs::Docs;
use super::output::Mode;
use super::{execute, Failure, Printer, EXIT_CONNECTION, EXIT_OK};

/// Completion and hints for rustyline, from the server's docs.
struct CliHelper {
    docs: Docs,
    /// The docs were asked for once connected (the `connect` command fetches them afresh).
    asked: bool,
}

impl Completer for CliHelper {
    type Candidate = String;
    fn complete(&self, line: &str, pos: usize, _: &Context<'_>) -> rustyline::Result<(usize, Vec<String>)> {
        let before = &line[..pos];
        let start = before.len() - before.trim_start().len();
        if before[start..].contains(char::is_whitespace) {
            return Ok((pos, Vec::new()));
        }
        Ok((start, self.docs.complete(&before[start..])))
    }
}

impl Hinter for CliHelper {
    type Hint = String;
    fn hint(&self, line: &str, pos: usize, _: &Context<'_>) -> Option<String> {
        (pos == line.len()).then(|| self.docs.hint(line)).flatten()
    }
}

impl Highlighter for CliHelper {
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        Cow::Owned(format!("\x1b[90m{hint}\x1b[0m"))
    }
}

impl Validator for CliHelper {}
impl Helper for CliHelper {}

/// What the prompt shows and what a reconnect restores.
#[derive(Debug, Default)]
struct State {
    /// Inside MULTI.
    tx: bool,
    /// Some command could not reach the server.
    unreachable: bool,
}

enum Flow {
    Continue,
    Quit,
}

fn prompt(client: &Client, st: &State) -> String {
    if !client.is_connected() {
        return "not connected> ".into();
    }
    let o = client.options();
    let db = if o.db != 0 { format!("[{}]", o.db) } else { String::new() };
    format!("{}{db}{}> ", o.addr(), if st.tx { "(TX)" } else { "" })
}

fn is(a: &[Bytes], i: usize, s: &str) -> bool {
    a.get(i).is_some_and(|x| x.eq_ignore_ascii_case(s.as_bytes()))
}

/// Keeps the options in step with what a command changed on the
/// connection, so that a reconnect restores it (db, protocol, credentials).
fn track(client: &mut Client, st: &mut State, args: &[Bytes], ok: bool) {
    let o = client.options_mut();
    if is(args, 0, "exec") || is(args, 0, "discard") {
        st.tx = false;
    }
    if !ok {
        return;
    }
    let arg = |i: usize| args.get(i).and_then(|a| std::str::from_utf8(a).ok());
    if is(args, 0, "select") && args.len() == 2 && !st.tx {
        if let Some(db) = arg(1).and_then(|s| s.parse().ok()) {
            o.db = db;
        }
    } else if is(args, 0, "multi") {
        st.tx = true;
    } else if is(args, 0, "reset") {
        (o.db, o.resp3, st.tx) = (0, false, false);
    } else if is(args, 0, "hello") && args.len() >= 2 {
        o.resp3 = arg(1) == Some("3");
    } else if is(args, 0, "auth") && (args.len() == 2 || args.len() == 3) {
        o.password = args.last().cloned();
        o.user = (args.len() == 3).then(|| args[1].clone());
    }
}

/// Runs one input line. `Err` only when stdout is gone.
fn line(client: &mut Client, p: &Printer, st: &mut State, docs: &mut Docs, raw: &[u8]) -> Result<Flow, Failure> {
    let Some(mut args) = split_line(raw) else {
        p.text(b"Invalid argument(s)\n")?;
        return Ok(Flow::Continue);
    };
    if args.is_empty() {
        return Ok(Flow::Continue);
    }
    let mut repeat = 1;
    if args.len() > 1 {
        if let Some(n) = std::str::from_utf8(&args[0]).ok().and_then(|s| s.parse::<i64>().ok()) {
            if n <= 0 {
                p.text(b"Invalid redis-cli repeat command option value.\n")?;
                return Ok(Flow::Continue);
            }
            repeat = n;
            args.remove(0);
        }
    }
    if is(&args, 0, "quit") || is(&args, 0, "exit") {
        return Ok(Flow::Quit);
    }
    if is(&args, 0, "help") || is(&args, 0, "?") {
        // Inside MULTI the request would be queued into the user's transaction.
        if docs.is_empty() && !st.tx {
            *docs = Docs::fetch(client);
        }
        p.text(docs.help(&args[1..]).as_bytes())?;
        return Ok(Flow::Continue);
    }
    if args.len() == 3 && is(&args, 0, "connect") {
        let port = std::str::from_utf8(&args[2]).ok().and_then(|s| s.parse().ok());
        let Some(port) = port else {
            p.text(b"Invalid port\n")?;
            return Ok(Flow::Continue);
        };
        client.disconnect();
        let o = client.options_mut();
        (o.host, o.port, o.db) = (String::from_utf8_lossy(&args[1]).into_owned(), port, 0);
        st.tx = false;
        match client.ensure_connected() {
            Ok(()) => *docs = Docs::fetch(client),
            Err(e) => eprintln!("{e}"),
        }
        return Ok(Flow::Continue);
    }
    if args.len() == 1 && is(&args, 0, "clear") {
        p.text(b"\x1b[H\x1b[2J")?;
        return Ok(Flow::Continue);
    }
    let start = Instant::now();
    for _ in 0..repeat {
        match execute(client, &args, p) {
            Ok(f) => track(client, st, &args, !f.is_error()),
            Err(Failure::Client(e)) => {
                eprintln!("{e}");
                st.unreachable = true;
                st.tx = false;
                break;
            }
            Err(e) => return Err(e),
        }
    }
    let elapsed = start.elapsed();
    if elapsed.as_millis() >= 500 && p.mode == Mode::Standard {
        p.text(format!("({:.2}s)\n", elapsed.as_secs_f64()).as_bytes())?;
    }
    Ok(Flow::Continue)
}

/// The history file: `$INMEMORY_CLI_HISTFILE` (`/dev/null`: none), else `~/.inmemorycli_history`.
fn history_file() -> Option<PathBuf> {
    match std::env::var_os("INMEMORY_CLI_HISTFILE") {
        Some(p) if p == "/dev/null" => None,
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => std::env::var_os("HOME").filter(|h| !h.is_empty()).map(|h| PathBuf::from(h).join(".inmemorycli_history")),
    }
}

fn interactive(client: &mut Client, p: &Printer, st: &mut State) -> Result<(), Failure> {
    let config = Config::builder().max_history_size(1000).map_err(io::Error::other)?.auto_add_history(false).build();
    let mut ed: Editor<CliHelper, DefaultHistory> = Editor::with_config(config).map_err(io::Error::other)?;
    ed.set_helper(Some(CliHelper { docs: Docs::default(), asked: false }));
    let hist = history_file();
    if let Some(h) = &hist {
        let _ = ed.load_history(h);
    }
    loop {
        if let Some(h) = ed.helper_mut().filter(|h| !h.asked && client.is_connected() && !st.tx) {
            h.docs = Docs::fetch(client);
            h.asked = true;
        }
        let input = match ed.readline(&prompt(client, st)) {
            Ok(l) => l,
            Err(rustyline::error::ReadlineError::Interrupted | rustyline::error::ReadlineError::Eof) => return Ok(()),
            Err(e) => return Err(io::Error::other(e).into()),
        };
        if split_line(input.as_bytes()).is_none_or(|a| !a.is_empty() && !is_sensitive(&a)) {
            let _ = ed.add_history_entry(input.as_str());
            if let Some(h) = &hist {
                let _ = ed.history_mut().save(h);
            }
        }
        let Some(helper) = ed.helper_mut() else { return Ok(()) };
        if let Flow::Quit = line(client, p, st, &mut helper.docs, input.as_bytes())? {
            return Ok(());
        }
    }
}

fn piped(client: &mut Client, p: &Printer, st: &mut State) -> Result<(), Failure> {
    let mut stdin = io::stdin().lock();
    let mut buf = Vec::new();
    let mut docs = Docs::default();
    loop {
        buf.clear();
        if stdin.read_until(b'\n', &mut buf)? == 0 {
            return Ok(());
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        if let Flow::Quit = line(client, p, st, &mut docs, &buf)? {
            return Ok(());
        }
    }
}

/// Runs the REPL until `quit`, end of input or Ctrl-C. Returns the exit
/// status: 0, or 3 when stdin is not a terminal and a command could not
/// reach the server (or stdout failed).
pub fn run(client: &mut Client, p: &Printer) -> u8 {
    if let Err(e) = client.ensure_connected() {
        eprintln!("{e}");
    }
    let mut st = State::default();
    let tty = io::stdin().is_terminal();
    let res = if tty { interactive(client, p, &mut st) } else { piped(client, p, &mut st) };
    match res {
        Err(e) => e.report(),
        Ok(()) if st.unreachable && !tty => EXIT_CONNECTION,
        Ok(()) => EXIT_OK,
    }
}
