"""Bidding zones: EIC codes to entsoe-py's Area, and their names in words."""

from __future__ import annotations

import re

from entsoe.mappings import Area

from .documents import DocumentError

_BY_CODE = {}
for _area in Area:
    _BY_CODE.setdefault(_area.code, _area)


def area_for_code(code: str) -> Area:
    """The Area for an EIC code; an unknown code is a bad document, not a new area."""
    try:
        return _BY_CODE[code]
    except KeyError:
        raise DocumentError(f"unknown area EIC code {code!r}: not a bidding zone entsoe-py knows") from None


def area_in_words(area: Area) -> str:
    """'Finland, Fingrid BZ / CA / MBA' -> 'Finland'; 'DK1 BZ / MBA' -> 'bidding zone DK1'."""
    name = area.meaning.split(",")[0]
    short = re.sub(r"(\s*/?\s*\b(BZ|CA|MBA|BZA|LFA|LFB|SCA|IPA)\b)+\s*$", "", name).strip(" /")
    return short if any(ch.islower() for ch in short) else f"bidding zone {short}"
