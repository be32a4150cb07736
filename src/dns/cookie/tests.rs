use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn parse_secret(s: &str) -> Option<Secret> {
    hex(s).try_into().ok()
}

fn cookie(s: &str) -> QueryCookie {
    QueryCookie::parse(&hex(s)).unwrap()
}

fn jar(secret: &str) -> CookieJar {
    CookieJar::new(
        Secrets {
            current: parse_secret(secret).unwrap(),
            previous: None,
        },
        false,
    )
}

const SECRET: &str = "e5e973e5a6b2a43f48e7dc849e37bfcf";

/// RFC 9018 Appendix A.1: learning a new server cookie.
#[test]
fn rfc9018_a1_new_cookie() {
    let v = jar(SECRET).verdict(
        &cookie("2464c4abcf10c957"),
        "198.51.100.100".parse().unwrap(),
        1559731985,
    );
    assert!(!v.valid);
    assert_eq!(
        v.option.to_vec(),
        hex("2464c4abcf10c957010000005cf79f111f8130c3eee29480")
    );
}

/// A.2: the same client, half an hour later, gets a renewed cookie.
#[test]
fn rfc9018_a2_renewed_cookie() {
    let v = jar(SECRET).verdict(
        &cookie("2464c4abcf10c957010000005cf79f111f8130c3eee29480"),
        "198.51.100.100".parse().unwrap(),
        1559734385,
    );
    assert!(v.valid);
    assert_eq!(
        v.option.to_vec(),
        hex("2464c4abcf10c957010000005cf7a871d4a564a1442aca77")
    );
}

/// A.3: another client, whose cookie has non-zero reserved bytes (hashed
/// as sent), gets a renewed cookie with them zeroed. Its cookie is 1 h 52
/// min old, past the hour RFC 9018 §4.3 accepts, so it is not valid here,
/// though its hash checks out.
#[test]
fn rfc9018_a3_nonzero_reserved() {
    let c = cookie("fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5");
    let ip: IpAddr = "203.0.113.203".parse().unwrap();
    let sc: [u8; 16] = c.server().try_into().unwrap();
    assert!(check(&sc, &c.client, ip, &parse_secret(SECRET).unwrap()));
    let v = jar(SECRET).verdict(&c, ip, 1559734700);
    assert!(!v.valid);
    assert_eq!(
        v.option.to_vec(),
        hex("fc93fc62807ddb86010000005cf7a9acf73a7810aca2381e")
    );
}

/// A.4: IPv6, after a secret rollover: the old secret still validates,
/// the new one makes the reply's cookie.
#[test]
fn rfc9018_a4_rolled_over_secret() {
    let j = jar("dd3bdf9344b678b185a6f5cb60fca715");
    j.rotate(parse_secret("445536bcd2513298075a5d379663c962").unwrap());
    let client: IpAddr = "2001:db8:220:1:59de:d0f4:8769:82b8".parse().unwrap();
    let v = j.verdict(
        &cookie("22681ab97d52c298010000005cf7c57926556bd0934c72f8"),
        client,
        1559741961,
    );
    assert!(v.valid);
    assert_eq!(
        v.option.to_vec(),
        hex("22681ab97d52c298010000005cf7c609a6bb79d16625507a")
    );
    // Two rotations later the first secret is gone.
    j.rotate([7; 16]);
    let v = j.verdict(
        &cookie("22681ab97d52c298010000005cf7c57926556bd0934c72f8"),
        client,
        1559741961,
    );
    assert!(!v.valid);
}

#[test]
fn timestamps_outside_the_window_and_other_clients_are_invalid() {
    let j = jar(SECRET);
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    let cc = [1, 2, 3, 4, 5, 6, 7, 8];
    let at = |made: u32, now: u32, who: IpAddr| {
        let mut data = cc.to_vec();
        data.extend(make(&cc, ip, made, &j.secrets().current));
        j.verdict(&QueryCookie::parse(&data).unwrap(), who, now)
    };
    let t = 1_700_000_000;
    assert!(at(t, t, ip).valid);
    // Young cookies are echoed as they are; older ones renewed.
    assert_eq!(at(t, t + 60, ip).option[12..16], t.to_be_bytes());
    assert_eq!(at(t, t + 1900, ip).option[12..16], (t + 1900).to_be_bytes());
    assert!(at(t, t + 3600, ip).valid);
    assert!(!at(t, t + 3601, ip).valid, "older than an hour");
    assert!(at(t + 300, t, ip).valid);
    assert!(!at(t + 301, t, ip).valid, "more than 5 minutes ahead");
    assert!(!at(t, t, "192.0.2.2".parse().unwrap()).valid);
    // An IPv4-mapped source is its IPv4 address.
    assert!(at(t, t, "::ffff:192.0.2.1".parse().unwrap()).valid);
    // Across the 2106 wrap (serial number arithmetic).
    assert!(at(u32::MAX - 10, 20, ip).valid);
}

#[test]
fn malformed_lengths_are_rejected() {
    for n in [0, 1, 7, 9, 15, 41, 64] {
        assert_eq!(QueryCookie::parse(&vec![0; n]), None, "{n} bytes");
    }
    for n in [8, 16, 24, 40] {
        assert!(QueryCookie::parse(&vec![0; n]).is_some(), "{n} bytes");
    }
    // A server cookie of another vendor's length is simply invalid.
    let v = jar(SECRET).verdict(
        &QueryCookie::parse(&[9; 32]).unwrap(),
        "192.0.2.1".parse().unwrap(),
        1,
    );
    assert!(!v.valid);
}
