"""Builders shared by the free-text de-identification tests."""

from __future__ import annotations

from clinflow.deid.text.engine import Span

DEV_NOTES = "dev_notes.jsonl"  # tests/deid_text/data/: own development notes, {{TYPE|x}} markup


def covered(text: str, surface: str, spans: list[Span] | tuple[Span, ...], start: int = 0) -> bool:
    """Every letter and digit of the first ``surface`` at or after ``start`` lies in a span
    (the scoring rule of clinflow.deid.text.evaluate)."""
    at = text.index(surface, start)
    return all(
        any(s.start <= i < s.end for s in spans)
        for i in range(at, at + len(surface))
        if text[i].isalnum()
    )


def patient(given: list[str], family: str, mrn: str, phone: str) -> dict[str, object]:
    """A FHIR Patient with an MRN and a phone number."""
    return {
        "resourceType": "Patient",
        "id": f"p-{mrn}",
        "name": [{"given": given, "family": family}],
        "identifier": [{"type": {"coding": [{"code": "MR"}]}, "value": mrn}],
        "telecom": [{"system": "phone", "value": phone}],
    }


def overlapping(
    text: str, safe: str, spans: list[Span] | tuple[Span, ...], start: int = 0
) -> list[str]:
    """The spans (text and recognizer) touching the first ``safe`` at or after ``start``:
    empty when a look-alike is kept."""
    at = text.index(safe, start)
    return [
        f"{text[s.start : s.end]} ({s.recognizer})"
        for s in spans
        if s.start < at + len(safe) and at < s.end
    ]
