"""Issue 13 finding 9: ``consent status 33144716`` (an MRN without ``--mrn``) is refused.

It used to be taken as a pseudonym of nobody and answered "no consent" for every purpose.
Now a PATIENT that is not a pseudonym is a usage error (exit 2) suggesting ``--mrn``, and the
value, possibly an MRN, is not printed back.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clinflow.runtime.deployment import Deployment
from helpers.cli import run_cli

MRN = "33144716"


@pytest.mark.parametrize("command", ["status", "revoke"])
@pytest.mark.parametrize("patient", [MRN, "Jane Doe", "pt-0123456789abcdef", "PT-xyz"])
def test_a_patient_that_is_not_a_pseudonym_is_refused(
    capsys: pytest.CaptureFixture[str], data_dir: Path, command: str, patient: str
) -> None:
    code, out, err = run_cli(capsys, "consent", command, patient, "--data-dir", str(data_dir))
    assert code == 2
    assert "not a patient pseudonym" in err and "--mrn" in err
    assert patient not in out + err


def test_with_mrn_the_same_value_is_pseudonymized(
    capsys: pytest.CaptureFixture[str], data_dir: Path
) -> None:
    code, out, err = run_cli(
        capsys, "consent", "status", MRN, "--mrn", "--json", "--data-dir", str(data_dir)
    )
    assert code == 0, err
    with Deployment.open(data_dir) as deployment:
        expected = deployment.consent.pseudonym_for(MRN)
    assert f'"patient": "{expected}"' in out and MRN not in out


def test_a_pseudonym_is_accepted(capsys: pytest.CaptureFixture[str], data_dir: Path) -> None:
    code, out, _ = run_cli(
        capsys, "consent", "status", "PT-0123456789abcdef", "--json", "--data-dir", str(data_dir)
    )
    assert code == 0 and '"patient": "PT-0123456789abcdef"' in out
