"""A person's name glued into a handle ("devika_kn66", "j.raman2", "scan_raman_0412") is
removed with the whole handle: the rest of it must not stay behind. Ordinary punctuation
after a name (a full stop, a missing space before a capital) does not grow the span."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.deid.text.engine import TextDeidentifier
from clinflow.deid.text.known import KnownIdentifiers

DETECTOR = TextDeidentifier(Pseudonymizer(b"handle-test-key-0123456789abcdef"))


def _known(given_name: str, family: str) -> KnownIdentifiers:
    known = KnownIdentifiers()
    known.add_from_patient(
        {"resourceType": "Patient", "name": [{"family": family, "given": [given_name]}]}
    )
    return known


def _covered(text: str, surface: str, known: KnownIdentifiers) -> bool:
    start = text.index(surface)
    end = start + len(surface)
    spans = DETECTOR.analyze(text, known)
    return all(any(s.start <= i < s.end for s in spans) for i in range(start, end))


@pytest.mark.parametrize(
    "handle",
    ["ibeoma_kn66", "ibeoma.kn", "x.okafor2", "okafor_ibeoma", "ibeoma99", "scan_okafor_0412"],
)
def test_a_handle_holding_the_patients_name_is_removed_whole(handle: str) -> None:
    known = _known("Ibeoma", "Okafor")
    text = f"Portal message from {handle} re: refill. Replied."
    assert _covered(text, handle, known)


@settings(max_examples=60, deadline=None)
@given(
    joiner=st.sampled_from(["_", ".", ""]),
    tail=st.text(alphabet="abcdefghkmnpqrstuvwxyz0123456789", min_size=1, max_size=6),
    before=st.booleans(),
)
def test_any_handle_built_on_the_name_is_covered(joiner: str, tail: str, before: bool) -> None:
    if joiner == "":  # a digit touches the name (run into letters it is another word)
        tail = tail + "7" if before else "7" + tail
    if joiner == "." and before:
        joiner = "_"  # "kn.okafor": an initial-style prefix is the name rules' business
    known = _known("Ibeoma", "Okafor")
    handle = f"{tail}{joiner}okafor" if before else f"okafor{joiner}{tail}"
    text = f"login: {handle}\nreset by helpdesk"
    assert _covered(text, handle, known)


def test_a_full_stop_or_a_missing_space_does_not_grow_the_name() -> None:
    known = _known("Ibeoma", "Okafor")
    for text, expected in (
        ("Seen Ibeoma Okafor. Plan as below.", "Ibeoma Okafor"),
        ("Pt Okafor.Next visit in May", "Okafor"),
    ):
        spans = DETECTOR.analyze(text, known)
        assert [text[s.start : s.end] for s in spans][0] == expected
