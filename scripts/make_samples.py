"""Builds template/samples/constructed/ and template/samples/push/ from the real documents.

Run from the repository root: `python scripts/make_samples.py`. The push envelopes are
constructed (no well-formed real one is public); the documents inside them are real.
"""

from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[1] / "template" / "samples"

PUSH = {
    "actual_generation": "a75_actual_gen_FI_2025-10-21_PT15M_A03.xml",
    "wind_solar_forecast": "a69_wind_solar_fc_dayahead_A01_FI_2024-02-08_PT15M.xml",
    "total_load": "a65_actual_load_A16_DK1_2023-12-28_PT60M.xml",
    "day_ahead_prices": "a44_dayahead_prices_ES_2025-09-29_PT60M_to_PT15M.xml",
}

ENVELOPE = """<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope">
<env:Header/>
<env:Body>
<msg:RequestMessage xmlns:msg="http://iec.ch/TC57/2011/schema/message">
<msg:Header>
<msg:Verb>create</msg:Verb>
<msg:Noun>ETP-DOCUMENT</msg:Noun>
<msg:Context>PRODUCTION</msg:Context>
</msg:Header>
<msg:Payload>
{document}
<msg:Format>XML</msg:Format>
</msg:Payload>
</msg:RequestMessage>
</env:Body>
</env:Envelope>
"""

# Installed capacity per production type for Finland, 2025 (A68/A33). CONSTRUCTED: the
# values are plausible round figures, not ENTSO-E's; no real A68 document is public.
FI_CAPACITY_MW = {
    "B01": 2050,
    "B04": 1250,
    "B05": 700,
    "B06": 1150,
    "B08": 600,
    "B11": 3200,
    "B14": 4400,
    "B15": 80,
    "B16": 1500,
    "B17": 350,
    "B19": 8300,
    "B20": 500,
}


def strip_declaration(text: str) -> str:
    text = text.lstrip("\ufeff")
    if text.startswith("<?xml"):
        text = text[text.index("?>") + 2 :]
    return text.strip()


def installed_capacity_document() -> str:
    series = []
    for number, (psr, mw) in enumerate(FI_CAPACITY_MW.items(), start=1):
        series.append(f"""	<TimeSeries>
		<mRID>{number}</mRID>
		<businessType>A37</businessType>
		<objectAggregation>A08</objectAggregation>
		<inBiddingZone_Domain.mRID codingScheme="A01">10YFI-1--------U</inBiddingZone_Domain.mRID>
		<quantity_Measure_Unit.name>MAW</quantity_Measure_Unit.name>
		<curveType>A01</curveType>
		<MktPSRType>
			<psrType>{psr}</psrType>
		</MktPSRType>
		<Period>
			<timeInterval>
				<start>2024-12-31T23:00Z</start>
				<end>2025-12-31T23:00Z</end>
			</timeInterval>
			<resolution>P1Y</resolution>
			<Point>
				<position>1</position>
				<quantity>{mw}</quantity>
			</Point>
		</Period>
	</TimeSeries>""")
    body = "\n".join(series)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<!-- CONSTRUCTED sample, not from ENTSO-E: see samples/SOURCES.md -->
<GL_MarketDocument xmlns="urn:iec62325.351:tc57wg16:451-6:generationloaddocument:3:0">
	<mRID>constructed-a68-fi-2025</mRID>
	<revisionNumber>1</revisionNumber>
	<type>A68</type>
	<process.processType>A33</process.processType>
	<sender_MarketParticipant.mRID codingScheme="A01">10X1001A1001A450</sender_MarketParticipant.mRID>
	<sender_MarketParticipant.marketRole.type>A32</sender_MarketParticipant.marketRole.type>
	<receiver_MarketParticipant.mRID codingScheme="A01">10X1001A1001A450</receiver_MarketParticipant.mRID>
	<receiver_MarketParticipant.marketRole.type>A33</receiver_MarketParticipant.marketRole.type>
	<createdDateTime>2025-01-15T10:00:00Z</createdDateTime>
	<time_Period.timeInterval>
		<start>2024-12-31T23:00Z</start>
		<end>2025-12-31T23:00Z</end>
	</time_Period.timeInterval>
{body}
</GL_MarketDocument>
"""


def main() -> None:
    for feed, name in PUSH.items():
        document = strip_declaration((SAMPLES / "documents" / name).read_text(encoding="utf-8"))
        (SAMPLES / "push" / f"{feed}.xml").write_text(ENVELOPE.format(document=document), encoding="utf-8")
    (SAMPLES / "constructed" / "a68_installed_capacity_FI_2025_CONSTRUCTED.xml").write_text(
        installed_capacity_document(), encoding="utf-8"
    )


if __name__ == "__main__":
    main()
