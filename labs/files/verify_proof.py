"""Lab 5: verify an audit-log inclusion proof by hand (RFC 9162, section 2.1.3.2).

Usage: python lab5/verify_proof.py lab5/entry.json
The file is what GET /audit/events/{index} returns: "entry" (the canonical JSON bytes as
text), "leaf_hash" (base64) and "inclusion_proof" with "leaf_index", "tree_size",
"root_hash" (base64) and "hashes" (base64, the audit path from the leaf upwards).
Exit 0 and print "proof verifies" when the entry is in the tree with that root; exit 1 and
say why otherwise. Standard library only: hashlib, base64, json, sys.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 2.1.1: the hash of a leaf is SHA-256(0x00 || entry)."""
    raise NotImplementedError("TODO: leaf_hash")


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 2.1.1: the hash of an inner node is SHA-256(0x01 || left || right)."""
    raise NotImplementedError("TODO: node_hash")


def root_from_proof(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes:
    """RFC 9162 2.1.3.2: the root that `path` leads to from leaf number `index` of `size`.

    fn = index, sn = size - 1, r = leaf; for each p in path: if sn == 0 the proof is too
    long; if fn is odd or fn == sn: r = node_hash(p, r), then, while fn is even and fn != 0,
    shift fn and sn right by one; else r = node_hash(r, p); then shift fn and sn right by one.
    At the end sn must be 0.
    """
    raise NotImplementedError("TODO: root_from_proof")


def main(argv: list[str]) -> int:
    document = json.loads(open(argv[1], encoding="utf-8").read())
    proof = document["inclusion_proof"]
    leaf = leaf_hash(document["entry"].encode("utf-8"))
    if base64.b64decode(document["leaf_hash"]) != leaf:
        print("leaf hash does not match the entry")
        return 1
    path = [base64.b64decode(h) for h in proof["hashes"]]
    try:
        root = root_from_proof(proof["leaf_index"], proof["tree_size"], leaf, path)
    except ValueError as exc:
        print(f"proof malformed: {exc}")
        return 1
    if root != base64.b64decode(proof["root_hash"]):
        print("proof does not lead to the root")
        return 1
    print("proof verifies")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
