//! Regenerates `src/cmd/server/redis-commands.json`, the Redis 7.0 command
//! metadata `COMMAND INFO` and `COMMAND DOCS` answer with, from a running
//! `redis-server` 7.0:
//!
//! ```text
//! redis-server --port 6390 --save '' &
//! cargo run --example capture_command_meta -- 6390 > src/cmd/server/redis-commands.json
//! ```
//!
//! The file keeps the RESP3 types of the replies so they can be replayed
//! exactly (see `src/cmd/server/command_meta.rs` for the encoding): per
//! command, `[info, docs]`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use serde_json::{json, Map, Value};

fn send(w: &mut TcpStream, args: &[&str]) {
    let mut out = format!("*{}\r\n", args.len());
    for a in args {
        out.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    w.write_all(out.as_bytes()).expect("write to redis-server");
}

/// Reads one RESP3 reply as the typed JSON of `command_meta.rs`: bulk
/// strings as strings, status strings prefixed with `+`, integers as
/// numbers, arrays as arrays, maps as objects, sets as `{"~": [...]}`.
fn read(r: &mut BufReader<TcpStream>) -> Value {
    let mut line = String::new();
    r.read_line(&mut line).expect("read from redis-server");
    let line = line.trim_end_matches("\r\n");
    let (kind, rest) = line.split_at(1);
    let n = || rest.parse::<i64>().expect("length");
    match kind {
        "+" => {
            assert!(!rest.starts_with('+'), "ambiguous status {rest}");
            Value::String(format!("+{rest}"))
        }
        "$" => {
            let mut buf = vec![0; n() as usize + 2];
            r.read_exact(&mut buf).expect("bulk");
            buf.truncate(buf.len() - 2);
            let s = String::from_utf8(buf).expect("utf-8 metadata");
            assert!(!s.starts_with('+'), "bulk string starting with '+': {s}");
            Value::String(s)
        }
        ":" => json!(n()),
        "*" => Value::Array((0..n()).map(|_| read(r)).collect()),
        "~" => json!({ "~": (0..n()).map(|_| read(r)).collect::<Vec<_>>() }),
        "%" => {
            let mut m = Map::new();
            for _ in 0..n() {
                let Value::String(k) = read(r) else { panic!("map key") };
                assert_ne!(k, "~", "a map key would read as a set");
                m.insert(k, read(r));
            }
            Value::Object(m)
        }
        "-" => panic!("redis-server error: {rest}"),
        other => panic!("unexpected reply type {other}"),
    }
}

fn main() {
    let port = std::env::args().nth(1).unwrap_or_else(|| "6379".into());
    let stream = TcpStream::connect(("127.0.0.1", port.parse::<u16>().expect("port"))).expect("connect");
    let mut w = stream.try_clone().expect("clone");
    let mut r = BufReader::new(stream);
    send(&mut w, &["HELLO", "3"]);
    read(&mut r);
    send(&mut w, &["COMMAND", "LIST"]);
    let Value::Array(names) = read(&mut r) else { panic!("COMMAND LIST") };
    let mut names: Vec<String> = names.into_iter().filter_map(|v| v.as_str().map(str::to_owned)).collect();
    names.retain(|n| !n.contains('|'));
    names.sort();
    let mut out = Map::new();
    for name in names {
        send(&mut w, &["COMMAND", "INFO", &name]);
        let Value::Array(mut info) = read(&mut r) else { panic!("COMMAND INFO") };
        send(&mut w, &["COMMAND", "DOCS", &name]);
        let Value::Object(mut docs) = read(&mut r) else { panic!("COMMAND DOCS") };
        let docs = docs.remove(&name).expect("docs of the command");
        out.insert(name, json!([info.remove(0), docs]));
    }
    let mut text = String::from("{\n");
    let n = out.len();
    for (i, (k, v)) in out.into_iter().enumerate() {
        text.push_str(&format!("{}: {}{}\n", json!(k), v, if i + 1 < n { "," } else { "" }));
    }
    text.push('}');
    println!("{text}");
}
