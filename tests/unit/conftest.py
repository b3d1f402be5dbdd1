"""The no-server tier: ``pytest tests/unit`` (or ``-m unit``) runs in seconds with no server.

Every test here is marked ``unit``, and any attempt to open a network connection fails the
test, so a test that needs a server cannot slip into this tier.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/unit/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.unit)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: socket.socket, address: Any) -> None:
        raise AssertionError(f"tests/unit opened a connection to {address!r}; "
                             "tests that need a server belong in another directory")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
