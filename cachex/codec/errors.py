"""Errors raised while turning values into stored bytes and back."""

from __future__ import annotations

import pickle

from cachex.exceptions import CachexError

__all__ = ["CodecError", "DecodeError", "EncodeError"]


class CodecError(CachexError):
    """A value could not be converted to or from its stored form."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class EncodeError(CodecError, pickle.PicklingError, TypeError):
    """A value cannot be serialized with this alias's serializer.

    Also a ``pickle.PicklingError`` (hence ``pickle.PickleError``) and a ``TypeError``, so
    code written against Django's backends (``assertRaises(pickle.PickleError)`` when caching
    an unpicklable object) keeps working.
    """


class DecodeError(CodecError):
    """Stored bytes cannot be decoded by this alias's codec.

    They were written with another serializer, with a compressor whose library is missing,
    by code whose classes no longer import, or they are corrupt.
    """
