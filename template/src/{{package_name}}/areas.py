"""Bidding zones: EIC codes to entsoe-py's Area, and their names in words."""

from __future__ import annotations

from entsoe.mappings import Area

from .area_names import area_in_words
from .documents import DocumentError

__all__ = ["area_for_code", "area_in_words"]

_BY_CODE = {}
for _area in Area:
    _BY_CODE.setdefault(_area.code, _area)


def area_for_code(code: str) -> Area:
    """The Area for an EIC code; an unknown code is a bad document, not a new area."""
    try:
        return _BY_CODE[code]
    except KeyError:
        raise DocumentError(f"unknown area EIC code {code!r}: not a bidding zone entsoe-py knows") from None
