//! The ACL file (`aclfile`): one `user <name> <rule> …` line per user, as `ACL LIST` prints them. Loading is all
//! or nothing, with Redis's error messages; saving writes a temporary file, syncs it and renames it over the old one.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;

use super::user::{RuleError, User};
use super::{Acl, UserChange};

/// Parses an ACL file's text into users. `filename` is only used in messages. Every line is checked; the error
/// lists every problem found, ending with Redis's "no change" warning.
pub fn parse(text: &str, filename: &str) -> Result<BTreeMap<String, Arc<User>>, String> {
    let mut users: BTreeMap<String, Arc<User>> = BTreeMap::new();
    let mut errors = String::new();
    for (i, line) in text.split('\n').enumerate() {
        let n = i + 1;
        let line = line.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
        if line.is_empty() {
            continue;
        }
        let argv: Vec<&str> = line.split(' ').filter(|a| !a.is_empty()).collect();
        if argv.first() != Some(&"user") || argv.len() < 2 {
            errors.push_str(&format!("{filename}:{n} should start with user keyword followed by the username. "));
            continue;
        }
        let name = argv[1];
        if users.contains_key(name) {
            errors.push_str(&format!("WARNING: Duplicate user '{name}' found on line {n}. "));
            continue;
        }
        let mut u = User::new(name);
        let mut syntax_error = false;
        for op in &argv[2..] {
            let op = op.trim_matches(|c| matches!(c, '\t' | '\r' | '\n'));
            match u.apply(op.as_bytes()) {
                Ok(()) => {}
                Err(RuleError::UnknownName) => errors.push_str(&format!(
                    "{filename}:{n}: Error in applying operation '{op}': {}. ",
                    RuleError::UnknownName
                )),
                Err(e) if !syntax_error => {
                    errors.push_str(&format!("{filename}:{n}: {e}. "));
                    syntax_error = true;
                }
                Err(_) => {}
            }
        }
        users.insert(name.to_string(), Arc::new(u));
    }
    if errors.is_empty() {
        Ok(users)
    } else {
        errors.push_str("WARNING: ACL errors detected, no change to the previously active ACL rules was performed");
        Err(errors)
    }
}

/// The file text for the current users, sorted by name.
pub fn render(acl: &Acl) -> String {
    acl.all().iter().map(|u| format!("user {} {}\n", u.name, u.describe())).collect()
}

/// ACL LOAD (and the load at start): replaces every user with the file's, or changes nothing and explains why.
/// Gives back how the `default` user changed.
pub fn load(acl: &Acl, path: &Path) -> Result<UserChange, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("Error loading ACLs, opening file '{}': {e}", path.display()))?;
    let users = parse(&text, &path.display().to_string())?;
    Ok(acl.replace_all(users))
}

/// ACL SAVE: writes every user to `path` atomically (temporary file, fsync, rename).
pub fn save(acl: &Acl, path: &Path) -> std::io::Result<()> {
    let text = render(acl);
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    let r = write();
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

/// Rules of one `ACL SETUSER`-style argument list, from text split on spaces (tests and tools).
pub fn rules(text: &str) -> Vec<Bytes> {
    text.split(' ').filter(|s| !s.is_empty()).map(|s| Bytes::copy_from_slice(s.as_bytes())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let acl = Acl::new("");
        acl.set_user("alice", &rules("on >p1 ~cache:* %R~ro:* +@read -@dangerous +set -get")).unwrap();
        let text = render(&acl);
        assert!(text.starts_with("user alice on #"), "{text}");
        assert!(text.ends_with("user default on nopass ~* &* +@all\n"), "{text}");
        let parsed = parse(&text, "f").unwrap();
        assert_eq!(parsed["alice"].describe(), acl.get("alice").unwrap().describe());
        let err = parse("user x on >a ~* +@all\nbogus line\nuser y +nosuch\n", "f.acl").unwrap_err();
        assert_eq!(
            err,
            "f.acl:2 should start with user keyword followed by the username. f.acl:3: Error in applying \
             operation '+nosuch': Unknown command or category name in ACL. WARNING: ACL errors detected, no change \
             to the previously active ACL rules was performed"
        );
    }
}
