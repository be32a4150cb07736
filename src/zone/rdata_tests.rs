//! Presentation → wire → presentation round trips. Each expected line is
//! what `named-compilezone -s full` (BIND 9.18) prints for the input.

use super::*;
use crate::zone::lexer::{Entry, Lexer};

const ORIGIN: &[u8] = b"\x07example\x04test\x00";

/// Parse `TYPE RDATA...` and print it back.
fn roundtrip(line: &str) -> Result<String, String> {
    let mut lx = Lexer::new(line.as_bytes());
    let mut e = Entry::default();
    lx.next_entry(&mut e)
        .unwrap()
        .map_err(|e| e.message.to_string())?;
    let src = line.as_bytes();
    let t = type_from_text(e.toks[0].raw(src)).ok_or("type")?;
    let enc = parse_rdata(t, src, &e.toks[1..], ORIGIN, 1).map_err(|e| e.message)?;
    crate::zone::present::rdata_text(t, &enc.wire, 1_700_000_000)
}

#[track_caller]
fn same(input: &str, want: &str) {
    assert_eq!(roundtrip(input).as_deref(), Ok(want), "input: {input}");
}

#[track_caller]
fn fails(input: &str) {
    assert!(roundtrip(input).is_err(), "should fail: {input}");
}

#[test]
fn strings_and_escapes() {
    same(
        r#"TXT v=DMARC1\; "\065\066" a\ b \"quoted\""#,
        r#""v=DMARC1;" "AB" "a b" "\"quoted\"""#,
    );
    same(r#"TXT "foo\010bar" "bar\\;""#, r#""foo\010bar" "bar\\;""#);
    same("TXT abc\"def\"ghi", r#""abc" "def" "ghi""#);
    same("TXT \"\"", "\"\"");
    fails("TXT \\300");
    fails(&format!("TXT {}", "x".repeat(256)));
    same(
        "HINFO \"Generic PC clone\" NetBSD-1.4",
        r#""Generic PC clone" "NetBSD-1.4""#,
    );
    fails("HINFO a");
    same("X25 123456789", "\"123456789\"");
    fails("X25 123");
    same("ISDN a b", r#""a" "b""#);
    fails("ISDN a b c");
    same("GPOS 1 2 a", r#""1" "2" "a""#);
}

#[test]
fn names_and_generic() {
    same("NS ns1", "ns1.example.test.");
    same("MX 10 mail", "10 mail.example.test.");
    same(
        "SOA ns1 host\\.master 1 1h 3600 1w 60",
        "ns1.example.test. host\\.master.example.test. 1 3600 3600 604800 60",
    );
    same("SRV 0 0 0 .", "0 0 0 .");
    same("A \\# 4 C0000203", "192.0.2.3");
    fails("A \\# 3 010203");
    fails("A \\# 4 010203");
    same("TYPE65280 \\# 3 010203", "\\# 3 010203");
    same("TYPE65280 \\# 0", "\\# 0");
    same("NS \\# 5 03616263 00", "abc.");
    same(
        "RP mbox-dname txt-dname",
        "mbox-dname.example.test. txt-dname.example.test.",
    );
    same("PX 65535 . .", "65535 . .");
    fails("DNAME x");
    same("A6 0 ::1", "0 ::1");
    same("A6 \\# 2 8000", "128 .");
    fails("A6 \\# 1 00");
    fails("ANY \\# 0");
}

/// RFC 3597 generic RDATA of known types: checked as BIND 9.18 checks RDATA
/// from the wire and printed as `named-compilezone -s full` prints it (each
/// case run through BIND; the breaker's zf-bugs and genfuzz findings).
#[test]
fn generic_rdata_is_checked_and_printed_as_bind() {
    // Valid data with no text form in its type's grammar stays generic.
    same("LOC \\# 3 410103", "\\# 3 410103");
    same("APL \\# 4 95ff0800", "\\# 4 95FF0800");
    same("AMTRELAY \\# 2 0004", "\\# 2 0004");
    same("ATMA \\# 2 0200", "\\# 2 0200");
    fails("LOC \\# 0");
    fails("LOC \\# 16 00051212800000008000000000989680");
    // Fingerprint and digest lengths follow the hash; others may be empty.
    same("SSHFP \\# 2 6161", "97 97");
    fails("SSHFP \\# 3 01 01 aa");
    fails("SSHFP \\# 3 01 02 aa");
    for t in ["DS", "CDS", "TA", "DLV"] {
        fails(&format!("{t} \\# 6 3039FD02aabb"));
        fails(&format!("{t} \\# 6 3039FD01aabb"));
        fails(&format!("{t} \\# 6 3039FD04aabb"));
        same(&format!("{t} \\# 6 3039FD05aabb"), "12345 253 5 AABB");
    }
    // Type bitmaps: no zero last octet; an NSEC is never empty.
    fails("NSEC \\# 1 00");
    fails("NSEC \\# 5 00 00 02 4000");
    same("NSEC \\# 4 00 00 01 40", ". A");
    fails("CSYNC \\# 9 00000001 0003 000100");
    same("CSYNC \\# 6 00000001 0003", "1 3");
    fails("NSEC3 \\# 10 02 00 0001 00 01 aa 00 01 00");
    same("NSEC3 \\# 7 02 00 0001 00 01 aa", "2 0 1 - L8");
    fails("NSEC3 \\# 7 01 00 0001 00 01 aa");
    fails("WKS \\# 6 000802000000");
    same("WKS \\# 6 000802000001", "0.8.2.0 0 7");
    fails("X25 \\# 1 00");
    fails("X25 \\# 4 03313233");
    fails("X25 \\# 5 0431323361");
    same("X25 \\# 5 0431323334", "\"1234\"");
    // Keys: a public key unless a KEY says it has none; PRIVATEDNS keys
    // start with a name; RKEY flags are zero.
    fails("IPSECKEY \\# 3 0a 00 02");
    same("IPSECKEY \\# 4 010002aa", "1 0 2 . qg==");
    fails("KEY \\# 4 0100 0308");
    fails("KEY \\# 5 C000 0000 00");
    same("KEY \\# 4 C000 0000", "49152 0 0");
    fails("DNSKEY \\# 6 0100 03FD aabb");
    same("DNSKEY \\# 7 0000 03 fd 01 61 00", "0 3 253 AWEA");
    same("DNSKEY 256 3 253 qrs=", "256 3 253 qrs=");
    fails("RKEY \\# 6 0100 0308 aabb");
    same("RKEY \\# 6 0000 0308 aabb", "0 3 8 qrs=");
    // APL: no trailing zero in an address part.
    fails("APL \\# 5 0001 08 01 00");
    same("APL \\# 5 0001 08 01 0a", "1:10.0.0.0/8");
    // A SIG or NXT names an unknown type by number.
    same(
        "SIG \\# 24 000000020303020303ff4102410808030300024802000300",
        "0 0 2 50528771 19720216034610 20040728200939 768 H\\002. AwA=",
    );
    same(
        "NXT \\# 19 016200 40000000000000000000000000000001",
        "b. A 127",
    );
    fails("NXT \\# 5 016200 4000");
    fails("NXT \\# 2 00 80");
    // Obsolete types BIND still prints in their own form.
    same(
        "A6 \\# 17 00 20010db8000000000000000000000001",
        "0 2001:db8::1",
    );
    same("A6 \\# 10 40 0000000000000001 00", "64 ::1 .");
    fails("A6 \\# 2 ff00");
    fails("A6 \\# 3 8000 00");
    same("SINK \\# 3 000200", "0 2 0");
    same("SINK \\# 4 01020300", "1 2 3 AA==");
    fails("SINK \\# 2 0c00");
    same("ATMA \\# 4 01313233", "+123");
    same("ATMA \\# 8 00ff41ff61610200", "ff41ff61610200");
    fails("ATMA \\# 3 013161");
    fails("ATMA \\# 1 00");
    same("DOA \\# 10 00000001 00000002 03 00", "1 2 3 \"\" -");
    same(
        "DOA \\# 12 00000001 00000002 03 01 61 aa",
        "1 2 3 \"a\" qg==",
    );
    fails("DOA \\# 9 00000001 00000002 03");
    // The same types in presentation form, as BIND 9.18 reads them.
    same("RKEY 0 3 8 qrs=", "0 3 8 qrs=");
    fails("RKEY 256 3 8 qrs=");
    same("A6 65 ffff::1 foo", "65 ::1 foo.example.test.");
    same("A6 128 foo", "128 foo.example.test.");
    fails("A6 0 ::1 foo");
    fails("A6 64 ::1");
    fails("A6 129 foo");
    same("NXT b A MX TYPE127", "b.example.test. A MX 127");
    same("NXT b", "b.example.test.");
    fails("NXT b TYPE200");
    same("ATMA +1.2.3", "+123");
    same("ATMA 4.747", "4747");
    fails("ATMA 47.");
    fails("ATMA .47");
    fails("ATMA 474");
    fails("ATMA +12a");
    same("SINK 1 2 3", "1 2 3");
    same("SINK 1 2 3 AA==", "1 2 3 AA==");
    same("DOA 1 2 3 a -", "1 2 3 \"a\" -");
    same("DOA 1 2 3 \"x\" qg ==", "1 2 3 \"x\" qg==");
    fails("DOA 1 2 3 \"x\"");
    // Type fields take bare numbers, as BIND prints them; GOST digests
    // (DS digest type 3) are not checked by BIND 9.18.
    same(
        "SIG 65280 0 2 50528771 19720216034610 20040728200939 768 . AwA=",
        "65280 0 2 50528771 19720216034610 20040728200939 768 . AwA=",
    );
    same(
        "RRSIG 1 0 2 50528771 19720216034610 20040728200939 768 . AwA=",
        "A 0 2 50528771 19720216034610 20040728200939 768 . AwA=",
    );
    fails("RRSIG 65536 0 2 50528771 19720216034610 20040728200939 768 . AwA=");
    same("DSYNC 1 1 53 x", "A NOTIFY 53 x.example.test.");
    same("DS 514 97 3 00ff", "514 97 3 00FF");
    // Typed SSHFP of another fingerprint type may have no fingerprint.
    same("SSHFP 1 0", "1 0");
    fails("SSHFP 1 1");
}

#[test]
fn dnssec_types() {
    same(
        "DS 1 RSASHA256 SHA-256 00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF",
        "1 8 2 00112233445566778899AABBCCDDEEFF00112233445566778899AABB CCDDEEFF",
    );
    fails("DS 1 8 2 0011");
    same("CDS 0 0 0 00", "0 0 0 00");
    same("CDNSKEY 0 3 0 AA==", "0 3 0 AA==");
    same("KEY 0xC000 3 1", "49152 3 1");
    same(
        "DNSKEY 257 3 RSAMD5 ( AQMFD5raczCJHViKtLYhWGz8hMY9UGRuniJDBzC7w0aR yzWZriO6i2odGWWQVucZqKVsENW91IOW4vqudngPZsY3 GvQ/xVA8/7pyFj6b7Esga60zyGW6LFe9r8n6paHrlG5o jqf0BaqHT+8= )",
        "257 3 1 AQMFD5raczCJHViKtLYhWGz8hMY9UGRuniJDBzC7w0aRyzWZriO6i2od GWWQVucZqKVsENW91IOW4vqudngPZsY3GvQ/xVA8/7pyFj6b7Esga60z yGW6LFe9r8n6paHrlG5ojqf0BaqHT+8=",
    );
    same(
        "RRSIG NSEC 1 3 3600 20200101000000 20030101000000 2143 foo MxFcby9k/yvedMfQgKzhH5er0Mu/vILz45IkskceFGgi WCn/GxHhai6VAuHAoNUz4YoU1tVfSCSqQYn6//11U6Nl d80jEeC8aTrO+KKmCaY=",
        "NSEC 1 3 3600 20200101000000 20030101000000 2143 foo.example.test. MxFcby9k/yvedMfQgKzhH5er0Mu/vILz45IkskceFGgiWCn/GxHhai6V AuHAoNUz4YoU1tVfSCSqQYn6//11U6Nld80jEeC8aTrO+KKmCaY=",
    );
    same(
        "NSEC a.secure A MX RRSIG NSEC TYPE1234",
        "a.secure.example.test. A MX RRSIG NSEC TYPE1234",
    );
    same("NSEC . ( NSEC TYPE65535 )", ". NSEC TYPE65535");
    same(
        "NSEC3 1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr MX DNSKEY NS SOA NSEC3PARAM RRSIG",
        "1 1 12 AABBCCDD 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR NS SOA MX RRSIG DNSKEY NSEC3PARAM",
    );
    fails("NSEC3 1 1 1 abcd alkmaao A");
    same("NSEC3PARAM 1 1 12 -", "1 1 12 -");
    same("SSHFP 1 9 aa", "1 9 AA");
    fails("SSHFP 1 1 aa");
    same("CERT PGP 0 0 AA==", "PGP 0 0 AA==");
    same("CERT URI 1 254 AA==", "URI 1 PRIVATEOID AA==");
    same("CERT 1 2 3 AAAA BBBB", "PKIX 2 DSA AAAABBBB");
    fails("DHCID AB==");
    same(
        "ZONEMD 1 1 9 00112233445566778899AABB",
        "1 1 9 00112233445566778899AABB",
    );
    fails("ZONEMD 1 1 1 aa");
}

#[test]
fn svcb() {
    same("HTTPS 1 svc alpn=h2", "1 svc.example.test. alpn=\"h2\"");
    same("HTTPS 1 . port=443 alpn=h2", "1 . alpn=\"h2\" port=443");
    same(
        r#"SVCB 100 foo.com. mandatory="alpn,port" alpn="h2,h3" no-default-alpn port="12345" ipv4hint="1.2.3.4,4.3.2.1" ech="AAT+DQAA" ipv6hint="1::2,3::4" key12345="foo""#,
        r#"100 foo.com. mandatory=alpn,port alpn="h2,h3" no-default-alpn port=12345 ipv4hint=1.2.3.4,4.3.2.1 ech=AAT+DQAA ipv6hint=1::2,3::4 key12345="foo""#,
    );
    same(
        r#"SVCB 16 foo.example.org. alpn="foo\\,bar,h2""#,
        r#"16 foo.example.org. alpn="foo\\,bar,h2""#,
    );
    same("HTTPS 1 . key100=", "1 . key100");
    same(
        "HTTPS 1 . mandatory=port port=1",
        "1 . mandatory=port port=1",
    );
    fails("HTTPS 1 . alpn=h2 alpn=h3");
    fails("HTTPS 1 . port=1 mandatory=port,alpn");
    fails("HTTPS 1 . mandatory=mandatory");
    fails("HTTPS 1 . mandatory=port,port port=1");
    fails("HTTPS 1 . no-default-alpn");
    fails("HTTPS 1 . key1=h2");
    fails("HTTPS 1 . alpn=");
    fails("HTTPS 1 . bogus=1");
}

#[test]
fn other_types() {
    same(
        "LOC 52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m",
        "52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m",
    );
    same(
        "LOC 1 N 1 E 0",
        "1 0 0.000 N 1 0 0.000 E 0.00m 1m 10000m 10m",
    );
    same(
        "LOC 1 2 3.5 S 1 2 W -1.5 1 1.5 0.1m",
        "1 2 3.500 S 1 2 0.000 W -1.50m 1m 1m 0.10m",
    );
    same(
        "LOC 90 N 180 W 42849672.95m 90000000 12345m 0.05",
        "90 0 0.000 N 180 0 0.000 W 42849672.95m 90000000m 10000m 0.05m",
    );
    same(
        "APL 1:192.168.32.0/21 !1:192.168.38.0/28",
        "1:192.168.32.0/21 !1:192.168.38.0/28",
    );
    same("APL 2:ff00::/8 1:10.1.0.0/8", "2:ff00::/8 1:10.1.0.0/8");
    same("APL", "");
    same("CAA 0 issue ca.net", "0 issue \"ca.net\"");
    fails("CAA 0 is-sue x");
    fails("CAA 0 \"issue\" x");
    fails("CAA 0 issue");
    same(
        "URI 10 1 \"ftp://ftp1.example.com/public\"",
        "10 1 \"ftp://ftp1.example.com/public\"",
    );
    fails("URI 1 1 ftp://x");
    same(
        "NAPTR 1 1 \"U\" \"E2U+sip\" \"!^.*$!sip:x@y!\" .",
        "1 1 \"U\" \"E2U+sip\" \"!^.*$!sip:x@y!\" .",
    );
    fails("NAPTR 65535 65535 \"blurgh\" \"blorf\" \"blegh\" foo.");
    fails("NAPTR 1 1 \"U\" \"E2U+sip\" \"!^(.*)$!\\\\2!\" .");
    same(
        "NAPTR 1 1 \"\" \"\" \"!a!b!i\" .",
        "1 1 \"\" \"\" \"!a!b!i\" .",
    );
    same("EUI48 00-00-5E-00-53-2A", "00-00-5e-00-53-2a");
    same("EUI64 00-00-5e-ef-10-00-00-2a", "00-00-5e-ef-10-00-00-2a");
    same("L64 10 2001:db8:1140:1000", "10 2001:db8:1140:1000");
    same("NID 10 0014:4fff:ff20:ee64", "10 14:4fff:ff20:ee64");
    same("L32 10 10.1.2.0", "10 10.1.2.0");
    same(
        "LP 10 l64-subnet1.example.com.",
        "10 l64-subnet1.example.com.",
    );
    same("NSAP 0x47.0005.80", "0x47000580");
    fails("NSAP 47");
    same("EID 0A BC", "0ABC");
    same("WKS 10.0.0.1 6 0 1 2 21 23", "10.0.0.1 6 0 1 2 21 23");
    same(
        "IPSECKEY 10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==",
        "10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==",
    );
    same(
        "IPSECKEY 10 3 2 mygateway AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==",
        "10 3 2 mygateway.example.test. AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==",
    );
    same(
        "AMTRELAY 128 1 3 amtrelays.example.com.",
        "128 1 3 amtrelays.example.com.",
    );
    same("AMTRELAY 0 0 0 .", "0 0 0 .");
    same("DSYNC SOA 1 1 x", "SOA NOTIFY 1 x.example.test.");
    same("DSYNC TYPE5 2 1 x", "CNAME 2 1 x.example.test.");
    same("AAAA ::1.2.3.4", "::1.2.3.4");
    same("AAAA ::ffff:1.2.3.4", "::ffff:1.2.3.4");
    same("TLSA 3 1 1 aa", "3 1 1 AA");
    same(
        "HIP 2 200100107B1A74DF365639CC39F1D578 AwEAAbdxyhNuSutc5EMzxTs9LBPCIkOFH8cIvM4p9+LrV4e19WzK00+CI6zBCQTdtWsuxKbWIy87UOoJTwkUs7lBu+Upr1gsNrut79ryra+bSRGQb1slImA8YVJyuIDsj7kwzG7jnERNqnWxZ48AWkskmdHaVDP4BcelrTI3rMXdXF5D rvs1.example.com. rvs2",
        "2 200100107B1A74DF365639CC39F1D578 AwEAAbdxyhNuSutc5EMzxTs9LBPCIkOFH8cIvM4p9+LrV4e19WzK00+CI6zBCQTdtWsuxKbWIy87UOoJTwkUs7lBu+Upr1gsNrut79ryra+bSRGQb1slImA8YVJyuIDsj7kwzG7jnERNqnWxZ48AWkskmdHaVDP4BcelrTI3rMXdXF5D rvs1.example.com. rvs2.example.test.",
    );
    same(
        "CSYNC 12345 0 A MX RRSIG NSEC TYPE1234",
        "12345 0 A MX RRSIG NSEC TYPE1234",
    );
}
