"""Key files: created atomically (two racing processes end with one key) and owner-only."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

from clinflow.crypto.keys import KEY_BYTES, KeyRing

ROUNDS = 150


def _race(folders: list[str], barrier: object, results: object) -> None:
    """One racer: on each fresh folder wait for the other racer, then read-or-create a key."""
    for folder in folders:
        barrier.wait()  # type: ignore[attr-defined]
        try:
            outcome = KeyRing(Path(folder) / "keys").project_key().hex()
        except Exception as exc:  # a short or half-written read, a lost O_EXCL race
            outcome = f"error: {type(exc).__name__}: {exc}"
        results.put((folder, outcome))  # type: ignore[attr-defined]


def test_two_processes_creating_keys_on_fresh_data_dirs_end_with_the_same_key(
    tmp_path: Path,
) -> None:
    folders = [str(tmp_path / f"d{number}") for number in range(ROUNDS)]
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(2)
    results = context.Queue()
    racers = [context.Process(target=_race, args=(folders, barrier, results)) for _ in range(2)]
    for racer in racers:
        racer.start()
    outcomes: dict[str, list[str]] = {}
    for _ in range(2 * ROUNDS):
        folder, outcome = results.get(timeout=60)
        outcomes.setdefault(folder, []).append(outcome)
    for racer in racers:
        racer.join(timeout=30)
        assert racer.exitcode == 0
    errors = [o for pair in outcomes.values() for o in pair if o.startswith("error")]
    assert errors == []
    assert all(len(set(pair)) == 1 and len(pair) == 2 for pair in outcomes.values())
    for folder in folders:  # the key on disk is the one both processes use
        key_file = Path(folder) / "keys" / "project.key"
        assert key_file.read_text(encoding="ascii").strip() == outcomes[folder][0]
        assert len(bytes.fromhex(outcomes[folder][0])) == KEY_BYTES
        assert [p.name for p in key_file.parent.iterdir()] == ["project.key"]  # no temp left


def test_key_files_are_owner_only_and_an_old_world_readable_one_is_tightened(
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys"
    ring = KeyRing(keys)
    ring.master_key()
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert stat.S_IMODE((keys / "master.key").stat().st_mode) == 0o600
    (keys / "master.key").chmod(0o644)  # as an older build or a hand copy left it
    assert KeyRing(keys).master_key() == ring.master_key()
    assert stat.S_IMODE((keys / "master.key").stat().st_mode) == 0o600
