"""``clinflow quarantine list|show|export|replay`` on a real data directory.

Every command runs in an empty working directory with ``HOME`` and ``TMPDIR`` inside the
test's tmp_path and without ``CLINFLOW_DATA_DIR``, and each test ends by checking that
nothing was written anywhere but the data directory and the paths it named.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest

from clinflow.crypto.keys import KeyRing
from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.interfaces import Rejection
from clinflow.quarantine import Quarantine

SAMPLE_DICOM = sorted((Path(__file__).parents[1] / "synthetic/sample/dicom").rglob("*.dcm"))[0]


@dataclass(frozen=True)
class Sandbox:
    root: Path  # the test's tmp_path
    data_dir: Path

    def files_outside(self, *allowed: Path) -> list[str]:
        """Every file or folder under root that is neither in data_dir nor an allowed path."""
        keep = (self.data_dir, *allowed)
        empty_dirs = {self.root / "cwd", self.root / "home", self.root / "tmp"}
        return sorted(
            str(path.relative_to(self.root))
            for path in self.root.rglob("*")
            if not any(path == k or k in path.parents or path in k.parents for k in keep)
            and path not in empty_dirs
        )


@pytest.fixture()
def sandbox(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    for name in ("cwd", "home", "tmp"):
        (tmp_path / name).mkdir()
    monkeypatch.chdir(tmp_path / "cwd")  # the default ./clinflow-data would land here
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    monkeypatch.delenv("CLINFLOW_DATA_DIR")  # only --data-dir points at the data directory
    return Sandbox(tmp_path, data_dir)


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clinflow", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_rejected_file_is_listed_shown_exported_and_stays_open_on_failed_replay(
    sandbox: Sandbox,
) -> None:
    data_dir, tmp_path = sandbox.data_dir, sandbox.root
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "notes.dcm").write_bytes(b"this is not DICOM at all" * 10)
    deid = cli(data_dir, "deid", "dicom", str(inputs), str(tmp_path / "out"))
    assert deid.returncode == 1
    listed = cli(data_dir, "quarantine", "list")
    assert "notes.dcm" in listed.stdout and "deid-dicom" in listed.stdout
    (item,) = Quarantine(data_dir / "quarantine.db").list()
    shown = cli(data_dir, "quarantine", "show", str(item.id))
    assert shown.returncode == 0 and "payload sha256" in shown.stdout
    exported = tmp_path / "payload.bin"
    assert cli(data_dir, "quarantine", "export", str(item.id), str(exported)).returncode == 0
    assert exported.read_bytes() == b"this is not DICOM at all" * 10
    assert exported.stat().st_mode & 0o077 == 0  # decrypted PHI leaves the store owner-only
    replay = cli(data_dir, "quarantine", "replay", str(item.id), "--out", str(tmp_path / "r"))
    assert replay.returncode == 1 and "still rejected" in replay.stdout
    assert "Traceback" not in replay.stdout + replay.stderr
    assert Quarantine(data_dir / "quarantine.db").get(item.id).status == "open"  # type: ignore[union-attr]
    assert sandbox.files_outside(inputs, tmp_path / "out", exported, tmp_path / "r") == []


def test_replay_of_a_now_valid_payload_deidentifies_it_and_closes_the_item(
    sandbox: Sandbox,
) -> None:
    data_dir, tmp_path = sandbox.data_dir, sandbox.root
    store = Quarantine(data_dir / "quarantine.db")
    item_id = store.put(
        Rejection("deid-dicom", "in/ct.dcm", "decoder missing", SAMPLE_DICOM.read_bytes())
    )
    store.close()
    out = tmp_path / "replayed"
    replay = cli(data_dir, "quarantine", "replay", str(item_id), "--out", str(out))
    assert replay.returncode == 0, replay.stdout + replay.stderr
    written = list(out.rglob("*.dcm"))
    assert len(written) == 1 and written[0].read_bytes() != SAMPLE_DICOM.read_bytes()
    replayed = Quarantine(data_dir / "quarantine.db").get(item_id)
    assert replayed is not None and replayed.status == "replayed"
    mrn = str(pydicom.dcmread(SAMPLE_DICOM, stop_before_pixels=True).PatientID)
    keys = KeyRing(data_dir / "keys")
    # held without a patient, linked once replay read it: the patient's revocation purges it
    assert replayed.patient == Pseudonymizer(keys.project_key()).patient_pseudonym(mrn)
    again = cli(data_dir, "quarantine", "replay", str(item_id), "--out", str(out))
    assert again.returncode == 2 and "already replayed" in again.stderr
    assert sandbox.files_outside(out) == []


def test_unknown_item_and_stage_without_replay_are_usage_errors(sandbox: Sandbox) -> None:
    data_dir = sandbox.data_dir
    store = Quarantine(data_dir / "quarantine.db")
    item_id = store.put(Rejection("ingest", "fhir/x.json", "invalid JSON", b"{"))
    store.close()
    missing = cli(data_dir, "quarantine", "show", "999")
    assert missing.returncode == 2 and "not found" in missing.stderr
    never = sandbox.root / "never-written"
    no_replay = cli(data_dir, "quarantine", "replay", str(item_id), "--out", str(never))
    assert no_replay.returncode == 2 and "export" in no_replay.stderr
    assert not never.exists()
    assert sandbox.files_outside() == []
