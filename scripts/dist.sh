#!/usr/bin/env bash
# `make dist`: build the sdist and wheel as a release would, and prove each works on its own.
#   1. build both from a clean copy of the tracked files (python -m build: the wheel is built
#      from the sdist), failing on any warning in the build output; twine check --strict;
#   2. check contents: the wheel holds only cachex/ (with py.typed) and its metadata, the sdist
#      carries tests/, docs/, LICENSE, CHANGELOG.md, README.md; a wheel built straight from
#      the checkout has the same files and hashes as the one built from the sdist;
#   3. install the wheel into a fresh venv outside the checkout and run scripts/smoke_installed.py
#      there (Django API sync + async, single + shards, servers from cachex.testing);
#   4. pip install the sdist (with its test extra) into another fresh venv and run the core tests
#      from the unpacked sdist, against the installed package (the sdist's cachex/ is removed).
# Artefacts land in dist/. Set CACHEX_DIST_KEEP=1 to keep the scratch directory.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
py="${CACHEX_VENV:-.venv}/bin/python"
unset PYTHONDONTWRITEBYTECODE  # else setuptools warns that it skips byte-compiling

work=$(mktemp -d "${TMPDIR:-/tmp}/cachex-dist.XXXXXX")
cleanup() { [ -n "${CACHEX_DIST_KEEP:-}" ] && echo "kept $work" || rm -rf "$work"; }
trap cleanup EXIT
step() { echo "==> dist: $*"; }
# pip on this kind of machine notes configured local indexes that are absent; not our output
quiet_pip() { "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; }

# the release tools (the `release` extra), into the dev venv once
"$py" -c "import build, twine" 2>/dev/null || quiet_pip "$py" -m pip install -q "build>=1.2" "twine>=6"

step "clean copy of the tracked files"
mkdir -p "$work/src"
git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done \
  | xargs -0 cp --parents -t "$work/src"

step "python -m build (sdist, then the wheel from the sdist)"
rm -rf dist && mkdir dist
"$py" -m build --outdir "$work/out" "$work/src" >"$work/build.log" 2>&1 \
  || { cat "$work/build.log"; echo "dist: build failed" >&2; exit 1; }
# pip's own notes about this machine's configured-but-absent local indexes are not build output
if grep -iE 'warn|deprecat' "$work/build.log" | grep -vE "Location 'file://.*' is ignored"; then
  echo "dist: the build printed warnings (above); fix them" >&2; exit 1
fi
cp "$work"/out/*.tar.gz "$work"/out/*.whl dist/
sdist=$(ls "$root"/dist/*.tar.gz); wheel=$(ls "$root"/dist/*.whl)
echo "    $(basename "$sdist")  $(basename "$wheel")  (no warnings)"

step "twine check --strict"
"$py" -m twine check --strict "$sdist" "$wheel"

step "contents"
"$py" - "$sdist" "$wheel" <<'EOF'
import sys, tarfile, zipfile
sdist, wheel = sys.argv[1:]
names = zipfile.ZipFile(wheel).namelist()
stray = [n for n in names if not n.startswith(("cachex/", "django_cachex_router-"))]
assert not stray, f"the wheel holds more than the package: {stray[:5]}"
assert "cachex/py.typed" in names, "the wheel has no cachex/py.typed"
assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), "no LICENSE in the wheel"
assert not any("tests/" in n or n.endswith(".pyc") for n in names), "tests or bytecode in the wheel"
tops = {m.split("/", 2)[1] for m in tarfile.open(sdist).getnames() if m.count("/") >= 1}
missing = {"tests", "docs", "LICENSE", "CHANGELOG.md", "README.md", "cachex"} - tops
assert not missing, f"the sdist lacks {sorted(missing)}"
print(f"    wheel: {len(names)} files, only cachex/ + metadata; sdist: {', '.join(sorted(tops))}")
EOF

step "a wheel built from the checkout equals the one built from the sdist"
"$py" -m build --wheel --outdir "$work/direct" "$work/src" >"$work/direct.log" 2>&1 \
  || { cat "$work/direct.log"; exit 1; }
"$py" - "$wheel" "$work"/direct/*.whl <<'EOF'
import sys, zipfile
def record(path):
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.endswith(".dist-info/RECORD"))
        return sorted(line for line in z.read(name).decode().splitlines() if "/RECORD," not in line)
a, b = record(sys.argv[1]), record(sys.argv[2])
assert a == b, "wheels differ: " + str(sorted(set(a) ^ set(b))[:6])
print(f"    same {len(a)} files with the same hashes")
EOF

step "wheel in a fresh venv outside the checkout: smoke test"
"$py" -m venv "$work/venv-wheel"
quiet_pip "$work/venv-wheel/bin/python" -m pip install -q "$wheel"
mkdir "$work/smoke" && cp scripts/smoke_installed.py "$work/smoke/"
(cd "$work/smoke" && "$work/venv-wheel/bin/python" -I smoke_installed.py)

step "sdist into a fresh venv, core tests from the unpacked sdist"
"$py" -m venv "$work/venv-sdist"
quiet_pip "$work/venv-sdist/bin/python" -m pip install -q "$sdist[test]"
mkdir "$work/unpacked" && tar xzf "$sdist" -C "$work/unpacked"
tree=$(ls -d "$work"/unpacked/*/)
rm -rf "$tree/cachex"  # the tests must import the installed package, not this copy
[ -d .cache/peer-src ] && mkdir -p "$tree/.cache" && cp -r .cache/peer-src "$tree/.cache/"
(cd "$tree" && env -u PYTHONPATH "$work/venv-sdist/bin/python" -m pytest -q -p no:randomly \
  tests/core tests/unit -x)
step "ok"
