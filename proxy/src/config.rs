//! `servers.json`: the list of data servers and how much of the keyspace
//! each one holds.
//!
//! The original project's shape is kept: a JSON list of
//! `{"addr": "host:port", "weight": 500}`, each entry optionally with
//! `"name"` (the server's identity on the ring: keys stay put when its
//! address changes), `"tls": true` and `"password"` (sent with AUTH when the
//! proxy connects). The file may instead be an object
//! `{"servers": [...], "auto_eject": ...}` to turn on ejection of failing
//! servers: `"auto_eject": 3` (after 3 failures in a row) or
//! `{"failures": 3, "retry_ms": 1000}`.
//!
//! The object may also carry `"sentinel": {"addrs": ["host:port", ...],
//! "password": "..."}` (`password` optional, sent with AUTH to each
//! Sentinel). Every server entry with a `"name"` is then the Sentinel
//! master of that name: the proxy asks the Sentinels
//! (`SENTINEL GET-MASTER-ADDR-BY-NAME name`) for its address at start and
//! after every reload, and follows `+switch-master` (`sentinel.rs`). The
//! entry's `"addr"` is still required: it is used until a Sentinel has
//! answered, and whenever none can be reached. Entries without a name are
//! not Sentinel masters: they keep the address the file gives, as without
//! `"sentinel"`. A `"sentinel"` with no named entry is refused (it could
//! follow nothing); `"addrs"` must be a non-empty list of distinct
//! `host:port`.
//!
//! An entry may list its replicas, `"replicas": ["host:port", ...]`
//! (same password and TLS as the entry); with `"read_from": "replica"` in
//! the object form, read-only commands on one server's keys go to one of
//! its replicas (`router.rs`). Default `"primary"`: replicas are unused.
//!
//! An entry with `"drain": true` (or `"weight": 0`) stays in the list but
//! off the ring: the proxy still reaches it, as the previous owner of its
//! keys, while resharding moves them to their owners on the ring
//! (`reshard.rs`); once INFO reports it empty it can be deleted from the
//! file. At least one server must stay on the ring.
//!
//! Parsing and validation are all-or-nothing: a file with any error is
//! refused whole, with a message saying which entry is wrong.

use serde::Deserialize;

/// A server's weight when the entry gives none.
pub const DEFAULT_WEIGHT: u32 = 500;
/// Largest weight accepted.
pub const MAX_WEIGHT: u32 = 10_000;
/// Most servers one file may list (the SCAN cursor reserves 10 bits for the server).
pub const MAX_SERVERS: usize = 1024;

fn default_weight() -> u32 {
    DEFAULT_WEIGHT
}

/// One data server.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    /// `host:port` to connect to.
    pub addr: String,
    /// Share of the ring, relative to the other servers' weights
    /// (0..=10000; 0 drains the server as `"drain": true` does).
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Off the ring, still reachable while its keys move to their owners.
    #[serde(default)]
    pub drain: bool,
    /// Identity on the ring; the address when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// Connect with TLS.
    #[serde(default)]
    pub tls: bool,
    /// Password for AUTH after connecting.
    #[serde(default)]
    pub password: Option<String>,
    /// `host:port` of each replica of this server (reads, with `"read_from": "replica"`).
    #[serde(default)]
    pub replicas: Vec<String>,
}

impl ServerSpec {
    /// The entry of replica `addr` of this server: same password and TLS, off the ring.
    pub fn replica(&self, addr: &str) -> ServerSpec {
        ServerSpec {
            addr: addr.to_string(),
            weight: self.weight,
            drain: false,
            name: None,
            tls: self.tls,
            password: self.password.clone(),
            replicas: Vec::new(),
        }
    }

    /// The server's identity on the ring: its name, or its address.
    pub fn id(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.addr)
    }

    /// Whether the server is off the ring (drained: `"drain": true` or weight 0).
    pub fn drained(&self) -> bool {
        self.drain || self.weight == 0
    }

    /// How the server is named in logs and error replies: `name (addr)` or `addr`.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => format!("{n} ({})", self.addr),
            None => self.addr.clone(),
        }
    }
}

/// When to take a failing server off the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutoEject {
    /// Consecutive failures (connects refused, connections lost, timeouts) before ejection.
    pub failures: u32,
    /// How often an ejected server is probed to put it back.
    pub retry_ms: u64,
}

/// Where the Sentinels are (the `"sentinel"` object).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelSpec {
    /// `host:port` of each Sentinel, tried in this order.
    pub addrs: Vec<String>,
    /// Password for AUTH after connecting to a Sentinel.
    #[serde(default)]
    pub password: Option<String>,
}

/// A parsed and validated `servers.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// The servers, in file order (SCAN and fan-outs walk them in this order).
    pub servers: Vec<ServerSpec>,
    /// Ejection of failing servers; `None`: failing servers stay on the ring.
    pub auto_eject: Option<AutoEject>,
    /// Sentinels following the named servers; `None`: addresses are the file's.
    pub sentinel: Option<SentinelSpec>,
    /// Read-only commands go to a replica of their server when it has one.
    pub read_from_replica: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ObjectShape {
    servers: Vec<ServerSpec>,
    #[serde(default)]
    auto_eject: Option<serde_json::Value>,
    #[serde(default)]
    sentinel: Option<SentinelSpec>,
    #[serde(default)]
    read_from: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AutoEjectObject {
    failures: u32,
    #[serde(default)]
    retry_ms: Option<u64>,
}

fn parse_auto_eject(v: Option<serde_json::Value>) -> Result<Option<AutoEject>, String> {
    let v = match v {
        None | Some(serde_json::Value::Null) | Some(serde_json::Value::Bool(false)) => return Ok(None),
        Some(v) => v,
    };
    let a = if let Some(n) = v.as_u64() {
        AutoEject { failures: u32::try_from(n).map_err(|_| "auto_eject: too many failures")?, retry_ms: 1000 }
    } else {
        let o: AutoEjectObject = serde_json::from_value(v).map_err(|e| format!("auto_eject: {e}"))?;
        AutoEject { failures: o.failures, retry_ms: o.retry_ms.unwrap_or(1000) }
    };
    if a.failures == 0 {
        return Err("auto_eject: failures must be at least 1".into());
    }
    if !(10..=3_600_000).contains(&a.retry_ms) {
        return Err("auto_eject: retry_ms must be between 10 and 3600000".into());
    }
    Ok(Some(a))
}

/// Parses and validates the text of a `servers.json`. O(size of the text).
/// `tls_available` says whether `"tls": true` entries can be honoured.
pub fn parse(text: &str, tls_available: bool) -> Result<ClusterConfig, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let (servers, auto_eject, sentinel, read_from) = if v.is_array() {
        let servers = serde_json::from_value::<Vec<ServerSpec>>(v).map_err(|e| format!("bad server entry: {e}"))?;
        (servers, None, None, None)
    } else if v.is_object() {
        let o: ObjectShape = serde_json::from_value(v).map_err(|e| format!("bad file: {e}"))?;
        (o.servers, parse_auto_eject(o.auto_eject)?, o.sentinel, o.read_from)
    } else {
        return Err("expected a list of servers or an object with \"servers\"".into());
    };
    let read_from_replica = match read_from.as_deref() {
        None | Some("primary") => false,
        Some("replica") => true,
        Some(other) => return Err(format!("read_from: '{other}' is neither \"primary\" nor \"replica\"")),
    };
    let cfg = ClusterConfig { servers, auto_eject, sentinel, read_from_replica };
    validate(&cfg, tls_available)?;
    Ok(cfg)
}

/// Checks every entry: addresses, weights, names, uniqueness. O(n log n).
pub fn validate(cfg: &ClusterConfig, tls_available: bool) -> Result<(), String> {
    if cfg.servers.is_empty() {
        return Err("the server list is empty".into());
    }
    if cfg.servers.len() > MAX_SERVERS {
        return Err(format!("too many servers (at most {MAX_SERVERS})"));
    }
    let mut ids = std::collections::HashSet::new();
    let mut addrs = std::collections::HashSet::new();
    for (i, s) in cfg.servers.iter().enumerate() {
        let at = |msg: String| format!("server #{} ({}): {msg}", i + 1, s.addr);
        check_addr(&s.addr).map_err(at)?;
        if s.weight > MAX_WEIGHT {
            return Err(at(format!("weight must be between 0 and {MAX_WEIGHT}")));
        }
        if let Some(n) = &s.name {
            if n.is_empty() || n.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(at("name must be non-empty, without spaces".into()));
            }
        }
        if s.password.as_deref() == Some("") {
            return Err(at("password must not be empty".into()));
        }
        if s.tls && !tls_available {
            return Err(at("\"tls\": true needs the proxy started with --tls-ca-cert-file".into()));
        }
        if !ids.insert(s.id().to_string()) {
            return Err(at(format!("'{}' is listed twice", s.id())));
        }
        if !addrs.insert(s.addr.clone()) {
            return Err(at("address is listed twice".into()));
        }
    }
    for (i, s) in cfg.servers.iter().enumerate() {
        for r in &s.replicas {
            let at = |msg: String| format!("server #{} ({}): replica {r}: {msg}", i + 1, s.addr);
            check_addr(r).map_err(at)?;
            if !addrs.insert(r.clone()) {
                return Err(at("address is listed twice".into()));
            }
        }
    }
    if cfg.servers.iter().all(|s| s.drained()) {
        return Err("every server is drained (weight 0 or \"drain\": true): none would hold keys".into());
    }
    if let Some(sn) = &cfg.sentinel {
        validate_sentinel(sn, cfg)?;
    }
    Ok(())
}

/// Checks a `host:port`; the error says what is wrong with it.
fn check_addr(addr: &str) -> Result<(), String> {
    let (host, port) = addr.rsplit_once(':').ok_or_else(|| "addr must be host:port".to_string())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err("bad host".into());
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => Ok(()),
        _ => Err(format!("bad port '{port}'")),
    }
}

fn validate_sentinel(sn: &SentinelSpec, cfg: &ClusterConfig) -> Result<(), String> {
    if sn.addrs.is_empty() {
        return Err("sentinel: addrs must list at least one host:port".into());
    }
    let mut seen = std::collections::HashSet::new();
    for (i, a) in sn.addrs.iter().enumerate() {
        check_addr(a).map_err(|e| format!("sentinel: addrs #{} ({a}): {e}", i + 1))?;
        if !seen.insert(a.as_str()) {
            return Err(format!("sentinel: addrs #{} ({a}): listed twice", i + 1));
        }
    }
    if sn.password.as_deref() == Some("") {
        return Err("sentinel: password must not be empty".into());
    }
    if !cfg.servers.iter().any(|s| s.name.is_some()) {
        return Err("sentinel: no server has a \"name\" (the Sentinel master name to follow)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_shape() {
        let c = parse(r#"[{"addr":"127.0.0.1:7001","weight":500},{"addr":"127.0.0.1:7002"}]"#, false).unwrap();
        assert_eq!(c.servers.len(), 2);
        assert_eq!(c.servers[1].weight, DEFAULT_WEIGHT);
        assert_eq!(c.servers[0].id(), "127.0.0.1:7001");
        assert_eq!(c.auto_eject, None);
    }

    #[test]
    fn object_shape_with_options() {
        let c = parse(
            r#"{"servers":[{"addr":"h:1","name":"a","password":"p"}],"auto_eject":{"failures":2,"retry_ms":50}}"#,
            false,
        )
        .unwrap();
        assert_eq!(c.servers[0].id(), "a");
        assert_eq!(c.servers[0].label(), "a (h:1)");
        assert_eq!(c.auto_eject, Some(AutoEject { failures: 2, retry_ms: 50 }));
        let c = parse(r#"{"servers":[{"addr":"h:1"}],"auto_eject":3}"#, false).unwrap();
        assert_eq!(c.auto_eject.map(|a| a.failures), Some(3));
        assert_eq!(c.sentinel, None);
    }

    #[test]
    fn sentinel_setting() {
        let c = parse(
            r#"{"servers":[{"addr":"h:1","name":"m"},{"addr":"h:2"}],
                "sentinel":{"addrs":["127.0.0.1:26379","[::1]:26380"],"password":"pw"}}"#,
            false,
        )
        .unwrap();
        let sn = c.sentinel.unwrap();
        assert_eq!(sn.addrs, ["127.0.0.1:26379", "[::1]:26380"]);
        assert_eq!(sn.password.as_deref(), Some("pw"));
        let c = parse(r#"{"servers":[{"addr":"h:1","name":"m"}],"sentinel":{"addrs":["s:1"]}}"#, false).unwrap();
        assert_eq!(c.sentinel.and_then(|s| s.password), None);
        let e = parse(r#"{"servers":[{"addr":"h:1"}],"sentinel":{"addrs":["s:1"]}}"#, false).unwrap_err();
        assert!(e.contains("no server has a \"name\""), "{e}");
        let e =
            parse(r#"{"servers":[{"addr":"h:1","name":"m"}],"sentinel":{"addrs":["s:1","x"]}}"#, false).unwrap_err();
        assert_eq!(e, "sentinel: addrs #2 (x): addr must be host:port");
    }

    #[test]
    fn bad_files_are_refused() {
        for bad in [
            "",
            "[",
            "{}",
            "[]",
            "3",
            r#"[{"addr":"nohost"}]"#,
            r#"[{"addr":"h:0"}]"#,
            r#"[{"addr":"h:99999"}]"#,
            r#"[{"addr":"h:1","weight":0}]"#,
            r#"[{"addr":"h:1","drain":true},{"addr":"h:2","weight":0}]"#,
            r#"[{"addr":"h:1","weight":10001}]"#,
            r#"[{"addr":"h:1","weight":-5}]"#,
            r#"[{"addr":"h:1","wieght":5}]"#,
            r#"[{"addr":"h:1"},{"addr":"h:1"}]"#,
            r#"[{"addr":"h:1","name":"x"},{"addr":"h:2","name":"x"}]"#,
            r#"[{"addr":"h:1","name":"a b"}]"#,
            r#"[{"addr":"h:1","tls":true}]"#,
            r#"{"servers":[{"addr":"h:1"}],"auto_eject":0}"#,
            r#"{"servers":[{"addr":"h:1","name":"m"}],"sentinel":{"addrs":[]}}"#,
            r#"{"servers":[{"addr":"h:1","name":"m"}],"sentinel":{"addrs":["s"]}}"#,
            r#"{"servers":[{"addr":"h:1","name":"m"}],"sentinel":{"addrs":["s:0"]}}"#,
            r#"{"servers":[{"addr":"h:1","name":"m"}],"sentinel":{"addrs":["s:1","s:1"]}}"#,
            r#"{"servers":[{"addr":"h:1","name":"m"}],"sentinel":{"addrs":["s:1"],"password":""}}"#,
            r#"{"servers":[{"addr":"h:1","name":"m"}],"sentinel":{"addrs":["s:1"],"quorum":2}}"#,
            r#"{"servers":[{"addr":"h:1","name":"m"}],"sentinel":["s:1"]}"#,
            r#"{"servers":[{"addr":"h:1"}],"sentinel":{"addrs":["s:1"]}}"#,
        ] {
            assert!(parse(bad, false).is_err(), "accepted {bad:?}");
        }
        assert!(parse(r#"[{"addr":"h:1","tls":true}]"#, true).is_ok());
    }

    #[test]
    fn replicas_and_read_from() {
        let c = parse(
            r#"{"servers":[{"addr":"h:1","replicas":["h:2","h:3"],"password":"p"}],"read_from":"replica"}"#,
            false,
        )
        .unwrap();
        assert!(c.read_from_replica);
        let r = c.servers[0].replica("h:2");
        assert_eq!((r.addr.as_str(), r.password.as_deref()), ("h:2", Some("p")));
        assert!(!parse(r#"[{"addr":"h:1","replicas":["h:2"]}]"#, false).unwrap().read_from_replica);
        for bad in [
            r#"{"servers":[{"addr":"h:1"}],"read_from":"any"}"#,
            r#"[{"addr":"h:1","replicas":["h:1"]}]"#,
            r#"[{"addr":"h:1","replicas":["h:2"]},{"addr":"h:2"}]"#,
            r#"[{"addr":"h:1","replicas":["nohost"]}]"#,
        ] {
            assert!(parse(bad, false).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn drained_servers() {
        let c = parse(r#"[{"addr":"h:1"},{"addr":"h:2","drain":true},{"addr":"h:3","weight":0}]"#, false).unwrap();
        let d: Vec<bool> = c.servers.iter().map(|s| s.drained()).collect();
        assert_eq!(d, [false, true, true]);
    }
}
