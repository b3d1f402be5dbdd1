#!/usr/bin/env bash
# The support range, checked on real servers: the oldest and newest Python x Django pairs run
# Django's own cache suite on a single server (sync and async twins, both drivers) plus the
# core tests and the system checks (they wrap Django's own cache checks). Interpreters come
# from PATH or pyenv; a missing one is reported, not faked.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {  # $1 = 3.10; a candidate counts only if it really runs that version
  local v="$1" cand
  for cand in "${PYENV_ROOT:-$HOME/.pyenv}/versions/$v"*/bin/python "python$v"; do
    if "$cand" -c "import sys, venv; sys.exit(sys.version_info[:2] != tuple(map(int, '$v'.split('.'))))" \
        >/dev/null 2>&1; then
      echo "$cand"; return 0
    fi
  done
  return 1
}

run_pair() {  # $1 = python version, $2 = Django spec, $3 = label
  local py venv
  if ! py=$(find_python "$1"); then
    echo "==> compat $3: Python $1 not found on this machine; pair not checked" >&2
    return 0
  fi
  venv=".venv-compat-$3"
  [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
  if [ ! -f "$venv/.ok-$(cksum pyproject.toml | cut -d' ' -f1)" ]; then
    "$venv/bin/python" -m pip install -q "Django$2" -e ".[test]"
    touch "$venv/.ok-$(cksum pyproject.toml | cut -d' ' -f1)"
  fi
  echo "==> compat $3: $("$venv/bin/python" --version), Django $("$venv/bin/python" -c 'import django; print(django.get_version())')"
  "$venv/bin/python" -m pytest -q -p no:randomly tests/core tests/ops/test_checks.py tests/django_suite \
    -k "Single or not django_suite"
}

run_pair 3.10 ">=4.2,<5.0" py310-django42
run_pair 3.13 ">=6.0,<7.0" py313-django6x
