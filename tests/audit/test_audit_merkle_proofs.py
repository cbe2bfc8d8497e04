"""Merkle proofs agree with an independent RFC 9162 implementation; tampered proofs fail."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from clinflow.audit.merkle import MerkleTree, leaf_hash
from clinflow.audit.merkle import verify_consistency as our_verify_consistency
from clinflow.audit.merkle import verify_inclusion as our_verify_inclusion
from helpers import rfc9162_reference as ref

MAX_SIZE = 150


def entries(n: int) -> list[bytes]:
    return [f"entry-{i}".encode() for i in range(n)]


def tree_of(n: int) -> MerkleTree:
    return MerkleTree(leaf_hash(e) for e in entries(n))


def test_known_shapes_and_empty_tree() -> None:
    assert MerkleTree().root() == hashlib.sha256(b"").digest()
    for n in range(0, 40):
        assert tree_of(n).root() == ref.mth(entries(n)), n


@st.composite
def size_and_index(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(min_value=1, max_value=MAX_SIZE))
    return size, draw(st.integers(min_value=0, max_value=size - 1))


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    second = draw(st.integers(min_value=2, max_value=MAX_SIZE))
    return draw(st.integers(min_value=1, max_value=second - 1)), second


@settings(max_examples=150, deadline=None, derandomize=True)
@given(size_and_index(), st.integers(min_value=0, max_value=MAX_SIZE))
def test_inclusion_proofs_verify_independently(case: tuple[int, int], extra: int) -> None:
    size, index = case
    data = entries(size + extra)
    tree = MerkleTree(leaf_hash(e) for e in data)
    proof = tree.inclusion_proof(index, size)
    assert proof == ref.path(index, data[:size])
    root = ref.mth(data[:size])
    leaf = leaf_hash(data[index])
    assert ref.verify_inclusion(index, size, leaf, proof, root)
    assert our_verify_inclusion(leaf, index, size, proof, root)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(size_and_index(), st.data())
def test_tampered_inclusion_proofs_fail(case: tuple[int, int], data: st.DataObject) -> None:
    size, index = case
    values = entries(size)
    tree = tree_of(size)
    proof = tree.inclusion_proof(index, size)
    root, leaf = tree.root(size), tree.leaf(index)
    if proof:
        position = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[position] = bytes([bad[position][0] ^ 1]) + bad[position][1:]
        assert not ref.verify_inclusion(index, size, leaf, bad, root)
        assert not our_verify_inclusion(leaf, index, size, bad, root)
        assert not ref.verify_inclusion(index, size, leaf, proof[:-1], root)
    other = leaf_hash(values[index] + b"x")
    assert not ref.verify_inclusion(index, size, other, proof, root)
    assert not our_verify_inclusion(other, index, size, proof, root)
    if size > 1:
        wrong = (index + 1) % size
        assert not ref.verify_inclusion(wrong, size, leaf, proof, root) or (
            tree.leaf(wrong) == leaf
        )


@settings(max_examples=150, deadline=None, derandomize=True)
@given(two_sizes())
def test_consistency_proofs_verify_independently(sizes: tuple[int, int]) -> None:
    first, second = sizes
    data = entries(second)
    tree = MerkleTree(leaf_hash(e) for e in data)
    proof = tree.consistency_proof(first, second)
    assert proof == ref.proof(first, data)
    first_root, second_root = ref.mth(data[:first]), ref.mth(data)
    assert ref.verify_consistency(first, second, first_root, second_root, proof)
    assert our_verify_consistency(first, second, first_root, second_root, proof)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(two_sizes(), st.data())
def test_tampered_consistency_proofs_fail(sizes: tuple[int, int], data: st.DataObject) -> None:
    first, second = sizes
    tree = tree_of(second)
    proof = tree.consistency_proof(first, second)
    first_root, second_root = tree.root(first), tree.root(second)
    position = data.draw(st.integers(0, len(proof) - 1))
    bad = list(proof)
    bad[position] = bytes([bad[position][0] ^ 0x80]) + bad[position][1:]
    assert not ref.verify_consistency(first, second, first_root, second_root, bad)
    assert not our_verify_consistency(first, second, first_root, second_root, bad)
    # A rewritten history (different old root) cannot be proven consistent.
    forged_old = leaf_hash(b"forged")
    assert not ref.verify_consistency(first, second, forged_old, second_root, proof)
    assert not our_verify_consistency(first, second, forged_old, second_root, proof)
