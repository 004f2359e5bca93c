"""Areas in words, from entsoe-py's Area alone (no package import: scripts/sync_areas.py reads it too).

The newsletter names its area with this, and copier.yml lists the area choices with it, so
a user picks from the same names the readers later see.
"""

from __future__ import annotations

import re

from entsoe.mappings import Area


def area_in_words(area: Area) -> str:
    """'Finland, Fingrid BZ / CA / MBA' -> 'Finland'; 'SE3 BZ / MBA' -> 'Sweden (SE3)'.

    A zone inside a country (SE_3, DE_LU, IT_NORD) is named with that country, from entsoe-py's
    own country areas, so a reader sees a place, not a code.
    """
    short = _short_name(area)
    country = Area.__members__.get(area.name.split("_")[0]) if "_" in area.name else None
    if country is not None and country is not area:
        country_name = _short_name(country)
        if any(ch.islower() for ch in country_name) and country_name not in short:
            return f"{country_name} ({short})"
    return short if any(ch.islower() for ch in short) else f"bidding zone {short}"


def _short_name(area: Area) -> str:
    name = area.meaning.split(",")[0]
    return re.sub(r"(\s*/?\s*\b(BZ|CA|MBA|BZA|LFA|LFB|SCA|IPA)\b)+\s*$", "", name).strip(" /")
