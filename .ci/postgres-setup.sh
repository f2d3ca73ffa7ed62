#!/usr/bin/env bash
# Make the leaderboard's PostgreSQL tests runnable, idempotently: install Debian's
# `postgresql` (the server binaries initdb and pg_ctl; the tests start a throwaway cluster
# of their own under a temp dir, as the postgres user when run as root) when missing, and
# the psycopg driver. Always exits 0: when something cannot be done it says why, and the
# PostgreSQL tests skip with a reason.
set -u
say() { echo "[postgres-setup] $*"; }
give_up() { say "cannot set up PostgreSQL: $*; the PostgreSQL tests will be skipped"; exit 0; }

have() { command -v "$1" >/dev/null 2>&1; }
server_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

if ! have initdb && [ -z "$(server_bin)" ]; then
    [ "$(id -u)" = 0 ] || give_up "not root, so apt-get cannot install postgresql"
    have apt-get || give_up "no apt-get to install postgresql"
    say "installing postgresql"
    apt-get update -qq >/dev/null 2>&1 || say "apt-get update failed; trying the install anyway"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        postgresql >/dev/null 2>&1 || give_up "apt-get install postgresql failed"
fi
BIN=$(server_bin)
[ -n "$BIN" ] || BIN=$(dirname "$(command -v initdb)")
[ -x "$BIN/initdb" ] && [ -x "$BIN/pg_ctl" ] || give_up "no initdb/pg_ctl after the install"
# Debian's clusters run as `postgres`; the tests need that user when they run as root.
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    give_up "running as root but there is no postgres user to run the cluster"
fi
python3 -c "import psycopg" 2>/dev/null || python3 -m pip install -q 'psycopg[binary]>=3.1' \
    || give_up "pip install psycopg[binary] failed"
say "ready: $("$BIN/initdb" --version), psycopg $(python3 -c 'import psycopg; print(psycopg.__version__)')"
exit 0
