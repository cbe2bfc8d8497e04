"""An independent RFC 9162 §2.1 implementation for tests, written from the RFC text only.

Deliberately naive (recursive definitions, no caching) and sharing no code with
``clinflow.audit.merkle``: MTH (§2.1.1), PATH (§2.1.3.1), PROOF/SUBPROOF (§2.1.4.1) and the
verification algorithms of §2.1.3.2 and §2.1.4.2, step by step.
"""

from __future__ import annotations

import hashlib


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def largest_power_of_two_smaller_than(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(entries: list[bytes]) -> bytes:
    """§2.1.1: MTH({}) = SHA-256(); MTH({d0}) = SHA-256(0x00 || d0); else split at k."""
    n = len(entries)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return sha256(b"\x00" + entries[0])
    k = largest_power_of_two_smaller_than(n)
    return sha256(b"\x01" + mth(entries[:k]) + mth(entries[k:]))


def path(m: int, entries: list[bytes]) -> list[bytes]:
    """§2.1.3.1 PATH(m, D[n])."""
    n = len(entries)
    if n == 1:
        return []
    k = largest_power_of_two_smaller_than(n)
    if m < k:
        return path(m, entries[:k]) + [mth(entries[k:])]
    return path(m - k, entries[k:]) + [mth(entries[:k])]


def proof(m: int, entries: list[bytes]) -> list[bytes]:
    """§2.1.4.1 PROOF(m, D[n]) = SUBPROOF(m, D[n], true) for 0 < m < n."""
    return subproof(m, entries, True)


def subproof(m: int, entries: list[bytes], b: bool) -> list[bytes]:
    n = len(entries)
    if m == n:
        return [] if b else [mth(entries)]
    k = largest_power_of_two_smaller_than(n)
    if m <= k:
        return subproof(m, entries[:k], b) + [mth(entries[k:])]
    return subproof(m - k, entries[k:], False) + [mth(entries[:k])]


def hash_children(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def verify_inclusion(
    leaf_index: int, tree_size: int, hash_: bytes, inclusion_path: list[bytes], root: bytes
) -> bool:
    """§2.1.3.2, steps 1-5."""
    if leaf_index >= tree_size:  # 1
        return False
    fn, sn = leaf_index, tree_size - 1  # 2
    r = hash_  # 3
    for p in inclusion_path:  # 4
        if sn == 0:  # 4a
            return False
        if fn % 2 == 1 or fn == sn:  # 4b
            r = hash_children(p, r)  # 4b.i
            if fn % 2 == 0:  # 4b.ii
                while not (fn % 2 == 1 or fn == 0):
                    fn //= 2
                    sn //= 2
        else:
            r = hash_children(r, p)
        fn //= 2  # 4c
        sn //= 2
    return sn == 0 and r == root  # 5


def verify_consistency(
    first: int,
    second: int,
    first_hash: bytes,
    second_hash: bytes,
    consistency_path: list[bytes],
) -> bool:
    """§2.1.4.2, steps 1-7 (for 0 < first < second)."""
    if not consistency_path:  # 1
        return False
    consistency_path = list(consistency_path)
    if first & (first - 1) == 0:  # 2: first is an exact power of 2
        consistency_path.insert(0, first_hash)
    fn, sn = first - 1, second - 1  # 3
    while fn % 2 == 1:  # 4
        fn //= 2
        sn //= 2
    fr = sr = consistency_path[0]  # 5
    for c in consistency_path[1:]:  # 6
        if sn == 0:  # 6a
            return False
        if fn % 2 == 1 or fn == sn:  # 6b
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            if fn % 2 == 0:
                while not (fn % 2 == 1 or fn == 0):
                    fn //= 2
                    sn //= 2
        else:
            sr = hash_children(sr, c)
        fn //= 2  # 6c
        sn //= 2
    return fr == first_hash and sr == second_hash and sn == 0  # 7
