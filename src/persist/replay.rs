//! Reading an append-only file back at start (Redis's `loadSingleAppendOnlyFile`):
//! each command handed to the loader in order, a log cut off inside its
//! last command (or an unfinished MULTI) loaded up to the last complete one
//! and truncated there when `aof-load-truncated` allows. Writing the log is
//! `aof.rs`; which files are read, in which order, is `load.rs`.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::Path;

use bytes::{Bytes, BytesMut};

use crate::protocol::RequestParser;

/// The outcome of replaying a log at start.
pub struct Replay {
    /// Commands executed.
    pub commands: u64,
    /// Set when the file ended inside a command (or an unfinished MULTI) and was cut back to this length.
    pub truncated_at: Option<u64>,
}

/// Reads the log at `path` and hands each command to `exec`, which returns
/// an error text to stop loading. A log cut off inside its last command (or
/// ending inside a MULTI without its EXEC) is loaded up to the last complete
/// command (before that MULTI) when `load_truncated`, and the file is cut
/// there; otherwise it is an error naming the offset. Anything that is not a
/// RESP multibulk command is an error naming its offset. O(file size).
pub fn replay(
    path: &Path,
    load_truncated: bool,
    mut exec: impl FnMut(&[Bytes]) -> Result<(), String>,
) -> Result<Replay, String> {
    let mut f = File::open(path).map_err(|e| format!("Can't open the append-only file {}: {e}", path.display()))?;
    let mut parser = RequestParser::new(i64::MAX);
    let mut buf = BytesMut::with_capacity(1 << 20);
    let mut consumed: u64 = 0;
    let mut last_complete: u64 = 0;
    // Offset of the MULTI whose EXEC has not been read yet.
    let mut open_multi: Option<u64> = None;
    let mut commands = 0;
    let mut chunk = vec![0u8; 1 << 20];
    let bad = |at: u64, what: &dyn std::fmt::Display| {
        format!("Bad file format reading the append only file {} at offset {at}: {what}", path.display())
    };
    loop {
        let n = f.read(&mut chunk).map_err(|e| format!("Error reading {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        loop {
            if parser.is_idle() && !buf.is_empty() && buf[0] != b'*' {
                return Err(bad(last_complete, &"expected '*' (a RESP multibulk command)"));
            }
            let before = buf.len();
            let r = parser.parse(&mut buf, true);
            consumed += (before - buf.len()) as u64;
            match r {
                Ok(Some(args)) => {
                    if args[0].eq_ignore_ascii_case(b"multi") {
                        open_multi = Some(last_complete);
                    } else if args[0].eq_ignore_ascii_case(b"exec") {
                        open_multi = None;
                    }
                    exec(&args).map_err(|e| format!("{} at offset {last_complete}: {e}", path.display()))?;
                    last_complete = consumed;
                    commands += 1;
                }
                Ok(None) => break,
                Err(e) => return Err(bad(last_complete, &e)),
            }
        }
    }
    let total = consumed + buf.len() as u64;
    let valid = open_multi.unwrap_or(last_complete);
    if valid < total {
        let what = if open_multi.is_some() { "a MULTI without EXEC" } else { "a partial command" };
        if !load_truncated {
            return Err(format!(
                "Unexpected end of file reading the append only file {} at offset {valid} ({what}; aof-load-truncated is no)",
                path.display()
            ));
        }
        tracing::warn!(
            "!!! Warning: short read while loading the AOF file {}!!! ({what}) Truncating the AOF at offset {valid} (file size {total}).",
            path.display()
        );
        let f = OpenOptions::new().write(true).open(path).map_err(|e| e.to_string())?;
        f.set_len(valid).and_then(|_| f.sync_all()).map_err(|e| e.to_string())?;
        return Ok(Replay { commands, truncated_at: Some(valid) });
    }
    Ok(Replay { commands, truncated_at: None })
}
