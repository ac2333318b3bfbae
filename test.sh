#!/usr/bin/env bash
# Sets up and passes the tests: install dependencies, build with tests,
# run them with ctest; then the same suite again under ASan + UBSan.
set -euo pipefail
cd "$(dirname "$0")"
source .ci/deps.sh
# Test-only: a real PostgreSQL + ip4r for the pgsql export, nft and ipset for
# the firewall exports.
anondb_install_deps postgresql postgresql-15-ip4r nftables ipset

jobs=$(nproc)
echo "==> build and test (RelWithDebInfo)"
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DANONDB_TESTS=ON >/dev/null
cmake --build build-test -j"$jobs"
ctest --test-dir build-test --output-on-failure -j"$jobs"

echo "==> build and test under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DANONDB_TESTS=ON -DANONDB_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs"
