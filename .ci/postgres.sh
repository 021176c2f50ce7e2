#!/usr/bin/env bash
# A throwaway PostgreSQL for the store tests: installs the server if missing, creates a cluster
# outside the repository, starts it on 127.0.0.1 and creates the database `sluice`. Idempotent
# (a second run only checks that the server is up). Meant for a fresh Debian machine, run as root:
#
#   export SLUICE_TEST_POSTGRES_URL="$(.ci/postgres.sh)"
#
# The connection URL is the only line on stdout; progress goes to stderr.
set -euo pipefail

dir="${SLUICE_PG_DIR:-/tmp/sluice-pg}"
port="${SLUICE_PG_PORT:-55432}"
db=sluice

# Keep stdout for the URL alone, so callers can capture it with $(...).
exec 3>&1 1>&2

log() { printf 'postgres.sh: %s\n' "$*"; }

# The newest server binaries Debian installed (they are not on PATH: /usr/bin only has wrappers).
find_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
    printf '%s\n' "$d"
  fi
}

bindir=$(find_bindir)
if [ -z "$bindir" ]; then
  if [ "$(id -u)" != 0 ]; then
    log "PostgreSQL is not installed and installing it needs root"
    exit 1
  fi
  log "installing PostgreSQL with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Our cluster is the only one wanted: stop the package from creating and starting `main`.
  apt-get install -y -qq --no-install-recommends postgresql-common
  if [ -f /etc/postgresql-common/createcluster.conf ]; then
    sed -i 's/^#\?\s*create_main_cluster\s*=.*/create_main_cluster = false/' \
      /etc/postgresql-common/createcluster.conf
  fi
  apt-get install -y -qq --no-install-recommends postgresql
  bindir=$(find_bindir)
  if [ -z "$bindir" ]; then
    log "apt-get installed PostgreSQL but no initdb/pg_ctl under /usr/lib/postgresql/*/bin"
    exit 1
  fi
fi

# The server refuses to run as root, so root runs it as the `postgres` account.
if [ "$(id -u)" = 0 ]; then
  owner=postgres
  as_owner() { runuser -u postgres -- "$@"; }
else
  owner=$(id -un)
  as_owner() { "$@"; }
fi

if [ ! -f "$dir/PG_VERSION" ]; then
  log "initialising a cluster in $dir"
  mkdir -p "$dir"
  chown "$owner" "$dir"
  chmod 700 "$dir"
  as_owner "$bindir/initdb" --no-sync -D "$dir" -A trust -U postgres >/dev/null
fi

if as_owner "$bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
  # Already up (an earlier run): its port is the 4th line of postmaster.pid.
  running_port=$(sed -n 4p "$dir/postmaster.pid")
  if [ -n "$running_port" ] && [ "$running_port" != "$port" ]; then
    log "the cluster in $dir already runs on port $running_port; using that"
    port=$running_port
  fi
else
  log "starting PostgreSQL on 127.0.0.1:$port (log: $dir/server.log)"
  # Durability is pointless for test data; turning it off makes the suite much faster.
  # `3>&-`: the server must not inherit the URL's descriptor, or $(...) would wait for it to exit.
  as_owner "$bindir/pg_ctl" -D "$dir" -w -t 60 -l "$dir/server.log" \
    -o "-k /tmp -p $port -h 127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null 3>&-
fi

psql=("$bindir/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1)
ready=
for _ in $(seq 1 30); do
  if "${psql[@]}" -tAc 'SELECT 1' >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 1
done
if [ -z "$ready" ]; then
  log "PostgreSQL does not accept connections on 127.0.0.1:$port (see $dir/server.log)"
  exit 1
fi
if [ "$("${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
  log "creating database $db"
  "${psql[@]}" -c "CREATE DATABASE $db"
fi

printf 'postgres://postgres@127.0.0.1:%s/%s\n' "$port" "$db" >&3
