"""``clinflow quarantine list|show|export|replay`` on a real data directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from clinflow.quarantine import Quarantine

SAMPLE_DICOM = sorted((Path(__file__).parents[1] / "synthetic/sample/dicom").rglob("*.dcm"))[0]


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clinflow", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_rejected_file_is_listed_shown_exported_and_stays_open_on_failed_replay(
    data_dir: Path, tmp_path: Path
) -> None:
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
    replay = cli(data_dir, "quarantine", "replay", str(item.id), "--out", str(tmp_path / "r"))
    assert replay.returncode == 1 and "still rejected" in replay.stdout
    assert "Traceback" not in replay.stdout + replay.stderr
    assert Quarantine(data_dir / "quarantine.db").get(item.id).status == "open"  # type: ignore[union-attr]


def test_replay_of_a_now_valid_payload_deidentifies_it_and_closes_the_item(
    data_dir: Path, tmp_path: Path
) -> None:
    store = Quarantine(data_dir / "quarantine.db")
    item_id = store.put("deid-dicom", "in/ct.dcm", "decoder missing", SAMPLE_DICOM.read_bytes())
    store.close()
    out = tmp_path / "replayed"
    replay = cli(data_dir, "quarantine", "replay", str(item_id), "--out", str(out))
    assert replay.returncode == 0, replay.stdout + replay.stderr
    written = list(out.rglob("*.dcm"))
    assert len(written) == 1 and written[0].read_bytes() != SAMPLE_DICOM.read_bytes()
    assert Quarantine(data_dir / "quarantine.db").get(item_id).status == "replayed"  # type: ignore[union-attr]
    again = cli(data_dir, "quarantine", "replay", str(item_id), "--out", str(out))
    assert again.returncode == 2 and "already replayed" in again.stderr


def test_unknown_item_and_stage_without_replay_are_usage_errors(data_dir: Path) -> None:
    store = Quarantine(data_dir / "quarantine.db")
    item_id = store.put("ingest", "fhir/x.json", "invalid JSON", b"{")
    store.close()
    missing = cli(data_dir, "quarantine", "show", "999")
    assert missing.returncode == 2 and "not found" in missing.stderr
    no_replay = cli(data_dir, "quarantine", "replay", str(item_id), "--out", "/tmp/x")
    assert no_replay.returncode == 2 and "export" in no_replay.stderr
