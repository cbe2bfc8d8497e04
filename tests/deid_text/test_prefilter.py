"""The hyperscan prefilter of the text patterns (ADR 0131): it may run a pattern needlessly,
never skip one that matches; the spans are the same with it and without it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import regex  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.deid.pseudonym import Pseudonymizer
from clinflow.deid.text import prefilter
from clinflow.deid.text.corpus import load_annotated_notes
from clinflow.deid.text.engine import TextDeidentifier
from clinflow.deid.text.known import known_for_note
from clinflow.deid.text.prefilter import Prefilter, reading, widened
from clinflow.deid.text.recognizers import compiled_patterns

hyperscan = pytest.importorskip("hyperscan", reason="hyperscan has wheels for x86-64 Linux only")

DEV = Path(__file__).parent / "data" / "dev_notes.jsonl"


def wide_matches(pattern: str, text: str, flags: int = 0) -> bool:
    expression = widened(pattern, flags | regex.V0)
    assert expression is not None, pattern
    database = hyperscan.Database()
    database.compile(
        expressions=[expression.encode("latin-1")],
        ids=[0],
        elements=1,
        flags=[hyperscan.HS_FLAG_PREFILTER | hyperscan.HS_FLAG_ALLOWEMPTY],
    )
    hits: list[int] = []
    database.scan(reading(text), match_event_handler=lambda *args: hits.append(1))
    return bool(hits)


@pytest.mark.parametrize(
    ("pattern", "flags", "text"),
    [
        (r"(?<=Dr\.\s)\p{Lu}\p{Ll}+", 0, "seen by Dr. Łukasiewicz today"),  # non-ASCII letters
        (r"\bJosé\b", 0, "José Núñez"),
        (r"Mar[ií]a", 0, "MARÍA"[0:0] + "María Ortiz"),
        (r"(?i)kelvin", 0, "\u212aelvin"),  # the Kelvin sign folds to k
        (r"(?i)ross", 0, "Ro\u017fs"),  # the long s folds to s
        (r"[^\w\s]{2}", 0, "a\u2019\u2019b"),  # a negated class takes non-ASCII characters
        (r"(?-i:MRN)\s*\d+", regex.I, "MRN 4471902"),
        (r"[A-Z]{2,3}(?=/)", 0, "ÉLB/tr"[1:]),
        (r"\P{L}+\d", 0, "\u00a0\u00a07"),  # a negated property: any character
        (r"\d{3}-\d{4}", 0, "\u0663\u0664\u0665-0133"),  # Unicode digits are \d to regex
        (r"(?P<phi>ab)|x(?P<phi>cd)", 0, "xcd"),  # one group name in two branches
        (r"(?m)^\s*(?i)signed", 0, "\n  SIGNED"),  # global flags in mid-pattern (regex V0)
    ],
)
def test_wide_pattern_matches_where_the_pattern_does(pattern: str, flags: int, text: str) -> None:
    assert regex.search(pattern, text, flags | regex.V0)
    assert wide_matches(pattern, text, flags)


def test_constructs_it_cannot_widen_always_run() -> None:
    assert widened(r"(?P<scheme>[A-Z]+)-\d+ (?P=scheme)", 0) is None  # a back-reference
    assert widened(r"[[:alpha:]]+\d", 0) is None  # a POSIX class
    assert widened(r"(?<a>x)?(?(a)y|z)", 0) is None  # a condition
    assert widened(r"(unbalanced", 0) is None
    pf = Prefilter([(r"(?P<s>a)(?P=s)", 0), (r"xyz", 0)], cache_dir=None)
    assert pf.always == {0}
    assert pf.possible("nothing here") == {0}
    assert pf.possible("-- xyz --") == {0, 1}


# small regexes over an alphabet with the awkward characters, and texts over the same
_ATOMS = st.sampled_from(
    [
        "a", "K", "s", "é", "Ł", "’", "-", " ", "1", "\\d", "\\w", "\\s", "\\W", "\\S", "\\D",
        ".", "[a-z]", "[^a-z]", "[A-Z]", "[^\\w]", "\\p{Lu}", "\\p{Ll}", "\\P{L}", "[éa-c]",
        "[^’]", "\\b", "(?<![\\w-])", "(?=[A-Z])", "(?!x)", "^", "$",
    ]
)  # fmt: skip


def _regexes() -> st.SearchStrategy[str]:
    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.lists(children, min_size=2, max_size=4).map("".join),
            st.lists(children, min_size=2, max_size=3).map(lambda p: "(?:" + "|".join(p) + ")"),
            st.tuples(children, st.sampled_from(["?", "*", "+", "{2}", "{1,3}", "{0,5}"])).map(
                lambda t: "(?:" + t[0] + ")" + t[1]
            ),
            children.map(lambda p: "(?i:" + p + ")"),
            children.map(lambda p: "(?-i:" + p + ")"),
        )

    return st.recursive(_ATOMS, extend, max_leaves=8)


_TEXT = st.text(alphabet="aAkKsSéÉłŁ’'- 1\n\u212a\u017f\u0663xyzBc", max_size=12)


@settings(max_examples=400, deadline=None)
@given(_regexes(), _TEXT, st.booleans())
def test_property_wide_pattern_never_misses(pattern: str, text: str, caseless: bool) -> None:
    flags = regex.I if caseless else 0
    try:
        compiled = regex.compile(pattern, flags | regex.V0)
    except regex.error:
        return
    if compiled.search(text) is None:
        return
    expression = widened(pattern, flags | regex.V0)
    if expression is None:
        return  # (not widened: the pattern always runs)
    assert wide_matches(pattern, text, flags), (pattern, text)


def test_engine_spans_are_the_same_with_and_without_prefilter() -> None:
    notes = load_annotated_notes(DEV)
    with_filter = TextDeidentifier(Pseudonymizer(bytes(range(32))))
    without = TextDeidentifier(Pseudonymizer(bytes(range(32))))
    without._prefilter = None
    assert with_filter._prefilter is not None
    skipped = 0
    for note in notes:
        known = known_for_note(note.record, note.people)
        assert with_filter.analyze(note.text, known) == without.analyze(note.text, known)
        skipped += len(compiled_patterns()) - len(with_filter._prefilter.possible(note.text))
    assert skipped > len(notes) * len(compiled_patterns()) // 3  # it does skip work


def test_every_pattern_that_matches_a_dev_note_is_possible() -> None:
    pf = prefilter.pattern_prefilter()
    patterns = compiled_patterns()
    for note in load_annotated_notes(DEV):
        possible = pf.possible(note.text)
        for index, (spec, compiled) in enumerate(patterns):
            if compiled.search(note.text) is not None:
                assert index in possible, spec.name


def test_databases_are_read_back_from_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    patterns = [(r"(?i)\bMRN\b[:#]?\s*\d+", 0), (r"Dr\.\s\p{Lu}\p{Ll}+", 0)]
    first = Prefilter(patterns, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("patterns-*.hsdb"))) == 1

    def no_build(*_args: object) -> None:
        raise AssertionError("built again instead of read from the cache")

    monkeypatch.setattr(prefilter, "_build", no_build)
    second = Prefilter(patterns, cache_dir=tmp_path)
    for text in ("mrn: 4471902", "seen by Dr. Ávila", "nothing"):
        assert second.possible(text) == first.possible(text)
    assert second.possible("Dr. Ávila") == {1}


def test_a_damaged_cache_is_built_again(tmp_path: Path) -> None:
    patterns = [(r"MRN\s*\d+", 0)]
    Prefilter(patterns, cache_dir=tmp_path)
    (cached,) = tmp_path.glob("patterns-*.hsdb")
    cached.write_bytes(cached.read_bytes()[:100])
    again = Prefilter(patterns, cache_dir=tmp_path)
    assert again.possible("MRN 12") == {0}
    assert again.possible("none") == set()


def test_cache_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CLINFLOW_CACHE_DIR", "")
    assert prefilter.cache_dir() is None
    monkeypatch.setenv("CLINFLOW_CACHE_DIR", str(tmp_path))
    assert prefilter.cache_dir() == tmp_path
    monkeypatch.delenv("CLINFLOW_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert prefilter.cache_dir() == tmp_path / "xdg" / "clinflow"


def test_without_hyperscan_every_pattern_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hyperscan", None)  # import fails as on aarch64
    pf = Prefilter([(r"MRN\s*\d+", 0), (r"xyz", 0)], cache_dir=None)
    assert pf.possible("nothing") == {0, 1}


def test_a_refused_scan_runs_every_pattern() -> None:
    pf = Prefilter([(r"MRN\s*\d+", 0), (r"xyz", 0)], cache_dir=None)

    class Refusing:
        def scan(self, *_args: object, **_kwargs: object) -> None:
            raise hyperscan.error("refused")

    pf._databases = [Refusing()]
    assert pf.possible("nothing") == {0, 1}
