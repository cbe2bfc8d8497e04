"""A full revocation purges and shreds the patient's quarantined inputs, including those that were
quarantined before their patient was known (issue 13 finding 5)."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest

from clinflow.consent.service import ConsentService
from clinflow.deid.dicom.batch import deidentify_tree
from clinflow.deid.dicom.engine import DicomDeidentifier
from clinflow.deid.dicom.profile import compile_policy
from clinflow.errors import KeyError_
from clinflow.interfaces import Rejection
from clinflow.quarantine import QUARANTINE_SCOPE

SAMPLE_DICOM = sorted((Path(__file__).parents[2] / "synthetic/sample/dicom").rglob("*.dcm"))


def test_full_revocation_purges_quarantined_inputs_found_by_deid_and_linked_later(
    service: ConsentService, tmp_path: Path
) -> None:
    quarantine = service.quarantine
    pseudonymizer = service.pseudonymizer
    first = SAMPLE_DICOM[0].read_bytes()
    mrn = str(pydicom.dcmread(SAMPLE_DICOM[0], stop_before_pixels=True).PatientID)
    patient = pseudonymizer.patient_pseudonym(mrn)
    # 1. de-identification rejects a truncated file: the quarantine item carries its patient
    source = tmp_path / "in"
    source.mkdir()
    (source / "cut.dcm").write_bytes(first[: len(first) // 2])
    engine = DicomDeidentifier(compile_policy(), pseudonymizer)
    report = deidentify_tree(source, tmp_path / "out", engine, quarantine, None)
    (rejected,) = report.rejected
    assert quarantine.get(rejected.quarantine_id).patient == patient  # type: ignore[arg-type,union-attr]
    # 2. an input held before its patient was known (e.g. refused at ingest)
    unknown = quarantine.put(
        Rejection("ingest", "message m-1", "refused before de-identification", payload=first)
    )
    assert quarantine.get(unknown).patient is None  # type: ignore[union-attr]
    sealed_copy = quarantine._row(rejected.quarantine_id).payload  # type: ignore[union-attr]
    other = quarantine.put(Rejection("ingest", "message m-2", "bad", b"{}"))  # no patient to find
    receipt = service.revoke(patient)  # every revocable purpose
    action = {a.target: a for a in receipt.actions}["quarantine"]
    assert action.deleted == 2 and action.error is None
    assert action.details == ("linked 1 item(s) held without a patient first",)
    assert [item.id for item in quarantine.list()] == [other]
    (shredded,) = [k for k in service.datakeys.keys(patient) if k.scope == QUARANTINE_SCOPE]
    assert shredded.destroyed is not None
    assert (shredded.key_id, QUARANTINE_SCOPE) in {(k.key_id, k.scope)
                                                   for k in receipt.keys_destroyed}
    with pytest.raises(KeyError_, match="destroyed"):  # a copy taken before (backup, WAL)
        service.datakeys.open(bytes(sealed_copy))  # type: ignore[arg-type]
