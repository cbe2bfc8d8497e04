"""Fuzzing the policy loaders with random and mutated YAML (issue 13).

Every public loader (consent, endpoints, FHIR, DICOM site policy, text, scenario) is fed the
shipped file with line-level mutations (lines dropped, duplicated, swapped, re-indented,
values replaced by odd scalars, characters flipped) and random YAML documents. Property: the
file loads, or ``PolicyError`` / ``ConfigError`` comes out reading ``<file>:<line>: ...`` with
a line inside the file; never another exception (no ``yaml`` error, ``KeyError``,
``TypeError``, pydantic error or recursion error reaching the user).
"""

from __future__ import annotations

import random
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import strategies as st

from clinflow.consent import policy as consent_policy
from clinflow.deid.dicom import profile as dicom_profile
from clinflow.deid.fhir import policy as fhir_policy
from clinflow.deid.text import engine as text_engine
from clinflow.errors import ConfigError
from clinflow.scoring import policy as scoring_policy
from clinflow.synthetic import scenario as scenario_module
from helpers.fuzz import MUTATIONS, SEEDS, fuzz_tests, only_clinflow_errors, tally

REPO = Path(__file__).resolve().parents[1]
POLICIES = REPO / "policies"
LOADERS: dict[str, tuple[Path, Callable[[Path], object]]] = {
    "consent": (POLICIES / "consent.yaml", consent_policy.load_policy),
    "endpoints": (POLICIES / "endpoints.yaml", scoring_policy.load_policy),
    "fhir": (POLICIES / "fhir" / "safe-harbor.yaml", fhir_policy.load_policy),
    "dicom-site": (POLICIES / "dicom" / "site-default.yaml", dicom_profile.compile_policy),
    "text": (POLICIES / "text.yaml", text_engine.load_text_policy),
    "scenario": (REPO / "synthetic" / "demo.yaml", scenario_module.load_scenario),
}
# "2024-13-45": an impossible date (F13-POLICY-1, regression test below).
ODD_SCALARS = ["", "~", "null", "-1", "1e999", ".nan", "0x1F", "[", "{", "'", "*anchor",
               "2024-13-45",
               "&a [*a]", "!!python/object:os.system x", "yes", "a: b: c",
               "\t", "? x", "- - -", "%YAML 9.9", "\u2028", "@", "`", "|", ">-"]  # fmt: skip


def mutate_lines(text: str, plan: int, mutations: int) -> str:
    """``text`` with line-level edits chosen by ``plan`` (what a hand edit gets wrong)."""
    lines = text.splitlines()
    rng = random.Random(plan)
    for _ in range(mutations):
        if not lines:
            break
        at = rng.randrange(len(lines))
        kind = rng.randrange(7)
        if kind == 0:
            del lines[at]
        elif kind == 1:
            lines.insert(at, lines[at])
        elif kind == 2:
            other = rng.randrange(len(lines))
            lines[at], lines[other] = lines[other], lines[at]
        elif kind == 3:
            lines[at] = " " * rng.randrange(0, 9) + lines[at].lstrip()
        elif kind == 4 and ":" in lines[at]:
            key = lines[at].split(":", 1)[0]
            lines[at] = f"{key}: {rng.choice(ODD_SCALARS)}"
        elif kind == 5 and lines[at]:
            position = rng.randrange(len(lines[at]))
            char = rng.choice("-:{}[],#&*!|>'\"%@` \t\x00\x85")
            lines[at] = lines[at][:position] + char + lines[at][position + 1 :]
        else:
            lines[at] = rng.choice(ODD_SCALARS)
    return "\n".join(lines) + "\n"


def _load(kind: str, text: str) -> None:
    """Load ``text`` as ``kind``'s file; only a located clinflow error may come out."""
    original, loader = LOADERS[kind]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / original.name
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        with only_clinflow_errors(f"{kind} policy loader") as raised:
            loader(path)
    if not raised:
        tally("policy:loaded")
        return
    error = raised[0]
    assert isinstance(error, ConfigError), repr(error)
    match = re.match(rf"^{re.escape(str(path))}:(\d+): ", str(error))
    assert match, f"not file:line: {error}"
    assert int(match.group(1)) <= text.count("\n") + 1, f"line outside the file: {error}"
    tally("policy:rejected")


def _mutated(kind: str, plan: int, mutations: int) -> None:
    """A shipped policy with hand-edit mistakes: loaded or PolicyError at file:line."""
    _load(kind, mutate_lines(LOADERS[kind][0].read_text("utf-8"), plan, mutations))


KINDS = st.sampled_from(sorted(LOADERS))
test_mutated_policies_fail_at_file_and_line, test_mutated_policies_many = fuzz_tests(
    "policy", _mutated, kind=KINDS, plan=SEEDS, mutations=MUTATIONS
)

YAML_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=30,
)


def _random(kind: str, document: object) -> None:
    """Random YAML (any structure): loaded or PolicyError at file:line."""
    _load(kind, yaml.safe_dump(document, allow_unicode=True))


test_random_yaml_fails_at_file_and_line, test_random_yaml_many = fuzz_tests(
    "policy", _random, kind=KINDS, document=YAML_VALUES
)


def test_fuzz_finding_an_impossible_date_is_a_policy_error() -> None:
    """F13-POLICY-1 (fuzzing, issue 13): YAML's timestamp constructor raises ValueError
    ('month must be in 1..12') for ``2024-13-45``; it escaped ``policy_loader`` as a traceback
    instead of ``file:line: PolicyError``."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "consent.yaml"
        path.write_text(POLICIES.joinpath("consent.yaml").read_text("utf-8") + "x: 2024-13-45\n")
        with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}:\d+: "):
            consent_policy.load_policy(path)

