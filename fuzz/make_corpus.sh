#!/usr/bin/env bash
# Regenerates fuzz/corpus/: small cuts of the bundled snapshot (data/) and
# test fixtures (tests/data/) for the parser and catalogue targets, and the
# seeds fuzz_make_seeds writes (small databases, an MMDB export, random
# bytes). fuzz/README.md lists where every file comes from. Needs python3
# (JSON cuts) and a built build-fuzz (./fuzz.sh build).
#
#   fuzz/make_corpus.sh [BUILD_DIR]     (default build-fuzz)
set -eu  # no pipefail: `head` closes its pipes early on purpose
cd "$(dirname "$0")/.."
build=${1:-build-fuzz}
out=fuzz/corpus
rm -rf "$out"
mkdir -p "$out"

# cut TARGET NAME SOURCE LINES: the first LINES lines, at most 4 KiB.
cut_lines() {
    local target=$1 name=$2 src=$3 lines=$4
    mkdir -p "$out/$target"
    head -n "$lines" "$src" | head -c 4096 >"$out/$target/$name"
}
# whole TARGET NAME SOURCE
whole() {
    mkdir -p "$out/$1"
    cp "$3" "$out/$1/$2"
}

s=data/snapshot
cut_lines parse_plain cloudflare-ips-v4.txt $s/cloudflare/ips-v4.txt 100
cut_lines parse_plain cloudflare-ips-v6.txt $s/cloudflare/ips-v6.txt 100
cut_lines parse_plain firehol_proxies.head.netset $s/firehol/firehol_proxies.netset 60
cut_lines parse_plain firehol_tor_exits.head.ipset $s/firehol/tor_exits.ipset 40
cut_lines parse_plain torbulkexitlist.head $s/tor/torbulkexitlist 30
cut_lines parse_plain x4bnet-vpn-ipv6.head.txt $s/x4bnet/vpn-ipv6.txt 40
whole parse_plain az0-expressvpn.txt tests/data/feeds/plain/az0-expressvpn.txt
whole parse_plain x4bnet-manual.txt tests/data/feeds/plain/x4bnet-manual.txt
cut_lines parse_tor_exit_addresses exit-addresses.head $s/tor/exit-addresses 60
cut_lines parse_tor_exit_addresses collector-2017-07-17.head tests/data/feeds/tor/2017-07-17-17-02-00 60
cut_lines parse_geofeed digitalocean.head.csv $s/digitalocean/geofeed.csv 40
cut_lines parse_geofeed linode.head.csv $s/linode/geofeed.csv 40
cut_lines parse_geofeed apple-private-relay.head.csv $s/apple/private-relay-egress.head120.csv 40
cut_lines parse_provider_asns providers.head.csv data/providers/providers.csv 30
whole parse_asn_list x4bnet-vpn-ASN.txt $s/asn/x4bnet-vpn-ASN.txt
cut_lines parse_asn_list x4bnet-datacenter-ASN.head.txt $s/asn/x4bnet-datacenter-ASN.txt 60
cut_lines parse_asn_csv bad-asn-list.head.csv $s/asn/bad-asn-list.csv 60
cut_lines parse_iptoasn ip2asn-v4.head.tsv $s/asn/ip2asn-v4.subset.tsv 50
mkdir -p $out/parse_pfx2as
zcat $s/asn/RouteViewIPv6.pfx2as.gz | head -n 80 | head -c 4096 >$out/parse_pfx2as/RouteViewIPv6.head.pfx2as
whole parse_exclusions exclusions.csv data/exclusions.csv

# JSON: the same documents with their arrays cut to their first elements.
python3 - "$out" <<'EOF'
import json, os, sys
out = sys.argv[1]
def save(target, name, doc):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, name), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
def load(path):
    with open(path) as f:
        return json.load(f)
s = "data/snapshot"
d = load(f"{s}/aws/ip-ranges.json")
d["prefixes"] = d["prefixes"][:8]; d["ipv6_prefixes"] = d["ipv6_prefixes"][:8]
save("parse_aws_ip_ranges", "ip-ranges.cut.json", d)
for name in ("cloud", "goog"):
    d = load(f"{s}/google/{name}.json")
    d["prefixes"] = d["prefixes"][:6] + [p for p in d["prefixes"] if "ipv6Prefix" in p][:6]
    save("parse_google_ip_ranges", f"{name}.cut.json", d)
d = load(f"{s}/azure/ServiceTags_Public.excerpt.json")
d["values"] = d["values"][:3]
for v in d["values"]:
    p = v["properties"]["addressPrefixes"]
    v["properties"]["addressPrefixes"] = p[:4] + [x for x in p if ":" in x][:4]
save("parse_azure_service_tags", "ServiceTags_Public.cut.json", d)
d = load(f"{s}/oracle/public_ip_ranges.json")
d["regions"] = d["regions"][:3]
for r in d["regions"]:
    r["cidrs"] = r["cidrs"][:4]
save("parse_oracle_ip_ranges", "public_ip_ranges.cut.json", d)
for target in ("parse_onionoo_exit", "parse_onionoo_relays"):
    d = load(f"{s}/tor/onionoo-details-head5.json")
    d["relays"] = d["relays"][:3]
    save(target, "onionoo-details.cut.json", d)
    d = load("tests/data/feeds/tor-onionoo/details-running-relays.excerpt40.json")
    d["relays"] = d["relays"][:4]
    save(target, "details-running-relays.cut.json", d)
EOF

# feeds.yaml: the head (comments, version, first feeds) and the ASN side
# (a table, two lists expanding through it, the exclusions).
python3 - "$out" <<'EOF'
import os, sys
out = os.path.join(sys.argv[1], "catalogue")
os.makedirs(out, exist_ok=True)
text = open("feeds.yaml").read()
head, rest = text.split("\nfeeds:\n", 1)
blocks = ["  - name:" + b for b in rest.split("  - name:")[1:]]
def name(b):
    return b.split("\n", 1)[0].split(":", 1)[1].strip()
with open(os.path.join(out, "feeds.head.yaml"), "w") as f:
    f.write(head + "\nfeeds:\n" + "".join(blocks[:3]))
keep = {"ipfire-location", "anondb-provider-asns", "x4bnet-datacenter-asns", "anondb-exclusions", "aws"}
with open(os.path.join(out, "feeds.asn.yaml"), "w") as f:
    f.write("version: 1\nfeeds:\n" + "".join(b for b in blocks if name(b) in keep))
EOF

# Generated: databases, an MMDB export, random bytes.
"$build/fuzz/fuzz_make_seeds" "$out" >/dev/null
whole read_mmdb_asn GeoLite2-ASN-Test.mmdb tests/data/mmdb/GeoLite2-ASN-Test.mmdb

du -sh "$out"
