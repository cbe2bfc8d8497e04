"""A Merkle tree bounded by a leaf source (ADR 0103) answers exactly like the full tree.

It holds complete subtrees of 2**floor leaves and up, plus the open chunk at the right edge;
roots, leaves and proofs inside older chunks are computed from leaf hashes read back from the
store, and a store whose leaf hashes were altered is refused, not used.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.audit import AuditLog
from clinflow.audit.merkle import MerkleTree, leaf_hash, verify_inclusion
from clinflow.config import DataDir
from clinflow.errors import AuditIntegrityError
from helpers import rfc9162_reference as ref

from .helpers import sample_event

FLOOR = 3  # chunks of 8 leaves: small trees cross many chunk edges


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(f"entry-{i}".encode()) for i in range(n)]


class _Store:
    """The store's ``leaf_hashes(start, end)``, counting reads."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.leaves = leaves
        self.reads = 0

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        self.reads += 1
        return self.leaves[start:end]


def _bounded(leaves: list[bytes], batches: list[int]) -> tuple[MerkleTree, _Store]:
    """A bounded tree fed like the audit writer feeds it: batches, single appends."""
    store = _Store(leaves)
    tree = MerkleTree(leaf_source=store.leaf_hashes, floor=FLOOR)
    done = 0
    for size in batches:
        part = leaves[done : done + size]
        if len(part) == 1:
            tree.append(part[0])
        else:
            tree.extend(part)
        done += len(part)
    tree.extend(leaves[done:])
    return tree, store


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(min_value=0, max_value=90),
    batches=st.lists(st.integers(min_value=1, max_value=20), max_size=12),
    data=st.data(),
)
def test_bounded_tree_answers_like_the_full_tree(
    n: int, batches: list[int], data: st.DataObject
) -> None:
    leaves = _leaves(n)
    full = MerkleTree(leaves)
    tree, _ = _bounded(leaves, batches)
    assert tree.size == n
    assert tree.root() == full.root() == ref.mth([f"entry-{i}".encode() for i in range(n)])
    if n == 0:
        return
    size = data.draw(st.integers(min_value=1, max_value=n), label="size")
    index = data.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    old = data.draw(st.integers(min_value=0, max_value=size), label="old")
    assert tree.root(size) == full.root(size)
    assert tree.leaf(index) == leaves[index]
    proof = tree.inclusion_proof(index, size)
    assert proof == full.inclusion_proof(index, size)
    assert verify_inclusion(leaves[index], index, size, proof, tree.root(size))
    assert tree.consistency_proof(old, size) == full.consistency_proof(old, size)


def test_memory_holds_the_upper_levels_and_the_open_chunk_only() -> None:
    n = 10_000
    leaves = _leaves(n)
    tree, store = _bounded(leaves, [1] * 300 + [1000] * 5)
    full = MerkleTree(leaves)
    # full: every level (~2n hashes); bounded: 2n / 2**floor upper hashes + < 2 * 2**floor
    assert full.held_hashes() >= 2 * n - 20
    assert tree.held_hashes() <= 2 * n // 2**FLOOR + 2 * 2**FLOOR
    assert store.reads == 0  # appending never reads the store back
    assert tree.inclusion_proof(1234) == full.inclusion_proof(1234)
    assert 1 <= store.reads <= 2  # one chunk read for the whole proof


def test_altered_stored_leaf_is_refused() -> None:
    leaves = _leaves(100)
    tree, store = _bounded(leaves, [])
    store.leaves = list(leaves)
    store.leaves[5] = leaf_hash(b"forged")
    with pytest.raises(AuditIntegrityError, match="do not match"):
        tree.inclusion_proof(5)
    assert tree.inclusion_proof(50) == MerkleTree(leaves).inclusion_proof(50)  # other chunks


def test_audit_log_tree_is_bounded_and_proofs_hold_after_reopen(data_dir: Path) -> None:
    with AuditLog.open(DataDir.open(data_dir)) as log:
        assert log.append_many([sample_event(i) for i in range(600)]) == list(range(600))
        held = log._tree.held_hashes()  # noqa: SLF001 - the bound is what is tested
        assert held < 600  # a full tree holds ~2 hashes per entry (1,199 here)
        proof = log.inclusion_proof(3)  # leaf 3 is in a chunk no longer held
        assert verify_inclusion(log.leaf_hash(3), 3, log.size, proof, log.root())
        old_root = log.root(100)
        consistency = log.consistency_proof(100)
    with AuditLog.open(DataDir.open(data_dir)) as reopened:
        assert reopened.size == 600
        assert reopened.inclusion_proof(3) == proof
        assert reopened.root(100) == old_root
        assert reopened.consistency_proof(100) == consistency
