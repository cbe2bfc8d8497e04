"""A generated cohort's raw inputs carry one PHI-free route per patient, so on Kafka a
patient's Bundle (with its Consents) and its DICOM files go to one entry partition in the
order ``cohort_inputs`` gives (Bundle first), as the embedded runtime's one queue has them."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from clinflow.envelope import SourceKind
from clinflow.runtime.ingest import route_key
from clinflow.runtime.pipeline import (
    DEMO_SCENARIO,
    cohort_inputs,
    cohort_route,
    plant_bad_inputs,
    raw_envelope,
)
from clinflow.synthetic.generator import GenerateOptions, generate
from clinflow.synthetic.scenario import load_scenario


def test_a_patient_s_bundle_and_images_share_one_route_and_the_bundle_comes_first(
    tmp_path: Path,
) -> None:
    cohort = tmp_path / "cohort"
    generate(GenerateOptions(patients=3, seed=12, out=cohort,
                             scenario=load_scenario(DEMO_SCENARIO), workers=1))  # fmt: skip
    plant_bad_inputs(cohort)
    inputs = [raw_envelope(location, data, kind) for location, data, kind in cohort_inputs(cohort)]

    kinds_by_route: dict[str, list[SourceKind]] = defaultdict(list)
    for envelope in inputs:
        kinds_by_route[route_key(envelope)].append(envelope.source)
    routed = {key: kinds for key, kinds in kinds_by_route.items() if key.startswith("r-")}
    assert len(routed) == 3  # one per patient
    assert any(SourceKind.DICOM in kinds for kinds in routed.values())
    for kinds in routed.values():
        assert kinds[0] is SourceKind.FHIR and kinds.count(SourceKind.FHIR) == 1
    # The planted bad inputs belong to no patient: keyed by their message id.
    unrouted = [e for e in inputs if "route" not in e.attributes]
    assert sorted(e.attributes["path"] for e in unrouted) == [
        "dicom/zz-corrupt/1.dcm", "fhir/bundles/zz-truncated.json"
    ]
    assert all(route_key(e) == e.message_id for e in unrouted)


def test_the_route_names_no_one() -> None:
    route = cohort_route("dicom/p000007/st00/se01/1.dcm")
    assert route == cohort_route("fhir/bundles/pat-000007.json")
    assert route is not None and route.startswith("r-") and "000007" not in route
    assert cohort_route("fhir/ndjson/Patient.ndjson") is None
