"""The per-alias codec: cache values <-> the bytes stored in Redis/Valkey.

Wire format (one value per key):

* A plain ``int`` (``type(v) is int``; not ``bool``, not ``int`` subclasses) whose decimal
  form has fewer than 640 digits is handed to the driver as the int itself, which sends its
  decimal ASCII (``b"42"``). INCR/DECR work on it. Every serializer does this.
* ``pickle`` without compression: exactly ``pickle.dumps(v, protocol)``, no header. With the
  defaults this is byte-for-byte what Django's ``RedisSerializer`` writes, in both directions.
* Everything else (``json``/``msgpack`` output, any compressed value) is
  ``HEADER + payload``, with a 3-byte header::

      byte 0  0x00            marker: no pickle starts with 0x00 (protocol >= 2 starts with
                              0x80; protocols 0/1 with a printable opcode) and int() rejects it
      byte 1  serializer id   b"p" pickle, b"j" json, b"m" msgpack
      byte 2  compressor id   b"n" none, b"z" zlib, b"4" lz4 (frame), b"s" zstd (frame)

  ``payload`` is the serializer output, compressed by the named compressor if any.

* With ``OPTIONS["stampede"]`` in herd or early mode, a value may sit in a 27-byte envelope
  ``b"\x00T" + ...`` (see :mod:`cachex.stampede.envelope`) around one of these forms; every
  alias unwraps it (the numbers in it steer only stampede decisions, never decoding).
* With ``OPTIONS["signing"]``, every stored value except a raw int is
  ``b"\x00S" + HMAC-SHA256(key, inner) + inner``, ``inner`` being one of the forms above;
  the MAC is checked before anything else looks at the bytes.

A value is compressed only when the serialized payload is at least ``min_compress_size``
bytes and the stored form gets strictly smaller.

Reading is limited to what the alias is configured with, because whoever can write to the
server chooses the header: the alias's serializer, no compression or the alias's compressor,
plus what ``OPTIONS["decode_fallbacks"]`` lists for a migration (``["pickle"]`` lets a json
alias read values written by Django's RedisCache, ``["zlib"]`` lets an alias that dropped or
changed its compressor read older values). A value that decompresses to more than
``OPTIONS["decompress_max_size"]`` bytes (64 MiB by default) is refused without being
decompressed in full (see :mod:`cachex.codec.compressors`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import pickle
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, cast

from cachex.codec._optional import install_hint
from cachex.codec.compressors import (
    Compressor,
    Lz4Compressor,
    TooLarge,
    ZlibCompressor,
    ZstdCompressor,
)
from cachex.codec.errors import DecodeError, EncodeError
from cachex.codec.serializers import (
    JSONSerializer,
    MsgpackSerializer,
    PickleSerializer,
    Serializer,
)
from cachex.redact import key_redactor
from cachex.stampede.envelope import is_wrapped, unwrap

__all__ = ["COMPRESSORS", "DEFAULT_DECOMPRESS_MAX_SIZE", "SERIALIZERS", "Codec"]

log = logging.getLogger("cachex.codec")
DEFAULT_DECOMPRESS_MAX_SIZE = 64 * 1024 * 1024
SIGNED = b"\x00S"
_MAC_LEN = 32  # HMAC-SHA256
_SIGNED_LEN = len(SIGNED) + _MAC_LEN
_SIGNING_SALT = b"cachex.codec.signing"

MARKER = 0x00
SERIALIZER_IDS: dict[str, int] = {"pickle": ord("p"), "json": ord("j"), "msgpack": ord("m")}
COMPRESSOR_IDS: dict[str | None, int] = {
    None: ord("n"),
    "zlib": ord("z"),
    "lz4": ord("4"),
    "zstd": ord("s"),
}
_SERIALIZER_NAMES = {v: k for k, v in SERIALIZER_IDS.items()}
_COMPRESSOR_NAMES = {v: k for k, v in COMPRESSOR_IDS.items()}
_NO_COMPRESSION = COMPRESSOR_IDS[None]
_PICKLE = SERIALIZER_IDS["pickle"]
_HEADER_LEN = 3
# Ints with fewer digits always convert to and from str, whatever sys.set_int_max_str_digits()
# says (640 is its lowest accepted limit). Larger ones are pickled instead of sent raw.
_RAW_INT_BOUND = 10**639

SERIALIZERS: dict[str, Callable[..., Serializer]] = {
    "pickle": PickleSerializer,
    "json": JSONSerializer,
    "msgpack": MsgpackSerializer,
}
COMPRESSORS: dict[str, Callable[[], Compressor]] = {
    "zlib": ZlibCompressor,
    "lz4": Lz4Compressor,
    "zstd": ZstdCompressor,
}
_EXTRAS = {"msgpack": "msgpack", "lz4": "lz4", "zstd": "zstd"}


class Encoder(Protocol):
    def __call__(self, value: Any, key: str | None = None) -> bytes | int: ...


class Decoder(Protocol):
    def __call__(self, data: bytes, key: str | None = None) -> Any: ...


ManyDecoder = Callable[[Sequence[bytes], Sequence[str], Sequence[Any]], dict[Any, Any]]


def _mac_keys(signing: Any) -> tuple[bytes, ...]:
    """``OPTIONS["signing"]`` -> the MAC keys, the current one first.

    ``{"key": ..., "fallback_keys": [...]}``; a key is a non-empty str or bytes. Each is
    stretched with a cachex-specific salt, so passing a key used elsewhere (even
    SECRET_KEY) never produces MACs that another part of the site would accept.
    """
    if signing is None:
        return ()
    if not isinstance(signing, Mapping):
        raise ValueError("OPTIONS['signing'] must be a dict such as {'key': CACHE_SIGNING_KEY}")
    unknown = [k for k in signing if k not in ("key", "fallback_keys")]
    if unknown:
        raise ValueError(f"unknown OPTIONS['signing'] key {unknown[0]!r}; accepted: key, "
                         "fallback_keys")
    fallbacks = signing.get("fallback_keys", ())
    if isinstance(fallbacks, (str, bytes)) or not isinstance(fallbacks, Sequence):
        raise ValueError("OPTIONS['signing']['fallback_keys'] must be a list of keys")
    keys = []
    for i, raw in enumerate([signing.get("key"), *fallbacks]):
        what = "OPTIONS['signing']['key']" if i == 0 else "a fallback signing key"
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        if not isinstance(raw, bytes) or not raw:
            raise ValueError(f"{what} must be a non-empty str or bytes (a secret from your "
                             "settings or environment)")
        keys.append(hashlib.sha256(_SIGNING_SALT + raw).digest())
    return tuple(keys)


def _names(names: Sequence[str | None]) -> str:
    return ", ".join(repr(n) for n in names)


class Codec:
    """Encodes and decodes the values of one cache alias; build once, share freely.

    ``encode(value, key=None) -> bytes | int`` gives what to send to the driver (an ``int``
    for a raw integer); ``decode(data, key=None)`` turns a stored ``bytes`` back into the
    value. ``key`` only improves error messages. ``encode`` raises :class:`EncodeError`,
    ``decode`` raises :class:`DecodeError`. The constructor raises ``ValueError`` for a bad
    setting and ``ImportError`` when an optional library is missing.
    """

    encode: Encoder
    decode: Decoder

    def __init__(
        self,
        serializer: str = "pickle",
        compressor: str | None = None,
        min_compress_size: int = 1024,
        pickle_protocol: int | None = None,
        *,
        decode_fallbacks: Sequence[str] = (),
        decompress_max_size: int = DEFAULT_DECOMPRESS_MAX_SIZE,
        signing: Mapping[str, Any] | None = None,
        log_keys: str = "hash",
        alias: str = "?",
    ) -> None:
        if not isinstance(serializer, str) or serializer not in SERIALIZERS:
            raise ValueError(
                f"unknown serializer {serializer!r}; accepted: {_names(list(SERIALIZERS))}"
            )
        if compressor is not None and (
            not isinstance(compressor, str) or compressor not in COMPRESSORS
        ):
            raise ValueError(
                f"unknown compressor {compressor!r}; accepted: {_names([None, *COMPRESSORS])}"
            )
        if type(min_compress_size) is not int or min_compress_size < 0:
            raise ValueError(
                f"compress_min_size must be an int >= 0 (bytes), not {min_compress_size!r}"
            )
        if pickle_protocol is not None and serializer != "pickle":
            raise ValueError(
                f"pickle_protocol only applies to serializer 'pickle', not {serializer!r}; "
                "remove it"
            )
        if type(decompress_max_size) is not int or decompress_max_size < 1:
            raise ValueError(f"decompress_max_size must be an int >= 1 (bytes), not "
                             f"{decompress_max_size!r}")
        if isinstance(decode_fallbacks, (str, bytes)) or not isinstance(
                decode_fallbacks, Sequence):
            raise ValueError(f"decode_fallbacks must be a list of serializer/compressor names, "
                             f"not {decode_fallbacks!r}")
        for name in decode_fallbacks:
            if name not in SERIALIZERS and name not in COMPRESSORS:
                raise ValueError(f"unknown decode_fallbacks entry {name!r}; accepted: "
                                 f"{_names([*SERIALIZERS, *COMPRESSORS])}")
        self.show_key = key_redactor(log_keys)
        self.alias = alias
        self.decode_fallbacks = tuple(decode_fallbacks)
        self.decompress_max_size = decompress_max_size
        self._mac_keys = _mac_keys(signing)
        self.serializer_name = serializer
        self.compressor_name = compressor
        self.min_compress_size = min_compress_size
        self.serializer: Serializer = (
            PickleSerializer(pickle_protocol)
            if serializer == "pickle"
            else SERIALIZERS[serializer]()
        )
        self.compressor: Compressor | None = (
            None if compressor is None else COMPRESSORS[compressor]()
        )
        self._sid = SERIALIZER_IDS[serializer]
        # What this alias reads: its own serializer and compressor, and listed fallbacks.
        self._loaders: dict[int, Callable[[bytes], Any]] = {self._sid: self.serializer.loads}
        self._allowed_cids = {_NO_COMPRESSION}
        if compressor is not None:
            self._allowed_cids.add(COMPRESSOR_IDS[compressor])
        for name in self.decode_fallbacks:
            if name in SERIALIZERS and SERIALIZER_IDS[name] not in self._loaders:
                self._loaders[SERIALIZER_IDS[name]] = SERIALIZERS[name]().loads
            elif name in COMPRESSORS:
                self._allowed_cids.add(COMPRESSOR_IDS[name])
        self._reads_pickle = _PICKLE in self._loaders
        self._decompressors: dict[int, Compressor] = {}
        if self.compressor is not None:
            self._decompressors[COMPRESSOR_IDS[compressor]] = self.compressor
        self.encode = self._build_encoder()
        self.decode = self._build_decoder()
        self.decode_many: ManyDecoder = self._build_decode_many()

    @classmethod
    def from_options(cls, options: Mapping[str, Any], alias: str = "?") -> Codec:
        """Build from a cache alias's OPTIONS; other keys in the mapping are ignored.

        Keys: ``serializer`` ("pickle"), ``compressor`` (None), ``compress_min_size`` (1024),
        ``pickle_protocol`` (None: highest), ``decode_fallbacks`` (()),
        ``decompress_max_size`` (64 MiB), ``signing`` (None), ``log_keys`` ("hash").
        """
        return cls(
            serializer=options.get("serializer", "pickle"),
            compressor=options.get("compressor"),
            min_compress_size=options.get("compress_min_size", 1024),
            pickle_protocol=options.get("pickle_protocol"),
            decode_fallbacks=options.get("decode_fallbacks", ()),
            decompress_max_size=options.get("decompress_max_size", DEFAULT_DECOMPRESS_MAX_SIZE),
            signing=options.get("signing"),
            log_keys=options.get("log_keys", "hash"),
            alias=alias,
        )

    def __repr__(self) -> str:  # never the signing keys
        return (
            f"Codec(serializer={self.serializer_name!r}, compressor={self.compressor_name!r}, "
            f"min_compress_size={self.min_compress_size}, signed={bool(self._mac_keys)})"
        )

    def _subject(self, key: str | None) -> str:
        return "stored value" if key is None else f"value under {self.show_key(key)}"

    # -- encoding ---------------------------------------------------------------------------

    def _build_encoder(self) -> Encoder:
        plain = self._build_plain_encoder()
        if not self._mac_keys:
            return plain
        mac_key = self._mac_keys[0]
        digest = hmac.digest

        def encode_signed(value: Any, key: str | None = None) -> bytes | int:
            data = plain(value, key)
            if type(data) is int:  # raw ints stay raw so INCR works; they are never unpickled
                return data
            raw = cast(bytes, data)
            return SIGNED + digest(mac_key, raw, "sha256") + raw

        return encode_signed

    def _build_plain_encoder(self) -> Encoder:
        dumps = self.serializer.dumps
        encode_error = self._encode_error
        neg, pos = -_RAW_INT_BOUND, _RAW_INT_BOUND
        compressor = self.compressor

        if compressor is None and self._sid == _PICKLE:
            # The default: Django's exact format. Kept to the int check and the pickle call.
            protocol = cast(PickleSerializer, self.serializer).protocol
            pickle_dumps = pickle.dumps

            def encode_pickle(value: Any, key: str | None = None) -> bytes | int:
                if type(value) is int and neg < value < pos:
                    return value
                try:
                    return pickle_dumps(value, protocol)
                except Exception as exc:
                    raise encode_error(value, key, exc) from exc

            return encode_pickle

        plain_header = bytes((MARKER, self._sid, _NO_COMPRESSION))
        tag_plain = self._sid != _PICKLE  # untagged when pickle and not compressed
        if compressor is None:

            def encode_tagged(value: Any, key: str | None = None) -> bytes | int:
                if type(value) is int and neg < value < pos:
                    return value
                try:
                    return plain_header + dumps(value)
                except Exception as exc:
                    raise encode_error(value, key, exc) from exc

            return encode_tagged

        compress = compressor.compress
        threshold = self.min_compress_size
        packed_header = bytes((MARKER, self._sid, COMPRESSOR_IDS[compressor.name]))
        # Stored size without compression: payload (+ header unless untagged pickle).
        plain_overhead = _HEADER_LEN if tag_plain else 0

        def encode_compressed(value: Any, key: str | None = None) -> bytes | int:
            if type(value) is int and neg < value < pos:
                return value
            try:
                payload = dumps(value)
            except Exception as exc:
                raise encode_error(value, key, exc) from exc
            if len(payload) >= threshold:
                packed = compress(payload)
                if len(packed) + _HEADER_LEN < len(payload) + plain_overhead:
                    return packed_header + packed
            return plain_header + payload if tag_plain else payload

        return encode_compressed

    def _encode_error(self, value: Any, key: str | None, exc: BaseException) -> EncodeError:
        name = self.serializer_name
        if name == "pickle":
            hint = "cache only picklable values, or give the class __reduce__/__getstate__"
        elif name == "json":
            hint = (
                "json stores only dict (str keys), list, tuple, str, int, float, bool and "
                "None; convert the value or use serializer 'pickle'"
            )
        else:
            hint = (
                "msgpack stores only dict, list, tuple, str, bytes, 64-bit int, float, "
                "bool and None; convert the value or use serializer 'pickle'"
            )
        return EncodeError(
            f"cannot serialize {type(value).__qualname__} {self._subject(key)} with serializer "
            f"{name!r} ({type(exc).__name__}: {exc}); {hint}",
            key=key,
        )

    # -- decoding ---------------------------------------------------------------------------

    def _build_decoder(self) -> Decoder:
        plain = self._build_plain_decoder()
        if not self._mac_keys:
            return plain
        mac_keys = self._mac_keys
        digest, same = hmac.digest, hmac.compare_digest
        unsigned = self._unsigned

        def decode_signed(data: bytes, key: str | None = None) -> Any:
            if data[:2] == SIGNED:
                mac, inner = data[2:_SIGNED_LEN], data[_SIGNED_LEN:]
                for mac_key in mac_keys:
                    if same(digest(mac_key, inner, "sha256"), mac):
                        return plain(inner, key)
            return unsigned(data, key)

        return decode_signed

    def _unsigned(self, data: bytes, key: str | None) -> Any:
        """A signing alias reads unsigned bytes only as a raw int, never unpickles them."""
        if is_wrapped(data):  # a stampede envelope around signed bytes: the MAC is checked
            return self.decode(unwrap(data), key)
        if data and (0x2F < data[0] < 0x3A or data[0] == 0x2D):
            try:
                return int(data)
            except ValueError:
                pass
        what = ("carries a signature that none of OPTIONS['signing']'s keys produced"
                if data[:2] == SIGNED and len(data) >= _SIGNED_LEN else "is not signed")
        raise DecodeError(
            f"{self._subject(key)} {what}, so it was not written by this alias (or its "
            "signing key changed); it is refused unread. Delete the key, or list the old "
            "key in OPTIONS['signing']['fallback_keys'] while rotating",
            key=key,
        )

    def _build_plain_decoder(self) -> Decoder:
        slow = self._decode_slow
        fail = self._decode_failure

        if self._sid == _PICKLE:
            pickle_loads = pickle.loads

            def decode_pickle(data: bytes, key: str | None = None) -> Any:
                try:
                    first = data[0]
                    if first == 0x80:  # PROTO opcode: pickle protocol >= 2
                        return pickle_loads(data)
                except Exception as exc:
                    raise fail(data, key, exc) from exc
                if 0x2F < first < 0x3A or first == 0x2D:  # digit or "-": likely a raw int
                    try:
                        return int(data)
                    except ValueError:
                        pass
                return slow(data, key)

            return decode_pickle

        loads = self.serializer.loads
        header = bytes((MARKER, self._sid, _NO_COMPRESSION))

        def decode_tagged(data: bytes, key: str | None = None) -> Any:
            if data[:_HEADER_LEN] == header:
                try:
                    return loads(data[_HEADER_LEN:])
                except Exception as exc:
                    raise fail(data, key, exc) from exc
            if data and (0x2F < data[0] < 0x3A or data[0] == 0x2D):  # likely a raw int
                try:
                    return int(data)
                except ValueError:
                    pass
            return slow(data, key)

        return decode_tagged

    def _build_decode_many(self) -> ManyDecoder:
        """Many values at once (get_many): ``{key: value}`` for the caller's ``keys``, given
        the stored ``datas`` and the cache keys ``made`` they were read from.

        For plain pickle, bare ``pickle.loads`` on each pickled value, skipping the
        per-value wrapper; anything else, and any error, goes through ``decode`` one by
        one. A value that cannot be decoded is left out (a miss) and logged, so one corrupt
        or refused value does not cost the caller the good ones.
        """
        decode = self.decode
        skip_bad = self._decode_each
        if self._sid != _PICKLE or self._mac_keys:

            def decode_many_tagged(datas: Sequence[bytes], made: Sequence[str],
                                   keys: Sequence[Any]) -> dict[Any, Any]:
                try:
                    return dict(zip(keys, [decode(d, k) for d, k in zip(datas, made)]))
                except DecodeError:
                    return skip_bad(datas, made, keys)

            return decode_many_tagged
        pickle_loads = pickle.loads

        def decode_many(datas: Sequence[bytes], made: Sequence[str],
                        keys: Sequence[Any]) -> dict[Any, Any]:
            try:  # the common case, every value pickled: no Python-level step per value
                return dict(zip(keys, map(pickle_loads, datas)))
            except Exception:
                # Not all pickled. Nothing else cachex writes unpickles as something else:
                # a raw int's digits hold no STOP opcode, a framed value starts with 0x00 (no
                # opcode at all); so a failure here means "look at each value".
                pass
            try:  # 0x80: pickle's PROTO opcode
                return dict(zip(keys, [pickle_loads(d) if d[0] == 0x80 else decode(d, k)
                                       for d, k in zip(datas, made)]))
            except Exception:  # one by one: name the key, keep the good values
                return skip_bad(datas, made, keys)

        return decode_many

    def _decode_each(self, datas: Sequence[bytes], made: Sequence[str],
                     keys: Sequence[Any]) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        decode = self.decode
        for data, k, key in zip(datas, made, keys):
            try:
                out[key] = decode(data, k)
            except DecodeError as exc:
                log.warning("cachex %r: get_many treats an undecodable value as a miss: %s",
                            self.alias, exc, extra={"alias": self.alias,
                                                    "key": self.show_key(k),
                                                    "event": "undecodable"})
        return out

    def _decode_slow(self, data: bytes, key: str | None) -> Any:
        """Everything but the common case: raw ints, headers, compression, errors."""
        if not data:
            raise DecodeError(
                f"{self._subject(key)} is empty, which cachex never writes; delete the key",
                key=key,
            )
        if data[0] == MARKER:
            return self._decode_framed(data, key)
        try:
            return int(data)
        except ValueError:
            pass
        if not self._reads_pickle:
            raise DecodeError(
                f"{self._subject(key)} is untagged, i.e. written with serializer 'pickle' "
                f"(Django's RedisCache format) or by another program, but this alias uses "
                f"{self.serializer_name!r}, and cachex does not unpickle on a non-pickle alias; "
                "add 'pickle' to OPTIONS['decode_fallbacks'] while migrating, or delete the key",
                key=key,
            )
        try:
            return pickle.loads(data)
        except Exception as exc:
            raise self._decode_failure(data, key, exc) from exc

    def _decode_framed(self, data: bytes, key: str | None) -> Any:
        if is_wrapped(data):  # a stampede envelope around this codec's own bytes
            return self.decode(unwrap(data), key)
        sid, cid = data[1:2], data[2:3]
        ser_name = _SERIALIZER_NAMES.get(sid[0]) if sid else None
        comp_known = bool(cid) and cid[0] in _COMPRESSOR_NAMES
        if ser_name is None or not comp_known:
            raise DecodeError(
                f"{self._subject(key)} has an unknown cachex header "
                f"{bytes(data[:_HEADER_LEN])!r}; it is corrupt or was written by a newer "
                "cachex; delete the key",
                key=key,
            )
        loads = self._loaders.get(sid[0])
        if loads is None:
            raise DecodeError(
                f"{self._subject(key)} was written with serializer {ser_name!r} but this alias "
                f"uses {self.serializer_name!r}; set OPTIONS['serializer'] to match, add "
                f"{ser_name!r} to OPTIONS['decode_fallbacks'] while migrating, or delete the key",
                key=key,
            )
        payload = data[_HEADER_LEN:]
        if cid[0] != _NO_COMPRESSION:
            if cid[0] not in self._allowed_cids:
                raise DecodeError(
                    f"{self._subject(key)} was compressed with {_COMPRESSOR_NAMES[cid[0]]!r} "
                    f"but this alias uses compressor {self.compressor_name!r}; add "
                    f"{_COMPRESSOR_NAMES[cid[0]]!r} to OPTIONS['decode_fallbacks'] while "
                    "migrating, or delete the key",
                    key=key,
                )
            decompressor = self._decompressor(cid[0], key)
            try:
                payload = decompressor.decompress(payload, self.decompress_max_size)
            except TooLarge as exc:
                raise DecodeError(
                    f"{self._subject(key)} was refused unread: {exc} "
                    "(OPTIONS['decompress_max_size']); cachex never writes such a value, so "
                    "something else wrote it; delete the key, or raise the limit if you "
                    "really cache values that large",
                    key=key,
                ) from None
            except Exception as exc:
                raise DecodeError(
                    f"{self._subject(key)} could not be decompressed with {decompressor.name!r} "
                    f"({type(exc).__name__}: {exc}); the stored bytes are corrupt; "
                    "delete the key",
                    key=key,
                ) from exc
        try:
            return loads(payload)
        except Exception as exc:
            raise self._decode_failure(data, key, exc) from exc

    def _decompressor(self, cid: int, key: str | None) -> Compressor:
        try:
            return self._decompressors[cid]
        except KeyError:
            pass
        name = _COMPRESSOR_NAMES[cid]
        assert name is not None
        try:
            decompressor = COMPRESSORS[name]()
        except ImportError as exc:
            raise DecodeError(
                f"{self._subject(key)} was compressed with {name!r}, whose library is not "
                f"installed; install it with: {install_hint(_EXTRAS[name])}, "
                "or delete the key",
                key=key,
            ) from exc
        self._decompressors[cid] = decompressor
        return decompressor

    def _decode_failure(self, data: bytes, key: str | None, exc: BaseException) -> DecodeError:
        name = self.serializer_name
        if not data:
            return DecodeError(
                f"{self._subject(key)} is empty, which cachex never writes; delete the key", key=key
            )
        if name == "pickle" and isinstance(exc, (ImportError, AttributeError)):
            return DecodeError(
                f"{self._subject(key)} was pickled from a class or function that cannot be "
                f"imported now ({type(exc).__name__}: {exc}); it was written by different "
                "code: restore the name or delete the key",
                key=key,
            )
        return DecodeError(
            f"{self._subject(key)} could not be decoded with serializer {name!r} "
            f"({type(exc).__name__}: {exc}); the stored bytes are corrupt or were written by "
            "something else; delete the key",
            key=key,
        )
