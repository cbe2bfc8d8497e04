#!/usr/bin/env python3
"""HL7 v2 parser benchmark: clinflow's own parser side by side with the libraries and a floor.

The same 9-segment ORU^R01 vitals messages (MSH, PID, PV1, OBR, 5 OBX: heart rate,
respiratory rate, SpO2, systolic and diastolic pressure) from clinflow's generator (distinct
MSH-10 and OBR-3 each), one core, one process, measured in one run:

- ``clinflow``: parse + validate + map to FHIR R4 (Patient + Observations, blood pressure as
  one panel) + serialize the Bundle (orjson): what the MLLP listener does per message; the
  messages are 4 patients' charting times, so PIDs repeat as in a monitor feed (the mapper
  maps a repeated PID once);
- ``clinflow_one_patient_each``: the same with a new patient (MRN) in every message;
- ``clinflow_labs_one_patient_each``: 10-segment ORU^R01 lab results in the ``cascade-lab``
  dialect (MSH, PID, PV1, OBR, ZLR, 5 OBX: lactate, creatinine and bilirubin in umol/L
  converted to mg/dL, leukocytes and platelets in K/uL; local time), a new patient each;
- ``clinflow_parse``: parse only, every field split down to subcomponents (``Segment.tree``);
- ``python_hl7``: ``hl7.parse`` (python-hl7 0.4.5);
- ``hl7apy``: ``hl7apy.parser.parse_message`` with its validation (STRICT when the messages
  pass it, else TOLERANT; which one is reported), on fewer messages (it is slow);
- ``floor``: a bare ``str.split`` of segments and fields.

Each figure is messages per CPU second of this process (``time.process_time``: per core, and
much less moved than wall time by other work on a shared machine), the best of ``--repeats``
passes, the passes of all contenders interleaved. Prints ONE JSON line
with the ratios to clinflow. A shared machine's load changes the absolute figures, less the
ratios: the load average is printed too.

    python benchmarks/hl7.py [--messages 3000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from itertools import islice
from typing import Any


def messages(count: int) -> list[str]:
    from clinflow.config import scenarios_dir
    from clinflow.ehr.hl7.emit import cohort_messages
    from clinflow.ehr.hl7.profiles import vendor_profile
    from clinflow.synthetic.scenario import load_scenario
    from clinflow.synthetic.stream import StreamOptions

    scenario = load_scenario(scenarios_dir() / "demo.yaml").model_copy(
        update={"imaging_fraction": 0.0}
    )
    options = StreamOptions(patients=4, seed=7, scenario=scenario)
    feed = (text for _, text in cohort_messages(options, vendor_profile("standard")))
    templates = [t for t in islice(feed, 400) if "|ORU^R01^" in t.split("\r", 1)[0]]
    out = []
    for number in range(count):
        segments = templates[number % len(templates)].rstrip("\r").split("\r")
        head, obx = segments[:4], [s for s in segments if s.startswith("OBX|")][:5]
        msh = head[0].split("|")
        msh[9] = f"BENCH{number:08d}"
        head[0] = "|".join(msh)
        head[3] = head[3].replace("OBR|1||", f"OBR|1||b{number}-", 1)
        out.append("\r".join(head + obx) + "\r")
    assert all(len(m.rstrip("\r").split("\r")) == 9 for m in out)
    return out


def lab_messages(count: int) -> list[str]:
    """``count`` cascade-lab ORU^R01 lab messages, each with its own MSH-10, OBR-3 and
    patient (MRN), from the generator's icu-labs cohort."""
    from clinflow.config import scenarios_dir
    from clinflow.ehr.hl7.emit import cohort_messages
    from clinflow.ehr.hl7.profiles import vendor_profile
    from clinflow.synthetic.scenario import load_scenario
    from clinflow.synthetic.stream import StreamOptions

    scenario = load_scenario(scenarios_dir() / "icu-labs.yaml").model_copy(
        update={"imaging_fraction": 0.0, "vitals_hours": 12.0}
    )
    options = StreamOptions(patients=4, seed=7, scenario=scenario)
    feed = (text for _, text in cohort_messages(options, vendor_profile("cascade-lab")))
    templates = [t for t in feed if "|ORU^R01^" in t.split("\r", 1)[0] and "\rZLR|" in t]
    out = []
    for number in range(count):
        segments = templates[number % len(templates)].rstrip("\r").split("\r")
        msh = segments[0].split("|")
        msh[9] = f"LAB{number:08d}"
        segments[0] = "|".join(msh)
        pid = segments[1].split("|")
        pid[3] = f"{80000000 + number}^^^CLINFLOW^MR"
        segments[1] = "|".join(pid)
        segments[3] = segments[3].replace("OBR|1||", f"OBR|1||b{number}-", 1)
        out.append("\r".join(segments) + "\r")
    assert all(len(m.rstrip("\r").split("\r")) == 10 for m in out)
    return out


def one_patient_each(texts: list[str]) -> list[str]:
    """The same messages, each for a patient of its own (a new MRN in PID-3): the mapper's
    cache of recently seen PIDs never hits (a monitor feed repeats each patient's PID)."""
    out = []
    for number, text in enumerate(texts):
        segments = text.split("\r")
        fields = segments[1].split("|")
        assert fields[0] == "PID"
        fields[3] = f"{90000000 + number}^^^CLINFLOW^MR"
        segments[1] = "|".join(fields)
        out.append("\r".join(segments))
    return out


def rates(
    contenders: dict[str, tuple[Callable[[str], Any], list[str]]], repeats: int
) -> dict[str, float]:
    """Messages per second of each contender: the best of ``repeats`` passes, the passes
    interleaved (one of each per round) so a burst of load from elsewhere hits all alike."""
    best = dict.fromkeys(contenders, float("inf"))
    for _ in range(repeats):
        for name, (work, texts) in contenders.items():
            started = time.process_time()
            for text in texts:
                work(text)
            best[name] = min(best[name], time.process_time() - started)
    return {name: len(contenders[name][1]) / best[name] for name in contenders}


def _library_path() -> None:
    """This file is named ``hl7.py``: keep its folder off ``sys.path`` so that ``import hl7``
    finds python-hl7, not this script."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]


def main(argv: list[str] | None = None) -> int:
    _library_path()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--hl7apy-messages", type=int, default=200)
    args = parser.parse_args(argv)

    import orjson

    from clinflow.ehr.hl7.fhir_map import validate_and_map
    from clinflow.ehr.hl7.parser import parse

    texts = messages(args.messages)

    def clinflow_full(text: str) -> bytes:
        return orjson.dumps(validate_and_map(text).bundle())

    def clinflow_parse(text: str) -> object:
        return [segment.tree() for segment in parse(text)]

    def floor(text: str) -> object:
        return [segment.split("|") for segment in text.split("\r")]

    # what the timed mapping makes: Patient, heart rate, respiratory rate, SpO2, BP panel
    bundle = orjson.loads(clinflow_full(texts[0]))
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    contenders: dict[str, tuple[Callable[[str], Any], list[str]]] = {
        "clinflow": (clinflow_full, texts),
        "clinflow_one_patient_each": (clinflow_full, one_patient_each(texts)),
        "clinflow_labs_one_patient_each": (clinflow_full, lab_messages(args.messages)),
        "clinflow_parse": (clinflow_parse, texts),
        "floor": (floor, texts),
    }
    try:
        import hl7

        contenders["python_hl7"] = (hl7.parse, texts)
    except ImportError:
        pass
    hl7apy_mode = None
    try:
        from hl7apy.consts import VALIDATION_LEVEL
        from hl7apy.parser import parse_message

        few = texts[: args.hl7apy_messages]
        for level, name in ((VALIDATION_LEVEL.STRICT, "strict"),
                            (VALIDATION_LEVEL.TOLERANT, "tolerant")):  # fmt: skip
            try:
                parse_message(few[0], validation_level=level)
            except Exception:  # noqa: BLE001 - its validation refused: try the next level
                continue
            contenders["hl7apy"] = (
                lambda t, level=level: parse_message(t, validation_level=level),
                few,
            )
            hl7apy_mode = name
            break
    except ImportError:
        pass
    figures: dict[str, Any] = dict(rates(contenders, args.repeats))
    figures.setdefault("python_hl7", None)
    figures.setdefault("hl7apy", None)
    base = figures["clinflow"]
    result = {
        "benchmark": "hl7v2",
        "messages": len(texts),
        "segments_per_message": 9,
        "mapped_resources": kinds,
        "msg_per_s": {k: round(v) if v else None for k, v in figures.items()},
        "clinflow_vs": {k: round(base / v, 2) for k, v in figures.items() if v and k != "clinflow"},
        "hl7apy_validation": hl7apy_mode,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
