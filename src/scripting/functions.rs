//! Function libraries (Redis 7.0's `functions.c`): FUNCTION LOAD parses a
//! library's `#!lua name=…` header, runs its code in the functions VM (a
//! separate [`Engine`], as Redis keeps one) and keeps the functions it
//! registered, whose names are unique across libraries.

use bytes::Bytes;
use indexmap::IndexMap;

use super::engine::{valid_name, Engine, Registered};

/// The code of every library, in load order, as snapshots need it: RDB
/// and AOF rewrites read it with every shard locked, and the FUNCTION
/// commands that change libraries hold every shard too, so a snapshot
/// (even in a forked child) sees the libraries of one moment.
static LIBRARY_CODES: parking_lot::Mutex<Vec<Bytes>> = parking_lot::Mutex::new(Vec::new());

/// The code of every loaded library (for RDB and AOF rewrites).
pub fn library_codes() -> Vec<Bytes> {
    LIBRARY_CODES.try_lock().map(|g| g.clone()).unwrap_or_default()
}

/// How long a library's code may run in FUNCTION LOAD (Redis: 500 ms).
pub const LOAD_TIMEOUT_MS: u64 = 500;

/// How FUNCTION RESTORE treats libraries that exist already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestorePolicy {
    /// Drop every library first.
    Flush,
    /// Refuse a library whose name exists (the default).
    Append,
    /// Replace a library whose name exists.
    Replace,
}

/// One loaded library.
pub struct Library {
    /// Its name (`#!lua name=…`).
    pub name: String,
    /// The code as loaded, header included (FUNCTION LIST WITHCODE, RDB, AOF).
    pub code: Bytes,
    /// What its code registered, in registration order.
    pub functions: Vec<Registered>,
}

/// Every library, and the VM their functions live in.
#[derive(Default)]
pub struct Functions {
    engine: Option<Engine>,
    libs: IndexMap<String, Library>,
}

/// Splits a library's header (Redis's `functionExtractLibMetaData`):
/// `(engine, name, code after the header line)`, or Redis's error text.
fn parse_header(code: &[u8]) -> Result<(String, String, &[u8]), String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err("Invalid library metadata".into());
    };
    let line = String::from_utf8_lossy(&code[..end]);
    let mut parts = line.split_ascii_whitespace();
    let Some(engine) = parts.next() else { return Err("Invalid library metadata".into()) };
    let mut name = None;
    for part in parts {
        match part.get(..5) {
            Some(p) if p.eq_ignore_ascii_case("name=") => {
                if name.is_some() {
                    return Err("Invalid metadata value, name argument was given multiple times".into());
                }
                // As `sdssplitargs`: a quoted value loses its quotes.
                let v = &part[5..];
                let unquoted = ['"', '\''].iter().find_map(|q| v.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)));
                name = Some(unquoted.unwrap_or(v).to_string());
            }
            _ => return Err(format!("Invalid metadata value given: {part}")),
        }
    }
    let name = name.ok_or("Library name was not given")?;
    Ok((engine[2..].to_string(), name, &code[end..]))
}

impl Functions {
    fn engine(&mut self) -> Result<&mut Engine, String> {
        if self.engine.is_none() {
            self.engine = Some(Engine::new().map_err(|e| format!("Lua engine failed to start: {e}"))?);
        }
        self.engine.as_mut().ok_or_else(|| "Lua engine unavailable".into())
    }

    /// FUNCTION LOAD [REPLACE]: loads a library; its name, or Redis's
    /// error text. A failed load leaves every library as it was.
    pub fn load(&mut self, code: &[u8], replace: bool) -> Result<String, String> {
        let (engine, name, body) = parse_header(code)?;
        if !engine.eq_ignore_ascii_case("lua") {
            return Err(format!("Engine '{engine}' not found"));
        }
        if !valid_name(name.as_bytes()) {
            return Err(
                "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long"
                    .into(),
            );
        }
        if self.libs.contains_key(&name) && !replace {
            return Err(format!("Library '{name}' already exists"));
        }
        let functions = self.engine()?.load_library(body, LOAD_TIMEOUT_MS)?;
        if functions.is_empty() {
            return Err("No functions registered".into());
        }
        for f in &functions {
            if let Some(other) = self.library_of(&f.name) {
                if other.name != name {
                    return Err(format!("Function {} already exists", f.name));
                }
            }
        }
        self.libs.insert(name.clone(), Library { name: name.clone(), code: Bytes::copy_from_slice(code), functions });
        Ok(name)
    }

    /// Publishes the libraries' code for snapshots (see [`library_codes`]).
    pub fn publish(&self) {
        *LIBRARY_CODES.lock() = self.libs.values().map(|l| l.code.clone()).collect();
    }

    /// The library holding function `name`.
    fn library_of(&self, name: &str) -> Option<&Library> {
        self.libs.values().find(|l| l.functions.iter().any(|f| f.name.eq_ignore_ascii_case(name)))
    }

    /// The function called `name`.
    pub fn find(&self, name: &str) -> Option<&Registered> {
        self.libs.values().flat_map(|l| l.functions.iter()).find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// FCALL: runs a function [`Functions::find`] gave on the functions VM.
    pub fn call(
        &mut self,
        func: &Registered,
        keys: &[Bytes],
        argv: &[Bytes],
        host: &mut dyn super::Host,
    ) -> crate::protocol::Reply {
        match self.engine.as_mut() {
            Some(engine) => engine.run(&func.func, true, keys, argv, || func.name.clone(), host),
            None => crate::protocol::Reply::err("ERR Function not found"),
        }
    }

    /// FUNCTION DUMP: the libraries as Redis's payload.
    pub fn dump(&self) -> Vec<u8> {
        crate::persist::rdb::encode_function_payload(self.libs.values().map(|l| &l.code[..]))
    }

    /// FUNCTION RESTORE with policy `FLUSH`, `APPEND` (the default) or
    /// `REPLACE`: all the payload's libraries or none (on an error the
    /// libraries are as before). Redis's error texts.
    pub fn restore(&mut self, payload: &[u8], policy: RestorePolicy) -> Result<(), String> {
        let codes = match crate::persist::rdb::decode_function_payload(payload) {
            None => return Err("payload version or checksum are wrong".into()),
            Some(Err(_)) => return Err("given type is not a function".into()),
            Some(Ok(codes)) => codes,
        };
        let before: IndexMap<String, Library> = self
            .libs
            .iter()
            .map(|(k, l)| {
                (k.clone(), Library { name: l.name.clone(), code: l.code.clone(), functions: l.functions.clone() })
            })
            .collect();
        if policy == RestorePolicy::Flush {
            self.libs.clear();
        }
        for code in &codes {
            let exists = parse_header(code).is_ok_and(|(_, name, _)| self.libs.contains_key(&name));
            if exists && policy == RestorePolicy::Append {
                let name = parse_header(code).map(|(_, n, _)| n).unwrap_or_default();
                self.libs = before;
                return Err(format!("Library {name} already exists"));
            }
            if let Err(e) = self.load(code, policy == RestorePolicy::Replace) {
                self.libs = before;
                return Err(e);
            }
        }
        Ok(())
    }

    /// FUNCTION DELETE: false if there is no such library.
    pub fn delete(&mut self, name: &str) -> bool {
        self.libs.shift_remove(name).is_some()
    }

    /// FUNCTION FLUSH: drops every library and the VM they lived in.
    pub fn flush(&mut self) {
        self.libs.clear();
        self.engine = None;
    }

    /// The libraries, in load order.
    pub fn libraries(&self) -> impl Iterator<Item = &Library> {
        self.libs.values()
    }

    /// Number of libraries and of functions (FUNCTION STATS, INFO).
    pub fn counts(&self) -> (usize, usize) {
        (self.libs.len(), self.libs.values().map(|l| l.functions.len()).sum())
    }

    /// Bytes the functions VM holds.
    pub fn vm_memory(&self) -> usize {
        self.engine.as_ref().map_or(0, |e| e.vm_memory())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_follow_redis() {
        assert_eq!(parse_header(b"return 1"), Err("Missing library metadata".into()));
        assert_eq!(parse_header(b"#!lua name=lib"), Err("Invalid library metadata".into()));
        assert_eq!(parse_header(b"#!lua\nx"), Err("Library name was not given".into()));
        assert_eq!(
            parse_header(b"#!lua name=a name=b\n"),
            Err("Invalid metadata value, name argument was given multiple times".into())
        );
        assert_eq!(parse_header(b"#!lua foo=bar\n"), Err("Invalid metadata value given: foo=bar".into()));
        let (engine, name, body) = parse_header(b"#!lua name=lib\nreturn 1").unwrap();
        assert_eq!((engine.as_str(), name.as_str(), body), ("lua", "lib", &b"\nreturn 1"[..]));
    }

    #[test]
    fn load_replace_and_collisions() {
        let mut f = Functions::default();
        let lib = b"#!lua name=lib\nredis.register_function('f1', function() return 1 end)";
        assert_eq!(f.load(lib, false), Ok("lib".into()));
        assert_eq!(f.load(lib, false), Err("Library 'lib' already exists".into()));
        assert_eq!(f.load(lib, true), Ok("lib".into()));
        let other = b"#!lua name=other\nredis.register_function('f1', function() return 2 end)";
        assert_eq!(f.load(other, false), Err("Function f1 already exists".into()));
        assert_eq!(f.load(b"#!lua name=empty\nlocal a = 1", false), Err("No functions registered".into()));
        let err = f.load(b"#!lua name=bad\nreturn math.floor(1)", false).unwrap_err();
        assert!(err.contains("nonexistent global variable 'math'"), "{err}");
        assert_eq!(f.counts(), (1, 1));
        assert!(f.delete("lib"));
        assert!(!f.delete("lib"));
    }
}
