"""The mapper's caches (numeric OBX plans, repeated PIDs, race/ethnicity extensions,
identifier types, delimiter sets) never change a result: a message maps to the same FHIR, or
fails with the same reason and location, whether the caches are cold or warm from earlier
messages with the same codes, units and statuses."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.ehr.hl7 import observation_map, parser, patient_map
from clinflow.ehr.hl7.fhir_map import validate_and_map
from clinflow.ehr.hl7.parser import HL7Error

ORU = (
    "MSH|^~\\&|CASCADELIS|CORE-LAB|CLINFLOW|CLINFLOW|20260105063000||ORU^R01|L{n}|P|2.4\r"
    "PID|1||5550{n}^^^CASCADE^MR~pat-{n}^^^CASCADE^PI||Quist^Ona||19610304|F||"
    "2106-3^White^CDCREC\r"
    "PV1|1|I|ICU||||||||||||||||pat-{n}-enc\r"
    "OBR|1|ORD1|LAB-{n}|80048^Chemistry^L|||20260105060000\r"
    "OBX|1|{type}|CREAT^Creatinine^L||{creatinine}|{unit}|||||{status}|||{time}\r"
    "OBX|2|NM|PLT^Platelet count^L||{platelets}|K/uL|||||F|||20260105061500\r"
    "OBX|3|NM|8480-6^^LN||120|mm[Hg]|||||F|||20260105061500\r"
    "OBX|4|NM|8462-4^^LN||{diastolic}|mm[Hg]|||||F|||20260105061500\r"
)


def _cold() -> None:
    observation_map._PLANS.clear()
    patient_map._patients.clear()
    patient_map._OMB_CACHE.clear()
    patient_map._IDENTIFIER_TYPES.clear()
    parser._ENCODINGS.clear()


def _outcome(text: str) -> Any:
    try:
        return orjson.loads(validate_and_map(text).bundle_bytes())
    except HL7Error as error:
        return (error.reason, error.location)


_value = st.sampled_from(["176.8", "95", "", "many", "-3", "1e3", ".5", "٣"])
_fields = st.fixed_dictionaries({
    "type": st.sampled_from(["NM", "SN", "ST", "CWE", ""]),
    "creatinine": _value,
    "unit": st.sampled_from(["umol/L", "mg/dL", "mg%", ""]),
    "status": st.sampled_from(["F", "C", "W", "Q", ""]),
    "time": st.sampled_from(["20260105061500", "", "20261305061500", "202601050615"]),
    "platelets": _value,
    "diastolic": _value,
})  # fmt: skip


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.lists(_fields, min_size=1, max_size=4))
def test_warm_caches_give_what_cold_caches_give(messages: list[dict[str, str]]) -> None:
    texts = [ORU.format(n=number % 2, **fields) for number, fields in enumerate(messages)]
    _cold()
    warm = [_outcome(text) for text in texts]  # each warms the caches for the next
    cold = []
    for text in texts:
        _cold()
        cold.append(_outcome(text))
    assert warm == cold


def test_a_cached_plan_still_checks_each_message_value_and_time() -> None:
    good = {"type": "NM", "creatinine": "176.8", "unit": "umol/L", "status": "F",
            "time": "20260105061500", "platelets": "95", "diastolic": "70"}  # fmt: skip
    _cold()
    mapped = _outcome(ORU.format(n=1, **good))
    values = [e["resource"].get("valueQuantity", {}).get("value") for e in mapped["entry"]]
    assert values[1:3] == [2.0, 95]  # converted from umol/L; K/uL kept as 10*3/uL
    assert observation_map._PLANS  # the creatinine, platelet and BP plans are held
    assert _outcome(ORU.format(n=2, **{**good, "creatinine": "lots"})) == (
        "numeric value expected", "OBX[1]-5"
    )  # fmt: skip
    assert _outcome(ORU.format(n=2, **{**good, "time": "20261305061500"})) == (
        "not a valid HL7 date/time (YYYYMMDD[HHMM[SS]][+ZZZZ])", "OBX[1]-14"
    )  # fmt: skip
    assert _outcome(ORU.format(n=2, **{**good, "diastolic": ""})) == (
        "observation value missing", "OBX[4]-5"
    )  # fmt: skip
