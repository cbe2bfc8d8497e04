"""clinflow.folders: an input folder's files, and every path not taken named (issue 13 #9)."""

from __future__ import annotations

import os
from pathlib import Path

from clinflow.folders import (
    DANGLING_LINK,
    LINK_TO_FOLDER,
    NOT_REGULAR,
    SYMLINK_LOOP,
    SkippedPath,
    files_under,
    walk_files,
)


def _tree(root: Path) -> None:
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "x.json").write_bytes(b"{}")
    (root / "top.json").write_bytes(b"{}")
    (root / "a" / "up").symlink_to(root)  # folder link back to the root: a loop if followed
    (root / "self").symlink_to(root / "self")  # ELOOP on stat
    (root / "ping").symlink_to(root / "pong")
    (root / "pong").symlink_to(root / "ping")  # two links pointing at each other
    (root / "gone.json").symlink_to(root / "missing.json")
    (root / "alias.json").symlink_to(root / "top.json")  # link to a file: read
    os.mkfifo(root / "pipe.json")  # opening it would block a reader forever
    (root / ".tmp.json").write_bytes(b"{}")


def test_loops_dangling_links_folder_links_and_fifos_are_named(tmp_path: Path) -> None:
    _tree(tmp_path)
    skipped: list[SkippedPath] = []
    files = [relative for relative, _ in walk_files(tmp_path, skipped.append)]
    assert files == [b"alias.json", b"top.json", b"a/b/x.json"]
    assert {str(s) for s in skipped} == {
        f"a/up: {LINK_TO_FOLDER}",
        f"self: {SYMLINK_LOOP}",
        f"ping: {SYMLINK_LOOP}",
        f"pong: {SYMLINK_LOOP}",
        f"gone.json: {DANGLING_LINK}",
        f"pipe.json: {NOT_REGULAR}",
    }


def test_hidden_names_are_left_out_unless_asked_for(tmp_path: Path) -> None:
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "x.json").write_bytes(b"{}")
    (tmp_path / ".y.json").write_bytes(b"{}")
    assert files_under(tmp_path, lambda _: None) == []
    assert files_under(tmp_path, lambda _: None, hidden=True) == [
        tmp_path / ".cache" / "x.json", tmp_path / ".y.json"
    ]


def test_an_unlistable_folder_is_named(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "x.json").write_bytes(b"{}")
    locked.chmod(0)
    try:
        skipped: list[SkippedPath] = []
        list(walk_files(tmp_path, skipped.append))
    finally:
        locked.chmod(0o700)
    if os.geteuid() == 0:  # root lists it anyway: nothing to report, nothing lost
        assert skipped == []
    else:
        assert [s.location for s in skipped] == ["locked"]
        assert skipped[0].reason.startswith("cannot list")
