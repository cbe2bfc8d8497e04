"""Walking an input folder: every regular file below it, and every path not taken, named.

One walk for every reader of a folder (``clinflow run --source folder``, ``deid fhir``,
``deid dicom``, ``consent load``) so they agree on what an input is. Symbolic links to
folders are not followed: a link may point back up the tree (a loop) or out of the input
altogether. A link to a file is read like the file. What cannot be read as a file is never
skipped in silence (issue 13 finding 9): a link that loops (``ELOOP``), a dangling link, a
link to a folder, a FIFO or socket (opening a FIFO would block the reader forever) and a
folder that cannot be listed each come back as a ``SkippedPath`` naming the path relative to
the root and why (ADR 0091). Paths are bytes, so a name that is not UTF-8 is not an error.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

from clinflow.errors import ConfigError

SYMLINK_LOOP = "symbolic link loop (not followed)"
DANGLING_LINK = "dangling symbolic link (target missing)"
LINK_TO_FOLDER = "symbolic link to a folder (not followed)"
NOT_REGULAR = "not a regular file (FIFO, socket or device)"


@dataclass(frozen=True, slots=True)
class SkippedPath:
    """A path under the root that was not read as an input, and why (no file content)."""

    relative: bytes
    reason: str

    @property
    def location(self) -> str:
        """The relative path as text (undecodable bytes escaped, as ``os.fsdecode`` does)."""
        return os.fsdecode(self.relative)

    def __str__(self) -> str:
        return f"{self.location}: {self.reason}"


OnSkip = Callable[[SkippedPath], None]


def walk_files(
    root: bytes | str | Path, on_skip: OnSkip, *, hidden: bool = False
) -> Iterator[tuple[bytes, os.stat_result]]:
    """``(relative path, stat)`` of every regular file under ``root``, folders and names in
    sorted order; each path that is not one is passed to ``on_skip``. Names starting with
    ``.`` (files and folders) are left out silently unless ``hidden``: by convention they are
    in-progress writes or tool state, not inputs."""
    base = os.fsencode(root)

    def relative(path: bytes) -> bytes:
        return os.path.relpath(path, base)

    def listing_failed(error: OSError) -> None:
        where = os.fsencode(error.filename) if error.filename is not None else base
        on_skip(SkippedPath(relative(where), f"cannot list ({error.strerror})"))

    for folder, dirs, files in os.walk(base, onerror=listing_failed):
        kept_dirs = []
        for name in sorted(dirs):
            if name.startswith(b".") and not hidden:
                continue
            full = os.path.join(folder, name)
            if os.path.islink(full):
                on_skip(SkippedPath(relative(full), LINK_TO_FOLDER))
                continue
            kept_dirs.append(name)
        dirs[:] = kept_dirs
        for name in sorted(files):
            if name.startswith(b".") and not hidden:
                continue
            full = os.path.join(folder, name)
            problem, info = _examine(full)
            if problem is not None:
                on_skip(SkippedPath(relative(full), problem))
            elif info is not None:
                yield relative(full), info


def _examine(full: bytes) -> tuple[str | None, os.stat_result | None]:
    """``(reason it is not an input, None)`` or ``(None, stat)``; ``(None, None)`` when the
    file vanished between listing and stat (a writer renamed it: not a problem)."""
    try:
        info = os.stat(full)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return SYMLINK_LOOP, None
        if exc.errno == errno.ENOENT:
            return (DANGLING_LINK, None) if os.path.islink(full) else (None, None)
        return f"cannot stat ({exc.strerror})", None
    if stat.S_ISDIR(info.st_mode):
        # os.walk lists a link to a folder under files when it could not stat it at listing
        # time; never followed either way.
        return LINK_TO_FOLDER, None
    if not stat.S_ISREG(info.st_mode):
        return NOT_REGULAR, None
    return None, info


def files_under(root: Path, on_skip: OnSkip, *, hidden: bool = False) -> list[Path]:
    """``root`` itself when it is a file, else the regular files under it (sorted paths)."""
    if not root.is_dir():
        return [root]
    return sorted(
        root / os.fsdecode(relative) for relative, _ in walk_files(root, on_skip, hidden=hidden)
    )


def clear_previous_output(out: Path, owned: Collection[str], what: str) -> None:
    """Make ``out`` ready for a writer that owns the top-level ``owned`` names: refuse a file
    or a folder holding anything else (a wrong ``--out`` must never delete someone's data),
    remove a previous output of the same writer (it leaves ``summary.json`` last)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        names = {child.name for child in out.iterdir()}
        if "summary.json" not in names or names - set(owned):
            raise ConfigError(f"--out {out}: directory is not empty and is not a previous {what}")
        for name in owned:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
