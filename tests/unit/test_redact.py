"""cachex.redact: the only way keys and URLs reach messages."""

from __future__ import annotations

import pytest

from cachex.redact import key_hash, key_redactor

SESSION = ":1:django.contrib.sessions.cacheq8w7e6r5t4y3u2i1o0p9a8s7d6f5g4h3"


def test_hash_mode_never_shows_the_key() -> None:
    show = key_redactor()
    assert show("user:42") == f"key#{key_hash('user:42')}"
    assert "user" not in show("user:42") and len(key_hash("x")) == 12


def test_prefix_mode_shows_twelve_characters_and_the_hash() -> None:
    show = key_redactor("prefix")
    assert show(":1:user:42:profile") == f"':1:user:42:p'…#{key_hash(':1:user:42:profile')}"
    assert show("short") == f"'short'#{key_hash('short')}"


@pytest.mark.parametrize("mode", ["hash", "prefix", "full"])
def test_session_keys_are_hashed_in_every_mode(mode: str) -> None:
    shown = key_redactor(mode)(SESSION)
    assert shown == f"key#{key_hash(SESSION)}"
    assert "q8w7e6r5" not in shown
    cached_db = ":1:django.contrib.sessions.cached_dbq8w7e6r5t4y3u2i1o0p9"
    assert "q8w7e6r5" not in key_redactor(mode)(cached_db)


def test_full_mode_and_bad_modes() -> None:
    assert key_redactor("full")("a:b") == "'a:b'"
    with pytest.raises(ValueError, match="'hash', 'prefix', 'full'"):
        key_redactor("everything")
