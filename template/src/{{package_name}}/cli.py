"""The command line: `python -m <package> COMMAND`.

demo | webhook | replay KEY | backfill START END | serve-backfill | query SQL | tables | maintain
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from datetime import date
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__package__}", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the pipeline once on localhost with the bundled sample")
    demo.add_argument("--workdir", type=Path, default=Path.cwd(), help="where outbox/ and lake/ go (default: here)")

    webhook = commands.add_parser("webhook", help="receive ENTSO-E push messages locally and serve the flow")
    webhook.add_argument("--host", default="127.0.0.1")
    webhook.add_argument("--port", type=int, default=8787)

    replay = commands.add_parser("replay", help="process a raw message again from the lake (after a failed run)")
    replay.add_argument("key", help="the lake key of a landed message, e.g. inbox/type=.../<mRID>_r1_<digest>.xml")

    backfill = commands.add_parser("backfill", help="pull market days from the ENTSO-E API into the tables")
    backfill.add_argument("start", type=date.fromisoformat, help="first day, YYYY-MM-DD (the area's local day)")
    backfill.add_argument("end", type=date.fromisoformat, help="day after the last, YYYY-MM-DD")
    backfill.add_argument("--area", action="append", help="entsoe-py area name, repeatable (default: the project's)")
    backfill.add_argument("--feed", help="feed name (default: the project's)")
    backfill.add_argument("--chunk-days", type=int, default=None, help="days per request (default: the API's most)")
    backfill.add_argument("--max-concurrency", type=int, default=4)

    query = commands.add_parser("query", help='run SQL (DuckDB) over the lake\'s tables, e.g. "SELECT ..."')
    query.add_argument("sql", help="the query; tables are <database>.<table>, as in Athena")
    query.add_argument("--format", choices=["table", "csv", "parquet"], default="table")
    query.add_argument("--output", type=Path, help="write the result to this file (needed for parquet)")
    commands.add_parser("tables", help="list the lake's tables and their columns")

    maintain = commands.add_parser("maintain", help="compact the tables' small files and expire old snapshots")
    maintain.add_argument("--keep-days", type=float, default=None, help="snapshots to keep (default: settings)")
    serve_backfill = commands.add_parser(
        "serve-backfill", help="serve the backfill-chunk deployment locally, each chunk in its own process"
    )
    serve_backfill.add_argument("--limit", type=int, default=4, help="chunks running at once (default: 4)")

    args = parser.parse_args(argv)
    if args.command == "demo":
        from .local.demo import run_demo

        return run_demo(args.workdir)
    if args.command == "webhook":
        return run_webhook(args.host, args.port)
    if args.command == "replay":
        from .flows import process_message

        summary = process_message(args.key, replay=True)
        print(summary.skipped or f"sent {summary.subject!r} to {', '.join(summary.recipients)}")
        return 0
    if args.command == "backfill":
        from .backfill import backfill as backfill_flow

        chunks = backfill_flow(
            args.start,
            args.end,
            areas=args.area,
            feed=args.feed,
            chunk_days=args.chunk_days,
            max_concurrency=args.max_concurrency,
        )
        print("\n".join(chunks))
        return 0
    if args.command == "serve-backfill":
        from .local.served_deployment import serve_backfill_chunks

        serve_backfill_chunks(limit=args.limit)
        return 0
    if args.command == "query":
        from .query import QueryError, relation, write

        if args.format == "parquet" and args.output is None:
            parser.error("--format parquet needs --output FILE")
        try:
            text = write(relation(args.sql), args.format, args.output)
        except QueryError as error:
            print(f"query failed: {error}", file=sys.stderr)
            return 2
        if text is not None:
            print(text)
        return 0
    if args.command == "tables":
        from .query import describe

        described = describe()
        if not described:
            print("no tables yet: the demo, or the first message the pipeline processes, makes them")
        for table, columns in sorted(described.items()):
            print(table)
            for column in columns:
                print(f"  {column.name:<20} {column.type:<14} {'required' if column.required else '':<9} {column.doc}")
        return 0
    if args.command == "maintain":
        from .flows import maintain_tables

        for line in maintain_tables(args.keep_days):
            print(line)
        return 0
    return 2


def run_webhook(host: str, port: int) -> int:
    """The receiver in a thread, the served push deployment in the foreground."""
    os.environ.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", "1")  # pick up triggered runs within a second
    import threading

    import uvicorn
    from prefect.settings import PREFECT_API_URL

    from .local.forked_runs import fork_served_runs
    from .local.served_deployment import FLOWS_MODULE, serve_push_deployment
    from .operations import ensure_rate_limit
    from .settings import Settings

    api_url = PREFECT_API_URL.value()
    if not api_url:
        raise SystemExit("set PREFECT_API_URL (a local `prefect server start`, or Prefect Cloud)")
    fork_served_runs(FLOWS_MODULE)  # the runs' process imports the flows while this one starts

    from .local.receiver import WEBHOOK_PATH, create_app

    token = os.environ.get("FRONT_DOOR_TOKEN", "")
    shown = "<FRONT_DOOR_TOKEN>"
    if not token:  # a throwaway token for this local run only
        token = shown = secrets.token_urlsafe(24)
    app = create_app(api_url, token, f"http://{host}:{port}{WEBHOOK_PATH}")
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    print(f"Receiving ENTSO-E push messages on http://{host}:{port}/{shown}", flush=True)
    wait_for_prefect(api_url)  # the demo starts this beside a Prefect server that may still be starting
    settings = Settings()
    if settings.api_rate_limit:  # as the deploy does: strict, the runs send no request without it
        ensure_rate_limit(settings)
    serve_push_deployment()
    return 0


def wait_for_prefect(api_url: str, timeout_s: float = 180.0) -> None:
    """Returns once the Prefect API answers its health check; exits naming it if it never does."""
    import time

    from prefect.client.orchestration import get_client

    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while (error := client.api_healthcheck()) is not None:
            if time.monotonic() > deadline:
                raise SystemExit(f"the Prefect API at {api_url} did not answer within {timeout_s:.0f} s: {error}")
            time.sleep(0.25)
