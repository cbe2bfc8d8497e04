"""Chunked free-text de-identification for text that arrives in pieces (transcript segments).

``StreamingTextDeidentifier.feed(chunk)`` returns the de-identified text that is safe to
release so far; ``close()`` returns the rest. Detection always runs on the unreleased text
plus up to ``window`` characters already released before it (the left context that cues such
as "d/w" or "Dr." and the sentence-start test look at), and the last ``window`` characters
are held back, so an identifier straddling a chunk boundary is seen whole before any of it is
released. A release point never falls inside a detected span and is moved back to a space
or line break. With spans shorter than the window (names, dates, numbers are), the
concatenated output equals the one-shot ``TextDeidentifier`` result.
"""

from __future__ import annotations

from dataclasses import replace

from clinflow.deid.text.engine import Span, TextDeidentifier
from clinflow.deid.text.known import KnownIdentifiers

DEFAULT_WINDOW = 256


class StreamingTextDeidentifier:
    """De-identifies one note or transcript fed in chunks; one instance per stream."""

    def __init__(
        self,
        deidentifier: TextDeidentifier,
        patient_key: str | None = None,
        known: KnownIdentifiers | None = None,
        window: int = DEFAULT_WINDOW,
    ) -> None:
        if window < 16:
            raise ValueError("window must be at least 16 characters")
        self.deidentifier = deidentifier
        self.patient_key = patient_key
        self.known = known
        self.window = window
        self._context = ""  # tail of the released raw text (left context for detection)
        self._pending = ""  # raw text not yet released
        self._released = 0  # raw characters released so far (absolute offset of _pending)
        self._spans: list[Span] = []
        self._closed = False

    @property
    def spans(self) -> tuple[Span, ...]:
        """Spans released so far, offsets into the whole stream."""
        return tuple(self._spans)

    def feed(self, chunk: str) -> str:
        """Add text; returns the de-identified text that can be released now (maybe "")."""
        if self._closed:
            raise ValueError("stream already closed")
        self._pending += chunk
        if len(self._pending) <= self.window:
            return ""
        spans = self._detect()
        cut = self._release_point(spans, len(self._pending) - self.window)
        return self._release(cut, spans) if cut > 0 else ""

    def close(self) -> str:
        """Release everything still held back."""
        if self._closed:
            return ""
        self._closed = True
        if not self._pending:
            return ""
        return self._release(len(self._pending), self._detect())

    # ----- internals ------------------------------------------------------------------
    def _detect(self) -> list[Span]:
        """Spans in the pending text (offsets into it), found with the left context."""
        offset = len(self._context)
        spans = self.deidentifier.analyze(self._context + self._pending, self.known)
        out = []
        for span in spans:
            if span.end <= offset:
                continue  # inside text already released
            out.append(replace(span, start=max(span.start, offset) - offset, end=span.end - offset))
        return out

    def _release_point(self, spans: list[Span], cut: int) -> int:
        """The latest point <= cut outside every span, moved back to whitespace."""
        changed = True
        while changed and cut > 0:
            changed = False
            for span in spans:
                if span.start < cut < span.end:
                    cut = span.start
                    changed = True
        space = max(self._pending.rfind(" ", 0, cut), self._pending.rfind("\n", 0, cut))
        if space > 0 and not any(s.start <= space < s.end for s in spans):
            cut = space + 1
        return cut

    def _release(self, cut: int, spans: list[Span]) -> str:
        released_spans = [s for s in spans if s.end <= cut]
        raw = self._pending[:cut]
        text = self.deidentifier.replace(raw, released_spans, self.patient_key)
        self._spans.extend(
            replace(s, start=s.start + self._released, end=s.end + self._released)
            for s in released_spans
        )
        self._released += cut
        self._context = (self._context + raw)[-self.window :]
        self._pending = self._pending[cut:]
        return text
