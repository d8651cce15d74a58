//! The proxy while things change: servers.json edited under load, a data
//! server killed and restarted, auto_eject.

mod harness;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use harness::*;

fn json_with_weights(servers: &[(&DataServer, u32)]) -> String {
    let items: Vec<String> =
        servers.iter().map(|(s, w)| format!("{{\"addr\": \"{}\", \"weight\": {w}}}", s.addr())).collect();
    format!("[{}]", items.join(", "))
}

/// Client threads doing pipelined SET/GET until stopped; every error reply is kept.
struct Load {
    stop: Arc<AtomicBool>,
    ops: Arc<AtomicU64>,
    errors: Arc<Mutex<Vec<String>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Load {
    fn start(port: u16, clients: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ops = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let threads = (0..clients)
            .map(|t| {
                let (stop, ops, errors) = (stop.clone(), ops.clone(), errors.clone());
                std::thread::spawn(move || {
                    let mut c = connect(port, false);
                    let mut round = 0u64;
                    // Bounded: at most 100k rounds (the test stops it long before).
                    while !stop.load(Ordering::Relaxed) && round < 100_000 {
                        let mut pipe = redis::pipe();
                        for i in 0..20 {
                            let k = format!("load:{t}:{}", (round * 20 + i) % 1000);
                            pipe.cmd("SET").arg(&k).arg(round).ignore();
                            pipe.cmd("GET").arg(&k).ignore();
                        }
                        if let Err(e) = pipe.query::<()>(&mut c) {
                            errors.lock().unwrap().push(e.to_string());
                        }
                        ops.fetch_add(40, Ordering::Relaxed);
                        round += 1;
                    }
                })
            })
            .collect();
        Load { stop, ops, errors, threads }
    }

    fn wait_ops(&self, more: u64) {
        let target = self.ops.load(Ordering::Relaxed) + more;
        assert!(wait_until(30, || self.ops.load(Ordering::Relaxed) >= target), "load stalled");
    }

    fn finish(self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        let e = self.errors.lock().unwrap().clone();
        e
    }
}

fn commands_processed(direct: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("stats").query(direct).unwrap();
    info.lines().find_map(|l| l.strip_prefix("total_commands_processed:")).unwrap().trim().parse().unwrap()
}

fn write_batch(p: &Proxy, prefix: &str, n: usize) {
    let mut c = p.conn();
    let mut pipe = redis::pipe();
    for i in 0..n {
        pipe.cmd("SET").arg(format!("{prefix}{i}")).arg(i).ignore();
    }
    pipe.query::<()>(&mut c).unwrap();
}

#[test]
fn editing_servers_json_under_load() {
    let s: Vec<DataServer> = (0..4).map(|_| DataServer::start()).collect();
    let (a, b, c, d) = (&s[0], &s[1], &s[2], &s[3]);
    let p = Proxy::start(&servers_json(&[a, b, c]), &["--conns", "4"]);
    let load = Load::start(p.port, 4);
    load.wait_ops(2000);
    assert!(c.dbsize() > 0);

    // 1. Remove C: it gets no more traffic, the others keep serving.
    p.write_servers(&servers_json(&[a, b]));
    assert!(p.wait_info("servers", "2", 10), "removal not applied");
    // The proxy asks the removed server once whether it still holds keys (and logs it).
    assert!(wait_until(10, || p.proc.drain_log().iter().any(|l| l.contains("was deleted from the server list"))));
    load.wait_ops(2000);
    let mut dc = c.conn();
    let before = commands_processed(&mut dc);
    write_batch(&p, "after-removal:", 3000);
    load.wait_ops(4000);
    let after = commands_processed(&mut dc);
    // The second INFO itself is the one command counted.
    assert_eq!(after - before, 1, "the removed server still got commands");
    let on_c: Vec<String> = redis::cmd("KEYS").arg("after-removal:*").query(&mut dc).unwrap();
    assert!(on_c.is_empty());

    // 2. A broken file is refused; the previous ring stays.
    p.write_servers("[{\"addr\": \"127.0.0.1:1\", \"weight\": ");
    assert!(p.wait_info("config_reload_failures", "1", 10));
    p.write_servers(&format!("[{{\"addr\": \"{}\", \"weight\": 0}}]", a.addr()));
    assert!(p.wait_info("config_reload_failures", "2", 10));
    assert_eq!(p.info_field("servers").as_deref(), Some("2"));
    load.wait_ops(2000);

    // 3. Add D: it starts receiving keys.
    p.write_servers(&servers_json(&[a, b, d]));
    assert!(p.wait_info("servers", "3", 10), "addition not applied");
    write_batch(&p, "after-add:", 3000);
    assert!(d.dbsize() > 500, "new server got {} keys", d.dbsize());

    // 4. Weights: A at four times the others takes about two thirds of new keys.
    p.write_servers(&json_with_weights(&[(a, 2000), (b, 500), (d, 500)]));
    assert!(wait_until(10, || {
        let info: String = redis::cmd("INFO").arg("shards").query(&mut p.conn()).unwrap();
        info.contains("weight=2000")
    }));
    write_batch(&p, "weighted:", 6000);
    // Count the batch's own keys: the load's keys are rewritten to their new
    // owners meanwhile, so growth in DBSIZE would depend on the load's pace.
    let grown: Vec<i64> = [a, b, d]
        .iter()
        .map(|x| redis::cmd("KEYS").arg("weighted:*").query::<Vec<String>>(&mut x.conn()).unwrap().len() as i64)
        .collect();
    let share = grown[0] as f64 / grown.iter().sum::<i64>() as f64;
    assert!((share - 2.0 / 3.0).abs() < 0.05, "weighted share {share}: {grown:?}");

    load.wait_ops(2000);
    let errors = load.finish();
    assert!(errors.is_empty(), "client errors during reloads: {errors:?}");
    assert!(p.proc.drain_log().iter().any(|l| l.contains("rejected")), "no log line for the refused file");
}

#[test]
fn a_killed_server_is_reported_and_comes_back() {
    let mut s: Vec<DataServer> = (0..3).map(|_| DataServer::start()).collect();
    let p = Proxy::start(&servers_json(&s.iter().collect::<Vec<_>>()), &[]);
    let mut c = p.conn();
    write_batch(&p, "k", 300);
    let mut dc = s[1].conn();
    let mine: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut dc).unwrap();
    let theirs: Vec<String> = (0..300).map(|i| format!("k{i}")).filter(|k| !mine.contains(k)).collect();
    assert!(!mine.is_empty() && !theirs.is_empty());
    let port = s[1].port;
    let addr = s[1].addr();
    s[1].proc.kill9();

    // Its keys answer an error naming it; the other servers keep serving.
    for k in mine.iter().take(20) {
        let e = redis::cmd("GET").arg(k).query::<Option<String>>(&mut c).unwrap_err();
        assert!(e.to_string().contains(&addr), "{e}");
    }
    for k in theirs.iter().take(100) {
        let v: Option<String> = redis::cmd("GET").arg(k).query(&mut c).unwrap();
        assert!(v.is_some(), "{k}");
    }
    let e = redis::cmd("MGET").arg(&mine[0]).arg(&theirs[0]).query::<Vec<Option<String>>>(&mut c).unwrap_err();
    assert!(e.to_string().contains(&addr), "{e}");
    let info: String = redis::cmd("INFO").arg("shards").query(&mut c).unwrap();
    assert!(info.contains("status=down"), "{info}");

    // Restarted on the same port: served again after the backoff.
    let back = (0..50).find_map(|_| {
        DataServer::start_on(port).ok().or_else(|| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            None
        })
    });
    s[1] = back.expect("restart on the same port");
    assert!(
        wait_until(15, || redis::cmd("SET").arg(&mine[0]).arg("again").query::<()>(&mut c).is_ok()),
        "server not used again after restart"
    );
    assert_eq!(redis::cmd("GET").arg(&mine[0]).query::<String>(&mut c).unwrap(), "again");
}

/// A server that stops answering (SIGSTOP: its socket stays open) fails
/// the requests in flight after `--timeout`, with an error naming it, and
/// is used again once it answers.
#[test]
fn a_silent_server_times_out_the_requests_in_flight() {
    let s = DataServer::start();
    let p = Proxy::start(&servers_json(&[&s]), &["--timeout", "300"]);
    let mut c = p.conn();
    redis::cmd("SET").arg("k").arg("v").query::<()>(&mut c).unwrap();
    let pid = s.proc.pid() as libc::pid_t;
    // SAFETY: signals a child process this test started and still owns.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    // The signal is delivered asynchronously: wait until the process is
    // really stopped (state T), or it may still answer.
    let stopped = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('T')))
            .unwrap_or(false)
    };
    assert!(wait_until(10, stopped), "the data server did not stop");
    let got = redis::cmd("GET").arg("k").query::<Option<String>>(&mut c);
    // SAFETY: as above; the process is killed when its handle drops.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGCONT) }, 0);
    let e = got.unwrap_err().to_string();
    assert!(e.contains(&s.addr()) && e.contains("no reply within 300ms"), "{e}");
    assert!(
        wait_until(15, || redis::cmd("GET")
            .arg("k")
            .query::<Option<String>>(&mut c)
            .is_ok_and(|v| v.as_deref() == Some("v"))),
        "server not used again after it answered"
    );
}

#[test]
fn auto_eject_takes_a_dead_server_off_the_ring_and_back() {
    let mut s: Vec<DataServer> = (0..3).map(|_| DataServer::start()).collect();
    let list: Vec<String> = s.iter().map(|d| format!("{{\"addr\": \"{}\"}}", d.addr())).collect();
    let json = format!("{{\"servers\": [{}], \"auto_eject\": {{\"failures\": 2, \"retry_ms\": 100}}}}", list.join(","));
    let p = Proxy::start(&json, &[]);
    write_batch(&p, "e", 300);
    let mut dc = s[2].conn();
    let mine: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut dc).unwrap();
    let port = s[2].port;
    s[2].proc.kill9();

    let mut c = p.conn();
    // Requests for its keys fail until it is ejected, then go to the others.
    assert!(
        wait_until(15, || {
            let _ = redis::cmd("GET").arg(&mine[0]).query::<Option<String>>(&mut c);
            p.info_field("servers_on_ring").as_deref() == Some("2")
        }),
        "server not ejected"
    );
    for k in mine.iter().take(20) {
        redis::cmd("SET").arg(k).arg("moved").query::<()>(&mut c).unwrap();
    }
    assert!(p.proc.drain_log().iter().any(|l| l.contains("off the ring")));

    let back = (0..50).find_map(|_| {
        DataServer::start_on(port).ok().or_else(|| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            None
        })
    });
    s[2] = back.expect("restart on the same port");
    assert!(p.wait_info("servers_on_ring", "3", 15), "server not put back");
    redis::cmd("SET").arg(&mine[0]).arg("home").query::<()>(&mut c).unwrap();
    assert_eq!(s[2].dbsize(), 1, "the key went back to its server");
}
