//! `inmemory-cli`: a command-line client in the spirit of redis-cli.
//!
//! - [`args`]: the flags (redis-cli's names), REPL line splitting, which
//!   commands stay out of the history.
//! - [`output`]: reply formatting: redis-cli's standard form, `--raw`, `--json`.
//! - [`conn`]: the connection (TCP or TLS, AUTH / SELECT / HELLO 3, timeouts).
//! - [`repl`]: the interactive prompt (history, completion and hints from
//!   `COMMAND DOCS`), or line-by-line reading when stdin is not a terminal.
//! - [`docs`]: the command documentation behind completion, hints and `help`.
//!
//! Exit status (documented in `--help`): [`EXIT_OK`]; [`EXIT_ERROR_REPLY`]
//! when a one-shot command got an error reply (redis-cli exits 0 there
//! unless given `-e`; here it is always 1 and `-e` only sends the error to
//! stderr); [`EXIT_USAGE`]; [`EXIT_CONNECTION`] when no usable connection
//! could be made or it failed (redis-cli uses 1). The REPL exits 0, or 3
//! when stdin is not a terminal and some command could not reach the server.

pub mod args;
pub mod conn;
pub mod docs;
pub mod output;
pub mod repl;

use std::io::{self, Read, Write};
use std::process::ExitCode;

use bytes::Bytes;

use crate::protocol::frame::Frame;
use args::Settings;
use conn::{Client, ClientError};
use output::Mode;

/// Success.
pub const EXIT_OK: u8 = 0;
/// A one-shot command got an error reply.
pub const EXIT_ERROR_REPLY: u8 = 1;
/// Bad command-line usage.
pub const EXIT_USAGE: u8 = 2;
/// Connection, TLS, AUTH/SELECT/HELLO, timeout or I/O failure.
pub const EXIT_CONNECTION: u8 = 3;

/// Why a command did not complete.
#[derive(Debug)]
pub enum Failure {
    /// The server could not be reached or the connection broke.
    Client(ClientError),
    /// Writing to stdout failed (a closed pipe: `inmemory-cli keys '*' | head`).
    Output(io::Error),
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure::Client(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

impl Failure {
    /// Prints the failure on stderr (nothing for a closed stdout) and gives the exit status.
    pub fn report(&self) -> u8 {
        match self {
            Failure::Client(e) => {
                eprintln!("{e}");
                EXIT_CONNECTION
            }
            Failure::Output(e) if e.kind() == io::ErrorKind::BrokenPipe => EXIT_OK,
            Failure::Output(e) => {
                eprintln!("Error writing the output: {e}");
                EXIT_CONNECTION
            }
        }
    }
}

/// Where replies go and in which form.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    /// The output mode.
    pub mode: Mode,
    /// Error replies go to stderr (`-e`).
    pub errors_to_stderr: bool,
}

impl Printer {
    /// Prints one reply; `verbatim` for commands whose reply is preformatted
    /// text (`INFO` …), printed as is in the standard and raw modes.
    pub fn reply(&self, f: &Frame, verbatim: bool) -> io::Result<()> {
        let text = if verbatim && self.mode != Mode::Json && !f.is_error() {
            output::format_verbatim(f)
        } else {
            output::format(f, self.mode)
        };
        if f.is_error() && self.errors_to_stderr {
            let mut e = io::stderr().lock();
            e.write_all(&text)?;
            return e.flush();
        }
        self.text(&text)
    }

    /// Writes `text` to stdout and flushes.
    pub fn text(&self, text: &[u8]) -> io::Result<()> {
        let mut o = io::stdout().lock();
        o.write_all(text)?;
        o.flush()
    }
}

fn is(a: &[Bytes], i: usize, s: &str) -> bool {
    a.get(i).is_some_and(|x| x.eq_ignore_ascii_case(s.as_bytes()))
}

/// Commands whose reply redis-cli prints as raw text in every mode.
pub fn prints_verbatim(a: &[Bytes]) -> bool {
    is(a, 0, "info")
        || is(a, 0, "lolwut")
        || (is(a, 0, "client") && (is(a, 1, "list") || is(a, 1, "info")))
        || (is(a, 0, "memory") && (is(a, 1, "doctor") || is(a, 1, "malloc-stats")))
        || (is(a, 0, "latency") && (is(a, 1, "doctor") || is(a, 1, "graph")))
        || (is(a, 0, "cluster") && a.len() == 2 && (is(a, 1, "nodes") || is(a, 1, "info")))
}

/// Sends one command and prints its reply; for SUBSCRIBE-like commands and
/// MONITOR keeps printing what arrives until the connection ends. Push
/// messages arriving before the reply are printed in the standard mode
/// (like redis-cli on a terminal) and skipped otherwise. Returns the reply.
pub fn execute(client: &mut Client, args: &[Bytes], p: &Printer) -> Result<Frame, Failure> {
    client.send(args)?;
    let streaming = ["subscribe", "psubscribe", "ssubscribe", "monitor"].iter().any(|c| is(args, 0, c));
    if streaming {
        if is(args, 0, "monitor") {
            let f = client.read()?;
            p.reply(&f, false)?;
            if f.is_error() {
                return Ok(f);
            }
        } else if p.mode != Mode::Raw {
            p.text(b"Reading messages... (press Ctrl-C to quit)\n")?;
        }
        loop {
            let f = client.read()?;
            p.reply(&f, false)?;
            if f.is_error() {
                return Ok(f);
            }
        }
    }
    loop {
        let f = client.read()?;
        if matches!(f, Frame::Push(_)) {
            if p.mode == Mode::Standard {
                p.reply(&f, false)?;
            }
            continue;
        }
        p.reply(&f, prints_verbatim(args))?;
        return Ok(f);
    }
}

/// One-shot mode: run `s.command` (`s.repeat` times), print, exit.
fn one_shot(client: &mut Client, s: &Settings, p: &Printer) -> u8 {
    let mut args = s.command.clone();
    if s.stdin_last_arg {
        let mut v = Vec::new();
        if let Err(e) = io::stdin().lock().read_to_end(&mut v) {
            eprintln!("Error reading stdin: {e}");
            return EXIT_USAGE;
        }
        args.push(Bytes::from(v));
    }
    if is(&args, 0, "help") || is(&args, 0, "?") {
        let d = docs::Docs::fetch(client);
        return match p.text(d.help(&args[1..]).as_bytes()) {
            Ok(()) => EXIT_OK,
            Err(e) => Failure::Output(e).report(),
        };
    }
    if let Err(e) = client.ensure_connected() {
        return Failure::Client(e).report();
    }
    let mut status = EXIT_OK;
    let mut left = s.repeat;
    while left != 0 {
        match execute(client, &args, p) {
            Ok(f) if f.is_error() => status = EXIT_ERROR_REPLY,
            Ok(_) => {}
            Err(e) => return e.report(),
        }
        left = if left > 0 { left - 1 } else { left };
        if left != 0 && !s.interval.is_zero() {
            std::thread::sleep(s.interval);
        }
    }
    status
}

/// The whole program: parse the flags, then run the one-shot command or the REPL.
pub fn run() -> ExitCode {
    let s = match args::parse() {
        Ok(s) => s,
        Err(code) => return ExitCode::from(code),
    };
    if s.warn_password {
        eprintln!("Warning: Using a password with '-a' option on the command line interface may not be safe.");
    }
    let mut client = match Client::new(s.conn.clone()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("Error: cannot start the I/O runtime: {e}");
            return ExitCode::from(EXIT_CONNECTION);
        }
    };
    let p = Printer { mode: s.mode, errors_to_stderr: s.errors_to_stderr };
    let code = if s.command.is_empty() { repl::run(&mut client, &p) } else { one_shot(&mut client, &s, &p) };
    ExitCode::from(code)
}
