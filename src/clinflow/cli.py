"""The ``clinflow`` command line (typer + rich).

Conventions (DESIGN.md): ``--data-dir`` on every command that touches state; exit codes
0 success, 1 a check failed or some inputs were rejected, 2 usage error; errors print one
line (what, where, why) and never a traceback unless ``--debug``.

Each capability keeps its commands in its own package (``clinflow.<pkg>.commands``) and is
registered here, so this file stays a table of contents.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console

from clinflow.errors import ClinflowError, ConfigError

err_console = Console(stderr=True)
console = Console()

app = typer.Typer(
    name="clinflow",
    help="Healthcare AI data-pipeline simulator with privacy controls (synthetic data only).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


_state = {"debug": False}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    _state["debug"] = debug


from clinflow.quarantine_commands import quarantine_app  # noqa: E402

app.add_typer(quarantine_app, name="quarantine")


# Capability command groups register below (one line each).
from clinflow.commands_registry import register_all  # noqa: E402

register_all(app)


def main() -> None:
    """Entry point: run the app, turning clinflow errors into one clear line."""
    try:
        exit_code = app(standalone_mode=False)  # click returns typer.Exit's code here
        if isinstance(exit_code, int) and exit_code:
            sys.exit(exit_code)
    except ClinflowError as exc:
        if _state["debug"]:
            raise
        err_console.print(f"[red]error:[/red] {exc}", soft_wrap=True)  # one line, never wrapped
        sys.exit(2 if isinstance(exc, ConfigError) else 1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(1)
    except Exception as exc:  # click usage errors and anything unexpected
        show = getattr(exc, "show", None)
        exit_code = getattr(exc, "exit_code", None)
        if callable(show) and isinstance(exit_code, int):  # a (typer-vendored) click error
            show()
            sys.exit(exit_code)
        if _state["debug"]:
            raise
        err_console.print(f"[red]internal error:[/red] {type(exc).__name__} (rerun with --debug)")
        sys.exit(1)
