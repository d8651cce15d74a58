//! Unit tests of the ACL rule language ([`super::User`]).

use super::*;
use bytes::Bytes;

fn user(rules: &[&str]) -> User {
    let mut u = User::new("u");
    for r in rules {
        u.apply(r.as_bytes()).unwrap_or_else(|e| panic!("{r}: {e}"));
    }
    u
}

fn args(v: &[&str]) -> Vec<Bytes> {
    v.iter().map(|s| Bytes::copy_from_slice(s.as_bytes())).collect()
}

fn can(u: &User, a: &[&str]) -> bool {
    let a = args(a);
    u.can_run(table::lookup(&a[0]).expect("command"), &a)
}

#[test]
fn describe_matches_redis() {
    assert_eq!(User::new_default().describe(), "on nopass ~* &* +@all");
    assert_eq!(User::new("x").describe(), "off resetchannels -@all");
    assert_eq!(user(&["reset"]).describe(), "off sanitize-payload resetchannels -@all");
    let u = user(&["on", ">p1", "~cache:*", "%R~ro:*", "+@read", "-@dangerous", "+set", "-get", "allchannels"]);
    assert_eq!(
        u.describe(),
        format!("on #{} ~cache:* %R~ro:* &* -@all +@read -@dangerous +set -get", hash_password(b"p1"))
    );
    // A later rule for the same command replaces the earlier one.
    assert_eq!(user(&["+get", "+set", "-get"]).command_rules(), "-@all +set -get");
    assert_eq!(user(&["+config|get", "+config"]).command_rules(), "-@all +config");
}

#[test]
fn commands_categories_and_first_args() {
    let u = user(&["+@all", "-@dangerous", "+flushdb"]);
    assert!(can(&u, &["get", "k"]) && can(&u, &["flushdb"]) && !can(&u, &["flushall"]));
    assert!(!u.all_commands);
    let u = user(&["+config|get", "+client"]);
    assert!(can(&u, &["config", "GET", "x"]) && !can(&u, &["config", "set", "x", "y"]));
    assert!(can(&u, &["client", "id"]) && can(&u, &["auth", "x"]) && !can(&u, &["get", "k"]));
    let u = user(&["+@all", "-config|set"]);
    assert!(can(&u, &["config", "get", "x"]) && !can(&u, &["config", "SET", "x", "y"]));
    // Aliases share their target's permission.
    let u = user(&["+lindex"]);
    assert!(can(&u, &["lget", "k", "0"]));
}

#[test]
fn keys_and_errors() {
    let u = user(&["~a:*", "%R~r:*", "%W~w:*"]);
    assert!(u.can_access_key(b"a:1", KEY_READ | KEY_WRITE));
    assert!(u.can_access_key(b"r:1", KEY_READ) && !u.can_access_key(b"r:1", KEY_WRITE));
    assert!(u.can_access_key(b"w:1", KEY_WRITE) && !u.can_access_key(b"w:1", KEY_READ));
    assert!(!u.can_access_key(b"other", KEY_READ));
    assert_eq!(u.keys_string(), "~a:* %R~r:* %W~w:*");
    let mut u = user(&["~*"]);
    assert_eq!(u.apply(b"~x"), Err(RuleError::KeyAfterAll));
    assert_eq!(u.apply(b"+nosuch"), Err(RuleError::UnknownName));
    assert_eq!(u.apply(b"+@nosuch"), Err(RuleError::UnknownName));
    assert_eq!(u.apply(b"#abc"), Err(RuleError::BadHash));
    assert_eq!(u.apply(b"<nope"), Err(RuleError::NoSuchPassword));
    assert_eq!(u.apply(b"foo"), Err(RuleError::Syntax));
    assert_eq!(User::new("v").apply(b"%X~k"), Err(RuleError::Syntax));
    assert_eq!(User::new("v").apply(b"%~k"), Err(RuleError::Syntax));
    assert_eq!(u.apply(b"+get|"), Err(RuleError::Syntax));
    let h = hash_password(b"secret");
    assert_eq!(h.len(), 64);
    u.apply(format!("#{h}").as_bytes()).unwrap();
    u.apply(b"<secret").unwrap();
    assert!(u.passwords.is_empty());
}

#[test]
fn subcommand_rules_follow_redis_7_0() {
    let mut u = user(&["+@all"]);
    assert_eq!(u.apply(b"+config|get|appendonly"), Err(RuleError::SubcommandFirstArg));
    assert_eq!(u.apply(b"+config|asdf"), Err(RuleError::UnknownName));
    assert_eq!(u.apply(b"-select|0"), Err(RuleError::UnknownName), "a first argument cannot be denied");
    // A rule that changes nothing is not kept; category rules always are.
    let u = user(&["+@all", "+client|id", "+get"]);
    assert_eq!(u.command_rules(), "+@all");
    assert!(u.all_commands);
    assert_eq!(user(&["+@all", "-@set"]).command_rules(), "+@all -@set");
    let u = user(&["+@all", "-client", "+client|id"]);
    assert_eq!(u.command_rules(), "+@all -client +client|id");
    assert!(can(&u, &["client", "ID"]) && !can(&u, &["client", "kill", "x"]));
    let u = user(&["-@all", "+select|0"]);
    assert!(can(&u, &["select", "0"]) && !can(&u, &["select", "1"]));
}

#[test]
fn channels_match_as_globs_and_patterns_literally() {
    let u = user(&["&news.*", "&chat"]);
    assert!(u.can_access_channel(b"news.sport", false) && u.can_access_channel(b"chat", false));
    assert!(!u.can_access_channel(b"chatter", false) && !u.can_access_channel(b"other", false));
    // PSUBSCRIBE: only a pattern equal to an allowed one.
    assert!(u.can_access_channel(b"news.*", true));
    assert!(!u.can_access_channel(b"news.sport.*", true) && !u.can_access_channel(b"*", true));
    assert_eq!(u.channels_string(), "&news.* &chat");
    assert_eq!(u.describe(), "off resetchannels &news.* &chat -@all");
    let mut all = user(&["allchannels"]);
    assert!(all.can_access_channel(b"*", true) && all.can_access_channel(b"x", false));
    assert_eq!(all.apply(b"&x"), Err(RuleError::ChannelAfterAll));
    assert_eq!(User::new("v").apply(b"&a b"), Err(RuleError::Syntax));
    assert!(User::with_channels("w", true).all_channels && !User::with_channels("w", false).all_channels);
    assert!(!user(&["+@all", "~*"]).unrestricted(), "no channels: PUBLISH is still checked");
    assert!(user(&["+@all", "~*", "&*"]).unrestricted());
}

#[test]
fn narrowing_channels_is_detected_as_redis_does() {
    let ab = user(&["&a", "&b"]);
    assert!(!ab.channels_narrowed_by(&user(&["&b", "&a", "&c"])), "a superset");
    assert!(ab.channels_narrowed_by(&user(&["&a"])));
    assert!(!ab.channels_narrowed_by(&user(&["allchannels"])));
    assert!(user(&["allchannels"]).channels_narrowed_by(&user(&["&*x"])));
    // A pattern covering the old ones is still a change of list: Redis then looks at each subscription.
    assert!(ab.channels_narrowed_by(&user(&["&?"])));
}
