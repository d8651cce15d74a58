//! The `redis` crate's pub/sub API against the server: the synchronous
//! RESP2 `PubSub` (channels, patterns, unsubscribing) and RESP3 pushes on
//! a multiplexed async connection that also runs ordinary commands.

use std::time::Duration;

use redis::{Commands, PushKind, Value};

use super::common::Server;

#[test]
fn sync_resp2_pubsub() {
    let s = Server::start(&[]);
    let mut publ = s.conn();
    let mut conn = s.conn();
    let mut ps = conn.as_pubsub();
    ps.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // One name per call: the crate returns once it has read one
    // confirmation, so a second channel's could still be on its way.
    ps.subscribe("orders").unwrap();
    ps.subscribe("audit").unwrap();
    ps.psubscribe("user.*").unwrap();

    let n: i64 = publ.publish("orders", "o-1").unwrap();
    assert_eq!(n, 1);
    let m = ps.get_message().unwrap();
    assert_eq!(m.get_channel_name(), "orders");
    assert_eq!(m.get_payload::<String>().unwrap(), "o-1");
    assert!(!m.from_pattern());

    let n: i64 = publ.publish("user.42", b"\x00bin".as_slice()).unwrap();
    assert_eq!(n, 1);
    let m = ps.get_message().unwrap();
    assert!(m.from_pattern());
    assert_eq!(m.get_pattern::<String>().unwrap(), "user.*");
    assert_eq!(m.get_channel_name(), "user.42");
    assert_eq!(m.get_payload_bytes(), b"\x00bin");

    ps.unsubscribe("orders").unwrap();
    ps.punsubscribe("user.*").unwrap();
    let n: i64 = publ.publish("orders", "lost").unwrap();
    assert_eq!(n, 0);
    let n: i64 = publ.publish("audit", "kept").unwrap();
    assert_eq!(n, 1);
    let m = ps.get_message().unwrap();
    assert_eq!((m.get_channel_name(), m.get_payload::<String>().unwrap().as_str()), ("audit", "kept"));
    drop(ps);
    // Leaving pub/sub mode (the crate unsubscribes from everything): the
    // connection serves ordinary commands again.
    let pong: String = redis::cmd("PING").query(&mut conn).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn resp3_pushes_on_a_multiplexed_connection() {
    let s = Server::start(&[]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (mut con, mut rx) = s.push_conn().await;
        let mut publ = s.aconn().await;
        for c in ["c1", "c2"] {
            con.subscribe(c).await.unwrap();
        }
        con.psubscribe("p.*").await.unwrap();
        // The confirmations arrived as pushes before the commands completed.
        let mut kinds = Vec::new();
        while let Ok(p) = rx.try_recv() {
            kinds.push(p.kind);
        }
        assert_eq!(kinds, [PushKind::Subscribe, PushKind::Subscribe, PushKind::PSubscribe]);

        // Ordinary commands on the same connection while subscribed.
        let _: () = redis::AsyncCommands::set(&mut con, "k", "v").await.unwrap();
        let v: String = redis::AsyncCommands::get(&mut con, "k").await.unwrap();
        assert_eq!(v, "v");

        for (ch, payload) in [("c1", "a"), ("p.x", "b"), ("c2", "c")] {
            let n: i64 = redis::AsyncCommands::publish(&mut publ, ch, payload).await.unwrap();
            assert_eq!(n, 1);
        }
        let mut got = Vec::new();
        for _ in 0..3 {
            let p = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
            let data: Vec<String> = p
                .data
                .iter()
                .map(|v| match v {
                    Value::BulkString(b) => String::from_utf8(b.clone()).unwrap(),
                    other => panic!("{other:?}"),
                })
                .collect();
            got.push((p.kind, data));
        }
        assert_eq!(
            got,
            [
                (PushKind::Message, vec!["c1".to_string(), "a".into()]),
                (PushKind::PMessage, vec!["p.*".to_string(), "p.x".into(), "b".into()]),
                (PushKind::Message, vec!["c2".to_string(), "c".into()]),
            ]
        );
        con.unsubscribe("c1").await.unwrap();
        let n: i64 = redis::AsyncCommands::publish(&mut publ, "c1", "x").await.unwrap();
        assert_eq!(n, 0);
        let p = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
        assert_eq!(p.kind, PushKind::Unsubscribe);
    });
}
