"""Read ENTSO-E market documents into one long, tidy table: fast, lean and strict.

Why not entsoe-py's parsers: they build a full tree and pandas objects per point, which is
slow and memory-hungry on a year of data, and they pass malformed input silently. This
reader streams with lxml (one TimeSeries in memory at a time), builds numpy arrays, refuses
DTDs and entities, and names what is wrong. entsoe-py stays for querying the API.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass

import numpy as np
import pandas as pd
from lxml import etree  # pyright: ignore[reportAttributeAccessIssue]  # compiled, ships no types

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
COLUMNS = ["start", "resolution", "area", "direction", "psr_type", "business_type", "sequence", "value", "unit"]
# classificationSequence_AttributeInstanceComponent.position: DE-LU/AT day-ahead prices come as
# two sequences, 1 = the SDAC (EU single day-ahead coupling) auction, 2 = EXAA; "" elsewhere.
_SEQUENCE = "classificationSequence_AttributeInstanceComponent.position"
SUPPORTED_ROOTS = {"GL_MarketDocument", "Publication_MarketDocument"}

# Which element of a TimeSeries names its area, and whether that is the in or out side.
_DOMAINS = (
    ("inBiddingZone_Domain.mRID", "in"),
    ("in_Domain.mRID", "in"),
    ("outBiddingZone_Domain.mRID", "out"),
    ("out_Domain.mRID", "out"),
)
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")
_CALENDAR_DURATIONS = {"P1M", "P1Y"}
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?Z$")


class DocumentError(ValueError):
    """The input is not a document this reader can trust: malformed, unknown or too large."""


class AcknowledgementError(Exception):
    """ENTSO-E answered with an Acknowledgement_MarketDocument: a reason, not data."""

    def __init__(self, reason_code: str, text: str):
        self.reason_code = reason_code
        self.text = text
        super().__init__(f"ENTSO-E acknowledgement {reason_code}: {text}")


@dataclass(frozen=True)
class Document:
    document_type: str
    process_type: str
    mrid: str
    revision: int
    created: pd.Timestamp | None
    period_start: pd.Timestamp
    period_end: pd.Timestamp
    area: str
    frame: pd.DataFrame


def read_document(data: bytes | str, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """Read a market document, a push envelope holding one, or a zip of documents."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > max_bytes:
        raise DocumentError(f"document is {len(data):,} bytes, over the limit of {max_bytes:,} bytes")
    if not data.strip():
        raise DocumentError("document is empty")
    if data[:4] == b"PK\x03\x04":
        return _read_zip(data, max_bytes)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise DocumentError("document is UTF-16; ENTSO-E documents are UTF-8")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise DocumentError("document declares a DTD or entities, which are refused for safety")
    return _read_xml(data, max_bytes)


def _read_zip(data: bytes, max_bytes: int) -> Document:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except zipfile.BadZipFile as exc:
        raise DocumentError(f"not a readable zip archive: {exc}") from None
    if not members:
        raise DocumentError("zip archive holds no documents")
    if sum(m.file_size for m in members) > max_bytes:
        raise DocumentError(f"zip archive unpacks to more than the limit of {max_bytes:,} bytes")
    documents = []
    for member in members:
        content = archive.read(member)
        if content[:4] == b"PK\x03\x04":
            raise DocumentError(f"zip member {member.filename} is itself a zip; nested archives are refused")
        documents.append(read_document(content, max_bytes))
    first = documents[0]
    return Document(
        document_type=first.document_type,
        process_type=first.process_type,
        mrid=first.mrid,
        revision=first.revision,
        created=first.created,
        period_start=min(d.period_start for d in documents),
        period_end=max(d.period_end for d in documents),
        area=first.area,
        frame=pd.concat([d.frame for d in documents], ignore_index=True),
    )


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _read_xml(data: bytes, max_bytes: int) -> Document:
    builder = _FrameBuilder()
    events = etree.iterparse(
        io.BytesIO(data),
        events=("end",),
        tag="{*}TimeSeries",
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        for _, series in events:
            builder.add_series(series)
            parent = series.getparent()
            series.clear()
            if parent is not None:
                parent.remove(series)
        root = events.root
    except etree.XMLSyntaxError as exc:
        raise DocumentError(f"not well-formed XML: {exc}") from None
    if root is None:
        raise DocumentError("not well-formed XML: no root element")
    if root.getroottree().docinfo.internalDTD is not None:
        raise DocumentError("document declares a DTD, which is refused for safety")

    market = _find_market_document(root)
    if market is None:
        payload = _find_text_payload(root, max_bytes)
        if payload is not None:
            return read_document(payload, max_bytes)
        raise DocumentError(f"no ENTSO-E market document found (root element is <{_local(root.tag)}>)")
    kind = _local(market.tag)
    if kind == "Acknowledgement_MarketDocument":
        raise AcknowledgementError(_child_text(market, "Reason/code") or "?", _child_text(market, "Reason/text") or "")
    if kind not in SUPPORTED_ROOTS:
        raise DocumentError(f"unsupported document kind <{kind}>; expected one of {sorted(SUPPORTED_ROOTS)}")

    interval = _first_child(market, "time_Period.timeInterval", "period.timeInterval")
    if interval is None:
        raise DocumentError(f"<{kind}> has no time_Period.timeInterval")
    frame = builder.frame()
    if frame.empty and not builder.series_count:
        raise DocumentError(f"<{kind}> holds no TimeSeries")
    revision = _child_text(market, "revisionNumber") or "1"
    if not revision.isdigit():
        raise DocumentError(f"revisionNumber must be a whole number, got {revision!r}")
    created = _child_text(market, "createdDateTime")
    return Document(
        document_type=_required(market, "type", kind),
        process_type=_child_text(market, "process.processType") or "",
        mrid=_required(market, "mRID", kind),
        revision=int(revision),
        created=pd.Timestamp(created) if created else None,
        period_start=_timestamp(_child_text(interval, "start"), "document interval start"),
        period_end=_timestamp(_child_text(interval, "end"), "document interval end"),
        area=builder.first_area,
        frame=frame,
    )


def _find_market_document(root: etree._Element) -> etree._Element | None:
    if _local(root.tag).endswith("_MarketDocument"):
        return root
    for element in root.iter(tag=etree.Element):
        if _local(element.tag).endswith("_MarketDocument"):
            return element
    return None


def _find_text_payload(root: etree._Element, max_bytes: int) -> bytes | None:
    """A push envelope may carry the document as escaped text, or `Compressed`, instead of as elements.

    `Compressed` is gzip as base64 text (IEC 61968-100 message schema; the reference kit's
    MessageUtil.createRequestWithCompressedXmlPayload), inflated to at most `max_bytes`.
    """
    for element in root.iter(tag=etree.Element):
        name = _local(element.tag)
        if name == "Payload" and element.text and element.text.strip().startswith("<"):
            return element.text.strip().encode("utf-8")
        if name == "Compressed" and element.text:
            # Imported here: the reader stays a module of its own (benchmarks/reader.py loads
            # this file alone), and the front door must not import the reader (the Lambda).
            from .front_door import Refused, inflate_compressed

            try:
                return inflate_compressed(element.text.encode("utf-8"), max_bytes)
            except Refused as refused:
                raise DocumentError(refused.detail) from None
    return None


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in element if isinstance(c.tag, str) and _local(c.tag) == name]


def _first_child(element: etree._Element, *names: str) -> etree._Element | None:
    for name in names:
        found = _children(element, name)
        if found:
            return found[0]
    return None


def _child_text(element: etree._Element, path: str) -> str | None:
    for name in path.split("/"):
        found = _children(element, name)
        if not found:
            return None
        element = found[0]
    return (element.text or "").strip()


def _required(element: etree._Element, name: str, kind: str) -> str:
    text = _child_text(element, name)
    if not text:
        raise DocumentError(f"<{kind}> has no {name}")
    return text


def _timestamp(text: str | None, what: str) -> pd.Timestamp:
    if not text or not _TIMESTAMP.match(text):
        raise DocumentError(f"{what} must look like 2024-01-31T23:00Z, got {text!r}")
    return pd.Timestamp(text)


def _resolution(text: str | None, start: pd.Timestamp, end: pd.Timestamp, points: int) -> pd.Timedelta:
    if text in _CALENDAR_DURATIONS:
        # Months and years have no fixed length: valid only as one slot spanning the period.
        if points != 1:
            raise DocumentError(f"resolution {text} is only supported for a single-point period")
        return end - start
    match = _DURATION.match(text or "")
    if not match or not any(match.groups()):
        raise DocumentError(f"unsupported resolution {text!r}; expected e.g. PT15M, PT60M, P1D")
    days, hours, minutes = (int(g or 0) for g in match.groups())
    return pd.Timedelta(days=days, hours=hours, minutes=minutes)


class _FrameBuilder:
    """Collects each Period as numpy arrays; labels are stored once per chunk, as codes."""

    def __init__(self) -> None:
        self.series_count = 0
        self.first_area = ""
        self._starts: list[np.ndarray] = []
        self._values: list[np.ndarray] = []
        self._resolutions: list[int] = []
        self._labels: list[tuple[str, str, str, str, str, str]] = []
        self._xpaths: dict[str, tuple[etree.XPath, etree.XPath]] = {}

    def _points_xpath(self, ns: str) -> tuple[etree.XPath, etree.XPath]:
        if ns not in self._xpaths:
            names = {"n": ns} if ns else None
            p = "n:" if ns else ""
            self._xpaths[ns] = (
                etree.XPath(f"{p}Point/{p}position/text()", namespaces=names),
                etree.XPath(f"{p}Point/{p}quantity/text() | {p}Point/{p}price.amount/text()", namespaces=names),
            )
        return self._xpaths[ns]

    def add_series(self, series: etree._Element) -> None:
        self.series_count += 1
        where = f"TimeSeries {self.series_count}"
        area, direction = "", ""
        for name, side in _DOMAINS:
            text = _child_text(series, name)
            if text:
                area, direction = text, side
                break
        if not area:
            raise DocumentError(f"{where} names no in or out domain")
        self.first_area = self.first_area or area
        psr_type = _child_text(series, "MktPSRType/psrType") or ""
        business_type = _child_text(series, "businessType") or ""
        quantity_unit = _child_text(series, "quantity_Measure_Unit.name")
        if quantity_unit:
            unit = quantity_unit
        else:
            currency = _child_text(series, "currency_Unit.name")
            price_unit = _child_text(series, "price_Measure_Unit.name")
            if not (currency and price_unit):
                raise DocumentError(f"{where} has neither a quantity unit nor a currency and price unit")
            unit = f"{currency}/{price_unit}"
        curve = _child_text(series, "curveType") or "A01"
        if curve not in ("A01", "A03"):
            raise DocumentError(f"{where} has curveType {curve}; only A01 and A03 are supported")
        tag = series.tag
        ns = tag[1 : tag.index("}")] if tag.startswith("{") else ""
        positions_of, values_of = self._points_xpath(ns)
        labels = (area, direction, psr_type, business_type, _child_text(series, _SEQUENCE) or "", unit)
        for number, period in enumerate(_children(series, "Period"), start=1):
            self._add_period(period, f"{where}, Period {number}", curve, labels, positions_of, values_of)

    def _add_period(self, period, where, curve, labels, positions_of, values_of) -> None:
        interval = _first_child(period, "timeInterval")
        if interval is None:
            raise DocumentError(f"{where} has no timeInterval")
        start = _timestamp(_child_text(interval, "start"), f"{where} start")
        end = _timestamp(_child_text(interval, "end"), f"{where} end")
        if end <= start:
            raise DocumentError(f"{where} ends ({end}) before it starts ({start})")
        raw_positions = positions_of(period)
        raw_values = values_of(period)
        if len(raw_positions) != len(raw_values):
            raise DocumentError(f"{where}: {len(raw_positions)} positions but {len(raw_values)} values")
        resolution = _resolution(_child_text(period, "resolution"), start, end, len(raw_positions))
        slots, remainder = divmod(end - start, resolution)
        if remainder:
            raise DocumentError(f"{where}: interval {start}..{end} is not a whole number of {resolution}")
        try:
            positions = np.array(raw_positions, dtype=np.int64)
            values = np.array(raw_values, dtype=np.float64)
        except ValueError as exc:
            raise DocumentError(f"{where}: a position or value is not a number ({exc})") from None
        if positions.size == 0:
            return
        if positions[0] < 1 or positions[-1] > slots or np.any(np.diff(positions) <= 0):
            raise DocumentError(
                f"{where}: positions must rise strictly within 1..{slots}, got {positions[0]}..{positions[-1]}"
            )
        if curve == "A03":
            positions, values = fill_a03(positions, values, slots)
        step = resolution.value
        self._starts.append(start.value + (positions - 1) * step)
        self._values.append(values)
        self._resolutions.append(step)
        self._labels.append(labels)

    def frame(self) -> pd.DataFrame:
        if not self._starts:
            return empty_frame()
        counts = np.array([len(s) for s in self._starts])
        columns: dict[str, object] = {
            "start": pd.DatetimeIndex(np.concatenate(self._starts).view("datetime64[ns]"), tz="UTC"),
            "resolution": pd.to_timedelta(np.repeat(np.array(self._resolutions, dtype=np.int64), counts), unit="ns"),
        }
        for index, name in enumerate(["area", "direction", "psr_type", "business_type", "sequence"]):
            columns[name] = _categorical([labels[index] for labels in self._labels], counts)
        columns["value"] = np.concatenate(self._values)
        columns["unit"] = _categorical([labels[5] for labels in self._labels], counts)
        return pd.DataFrame(columns, columns=COLUMNS)


def fill_a03(positions: np.ndarray, values: np.ndarray, slots: int) -> tuple[np.ndarray, np.ndarray]:
    """Curve A03 omits repeats: each value holds until the next given position or the period end."""
    counts = np.diff(np.append(positions, slots + 1))
    return np.arange(positions[0], slots + 1, dtype=np.int64), np.repeat(values, counts)


def _categorical(labels: list[str], counts: np.ndarray) -> pd.Categorical:
    categories, codes = np.unique(np.array(labels, dtype=object), return_inverse=True)
    return pd.Categorical.from_codes(np.repeat(codes, counts), categories=pd.Index(categories, dtype=object))


def empty_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "start": pd.DatetimeIndex([], tz="UTC"),
            "resolution": pd.to_timedelta([]),
            "area": pd.Categorical([]),
            "direction": pd.Categorical([]),
            "psr_type": pd.Categorical([]),
            "business_type": pd.Categorical([]),
            "sequence": pd.Categorical([]),
            "value": np.array([], dtype=np.float64),
            "unit": pd.Categorical([]),
        },
        columns=COLUMNS,
    )
