"""Benchmark: the rendered package's `read_document` against entsoe-py's `parse_generation`.

Synthesises a year of 15-minute A75 data (16 production types and a pumped-storage
consumption series, one Period per day as the API sends them), reads it with both, checks
the values are equal, and prints times, peak memory and the ratios, side by side in one run.
The floor is lxml parsing the bytes and doing nothing else.

    python benchmarks/reader.py              # a year (about 1-2 minutes, mostly entsoe-py)
    python benchmarks/reader.py --days 7     # a quick look
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
from entsoe import parsers
from entsoe.mappings import PSRTYPE_MAPPINGS
from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_TYPES = [
    "B01",
    "B02",
    "B04",
    "B05",
    "B06",
    "B09",
    "B10",
    "B11",
    "B12",
    "B14",
    "B15",
    "B16",
    "B17",
    "B18",
    "B19",
    "B20",
]


def load_reader():
    """The reader exactly as the template renders it (documents.py is copied verbatim)."""
    path = ROOT / "template" / "src" / "{{package_name}}" / "documents.py"
    spec = importlib.util.spec_from_file_location("documents", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["documents"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def synthesise(days: int, seed: int = 7) -> bytes:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-12-31T23:00Z")
    fmt = "%Y-%m-%dT%H:%MZ"
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<GL_MarketDocument xmlns="urn:iec62325.351:tc57wg16:451-6:generationloaddocument:3:0">\n'
        "\t<mRID>benchmark</mRID>\n\t<revisionNumber>1</revisionNumber>\n\t<type>A75</type>\n"
        "\t<process.processType>A16</process.processType>\n\t<createdDateTime>2026-01-01T00:00:00Z</createdDateTime>\n"
        f"\t<time_Period.timeInterval>\n\t\t<start>{start:{fmt}}</start>\n\t\t<end>{start + pd.Timedelta(days=days):{fmt}}</end>\n\t</time_Period.timeInterval>\n"
    ]
    series = [(psr, "inBiddingZone_Domain.mRID") for psr in PRODUCTION_TYPES] + [("B10", "outBiddingZone_Domain.mRID")]
    for number, (psr, domain) in enumerate(series, start=1):
        parts.append(
            f"\t<TimeSeries>\n\t\t<mRID>{number}</mRID>\n\t\t<businessType>A01</businessType>\n\t\t<objectAggregation>A08</objectAggregation>\n"
            f'\t\t<{domain} codingScheme="A01">10Y1001A1001A82H</{domain}>\n\t\t<quantity_Measure_Unit.name>MAW</quantity_Measure_Unit.name>\n'
            f"\t\t<curveType>A01</curveType>\n\t\t<MktPSRType>\n\t\t\t<psrType>{psr}</psrType>\n\t\t</MktPSRType>\n"
        )
        values = np.round(rng.uniform(0, 5000, size=days * 96), 2)
        for day in range(days):
            period_start = start + pd.Timedelta(days=day)
            points = "".join(
                f"\t\t\t<Point>\n\t\t\t\t<position>{i + 1}</position>\n\t\t\t\t<quantity>{values[day * 96 + i]:g}</quantity>\n\t\t\t</Point>\n"
                for i in range(96)
            )
            parts.append(
                f"\t\t<Period>\n\t\t\t<timeInterval>\n\t\t\t\t<start>{period_start:{fmt}}</start>\n"
                f"\t\t\t\t<end>{period_start + pd.Timedelta(days=1):{fmt}}</end>\n\t\t\t</timeInterval>\n"
                f"\t\t\t<resolution>PT15M</resolution>\n{points}\t\t</Period>\n"
            )
        parts.append("\t</TimeSeries>\n")
    parts.append("</GL_MarketDocument>\n")
    return "".join(parts).encode()


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(function, *args):
    """(result, seconds, peak RSS growth in bytes) of one call; RSS sampled every 2 ms."""
    gc.collect()
    baseline = rss_bytes()
    peak = baseline
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_bytes())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    result = function(*args)
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    return result, elapsed, max(peak, rss_bytes()) - baseline


def to_entsoe_shape(frame: pd.DataFrame) -> pd.DataFrame:
    names = [PSRTYPE_MAPPINGS[p] for p in frame["psr_type"].astype(str)]
    kinds = np.where(frame["direction"].astype(str) == "in", "Actual Aggregated", "Actual Consumption")
    wide = frame.assign(name=names, kind=kinds).pivot_table(
        index="start", columns=["name", "kind"], values="value", aggfunc="first", observed=True
    )
    return wide


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()

    reader = load_reader()
    data = synthesise(args.days)
    text = data.decode()
    points = args.days * 96 * (len(PRODUCTION_TYPES) + 1)
    print(
        f"Document: {args.days} days x 96 quarter-hours x {len(PRODUCTION_TYPES) + 1} series = {points:,} points, {len(data) / 1e6:.1f} MB"
    )

    _, floor_s, floor_mem = measure(lambda: etree.fromstring(data))
    ours, ours_s, ours_mem = measure(lambda: reader.read_document(data, max_bytes=len(data)))
    theirs, theirs_s, theirs_mem = measure(lambda: parsers.parse_generation(text, nett=False))

    ours_wide = to_entsoe_shape(ours.frame)
    theirs_wide = theirs.sort_index()
    theirs_wide.columns = pd.MultiIndex.from_tuples([tuple(c) for c in theirs_wide.columns])
    ours_wide = ours_wide.reindex(index=theirs_wide.index, columns=theirs_wide.columns)
    equal = np.array_equal(ours_wide.to_numpy(), theirs_wide.to_numpy(), equal_nan=True)

    mb = 1024 * 1024
    print(f"{'':24}{'time (s)':>10}{'peak RSS (MiB)':>16}")
    print(f"{'lxml parse only (floor)':24}{floor_s:>10.2f}{floor_mem / mb:>16.0f}")
    print(f"{'read_document':24}{ours_s:>10.2f}{ours_mem / mb:>16.0f}")
    print(f"{'entsoe-py':24}{theirs_s:>10.2f}{theirs_mem / mb:>16.0f}")
    print(
        f"speed-up vs entsoe-py: {theirs_s / ours_s:.1f}x   memory: {theirs_mem / max(ours_mem, 1):.1f}x less   "
        f"read_document / floor: {ours_s / floor_s:.1f}x"
    )
    print(f"values equal: {equal}")
    if not equal:
        raise SystemExit("the two readers disagree")


if __name__ == "__main__":
    main()
