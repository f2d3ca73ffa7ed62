#!/usr/bin/env bash
# Make the docker sandbox backend usable on this machine, idempotently: install Debian's
# docker.io and debootstrap if missing, start dockerd if no daemon answers (overlay2, else
# vfs; no iptables, no bridge: sandbox containers run with --network none), wait for
# `docker info`, and build the sandbox image if it is missing.
# Always exits 0: when something cannot be done it says why, and the docker tests skip.
set -u
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
LOG="${DOCKERD_LOG:-/var/log/deeptool-dockerd.log}"
started=$(date +%s)

say() { echo "[docker-setup] $*"; }
give_up() { say "cannot set up docker: $*; the docker tests will be skipped"; exit 0; }

if [ "$(id -u)" != 0 ]; then
    docker info >/dev/null 2>&1 || give_up "not root and no daemon reachable"
fi

missing=""
command -v dockerd >/dev/null 2>&1 || missing="$missing docker.io"
command -v debootstrap >/dev/null 2>&1 || missing="$missing debootstrap"
if [ -n "$missing" ] && [ "$(id -u)" = 0 ]; then
    command -v apt-get >/dev/null 2>&1 || give_up "no apt-get to install$missing"
    say "installing$missing"
    apt-get update -qq >/dev/null 2>&1 || say "apt-get update failed; trying the install anyway"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing \
        >/dev/null 2>&1 || give_up "apt-get install$missing failed"
fi
command -v docker >/dev/null 2>&1 || give_up "no docker client"

start_daemon() {  # $1: storage driver; returns 0 once `docker info` answers
    say "starting dockerd (storage driver $1)"
    setsid nohup dockerd --storage-driver="$1" --iptables=false --ip6tables=false \
        --bridge=none --ip-masq=false >>"$LOG" 2>&1 </dev/null &
    local pid=$!
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.5
    done
    kill "$pid" 2>/dev/null
    return 1
}

if ! docker info >/dev/null 2>&1; then
    pgrep -x dockerd >/dev/null 2>&1 && give_up "a dockerd runs but does not answer (see $LOG)"
    start_daemon overlay2 || start_daemon vfs || give_up "dockerd did not start (see $LOG)"
fi
say "daemon up: $(docker info --format '{{.ServerVersion}}, storage {{.Driver}}' 2>/dev/null)"

"$PYTHON" -c "import docker" 2>/dev/null \
    || "$PYTHON" -m pip install -q "docker>=7.0" >/dev/null 2>&1 \
    || give_up "the docker Python SDK is missing (pip install 'deeptool-gym[docker]')"
"$PYTHON" -m deeptool_env.sandbox.docker_image || give_up "the sandbox image build failed"
say "ready in $(( $(date +%s) - started )) s"
exit 0
