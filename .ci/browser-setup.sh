#!/usr/bin/env bash
# Make the leaderboard browser tests runnable, idempotently: install Debian's chromium and
# chromium-driver when either is missing (as root, with apt-get), then check that headless
# Chromium starts. Always exits 0: when something cannot be done it says why, and the
# browser tests skip with a reason.
set -u
say() { echo "[browser-setup] $*"; }
give_up() { say "cannot set up chromium: $*; the browser tests will be skipped"; exit 0; }

have() { command -v "$1" >/dev/null 2>&1; }
browser() { for b in chromium chromium-browser google-chrome; do have "$b" && { echo "$b"; return 0; }; done; return 1; }

if ! browser >/dev/null || ! have chromedriver; then
    [ "$(id -u)" = 0 ] || give_up "not root, so apt-get cannot install chromium chromium-driver"
    have apt-get || give_up "no apt-get to install chromium chromium-driver"
    say "installing chromium chromium-driver"
    apt-get update -qq >/dev/null 2>&1 || say "apt-get update failed; trying the install anyway"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium chromium-driver >/dev/null 2>&1 || give_up "apt-get install failed"
fi
BROWSER=$(browser) || give_up "no chromium binary after the install"
have chromedriver || give_up "no chromedriver after the install"

profile=$(mktemp -d)
if timeout 60 "$BROWSER" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --disable-background-networking --disable-component-update --disable-sync --no-first-run \
    --user-data-dir="$profile" --dump-dom about:blank >/dev/null 2>&1; then
    say "ready: $("$BROWSER" --version 2>/dev/null), $(chromedriver --version 2>/dev/null | cut -d' ' -f1-2)"
else
    say "headless $BROWSER did not start; the browser tests will skip"
fi
rm -rf "$profile"
exit 0
