"""No identifier a caller sends ever comes back in an error: every route of every app (the
audit API, the scoring service, both ``serve all`` apps), as every kind of caller, is sent
planted identifiers (a name, an MRN, a date of birth, a phone number) in its path parameters,
its query string and malformed or mistyped JSON bodies; no 4xx/5xx body holds any of them.

The figures (probes, error answers, answers holding a planted value) go to
``CLINFLOW_RELIABILITY_OUT`` for docs/reliability.md (issue 13: "PHI found in any ... error
body").
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson

from clinflow.api.access import endpoints
from helpers.asgi import call

from .helpers import ALICE, report_figures

NAME, GIVEN, MRN, BIRTH, PHONE = "Lindqvist", "Maren", "MRN4417729", "1947-03-12", "6175550143"
PLANTED = (NAME, GIVEN, MRN, BIRTH, PHONE)
CALLERS = (None, "auditor", "privacy_officer", "patient", "scoring", "deployment", "service")
PARAMS = {"patient": MRN, "index": MRN, "alert_id": f"{NAME}-{MRN}", "study": f"{NAME}-{MRN}"}
VALID_PARAMS = {"patient": ALICE, "index": "0", "alert_id": "alert-unknown", "study": "1.2.3"}
QUERY = (f"patient={MRN}&after={NAME}&since={BIRTH}&until={quote(GIVEN)}&limit={PHONE}"
         f"&purpose={NAME}&q={MRN}&cursor={NAME}")  # fmt: skip
OBSERVATION = {
    "resourceType": "Observation", "id": MRN, "status": NAME,
    "subject": {"reference": f"Patient/{MRN}", "display": f"{GIVEN} {NAME}"},
    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
    "effectiveDateTime": f"{BIRTH}T08:00:00Z", "valueQuantity": {"value": PHONE, "unit": NAME},
}  # fmt: skip
BODIES = (
    orjson.dumps({"patient": MRN, "name": f"{GIVEN} {NAME}", "birthDate": BIRTH,
                  "purposes": [NAME], "reason": MRN, "acknowledged_by": PHONE}),  # fmt: skip
    orjson.dumps(OBSERVATION),
    orjson.dumps({"resourceType": "Bundle", "type": NAME, "entry": [{"resource": OBSERVATION}]}),
    orjson.dumps({"respiratory_rate": NAME, "spo2": MRN, "heart_rate": PHONE, "age": BIRTH,
                  "patient_id": MRN}),  # fmt: skip
    orjson.dumps([MRN, NAME]),
    f'{{"patient": "{MRN}", "name": "{NAME}'.encode(),  # cut short: not JSON
)


def _leaks(body: bytes) -> list[str]:
    folded = body.decode("utf-8", "replace").casefold()
    return [value for value in PLANTED if value.casefold() in folded]


def test_no_error_body_echoes_an_identifier_the_caller_sent(apps: Any) -> None:
    access, found = apps
    probes, errors, leaking = 0, 0, []
    for name, (_table, app, fastapi) in found.items():
        for method, template, params in (
            (method, template, params)
            for method, template in endpoints(fastapi.routes)
            for params in (PARAMS, VALID_PARAMS)  # refused at the path, and past it
        ):
            path = template.format(**{k: v for k, v in params.items() if k in template})
            bodies = BODIES if method in ("POST", "PUT", "PATCH") else (b"",)
            for caller in CALLERS:
                headers = [*access.headers(caller).items(), ("content-type", "application/json")]
                for body in bodies:
                    answer = call(app, method, path, headers=headers, query=QUERY,
                                  chunks=[body] if body else ())  # fmt: skip
                    probes += 1
                    if answer.status < 400:
                        continue
                    errors += 1
                    if _leaks(answer.body):
                        leaking.append(f"{name} {method} {template} as {caller}: "
                                       f"{answer.status} echoes {_leaks(answer.body)}")  # fmt: skip
    report_figures("error_bodies", {"probes": probes, "error_answers": errors,
                                    "echoing_a_planted_value": len(leaking)})  # fmt: skip
    assert errors > probes // 2  # most of these requests are refused: the check saw them
    assert leaking == []
