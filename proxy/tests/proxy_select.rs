//! SELECT through a real proxy in front of real data servers: every kind of
//! request runs in the client's database (checked on the data servers
//! themselves), clients on different databases sharing the proxy never
//! mix, and RESET goes back to database 0.

mod harness;

use harness::*;

fn cluster3(extra: &[&str]) -> (Vec<DataServer>, Proxy) {
    let s: Vec<DataServer> = (0..3).map(|_| DataServer::start()).collect();
    let p = Proxy::start(&servers_json(&s.iter().collect::<Vec<_>>()), extra);
    (s, p)
}

fn ok() -> Resp {
    Resp::Simple("OK".into())
}

/// A direct connection to a data server, in database `db`.
fn direct(s: &DataServer, db: i64) -> redis::Connection {
    let mut c = s.conn();
    redis::cmd("SELECT").arg(db).query::<()>(&mut c).unwrap();
    c
}

/// Keys in database `db` over all data servers.
fn total_in(s: &[DataServer], db: i64) -> i64 {
    s.iter().map(|d| redis::cmd("DBSIZE").query::<i64>(&mut direct(d, db)).unwrap()).sum()
}

fn client_db(raw: &mut Raw) -> String {
    let line = match raw.call(&["CLIENT", "INFO"]) {
        Resp::Bulk(Some(line)) | Resp::Verbatim(line) => line,
        r => panic!("CLIENT INFO is a string: {r:?}"),
    };
    let line = String::from_utf8(line).unwrap();
    line.split(' ').find_map(|f| f.strip_prefix("db=")).unwrap().to_string()
}

#[test]
fn select_runs_every_kind_of_request_in_that_database() {
    let (s, p) = cluster3(&[]);
    let mut raw = p.raw();
    assert_eq!(raw.call(&["SET", "s:k", "zero"]), ok());
    assert_eq!(raw.call(&["SELECT", "3"]), ok());
    assert_eq!(client_db(&mut raw), "3");

    // Single-key commands.
    assert_eq!(raw.call(&["GET", "s:k"]), Resp::Bulk(None));
    assert_eq!(raw.call(&["SET", "s:k", "three"]), ok());
    assert_eq!(raw.call(&["GET", "s:k"]), bulk("three"));
    let on: Vec<usize> =
        (0..3).filter(|&i| redis::cmd("EXISTS").arg("s:k").query::<i64>(&mut direct(&s[i], 3)).unwrap() == 1).collect();
    assert_eq!(on.len(), 1);
    let h = on[0];
    assert_eq!(redis::cmd("GET").arg("s:k").query::<String>(&mut direct(&s[h], 3)).unwrap(), "three");
    assert_eq!(redis::cmd("GET").arg("s:k").query::<String>(&mut direct(&s[h], 0)).unwrap(), "zero");

    // Split multi-key commands and fan-outs.
    let mut mset = vec!["MSET".to_string()];
    for i in 0..60 {
        mset.push(format!("m{i}"));
        mset.push(format!("v{i}"));
    }
    assert_eq!(raw.call(&mset.iter().map(|a| a.as_str()).collect::<Vec<_>>()), ok());
    assert!(s.iter().all(|d| redis::cmd("DBSIZE").query::<i64>(&mut direct(d, 3)).unwrap() > 0));
    assert_eq!(total_in(&s, 3), 61);
    assert_eq!(total_in(&s, 0), 1);
    assert_eq!(
        raw.call(&["MGET", "m0", "m59", "s:k", "nope"]),
        Resp::Array(Some(vec![bulk("v0"), bulk("v59"), bulk("three"), Resp::Bulk(None)]))
    );
    assert_eq!(raw.call(&["DBSIZE"]), Resp::Int(61));
    assert_eq!(raw.call(&["EXISTS", "m1", "m2", "s:k", "nope"]), Resp::Int(3));
    let Resp::Array(Some(keys)) = raw.call(&["KEYS", "m*"]) else { panic!("KEYS is an array") };
    assert_eq!(keys.len(), 60);
    let mut seen = 0;
    let mut cursor = "0".to_string();
    for _ in 0..1000 {
        let Resp::Array(Some(page)) = raw.call(&["SCAN", &cursor, "COUNT", "7"]) else { panic!("SCAN page") };
        let [Resp::Bulk(Some(next)), Resp::Array(Some(ks))] = &page[..] else { panic!("SCAN page {page:?}") };
        seen += ks.len();
        cursor = String::from_utf8(next.clone()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!((seen, cursor.as_str()), (61, "0"));
    let Resp::Bulk(Some(info)) = raw.call(&["INFO", "keyspace"]) else { panic!("INFO is a bulk string") };
    let info = String::from_utf8_lossy(&info).into_owned();
    assert!(info.contains("db0:keys=1,") && info.contains("db3:keys=61,"), "{info}");

    // Transactions, WATCH and HELLO keep the database.
    assert_eq!(raw.call(&["WATCH", "s:k"]), ok());
    assert_eq!(raw.call(&["MULTI"]), ok());
    assert_eq!(raw.call(&["APPEND", "s:k", "!"]), Resp::Simple("QUEUED".into()));
    assert_eq!(raw.call(&["EXEC"]), Resp::Array(Some(vec![Resp::Int(6)])));
    assert!(matches!(raw.call(&["HELLO", "3"]), Resp::Map(_)));
    assert_eq!(raw.call(&["GET", "s:k"]), bulk("three!"));
    assert_eq!(redis::cmd("GET").arg("s:k").query::<String>(&mut direct(&s[h], 0)).unwrap(), "zero");
    // SELECT while watching moves the watch connection along.
    assert_eq!(raw.call(&["WATCH", "s:k"]), ok());
    assert_eq!(raw.call(&["SELECT", "4"]), ok());
    assert_eq!(raw.call(&["SET", "{s:k}x", "four"]), ok());
    assert_eq!(raw.call(&["MULTI"]), ok());
    assert_eq!(raw.call(&["GET", "{s:k}x"]), Resp::Simple("QUEUED".into()));
    assert_eq!(raw.call(&["EXEC"]), Resp::Array(Some(vec![bulk("four")])));
    assert_eq!(raw.call(&["SELECT", "3"]), ok());

    // Blocking commands travel on a connection of their own, in this database too.
    assert_eq!(raw.call(&["RPUSH", "s:q", "job"]), Resp::Int(1));
    assert_eq!(raw.call(&["BLPOP", "s:q", "5"]), Resp::Array(Some(vec![bulk("s:q"), bulk("job")])));
    assert_eq!(raw.call(&["LPUSH", "s:q", "j2"]), Resp::Int(1));
    let llen = |db| s.iter().map(|d| redis::cmd("LLEN").arg("s:q").query::<i64>(&mut direct(d, db)).unwrap()).sum();
    assert_eq!((llen(3), llen(0)), (1i64, 0i64));

    // FLUSHDB empties only this database.
    assert_eq!(raw.call(&["FLUSHDB"]), ok());
    assert_eq!(total_in(&s, 3), 0);
    assert_eq!(total_in(&s, 0), 1);

    // Errors as Redis answers them; the database stays.
    assert_eq!(raw.call(&["SELECT", "16"]), Resp::Error("ERR DB index is out of range".into()));
    assert_eq!(raw.call(&["SELECT", "-1"]), Resp::Error("ERR DB index is out of range".into()));
    assert_eq!(raw.call(&["SELECT", "x"]), Resp::Error("ERR value is not an integer or out of range".into()));
    assert_eq!(client_db(&mut raw), "3");

    // RESET: back to database 0 (and RESP2).
    assert_eq!(raw.call(&["SET", "s:k", "again"]), ok());
    assert_eq!(raw.call(&["RESET"]), Resp::Simple("RESET".into()));
    assert_eq!(client_db(&mut raw), "0");
    assert_eq!(raw.call(&["GET", "s:k"]), bulk("zero"));
    assert_eq!(raw.call(&["DBSIZE"]), Resp::Int(1));
    assert_eq!(raw.call(&["SELECT", "0"]), ok());

    // A client configured with a database number (it sends SELECT on connect).
    let url = format!("redis://127.0.0.1:{}/3", p.port);
    let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
    assert_eq!(redis::cmd("GET").arg("s:k").query::<String>(&mut c).unwrap(), "again");
}

#[test]
fn clients_on_different_databases_never_mix() {
    let (s, p) = cluster3(&["--conns", "1"]);
    let threads: Vec<_> = (0..3)
        .map(|db| {
            let port = p.port;
            std::thread::spawn(move || {
                let mut raw = Raw::connect(port);
                assert_eq!(raw.call(&["SELECT", &db.to_string()]), Resp::Simple("OK".into()));
                for round in 0..20 {
                    // One write holding the whole pipeline: SETs, GETs and a split MGET.
                    let mut batch = Vec::new();
                    let keys: Vec<String> = (0..30).map(|i| format!("mix:{i}")).collect();
                    for k in &keys {
                        batch.extend(encode(&["SET", k, &format!("{db}:{round}")]));
                        batch.extend(encode(&["GET", k]));
                    }
                    let mut mget = vec!["MGET"];
                    mget.extend(keys.iter().map(|k| k.as_str()));
                    batch.extend(encode(&mget));
                    raw.send(&batch);
                    let want = format!("{db}:{round}");
                    for _ in &keys {
                        assert_eq!(raw.read(), Resp::Simple("OK".into()));
                        assert_eq!(raw.read(), bulk(&want), "db {db} read another database's value");
                    }
                    assert_eq!(raw.read(), Resp::Array(Some(vec![bulk(&want); 30])));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for db in 0..3 {
        assert_eq!(total_in(&s, db), 30);
        for d in &s {
            let mut c = direct(d, db);
            let keys: Vec<String> = redis::cmd("KEYS").arg("mix:*").query(&mut c).unwrap();
            for k in keys {
                let v: String = redis::cmd("GET").arg(&k).query(&mut c).unwrap();
                assert_eq!(v, format!("{db}:19"), "{k} in db {db}");
            }
        }
    }
}
