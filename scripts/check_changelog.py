"""Checks docs/changelog.md has an entry (a `## TAG` heading) for a release tag.

    python scripts/check_changelog.py v0.2.0

The release job of .github/workflows/template.yml runs it on every version tag.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

CHANGELOG = Path(__file__).resolve().parents[1] / "docs" / "changelog.md"


def has_entry(tag: str, text: str) -> bool:
    return re.search(rf"^## {re.escape(tag)}\s*$", text, flags=re.MULTILINE) is not None


def main() -> None:
    if len(sys.argv) != 2 or not re.fullmatch(r"v\d+\.\d+\.\d+\S*", sys.argv[1]):
        sys.exit("usage: check_changelog.py vMAJOR.MINOR.PATCH")
    tag = sys.argv[1]
    if not has_entry(tag, CHANGELOG.read_text(encoding="utf-8")):
        sys.exit(f"docs/changelog.md has no entry for {tag}: add a `## {tag}` section saying what it changes")
    print(f"docs/changelog.md has an entry for {tag}")


if __name__ == "__main__":
    main()
