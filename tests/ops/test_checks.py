"""System checks: one misconfiguration per check id, offline (no connection opened), plus
the ``check --deploy`` live probe on a real server."""

from __future__ import annotations

import ast
import io
import logging
import os
import re
import select
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from cachex.checks import check_caches, check_caches_live
from cachex.ops.catalogue import CATALOGUE
from tests import labs

BACKEND = "cachex.backends.redis.RedisCache"
LOCAL = "redis://127.0.0.1:6399/0"
REMOTE = "redis://cache.internal:6379/0"
SAFE = {"pool": {"socket_timeout": 1.0}, "serializer": "json"}


def caches(**aliases: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    for name, conf in aliases.items():
        out[name] = {"BACKEND": BACKEND, **conf}
    return out


def found(settings: Any, **aliases: dict[str, Any]) -> dict[str, list[checks.CheckMessage]]:
    settings.CACHES = caches(**aliases)
    out: dict[str, list[checks.CheckMessage]] = {}
    for msg in check_caches():
        out.setdefault(msg.id, []).append(msg)
    return out


CASES: list[tuple[str, dict[str, Any]]] = [
    ("cachex.E001", {"LOCATION": "redis://h:notaport/0"}),
    ("cachex.E001", {"LOCATION": LOCAL, "OPTIONS": {"failover": {"mode": "explode"}}}),
    ("cachex.E003", {"LOCATION": LOCAL, "OPTIONS": {**SAFE, "metrics": {"statsd": True}}}),
    ("cachex.W001", {"LOCATION": LOCAL, "OPTIONS": {"pool": {"socket_timeout": None}}}),
    ("cachex.W002", {"LOCATION": REMOTE, "OPTIONS": {"pool": {"socket_timeout": 1}}}),
    ("cachex.W004", {"LOCATION": [LOCAL, "redis://127.0.0.1:6398/0"],
                     "OPTIONS": {**SAFE, "topology": "replicated", "read_from_replicas": True}}),
    ("cachex.W006", {"LOCATION": LOCAL, "OPTIONS": {**SAFE, "MAX_ENTRIES": 1000}}),
    ("cachex.W008", {"LOCATION": LOCAL, "OPTIONS": {"pool": {"socket_timeout": 30},
                                                    "retry": {"attempts": 3, "deadline": None}}}),
]


@pytest.mark.parametrize(("check_id", "conf"), CASES, ids=[f"{c[0]}-{i}"
                                                           for i, c in enumerate(CASES)])
def test_each_misconfiguration_has_its_id(settings: Any, check_id: str,
                                          conf: dict[str, Any]) -> None:
    result = found(settings, bad=conf)
    assert check_id in result, result
    msg = result[check_id][0]
    assert msg.obj == "CACHES['bad']" and msg.hint
    assert msg.level == (checks.ERROR if check_id[7] == "E" else checks.WARNING)


def test_a_sound_alias_has_no_finding(settings: Any) -> None:
    assert found(settings, good={"LOCATION": LOCAL, "OPTIONS": SAFE}) == {}


def test_signed_pickle_on_a_shared_server_is_fine(settings: Any) -> None:
    signed = {"pool": {"socket_timeout": 1}, "signing": {"key": "k" * 32}}
    assert found(settings, s={"LOCATION": REMOTE, "OPTIONS": signed}) == {}


def test_missing_optional_library(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)  # import fails
    result = found(settings, m={"LOCATION": LOCAL,
                                "OPTIONS": {**SAFE, "metrics": {"prometheus": True}}})
    assert list(result) == ["cachex.E002"]
    monkeypatch.setitem(sys.modules, "msgpack", None)
    result = found(settings, m={"LOCATION": LOCAL,
                                "OPTIONS": {**SAFE, "serializer": "msgpack"}})
    assert list(result) == ["cachex.E002"]


def test_fail_open_with_the_logger_silenced(settings: Any) -> None:
    conf = {"LOCATION": LOCAL, "OPTIONS": {**SAFE, "failover": {"mode": "fail_open"}}}
    assert "cachex.W003" not in found(settings, f=conf)
    logger = logging.getLogger("cachex")
    old = logger.level
    logger.setLevel(logging.ERROR)
    try:
        assert "cachex.W003" in found(settings, f=conf)
    finally:
        logger.setLevel(old)


def test_near_cache_and_stampede_without_bounds(settings: Any, monkeypatch: Any) -> None:
    """Options other modules own are read defensively: only a missing bound is flagged."""
    from cachex.checks import _bounds_findings

    got = _bounds_findings("a", {"near_cache": {"prefixes": ["x"]}})
    assert [f.id for f in got] == ["cachex.W005"]
    assert _bounds_findings("a", {"near_cache": {"max_entries": 100}}) == []
    assert [f.id for f in _bounds_findings("a", {"stampede": {"mode": "lock"}})] == \
        ["cachex.W005"]
    assert _bounds_findings("a", {"stampede": {"mode": "early"}}) == []
    assert _bounds_findings("a", {"stampede": "odd shape"}) == []


def test_two_aliases_on_the_same_data(settings: Any) -> None:
    same = {"LOCATION": LOCAL, "OPTIONS": SAFE, "KEY_PREFIX": "p"}
    result = found(settings, a=same, b=same)
    assert len(result["cachex.W007"]) == 2
    result = found(settings, a=same, b={**same, "KEY_PREFIX": "q"})
    assert "cachex.W007" not in result


def test_checks_open_no_connection(settings: Any) -> None:
    """Offline checks parse only: a listening socket named in LOCATION sees no connection."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    try:
        settings.CACHES = caches(x={"LOCATION": f"redis://127.0.0.1:{port}/0", "OPTIONS": SAFE},
                                 y={"LOCATION": f"redis+cluster://127.0.0.1:{port}"})
        check_caches()
        call_command("check")
        assert select.select([listener], [], [], 0.2)[0] == []
    finally:
        listener.close()


def test_manage_py_check_runs_the_checks_through_the_app(settings: Any) -> None:
    """``"cachex"`` in INSTALLED_APPS registers the checks with ``manage.py check``."""
    settings.CACHES = caches(risky={"LOCATION": LOCAL,
                                    "OPTIONS": {"pool": {"socket_timeout": None}}})
    err = io.StringIO()
    call_command("check", stderr=err)
    assert "cachex.W001" in err.getvalue() and "CACHES['risky']" in err.getvalue()


def documented_misconfigurations() -> list[tuple[str, str, Any, dict[str, Any]]]:
    """The rows of docs/configuration.md's table: (id, what, LOCATION, OPTIONS)."""
    doc = (Path(__file__).parents[2] / "docs" / "configuration.md").read_text()
    section = doc.split("### Misconfigurations and their check ids", 1)[1].split("\n\n## ")[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"`cachex\.E\d{3}`", cells[0]):
            rows.append((cells[0].strip("`"), cells[1], ast.literal_eval(cells[2].strip("`")),
                         ast.literal_eval(cells[3].strip("`"))))
    return rows


OPTIONAL_LIBRARIES = ("msgpack", "lz4", "lz4.frame", "zstandard", "prometheus_client",
                      "opentelemetry", "opentelemetry.metrics")


@pytest.mark.parametrize(("check_id", "what", "location", "options"),
                         documented_misconfigurations(), ids=lambda v: str(v)[:40])
def test_manage_py_check_reports_each_documented_misconfiguration(
        settings: Any, monkeypatch: pytest.MonkeyPatch, check_id: str, what: str,
        location: Any, options: dict[str, Any]) -> None:
    """``manage.py check`` reports the id the configuration docs give, with the backend's
    own message and a hint, and the run goes on: Django's own cache checks (which build
    every alias) still report a file-based alias's relative LOCATION."""
    if check_id == "cachex.E002":
        for name in OPTIONAL_LIBRARIES:
            monkeypatch.setitem(sys.modules, name, None)  # the import fails
    settings.CACHES = {**caches(bad={"LOCATION": location, "OPTIONS": options}),
                       "files": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                                 "LOCATION": "relative/cache/dir"}}
    with pytest.raises(ImproperlyConfigured) as built:  # what the backend itself says
        caches_handler()["bad"]
    err = io.StringIO()
    with pytest.raises(SystemCheckError) as raised:
        call_command("check", stderr=err)
    report = str(raised.value) + err.getvalue()
    assert f"CACHES['bad']: ({check_id}) {built.value}" in report
    assert "HINT:" in report
    assert "caches.W003" in report  # Django's check of the other alias ran to its end
    assert not [line for line in report.splitlines() if re.search(r"cachex\.E\d{3}", line)
                and check_id not in line]


def caches_handler() -> Any:
    from django.core.cache import caches as handler

    return handler


def test_every_error_id_has_a_documented_misconfiguration() -> None:
    rows = documented_misconfigurations()
    assert len(rows) >= 10
    documented = {row[0] for row in rows}
    assert documented == {i for i, (level, _) in CATALOGUE.items()
                          if level == "error" and int(i[-3:]) < 10}


def test_check_deploy_goes_on_past_an_unbuildable_alias(settings: Any, tmp_path: Path) -> None:
    """Django's deploy-only cache check (cache inside STATIC_ROOT) builds every alias too; it
    still reports the file-based one, and the stand-in is gone afterwards."""
    from django.core.cache import caches as handler

    settings.STATIC_ROOT = str(tmp_path)
    settings.CACHES = {**caches(bad={"LOCATION": "redis://h:notaport/0"}),
                       "files": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                                 "LOCATION": str(tmp_path)}}
    with pytest.raises(SystemCheckError) as raised:
        call_command("check", "--deploy", "--tag", "caches")
    assert "(cachex.E001) cachex cache 'bad'" in str(raised.value)
    assert "caches.W002" in str(raised.value)
    with pytest.raises(ImproperlyConfigured, match="notaport"):
        handler["bad"]  # built outside the checks, the alias still refuses to start


def test_manage_py_check_in_a_fresh_process() -> None:
    """The real start-up path: ``django-admin check`` with a settings module holding a
    cachex alias that cannot be built exits 1 with cachex's id, not a traceback."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.ops.settings_bad",
           "PYTHONPATH": str(Path(__file__).parents[2])}
    done = subprocess.run([sys.executable, "-m", "django", "check"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "CACHES['bad']: (cachex.E001) cachex cache 'bad': OPTIONS['failover']['mode']" \
        in done.stderr
    assert "Traceback" not in done.stderr


def test_deploy_probe(settings: Any) -> None:
    single = labs.lab("single")
    settings.CACHES = caches(up={"LOCATION": single.url, "OPTIONS": SAFE},
                             down={"LOCATION": "redis://127.0.0.1:1/0", "OPTIONS": SAFE})
    msgs = check_caches_live()
    assert [(m.id, m.obj) for m in msgs] == [("cachex.E010", "CACHES['down']")]
    with pytest.raises(SystemCheckError, match=r"cachex\.E010"):
        call_command("check", "--deploy")


def test_every_id_is_documented() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "operations.md").read_text()
    missing = [i for i in CATALOGUE if i not in doc]
    assert not missing
    source = "".join(p.read_text() for p in (Path(__file__).parents[2] / "cachex").rglob("*.py"))
    used = set(re.findall(r"cachex\.[EWI]\d{3}", source))
    assert used <= set(CATALOGUE)
