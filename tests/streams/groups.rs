//! Consumer groups: XGROUP's subcommands, XREADGROUP (new entries,
//! history, NOACK), XACK, XPENDING, XCLAIM and XAUTOCLAIM, with Redis
//! 7.0's replies and error texts.

use super::common::{arr, bulk, bulks, err, int, nil, nil_array, ok, text, Raw, Resp, Server};
use super::{add_ids, add_range, entry, field, fv_entries, read_reply, ERR_INVALID_ID};

const NEEDS_KEY: &str = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";

/// XPENDING's extended rows without the idle time: (id, consumer, deliveries).
fn pending_rows(r: &Resp) -> Vec<(String, String, i64)> {
    let Resp::Array(Some(rows)) = r else { panic!("not an XPENDING range reply: {r:?}") };
    rows.iter()
        .map(|row| {
            let Resp::Array(Some(f)) = row else { panic!("row {row:?}") };
            let Resp::Int(idle) = f[2] else { panic!("idle {row:?}") };
            assert!(idle >= 0, "{row:?}");
            let Resp::Int(n) = f[3] else { panic!("count {row:?}") };
            (text(f[0].clone()), text(f[1].clone()), n)
        })
        .collect()
}

/// The idle times of XPENDING's extended rows.
fn pending_idles(r: &Resp) -> Vec<i64> {
    let Resp::Array(Some(rows)) = r else { panic!("not an XPENDING range reply: {r:?}") };
    rows.iter()
        .map(|row| match row {
            Resp::Array(Some(f)) => match f[2] {
                Resp::Int(i) => i,
                _ => panic!("{row:?}"),
            },
            _ => panic!("{row:?}"),
        })
        .collect()
}

fn row(id: &str, consumer: &str, n: i64) -> (String, String, i64) {
    (id.to_string(), consumer.to_string(), n)
}

/// XINFO GROUPS as (name, consumers, pending, last-delivered-id, entries-read, lag),
/// nil counters as "nil".
pub(super) fn groups_summary(c: &mut Raw, key: &str) -> Vec<[String; 6]> {
    let Resp::Array(Some(groups)) = c.call(&["XINFO", "GROUPS", key]) else { panic!("XINFO GROUPS {key}") };
    let t = |r: Resp| match r {
        Resp::Bulk(None) | Resp::Null => "nil".to_string(),
        other => text(other),
    };
    groups
        .iter()
        .map(|g| ["name", "consumers", "pending", "last-delivered-id", "entries-read", "lag"].map(|f| t(field(g, f))))
        .collect()
}

/// Milliseconds since the epoch.
fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

#[test]
fn xgroup_create_and_its_errors() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "g", "$"]), err(NEEDS_KEY));
    assert_eq!(c.call(&["EXISTS", "s"]), int(0));
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]), ok());
    assert_eq!(c.call(&["TYPE", "s"]), Resp::Simple("stream".into()));
    assert_eq!(c.call(&["XLEN", "s"]), int(0));
    let busy = err("BUSYGROUP Consumer Group name already exists");
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"]), busy);
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "g", "0"]), busy);
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "g3", "bad"]), err(ERR_INVALID_ID));
    assert_eq!(
        c.call(&["XGROUP", "create", "s", "g3", "0", "foo"]),
        err("ERR unknown subcommand or wrong number of arguments for 'create'. Try XGROUP HELP.")
    );
    assert_eq!(c.call(&["XGROUP", "foo"]), err("ERR unknown subcommand 'foo'. Try XGROUP HELP."));
    assert_eq!(c.call(&["XGROUP"]), err("ERR wrong number of arguments for 'xgroup' command"));
    // Group names are binary-safe and case-sensitive.
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "G", "0"]), ok());
    add_ids(&mut c, "s", &["1-0", "2-0"]);
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "at-end", "$"]), ok());
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "at-1", "1-0", "ENTRIESREAD", "1"]), ok());
    let summary = groups_summary(&mut c, "s");
    let names: Vec<&str> = summary.iter().map(|g| g[0].as_str()).collect();
    assert_eq!(names, ["G", "at-1", "at-end", "g"]);
    assert_eq!(summary[1][3..], ["1-0".to_string(), "1".into(), "1".into()]);
    assert_eq!(summary[2][3], "2-0");
    assert_eq!(summary[0][3..], ["0-0".to_string(), "nil".into(), "2".into()]);
}

#[test]
fn xgroup_setid_destroy_and_consumers() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["XGROUP", "SETID", "nokey", "g", "0"]), err(NEEDS_KEY));
    assert_eq!(c.call(&["XGROUP", "DESTROY", "nokey", "g"]), err(NEEDS_KEY));
    assert_eq!(c.call(&["XGROUP", "CREATECONSUMER", "nokey", "g", "c"]), err(NEEDS_KEY));
    add_ids(&mut c, "s", &["1-0", "2-0", "3-0"]);
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "g", "0"]), ok());
    let nogroup = err("NOGROUP No such consumer group 'nog' for key name 's'");
    assert_eq!(c.call(&["XGROUP", "SETID", "s", "nog", "0"]), nogroup);
    assert_eq!(c.call(&["XGROUP", "CREATECONSUMER", "s", "nog", "c"]), nogroup);
    assert_eq!(c.call(&["XGROUP", "DELCONSUMER", "s", "nog", "c"]), nogroup);
    assert_eq!(c.call(&["XGROUP", "DESTROY", "s", "nog"]), int(0));
    // Consumers: created once, deleted with the count of their pending entries.
    assert_eq!(c.call(&["XGROUP", "CREATECONSUMER", "s", "g", "idle"]), int(1));
    assert_eq!(c.call(&["XGROUP", "CREATECONSUMER", "s", "g", "idle"]), int(0));
    assert_eq!(c.call(&["XGROUP", "DELCONSUMER", "s", "g", "nobody"]), int(0));
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "g", "busy", "COUNT", "2", "STREAMS", "s", ">"]),
        read_reply("s", fv_entries(&["1-0", "2-0"]))
    );
    assert_eq!(groups_summary(&mut c, "s")[0][1..3], ["2".to_string(), "2".into()]);
    assert_eq!(c.call(&["XGROUP", "DELCONSUMER", "s", "g", "busy"]), int(2));
    assert_eq!(c.call(&["XGROUP", "DELCONSUMER", "s", "g", "idle"]), int(0));
    // The deleted consumer's entries left the group's PEL too.
    assert_eq!(c.call(&["XPENDING", "s", "g"]), arr(vec![int(0), nil(), nil(), nil_array()]));
    // SETID: an id, `$`, and ENTRIESREAD; the next `>` read follows it.
    assert_eq!(c.call(&["XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "0"]), ok());
    assert_eq!(groups_summary(&mut c, "s")[0][3..], ["0-0".to_string(), "0".into(), "3".into()]);
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">"]),
        read_reply("s", fv_entries(&["1-0"]))
    );
    assert_eq!(c.call(&["XGROUP", "SETID", "s", "g", "$"]), ok());
    assert_eq!(groups_summary(&mut c, "s")[0][3], "3-0");
    assert_eq!(c.call(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"]), nil_array());
    assert_eq!(c.call(&["XGROUP", "SETID", "s", "g", "1-0"]), ok());
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"]),
        read_reply("s", fv_entries(&["2-0", "3-0"]))
    );
    assert_eq!(c.call(&["XGROUP", "SETID", "s", "g", "bad"]), err(ERR_INVALID_ID));
    // DESTROY drops the group and its PEL.
    assert_eq!(c.call(&["XGROUP", "DESTROY", "s", "g"]), int(1));
    assert_eq!(c.call(&["XGROUP", "DESTROY", "s", "g"]), int(0));
    assert_eq!(c.call(&["XINFO", "GROUPS", "s"]), arr(vec![]));
    assert_eq!(c.call(&["XLEN", "s"]), int(3));
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "g", "0"]), ok());
    assert_eq!(c.call(&["XPENDING", "s", "g"]), arr(vec![int(0), nil(), nil(), nil_array()]));
}

#[test]
fn xgroup_help_lists_the_subcommands() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    let Resp::Array(Some(lines)) = c.call(&["XGROUP", "HELP"]) else { panic!("XGROUP HELP") };
    assert_eq!(lines.len(), 17);
    assert_eq!(lines[0], Resp::Simple("XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:".into()));
    for sub in ["CREATE", "CREATECONSUMER", "DELCONSUMER", "DESTROY", "SETID", "HELP"] {
        assert!(lines.iter().any(|l| matches!(l, Resp::Simple(t) if t.starts_with(sub))), "{sub}");
    }
}

#[test]

fn xgroup_and_xinfo_help_end_like_redis() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    for cmd in ["XGROUP", "XINFO"] {
        let Resp::Array(Some(lines)) = c.call(&[cmd, "HELP"]) else { panic!("{cmd} HELP") };
        assert_eq!(
            lines[lines.len() - 2..],
            [Resp::Simple("HELP".into()), Resp::Simple("    Prints this help.".into())],
            "{cmd}"
        );
    }
}

#[test]
fn xreadgroup_new_entries_then_history() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    add_ids(&mut c, "s", &["1-0", "2-0", "3-0"]);
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "g", "0"]), ok());
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "nog", "c", "STREAMS", "s", ">"]),
        err("NOGROUP No such key 's' or consumer group 'nog' in XREADGROUP with GROUP option")
    );
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "nokey", ">"]),
        err("NOGROUP No such key 'nokey' or consumer group 'g' in XREADGROUP with GROUP option")
    );
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "$"]),
        err("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.")
    );
    assert_eq!(c.call(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "bad"]), err(ERR_INVALID_ID));
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">", ">"]),
        err("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.")
    );
    assert_eq!(
        c.call(&["XREADGROUP", "COUNT", "1", "NOACK", "STREAMS", "s", ">"]),
        err("ERR Missing GROUP option for XREADGROUP")
    );
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s"]),
        err("ERR wrong number of arguments for 'xreadgroup' command")
    );
    // Nothing was delivered by the failed calls.
    assert_eq!(c.call(&["XPENDING", "s", "g"]), arr(vec![int(0), nil(), nil(), nil_array()]));
    // `>`: new entries, recorded as pending for the consumer.
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "s", ">"]),
        read_reply("s", fv_entries(&["1-0", "2-0"]))
    );
    assert_eq!(c.call(&["XREADGROUP", "GROUP", "g", "d", "STREAMS", "s", ">"]), read_reply("s", fv_entries(&["3-0"])));
    assert_eq!(c.call(&["XREADGROUP", "GROUP", "g", "d", "STREAMS", "s", ">"]), nil_array());
    // An id: the consumer's own pending entries after it, counted as deliveries.
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0"]),
        read_reply("s", fv_entries(&["1-0", "2-0"]))
    );
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "1-0"]),
        read_reply("s", fv_entries(&["2-0"]))
    );
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", "0"]),
        read_reply("s", fv_entries(&["1-0"]))
    );
    assert_eq!(c.call(&["XREADGROUP", "GROUP", "g", "new", "STREAMS", "s", "0"]), read_reply("s", fv_entries(&[])));
    assert_eq!(
        pending_rows(&c.call(&["XPENDING", "s", "g", "-", "+", "10"])),
        [row("1-0", "c", 3), row("2-0", "c", 3), row("3-0", "d", 1)]
    );
    // A pending entry deleted from the stream shows as [id, nil].
    assert_eq!(c.call(&["XDEL", "s", "2-0"]), int(1));
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0"]),
        read_reply("s", arr(vec![entry("1-0", &["f", "v"]), arr(vec![bulk("2-0"), nil_array()])]))
    );
    // Acknowledged entries leave the history.
    assert_eq!(c.call(&["XACK", "s", "g", "1-0", "2-0"]), int(2));
    assert_eq!(c.call(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0"]), read_reply("s", fv_entries(&[])));
    let consumers = c.call(&["XINFO", "CONSUMERS", "s", "g"]);
    let names: Vec<String> = match &consumers {
        Resp::Array(Some(cs)) => cs.iter().map(|x| text(field(x, "name"))).collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(names, ["c", "d", "new"]);
}

#[test]
fn xreadgroup_noack_and_several_streams() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    add_ids(&mut c, "a", &["1-0", "2-0"]);
    add_ids(&mut c, "b", &["5-0"]);
    for k in ["a", "b"] {
        assert_eq!(c.call(&["XGROUP", "CREATE", k, "g", "0"]), ok());
    }
    // NOACK delivers without a pending entry but still creates the consumer.
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "g", "c", "NOACK", "STREAMS", "a", ">"]),
        read_reply("a", fv_entries(&["1-0", "2-0"]))
    );
    assert_eq!(c.call(&["XPENDING", "a", "g"]), arr(vec![int(0), nil(), nil(), nil_array()]));
    assert_eq!(super::groups::groups_summary(&mut c, "a")[0][1..], ["1", "0", "2-0", "2", "0"].map(String::from));
    // Several streams: each with entries is in the reply, in argument order.
    add_ids(&mut c, "a", &["3-0"]);
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "b", "a", ">", ">"]),
        arr(vec![arr(vec![bulk("b"), fv_entries(&["5-0"])]), arr(vec![bulk("a"), fv_entries(&["3-0"])])])
    );
    // History of one, new entries of another (none: that stream is left out).
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", "b", "0", ">"]),
        read_reply("a", fv_entries(&["3-0"]))
    );
    // Every stream needs the group.
    add_ids(&mut c, "nogroup", &["1-0"]);
    assert_eq!(
        c.call(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", "nogroup", ">", ">"]),
        err("NOGROUP No such key 'nogroup' or consumer group 'g' in XREADGROUP with GROUP option")
    );
}

#[test]
fn xack_and_xpending() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    add_range(&mut c, "s", 1..=6);
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "g", "0"]), ok());
    assert_eq!(c.call(&["XPENDING", "s", "g"]), arr(vec![int(0), nil(), nil(), nil_array()]));
    assert_eq!(c.call(&["XPENDING", "s", "g", "-", "+", "10"]), arr(vec![]));
    assert_eq!(c.call(&["XPENDING", "s", "nog"]), err("NOGROUP No such key 's' or consumer group 'nog'"));
    assert_eq!(c.call(&["XPENDING", "nokey", "g"]), err("NOGROUP No such key 'nokey' or consumer group 'g'"));
    c.call(&["XREADGROUP", "GROUP", "g", "alice", "COUNT", "4", "STREAMS", "s", ">"]);
    c.call(&["XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">"]);
    c.call(&["XGROUP", "CREATECONSUMER", "s", "g", "carol"]);
    // Summary: count, smallest and largest id, and consumers with pending entries.
    assert_eq!(
        c.call(&["XPENDING", "s", "g"]),
        arr(vec![int(6), bulk("1-0"), bulk("6-0"), arr(vec![bulks(&["alice", "4"]), bulks(&["bob", "2"])])])
    );
    // The range form: bounds (exclusive too), count, consumer.
    let all = pending_rows(&c.call(&["XPENDING", "s", "g", "-", "+", "10"]));
    assert_eq!(all.len(), 6);
    assert_eq!(all[4], row("5-0", "bob", 1));
    assert_eq!(
        pending_rows(&c.call(&["XPENDING", "s", "g", "(2-0", "5", "2"])),
        [row("3-0", "alice", 1), row("4-0", "alice", 1)]
    );
    assert_eq!(pending_rows(&c.call(&["XPENDING", "s", "g", "-", "(2-0", "10"])), [row("1-0", "alice", 1)]);
    assert_eq!(
        pending_rows(&c.call(&["XPENDING", "s", "g", "-", "+", "10", "bob"])),
        [row("5-0", "bob", 1), row("6-0", "bob", 1)]
    );
    assert_eq!(c.call(&["XPENDING", "s", "g", "-", "+", "10", "carol"]), arr(vec![]));
    assert_eq!(c.call(&["XPENDING", "s", "g", "-", "+", "10", "nobody"]), arr(vec![]));
    assert_eq!(c.call(&["XPENDING", "s", "g", "-", "+", "0"]), arr(vec![]));
    assert_eq!(c.call(&["XPENDING", "s", "g", "5", "2", "10"]), arr(vec![]));
    // IDLE filters on the time since the last delivery.
    assert_eq!(pending_rows(&c.call(&["XPENDING", "s", "g", "IDLE", "0", "-", "+", "10"])).len(), 6);
    assert_eq!(c.call(&["XPENDING", "s", "g", "IDLE", "3600000", "-", "+", "10"]), arr(vec![]));
    assert_eq!(c.call(&["XCLAIM", "s", "g", "bob", "0", "2-0", "IDLE", "100000", "JUSTID"]), bulks(&["2-0"]));
    assert_eq!(pending_rows(&c.call(&["XPENDING", "s", "g", "IDLE", "50000", "-", "+", "10"])), [row("2-0", "bob", 1)]);
    assert!(pending_idles(&c.call(&["XPENDING", "s", "g", "IDLE", "50000", "-", "+", "10", "bob"]))[0] >= 100_000);
    // Errors.
    assert_eq!(c.call(&["XPENDING", "s", "g", "-"]), err("ERR syntax error"));
    assert_eq!(c.call(&["XPENDING", "s", "g", "-", "+"]), err("ERR syntax error"));
    assert_eq!(c.call(&["XPENDING", "s", "g", "-", "+", "x"]), err("ERR value is not an integer or out of range"));
    assert_eq!(
        c.call(&["XPENDING", "s", "g", "IDLE", "x", "-", "+", "10"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(c.call(&["XPENDING", "s", "g", "IDLE", "5", "-", "+"]), err("ERR syntax error"));
    assert_eq!(c.call(&["XPENDING", "s", "g", "bad", "+", "10"]), err(ERR_INVALID_ID));
    // XACK: how many were pending; unknown ids, groups and keys count 0.
    assert_eq!(c.call(&["XACK", "s", "g", "1-0", "9-0", "1-0"]), int(1));
    assert_eq!(c.call(&["XACK", "s", "g", "1-0"]), int(0));
    assert_eq!(c.call(&["XACK", "s", "nog", "2-0"]), int(0));
    assert_eq!(c.call(&["XACK", "nokey", "g", "2-0"]), int(0));
    assert_eq!(c.call(&["XACK", "s", "g", "bad"]), err(ERR_INVALID_ID));
    assert_eq!(c.call(&["XACK", "s", "g", "2-0", "bad"]), err(ERR_INVALID_ID));
    assert_eq!(c.call(&["XACK", "s", "g"]), err("ERR wrong number of arguments for 'xack' command"));
    assert_eq!(c.call(&["XACK", "s", "g", "2-0", "3-0", "4-0", "5-0"]), int(4));
    assert_eq!(
        c.call(&["XPENDING", "s", "g"]),
        arr(vec![int(1), bulk("6-0"), bulk("6-0"), arr(vec![bulks(&["bob", "1"])])])
    );
    // Acknowledging does not touch the stream.
    assert_eq!(c.call(&["XLEN", "s"]), int(6));
}

#[test]
fn xclaim_options() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    add_range(&mut c, "s", 1..=5);
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "g", "0"]), ok());
    c.call(&["XREADGROUP", "GROUP", "g", "c1", "COUNT", "3", "STREAMS", "s", ">"]);
    // Not idle long enough: nothing moves.
    assert_eq!(c.call(&["XCLAIM", "s", "g", "c2", "3600000", "1-0"]), arr(vec![]));
    assert_eq!(c.call(&["XCLAIM", "s", "g", "c2", "0", "1-0"]), arr(vec![entry("1-0", &["f", "v1"])]));
    // Ids not pending are skipped without FORCE; ids not in the stream always.
    assert_eq!(c.call(&["XCLAIM", "s", "g", "c2", "0", "2-0", "4-0", "9-0"]), arr(vec![entry("2-0", &["f", "v2"])]));
    assert_eq!(c.call(&["XCLAIM", "s", "g", "c2", "0", "4-0", "9-0", "FORCE", "JUSTID"]), bulks(&["4-0"]));
    // JUSTID leaves the delivery count alone, RETRYCOUNT sets it.
    assert_eq!(c.call(&["XCLAIM", "s", "g", "c3", "0", "3-0", "JUSTID"]), bulks(&["3-0"]));
    assert_eq!(c.call(&["XCLAIM", "s", "g", "c3", "0", "2-0", "RETRYCOUNT", "7", "JUSTID"]), bulks(&["2-0"]));
    assert_eq!(
        pending_rows(&c.call(&["XPENDING", "s", "g", "-", "3", "10"])),
        [row("1-0", "c2", 2), row("2-0", "c3", 7), row("3-0", "c3", 1)]
    );
    assert_eq!(pending_rows(&c.call(&["XPENDING", "s", "g", "4", "4", "10"]))[0].1, "c2");
    // IDLE and TIME set the delivery time.
    assert_eq!(c.call(&["XCLAIM", "s", "g", "c1", "0", "1-0", "IDLE", "500000", "JUSTID"]), bulks(&["1-0"]));
    let past = (now_ms() - 900_000).to_string();
    assert_eq!(c.call(&["XCLAIM", "s", "g", "c1", "0", "3-0", "TIME", &past, "JUSTID"]), bulks(&["3-0"]));
    let idles = pending_idles(&c.call(&["XPENDING", "s", "g", "-", "+", "10", "c1"]));
    assert!(idles[0] >= 500_000, "{idles:?}");
    assert!(idles[1] >= 900_000, "{idles:?}");
    // min-idle now lets 1-0 go but not 4-0.
    assert_eq!(c.call(&["XCLAIM", "s", "g", "c4", "400000", "1-0", "4-0", "JUSTID"]), bulks(&["1-0"]));
    // LASTID moves the group's last delivered id forward only.
    assert_eq!(c.call(&["XCLAIM", "s", "g", "c4", "0", "1-0", "LASTID", "4-0", "JUSTID"]), bulks(&["1-0"]));
    assert_eq!(groups_summary(&mut c, "s")[0][3], "4-0");
    assert_eq!(c.call(&["XCLAIM", "s", "g", "c4", "0", "1-0", "LASTID", "2-0", "JUSTID"]), bulks(&["1-0"]));
    assert_eq!(groups_summary(&mut c, "s")[0][3], "4-0");
    // A pending entry deleted from the stream leaves the PEL when claimed.
    assert_eq!(c.call(&["XDEL", "s", "2-0"]), int(1));
    assert_eq!(c.call(&["XCLAIM", "s", "g", "c4", "0", "2-0", "3-0"]), arr(vec![entry("3-0", &["f", "v3"])]));
    assert_eq!(
        pending_rows(&c.call(&["XPENDING", "s", "g", "-", "+", "10"])).into_iter().map(|r| r.0).collect::<Vec<_>>(),
        ["1-0", "3-0", "4-0"]
    );
    // Errors.
    assert_eq!(c.call(&["XCLAIM", "s", "g", "c", "x", "1-0"]), err("ERR Invalid min-idle-time argument for XCLAIM"));
    assert_eq!(
        c.call(&["XCLAIM", "s", "g", "c", "0", "1-0", "IDLE", "x"]),
        err("ERR Invalid IDLE option argument for XCLAIM")
    );
    assert_eq!(
        c.call(&["XCLAIM", "s", "g", "c", "0", "1-0", "TIME", "x"]),
        err("ERR Invalid TIME option argument for XCLAIM")
    );
    assert_eq!(
        c.call(&["XCLAIM", "s", "g", "c", "0", "1-0", "RETRYCOUNT", "x"]),
        err("ERR Invalid RETRYCOUNT option argument for XCLAIM")
    );
    assert_eq!(c.call(&["XCLAIM", "s", "g", "c", "0", "1-0", "FOO"]), err("ERR Unrecognized XCLAIM option 'FOO'"));
    assert_eq!(c.call(&["XCLAIM", "s", "g", "c", "0", "bad"]), err("ERR Unrecognized XCLAIM option 'bad'"));
    assert_eq!(c.call(&["XCLAIM", "s", "g", "c", "0", "1-0", "LASTID", "bad"]), err(ERR_INVALID_ID));
    assert_eq!(
        c.call(&["XCLAIM", "s", "nog", "c", "0", "1-0"]),
        err("NOGROUP No such key 's' or consumer group 'nog'")
    );
    assert_eq!(
        c.call(&["XCLAIM", "nokey", "g", "c", "0", "1-0"]),
        err("NOGROUP No such key 'nokey' or consumer group 'g'")
    );
    assert_eq!(c.call(&["XCLAIM", "s", "g", "c", "0"]), err("ERR wrong number of arguments for 'xclaim' command"));
}

#[test]

fn xclaim_force_starts_the_delivery_count_at_one() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    add_ids(&mut c, "s", &["1-0", "2-0"]);
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "g", "$"]), ok());
    assert_eq!(c.call(&["XCLAIM", "s", "g", "c", "0", "1-0", "FORCE"]), fv_entries(&["1-0"]));
    assert_eq!(c.call(&["XCLAIM", "s", "g", "c", "0", "2-0", "FORCE", "JUSTID"]), bulks(&["2-0"]));
    assert_eq!(
        pending_rows(&c.call(&["XPENDING", "s", "g", "-", "+", "10"])),
        [row("1-0", "c", 2), row("2-0", "c", 1)]
    );
}

#[test]
fn xautoclaim_cursor_count_justid_and_deleted_entries() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    add_ids(&mut c, "s", &["1-0", "2-0", "3-0", "4-0", "5-0"]);
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "g", "0"]), ok());
    c.call(&["XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">"]);
    assert_eq!(c.call(&["XDEL", "s", "2-0", "4-0"]), int(2));
    // Deleted entries are reported (and dropped from the PEL); they count
    // against COUNT; the cursor is where the next call continues.
    assert_eq!(
        c.call(&["XAUTOCLAIM", "s", "g", "c2", "0", "0", "COUNT", "2"]),
        arr(vec![bulk("3-0"), fv_entries(&["1-0"]), bulks(&["2-0"])])
    );
    assert_eq!(
        c.call(&["XAUTOCLAIM", "s", "g", "c2", "0", "3-0", "COUNT", "2"]),
        arr(vec![bulk("5-0"), fv_entries(&["3-0"]), bulks(&["4-0"])])
    );
    assert_eq!(
        c.call(&["XAUTOCLAIM", "s", "g", "c2", "0", "5-0"]),
        arr(vec![bulk("0-0"), fv_entries(&["5-0"]), arr(vec![])])
    );
    // min-idle: recently delivered entries stay.
    assert_eq!(
        c.call(&["XAUTOCLAIM", "s", "g", "c3", "3600000", "0"]),
        arr(vec![bulk("0-0"), arr(vec![]), arr(vec![])])
    );
    // JUSTID, an exclusive start, and `-`.
    assert_eq!(
        c.call(&["XAUTOCLAIM", "s", "g", "c3", "0", "(1-0", "JUSTID"]),
        arr(vec![bulk("0-0"), bulks(&["3-0", "5-0"]), arr(vec![])])
    );
    assert_eq!(
        c.call(&["XAUTOCLAIM", "s", "g", "c3", "0", "-", "COUNT", "10", "JUSTID"]),
        arr(vec![bulk("0-0"), bulks(&["1-0", "3-0", "5-0"]), arr(vec![])])
    );
    // Deliveries: `>` 1, two XAUTOCLAIMs with entries +1 each, JUSTID +0.
    assert_eq!(
        pending_rows(&c.call(&["XPENDING", "s", "g", "-", "+", "10"])),
        [row("1-0", "c3", 2), row("3-0", "c3", 2), row("5-0", "c3", 2)]
    );
    assert_eq!(
        c.call(&["XPENDING", "s", "g"]),
        arr(vec![int(3), bulk("1-0"), bulk("5-0"), arr(vec![bulks(&["c3", "3"])])])
    );
    // Errors.
    for (args, want) in [
        (&["0", "0", "COUNT", "0"][..], "ERR COUNT must be > 0"),
        (&["0", "0", "COUNT", "x"], "ERR COUNT must be > 0"),
        (&["x", "0"], "ERR Invalid min-idle-time argument for XAUTOCLAIM"),
        (&["0", "bad"], ERR_INVALID_ID),
        (&["0", "0", "FOO"], "ERR syntax error"),
    ] {
        let mut a = vec!["XAUTOCLAIM", "s", "g", "c"];
        a.extend_from_slice(args);
        assert_eq!(c.call(&a), err(want), "{args:?}");
    }
    assert_eq!(
        c.call(&["XAUTOCLAIM", "s", "nog", "c", "0", "0"]),
        err("NOGROUP No such key 's' or consumer group 'nog'")
    );
    assert_eq!(
        c.call(&["XAUTOCLAIM", "nokey", "g", "c", "0", "0"]),
        err("NOGROUP No such key 'nokey' or consumer group 'g'")
    );
}
