"""Vendor dialect profiles load through the policy loader: the shipped ones validate, a bad
one fails with file:line: rule: field: why."""

from __future__ import annotations

from pathlib import Path

import pytest

from clinflow.ehr.hl7.profiles import VENDORS_DIR, load_profile, profile_for, vendor_profiles
from clinflow.errors import PolicyError

GOOD = """\
version: 1
vendor: acme-monitors
match: {sending_application: [ACME]}
observations:
  PULSE: {code: 8867-4, unit: bpm}
units:
  bpm: {ucum: /min}
"""


def test_shipped_profiles_load_and_match_their_senders() -> None:
    profiles = vendor_profiles()
    assert {"standard", "northwind-monitors", "meridian-ehr", "cascade-lab"} <= set(profiles)
    assert len(list(VENDORS_DIR.glob("*.yaml"))) == len(profiles) - 1  # + built-in standard
    assert profile_for("NWVITALS").vendor == "northwind-monitors"
    assert profile_for("SOMEONE-ELSE").vendor == "standard"
    fahrenheit = profiles["northwind-monitors"].units["deg F"]
    assert fahrenheit.to_ucum(98.6) == 37.0 and fahrenheit.from_ucum(37.0) == 98.6


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("  bpm: {ucum: /min}", "  bpm: {ucum: /min, scale: 2}"), ":7: bpm: scale: "),
        (("  PULSE: {code: 8867-4, unit: bpm}", "  PULSE: {unit: bpm}"), ":5: PULSE: code: "),
        (("vendor: acme-monitors", "vendor: ACME Monitors"), ":2: -: vendor: "),
        (("units:", "timezone: EST\nunits:"), ":6: -: timezone: "),
        (("  bpm: {ucum: /min}", "  bpm: {ucum: /min, factor: 0}"), ":7: bpm: factor: "),
        (("match: {sending_application: [ACME]}", "z_segments: [PID]"), ":3: -: z_segments"),
    ],
)
def test_a_bad_profile_names_file_line_rule_and_field(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text(GOOD, encoding="utf-8")
    assert load_profile(path).vendor == "acme-monitors"
    bad = GOOD.replace(*change)
    assert bad != GOOD
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_profile(path)
    assert expected in str(caught.value)
    assert str(caught.value).startswith(str(path))
