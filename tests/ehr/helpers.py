"""Helpers for the HL7 v2 tests: generated ORU^R01 messages, the MSA of an answer."""

from __future__ import annotations

from clinflow.config import scenarios_dir
from clinflow.ehr.hl7.emit import cohort_messages
from clinflow.ehr.hl7.parser import parse
from clinflow.ehr.hl7.profiles import vendor_profile
from clinflow.synthetic.scenario import load_scenario
from clinflow.synthetic.stream import StreamOptions


def oru_messages(patients: int, vendor: str) -> list[str]:
    scenario = load_scenario(scenarios_dir() / "demo.yaml").model_copy(
        update={"vitals_hours": 6.0, "imaging_fraction": 0.0}
    )
    options = StreamOptions(patients=patients, seed=5, scenario=scenario)
    texts = (t for _, t in cohort_messages(options, vendor_profile(vendor)))
    return [t for t in texts if "|ORU^R01^" in t.split("\r", 1)[0]]


def msa(answer: bytes) -> tuple[str, str, str]:
    segment = parse(answer).first("MSA")
    assert segment is not None
    return segment.value(1), segment.value(2), segment.value(3)
