//! Server commands against the real binary: INFO, CONFIG, COMMAND, DEBUG,
//! LATENCY, FUNCTION, maxclients, SHUTDOWN and SIGTERM. Connection
//! commands (PING, SELECT, HELLO, CLIENT, AUTH, QUIT/RESET) are in
//! `connection_cmds.rs`.

mod common;

use common::{arr, bulk, err, info_field as field, int, ok, status, strings, text, wait_for, Raw, Resp, Server};

/// A RESP2 flat key/value array as pairs of strings.
fn pairs(r: Resp) -> Vec<(String, String)> {
    let v = strings(r);
    v.chunks(2).map(|c| (c[0].clone(), c[1].clone())).collect()
}

#[test]
fn info_sections_and_fields() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut second = s.raw();
    assert_eq!(second.call(&["PING"]), status("PONG"));
    assert_eq!(r.call(&["SET", "a", "1"]), ok());
    assert_eq!(r.call(&["SET", "b", "2", "EX", "100"]), ok());
    let info = text(r.call(&["INFO"]));
    for section in
        ["# Server", "# Clients", "# Memory", "# Persistence", "# Stats", "# Replication", "# CPU", "# Keyspace"]
    {
        assert!(info.contains(section), "missing {section}");
    }
    assert!(field(&info, "redis_version").unwrap().starts_with("7."));
    assert_eq!(field(&info, "arch_bits").as_deref(), Some("64"));
    assert_eq!(field(&info, "redis_mode").as_deref(), Some("standalone"));
    assert_eq!(field(&info, "tcp_port"), Some(s.port.to_string()));
    assert_eq!(field(&info, "process_id"), Some(s.pid().to_string()));
    assert!(field(&info, "connected_clients").unwrap().parse::<i64>().unwrap() >= 1);
    assert!(field(&info, "used_memory").unwrap().parse::<u64>().unwrap() > 0);
    assert!(field(&info, "total_commands_processed").unwrap().parse::<u64>().unwrap() >= 3);
    assert_eq!(field(&info, "role").as_deref(), Some("master"));
    assert!(field(&info, "db0").unwrap().starts_with("keys=2,expires=1,avg_ttl="), "{info}");
    assert!(info.contains("\r\n"), "lines end with CRLF");
    // One section, several, and the special names.
    let server = text(r.call(&["INFO", "server"]));
    assert!(server.starts_with("# Server\r\n") && !server.contains("# Clients"));
    let two = text(r.call(&["INFO", "CLIENTS", "keyspace"]));
    assert!(two.contains("# Clients") && two.contains("# Keyspace") && !two.contains("# Server"));
    assert!(text(r.call(&["INFO", "all"])).contains("# Keyspace"));
    assert!(text(r.call(&["INFO", "everything"])).contains("# Stats"));
    assert!(text(r.call(&["INFO", "default"])).contains("# Memory"));
    assert_eq!(text(r.call(&["INFO", "nosuchsection"])), "");
    // connected_clients follows connections.
    let extra: Vec<Raw> = (0..3)
        .map(|_| {
            let mut c = s.raw();
            assert_eq!(c.call(&["PING"]), status("PONG"));
            c
        })
        .collect();
    let n = |r: &mut Raw| field(&text(r.call(&["INFO", "clients"])), "connected_clients").unwrap();
    assert_eq!(n(&mut r), "5");
    drop(extra);
    wait_for(5, "closed clients to be unregistered", || n(&mut r) == "2");
}

#[test]
fn config_get_patterns() {
    let s = Server::start(&["--maxmemory", "1mb"]);
    let mut r = s.raw();
    assert_eq!(pairs(r.call(&["CONFIG", "GET", "maxmemory"])), [("maxmemory".to_string(), "1048576".to_string())]);
    assert_eq!(pairs(r.call(&["CONFIG", "GET", "MAXMEMORY"])).len(), 1, "names are case-insensitive");
    let mm: Vec<String> = pairs(r.call(&["CONFIG", "GET", "maxmemory*"])).into_iter().map(|p| p.0).collect();
    for name in ["maxmemory", "maxmemory-policy", "maxmemory-samples"] {
        assert!(mm.contains(&name.to_string()), "{mm:?}");
    }
    assert!(mm.iter().all(|n| n.starts_with("maxmemory")));
    let several = pairs(r.call(&["CONFIG", "GET", "port", "hz", "databases", "nosuch"]));
    let got: std::collections::HashMap<String, String> = several.into_iter().collect();
    assert_eq!(got.len(), 3);
    assert_eq!(got["port"], s.port.to_string());
    assert_eq!(got["hz"], "10");
    assert_eq!(got["databases"], "16");
    // Duplicates through two patterns are listed once.
    assert_eq!(pairs(r.call(&["CONFIG", "GET", "hz", "h?"])).len(), 1);
    assert!(pairs(r.call(&["CONFIG", "GET", "*"])).len() >= 30);
    assert_eq!(r.call(&["CONFIG", "GET", "nosuch*"]), arr(vec![]));
    assert_eq!(pairs(r.call(&["CONFIG", "GET", "save"])), [("save".to_string(), "".to_string())]);
    assert_eq!(r.call(&["CONFIG", "GET"]), err("ERR wrong number of arguments for 'config|get' command"));
}

#[test]
fn config_set_is_all_or_nothing() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["CONFIG", "SET", "hz", "20", "maxmemory", "2mb", "timeout", "300"]), ok());
    let got: Vec<(String, String)> = pairs(r.call(&["CONFIG", "GET", "hz", "maxmemory", "timeout"]));
    assert!(got.contains(&("hz".into(), "20".into())));
    assert!(got.contains(&("maxmemory".into(), "2097152".into())));
    assert!(got.contains(&("timeout".into(), "300".into())));
    // One bad value: nothing changes.
    assert_eq!(
        r.call(&["CONFIG", "SET", "hz", "30", "maxmemory", "abc"]),
        err("ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value")
    );
    assert_eq!(pairs(r.call(&["CONFIG", "GET", "hz"])), [("hz".to_string(), "20".to_string())]);
    assert_eq!(
        r.call(&["CONFIG", "SET", "hz", "30", "nosuch", "1"]),
        err("ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'")
    );
    assert_eq!(pairs(r.call(&["CONFIG", "GET", "hz"])), [("hz".to_string(), "20".to_string())]);
    assert_eq!(
        r.call(&["CONFIG", "SET", "maxmemory", "10", "maxmemory", "20"]),
        err("ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter")
    );
    assert_eq!(
        r.call(&["CONFIG", "SET", "databases", "4"]),
        err("ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config")
    );
    assert_eq!(
        r.call(&["CONFIG", "SET", "maxmemory-policy", "sometimes"]),
        err("ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: noeviction, allkeys-lru, volatile-lru, allkeys-lfu, volatile-lfu, allkeys-random, volatile-random, volatile-ttl")
    );
    assert_eq!(r.call(&["CONFIG", "SET", "MAXMEMORY-POLICY", "ALLKEYS-LRU"]), ok());
    assert_eq!(pairs(r.call(&["CONFIG", "GET", "maxmemory-policy"]))[0].1, "allkeys-lru");
    assert_eq!(r.call(&["CONFIG", "SET", "hz", "10", "maxmemory"]), err("ERR syntax error"));
    assert_eq!(r.call(&["CONFIG", "SET", "hz"]), err("ERR wrong number of arguments for 'config|set' command"));
    assert_eq!(r.call(&["CONFIG", "REWRITE"]), err("ERR The server is running without a config file"));
    assert_eq!(r.call(&["CONFIG", "FOO"]), err("ERR unknown subcommand 'FOO'. Try CONFIG HELP."));
    assert_eq!(
        r.call(&["CONFIG", "RESETSTAT", "x"]),
        err("ERR wrong number of arguments for 'config|resetstat' command")
    );
    let help = strings(r.call(&["CONFIG", "HELP"]));
    assert!(help[0].starts_with("CONFIG <subcommand>"));
}

#[test]
fn config_resetstat_clears_counters() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "k", "v"]), ok());
    for _ in 0..10 {
        assert_eq!(r.call(&["GET", "k"]), bulk("v"));
        assert_eq!(r.call(&["GET", "nokey"]), Resp::Bulk(None));
    }
    assert_eq!(r.call(&["NOSUCHCMD"]), err("ERR unknown command 'NOSUCHCMD', with args beginning with: "));
    let before = text(r.call(&["INFO", "stats"]));
    assert_eq!(field(&before, "keyspace_hits").as_deref(), Some("10"));
    assert_eq!(field(&before, "keyspace_misses").as_deref(), Some("10"));
    assert!(field(&before, "total_commands_processed").unwrap().parse::<u64>().unwrap() >= 22);
    assert_eq!(field(&before, "total_error_replies").as_deref(), Some("1"));
    assert_eq!(r.call(&["CONFIG", "RESETSTAT"]), ok());
    let after = text(r.call(&["INFO", "stats"]));
    assert_eq!(field(&after, "keyspace_hits").as_deref(), Some("0"));
    assert_eq!(field(&after, "keyspace_misses").as_deref(), Some("0"));
    assert_eq!(field(&after, "total_error_replies").as_deref(), Some("0"));
    assert!(field(&after, "total_commands_processed").unwrap().parse::<u64>().unwrap() <= 2);
    assert_eq!(r.call(&["GET", "k"]), bulk("v"), "data is untouched");
}

#[test]
fn command_introspection() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let Resp::Int(count) = r.call(&["COMMAND", "COUNT"]) else { panic!() };
    assert!(count > 60, "{count}");
    let list = strings(r.call(&["COMMAND", "LIST"]));
    // COMMAND COUNT counts commands; COMMAND LIST also names their subcommands.
    assert_eq!(list.iter().filter(|n| !n.contains('|')).count() as i64, count);
    for name in ["get", "set", "del", "multi", "client", "size", "remove"] {
        assert!(list.contains(&name.to_string()), "{name}");
    }
    let Resp::Array(Some(info)) = r.call(&["COMMAND", "INFO", "get", "nosuch", "MSET"]) else { panic!() };
    assert_eq!(info.len(), 3);
    let Resp::Array(Some(get)) = &info[0] else { panic!() };
    assert_eq!(get[0], bulk("get"));
    assert_eq!(get[1], int(2));
    assert_eq!(get[2], arr(vec![status("readonly"), status("fast")]));
    assert_eq!(&get[3..6], &[int(1), int(1), int(1)]);
    assert_eq!(info[1], Resp::Bulk(None));
    let Resp::Array(Some(mset)) = &info[2] else { panic!() };
    assert_eq!(&mset[..2], &[bulk("mset"), int(-3)]);
    assert_eq!(&mset[3..6], &[int(1), int(-1), int(2)]);
    let Resp::Array(Some(docs)) = r.call(&["COMMAND", "DOCS", "get"]) else { panic!() };
    assert_eq!(docs[0], bulk("get"));
    let Resp::Array(Some(fields)) = &docs[1] else { panic!("{docs:?}") };
    let field = |name: &str| fields.chunks(2).find(|kv| kv[0] == bulk(name)).map(|kv| kv[1].clone());
    assert_eq!(field("group"), Some(bulk("string")));
    assert_eq!(field("summary"), Some(bulk("Get the value of a key")));
    assert!(matches!(field("arguments"), Some(Resp::Array(Some(_)))));
    assert_eq!(r.call(&["COMMAND", "DOCS", "nosuch"]), arr(vec![]));
    let g: Vec<String> = strings(r.call(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "get*"]));
    assert!(g.contains(&"get".into()) && g.contains(&"getrange".into()) && g.iter().all(|n| n.starts_with("get")));
    let cat = strings(r.call(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "string"]));
    assert!(cat.contains(&"incrbyfloat".into()) && !cat.contains(&"del".into()));
    assert_eq!(r.call(&["COMMAND", "LIST", "FILTERBY", "MODULE", "x"]), arr(vec![]));
    assert_eq!(r.call(&["COMMAND", "LIST", "FOO"]), err("ERR syntax error"));
    // GETKEYS.
    assert_eq!(r.call(&["COMMAND", "GETKEYS", "SET", "a", "b"]), arr(vec![bulk("a")]));
    assert_eq!(r.call(&["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"]), arr(vec![bulk("a"), bulk("b")]));
    assert_eq!(r.call(&["COMMAND", "GETKEYS", "LMPOP", "2", "a", "b", "LEFT"]), arr(vec![bulk("a"), bulk("b")]));
    assert_eq!(
        r.call(&["COMMAND", "GETKEYSANDFLAGS", "GET", "a"]),
        arr(vec![arr(vec![bulk("a"), arr(vec![status("RO"), status("access")])])])
    );
    assert_eq!(r.call(&["COMMAND", "GETKEYS", "nosuch", "x"]), err("ERR Invalid command specified"));
    assert_eq!(r.call(&["COMMAND", "GETKEYS", "PING", "x"]), err("ERR The command has no key arguments"));
    assert_eq!(
        r.call(&["COMMAND", "GETKEYS", "GET", "a", "b"]),
        err("ERR Invalid number of arguments specified for command")
    );
    assert_eq!(
        r.call(&["COMMAND", "GETKEYS", "GET"]),
        err("ERR wrong number of arguments for 'command|getkeys' command")
    );
    assert_eq!(r.call(&["COMMAND", "COUNT", "x"]), err("ERR wrong number of arguments for 'command|count' command"));
    assert_eq!(r.call(&["COMMAND", "FOO"]), err("ERR unknown subcommand 'FOO'. Try COMMAND HELP."));
    let Resp::Array(Some(all)) = r.call(&["COMMAND"]) else { panic!() };
    assert_eq!(all.len() as i64, count);
}

#[test]
fn debug_latency_function() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["DEBUG", "SLEEP", "0"]), ok());
    assert_eq!(r.call(&["DEBUG", "SLEEP", "0.01"]), ok());
    assert_eq!(
        r.call(&["DEBUG", "SLEEP"]),
        err("ERR unknown subcommand or wrong number of arguments for 'SLEEP'. Try DEBUG HELP.")
    );
    assert_eq!(
        r.call(&["DEBUG", "FOO"]),
        err("ERR unknown subcommand or wrong number of arguments for 'FOO'. Try DEBUG HELP.")
    );
    assert_eq!(r.call(&["SET", "k", "12"]), ok());
    let Resp::Simple(obj) = r.call(&["DEBUG", "OBJECT", "k"]) else { panic!() };
    assert!(obj.contains("encoding:int"), "{obj}");
    assert_eq!(r.call(&["DEBUG", "OBJECT", "nokey"]), err("ERR no such key"));
    assert_eq!(r.call(&["LATENCY", "LATEST"]), arr(vec![]));
    assert_eq!(r.call(&["LATENCY", "HISTORY", "command"]), arr(vec![]));
    assert_eq!(r.call(&["LATENCY", "RESET"]), int(0));
    assert_eq!(r.call(&["LATENCY", "GRAPH", "command"]), err("ERR No samples available for event 'command'"));
    assert!(text(r.call(&["LATENCY", "DOCTOR"])).contains("Latency monitoring is disabled"));
    assert!(strings(r.call(&["LATENCY", "HELP"]))[0].starts_with("LATENCY <subcommand>"));
    assert_eq!(r.call(&["LATENCY", "LATEST", "x"]), err("ERR wrong number of arguments for 'latency|latest' command"));
    assert_eq!(r.call(&["LATENCY", "FOO"]), err("ERR unknown subcommand 'FOO'. Try LATENCY HELP."));
    assert_eq!(r.call(&["FUNCTION", "FLUSH"]), ok());
    assert_eq!(r.call(&["FUNCTION", "FLUSH", "ASYNC"]), ok());
    assert_eq!(r.call(&["FUNCTION", "FLUSH", "SYNC"]), ok());
    assert_eq!(r.call(&["FUNCTION", "FLUSH", "FOO"]), err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"));
    assert_eq!(r.call(&["FUNCTION", "LIST"]), arr(vec![]));
    assert_eq!(r.call(&["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "x*"]), arr(vec![]));
    assert_eq!(r.call(&["FUNCTION", "LIST", "FOO"]), err("ERR Unknown argument FOO"));
}

#[test]
fn maxclients_refuses_the_extra_client() {
    let s = Server::start(&["--maxclients", "2"]);
    let mut a = s.raw();
    let mut b = s.raw();
    assert_eq!(a.call(&["PING"]), status("PONG"));
    assert_eq!(b.call(&["PING"]), status("PONG"));
    let mut c = s.raw();
    assert_eq!(c.read(), err("ERR max number of clients reached"));
    assert!(c.is_closed());
    let Resp::Bulk(Some(stats)) = a.call(&["INFO", "stats"]) else { panic!() };
    assert_eq!(field(&String::from_utf8(stats).unwrap(), "rejected_connections").as_deref(), Some("1"));
    // Once a slot frees up, a new client gets in.
    drop(b);
    wait_for(5, "a free slot", || {
        let mut d = s.raw();
        d.cmd(&[b"PING"]);
        d.read() == status("PONG")
    });
}

#[test]
fn shutdown_command() {
    let mut s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SHUTDOWN", "ABORT"]), err("ERR No shutdown in progress."));
    for bad in [&["SHUTDOWN", "FOO"][..], &["SHUTDOWN", "SAVE", "NOSAVE"], &["SHUTDOWN", "NOSAVE", "ABORT"]] {
        assert_eq!(r.call(bad), err("ERR syntax error"), "{bad:?}");
    }
    // SHUTDOWN and SAVE are refused inside MULTI and fail the transaction.
    for refused in ["SHUTDOWN", "SAVE"] {
        assert_eq!(r.call(&["MULTI"]), ok());
        assert_eq!(r.call(&[refused]), err("ERR Command not allowed inside a transaction"));
        assert_eq!(r.call(&["EXEC"]), err("EXECABORT Transaction discarded because of previous errors."));
    }
    assert_eq!(r.call(&["PING"]), status("PONG"));
    r.cmd(&[b"SHUTDOWN", b"NOSAVE"]);
    assert!(r.is_closed(), "SHUTDOWN closes without a reply");
    assert!(s.terminate().success());
}

#[test]
fn sigterm_shuts_down_gracefully() {
    let mut s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "k", "v"]), ok());
    let status = s.terminate();
    assert!(status.success(), "exit status {status:?}");
    assert!(r.is_closed());
}

/// Container commands' subcommands are listed and described by their full
/// names (`config|get`), each right after its container, as Redis does.
#[test]
fn command_list_and_info_know_subcommands() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let list = strings(r.call(&["COMMAND", "LIST"]));
    for name in ["client|list", "config|get", "acl|setuser", "object|encoding", "memory|usage", "command|info"] {
        assert!(list.contains(&name.to_string()), "{name} missing");
    }
    let at = |n: &str| list.iter().position(|x| x == n).unwrap();
    assert_eq!(at("config|get"), at("config") + 1, "subcommands follow their container");
    let config = strings(r.call(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "config*"]));
    assert!(config.contains(&"config".into()) && config.contains(&"config|get".into()), "{config:?}");
    let re = strings(r.call(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "config|*re*"]));
    assert_eq!(re, vec!["config|resetstat", "config|rewrite"]);
    let help = strings(r.call(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "cl*help"]));
    assert_eq!(help, vec!["client|help", "cluster|help"]);
    let scripting = strings(r.call(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "scripting"]));
    assert!(scripting.contains(&"function|list".into()), "{scripting:?}");

    let Resp::Array(Some(info)) = r.call(&["COMMAND", "INFO", "config|get", "get|key", "config|get|key", "CONFIG"])
    else {
        panic!()
    };
    let Resp::Array(Some(get)) = &info[0] else { panic!("{info:?}") };
    assert_eq!(&get[..2], &[bulk("config|get"), int(-3)]);
    assert_eq!(&info[1..3], &[Resp::Bulk(None), Resp::Bulk(None)]);
    let Resp::Array(Some(config)) = &info[3] else { panic!("{info:?}") };
    let Resp::Array(Some(subs)) = &config[9] else { panic!("{config:?}") };
    assert!(subs.iter().any(|e| matches!(e, Resp::Array(Some(v)) if v[0] == bulk("config|set"))), "{subs:?}");
}

/// LATENCY HISTOGRAM reports each command's calls and a cumulative
/// distribution; a container stands for its subcommands.
#[test]
fn latency_histogram_per_command() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["CONFIG", "RESETSTAT"]), ok());
    let all = r.call(&["LATENCY", "HISTOGRAM"]);
    let Resp::Array(Some(all)) = all else { panic!("{all:?}") };
    assert_eq!(all[0], bulk("config|resetstat"), "the RESETSTAT itself is counted: {all:?}");
    for _ in 0..2 {
        assert_eq!(r.call(&["SET", "a", "b"]), ok());
    }
    assert!(matches!(r.call(&["CLIENT", "ID"]), Resp::Int(_)));
    let Resp::Array(Some(h)) = r.call(&["LATENCY", "HISTOGRAM", "blabla", "set", "client"]) else { panic!() };
    assert_eq!(h.len(), 4, "set and client|id: {h:?}");
    assert_eq!(h[0], bulk("set"));
    assert_eq!(h[2], bulk("client|id"));
    let Resp::Array(Some(set)) = &h[1] else { panic!("{h:?}") };
    assert_eq!(&set[..2], &[bulk("calls"), int(2)]);
    assert_eq!(set[2], bulk("histogram_usec"));
    let Resp::Array(Some(cdf)) = &set[3] else { panic!("{set:?}") };
    assert!(!cdf.is_empty() && cdf.len() % 2 == 0, "{cdf:?}");
    assert_eq!(cdf[cdf.len() - 1], int(2), "cumulative: the last bucket holds every call");
    let Resp::Array(Some(one)) = r.call(&["LATENCY", "HISTOGRAM", "CLIENT|ID"]) else { panic!() };
    assert_eq!((one.len(), &one[0]), (2, &bulk("client|id")));
    assert_eq!(r.call(&["LATENCY", "HISTOGRAM", "nosuch"]), arr(vec![]));
}

/// MEMORY STATS and MEMORY DOCTOR answer (Redis clients and ACL rules such
/// as `-memory|doctor` rely on them).
#[test]
fn memory_stats_and_doctor() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(r.call(&["SET", "k", "v"]), ok());
    let stats = r.call(&["MEMORY", "STATS"]);
    let Resp::Array(Some(items)) = stats else { panic!("{stats:?}") };
    let keys: Vec<String> = items.iter().step_by(2).map(|k| text(k.clone())).collect();
    for k in ["peak.allocated", "total.allocated", "keys.count", "dataset.bytes", "db.0"] {
        assert!(keys.contains(&k.to_string()), "{k} in {keys:?}");
    }
    let at = keys.iter().position(|k| k == "keys.count").unwrap();
    assert_eq!(items[2 * at + 1], int(1));
    assert!(text(r.call(&["MEMORY", "DOCTOR"])).starts_with("Hi Sam"));
    assert_eq!(r.call(&["MEMORY", "STATS", "x"]), err("ERR wrong number of arguments for 'memory|stats' command"));
}

/// Parameters this server cannot change at run time accept their current
/// value (as Redis, which can change them, does); another value is refused.
#[test]
fn config_set_immutable_to_same_value() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let port = strings(r.call(&["CONFIG", "GET", "port"])).remove(1);
    assert_eq!(r.call(&["CONFIG", "SET", "port", &port]), ok());
    let bind = strings(r.call(&["CONFIG", "GET", "bind"])).remove(1);
    assert_eq!(r.call(&["CONFIG", "SET", "bind", &bind, "maxmemory", "0"]), ok());
    assert_eq!(
        r.call(&["CONFIG", "SET", "bind", "127.0.0.2"]),
        err("ERR CONFIG SET failed (possibly related to argument 'bind') - can't set immutable config")
    );
    assert_eq!(
        r.call(&["CONFIG", "SET", "databases", "16"]),
        err("ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config")
    );
}

/// Settings Redis tools read or tests set: client-output-buffer-limit is
/// validated and shown normalised, daemonize is an immutable "no",
/// acllog-max-len bounds the ACL log.
#[test]
fn output_buffer_limit_daemonize_and_acllog_settings() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let get = |r: &mut Raw, name: &str| strings(r.call(&["CONFIG", "GET", name])).remove(1);
    assert_eq!(
        get(&mut r, "client-output-buffer-limit"),
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
    );
    assert_eq!(r.call(&["CONFIG", "SET", "client-output-buffer-limit", "normal 1mb 512kb 10 replica 1gb 0 0"]), ok());
    assert_eq!(
        get(&mut r, "client-output-buffer-limit"),
        "normal 1048576 524288 10 slave 1073741824 0 0 pubsub 33554432 8388608 60"
    );
    for (bad, why) in [
        ("normal 1 2", "Wrong number of arguments in buffer limit configuration."),
        ("master 0 0 0", "Invalid client class specified in buffer limit configuration."),
        ("normal x 0 0", "Error in hard, soft or soft_seconds setting in buffer limit configuration."),
    ] {
        assert_eq!(
            r.call(&["CONFIG", "SET", "client-output-buffer-limit", bad]),
            err(&format!("ERR CONFIG SET failed (possibly related to argument 'client-output-buffer-limit') - {why}"))
        );
    }
    assert_eq!(get(&mut r, "client-output-buffer-limit").split(' ').nth(1), Some("1048576"), "unchanged by errors");

    assert_eq!(get(&mut r, "daemonize"), "no");
    assert_eq!(
        r.call(&["CONFIG", "SET", "daemonize", "yes"]),
        err("ERR CONFIG SET failed (possibly related to argument 'daemonize') - can't set immutable config")
    );

    assert_eq!(r.call(&["CONFIG", "SET", "acllog-max-len", "2"]), ok());
    for _ in 0..4 {
        assert!(matches!(r.call(&["AUTH", "nobody", "wrong"]), Resp::Error(_)));
        assert!(matches!(r.call(&["AUTH", "someone", "wrong"]), Resp::Error(_)));
    }
    let Resp::Array(Some(log)) = r.call(&["ACL", "LOG"]) else { panic!("ACL LOG") };
    assert_eq!(log.len(), 2, "the log keeps acllog-max-len entries");
}

#[test]
fn redis_server_style_flags_and_every_redis_parameter() {
    // Directives as redis-server takes them: multi-word values up to the
    // next `--`, a directive and its value in one argument, any parameter.
    let s = Server::start(&[
        "--save",
        "900",
        "1",
        "300",
        "10",
        "--maxmemory-policy",
        "allkeys-lru",
        "--notify-keyspace-events",
        "KEA",
        "--repl-backlog-size 2mb",
        "--slave-read-only",
        "no",
    ]);
    let mut c = s.raw();
    let get = |c: &mut Raw, name: &str| pairs(c.call(&["CONFIG", "GET", name]));
    assert_eq!(get(&mut c, "save"), [("save".to_string(), "900 1 300 10".to_string())]);
    assert_eq!(get(&mut c, "maxmemory-policy")[0].1, "allkeys-lru");
    assert_eq!(get(&mut c, "notify-keyspace-events")[0].1, "AKE");
    assert_eq!(get(&mut c, "repl-backlog-size")[0].1, "2097152");
    assert_eq!(get(&mut c, "replica-read-only")[0].1, "no");
    // Inert parameters are checked as Redis checks them.
    assert_eq!(c.call(&["CONFIG", "SET", "activerehashing", "no"]), ok());
    assert_eq!(get(&mut c, "activerehashing")[0].1, "no");
    assert_eq!(
        c.call(&["CONFIG", "SET", "maxmemory-clients", "200%"]),
        Resp::Error(
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory-clients') - percentage argument must be less or equal to 100".into()
        )
    );
    assert_eq!(
        c.call(&["CONFIG", "SET", "io-threads", "4"]),
        Resp::Error(
            "ERR CONFIG SET failed (possibly related to argument 'io-threads') - can't set immutable config".into()
        )
    );
    // `threads` is fixed at start: the value in force round-trips (as
    // Redis's own CONFIG sanity test does for every listed parameter),
    // another is refused.
    let threads = get(&mut c, "threads")[0].1.clone();
    assert_eq!(c.call(&["CONFIG", "SET", "threads", &threads]), Resp::Simple("OK".into()));
    assert_eq!(
        c.call(&["CONFIG", "SET", "threads", "7"]),
        Resp::Error(
            "ERR CONFIG SET failed (possibly related to argument 'threads') - can't set immutable config".into()
        )
    );
    // `idle-spin-us`, this server's own, changes at run time; 0 (the
    // default) turns the watch off.
    assert_eq!(get(&mut c, "idle-spin-us")[0].1, "0");
    assert_eq!(c.call(&["CONFIG", "SET", "idle-spin-us", "200"]), ok());
    assert_eq!(get(&mut c, "idle-spin-us")[0].1, "200");
    assert!(matches!(c.call(&["CONFIG", "SET", "idle-spin-us", "-1"]), Resp::Error(_)));
    assert_eq!(c.call(&["PING"]), Resp::Simple("PONG".into()));
    let all = pairs(c.call(&["CONFIG", "GET", "*"]));
    for name in ["cluster-enabled", "replicaof", "slaveof", "io-threads", "lazyfree-lazy-user-del", "tcp-backlog"] {
        assert!(all.iter().any(|(n, _)| n == name), "CONFIG GET * lacks {name}");
    }
}

#[test]
fn compatibility_surface_clients_and_test_suites_probe() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    // LOLWUT names this server and, as clients look for, a Redis version.
    let lolwut = match c.call(&["LOLWUT"]) {
        Resp::Verbatim(b) | Resp::Bulk(Some(b)) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("{other:?}"),
    };
    assert!(lolwut.contains("inmemory ver.") && lolwut.contains("Redis ver."), "{lolwut}");
    // ACL rules may name Redis commands this server refuses (cluster,
    // modules, replication): ACL files written for Redis load.
    assert_eq!(c.call(&["ACL", "SETUSER", "u", "+cluster", "-cluster|info", "+module|load", "+replicaof"]), ok());
    assert!(matches!(c.call(&["ACL", "SETUSER", "u", "+nosuchcommand"]), Resp::Error(_)));
    // Scripts may declare no keys.
    assert_eq!(c.call(&["COMMAND", "GETKEYS", "EVAL", "return 1", "0"]), arr(vec![]));
    assert_eq!(c.call(&["COMMAND", "GETKEYS", "EVAL", "return 1", "1", "k"]), arr(vec![bulk("k")]));
    // DEBUG subcommands client test suites use.
    assert_eq!(c.call(&["DEBUG", "CHANGE-REPL-ID"]), ok());
    assert_eq!(c.call(&["DEBUG", "STRINGMATCH-LEN"]), status("Apparently Redis did not crash: test passed"));
    assert!(text(c.call(&["DEBUG", "STRUCTSIZE"])).starts_with("bits:64 "));
    assert_eq!(c.call(&["DEBUG", "LISTPACK", "nokey"]), err("ERR no such key"));
    assert_eq!(c.call(&["HSET", "h", "f", "v"]), int(1));
    assert_eq!(c.call(&["DEBUG", "LISTPACK", "h"]), status("Listpack structure printed on stdout"));
}

/// CONFIG SET port moves the listener as Redis does: a port that cannot be
/// bound fails with Redis's error and rolls back every setting of the call
/// (the server still listens where it was); a free one takes new clients
/// there, the old port refuses them, established connections go on.
#[test]
fn config_set_port_moves_the_listener_or_rolls_back() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port to occupy");
    let taken_port = taken.local_addr().expect("local addr").port().to_string();
    let Resp::Error(e) = r.call(&["CONFIG", "SET", "maxmemory", "10000001", "port", &taken_port, "hz", "20"]) else {
        panic!("CONFIG SET of a port in use did not fail")
    };
    assert!(
        e.starts_with("ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port"),
        "{e}"
    );
    assert_eq!(strings(r.call(&["CONFIG", "GET", "maxmemory"]))[1], "0");
    assert_eq!(strings(r.call(&["CONFIG", "GET", "port"]))[1], s.port.to_string());
    assert_eq!(s.raw().call(&["PING"]), status("PONG"));
    drop(taken);

    let new_port = common::free_port();
    assert_eq!(r.call(&["CONFIG", "SET", "port", &new_port.to_string()]), ok());
    assert_eq!(Raw::connect(new_port).call(&["PING"]), status("PONG"));
    // The old accept loop is cancelled, not joined, by CONFIG SET.
    wait_for(10, "the old port to refuse connections", || std::net::TcpStream::connect(("127.0.0.1", s.port)).is_err());
    assert_eq!(r.call(&["CONFIG", "GET", "port"]), arr(vec![bulk("port"), bulk(&new_port.to_string())]));
    // And on again: moving twice works. Not back to the original port: once
    // freed, the kernel may hand it to another test's `bind(0)` or outgoing
    // connection (CI saw EADDRINUSE here). The harness stops the server by
    // its pid, not its port.
    let third_port = common::free_port();
    assert_eq!(r.call(&["CONFIG", "SET", "port", &third_port.to_string()]), ok());
    assert_eq!(Raw::connect(third_port).call(&["PING"]), status("PONG"));
    assert_eq!(r.call(&["PING"]), status("PONG"));
}
