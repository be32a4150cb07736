#!/usr/bin/env python3
"""Generate a large dnslb config for memory and start-up/reload measurements:
one zone `large.test` with N load-balanced names, each with its own pool of
M endpoints (default 10,000 names x 5 = 50,000 endpoints), no health checks
(nothing is probed), plus the zone's SOA/NS.

    bench/gen_large.py OUTDIR [--names 10000] [--members 5]

Writes OUTDIR/dnslb.toml and OUTDIR/zones/large.test.{zone,toml}.
Addresses are from 10.0.0.0/8-free documentation-style ranges inside
198.18.0.0/15 (RFC 2544 benchmarking) and 2001:db8::/32; they are only
answered, never contacted.
"""
import argparse
import os

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--names", type=int, default=10000)
ap.add_argument("--members", type=int, default=5)
a = ap.parse_args()
z = os.path.join(a.out, "zones")
os.makedirs(z, exist_ok=True)
with open(os.path.join(a.out, "dnslb.toml"), "w") as f:
    f.write('zones_dir = "zones"\n')
with open(os.path.join(z, "large.test.zone"), "w") as f:
    f.write("$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 1209600 60\n@ NS ns1\nns1 A 192.0.2.53\n")
k = 0
with open(os.path.join(z, "large.test.toml"), "w") as f:
    for i in range(a.names):
        f.write(f"[pools.p{i}]\nmembers = [\n")
        for j in range(a.members):
            if j % 5 == 4:
                f.write(f'  {{ address = "2001:db8:{k >> 16:x}:{k & 0xffff:x}::1", weight = {j + 1} }},\n')
            else:
                f.write(f'  {{ address = "198.{18 + (k >> 16) % 2}.{(k >> 8) & 255}.{k & 255}", weight = {j + 1} }},\n')
            k += 1
        f.write("]\n")
        f.write(f'[names.n{i}]\npolicy = "weighted"\npool = "p{i}"\n\n')
print(f"{a.names} names, {k} endpoints in {a.out}")
