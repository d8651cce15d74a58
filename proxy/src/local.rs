//! Commands the proxy answers itself: PING, ECHO, HELLO, AUTH, CLIENT,
//! SELECT, QUIT, RESET and COMMAND. Their replies and error texts are the
//! data server's; COMMAND runs the data server's own handler against the
//! shared command table, so both describe the same commands.
//!
//! Client state as in Redis: SELECT sets the client's database (see
//! `router.rs` for how requests then reach it), HELLO changes the protocol
//! but neither the database nor a WATCH, CLIENT INFO/LIST show `db=`, and
//! RESET discards MULTI, ends the WATCH, and goes back to database 0,
//! RESP2, no name and (with --requirepass) unauthenticated.

use std::sync::{Arc, LazyLock};

use bytes::Bytes;
use inmemory::cmd::connection::{secure_eq, REDIS_VERSION};
use inmemory::cmd::{table, Ctx};
use inmemory::protocol::Reply;
use inmemory::server::client::ClientState;
use inmemory::server::config::Config;
use inmemory::server::Server;

use crate::pool::ConnError;
use crate::router::{Flow, Router};

/// A data server with no data, used only to run COMMAND's handler.
static TABLE_SERVER: LazyLock<Arc<Server>> = LazyLock::new(|| Server::new(Config::default()));

/// Runs COMMAND (and its subcommands) with the data server's handler. O(commands).
fn command_reply(args: &[Bytes]) -> Reply {
    let Some(spec) = table::lookup(b"command") else { return Reply::err("ERR unknown command 'command'") };
    let srv: &Server = &TABLE_SERVER;
    let handle = srv.clients.register(None, None);
    let id = handle.id;
    let mut client = ClientState::new(handle, true);
    let mut ks = srv.keyspace.lock_none();
    let mut ctx = Ctx { srv, client: &mut client, ks: &mut ks };
    let r = (spec.handler)(&mut ctx, args);
    drop(ks);
    srv.clients.unregister(id);
    r.unwrap_or_else(|e| e)
}

fn is(a: &[u8], word: &str) -> bool {
    a.eq_ignore_ascii_case(word.as_bytes())
}

fn valid_name(n: &[u8]) -> bool {
    n.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

impl Router {
    /// Answers a locally handled command (`name` is its canonical name).
    pub(crate) async fn local(&mut self, name: &str, a: &[Bytes]) -> Flow {
        match name {
            "ping" => match a.len() {
                1 => self.reply(Reply::Status("PONG")).await,
                2 => self.reply(Reply::Bulk(a[1].clone())).await,
                _ => self.error("ERR wrong number of arguments for 'ping' command").await,
            },
            "echo" => self.reply(Reply::Bulk(a[1].clone())).await,
            "select" => self.select(&a[1]).await,
            "quit" => {
                self.reply(Reply::Status("OK")).await;
                Flow::Close
            }
            "reset" => {
                self.multi = None;
                self.release_watch().await;
                self.set_db(0).await;
                self.name = None;
                self.set_proto(2).await;
                self.authed = self.cluster.requirepass.is_none();
                self.reply(Reply::Status("RESET")).await
            }
            "auth" => {
                let r = match a.len() {
                    2 => self.check_auth(None, &a[1]),
                    3 => self.check_auth(Some(&a[1]), &a[2]),
                    _ => Err("ERR syntax error".into()),
                };
                match r {
                    Ok(()) => self.reply(Reply::Status("OK")).await,
                    Err(e) => self.error(&e).await,
                }
            }
            "hello" => self.hello(a).await,
            "client" => self.client(a).await,
            "command" => {
                let r = command_reply(a);
                self.reply(r).await
            }
            _ => self.error("ERR proxy: internal routing error").await,
        }
    }

    fn check_auth(&mut self, user: Option<&[u8]>, pass: &[u8]) -> Result<(), String> {
        let user_ok = user.is_none_or(|u| u == b"default");
        match &self.cluster.requirepass {
            None if user.is_none() => Err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?".into()),
            None if user_ok => {
                self.authed = true;
                Ok(())
            }
            Some(p) if user_ok && secure_eq(pass, p.as_bytes()) => {
                self.authed = true;
                Ok(())
            }
            _ => Err("WRONGPASS invalid username-password pair or user is disabled.".into()),
        }
    }

    /// Switches protocol; earlier replies are resolved first so requests on
    /// the old protocol's connections cannot be overtaken.
    async fn set_proto(&mut self, proto: u8) {
        if proto != self.proto {
            self.barrier().await;
            self.proto = proto;
            self.watch_follow_proto(proto);
        }
    }

    /// Switches database; earlier replies are resolved first so requests
    /// on the old database's connections cannot be overtaken.
    async fn set_db(&mut self, db: u32) {
        if db != self.db {
            self.barrier().await;
            self.db = db;
        }
    }

    /// SELECT: accepted when no server on the ring refuses the database
    /// (each one's pool connection for it is opened, or already open); an
    /// unreachable server does not count. O(servers) connects the first time.
    async fn select(&mut self, arg: &[u8]) -> Flow {
        let Some(n) = std::str::from_utf8(arg).ok().and_then(|s| s.parse::<i64>().ok()) else {
            return self.error("ERR value is not an integer or out of range").await;
        };
        let Ok(db) = u32::try_from(n) else { return self.error("ERR DB index is out of range").await };
        if db == self.db {
            return self.reply(Reply::Status("OK")).await;
        }
        let servers: Vec<_> = self.topo.live().cloned().collect();
        for b in servers {
            if let Err(ConnError::Refused(e)) = b.get(self.slot(), self.proto, db).await {
                return self.error(&e).await;
            }
        }
        if let Err(e) = self.watch_follow_db(db).await {
            return self.error(&e).await;
        }
        self.set_db(db).await;
        self.reply(Reply::Status("OK")).await
    }

    async fn hello(&mut self, a: &[Bytes]) -> Flow {
        let mut proto = self.proto;
        let mut i = 1;
        if a.len() > 1 {
            match std::str::from_utf8(&a[1]).ok().and_then(|s| s.parse::<i64>().ok()) {
                Some(v @ 2..=3) => proto = v as u8,
                Some(_) => return self.error("NOPROTO unsupported protocol version").await,
                None => return self.error("ERR Protocol version is not an integer or out of range").await,
            }
            i = 2;
        }
        let mut setname = None;
        while i < a.len() {
            if is(&a[i], "auth") && i + 2 < a.len() {
                if let Err(e) = self.check_auth(Some(&a[i + 1]), &a[i + 2]) {
                    return self.error(&e).await;
                }
                i += 3;
            } else if is(&a[i], "setname") && i + 1 < a.len() {
                if !valid_name(&a[i + 1]) {
                    return self.error("ERR Client names cannot contain spaces, newlines or special characters.").await;
                }
                setname = Some(a[i + 1].clone());
                i += 2;
            } else {
                let opt = String::from_utf8_lossy(&a[i]).into_owned();
                return self.error(&format!("ERR Syntax error in HELLO option '{opt}'")).await;
            }
        }
        if !self.authed {
            return self.error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time").await;
        }
        if let Some(n) = setname {
            self.name = Some(n).filter(|n| !n.is_empty());
        }
        self.set_proto(proto).await;
        let id = self.id as i64;
        self.reply(Reply::Map(vec![
            (Reply::bulk_str("server"), Reply::bulk_str("redis")),
            (Reply::bulk_str("version"), Reply::bulk_str(REDIS_VERSION)),
            (Reply::bulk_str("proto"), Reply::Int(proto as i64)),
            (Reply::bulk_str("id"), Reply::Int(id)),
            (Reply::bulk_str("mode"), Reply::bulk_str("standalone")),
            (Reply::bulk_str("role"), Reply::bulk_str("master")),
            (Reply::bulk_str("modules"), Reply::Array(vec![])),
        ]))
        .await
    }

    fn client_line(&self) -> String {
        let name = self.name.as_ref().map(|n| String::from_utf8_lossy(n).into_owned()).unwrap_or_default();
        format!("id={} addr={} name={} db={} resp={} cmd=client\n", self.id, self.peer, name, self.db, self.proto)
    }

    async fn client(&mut self, a: &[Bytes]) -> Flow {
        let sub = &a[1];
        let n = a.len();
        if is(sub, "setname") && n == 3 {
            if !valid_name(&a[2]) {
                return self.error("ERR Client names cannot contain spaces, newlines or special characters.").await;
            }
            self.name = Some(a[2].clone()).filter(|n| !n.is_empty());
            self.reply(Reply::Status("OK")).await
        } else if is(sub, "getname") && n == 2 {
            let name = self.name.clone();
            self.reply(Reply::opt_bulk(name)).await
        } else if is(sub, "setinfo") && n == 4 {
            if is(&a[2], "lib-name") || is(&a[2], "lib-ver") {
                if !valid_name(&a[3]) {
                    return self
                        .error("ERR lib-name and lib-ver cannot contain spaces, newlines or special characters.")
                        .await;
                }
                self.reply(Reply::Status("OK")).await
            } else {
                let attr = String::from_utf8_lossy(&a[2]).into_owned();
                self.error(&format!("ERR Unrecognized option '{attr}'")).await
            }
        } else if is(sub, "id") && n == 2 {
            let id = self.id as i64;
            self.reply(Reply::Int(id)).await
        } else if (is(sub, "info") || is(sub, "list")) && n == 2 {
            let line = self.client_line();
            self.reply(Reply::Verbatim(Bytes::from(line))).await
        } else if is(sub, "help") && n == 2 {
            let lines = [
                "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are (through the proxy):",
                "GETNAME",
                "ID",
                "INFO",
                "LIST",
                "SETNAME <name>",
                "SETINFO <option> <value>",
                "HELP",
            ];
            self.reply(Reply::Array(lines.iter().map(|l| Reply::Status(l)).collect())).await
        } else if ["tracking", "trackinginfo", "caching", "getredir"].iter().any(|w| is(sub, w)) {
            // Invalidation pushes would have to follow every key to its server.
            let s = String::from_utf8_lossy(sub).to_ascii_uppercase();
            self.error(&format!("ERR CLIENT {s} is not supported through the proxy; connect to a data server")).await
        } else {
            let s = String::from_utf8_lossy(sub).to_ascii_uppercase();
            self.error(&format!("ERR proxy: CLIENT {s} is not supported by the proxy")).await
        }
    }
}
