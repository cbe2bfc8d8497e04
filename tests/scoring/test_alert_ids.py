"""Alert ids name an alert the same way in every process that scores the same readings, and
never name two alerts: Kafka workers each hold some patients (a process-wide counter gave
every worker's first alert the id ``alert-1``)."""

from __future__ import annotations

from clinflow.scoring.alerts import AlertEngine, AlertPolicy, alert_id
from clinflow.scoring.news2 import News2Result, score_news2
from clinflow.scoring.vitals import Reading
from helpers.vitals import PATIENT, later

from .helpers import readings

OTHER = "PT-fedcba9876543210"


def medium_at(minutes: float) -> News2Result:
    """NEWS2 5 (medium band) at ``later(minutes)``."""
    when = later(minutes)
    data = {parameter: Reading(parameter, reading.value, when, f"{reading.source_id}-{minutes}")
            for parameter, reading in readings(rr=22, hr=111, spo2=95).items()}  # fmt: skip
    return score_news2(data, when)


def raised(engine: AlertEngine, patient: str, minutes: list[float]) -> list[str]:
    alerts = [engine.evaluate(patient, medium_at(m)) for m in minutes]
    return [alert.alert_id for alert in alerts if alert is not None]


def test_two_engines_holding_different_patients_never_share_an_id() -> None:
    first_worker, second_worker = AlertEngine(), AlertEngine()
    ids = raised(first_worker, PATIENT, [0]) + raised(second_worker, OTHER, [0])
    assert len(ids) == 2 and len(set(ids)) == 2
    assert all(i.startswith("alert-") for i in ids)


def test_ids_depend_on_the_patient_s_readings_not_on_what_else_was_scored() -> None:
    alone = AlertEngine()
    busy = AlertEngine()
    raised(busy, OTHER, [0, 5])  # another patient scored first in this process
    assert raised(alone, PATIENT, [0]) == raised(busy, PATIENT, [0])
    assert alone.alerts(PATIENT)[0].alert_id == alert_id(PATIENT, later(0), 1)


def test_every_alert_of_a_patient_gets_its_own_id_also_at_one_time() -> None:
    engine = AlertEngine(AlertPolicy.naive())  # alerts on every reading, even repeated ones
    ids = raised(engine, PATIENT, [0, 0, 10])
    assert len(ids) == 3 and len(set(ids)) == 3
    engine.forget_alert(ids[0])  # a retraction does not free a number for reuse
    assert raised(engine, PATIENT, [20])[0] not in ids
    assert engine.acknowledge(ids[1], "charge-nurse", later(30)).acknowledged_by == "charge-nurse"
