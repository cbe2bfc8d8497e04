"""Names in the sign-off column of a table typed into a note.

Flowsheets, run sheets and medication records pasted as Markdown tables end a row with the
initials or name of whoever did it, under a header such as "Init", "Initials", "By", "Sign",
"RN" or "Checked by" (``| 0730 | 150/84 | 80 | KD |``). The header says what the cells
are, so initials that no other rule would take ("KD", "jr", "TMcG") are names there.
"""

from __future__ import annotations

from collections.abc import Callable

import regex  # type: ignore[import-untyped]

_SIGN_OFF_HEADER = regex.compile(
    r"(?i)(?:init|inits|initials|by|sign|signed|signature|sig|staff|nurse|rn|lpn|tech|"
    r"technician|clinician|provider|author|witness|verified(?:[ ]by)?|checked(?:[ ]by)?|"
    r"done[ ]by|given[ ]by|performed[ ]by|entered[ ]by|administered[ ]by|recorded[ ]by|"
    r"reviewed[ ]by|co-?sign(?:ed)?(?:[ ]by)?)"
)
_SEPARATOR_ROW = regex.compile(r"^[ \t]*\|?(?:[ \t]*:?-{2,}:?[ \t]*\|)+[ \t]*:?-*:?[ \t]*$")
_INITIALS = regex.compile(r"(?:\p{L}\.?[ ]?){1,3}\p{L}\.?|\p{Lu}{1,2}\p{L}{0,3}")
_NAME_CELL = regex.compile(r"\p{L}[\p{L}.'’\-]*(?:[ ]\p{L}[\p{L}.'’\-]*){0,3}")
_NOT_A_SIGNER = frozenset(
    {"na", "n/a", "nil", "none", "yes", "no", "ok", "done", "tbd", "pend", "pending", "auto",
     "self", "pt", "patient", "family", "md", "rn", "np", "pa", "see", "above", "same", "n"}
)


def _cells(line: str, offset: int) -> list[tuple[int, int]]:
    """(start, end) of each cell's stripped text in a ``| a | b |`` row."""
    cells: list[tuple[int, int]] = []
    bars = [i for i, c in enumerate(line) if c == "|"]
    for left, right in zip(bars, bars[1:], strict=False):
        start, end = left + 1, right
        while start < end and line[start] in " \t":
            start += 1
        while end > start and line[end - 1] in " \t":
            end -= 1
        cells.append((offset + start, offset + end))
    return cells


def lines_with_offsets(text: str) -> tuple[list[str], list[int]]:
    """The text's lines and where each starts (one more offset: the end of the last)."""
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    return lines, offsets


def sign_off_cells(text: str, is_word: Callable[[str], bool]) -> list[tuple[int, int]]:
    """Initials and names in the cells of a table column headed as a sign-off column."""
    if "|" not in text:
        return []
    spans: list[tuple[int, int]] = []
    lines, offsets = lines_with_offsets(text)
    index = 0
    while index + 1 < len(lines):
        header, separator = lines[index], lines[index + 1]
        if not (header.lstrip().startswith("|") and _SEPARATOR_ROW.match(separator)):
            index += 1
            continue
        columns = [
            position
            for position, (start, end) in enumerate(_cells(header, offsets[index]))
            if _SIGN_OFF_HEADER.fullmatch(text[start:end])
        ]
        row = index + 2
        while row < len(lines) and lines[row].lstrip().startswith("|"):
            cells = _cells(lines[row], offsets[row])
            for column in columns:
                if column < len(cells):
                    start, end = cells[column]
                    if _is_signer(text[start:end], is_word):
                        spans.append((start, end))
            row += 1
        index = row
    return spans


def _is_signer(cell: str, is_word: Callable[[str], bool]) -> bool:
    if not cell or cell.casefold() in _NOT_A_SIGNER:
        return False
    if _INITIALS.fullmatch(cell):
        return True
    # a written name: not when every word is an ordinary one ("see above", "held")
    return bool(_NAME_CELL.fullmatch(cell)) and not all(
        is_word(word.strip(".'’-")) for word in cell.split()
    )
