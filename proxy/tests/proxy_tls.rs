//! TLS at both ends: a TLS client talks to the proxy's --tls-port, and the
//! proxy reaches a data server through its TLS port (`"tls": true`).

mod harness;

use bytes::BytesMut;
use harness::*;
use inmemory::protocol::frame::{Frame, FrameReader};
use inmemory::tls::{client_config, connect, testcerts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[test]
fn tls_clients_and_tls_servers() {
    let certs_dir = tempfile::tempdir().unwrap();
    let certs = testcerts::generate(certs_dir.path()).unwrap();
    let p = |x: &std::path::Path| x.to_str().unwrap().to_string();
    let (ca, scert, skey, ccert, ckey) =
        (p(&certs.ca_cert), p(&certs.server_cert), p(&certs.server_key), p(&certs.client_cert), p(&certs.client_key));
    // The data server requires client certificates on its TLS port.
    let tls_port = free_port();
    let tls_port_s = tls_port.to_string();
    let server_flags =
        ["--tls-port", &tls_port_s, "--tls-cert-file", &scert, "--tls-key-file", &skey, "--tls-ca-cert-file", &ca];
    let d = DataServer::start_with(free_port(), &server_flags).expect("TLS data server");
    let json = format!("[{{\"addr\": \"127.0.0.1:{tls_port}\", \"tls\": true}}]");

    // Without a CA file the proxy refuses "tls" entries.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.json"), &json).unwrap();
    let out = std::process::Command::new(proxy_bin())
        .arg("--servers")
        .arg(dir.path().join("s.json"))
        .arg("--port")
        .arg(free_port().to_string())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tls-ca-cert-file"));

    let proxy_tls = free_port();
    let proxy_tls_s = proxy_tls.to_string();
    let px = Proxy::start(
        &json,
        &[
            "--tls-ca-cert-file",
            &ca,
            "--tls-client-cert-file",
            &ccert,
            "--tls-client-key-file",
            &ckey,
            "--tls-port",
            &proxy_tls_s,
            "--tls-cert-file",
            &scert,
            "--tls-key-file",
            &skey,
            "--tls-auth-clients",
            "no",
        ],
    );
    // Plain client → proxy → TLS server.
    let mut c = px.conn();
    redis::cmd("SET").arg("plain").arg("1").query::<()>(&mut c).unwrap();
    assert_eq!(redis::cmd("GET").arg("plain").query::<String>(&mut d.conn()).unwrap(), "1");

    // TLS client → proxy → TLS server.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let replies = rt.block_on(async {
        let cfg = client_config(&certs.client_settings(false)).unwrap();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", proxy_tls)).await.unwrap();
        let mut s = connect(cfg, "127.0.0.1", tcp).await.unwrap();
        s.write_all(b"*3\r\n$3\r\nSET\r\n$3\r\ntls\r\n$1\r\n2\r\n*2\r\n$3\r\nGET\r\n$3\r\ntls\r\n").await.unwrap();
        let (mut buf, mut r, mut got) = (BytesMut::new(), FrameReader::new(), Vec::new());
        while got.len() < 2 {
            match r.next(&mut buf).unwrap() {
                Some(f) => got.push(f),
                None => assert!(s.read_buf(&mut buf).await.unwrap() > 0, "closed"),
            }
        }
        got
    });
    assert_eq!(replies[0], Frame::Simple("OK".into()));
    assert_eq!(replies[1], Frame::Bulk(Some("2".into())));
    assert_eq!(redis::cmd("GET").arg("tls").query::<String>(&mut d.conn()).unwrap(), "2");
}
