"""Served flow runs forked from a warm process instead of spawned cold: seconds, not a quarter minute.

Prefect's runner starts each run of a served flow with `run_flow_in_subprocess`, which asks
for `multiprocessing.get_context("spawn")` (prefect/flow_engine.py, 3.8): a new interpreter
that imports Prefect, pandas, pyiceberg and the flows again, about 7 s of CPU on a 2-core
machine before the flow's first line. Here the served deployments hand Prefect a forkserver
context instead: one process imports the flows once, when serving starts, and every run is a
fork of it. A run is still a process of its own (own memory, own exit code, stopped by pid as
the runner does); only the imports are shared. Production is untouched: on ECS each run is a
container of its own.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import warnings
from multiprocessing import forkserver
from multiprocessing.context import BaseContext
from types import ModuleType


class _ForkServerOnly:
    """`multiprocessing` as prefect.flow_engine sees it, whose every context is a forkserver one."""

    def __init__(self, context: BaseContext) -> None:
        self.context = context

    def get_context(self, method: str | None = None) -> BaseContext:
        return self.context

    def __getattr__(self, name: str):
        return getattr(multiprocessing, name)


def fork_served_runs(preload: str) -> bool:
    """Makes this process's served runs fork from a server that has imported `preload`.

    Starts that server now, so its imports overlap the runner's start. Returns whether runs
    will fork (not where forkserver is missing, as on Windows, or Prefect's engine changed).
    """
    from prefect import flow_engine

    engine_multiprocessing = getattr(flow_engine, "multiprocessing", None)
    if isinstance(engine_multiprocessing, _ForkServerOnly):
        return True
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return False
    if not isinstance(engine_multiprocessing, ModuleType):
        warnings.warn("prefect.flow_engine no longer imports multiprocessing: served runs spawn", stacklevel=2)
        return False
    if importlib.util.find_spec(preload) is None:  # the fork server would skip it without a word
        raise ModuleNotFoundError(f"cannot preload {preload!r} for served runs: no such module")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([preload])
    flow_engine.multiprocessing = _ForkServerOnly(context)  # type: ignore[assignment]
    forkserver.ensure_running()
    return True
