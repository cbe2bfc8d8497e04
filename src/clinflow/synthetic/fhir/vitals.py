"""Vital-sign Observations on the hot path: pre-serialized JSON templates, filled per value.

~6.7 million Observations for 10,000 patients rule out building a model object per resource.
Each vital has one template, serialized once with orjson from a real dict (so it is valid JSON
by construction), with ``%s`` holes for the id, time and value(s); a patient fills in subject
and encounter once, then every Observation is one ``%`` format. Codes and units follow the FHIR
vital-signs profile (LOINC, UCUM) as listed in /work/shared/REFERENCE.md; ACVPU uses the
SNOMED CT observable from the NHS NEWS2 FHIR guidance.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache

import orjson

from clinflow.synthetic.fhir.resources import iso
from clinflow.synthetic.vitals import VitalSet

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
_CATEGORY = [
    {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                "code": "vital-signs",
            }
        ]
    }
]
# ACVPU findings (SNOMED CT, NHS NEWS2 FHIR guidance); the text carries the ACVPU letter.
ACVPU_CODES = {
    "A": ("248234008", "Mentally alert"),
    "C": ("1104081000000107", "New confusion"),
    "V": ("300202002", "Responds to voice"),
    "P": ("450847001", "Responds to pain"),
    "U": ("422768004", "Unresponsive"),
}

_ID, _AT, _VALUE, _VALUE2 = "@@ID@@", "@@AT@@", "@@VALUE@@", "@@VALUE2@@"
_PATIENT, _ENCOUNTER = "@@PATIENT@@", "@@ENCOUNTER@@"


def _quantity(value: str, unit: str) -> dict[str, object]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _code(*codings: tuple[str, str, str]) -> dict[str, object]:
    # Display only where it is short and adds something: bytes matter at 6.7M Observations.
    return {
        "coding": [
            {"system": s, "code": c, "display": d} if d else {"system": s, "code": c}
            for s, c, d in codings
        ]
    }


# key -> (code element, value part); the value part is merged into the Observation.
_VITALS: dict[str, tuple[dict[str, object], dict[str, object]]] = {
    "hr": (_code((LOINC, "8867-4", "Heart rate")), {"valueQuantity": _quantity(_VALUE, "/min")}),
    "rr": (
        _code((LOINC, "9279-1", "Respiratory rate")),
        {"valueQuantity": _quantity(_VALUE, "/min")},
    ),
    "spo2": (
        _code(
            (LOINC, "2708-6", "Oxygen saturation"),
            (LOINC, "59408-5", ""),
        ),
        {"valueQuantity": _quantity(_VALUE, "%")},
    ),
    "bp": (
        _code((LOINC, "85354-9", "Blood pressure panel")),
        {
            "component": [
                {
                    "code": _code((LOINC, "8480-6", "Systolic blood pressure")),
                    "valueQuantity": _quantity(_VALUE, "mm[Hg]"),
                },
                {
                    "code": _code((LOINC, "8462-4", "Diastolic blood pressure")),
                    "valueQuantity": _quantity(_VALUE2, "mm[Hg]"),
                },
            ]
        },
    ),
    "temp": (
        _code((LOINC, "8310-5", "Body temperature")),
        {"valueQuantity": _quantity(_VALUE, "Cel")},
    ),
    "acvpu": (
        _code(
            (SNOMED, "1104441000000107", "ACVPU (Alert Confusion Voice Pain Unresponsive) scale")
        ),
        {"valueCodeableConcept": _VALUE},
    ),
    "o2": (
        _code((LOINC, "3151-8", "Inhaled oxygen flow rate")),
        {"valueQuantity": _quantity(_VALUE, "L/min")},
    ),
}
VITAL_KEYS = tuple(_VITALS)


@cache
def _template(key: str) -> str:
    code, value_part = _VITALS[key]
    resource: dict[str, object] = {
        "resourceType": "Observation",
        "id": _ID,
        "status": "final",
        "category": _CATEGORY,
        "code": code,
        "subject": {"reference": _PATIENT},
        "encounter": {"reference": _ENCOUNTER},
        "effectiveDateTime": _AT,
        **value_part,
    }
    text = orjson.dumps(resource).decode().replace("%", "%%")
    text = text.replace(f'"{_VALUE}"', "%s").replace(f'"{_VALUE2}"', "%s")
    return text.replace(_ID, "%s").replace(_AT, "%s")


@cache
def _acvpu_value(letter: str) -> str:
    code, display = ACVPU_CODES[letter]
    return orjson.dumps(
        {"coding": [{"system": SNOMED, "code": code, "display": display}], "text": letter}
    ).decode()


@lru_cache(maxsize=65_536)
def _timestamp(moment: datetime) -> str:
    # Patients share charting times (admissions are on the interval grid): cache the strings.
    return iso(moment)


_KEYS_OF_VALUES = {
    "hr": ("hr",),
    "rr": ("rr",),
    "spo2": ("spo2",),
    "bp": ("sbp", "dbp"),
    "temp": ("temp",),
    "acvpu": ("acvpu",),
    "o2": ("o2",),
}


@cache
def _block_templates() -> tuple[str, str]:
    """Templates for one charting time: 7 ndjson lines, and the same 7 as Bundle entries.

    Holes are named (``%(s)s`` the id stem, ``%(t)s`` the time, one per value, ``%(p)s`` and
    ``%(e)s`` the subject and encounter references), so a time point is two ``%`` operations
    on one dict instead of fourteen, and no per-patient copy of the templates is kept.
    """
    lines, entries = [], []
    for key in VITAL_KEYS:
        text = _template(key).replace("%s", "\x00")
        holes = ["%(s)s-" + key, "%(t)s", *(f"%({name})s" for name in _KEYS_OF_VALUES[key])]
        for hole in holes:
            text = text.replace("\x00", hole, 1)
        text = text.replace(_PATIENT, "%(p)s").replace(_ENCOUNTER, "%(e)s")
        lines.append(text)
        entries.append(
            '{"fullUrl":"https://clinflow.example/fhir/Observation/%(s)s-' + key + '",'
            '"resource":' + text + ',"request":{"method":"PUT","url":"Observation/%(s)s-'
            + key + '"}}'
        )
    return "\n".join(lines), ",".join(entries)


@dataclass(frozen=True, slots=True)
class VitalBlock:
    """One charting time's 7 Observations; ``lines`` and ``entries`` are formatted on demand
    (the stream only needs the lines)."""

    point: int  # 0-based charting time of the patient
    at: str  # effectiveDateTime of all 7
    stem: str  # Observation ids are ``<stem>-<key>`` for key in VITAL_KEYS
    first_of_day: bool  # the manifest records the first Observation of each day
    values: dict[str, object]  # the templates' holes

    @property
    def ids(self) -> tuple[str, ...]:
        """The Observation ids, in the order of ``lines``."""
        return tuple(f"{self.stem}-{key}" for key in VITAL_KEYS)

    @property
    def first_id(self) -> str:
        """The id of the first Observation (heart rate): the one the manifest names."""
        return f"{self.stem}-{VITAL_KEYS[0]}"

    @property
    def lines(self) -> str:
        """The 7 resources as ndjson lines, newline-joined."""
        return _block_templates()[0] % self.values

    @property
    def entries(self) -> str:
        """The same 7 as Bundle entries, comma-joined."""
        return _block_templates()[1] % self.values


def vital_blocks(
    patient_id: str, encounter_id: str, vitals: Iterable[VitalSet]
) -> Iterator[VitalBlock]:
    """One ``VitalBlock`` per vital set, lazily (the timed stream asks for one at a time)."""
    subject, encounter = f"Patient/{patient_id}", f"Encounter/{encounter_id}"
    last_day = ""
    for point, vs in enumerate(vitals):
        at = _timestamp(vs.at)
        stem = f"{patient_id}-v{point:04d}"
        first_of_day = at[:10] != last_day
        last_day = at[:10]
        values = {
            "s": stem,
            "t": at,
            "p": subject,
            "e": encounter,
            "hr": vs.heart_rate,
            "rr": vs.respiratory_rate,
            "spo2": vs.spo2,
            "sbp": vs.systolic,
            "dbp": vs.diastolic,
            "temp": vs.temperature,
            "acvpu": _acvpu_value(vs.acvpu),
            "o2": vs.o2_flow,
        }
        yield VitalBlock(point, at, stem, first_of_day, values)


def vital_observations(
    patient_id: str,
    encounter_id: str,
    vitals: Iterable[VitalSet],
    lines: list[str],
    entries: list[str],
) -> tuple[int, list[tuple[str, str]]]:
    """Append Observation JSON to ``lines`` and Bundle entries to ``entries``.

    Each appended item holds one charting time's 7 Observations (newline-joined in ``lines``,
    comma-joined in ``entries``), so joining the lists with "\n" and "," gives valid ndjson
    and Bundle entries. Returns the Observation count and, per calendar day, the (id,
    effectiveDateTime) of its first Observation, which the manifest records (docs/adr/0002).
    """
    day_firsts: list[tuple[str, str]] = []
    count = 0
    for block in vital_blocks(patient_id, encounter_id, vitals):
        if block.first_of_day:
            day_firsts.append((block.first_id, block.at))
        lines.append(block.lines)
        entries.append(block.entries)
        count += len(VITAL_KEYS)
    return count, day_firsts

