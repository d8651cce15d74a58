//! Geo commands against the real binary: replies, error texts and stored
//! scores as redis-server 7.0.15 gives them (the expected values below were
//! produced with it), keyspace events of GEOADD and the *STORE forms, and
//! when `redis-server` is installed, GEOSEARCH/GEORADIUS replies compared
//! with it over a random data set.

mod common;

use common::{arr, bulk, bulks, err, int, nil, nil_array, Raw, Resp, Server};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

/// GEOADD of Redis's documentation example plus two points near Sicily.
fn sicily(c: &mut Raw) {
    let r = c.call(&["GEOADD", "Sicily", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"]);
    assert_eq!(r, int(2));
    let r = c.call(&["GEOADD", "Sicily", "12.758489", "38.788135", "edge1", "17.241510", "38.788135", "edge2"]);
    assert_eq!(r, int(2));
}

/// `[member, rest...]` as a nested reply item.
fn item(member: &str, rest: Vec<Resp>) -> Resp {
    let mut v = vec![bulk(member)];
    v.extend(rest);
    arr(v)
}

fn pos(lon: &str, lat: &str) -> Resp {
    bulks(&[lon, lat])
}

#[test]
fn scores_positions_hashes_and_distances_match_redis() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    sicily(&mut c);
    assert_eq!(
        c.call(&["ZRANGE", "Sicily", "0", "-1", "WITHSCORES"]),
        bulks(&[
            "Palermo",
            "3479099956230698",
            "edge1",
            "3479273021651468",
            "Catania",
            "3479447370796909",
            "edge2",
            "3481342659049484"
        ])
    );
    assert_eq!(
        c.call(&["GEOPOS", "Sicily", "Palermo", "nope", "Catania"]),
        arr(vec![
            pos("13.36138933897018433", "38.11555639549629859"),
            nil_array(),
            pos("15.08726745843887329", "37.50266842333162032")
        ])
    );
    assert_eq!(
        c.call(&["GEOHASH", "Sicily", "Palermo", "Catania", "edge1", "nope"]),
        arr(vec![bulk("sqc8b49rny0"), bulk("sqdtr74hyu0"), bulk("sqchdm4mq20"), nil()])
    );
    for (unit, want) in [("m", "166274.1516"), ("km", "166.2742"), ("mi", "103.3182"), ("FT", "545518.8700")] {
        assert_eq!(c.call(&["GEODIST", "Sicily", "Palermo", "Catania", unit]), bulk(want), "{unit}");
    }
    assert_eq!(c.call(&["GEODIST", "Sicily", "Palermo", "Catania"]), bulk("166274.1516"));
    assert_eq!(c.call(&["GEODIST", "Sicily", "Palermo", "nope"]), nil());
    assert_eq!(c.call(&["GEODIST", "nokey", "a", "b"]), nil());
    assert_eq!(
        c.call(&["GEODIST", "Sicily", "Palermo", "Catania", "parsec"]),
        err("ERR unsupported unit provided. please use M, KM, FT, MI")
    );
    assert_eq!(c.call(&["GEODIST", "Sicily", "Palermo", "Catania", "km", "x"]), err("ERR syntax error"));
    // The limits, and scores GEOADD never writes (decoded as Redis does).
    let r = c.call(&["GEOADD", "g", "-180", "-85.05112878", "sw", "180", "85.05112878", "ne", "0", "0", "zero"]);
    assert_eq!(r, int(3));
    let south_west = pos("-179.99999731779098511", "-85.05112751263942528");
    let north_east = pos("180", "85.0511287799999991");
    assert_eq!(
        c.call(&["GEOPOS", "g", "sw", "ne", "zero"]),
        arr(vec![south_west.clone(), north_east.clone(), pos("0.00000268220901489", "0.00000126736058093")])
    );
    assert_eq!(c.call(&["GEOHASH", "g", "sw", "ne", "zero"]), bulks(&["00bh0hbj200", "bp05b5048p0", "s0000000000"]));
    assert_eq!(c.call(&["ZADD", "weird", "-1", "neg", "1e300", "huge", "0.5", "half"]), int(3));
    assert_eq!(
        c.call(&["GEOPOS", "weird", "neg", "huge", "half"]),
        arr(vec![north_east, south_west.clone(), south_west])
    );
    assert_eq!(c.call(&["GEOHASH", "weird", "neg", "huge"]), bulks(&["bp05b5048p0", "00bh0hbj200"]));
}

#[test]
fn geoadd_options_and_errors() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    assert_eq!(c.call(&["GEOADD", "g", "xx", "nx", "1", "1", "a"]), err("ERR syntax error"));
    assert_eq!(c.call(&["GEOADD", "g", "ch", "1", "1"]), err("ERR syntax error"));
    assert_eq!(c.call(&["GEOADD", "g", "gt", "1", "1", "a"]), err("ERR syntax error"));
    assert_eq!(
        c.call(&["GEOADD", "g", "1", "1", "a", "200", "1", "b"]),
        err("ERR invalid longitude,latitude pair 200.000000,1.000000")
    );
    assert_eq!(c.call(&["GEOADD", "g", "x", "1", "a"]), err("ERR value is not a valid float"));
    assert_eq!(c.call(&["EXISTS", "g"]), int(0), "nothing is added when one pair is invalid");
    assert_eq!(c.call(&["GEOADD", "g", "nx", "ch", "1", "1", "a", "2", "2", "b"]), int(2));
    assert_eq!(c.call(&["GEOADD", "g", "xx", "ch", "1.5", "1", "a", "3", "3", "c"]), int(1));
    assert_eq!(c.call(&["GEOADD", "g", "1.5", "1", "a"]), int(0));
    assert_eq!(
        c.call(&["ZRANGE", "g", "0", "-1", "WITHSCORES"]),
        bulks(&["a", "3377923598917984", "b", "3378191666521995"])
    );
    assert_eq!(c.call(&["SET", "str", "x"]), Resp::Simple("OK".into()));
    for cmd in [
        &["GEOADD", "str", "1", "1", "a"][..],
        &["GEOPOS", "str", "a"],
        &["GEOHASH", "str", "a"],
        &["GEODIST", "str", "a", "b"],
        &["GEORADIUS", "str", "1", "1", "1", "km"],
        &["GEOSEARCHSTORE", "dst", "str", "FROMLONLAT", "1", "1", "BYRADIUS", "1", "km"],
    ] {
        assert_eq!(c.call(cmd), err(WRONGTYPE), "{cmd:?}");
    }
}

#[test]
fn searches_match_redis() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    sicily(&mut c);
    let palermo = pos("13.36138933897018433", "38.11555639549629859");
    let catania = pos("15.08726745843887329", "37.50266842333162032");
    let edge1 = pos("12.7584877610206604", "38.78813451624225195");
    let edge2 = pos("17.24151045083999634", "38.78813451624225195");
    assert_eq!(
        c.call(&["GEORADIUS", "Sicily", "15", "37", "200", "km", "WITHDIST", "WITHCOORD", "WITHHASH"]),
        arr(vec![
            item("Palermo", vec![bulk("190.4424"), int(3479099956230698), palermo.clone()]),
            item("Catania", vec![bulk("56.4413"), int(3479447370796909), catania.clone()]),
        ])
    );
    assert_eq!(c.call(&["GEORADIUS", "Sicily", "15", "37", "200", "km", "ASC"]), bulks(&["Catania", "Palermo"]));
    assert_eq!(
        c.call(&["GEORADIUS", "Sicily", "15", "37", "200", "km", "DESC", "WITHDIST"]),
        arr(vec![item("Palermo", vec![bulk("190.4424")]), item("Catania", vec![bulk("56.4413")])])
    );
    assert_eq!(c.call(&["GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "1"]), bulks(&["Catania"]));
    assert_eq!(c.call(&["GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "1", "ANY"]), bulks(&["Palermo"]));
    assert_eq!(c.call(&["GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT", "1", "DESC"]), bulks(&["Palermo"]));
    assert_eq!(
        c.call(&["GEORADIUSBYMEMBER", "Sicily", "Palermo", "200", "km", "WITHDIST"]),
        arr(vec![
            item("Palermo", vec![bulk("0.0000")]),
            item("edge1", vec![bulk("91.4007")]),
            item("Catania", vec![bulk("166.2742")]),
        ])
    );
    assert_eq!(
        c.call(&["GEORADIUSBYMEMBER_RO", "Sicily", "Palermo", "100", "mi", "WITHDIST"]),
        arr(vec![item("Palermo", vec![bulk("0.0000")]), item("edge1", vec![bulk("56.7939")])])
    );
    assert_eq!(
        c.call(&[
            "GEOSEARCH",
            "Sicily",
            "FROMMEMBER",
            "Palermo",
            "BYRADIUS",
            "200",
            "km",
            "ASC",
            "WITHDIST",
            "WITHCOORD"
        ]),
        arr(vec![
            item("Palermo", vec![bulk("0.0000"), palermo.clone()]),
            item("edge1", vec![bulk("91.4007"), edge1.clone()]),
            item("Catania", vec![bulk("166.2742"), catania.clone()]),
        ])
    );
    assert_eq!(
        c.call(&[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYBOX",
            "400",
            "400",
            "km",
            "ASC",
            "WITHCOORD",
            "WITHDIST",
            "WITHHASH"
        ]),
        arr(vec![
            item("Catania", vec![bulk("56.4413"), int(3479447370796909), catania]),
            item("Palermo", vec![bulk("190.4424"), int(3479099956230698), palermo]),
            item("edge2", vec![bulk("279.7403"), int(3481342659049484), edge2]),
            item("edge1", vec![bulk("279.7405"), int(3479273021651468), edge1]),
        ])
    );
    let r = c.call(&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYBOX", "200", "200", "km", "ASC"]);
    assert_eq!(r, bulks(&["Catania"]));
    let r = c.call(&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "COUNT", "3", "DESC"]);
    assert_eq!(r, bulks(&["Palermo", "Catania"]));
    // Unsorted: in score order (one cell covers the world).
    let all = bulks(&["Palermo", "edge1", "Catania", "edge2"]);
    assert_eq!(c.call(&["GEORADIUS", "Sicily", "0", "0", "50000", "km"]), all);
    assert_eq!(c.call(&["GEOSEARCH", "Sicily", "FROMLONLAT", "0", "0", "BYRADIUS", "inf", "km"]), all);
    // A missing source.
    assert_eq!(c.call(&["GEORADIUS", "nokey", "15", "37", "200", "km"]), arr(vec![]));
    assert_eq!(c.call(&["GEORADIUSBYMEMBER", "nokey", "nope", "x", "km"]), arr(vec![]));
    assert_eq!(c.call(&["GEORADIUS", "nokey", "15", "37", "x", "km"]), err("ERR need numeric radius"));
}

#[test]
fn resp3_coordinates_are_doubles() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    sicily(&mut c);
    c.call(&["HELLO", "3"]);
    let d = |v: &str| Resp::Double(v.into());
    assert_eq!(
        c.call(&["GEOPOS", "Sicily", "Palermo", "nope"]),
        arr(vec![arr(vec![d("13.36138933897018433"), d("38.11555639549629859")]), Resp::Null])
    );
    assert_eq!(
        c.call(&["GEORADIUS", "Sicily", "15", "37", "100", "km", "WITHDIST", "WITHCOORD"]),
        arr(vec![item(
            "Catania",
            vec![bulk("56.4413"), arr(vec![d("15.08726745843887329"), d("37.50266842333162032")])]
        )])
    );
}

#[test]
fn store_forms_write_sorted_sets_as_redis() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    sicily(&mut c);
    let box_args = ["FROMLONLAT", "15", "37", "BYBOX", "400", "400", "km"];
    let mut cmd = vec!["GEOSEARCHSTORE", "dst", "Sicily"];
    cmd.extend(box_args);
    cmd.extend(["ASC", "COUNT", "3", "STOREDIST"]);
    assert_eq!(c.call(&cmd), int(3));
    assert_eq!(
        c.call(&["ZRANGE", "dst", "0", "-1", "WITHSCORES"]),
        bulks(&["Catania", "56.441257870158204", "Palermo", "190.44242984775784", "edge2", "279.7403417843143"])
    );
    assert_eq!(c.call(&["EXPIRE", "dst", "100"]), int(1));
    let mut cmd = vec!["GEOSEARCHSTORE", "dst", "Sicily"];
    cmd.extend(box_args);
    assert_eq!(c.call(&cmd), int(4));
    assert_eq!(c.call(&["TTL", "dst"]), int(-1), "the destination is replaced");
    assert_eq!(c.call(&["ZCARD", "dst"]), int(4));
    assert_eq!(c.call(&["GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "dst2"]), int(2));
    assert_eq!(
        c.call(&["ZRANGE", "dst2", "0", "-1", "WITHSCORES"]),
        bulks(&["Palermo", "3479099956230698", "Catania", "3479447370796909"])
    );
    assert_eq!(c.call(&["GEORADIUS", "Sicily", "15", "37", "200", "km", "STOREDIST", "dst3"]), int(2));
    assert_eq!(
        c.call(&["ZRANGE", "dst3", "0", "-1", "WITHSCORES"]),
        bulks(&["Catania", "56.441257870158204", "Palermo", "190.44242984775784"])
    );
    // Nothing found, or no source: the destination is deleted.
    assert_eq!(c.call(&["GEORADIUS", "Sicily", "15", "37", "1", "km", "STORE", "dst3"]), int(0));
    assert_eq!(c.call(&["EXISTS", "dst3"]), int(0));
    assert_eq!(c.call(&["GEORADIUSBYMEMBER", "nokey", "nope", "200", "km", "STORE", "dst2"]), int(0));
    assert_eq!(c.call(&["EXISTS", "dst2"]), int(0));
    // The destination may be the source.
    assert_eq!(c.call(&["GEORADIUSBYMEMBER", "Sicily", "Palermo", "100", "km", "STORE", "Sicily"]), int(2));
    assert_eq!(c.call(&["ZRANGE", "Sicily", "0", "-1"]), bulks(&["Palermo", "edge1"]));
    assert_eq!(
        c.call(&["GEORADIUS", "Sicily", "15", "37", "200", "km", "STORE", "d", "WITHDIST"]),
        err("ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
    );
    let mut cmd = vec!["GEOSEARCHSTORE", "dst", "Sicily"];
    cmd.extend(box_args);
    cmd.push("WITHCOORD");
    assert_eq!(c.call(&cmd), err("ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"));
    assert_eq!(c.call(&["GEORADIUS_RO", "Sicily", "15", "37", "200", "km", "STORE", "d"]), err("ERR syntax error"));
    let r = c.call(&["GEOSEARCH", "Sicily", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STORE", "d"]);
    assert_eq!(r, err("ERR syntax error"));
    // COMMAND GETKEYS finds the STORE destination (so it is locked).
    assert_eq!(
        c.call(&["COMMAND", "GETKEYS", "GEORADIUS", "src", "1", "1", "1", "km", "STORE", "d1", "STOREDIST", "d2"]),
        bulks(&["src", "d2"])
    );
}

#[test]
fn search_argument_errors_match_redis() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    sicily(&mut c);
    let g = |rest: &[&str]| {
        let mut v = vec!["GEOSEARCH", "Sicily"];
        v.extend_from_slice(rest);
        v.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let cases: &[(&[&str], &str)] = &[
        (&["FROMMEMBER", "nope", "BYRADIUS", "200", "km"], "ERR could not decode requested zset member"),
        (&["FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "BYBOX", "1", "1", "km"], "ERR syntax error"),
        (&["FROMLONLAT", "15", "37", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km"], "ERR syntax error"),
        (
            &["BYRADIUS", "1", "km", "ASC", "WITHDIST"],
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH",
        ),
        (
            &["FROMLONLAT", "15", "37", "ASC", "WITHDIST"],
            "ERR exactly one of BYRADIUS and BYBOX can be specified for GEOSEARCH",
        ),
        (&["FROMLONLAT", "15", "37", "BYRADIUS", "-1", "km"], "ERR radius cannot be negative"),
        (&["FROMLONLAT", "15", "37", "BYRADIUS", "abc", "km"], "ERR need numeric radius"),
        (&["FROMLONLAT", "15", "37", "BYBOX", "abc", "1", "km"], "ERR need numeric width"),
        (&["FROMLONLAT", "15", "37", "BYBOX", "1", "abc", "km"], "ERR need numeric height"),
        (&["FROMLONLAT", "15", "37", "BYBOX", "1", "-1", "km"], "ERR height or width cannot be negative"),
        (&["FROMLONLAT", "15", "37", "BYRADIUS", "1", "yd"], "ERR unsupported unit provided. please use M, KM, FT, MI"),
        (&["FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "ANY"], "ERR the ANY argument requires COUNT argument"),
        (&["FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "COUNT", "0"], "ERR COUNT must be > 0"),
        (
            &["FROMLONLAT", "15", "37", "BYRADIUS", "1", "km", "COUNT", "x"],
            "ERR value is not an integer or out of range",
        ),
        (&["FROMLONLAT", "15", "95", "BYRADIUS", "1", "km"], "ERR invalid longitude,latitude pair 15.000000,95.000000"),
        (&["FROMLONLAT", "x", "37", "BYRADIUS", "1", "km"], "ERR value is not a valid float"),
    ];
    for (rest, want) in cases {
        assert_eq!(c.call_owned(&g(rest)), err(want), "{rest:?}");
    }
    assert_eq!(c.call(&["GEORADIUS", "Sicily", "15", "37", "200", "km", "COUNT"]), err("ERR syntax error"));
    assert_eq!(
        c.call(&["GEORADIUSBYMEMBER", "Sicily", "nope", "200", "km"]),
        err("ERR could not decode requested zset member")
    );
    assert_eq!(
        c.call(&["geosearch", "Sicily", "bybox", "1", "1", "km"]),
        err("ERR wrong number of arguments for 'geosearch' command")
    );
}

#[test]
fn keyspace_events_are_redis_names() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let _: () = redis::cmd("CONFIG").arg(&["SET", "notify-keyspace-events", "KEA"]).query(&mut c).unwrap();
    let mut sub_conn = s.conn();
    let mut sub = sub_conn.as_pubsub();
    sub.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    sub.psubscribe("__keyevent@0__:*").unwrap();
    let run = |c: &mut redis::Connection, args: &[&str]| {
        let mut cmd = redis::cmd(args[0]);
        cmd.arg(&args[1..]);
        let _: redis::Value = cmd.query(c).unwrap();
    };
    run(&mut c, &["GEOADD", "g", "13.361389", "38.115556", "Palermo"]);
    run(&mut c, &["GEOADD", "g", "13.361389", "38.115556", "Palermo"]);
    run(&mut c, &["GEORADIUS", "g", "13", "38", "100", "km", "STORE", "d1"]);
    run(&mut c, &["GEOSEARCHSTORE", "d2", "g", "FROMMEMBER", "Palermo", "BYRADIUS", "1", "km"]);
    run(&mut c, &["GEOSEARCHSTORE", "d2", "g", "FROMLONLAT", "0", "0", "BYRADIUS", "1", "km"]);
    run(&mut c, &["GEORADIUS", "g", "13", "38", "100", "km"]);
    run(&mut c, &["PUBLISH", "__keyevent@0__:sentinel", "-"]);
    let mut got = Vec::new();
    loop {
        let m = sub.get_message().unwrap();
        let line = format!("{} {}", m.get_channel_name(), String::from_utf8_lossy(m.get_payload_bytes()));
        if line.ends_with(":sentinel -") {
            break;
        }
        got.push(line);
    }
    assert_eq!(
        got,
        [
            "__keyevent@0__:zadd g",
            "__keyevent@0__:georadiusstore d1",
            "__keyevent@0__:geosearchstore d2",
            "__keyevent@0__:del d2",
        ]
    );
}

/// A small deterministic generator (xorshift), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `[lo, hi)`.
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (self.next() >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
    }
}

/// The same random data set and searches on both servers give the same
/// replies, byte for byte (members, order, distances, hashes, coordinates,
/// stored scores).
#[test]
fn searches_equal_redis_server_on_random_data() {
    let Some(redis) = common::RealRedis::start(&[]) else { return };
    let port = redis.port;
    let ours = Server::start(&[]);
    let mut a = ours.raw();
    let mut b = Raw::connect(port);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Clustered and world-wide points; some exactly on the same position.
    let mut add = vec!["GEOADD".to_string(), "pts".to_string()];
    for i in 0..3000 {
        let (lon, lat) = if i % 3 == 0 {
            (rng.range(-180.0, 180.0), rng.range(-85.0, 85.0))
        } else {
            (rng.range(12.0, 16.0), rng.range(36.0, 40.0))
        };
        add.extend([format!("{lon}"), format!("{lat}"), format!("m{i}")]);
        if i % 97 == 0 {
            add.extend([format!("{lon}"), format!("{lat}"), format!("twin{i}")]);
        }
    }
    assert_eq!(a.call_owned(&add), b.call_owned(&add));
    let units = ["m", "km", "mi", "ft"];
    for round in 0..300 {
        let (lon, lat) = if round % 4 == 0 {
            (rng.range(-180.0, 180.0), rng.range(-85.0, 85.0))
        } else {
            (rng.range(11.0, 17.0), rng.range(35.0, 41.0))
        };
        let unit = units[(rng.next() % 4) as usize];
        let scale = match unit {
            "m" => 1000.0,
            "ft" => 3280.0,
            _ => 1.0,
        };
        let size = |rng: &mut Rng| format!("{:.3}", rng.range(0.0, 400.0) * scale);
        let mut cmd = vec!["GEOSEARCH".to_string(), "pts".to_string()];
        if round % 5 == 1 {
            cmd.extend(["FROMMEMBER".into(), format!("m{}", rng.next() % 3000)]);
        } else {
            cmd.extend(["FROMLONLAT".into(), format!("{lon}"), format!("{lat}")]);
        }
        if round % 2 == 0 {
            cmd.extend(["BYRADIUS".into(), size(&mut rng), unit.into()]);
        } else {
            cmd.extend(["BYBOX".into(), size(&mut rng), size(&mut rng), unit.into()]);
        }
        match round % 6 {
            0 => cmd.extend(["ASC".into(), "WITHDIST".into(), "WITHHASH".into(), "WITHCOORD".into()]),
            1 => cmd.extend(["DESC".into(), "WITHDIST".into()]),
            2 => cmd.extend(["COUNT".into(), "7".into(), "WITHDIST".into()]),
            3 => cmd.extend(["COUNT".into(), "5".into(), "ANY".into()]),
            4 => cmd.push("WITHCOORD".into()),
            _ => {}
        }
        assert_eq!(a.call_owned(&cmd), b.call_owned(&cmd), "{}", cmd.join(" "));
        // The same search stored (distances or hashes) stores the same set.
        let mut store = vec!["GEOSEARCHSTORE".to_string(), "dst".to_string()];
        store.extend(cmd[1..].iter().filter(|w| !w.starts_with("WITH")).cloned());
        if round % 2 == 0 {
            store.push("STOREDIST".into());
        }
        assert_eq!(a.call_owned(&store), b.call_owned(&store), "{}", store.join(" "));
        let range: Vec<String> = ["ZRANGE", "dst", "0", "-1", "WITHSCORES"].map(String::from).to_vec();
        assert_eq!(a.call_owned(&range), b.call_owned(&range), "{}", store.join(" "));
    }
    let hash: Vec<String> = ["GEOHASH", "pts", "m0", "m1", "m2", "twin0"].map(String::from).to_vec();
    assert_eq!(a.call_owned(&hash), b.call_owned(&hash));
}
