"""The command line: `python -m <package> demo | backfill START END`."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__package__}", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the pipeline once on localhost with the bundled sample")
    demo.add_argument("--workdir", type=Path, default=Path.cwd(), help="where outbox/ and lake/ go (default: here)")

    backfill = commands.add_parser("backfill", help="pull a date range from the ENTSO-E API into the lake")
    backfill.add_argument("start", type=date.fromisoformat, help="first day, YYYY-MM-DD")
    backfill.add_argument("end", type=date.fromisoformat, help="day after the last, YYYY-MM-DD")
    backfill.add_argument("--chunk-days", type=int, default=7)
    backfill.add_argument("--max-concurrency", type=int, default=4)

    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(args.workdir)
    if args.command == "backfill":
        from .flows import backfill as backfill_flow

        keys = backfill_flow(args.start, args.end, args.chunk_days, args.max_concurrency)
        print("\n".join(keys))
        return 0
    return 2
