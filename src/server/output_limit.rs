//! `client-output-buffer-limit`: how much unsent reply data a client may
//! hold before it is disconnected, per client class, as in Redis.
//!
//! The setting is parsed once, when set (with Redis's validation and error
//! texts), so the connection loop reads three numbers instead of parsing a
//! string on every flush. The `normal` class applies to every connection's
//! replies, the `pubsub` class to the messages queued for a subscriber (see
//! `server/push.rs`); `slave` is kept for `CONFIG GET`.

use std::time::{Duration, Instant};

/// The limit of one client class. 0 means no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limit {
    /// Disconnect as soon as this many bytes are pending.
    pub hard: u64,
    /// Disconnect when this many bytes stay pending for `soft_secs` seconds.
    pub soft: u64,
    /// How long the soft limit may be exceeded.
    pub soft_secs: u64,
}

/// The limits of Redis's three classes, in `CONFIG GET` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    classes: [Limit; 3],
}

/// Redis's class names, as `CONFIG GET` prints them.
const NAMES: [&str; 3] = ["normal", "slave", "pubsub"];

impl Default for Limits {
    /// Redis's defaults: `normal 0 0 0 slave 256mb 64mb 60 pubsub 32mb 8mb 60`.
    fn default() -> Self {
        let l = |hard: u64, soft: u64, soft_secs| Limit { hard: hard << 20, soft: soft << 20, soft_secs };
        Limits { classes: [l(0, 0, 0), l(256, 64, 60), l(32, 8, 60)] }
    }
}

impl Limits {
    /// The `normal` class: what applies to every client here. O(1).
    pub fn normal(&self) -> Limit {
        self.classes[0]
    }

    /// The `replica` (`slave`) class: how much stream a replica may leave
    /// unread. O(1).
    pub fn replica(&self) -> Limit {
        self.classes[1]
    }

    /// The `pubsub` class: how much a subscriber may leave unread. O(1).
    pub fn pubsub(&self) -> Limit {
        self.classes[2]
    }

    /// Applies `class hard soft seconds` quadruples (any number of them);
    /// classes not named keep their limits. All or nothing: on an error
    /// (Redis's texts) nothing changes.
    pub fn set(&mut self, value: &str) -> Result<(), String> {
        let words: Vec<&str> = value.split_whitespace().collect();
        if !words.len().is_multiple_of(4) {
            return Err("Wrong number of arguments in buffer limit configuration.".into());
        }
        let mut next = self.classes;
        for q in words.chunks_exact(4) {
            let class = match q[0].to_ascii_lowercase().as_str() {
                "normal" => 0,
                "slave" | "replica" => 1,
                "pubsub" => 2,
                _ => return Err("Invalid client class specified in buffer limit configuration.".into()),
            };
            let bad = || "Error in hard, soft or soft_seconds setting in buffer limit configuration.".to_string();
            let hard = super::config::parse_memory(q[1]).map_err(|_| bad())?;
            let soft = super::config::parse_memory(q[2]).map_err(|_| bad())?;
            let soft_secs = q[3].parse::<u64>().map_err(|_| bad())?;
            next[class] = Limit { hard, soft, soft_secs };
        }
        self.classes = next;
        Ok(())
    }
}

impl std::fmt::Display for Limits {
    /// `normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (name, l)) in NAMES.iter().zip(self.classes).enumerate() {
            let sep = if i == 0 { "" } else { " " };
            write!(f, "{sep}{name} {} {} {}", l.hard, l.soft, l.soft_secs)?;
        }
        Ok(())
    }
}

/// A client over its output limit: it must be disconnected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverLimit;

/// Checks `pending` unsent bytes against `lim`: `Err` when the client must
/// be closed (over the hard limit, or over the soft one for longer than its
/// seconds), else the instant the soft limit will expire if it is passed
/// now. `soft_since` remembers when the soft limit was first passed. O(1).
pub fn check(lim: Limit, pending: usize, soft_since: &mut Option<Instant>) -> Result<Option<Instant>, OverLimit> {
    let pending = pending as u64;
    if lim.hard > 0 && pending > lim.hard {
        return Err(OverLimit);
    }
    if lim.soft > 0 && pending > lim.soft {
        let deadline = *soft_since.get_or_insert_with(Instant::now) + Duration::from_secs(lim.soft_secs);
        return if Instant::now() > deadline { Err(OverLimit) } else { Ok(Some(deadline)) };
    }
    *soft_since = None;
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_like_redis() {
        let mut l = Limits::default();
        assert_eq!(l.to_string(), "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
        l.set("normal 1mb 512kb 10 replica 1gb 0 0").unwrap();
        assert_eq!(l.normal(), Limit { hard: 1 << 20, soft: 512 << 10, soft_secs: 10 });
        assert_eq!(l.to_string(), "normal 1048576 524288 10 slave 1073741824 0 0 pubsub 33554432 8388608 60");
        let before = l;
        assert_eq!(l.set("normal 1 2").unwrap_err(), "Wrong number of arguments in buffer limit configuration.");
        assert!(l.set("master 1 2 3").unwrap_err().starts_with("Invalid client class"));
        assert!(l.set("normal 0 0 0 pubsub x 0 0").unwrap_err().starts_with("Error in hard, soft"));
        assert!(l.set("normal 0 0 -1").unwrap_err().starts_with("Error in hard, soft"));
        assert_eq!(l, before, "a refused value changes nothing");
    }

    #[test]
    fn hard_and_soft_limits() {
        let lim = Limit { hard: 100, soft: 10, soft_secs: 3600 };
        let mut since = None;
        assert_eq!(check(lim, 5, &mut since), Ok(None));
        assert!(matches!(check(lim, 50, &mut since), Ok(Some(_))));
        assert!(since.is_some());
        assert_eq!(check(lim, 5, &mut since), Ok(None));
        assert!(since.is_none(), "back under the soft limit resets its clock");
        assert_eq!(check(lim, 101, &mut since), Err(OverLimit));
        let expired = Limit { hard: 0, soft: 10, soft_secs: 0 };
        let mut since = Some(Instant::now() - Duration::from_secs(1));
        assert_eq!(check(expired, 50, &mut since), Err(OverLimit));
    }
}
