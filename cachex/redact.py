"""What cachex may show of a cache key or a server URL in messages, reprs and log lines. Pure.

Logs and error reports are read by more people than the cache is (log shippers, error
e-mails, support tickets). A full cache key can be replayed: with Django's cache session
engine it *is* the session id, and whoever reads it can load that session. A LOCATION can
carry a password. So every site that logs or raises with a key goes through
:func:`key_redactor`, and every site that shows a URL goes through :func:`mask_url`.

Key forms (``OPTIONS["log_keys"]``, per alias):

* ``"hash"`` (default): ``key#3f2a9c1b7d0e``, the first 6 bytes of the key's BLAKE2b digest.
  Stable across processes, so the lines about one key can be grouped, and
  :func:`key_hash` computes it for a key you suspect; it cannot be turned back into the key.
* ``"prefix"``: the first 12 characters, an ellipsis and the hash (``':1:user:42:p'…#3f2a...``);
  enough to see which family of keys misbehaves.
* ``"full"``: the key itself, for debugging on a machine whose logs nobody else reads.

In every mode, a key that holds a Django session id (it contains ``django.contrib.sessions.``,
the prefix of the ``cache`` and ``cached_db`` session engines) is shown in the hash form.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

__all__ = ["KEY_MODES", "key_hash", "key_redactor", "mask_location", "mask_url", "split_urls",
           "userinfo_end"]

KEY_MODES = ("hash", "prefix", "full")
PREFIX_CHARS = 12
SESSION_MARKER = "django.contrib.sessions."
MASK = "***"


def key_hash(key: Any) -> str:
    """The short, stable digest cachex prints in place of ``key``."""
    data = str(key).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=6).hexdigest()


def _hashed(key: Any) -> str:
    return f"key#{key_hash(key)}"


def _prefixed(key: Any) -> str:
    text = str(key)
    if SESSION_MARKER in text:
        return _hashed(text)
    if len(text) <= PREFIX_CHARS:
        return f"{text!r}#{key_hash(text)}"
    return f"{text[:PREFIX_CHARS]!r}…#{key_hash(text)}"


def _full(key: Any) -> str:
    text = str(key)
    return _hashed(text) if SESSION_MARKER in text else repr(text)


_FORMS: dict[str, Callable[[Any], str]] = {"hash": _hashed, "prefix": _prefixed, "full": _full}


def key_redactor(mode: str = "hash") -> Callable[[Any], str]:
    """The function that renders a key for messages under ``mode`` (one of ``KEY_MODES``)."""
    try:
        return _FORMS[mode]
    except (KeyError, TypeError):
        raise ValueError(f"OPTIONS['log_keys'] must be one of "
                         f"{', '.join(map(repr, KEY_MODES))}, not {mode!r}") from None


def userinfo_end(rest: str) -> int:
    """Where the credentials end in a URL's text after ``scheme://``: the index of the last
    ``@``, or -1 when there are none.

    The *last* ``@`` because a password may contain ``@``, ``/``, ``:``, ``?`` or ``%``
    unencoded; a host, port, path or URL parameter that needs an ``@`` must percent-encode
    it (``%40``). The parser and the masking use this one rule, so what is read as a password
    is exactly what is masked.
    """
    return rest.rfind("@")


def mask_url(url: Any) -> str:
    """``url`` fit for a message: everything before the last ``@`` (user name and password)
    replaced by ``***``, whatever characters it contains."""
    text = str(url)
    scheme, sep, rest = text.partition("://")
    if not sep:  # not a URL: mask up to an '@' all the same, it may be a mistyped one
        end = userinfo_end(text)
        return text if end < 0 else f"{MASK}{text[end:]}"
    end = userinfo_end(rest)
    if end < 0:
        return text
    return f"{scheme}://{MASK}{rest[end:]}"


def mask_location(location: Any) -> str:
    """A whole LOCATION (a URL, a separated string or a list of URLs) fit for a message."""
    if isinstance(location, str):
        return mask_url(location) if location.count("://") <= 1 else ", ".join(
            mask_url(part) for part in split_urls(location))
    if isinstance(location, (list, tuple)):
        return "[" + ", ".join(repr(mask_url(u)) for u in location) + "]"
    return f"<{type(location).__name__}>"


def split_urls(text: str) -> list[str]:
    """Split a ``,``/``;``-separated LOCATION at the last separator before each further
    ``scheme://`` (a password may contain ``,`` or ``;`` itself; a cluster URL lists its
    hosts with commas). Empty parts are dropped."""
    parts: list[str] = []
    start = 0
    i = text.find("://")
    while i >= 0:
        nxt = text.find("://", i + 3)
        if nxt < 0:
            break
        cut = max(text.rfind(",", i + 3, nxt), text.rfind(";", i + 3, nxt))
        if cut < 0:
            break
        parts.append(text[start:cut].strip())
        start = cut + 1
        i = nxt
    parts.append(text[start:].strip())
    return [p for p in (part.strip(",; ") for part in parts) if p]
