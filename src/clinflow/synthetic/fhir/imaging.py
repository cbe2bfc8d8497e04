"""FHIR ImagingStudy for the DICOM studies a patient got, with its PHI entries.

Built from the ``StudyRecord``s the DICOM generator returns; SOP classes come from the
written files' meta headers (passed in), falling back to the modality's storage class.
"""

from __future__ import annotations

from clinflow.synthetic.fhir.resources import BASE_URL, DCM, V2_0203, PatientFhir, fhir_coding, iso
from clinflow.synthetic.manifest import PhiKind, Subject
from clinflow.synthetic.model import StudyRecord

# Storage SOP classes by modality (PS3.4 Annex B) for ImagingStudy.series.instance.sopClass
SOP_CLASSES = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",
    "MR": "1.2.840.10008.5.1.4.1.1.4",
    "CR": "1.2.840.10008.5.1.4.1.1.1",
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",
    "US": "1.2.840.10008.5.1.4.1.1.6.1",
    "OT": "1.2.840.10008.5.1.4.1.1.7",
}


def imaging_study(
    out: PatientFhir,
    study_id: str,
    encounter_id: str,
    study: StudyRecord,
    sop_classes: dict[str, str] | None = None,
) -> None:
    """ImagingStudy for a written DICOM study; ``sop_classes`` maps SOP instance UID to class."""
    p = out.patient
    r5 = out.version == "R5"

    def modality(code: str) -> dict[str, object]:
        coding: dict[str, object] = {"system": DCM, "code": code}
        return {"coding": [coding]} if r5 else coding

    sop_classes = sop_classes or {}
    series = []
    for s in study.series:
        instances = [
            {
                "uid": uid,
                "sopClass": fhir_coding(
                    "urn:ietf:rfc:3986",
                    "urn:oid:"
                    + sop_classes.get(uid, SOP_CLASSES.get(s.modality, SOP_CLASSES["OT"])),
                ),
                "number": n + 1,
            }
            for n, uid in enumerate(s.instance_uids)
        ]
        entry: dict[str, object] = {
            "uid": s.uid,
            "number": s.number,
            "modality": modality(s.modality),
            "numberOfInstances": len(instances),
            "instance": instances,
        }
        if s.description:
            entry["description"] = s.description
        series.append(entry)
    modalities = sorted({s.modality for s in study.series})
    resource: dict[str, object] = {
        "resourceType": "ImagingStudy",
        "id": study_id,
        "identifier": [
            {"system": "urn:dicom:uid", "value": f"urn:oid:{study.uid}"},
            {
                "type": {"coding": [fhir_coding(V2_0203, "ACSN")]},
                "system": f"{BASE_URL}/sid/accession",
                "value": study.accession_number,
            },
        ],
        "status": "available",
        "modality": [modality(code) for code in modalities],
        "subject": {"reference": f"Patient/{p.fhir_id}"},
        "encounter": {"reference": f"Encounter/{encounter_id}"},
        "started": iso(study.started),
        "numberOfSeries": len(series),
        "numberOfInstances": sum(len(s.instance_uids) for s in study.series),
        "series": series,
    }
    if study.description:
        resource["description"] = study.description
    out.add(resource)
    ref = f"ImagingStudy/{study_id}"
    out.plant(
        ref,
        "identifier[0].value",
        f"urn:oid:{study.uid}",
        PhiKind.UID,
        Subject.PATIENT,
        "study uid",
    )
    out.plant(
        ref,
        "identifier[1].value",
        study.accession_number,
        PhiKind.OTHER_ID,
        Subject.PATIENT,
        "accession",
    )
    out.plant(ref, "started", iso(study.started), PhiKind.DATE, Subject.PATIENT, "study date")
    for s_pos, s in enumerate(study.series):
        out.plant(ref, f"series[{s_pos}].uid", s.uid, PhiKind.UID, Subject.PATIENT, "series uid")
        for i_pos, uid in enumerate(s.instance_uids):
            out.plant(
                ref,
                f"series[{s_pos}].instance[{i_pos}].uid",
                uid,
                PhiKind.UID,
                Subject.PATIENT,
                "sop instance uid",
            )
