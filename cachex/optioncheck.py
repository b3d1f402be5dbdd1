"""The rule every OPTIONS section follows: an unknown key is refused, naming it and the keys
that would be accepted (a typo must not silently fall back to a default)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def reject_unknown(raw: Iterable[object], accepted: Sequence[str], where: str,
                   error: type[ValueError] = ValueError) -> None:
    """Raise ``error`` for the first key of ``raw`` not in ``accepted``; ``where`` names the
    section, e.g. ``"OPTIONS['retry']"``."""
    for key in raw:
        if key not in accepted:
            raise error(f"unknown {where} key {key!r}; accepted: {', '.join(accepted)}")
