//! The latency monitor (Redis's latency.c) and the LATENCY command.
//!
//! When `latency-monitor-threshold` is not 0, an event that took at least
//! that many milliseconds is recorded in the event's time series: at most
//! [`SAMPLES`] samples per event (one per second: a second sample within
//! the same second only raises the first), plus the all-time maximum.
//! Events recorded here: `command` (a command slower than the threshold)
//! and `fast-command` (one flagged FAST); other modules may record theirs
//! with [`add_sample_if_needed`], [`Monitor`] or [`Timed`]: `expire-cycle`
//! (db/expire.rs), `eviction-cycle` and `eviction-del` (db/evict.rs),
//! `aof-write` and `aof-fsync-always` (persist/aof.rs).
//!
//! The monitor lives beside the LATENCY command (declared by
//! `cmd/server.rs`) rather than in `server/`, so that it is one module with
//! the command that reads it; like `cmd::info::stats`, it is process-wide
//! state (one server per process). With the threshold at 0 the cost per
//! command is one relaxed atomic load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;

use super::super::args::fail;
use super::super::keys::help_reply;
use super::super::table::{flags, CommandSpec};
use super::super::{CmdResult, Ctx};
use super::subcommands;
use crate::protocol::Reply;

/// Samples kept per event, as Redis's `LATENCY_TS_LEN`.
pub const SAMPLES: usize = 160;

/// `latency-monitor-threshold` in milliseconds; 0: the monitor is off.
static THRESHOLD_MS: AtomicU64 = AtomicU64::new(0);

/// One event's time series.
struct Series {
    /// Where the next sample goes.
    idx: usize,
    /// Highest latency ever recorded (ms) since the last reset.
    max: u32,
    /// `(unix seconds, ms)`; time 0: an empty slot.
    samples: [(i64, u32); SAMPLES],
}

/// Every event with samples, in the order first seen.
static EVENTS: Mutex<Vec<(&'static str, Box<Series>)>> = Mutex::new(Vec::new());

/// Sets `latency-monitor-threshold` (ms; 0 turns the monitor off). O(1).
pub fn set_threshold(ms: u64) {
    THRESHOLD_MS.store(ms, Ordering::Relaxed);
}

/// The current threshold in ms (0: off). O(1).
#[inline]
pub fn threshold() -> u64 {
    THRESHOLD_MS.load(Ordering::Relaxed)
}

/// Records a finished command that ran `ns` nanoseconds as Redis's `call()`
/// does: event `fast-command` for commands flagged FAST, else `command`,
/// if the monitor is on and the command reached the threshold. Not while
/// the dataset loads (Redis does not log the AOF replay). One relaxed load
/// when the monitor is off; O(events) when a sample is added.
#[inline]
pub fn record_command(spec: &CommandSpec, ns: u64) {
    let t = threshold();
    if t != 0 && ns / 1_000_000 >= t {
        record_command_slow(spec, ns / 1_000_000);
    }
}

#[cold]
fn record_command_slow(spec: &CommandSpec, ms: u64) {
    if crate::db::loading() {
        return;
    }
    add_sample(if spec.has(flags::FAST) { "fast-command" } else { "command" }, ms);
}

/// Adds a sample of `ms` to `event` if the monitor is on and `ms` reaches
/// the threshold (Redis's `latencyAddSampleIfNeeded`). O(events).
#[inline]
pub fn add_sample_if_needed(event: &'static str, ms: u64) {
    let t = threshold();
    if t != 0 && ms >= t {
        add_sample(event, ms);
    }
}

/// Times an event only while the monitor is on (Redis's
/// `latencyStartMonitor` / `latencyEndMonitor`): `Monitor::start()` before,
/// `.end("event")` after. O(1) when off.
#[derive(Debug, Clone, Copy)]
pub struct Monitor(Option<Instant>);

impl Monitor {
    /// Starts timing if the monitor is on. O(1).
    #[inline]
    pub fn start() -> Monitor {
        Monitor((threshold() != 0).then(Instant::now))
    }

    /// Records the elapsed time as `event` if it reached the threshold.
    /// O(events) when a sample is added, else O(1).
    #[inline]
    pub fn end(self, event: &'static str) {
        if let Some(t0) = self.0 {
            add_sample_if_needed(event, t0.elapsed().as_millis() as u64);
        }
    }
}

/// A [`Monitor`] that records `event` when dropped, for a span with
/// several exits: `let _cycle = Timed::start("eviction-cycle");`.
#[derive(Debug)]
pub struct Timed(&'static str, Monitor);

impl Timed {
    /// Starts timing `event` if the monitor is on. O(1).
    #[inline]
    pub fn start(event: &'static str) -> Timed {
        Timed(event, Monitor::start())
    }
}

impl Drop for Timed {
    #[inline]
    fn drop(&mut self) {
        self.1.end(self.0);
    }
}

fn unix_secs() -> i64 {
    (crate::db::now_us() / 1_000_000) as i64
}

/// Records `ms` for `event` unconditionally (Redis's `latencyAddSample`).
/// O(events).
pub fn add_sample(event: &'static str, ms: u64) {
    add_sample_at(event, ms, unix_secs());
}

/// [`add_sample`] at unix second `now`.
fn add_sample_at(event: &'static str, ms: u64, now: i64) {
    let ms = ms.min(u32::MAX as u64) as u32;
    let mut events = EVENTS.lock();
    let ts = match events.iter().position(|(e, _)| *e == event) {
        Some(i) => &mut events[i].1,
        None => {
            events.push((event, Box::new(Series { idx: 0, max: 0, samples: [(0, 0); SAMPLES] })));
            let last = events.len() - 1;
            &mut events[last].1
        }
    };
    ts.max = ts.max.max(ms);
    let prev = (ts.idx + SAMPLES - 1) % SAMPLES;
    if ts.samples[prev].0 == now {
        ts.samples[prev].1 = ts.samples[prev].1.max(ms);
        return;
    }
    ts.samples[ts.idx] = (now, ms);
    ts.idx = (ts.idx + 1) % SAMPLES;
}

/// Forgets `event` (case-insensitive), or every event for `None`; returns
/// how many were reset. O(events).
pub fn reset(event: Option<&[u8]>) -> usize {
    let mut events = EVENTS.lock();
    let before = events.len();
    events.retain(|(e, _)| event.is_some_and(|want| !e.as_bytes().eq_ignore_ascii_case(want)));
    before - events.len()
}

/// The samples of a series, oldest first.
fn in_order(ts: &Series) -> impl Iterator<Item = (i64, u32)> + '_ {
    (0..SAMPLES).map(move |j| ts.samples[(ts.idx + j) % SAMPLES]).filter(|s| s.0 != 0)
}

/// LATENCY HISTORY: `[time, ms]` pairs of `event` (exact name), oldest first.
fn history(event: &[u8]) -> Reply {
    let events = EVENTS.lock();
    let Some((_, ts)) = events.iter().find(|(e, _)| e.as_bytes() == event) else {
        return Reply::Array(vec![]);
    };
    Reply::Array(in_order(ts).map(|(t, ms)| Reply::Array(vec![Reply::Int(t), Reply::Int(ms as i64)])).collect())
}

/// LATENCY LATEST: `[event, time, ms, all-time max]` per event.
fn latest() -> Reply {
    let events = EVENTS.lock();
    Reply::Array(
        events
            .iter()
            .map(|(e, ts)| {
                let last = ts.samples[(ts.idx + SAMPLES - 1) % SAMPLES];
                Reply::Array(vec![
                    Reply::bulk_str(*e),
                    Reply::Int(last.0),
                    Reply::Int(last.1 as i64),
                    Reply::Int(ts.max as i64),
                ])
            })
            .collect(),
    )
}

/// Redis's sparkline characters (`SPARKLINE_FILL`).
const FILL: &[u8] = b"_o#";

/// Renders `samples` (value, label) as Redis's `sparklineRender` with
/// `rows` rows per `cols`-wide band, filled.
fn sparkline(out: &mut String, samples: &[(f64, String)], cols: usize, rows: usize) {
    let (min, max) = samples.iter().fold((f64::MAX, f64::MIN), |(lo, hi), s| (lo.min(s.0), hi.max(s.0)));
    let relmax = if max - min == 0.0 { 1.0 } else { max - min };
    let steps = (FILL.len() * rows) as i64;
    for (band, chunk) in samples.chunks(cols).enumerate() {
        if band > 0 {
            out.push('\n');
        }
        let mut row = 0usize;
        loop {
            let mut line = vec![b' '; chunk.len()];
            let mut more = false;
            for (j, (v, label)) in chunk.iter().enumerate() {
                let step = (((v - min) * steps as f64) / relmax) as i64;
                let step = step.clamp(0, steps - 1);
                if row < rows {
                    more = true;
                    let idx = step - ((rows - row - 1) * FILL.len()) as i64;
                    if (0..FILL.len() as i64).contains(&idx) {
                        line[j] = FILL[idx as usize];
                    } else if idx >= FILL.len() as i64 {
                        line[j] = b'|';
                    }
                } else if row - rows < 1 {
                    // One blank line between the graph and its labels.
                    more = true;
                    break;
                } else if let Some(&c) = label.as_bytes().get(row - rows - 1) {
                    more = true;
                    line[j] = c;
                }
            }
            if !more {
                break;
            }
            out.push_str(&String::from_utf8_lossy(&line));
            out.push('\n');
            row += 1;
        }
    }
}

/// LATENCY GRAPH: Redis's ASCII graph of `event`'s samples, or `None`.
fn graph(event: &[u8]) -> Option<String> {
    let events = EVENTS.lock();
    let (name, ts) = events.iter().find(|(e, _)| e.as_bytes() == event)?;
    let now = unix_secs();
    let samples: Vec<(f64, String)> = in_order(ts)
        .map(|(t, ms)| {
            let ago = (now - t).max(0);
            let label = match ago {
                0..=59 => format!("{ago}s"),
                60..=3599 => format!("{}m", ago / 60),
                3600..=86399 => format!("{}h", ago / 3600),
                _ => format!("{}d", ago / 86400),
            };
            (ms as f64, label)
        })
        .collect();
    let lo = samples.iter().map(|s| s.0 as u64).min().unwrap_or(0);
    let hi = samples.iter().map(|s| s.0 as u64).max().unwrap_or(0);
    let mut out = format!("{name} - high {hi} ms, low {lo} ms (all time high {} ms)\n", ts.max);
    out.push_str(&"-".repeat(80));
    out.push('\n');
    sparkline(&mut out, &samples, 80, 4);
    Some(out)
}

const ADVICE_SLOWLOG: &str = "- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n";
const ADVICE_SCHEDULER: &str = "- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a computer / VM just for Redis if you are running other software in the same system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n";
const ADVICE_LOCAL_DISK: &str = "- It is strongly advised to use local disks for persistence, especially if you are using AOF. Remote disks provided by platform-as-a-service providers are known to be slow.\n";
const ADVICE_DISK_CONTENTION: &str = "- Try to lower the disk contention. This is often caused by other disk intensive processes running in the same computer (including other Redis instances).\n";
const ADVICE_FSYNC: &str = "- Your fsync policy is set to 'always'. It is very hard to get good performances with such a setup, if possible try to relax the fsync policy to 'onesec'.\n";
const ADVICE_HZ: &str = "- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n";
const ADVICE_LARGE_OBJECTS: &str = "- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n";
const ADVICE_MASS_EVICTION: &str = "- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large objects via sets or sorted sets intersections, STORE option of SORT, Redis Cluster large keys migrations (RESTORE command), may create sudden memory pressure forcing the server to block trying to evict keys. \n";

/// LATENCY DOCTOR: Redis's human-readable report (per-event statistics and
/// the advice that applies to the events seen). O(events × samples).
fn doctor(ctx: &Ctx) -> String {
    let events = EVENTS.lock();
    if events.is_empty() && threshold() == 0 {
        return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n".into();
    }
    let (hz, fsync_always) = {
        let c = ctx.srv.config.read();
        (c.hz, c.appendfsync == "always")
    };
    // In Redis's order of advice.
    // Which advice applies, in Redis's order: slow log, scheduler, local disk, disk contention, fsync policy, hz,
    // large objects, mass eviction.
    let mut advice = [false; 8];
    let mut report = String::new();
    let now = unix_secs();
    for (n, (event, ts)) in events.iter().enumerate() {
        if n == 0 {
            report.push_str("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
        }
        let samples: Vec<(i64, u32)> = ts.samples.iter().copied().filter(|s| s.0 != 0).collect();
        let count = samples.len().max(1) as u64;
        let avg = samples.iter().map(|s| s.1 as u64).sum::<u64>() / count;
        let mad = samples.iter().map(|s| (avg as i64 - s.1 as i64).unsigned_abs()).sum::<u64>() / count;
        let oldest = samples.iter().map(|s| s.0).min().unwrap_or(now);
        let period = if samples.is_empty() { 0 } else { (now - oldest).max(1) };
        report.push_str(&format!(
            "{}. {}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.\n",
            n + 1,
            event,
            samples.len(),
            avg,
            mad,
            period as f64 / count as f64,
            ts.max
        ));
        let mut set = |ids: &[usize]| ids.iter().for_each(|&i| advice[i] = true);
        match *event {
            "command" => set(&[0, 6]),
            "fast-command" => set(&[1]),
            "aof-fsync-always" => set(&[4]),
            "aof-fstat" | "rdb-unlink-temp-file" => set(&[2, 3]),
            "expire-cycle" => set(&[5, 6]),
            "eviction-del" => set(&[6]),
            "eviction-cycle" => set(&[7]),
            _ => {}
        }
    }
    if events.is_empty() {
        report.push_str("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n");
    } else if !advice.iter().any(|&a| a) {
        report.push_str("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
    } else {
        report.push_str("\nI have a few advices for you:\n\n");
        let texts = [
            (advice[0], ADVICE_SLOWLOG),
            (advice[1], ADVICE_SCHEDULER),
            (advice[2], ADVICE_LOCAL_DISK),
            (advice[3], ADVICE_DISK_CONTENTION),
            (advice[4] && fsync_always, ADVICE_FSYNC),
            (advice[5] && hz < 100, ADVICE_HZ),
            (advice[6], ADVICE_LARGE_OBJECTS),
            (advice[7], ADVICE_MASS_EVICTION),
        ];
        texts.iter().filter(|(on, _)| *on).for_each(|(_, t)| report.push_str(t));
    }
    report
}

/// LATENCY's subcommands with their Redis arities (the container's name counted).
pub(crate) const LATENCY_SUBS: &[(&str, i32)] =
    &[("doctor", 2), ("graph", 3), ("help", 2), ("histogram", -2), ("history", 3), ("latest", 2), ("reset", -2)];

const LATENCY_HELP: &[&str] = &[
    "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return a human readable latency analysis report.",
    "GRAPH <event>",
    "    Return an ASCII latency graph for the <event> class.",
    "HISTORY <event>",
    "    Return time-latency samples for the <event> class.",
    "LATEST",
    "    Return the latest latency samples for all events.",
    "RESET [<event> ...]",
    "    Reset latency data of one or more <event> classes.",
    "    (default: reset all data for all event classes)",
    "HISTOGRAM [COMMAND ...]",
    "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
    "    If no commands are specified then all histograms are replied.",
    "HELP",
    "    Prints this help.",
];

/// `LATENCY HISTOGRAM [command ...]`: every command with samples, or the
/// named ones (a container stands for its subcommands; unknown names are
/// skipped), each as `calls` and a cumulative `histogram_usec`.
/// O(commands × buckets).
fn latency_histogram(names: &[Bytes]) -> Reply {
    use super::super::info::stats;
    let mut wanted = Vec::new();
    if names.is_empty() {
        wanted = stats::latency_names(None);
    }
    for n in names {
        if n.contains(&b'|') {
            wanted.extend(subcommands::lookup(n).map(|(_, full)| full.to_string()));
        } else if let Some(c) = super::super::table::lookup(n) {
            if subcommands::is_container(c.name) {
                wanted.extend(stats::latency_names(Some(&format!("{}|", c.name))));
            } else {
                wanted.push(c.name.to_string());
            }
        }
    }
    let entry = |calls: u64, cdf: Vec<(u64, u64)>| {
        let cdf = cdf.into_iter().map(|(us, n)| (Reply::Int(us as i64), Reply::Int(n as i64))).collect();
        Reply::Map(vec![
            (Reply::bulk_str("calls"), Reply::Int(calls as i64)),
            (Reply::bulk_str("histogram_usec"), Reply::Map(cdf)),
        ])
    };
    let found = wanted.into_iter().filter_map(|n| stats::latency_histogram(&n).map(|(c, cdf)| (n, c, cdf)));
    Reply::Map(found.map(|(n, calls, cdf)| (Reply::bulk_str(n), entry(calls, cdf))).collect())
}

/// LATENCY LATEST | HISTORY | RESET | GRAPH | DOCTOR | HISTOGRAM | HELP, as
/// Redis answers them.
pub(super) fn latency(ctx: &mut Ctx, a: &[Bytes]) -> CmdResult {
    match subcommands::resolve(ctx, "latency", a)? {
        "latest" => Ok(latest()),
        "history" => Ok(history(&a[2])),
        "histogram" => Ok(latency_histogram(&a[2..])),
        "reset" if a.len() == 2 => Ok(Reply::Int(reset(None) as i64)),
        "reset" => Ok(Reply::Int(a[2..].iter().map(|e| reset(Some(e))).sum::<usize>() as i64)),
        "graph" => match graph(&a[2]) {
            Some(g) => Ok(Reply::Verbatim(Bytes::from(g))),
            None => fail(&format!("ERR No samples available for event '{}'", String::from_utf8_lossy(&a[2]))),
        },
        "doctor" => Ok(Reply::Verbatim(Bytes::from(doctor(ctx)))),
        _ => Ok(help_reply(LATENCY_HELP)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history_of(event: &str) -> Vec<(i64, i64)> {
        let Reply::Array(items) = history(event.as_bytes()) else { panic!() };
        items
            .into_iter()
            .map(|i| match i {
                Reply::Array(p) => match p[..] {
                    [Reply::Int(t), Reply::Int(ms)] => (t, ms),
                    _ => panic!(),
                },
                _ => panic!(),
            })
            .collect()
    }

    #[test]
    fn keeps_the_last_160_seconds_and_the_worst_of_each() {
        for t in 1..=200 {
            add_sample_at("test-cap", t as u64, t);
        }
        add_sample_at("test-cap", 7, 200);
        add_sample_at("test-cap", 500, 200);
        let h = history_of("test-cap");
        assert_eq!(h.len(), SAMPLES);
        assert_eq!(h[0], (41, 41), "oldest first, the first 40 seconds dropped");
        assert_eq!(h[SAMPLES - 1], (200, 500), "a second's samples keep the highest");
        assert!(history_of("TEST-CAP").is_empty(), "HISTORY matches the name exactly");
        assert_eq!(reset(Some(b"Test-Cap")), 1, "RESET ignores case");
        assert!(history_of("test-cap").is_empty());
    }

    #[test]
    fn sparkline_matches_redis_layout() {
        let mut out = String::new();
        sparkline(&mut out, &[(1.0, "2s".into()), (10.0, "1s".into())], 80, 4);
        // The highest sample fills every row; the lowest only the bottom one.
        assert_eq!(out, " #\n |\n |\n_|\n  \n21\nss\n");
    }
}
