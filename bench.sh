#!/usr/bin/env bash
# Benchmarks side by side with the tools a user would otherwise pick, in one
# run on the same data (bench/README.md): installs the reference tools from
# Debian (libmaxminddb, IPFire libloc and its database, FireHOL iprange),
# builds anondb (Release) with the benchmark programs, and prints one line
# per comparison: ours, the reference, and the speed-up of ours over it.
#
#   ./bench.sh [--quick]     (--quick: fewer lookups and CIDRs, for a smoke run)
set -euo pipefail
cd "$(dirname "$0")"
source .ci/deps.sh
anondb_install_deps iprange

lookups=5000000
cidrs=5000000
lines=10000000
if [ "${1:-}" = "--quick" ]; then
  lookups=200000
  cidrs=200000
  lines=200000
fi

build=build-bench
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DANONDB_BENCH=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target anondb lookup_bench build_bench annotate_bench layout_bench
bin="$build/builder/anondb"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/anondb-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "==> machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "==> snapshot database (anondb build --offline)"
"$bin" build --offline --feeds feeds.yaml -o "$tmp/snapshot.anondb" --build-time 2026-01-01 >/dev/null
"$bin" export -d "$tmp/snapshot.anondb" --format mmdb "$tmp/snapshot.mmdb" >/dev/null

echo "==> lookups (bench/lookup_bench)"
"$build/bench/lookup_bench" --snapshot "$tmp/snapshot.anondb" --lookups "$lookups" --tmp "$tmp" | tee "$tmp/lookup.txt"
echo "==> candidate lookup layouts (bench/layout_bench)"
"$build/bench/layout_bench" --db "$tmp/lookup-bench-libloc.anondb" --lookups "$lookups" | tee "$tmp/layout.txt"
echo "==> build (bench/build_bench)"
"$build/bench/build_bench" --cidrs "$cidrs" --cli "$bin" --feeds feeds.yaml --tmp "$tmp" 2>&1 | tee "$tmp/build.txt"
echo "==> bulk annotation (bench/annotate_bench)"
"$build/bench/annotate_bench" --db "$tmp/snapshot.anondb" --mmdb "$tmp/snapshot.mmdb" --cli "$bin" --lines "$lines" |
  tee "$tmp/annotate.txt"

echo
echo "==> summary (speed-up = reference time / ours; target from issue 6)"
printf '%-58s %12s %12s %9s %8s\n' "comparison" "ours" "reference" "speed-up" "target"
target() {
  case "$1" in
    *"IPv4 2 threads"*) echo "-" ;;
    *"IPv6 2 threads"*) echo "-" ;;
    *"batched"*"IPv4"*|*"IPv4"*"batched"*) echo "20x" ;;
    *"IPv4 vs libmaxminddb"*) echo "12x" ;;
    *"IPv6 vs libmaxminddb"*) echo "10x" ;;
    *"vs libloc"*) echo "40x" ;;
    *"vs iprange"*) echo "1.0x" ;;
    *) echo "-" ;;
  esac
}
grep -h '^RESULT' "$tmp/lookup.txt" "$tmp/build.txt" | while read -r _ rest; do
  # RESULT <name...> <ours> <unit> <ref> <unit> <ratio>x
  read -ra f <<<"$rest"
  n=${#f[@]}
  name="${f[*]:0:n-5}"
  printf '%-58s %9s %-2s %9s %-2s %8s %8s\n' "$name" "${f[n-5]}" "${f[n-4]}" "${f[n-3]}" "${f[n-2]}" "${f[n-1]}" "$(target "$name")"
done
grep -h '^SIZE\|^OPEN\|^RSS\|^BUILD' "$tmp/lookup.txt" "$tmp/build.txt" | sed 's/^/  /'
grep -h 'lines/s' "$tmp/annotate.txt" | sed 's/^ */  annotate: /'
grep -h 'ns/lookup' "$tmp/layout.txt" | sed 's/^ */  layout: /'
