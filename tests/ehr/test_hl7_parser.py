"""clinflow's HL7 v2 parser: a corpus of tricky messages checked against python-hl7's parse,
hypothesis round trips (any text survives escape -> encode -> parse), and malformed input
rejected with the segment and field named and no value echoed."""

from __future__ import annotations

from typing import Any

import hl7
import pytest
from hl7.containers import Component, Repetition
from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.ehr.hl7.fhir_map import validate_and_map
from clinflow.ehr.hl7.parser import HL7Error, escape, parse, unescape
from clinflow.errors import InputRejected
from helpers.fuzz import MUTATIONS, SEEDS, fuzz_tests, mutate, only_clinflow_errors, tally

MSH = "MSH|^~\\&|MON|ICU|CLINFLOW|CLINFLOW|20260105081500+0000||ORU^R01|C1|P|2.5.1"

CORPUS: dict[str, str] = {
    "delimiters escaped in a value": MSH + "\rOBX|1|ST|X^Y^L||a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f|",
    "repetitions with empty ones": MSH + "\rPID|1||A^^^H^MR~~B^^^H^PI~||Doe^Jo~~Roe^Al^^^^^A",
    "subcomponents (HD inside CX)": MSH + "\rPID|1||123^^^HOSP&1.2.3&ISO^MR||x&y&&z^a",
    "trailing delimiters": MSH + "\rPV1|1|I|ICU^^^||||^^^^^|||\rZZZ|^^^|~~~|&&&|",
    "hex escapes": MSH + "\rOBX|1|ST|X^^L||\\X41\\\\X4243\\|\\X7C\\",
    "formatted text": MSH + "\rNTE|1||line one\\.br\\line two\\.sp\\end\\.fi\\\\.nf\\",
    "Z-segments with structure": MSH + "\rZMD|1|MONITOR^ICU-3&B~PUMP^X|v4.2\rZ01|a\\S\\b",
    "UTF-8 text": MSH + "\rPID|1||9^^^H^MR||Müller^Zoë^Ана^^Dr.|",
    "escaped escape next to delimiters": MSH + "\rOBX|1|ST|A^^L||\\E\\\\F\\^\\E\\&\\E\\~x",
    "non-default delimiters": "MSH#$*!@#MON#ICU#A#B#20260105##ORU$R01#C2#P#2.5\r"
    "PID#1##12$$$H$MR*34$$$H$PI##Doe$J!S!n@x#",
    "many empty fields": MSH + "\rOBR|1||S-1|85353-1^Vital signs panel^LN|||20260105081500",
    "empty segment lines between": MSH + "\r\rPID|1||7^^^H^MR\r\r",
}


def _reference_tree(message: hl7.Message) -> list[list[list[list[list[str]]]]]:
    """python-hl7's parse as [segment][field][repetition][component][subcomponent], leaves
    unescaped with its own ``unescape`` (its line break is CR, clinflow's LF)."""

    def leaf(text: str) -> str:
        return str(message.unescape(text)).replace("\r", "\n")

    def component(c: Any) -> list[str]:
        return [leaf(c)] if isinstance(c, str) else [leaf(s) for s in c]

    def repetition(r: Any) -> list[list[str]]:
        return [[leaf(r)]] if isinstance(r, str) else [component(c) for c in r]

    def field(f: Any) -> list[list[list[str]]]:
        items = list(f)
        if items and all(isinstance(i, Repetition) for i in items):
            return [repetition(r) for r in items]
        if len(items) == 1 and isinstance(items[0], str):
            return [[[leaf(items[0])]]]
        assert not any(isinstance(i, Component) for i in items), items
        return [[[leaf(str(i)) for i in items]]]

    out = []
    for segment in message:
        fields = [field(f) for f in segment]
        if str(segment[0]) == "MSH":  # MSH-1 and MSH-2 are delimiters, not split or unescaped
            fields[1] = [[[str(segment[1])]]]
            fields[2] = [[[str(segment[2])]]]
        out.append(fields)
    return out


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_parses_like_python_hl7(name: str) -> None:
    text = CORPUS[name]
    ours = [segment.tree() for segment in parse(text)]
    reference = _reference_tree(hl7.parse(text.replace("\r\r", "\r").rstrip("\r")))
    assert ours == reference


def test_corpus_values_read_as_expected() -> None:
    """What the cross-check cannot show on its own: the values are the ones meant."""
    obx = parse(CORPUS["delimiters escaped in a value"]).first("OBX")
    assert obx is not None and obx.value(5) == "a|b^c&d~e\\f"
    pid = parse(CORPUS["subcomponents (HD inside CX)"]).first("PID")
    assert pid is not None and pid.value(3, 4, 2) == "1.2.3" and pid.value(3, 5) == "MR"
    hexed = parse(CORPUS["hex escapes"]).first("OBX")
    assert hexed is not None and hexed.value(5) == "ABC" and hexed.value(6) == "|"
    other = parse(CORPUS["non-default delimiters"])
    pid = other.first("PID")
    assert pid is not None and pid.value(3, repetition=1) == "34" and pid.value(5, 2) == "J$n"
    assert parse(CORPUS["UTF-8 text"].encode("utf-8")).segments[1].value(5, 3) == "Ана"
    reps = parse(CORPUS["repetitions with empty ones"]).first("PID")
    assert reps is not None and [r[0][0] for r in reps.repetitions(3)] == ["A", "", "B", ""]


def test_formatting_and_charset_escapes() -> None:
    assert unescape("a\\.br\\b\\.sk3\\c\\H\\d\\N\\e\\C2842\\f\\Zlocal\\") == "a\nb   cdef"
    assert unescape("\\XC3BC\\") == "ü" and unescape("\\XFC\\") == "ü"  # UTF-8, else Latin-1


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("PID|1||x", "MSH"),
        ("MSH|^|A|B|C|D", "MSH-2"),
        ("MSH|^^\\&|A|B", "MSH-2"),
        ("MSH|^~\\&|A\rpid|1|Jane Doe", "segment 2"),
        ("MSH|^~\\&|A\rPID|1||x\rMSH|^~\\&|B", "segment 3"),
    ],
)
def test_malformed_structure_names_where(text: str, where: str) -> None:
    with pytest.raises(HL7Error) as caught:
        parse(text)
    assert caught.value.location == where
    assert isinstance(caught.value, InputRejected)
    assert "Jane" not in str(caught.value)


SECRET = "Zed^Secretname"
ORU = (
    "MSH|^~\\&|MON|ICU|C|C|20260105081500+0000||ORU^R01|C9|P|2.5.1\r"
    f"PID|1||7731^^^H^MR||{SECRET}||19500101|F\rPV1|1|I|||||||||||||||||enc-1\r"
    "OBR|1||S-1|85353-1^^LN|||20260105081500+0000\r"
    "OBX|1|NM|8867-4^^LN||88|/min|||||F|||20260105081500+0000\r"
)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (("|88|", "|eighty|"), "OBX[1]-5"),
        (("|/min|", "|bpm|"), "OBX[1]-6"),
        (("|ORU^R01|", "|ORU^R99|"), "MSH-9"),
        (("|C9|", "||"), "MSH-10"),
        (("|20260105081500+0000||ORU", "|||ORU"), "MSH-7"),
        (("7731^^^H^MR", "7731^^^H^XX"), "PID[1]-3"),
        (("|19500101|", "|19501399|"), "PID[1]-7"),
        (("||||F|||2026", "||||Q|||2026"), "OBX[1]-11"),
        (("||88|", "||8\\8|"), "OBX[1]-5"),
        (("OBX|1|NM|8867-4^^LN", "OBX|1|NM|"), "OBX[1]-3"),
    ],
)
def test_invalid_content_names_segment_and_field_without_values(
    change: tuple[str, str], where: str
) -> None:
    message = ORU.replace(*change)
    assert message != ORU
    with pytest.raises(HL7Error) as caught:
        validate_and_map(message)
    assert caught.value.location == where
    for value in ("Secretname", "7731", "19500101", "eighty"):
        assert value not in str(caught.value)


def test_the_valid_reference_message_maps() -> None:
    mapped = validate_and_map(ORU)
    assert [r["resourceType"] for r in mapped.resources] == ["Patient", "Observation"]
    assert mapped.resources[1]["valueQuantity"]["value"] == 88


# ---------------------------------------------------------------------------- hypothesis

_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), max_size=12)
_component = st.lists(_text, min_size=1, max_size=3)
_repetition = st.lists(_component, min_size=1, max_size=3)
_field = st.lists(_repetition, min_size=1, max_size=3)
_name = st.from_regex(r"\A(?!MSH)[A-Z][A-Z0-9]{2}\Z")
_segment = st.tuples(_name, st.lists(_field, min_size=1, max_size=6))


def _encode(field: list[list[list[str]]]) -> str:
    return "~".join("^".join("&".join(escape(s) for s in comp) for comp in rep) for rep in field)


@settings(max_examples=80, deadline=None, derandomize=True, database=None)
@given(st.lists(_segment, min_size=1, max_size=5))
def test_any_text_round_trips(segments: list[tuple[str, list[list[list[list[str]]]]]]) -> None:
    text = MSH + "".join(
        "\r" + name + "|" + "|".join(_encode(f) for f in fields) for name, fields in segments
    )
    parsed = parse(text)
    assert [s.name for s in parsed.segments[1:]] == [name for name, _ in segments]
    for segment, (_, fields) in zip(parsed.segments[1:], segments, strict=True):
        assert segment.tree()[1:] == fields
    assert parse(parsed.encode()).encode() == parsed.encode()


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(_text)
def test_escape_inverts_unescape(value: str) -> None:
    assert unescape(escape(value)) == value


def _mutated_message(data: bytes | str, plan: int, mutations: int) -> None:
    """Random bytes, or the reference ORU damaged: a mapped message or an HL7Error naming a
    segment/field, never another exception and never the patient's name in the error."""
    raw = mutate(ORU.encode(), plan, mutations) if plan % 2 else data
    with only_clinflow_errors("validate_and_map") as raised:
        validate_and_map(raw)
    if raised:
        assert isinstance(raised[0], HL7Error), raised[0]
        assert raised[0].location and "Secretname" not in str(raised[0])
        tally("hl7:rejected")
    else:
        tally("hl7:accepted")


test_damaged_messages_are_rejected_cleanly, test_damaged_messages_many = fuzz_tests(
    "hl7",
    _mutated_message,
    data=st.binary(max_size=300) | st.text(max_size=300).map(lambda t: MSH + "\r" + t),
    plan=SEEDS,
    mutations=MUTATIONS,
)
