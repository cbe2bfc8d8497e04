"""Run a lab's ```sh blocks as written, from a folder, and clinflow commands in process.

A block is cut into units: a heredoc (``<<EOF`` to its terminator) or a background server
(a line ending in ``&`` to the ``kill`` that stops it) is one unit run by bash; every other
line is a unit of its own. A unit that is a single ``clinflow ...`` line (optionally
``> FILE`` and ``|| echo ...``) runs in this process (subprocesses pay seconds of import
time each); its words are expanded by bash first, so ``"$(cat lab4/patient.txt)"`` works as
in a terminal. Everything else runs with ``bash -e`` and the venv's ``bin`` first on PATH.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

VENV_BIN = str(Path(sys.executable).parent)
_HEREDOC = re.compile(r"<<-?\s*'?\"?(?P<word>[A-Za-z_]+)")
_CLINFLOW = re.compile(
    r"^clinflow\s+(?P<args>.*?)(?:\s+>\s+(?P<out>[\w./-]+))?(?:\s+\|\|\s+echo\s+(?P<echo>.+))?$"
)
_SHELL_ONLY = re.compile(r"[|;&<>`]|&&")


@dataclass
class Transcript:
    """What a block printed, and each unit's exit code (non-zero only where `|| echo`)."""

    output: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.output)


def units(block: str) -> Iterator[str]:
    lines = [line for line in block.splitlines() if line.strip()]
    index = 0
    while index < len(lines):
        line = lines[index]
        heredoc = _HEREDOC.search(line)
        if heredoc:
            end = lines.index(heredoc["word"], index + 1)
            yield "\n".join(lines[index : end + 1])
            index = end + 1
        elif line.rstrip().endswith("&"):
            end = next(i for i in range(index, len(lines)) if lines[i].startswith("kill "))
            yield "\n".join(lines[index : end + 1])
            index = end + 1
        else:
            yield line
            index += 1


def bash_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLINFLOW_")}
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '/usr/bin:/bin')}"
    env["COLUMNS"] = "120"
    return env


def expand(words: str, cwd: Path) -> list[str]:
    """The words of ``words`` after bash's quoting and substitutions."""
    done = subprocess.run(
        ["bash", "-c", f"printf '%s\\0' {words}"],
        cwd=cwd,
        env=bash_env(),
        capture_output=True,
        check=True,
    )
    return done.stdout.decode().split("\0")[:-1]


def clinflow_in_process(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    from clinflow.cli import main

    saved_argv, saved_cwd = sys.argv, Path.cwd()
    out, err = io.StringIO(), io.StringIO()
    sys.argv = ["clinflow", *argv]
    code = 0
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
    return code, out.getvalue(), err.getvalue()


def run_unit(unit: str, cwd: Path, transcript: Transcript) -> None:
    match = _CLINFLOW.match(unit)
    if match and "\n" not in unit and not _SHELL_ONLY.search(match["args"]):
        code, out, err = clinflow_in_process(expand(match["args"], cwd), cwd)
        if match["out"]:
            (cwd / match["out"]).write_text(out, encoding="utf-8")
            out = ""
        transcript.output += [f"$ {unit}", out, err]
        if code and match["echo"] is None:
            raise AssertionError(f"`{unit}` exited {code}:\n{out}\n{err}")
        if code:
            transcript.output.append(" ".join(expand(match["echo"], cwd)))
        return
    for attempt in (1, 2):
        _wait_for_ports_free(unit, transcript)
        returncode, stdout, stderr = _run_block(unit, cwd)
        transcript.output += [f"$ {unit}", stdout, stderr]
        # a lab's fixed port taken for a moment by another process on a shared test machine
        # (seen twice in full-suite runs under three workers, nothing listening just before):
        # the block runs again once, as a student would, and the holder goes in the transcript
        if not (returncode and attempt == 1 and "address already in use" in stderr):
            break
        for port in {int(p) for p in _PORT.findall(unit)}:
            transcript.output.append(f"[harness] port {port} taken at bind: {_holder(port)}")
    if returncode:
        notes = "\n".join(line for line in transcript.output if line.startswith("[harness]"))
        raise AssertionError(f"`{unit}` exited {returncode}:\n{stdout}\n{stderr}\n{notes}")


def _run_block(unit: str, cwd: Path) -> tuple[int, str, str]:
    """One shell block, as a student would paste it: its exit code and output."""
    # in its own process group, its output in files: when ``bash -e`` stops before a
    # block's ``kill`` (a failed request), its background server is killed with it instead of
    # holding an output pipe open until the timeout and the lab's fixed port for later tests
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        process = subprocess.Popen(
            ["bash", "-e", "-c", unit],
            cwd=cwd,
            env=bash_env(),
            stdout=out,
            stderr=err,
            text=True,
            start_new_session=True,
        )
        try:
            process.wait(timeout=240)
        except subprocess.TimeoutExpired:
            pass
        finally:
            _kill_group(process)
            process.wait()
        out.seek(0)
        err.seek(0)
        return process.returncode, out.read(), err.read()


_PORT = re.compile(r"--port (\d+)")


def _wait_for_ports_free(unit: str, transcript: Transcript, timeout: float = 30.0) -> None:
    """Before a block that starts a server on a lab's fixed port: wait until nothing listens
    there. A student's machine has nothing else on it; a test machine may, for a moment (one
    full-suite run under three workers found 8705 taken). Who held it goes in the transcript."""
    for port in {int(p) for p in _PORT.findall(unit)}:
        if not _listening(port):
            continue
        transcript.output.append(f"[harness] port {port} in use: {_holder(port)}")
        deadline = time.monotonic() + timeout
        while _listening(port) and time.monotonic() < deadline:
            time.sleep(0.5)


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


def _holder(port: int) -> str:
    if shutil.which("ss") is None:
        return "(no ss here to say by whom)"
    done = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True)
    return done.stdout.strip() or "released"


def _kill_group(process: subprocess.Popen[str]) -> None:
    """Stop whatever the unit left running in its process group (a background server)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def run_blocks(blocks: tuple[str, ...], cwd: Path) -> Transcript:
    """Run every block in order from ``cwd``, as a student would type them."""
    transcript = Transcript()
    for block in blocks:
        for unit in units(block):
            run_unit(unit, cwd, transcript)
    return transcript


def check(number: int, cwd: Path) -> tuple[int, str]:
    """``clinflow lab check N`` from ``cwd``: exit code and everything it printed."""
    code, out, err = clinflow_in_process(["lab", "check", str(number)], cwd)
    return code, out + err


def planted_values(manifest: Path) -> set[str]:
    """The manifest's identifiers long enough to be told apart from ordinary words."""
    values = set()
    for line in manifest.read_text(encoding="utf-8").splitlines():
        value = str(json.loads(line)["value"])
        if len(value) >= 6:
            values.add(value)
    return values


def assert_no_phi(text: str, manifest: Path) -> None:
    leaked = [value for value in planted_values(manifest) if value in text]
    assert not leaked, f"{len(leaked)} planted identifier(s) printed"
