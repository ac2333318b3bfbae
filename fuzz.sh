#!/usr/bin/env bash
# libFuzzer targets (fuzz/README.md): build them, run one for longer, or run
# all of them for a bounded time (the CI step of test.sh).
#
#   ./fuzz.sh list                      the targets
#   ./fuzz.sh build                     configure and build build-fuzz (clang, ASan + UBSan + libFuzzer)
#   ./fuzz.sh TARGET SECONDS [ARGS...]  fuzz one target; its corpus grows in build-fuzz/corpus/TARGET
#                                       (seeded from fuzz/corpus/TARGET), crashes go to
#                                       build-fuzz/artifacts/TARGET/; ARGS go to libFuzzer
#   ./fuzz.sh ci [SECONDS]              every target for SECONDS each (default 20, or $FUZZ_SECONDS),
#                                       two at a time, from its seed corpus only; fails on any crash,
#                                       leak, timeout or out-of-memory
#   ./fuzz.sh repro TARGET FILE...      run inputs once (a crash file, a regression input)
#   ./fuzz.sh cmin TARGET               merge the grown corpus into fuzz/corpus/TARGET (minimised)
#
# Environment: FUZZ_BUILD (default build-fuzz), FUZZ_JOBS (parallel runs in
# `ci`, default 2 or fewer cores), FUZZ_NICE (default 10), FUZZ_NO_BUILD=1
# (use the targets as built, e.g. for several runs at once).
set -euo pipefail
cd "$(dirname "$0")"
build=${FUZZ_BUILD:-build-fuzz}
nice_level=${FUZZ_NICE:-10}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Third-party leaks (libmaxminddb 1.7.1 on corrupt metadata): fuzz/lsan_suppressions.txt.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/fuzz/lsan_suppressions.txt:print_suppressions=0}
for s in /usr/bin/llvm-symbolizer-14 /usr/lib/llvm-14/bin/llvm-symbolizer "$(command -v llvm-symbolizer || true)"; do
  if [ -n "$s" ] && [ -x "$s" ]; then export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$s}; break; fi
done

die() { echo "fuzz.sh: $*" >&2; exit 2; }

configure() {
  if [ ! -f "$build/CMakeCache.txt" ]; then
    # What a fresh Debian 12 lacks (as test.sh installs it): anondb's
    # packages and clang with libFuzzer (.ci/deps.sh, ANONDB_FUZZ_DEPS).
    # shellcheck source=.ci/deps.sh
    source .ci/deps.sh
    anondb_install_deps "${ANONDB_FUZZ_DEPS[@]}" >&2
    CC=clang CXX=clang++ cmake -S . -B "$build" -DANONDB_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  fi
}
build_all() {
  configure
  [ -n "${FUZZ_NO_BUILD:-}" ] && return 0
  nice -n "$nice_level" cmake --build "$build" --target fuzz_targets -j"$(nproc)"
}
manifest() { echo "$build/fuzz/targets.txt"; }
targets() { configure; awk '{print $1}' "$(manifest)"; }
binary_of() { awk -v t="$1" '$1 == t {print $2}' "$(manifest)"; }
dict_of() { awk -v t="$1" '$1 == t {print $3}' "$(manifest)"; }
known() { targets | grep -qx "$1"; }

# libFuzzer's flags for a run of SECONDS.
flags() {
  local target=$1 seconds=$2 artifacts=$3
  local dict
  dict=$(dict_of "$target")
  echo -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" $([ "$dict" != "-" ] && echo -dict="$dict")
}

# Summary of a libFuzzer log: execs, cov, ft, corpus, exec/s (one line).
summary() {
  local log=$1
  local done execs
  done=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  local cov ft corp eps
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$done")
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  printf 'execs %s  cov %s  ft %s  corpus %s  exec/s %s' "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${eps:-?}"
}

# Crash, leak, timeout, OOM: libFuzzer's exit status and the artifact it wrote.
describe_failure() {
  local log=$1
  grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|invariant failed|SUMMARY:|Test unit written to|uncaught exception|terminate called' \
    "$log" | head -n 8 | sed 's/^/    /'
}

cmd_one() {
  local target=$1 seconds=$2
  shift 2
  known "$target" || die "unknown target '$target' (./fuzz.sh list)"
  build_all >/dev/null
  local corpus="$build/corpus/$target" artifacts="$build/artifacts/$target" log="$build/logs/$target.log"
  mkdir -p "$corpus" "$artifacts" "$build/logs"
  local seeds=()
  [ -d "fuzz/corpus/$target" ] && seeds+=("fuzz/corpus/$target")
  echo "==> $target for ${seconds}s: corpus $corpus (seeds fuzz/corpus/$target), log $log"
  local rc=0
  # shellcheck disable=SC2046
  nice -n "$nice_level" "$(binary_of "$target")" $(flags "$target" "$seconds" "$artifacts") "$@" \
    "$corpus" "${seeds[@]}" 2>"$log" || rc=$?
  echo "$target: $(summary "$log")"
  echo "corpus now: $(find "$corpus" -type f | wc -l) files, $(du -sh "$corpus" | cut -f1)"
  if [ $rc -ne 0 ]; then
    echo "FAILED (exit $rc):"
    describe_failure "$log"
    return 1
  fi
}

cmd_ci() {
  local seconds=${1:-${FUZZ_SECONDS:-20}}
  local jobs=${FUZZ_JOBS:-$(( $(nproc) < 2 ? $(nproc) : 2 ))}
  echo "==> fuzz targets: build ($build)"
  build_all >/dev/null
  "$build/fuzz/fuzz_check_formats"
  work=$(mktemp -d "${TMPDIR:-/tmp}/anondb-fuzz-ci.XXXXXX")  # global: the EXIT trap reads it
  trap 'rm -rf "$work"' EXIT
  local all=()
  mapfile -t all < <(targets)
  echo "==> fuzz: ${#all[@]} targets, ${seconds}s each, $jobs at a time (artifacts in $build/artifacts/ci/)"
  mkdir -p "$build/artifacts/ci"
  local start=$SECONDS
  run_ci_target() {
    local t=$1
    mkdir -p "$work/$t"
    local seeds=()
    [ -d "fuzz/corpus/$t" ] && seeds+=("fuzz/corpus/$t")
    local rc=0
    # shellcheck disable=SC2046
    nice -n "$nice_level" "$(binary_of "$t")" $(flags "$t" "$seconds" "$build/artifacts/ci") \
      "$work/$t" "${seeds[@]}" 2>"$work/$t.log" || rc=$?
    echo $rc >"$work/$t.rc"
  }
  local running=0
  for t in "${all[@]}"; do
    run_ci_target "$t" &
    running=$((running + 1))
    if [ $running -ge "$jobs" ]; then
      wait -n || true
      running=$((running - 1))
    fi
  done
  wait || true
  local failed=0
  for t in "${all[@]}"; do
    local rc
    rc=$(cat "$work/$t.rc" 2>/dev/null || echo 1)
    if [ "$rc" = 0 ]; then
      printf '  %-28s ok      %s\n' "$t" "$(summary "$work/$t.log")"
    else
      printf '  %-28s FAILED  (exit %s) %s\n' "$t" "$rc" "$(summary "$work/$t.log")"
      describe_failure "$work/$t.log"
      cp "$work/$t.log" "$build/artifacts/ci/$t.log"
      failed=$((failed + 1))
    fi
  done
  echo "==> fuzz: $(( SECONDS - start ))s, ${#all[@]} targets, $failed failed"
  [ $failed -eq 0 ] || { echo "fuzz.sh: logs and crash inputs in $build/artifacts/ci/" >&2; return 1; }
}

cmd_repro() {
  local target=$1
  shift
  known "$target" || die "unknown target '$target' (./fuzz.sh list)"
  build_all >/dev/null
  "$(binary_of "$target")" -runs=1 "$@"
}

cmd_cmin() {
  local target=$1
  known "$target" || die "unknown target '$target' (./fuzz.sh list)"
  build_all >/dev/null
  local corpus="$build/corpus/$target" merged
  merged=$(mktemp -d "${TMPDIR:-/tmp}/anondb-fuzz-cmin.XXXXXX")
  "$(binary_of "$target")" -merge=1 "$merged" "fuzz/corpus/$target" "$corpus" 2>"$build/logs/$target.cmin.log"
  echo "$target: $(find "$merged" -type f | wc -l) inputs, $(du -sh "$merged" | cut -f1) (was $(find "fuzz/corpus/$target" -type f | wc -l) seeds)"
  echo "to keep them: rm -rf fuzz/corpus/$target && mv $merged fuzz/corpus/$target (keep fuzz/corpus under ~1 MB)"
}

case "${1:-}" in
  list) targets ;;
  build) build_all ;;
  ci) shift; cmd_ci "$@" ;;
  repro) [ $# -ge 3 ] || die "usage: ./fuzz.sh repro TARGET FILE..."; shift; cmd_repro "$@" ;;
  cmin) [ $# -eq 2 ] || die "usage: ./fuzz.sh cmin TARGET"; cmd_cmin "$2" ;;
  ""|-h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  *)
    [ $# -ge 2 ] || die "usage: ./fuzz.sh TARGET SECONDS [libFuzzer args] (./fuzz.sh --help)"
    [[ $2 =~ ^[0-9]+$ ]] || die "SECONDS must be a number"
    cmd_one "$@" ;;
esac
