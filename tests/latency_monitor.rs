//! The latency monitor against the real binary: `latency-monitor-threshold`,
//! the `command` event, LATENCY LATEST / HISTORY / GRAPH / DOCTOR / RESET.

mod common;

use common::{err, int, items, num, ok, text, Resp, Server};

#[test]
fn slow_commands_are_recorded_above_the_threshold() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(items(r.call(&["CONFIG", "GET", "latency-monitor-threshold"]))[1], common::bulk("0"));
    // Off (Redis's default): nothing is recorded, and DOCTOR says how to turn it on.
    assert_eq!(r.call(&["DEBUG", "SLEEP", "0.12"]), ok());
    assert_eq!(r.call(&["LATENCY", "LATEST"]), Resp::Array(Some(vec![])));
    assert!(text(r.call(&["LATENCY", "DOCTOR"])).contains("CONFIG SET latency-monitor-threshold"));

    assert_eq!(r.call(&["CONFIG", "SET", "latency-monitor-threshold", "100"]), ok());
    assert_eq!(
        r.call(&["CONFIG", "SET", "latency-monitor-threshold", "-1"]),
        err("ERR CONFIG SET failed (possibly related to argument 'latency-monitor-threshold') - argument must be between 0 and 9223372036854775807 inclusive")
    );
    // Under the threshold: not recorded.
    assert_eq!(r.call(&["DEBUG", "SLEEP", "0.01"]), ok());
    assert_eq!(r.call(&["LATENCY", "LATEST"]), Resp::Array(Some(vec![])));
    assert_eq!(r.call(&["DEBUG", "SLEEP", "0.15"]), ok());

    let latest = items(r.call(&["LATENCY", "LATEST"]));
    assert_eq!(latest.len(), 1, "{latest:?}");
    let row = items(latest[0].clone());
    assert_eq!(row[0], common::bulk("command"));
    let (time, ms, max) = (num(&row[1]), num(&row[2]), num(&row[3]));
    assert!((150..1000).contains(&ms), "{ms} ms");
    assert_eq!(max, ms);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((now - 5..=now + 1).contains(&time), "{time} vs {now}");

    let history = items(r.call(&["LATENCY", "HISTORY", "command"]));
    assert_eq!(history, vec![Resp::Array(Some(vec![Resp::Int(time), Resp::Int(ms)]))]);
    assert_eq!(r.call(&["LATENCY", "HISTORY", "fast-command"]), Resp::Array(Some(vec![])));

    let graph = text(r.call(&["LATENCY", "GRAPH", "command"]));
    assert!(graph.starts_with(&format!("command - high {ms} ms, low {ms} ms (all time high {ms} ms)\n")), "{graph}");
    assert!(graph.contains(&"-".repeat(80)), "{graph}");
    assert_eq!(r.call(&["LATENCY", "GRAPH", "nope"]), err("ERR No samples available for event 'nope'"));

    let doctor = text(r.call(&["LATENCY", "DOCTOR"]));
    assert!(doctor.contains("1. command: 1 latency spikes"), "{doctor}");
    assert!(doctor.contains("Slow Log"), "{doctor}");

    assert_eq!(r.call(&["LATENCY", "RESET", "nope"]), int(0));
    assert_eq!(r.call(&["LATENCY", "RESET", "COMMAND"]), int(1));
    assert_eq!(r.call(&["LATENCY", "LATEST"]), Resp::Array(Some(vec![])));
    assert!(text(r.call(&["LATENCY", "DOCTOR"])).contains("no latency spike"));
    assert_eq!(r.call(&["LATENCY", "RESET"]), int(0));

    // Back to 0: off again.
    assert_eq!(r.call(&["CONFIG", "SET", "latency-monitor-threshold", "0"]), ok());
    assert_eq!(r.call(&["DEBUG", "SLEEP", "0.12"]), ok());
    assert_eq!(r.call(&["LATENCY", "LATEST"]), Resp::Array(Some(vec![])));
}

#[test]
fn threshold_from_the_command_line_and_other_clients_go_on() {
    let s = Server::start(&["--set", "latency-monitor-threshold=50"]);
    let mut r = s.raw();
    let mut other = s.raw();
    let began = std::time::Instant::now();
    r.cmd(&[b"DEBUG", b"SLEEP", b"1"]);
    // The sleeping client does not hold the others up.
    assert_eq!(other.call(&["PING"]), Resp::Simple("PONG".into()));
    assert!(began.elapsed() < std::time::Duration::from_millis(900));
    assert_eq!(r.read(), ok());
    assert_eq!(r.call(&["LATENCY", "RESET"]), int(1));
}
