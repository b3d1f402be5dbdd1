"""Values <-> stored bytes for cachex: serializers, compressors and the per-alias Codec.

No I/O. With the defaults the stored bytes are exactly those of Django's ``RedisCache``.
See :mod:`cachex.codec.codec` for the wire format.
"""

from cachex.codec.codec import COMPRESSORS, SERIALIZERS, Codec
from cachex.codec.compressors import Compressor, Lz4Compressor, ZlibCompressor, ZstdCompressor
from cachex.codec.errors import CodecError, DecodeError, EncodeError
from cachex.codec.serializers import (
    JSONSerializer,
    MsgpackSerializer,
    PickleSerializer,
    Serializer,
)

__all__ = [
    "COMPRESSORS",
    "SERIALIZERS",
    "Codec",
    "CodecError",
    "Compressor",
    "DecodeError",
    "EncodeError",
    "JSONSerializer",
    "Lz4Compressor",
    "MsgpackSerializer",
    "PickleSerializer",
    "Serializer",
    "ZlibCompressor",
    "ZstdCompressor",
]
