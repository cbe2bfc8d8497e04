"""HL7 v2 feed files: what ``clinflow generate --format hl7v2`` writes, and reading them back.

Layout under ``out``::

    hl7v2/<vendor>.hl7   every message in clinical-time order: segments ended by CR, each
                         message followed by a LF (the usual batch-file convention)
    manifest.ndjson      the PHI ground truth of the cohort (the stream's manifest)
    summary.json         counts by message type, what had no HL7 v2 form, the dialect

An existing ``out`` is cleared only when it holds a previous feed and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from clinflow.ehr.hl7.emit import FeedStats, cohort_messages
from clinflow.ehr.hl7.profiles import vendor_profile
from clinflow.folders import clear_previous_output
from clinflow.synthetic.scenario import Scenario
from clinflow.synthetic.stream import StreamOptions

FEED_DIR = "hl7v2"
OUTPUT_NAMES = frozenset({FEED_DIR, "manifest.ndjson", "summary.json"})


def _prepare(out: Path) -> None:
    clear_previous_output(out, OUTPUT_NAMES, "HL7 v2 feed")
    (out / FEED_DIR).mkdir(parents=True, exist_ok=True)


def write_feed(
    out: Path, patients: int, seed: int, scenario: Scenario, vendor: str
) -> dict[str, Any]:
    """Write the cohort as one HL7 v2 feed file in ``vendor``'s dialect; returns the summary."""
    profile = vendor_profile(vendor)
    _prepare(out)
    stats = FeedStats()
    options = StreamOptions(
        patients=patients, seed=seed, scenario=scenario, manifest=out / "manifest.ndjson"
    )
    feed = out / FEED_DIR / f"{profile.vendor}.hl7"
    with feed.open("w", encoding="utf-8", newline="") as handle:
        for _, text in cohort_messages(options, profile, stats):
            handle.write(text + "\n")
    summary: dict[str, Any] = {
        "patients": patients,
        "seed": seed,
        "scenario": scenario.name,
        "format": "hl7v2",
        "vendor": profile.vendor,
        "file": str(feed.relative_to(out)),
        "messages": dict(sorted(stats.messages.items())),
        "missing_control_ids": stats.missing_control_ids,
        "resent": stats.resent,
        "late": stats.late,
        "not_in_hl7v2": dict(sorted(stats.skipped.items())),
    }
    (out / "summary.json").write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"\n")
    return summary


def read_feed(data: bytes) -> Iterator[bytes]:
    """The messages of a feed file: each starts at a line beginning ``MSH`` (CR or LF)."""
    current: list[bytes] = []
    for line in data.replace(b"\r\n", b"\r").replace(b"\n", b"\r").split(b"\r"):
        if not line:
            continue
        if line.startswith(b"MSH") and current:
            yield b"\r".join(current) + b"\r"
            current = []
        current.append(line)
    if current:
        yield b"\r".join(current) + b"\r"
