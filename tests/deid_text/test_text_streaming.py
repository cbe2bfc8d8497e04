"""Chunked detection: identifiers straddling chunk boundaries are caught, and the streamed
output equals the one-shot de-identification."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.deid.text.corpus import load_annotated_notes
from clinflow.deid.text.engine import TextDeidentifier
from clinflow.deid.text.evaluate import known_for_note
from clinflow.deid.text.streaming import StreamingTextDeidentifier

from .helpers import DEV_NOTES

NOTES = load_annotated_notes(Path(__file__).parent / "data" / DEV_NOTES)



def stream(deid: TextDeidentifier, text: str, cuts: list[int], window: int = 96,
           known: object = None) -> tuple[str, StreamingTextDeidentifier]:
    streamer = StreamingTextDeidentifier(deid, "p1", known, window=window)  # type: ignore[arg-type]
    out, last = [], 0
    for cut in sorted(set(cuts)) + [len(text)]:
        out.append(streamer.feed(text[last:cut]))
        last = cut
    out.append(streamer.close())
    return "".join(out), streamer


@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_streamed_output_equals_one_shot(deid: TextDeidentifier, data: st.DataObject) -> None:
    note = data.draw(st.sampled_from(NOTES))
    cuts = data.draw(st.lists(st.integers(0, len(note.text)), max_size=30))
    known = known_for_note(note.record, note.people)
    expected = deid.deidentify(note.text, "p1", known).text
    out, streamer = stream(deid, note.text, cuts, known=known)
    assert out == expected
    assert [(s.start, s.end) for s in streamer.spans] == [
        (s.start, s.end) for s in deid.analyze(note.text, known)
    ]


@pytest.mark.parametrize("offset", range(0, 23))
def test_a_name_across_a_chunk_boundary_is_caught(deid: TextDeidentifier, offset: int) -> None:
    prefix = "Patient resting comfortably overnight. Discussed plan with "
    text = prefix + "Xzavian G. Tavares, M.D. this morning; daughter aware.\n"
    out, _ = stream(deid, text, [len(prefix) + offset - 3, len(prefix) + offset], window=32)
    assert "Xzavian" not in out and "Tavares" not in out
    assert out == deid.deidentify(text, "p1").text


def test_nothing_is_released_before_the_window_fills(deid: TextDeidentifier) -> None:
    streamer = StreamingTextDeidentifier(deid, "p1", window=64)
    assert streamer.feed("Seen by Dr. Hobbs") == ""
    assert streamer.close() == deid.deidentify("Seen by Dr. Hobbs", "p1").text
    with pytest.raises(ValueError, match="closed"):
        streamer.feed("more")
