#!/usr/bin/env bash
# The driver matrix, checked on real servers: a focused suite (core API, wire path, cluster keys
# and slot migration, one cluster failover) against the oldest and newest release of every
# supported driver series, with and without hiredis. One extra venv (.venv-drivers) is reused:
# each cell swaps the driver with pip, so a cell costs a pip swap plus the focused tests.
#
# Cells: every version with hiredis (cachex's wire path, which leans on driver internals, runs
# only then), and the oldest and newest redis-py and the oldest valkey-py again without it (the
# drivers' pure-Python parsers and cachex's pipeline fallback; the minimum install). The
# versions are pinned for reproducible CI; to refresh them: `pip index versions redis` /
# `pip index versions valkey` and take each series' ends (redis 8.0.0 is excluded by
# pyproject.toml: its unix-socket connections fail, so 8.x starts at 8.0.1).
#
# Usage: drivers.sh [CELL...]   e.g. drivers.sh redis==8.1.0+hiredis   (default: every cell)
set -euo pipefail
cd "$(dirname "$0")/.."

CELLS=(
  "redis==5.0.0+hiredis" "redis==5.3.1+hiredis"
  "redis==6.0.0+hiredis" "redis==6.4.0+hiredis"
  "redis==7.0.0+hiredis" "redis==7.4.1+hiredis"
  "redis==8.0.1+hiredis" "redis==8.1.0+hiredis"
  "valkey==6.0.0+hiredis" "valkey==6.2.0+hiredis"
  "redis==5.0.0-hiredis" "redis==8.1.0-hiredis" "valkey==6.0.0-hiredis"
)
[ "$#" -gt 0 ] && CELLS=("$@")

# The focused suite. The driver under test is redis-py for RedisCache tests and valkey-py for
# ValkeyCache tests, so each cell runs only its own driver's parametrisations (-k).
SUITE=(
  tests/api/test_contract.py
  tests/core/test_wire_path.py tests/core/test_wire_compat.py
  tests/cluster/test_keys.py tests/cluster/test_migration.py
  "tests/cluster/test_failover.py::test_operations_after_cluster_failover_sync"  # one failover
)

venv=.venv-drivers
py=$venv/bin/python
quiet_pip() { "$py" -m pip "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; }
[ -x "$py" ] || "${CACHEX_VENV:-.venv}/bin/python" -m venv "$venv"  # after bootstrap.sh
stamp="$venv/.ok-$(cksum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ]; then
  quiet_pip install -q -e ".[test]"
  touch "$stamp"
fi

failed=()
for cell in "${CELLS[@]}"; do
  pin=${cell%[+-]hiredis}         # redis==5.0.0
  parser=${cell#"$pin"}           # +hiredis / -hiredis
  driver=${pin%%==*}
  start=$(date +%s)
  quiet_pip install -q "$pin" "hiredis>=3"  # hiredis is a dependency: install, then drop
  [ "$parser" = "+hiredis" ] || quiet_pip uninstall -q -y hiredis
  have=$("$py" -c "import importlib.metadata as m, importlib.util as u
print(m.version('$driver'), 'hiredis' if u.find_spec('hiredis') else 'no-hiredis')")
  echo "==> drivers $cell: $driver $have"
  if [ "$driver" = redis ]; then select="not valkey"; else select="valkey"; fi
  if "$py" -m pytest -q -p no:randomly -x -k "$select" "${SUITE[@]}"; then
    echo "==> drivers $cell: ok in $(( $(date +%s) - start )) s"
  else
    echo "==> drivers $cell: FAILED" >&2
    failed+=("$cell")
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "driver matrix: failed cells: ${failed[*]}" >&2
  exit 1
fi
echo "driver matrix: ${#CELLS[@]} cells green"
