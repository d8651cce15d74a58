//! Script flags (Redis 7.0's `#!lua flags=…` shebang and function flags).

/// No shebang: an EVAL script of the pre-7.0 kind. Checks happen per
/// command inside the script instead of before it starts.
pub const EVAL_COMPAT_MODE: u32 = 1;
/// `no-writes`: the script may not call a write command.
pub const NO_WRITES: u32 = 1 << 1;
/// `allow-oom`: runs even above `maxmemory`.
pub const ALLOW_OOM: u32 = 1 << 2;
/// `allow-stale`: runs on a stale replica.
pub const ALLOW_STALE: u32 = 1 << 3;
/// `no-cluster`: refused in cluster mode.
pub const NO_CLUSTER: u32 = 1 << 4;
/// `allow-cross-slot-keys`.
pub const ALLOW_CROSS_SLOT: u32 = 1 << 5;

/// The flag names Redis accepts, with their bits (also `FUNCTION LIST`'s order).
pub const NAMES: &[(&str, u32)] = &[
    ("no-writes", NO_WRITES),
    ("allow-oom", ALLOW_OOM),
    ("allow-stale", ALLOW_STALE),
    ("no-cluster", NO_CLUSTER),
    ("allow-cross-slot-keys", ALLOW_CROSS_SLOT),
];

/// Parses an EVAL body's shebang line, as Redis's `evalExtractShebangFlags`:
/// returns the flags and the shebang's length in bytes (the line without
/// its newline, which the compiler keeps so line numbers stay right), or
/// Redis's error text. A body without `#!` is [`EVAL_COMPAT_MODE`].
pub fn from_shebang(body: &[u8]) -> Result<(u32, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((EVAL_COMPAT_MODE, 0));
    }
    let Some(end) = body.iter().position(|&b| b == b'\n') else {
        return Err("Invalid script shebang".into());
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let mut parts = line.split_ascii_whitespace();
    let Some(engine) = parts.next() else { return Err("Invalid engine in script shebang".into()) };
    if engine != "#!lua" {
        return Err(format!("Unexpected engine in script shebang: {engine}"));
    }
    let mut flags = 0;
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(format!("Unknown lua shebang option: {part}"));
        };
        for name in list.split(',').filter(|n| !n.is_empty()) {
            flags |= by_name(name).ok_or_else(|| format!("Unexpected flag in script shebang: {name}"))?;
        }
    }
    Ok((flags, end))
}

/// The bit of one flag name, if Redis knows it.
pub fn by_name(name: &str) -> Option<u32> {
    NAMES.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_forms_and_errors() {
        assert_eq!(from_shebang(b"return 1"), Ok((EVAL_COMPAT_MODE, 0)));
        assert_eq!(from_shebang(b"#!lua\nreturn 1"), Ok((0, 5)));
        assert_eq!(from_shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1"), Ok((NO_WRITES | ALLOW_OOM, 31)));
        assert_eq!(from_shebang(b"#!lua flags=\nreturn 1"), Ok((0, 12)));
        assert_eq!(from_shebang(b"#!lua"), Err("Invalid script shebang".into()));
        assert_eq!(from_shebang(b"#!python\n"), Err("Unexpected engine in script shebang: #!python".into()));
        assert_eq!(from_shebang(b"#!lua flags=bad\n"), Err("Unexpected flag in script shebang: bad".into()));
        assert_eq!(from_shebang(b"#!lua name=x\n"), Err("Unknown lua shebang option: name=x".into()));
    }
}
