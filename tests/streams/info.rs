//! XINFO STREAM [FULL], XINFO GROUPS and CONSUMERS, consumer groups'
//! entries-read and lag, and the reply shapes in RESP2 and RESP3 (`HELLO
//! 3` maps for XREAD, XREADGROUP and XINFO, nulls).

use super::common::{arr, bulk, bulks, err, int, nil, nil_array, ok, Raw, Resp, Server};
use super::groups::groups_summary;
use super::{add_ids, entry, field, fields, fv_entries, names, read_reply};

/// A RESP3 reply rewritten as RESP2 sends it: maps as flat arrays, nulls
/// as nil bulks (or nil arrays where `nil_is_array`).
fn as_resp2(r: Resp, nil_is_array: bool) -> Resp {
    match r {
        Resp::Map(m) => arr(m.into_iter().flat_map(|(k, v)| [as_resp2(k, false), as_resp2(v, false)]).collect()),
        Resp::Array(Some(items)) => arr(items.into_iter().map(|i| as_resp2(i, false)).collect()),
        Resp::Null if nil_is_array => nil_array(),
        Resp::Null => nil(),
        other => other,
    }
}

/// A connection switched to RESP3.
fn resp3(s: &Server) -> Raw {
    let mut c = s.raw();
    let Resp::Map(_) = c.call(&["HELLO", "3"]) else { panic!("HELLO 3") };
    c
}

/// The stream `s` of the XINFO tests: three entries, group `g` with
/// pending entries of known delivery times and counts (set with XCLAIM
/// TIME/RETRYCOUNT), an idle consumer, and group `g2` at the end.
pub(super) fn fill(c: &mut Raw) {
    assert_eq!(c.call(&["XADD", "s", "1-0", "a", "1"]), bulk("1-0"));
    assert_eq!(c.call(&["XADD", "s", "2-0", "b", "2", "c", "3"]), bulk("2-0"));
    assert_eq!(c.call(&["XADD", "s", "3-0", "a", "4"]), bulk("3-0"));
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "g", "0"]), ok());
    c.call(&["XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "s", ">"]);
    let claim = |c: &mut Raw, who, id, time, n| {
        let want = bulks(&[id]);
        assert_eq!(c.call(&["XCLAIM", "s", "g", who, "0", id, "TIME", time, "RETRYCOUNT", n, "JUSTID"]), want);
    };
    claim(c, "alice", "1-0", "1600000000000", "3");
    claim(c, "bob", "2-0", "1700000000000", "5");
    assert_eq!(c.call(&["XGROUP", "CREATECONSUMER", "s", "g", "carol"]), int(1));
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "g2", "$"]), ok());
}

#[test]
fn xinfo_stream_fields() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    fill(&mut c);
    let info = c.call(&["XINFO", "STREAM", "s"]);
    assert_eq!(
        names(&info),
        [
            "length",
            "radix-tree-keys",
            "radix-tree-nodes",
            "last-generated-id",
            "max-deleted-entry-id",
            "entries-added",
            "recorded-first-entry-id",
            "groups",
            "first-entry",
            "last-entry"
        ]
    );
    assert_eq!(field(&info, "length"), int(3));
    assert_eq!(field(&info, "radix-tree-keys"), int(1));
    assert!(matches!(field(&info, "radix-tree-nodes"), Resp::Int(n) if n >= 1));
    assert_eq!(field(&info, "last-generated-id"), bulk("3-0"));
    assert_eq!(field(&info, "max-deleted-entry-id"), bulk("0-0"));
    assert_eq!(field(&info, "entries-added"), int(3));
    assert_eq!(field(&info, "recorded-first-entry-id"), bulk("1-0"));
    assert_eq!(field(&info, "groups"), int(2));
    assert_eq!(field(&info, "first-entry"), entry("1-0", &["a", "1"]));
    assert_eq!(field(&info, "last-entry"), entry("3-0", &["a", "4"]));
    // After deleting the edges.
    assert_eq!(c.call(&["XDEL", "s", "1-0", "3-0"]), int(2));
    let info = c.call(&["XINFO", "STREAM", "s"]);
    assert_eq!(field(&info, "length"), int(1));
    assert_eq!(field(&info, "max-deleted-entry-id"), bulk("3-0"));
    assert_eq!(field(&info, "recorded-first-entry-id"), bulk("2-0"));
    assert_eq!(field(&info, "first-entry"), entry("2-0", &["b", "2", "c", "3"]));
    assert_eq!(field(&info, "last-entry"), entry("2-0", &["b", "2", "c", "3"]));
    // An empty stream: nil edges (a null in RESP3).
    assert_eq!(c.call(&["XADD", "e", "MAXLEN", "0", "7-0", "f", "v"]), bulk("7-0"));
    let info = c.call(&["XINFO", "STREAM", "e"]);
    assert_eq!(field(&info, "length"), int(0));
    assert_eq!(field(&info, "radix-tree-keys"), int(0));
    assert_eq!(field(&info, "last-generated-id"), bulk("7-0"));
    assert_eq!(field(&info, "recorded-first-entry-id"), bulk("0-0"));
    assert_eq!(field(&info, "first-entry"), nil());
    assert_eq!(field(&info, "last-entry"), nil());
    let mut c3 = resp3(&s);
    let info3 = c3.call(&["XINFO", "STREAM", "e"]);
    assert!(matches!(info3, Resp::Map(_)), "{info3:?}");
    assert_eq!(field(&info3, "first-entry"), Resp::Null);
    assert_eq!(as_resp2(info3, false), info);
    // Errors.
    assert_eq!(c.call(&["XINFO", "STREAM", "nokey"]), err("ERR no such key"));
    assert_eq!(c.call(&["XINFO", "STREAM"]), err("ERR wrong number of arguments for 'xinfo|stream' command"));
    assert_eq!(
        c.call(&["XINFO", "STREAM", "s", "FOO"]),
        err("ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP.")
    );
    assert_eq!(
        c.call(&["XINFO", "STREAM", "s", "FULL", "COUNT"]),
        err("ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP.")
    );
    assert_eq!(
        c.call(&["XINFO", "STREAM", "s", "FULL", "COUNT", "x"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(c.call(&["XINFO", "FOO", "s"]), err("ERR unknown subcommand 'FOO'. Try XINFO HELP."));
    assert_eq!(c.call(&["XINFO"]), err("ERR wrong number of arguments for 'xinfo' command"));
}

#[test]

fn xinfo_stream_option_error_echoes_the_subcommand() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["XADD", "s", "1-0", "f", "v"]), bulk("1-0"));
    assert_eq!(
        c.call(&["xinfo", "stream", "s", "foo"]),
        err("ERR unknown subcommand or wrong number of arguments for 'stream'. Try XINFO HELP.")
    );
}

#[test]
fn xinfo_stream_full_fields() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    fill(&mut c);
    let full = c.call(&["XINFO", "STREAM", "s", "FULL"]);
    assert_eq!(
        names(&full),
        [
            "length",
            "radix-tree-keys",
            "radix-tree-nodes",
            "last-generated-id",
            "max-deleted-entry-id",
            "entries-added",
            "recorded-first-entry-id",
            "entries",
            "groups"
        ]
    );
    assert_eq!(
        field(&full, "entries"),
        arr(vec![entry("1-0", &["a", "1"]), entry("2-0", &["b", "2", "c", "3"]), entry("3-0", &["a", "4"])])
    );
    let Resp::Array(Some(groups)) = field(&full, "groups") else { panic!("groups") };
    assert_eq!(groups.len(), 2);
    let g = &groups[0];
    assert_eq!(names(g), ["name", "last-delivered-id", "entries-read", "lag", "pel-count", "pending", "consumers"]);
    assert_eq!(field(g, "name"), bulk("g"));
    assert_eq!(field(g, "last-delivered-id"), bulk("2-0"));
    assert_eq!(field(g, "entries-read"), int(2));
    assert_eq!(field(g, "lag"), int(1));
    assert_eq!(field(g, "pel-count"), int(2));
    assert_eq!(
        field(g, "pending"),
        arr(vec![
            arr(vec![bulk("1-0"), bulk("alice"), int(1_600_000_000_000), int(3)]),
            arr(vec![bulk("2-0"), bulk("bob"), int(1_700_000_000_000), int(5)]),
        ])
    );
    let Resp::Array(Some(consumers)) = field(g, "consumers") else { panic!("consumers") };
    let summary: Vec<(Resp, Resp, Resp)> =
        consumers.iter().map(|x| (field(x, "name"), field(x, "pel-count"), field(x, "pending"))).collect();
    assert_eq!(
        summary,
        [
            (bulk("alice"), int(1), arr(vec![arr(vec![bulk("1-0"), int(1_600_000_000_000), int(3)])])),
            (bulk("bob"), int(1), arr(vec![arr(vec![bulk("2-0"), int(1_700_000_000_000), int(5)])])),
            (bulk("carol"), int(0), arr(vec![])),
        ]
    );
    for x in &consumers {
        assert_eq!(names(x), ["name", "seen-time", "pel-count", "pending"]);
        assert!(matches!(field(x, "seen-time"), Resp::Int(t) if t > 1_700_000_000_000), "{x:?}");
    }
    let g2 = &groups[1];
    assert_eq!(field(g2, "name"), bulk("g2"));
    assert_eq!(field(g2, "last-delivered-id"), bulk("3-0"));
    assert_eq!(field(g2, "entries-read"), nil());
    assert_eq!(field(g2, "lag"), int(0));
    assert_eq!(field(g2, "pending"), arr(vec![]));
    assert_eq!(field(g2, "consumers"), arr(vec![]));
    // COUNT limits the entries and each PEL; 0 means everything.
    let one = c.call(&["XINFO", "STREAM", "s", "FULL", "COUNT", "1"]);
    assert_eq!(field(&one, "entries"), arr(vec![entry("1-0", &["a", "1"])]));
    let Resp::Array(Some(groups1)) = field(&one, "groups") else { panic!("groups") };
    let Resp::Array(Some(pending)) = field(&groups1[0], "pending") else { panic!("pending") };
    assert_eq!(pending.len(), 1);
    assert_eq!(field(&groups1[0], "pel-count"), int(2));
    assert_eq!(c.call(&["XINFO", "STREAM", "s", "FULL", "COUNT", "0"]), full);
    // RESP3: the same content in maps.
    let mut c3 = resp3(&s);
    let full3 = c3.call(&["XINFO", "STREAM", "s", "FULL"]);
    assert!(matches!(&full3, Resp::Map(_)));
    let Resp::Array(Some(groups3)) = field(&full3, "groups") else { panic!("groups") };
    assert!(matches!(&groups3[0], Resp::Map(_)));
    assert!(matches!(field(&groups3[0], "consumers"), Resp::Array(Some(cs)) if matches!(cs[0], Resp::Map(_))));
    assert_eq!(field(&groups3[1], "entries-read"), Resp::Null);
    assert_eq!(as_resp2(full3, false), full);
}

#[test]
fn xinfo_groups_and_consumers() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    fill(&mut c);
    let groups = c.call(&["XINFO", "GROUPS", "s"]);
    let Resp::Array(Some(list)) = &groups else { panic!("{groups:?}") };
    assert_eq!(names(&list[0]), ["name", "consumers", "pending", "last-delivered-id", "entries-read", "lag"]);
    assert_eq!(
        groups_summary(&mut c, "s"),
        [["g", "3", "2", "2-0", "2", "1"].map(String::from), ["g2", "0", "0", "3-0", "nil", "0"].map(String::from)]
    );
    let consumers = c.call(&["XINFO", "CONSUMERS", "s", "g"]);
    let Resp::Array(Some(cs)) = &consumers else { panic!("{consumers:?}") };
    let rows: Vec<(Resp, Resp)> = cs.iter().map(|x| (field(x, "name"), field(x, "pending"))).collect();
    assert_eq!(rows, [(bulk("alice"), int(1)), (bulk("bob"), int(1)), (bulk("carol"), int(0))]);
    for x in cs {
        assert_eq!(names(x), ["name", "pending", "idle"]);
        assert!(matches!(field(x, "idle"), Resp::Int(i) if i >= 0));
    }
    assert_eq!(c.call(&["XINFO", "CONSUMERS", "s", "g2"]), arr(vec![]));
    assert_eq!(
        c.call(&["XINFO", "CONSUMERS", "s", "nog"]),
        err("NOGROUP No such consumer group 'nog' for key name 's'")
    );
    assert_eq!(c.call(&["XINFO", "CONSUMERS", "nokey", "g"]), err("ERR no such key"));
    assert_eq!(c.call(&["XINFO", "GROUPS", "nokey"]), err("ERR no such key"));
    assert_eq!(c.call(&["XINFO", "GROUPS", "s", "x"]), err("ERR wrong number of arguments for 'xinfo|groups' command"));
    assert_eq!(
        c.call(&["XINFO", "CONSUMERS", "s"]),
        err("ERR wrong number of arguments for 'xinfo|consumers' command")
    );
    // RESP3: arrays of maps with the same content.
    let mut c3 = resp3(&s);
    let groups3 = c3.call(&["XINFO", "GROUPS", "s"]);
    assert!(matches!(&groups3, Resp::Array(Some(l)) if matches!(l[0], Resp::Map(_))));
    assert_eq!(as_resp2(groups3, false), groups);
    let consumers3 = c3.call(&["XINFO", "CONSUMERS", "s", "g"]);
    let Resp::Array(Some(cs3)) = &consumers3 else { panic!("{consumers3:?}") };
    assert!(cs3.iter().all(|x| matches!(x, Resp::Map(m) if m.len() == 3)));
    assert_eq!(fields(&cs3[2])[..2], fields(&cs[2])[..2]);
}

#[test]
fn entries_read_and_lag_follow_redis() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    add_ids(&mut c, "s", &["1-0", "2-0", "3-0", "4-0", "5-0"]);
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "g", "0"]), ok());
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "late", "$"]), ok());
    assert_eq!(c.call(&["XGROUP", "CREATE", "s", "mid", "2-0"]), ok());
    // (name, last-delivered-id, entries-read, lag) of each group.
    let check = |c: &mut Raw, want: [[&str; 4]; 3], step: &str| {
        let got: Vec<[String; 4]> = groups_summary(c, "s")
            .into_iter()
            .map(|g| [g[0].clone(), g[3].clone(), g[4].clone(), g[5].clone()])
            .collect();
        assert_eq!(got, want.map(|g| g.map(String::from)), "after {step}");
    };
    check(&mut c, [["g", "0-0", "nil", "5"], ["late", "5-0", "nil", "0"], ["mid", "2-0", "nil", "nil"]], "create");
    c.call(&["XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">"]);
    check(&mut c, [["g", "1-0", "1", "4"], ["late", "5-0", "nil", "0"], ["mid", "2-0", "nil", "nil"]], "read 1");
    // A deletion after the group's position makes the lag unknown.
    assert_eq!(c.call(&["XDEL", "s", "3-0"]), int(1));
    check(&mut c, [["g", "1-0", "1", "nil"], ["late", "5-0", "nil", "0"], ["mid", "2-0", "nil", "nil"]], "xdel 3");
    c.call(&["XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "s", ">"]);
    check(&mut c, [["g", "4-0", "nil", "nil"], ["late", "5-0", "nil", "0"], ["mid", "2-0", "nil", "nil"]], "read 2, 4");
    // Reading to the end makes the counter known again.
    c.call(&["XREADGROUP", "GROUP", "mid", "c", "STREAMS", "s", ">"]);
    check(
        &mut c,
        [["g", "4-0", "nil", "nil"], ["late", "5-0", "nil", "0"], ["mid", "5-0", "5", "0"]],
        "mid to the end",
    );
    assert_eq!(c.call(&["XADD", "s", "6-0", "f", "v"]), bulk("6-0"));
    check(&mut c, [["g", "4-0", "nil", "nil"], ["late", "5-0", "nil", "nil"], ["mid", "5-0", "5", "1"]], "xadd 6");
    assert_eq!(c.call(&["XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "0"]), ok());
    check(&mut c, [["g", "0-0", "0", "nil"], ["late", "5-0", "nil", "nil"], ["mid", "5-0", "5", "1"]], "setid 0");
    assert_eq!(c.call(&["XGROUP", "SETID", "s", "g", "$"]), ok());
    check(&mut c, [["g", "6-0", "nil", "0"], ["late", "5-0", "nil", "nil"], ["mid", "5-0", "5", "1"]], "setid $");
    // Trimming past the deleted entry: the first id tells the lag again.
    assert_eq!(c.call(&["XGROUP", "SETID", "s", "late", "0"]), ok());
    assert_eq!(c.call(&["XTRIM", "s", "MAXLEN", "1"]), int(4));
    check(&mut c, [["g", "6-0", "nil", "0"], ["late", "0-0", "nil", "1"], ["mid", "5-0", "5", "1"]], "xtrim 1");
    c.call(&["XREADGROUP", "GROUP", "late", "c", "STREAMS", "s", ">"]);
    check(&mut c, [["g", "6-0", "nil", "0"], ["late", "6-0", "6", "0"], ["mid", "5-0", "5", "1"]], "late to the end");
}

#[test]
fn xread_replies_in_resp2_and_resp3() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    add_ids(&mut c, "a", &["1-0", "2-0"]);
    add_ids(&mut c, "b", &["1-0"]);
    assert_eq!(c.call(&["XREAD", "STREAMS", "a", "0"]), read_reply("a", fv_entries(&["1-0", "2-0"])));
    assert_eq!(c.call(&["XREAD", "COUNT", "1", "STREAMS", "a", "0"]), read_reply("a", fv_entries(&["1-0"])));
    assert_eq!(c.call(&["XREAD", "STREAMS", "a", "1"]), read_reply("a", fv_entries(&["2-0"])));
    assert_eq!(c.call(&["XREAD", "STREAMS", "a", "1-0"]), read_reply("a", fv_entries(&["2-0"])));
    let both = arr(vec![arr(vec![bulk("b"), fv_entries(&["1-0"])]), arr(vec![bulk("a"), fv_entries(&["2-0"])])]);
    assert_eq!(c.call(&["XREAD", "STREAMS", "b", "nokey", "a", "0", "0", "1"]), both);
    // Nothing to read: a nil array (a null in RESP3).
    assert_eq!(c.call(&["XREAD", "STREAMS", "a", "$"]), nil_array());
    assert_eq!(c.call(&["XREAD", "STREAMS", "a", "2-0"]), nil_array());
    assert_eq!(c.call(&["XREAD", "STREAMS", "nokey", "0"]), nil_array());
    // Errors.
    assert_eq!(
        c.call(&["XREAD", "STREAMS", "a", ">"]),
        err("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.")
    );
    assert_eq!(
        c.call(&["XREAD", "GROUP", "g", "c", "STREAMS", "a", "0"]),
        err("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.")
    );
    assert_eq!(
        c.call(&["XREAD", "NOACK", "STREAMS", "a", "0"]),
        err("ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.")
    );
    assert_eq!(
        c.call(&["XREAD", "COUNT", "1", "STREAMS", "a"]),
        err("ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.")
    );
    assert_eq!(c.call(&["XREAD", "STREAMS", "a"]), err("ERR wrong number of arguments for 'xread' command"));
    assert_eq!(c.call(&["XREAD", "FOO", "STREAMS", "a", "0"]), err("ERR syntax error"));
    assert_eq!(
        c.call(&["XREAD", "COUNT", "x", "STREAMS", "a", "0"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        c.call(&["XREAD", "BLOCK", "x", "STREAMS", "a", "0"]),
        err("ERR timeout is not an integer or out of range")
    );
    assert_eq!(c.call(&["XREAD", "BLOCK", "-1", "STREAMS", "a", "0"]), err("ERR timeout is negative"));
    assert_eq!(c.call(&["XREAD", "STREAMS", "a", "bad"]), err(super::ERR_INVALID_ID));
    // RESP3: a map from stream to entries, a null for nothing.
    let mut c3 = resp3(&s);
    assert_eq!(
        c3.call(&["XREAD", "STREAMS", "b", "nokey", "a", "0", "0", "1"]),
        Resp::Map(vec![(bulk("b"), fv_entries(&["1-0"])), (bulk("a"), fv_entries(&["2-0"]))])
    );
    assert_eq!(c3.call(&["XREAD", "STREAMS", "a", "$"]), Resp::Null);
    assert_eq!(c3.call(&["XREAD", "BLOCK", "1", "STREAMS", "a", "$"]), Resp::Null);
    assert_eq!(c3.call(&["XGROUP", "CREATE", "a", "g", "0"]), ok());
    assert_eq!(
        c3.call(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", ">"]),
        Resp::Map(vec![(bulk("a"), fv_entries(&["1-0", "2-0"]))])
    );
    assert_eq!(c3.call(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", ">"]), Resp::Null);
    assert_eq!(
        c3.call(&["XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", "0"]),
        Resp::Map(vec![(bulk("a"), fv_entries(&["1-0", "2-0"]))])
    );
    // Other replies with nils: XRANGE COUNT 0 and an empty XPENDING summary.
    assert_eq!(c3.call(&["XRANGE", "a", "-", "+", "COUNT", "0"]), Resp::Null);
    assert_eq!(c3.call(&["XGROUP", "CREATE", "a", "g2", "$"]), ok());
    assert_eq!(c3.call(&["XPENDING", "a", "g2"]), arr(vec![int(0), Resp::Null, Resp::Null, Resp::Null]));
    let id = super::common::text(c3.call(&["XADD", "a", "NOMKSTREAM", "*", "f", "v"]));
    assert_eq!(super::ids_of(&c3.call(&["XREVRANGE", "a", "+", "-", "COUNT", "1"])), [id]);
    assert_eq!(c3.call(&["XADD", "nokey", "NOMKSTREAM", "*", "f", "v"]), Resp::Null);
}
