"""The lab files: structure, commands that exist in the real CLI, the block parser, and the
checker's answers on missing, malformed and hostile inputs (fast: nothing is generated)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.labs.catalog import all_labs, blocks, find_lab, next_step
from clinflow.labs.checks import Problem, Stop, compare_answers, read_answers

from .helpers import clinflow_in_process

SECTIONS = ("## Goals", "## Background", "## Steps", "## Exercise", "## Questions", "## Self-check")
# Why each control exists: the references each lab's background must give.
REFERENCES = {
    1: ["Safe Harbor", "164.514"],
    2: ["PS3.15", "Safe Harbor"],
    3: ["Safe Harbor", "recall"],
    4: ["164.508", "crypto-shred"],
    5: ["164.528", "RFC 9162", "164.312"],
    6: ["minimum necessary", "164.502(b)"],
    7: ["open loop", "164.312"],
}


def test_seven_labs_numbered_in_order_with_every_section() -> None:
    labs = all_labs()
    assert [lab.number for lab in labs] == [1, 2, 3, 4, 5, 6, 7]
    for lab in labs:
        text = lab.path.read_text(encoding="utf-8")
        assert [s for s in SECTIONS if s not in text] == [], lab.path.name
        low, high = (int(m) for m in re.split("[–-]", lab.minutes))
        assert 30 <= low <= high <= 60, lab.path.name
        for reference in REFERENCES[lab.number]:
            assert reference in text, f"{lab.path.name}: {reference}"
        assert lab.steps[0].splitlines()[0] == f"clinflow lab start {lab.number}"


def test_answers_live_only_in_the_instructor_guide() -> None:
    for lab in all_labs():
        text = lab.path.read_text(encoding="utf-8")
        assert "sh solution" not in text and "## Answers" not in text, lab.path.name
        guide = lab.path.parent / "instructor" / lab.path.name
        assert "## Answers to the questions" in guide.read_text(encoding="utf-8")
        assert lab.solution and lab.solution[-1].endswith(f"clinflow lab check {lab.number}")


def clinflow_lines(text: str) -> list[str]:
    """The `clinflow ...` command of a line of an sh block, without redirections and pipes."""
    line = re.sub(r'"\$\([^"]*\)"', "SUBSTITUTED", text.strip())  # "$(...)": one word
    if not line.startswith("clinflow "):
        return []
    for cut in (" > ", " || ", " | ", " &"):
        line = line.split(cut)[0]
    return [line]


def resolve(group: Any, words: list[str]) -> tuple[Any, list[str]]:
    """The (sub)command the words name (typer may vendor click: duck-typed) and the rest."""
    command = group
    while hasattr(command, "get_command") and words and not words[0].startswith("-"):
        sub = command.get_command(command.context_class(command), words[0])
        assert sub is not None, f"no command {words[0]!r}"
        command, words = sub, words[1:]
    return command, words


def all_command_lines() -> list[tuple[str, str]]:
    lines = []
    for lab in all_labs():
        guide = lab.path.parent / "instructor" / lab.path.name
        for path in (lab.path, guide):
            in_block = False
            for raw in path.read_text(encoding="utf-8").splitlines():
                if raw.strip().startswith("```"):
                    in_block = not in_block
                    continue
                if in_block:
                    lines += [(path.name, line) for line in clinflow_lines(raw)]
    return lines


@pytest.mark.parametrize(("where", "line"), all_command_lines())
def test_every_clinflow_command_in_the_labs_exists_with_its_options(where: str, line: str) -> None:
    from clinflow.cli import app

    root = typer.main.get_command(app)
    command, rest = resolve(root, shlex.split(line)[1:])
    known = {opt for param in command.params for opt in param.opts + param.secondary_opts}
    unknown = [w.split("=")[0] for w in rest if w.startswith("--") and w.split("=")[0] not in known]
    assert not unknown, f"{where}: {line}: {unknown}"


def test_lab_start_prints_the_commands_after_itself() -> None:
    steps = ("clinflow lab start 2\ncat x", "clinflow deid dicom a b")
    assert next_step(steps, 2) == "cat x"
    assert next_step(("clinflow lab start 4", "clinflow consent status"), 4) == (
        "clinflow consent status"
    )
    for lab in all_labs():
        assert next_step(lab.steps, lab.number), lab.path.name


FENCE_INFO = st.sampled_from(["sh step", "sh", "sh solution", "python", "", "sh  step"])
BODY = st.lists(
    st.text(st.characters(blacklist_characters="`\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"))
    .map(str.strip)
    .filter(bool),
    min_size=1,
    max_size=4,
).map("\n".join)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(FENCE_INFO, BODY, BODY), max_size=6))
def test_blocks_returns_exactly_the_step_bodies(parts: list[tuple[str, str, str]]) -> None:
    text = "\n".join(f"{prose}\n```{info}\n{body}\n```" for info, body, prose in parts)
    expected = tuple(body for info, body, _ in parts if " ".join(info.split()) == "sh step")
    assert blocks(text, "sh step") == expected


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_read_answers_takes_any_bytes_without_a_traceback(data: bytes) -> None:
    path = Path("/tmp") / "clinflow-lab-answers-fuzz.yaml"
    path.write_bytes(data)
    try:
        answers = read_answers(path, "hint")
    except Stop as stop:
        assert stop.problem.what.startswith(str(path))
    else:
        assert isinstance(answers, dict)


@given(st.dictionaries(st.sampled_from(["patients", "kinds"]), st.text(min_size=6)))
def test_wrong_answers_are_named_by_key_never_by_value(answers: dict[str, str]) -> None:
    problems = compare_answers(
        Path("answers.yaml"), answers, {"patients": 4, "kinds": 15}, {"patients": "h", "kinds": "h"}
    )
    assert len(problems) == 2
    printed = " ".join(f"{p.what} {p.hint}" for p in problems)
    assert not [value for value in answers.values() if value in printed]


def run_check(number: int, folder: Path) -> tuple[int, str]:
    code, out, err = clinflow_in_process(["lab", "check", str(number)], folder)
    assert "Traceback" not in out + err
    return code, out + err


def test_check_of_a_missing_folder_says_to_start(tmp_path: Path) -> None:
    code, printed = run_check(3, tmp_path)
    assert code == 1
    assert "lab3 does not exist" in printed and "clinflow lab start 3" in printed


def test_unknown_lab_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = clinflow_in_process(["lab", "check", "9"], tmp_path)
    assert code == 2 and "lab 9: no such lab (known: 1, 2, 3, 4, 5, 6, 7)" in err


@pytest.mark.parametrize(
    ("number", "files", "expected"),
    [
        (1, {}, "lab1/cohort/summary.json is missing"),
        (4, {"patient.txt": "PT-0000000000000001\n", "receipt.json": "{not json"}, "not JSON"),
        (
            6,
            {"refused.json": "[1, 2]", "invariance.json": "{}", "triage.json": "{}"},
            "naming race",
        ),
        (6, {"refused.json": "{}", "invariance.json": "{}", "triage.json": "{}"}, "patient"),
        (7, {"faults/report.json": '{"faults": 3}', "answers.yaml": "a: 1"}, "not in the exp"),
        (2, {"site-policy.yaml": "x", "cohort/manifest.ndjson": ""}, "expected a mapping"),
    ],
)
def test_check_names_malformed_files_without_a_traceback(
    tmp_path: Path, number: int, files: dict[str, str], expected: str
) -> None:
    folder = tmp_path / f"lab{number}"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    code, printed = run_check(number, tmp_path)
    assert code == 1
    assert expected in " ".join(printed.split()), printed
    assert "hint:" in printed


def test_problem_is_what_and_hint() -> None:
    assert Problem("x", "y") == Problem("x", "y")
    assert find_lab(5).default_data_dir == Path("lab5")


def test_lab_list_names_every_lab(tmp_path: Path) -> None:
    code, out, _ = clinflow_in_process(["lab", "list"], tmp_path)
    assert code == 0
    for lab in all_labs():
        assert lab.title.split()[0] in out


def test_lab_start_prints_the_next_step_and_never_overwrites_work(tmp_path: Path) -> None:
    code, out, _ = clinflow_in_process(["lab", "start", "6", "--data-dir", "mine"], tmp_path)
    assert code == 0
    assert "wrote mine/triage.json" in out and "use mine instead" in out
    assert out.rstrip().endswith(next_step(find_lab(6).steps, 6))
    assert (tmp_path / "mine").stat().st_mode & 0o077 == 0  # a data directory: 0700
    (tmp_path / "mine" / "triage.json").write_text("my edit", encoding="utf-8")
    code, out, _ = clinflow_in_process(["lab", "start", "6", "--data-dir", "mine"], tmp_path)
    assert code == 0 and "kept your mine/triage.json" in out
    assert (tmp_path / "mine" / "triage.json").read_text(encoding="utf-8") == "my edit"
