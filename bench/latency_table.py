#!/usr/bin/env python3
"""Build a dnslb latency table from round-trip measurements.

Input: CSV lines `client,pool,ms` (a header line `client,pool,ms` is
skipped; blank lines and lines starting with # too), one measurement each:

  client  an IP address (a browser beacon's client, a probe's source): it
          is counted for its /24 (IPv4) or /48 (IPv6) network, see
          --v4-prefix and --v6-prefix (an IPv4-mapped ::ffff:a.b.c.d
          counts as the IPv4 address); or a network in CIDR form, taken
          as it is; or a place: country:SG, continent:OC,
          subdivision:US-CA, region:NAME (a custom region of [geo])
  pool    the pool's name in the policy file
  ms      the measured round-trip time in milliseconds (>= 0)

Output (stdout, or --out FILE): the latency table format documented in
zones/example.test.latency: one row per client network or place, with the
median of its measurements per pool (rounded to 0.1 ms), for the pools
with at least --min-samples measurements. Two sibling networks (the two
halves of a wider one) with the same figures are merged into the wider
network, repeatedly, so the table stays small. Errors name the line.

  bench/latency_table.py beacons.csv --out zones/example.test.latency

Standard library only; no network access.
"""

import argparse
import csv
import ipaddress
import statistics
import sys

PLACES = ("country", "continent", "subdivision", "region")


def client_key(text, v4, v6):
    """('net', IPv4Network|IPv6Network) or (place kind, code)."""
    text = text.strip()
    if ":" in text and text.split(":", 1)[0] in PLACES:
        kind, code = text.split(":", 1)
        code = code.strip()
        if not code:
            raise ValueError("empty %s" % kind)
        return (kind, code.upper() if kind != "region" else code)
    if "/" in text:
        return ("net", ipaddress.ip_network(text, strict=True))
    addr = ipaddress.ip_address(text)
    if addr.version == 6 and addr.ipv4_mapped is not None:
        # ::ffff:a.b.c.d, as dual-stack sockets log IPv4 clients
        addr = addr.ipv4_mapped
    prefix = v4 if addr.version == 4 else v6
    return ("net", ipaddress.ip_network("%s/%d" % (addr, prefix), strict=False))


def read(lines, v4, v6):
    """{key: {pool: [ms, ...]}} from CSV lines; raises ValueError naming the line."""
    samples = {}
    for n, row in enumerate(csv.reader(lines), 1):
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if n == 1 and [c.strip().lower() for c in row] == ["client", "pool", "ms"]:
            continue
        if len(row) != 3:
            raise ValueError("line %d: want client,pool,ms, got %d fields" % (n, len(row)))
        try:
            key = client_key(row[0], v4, v6)
            pool = row[1].strip()
            if not pool:
                raise ValueError("empty pool")
            ms = float(row[2])
            if not (0 <= ms <= 60000):
                raise ValueError("ms %s outside 0..=60000" % row[2].strip())
        except ValueError as e:
            raise ValueError("line %d: %s" % (n, e))
        samples.setdefault(key, {}).setdefault(pool, []).append(ms)
    return samples


def figures(samples, min_samples):
    """{key: {pool: median ms}}, keeping pools with enough samples."""
    out = {}
    for key, pools in samples.items():
        row = {p: round(statistics.median(v), 1) for p, v in pools.items() if len(v) >= min_samples}
        if row:
            out[key] = row
    return out


def merge_siblings(rows):
    """Merge the two halves of a network into it while their figures agree."""
    changed = True
    while changed:
        changed = False
        nets = {k[1]: v for k, v in rows.items() if k[0] == "net"}
        for net, fig in sorted(nets.items(), key=lambda x: (x[0].version, -x[0].prefixlen, x[0])):
            if net.prefixlen == 0 or ("net", net) not in rows:
                continue
            parent = net.supernet()
            halves = list(parent.subnets())
            sibling = halves[1] if halves[0] == net else halves[0]
            if nets.get(sibling) == fig and ("net", parent) not in rows:
                del rows[("net", net)]
                del rows[("net", sibling)]
                rows[("net", parent)] = fig
                changed = True
    return rows


def fmt_ms(ms):
    return ("%d" % ms) if ms == int(ms) else ("%.1f" % ms)


def fmt_pool(p):
    bare = p.replace("-", "").replace("_", "").isalnum() and p.isascii()
    return p if bare else '"%s"' % p.replace("\\", "\\\\").replace('"', '\\"')


def render(rows):
    order = {"net": 0, "region": 1, "subdivision": 2, "country": 3, "continent": 4}

    def sort_key(k):
        kind, v = k
        if kind == "net":
            return (0, v.version, int(v.network_address), v.prefixlen)
        return (order[kind], 0, 0, str(v))

    lines = ["# Latency table written by bench/latency_table.py (medians per client and pool).", "rows = ["]
    for key in sorted(rows, key=sort_key):
        kind, v = key
        ms = ", ".join("%s = %s" % (fmt_pool(p), fmt_ms(m)) for p, m in sorted(rows[key].items()))
        lines.append('  { %s = "%s", ms = { %s } },' % (kind, v, ms))
    lines.append("]")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("csv", help="client,pool,ms lines ('-': stdin)")
    ap.add_argument("--out", help="write the table here (default stdout)")
    ap.add_argument("--v4-prefix", type=int, default=24, help="network of an IPv4 client (24)")
    ap.add_argument("--v6-prefix", type=int, default=48, help="network of an IPv6 client (48)")
    ap.add_argument("--min-samples", type=int, default=1, help="measurements a figure needs (1)")
    ap.add_argument("--no-merge", action="store_true", help="keep sibling networks apart")
    a = ap.parse_args()
    if not (0 <= a.v4_prefix <= 32 and 0 <= a.v6_prefix <= 128 and a.min_samples >= 1):
        ap.error("--v4-prefix 0..=32, --v6-prefix 0..=128, --min-samples >= 1")
    src = sys.stdin if a.csv == "-" else open(a.csv, newline="")
    try:
        rows = figures(read(src, a.v4_prefix, a.v6_prefix), a.min_samples)
    except ValueError as e:
        sys.exit("%s: %s" % (a.csv, e))
    if not a.no_merge:
        rows = merge_siblings(rows)
    text = render(rows)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
