#!/usr/bin/env bash
# Installs Debian's chromium for the dashboard's end-to-end test (driven by playwright-core, which
# downloads no browser of its own). Idempotent: does nothing when /usr/bin/chromium is already there.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  echo "setup-browser: $("$CHROMIUM" --version 2>/dev/null || echo chromium) already installed"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-browser: $CHROMIUM is missing and apt-get is not available; install chromium by hand" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "setup-browser: need root (or sudo) to install chromium" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# Wait for another apt/dpkg run (unattended upgrades, a parallel setup) instead of failing at once.
LOCK_WAIT=(-o DPkg::Lock::Timeout=600)
$SUDO apt-get "${LOCK_WAIT[@]}" update -qq
# fonts-liberation: so the screenshot shows text rather than boxes on a bare machine.
$SUDO apt-get "${LOCK_WAIT[@]}" install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null

"$CHROMIUM" --version
