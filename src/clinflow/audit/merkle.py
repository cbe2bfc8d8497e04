"""RFC 9162 §2.1 Merkle tree: hashing, tree shape, inclusion and consistency proofs.

Leaves are ``SHA-256(0x00 || entry)``, interior nodes ``SHA-256(0x01 || left || right)``; a tree
of n > 1 leaves splits at k, the largest power of two smaller than n (RFC 9162 §2.1.1).

``MerkleTree`` keeps every complete, aligned subtree hash in per-level byte arrays (level h
holds the hashes of the subtrees covering leaves [i*2^h, (i+1)*2^h)), so appending is amortised
O(1) hashes, any subtree hash needs O(log n) lookups and proofs are O(log² n) lookups with no
storage round-trips: ~64 bytes of memory per leaf, rebuilt from the stored leaf hashes on open.

Given a ``leaf_source`` (the store's ``leaf_hashes(start, end)``), the tree holds the levels
below ``floor`` (default 8: subtrees of 256 leaves) only for the incomplete chunk at the right
edge, which appending needs; a hash inside an older chunk is computed from that chunk's leaf
hashes, read from the store once (one chunk cached) and checked against the chunk's held root.
Memory is then ~n/4 bytes for n leaves instead of 64 n: the audit log of a streaming
deployment grew by 64 bytes per AuditEvent for as long as it ran (ADR 0103).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

from clinflow.errors import AuditIntegrityError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
DEFAULT_FLOOR = 8  # bounded trees hold complete subtrees of 2**8 leaves and up

LeafSource = Callable[[int, int], Sequence[bytes]]


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An append-only Merkle tree over leaf hashes with cached complete subtrees."""

    __slots__ = ("_levels", "_base", "_floor", "_source", "_chunk")

    def __init__(
        self,
        leaf_hashes: Iterable[bytes] = (),
        *,
        leaf_source: LeafSource | None = None,
        floor: int = DEFAULT_FLOOR,
    ) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self._base: list[int] = [0]  # index (at its level) of each level's first held hash
        self._source = leaf_source
        self._floor = floor if leaf_source is not None else 0  # 0: every level held whole
        if self._floor < 0:
            raise ValueError("floor must be >= 0")
        self._chunk: tuple[int, list[bytes]] | None = None  # (chunk number, its leaf hashes)
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        return self._base[0] + len(self._levels[0]) // HASH_SIZE

    def __len__(self) -> int:
        return self.size

    def held_hashes(self) -> int:
        """Hashes held in memory, all levels (the bound a ``leaf_source`` buys)."""
        return sum(len(level) for level in self._levels) // HASH_SIZE

    def _node(self, level: int, index: int) -> bytes:
        start = (index - self._base[level]) * HASH_SIZE
        return bytes(self._levels[level][start : start + HASH_SIZE])

    def append(self, leaf: bytes) -> int:
        """Add one leaf hash; return its index."""
        if len(leaf) != HASH_SIZE:
            raise ValueError("leaf hash must be 32 bytes")
        index = self.size
        if self._floor:
            self.extend((leaf,))
            return index
        self._levels[0] += leaf
        level, position, current = 0, index, leaf
        while position & 1:  # this node completes a pair: hash it into the level above
            left = self._node(level, position - 1)
            current = node_hash(left, current)
            level += 1
            position >>= 1
            if len(self._levels) == level:
                self._levels.append(bytearray())
                self._base.append(0)
            self._levels[level] += current
        return index

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Add many leaf hashes, hashing each new complete subtree once, level by level."""
        batch = b"".join(leaves)
        if len(batch) % HASH_SIZE:
            raise ValueError("leaf hashes must be 32 bytes each")
        if not batch:
            return
        self._levels[0] += batch
        sha256 = hashlib.sha256
        level = 0
        while True:
            below, below_base = self._levels[level], self._base[level]
            complete = (below_base + len(below) // HASH_SIZE) // 2  # nodes the level above has
            if level + 1 == len(self._levels):
                if complete == 0:
                    break
                self._levels.append(bytearray())
                self._base.append(below_base // 2)
            above = self._levels[level + 1]
            have = self._base[level + 1] + len(above) // HASH_SIZE
            if have == complete:
                break
            view = memoryview(below)
            step = 2 * HASH_SIZE
            first = have - below_base // 2  # the first new pair, counted in ``below``
            above += b"".join(
                sha256(b"\x01" + view[j * step : (j + 1) * step]).digest()
                for j in range(first, first + complete - have)
            )
            view.release()
            level += 1
        self._trim()

    def _trim(self) -> None:
        """Bounded trees: drop the levels below ``floor`` up to the right edge's chunk."""
        if not self._floor:
            return
        tail = (self.size >> self._floor) << self._floor  # first leaf of the open chunk
        for level in range(min(self._floor, len(self._levels))):
            drop = (tail >> level) - self._base[level]
            if drop > 0:
                del self._levels[level][: drop * HASH_SIZE]
                self._base[level] += drop

    def _stored(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) of a range inside one chunk no longer held: from its leaves."""
        assert self._source is not None
        span = 1 << self._floor
        number = start >> self._floor
        if self._chunk is None or self._chunk[0] != number:
            first = number * span
            leaves = list(self._source(first, first + span))
            if len(leaves) != span or _mth(leaves) != self._node(self._floor, number):
                raise AuditIntegrityError(
                    f"stored leaf hashes {first}..{first + span - 1} do not match the tree"
                )
            self._chunk = (number, leaves)
        offset = number << self._floor
        return _mth(self._chunk[1][start - offset : end - offset])

    def leaf(self, index: int) -> bytes:
        if not 0 <= index < self.size:
            raise IndexError(f"leaf {index} outside tree of size {self.size}")
        if index < self._base[0]:
            return self._stored(index, index + 1)
        return self._node(0, index)

    def subtree_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for the RFC's subtrees (start aligned to the left split)."""
        n = end - start
        if n <= 0:
            return EMPTY_ROOT
        # RFC ranges of at most 2**floor leaves lie inside one chunk: held or not, wholly
        if start < self._base[0] and n <= 1 << self._floor:
            return self._stored(start, end)
        if n & (n - 1) == 0 and start % n == 0:  # complete aligned subtree: cached
            level = n.bit_length() - 1
            return self._node(level, start >> level)
        k = _split(n)
        return node_hash(self.subtree_hash(start, start + k), self.subtree_hash(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        """Root hash of the tree's first ``size`` leaves (default: all)."""
        size = self.size if size is None else size
        self._check_size(size)
        return self.subtree_hash(0, size)

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise AuditIntegrityError(f"tree size {size} outside 0..{self.size}")

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, leaf-to-root order."""
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise AuditIntegrityError(f"leaf {index} outside tree of size {size}")
        proof: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                proof.append(self.subtree_hash(start + k, end))
                end = start + k
            else:
                proof.append(self.subtree_hash(start, start + k))
                start += k
        proof.reverse()
        return proof

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[0:new_size]) of RFC 9162 §2.1.4.1."""
        new_size = self.size if new_size is None else new_size
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise AuditIntegrityError(f"old size {old_size} outside 0..{new_size}")
        if old_size in (0, new_size):
            return []
        return self._subproof(old_size, 0, new_size, True)

    def _subproof(self, m: int, start: int, end: int, complete: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if complete else [self.subtree_hash(start, end)]
        k = _split(n)
        if m <= k:
            right = self.subtree_hash(start + k, end)
            return [*self._subproof(m, start, start + k, complete), right]
        return [*self._subproof(m - k, start + k, end, False), self.subtree_hash(start, start + k)]


def _mth(leaves: Sequence[bytes]) -> bytes:
    """MTH of a short list of leaf hashes (RFC 9162 §2.1.1, recursively)."""
    n = len(leaves)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaves[0]
    k = _split(n)
    return node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


def root_from_leaves(leaves: Sequence[bytes]) -> bytes:
    """Root of a list of leaf hashes (convenience for small trees and tests)."""
    return MerkleTree(leaves).root()


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2 inclusion proof verification."""
    if not 0 <= index < size:
        return False
    sides = _proof_sides(index, size - 1, len(proof))
    if sides is None:
        return False
    r = leaf
    for p, on_left in zip(proof, sides, strict=True):
        r = node_hash(p, r) if on_left else node_hash(r, p)
    return r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2 consistency proof verification."""
    if old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # exact power of two: prepend first_hash
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    sides = _proof_sides(fn, sn, len(path) - 1)
    if sides is None:
        return False
    fr = sr = path[0]
    for c, on_left in zip(path[1:], sides, strict=True):
        if on_left:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
        else:
            sr = node_hash(sr, c)
    return fr == old_root and sr == new_root


def _proof_sides(fn: int, sn: int, length: int) -> list[bool] | None:
    """The walk both RFC 9162 verifications share (§2.1.3.2 and §2.1.4.2): for each of the
    ``length`` proof hashes, whether it is hashed on the left of the running hash, starting
    from node ``fn`` of last node ``sn``; None when the proof is too short or too long for
    that tree (``sn`` must reach 0 exactly at the end)."""
    sides = []
    for _ in range(length):
        if sn == 0:
            return None
        on_left = bool(fn & 1) or fn == sn
        sides.append(on_left)
        if on_left and not fn & 1:
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        fn >>= 1
        sn >>= 1
    return sides if sn == 0 else None
