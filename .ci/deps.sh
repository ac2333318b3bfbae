# Sourced by run.sh and test.sh: installs the Debian 12 packages anondb needs,
# only those missing. Needs root (or sudo) when something is missing.

# The fuzz targets (fuzz.sh, test.sh's last step): clang 14, its runtime
# libraries (libclang_rt.fuzzer, the sanitizers and FuzzedDataProvider.h are
# in libclang-rt-14-dev, which clang only recommends; libfuzzer-14-dev is not
# needed), and llvm-symbolizer (llvm-14) for readable crash stacks.
ANONDB_FUZZ_DEPS=(clang libclang-rt-14-dev llvm-14)
anondb_install_deps() {
  local pkgs=(build-essential cmake pkg-config
              libmaxminddb-dev libcurl4-openssl-dev rapidjson-dev libzstd-dev
              libcli11-dev doctest-dev libyaml-cpp-dev libxxhash-dev libssl-dev zlib1g-dev libcpp-httplib-dev
              libloc-dev libloc-database liblzma-dev mmdb-bin python3-maxminddb
              "$@")
  local missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
