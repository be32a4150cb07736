//! DNS Cookies (RFC 7873) with RFC 9018 server cookies: raw packets for
//! each case of RFC 7873 §5.2, the `require` policy, a shared secret across
//! two servers (the anycast case), the RRL exemption, and dig/kdig.

use std::net::SocketAddr;
use std::process::Command;

use hickory_proto::rr::RecordType;

use crate::dns::*;
use crate::fixtures::*;

const CLIENT_COOKIE: [u8; 8] = [0x24, 0x64, 0xc4, 0xab, 0xcf, 0x10, 0xc9, 0x57];
const SECRET: &str = "e5e973e5a6b2a43f48e7dc849e37bfcf";

/// `www.example.test A` with a COOKIE option carrying `cookie`.
fn query_with_cookie(qname: &str, cookie: &[u8]) -> Vec<u8> {
    let mut body = question(qname, 1);
    body.extend(opt_rr(1232, 0, &edns_option(10, cookie)));
    packet(0x7777, 0, [1, 0, 0, 1], &body)
}

/// The COOKIE option data of a reply, if any.
fn reply_cookie(raw: &[u8]) -> Option<Vec<u8>> {
    let (_, _, rdata) = raw_opt(raw)?;
    let mut i = 0;
    while i + 4 <= rdata.len() {
        let code = u16::from_be_bytes([rdata[i], rdata[i + 1]]);
        let len = u16::from_be_bytes([rdata[i + 2], rdata[i + 3]]) as usize;
        if code == 10 {
            return Some(rdata[i + 4..i + 4 + len].to_vec());
        }
        i += 4 + len;
    }
    None
}

/// Extended RCODE: header bits and the OPT's upper 8 bits.
fn full_rcode(raw: &[u8]) -> u16 {
    let ext = raw_opt(raw).map_or(0, |(_, ttl, _)| (ttl >> 24) as u16);
    (ext << 4) | rcode_of(raw)
}

fn udp(addr: SocketAddr, p: &[u8]) -> Vec<u8> {
    exchange(Proto::Udp, addr, p)
}

#[test]
fn client_cookie_gets_a_server_cookie_that_is_then_echoed() {
    let setup = standard("cookies-basic", "");
    let srv = setup.serve();
    let r = udp(
        srv.addr,
        &query_with_cookie("www.example.test.", &CLIENT_COOKIE),
    );
    assert_eq!(full_rcode(&r), 0);
    assert_eq!(counts_of(&r)[1], 1, "a normal answer (RFC 7873 §5.2.3)");
    let c = reply_cookie(&r).expect("a COOKIE option in the reply");
    assert_eq!(c.len(), 24);
    assert_eq!(c[..8], CLIENT_COOKIE);
    assert_eq!(c[8], 1, "RFC 9018 version 1");
    assert_eq!(c[9..12], [0, 0, 0]);
    // Sent back, it is valid and young: echoed as it is.
    let r2 = udp(srv.addr, &query_with_cookie("www.example.test.", &c));
    assert_eq!(counts_of(&r2)[1], 1);
    assert_eq!(reply_cookie(&r2).unwrap(), c);
    // A forged server cookie gets a fresh one and a normal answer.
    let mut forged = c.clone();
    forged[20] ^= 0xff;
    let r3 = udp(srv.addr, &query_with_cookie("www.example.test.", &forged));
    assert_eq!((full_rcode(&r3), counts_of(&r3)[1]), (0, 1));
    assert_ne!(reply_cookie(&r3).unwrap()[16..], forged[16..]);
    // No COOKIE option: no cookie in the reply (RFC 7873 §5.2.1).
    let r4 = udp(
        srv.addr,
        &encode(&query_msg_edns("www.example.test.", RecordType::A, 1232)),
    );
    assert_eq!(reply_cookie(&r4), None);
}

#[test]
fn malformed_cookies_get_formerr_and_cookie_only_queries_a_cookie() {
    let setup = standard("cookies-malformed", "");
    let srv = setup.serve();
    for len in [0usize, 7, 9, 15, 41] {
        let r = udp(
            srv.addr,
            &query_with_cookie("www.example.test.", &vec![1; len]),
        );
        assert_eq!(
            rcode_of(&r),
            1,
            "{len}-byte COOKIE: FORMERR (RFC 7873 §5.2.2)"
        );
    }
    // QDCOUNT 0 with a COOKIE option asks only for a server cookie (§5.4).
    let body = opt_rr(1232, 0, &edns_option(10, &CLIENT_COOKIE));
    let r = udp(srv.addr, &packet(9, 0, [0, 0, 0, 1], &body));
    assert_eq!(full_rcode(&r), 0);
    assert_eq!(counts_of(&r), [0, 0, 0, 1]);
    assert_eq!(reply_cookie(&r).unwrap()[..8], CLIENT_COOKIE);
    // Without a cookie, QDCOUNT 0 stays FORMERR.
    let r = udp(srv.addr, &packet(9, 0, [0, 0, 0, 1], &opt_rr(1232, 0, &[])));
    assert_eq!(rcode_of(&r), 1);
}

#[test]
fn require_sends_badcookie_over_udp_only() {
    let setup = standard("cookies-require", "[cookies]\nrequire = true\n");
    let srv = setup.serve();
    let r = udp(
        srv.addr,
        &query_with_cookie("www.example.test.", &CLIENT_COOKIE),
    );
    assert_eq!(full_rcode(&r), 23, "BADCOOKIE");
    assert_eq!(counts_of(&r), [1, 0, 0, 1]);
    let c = reply_cookie(&r).expect("BADCOOKIE carries a fresh cookie");
    let r = udp(srv.addr, &query_with_cookie("www.example.test.", &c));
    assert_eq!((full_rcode(&r), counts_of(&r)[1]), (0, 1));
    // TCP proves the address: answered with only a client cookie.
    let r = exchange(
        Proto::Tcp,
        srv.addr,
        &query_with_cookie("www.example.test.", &CLIENT_COOKIE),
    );
    assert_eq!((full_rcode(&r), counts_of(&r)[1]), (0, 1));
    // Clients that do not speak cookies are answered as before.
    let r = udp(
        srv.addr,
        &encode(&query_msg("www.example.test.", RecordType::A)),
    );
    assert_eq!(counts_of(&r)[1], 1);
}

#[test]
fn disabled_cookies_are_ignored() {
    let setup = standard("cookies-off", "[cookies]\nenabled = false\n");
    let srv = setup.serve();
    let r = udp(
        srv.addr,
        &query_with_cookie("www.example.test.", &CLIENT_COOKIE),
    );
    assert_eq!((full_rcode(&r), counts_of(&r)[1]), (0, 1));
    assert_eq!(reply_cookie(&r), None);
}

/// Two servers with the same secret (an anycast set) accept each other's
/// cookies (RFC 9018's point); a third with another secret does not.
#[test]
fn a_shared_secret_makes_cookies_portable() {
    let cfg = format!("[cookies]\nrequire = true\nsecrets = [\"{SECRET}\"]\n");
    let a_setup = standard("cookies-anycast-a", &cfg);
    let b_setup = standard("cookies-anycast-b", &cfg);
    let other = standard(
        "cookies-anycast-c",
        "[cookies]\nrequire = true\nsecrets = [\"000102030405060708090a0b0c0d0e0f\"]\n",
    );
    let (a, b, c) = (a_setup.serve(), b_setup.serve(), other.serve());
    let r = udp(
        a.addr,
        &query_with_cookie("www.example.test.", &CLIENT_COOKIE),
    );
    let cookie = reply_cookie(&r).unwrap();
    let r = udp(b.addr, &query_with_cookie("www.example.test.", &cookie));
    assert_eq!(
        (full_rcode(&r), counts_of(&r)[1]),
        (0, 1),
        "b accepts a's cookie"
    );
    let r = udp(c.addr, &query_with_cookie("www.example.test.", &cookie));
    assert_eq!(full_rcode(&r), 23, "another secret rejects it");
}

/// A valid server cookie proves the source, so RRL does not limit it; the
/// slip of a limited cookie-aware client is BADCOOKIE, not TC.
#[test]
fn valid_cookies_are_exempt_from_rrl() {
    let setup = standard("cookies-rrl", "[rrl]\nresponses_per_second = 1\nslip = 1\n");
    let srv = setup.serve();
    let first = udp(
        srv.addr,
        &query_with_cookie("www.example.test.", &CLIENT_COOKIE),
    );
    let cookie = reply_cookie(&first).unwrap();
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    let mut buf = [0u8; 4096];
    for i in 0..30 {
        s.send_to(&query_with_cookie("www.example.test.", &cookie), srv.addr)
            .unwrap();
        let (n, _) = s.recv_from(&mut buf).expect("answered");
        assert_eq!(counts_of(&buf[..n])[1], 1, "query {i} with a valid cookie");
    }
    // A client cookie alone is not proof: limited, and the slip is BADCOOKIE.
    let mut badcookies = 0;
    for _ in 0..10 {
        s.send_to(
            &query_with_cookie("www.example.test.", &CLIENT_COOKIE),
            srv.addr,
        )
        .unwrap();
        let (n, _) = s.recv_from(&mut buf).expect("slip=1 answers every query");
        if full_rcode(&buf[..n]) == 23 {
            assert_eq!(counts_of(&buf[..n]), [1, 0, 0, 1]);
            assert!(reply_cookie(&buf[..n]).is_some());
            badcookies += 1;
        }
    }
    assert!(badcookies >= 8, "{badcookies} BADCOOKIE slips");
}

fn tool_output(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run the DNS tool");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "needs dig"]
fn dig_sees_a_good_cookie() {
    let setup = standard("cookies-dig", "");
    let srv = setup.serve();
    let port = srv.addr.port().to_string();
    let out = tool_output(Command::new("dig").args([
        "@127.0.0.1",
        "-p",
        &port,
        "+cookie",
        "+norec",
        "+time=2",
        "www.example.test",
        "A",
    ]));
    assert!(out.contains("status: NOERROR"), "{out}");
    // dig checks that the reply echoes its client cookie.
    let line = out
        .lines()
        .find(|l| l.contains("COOKIE:"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("(good)"), "{line}");
    // With a server cookie from the first reply, BADCOOKIE never shows.
    let cookie = line.split_whitespace().nth(2).unwrap().to_string();
    let out = tool_output(Command::new("dig").args([
        "@127.0.0.1",
        "-p",
        &port,
        &format!("+cookie={cookie}"),
        "+norec",
        "+time=2",
        "www.example.test",
        "A",
    ]));
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(out.contains("(good)"), "{out}");
}

#[test]
#[ignore = "needs kdig"]
fn kdig_sees_a_cookie_and_badcookie_retry_works() {
    let setup = standard("cookies-kdig", "[cookies]\nrequire = true\n");
    let srv = setup.serve();
    let out = tool_output(Command::new("kdig").args([
        "@127.0.0.1",
        "-p",
        &srv.addr.port().to_string(),
        "+cookie",
        "+norec",
        "+time=2",
        "www.example.test",
        "A",
    ]));
    // kdig retries a BADCOOKIE with the server cookie it got (RFC 7873
    // §5.3), and then gets the answer.
    assert!(out.contains("status: BADCOOKIE"), "{out}");
    assert!(out.contains("status: NOERROR"), "{out}");
    assert!(out.contains("COOKIE:"), "{out}");
    assert!(out.contains("www.example.test."), "{out}");
}

/// Knot DNS (its mod-cookies implements RFC 9018) and dnslb given the same
/// secret accept each other's server cookies: the anycast set of RFC 9018
/// with two implementations.
#[test]
#[ignore = "needs knotd"]
fn knot_and_dnslb_accept_each_others_cookies() {
    let dir = crate::harness::TempDir::new("knot-cookies");
    let d = dir.path();
    std::fs::create_dir_all(d.join("run")).unwrap();
    std::fs::create_dir_all(d.join("db")).unwrap();
    std::fs::write(d.join("example.test.zone"), EXAMPLE_TEST).unwrap();
    // A free port for knotd (released just before it binds). knotd binds
    // TCP on it too, which a busy machine may hold (an outgoing
    // connection's local port): if knotd exits, try another port.
    let mut attempt = 0;
    let (mut knot, knot_addr) = loop {
        attempt += 1;
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let conf = format!(
            "server:\n    rundir: \"{d}/run\"\n    listen: 127.0.0.1@{port}\n    udp-workers: 1\n    \
             tcp-workers: 1\n    background-workers: 1\nlog:\n  - target: stderr\n    any: warning\n\
             database:\n    storage: \"{d}/db\"\nmod-cookies:\n  - id: c\n    secret: 0x{SECRET}\n\
             template:\n  - id: default\n    storage: \"{d}\"\n    zonefile-sync: -1\n    \
             journal-content: none\n    global-module: mod-cookies/c\n\
             zone:\n  - domain: example.test\n    file: \"{d}/example.test.zone\"\n",
            d = d.display()
        );
        std::fs::write(d.join("knot.conf"), conf).unwrap();
        let mut child = Command::new("knotd")
            .arg("-c")
            .arg(d.join("knot.conf"))
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start knotd");
        std::thread::sleep(std::time::Duration::from_millis(300));
        match child.try_wait().unwrap() {
            Some(status) if attempt < 5 => eprintln!("knotd exited ({status}); another port"),
            Some(status) => panic!("knotd exited ({status}) on 5 ports"),
            None => {
                break (
                    child,
                    format!("127.0.0.1:{port}").parse::<SocketAddr>().unwrap(),
                );
            }
        }
    };
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _k = Kill(&mut knot);
    let ask = |addr, cookie: &[u8]| {
        exchange_within(
            Proto::Udp,
            addr,
            &query_with_cookie("example.test.", cookie),
            std::time::Duration::from_millis(500),
        )
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let from_knot = loop {
        if let Some(r) = ask(knot_addr, &CLIENT_COOKIE) {
            break reply_cookie(&r).expect("knot sends a server cookie");
        }
        assert!(std::time::Instant::now() < deadline, "knotd did not answer");
    };
    let setup = standard(
        "cookies-knot",
        &format!("[cookies]\nrequire = true\nsecrets = [\"{SECRET}\"]\n"),
    );
    let srv = setup.serve();
    let r = ask(srv.addr, &from_knot).expect("dnslb answers");
    assert_eq!(
        (full_rcode(&r), counts_of(&r)[1]),
        (0, 1),
        "dnslb accepts knot's cookie"
    );
    let ours = reply_cookie(&ask(srv.addr, &CLIENT_COOKIE).unwrap()).unwrap();
    let r = ask(knot_addr, &ours).expect("knot answers");
    assert_eq!(full_rcode(&r), 0, "knot accepts dnslb's cookie");
    assert_eq!(counts_of(&r)[1], 1);
}
