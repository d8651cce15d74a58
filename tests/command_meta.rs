//! `COMMAND INFO`, `COMMAND DOCS` and `COMMAND GETKEYS/GETKEYSANDFLAGS`
//! compared, command by command, with a real `redis-server` 7.0 started by
//! the test (skipped, saying so, when it is not installed). Client
//! libraries read these to find keys and route commands, so every command
//! this server has must be described as Redis describes it.

mod common;
use common::{Raw, RealRedis, Resp, Server};

fn resp3(port: u16) -> Raw {
    let mut c = Raw::connect(port);
    c.call(&["HELLO", "3"]);
    c
}

fn name_of(entry: &Resp) -> String {
    match entry {
        Resp::Array(Some(fields)) => common::text(fields[0].clone()),
        other => panic!("not an entry: {other:?}"),
    }
}

/// The entries of a RESP3 set or array.
fn items(r: &Resp) -> Vec<Resp> {
    match r {
        Resp::Array(Some(v)) | Resp::Set(v) => v.clone(),
        other => panic!("not a list: {other:?}"),
    }
}

/// Checks our `COMMAND INFO` entry against Redis's: every field equal, our
/// subcommands a subset of Redis's (this server may lack some), each equal.
fn same_info(name: &str, ours: &Resp, redis: &Resp, wrong: &mut Vec<String>) {
    let (o, r) = (items(ours), items(redis));
    if o.len() != 10 || r.len() != 10 {
        wrong.push(format!("{name}: entry of {} fields (Redis {})", o.len(), r.len()));
        return;
    }
    for i in 0..9 {
        if o[i] != r[i] {
            wrong.push(format!("{name}: field {i} is {:?}, Redis {:?}", o[i], r[i]));
        }
    }
    let redis_subs = items(&r[9]);
    for sub in items(&o[9]) {
        match redis_subs.iter().find(|s| name_of(s) == name_of(&sub)) {
            Some(theirs) => same_info(&name_of(&sub), &sub, theirs, wrong),
            None => wrong.push(format!("{name}: subcommand {} unknown to Redis", name_of(&sub))),
        }
    }
}

/// Checks our `COMMAND DOCS` map against Redis's, `subcommands` a subset.
fn same_docs(name: &str, ours: &Resp, redis: &Resp, wrong: &mut Vec<String>) {
    let (Resp::Map(o), Resp::Map(r)) = (ours, redis) else {
        wrong.push(format!("{name}: docs {ours:?}, Redis {redis:?}"));
        return;
    };
    let keys = |m: &Vec<(Resp, Resp)>| m.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    if keys(o) != keys(r) {
        wrong.push(format!("{name}: doc fields {:?}, Redis {:?}", keys(o), keys(r)));
        return;
    }
    for ((k, ov), (_, rv)) in o.iter().zip(r) {
        if *k == common::bulk("subcommands") {
            let (Resp::Map(os), Resp::Map(rs)) = (ov, rv) else { continue };
            for (sub, od) in os {
                match rs.iter().find(|(s, _)| s == sub) {
                    Some((_, rd)) => same_docs(&common::text(sub.clone()), od, rd, wrong),
                    None => wrong.push(format!("{name}: documented subcommand {sub:?} unknown to Redis")),
                }
            }
        } else if ov != rv {
            wrong.push(format!("{name}: docs {k:?} is {ov:?}, Redis {rv:?}"));
        }
    }
}

#[test]
fn command_info_and_docs_equal_redis_for_every_command() {
    let Some(redis) = RealRedis::start(&[]) else { return };
    let ours = Server::start(&[]);
    let (mut o, mut r) = (resp3(ours.port), resp3(redis.port));
    let names = common::strings(o.call(&["COMMAND", "LIST"]));
    let mut wrong = Vec::new();
    let mut ours_only = Vec::new();
    let mut compared = 0;
    for name in names.iter().filter(|n| !n.contains('|')) {
        let theirs = items(&r.call(&["COMMAND", "INFO", name])).remove(0);
        if theirs == Resp::Null {
            ours_only.push(name.clone());
            continue;
        }
        compared += 1;
        let mine = items(&o.call(&["COMMAND", "INFO", name])).remove(0);
        same_info(name, &mine, &theirs, &mut wrong);
        let docs = |c: &mut Raw| match c.call(&["COMMAND", "DOCS", name]) {
            Resp::Map(mut m) if m.len() == 1 => m.remove(0).1,
            other => panic!("COMMAND DOCS {name}: {other:?}"),
        };
        same_docs(name, &docs(&mut o), &docs(&mut r), &mut wrong);
    }
    // `container|sub` asked for directly.
    for name in names.iter().filter(|n| n.contains('|')) {
        let theirs = items(&r.call(&["COMMAND", "INFO", name])).remove(0);
        if theirs == Resp::Null {
            ours_only.push(name.clone());
            continue;
        }
        let mine = items(&o.call(&["COMMAND", "INFO", name])).remove(0);
        same_info(name, &mine, &theirs, &mut wrong);
    }
    assert!(wrong.is_empty(), "{} differences from redis-server:\n{}", wrong.len(), wrong.join("\n"));
    assert!(compared > 200, "only {compared} commands compared");
    // The original project's names, and the later subcommands kept for
    // newer clients (CLIENT SETINFO, CLIENT NO-TOUCH).
    ours_only.sort();
    assert_eq!(ours_only, ["client|no-touch", "client|setinfo", "lget", "remove", "size"]);
}

#[test]
fn getkeys_and_flags_equal_redis() {
    let Some(redis) = RealRedis::start(&[]) else { return };
    let ours = Server::start(&[]);
    let (mut o, mut r) = (resp3(ours.port), resp3(redis.port));
    let calls: &[&str] = &[
        "set k1 v1",
        "set k1 v1 get",
        "mset k1 v1 k2 v2",
        "lmove k1 k2 left right",
        "blmove k1 k2 left right 0",
        "sort k1 store k2",
        "sort_ro k1",
        "zunionstore d 2 a b weights 1 2",
        "zinter 2 a b",
        "lmpop 2 a b left",
        "blmpop 0 2 a b left count 2",
        "eval x 2 a b c",
        "fcall f 1 a",
        "xread count 2 streams s1 s2 0 0",
        "xreadgroup group g c streams s1 s2 > >",
        "georadius k 0 0 1 km store d",
        "georadiusbymember k m 1 km storedist d",
        "geosearchstore d s frommember m byradius 1 km",
        "migrate h 1 <empty> 0 10 keys a b",
        "migrate h 1 k 0 10 keys a b",
        "migrate h 1 <empty> 0 10 auth keys keys a b",
        "migrate h 1 k 0 10",
        "memory usage key",
        "xgroup create key g $",
        "object encoding key",
        "bitfield k get u8 0",
        "bitfield k set u8 0 1",
        "bitfield_ro k get u8 0",
        "rename a b",
        "copy a b",
        "smove a b m",
        "getdel k",
        "getex k ex 1",
        "pfmerge d a b",
        "bitop and d a b",
        "del a b c",
        "touch a b",
        "restore k 0 x",
        "lpush k a",
        "hset h f v",
        "incr k",
        "expire k 10",
        "xadd s * f v",
        "xautoclaim s g c 0 0",
    ];
    let mut wrong = Vec::new();
    for call in calls {
        for sub in ["GETKEYS", "GETKEYSANDFLAGS"] {
            let mut args = vec!["COMMAND", sub];
            args.extend(call.split(' ').map(|a| if a == "<empty>" { "" } else { a }));
            let (mine, theirs) = (o.call(&args), r.call(&args));
            if mine != theirs {
                wrong.push(format!("COMMAND {sub} {call}: {mine:?}, Redis {theirs:?}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
