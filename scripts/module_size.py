"""Fail when a module under src/ is longer than the limit (STYLE.md: none over 500 lines).

python scripts/module_size.py            # check src/, exit 1 listing the offenders
python scripts/module_size.py --limit 400 path/to/dir
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

LIMIT = 500


def too_long(root: Path, limit: int) -> list[tuple[Path, int]]:
    """Every `.py` file under `root` with more than `limit` lines, longest first."""
    found = []
    for path in sorted(root.rglob("*.py")):
        with path.open(encoding="utf-8") as handle:
            lines = sum(1 for _line in handle)
        if lines > limit:
            found.append((path, lines))
    return sorted(found, key=lambda item: -item[1])


def main() -> int:
    """Check the given folder (default src/); print offenders; exit 1 if any."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", nargs="?", default="src", type=Path)
    parser.add_argument("--limit", type=int, default=LIMIT)
    args = parser.parse_args()
    offenders = too_long(args.root, args.limit)
    for path, lines in offenders:
        print(f"{path}: {lines} lines (limit {args.limit}); split it by concern", file=sys.stderr)
    return 1 if offenders else 0


if __name__ == "__main__":
    sys.exit(main())
