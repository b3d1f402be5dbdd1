"""Serializers: Python objects <-> bytes.

Serializers are pure and stateless after construction, so one instance is safely shared by
every thread and event loop. They raise whatever their library raises; :class:`~cachex.codec.Codec`
turns that into ``EncodeError`` / ``DecodeError`` with a message naming the key.

What round-trips (beyond plain ``int``, which the codec always stores raw):

* ``pickle``: anything picklable, types preserved exactly. Django's default.
* ``json``: ``dict`` (``str`` keys; ``int``/``float``/``bool``/``None`` keys come back as
  ``str``), ``list``, ``str``, ``int``, ``float`` (including ``nan``/``inf``), ``bool``,
  ``None``. Tuples come back as lists; ``bytes``, ``set``, ``datetime``, ``Decimal`` and other
  objects are refused at write time.
* ``msgpack``: ``dict`` (any msgpack key type), ``list``, ``str``, ``bytes``, ``int`` within
  64 bits, ``float``, ``bool``, ``None``. Tuples come back as lists; ``set``, ``datetime``,
  ``Decimal`` and other objects are refused at write time.
"""

from __future__ import annotations

import json
import pickle
from typing import Any, Protocol

from cachex.codec._optional import import_optional

__all__ = ["JSONSerializer", "MsgpackSerializer", "PickleSerializer", "Serializer"]


class Serializer(Protocol):
    """What the codec needs from a serializer."""

    name: str

    def dumps(self, obj: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


class PickleSerializer:
    """``pickle`` at ``protocol`` (default: ``pickle.HIGHEST_PROTOCOL``, as Django does)."""

    name = "pickle"

    def __init__(self, protocol: int | None = None) -> None:
        if protocol is None:
            protocol = pickle.HIGHEST_PROTOCOL
        elif type(protocol) is not int or not 0 <= protocol <= pickle.HIGHEST_PROTOCOL:
            raise ValueError(
                f"pickle protocol must be an int from 0 to {pickle.HIGHEST_PROTOCOL} "
                f"or None (highest), not {protocol!r}"
            )
        self.protocol = protocol

    def dumps(self, obj: Any) -> bytes:
        return pickle.dumps(obj, self.protocol)

    def loads(self, data: bytes) -> Any:
        return pickle.loads(data)


class JSONSerializer:
    """Compact UTF-8 JSON (``separators=(",", ":")``, non-ASCII kept as UTF-8)."""

    name = "json"

    def __init__(self) -> None:
        # One encoder for the life of the serializer: json.dumps() with non-default
        # arguments would build a new JSONEncoder on every call.
        self._encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
        self._decode = json.JSONDecoder().decode

    def dumps(self, obj: Any) -> bytes:
        return self._encode(obj).encode("utf-8")

    def loads(self, data: bytes) -> Any:
        return self._decode(data.decode("utf-8"))


class MsgpackSerializer:
    """MessagePack with ``use_bin_type=True`` (str and bytes stay distinct), ``raw=False``.

    Map keys of any msgpack type are accepted when reading (``strict_map_key=False``), so a
    dict with ``int`` keys round-trips.
    """

    name = "msgpack"

    def __init__(self) -> None:
        msgpack = import_optional(
            "msgpack", package="msgpack", extra="msgpack", feature="The 'msgpack' serializer"
        )
        self._packb = msgpack.packb
        self._unpackb = msgpack.unpackb

    def dumps(self, obj: Any) -> bytes:
        data: bytes = self._packb(obj, use_bin_type=True)
        return data

    def loads(self, data: bytes) -> Any:
        return self._unpackb(data, raw=False, strict_map_key=False)
