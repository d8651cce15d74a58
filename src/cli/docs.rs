//! Command documentation from the server's `COMMAND DOCS`: the names for
//! completion, the argument synopsis (or summary) for hints, and the text
//! of the REPL's `help <command>` / `help @<group>`.
//!
//! Works with both reply shapes (a RESP3 map or RESP2's flat array) and with
//! servers that send no `arguments` (the hint then is the summary).

use bytes::Bytes;

use super::conn::Client;
use crate::protocol::frame::Frame;

/// One command's documentation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Doc {
    /// Lower-case command name.
    pub name: String,
    /// One-line description.
    pub summary: String,
    /// Version the command appeared in.
    pub since: String,
    /// Command group (`string`, `list` …).
    pub group: String,
    /// Time complexity text.
    pub complexity: String,
    /// Argument synopsis built from `arguments` (`key value [NX|XX]`); empty if none were sent.
    pub synopsis: String,
}

/// All commands' documentation, sorted by name.
#[derive(Debug, Clone, Default)]
pub struct Docs {
    docs: Vec<Doc>,
}

/// The (key, value) pairs of a map, or of a RESP2 flat array.
fn pairs(f: &Frame) -> Vec<(&Frame, &Frame)> {
    match f {
        Frame::Map(m) => m.iter().map(|(k, v)| (k, v)).collect(),
        Frame::Array(Some(v)) => v.chunks_exact(2).map(|c| (&c[0], &c[1])).collect(),
        _ => Vec::new(),
    }
}

fn text(f: &Frame) -> String {
    String::from_utf8_lossy(f.text().unwrap_or_default()).into_owned()
}

/// Looks `key` up in a map-like frame.
fn field<'a>(f: &'a Frame, key: &str) -> Option<&'a Frame> {
    pairs(f).into_iter().find(|(k, _)| k.text().is_some_and(|t| t.eq_ignore_ascii_case(key.as_bytes()))).map(|p| p.1)
}

/// One argument of `COMMAND DOCS` as redis-cli 7.2 writes it in hints.
fn argument(a: &Frame) -> String {
    let get = |k: &str| field(a, k).map(text).unwrap_or_default();
    let kind = get("type");
    let token = get("token");
    let flags: Vec<String> = field(a, "flags").and_then(Frame::items).unwrap_or_default().iter().map(text).collect();
    let has = |f: &str| flags.iter().any(|x| x == f);
    let children = || -> Vec<String> {
        field(a, "arguments").and_then(Frame::items).unwrap_or_default().iter().map(argument).collect()
    };
    let mut base = match kind.as_str() {
        "pure-token" => token.clone(),
        "oneof" => children().join("|"),
        "block" => children().join(" "),
        _ => field(a, "display_text").map(text).unwrap_or_else(|| get("name")),
    };
    if !token.is_empty() && kind != "pure-token" {
        let inner = base;
        base = format!("{token} {inner}");
        if has("multiple") {
            let again = if has("multiple_token") { base.clone() } else { inner };
            base = format!("{base} [{again} ...]");
        }
    } else if has("multiple") {
        base = format!("{base} [{base} ...]");
    }
    if has("optional") {
        format!("[{base}]")
    } else {
        base
    }
}

impl Docs {
    /// Builds the docs from a `COMMAND DOCS` reply. O(reply size + n log n).
    pub fn from_reply(reply: &Frame) -> Docs {
        let mut docs: Vec<Doc> = pairs(reply)
            .into_iter()
            .map(|(name, d)| {
                let get = |k: &str| field(d, k).map(text).unwrap_or_default();
                let args = field(d, "arguments").and_then(Frame::items).unwrap_or_default();
                Doc {
                    name: text(name).to_ascii_lowercase(),
                    summary: get("summary"),
                    since: get("since"),
                    group: get("group"),
                    complexity: get("complexity"),
                    synopsis: args.iter().map(argument).collect::<Vec<_>>().join(" "),
                }
            })
            .filter(|d| !d.name.is_empty())
            .collect();
        docs.sort_by(|a, b| a.name.cmp(&b.name));
        docs.dedup_by(|a, b| a.name == b.name);
        Docs { docs }
    }

    /// Asks the server (connecting if needed); empty docs when it cannot
    /// answer. Never fails: completion and hints are a convenience.
    pub fn fetch(client: &mut Client) -> Docs {
        let cmd = [Bytes::from_static(b"COMMAND"), Bytes::from_static(b"DOCS")];
        if client.ensure_connected().is_err() {
            return Docs::default();
        }
        // A push message may come first on a RESP3 connection.
        let mut reply = client.call(&cmd);
        while let Ok(Frame::Push(_)) = reply {
            reply = client.read();
        }
        match reply {
            Ok(f) if !f.is_error() => Docs::from_reply(&f),
            _ => Docs::default(),
        }
    }

    /// True when no command is known.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// The documentation of `name` (any case). O(log n).
    pub fn get(&self, name: &str) -> Option<&Doc> {
        let name = name.to_ascii_lowercase();
        self.docs.binary_search_by(|d| d.name.as_str().cmp(&name)).ok().map(|i| &self.docs[i])
    }

    /// Command names starting with `prefix` (case-insensitively), in the
    /// case of the prefix's first letter (upper-case if it is). O(n).
    pub fn complete(&self, prefix: &str) -> Vec<String> {
        let lower = prefix.to_ascii_lowercase();
        let upper = prefix.chars().next().is_some_and(|c| c.is_ascii_uppercase());
        self.docs
            .iter()
            .filter(|d| d.name.starts_with(&lower))
            .map(|d| if upper { d.name.to_ascii_uppercase() } else { d.name.clone() })
            .collect()
    }

    /// The hint shown after `line` (cursor at its end): once a known
    /// command name is typed alone, its argument synopsis (its summary when
    /// the server sends no arguments), after a space if none was typed yet.
    pub fn hint(&self, line: &str) -> Option<String> {
        let trimmed = line.trim_start();
        let name = trimmed.trim_end();
        if name.is_empty() || name.contains(char::is_whitespace) {
            return None;
        }
        let d = self.get(name)?;
        let body = if d.synopsis.is_empty() { &d.summary } else { &d.synopsis };
        if body.is_empty() {
            return None;
        }
        Some(if trimmed.len() > name.len() { body.clone() } else { format!(" {body}") })
    }

    /// The REPL's help: `help` alone, `help <command>` or `help @<group>`.
    pub fn help(&self, args: &[Bytes]) -> String {
        let Some(first) = args.first() else {
            return format!(
                "inmemory-cli {}\nTo get help about a command:\n      \"help <command>\" (press TAB to complete)\n\
                 To get a list of the commands of a group:\n      \"help @<group>\" (string, list, hash, generic, \
                 server, connection, transactions …)\nTo leave:\n      \"quit\"\n",
                env!("CARGO_PKG_VERSION")
            );
        };
        let what = String::from_utf8_lossy(first).to_ascii_lowercase();
        if self.is_empty() {
            return "No help available: the server did not answer COMMAND DOCS.\n".into();
        }
        let show = |d: &Doc| {
            let head = format!("{} {}", d.name.to_ascii_uppercase(), d.synopsis);
            let mut s = format!("\n  {}\n  summary: {}\n", head.trim_end(), d.summary);
            for (k, v) in [("since", &d.since), ("group", &d.group), ("complexity", &d.complexity)] {
                if !v.is_empty() {
                    s.push_str(&format!("  {k}: {v}\n"));
                }
            }
            s
        };
        if let Some(group) = what.strip_prefix('@') {
            let list: String = self.docs.iter().filter(|d| d.group == group).map(show).collect();
            return if list.is_empty() { format!("No commands in group '{group}'.\n") } else { list + "\n" };
        }
        match self.get(&what) {
            Some(d) => show(d) + "\n",
            None => format!("No help for '{what}'.\n"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Frame {
        Frame::Bulk(Some(Bytes::copy_from_slice(x.as_bytes())))
    }
    fn map(kv: Vec<(&str, Frame)>) -> Frame {
        Frame::Map(kv.into_iter().map(|(k, v)| (s(k), v)).collect())
    }
    fn set_flags(f: &[&str]) -> Frame {
        Frame::Set(f.iter().map(|x| Frame::Simple(Bytes::copy_from_slice(x.as_bytes()))).collect())
    }

    fn sample() -> Docs {
        let set_args = Frame::Array(Some(vec![
            map(vec![("name", s("key")), ("type", s("key"))]),
            map(vec![("name", s("value")), ("type", s("string"))]),
            map(vec![
                ("name", s("condition")),
                ("type", s("oneof")),
                ("flags", set_flags(&["optional"])),
                (
                    "arguments",
                    Frame::Array(Some(vec![
                        map(vec![("name", s("nx")), ("type", s("pure-token")), ("token", s("NX"))]),
                        map(vec![("name", s("xx")), ("type", s("pure-token")), ("token", s("XX"))]),
                    ])),
                ),
            ]),
        ]));
        let del_args = Frame::Array(Some(vec![map(vec![
            ("name", s("key")),
            ("type", s("key")),
            ("flags", set_flags(&["multiple"])),
        ])]));
        let reply = Frame::Map(vec![
            (s("set"), map(vec![("summary", s("Sets a key.")), ("group", s("string")), ("arguments", set_args)])),
            (s("del"), map(vec![("summary", s("Deletes keys.")), ("group", s("generic")), ("arguments", del_args)])),
            (s("lget"), map(vec![("summary", s("Gets a list.")), ("group", s("list"))])),
        ]);
        Docs::from_reply(&reply)
    }

    #[test]
    fn synopsis_completion_and_hints() {
        let d = sample();
        assert_eq!(d.get("SET").map(|d| d.synopsis.as_str()), Some("key value [NX|XX]"));
        assert_eq!(d.get("del").map(|d| d.synopsis.as_str()), Some("key [key ...]"));
        assert_eq!(d.complete("s"), vec!["set"]);
        assert_eq!(d.complete("L"), vec!["LGET"]);
        assert_eq!(d.complete("x"), Vec::<String>::new());
        assert_eq!(d.hint("set").as_deref(), Some(" key value [NX|XX]"));
        assert_eq!(d.hint("SET ").as_deref(), Some("key value [NX|XX]"));
        assert_eq!(d.hint("lget ").as_deref(), Some("Gets a list."));
        assert_eq!(d.hint("set k"), None);
        assert_eq!(d.hint("nope "), None);
        assert!(d.help(&[Bytes::from_static(b"set")]).contains("\n  SET key value [NX|XX]\n  summary: Sets a key.\n"));
        assert!(d.help(&[Bytes::from_static(b"@list")]).contains("LGET"));
        assert!(d.help(&[]).contains("help <command>"));
    }

    #[test]
    fn resp2_flat_reply() {
        let reply = Frame::Array(Some(vec![s("get"), Frame::Array(Some(vec![s("summary"), s("Gets.")]))]));
        let d = Docs::from_reply(&reply);
        assert_eq!(d.get("get").map(|d| d.summary.as_str()), Some("Gets."));
    }
}
