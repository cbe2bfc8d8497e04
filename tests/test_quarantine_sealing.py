"""The quarantine at rest and every store's permissions (issue 13 finding 5).

Payloads are sealed (ADR 0085): no planted identifier of a generated cohort (fixed seed) is
in ``quarantine.db`` or its ``-wal``/``-shm`` after ``deid dicom`` and ``deid fhir``
quarantined damaged copies of every file, nor in any line those commands and ``quarantine
list|show|replay`` printed or logged. Every store of a deployment, its side files and the key files
are 0600 in 0700 folders (ADR 0086).
"""

from __future__ import annotations

import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.config import DataDir
from clinflow.deid.leaks.scanner import variants
from clinflow.errors import KeyError_
from clinflow.interfaces import Rejection
from clinflow.quarantine import Quarantine, printable_location
from clinflow.runtime.deployment import Deployment
from clinflow.runtime.pipeline import DEMO_SCENARIO
from clinflow.synthetic.generator import GenerateOptions, generate
from clinflow.synthetic.manifest import read_manifest
from clinflow.synthetic.scenario import load_scenario
from helpers.cli import run_cli

PATIENTS, SEED = 2, 7
AT_REST_MIN = 6  # binary ciphertext holds short strings by chance; identifiers are longer


@dataclass(frozen=True)
class Damaged:
    root: Path
    needles: list[str]  # case-folded planted identifiers and their reformattings
    dicom: int  # files expected in quarantine
    fhir: int


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> Damaged:
    """Damaged copies of a generated cohort: truncated DICOM, Bundles of a wrong type (each
    names its patient), ndjson lines cut short (no patient can be read from them)."""
    root = tmp_path_factory.mktemp("cohort")
    generate(GenerateOptions(patients=PATIENTS, seed=SEED, out=root / "gen",
                             scenario=load_scenario(DEMO_SCENARIO), workers=1))  # fmt: skip
    dicom, fhir = root / "in-dicom", root / "in-fhir"
    dicom.mkdir()
    (fhir / "bundles").mkdir(parents=True)
    (fhir / "ndjson").mkdir()
    dicom_files = sorted((root / "gen").rglob("*.dcm"))
    for number, path in enumerate(dicom_files):
        data = path.read_bytes()
        (dicom / f"{number}.dcm").write_bytes(data[: len(data) // 2])
    bundles = sorted((root / "gen" / "fhir" / "bundles").glob("*.json"))
    for path in bundles:
        bundle = orjson.loads(path.read_bytes())
        bundle["type"] = "not-a-type"
        (fhir / "bundles" / path.name).write_bytes(orjson.dumps(bundle))
    lines = 0
    for path in sorted((root / "gen" / "fhir" / "ndjson").glob("*.ndjson")):
        cut = [line[1:] for line in path.read_bytes().splitlines()[:3]]
        lines += len(cut)
        (fhir / "ndjson" / path.name).write_bytes(b"\n".join(cut) + b"\n")
    needles = sorted({
        text
        for entry in read_manifest(root / "gen" / "manifest.ndjson")
        for _, text in variants(entry.value, entry.kind)
        if len(text) >= 4
    })  # fmt: skip
    assert dicom_files and bundles and len(needles) > 100
    return Damaged(root, needles, len(dicom_files), len(bundles) + lines)


def _phi_in_text(text: str, needles: list[str]) -> list[str]:
    """Needles found in ``text`` as whole tokens (one alternation: a single pass)."""
    alternation = "|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True))
    pattern = re.compile(r"(?<![0-9a-z])(?:" + alternation + r")(?![0-9a-z])")
    return sorted(set(pattern.findall(text.casefold())))


def test_no_planted_phi_at_rest_in_the_quarantine_or_in_any_output_line(
    damaged: Damaged, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    printed: list[str] = []
    for kind in ("dicom", "fhir"):
        code, out, err = run_cli(capsys, "deid", kind, str(damaged.root / f"in-{kind}"),
                                 str(tmp_path / f"out-{kind}"), "--data-dir", str(data_dir))
        assert code == 1, err
        printed += [out, err]
    code, out, err = run_cli(capsys, "quarantine", "list", "--status", "all",
                             "--data-dir", str(data_dir))
    assert code == 0
    printed += [out, err]
    store = Quarantine(data_dir / "quarantine.db")
    items = store.list()
    assert len(items) == damaged.dicom + damaged.fhir
    with_patient = sum(item.patient is not None for item in items)
    assert with_patient == damaged.dicom + len(list((damaged.root / "in-fhir/bundles").iterdir()))
    for item in items[:: max(1, len(items) // 5)]:
        code, out, err = run_cli(capsys, "quarantine", "show", str(item.id),
                                 "--data-dir", str(data_dir))
        assert code == 0
        printed += [out, err]
        assert store.get(item.id).payload  # type: ignore[union-attr]  # decrypts
    dicom_item = next(item for item in items if item.stage == "deid-dicom")
    store.close()
    code, out, err = run_cli(capsys, "quarantine", "replay", str(dicom_item.id), "--out",
                             str(tmp_path / "replayed"), "--data-dir", str(data_dir))
    assert code == 1 and "still rejected" in out  # still truncated
    printed += [out, err]
    printed += [record.getMessage() for record in caplog.records]
    assert _phi_in_text("\n".join(printed), damaged.needles) == []
    at_rest = b"".join(
        path.read_bytes() for path in data_dir.glob("quarantine.db*")
    ).lower()
    found = [n for n in damaged.needles if len(n) >= AT_REST_MIN and n.encode() in at_rest]
    assert found == []  # before ADR 0085 every name, MRN and date was here in plaintext
    print(f"PHI at rest: {len(found)} over {len(items)} quarantined items, "
          f"{len(damaged.needles)} needles")


def test_list_shows_metadata_only_and_a_tampered_row_does_not_open(tmp_path: Path) -> None:
    store = Quarantine(tmp_path / "quarantine.db")
    first = store.put(Rejection("ingest", "a.json", "bad", payload=b"Jane Roe 1970-01-01"))
    second = store.put(Rejection("ingest", "b.json", "bad", payload=b"other"))
    assert all(item.payload is None for item in store.list())
    assert store.get(first).payload == b"Jane Roe 1970-01-01"  # type: ignore[union-attr]
    sealed = store._row(first).payload  # type: ignore[union-attr]
    store._conn.execute("UPDATE quarantine SET payload = ? WHERE id = ?", (sealed, second))
    with pytest.raises(KeyError_, match="authentication"):
        store.get(second)  # the sealed payload is bound to its own row


def test_printable_location_escapes_undecodable_bytes_and_control_characters() -> None:
    assert printable_location(os.fsdecode(b"bad\xff.dcm")) == "bad\\xff.dcm"
    assert printable_location("scan\n01.dcm") == "scan\\n01.dcm"
    assert printable_location("Größe 1.dcm") == "Größe 1.dcm"


@settings(max_examples=200, deadline=None)
@given(name=st.binary(min_size=1, max_size=40).filter(lambda b: b"/" not in b and b"\0" not in b))
def test_any_file_name_is_stored_printable_and_utf8(name: bytes) -> None:
    shown = printable_location(os.fsdecode(name))
    assert shown.isprintable()  # no control character, no lone surrogate
    shown.encode("utf-8")  # what SQLite, the console and JSON need: never raises
    try:
        decoded = name.decode("utf-8")
    except UnicodeDecodeError:
        return
    if decoded.isprintable():
        assert shown == decoded  # a good name is shown as it is


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*")}


def test_every_store_and_key_file_is_owner_only_in_an_owner_only_data_dir(
    data_dir: Path,
) -> None:
    from clinflow.api.auth import TokenStore, api_tokens_path

    root = DataDir.open(data_dir)
    with Deployment.open(root) as deployment:
        deployment.quarantine.put(Rejection("ingest", "a.json", "bad", payload=b"x"))
        deployment.keyring.quarantine_key()
        TokenStore(api_tokens_path(root)).close()
        modes = _modes(data_dir)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    stores = {"audit.db", "consent.db", "datakeys.db", "lineage.db", "ledger.db",
              "quarantine.db", "scoring.db", "research/index.db", "api_tokens.db",
              "keys/project.key", "keys/master.key", "keys/quarantine.key"}  # fmt: skip
    assert stores <= set(modes)
    assert any(name.endswith("-wal") for name in modes)
    loose = {name: oct(mode) for name, mode in modes.items()
             if mode != (0o700 if (data_dir / name).is_dir() else 0o600)}  # fmt: skip
    assert loose == {}


def test_files_left_world_readable_by_an_older_build_are_tightened(data_dir: Path) -> None:
    with Deployment.open(DataDir.open(data_dir)):
        pass
    data_dir.chmod(0o755)
    for path in data_dir.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    with Deployment.open(DataDir.open(data_dir)) as deployment:
        deployment.keyring.project_key()
        deployment.keyring.master_key()
        modes = _modes(data_dir)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    loose = {name: oct(mode) for name, mode in modes.items() if mode & 0o077}
    assert loose == {}


def test_listing_links_an_item_whose_payload_names_its_patient(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from clinflow.crypto.keys import KeyRing
    from clinflow.deid.pseudonym import Pseudonymizer

    patient = {"resourceType": "Patient", "id": "p1", "identifier": [
        {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                              "code": "MR"}]}, "value": "MRN-4711"}]}  # fmt: skip
    observation = {"resourceType": "Observation", "id": "o1", "status": "final",
                   "code": {"text": "x"}, "subject": {"reference": "Patient/p1"}}  # fmt: skip
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": patient}, {"resource": observation}]}  # fmt: skip
    store = Quarantine(DataDir.open(data_dir).quarantine_db)
    held = store.put(Rejection("ingest", "message m-9", "refused at ingest", orjson.dumps(bundle)))
    store.put(Rejection("ingest", "message m-10", "invalid JSON", b"{"))
    store.close()
    code, out, _ = run_cli(capsys, "quarantine", "list", "--data-dir", str(data_dir))
    assert code == 0 and "1 newly linked to their patient" in out
    expected = Pseudonymizer(KeyRing(data_dir / "keys").project_key()).patient_pseudonym(
        "MRN-4711"
    )
    reopened = Quarantine(data_dir / "quarantine.db")
    assert reopened.get(held).patient == expected  # type: ignore[union-attr]
    assert reopened.get(held).payload == orjson.dumps(bundle)  # type: ignore[union-attr]
    assert "MRN-4711" not in out
