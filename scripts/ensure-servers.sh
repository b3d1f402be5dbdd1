#!/usr/bin/env bash
# Make sure redis-server, redis-sentinel and redis-cli (or the valkey-* equivalents) exist.
# Installs Debian/Ubuntu's packages when missing and allowed (root, or passwordless sudo);
# otherwise stops with a message saying what to install. Set CACHEX_NO_INSTALL=1 to never install.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }
found() {
  if [ -n "${CACHEX_SERVER_BIN:-}" ]; then return 0; fi
  { have redis-server && have redis-cli && { have redis-sentinel || true; }; } ||
  { have valkey-server && have valkey-cli; }
}

if found; then exit 0; fi

msg="cachex needs redis-server, redis-sentinel and redis-cli (Redis >= 6.2) or valkey-server,
valkey-sentinel and valkey-cli on PATH. Install them, e.g.:
  Debian/Ubuntu:  sudo apt-get install redis-server redis-sentinel redis-tools
  macOS:          brew install redis
or point CACHEX_SERVER_BIN / CACHEX_SENTINEL_BIN / CACHEX_CLI_BIN at the binaries."

if [ "${CACHEX_NO_INSTALL:-0}" = "1" ] || ! have apt-get; then
  echo "$msg" >&2; exit 1
fi
if [ "$(id -u)" = "0" ]; then SUDO=""
elif have sudo && sudo -n true 2>/dev/null; then SUDO="sudo -n"
else echo "$msg" >&2; exit 1
fi

echo "==> installing redis-server, redis-sentinel and redis-tools from the system packages"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends redis-server redis-sentinel redis-tools >/dev/null
found || { echo "$msg" >&2; exit 1; }
echo "==> $(redis-server --version)"
