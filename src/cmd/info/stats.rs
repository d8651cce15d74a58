//! Per-command and per-error statistics for INFO `commandstats`,
//! `latencystats` and `errorstats`, kept as Redis keeps them: calls,
//! microseconds, rejected and failed calls per command (subcommands of
//! container commands apart, as `config|set`), a latency histogram per
//! command, and a count per error code.
//!
//! Process-wide (one server per process). Recording a call of a plain
//! command costs a lookup in a map made once and a few relaxed atomic
//! additions; container subcommands take a read lock on their table.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};

use bytes::Bytes;
use parking_lot::RwLock;

use crate::cmd::table::CommandSpec;
use crate::counter::{self, SLOTS};

/// Commands whose first argument names a subcommand, counted apart.
const CONTAINERS: &[&str] = &[
    "acl", "client", "cluster", "command", "config", "function", "latency", "memory", "module", "object", "pubsub",
    "script", "slowlog", "xgroup", "xinfo",
];

/// Histogram buckets: values below 16 ns exact, then 16 buckets per power
/// of two (at most 1/16 = 6.25% above the true value).
const SUB_BUCKETS: u64 = 16;
const BUCKETS: usize = 16 + 60 * 16;

/// A log-linear latency histogram in nanoseconds. Its buckets (8 KB) are
/// allocated by the first sample, as Redis allocates its histograms: with
/// `latency-tracking no` a command's counters cost a few words. One set of
/// buckets per thread slot (see [`crate::counter`]): recording a sample is
/// no locked instruction.
struct Histogram {
    slots: [OnceLock<Box<[AtomicU64]>>; SLOTS],
}

impl Histogram {
    fn new() -> Histogram {
        Histogram { slots: std::array::from_fn(|_| OnceLock::new()) }
    }

    /// The bucket counts summed over the slots. O(slots × buckets).
    fn counts(&self) -> Vec<u64> {
        let mut sum = vec![0u64; BUCKETS];
        for b in self.slots.iter().filter_map(|s| s.get()) {
            sum.iter_mut().zip(b.iter()).for_each(|(t, c)| *t += c.load(Ordering::Relaxed));
        }
        sum
    }

    fn zero(&self) {
        for b in self.slots.iter().filter_map(|s| s.get()) {
            b.iter().for_each(|c| c.store(0, Ordering::Relaxed));
        }
    }

    fn index(v: u64) -> usize {
        if v < SUB_BUCKETS {
            return v as usize;
        }
        let e = 63 - v.leading_zeros() as u64; // >= 4
        let m = (v >> (e - 4)) & (SUB_BUCKETS - 1);
        ((e - 3) * SUB_BUCKETS + m) as usize
    }

    /// The largest value that falls in bucket `i`.
    fn upper(i: usize) -> u64 {
        let i = i as u64;
        if i < SUB_BUCKETS {
            return i;
        }
        let e = i / SUB_BUCKETS + 3;
        let m = i % SUB_BUCKETS;
        ((SUB_BUCKETS + m + 1) << (e - 4)) - 1
    }

    fn record(&self, v: u64) {
        let slot = counter::slot();
        let counts = self.slots[slot].get_or_init(|| (0..BUCKETS).map(|_| AtomicU64::new(0)).collect());
        counter::bump(&counts[Self::index(v).min(BUCKETS - 1)], slot, 1);
    }

    fn total(&self) -> u64 {
        self.counts().iter().sum()
    }

    /// The value at percentile `p` (0–100): the upper bound of the bucket
    /// holding that rank, so never below the true value.
    fn value_at(&self, p: f64, total: u64) -> u64 {
        let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts().iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::upper(i);
            }
        }
        0
    }
}

/// One command's (or subcommand's) counters, per thread slot.
struct CmdStat {
    slots: [SlotStat; SLOTS],
    latency: Histogram,
}

/// One thread slot's counters of a command (a cache line of its own).
#[repr(align(64))]
#[derive(Default)]
struct SlotStat {
    calls: AtomicU64,
    usec: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
}

/// Which counter of a [`SlotStat`].
#[derive(Clone, Copy)]
enum Field {
    Calls,
    Usec,
    Rejected,
    Failed,
}

impl SlotStat {
    fn field(&self, f: Field) -> &AtomicU64 {
        match f {
            Field::Calls => &self.calls,
            Field::Usec => &self.usec,
            Field::Rejected => &self.rejected,
            Field::Failed => &self.failed,
        }
    }
}

impl CmdStat {
    fn zero(&self) {
        for s in &self.slots {
            for f in [Field::Calls, Field::Usec, Field::Rejected, Field::Failed] {
                s.field(f).store(0, Ordering::Relaxed);
            }
        }
        self.latency.zero();
    }

    fn new() -> CmdStat {
        CmdStat { slots: Default::default(), latency: Histogram::new() }
    }

    /// Adds `n` to counter `f` in the calling thread's slot. O(1).
    #[inline]
    fn add(&self, f: Field, n: u64) {
        let slot = counter::slot();
        counter::bump(self.slots[slot].field(f), slot, n);
    }

    /// Counter `f` summed over the slots. O(slots).
    fn get(&self, f: Field) -> u64 {
        self.slots.iter().map(|s| s.field(f).load(Ordering::Relaxed)).sum()
    }
}

static COMMANDS: LazyLock<RwLock<HashMap<String, Arc<CmdStat>>>> = LazyLock::new(Default::default);
/// Counters of the commands that are not containers, made once: the hot
/// path finds its counters without a lock or an allocation.
/// Looked up once per command call: hashed with foldhash, not SipHash.
static FIXED: LazyLock<HashMap<&'static str, Arc<CmdStat>, foldhash::fast::RandomState>> = LazyLock::new(|| {
    crate::cmd::table::all()
        .filter(|c| !CONTAINERS.contains(&c.name))
        .map(|c| (c.name, Arc::new(CmdStat::new())))
        .collect()
});
/// The same counters keyed by the address of the command table's row, which
/// every call's spec comes from: hashing a word instead of a name and no
/// string comparison (the name lookup was 3% of a pipelined GETBIT).
static BY_ROW: LazyLock<HashMap<usize, Arc<CmdStat>, foldhash::fast::FixedState>> = LazyLock::new(|| {
    crate::cmd::table::rows().filter_map(|c| Some((row_key(c), FIXED.get(c.name)?.clone()))).collect()
});
static ERRORS: LazyLock<RwLock<HashMap<String, u64>>> = LazyLock::new(Default::default);
static LATENCY_TRACKING: AtomicBool = AtomicBool::new(true);

/// Turns per-command latency histograms on or off (`latency-tracking`).
pub fn set_latency_tracking(on: bool) {
    LATENCY_TRACKING.store(on, Ordering::Relaxed);
}

fn row_key(spec: &CommandSpec) -> usize {
    spec as *const CommandSpec as usize
}

/// The counters of a command that is not a container. O(1).
fn fixed(spec: &CommandSpec) -> Option<&'static CmdStat> {
    BY_ROW.get(&row_key(spec)).or_else(|| FIXED.get(spec.name)).map(|s| &**s)
}

/// The name a call is counted under: `name`, or `name|sub` for a
/// container command; `None` when the subcommand is not a plausible name.
fn full_name(spec: &CommandSpec, args: &[Bytes]) -> Option<String> {
    if !CONTAINERS.contains(&spec.name) {
        return Some(spec.name.to_string());
    }
    let sub = args.get(1)?;
    if sub.is_empty() || sub.len() > 32 || !sub.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_') {
        return None;
    }
    Some(format!("{}|{}", spec.name, String::from_utf8_lossy(sub).to_ascii_lowercase()))
}

fn stat(name: String) -> Arc<CmdStat> {
    if let Some(s) = COMMANDS.read().get(&name) {
        return s.clone();
    }
    COMMANDS.write().entry(name).or_insert_with(|| Arc::new(CmdStat::new())).clone()
}

/// Records a command that ran: `nanos` it took, and its error reply if it
/// failed. An unknown subcommand is not counted (Redis rejects it before
/// finding a command to count it under); a subcommand's arity error counts
/// as a rejection, as Redis checks that arity before running. Call once
/// per completed command (not for a blocked attempt that will be retried).
/// O(1) amortized.
pub fn record_call(spec: &CommandSpec, args: &[Bytes], nanos: u64, error: Option<&str>) {
    if error.is_some_and(|e| e.starts_with("ERR unknown subcommand")) {
        return;
    }
    let owned;
    let s: &CmdStat = match fixed(spec) {
        Some(s) => s,
        None => {
            let Some(name) = full_name(spec, args) else { return };
            owned = stat(name);
            &owned
        }
    };
    if error.is_some_and(|e| e.starts_with("ERR wrong number of arguments")) {
        s.add(Field::Rejected, 1);
        return;
    }
    s.add(Field::Calls, 1);
    s.add(Field::Usec, nanos / 1000);
    if error.is_some() {
        s.add(Field::Failed, 1);
    }
    if LATENCY_TRACKING.load(Ordering::Relaxed) {
        s.latency.record(nanos);
    }
}

/// Records a command refused before it ran (arity, authentication, ACL,
/// OOM, a write refused by persistence errors…). O(1) amortized.
pub fn record_rejected(spec: &CommandSpec, args: &[Bytes]) {
    if let Some(s) = fixed(spec) {
        s.add(Field::Rejected, 1);
    } else if let Some(name) = full_name(spec, args) {
        stat(name).add(Field::Rejected, 1);
    }
}

/// Counts one error reply: `total_error_replies` and, under its code,
/// errorstats. Every place that produces a counted error reply (the
/// connection, EXEC's inner replies, commands a script runs) uses this.
pub fn count_error_reply(srv: &crate::server::Server, msg: &str) {
    srv.stats.error_replies.fetch_add(1, Ordering::Relaxed);
    record_error(msg);
}

/// Records an error reply sent to a client, under its code (the first
/// word, when it ends within 32 characters; `ERR` otherwise). Does not
/// count `total_error_replies`: the caller does. O(1) amortized.
pub fn record_error(msg: &str) {
    let code = msg.get(..msg.len().min(32)).and_then(|head| head.find(' ')).map_or("ERR", |i| &msg[..i]);
    let code = if code.is_empty() { "ERR" } else { code };
    let mut m = ERRORS.write();
    match m.get_mut(code) {
        Some(n) => *n += 1,
        None => {
            m.insert(code.to_string(), 1);
        }
    }
}

/// Forgets every counter (CONFIG RESETSTAT).
pub fn reset() {
    COMMANDS.write().clear();
    FIXED.values().for_each(|s| s.zero());
    ERRORS.write().clear();
}

/// Redis's `getSafeInfoString`: INFO keys cannot hold `:` or newlines.
fn safe(name: &str) -> String {
    name.chars().map(|c| if matches!(c, ':' | '\r' | '\n') { '_' } else { c }).collect()
}

fn sorted_commands() -> Vec<(String, Arc<CmdStat>)> {
    let mut v: Vec<(String, Arc<CmdStat>)> = COMMANDS.read().iter().map(|(k, s)| (k.clone(), s.clone())).collect();
    v.extend(FIXED.iter().map(|(k, s)| (k.to_string(), s.clone())));
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// The lines of INFO commandstats (no header). O(commands).
pub fn commandstats(o: &mut String) {
    for (name, s) in sorted_commands() {
        let (calls, usec) = (s.get(Field::Calls), s.get(Field::Usec));
        let (rejected, failed) = (s.get(Field::Rejected), s.get(Field::Failed));
        if calls == 0 && rejected == 0 && failed == 0 {
            continue;
        }
        let per_call = if calls == 0 { 0.0 } else { usec as f64 / calls as f64 };
        let _ = write!(
            o,
            "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={failed}\r\n",
            safe(&name)
        );
    }
}

/// Formats a percentile as Redis does (`%f` with trailing zeros trimmed).
pub fn percentile_name(p: f64) -> String {
    let s = format!("{p:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// The lines of INFO latencystats (no header), at `percentiles`.
/// O(commands × buckets).
pub fn latencystats(o: &mut String, percentiles: &[f64]) {
    for (name, s) in sorted_commands() {
        let total = s.latency.total();
        if total == 0 {
            continue;
        }
        let parts: Vec<String> = percentiles
            .iter()
            .map(|&p| format!("p{}={:.3}", percentile_name(p), s.latency.value_at(p, total) as f64 / 1000.0))
            .collect();
        let _ = write!(o, "latency_percentiles_usec_{}:{}\r\n", safe(&name), parts.join(","));
    }
}

/// Names (`set`, `client|list` …) of the commands with latency samples,
/// sorted; with `prefix`, only those starting with it. O(commands).
pub fn latency_names(prefix: Option<&str>) -> Vec<String> {
    let keep = |name: &str| prefix.is_none_or(|p| name.starts_with(p));
    sorted_commands().into_iter().filter(|(n, s)| keep(n) && s.latency.total() > 0).map(|(n, _)| n).collect()
}

/// LATENCY HISTOGRAM data of command `name` (as [`latency_names`] gives
/// it): its calls and the cumulative distribution Redis reports, as
/// `(microseconds, calls that took at most that long)` at each power of
/// two from 1024 ns, listed where the count grows. `None` without samples.
/// O(buckets).
pub fn latency_histogram(name: &str) -> Option<(u64, Vec<(u64, u64)>)> {
    let s = match FIXED.get(name) {
        Some(s) => s.clone(),
        None => COMMANDS.read().get(name)?.clone(),
    };
    let counts = s.latency.counts();
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let (mut out, mut seen, mut next) = (Vec::new(), 0u64, 0usize);
    // Values below 2^e fill the buckets before index (e - 3) * SUB_BUCKETS.
    for e in 10..64u32 {
        let end = ((e as usize - 3) * SUB_BUCKETS as usize).min(BUCKETS);
        seen += counts[next..end].iter().sum::<u64>();
        next = end;
        if seen > out.last().map_or(0, |&(_, c)| c) {
            out.push(((1u64 << e) / 1000, seen));
        }
        if seen == total {
            return Some((total, out));
        }
    }
    out.push((u64::MAX / 1000, total));
    Some((total, out))
}

/// The lines of INFO errorstats (no header), by error code. O(codes).
pub fn errorstats(o: &mut String) {
    let mut v: Vec<(String, u64)> = ERRORS.read().iter().map(|(k, n)| (k.clone(), *n)).collect();
    v.sort();
    for (code, n) in v {
        let _ = write!(o, "errorstat_{}:count={n}\r\n", safe(&code));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_bound_values_from_above_within_a_sixteenth() {
        for v in [0u64, 1, 15, 16, 17, 31, 32, 33, 1000, 50_000_000, 123_456_789, u64::MAX / 2] {
            let i = Histogram::index(v);
            let up = Histogram::upper(i);
            assert!(up >= v, "{v} -> {up}");
            assert!(up - v <= v / 16 + 1, "{v} -> {up}");
            assert!(i == 0 || Histogram::upper(i - 1) < v, "{v} in bucket {i}");
        }
    }

    #[test]
    fn percentiles() {
        let h = Histogram::new();
        for v in 1..=100u64 {
            h.record(v * 1000);
        }
        let total = h.total();
        let p50 = h.value_at(50.0, total);
        assert!((50_000..=53_200).contains(&p50), "{p50}");
        assert!(h.value_at(100.0, total) >= 100_000);
        assert!(h.value_at(0.0, total) >= 1000);
        assert_eq!(percentile_name(99.9), "99.9");
        assert_eq!(percentile_name(50.0), "50");
        assert_eq!(percentile_name(0.0), "0");
    }

    #[test]
    fn latency_cdf_is_cumulative_at_powers_of_two() {
        let s = stat("test|cdf".into());
        for v in [10, 500, 1500, 3000, 3000, 70_000] {
            s.latency.record(v);
        }
        let (calls, cdf) = latency_histogram("test|cdf").unwrap();
        assert_eq!(calls, 6);
        assert_eq!(cdf, vec![(1, 2), (2, 3), (4, 5), (131, 6)]);
    }
}
