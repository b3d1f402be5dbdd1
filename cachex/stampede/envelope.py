"""The stampede envelope: a value plus the few numbers herd and early modes need. Pure.

Layout (27 bytes before the codec's own bytes)::

    0x00 b"T"      marker: the codec's framed-value marker, then an id no codec form uses
                   (serializers use p/j/m, signed values S)
    mode           b"h" herd, b"e" early
    12 digits      herd: the grace in ms (the value is stale once its TTL drops to it)
                   early: the recompute time (delta) in ms
    12 digits      claim: while the key's TTL is above this many ms, one caller is already
                   recomputing; 999999999999 = nobody
    payload        exactly what the codec would have stored (pickle, a tagged json value...)

Numbers are ASCII so the Lua scripts read them with ``tonumber`` and rewrite the claim with
``SETRANGE`` (which keeps the key's TTL). Times are the key's own TTL, never a clock, so
clients with skewed clocks agree. Plain ints are never wrapped (INCR/DECR keep working), and
any codec reads an envelope (``unwrap``), so turning the option off later reads old values.
With ``OPTIONS["signing"]`` the envelope goes around the signed bytes: the claim must stay
writable by the scripts, and the numbers steer only who recomputes, never what is decoded.
"""

from __future__ import annotations

HEADER = b"\x00T"
HERD, EARLY = b"h", b"e"
WIDTH = 12
SIZE = len(HEADER) + 1 + 2 * WIDTH  # 27
UNCLAIMED = b"9" * WIDTH
MAX_MS = 10**WIDTH - 1


def wrap(mode: bytes, number_ms: int, payload: bytes) -> bytes:
    """``payload`` (the codec's bytes) in an envelope with no claim."""
    n = min(max(int(number_ms), 0), MAX_MS)
    return b"".join((HEADER, mode, b"%012d" % n, UNCLAIMED, payload))


def is_wrapped(data: bytes) -> bool:
    return data[:2] == HEADER


def unwrap(data: bytes) -> bytes:
    """The codec's bytes inside an envelope."""
    return bytes(data[SIZE:])
