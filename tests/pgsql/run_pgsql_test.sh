#!/usr/bin/env bash
# Integration test of `anondb export --format pgsql` against a real PostgreSQL
# with the ip4r extension (Debian: postgresql, postgresql-15-ip4r; test.sh
# installs them).
#
#   run_pgsql_test.sh ANONDB_CLI DATABASE
#
# Starts a throwaway cluster in a fresh temporary directory (owned by the
# postgres user when run as root: the server refuses to run as root),
# listening on 127.0.0.1 only, on a free port, with its socket in that
# directory; loads the export twice (it must be idempotent); then
# compare_join.py checks the table against the csv export and a few thousand
# addresses joined in SQL against `anondb lookup --json`. The server is
# stopped and the directory deleted on any exit; a detached watchdog does
# the same if this script is killed outright (a ctest timeout).
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 ANONDB_CLI DATABASE" >&2
  exit 2
fi
anondb=$(realpath "$1")
db=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
# Microseconds since the epoch (bash 5; the decimal point may be a comma).
now_us() { echo "${EPOCHREALTIME//[.,]/}"; }
seconds_since() { local d=$(($(now_us) - $1)); printf '%d.%02d' $((d / 1000000)) $((d % 1000000 / 10000)); }
started_at=$(now_us)

fail() {
  echo "pgsql test: $*" >&2
  exit 1
}
[ -x "$anondb" ] || fail "no anondb binary at $anondb"
[ -r "$db" ] || fail "no database at $db"
command -v python3 >/dev/null || fail "python3 is required"

# ---- the PostgreSQL server binaries ---------------------------------------------
bindir=""
if command -v pg_config >/dev/null 2>&1; then
  d=$(pg_config --bindir 2>/dev/null || true)
  [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && bindir=$d
fi
if [ -z "$bindir" ]; then  # Debian keeps them per major version, out of PATH
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then bindir=$d; break; fi
  done
fi
[ -n "$bindir" ] || fail "PostgreSQL server binaries not found (Debian package postgresql; test.sh installs it)"
for tool in initdb pg_ctl psql; do [ -x "$bindir/$tool" ] || fail "$bindir/$tool missing"; done
if [ -x "$bindir/pg_config" ]; then
  control="$("$bindir/pg_config" --sharedir)/extension/ip4r.control"
  [ -f "$control" ] || fail "ip4r extension not installed ($control missing; Debian package postgresql-NN-ip4r)"
fi
echo "pgsql test: $("$bindir/postgres" --version) from $bindir"

# ---- who runs the server ---------------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || fail "running as root needs a 'postgres' user to run the server (Debian's postgresql package creates it)"
  as_server() { runuser -u postgres -- "$@"; }
else
  as_server() { "$@"; }
fi

# ---- temporary directory, cleanup ------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/anondb-pgsql.XXXXXX")
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  cd /
  if [ -f "$tmp/data/postmaster.pid" ]; then
    as_server "$bindir/pg_ctl" -D "$tmp/data" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
      kill -QUIT "$(head -n 1 "$tmp/data/postmaster.pid")" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && grep -q "ERROR\|FATAL\|PANIC" "$tmp/server.log" 2>/dev/null; then
    echo "---- last lines of the server log ----" >&2
    tail -n 30 "$tmp/server.log" >&2 || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# A script killed with SIGKILL runs no trap, and pg_ctl leaves the server
# outside our process tree: a watchdog outside it (setsid --fork) stops the
# server (SIGQUIT: immediate shutdown) and deletes the directory once this
# shell is gone. It ends by itself when the directory goes.
setsid --fork bash -c '
  while kill -0 "$1" 2>/dev/null && [ -d "$2" ]; do sleep 2; done
  [ -d "$2" ] || exit 0
  [ -f "$2/data/postmaster.pid" ] && kill -QUIT "$(head -n 1 "$2/data/postmaster.pid")" 2>/dev/null
  sleep 2
  rm -rf "$2"' anondb-pgsql-watchdog $$ "$tmp" </dev/null >/dev/null 2>&1

cd "$tmp"  # the server user may not be allowed into the caller's directory
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$tmp"; fi
chmod 700 "$tmp"
as_server test -w "$tmp" || fail "the postgres user cannot write to $tmp (set TMPDIR to a directory it can reach)"

# ---- cluster ---------------------------------------------------------------------
# Local (socket) connections are trusted: the socket lives in $tmp, mode 700.
# TCP on 127.0.0.1 takes a password nobody else knows (SCRAM), so another
# user of the machine cannot use the throwaway superuser meanwhile.
password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
(umask 077 && printf '%s\n' "$password" >"$tmp/pwfile")
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$tmp/pwfile"; fi
as_server "$bindir/initdb" -D "$tmp/data" -U postgres --pwfile="$tmp/pwfile" \
  --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C --no-sync >"$tmp/initdb.log" 2>&1 ||
  { cat "$tmp/initdb.log" >&2; fail "initdb failed"; }
rm -f "$tmp/pwfile"

free_port() {
  python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
port=""
for attempt in 1 2 3 4 5; do
  candidate=$(free_port)
  if as_server "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -c port=$candidate -c unix_socket_directories='$tmp' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=20" \
      start >"$tmp/pg_ctl.log" 2>&1; then
    port=$candidate
    break
  fi
  # Another process took the port between the probe and the start: retry.
  grep -q "could not bind\|Address already in use\|could not create any TCP/IP sockets" "$tmp/server.log" 2>/dev/null ||
    { cat "$tmp/pg_ctl.log" >&2; fail "pg_ctl start failed"; }
  echo "pgsql test: port $candidate taken, retrying" >&2
done
[ -n "$port" ] || fail "no free port after 5 attempts"

unset PGSERVICE PGSERVICEFILE PGOPTIONS PGPASSFILE PGSSLMODE PGHOSTADDR PGREQUIRESSL
export PGHOST="$tmp" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres PGCONNECT_TIMEOUT=10
psql=("$bindir/psql" -X -q -v ON_ERROR_STOP=1)
listen=$(PGHOST=127.0.0.1 PGPASSWORD="$password" "${psql[@]}" -At -c "SELECT inet_server_addr()")
[ "$listen" = "127.0.0.1" ] || fail "server answers TCP on '$listen', not 127.0.0.1"
echo "pgsql test: server on 127.0.0.1:$port, socket in $tmp"

# ---- export and load twice -------------------------------------------------------
"$anondb" export -d "$db" --format pgsql "$tmp/anondb.sql" >/dev/null ||
  fail "anondb export --format pgsql failed (see above)"
"$anondb" export -d "$db" --format csv "$tmp/anondb.csv" >/dev/null || fail "anondb export --format csv failed"
echo "pgsql test: export $(wc -c <"$tmp/anondb.sql") bytes, $(($(wc -l <"$tmp/anondb.csv") - 1)) csv rows"
for pass in 1 2; do
  t0=$(now_us)
  if ! "${psql[@]}" -f "$tmp/anondb.sql" >"$tmp/load$pass.log" 2>&1; then
    cat "$tmp/load$pass.log" >&2
    fail "loading the script failed (pass $pass)"
  fi
  echo "pgsql test: load $pass took $(seconds_since "$t0") s"
  if [ -s "$tmp/load$pass.log" ]; then  # the script keeps psql quiet: anything here is news
    echo "pgsql test: psql said (pass $pass):"
    cat "$tmp/load$pass.log"
  fi
done

# ---- the checks --------------------------------------------------------------------
python3 "$here/compare_join.py" --anondb "$anondb" --db "$db" --psql "$bindir/psql" \
  --csv "$tmp/anondb.csv" --workdir "$tmp"

echo "pgsql test: passed in $(seconds_since "$started_at") s"
