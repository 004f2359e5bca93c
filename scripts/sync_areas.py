"""Regenerates copier.yml's area data from entsoe-py's Area (run after upgrading it).

Two hidden values: `entsoe_areas`, the entsoe_area choices as [label, Area name] pairs (a
list keeps its order through `tojson`, a mapping's keys get sorted), the label "readable
name – Area name", sorted by that name (the names the newsletter uses, from the template's area_names.py), and
`entsoe_area_kinds`, what each area is to ENTSO-E, read from its description: a bidding zone
(BZ), a control area (CA), a country (CTY). The entsoe_area validator checks these against
the feed (day-ahead prices are published per bidding zone, the other feeds per bidding zone,
control area or country).
"""

import re
import runpy
from pathlib import Path

from entsoe.mappings import Area

ROOT = Path(__file__).resolve().parents[1]
COPIER = ROOT / "copier.yml"
AREA_NAMES = ROOT / "template" / "src" / "{{package_name}}" / "area_names.py"
BLOCK = re.compile(r"(  # BEGIN AREAS\n).*?(  # END AREAS\n)", re.S)


def kinds(area: Area) -> list[str]:
    """BZ, CA, CTY: what the area is, by entsoe-py's description of it (e.g. 'Finland, Fingrid BZ / CA / MBA')."""
    found = []
    if re.search(r"(?<![A-Za-z])BZN?(?![A-Za-z])", area.meaning):
        found.append("BZ")
    if re.search(r"(?<![A-Za-z])(CA|CTA)(?![A-Za-z])", area.meaning):
        found.append("CA")
    if len(area.name) == 2:  # entsoe-py names countries by their two-letter code
        found.append("CTY")
    return found


def areas_block() -> str:
    """The text between the BEGIN and END AREAS markers in copier.yml."""
    in_words = runpy.run_path(str(AREA_NAMES))["area_in_words"]
    named = sorted(((in_words(area), area.name) for area in Area), key=lambda p: (p[0].casefold(), p[1]))
    lines = ["  default:\n"] + [f'    - ["{words} – {name}", "{name}"]\n' for words, name in named]
    lines += [
        "\n",
        "entsoe_area_kinds:\n",
        "  type: yaml\n",
        "  when: false\n",
        "  default:\n",
    ]
    lines += [f'    "{area.name}": [{", ".join(kinds(area))}]\n' for area in Area]
    return "".join(lines)


def main() -> None:
    text = COPIER.read_text()
    COPIER.write_text(BLOCK.sub(lambda m: m.group(1) + areas_block() + m.group(2), text))


if __name__ == "__main__":
    main()
