//! Command-line options of `inmemory-cli` (redis-cli's names where they
//! exist) and the splitting of REPL lines into arguments.
//!
//! Option parsing stops at the first argument that is not an option: that
//! one is the command and everything after it is passed to the server
//! unchanged (`inmemory-cli set k -1` works).

use std::ffi::OsString;
use std::io::IsTerminal;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use clap::{ArgAction, Parser};

use super::conn::ConnectOptions;
use super::output::Mode;
use crate::tls::ClientTlsSettings;

/// Port used when none is given.
pub const DEFAULT_PORT: u16 = 6379;
/// Host used when none is given.
pub const DEFAULT_HOST: &str = "127.0.0.1";

/// The flags as clap parses them.
#[derive(Parser, Debug)]
#[command(
    name = "inmemory-cli",
    version,
    about = "Command-line client for inmemory (and any Redis-compatible server).",
    disable_help_flag = true,
    disable_version_flag = true,
    after_help = "Without a command: an interactive prompt (commands read line by line when stdin is not a \
                  terminal).\nExit status: 0 ok; 1 the server replied with an error (one-shot mode); 2 usage \
                  error; 3 could not connect, TLS, AUTH/SELECT/HELLO, timeout or I/O failure."
)]
pub struct Options {
    /// Server address as host:port (instead of -h/-p).
    #[arg(long, value_name = "HOST:PORT", conflicts_with_all = ["host", "port"])]
    pub addr: Option<String>,
    /// Server hostname [default: 127.0.0.1].
    #[arg(short = 'h', long = "host", value_name = "HOSTNAME")]
    pub host: Option<String>,
    /// Server port [default: 6379].
    #[arg(short = 'p', long = "port", value_name = "PORT")]
    pub port: Option<u16>,
    /// Password for AUTH (the INMEMORY_CLI_AUTH or REDISCLI_AUTH environment variable is safer).
    #[arg(short = 'a', long = "pass", visible_alias = "password", value_name = "PASSWORD")]
    pub password: Option<OsString>,
    /// User name for AUTH user password (needs a password).
    #[arg(long, value_name = "USERNAME")]
    pub user: Option<OsString>,
    /// Do not warn about a password given on the command line.
    #[arg(long)]
    pub no_auth_warning: bool,
    /// Database number (SELECT after connecting).
    #[arg(short = 'n', long = "db", value_name = "DB", default_value_t = 0)]
    pub db: i64,
    /// Use RESP2 (the default; with --json too).
    #[arg(short = '2', long = "resp2", conflicts_with = "resp3")]
    pub resp2: bool,
    /// Use RESP3 (HELLO 3 after connecting).
    #[arg(short = '3', long = "resp3")]
    pub resp3: bool,
    /// Connect with TLS.
    #[arg(long)]
    pub tls: bool,
    /// CA certificate file (PEM) to verify the server with.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Client certificate (PEM) to present.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Private key (PEM) of the client certificate.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Server name to verify the certificate against and send as SNI [default: the host].
    #[arg(long, value_name = "HOST")]
    pub sni: Option<String>,
    /// Do not verify the server certificate (testing only).
    #[arg(long)]
    pub insecure: bool,
    /// Read the last argument of the command from stdin.
    #[arg(short = 'x')]
    pub stdin_last_arg: bool,
    /// Print error replies on stderr instead of stdout.
    #[arg(short = 'e')]
    pub errors_to_stderr: bool,
    /// Run the command N times (-1: forever).
    #[arg(short = 'r', value_name = "N", allow_negative_numbers = true)]
    pub repeat: Option<i64>,
    /// Seconds to wait between repetitions (with -r).
    #[arg(short = 'i', value_name = "SECONDS")]
    pub interval: Option<f64>,
    /// Raw output (the default when stdout is not a terminal).
    #[arg(long, conflicts_with_all = ["no_raw", "json"])]
    pub raw: bool,
    /// Human-readable output even when stdout is not a terminal.
    #[arg(long, conflicts_with = "json")]
    pub no_raw: bool,
    /// JSON output, one document per reply (implies RESP3 unless -2).
    #[arg(long)]
    pub json: bool,
    /// Seconds allowed for connecting and the TLS handshake.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub connect_timeout: f64,
    /// Seconds to wait for each reply (0: forever, the default, as blocking commands may wait).
    #[arg(long, value_name = "SECONDS", default_value_t = 0.0)]
    pub timeout: f64,
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    pub help: Option<bool>,
    /// Print the version.
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    pub version: Option<bool>,
    /// The command and its arguments (none: interactive mode).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

/// Everything the client needs, checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where and how to connect.
    pub conn: ConnectOptions,
    /// How replies are printed.
    pub mode: Mode,
    /// `-x`: append stdin as the last argument.
    pub stdin_last_arg: bool,
    /// `-e`: error replies go to stderr.
    pub errors_to_stderr: bool,
    /// Times to run a one-shot command (negative: forever).
    pub repeat: i64,
    /// Pause between repetitions.
    pub interval: Duration,
    /// A password came from the command line (warn like redis-cli does).
    pub warn_password: bool,
    /// The one-shot command; empty for the REPL.
    pub command: Vec<Bytes>,
}

fn seconds(v: f64, what: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(v).map_err(|_| format!("{what} must be a number of seconds >= 0, got {v}"))
}

/// Splits `host:port`, `[v6]:port`, `host` or `:port`.
fn split_addr(a: &str) -> Result<(String, u16), String> {
    let bad = || format!("invalid --addr '{a}': expected HOST:PORT");
    let (host, port) = if let Some(rest) = a.strip_prefix('[') {
        let (h, p) = rest.split_once(']').ok_or_else(bad)?;
        (h.to_string(), p.strip_prefix(':'))
    } else if a.matches(':').count() > 1 {
        (a.to_string(), None) // a bare IPv6 address
    } else {
        match a.split_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (a.to_string(), None),
        }
    };
    let port = match port {
        Some(p) => p.parse().map_err(|_| bad())?,
        None => DEFAULT_PORT,
    };
    Ok((if host.is_empty() { DEFAULT_HOST.to_string() } else { host }, port))
}

impl Options {
    /// Checks the combination of flags and resolves defaults. `stdout_tty`
    /// chooses the default output mode (raw when stdout is not a terminal,
    /// as redis-cli does); `env` looks up environment variables.
    pub fn settings(self, stdout_tty: bool, env: impl Fn(&str) -> Option<OsString>) -> Result<Settings, String> {
        let (host, port) = match &self.addr {
            Some(a) => split_addr(a)?,
            None => (self.host.unwrap_or_else(|| DEFAULT_HOST.into()), self.port.unwrap_or(DEFAULT_PORT)),
        };
        let warn_password = self.password.is_some() && !self.no_auth_warning;
        let password = self.password.or_else(|| env("INMEMORY_CLI_AUTH")).or_else(|| env("REDISCLI_AUTH"));
        if self.user.is_some() && password.is_none() {
            return Err("--user needs a password (-a, INMEMORY_CLI_AUTH or REDISCLI_AUTH)".into());
        }
        let tls_flags = self.cacert.is_some() || self.cert.is_some() || self.key.is_some() || self.sni.is_some();
        if tls_flags && !self.tls {
            return Err("--cacert, --cert, --key and --sni need --tls".into());
        }
        if self.cert.is_some() != self.key.is_some() {
            return Err("--cert and --key must be given together".into());
        }
        if self.tls && self.cacert.is_none() && !self.insecure {
            return Err("--tls needs --cacert FILE to verify the server (or --insecure to skip verification)".into());
        }
        let tls = self.tls.then_some(ClientTlsSettings {
            ca_cert_file: self.cacert,
            cert_file: self.cert,
            key_file: self.key,
            server_name: self.sni,
            insecure_skip_verify: self.insecure,
        });
        let mode = if self.json {
            Mode::Json
        } else if self.raw || (!stdout_tty && !self.no_raw) {
            Mode::Raw
        } else {
            Mode::Standard
        };
        if let Some(first) = self.command.first().filter(|c| c.as_encoded_bytes().starts_with(b"-")) {
            return Err(format!("unrecognized option '{}'", first.to_string_lossy()));
        }
        let command: Vec<Bytes> = self.command.into_iter().map(|a| Bytes::from(a.into_vec())).collect();
        if self.stdin_last_arg && command.is_empty() {
            return Err("-x needs a command (its last argument is read from stdin)".into());
        }
        let timeout = seconds(self.timeout, "--timeout")?;
        let conn = ConnectOptions {
            host,
            port,
            tls,
            user: self.user.map(|u| Bytes::from(u.into_vec())),
            password: password.map(|p| Bytes::from(p.into_vec())),
            db: self.db,
            resp3: self.resp3 || (self.json && !self.resp2),
            connect_timeout: seconds(self.connect_timeout, "--connect-timeout")?,
            reply_timeout: (!timeout.is_zero()).then_some(timeout),
        };
        Ok(Settings {
            conn,
            mode,
            stdin_last_arg: self.stdin_last_arg,
            errors_to_stderr: self.errors_to_stderr,
            repeat: self.repeat.unwrap_or(1),
            interval: seconds(self.interval.unwrap_or(0.0), "-i")?,
            warn_password,
            command,
        })
    }
}

/// Parses the process's arguments. `Err` carries the exit code after the
/// message was printed: 0 for `--help`/`--version`, 2 for usage errors.
pub fn parse() -> Result<Settings, u8> {
    let opts = match Options::try_parse() {
        Ok(o) => o,
        Err(e) => {
            let _ = e.print();
            return Err(if e.use_stderr() { super::EXIT_USAGE } else { super::EXIT_OK });
        }
    };
    opts.settings(std::io::stdout().is_terminal(), |k| std::env::var_os(k)).map_err(|msg| {
        eprintln!("inmemory-cli: {msg}\n\nFor more information, try '--help'.");
        super::EXIT_USAGE
    })
}

/// Splits a REPL line into arguments with Redis's rules (`sdssplitargs`):
/// whitespace separates; `"…"` understands `\n \r \t \b \a \\ \"` and
/// `\xNN`; `'…'` only `\'`; a closing quote must be followed by a space.
/// `None` for unbalanced quotes. O(line length).
pub fn split_line(line: &[u8]) -> Option<Vec<Bytes>> {
    crate::protocol::inline::split_args(line)
}

/// Whether a command carries a secret and must stay out of the history
/// file (redis-cli's list: AUTH, ACL SETUSER, CONFIG SET of a password,
/// HELLO … AUTH, MIGRATE … AUTH/AUTH2).
pub fn is_sensitive(args: &[Bytes]) -> bool {
    let is = |i: usize, s: &str| args.get(i).is_some_and(|a| a.eq_ignore_ascii_case(s.as_bytes()));
    if is(0, "auth") || (is(0, "acl") && is(1, "setuser")) {
        return true;
    }
    if is(0, "config") && is(1, "set") && ["masterauth", "masteruser", "requirepass"].iter().any(|s| is(2, s)) {
        return true;
    }
    if is(0, "hello") || is(0, "migrate") {
        return (1..args.len()).any(|i| is(i, "auth") || is(i, "auth2"));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(argv: &[&str], tty: bool) -> Result<Settings, String> {
        let mut full = vec!["inmemory-cli"];
        full.extend_from_slice(argv);
        Options::try_parse_from(full).map_err(|e| e.to_string())?.settings(tty, |_| None)
    }

    #[test]
    fn addresses_and_defaults() {
        let s = settings(&[], true).unwrap();
        assert_eq!((s.conn.host.as_str(), s.conn.port, s.mode), ("127.0.0.1", 6379, Mode::Standard));
        assert_eq!(settings(&[], false).unwrap().mode, Mode::Raw);
        assert_eq!(settings(&["--no-raw"], false).unwrap().mode, Mode::Standard);
        let s = settings(&["-h", "localhost", "-p", "7000", "-n", "2"], true).unwrap();
        assert_eq!((s.conn.host.as_str(), s.conn.port, s.conn.db), ("localhost", 7000, 2));
        for (a, h, p) in [("10.0.0.1:1", "10.0.0.1", 1), ("[::1]:7", "::1", 7), ("::1", "::1", 6379), ("h", "h", 6379)]
        {
            let s = settings(&["--addr", a], true).unwrap();
            assert_eq!((s.conn.host.as_str(), s.conn.port), (h, p), "{a}");
        }
        assert!(settings(&["--addr", "h:x"], true).is_err());
        assert!(settings(&["--addr", "h:1", "-p", "2"], true).is_err());
    }

    #[test]
    fn command_keeps_hyphens_and_flags_after_it() {
        let s = settings(&["-p", "1", "set", "k", "-1", "-p", "--raw"], true).unwrap();
        assert_eq!(s.command, vec!["set", "k", "-1", "-p", "--raw"]);
        assert_eq!(s.conn.port, 1);
        assert_eq!(s.mode, Mode::Standard);
    }

    #[test]
    fn flag_checks() {
        assert!(settings(&["--user", "u"], true).is_err());
        assert!(settings(&["--cacert", "ca.crt"], true).is_err());
        assert!(settings(&["--tls"], true).is_err());
        assert!(settings(&["--tls", "--insecure"], true).is_ok());
        assert!(settings(&["--tls", "--cacert", "c", "--cert", "x"], true).is_err());
        assert!(settings(&["-x"], true).is_err());
        assert!(settings(&["--raw", "--json"], true).is_err());
        assert!(settings(&["-2", "-3"], true).is_err());
        assert!(settings(&["--timeout", "-1"], true).is_err());
        assert!(settings(&["--bogus", "x"], true).is_err());
        let s = settings(&["--json"], true).unwrap();
        assert!(s.conn.resp3 && s.mode == Mode::Json);
        assert!(!settings(&["--json", "-2"], true).unwrap().conn.resp3);
        assert!(settings(&["-3"], true).unwrap().conn.resp3);
        let s = settings(&["-a", "pw", "--user", "u", "-r", "-1", "-i", "0.5"], true).unwrap();
        assert_eq!((s.conn.password.as_deref(), s.repeat), (Some(&b"pw"[..]), -1));
        assert!(s.warn_password);
        let env = |k: &str| (k == "REDISCLI_AUTH").then(|| OsString::from("envpw"));
        let s = Options::try_parse_from(["x"]).unwrap().settings(true, env).unwrap();
        assert_eq!((s.conn.password.as_deref(), s.warn_password), (Some(&b"envpw"[..]), false));
    }

    #[test]
    fn sensitive_commands() {
        let v = |s: &str| split_line(s.as_bytes()).unwrap();
        for s in
            ["AUTH pw", "acl SETUSER u on", "config set requirepass x", "hello 3 auth u p", "migrate h p k 0 5 auth x"]
        {
            assert!(is_sensitive(&v(s)), "{s}");
        }
        for s in ["get auth", "config get requirepass", "hello 3", "set k v"] {
            assert!(!is_sensitive(&v(s)), "{s}");
        }
    }

    #[test]
    fn line_splitting_quotes_like_redis() {
        let v = split_line(br#"set "a b" 'c\'d' "\x41\n" plain"#).unwrap();
        assert_eq!(v, vec![&b"set"[..], b"a b", b"c'd", b"A\n", b"plain"]);
        assert!(split_line(b"get \"open").is_none());
        assert!(split_line(b"get \"a\"b").is_none());
        assert_eq!(split_line(b"   ").unwrap(), Vec::<Bytes>::new());
    }
}
