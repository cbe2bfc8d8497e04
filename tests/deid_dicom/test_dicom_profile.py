"""The PS3.15 Table E.1-1 profile as data: size, sample rows, options, validation errors."""

from __future__ import annotations

import hashlib
import importlib.util
import types
import zipfile
from collections import Counter
from pathlib import Path

import pytest
import yaml

from clinflow.deid.dicom.profile import (
    DEFAULT_POLICY,
    POLICY_DIR,
    ActionCode,
    ProfileOption,
    compile_policy,
    load_profile_table,
    parse_tag,
    resolve_combined,
)
from clinflow.errors import ConfigError, PolicyError

TABLE = POLICY_DIR / "ps3.15-e1-1.yaml"
GENERATOR = Path(__file__).parents[2] / "scripts" / "gen_ps315_profile.py"
# Written from the committed YAML (idiscore, the real source, is GPLv3): see its docstring.
SOURCE_EXCERPT = Path(__file__).parent / "data" / "ps3.15-e1-1-source-excerpt.py.txt"


def test_table_size_and_action_counts_match_the_standard() -> None:
    table = load_profile_table(TABLE)
    counts = Counter(row.basic.value for row in table.rows)
    # 2024b (issue 5): ~620 rows: X 384, D 92, U 54, Z 42, X/D 22, X/Z 11, X/Z/D 8, Z/D 6, X/Z/U* 2.
    # idiscore's 2024-09 scrape gives 623: X 385, U 55, the rest identical.
    assert 615 <= len(table.rows) <= 630
    assert counts == {
        "X": 385,
        "D": 92,
        "U": 55,
        "Z": 42,
        "X/D": 22,
        "X/Z": 11,
        "X/Z/D": 8,
        "Z/D": 6,
        "X/Z/U*": 2,
    }
    assert table.provenance["source_package"] == "idiscore==1.2.0"
    assert len(table.provenance["source_wheel_sha256"]) == 64
    assert table.provenance["scraped"] == "2024-09-19"


@pytest.mark.parametrize(
    ("tag", "name", "basic"),
    [
        ("(0010,0010)", "PatientName", "Z"),
        ("(0010,0020)", "PatientID", "Z/D"),
        ("(0010,0030)", "PatientBirthDate", "Z"),
        ("(0020,000D)", "StudyInstanceUID", "U"),
        ("(0020,000E)", "SeriesInstanceUID", "U"),
        ("(0008,0018)", "SOPInstanceUID", "U"),
        ("(0008,0050)", "AccessionNumber", "Z"),
        ("(0008,0080)", "InstitutionName", "X/Z/D"),
        ("(0008,0090)", "ReferringPhysicianName", "Z"),
        ("(0008,0020)", "StudyDate", "Z"),
        ("(0018,1000)", "DeviceSerialNumber", "X/Z/D"),
        ("(0008,1030)", "StudyDescription", "X"),
        ("(0010,1000)", "OtherPatientIDs", "X"),
        ("(0008,1140)", "ReferencedImageSequence", "X/Z/U*"),
        ("(0002,0003)", "MediaStorageSOPInstanceUID", "U"),
    ],
)
def test_well_known_rows(tag: str, name: str, basic: str) -> None:
    rows = {row.tag: row for row in load_profile_table(TABLE).rows}
    assert rows[tag].name == name
    assert rows[tag].basic.value == basic


def test_option_columns() -> None:
    rows = {row.tag: row for row in load_profile_table(TABLE).rows}
    assert rows["(0008,0020)"].retain_long_modified_dates is ActionCode.CLEAN
    assert rows["(0008,0020)"].retain_long_full_dates is ActionCode.KEEP
    assert rows["(0008,1030)"].clean_descriptors is ActionCode.CLEAN
    assert rows["(0008,0080)"].retain_institution_identity is ActionCode.KEEP
    assert rows["(0020,000D)"].retain_uids is ActionCode.KEEP
    assert rows["private"].retain_safe_private is ActionCode.CLEAN


def test_combined_codes_take_the_first_action_unless_the_iod_type_needs_another() -> None:
    assert resolve_combined(ActionCode.REMOVE_OR_EMPTY_OR_DUMMY, None) is ActionCode.REMOVE
    assert resolve_combined(ActionCode.REMOVE_OR_EMPTY_OR_DUMMY, "2") is ActionCode.EMPTY
    assert resolve_combined(ActionCode.REMOVE_OR_EMPTY_OR_DUMMY, "1") is ActionCode.DUMMY
    assert resolve_combined(ActionCode.EMPTY_OR_DUMMY, None) is ActionCode.EMPTY
    assert resolve_combined(ActionCode.REMOVE_OR_EMPTY_OR_UID, "U") is ActionCode.KEEP_REMAP_UIDS


def test_compiled_default_policy() -> None:
    policy = compile_policy()
    assert policy.actions[parse_tag("(0010,0010)")] is ActionCode.PSEUDONYM  # site override
    assert policy.actions[parse_tag("(0008,0020)")] is ActionCode.CLEAN  # modified dates
    assert policy.actions[parse_tag("(0008,0080)")] is ActionCode.REMOVE
    assert policy.actions[parse_tag("(0008,1140)")] is ActionCode.KEEP_REMAP_UIDS
    assert policy.private_action is ActionCode.REMOVE
    assert len(policy.policy_hash) == 64
    assert policy.action_for(0x50001234) is ActionCode.CLEAN  # (50xx,xxxx) + clean_graphics
    assert [code for code, _ in policy.method_codes][0] == "113100"


def test_options_change_actions_and_the_policy_hash() -> None:
    basic = compile_policy(options=[])
    full = compile_policy(options=["retain_long_full_dates", "retain_institution_identity"])
    assert basic.actions[parse_tag("(0008,0020)")] is ActionCode.EMPTY
    assert full.actions[parse_tag("(0008,0020)")] is ActionCode.KEEP
    assert full.actions[parse_tag("(0008,0080)")] is ActionCode.KEEP
    assert basic.policy_hash != full.policy_hash


def test_bad_options_are_refused() -> None:
    with pytest.raises(ConfigError, match="unknown profile option"):
        compile_policy(options=["retain_everything"])
    with pytest.raises(ConfigError, match="conflict"):
        compile_policy(options=["retain_long_full_dates", "retain_long_modified_dates"])
    with pytest.raises(ConfigError, match="not implemented"):
        compile_policy(options=["clean_recognizable_visual_features"])


def test_site_policy_extends_and_overrides_single_attributes(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(
        f"extends: {DEFAULT_POLICY}\n"
        "overrides:\n"
        "  - {tag: '(0008,0080)', action: K, reason: 'site keeps institution'}\n",
        encoding="utf-8",
    )
    policy = compile_policy(site)
    assert policy.actions[parse_tag("(0008,0080)")] is ActionCode.KEEP
    assert policy.actions[parse_tag("(0010,0010)")] is ActionCode.PSEUDONYM  # inherited
    assert ProfileOption.RETAIN_LONG_MODIFIED_DATES in policy.options
    assert policy.policy_hash != compile_policy().policy_hash


def test_policy_errors_name_file_line_row_and_field(tmp_path: Path) -> None:
    table = tmp_path / "table.yaml"
    table.write_text(
        "provenance: {}\nrows:\n"
        "  - {tag: '(0010,0010)', name: PatientName, basic: Z}\n"
        "  - {tag: '(0010,0020)', name: PatientID, basic: Q}\n",
        encoding="utf-8",
    )
    site = tmp_path / "site.yaml"
    site.write_text(f"profile: {table.name}\n", encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        compile_policy(site)
    assert str(info.value).startswith(f"{table}:4: (0010,0020): basic: Input should be 'D', ")
    site.write_text("profile: x.yaml\nsurprise: 1\n", encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        compile_policy(site)
    assert str(info.value) == f"{site}:2: -: surprise: unknown field"
    site.write_text(
        f"extends: {DEFAULT_POLICY}\noverrides:\n  - {{tag: '(0010,0010)', action: Y}}\n",
        encoding="utf-8",
    )
    with pytest.raises(PolicyError) as info:
        compile_policy(site)
    assert str(info.value).startswith(f"{site}:3: (0010,0010): action: Input should be ")
    site.write_text("default_options: []\n", encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        compile_policy(site)
    assert str(info.value) == f"{site}:1: -: profile: required (path of the E.1-1 table)"
    site.write_text("default_options: []\nprofile: nowhere.yaml\n", encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        compile_policy(site)
    assert str(info.value) == f"{site}:2: -: profile: no such file {tmp_path / 'nowhere.yaml'}"


def _generator() -> types.ModuleType:
    """scripts/gen_ps315_profile.py as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("gen_ps315_profile", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_table_was_generated_from_the_pinned_source() -> None:
    """The YAML header names the pinned wheel and table module; its rows are the pinned output."""
    gen = _generator()
    text = TABLE.read_text(encoding="utf-8")
    provenance = yaml.safe_load(text)["provenance"]
    assert provenance["source_package"] == f"{gen.SOURCE_PACKAGE}=={gen.SOURCE_VERSION}"
    assert provenance["source_module"] == gen.SOURCE_MODULE
    assert provenance["source_wheel_sha256"] == gen.SOURCE_WHEEL_SHA256
    assert provenance["source_module_sha256"] == gen.SOURCE_MODULE_SHA256
    assert gen.rows_sha256(text) == gen.ROWS_SHA256  # no hand edit of any row


def test_generator_reproduces_the_committed_rows_from_a_source_excerpt() -> None:
    """Offline regeneration: the script's parse + render on an excerpt of the source table
    gives exactly the committed YAML rows for those tags, in order."""
    gen = _generator()
    rule_sets, scrape_date = gen.parse_rule_sets(SOURCE_EXCERPT.read_text(encoding="utf-8"))
    assert scrape_date == "2024-09-19"
    fresh = yaml.safe_load(gen.render(rule_sets, {"source_package": "excerpt"}))
    committed = yaml.safe_load(TABLE.read_text(encoding="utf-8"))["rows"]
    tags = {row["tag"] for row in fresh["rows"]}
    assert len(tags) == len(fresh["rows"]) == 16
    assert fresh["rows"] == [row for row in committed if row["tag"] in tags]
    # the excerpt covers every basic action code and every option column of the table
    assert {row["basic"] for row in fresh["rows"]} == {row["basic"] for row in committed}
    assert set().union(*fresh["rows"]) == set().union(*committed)


def test_generator_refuses_a_source_that_is_not_pinned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gen = _generator()
    wheel = tmp_path / "idiscore-1.2.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(gen.SOURCE_MODULE, SOURCE_EXCERPT.read_bytes())
    out = tmp_path / "table.yaml"
    with pytest.raises(SystemExit, match=f"{wheel.name} sha256 .* not the pinned"):
        gen.main(["--wheel", str(wheel), "--out", str(out)])
    # a wheel that passes the pin still needs the pinned table module inside
    monkeypatch.setattr(gen, "SOURCE_WHEEL_SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    with pytest.raises(SystemExit, match=f"{gen.SOURCE_MODULE} sha256 .* not the pinned"):
        gen.main(["--wheel", str(wheel), "--out", str(out)])
    assert not out.exists()


def test_shipped_site_example_policy() -> None:
    policy = compile_policy(POLICY_DIR / "site-example.yaml")
    assert policy.actions[parse_tag("(0008,1040)")] is ActionCode.KEEP
    assert policy.actions[parse_tag("(0018,1030)")] is ActionCode.CLEAN
    assert policy.actions[parse_tag("(0010,0020)")] is ActionCode.PSEUDONYM
    assert policy.private_action is ActionCode.CLEAN
