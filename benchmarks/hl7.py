#!/usr/bin/env python3
"""HL7 v2 parser benchmark: clinflow's own parser side by side with the libraries and a floor.

The same 9-segment ORU^R01 vitals messages (MSH, PID, PV1, OBR, 5 OBX: heart rate,
respiratory rate, SpO2, systolic and diastolic pressure) from clinflow's generator (distinct
MSH-10 and OBR-3 each), one core, one process, measured in one run:

- ``clinflow``: parse + validate + map to FHIR R4 (Patient + Observations, blood pressure as
  one panel) + serialize the Bundle (orjson): what the MLLP listener does per message;
- ``clinflow_parse``: parse only, every field split down to subcomponents (``Segment.tree``);
- ``python_hl7``: ``hl7.parse`` (python-hl7 0.4.5);
- ``hl7apy``: ``hl7apy.parser.parse_message`` with its validation (STRICT when the messages
  pass it, else TOLERANT; which one is reported), on fewer messages (it is slow);
- ``floor``: a bare ``str.split`` of segments and fields.

Each figure is the best of ``--repeats`` passes (messages per second). Prints ONE JSON line
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


def rate(work: Callable[[str], Any], texts: list[str], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for text in texts:
            work(text)
        best = min(best, time.perf_counter() - started)
    return len(texts) / best


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
    figures: dict[str, Any] = {
        "clinflow": rate(clinflow_full, texts, args.repeats),
        "clinflow_parse": rate(clinflow_parse, texts, args.repeats),
        "floor": rate(floor, texts, args.repeats),
    }
    try:
        import hl7

        figures["python_hl7"] = rate(hl7.parse, texts, args.repeats)
    except ImportError:
        figures["python_hl7"] = None
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
            figures["hl7apy"] = rate(
                lambda t, level=level: parse_message(t, validation_level=level), few, 2
            )
            hl7apy_mode = name
            break
    except ImportError:
        pass
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
