#!/usr/bin/env python3
"""Checks a loaded pgsql export (table anondb_ranges) against the database it
came from. Run by run_pgsql_test.sh with PGHOST/PGPORT/PGUSER/PGDATABASE set.

1. Table vs csv export: the same rows (range ends, categories, provider, asn,
   sources), and every boolean column agrees with the categories. A row is
   a maximal range of one answer and one set of sources: two touching rows
   of one family differ in one or the other.
2. Range join vs the native reader: for a sample of csv ranges their first and
   last address and the addresses just outside, plus random IPv4 and IPv6
   addresses, a temporary table of them LEFT JOINed to anondb_ranges
   (range >>= ip) must say what `anondb lookup --json` says, address by
   address: flagged, categories, anonymous, provider, asn; the row's range
   lies inside the lookup segment (`range`, a maximal run of one answer,
   which rows split where the sources change).
3. sources vs `anondb explain --json` (distinct evidence feeds, in origin
   order) for a sample; the row's range holds explain's evidence_range.
4. The GiST index exists and the planner can use it for the join.
5. A provider name holding every character COPY, array literals, SQL and psql
   treat specially round-trips exactly through the server: a one-feed
   database built offline from a generated catalogue, exported with
   --set-name hostile (table hostile_ranges, beside anondb_ranges).

Standard library only. Exits 1 on any mismatch, printing the first few.
"""

import argparse
import csv
import ipaddress
import json
import os
import random
import subprocess
import sys
import time

CATEGORIES = ["tor_exit", "vpn", "proxy", "relay", "hosting", "residential_proxy"]
ANONYMOUS = {"tor_exit", "vpn", "proxy", "relay", "residential_proxy"}  # category.hpp is_anonymous
V4_MAPPED = ipaddress.ip_network("::ffff:0:0/96")
TABLE = "anondb_ranges"
SHOW = 10  # mismatches printed per check


def addr_key(text):
    """(family, integer) of an address text; IPv4 sorts before IPv6 as in ip4r."""
    a = ipaddress.ip_address(text)
    return (a.version, int(a))


def range_ends(text):
    """(first, last) keys of a range as format_range writes it: a, a/len or a-b."""
    if "/" in text:
        n = ipaddress.ip_network(text, strict=True)
        return (n.version, int(n.network_address)), (n.version, int(n.broadcast_address))
    if "-" in text:
        a, b = text.split("-")
        return addr_key(a), addr_key(b)
    return addr_key(text), addr_key(text)


def psql(args, sql):
    """Runs SQL (a script on stdin) in one psql session; returns its stdout."""
    cmd = [args.psql, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"]
    r = subprocess.run(cmd, input=sql.encode(), capture_output=True)
    if r.returncode != 0:
        sys.exit("psql failed (%d):\n%s" % (r.returncode, r.stderr.decode(errors="replace")))
    return r.stdout.decode()


def sql_literal(s):
    return "'" + s.replace("'", "''") + "'"


class Report:
    def __init__(self, name):
        self.name, self.count, self.first = name, 0, []

    def add(self, what):
        self.count += 1
        if len(self.first) < SHOW:
            self.first.append(what)

    def show(self):
        for w in self.first:
            print("  mismatch (%s): %s" % (self.name, w))
        if self.count > len(self.first):
            print("  ... and %d more" % (self.count - len(self.first)))


def split_list(field):
    return field.split("|") if field else []


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if rows[0] != ["start", "end", "cidrs", "categories", "provider", "asn", "sources"]:
        sys.exit("unexpected csv header %r" % rows[0])
    return rows[1:]


def check_table(args, csv_rows):
    """Every table row against the csv export's rows (both one per range of one answer and one set of sources)."""
    report = Report("table vs csv")
    want = {}
    for r in csv_rows:
        first, last = addr_key(r[0]), addr_key(r[1])
        want[first] = (last, split_list(r[3]), r[4] or None, int(r[5]) if r[5] else None, split_list(r[6]))
    cols = ", ".join(CATEGORIES)
    out = psql(args, "SELECT json_build_array(lower(range)::text, upper(range)::text, categories, anonymous, "
                     "json_build_array(%s), provider, asn, sources) FROM %s;" % (cols, TABLE))
    seen = set()
    table = []
    for line in out.splitlines():
        lo, hi, cats, anonymous, flags, provider, asn, sources = json.loads(line)
        first = addr_key(lo)
        if first in seen:
            report.add("two rows start at %s" % lo)
        seen.add(first)
        got = (addr_key(hi), cats, provider, asn, sources)
        table.append((first, got))
        if want.get(first) != got:
            report.add("row %s-%s: table %r, csv %r" % (lo, hi, got, want.get(first)))
        if anonymous != any(c in ANONYMOUS for c in cats):
            report.add("row %s: anonymous=%r for %r" % (lo, anonymous, cats))
        if flags != [c in cats for c in CATEGORIES]:
            report.add("row %s: booleans %r for %r" % (lo, flags, cats))
    for first in want.keys() - seen:
        report.add("csv row at %r missing from the table" % (first,))
    # Rows are maximal: touching rows of one family differ in answer or sources.
    table.sort()
    for (first, (last, *rest)), (next_first, (_, *next_rest)) in zip(table, table[1:]):
        if last[0] == next_first[0] and last[1] + 1 == next_first[1] and rest == next_rest:
            report.add("rows at %r and %r touch with the same answer and sources %r" % (first, next_first, rest))
    print("pgsql table: %d rows, csv %d rows, %d mismatches" % (len(seen), len(csv_rows), report.count))
    return report


def probe_addresses(csv_rows, rng, n_ranges, n_random):
    """First/last addresses of sampled ranges, their outside neighbours, random ones."""
    out = []

    def add(version, value):
        if version == 4:
            if 0 <= value < 2**32:
                out.append(str(ipaddress.IPv4Address(value)))
        elif 0 <= value < 2**128:
            a = ipaddress.IPv6Address(value)
            # ::ffff:a.b.c.d is IPv4 to the reader but IPv6 to ip4r: the
            # export writes that block as IPv4, so it is probed as IPv4.
            if a not in V4_MAPPED:
                out.append(str(a))

    for r in rng.sample(csv_rows, min(n_ranges, len(csv_rows))):
        (v, first), (_, last) = addr_key(r[0]), addr_key(r[1])
        for value in (first, last, first - 1, last + 1):
            add(v, value)
    for _ in range(n_random):
        add(4, rng.getrandbits(32))
    for k in range(n_random):
        # Half in global unicast 2000::/3 (where the feeds' IPv6 ranges are), half anywhere.
        add(6, (0x2 << 125 | rng.getrandbits(125)) if k % 2 == 0 else rng.getrandbits(128))
    return list(dict.fromkeys(out))  # distinct, in order


def check_join(args, addrs):
    report = Report("join vs lookup")
    t0 = time.monotonic()
    r = subprocess.run([args.anondb, "lookup", "--json", "-d", args.db], input="\n".join(addrs).encode() + b"\n",
                       capture_output=True)
    if r.returncode != 0:
        sys.exit("anondb lookup failed (%d): %s" % (r.returncode, r.stderr.decode(errors="replace")))
    native = [json.loads(line) for line in r.stdout.decode().splitlines()]
    if len(native) != len(addrs):
        sys.exit("anondb lookup printed %d lines for %d addresses" % (len(native), len(addrs)))
    t_lookup = time.monotonic() - t0

    probe = os.path.join(args.workdir, "probe.tsv")
    with open(probe, "w") as f:
        for i, a in enumerate(addrs):
            f.write("%d\t%s\n" % (i, a))
    join = ("FROM probe p LEFT JOIN %s r ON r.range >>= p.ip" % TABLE)
    select = ("SELECT json_build_object('id', p.id, 'ip', p.ip::text, 'lower', lower(r.range)::text, "
              "'upper', upper(r.range)::text, 'categories', r.categories, 'anonymous', r.anonymous, "
              "'flags', json_build_array(%s), 'provider', r.provider, 'asn', r.asn, 'sources', r.sources) %s "
              "ORDER BY p.id" % (", ".join("r." + c for c in CATEGORIES), join))
    t0 = time.monotonic()
    out = psql(args, "\n".join([
        "CREATE TEMP TABLE probe (id integer PRIMARY KEY, ip ipaddress NOT NULL);",
        "\\copy probe (id, ip) FROM %s" % sql_literal(probe),
        "ANALYZE probe;",
        select + ";",
    ]) + "\n")
    t_join = time.monotonic() - t0
    rows = {}
    for line in out.splitlines():
        row = json.loads(line)
        rows.setdefault(row["id"], []).append(row)

    flagged = 0
    for i, (addr, n) in enumerate(zip(addrs, native)):
        got = rows.get(i, [])
        if len(got) != 1:
            report.add("%s: %d joined rows" % (addr, len(got)))
            continue
        g = got[0]
        if addr_key(g["ip"]) != addr_key(addr) or addr_key(n["ip"]) != addr_key(addr):
            report.add("%s: address read back as %s (pg) / %s (lookup)" % (addr, g["ip"], n["ip"]))
        if g["lower"] is None:
            if n["flagged"]:
                report.add("%s: lookup says flagged %r, no row in the table" % (addr, n["categories"]))
            continue
        flagged += 1
        if not n["flagged"]:
            report.add("%s: lookup says not flagged, the table has %s-%s" % (addr, g["lower"], g["upper"]))
            continue
        want = (n["categories"], n["anonymous"], n["provider"], n["asn"])
        have = (g["categories"], g["anonymous"], g["provider"], g["asn"])
        if want != have:
            report.add("%s: table %r, lookup %r" % (addr, have, want))
        # The row (one answer, one set of sources) lies inside the segment
        # (one answer).
        (seg_lo, seg_hi), row_lo, row_hi = range_ends(n["range"]), addr_key(g["lower"]), addr_key(g["upper"])
        if not (seg_lo <= row_lo <= addr_key(addr) <= row_hi <= seg_hi):
            report.add("%s: table row %s-%s is not inside the lookup segment %s" % (addr, g["lower"], g["upper"], n["range"]))
        if g["flags"] != [c in n["categories"] for c in CATEGORIES]:
            report.add("%s: booleans %r for %r" % (addr, g["flags"], n["categories"]))
    print("pgsql join: %d addresses (%d flagged), %d mismatches; lookup %.2f s, SQL load+join %.2f s"
          % (len(addrs), flagged, report.count, t_lookup, t_join))
    return report, rows


def check_sources(args, addrs, rows, rng, n):
    report = Report("sources vs explain")
    flagged = [a for i, a in enumerate(addrs) if rows.get(i) and rows[i][0]["lower"] is not None]
    index = {a: i for i, a in enumerate(addrs)}
    sample = rng.sample(flagged, min(n, len(flagged)))
    for a in sample:
        r = subprocess.run([args.anondb, "explain", "--json", "-d", args.db, a], capture_output=True)
        if r.returncode != 0:
            sys.exit("anondb explain %s failed (%d): %s" % (a, r.returncode, r.stderr.decode(errors="replace")))
        explained = json.loads(r.stdout)
        feeds = list(dict.fromkeys(e["feed"] for e in explained["evidence"]))
        row = rows[index[a]][0]
        if row["sources"] != feeds:
            report.add("%s: table sources %r, explain %r" % (a, row["sources"], feeds))
        # The row is a maximal range of one answer and these sources: it
        # holds the range where exactly this evidence applies.
        ev_lo, ev_hi = range_ends(explained["evidence_range"])
        if not (addr_key(row["lower"]) <= ev_lo and ev_hi <= addr_key(row["upper"])):
            report.add("%s: table row %s-%s does not hold explain's evidence_range %s"
                       % (a, row["lower"], row["upper"], explained["evidence_range"]))
    print("pgsql sources: %d addresses vs explain, %d mismatches" % (len(sample), report.count))
    return report


def check_index(args):
    report = Report("index")
    idx = psql(args, "SELECT indexdef FROM pg_indexes WHERE tablename = %s;" % sql_literal(TABLE)).strip()
    if "USING gist (range)" not in idx:
        report.add("no GiST index on %s(range): %r" % (TABLE, idx))
    query = ("EXPLAIN (COSTS OFF) SELECT r.provider FROM (VALUES ('1.2.3.4'::ipaddress), ('2001:db8::1')) p(ip) "
             "LEFT JOIN %s r ON r.range >>= p.ip;" % TABLE)
    default_plan = psql(args, query)
    forced_plan = psql(args, "SET enable_seqscan = off;\n" + query)
    if TABLE + "_range_idx" not in forced_plan:
        report.add("the planner cannot use the index for >>=:\n" + forced_plan)
    print("pgsql index: %s; default plan %s it" % (idx, "uses" if TABLE + "_range_idx" in default_plan else "does NOT use"))
    return report


# Tab, backslashes (also before N, . and t), quotes, braces, commas, SQL
# comment and quote characters, CR LF, psql meta-command text, UTF-8 of 2-4 bytes.
HOSTILE_PROVIDER = ("Tab\there back\\slash \\N \\. \\t \"quoted\" {brace,comma} [sq] 'single' ;-- x\n"
                    "\\! echo pwned\r\nCR NULL \u00e9t\u00e9 \u2603 \U0001D11E end\\")
HOSTILE_ADDRS = ["185.100.1.1", "185.100.2.77", "2a0b:f4c0::1234"]


def check_hostile(args):
    report = Report("hostile provider")
    d = os.path.join(args.workdir, "hostile")
    os.mkdir(d)
    with open(os.path.join(d, "list.txt"), "w") as f:
        f.write("185.100.1.1\n185.100.2.0/24\n2a0b:f4c0::/48\n")
    with open(os.path.join(d, "feeds.yaml"), "w", encoding="utf-8") as f:
        # A JSON string is a YAML double-quoted scalar.
        f.write("version: 1\nfeeds:\n  - name: hostile-feed\n    url: file://list.txt\n    format: plain\n"
                "    category: vpn\n    provider: %s\n    license: test\n    description: test\n"
                "    snapshot: list.txt\n    snapshot_date: 2026-01-01T00:00:00Z\n"
                % json.dumps(HOSTILE_PROVIDER, ensure_ascii=False))
    db, script = os.path.join(d, "hostile.anondb"), os.path.join(d, "hostile.sql")
    for cmd in ([args.anondb, "build", "--offline", "--feeds", os.path.join(d, "feeds.yaml"), "-o", db,
                 "--build-time", "2026-01-01"],
                [args.anondb, "export", "-d", db, "--format", "pgsql", "--set-name", "hostile", script]):
        r = subprocess.run(cmd, capture_output=True)
        if r.returncode != 0:
            sys.exit("%s failed (%d): %s" % (" ".join(cmd[:2]), r.returncode, r.stderr.decode(errors="replace")))
    for _ in range(2):
        r = subprocess.run([args.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", script], capture_output=True)
        if r.returncode != 0 or r.stdout or r.stderr:
            report.add("loading %s: rc %d, %r %r" % (script, r.returncode, r.stdout, r.stderr))
    r = subprocess.run([args.anondb, "lookup", "--json", "-d", db], input=("\n".join(HOSTILE_ADDRS) + "\n").encode(),
                       capture_output=True)
    native = [json.loads(line)["provider"] for line in r.stdout.decode().splitlines()]
    values = ", ".join("(%d, %s::ipaddress)" % (i, sql_literal(a)) for i, a in enumerate(HOSTILE_ADDRS))
    out = psql(args, "SELECT json_build_array(p.id, r.provider, r.sources, r.categories) FROM (VALUES %s) p(id, ip) "
                     "LEFT JOIN hostile_ranges r ON r.range >>= p.ip ORDER BY p.id;" % values)
    got = [json.loads(line) for line in out.splitlines()]
    if native != [HOSTILE_PROVIDER] * len(HOSTILE_ADDRS):
        report.add("lookup --json says %r" % native)
    if got != [[i, HOSTILE_PROVIDER, ["hostile-feed"], ["vpn"]] for i in range(len(HOSTILE_ADDRS))]:
        report.add("the table says %r" % got)
    print("pgsql hostile provider: %d addresses, %d mismatches" % (len(HOSTILE_ADDRS), report.count))
    return report


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--anondb", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--psql", required=True)
    p.add_argument("--csv", required=True, help="csv export of --db")
    p.add_argument("--workdir", required=True)
    p.add_argument("--ranges", type=int, default=800, help="csv ranges sampled (4 addresses each)")
    p.add_argument("--random", type=int, default=1000, help="random addresses per family")
    p.add_argument("--explain", type=int, default=25, help="flagged addresses checked against explain")
    args = p.parse_args()
    seed = int(os.environ.get("ANONDB_PGSQL_SEED", "20260101"))
    rng = random.Random(seed)
    print("pgsql test: seed %d (set ANONDB_PGSQL_SEED to change)" % seed)

    csv_rows = read_csv(args.csv)
    reports = [check_table(args, csv_rows)]
    addrs = probe_addresses(csv_rows, rng, args.ranges, args.random)
    join_report, rows = check_join(args, addrs)
    reports.append(join_report)
    reports.append(check_sources(args, addrs, rows, rng, args.explain))
    reports.append(check_index(args))
    reports.append(check_hostile(args))
    # The hostile table sits beside the main one: the main one is untouched.
    untouched = Report("main table after the hostile load")
    n = int(psql(args, "SELECT count(*) FROM %s;" % TABLE))
    if n != len(csv_rows):
        untouched.add("%s has %d rows, the csv %d" % (TABLE, n, len(csv_rows)))
    reports.append(untouched)
    bad = [r for r in reports if r.count]
    for r in bad:
        r.show()
    if bad:
        print("pgsql test: FAILED: %s" % ", ".join("%d %s" % (r.count, r.name) for r in bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
