"""``clinflow lab list|start|check``: the teaching labs (labs/*.md, issue 16)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from clinflow.labs.catalog import all_labs, find_lab, next_step
from clinflow.labs.checks import run_check
from clinflow.labs.starts import start_lab

lab_app = typer.Typer(
    help="Teaching labs: list them, set one up, check your result.", no_args_is_help=True
)
console = Console()

LabNumber = Annotated[int, typer.Argument(help="Lab number (see `clinflow lab list`).")]
LabDataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="The lab's data directory (default ./labN).", show_default=False
    ),
]


@lab_app.command("list")
def list_command() -> None:
    """Every lab with its number, title, time and file."""
    table = Table("lab", "title", "minutes", "file")
    for lab in all_labs():
        table.add_row(str(lab.number), lab.title, lab.minutes, str(lab.path))
    console.print(table)


@lab_app.command("start")
def start_command(number: LabNumber, data_dir: LabDataDir = None) -> None:
    """Set up the lab's data directory (cohort, site policy, templates) and print step 1."""
    lab = find_lab(number)
    target = data_dir or lab.default_data_dir
    console.print(f"[bold]Lab {lab.number} — {lab.title}[/bold] ({lab.minutes} minutes)")
    start_lab(lab.number, target, lambda line: console.print(line, highlight=False))
    console.print(f"data directory ready: {target}", highlight=False)
    if target != lab.default_data_dir:
        console.print(f"(the lab's commands say {lab.default_data_dir}: use {target} instead)")
    console.print(f"read {lab.path}; the next step is:", highlight=False)
    print(next_step(lab.steps, number))


@lab_app.command("check")
def check_command(number: LabNumber, data_dir: LabDataDir = None) -> None:
    """Verify your result; exit 0 when the lab is done, 1 naming what is still wrong."""
    lab = find_lab(number)
    target = data_dir or lab.default_data_dir
    problems = run_check(lab.number, target)
    if not problems:
        console.print(f"Lab {lab.number} ({lab.title}): passed")
        return
    console.print(f"Lab {lab.number} ({lab.title}): not yet — {len(problems)} thing(s) to fix:")
    for problem in problems:
        console.print(f"  - {problem.what}", highlight=False)
        console.print(f"    hint: {problem.hint}", highlight=False)
    raise typer.Exit(1)
