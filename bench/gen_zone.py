#!/usr/bin/env python3
"""Generate one large zone file for memory and load-time measurements
(bench/memory): a realistic mix of record types, deterministic (fixed seed),
accepted as is by dnslb, NSD, Knot and BIND.

    bench/gen_zone.py OUT.zone [--records 1000000] [--origin big.test]

Every block of 20 records holds:

    9 A        host names (hNNNNNNN-K), addresses in 10.0.0.0/8
    3 AAAA     on three of those host names, in 2001:db8::/32
    2 CNAME    wwwN, apiN -> a host of the block
    1 MX       mxN -> 10 hostN
    2 TXT      an SPF-like string (40-90 octets) and a short token
    2 NS       a delegation dN with two name servers, one inside (glue)
    1 A        the glue of ns1.dN

i.e. 50 % A, 15 % AAAA, 10 % CNAME, 5 % MX, 10 % TXT, 10 % NS, plus the
SOA and two apex NS (with their addresses). Addresses are private or
documentation ranges; nothing is ever sent to them.
"""
import argparse
import os
import random

ap = argparse.ArgumentParser()
ap.add_argument("out", help="zone file to write")
ap.add_argument("--records", type=int, default=1_000_000, help="records, rounded up to a block of 20")
ap.add_argument("--origin", default="big.test")
a = ap.parse_args()

rng = random.Random(12)
blocks = max(1, (a.records + 19) // 20)
os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
with open(a.out, "w") as f:
    w = f.write
    w("$ORIGIN %s.\n$TTL 3600\n" % a.origin)
    w("@ SOA ns1 hostmaster 2024010101 7200 3600 1209600 300\n")
    w("@ NS ns1\n@ NS ns2\nns1 A 192.0.2.1\nns2 AAAA 2001:db8::53\n")
    n = 5
    for b in range(blocks):
        hosts = []
        for k in range(9):
            h = "h%07d-%d" % (b, k)
            hosts.append(h)
            w("%s 300 A 10.%d.%d.%d\n" % (h, rng.randrange(256), rng.randrange(256), rng.randrange(1, 255)))
        for k in (0, 3, 6):
            w("%s 300 AAAA 2001:db8:%x:%x::%x\n" % (hosts[k], b >> 16, b & 0xFFFF, k + 1))
        w("www%d CNAME %s\n" % (b, hosts[1]))
        w("api%d CNAME %s\n" % (b, hosts[2]))
        w("mx%d MX 10 %s\n" % (b, hosts[4]))
        ip4 = " ".join("ip4:10.%d.%d.0/24" % (rng.randrange(256), rng.randrange(256))
                       for _ in range(rng.randrange(1, 4)))
        w('%s TXT "v=spf1 %s -all"\n' % (hosts[5], ip4))
        w('%s TXT "token=%016x"\n' % (hosts[7], rng.getrandbits(64)))
        w("d%d NS ns1.d%d\nd%d NS ns.example.net.\n" % (b, b, b))
        w("ns1.d%d A 192.0.2.%d\n" % (b, 1 + b % 254))
        n += 20
print("%d records (%d blocks of 20 + SOA, NS, addresses) in %s" % (n, blocks, a.out))
