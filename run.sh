#!/usr/bin/env bash
# Sets up and runs the main job: install dependencies, build (Release),
# compile build/anondb.anondb from feeds.yaml using the bundled offline
# snapshot, and show sample lookups with their provenance, the MMDB export
# read by mmdblookup, and a CSV annotated in bulk.
set -euo pipefail
cd "$(dirname "$0")"
source .ci/deps.sh
anondb_install_deps

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target anondb
bin=build/builder/anondb

echo "==> anondb build --offline"
"$bin" build --offline --feeds feeds.yaml -o build/anondb.anondb --build-time "$(date -u +%Y-%m-%d)"

echo
echo "==> sample lookups: a Tor exit, an AWS address, an iCloud Private Relay egress, a VPN range,"
echo "    NordVPN's network (by its AS), an unflagged address"
"$bin" lookup -d build/anondb.anondb 185.220.101.1 3.5.140.1 172.224.226.1 2001:678:8b4::1 5.180.63.1 192.0.2.1

echo
echo "==> anondb explain 185.220.101.1 (why is this Tor exit flagged?)"
"$bin" explain -d build/anondb.anondb 185.220.101.1 | head -20

echo
echo "==> anondb explain 5.180.63.1 (why NordVPN? the provider list line and the ASN-table row)"
"$bin" explain -d build/anondb.anondb 5.180.63.1

echo
echo "==> anondb export --format mmdb: the same data for MaxMind clients (mmdblookup, libmaxminddb)"
"$bin" export -d build/anondb.anondb --format mmdb build/anondb.mmdb
mmdblookup --file build/anondb.mmdb --ip 185.220.101.1

echo
echo "==> bulk annotation: a CSV of cases, the address column by name"
printf 'case,ip,note\nA-1,185.220.101.1,seen twice\nA-2,5.180.63.1,\nA-3,192.0.2.1,\n' |
  "$bin" lookup -d build/anondb.anondb --column ip
