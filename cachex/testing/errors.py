"""The one exception type of :mod:`cachex.testing`."""

from __future__ import annotations

__all__ = ["LabError"]


class LabError(RuntimeError):
    """A lab could not be started, reached no ready state in time, or was misused.

    A ``RuntimeError`` (not a ``CachexError``): it reports a broken test environment, never a
    cache failure that application code should handle.
    """
