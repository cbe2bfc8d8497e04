"""``clinflow run --source hl7:PATH``: a feed file written by ``clinflow generate --format
hl7v2`` streams through the runtime once; a resent message is skipped, a malformed one is
quarantined naming file, message number and field; a second run adds nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clinflow.config import scenarios_dir
from clinflow.ehr.hl7.feed_files import read_feed
from clinflow.ehr.hl7.file_source import feed_files
from clinflow.errors import ConfigError
from clinflow.quarantine import Quarantine
from helpers.cli import run_cli


@pytest.mark.slow  # two runtime runs: ~3 s, more under load
def test_feed_file_streams_once_and_quarantines_the_malformed(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "gen"
    code, _, stderr = run_cli(capsys, "generate", "--format", "hl7v2", "--patients", "1",
                              "--scenario", str(scenarios_dir() / "sample.yaml"), "--out",
                              str(out), "--quiet")  # fmt: skip
    assert code == 0, stderr
    feed = out / "hl7v2" / "standard.hl7"
    messages = list(read_feed(feed.read_bytes()))[:12]
    broken = messages[2].replace(b"|/min|", b"|beats|", 1)  # a unit nobody converts
    assert broken != messages[2]
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "a.hl7").write_bytes(b"\n".join([*messages, messages[5], broken]))
    code, stdout, stderr = run_cli(capsys, "run", "--source", f"hl7:{drop}", "--json",
                                   "--no-progress", "--validation", "shallow")  # fmt: skip
    assert code == 0, stderr
    report = json.loads(stdout)
    assert report["source"] == f"hl7:{drop}"
    assert report["hl7_file"] == {
        "files": 1, "messages": 14, "accepted": 12, "duplicates": 1, "rejected": 1
    }  # fmt: skip
    assert report["hops"]["ingest"]["received"] == 12
    quarantine = Quarantine(data_dir / "quarantine.db")
    (item,) = quarantine.list()
    quarantine.close()
    assert item.location == "a.hl7:14 OBX[1]-6" and "unit" in item.reason
    # the same folder again: the ledger has every message (duplicates at ingest)
    code, stdout, _ = run_cli(capsys, "run", "--source", f"hl7:{drop}", "--json",
                              "--no-progress", "--validation", "shallow")  # fmt: skip
    again = json.loads(stdout)
    assert code == 0 and again["hops"]["ingest"]["duplicates"] == 12


def test_missing_path_is_a_usage_error(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, stderr = run_cli(capsys, "run", "--source", f"hl7:{tmp_path / 'nope'}")
    assert code == 2 and "not a file or folder" in stderr
    with pytest.raises(ConfigError):
        feed_files(tmp_path / "nope")
