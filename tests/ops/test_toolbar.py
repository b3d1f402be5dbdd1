"""The django-debug-toolbar panel records a request's cache calls with node and timing."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from cachex.backends.redis import RedisCache
from tests import labs

pytest.importorskip("debug_toolbar")
from cachex.metrics.debug_toolbar import CachexPanel


class _Store:
    def save_panel(self, *args: Any) -> None:
        pass


class _Toolbar:
    """The two things a panel needs from the toolbar when recording."""

    def __init__(self, request: Any) -> None:
        self.request = request
        self.stats: dict[str, Any] = {}
        self.store = _Store()
        self.request_id = "r1"


def test_panel_records_the_calls_of_a_request() -> None:
    shards = labs.lab("shards")
    cache = RedisCache([s.url for s in shards],
                       {"OPTIONS": {"metrics": {"debug_toolbar": True}}, "KEY_PREFIX": "tb"})
    outside = RedisCache(labs.lab("single").url, {"KEY_PREFIX": "tb"})  # metrics off

    def view(request: Any) -> HttpResponse:
        cache.set("a", 1)
        cache.get("a")
        cache.get_many(["a", "b", "c"])
        outside.get("x")
        return HttpResponse("ok")

    request = RequestFactory().get("/")
    panel = CachexPanel(_Toolbar(request), view)
    response = panel.process_request(request)
    assert response.content == b"ok"
    calls = panel.get_stats()["calls"]
    nodes = {s.address for s in shards}
    assert [c["command"] for c in calls[:2]] == ["SET", "GET"]
    assert all(c["node"] in nodes and c["ms"] >= 0 and c["outcome"] == "ok" for c in calls)
    assert {c["command"] for c in calls[2:]} == {"MGET"}
    cache.get("after")  # outside the request: not recorded
    assert len(panel.get_stats()["calls"]) == len(calls)
    html = panel.content
    assert calls[0]["node"] in html and "SET" in html and "tb:1:a" not in html
    assert f"{len(calls)} calls" in panel.nav_subtitle
