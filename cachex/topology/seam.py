"""The driver seam: the only module that touches redis-py/valkey-py private attributes.

Why a seam: cachex's fast path (``wire.py``: packed batches read with its own hiredis reader;
``idle.py``: connections parked between batches) needs a few things the drivers do not
publish: a sync connection's socket (``_sock``) and, for the cheap check of a parked one,
its hiredis parser's buffer (``_parser._reader``, only for the parser class known to keep
its buffer there; others take the driver's ``can_read``), an asyncio connection's streams
(``_reader``, ``_writer``), the unread bytes of an asyncio stream
(``StreamReader._buffer``), a place on an asyncio pool to park connections (the pool's
``__dict__``) and the driver's mapping of error replies to exception classes
(``_parsers.base.BaseParser.parse_error``).

Each of them is probed once per driver and connection class (``fast_path``), against
throwaway, never-connected instances of the installed driver's classes. When one is missing,
or a connection speaks RESP3 and the installed hiredis cannot tell push frames from replies,
cachex logs one WARNING naming what is missing and the driver version, and that topology runs
on the driver's public API (pipelines, pool checkout/release) with the same results.
``OPTIONS["fast_path"] = False`` chooses the public path without probing.

The accessors below assume a passed probe; nothing else in cachex reads a driver's private
attribute, so a driver release that renames one breaks the probe (a warning and the public
path), never a call with a raw ``AttributeError``.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import operator
import select
import socket
from collections.abc import Callable, Iterable
from functools import cache
from importlib import metadata
from typing import Any

log = logging.getLogger("cachex.seam")

# -- accessors (valid only after a passed probe) ------------------------------------------


# ``sock`` and ``pool_state`` are read once or twice per node of every batch: attrgetters
# (C, no Python frame).
sock: Callable[[Any], Any] = operator.attrgetter("_sock")
"""A sync connection's socket (None while not connected)."""


def connected(conn: Any) -> bool:
    """A sync connection holds an open socket (cheaper than the drivers' ``is_connected``,
    which older versions lack)."""
    return conn._sock is not None


def aconnected(conn: Any) -> bool:
    """An asyncio connection holds its streams (the drivers' ``is_connected``, read
    directly like ``connected``)."""
    return conn._reader is not None and conn._writer is not None


def quiet(conn: Any) -> bool:
    """Nothing waiting on a parked sync connection: still connected, nothing buffered by
    the driver's parser, no stray bytes, end of stream or reset on its socket. The drivers'
    ``not can_read()``, without its chain of calls: for a plain socket read by a parser
    whose buffer is known (``_hiredis_parser``, probed once per parser class), one poll with
    timeout 0 (a closed or reset socket polls readable, as for the driver); else the
    driver's own check."""
    sock = conn._sock
    if sock is None:
        return False
    parser: Any = getattr(conn, "_parser", None)
    if type(parser) not in _plain or type(sock) not in _plain_sockets:
        return _public_quiet(conn)
    reader = parser._reader
    if reader is None or reader.has_data():
        return False
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return not poller.poll(0)


def _public_quiet(conn: Any) -> bool:
    """``quiet`` through the driver's ``can_read`` (a TLS socket, another parser): learns
    whether the parser's class has a buffer ``quiet`` can look at, for next time."""
    kind = type(getattr(conn, "_parser", None))
    if kind not in _probed:
        _probed.add(kind)
        if _hiredis_parser(kind):
            _plain.add(kind)
    try:
        return not conn.can_read()
    except Exception:  # the driver's ConnectionError for a broken socket
        return False


def _hiredis_parser(kind: type) -> bool:
    """A parser class whose only buffer is a hiredis ``Reader`` in ``_reader`` (redis-py
    8's ``_HiredisParser``): its ``can_read`` is that reader's ``has_data`` then a poll of
    the socket, which ``quiet`` does itself."""
    for pkg in ("redis", "valkey"):
        try:
            known = importlib.import_module(f"{pkg}._parsers.hiredis")._HiredisParser
        except (ImportError, AttributeError):
            continue
        if kind is known:
            try:
                import hiredis
            except ImportError:
                return False
            # redis-py < 8 keeps a parsed reply aside (``_next_response``) that
            # ``has_data`` does not see: those versions take the driver's check.
            code = getattr(kind.can_read, "__code__", None)
            names = code.co_names if code is not None else ()
            return ("has_data" in names and "_next_response" not in names
                    and hasattr(hiredis.Reader, "has_data") and hasattr(select, "poll"))
    return False


_plain: set[type] = set()  # parser classes ``quiet`` reads directly
_probed: set[type] = set()
_plain_sockets = frozenset({socket.socket})  # not TLS: no bytes buffered above the socket


def stream_reader(conn: Any) -> Any:
    """An asyncio connection's ``StreamReader`` (None while not connected)."""
    return conn._reader


def stream_writer(conn: Any) -> Any:
    """An asyncio connection's ``StreamWriter``."""
    return conn._writer


def aquiet(conn: Any) -> bool:
    """Nothing received on an idle asyncio connection: still connected (``aconnected``), no
    end of stream, no stray bytes, no reset. (The event loop has already read whatever
    arrived; this looks at its buffer.)"""
    reader = conn._reader
    return (reader is not None and conn._writer is not None and not reader.at_eof()
            and not reader._buffer and reader.exception() is None)


def abroken(conn: Any) -> bool:
    """An asyncio connection the event loop has already seen fail: a reset or a lost
    connection leaves its error on the stream (not an end of stream), which the drivers'
    own pool check (unread bytes, end of stream) does not look at. Such a connection
    would fail its next command at once, without reaching the server."""
    reader = conn._reader
    return reader is not None and reader.exception() is not None


pool_state: Callable[[Any], dict[str, Any]] = operator.attrgetter("__dict__")
"""Where cachex keeps per-pool state (parked connections) on a pool, sync or asyncio: the
pool object itself, so the state lives and dies with it."""


def error_parser(pkg: str) -> Callable[[str], Exception] | None:
    """The driver's own mapping of error replies to exception classes (MOVED -> MovedError,
    READONLY -> ReadOnlyError, ...), or None when this version does not have it there."""
    try:
        parse = importlib.import_module(f"{pkg}._parsers.base").BaseParser.parse_error
    except (ImportError, AttributeError):
        return None
    return parse if callable(parse) else None


# -- probes ---------------------------------------------------------------------------------

SYNC_NEEDS = ("_sock", "send_packed_command", "can_read", "disconnect", "pid")
ASYNC_NEEDS = ("_reader", "_writer", "is_connected", "connect", "check_health",
               "health_check_interval", "socket_timeout", "disconnect")


def driver_version(pkg: str) -> str:
    try:
        return f"{pkg} {metadata.version(pkg)}"
    except metadata.PackageNotFoundError:  # pragma: no cover - a vendored driver
        return f"{pkg} (version unknown)"


def _instance(cls: type) -> Any:
    """A never-connected connection of ``cls`` (Sentinel-managed ones need their pool)."""
    try:
        return cls()
    except (KeyError, TypeError):
        return cls(connection_pool=None)


def _missing_on(cls: type, needs: Iterable[str]) -> list[str]:
    try:
        conn = _instance(cls)
    except Exception as exc:  # any failure means: no fast path for this class
        return [f"a {cls.__name__}() to probe ({type(exc).__name__}: {exc})"]
    missing = [f"{cls.__name__}.{name}" for name in needs if not hasattr(conn, name)]
    protocol = getattr(conn, "protocol", 2)
    if str(protocol) == "3" and not _hiredis_tells_pushes():
        missing.append(f"{cls.__name__} speaks RESP3 and the installed hiredis cannot tell "
                       "push frames from replies (hiredis >= 3 can)")
    return missing


def _hiredis_tells_pushes() -> bool:
    try:
        import hiredis
    except ImportError:
        return True  # no hiredis: no wire path at all, only parking (protocol-neutral)
    return hasattr(hiredis, "PushNotification")


@cache
def probe_class(cls: type, asynchronous: bool) -> tuple[str, ...]:
    """What the fast path needs and ``cls`` lacks (empty: usable). Probed once per class."""
    missing = _missing_on(cls, ASYNC_NEEDS if asynchronous else SYNC_NEEDS)
    if asynchronous and "_buffer" not in asyncio.StreamReader.__init__.__code__.co_names:
        missing.append("asyncio.StreamReader._buffer")
    return tuple(missing)


@cache
def probe_driver(pkg: str, async_pool: type, sync_pool: type | None = None
                 ) -> tuple[str, ...]:
    """What the fast path needs from the driver module itself."""
    missing = []
    if error_parser(pkg) is None:
        missing.append(f"{pkg}._parsers.base.BaseParser.parse_error")
    for pool in (async_pool, sync_pool):
        if pool is not None and getattr(pool, "__dictoffset__", 0) == 0:
            missing.append(f"{pool.__name__}.__dict__")
    return tuple(missing)


_warned: set[tuple[str, tuple[str, ...]]] = set()


def forget() -> None:
    """Probe afresh and warn again (for tests that simulate another driver build)."""
    probe_class.cache_clear()
    probe_driver.cache_clear()
    _plain.clear()
    _probed.clear()
    _warned.clear()


def fast_path(pkg: str, async_pool: type, sync_classes: Iterable[type],
              async_classes: Iterable[type], alias: str, sync_pool: type | None = None
              ) -> bool:
    """True when every probe passes for these connection classes; else one WARNING per
    driver and set of missing pieces, and False (the caller takes the public path)."""
    missing = list(probe_driver(pkg, async_pool, sync_pool))
    for cls in dict.fromkeys(sync_classes):
        missing += probe_class(cls, False)
    for cls in dict.fromkeys(async_classes):
        missing += probe_class(cls, True)
    if not missing:
        return True
    key = (pkg, tuple(missing))
    if key not in _warned:
        _warned.add(key)
        log.warning("cachex %r: fast path off with %s: missing %s; using the driver's public "
                    "API instead (same results, more CPU per call). OPTIONS['fast_path'] = "
                    "False silences this.", alias, driver_version(pkg), "; ".join(missing),
                    extra={"alias": alias, "event": "fast_path_off"})
    return False
