//! `inmemory-cli`: the command-line client (see `inmemory::cli`).
//!
//! `inmemory-cli [OPTIONS] [COMMAND [ARG ...]]`: runs one command and prints
//! its reply, or without a command starts an interactive prompt.

fn main() -> std::process::ExitCode {
    inmemory::cli::run()
}
