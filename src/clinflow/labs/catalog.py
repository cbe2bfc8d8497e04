"""The lab catalogue: titles and steps parsed from ``labs/NN-slug.md`` (one source of truth).

A lab file starts with ``# Lab N — Title``; fenced blocks whose info string is ``sh step``
are the steps (commands run as written, in order, from the folder that holds the lab's data
directory). The instructor's guide (``labs/instructor/NN-slug.md``) holds ``sh solution``
blocks: the expected solution, which CI runs after the steps.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from clinflow.errors import ConfigError

LABS_DIR_ENV = "CLINFLOW_LABS_DIR"
_FILE = re.compile(r"^(?P<number>\d{2})-(?P<slug>[a-z0-9-]+)\.md$")
_TITLE = re.compile(r"^#\s+Lab\s+(?P<number>\d+)\s+[—-]+\s+(?P<title>.+?)\s*$")
_FENCE = re.compile(r"^```(?P<info>[^`]*)$")
_MINUTES = re.compile(r"^\*\*Time:\*\*\s+(?P<minutes>\d+[–-]\d+) minutes", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Lab:
    number: int
    slug: str
    title: str
    minutes: str
    path: Path
    steps: tuple[str, ...]  # each a block of shell commands, as printed in the lab
    solution: tuple[str, ...]  # the instructor's solution blocks (empty if no guide)

    @property
    def default_data_dir(self) -> Path:
        return Path(f"lab{self.number}")


def labs_dir() -> Path:
    """``$CLINFLOW_LABS_DIR``, else ``labs/`` of the source checkout, else ``./labs``."""
    configured = os.environ.get(LABS_DIR_ENV)
    if configured:
        return Path(configured)
    checkout = Path(__file__).resolve().parents[3] / "labs"
    return checkout if checkout.is_dir() else Path("labs")


def blocks(text: str, kind: str) -> tuple[str, ...]:
    """The bodies of fenced blocks whose info string is ``kind`` (e.g. ``sh step``)."""
    found: list[str] = []
    body: list[str] | None = None
    inside_info = ""
    for line in text.splitlines():
        fence = _FENCE.match(line.strip()) if line.startswith("```") else None
        if fence is None:
            if body is not None:
                body.append(line)
            continue
        if body is None:
            body, inside_info = [], " ".join(fence["info"].split())
        else:
            if inside_info == kind:
                found.append("\n".join(body).strip("\n"))
            body = None
    return tuple(found)


def _parse(path: Path, guide: Path | None) -> Lab:
    name = _FILE.match(path.name)
    assert name is not None
    text = path.read_text(encoding="utf-8")
    first = text.splitlines()[0] if text else ""
    title = _TITLE.match(first)
    if title is None or int(title["number"]) != int(name["number"]):
        raise ConfigError(f"{path}:1: first line must be '# Lab {int(name['number'])} — Title'")
    minutes = _MINUTES.search(text)
    steps = blocks(text, "sh step")
    if not steps:
        raise ConfigError(f"{path}: no ```sh step block")
    solution = blocks(guide.read_text(encoding="utf-8"), "sh solution") if guide else ()
    return Lab(
        number=int(name["number"]),
        slug=name["slug"],
        title=title["title"],
        minutes=minutes["minutes"] if minutes else "?",
        path=path,
        steps=steps,
        solution=solution,
    )


@cache
def _load(folder: Path) -> tuple[Lab, ...]:
    found = []
    for path in sorted(folder.glob("[0-9][0-9]-*.md")):
        if _FILE.match(path.name) is None:
            continue
        guide = folder / "instructor" / path.name
        found.append(_parse(path, guide if guide.is_file() else None))
    return tuple(found)


def all_labs() -> tuple[Lab, ...]:
    folder = labs_dir()
    if not folder.is_dir():
        raise ConfigError(f"labs folder {folder}: not found (set ${LABS_DIR_ENV})")
    return _load(folder.resolve())


def find_lab(number: int) -> Lab:
    for lab in all_labs():
        if lab.number == number:
            return lab
    known = ", ".join(str(lab.number) for lab in all_labs())
    raise ConfigError(f"lab {number}: no such lab (known: {known})")


def next_step(steps: tuple[str, ...], number: int) -> str:
    """The commands after ``clinflow lab start N``: the rest of its block, else the next one."""
    start = f"clinflow lab start {number}"
    for index, block in enumerate(steps):
        lines = block.splitlines()
        if start in lines:
            rest = "\n".join(lines[lines.index(start) + 1 :]).strip("\n")
            if rest:
                return rest
            return steps[index + 1] if index + 1 < len(steps) else ""
    return steps[0]
