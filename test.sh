#!/usr/bin/env bash
# Sets up and passes the tests: install dependencies, build with tests,
# run them with ctest; then the same suite again under ASan + UBSan; then
# every fuzz target for a bounded time (fuzz.sh ci).
set -euo pipefail
cd "$(dirname "$0")"
source .ci/deps.sh
# Test-only: a real PostgreSQL + ip4r for the pgsql export, nft and ipset for
# the firewall exports, Chromium to render `anondb report`'s page (test_report).
# The fuzz step: ANONDB_FUZZ_DEPS (clang, libFuzzer).
anondb_install_deps postgresql postgresql-15-ip4r nftables ipset chromium "${ANONDB_FUZZ_DEPS[@]}"

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

# Every libFuzzer target (fuzz/README.md), built with clang in build-fuzz,
# for ANONDB_FUZZ_SECONDS each (default 20; two at a time: about 3.5 minutes
# on 2 cores, plus the build) from its seed corpus. A crash, leak, timeout or
# broken invariant fails the step; its input and log stay in
# build-fuzz/artifacts/ci/.
echo "==> fuzz targets (clang, libFuzzer + ASan + UBSan)"
./fuzz.sh ci "${ANONDB_FUZZ_SECONDS:-20}"
