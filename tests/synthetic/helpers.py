"""Helpers for the generator tests: a small scenario and a builder with fixed seeds, and the
resolver from a manifest entry's location to the value actually stored there."""

from __future__ import annotations

import base64
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
import pydicom
from pydicom.dataset import Dataset

from clinflow.synthetic.generator import GenerateOptions, generate
from clinflow.synthetic.manifest import PhiEntry
from clinflow.synthetic.scenario import Scenario

# Short vitals keep the cohorts small; every other feature is switched on.
SMALL = Scenario(
    name="test-small",
    vitals_hours=2,
    vitals_interval_minutes=30,
    deterioration_fraction=0.5,
    elderly_fraction=0.4,
    notes_per_patient=3,
    imaging_fraction=0.8,
    modality_mix={"CR": 0.4, "US": 0.3, "CT": 0.2, "MR": 0.1},
    burned_in_fraction=0.8,
    consent={"revocation_fraction": 0.8},
)


def build(out: Path, seed: int = 11, patients: int = 6, **changes: object) -> dict[str, object]:
    scenario = SMALL.model_copy(update=changes) if changes else SMALL
    options = GenerateOptions(patients=patients, seed=seed, out=out, scenario=scenario, workers=1)
    return generate(options)


SAMPLE = Path(__file__).resolve().parents[2] / "synthetic" / "sample"


# --- manifest locations -> stored values ----------------------------------------------------

_SEGMENT = re.compile(r"^(?P<name>[A-Za-z]+)(?:\[(?P<index>\d+)\])?$")
_TAG = re.compile(
    r"^\((?P<group>[0-9A-Fa-f]{4}),(?P<element>[0-9A-Fa-f]{4})\)(?:\[(?P<index>\d+)\])?$"
)


@lru_cache(maxsize=64)
def _bundle_index(path: Path) -> dict[str, dict[str, Any]]:
    bundle = orjson.loads(path.read_bytes())
    return {
        f"{entry['resource']['resourceType']}/{entry['resource']['id']}": entry["resource"]
        for entry in bundle["entry"]
    }


def resolve_fhir(root: Path, entry: PhiEntry) -> str:
    """The text at ``Type/id#path[@start-end]`` in the entry's file."""
    reference, _, path = entry.location.partition("#")
    path, _, span = path.partition("@")
    node: Any = _bundle_index(root / entry.file)[reference]
    for segment in path.split("."):
        match = _SEGMENT.match(segment)
        assert match, f"bad path segment {segment!r} in {entry.location}"
        node = node[match["name"]]
        if match["index"] is not None:
            node = node[int(match["index"])]
    if span:
        start, end = (int(part) for part in span.split("-"))
        text = base64.b64decode(node).decode("utf-8") if path.endswith(".data") else str(node)
        return text[start:end]
    return str(node)


def _element_text(value: Any, codec: str) -> str:
    if isinstance(value, bytes):  # private element without a dictionary entry: read as UN
        return value.decode(codec).rstrip(" \x00")
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return "\\".join(str(item) for item in value)
    return str(value)


def resolve_dicom(root: Path, entry: PhiEntry) -> tuple[Dataset, str | None]:
    """The dataset and the element text at a tag path (None for a pixel box)."""
    dataset = pydicom.dcmread(root / entry.file)
    location = entry.location
    if location.startswith("pixels["):
        return dataset, None
    node: Dataset = dataset
    if location.startswith("meta."):
        node, location = dataset.file_meta, location[len("meta.") :]
    parts = location.split(".")
    value: Any = None
    for position, part in enumerate(parts):
        match = _TAG.match(part)
        assert match, f"bad tag path {entry.location}"
        element = node[int(match["group"], 16) << 16 | int(match["element"], 16)]
        if position < len(parts) - 1:
            node = element.value[int(match["index"] or 0)]
        else:
            value = element.value
    charset = str(dataset.get("SpecificCharacterSet", ""))
    codec = {"ISO_IR 192": "utf-8", "ISO_IR 100": "latin-1"}.get(charset, "ascii")
    return dataset, _element_text(value, codec)
