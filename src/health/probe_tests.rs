//! Tests of single probes against loopback servers: status, redirects,
//! body, method, request headers, refused and silent servers, TCP, TLS SNI.

use std::time::Duration;

use super::*;
use crate::health::check::TlsCheck;
use crate::health::testutil::{
    LOCALHOST, Reply, TestServer, check, client_hello_sni, closed_port, http,
};

/// One probe of `c` at 127.0.0.1:`port`, bounded so a bug cannot hang
/// the test run (the prober applies the real timeout).
async fn probe_once(c: Check, port: u16) -> Result<Success, ProbeError> {
    let target = NetProbe::new().prepare(&Arc::new(c), SocketAddr::new(LOCALHOST, port));
    tokio::time::timeout(Duration::from_secs(10), target.probe())
        .await
        .expect("probe finished")
}

fn http_check(port: u16, f: impl FnOnce(&mut HttpCheck)) -> Check {
    let mut h = http();
    f(&mut h);
    check(CheckKind::Http(h), port)
}

#[tokio::test]
async fn status_200_is_success_and_defaults_reach_the_server() {
    let srv = TestServer::start(Reply::Http(200, "ok")).await;
    let port = srv.addr.port();
    let r = probe_once(http_check(port, |_| {}), port).await;
    assert_eq!(r, Ok(Success::Status(200)));
    let req = srv.last_request();
    assert!(req.starts_with("get / http/1.1\r\n"), "{req}");
    assert!(
        req.contains(&format!("\r\nhost: 127.0.0.1:{port}\r\n")),
        "{req}"
    );
    assert!(
        req.contains(&format!(
            "\r\nuser-agent: dnslb-health/{}\r\n",
            env!("CARGO_PKG_VERSION")
        )),
        "{req}"
    );
}

#[tokio::test]
async fn unexpected_status_fails() {
    let srv = TestServer::start(Reply::Http(500, "oops")).await;
    let port = srv.addr.port();
    assert_eq!(
        probe_once(http_check(port, |_| {}), port).await,
        Err(ProbeError::Status(500))
    );
    // 200 is not in an explicit list of 204 only.
    srv.set(Reply::Http(200, "ok"));
    let only_204 = http_check(port, |h| h.expect_status = StatusSet::new(vec![(204, 204)]));
    assert_eq!(
        probe_once(only_204, port).await,
        Err(ProbeError::Status(200))
    );
    srv.set(Reply::Http(204, ""));
    let only_204 = http_check(port, |h| h.expect_status = StatusSet::new(vec![(204, 204)]));
    assert_eq!(probe_once(only_204, port).await, Ok(Success::Status(204)));
}

#[tokio::test]
async fn redirect_is_judged_not_followed() {
    // The canned reply carries `Location: http://127.0.0.1:1/`; following
    // it would fail with connection refused.
    let srv = TestServer::start(Reply::Http(302, "")).await;
    let port = srv.addr.port();
    assert_eq!(
        probe_once(http_check(port, |_| {}), port).await,
        Ok(Success::Status(302))
    );
    assert_eq!(srv.received().len(), 1);
}

#[tokio::test]
async fn body_substring() {
    let srv = TestServer::start(Reply::Http(200, "status: all good\n")).await;
    let port = srv.addr.port();
    let want = |s: &str| {
        let s = s.to_string();
        http_check(port, move |h| h.body_contains = Some(s))
    };
    assert_eq!(
        probe_once(want("all good"), port).await,
        Ok(Success::Status(200))
    );
    assert_eq!(
        probe_once(want("healthy"), port).await,
        Err(ProbeError::BodyMismatch("healthy".into()))
    );
}

#[tokio::test]
async fn head_method() {
    let srv = TestServer::start(Reply::Http(200, "hello")).await;
    let port = srv.addr.port();
    let c = http_check(port, |h| h.method = HttpMethod::Head);
    assert_eq!(probe_once(c, port).await, Ok(Success::Status(200)));
    assert!(srv.last_request().starts_with("head / http/1.1\r\n"));
}

#[tokio::test]
async fn custom_path_host_headers_and_user_agent_reach_the_server() {
    let srv = TestServer::start(Reply::Http(200, "ok")).await;
    let port = srv.addr.port();
    let c = http_check(port, |h| {
        h.path = "/healthz?deep=1".into();
        h.host = Some("www.example.test".into());
        h.headers = vec![
            ("x-probe".into(), "dnslb".into()),
            ("authorization".into(), "Bearer t0k".into()),
        ];
        h.user_agent = "probe/1".into();
    });
    assert_eq!(probe_once(c, port).await, Ok(Success::Status(200)));
    let req = srv.last_request();
    assert!(req.starts_with("get /healthz?deep=1 http/1.1\r\n"), "{req}");
    assert_eq!(req.matches("\r\nhost: ").count(), 1, "{req}");
    for line in [
        "\r\nhost: www.example.test\r\n",
        "\r\nx-probe: dnslb\r\n",
        "\r\nauthorization: bearer t0k\r\n",
        "\r\nuser-agent: probe/1\r\n",
    ] {
        assert!(req.contains(line), "{line:?} missing from {req}");
    }
    assert_eq!(req.matches("\r\nuser-agent: ").count(), 1, "{req}");
}

#[tokio::test]
async fn closed_port_is_refused() {
    let port = closed_port().await;
    assert_eq!(
        probe_once(http_check(port, |_| {}), port).await,
        Err(ProbeError::Refused)
    );
    assert_eq!(
        probe_once(check(CheckKind::Tcp, port), port).await,
        Err(ProbeError::Refused)
    );
}

#[tokio::test]
async fn server_that_never_answers_leaves_the_probe_pending() {
    // The prober's timeout turns this into a failure (tested there);
    // here: the probe itself does not invent an answer.
    let srv = TestServer::start(Reply::Hang).await;
    let port = srv.addr.port();
    let c = Arc::new(http_check(port, |_| {}));
    let target = NetProbe::new().prepare(&c, srv.addr);
    let r = tokio::time::timeout(Duration::from_millis(300), target.probe()).await;
    assert!(r.is_err(), "{r:?}");
    assert_eq!(srv.received().len(), 1);
}

#[tokio::test]
async fn tcp_up_then_down() {
    let srv = TestServer::start(Reply::Close).await;
    let port = srv.addr.port();
    assert_eq!(
        probe_once(check(CheckKind::Tcp, port), port).await,
        Ok(Success::Connected)
    );
    srv.stop().await;
    assert_eq!(
        probe_once(check(CheckKind::Tcp, port), port).await,
        Err(ProbeError::Refused)
    );
}

#[tokio::test]
async fn https_connects_to_the_address_with_sni_for_the_server_name() {
    // A plain TCP server reads the ClientHello and hangs up: the probe
    // must have gone to 127.0.0.1 (no DNS) while naming the server.
    let srv = TestServer::start(Reply::Close).await;
    let port = srv.addr.port();
    let named = http_check(port, |h| {
        h.tls = Some(TlsCheck {
            server_name: Some("lb.example.test".into()),
            verify: true,
        })
    });
    let r = probe_once(named, port).await;
    assert!(matches!(r, Err(ProbeError::Tls(_))), "{r:?}");
    let hello = &srv.received()[0];
    assert_eq!(client_hello_sni(hello).as_deref(), Some("lb.example.test"));

    // By address: no SNI (an IP is not a server name).
    let by_ip = http_check(port, |h| {
        h.tls = Some(TlsCheck {
            server_name: None,
            verify: false,
        })
    });
    let r = probe_once(by_ip, port).await;
    assert!(matches!(r, Err(ProbeError::Tls(_))), "{r:?}");
    let hello = &srv.received()[1];
    assert_eq!(hello[0], 0x16, "a TLS handshake record");
    assert_eq!(client_hello_sni(hello), None);
}

#[tokio::test]
async fn https_to_a_closed_port_is_refused_not_tls() {
    let port = closed_port().await;
    let c = http_check(port, |h| {
        h.tls = Some(TlsCheck {
            server_name: Some("lb.example.test".into()),
            verify: true,
        })
    });
    assert_eq!(probe_once(c, port).await, Err(ProbeError::Refused));
}

#[test]
fn error_messages_name_the_reason() {
    assert_eq!(
        ProbeError::Timeout(Duration::from_millis(500)).to_string(),
        "timeout after 0.5 s"
    );
    assert_eq!(ProbeError::Status(503).to_string(), "unexpected status 503");
    assert_eq!(
        ProbeError::BodyMismatch("ok".into()).to_string(),
        "body does not contain \"ok\""
    );
    assert_eq!(Success::Status(200).to_string(), "status 200");
}

fn load_check(port: u16, source: crate::health::LoadSource) -> Check {
    http_check(port, |h| {
        h.load = Some(Box::new(crate::health::LoadFeedback {
            source,
            kind: crate::health::LoadKind::Connections,
        }))
    })
}

/// The load figure comes from a header, a JSON pointer or the whole body;
/// a response without it still passes the check, as `NoLoad` with why.
#[tokio::test]
async fn load_figures_from_header_json_and_body() {
    use crate::health::LoadSource::{Body, Header, JsonPointer};
    let srv = TestServer::start(Reply::HttpWith(200, "X-Load: 17\r\n", "ok")).await;
    let port = srv.addr.port();
    let header = || load_check(port, Header("x-load".into()));
    assert_eq!(
        probe_once(header(), port).await,
        Ok(Success::Load(200, 17.0))
    );
    srv.set(Reply::HttpWith(200, "X-Load: lots\r\n", "ok"));
    assert_eq!(
        probe_once(header(), port).await,
        Ok(Success::NoLoad(200, LoadMiss::NotANumber))
    );
    srv.set(Reply::Http(200, "ok"));
    let r = probe_once(header(), port).await;
    assert_eq!(r, Ok(Success::NoLoad(200, LoadMiss::NoHeader)));
    assert_eq!(
        r.unwrap().to_string(),
        "status 200, no load figure (header missing)"
    );

    let json = || load_check(port, JsonPointer("/pool/active".into()));
    srv.set(Reply::Http(200, r#"{"pool": {"active": 2.5, "idle": 9}}"#));
    assert_eq!(probe_once(json(), port).await, Ok(Success::Load(200, 2.5)));
    srv.set(Reply::Http(200, r#"{"pool": {"active": "40"}}"#));
    assert_eq!(probe_once(json(), port).await, Ok(Success::Load(200, 40.0)));
    srv.set(Reply::Http(200, r#"{"pool": {}}"#));
    assert_eq!(
        probe_once(json(), port).await,
        Ok(Success::NoLoad(200, LoadMiss::NoJsonValue))
    );
    srv.set(Reply::Http(200, r#"{"pool": {"active": -1}}"#));
    assert_eq!(
        probe_once(json(), port).await,
        Ok(Success::NoLoad(200, LoadMiss::NotANumber))
    );
    srv.set(Reply::Http(200, "<html>"));
    assert_eq!(
        probe_once(json(), port).await,
        Ok(Success::NoLoad(200, LoadMiss::NotJson))
    );

    let body = || load_check(port, Body);
    srv.set(Reply::Http(200, " 12\n"));
    assert_eq!(probe_once(body(), port).await, Ok(Success::Load(200, 12.0)));
    // a bad status still fails, figure or not
    srv.set(Reply::HttpWith(503, "X-Load: 1\r\n", "busy"));
    assert_eq!(
        probe_once(header(), port).await,
        Err(ProbeError::Status(503))
    );
    // body_contains and a body figure read the same body
    srv.set(Reply::Http(200, "3"));
    let both = http_check(port, |h| {
        h.body_contains = Some("3".into());
        h.load = Some(Box::new(crate::health::LoadFeedback {
            source: Body,
            kind: crate::health::LoadKind::Weight,
        }))
    });
    assert_eq!(probe_once(both, port).await, Ok(Success::Load(200, 3.0)));
}

#[test]
fn load_numbers() {
    for (text, want) in [
        ("0", Ok(0.0)),
        (" 12 ", Ok(12.0)),
        ("0.25", Ok(0.25)),
        ("3e2", Ok(300.0)),
        ("1.5e-1", Ok(0.15)),
        ("-1", Err(LoadMiss::NotANumber)),
        ("+1", Err(LoadMiss::NotANumber)),
        ("inf", Err(LoadMiss::NotANumber)),
        ("NaN", Err(LoadMiss::NotANumber)),
        ("", Err(LoadMiss::NotANumber)),
        ("1e99", Err(LoadMiss::NotANumber)),
        ("12 connections", Err(LoadMiss::NotANumber)),
    ] {
        assert_eq!(parse_load(text), want, "{text:?}");
    }
}

/// `probe_source_ipv4`: HTTP and TCP probes leave from the configured
/// address (127.0.0.7 is ours on Linux's loopback), and a source that is
/// not this host's fails the probe with the reason, not a panic.
#[tokio::test]
async fn probes_leave_from_the_source_address() {
    let listener = tokio::net::TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let peers = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = peers.clone();
    let server = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut s, peer)) = listener.accept().await else {
                continue;
            };
            seen.lock().unwrap().push(peer.ip());
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf)).await;
                let _ = s
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    let source = ProbeSource {
        ipv4: Some("127.0.0.7".parse().unwrap()),
        ipv6: None,
    };
    let probe = NetProbe::with_source(source);
    let to = SocketAddr::new(LOCALHOST, port);
    let bounded = |t: Box<dyn TargetProbe>| async move {
        tokio::time::timeout(Duration::from_secs(10), t.probe())
            .await
            .expect("probe finished")
    };
    let http = Arc::new(http_check(port, |_| {}));
    assert_eq!(
        bounded(probe.prepare(&http, to)).await,
        Ok(Success::Status(200))
    );
    let tcp = Arc::new(check(CheckKind::Tcp, port));
    assert_eq!(
        bounded(probe.prepare(&tcp, to)).await,
        Ok(Success::Connected)
    );
    let want: IpAddr = "127.0.0.7".parse().unwrap();
    // The TCP probe is done at the handshake, maybe before the accept.
    for _ in 0..200 {
        if peers.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(*peers.lock().unwrap(), vec![want, want]);
    // An IPv6 target is not bound to the IPv4 source.
    assert_eq!(source.for_target("::1".parse().unwrap()), None);
    // 192.0.2.1 (TEST-NET-1) is no address of this host: binding fails
    // before any packet is sent.
    let foreign = NetProbe::with_source(ProbeSource {
        ipv4: Some("192.0.2.1".parse().unwrap()),
        ipv6: None,
    });
    match bounded(foreign.prepare(&tcp, to)).await {
        Err(ProbeError::Connect(m)) => {
            assert!(m.contains("cannot bind probe source 192.0.2.1"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    assert!(bounded(foreign.prepare(&http, to)).await.is_err());
    server.abort();
}
