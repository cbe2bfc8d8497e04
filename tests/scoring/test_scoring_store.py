"""The scoring store keeps each Observation a scoring service ingested once: a worker that
re-runs a dead worker's unfinished batch appends the same rows again, and they must not
count twice (restores, per-patient counts); an updated Observation is kept."""

from __future__ import annotations

from pathlib import Path

from clinflow.scoring.store import ScoringStore

PATIENT = "PT-0123456789abcdef"


def observation(value: float, status: str = "final") -> dict[str, object]:
    return {"resourceType": "Observation", "id": "obs-1", "status": status,
            "subject": {"reference": f"Patient/{PATIENT}"},
            "valueQuantity": {"value": value, "unit": "/min"}}  # fmt: skip


def test_rows_held_already_are_not_stored_again(tmp_path: Path) -> None:
    store = ScoringStore(tmp_path / "scoring.db")
    try:
        first = [(PATIENT, observation(72)), (PATIENT, {**observation(80), "id": "obs-2"})]
        assert store.append(first) == 2
        assert store.append(first) == 0  # the re-run batch
        assert store.append([(PATIENT, observation(72)), (PATIENT, observation(72))]) == 0
        assert store.append([(PATIENT, observation(72, "entered-in-error"))]) == 1
        assert store.append([("PT-fedcba9876543210", observation(72))]) == 1
        assert store.count(PATIENT) == 3
        replayed = [resource for chunk in store.replay() for resource in chunk]
        assert [r["id"] for r in replayed] == ["obs-1", "obs-2", "obs-1", "obs-1"]
        assert [r["status"] for r in replayed][2] == "entered-in-error"
    finally:
        store.close()


def test_a_pipeline_batch_reaches_the_store_at_its_end_and_a_retraction_first_saves_it(
    tmp_path: Path,
) -> None:
    """The pipeline stage defers the store write to its batch end (one transaction); a
    revocation in between must still delete those rows, never leave them to be saved after."""
    from clinflow.interfaces import RetractionRequest
    from clinflow.scoring.service import ScoringService
    from helpers.vitals import PATIENT as VITALS_PATIENT
    from helpers.vitals import later, vital_set

    store = ScoringStore(tmp_path / "scoring.db")
    service = ScoringService(store=store)
    try:
        assert service.ingest_many(vital_set("a"), defer_store=True)
        assert store.count() == 0  # deferred
        assert service.save_remembered() == 7
        assert store.count(VITALS_PATIENT) == 7
        assert service.ingest_many(vital_set("b", when=later(15)), defer_store=True)
        service.retract(RetractionRequest(patient=VITALS_PATIENT, reason="test"))
        assert service.save_remembered() == 0
        assert store.count(VITALS_PATIENT) == 0
        assert service.ingest_many(vital_set("c", when=later(30)))  # the HTTP path: at once
        assert store.count(VITALS_PATIENT) == 7
    finally:
        store.close()


def test_stored_target_leaves_treatment_rows_to_a_research_revocation(tmp_path: Path) -> None:
    """With no scoring service running, the deployment retracts from scoring.db itself: a
    revocation of research (HRESCH) must leave the treatment scores alone, as the running
    service does; a treatment revocation or one of every purpose removes them."""
    from clinflow.interfaces import RetractionRequest
    from clinflow.scoring.policy import load_policy
    from clinflow.scoring.store import StoredScoringTarget

    store = ScoringStore(tmp_path / "scoring.db")
    try:
        store.append([(PATIENT, observation(72)), (PATIENT, {**observation(80), "id": "obs-2"})])
        purposes = load_policy(None).held_purposes()
        assert purposes == {"TREAT"}
        target = StoredScoringTarget(store, purposes)
        research = target.retract(RetractionRequest(PATIENT, purposes=("HRESCH",)))
        assert research.deleted == 0 and store.count(PATIENT) == 2
        treatment = target.retract(RetractionRequest(PATIENT, purposes=("TREAT",)))
        assert treatment.deleted == 2 and store.count(PATIENT) == 0
        store.append([(PATIENT, observation(90))])
        assert target.retract(RetractionRequest(PATIENT)).deleted == 1
    finally:
        store.close()
