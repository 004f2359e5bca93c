"""A daily cap on newsletters per project: a circuit breaker that fails the run instead of mailing.

A holder of the front door's token, a replayed backlog or a bug could otherwise mail readers
hundreds of times a day. Every newsletter takes one slot of the UTC day's budget just before
the ledger records `sending`. The slots live in the lake, `budget/newsletters/<day>.json`, and
each is taken by a compare-and-swap on the version read (`put_if_absent` / `put_if_match`: S3
conditional writes, locally the same under a lock), so runs at the same moment never take more
slots than the cap. A slot belongs to a delivery (ledger.delivery_id): a retry or a replay of
the same delivery takes no second one.

Over the cap nothing is mailed: `NewsletterCapReached` fails the run (the run-failed alert
carries its message), the ledger releases the claim and the landed message keeps no DONE
marker. So the sweep tries it again with its back-off and sends it once a UTC day has room;
after quarantine.MAX_ATTEMPTS failures it waits in the quarantine (its own alert) for `replay`.
"""

from __future__ import annotations

import json
import time

from .lake import Lake

PREFIX = "budget/newsletters"
clock = time.time  # tests move the day


class NewsletterCapReached(RuntimeError):
    """Today's newsletters reached the cap: this one is not mailed, and can be sent later."""


def today() -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(clock()))


def take_slot(lake: Lake, delivery_id: str, cap: int, day: str | None = None) -> int:
    """Takes the day's slot for `delivery_id` (or finds it taken before); returns how many are taken.

    Raises NewsletterCapReached, changing nothing, when `cap` slots are taken by other deliveries.
    """
    day = day or today()
    key = f"{PREFIX}/{day}.json"
    while True:
        found = lake.read(key)
        taken: list[str] = json.loads(found[0])["deliveries"] if found else []
        if delivery_id in taken:
            return len(taken)
        if len(taken) >= cap:
            raise NewsletterCapReached(
                f"the daily newsletter cap is reached: {len(taken)} of {cap} sent on {day} (UTC), so {delivery_id} "
                "is not mailed. The sweep sends it once a day has room (or raise PIPELINE_MAX_NEWSLETTERS_PER_DAY "
                "and replay it); a cap reached by surprise means a flood: see the front door's log."
            )
        record = json.dumps({"day": day, "cap": cap, "deliveries": [*taken, delivery_id]}).encode()
        if lake.put_if_absent(key, record) if found is None else lake.put_if_match(key, record, found[1]):
            return len(taken) + 1
        # another run took a slot between our read and our write: read again
