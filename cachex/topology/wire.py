"""A node's batch straight on the wire: one packed buffer out, hiredis parsing the replies.

Why: redis-py spends Python work on every command of a pipeline (command
objects, response callbacks, instrumentation hooks), and a Cluster ``get_many`` of 100 keys
is about 100 commands. For the commands below, whose plain replies are what redis-py would
return anyway, cachex packs a node's whole batch with ``hiredis.pack_command``, sends it on a
connection checked out of the driver's own pool (so connecting, AUTH, HELLO, health checks
and pooling stay the driver's), and parses the replies with its own hiredis reader.

Without hiredis (an optional extra), or for any other command, batches go through the
driver's pipelines as before. Errors keep the driver's types: a broken or timed-out
connection raises the driver's ConnectionError/TimeoutError and is closed (its replies are
unknown); an error reply comes back in its command's place as the driver's exception class.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any

from . import seam

hiredis: Any
try:
    import hiredis
except ImportError:  # pragma: no cover - exercised by the no-hiredis test
    hiredis = None

Command = tuple[Any, ...]
READ_SIZE = 65536
BIG = 16384  # a packed command above this is sent as its own buffer
_MORE = object()  # hiredis: "not enough data yet"
ERROR, READONLY = 1, 3  # flags from Replies.sort (a READONLY reply is an error too)

# Commands whose raw reply is what redis-py/valkey-py return after their callbacks
# (SET's "OK" is turned into True below, as their callback does).
PLAIN = frozenset({"MGET", "GET", "DEL", "UNLINK", "EXISTS", "TOUCH", "WAIT", "SET"})


def _reader_factory() -> Callable[[], Any] | None:
    if hiredis is None:
        return None
    try:
        hiredis.Reader(notEnoughData=_MORE)
    except TypeError:  # hiredis < 2.1: no sentinel argument; keep the driver's path
        return None
    return functools.partial(hiredis.Reader, notEnoughData=_MORE)  # no Python frame


new_reader = _reader_factory()
_push: Any = getattr(hiredis, "PushNotification", None)
_reply_error: Any = getattr(hiredis, "ReplyError", None)
enabled = new_reader is not None


def suits(commands: Sequence[Command]) -> int:
    """0: this batch keeps the driver's path; 1: wire path; 2: wire path, with SETs."""
    if not enabled:
        return 0
    sets = False
    for command in commands:
        name = command[0]
        if name not in PLAIN:
            return 0
        if name == "SET":
            sets = True
    return 2 if sets else 1


def pack(commands: Sequence[Command]) -> list[bytes]:
    """The batch as buffers to send: small commands joined, big ones (large values) left as
    they are, so a batch of 1 MB values is not copied once more into one buffer."""
    pack_command = hiredis.pack_command
    if len(commands) == 1:
        return [pack_command(commands[0])]
    packed = [pack_command(c) for c in commands]
    if max(map(len, packed)) <= BIG:
        return [b"".join(packed)]
    out: list[bytes] = []
    small: list[bytes] = []
    for chunk in packed:
        if len(chunk) > BIG:
            if small:
                out.append(b"".join(small))
                small = []
            out.append(chunk)
        else:
            small.append(chunk)
    if small:
        out.append(b"".join(small))
    return out


def set_replies(commands: Sequence[Command], replies: list[Any]) -> list[Any]:
    """SET answers "OK"; the drivers' callback makes that True."""
    return [True if r == b"OK" and c[0] == "SET" else r for c, r in zip(commands, replies)]


class Clean(list):  # type: ignore[type-arg]
    """A node's replies with no error reply among them: callers skip scanning for errors."""

    __slots__ = ()


class Replies:
    """Moves hiredis' replies out, with error replies as the driver's exception classes
    (``_feed`` moves a chunk without errors or pushes itself)."""

    __slots__ = ("parse_error", "readonly")

    def __init__(self, parse_error: Callable[[str], Exception], readonly: type[Exception]):
        self.parse_error = parse_error
        self.readonly = readonly

    def sort(self, chunk: list[Any], out: list[Any]) -> int:
        """Move parsed replies ``chunk`` into ``out``; return flags for them: ERROR (some
        reply is an error) and READONLY (a reply said the node is no longer a primary: the
        caller drops the connection, so the driver's next connect finds the primary).
        RESP3 push messages are not replies and are skipped."""
        state = 0
        for reply in chunk:
            if type(reply) is _reply_error:
                reply = self.parse_error(str(reply))
                state |= READONLY if isinstance(reply, self.readonly) else ERROR
            elif type(reply) is _push:
                continue
            out.append(reply)
        return state


def _settled(commands: Sequence[Command], kind: int, out: list[Any], state: int
             ) -> tuple[list[Any], int]:
    """Replies as the driver gives them: ``Clean`` only when error-free, SET's OK -> True
    (``read`` returns the error-free replies to a batch without SET itself)."""
    if kind == 2:
        replies = set_replies(commands, out)
        return (replies if state else Clean(replies)), state
    return (out if not state else list(out)), state


# Twin of ``aread``, hand-written: a socket ``recv`` against a stream read, per chunk; the
# parsing and every decision are shared (``_feed``, ``Replies``, ``_settled``).
def read(conn: Any, commands: Sequence[Command], kind: int, replies: Replies, errors: Any
         ) -> tuple[list[Any], int]:
    """(the replies to ``commands``, ``take``'s flags) from a sync connection that sent them;
    a READONLY reply closes the connection (see ``Replies.sort``)."""
    count = len(commands)
    reader = new_reader()  # type: ignore[misc]
    out: list[Any] = Clean()
    sock = seam.sock(conn)
    state = 0
    while len(out) < count:
        try:
            data = sock.recv(READ_SIZE)
        except OSError as exc:  # socket timeouts included
            raise _failed(exc, conn, errors) from exc
        state |= _feed(reader, data, conn, errors, replies, out)
    if state == READONLY:
        conn.disconnect()
    return (out, 0) if not state and kind == 1 else _settled(commands, kind, out, state)


def _failed(exc: BaseException, conn: Any, errors: Any) -> Exception:
    """The driver's exception for a failed read on ``conn``."""
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return errors.timeout_error(  # type: ignore[no-any-return]
            f"Timeout reading from {_where(conn)}")
    return errors.connection_error(  # type: ignore[no-any-return]
        f"Error while reading from {_where(conn)}: {exc}")


def _feed(reader: Any, data: bytes, conn: Any, errors: Any, replies: Replies,
          out: list[Any]) -> int:
    """Parse newly read bytes into ``out``; ``take``'s flags."""
    if not data:
        raise errors.connection_error(f"Connection closed by server ({_where(conn)}).")
    reader.feed(data)
    try:
        chunk = list(iter(reader.gets, _MORE))  # C-speed loop over the parsed replies
    except hiredis.HiredisError as exc:  # not RESP: the connection is unusable
        raise errors.connection_error(f"Protocol error from {_where(conn)}: {exc}") from exc
    kinds = set(map(type, chunk))
    if _reply_error not in kinds and _push not in kinds:  # ``Replies.sort``'s fast case
        out += chunk
        return 0
    return replies.sort(chunk, out)


if sys.version_info >= (3, 11):
    async def _recv(stream: Any, timeout: float | None) -> bytes:
        if timeout is None:
            return await stream.read(READ_SIZE)  # type: ignore[no-any-return]
        async with asyncio.timeout(timeout):
            return await stream.read(READ_SIZE)  # type: ignore[no-any-return]
else:  # pragma: no cover - Python 3.10
    async def _recv(stream: Any, timeout: float | None) -> bytes:
        if timeout is None:
            return await stream.read(READ_SIZE)  # type: ignore[no-any-return]
        return await asyncio.wait_for(stream.read(READ_SIZE), timeout)  # type: ignore[no-any-return]


# Twins (``send``/``asend``), hand-written: the sync driver's own send (it connects, checks
# health and raises its errors) against a write on the asyncio connection's stream.
def send(conn: Any, payload: list[bytes] | None, commands: Sequence[Command], errors: Any
         ) -> None:
    """Send a batch on a sync connection: ``payload`` (from ``pack``), or, off the wire
    path (None), ``commands`` packed by the driver (hiredis may be missing)."""
    conn.send_packed_command(payload or conn.pack_commands(commands))


async def asend(conn: Any, payload: list[bytes] | None, commands: Sequence[Command],
                errors: Any) -> None:
    """Write a packed batch on an asyncio connection (connecting it first if needed);
    ``payload`` None: ``commands`` packed here (only the auto-pipeliner sends those)."""
    if payload is None:
        payload = pack(commands)
    if not conn.is_connected:
        await conn.connect()
    if conn.health_check_interval:
        await conn.check_health()
    writer = seam.stream_writer(conn)
    try:
        writer.writelines(payload)
        if len(payload) > 1 or len(payload[0]) > READ_SIZE:  # maybe above the high-water mark
            timeout = conn.socket_timeout
            if timeout:
                await asyncio.wait_for(writer.drain(), timeout)
            else:
                await writer.drain()
    except asyncio.TimeoutError:
        raise errors.timeout_error("Timeout writing to socket") from None
    except OSError as exc:
        raise errors.connection_error(
            f"Error while writing to {_where(conn)}: {exc}") from exc


async def aread(conn: Any, commands: Sequence[Command], kind: int, replies: Replies,
                errors: Any) -> tuple[list[Any], int]:
    """Async twin of ``read``."""
    count = len(commands)
    reader = new_reader()  # type: ignore[misc]
    out: list[Any] = Clean()
    stream = seam.stream_reader(conn)
    timeout = conn.socket_timeout or None
    state = 0
    while len(out) < count:
        try:
            data = await _recv(stream, timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise _failed(exc, conn, errors) from exc
        state |= _feed(reader, data, conn, errors, replies, out)
    if state == READONLY:
        await conn.disconnect()
    return (out, 0) if not state and kind == 1 else _settled(commands, kind, out, state)


def _where(conn: Any) -> str:
    path = getattr(conn, "path", None)
    return str(path) if path else f"{getattr(conn, 'host', '?')}:{getattr(conn, 'port', '?')}"


class WireClient:
    """A node's client for single-key commands: plain ones (``GET``, ``SET``, ``DEL``, ...)
    go on the wire like a one-command batch, skipping the driver's per-command
    machinery (command objects, callbacks, hooks); anything else goes to the driver's client."""

    __slots__ = ("client", "pool", "topology")

    def __init__(self, topology: Any, client: Any) -> None:
        self.topology = topology
        self.client = client
        self.pool = client.connection_pool

    # A single-key call's hot path, where a step loop would add a frame per call: written
    # async, generated here; the exchange itself is ``Topology._aexchange``.
    # generated by scripts/unasync.py from AsyncWireClient.execute_command; do not edit
    def execute_command(self, *args: Any) -> Any:
        if not (kind := self.topology._wired([args])):
            return self.client.execute_command(*args)
        return _only(*self.topology._exchange(self.pool, [args], kind))
    # end generated


class AsyncWireClient(WireClient):
    __slots__ = ()

    async def execute_command(self, *args: Any) -> Any:  # type: ignore[override]
        if not (kind := self.topology._wired([args])):
            return await self.client.execute_command(*args)
        return _only(*await self.topology._aexchange(self.pool, [args], kind))


def _only(replies: list[Any], state: int) -> Any:
    """A one-command batch's reply, or its error raised."""
    if state:
        raise replies[0]
    return replies[0]
