"""Regenerates copier.yml's entsoe_areas list (the entsoe_area choices) from entsoe-py's Area (run after upgrading it)."""

import re
from pathlib import Path

from entsoe.mappings import Area

COPIER = Path(__file__).resolve().parents[1] / "copier.yml"


def main() -> None:
    text = COPIER.read_text()
    choices = "  default:\n" + "".join(f'    - "{area.name}"\n' for area in Area)
    block = re.compile(r"(  # BEGIN AREAS\n).*?(  # END AREAS\n)", re.S)
    COPIER.write_text(block.sub(lambda m: m.group(1) + choices + m.group(2), text))


if __name__ == "__main__":
    main()
