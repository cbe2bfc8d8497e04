"""PHI found by the layout of pasted machine text, not by its words.

Two layouts that ambient feeds and pasted reports bring into notes:

- **HL7 v2 segments** (``PID|1||A123^^^HOSP^MR||DOE^JANE||19580417|F|||1 Main St^^TOWN^ST``):
  the standard fixes which field of which segment holds a name, an address, a phone, an id,
  a facility or a doctor, so the fields are PHI whatever their words are (``ROSE``, ``MAY``
  and ``BELL`` are ordinary words, not safe ones, in a name field).
- **Delimited tables with a header row** (``MRN|LAST|FIRST|DOB`` or ``| time | patient |
  by |``), with or without a Markdown separator row: a column headed as a person (patient,
  name, last/first, surname, given) or as a sign-off (by, chk, init, clinician) holds names
  or initials in every row.
"""

from __future__ import annotations

from collections.abc import Callable

import regex  # type: ignore[import-untyped]

from clinflow.deid.text.known import DATE, HOSPITAL, ID, LOCATION, PERSON, PHONE
from clinflow.deid.text.tables import lines_with_offsets

_P, _L, _H, _D, _T, _I = PERSON, LOCATION, HOSPITAL, DATE, PHONE, ID
_NAME = (0, 1, 2)
_ADDRESS = (0, 1, 2, 3, 4, 5)
_DOCTOR = (0, 1, 2, 3)
# segment -> {field number: (entity, components to take)}
# MSH counts its field separator as MSH-1, so its fields are shifted by one in a split.
_HL7_FIELDS: dict[str, dict[int, tuple[str, tuple[int, ...]]]] = {
    "MSH": {4: (_H, (0,)), 6: (_H, (0,))},  # sending / receiving facility
    "PID": {
        2: (_I, (0,)), 3: (_I, (0, 3)), 4: (_I, (0,)), 5: (_P, _NAME), 6: (_P, _NAME),
        7: (_D, (0,)), 9: (_P, _NAME), 11: (_L, _ADDRESS), 13: (_T, (0,)), 14: (_T, (0,)),
        18: (_I, (0,)), 19: (_I, (0,)), 20: (_I, (0,)), 21: (_I, (0,)), 23: (_L, (0,)),
        29: (_D, (0,)),
    },
    "NK1": {2: (_P, _NAME), 4: (_L, _ADDRESS), 5: (_T, (0,)), 6: (_T, (0,))},
    "PV1": {3: (_H, (3,)), 7: (_P, _DOCTOR), 8: (_P, _DOCTOR), 9: (_P, _DOCTOR),
            17: (_P, _DOCTOR), 19: (_I, (0,)), 50: (_I, (0,))},
    "PD1": {3: (_H, (0,)), 4: (_P, _DOCTOR)},
    "ORC": {10: (_P, _DOCTOR), 12: (_P, _DOCTOR), 21: (_H, (0,))},
    "OBR": {16: (_P, _DOCTOR), 28: (_P, _DOCTOR), 32: (_P, _DOCTOR)},
    "IN1": {16: (_P, _NAME), 19: (_L, _ADDRESS), 36: (_I, (0,)), 49: (_I, (0,))},
    "GT1": {3: (_P, _NAME), 5: (_L, _ADDRESS), 6: (_T, (0,)), 7: (_T, (0,)), 12: (_I, (0,))},
}  # fmt: skip
_HL7_SEGMENT = regex.compile(r"(?m)^[ \t]*(MSH|PID|NK1|PV1|PD1|ORC|OBR|IN1|GT1)\|[^\n]*")
# assigning authorities and type codes that name no one
_HL7_CODES = frozenset({"SSA", "USSSA", "SS", "MR", "MRN", "NPI", "DL", "PI", "PN", "AN", "PT"})


def hl7_fields(text: str) -> list[tuple[int, int, str]]:
    """The PHI components of HL7 v2 segments pasted into a note, with their entity."""
    if "|" not in text:
        return []
    spans: list[tuple[int, int, str]] = []
    for line in _HL7_SEGMENT.finditer(text):
        segment = line.group(1)
        wanted = _HL7_FIELDS[segment]
        shift = 1 if segment == "MSH" else 0
        position = line.start(1)
        for number, field in enumerate(line.group(0).lstrip(" \t").split("|")):
            rule = wanted.get(number + shift)
            if rule is not None and field:
                entity, components = rule
                found = _components(field, position, components)
                if entity == LOCATION and found:  # one address: a country alone is no PHI
                    found = [(found[0][0], found[-1][1])]
                spans.extend((s, e, entity) for s, e in found)
            position += len(field) + 1
    return spans


def _components(field: str, start: int, wanted: tuple[int, ...]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    at = start
    for repetition in field.split("~"):
        offset = at
        for index, component in enumerate(repetition.split("^")):
            value = component.strip()
            if index in wanted and value and value not in _HL7_CODES and len(value) > 1:
                begin = offset + component.index(value)
                spans.append((begin, begin + len(value)))
            offset += len(component) + 1
        at += len(repetition) + 1
    return spans


_PERSON_HEADER = regex.compile(
    r"(?i)(?:patient|pt|name|patient[ ]name|pt[ ]name|last|first|last[ ]name|first[ ]name|"
    r"surname|given|given[ ]name|forename|family[ ]name|lname|fname|full[ ]name|patient[ ]/[ ]mrn|"
    r"name[ ]/[ ]mrn|pt[ ]/[ ]mrn|resident|client|member|guest|inmate|"
    r"by|chk|check|checked|checker|init|inits|initials|sign|signed|sig|staff|nurse|rn|tech|"
    r"clinician|provider|prescriber|author|witness|verified[ ]by|checked[ ]by|done[ ]by|"
    r"reviewed[ ]by|entered[ ]by|given[ ]by|called[ ]to|attending|doctor|physician|md|"
    # an operating list's team columns
    r"surgeon|surgeons|anes|anesth|anesthesia|anaesthesia|anaesthetist|anesthesiologist|crna|"
    r"assist|assistant|scrub|circ|circulator)"
)
_CELL_NAME = regex.compile(
    r"[\"'“]?\p{L}[\p{L}.'’\-]*[\"'”]?(?:,?[ ]+[\"'“]?\p{L}[\p{L}.'’\-]*[\"'”]?){0,4}"
)
_NOT_A_NAME = frozenset(
    {"na", "n/a", "nil", "none", "yes", "no", "y", "n", "ok", "done", "tbd", "pending", "auto",
     "self", "pt", "patient", "family", "see", "above", "same", "unknown", "unk", "male",
     "female", "m", "f", "u",
     # an anaesthesia column's techniques
     "spinal", "mac", "general", "geta", "ga", "local", "la", "regional", "block", "epidural",
     "sedation", "lma", "ett", "tiva", "bier", "moderate", "iv", "mac/local", "cse"}
)  # fmt: skip


def delimited_name_cells(text: str, is_word: Callable[[str], bool]) -> list[tuple[int, int]]:
    """Names and initials in the person columns of a ``|``-delimited table under a header.

    A header row is a line of at least three ``|``-separated cells with no digit in it; the
    rows under it (same delimiter, until a line without one) are read by column.
    """
    if text.count("|") < 6:
        return []
    spans: list[tuple[int, int]] = []
    lines, offsets = lines_with_offsets(text)
    index = 0
    while index < len(lines):
        header = lines[index]
        cells = _split(header, offsets[index])
        if len(cells) < 3 or any(c.isdigit() for c in header) or _HL7_SEGMENT.match(header):
            index += 1
            continue
        columns = [
            n for n, (start, end) in enumerate(cells) if _PERSON_HEADER.fullmatch(text[start:end])
        ]
        row = index + 1
        while row < len(lines) and lines[row].count("|") >= 2:
            row_cells = _split(lines[row], offsets[row])
            for column in columns if len(row_cells) >= len(cells) - 1 else ():
                if column < len(row_cells):
                    spans.extend(_names_in_cell(text, *row_cells[column], is_word))
            row += 1
        index = max(row, index + 1)
    return spans


def comma_name_cells(text: str, is_word: Callable[[str], bool]) -> list[tuple[int, int]]:
    """Names and initials in the person columns of a pasted CSV export under its header
    (``room,pt_name,age,mrn,cc,rn,md`` then ``T3,"ABERNATHY, CLOVIS",91,...,REYES J,MALLORY``).

    A header is a line of at least four comma-separated cells, no digit and no space inside a
    cell, one of them a person column (``pt_name``, ``patient``, ``rn``, ``md``,
    ``attending``); the rows under it (lines with as many cells, quotes respected) are read
    by column until a line that has fewer.
    """
    if text.count(",") < 8:
        return []
    spans: list[tuple[int, int]] = []
    lines, offsets = lines_with_offsets(text)
    for index, header in enumerate(lines):
        names = header.strip().split(",")
        if len(names) < 4 or any(c.isdigit() for c in header) or any(" " in n for n in names):
            continue
        columns = [
            n
            for n, name in enumerate(names)
            if _PERSON_HEADER.fullmatch(name.strip().replace("_", " "))
        ]
        if not columns:
            continue
        for row in range(index + 1, len(lines)):
            cells = _split_quoted(lines[row], offsets[row])
            if len(cells) < len(names) - 1:
                break
            for column in columns:
                if column < len(cells):
                    spans.extend(_names_in_cell(text, *cells[column], is_word))
    return spans


def _split_quoted(line: str, offset: int) -> list[tuple[int, int]]:
    """(start, end) of each comma-separated cell, inside its quotes, stripped."""
    cells: list[tuple[int, int]] = []
    at = 0
    while at <= len(line):
        if line.startswith('"', at):
            close = line.find('"', at + 1)
            if close < 0:
                return cells
            cells.append((offset + at + 1, offset + close))
            at = close + 1
            comma = line.find(",", at)
            at = len(line) + 1 if comma < 0 else comma + 1
            continue
        comma = line.find(",", at)
        end = len(line) if comma < 0 else comma
        cells.append(_stripped(line, offset, at, end, " \t"))
        at = end + 1
    return cells


def _stripped(line: str, offset: int, left: int, right: int, lead: str) -> tuple[int, int]:
    """(start, end) in the text of ``line[left:right]`` without the ``lead`` characters
    before it and the white space after it."""
    while left < right and line[left] in lead:
        left += 1
    while right > left and line[right - 1] in " \t":
        right -= 1
    return offset + left, offset + right


def _split(line: str, offset: int) -> list[tuple[int, int]]:
    """(start, end) of each stripped cell; a leading and a trailing ``|`` open no cell."""
    if line.count("|") < 2:
        return []
    body_start, body_end = 0, len(line)
    stripped = line.strip()
    if stripped.startswith("|"):
        body_start = line.index("|") + 1
    if stripped.endswith("|"):
        body_end = line.rindex("|")
    cells: list[tuple[int, int]] = []
    start = body_start
    for position in [*(i for i in range(body_start, body_end) if line[i] == "|"), body_end]:
        cells.append(_stripped(line, offset, start, position, " \t*"))
        start = position + 1
    return cells


def _names_in_cell(
    text: str, start: int, end: int, is_word: Callable[[str], bool]
) -> list[tuple[int, int]]:
    """The name in a person cell: the whole cell, or its part before `` / `` (an MRN);
    a team written with a slash and no spaces is each of its names ("ELLINGBOE/VOS")."""
    cell = text[start:end]
    if " / " in cell:
        end = start + cell.index(" / ")
        cell = text[start:end]
    elif "/" in cell and " " not in cell and cell.casefold() not in _NOT_A_NAME:
        found: list[tuple[int, int]] = []
        at = start
        for part in cell.split("/"):
            found.extend(_names_in_cell(text, at, at + len(part), is_word))
            at += len(part) + 1
        return found
    if not cell or cell.casefold() in _NOT_A_NAME or not _CELL_NAME.fullmatch(cell):
        return []
    if len(cell) <= 3 and cell.isalpha():
        return [(start, end)]  # initials: "KT", "jr"
    words = [w.strip("\"'“”.,-") for w in cell.split()]
    lowered = [w for w in words if w and w[0].islower()]
    if lowered and all(is_word(w) for w in lowered):
        return []  # "unable to reach", "see notes"
    return [(start, end)]


# ----- addresses by their structure --------------------------------------------------------

# an address after its label: "Address: Lot 4, Hibiscus Scheme, Ocho Rios", "Home: ..."
_ADDRESS_LABEL = regex.compile(
    r"(?i:\b(?:address|addr|home(?:[ \t]address)?|residence|postal[ \t]address|"
    r"correspondence[ \t]address|lives[ \t]at|resides[ \t]at)[ \t]*:[ \t]*)"
    r"(?P<phi>[\p{Lu}\d][^\n]{2,90}?)(?=[ \t]{3,}|\t|\n|$)",
    regex.V0,
)
_PART = regex.compile(r"[\p{Lu}\d][\p{L}\d'’./()\-]*(?:[ \t][\p{L}\d'’./()\-]+){0,5}")
# a house number before a capitalised word, a four-to-six-digit postcode, a UK postcode
_ADDRESS_EVIDENCE = regex.compile(
    r"(?:^|[ \t])\d{1,5}[A-Za-z]?(?:[-/]\d{1,4})?[ \t]\p{Lu}|\b\d{4,6}\b"
    r"|\b[A-Z]{1,2}\d[A-Z\d]?[ \t]\d[A-Z]{2}\b"
)
# words written in lower case inside a street's or town's name ("Heol y Bont", "Rua da Paz")
_PARTICLES = frozenset(
    "y yr a de da das do dos del della di du la le les van der den von am an op".split()
)
_NOT_ADDRESS = regex.compile(r"\d[.,]\d|\b(?:mg|ml|mmol|kg|bpm|mmHg|units?|x\d)\b", regex.I)


def address_lines(text: str) -> list[tuple[int, int]]:
    """Addresses by their structure, whatever their words: the value of an address label
    (with a comma or a digit in it), or a line of comma-separated parts that each start
    with a capital or a digit and that carries a house number or a postcode."""
    spans: list[tuple[int, int]] = []
    for match in _ADDRESS_LABEL.finditer(text):
        value = match.group("phi")
        if any(c.isdigit() for c in value) or "," in value:
            spans.append(match.span("phi"))
    if text.count(",") < 1:
        return spans
    offset = 0
    for line in text.split("\n"):
        head = line.split("   ")[0].rstrip()
        parts = [p.strip() for p in head.split(",")]
        if (
            len(parts) >= 2
            and ":" not in head
            and all(_PART.fullmatch(p) for p in parts)
            and not any(
                w[0].islower() and w not in _PARTICLES for p in parts for w in p.split()
            )
            and (len(parts) >= 3 or regex.search(r"\b[A-Z]{1,2}\d[A-Z\d]?[ \t]\d[A-Z]{2}$", head))
            and _ADDRESS_EVIDENCE.search(head)
            and not _NOT_ADDRESS.search(head)
        ):
            start = offset + len(line) - len(line.lstrip())
            spans.append((start, offset + len(head)))
        offset += len(line) + 1
    return spans


# ----- a name as VistA and other hospital systems print it: LAST,FIRST M ------------------
_COMMA_JOINED_NAME = regex.compile(
    r"(?<![\p{L}\d,'’-])\p{Lu}[\p{Lu}'’-]+(?:[ ]\p{Lu}[\p{Lu}'’-]+)?,"
    r"(?P<given>\p{Lu}[\p{Lu}'’-]+)(?:[ ]\p{Lu}(?:[\p{Lu}'’-]+|\.)?)?"
    r"(?![\p{L}\d'’-]|,\p{Lu}|[ ]\p{Lu}{2,},)",
    regex.V0,
)


_VOWEL = regex.compile(r"[AEIOUY]", regex.V0)


def comma_joined_names(
    text: str, is_listed: Callable[[str], bool], is_vocabulary: Callable[[str], bool]
) -> list[tuple[int, int]]:
    """Names in capitals with no space after the comma, as VistA prints patients, providers
    and signers ("PARHAM,CHESTER", "MCALESTER,JUNE L", "OYELARAN-PIKE,TOBI"): a part is a
    listed name, or the family name is no word of the vocabulary and both parts read as words
    (a vowel, five letters and four). A list of tests or codes ("BUN,CREAT", "PT,INR,PTT",
    "HGB,HCT", "TYLENOL,MOTRIN") is not a name."""
    if "," not in text:
        return []
    found = []
    for m in _COMMA_JOINED_NAME.finditer(text):
        surname, given = m.group().split(",", 1)[0], m.group("given")
        parts = surname.replace("-", " ").split()
        if len(given) < 3:
            continue
        if any(is_listed(p) for p in [*parts, given]) or (
            not is_vocabulary(parts[0])
            and len(parts[0]) >= 5
            and len(given) >= 4
            and _VOWEL.search(parts[0]) is not None
            and _VOWEL.search(given) is not None
        ):
            found.append(m.span())
    return found


# ----- a ward handover board's rows: ward, bed, the patient's name and age/sex -------------
_BED_BOARD_ROW = regex.compile(
    r"(?m)^(?P<ward>\p{Lu}\p{Ll}{2,}(?:[ ]\p{Lu}\p{Ll}+)?)[ \t]{2,}\d{1,2}[A-Z]?[ \t]{2,}"
    r"(?P<name>\p{Lu}[\p{Lu}'’-]+,?(?:[ \t]\p{Lu}[\p{L}'’-]+){1,2})[ \t]+\d{1,3}[ \t]?[MF]\b",
    regex.V0,
)


def bed_board_rows(text: str) -> list[tuple[int, int, str]]:
    """A handover board's rows as UK and Australian wards print them: the ward's name, its
    bed, then the patient as SURNAME Given and age/sex ("Cavell    3    NUTTALL, Gordon
    67M ..."): the ward is a care site, the name a person."""
    hits: list[tuple[int, int, str]] = []
    for m in _BED_BOARD_ROW.finditer(text):
        hits.append((*m.span("ward"), HOSPITAL))
        hits.append((*m.span("name"), PERSON))
    return hits


# a farm, ranch or homestead named after its family, as rural EMS and public-health notes
# place a scene: "Pruitt place", "the Eli Miller farm", "Vandergriff Ranch", "the old
# Engelbert quarter" (a word that is no name is no place: "meeting place", "dairy farm")
_NAMED_HOMEPLACE = regex.compile(
    r"(?P<phi>(?:\p{Lu}\p{Ll}+[ \t]){1,2}(?:place|farm|ranch|quarter|homestead|"
    r"Place|Farm|Ranch|Homestead))\b"
)


def named_homeplaces(text: str, is_word: Callable[[str], bool]) -> list[tuple[int, int]]:
    """Farms and ranches named after a family (see ``_NAMED_HOMEPLACE``): kept when a
    capitalised word before the head is no ordinary word ("Eli Miller", not "Meeting")."""
    spans = []
    for match in _NAMED_HOMEPLACE.finditer(text):
        words = match.group("phi").split()[:-1]
        if any(not is_word(word.lower()) for word in words):
            spans.append(match.span("phi"))
    return spans


# letters only Vietnamese writes (the Latin Extended Additional block, and ơ ư đ)
_VIETNAMESE_LETTER = regex.compile(r"[\u1EA0-\u1EF9ơưđƠƯĐ]")
_VIETNAMESE_COUNTRY = frozenset({"việt nam"})  # a country alone is no PHI
_CAPITALISED_RUN = regex.compile(r"\p{Lu}\p{L}*(?:[ \t]+\p{Lu}\p{L}*){1,3}")


def vietnamese_names(text: str, is_word: Callable[[str], bool]) -> list[tuple[int, int]]:
    """A name written in Vietnamese ("Trần Thị Mỹ", "Nguyễn Văn Bảo"): two to four capitalised
    words of which two carry letters only Vietnamese writes, without an English word before
    them ("Daughter Trần Minh Thư"). (A place so written, "Đà Nẵng", is PHI as well.)"""
    if not _VIETNAMESE_LETTER.search(text):
        return []
    spans = []
    for m in _CAPITALISED_RUN.finditer(text):
        words = list(regex.finditer(r"\S+", m.group()))
        while words and not _VIETNAMESE_LETTER.search(words[0][0]) and is_word(words[0][0].lower()):
            words.pop(0)
        if (
            len(words) >= 2
            and sum(1 for w in words if _VIETNAMESE_LETTER.search(w[0])) >= 2
            and " ".join(w[0] for w in words).casefold() not in _VIETNAMESE_COUNTRY
        ):
            spans.append((m.start() + words[0].start(), m.end()))
    return spans


# a chat or message export's sender after its time stamp: "[22:44] jen t (RN): ...", "21:03
# Fellow - Asha R: omw", "[27/06/71, 08:16] Ray D.: ..."
_CHAT_SENDER = regex.compile(
    r"(?m)^[ \t]*(?:\[[\d/:., -]{4,22}\]|\d{1,2}:\d{2}(?::\d{2})?)[ \t]+"
    r"(?:(?:Fellow|Attending|Resident|Intern|Charge|RN|NP|PA|MD|CNA|SW|CM)[ \t]+-[ \t]+)?"
    r"(?P<phi>\p{L}[\p{L}'-]+(?:[ \t]\p{L}[\p{L}'-]*\.?){0,2})"
    r"(?=[ \t]*(?:\([A-Za-z/ ]{1,12}\))?[ \t]*:[ \t])"
)


def chat_senders(
    text: str, is_word: Callable[[str], bool], is_listed: Callable[[str], bool]
) -> list[tuple[int, int]]:
    """Senders of an exported chat (see ``_CHAT_SENDER``): a first word in the name lists, or
    of three letters or more that is no ordinary word nor in capitals (not "Client:", "CHW:",
    "PROVIDER:", "bot:"), and after it only initials or such words ("Asha R", "Ray D.", "jen
    t"; not "Disp advised caller")."""

    def namelike(word: str) -> bool:
        bare = word.rstrip(".")
        return is_listed(bare) or (
            len(bare) >= 3 and not bare.isupper() and not is_word(bare.lower())
        )

    spans = []
    for match in _CHAT_SENDER.finditer(text):
        words = match.group("phi").split()
        if namelike(words[0]) and all(
            len(w.rstrip(".")) <= 2 or namelike(w) for w in words[1:]
        ):
            spans.append(match.span("phi"))
    return spans
