"""Data use agreements as data: the release rule (hypothesis) and malformed files."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.consent.dua import (
    DATA_CLASSES,
    AgreementSet,
    DataUseAgreement,
    DeidLevel,
    Period,
    classes_of_categories,
    load_agreement,
    load_agreements,
)
from clinflow.consent.retention import load_retention
from clinflow.errors import PolicyError

CLASSES = sorted(DATA_CLASSES)
QUERY_CLASSES = [*CLASSES, "imaging:CT", "imaging:MR", "imaging:US"]
PURPOSES = ["HRESCH", "PUBHLTH", "HOPERAT"]
DAY0 = date(2026, 1, 1)

GOOD = """\
id: {id}
recipient: Organization/example-university
purposes: [HRESCH]
data_classes: [vitals, notes, imaging]
modalities: [CT]
deidentification: limited_data_set
period: {{start: 2026-01-01, end: 2027-03-31}}
reidentification_keys: false
"""


@st.composite
def agreements(draw: st.DrawFn, index: int) -> DataUseAgreement:
    start = DAY0 + timedelta(days=draw(st.integers(0, 400)))
    classes = draw(st.lists(st.sampled_from(CLASSES), min_size=1, max_size=4, unique=True))
    modalities: list[str] = []
    if "imaging" in classes:
        modalities = draw(st.lists(st.sampled_from(["CT", "MR"]), unique=True, max_size=2))
    return DataUseAgreement(
        id=f"dua-{index}",
        recipient="Organization/r",
        purposes=tuple(draw(st.lists(st.sampled_from(PURPOSES), min_size=1, unique=True))),
        data_classes=tuple(classes),
        modalities=tuple(modalities),
        deidentification=draw(st.sampled_from(list(DeidLevel))),
        period=Period(start=start, end=start + timedelta(days=draw(st.integers(0, 400)))),
    )


@st.composite
def agreement_sets(draw: st.DrawFn) -> tuple[DataUseAgreement, ...]:
    count = draw(st.integers(0, 4))
    return tuple(draw(agreements(index)) for index in range(count))


def satisfies(a: DataUseAgreement, purpose: str, classes: list[str], when: datetime,
              held: DeidLevel) -> bool:  # fmt: skip
    """The rule, written independently: purpose, a covered class, in force, level."""
    day = when.date()
    covered = False
    for data_class in classes:
        base, _, modality = data_class.partition(":")
        if base in a.data_classes and (
            base != "imaging" or not a.modalities or modality in a.modalities
        ):
            covered = True
    return (
        purpose in a.purposes
        and covered
        and a.period.start <= day <= a.period.end
        and (held is DeidLevel.SAFE_HARBOR or a.deidentification is DeidLevel.LIMITED_DATA_SET)
    )


queries = st.tuples(
    st.sampled_from(PURPOSES),
    st.lists(st.sampled_from(QUERY_CLASSES), max_size=3, unique=True),
    st.integers(0, 900).map(lambda d: datetime(2026, 1, 1, 12, tzinfo=UTC) + timedelta(days=d)),
    st.sampled_from(list(DeidLevel)),
)


@settings(max_examples=150, deadline=None)
@given(agreement_sets(), queries)
def test_release_permitted_exactly_when_one_agreement_satisfies_everything(
    pool: tuple[DataUseAgreement, ...], query: tuple[str, list[str], datetime, DeidLevel]
) -> None:
    purpose, classes, when, held = query
    decision = AgreementSet(pool).decide(purpose, classes, when, held=held)
    expected = [a.id for a in sorted(pool, key=lambda a: a.id)
                if satisfies(a, purpose, classes, when, held)]  # fmt: skip
    assert decision.permitted == bool(expected)
    if decision.permitted:
        assert decision.agreement_id == expected[0]
        assert decision.covered and decision.covered <= set(classes)
    else:
        assert decision.agreement_id is None and decision.reason
        assert decision.code != "permitted"


@settings(max_examples=100, deadline=None)
@given(agreement_sets(), agreement_sets(), queries)
def test_more_agreements_never_take_a_permit_away_and_order_does_not_matter(
    pool: tuple[DataUseAgreement, ...],
    extra: tuple[DataUseAgreement, ...],
    query: tuple[str, list[str], datetime, DeidLevel],
) -> None:
    purpose, classes, when, held = query
    renamed = tuple(a.model_copy(update={"id": f"x{a.id}"}) for a in extra)
    before = AgreementSet(pool).decide(purpose, classes, when, held=held)
    after = AgreementSet(pool + renamed).decide(purpose, classes, when, held=held)
    reverse = AgreementSet(tuple(reversed(pool + renamed))).decide(purpose, classes, when,
                                                                   held=held)  # fmt: skip
    assert after == reverse
    if before.permitted:
        assert after.permitted


def test_expired_agreement_says_so() -> None:
    pool = AgreementSet(
        (
            DataUseAgreement(
                id="dua-a", recipient="r", purposes=("HRESCH",), data_classes=("imaging",),
                deidentification=DeidLevel.LIMITED_DATA_SET,
                period=Period(start=date(2026, 1, 1), end=date(2026, 12, 31)),
            ),
        )
    )  # fmt: skip
    inside = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
    assert pool.decide("HRESCH", ["imaging:CT"], inside, held=DeidLevel.SAFE_HARBOR).permitted
    late = pool.decide("HRESCH", ["imaging:CT"], inside + timedelta(minutes=2),
                       held=DeidLevel.SAFE_HARBOR)  # fmt: skip
    assert (late.permitted, late.code) == (False, "dua-expired")
    assert "dua-a expired 2026-12-31" in late.reason


def test_release_categories_map_to_classes() -> None:
    assert classes_of_categories({"dicom", "CT"}) == {"imaging:CT"}
    assert classes_of_categories({"dicom"}) == {"imaging"}
    bundle = {"fhir", "Patient", "Observation", "vital-signs", "DocumentReference", "Claim"}
    assert classes_of_categories(bundle) == {"demographics", "vitals", "notes", "claims"}
    assert classes_of_categories({"fhir", "Observation"}) == {"labs"}


def test_shipped_agreement_loads_and_is_in_force_for_the_demo() -> None:
    from clinflow.config import policies_dir

    shipped = load_agreements([policies_dir() / "dua"])
    assert "dua-demo-research" in shipped.ids()
    demo = shipped.get("dua-demo-research")
    assert demo is not None and set(demo.data_classes) == set(DATA_CLASSES)
    assert demo.in_force(datetime(2026, 11, 29, tzinfo=UTC))


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (("data_classes: [vitals, notes, imaging]", "data_classes: [vitals, xrays]"),
         "data_classes[1]", "unknown data class 'xrays'"),
        (("purposes: [HRESCH]", "purposes: [HRESCH, MARKETING]"),
         "purposes[1]", "unknown purpose of use 'MARKETING'"),
        (("modalities: [CT]", "modalities: [CT, PHOTO]"), "modalities[1]", "PHOTO"),
        (("end: 2027-03-31", "end: 2025-03-31"), "period.end", "ends before it starts"),
        (("end: 2027-03-31", "end: 2027-02-30"), "period.end", ""),
        (("recipient: Organization/example-university\n", ""), "recipient", "Field required"),
        (("deidentification: limited_data_set", "deidentification: anonymous"),
         "deidentification", ""),
        (("reidentification_keys: false", "reidentification_keys: false\nkeys: 3"),
         "keys", "unknown field"),
    ],
)  # fmt: skip
def test_malformed_agreement_is_a_policy_error_naming_file_and_field(
    tmp_path: Path, change: tuple[str, str], field: str, message: str
) -> None:
    path = tmp_path / "dua-x.yaml"
    text = GOOD.format(id="dua-x")
    assert change[0] in text
    path.write_text(text.replace(change[0], change[1]), encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_agreement(path)
    error = caught.value
    assert error.file.endswith("dua-x.yaml") and error.line >= 1
    assert error.field == field, str(error)
    assert message in str(error)
    assert "Traceback" not in str(error)


def test_agreement_id_must_match_its_file_and_be_unique(tmp_path: Path) -> None:
    (tmp_path / "dua-x.yaml").write_text(GOOD.format(id="dua-y"), encoding="utf-8")
    with pytest.raises(PolicyError, match="must equal the file name"):
        load_agreement(tmp_path / "dua-x.yaml")
    first, second = tmp_path / "a", tmp_path / "b"
    for folder in (first, second):
        folder.mkdir()
        (folder / "dua-x.yaml").write_text(GOOD.format(id="dua-x"), encoding="utf-8")
    with pytest.raises(PolicyError, match="duplicate agreement id") as caught:
        load_agreements([first, second])
    assert caught.value.field == "id"
    not_yaml = tmp_path / "c"
    not_yaml.mkdir()
    (not_yaml / "dua-z.yaml").write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_agreements([not_yaml])
    assert caught.value.file.endswith("dua-z.yaml")


def test_malformed_retention_policy_names_the_store_and_field(tmp_path: Path) -> None:
    from clinflow.config import policies_dir

    text = (policies_dir() / "retention.yaml").read_text(encoding="utf-8")
    path = tmp_path / "retention.yaml"
    scoring = "basis: treatment\n    purposes: [TREAT]"
    bad = text.replace(scoring, scoring.replace("treatment", "curiosity"), 1)
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_retention(path)
    assert caught.value.rule == "scoring" and caught.value.field == "basis"
    path.write_text(text.replace("retention: {days: 30}", "retention: {days: 30, years: 1}"),
                    encoding="utf-8")  # fmt: skip
    with pytest.raises(PolicyError, match="exactly one of days or years"):
        load_retention(path)
