//! Redis 7's multi-part AOF layout: a directory (`appenddirname`) holding a
//! base file (an RDB image, `<appendfilename>.<seq>.base.rdb`, or commands,
//! `.base.aof`), incremental command files (`<appendfilename>.<seq>.incr.aof`)
//! and the manifest `<appendfilename>.manifest` listing them, one per line:
//! `file <name> seq <n> type <b|h|i>`.
//!
//! Promises: the manifest is replaced atomically (a temporary file written,
//! synced, renamed over it, and the directory synced), so a crash leaves
//! either the old or the new list, and files are deleted only once no
//! manifest on disk names them.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the files of one log live.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The directory (`dir`/`appenddirname`).
    pub dir: PathBuf,
    /// `appendfilename`: the prefix of every file name.
    pub filename: String,
}

/// One file named by the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AofFile {
    /// File name inside the directory.
    pub name: String,
    /// Its sequence number.
    pub seq: u64,
}

/// The parsed manifest: the base and the incremental files in load order.
#[derive(Clone, Debug, Default)]
pub struct Manifest {
    /// The base file, if any.
    pub base: Option<AofFile>,
    /// Incremental files, oldest first.
    pub incrs: Vec<AofFile>,
    /// Files of type `h` (left over from a rewrite, to delete).
    pub history: Vec<AofFile>,
    /// Highest base sequence number used.
    pub base_seq: u64,
    /// Highest incremental sequence number used.
    pub incr_seq: u64,
}

impl Layout {
    /// The layout the settings `dir`, `appenddirname`, `appendfilename` give.
    pub fn new(dir: &Path, dirname: &str, filename: &str) -> Layout {
        Layout { dir: dir.join(dirname), filename: filename.to_string() }
    }

    /// Path of the manifest.
    pub fn manifest_path(&self) -> PathBuf {
        self.dir.join(format!("{}.manifest", self.filename))
    }

    /// Path of a file of the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Creates the directory if missing.
    pub fn ensure_dir(&self) -> Result<(), String> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| format!("Can't create the append-only directory {}: {e}", self.dir.display()))
    }

    /// Reads the manifest; `Ok(None)` when there is none. O(manifest size).
    pub fn load(&self) -> Result<Option<Manifest>, String> {
        let path = self.manifest_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                Manifest::parse(&text).map(Some).map_err(|e| format!("Invalid AOF manifest {}: {e}", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("Can't read the AOF manifest {}: {e}", path.display())),
        }
    }

    /// Writes `m` to a temporary file, syncs it, renames it over the
    /// manifest and syncs the directory. O(manifest size).
    pub fn persist(&self, m: &Manifest) -> Result<(), String> {
        let path = self.manifest_path();
        let tmp = self.dir.join(format!("temp-{}.manifest", self.filename));
        let r = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(m.encode().as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)
        })();
        if let Err(e) = r {
            let _ = std::fs::remove_file(&tmp);
            return Err(format!("Can't write the AOF manifest {}: {e}", path.display()));
        }
        super::sync_dir(&path);
        Ok(())
    }

    /// Size of a file of the directory (0 if missing).
    pub fn size_of(&self, f: &AofFile) -> u64 {
        std::fs::metadata(self.file(&f.name)).map_or(0, |m| m.len())
    }
}

/// Strips Redis's quoting (`sdscatrepr`) from a manifest word.
fn unquote(w: &str) -> String {
    let Some(inner) = w.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else { return w.to_string() };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some('t') => out.push('\t'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Quotes a file name when it holds characters a manifest line cannot.
fn quote(name: &str) -> String {
    if name.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '\\') {
        return name.to_string();
    }
    let mut s = String::from("\"");
    for c in name.chars() {
        match c {
            '"' | '\\' => {
                s.push('\\');
                s.push(c);
            }
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

impl Manifest {
    /// Parses a manifest (Redis's `aofLoadManifestFromFile` rules: `#`
    /// comments, `key value` pairs in any order, at most one base). O(text).
    pub fn parse(text: &str) -> Result<Manifest, String> {
        let mut m = Manifest::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            if !words.len().is_multiple_of(2) {
                return Err(format!("line {}: invalid format", n + 1));
            }
            let (mut name, mut seq, mut kind) = (None, None, None);
            for kv in words.chunks(2) {
                match kv[0] {
                    "file" => name = Some(unquote(kv[1])),
                    "seq" => seq = kv[1].parse::<u64>().ok(),
                    "type" => kind = kv[1].chars().next(),
                    _ => {}
                }
            }
            let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
                return Err(format!("line {}: invalid AOF file info", n + 1));
            };
            let f = AofFile { name, seq };
            match kind {
                'b' => {
                    if m.base.is_some() {
                        return Err("found duplicate base file information".into());
                    }
                    m.base_seq = m.base_seq.max(seq);
                    m.base = Some(f);
                }
                'i' => {
                    if seq <= m.incr_seq && !m.incrs.is_empty() {
                        return Err("found a non-monotonic sequence number".into());
                    }
                    m.incr_seq = m.incr_seq.max(seq);
                    m.incrs.push(f);
                }
                'h' => m.history.push(f),
                _ => return Err(format!("line {}: unknown AOF file type", n + 1)),
            }
        }
        Ok(m)
    }

    /// The manifest text, one line per file: base, history, incrementals.
    pub fn encode(&self) -> String {
        let mut s = String::new();
        let mut line = |f: &AofFile, t: char| s.push_str(&format!("file {} seq {} type {t}\n", quote(&f.name), f.seq));
        if let Some(b) = &self.base {
            line(b, 'b');
        }
        for h in &self.history {
            line(h, 'h');
        }
        for i in &self.incrs {
            line(i, 'i');
        }
        s
    }

    /// Makes a new base (RDB or AOF format) the base; the old base goes
    /// to history. Returns the new base's file name.
    pub fn new_base(&mut self, filename: &str, rdb: bool) -> String {
        self.base_seq += 1;
        let name = format!("{filename}.{}.base.{}", self.base_seq, if rdb { "rdb" } else { "aof" });
        if let Some(old) = self.base.replace(AofFile { name: name.clone(), seq: self.base_seq }) {
            self.history.push(old);
        }
        name
    }

    /// Appends a new incremental file; returns its name.
    pub fn new_incr(&mut self, filename: &str) -> String {
        self.incr_seq += 1;
        let name = format!("{filename}.{}.incr.aof", self.incr_seq);
        self.incrs.push(AofFile { name: name.clone(), seq: self.incr_seq });
        name
    }

    /// Moves every incremental file to history (a new base holds them).
    pub fn incrs_to_history(&mut self) {
        let old = std::mem::take(&mut self.incrs);
        self.history.extend(old);
    }

    /// Deletes the history files (errors ignored: they are only garbage)
    /// and forgets them; returns true if there were any.
    pub fn delete_history(&mut self, layout: &Layout) -> bool {
        let any = !self.history.is_empty();
        for h in self.history.drain(..) {
            let _ = std::fs::remove_file(layout.file(&h.name));
        }
        any
    }

    /// Files to load, in order: the base, then the incrementals.
    pub fn load_order(&self) -> Vec<&AofFile> {
        self.base.iter().chain(self.incrs.iter()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_redis_manifest_and_round_trips() {
        let text = "file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.1.incr.aof seq 1 type h\nfile appendonly.aof.2.incr.aof seq 2 type i\nfile appendonly.aof.3.incr.aof seq 3 type i\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.base.as_ref().unwrap().name, "appendonly.aof.2.base.rdb");
        assert_eq!(m.incrs.len(), 2);
        assert_eq!(m.history.len(), 1);
        assert_eq!(m.incr_seq, 3);
        assert_eq!(m.encode(), text);
    }

    #[test]
    fn new_files_get_the_next_sequence_numbers() {
        let mut m = Manifest::parse("file a.1.base.rdb seq 1 type b\nfile a.4.incr.aof seq 4 type i\n").unwrap();
        assert_eq!(m.new_base("a", true), "a.2.base.rdb");
        m.incrs_to_history();
        assert_eq!(m.new_incr("a"), "a.5.incr.aof");
        assert_eq!(m.history.len(), 2);
        assert!(Manifest::parse("file x seq 1 type z\n").is_err());
        assert!(Manifest::parse("file x seq\n").is_err());
        assert_eq!(unquote(&quote("a b\"c")), "a b\"c");
    }
}
