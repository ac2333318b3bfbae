#!/usr/bin/env bash
# Installs a build tree into a temporary prefix and uses only the installed
# files: the anondb CLI, libanondb.so / libanondb.a through pkg-config from C
# (shared and --static), and the CMake package through find_package(anondb)
# (anondb::reader, anondb::anondb, anondb::anondb_static) from a C++ and a
# C-only project. Checks that libanondb.so exports the anondb_* functions of
# anondb.h and nothing else. Every consumer's answer for the addresses is
# compared with what the installed `anondb lookup` says.
# Registered in tests/CMakeLists.txt (install_consumers).
#
# Usage: run_install_test.sh --build-dir DIR --db FILE.anondb --source-dir DIR
#          --version X.Y.Z [--libdir lib] [--includedir include] [--bindir bin]
# Environment: CMAKE (cmake), CC (cc), CXX (c++).
set -Eeuo pipefail  # -E: the ERR trap below also fires inside functions

build_dir="" db="" source_dir="" version="" libdir=lib includedir=include bindir=bin
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=$2 ;;
    --db) db=$2 ;;
    --source-dir) source_dir=$2 ;;
    --version) version=$2 ;;
    --libdir) libdir=$2 ;;
    --includedir) includedir=$2 ;;
    --bindir) bindir=$2 ;;
    *) echo "run_install_test.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift 2
done
if [ -z "$build_dir" ] || [ -z "$db" ] || [ -z "$source_dir" ] || [ -z "$version" ]; then
  echo "usage: run_install_test.sh --build-dir DIR --db FILE --source-dir DIR --version X.Y.Z" \
       "[--libdir D] [--includedir D] [--bindir D]" >&2
  exit 2
fi
CMAKE=${CMAKE:-cmake}
CC=${CC:-cc}
CXX=${CXX:-c++}
build_dir=$(realpath "$build_dir")
source_dir=$(realpath "$source_dir")          # tests/install
source_root=$(realpath "$source_dir/../..")   # the project
db=$(realpath "$db")
unset LD_LIBRARY_PATH  # the consumers must find libanondb.so through their rpath

step="setup"
fail() { echo "INSTALL TEST FAILED [$step]: $*" >&2; exit 1; }
trap 'echo "INSTALL TEST FAILED [$step]: command exited $? at line $LINENO: $BASH_COMMAND" >&2' ERR
begin() { step=$1; echo "==> $step"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/anondb-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
case "$tmp/" in "$source_root"/* | "$build_dir"/*) fail "TMPDIR must be outside the source and build trees" ;; esac
prefix=$tmp/prefix
lib=$prefix/$libdir
[ -f "$db" ] || fail "no database at $db (the snapshot_build test makes it)"

# Consumers are copied out of the source tree, so that nothing next to them
# (the project's headers) can be picked up by accident.
mkdir -p "$tmp/consumer"
cp "$source_dir/lookup.c" "$tmp/consumer/"
cp -r "$source_dir/c" "$source_dir/cxx" "$tmp/consumer/"

# No flag of a consumer may point into the source or the build tree.
no_tree_paths() {  # what file...
  local what=$1; shift
  if grep -n -F -e "$source_root" -e "$build_dir" "$@"; then
    fail "$what refers to the source or build tree (above)"
  fi
}

addrs=(185.220.101.1 192.0.2.1)  # a Tor exit in the bundled snapshot; TEST-NET-1 (in no feed)

begin "cmake --install $build_dir --prefix $prefix"
"$CMAKE" --install "$build_dir" --prefix "$prefix" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "cmake --install failed"; }
sed "s|$tmp|<tmp>|" "$tmp/install.log"

begin "installed files"
for f in "$bindir/anondb" \
         "$libdir/libanondb.so" "$libdir/libanondb.so.1" "$libdir/libanondb.so.1.0.0" "$libdir/libanondb.a" \
         "$libdir/pkgconfig/anondb.pc" \
         "$libdir/cmake/anondb/anondbConfig.cmake" "$libdir/cmake/anondb/anondbConfigVersion.cmake" \
         "$libdir/cmake/anondb/anondbTargets.cmake"; do
  [ -e "$prefix/$f" ] || fail "missing $f"
done
for h in anondb.h reader.hpp ip.hpp format.hpp category.hpp error.hpp xxh64.hpp version.hpp; do
  [ -f "$prefix/$includedir/anondb/$h" ] || fail "missing $includedir/anondb/$h"
done
# explain.hpp declares ColdData, which no installed library defines.
[ ! -e "$prefix/$includedir/anondb/explain.hpp" ] || fail "explain.hpp is installed but cold.cpp is not"
grep -q "\"$version\"" "$prefix/$includedir/anondb/version.hpp" || fail "version.hpp does not say $version"
soname=$(readelf -d "$lib/libanondb.so" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
[ "$soname" = libanondb.so.1 ] || fail "SONAME is '$soname', expected libanondb.so.1 (the ABI version, reader/CMakeLists.txt)"
echo "SONAME $soname; $(cd "$lib" && ls libanondb.*)" | tr '\n' ' '; echo

begin "CLI lookup (installed bin/anondb)"
"$prefix/$bindir/anondb" lookup -d "$db" "${addrs[@]}" >"$tmp/cli.out" ||
  fail "installed anondb lookup failed"
cat "$tmp/cli.out"
# What the C API can say: the CLI's line without the "  (range ...)" tail.
sed 's/  (range [^)]*)$//' "$tmp/cli.out" >"$tmp/expected"
grep -q '^185\.220\.101\.1  [a-z_,]*tor_exit[a-z_,]*  anonymous  ' "$tmp/expected" ||
  fail "the CLI does not call 185.220.101.1 an anonymous tor_exit"

same_as_cli() {  # what output-file
  if ! diff -u "$tmp/expected" "$2" >&2; then fail "$1 disagrees with anondb lookup (diff above: - CLI, + $1)"; fi
  echo "$1 agrees with anondb lookup"
}
needs_lib_from_prefix() {  # exe
  local resolved
  resolved=$(ldd "$1" | awk '$1 == "libanondb.so.1" { print $3 }')
  [ -n "$resolved" ] || fail "$1 does not load libanondb.so.1"
  [ "$(realpath "$resolved")" = "$(realpath "$lib/libanondb.so.1.0.0")" ] ||
    fail "$1 loads libanondb.so.1 from $resolved, not from the prefix"
}
static_only() {  # exe
  if readelf -d "$1" | grep -q 'NEEDED.*libanondb'; then fail "$1 is dynamically linked to libanondb"; fi
}

begin "exported symbols of libanondb.so"
nm -D --defined-only "$lib/libanondb.so" | tee "$tmp/nm.out"
# Names without the symbol version; ANONDB_1 is the version node of anondb.map.
awk '{ print $NF }' "$tmp/nm.out" | sed 's/@.*//' | grep -v -x ANONDB_1 | sort >"$tmp/exported"
if grep -v '^anondb_' "$tmp/exported"; then fail "libanondb.so exports the symbols above (only anondb_* allowed)"; fi
grep -o '\banondb_[a-z0-9_]*(' "$prefix/$includedir/anondb/anondb.h" | tr -d '(' | sort -u >"$tmp/declared"
diff -u "$tmp/declared" "$tmp/exported" >&2 ||
  fail "exports differ from the functions of anondb.h (diff above: - declared, + exported)"
echo "exports = the $(wc -l <"$tmp/declared") functions of anondb.h"

export PKG_CONFIG_PATH=$lib/pkgconfig
begin "pkg-config (PKG_CONFIG_PATH=<prefix>/$libdir/pkgconfig)"
[ "$(pkg-config --modversion anondb)" = "$version" ] || fail "pkg-config --modversion is not $version"
pc_prefix=$(pkg-config --variable=prefix anondb)
[ "$pc_prefix" = "$prefix" ] || fail "anondb.pc says prefix=$pc_prefix, not the --prefix $prefix"
pc_libdir=$(pkg-config --variable=libdir anondb)
[ "$pc_libdir" = "$lib" ] || fail "anondb.pc libdir $pc_libdir is not $lib"
cflags=$(pkg-config --cflags anondb)
libs=$(pkg-config --libs anondb)
static_libs=$(pkg-config --static --libs anondb)
printf 'cflags: %s\nlibs: %s\nstatic libs: %s\n' "$cflags" "$libs" "$static_libs" | sed "s|$tmp|<tmp>|g"
printf '%s\n' "$cflags" "$libs" "$static_libs" >"$tmp/pc.flags"
no_tree_paths "pkg-config" "$tmp/pc.flags"
case " $static_libs " in *" -lstdc++ "*) ;; *) fail "pkg-config --static --libs lacks -lstdc++" ;; esac

begin "C program, shared: $CC lookup.c \$(pkg-config --cflags --libs anondb)"
cd "$tmp/consumer"
# shellcheck disable=SC2086  # word splitting of the pkg-config flags is wanted
"$CC" -std=c11 -Wall -Wextra -Werror lookup.c -o lookup_shared $cflags $libs -Wl,-rpath,"$pc_libdir" ||
  fail "compiling lookup.c against the installed libanondb.so"
needs_lib_from_prefix lookup_shared
./lookup_shared "$db" "${addrs[@]}" | tee "$tmp/c_shared.out" || fail "lookup_shared failed"
same_as_cli "C program (libanondb.so)" "$tmp/c_shared.out"

begin "C program, static: $CC lookup.c \$(pkg-config --static --cflags --libs anondb)"
# ld prefers libanondb.so to libanondb.a in the same directory: ask for the
# archive with -Bstatic around -lanondb only; the rest (Libs.private) as given.
static_link=${static_libs/-lanondb/-Wl,-Bstatic -lanondb -Wl,-Bdynamic}
static_cflags=$(pkg-config --static --cflags anondb)
# shellcheck disable=SC2086
"$CC" -std=c11 -Wall -Wextra -Werror lookup.c -o lookup_static $static_cflags $static_link ||
  fail "linking lookup.c with the installed libanondb.a and its Libs.private"
static_only lookup_static
./lookup_static "$db" "${addrs[@]}" | tee "$tmp/c_static.out" || fail "lookup_static failed"
same_as_cli "C program (libanondb.a)" "$tmp/c_static.out"

# cxx: anondb::reader from C++, and the C API in a C + C++ project (C++ linker);
# c: the C API in a C-only project (C linker).
for proj in cxx c; do
  case $proj in
    cxx) exes=(lookup_cxx lookup_c_shared lookup_c_static) ;;
    c) exes=(lookup_c_shared lookup_c_static) ;;
  esac
  pbuild=$tmp/build-$proj
  begin "CMake project install/$proj: find_package(anondb) with CMAKE_PREFIX_PATH=<prefix>"
  "$CMAKE" -S "$tmp/consumer/$proj" -B "$pbuild" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >"$tmp/$proj-configure.log" 2>&1 ||
    { cat "$tmp/$proj-configure.log" >&2; fail "configuring the consumer project"; }
  found=$(sed -n 's/^anondb_DIR:PATH=//p' "$pbuild/CMakeCache.txt")
  [ "$found" = "$prefix/$libdir/cmake/anondb" ] || fail "find_package(anondb) found '$found', not the prefix"
  echo "anondb_DIR=${found/$tmp/<tmp>}"
  "$CMAKE" --build "$pbuild" -j2 >"$tmp/$proj-build.log" 2>&1 ||
    { cat "$tmp/$proj-build.log" >&2; fail "building the consumer project"; }
  mapfile -t consumer_flags < <(find "$pbuild" -name link.txt -o -name flags.make)
  no_tree_paths "the consumer build" "$pbuild/compile_commands.json" "${consumer_flags[@]}"
  needs_lib_from_prefix "$pbuild/lookup_c_shared"
  static_only "$pbuild/lookup_c_static"
  for exe in "${exes[@]}"; do
    "$pbuild/$exe" "$db" "${addrs[@]}" | tee "$tmp/$proj-$exe.out" || fail "$exe failed"
    same_as_cli "$proj/$exe" "$tmp/$proj-$exe.out"
  done
done

step="done"
echo "install test passed"
