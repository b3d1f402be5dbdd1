#!/usr/bin/env bash
# Create .venv with the package and its test/demo dependencies, and make sure the servers
# exist. Idempotent: reinstalls only when pyproject.toml changed. Usage: bootstrap.sh [extras]
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test}"
venv="${CACHEX_VENV:-.venv}"

pick_python() {
  for cand in "${PYTHON:-}" python3 python3.13 python3.12 python3.11 python3.10; do
    [ -n "$cand" ] || continue
    command -v "$cand" >/dev/null 2>&1 || continue
    if "$cand" -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
      echo "$cand"; return 0
    fi
  done
  echo "cachex needs Python >= 3.10 with the venv module (set PYTHON=/path/to/python3)" >&2
  return 1
}

if [ ! -x "$venv/bin/python" ]; then
  py=$(pick_python)
  echo "==> creating $venv with $($py --version)"
  "$py" -m venv "$venv"
fi

stamp="$venv/.cachex-$(echo "$extras" | tr ',' '-')-$(cksum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ]; then
  echo "==> installing cachex[$extras] into $venv"
  "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  "$venv/bin/python" -m pip install -q -e ".[$extras]"
  touch "$stamp"
fi

bash scripts/ensure-servers.sh
